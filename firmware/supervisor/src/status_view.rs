//! The box's state at a glance, for people and tools: firmware version, booted slot and boot
//! counting, last reset and rescue mode, the services, the hardware (arrays, bays, SMART,
//! volumes, system) and whether takeovers are allowed, read from what the supervisor writes
//! (`status.json`, `health.json` in its `state_dir`) and the boot state of `[boot]`; it
//! changes nothing. [`gather`] reads, [`render`] makes the 80-column text (`hotspare
//! status`, the serial console's status screen); the front panel shows parts of [`Report`].

use std::path::Path;
use std::time::{Duration, SystemTime};

use hotspare_api::health::{HealthReport, Severity};
use hotspare_ipc::Mode;
use hotspare_platform::bootstate_io::load;
use serde::Serialize;

use crate::boot_slot::{parse_uptime, slot_of_cmdline};
use crate::config::SupervisorConfig;
use crate::status_file::{self, StatusFile};

/// Everything `hotspare status` shows (`--json` prints it as is).
#[derive(Serialize, Debug)]
pub struct Report {
    /// This binary's version.
    pub version: String,
    /// `version` next to the configuration (`/etc/hotspare/version`: the image's build), if present.
    pub image: Option<String>,
    pub boot: BootInfo,
    pub status: StatusFile,
    pub health: HealthReport,
    pub healthy: bool,
    /// Why not healthy; empty when healthy.
    pub reason: String,
}

/// The booted slot and the boot-counting state.
#[derive(Serialize, Debug, Default)]
pub struct BootInfo {
    /// `[boot]` is in supervisor.toml.
    pub configured: bool,
    /// From `rauc.slot=` on the kernel command line.
    pub slot: Option<String>,
    /// `BOOT_ORDER=A B, BOOT_A_LEFT=3, ...` of the current copy.
    pub state: Option<String>,
    /// The slot U-Boot tries next.
    pub next: Option<String>,
    /// Why the command line or the boot state could not be read.
    pub error: Option<String>,
}

/// Reads the configuration, the supervisor's files and the boot state.
pub fn gather(config: &Path, version: &str) -> Result<Report, String> {
    let cfg = SupervisorConfig::load(config).map_err(|e| e.to_string())?;
    let status_path = cfg.state_dir.join(status_file::FILE_NAME);
    let status = status_file::read(&status_path).map_err(|e| e.to_string())?;
    let health_path = cfg.state_dir.join("health.json");
    let health: HealthReport =
        std::fs::read(&health_path).map_err(|e| format!("{}: {e}", health_path.display())).and_then(|b| {
            serde_json::from_slice(&b).map_err(|e| format!("{}: not a health report: {e}", health_path.display()))
        })?;
    let image = config.parent().map(|d| d.join("version")).and_then(|p| std::fs::read_to_string(p).ok());
    let stale = stale(&status_path, status.pid);
    let (healthy, reason) = match verdict(&status, stale) {
        Ok(()) => (true, String::new()),
        Err(r) => (false, r),
    };
    Ok(Report {
        version: version.into(),
        image: image.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()),
        boot: boot_info(cfg.boot.as_ref()),
        status,
        health,
        healthy,
        reason,
    })
}

fn boot_info(cfg: Option<&crate::boot_slot::BootConfig>) -> BootInfo {
    let Some(cfg) = cfg else { return BootInfo::default() };
    let mut info = BootInfo { configured: true, ..BootInfo::default() };
    let mut errors = Vec::new();
    match std::fs::read_to_string(&cfg.cmdline).map_err(|e| e.to_string()).and_then(|t| slot_of_cmdline(&t)) {
        Ok(slot) => info.slot = slot.map(|s| s.to_string()),
        Err(e) => errors.push(format!("{}: {e}", cfg.cmdline.display())),
    }
    match load(&cfg.state_dir) {
        Ok(l) => {
            info.state = Some(l.choice.state.summary());
            info.next = l.choice.state.primary().map(|s| s.to_string());
        }
        Err(e) => errors.push(e.to_string()),
    }
    info.error = (!errors.is_empty()).then(|| errors.join("; "));
    info
}

/// Why `status.json` no longer speaks for the box: its supervisor is gone (no process
/// `hotspare supervisor …` with its pid), or it was written before this boot.
fn stale(path: &Path, pid: Option<u32>) -> Option<String> {
    let is_supervisor = |pid: u32| {
        std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c.split(|&b| b == 0).any(|a| a == b"supervisor"))
    };
    if let Some(pid) = pid.filter(|&p| !is_supervisor(p)) {
        return Some(format!("the supervisor (pid {pid}) is not running: {} is old", path.display()));
    }
    let mtime = std::fs::metadata(path).and_then(|m| m.modified()).ok()?;
    let uptime = std::fs::read_to_string("/proc/uptime").ok().as_deref().and_then(parse_uptime)?;
    let booted = SystemTime::now().checked_sub(Duration::from_secs_f64(uptime))?;
    // A second of slack for the clock's and uptime's rounding.
    (mtime + Duration::from_secs(1) < booted)
        .then(|| format!("{} was written before this boot: is the supervisor running?", path.display()))
}

/// Healthy: the file is current, the supervisor's verdict is healthy, takeovers are allowed
/// (no rescue mode, no hardware fault), no service crash-loops and the box has been ready
/// (every service up).
fn verdict(s: &StatusFile, stale: Option<String>) -> Result<(), String> {
    if let Some(why) = stale {
        return Err(why);
    }
    let st = &s.status;
    if !st.healthy || !st.takeovers_allowed || st.mode == Mode::Rescue {
        return Err(if st.reason.is_empty() { "the supervisor says so".into() } else { st.reason.clone() });
    }
    let looping: Vec<&str> =
        s.services.iter().filter(|v| v.state == "crash-looping").map(|v| v.name.as_str()).collect();
    if !looping.is_empty() {
        return Err(format!("crash-looping: {}", looping.join(", ")));
    }
    if let (true, Some(slot), false) = (s.readiness.ready, &s.readiness.slot, s.readiness.slot_marked_good) {
        return Err(format!(
            "slot {slot} could not be marked good (health.json notices say why): U-Boot will fall back"
        ));
    }
    if !s.readiness.ready {
        let waiting: Vec<&str> = s.services.iter().filter(|v| v.state != "up").map(|v| v.name.as_str()).collect();
        return Err(format!("starting, not ready yet (waiting for {})", waiting.join(", ")));
    }
    Ok(())
}

/// At most 80 columns (a person's serial terminal); longer lines end in `…`.
fn fit(line: String) -> String {
    if line.chars().count() <= 80 {
        return line;
    }
    let mut s: String = line.chars().take(79).collect();
    s.push('…');
    s
}

fn sev(s: Option<Severity>) -> &'static str {
    match s {
        None | Some(Severity::Info) => "ok",
        Some(Severity::Warning) => "WARNING",
        Some(Severity::Critical) => "CRITICAL",
    }
}

/// The text for people (pure).
pub fn render(r: &Report) -> String {
    let mut lines = Vec::new();
    let mut item = |label: &str, text: String| lines.push(fit(format!("{label:<11}{text}")));
    let image = r.image.as_deref().map_or(String::new(), |v| format!(" (image {v})"));
    item("firmware", format!("hotspare {}{image}", r.version));
    let b = &r.boot;
    let boot = match (&b.configured, &b.slot) {
        (false, _) => "no boot counting ([boot] not configured)".to_string(),
        (true, None) => "no slot on the kernel command line: no boot counting".to_string(),
        (true, Some(s)) => {
            let good = match (r.status.readiness.slot_marked_good, r.status.readiness.ready) {
                (true, _) => "marked good",
                (false, true) => "NOT marked good: the mark failed",
                (false, false) => "not marked good yet (not ready)",
            };
            format!("slot {s}, {good}")
        }
    };
    item("boot", boot);
    if let Some(state) = &b.state {
        let next = b.next.as_deref().map_or("none (U-Boot resets both)".into(), |s| format!("slot {s}"));
        item("", state.clone());
        item("", format!("next boot: {next}"));
    }
    if let Some(e) = &b.error {
        item("", format!("cannot read: {e}"));
    }
    let st = &r.status.status;
    item("last reset", format!("{:?}", st.last_reset));
    let mode = match st.mode {
        Mode::Rescue => "RESCUE (no takeovers, no resets)",
        Mode::BootGrace => "boot grace",
        Mode::Normal => "normal",
    };
    let ready = if r.status.readiness.ready { "ready" } else { "not ready yet" };
    item("mode", format!("{mode}, {ready}, hardware {:?}", st.hardware));
    let mut label = "services";
    for s in &r.status.services {
        let pid = s.pid.map_or(String::new(), |p| format!(" pid {p}"));
        let critical = if s.critical { ", critical" } else { "" };
        item(label, format!("{:<14}{}{pid}{critical}", s.name, s.state));
        label = "";
    }
    if r.status.services.is_empty() {
        item(label, "none configured".into());
    }
    let h = &r.health;
    for a in &h.arrays {
        let sync = a.sync_percent.map_or(String::new(), |p| format!(" {p:.0} %"));
        item(
            "array",
            format!(
                "{} {} {} ({}, {} members, {} missing, {}{sync}) {}",
                a.device,
                a.level,
                a.state,
                a.array_state,
                a.members.len(),
                a.degraded,
                a.sync_action,
                sev(a.severity)
            ),
        );
    }
    for b in &h.bays {
        let disk = if b.present { format!("{} {}", b.device, b.serial) } else { "empty".into() };
        let new = if b.new { " (new disk)" } else { "" };
        item("bay", format!("{} {disk}{new} {}", b.bay, sev(b.severity)));
    }
    for s in &h.smart {
        let passed = match s.passed {
            Some(true) => "passed",
            Some(false) => "FAILED",
            None => "unread",
        };
        let temp = s.temperature_c.map_or(String::new(), |t| format!(" {t} °C"));
        let first = s.findings.first().map_or(String::new(), |f| format!(": {f}"));
        item("smart", format!("{} {} {passed}{temp} {}{first}", s.device, s.model, sev(s.severity)));
    }
    for v in &h.volumes {
        let how = if v.writable { "writable".to_string() } else { format!("NOT writable: {}", v.detail) };
        item("volume", format!("{} {how} {}", v.path, sev(v.severity)));
    }
    if let Some(s) = &h.system {
        let crossed: Vec<String> = s.crossed.iter().map(|c| format!("{} {:.1}", c.reading, c.value)).collect();
        let what = if crossed.is_empty() { String::new() } else { format!(": {}", crossed.join(", ")) };
        item("system", format!("{}{what}", sev(s.severity)));
    }
    let takeovers = if st.takeovers_allowed { "allowed".to_string() } else { format!("NOT allowed: {}", st.reason) };
    item("takeovers", takeovers);
    lines.push(if r.healthy { "status: healthy".into() } else { format!("status: NOT healthy: {}", r.reason) });
    lines.join("\n") + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status_file::ServiceState;
    use hotspare_api::health::Readiness;
    use hotspare_ipc::{Level, ResetCause, Status};

    fn file(healthy: bool, ready: bool, mode: Mode) -> StatusFile {
        StatusFile {
            status: Status {
                mode,
                healthy,
                takeovers_allowed: mode != Mode::Rescue,
                last_reset: ResetCause::Deliberate,
                hardware: Level::Ok,
                reason: if mode == Mode::Rescue { "rescue mode: 3 resets".into() } else { String::new() },
            },
            readiness: Readiness { ready, slot: Some("A".into()), slot_marked_good: ready },
            services: vec![ServiceState {
                name: "a-service-with-a-very-long-name-indeed-more-than-eighty".into(),
                critical: true,
                state: if ready { "up" } else { "starting" }.into(),
                pid: Some(4_000_000),
            }],
            pid: None,
            roles: Default::default(),
        }
    }

    #[test]
    fn the_verdict_and_its_reason() {
        assert_eq!(verdict(&file(true, true, Mode::Normal), None), Ok(()));
        let e = verdict(&file(true, false, Mode::BootGrace), None).unwrap_err();
        assert!(e.starts_with("starting, not ready yet (waiting for a-service"), "{e}");
        assert_eq!(verdict(&file(true, false, Mode::Rescue), None).unwrap_err(), "rescue mode: 3 resets");
        assert_eq!(verdict(&file(true, true, Mode::Normal), Some("old".into())).unwrap_err(), "old");
        let mut f = file(true, true, Mode::Normal);
        f.readiness.slot_marked_good = false;
        assert!(verdict(&f, None).unwrap_err().starts_with("slot A could not be marked good"));
        f.readiness.slot_marked_good = true;
        f.services[0].state = "crash-looping".into();
        assert!(verdict(&f, None).unwrap_err().starts_with("crash-looping: a-service"));
    }

    #[test]
    fn the_text_fits_80_columns_and_ends_with_the_verdict() {
        let r = Report {
            version: "0.1.0".into(),
            image: Some("v1-2-gabc".into()),
            boot: BootInfo { configured: true, slot: Some("A".into()), ..BootInfo::default() },
            status: file(true, true, Mode::Normal),
            health: HealthReport::default(),
            healthy: true,
            reason: String::new(),
        };
        let t = render(&r);
        assert!(t.lines().all(|l| l.chars().count() <= 80), "{t}");
        assert!(t.contains("slot A, marked good") && t.contains("(image v1-2-gabc)"), "{t}");
        assert_eq!(t.lines().last(), Some("status: healthy"));
    }
}
