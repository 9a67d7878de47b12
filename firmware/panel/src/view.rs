//! What the screens show, as plain data: [`View`] is built from the
//! supervisor's `status_view::Report` (status.json + health.json), the
//! settings (DHCP or static) and the address the box has now. Pure.

use hotspare_api::health::Severity;
use hotspare_settings::model::AddressMode;
use hotspare_settings::Settings;
use hotspare_supervisor::status_view::Report;

/// The box's state, as the status screen names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    /// Monitoring its NVRs, ready to take over.
    Armed,
    /// Recording for `n` failed NVRs (`names`: which ones, when known).
    Covering { n: u32, names: Vec<String> },
    /// Running but not armed (no NVR configured, no licence, starting).
    Standby,
    /// Not healthy: the supervisor's reason.
    Fault(String),
    /// The state files cannot be read (`hotspare status` would fail too).
    Unknown(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    pub state: State,
    pub hostname: String,
    /// The address the box has now, if any.
    pub address: Option<String>,
    pub dhcp: bool,
    /// One short line per array, bays and SMART.
    pub disks: Vec<String>,
    /// Critical notices, newest first, and other critical findings.
    pub alarms: Vec<String>,
}

/// The view from what was read; `report` is `Err` when the state files cannot be read;
/// `covering`: the NVRs the spare's own state says it has taken over (may be empty: the
/// count of the supervisor's `roles` is what decides).
pub fn build(report: Result<&Report, &str>, settings: &Settings, address: Option<String>, covering: &[String]) -> View {
    let dhcp = settings.network.mode == AddressMode::Dhcp;
    let mut v = View {
        state: State::Unknown(String::new()),
        hostname: settings.hostname.clone(),
        address,
        dhcp,
        disks: Vec::new(),
        alarms: Vec::new(),
    };
    let r = match report {
        Ok(r) => r,
        Err(e) => {
            v.state = State::Unknown(e.to_string());
            return v;
        }
    };
    v.state = match r.status.spare() {
        _ if !r.healthy => State::Fault(r.reason.clone()),
        Some((_, n)) if n > 0 => State::Covering { n, names: covering.to_vec() },
        Some((true, _)) => State::Armed,
        _ => State::Standby,
    };
    let h = &r.health;
    for a in &h.arrays {
        let sync = a.sync_percent.map_or(String::new(), |p| format!(" {p:.0}%"));
        v.disks.push(format!("{} {} {}{sync}", a.device, a.level, a.state));
    }
    if !h.bays.is_empty() {
        let present = h.bays.iter().filter(|b| b.present).count();
        let bad: Vec<&str> =
            h.bays.iter().filter(|b| b.severity > Some(Severity::Info)).map(|b| b.bay.as_str()).collect();
        let what = if bad.is_empty() { "ok".to_string() } else { format!("check {}", bad.join(",")) };
        v.disks.push(format!("bays {present}/{} {what}", h.bays.len()));
    }
    if !h.smart.is_empty() {
        let failed: Vec<&str> = h
            .smart
            .iter()
            .filter(|s| s.passed == Some(false) || s.severity > Some(Severity::Info))
            .map(|s| s.device.as_str())
            .collect();
        v.disks.push(if failed.is_empty() { "SMART ok".into() } else { format!("SMART BAD {}", failed.join(",")) });
    }
    if v.disks.is_empty() {
        v.disks.push("no disks seen".into());
    }
    for n in h.notices.iter().rev().filter(|n| n.severity == Severity::Critical) {
        v.alarms.push(n.text.clone());
    }
    for s in h.smart.iter().filter(|s| s.passed == Some(false)) {
        v.alarms.push(format!("{} SMART failed", s.device));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspare_api::health::{BayHealth, HealthReport, Notice};
    use hotspare_ipc::{Level, Mode, ResetCause, RoleState, Status};
    use hotspare_supervisor::status_file::StatusFile;
    use hotspare_supervisor::status_view::BootInfo;

    fn report(healthy: bool, role: Option<RoleState>) -> Report {
        let mut status = StatusFile {
            status: Status {
                mode: Mode::Normal,
                healthy,
                takeovers_allowed: true,
                last_reset: ResetCause::Deliberate,
                hardware: Level::Ok,
                reason: String::new(),
            },
            readiness: hotspare_api::health::Readiness { ready: true, slot: None, slot_marked_good: false },
            services: Vec::new(),
            pid: None,
            roles: Default::default(),
        };
        if let Some(r) = role {
            status.roles.insert("failover".into(), r);
        }
        let mut health = HealthReport::default();
        health.bays.push(BayHealth { bay: "bay1".into(), present: true, ..Default::default() });
        health.bays.push(BayHealth { bay: "bay2".into(), severity: Some(Severity::Warning), ..Default::default() });
        health.notices.push(Notice {
            at_us: 1,
            severity: Severity::Critical,
            source: "supervisor".into(),
            kind: "x".into(),
            text: "disk gone".into(),
        });
        Report {
            version: "0".into(),
            image: None,
            boot: BootInfo::default(),
            status,
            health,
            healthy,
            reason: if healthy { String::new() } else { "rescue mode".into() },
        }
    }

    #[test]
    fn the_state_comes_from_the_roles_and_the_verdict() {
        let s = Settings::default();
        let v = build(Ok(&report(true, Some(RoleState::Spare { armed: true, covering: 0 }))), &s, None, &[]);
        assert_eq!(v.state, State::Armed);
        assert!(v.dhcp);
        let v = build(Ok(&report(true, Some(RoleState::Spare { armed: true, covering: 2 }))), &s, None, &[]);
        assert_eq!(v.state, State::Covering { n: 2, names: vec![] });
        let names = ["nvr-a".to_string()];
        let v = build(Ok(&report(true, Some(RoleState::Spare { armed: true, covering: 1 }))), &s, None, &names);
        assert_eq!(v.state, State::Covering { n: 1, names: names.to_vec() });
        let v = build(Ok(&report(true, None)), &s, None, &[]);
        assert_eq!(v.state, State::Standby);
        let v = build(Ok(&report(false, Some(RoleState::Spare { armed: true, covering: 0 }))), &s, None, &[]);
        assert_eq!(v.state, State::Fault("rescue mode".into()));
        assert_eq!(v.disks, vec!["bays 1/2 check bay2".to_string()]);
        assert_eq!(v.alarms, vec!["disk gone".to_string()]);
        assert!(matches!(build(Err("no file"), &s, None, &[]).state, State::Unknown(_)));
    }
}
