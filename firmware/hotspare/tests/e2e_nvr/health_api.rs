//! End to end: `GET /api/v1/health` on a real `hotspare nvr` and a real `hotspare failover`:
//! 401 without credentials, 503 while the supervisor's `health.json` (the configured
//! `health_file`) is absent, 200 with the report once it is there, re-serialized (a field
//! the report does not have never reaches the client), 503 again for a corrupt file.

use crate::common::free_port;
use crate::failover_common::{spare_config_text, spare_viewer, try_get, SpareProc};
use crate::nvr_common::*;
use hotspare_api::health::{HealthReport, Notice, Severity, SystemHealth};

fn report() -> HealthReport {
    HealthReport {
        updated_us: 1_700_000_000_000_000,
        firmware_version: "9.9.9".into(),
        system: Some(SystemHealth {
            severity: Some(Severity::Warning),
            memory_used_pct: Some(91.5),
            ..SystemHealth::default()
        }),
        notices: vec![Notice {
            at_us: 1,
            severity: Severity::Warning,
            source: "system".into(),
            kind: "ThresholdWarning".into(),
            text: "memory 91.5 crossed warning (90)".into(),
        }],
        ..HealthReport::default()
    }
}

/// Writes the report with a field it does not have (must not be served).
fn write_report(path: &std::path::Path) {
    let mut json = serde_json::to_value(report()).unwrap();
    json["leaked"] = "do not serve".into();
    std::fs::write(path, serde_json::to_vec(&json).unwrap()).unwrap();
}

/// `get(path, auth)` → (status, body) of the box, through the four steps.
fn check(what: &str, health: &std::path::Path, get: impl Fn(bool) -> (u16, String)) {
    let (status, _) = get(false);
    assert_eq!(status, 401, "{what}: without credentials");
    let (status, body) = get(true);
    assert_eq!(status, 503, "{what}: no health.json yet: {body}");
    assert!(body.contains("no health report"), "{what}: {body}");
    write_report(health);
    let (status, body) = get(true);
    assert_eq!(status, 200, "{what}: {body}");
    assert_eq!(serde_json::from_str::<HealthReport>(&body).unwrap(), report(), "{what}");
    assert!(!body.contains("leaked"), "{what}: re-serialized: {body}");
    std::fs::write(health, b"{\"updated_us\": \"garbage").unwrap();
    let (status, body) = get(true);
    assert_eq!(status, 503, "{what}: a corrupt file: {body}");
    assert!(!body.contains("garbage"), "{what}: {body}");
}

#[test]
fn health_on_the_nvr_and_the_spare() {
    let work = tempfile::tempdir().unwrap();

    let nvr_health = work.path().join("nvr-health.json");
    let port = free_port();
    let text = config_text(port, &work.path().join("store"), &[], "", "")
        .replace("upnp = false\n", &format!("upnp = false\nhealth_file = \"{}\"\n", nvr_health.display()));
    let _nvr = Nvr::with_config(work.path(), &text, port);
    check("nvr", &nvr_health, |auth| {
        let r = if auth { get(port, "/api/v1/health") } else { http(port, "GET", "/api/v1/health", &[], b"") };
        (r.status, r.text())
    });

    let spare_health = work.path().join("spare-health.json");
    let sport = free_port();
    let spare_dir = work.path().join("spare");
    std::fs::create_dir_all(&spare_dir).unwrap();
    let extra = format!("health_file = \"{}\"", spare_health.display());
    let cfg = spare_dir.join("failover.toml");
    std::fs::write(&cfg, spare_config_text("SP-H1", sport, &spare_dir, &[], &extra)).unwrap();
    let _spare = SpareProc::start(&cfg, sport, None);
    check("spare", &spare_health, |auth| {
        let headers = if auth { vec![spare_viewer()] } else { vec![] };
        let r = try_get(sport, "/api/v1/health", &headers).unwrap();
        (r.status, r.text())
    });
}
