//! `failover.toml`: a good file, the fast profile, and every bad case naming
//! its key.

use std::path::Path;
use std::time::Duration;

use hotspare_failover::config::{Config, ConfigError, MonitorTiming, Profile};
use hotspare_failover::licence::{Capacity, LicenceSource};

const GOOD: &str = r#"
[spare]
name = "spare-1"
serial = "HS-0001"
listen = "127.0.0.1:8090"
store = "/var/lib/hotspare/failover"
state = "/var/lib/hotspare/state"

[monitor]
check_interval_s = 60
failures_to_takeover = 5

[[nvr]]
id = "nvr1"
url = "https://127.0.0.1:8081/"
admin_user = "admin"
admin_password = "secret"
priority = 1
fingerprint = "sha256:4f6b1a0c7a5e2d3b9c8f7e6d5c4b3a29181716151413121110f0e0d0c0b0a090"

[[nvr]]
id = "nvr-2"
url = "https://nvr2.example.com"
admin_user = "admin"
admin_password = "secret"

[email]
smtp_host = "127.0.0.1"
smtp_port = 2525
from = "spare-1@example.com"
to = ["ops@example.com", "Security <sec@example.com>"]
"#;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("/etc/hotspare/failover.toml"))
}

/// The error message of `text` must mention `key` (and the file and a line).
fn bad(text: &str, key: &str, problem: &str) {
    let e = parse(text).expect_err("must be rejected").to_string();
    assert!(e.starts_with("/etc/hotspare/failover.toml:"), "{e}");
    assert!(e.contains(key), "{e:?} does not name {key:?}");
    assert!(e.contains(problem), "{e:?} does not say {problem:?}");
}

#[test]
fn good_config() {
    let c = parse(GOOD).expect("good");
    assert_eq!(c.spare.name, "spare-1");
    assert_eq!(c.spare.listen, "127.0.0.1:8090".parse().unwrap());
    assert_eq!(c.spare.serial, "HS-0001");
    assert_eq!(c.spare.box_id, None, "the serial is not the licence binding");
    assert_eq!(c.nvrs.len(), 2);
    assert_eq!(c.nvrs[0].url, "https://127.0.0.1:8081");
    assert_eq!((c.nvrs[0].priority, c.nvrs[1].priority), (1, 100));
    assert_eq!(c.monitor.profile, Profile::Default);
    assert_eq!(
        c.timing(),
        MonitorTiming {
            check_interval: Duration::from_secs(60),
            failures_to_takeover: 5,
            recording_check_interval: Duration::from_secs(60),
            failback_check_interval: Duration::from_secs(60),
        }
    );
    let email = c.email.as_ref().expect("email");
    assert_eq!((email.smtp_port, email.to.len()), (2525, 2));
    assert_eq!(c.capacity().unwrap(), Capacity::unlicensed());
    c.check_capacity(&Capacity::unlicensed()).expect("2 <= 4");
}

#[test]
fn defaults_without_monitor_table() {
    let minimal = "[spare]\nname = \"s\"\nserial = \"S1\"\nlisten = \"0.0.0.0:8090\"\nstore = \"/a\"\nstate = \"/b\"\n";
    let c = parse(minimal).expect("minimal");
    assert!(c.nvrs.is_empty() && c.email.is_none());
    let t = c.timing();
    assert_eq!((t.check_interval, t.failures_to_takeover), (Duration::from_secs(30), 3));
}

#[test]
fn fast_profile() {
    let text =
        GOOD.replace("check_interval_s = 60\nfailures_to_takeover = 5", "profile = \"fast\"\ncheck_interval_s = 10");
    let c = parse(&text).expect("fast");
    assert_eq!(c.monitor.profile, Profile::Fast);
    assert_eq!(
        c.timing(),
        MonitorTiming {
            check_interval: Duration::from_secs(1),
            failures_to_takeover: 3,
            recording_check_interval: Duration::from_secs(1),
            failback_check_interval: Duration::from_secs(2),
        }
    );
}

#[test]
fn intervals_out_of_range_name_key_and_range() {
    let e = parse(&GOOD.replace("check_interval_s = 60", "check_interval_s = 10")).unwrap_err().to_string();
    assert!(e.contains("monitor.check_interval_s") && e.contains("30..=180") && e.contains(":10:"), "{e}");
    bad(&GOOD.replace("check_interval_s = 60", "check_interval_s = 181"), "monitor.check_interval_s", "30..=180");
    bad(
        &GOOD.replace("failures_to_takeover = 5", "failures_to_takeover = 0"),
        "monitor.failures_to_takeover",
        "1..=10",
    );
    bad(
        &GOOD.replace("failures_to_takeover = 5", "failback_check_interval_s = 5"),
        "monitor.failback_check_interval_s",
        "10..=600",
    );
    bad(
        &GOOD.replace("failures_to_takeover = 5", "recording_check_interval_s = 601"),
        "monitor.recording_check_interval_s",
        "10..=600",
    );
    bad(&GOOD.replace("check_interval_s = 60", "check_interval_s = -1"), "monitor.check_interval_s", "");
    bad(&GOOD.replace("check_interval_s = 60", "check_interval_s = \"60\""), "monitor.check_interval_s", "");
}

#[test]
fn unknown_profile() {
    bad(&GOOD.replace("check_interval_s = 60", "profile = \"turbo\""), "monitor.profile", "turbo");
}

#[test]
fn unknown_keys_are_named() {
    bad(&GOOD.replace("priority = 1", "priorty = 1"), "priorty", "unknown field");
    bad(&GOOD.replace("[monitor]", "[monitor]\ninterval = 3"), "interval", "unknown field");
    bad(&format!("{GOOD}\n[extra]\nx = 1\n"), "extra", "unknown field");
    bad(&GOOD.replace("smtp_port = 2525", "smtp_port = 2525\nstarttls = true"), "starttls", "unknown field");
}

#[test]
fn email_tls_modes() {
    let c = parse(&GOOD.replace("smtp_port = 2525", "smtp_port = 2525\ntls = \"implicit\"")).expect("implicit");
    assert_eq!(c.email.and_then(|e| e.tls), Some(hotspare_api::SmtpTls::Implicit));
    bad(&GOOD.replace("smtp_port = 2525", "smtp_port = 2525\ntls = \"sometimes\""), "email.tls", "sometimes");
    bad(
        &GOOD.replace("smtp_port = 2525", "smtp_port = 2525\nca_certificate = \"x\""),
        "email.ca_certificate",
        "no PEM certificate",
    );
}

#[test]
fn missing_and_mistyped_keys() {
    bad(&GOOD.replace("serial = \"HS-0001\"\n", ""), "serial", "missing");
    bad(&GOOD.replace("listen = \"127.0.0.1:8090\"", "listen = \"localhost\""), "spare.listen", "address");
    bad(
        &GOOD.replace("admin_user = \"admin\"\nadmin_password = \"secret\"\npriority = 1", "admin_user = 1"),
        "nvr[0].admin_user",
        "",
    );
}

#[test]
fn nvr_entries() {
    bad(&GOOD.replace("id = \"nvr-2\"", "id = \"nvr1\""), "nvr[1].id", "duplicate");
    bad(&GOOD.replace("id = \"nvr-2\"", "id = \"nvr 2\""), "nvr[1].id", "1 to 32");
    bad(&GOOD.replace("https://127.0.0.1:8081/", "127.0.0.1:8081"), "nvr[0].url", "");
    bad(&GOOD.replace("https://127.0.0.1:8081/", "ftp://127.0.0.1"), "nvr[0].url", "scheme");
    bad(&GOOD.replace("https://127.0.0.1:8081/", "https://admin:pw@127.0.0.1"), "nvr[0].url", "credentials");
    bad(&GOOD.replace("https://127.0.0.1:8081/", "not a url"), "nvr[0].url", "not a URL");
    // Forms the URL parser would repair into another URL are refused (found by the config fuzz
    // target: `http:'/host` parsed as host `'`).
    bad(&GOOD.replace("https://127.0.0.1:8081/", "https:'/127.0.0.1:8081"), "nvr[0].url", "expected https://");
    bad(&GOOD.replace("https://127.0.0.1:8081/", "https:/127.0.0.1:8081"), "nvr[0].url", "expected https://");
    bad(&GOOD.replace("https://127.0.0.1:8081/", "https://127.0.0.1:8081/api"), "nvr[0].url", "no path");
    let c = parse(&GOOD.replace("https://127.0.0.1:8081/", "https://NVR1.example:8081/")).unwrap();
    assert_eq!(c.nvrs[0].url, "https://nvr1.example:8081");
}

#[test]
fn nvrs_are_tls_and_pinned_unless_insecure() {
    let c = parse(GOOD).expect("good");
    assert_eq!(
        c.nvrs[0].fingerprint.map(|f| f.to_string()).as_deref(),
        Some("sha256:4f6b1a0c7a5e2d3b9c8f7e6d5c4b3a29181716151413121110f0e0d0c0b0a090")
    );
    assert_eq!(c.nvrs[1].fingerprint, None, "no pin: allowed, every connection is then refused");
    assert!(!c.tls.insecure);
    let plain = GOOD.replace("https://127.0.0.1:8081/", "http://127.0.0.1:8081/");
    bad(&plain, "nvr[0].url", "use https://");
    let c = parse(&format!("{plain}\n[tls]\ninsecure = true\n")).expect("plain HTTP when insecure");
    assert_eq!((c.tls.insecure, c.nvrs[0].url.as_str()), (true, "http://127.0.0.1:8081"));
    bad(&GOOD.replace("sha256:4f6b", "sha256:4f"), "nvr[0].fingerprint", "64 hex digits");
    bad(&GOOD.replace("fingerprint = \"sha256:", "fingerprint = \"md5:"), "nvr[0].fingerprint", "sha256:");
}

#[test]
fn spare_and_email_values() {
    bad(&GOOD.replace("serial = \"HS-0001\"", "serial = \"HS 0001\""), "spare.serial", "1 to 64");
    bad(&GOOD.replace("name = \"spare-1\"", "name = \"\""), "spare.name", "1 to 64");
    bad(&GOOD.replace("from = \"spare-1@example.com\"", "from = \"nobody\""), "email.from", "not an email address");
    bad(
        &GOOD.replace("to = [\"ops@example.com\", \"Security <sec@example.com>\"]", "to = []"),
        "email.to",
        "no recipients",
    );
}

#[test]
fn more_nvrs_than_the_licence_allows() {
    let mut text = GOOD.to_owned();
    for i in 3..=5 {
        text.push_str(&format!(
            "\n[[nvr]]\nid = \"nvr{i}\"\nurl = \"https://10.0.0.{i}:8081\"\nadmin_user = \"a\"\nadmin_password = \"p\"\n"
        ));
    }
    let c = parse(&text).expect("parses");
    let e = c.check_capacity(&Capacity::unlicensed()).expect_err("5 > 4").to_string();
    assert!(e.contains("5 NVRs configured but the licence allows 4"), "{e}");
    let licensed = Capacity { nvrs: 8, channels: 32, source: LicenceSource::Licensed { id: "L-1".into() } };
    c.check_capacity(&licensed).expect("5 <= 8");
}

#[test]
fn load_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("failover.toml");
    std::fs::write(&p, GOOD.replace("check_interval_s = 60", "check_interval_s = 10")).unwrap();
    let e = Config::load(&p).unwrap_err().to_string();
    assert!(e.contains(&p.display().to_string()) && e.contains("check_interval_s"), "{e}");
    let e = Config::load(&dir.path().join("nope.toml")).unwrap_err().to_string();
    assert!(e.contains("nope.toml"), "{e}");
    // A configured licence that does not exist is an error, not "unlicensed".
    std::fs::write(
        &p,
        GOOD.replace("state = \"/var/lib/hotspare/state\"", "state = \"/s\"\nlicence = \"/nonexistent/licence.toml\""),
    )
    .unwrap();
    let c = Config::load(&p).unwrap();
    assert!(c.capacity().unwrap_err().to_string().contains("/nonexistent/licence.toml"));
}

const WITH_BOX_ID: &str =
    "[spare]\nname = \"s\"\nserial = \"S1\"\nlisten = \"0.0.0.0:8090\"\nstore = \"/a\"\nstate = \"/b\"\nbox_id = \"machine-7\"\n";

/// Development builds (tests) may stand in for the box identity.
#[test]
#[cfg(feature = "dev-keys")]
fn dev_build_accepts_a_box_id_override() {
    let c = parse(WITH_BOX_ID).expect("dev build accepts spare.box_id");
    assert_eq!(c.box_id().unwrap(), "machine-7");
}

/// Production firmware: the licence binding is the box's own identity; the
/// configuration cannot choose it.
#[test]
#[cfg(not(feature = "dev-keys"))]
fn production_refuses_a_box_id_in_the_config() {
    bad(WITH_BOX_ID, "spare.box_id", "not accepted by production firmware");
    let c = parse(GOOD).unwrap();
    assert_eq!(c.spare.box_id, None);
}

/// Fuzzer find (fuzz/regressions/config/control-chars-before-table): an
/// error with an empty problem and raw NULs in its key name.
#[test]
fn garbage_gets_a_problem_and_no_raw_control_characters() {
    let input =
        std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fuzz/regressions/config/control-chars-before-table"))
            .unwrap();
    assert_eq!(input, b"\r\0\0\0[");
    match parse(&String::from_utf8_lossy(&input)).expect_err("not a config") {
        ConfigError::Invalid { key, problem, line, .. } => {
            assert!(!problem.trim().is_empty(), "no problem given");
            assert!(!key.is_empty() && !key.chars().any(char::is_control), "{key:?}");
            assert_eq!(line, 1);
        }
        e => panic!("{e:?}"),
    }
}
