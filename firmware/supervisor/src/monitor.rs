//! What the hardware monitors (RAID, hot-plug, SMART, recording volumes, system health) tell
//! the runner, and the book the runner keeps of it.
//!
//! Each monitor is a task started by [`spawn_all`] that sends [`Report`]s on one channel. The
//! runner applies them to the [`HealthBook`]: notices are logged by severity and kept (the
//! newest [`hotspare_api::health::MAX_NOTICES`]), faults become [`Input::Fault`] (no
//! takeovers while one stands), the worst severity becomes [`Input::Hardware`] (published to
//! the services), and the whole report is written to `health.json` in the state directory
//! (served as `GET /api/v1/health`).

use std::path::PathBuf;

use hotspare_api::health::{
    ArrayHealth, BayHealth, HealthReport, Notice, Severity, SmartHealth, SupervisorHealth, SystemHealth, VolumeHealth,
};
use hotspare_base::fs::write_atomic_unsynced;
use hotspare_ipc::Level;
use tokio::sync::mpsc;

use crate::config::SupervisorConfig;
use crate::core::{Event, Input};
use crate::email::Mailer;
use crate::status_file::StatusFile;

/// One message of a monitor.
#[derive(Clone, Debug, PartialEq)]
pub enum Report {
    /// Something happened (logged, kept in the report; critical ones are e-mailed).
    Notice(Notice),
    /// A reason not to take over NVRs raised (`Some`) or cleared (`None`) by `source`.
    Fault {
        source: String,
        reason: Option<String>,
    },
    Arrays(Vec<ArrayHealth>),
    Bays(Vec<BayHealth>),
    Smart(Vec<SmartHealth>),
    Volumes(Vec<VolumeHealth>),
    System(SystemHealth),
}

/// Where monitors send their reports.
pub type ReportTx = mpsc::UnboundedSender<Report>;

/// Starts the monitors the configuration asks for; each sends on `tx` until the supervisor
/// ends.
pub fn spawn_all(cfg: &SupervisorConfig, tx: &ReportTx) {
    if let Some(c) = &cfg.raid {
        crate::raid::spawn(c.clone(), tx.clone());
        crate::hotplug::spawn(c, &cfg.state_dir, tx.clone());
    }
    if let Some(c) = &cfg.volumes {
        crate::volumes::spawn(c.clone(), tx.clone());
    }
    if let Some(c) = &cfg.system {
        crate::system::spawn(c, tx);
    }
    crate::smart::spawn(cfg.smart.as_ref(), &cfg.state_dir, tx);
}

/// A critical notice of the supervisor itself, now.
pub fn supervisor_notice(kind: &str, text: String) -> Notice {
    Notice {
        at_us: hotspare_base::clock::now_us(),
        severity: Severity::Critical,
        source: "supervisor".into(),
        kind: kind.into(),
        text,
    }
}

/// The runner's view of the box's health.
#[derive(Debug)]
pub struct HealthBook {
    report: HealthReport,
    path: PathBuf,
    hardware: Level,
    mailer: Option<Mailer>,
}

impl HealthBook {
    /// A book written to `path` (`<state_dir>/health.json`).
    pub fn new(path: PathBuf) -> HealthBook {
        let report = HealthReport { firmware_version: env!("CARGO_PKG_VERSION").into(), ..HealthReport::default() };
        HealthBook { report, path, hardware: Level::Ok, mailer: None }
    }

    /// Mails critical notices with these settings (a task started now), when given.
    pub fn with_email(mut self, settings: Option<hotspare_api::EmailSettings>) -> HealthBook {
        self.mailer = settings.map(Mailer::spawn);
        self
    }

    /// A core event: the critical ones (rescue mode, crash loops) are kept and mailed.
    pub fn event(&mut self, e: &Event) {
        if let Some(n) = crate::email::critical_event(e, hotspare_base::clock::now_us()) {
            self.critical(n);
        }
    }

    /// Sends the mail of what waits, within `limit` (before the reset command).
    pub async fn flush_mail(&self, limit: std::time::Duration) {
        if let Some(m) = &self.mailer {
            m.flush(limit).await;
        }
    }

    /// A critical notice of the supervisor itself (kept and mailed).
    pub fn critical(&mut self, n: Notice) {
        if let Some(m) = &self.mailer {
            m.notify(&n);
        }
        self.report.push_notice(n);
    }

    pub fn report(&self) -> &HealthReport {
        &self.report
    }

    /// Applies a report; returns what the core must hear of it.
    pub fn apply(&mut self, r: Report) -> Vec<Input> {
        let mut out = Vec::new();
        match r {
            Report::Notice(n) => {
                match n.severity {
                    Severity::Info => log::info!("{}: {}", n.source, n.text),
                    Severity::Warning => log::warn!("{}: {}", n.source, n.text),
                    Severity::Critical => log::error!("{}: {}", n.source, n.text),
                }
                if let Some(m) = &self.mailer {
                    m.notify(&n);
                }
                self.report.push_notice(n);
            }
            Report::Fault { source, reason } => out.push(Input::Fault { source, reason }),
            Report::Arrays(a) => self.report.arrays = a,
            Report::Bays(b) => self.report.bays = b,
            Report::Smart(s) => self.report.smart = s,
            Report::Volumes(v) => self.report.volumes = v,
            Report::System(s) => self.report.system = Some(s),
        }
        let level = match self.report.worst() {
            None | Some(Severity::Info) => Level::Ok,
            Some(Severity::Warning) => Level::Warning,
            Some(Severity::Critical) => Level::Critical,
        };
        if level != self.hardware {
            self.hardware = level;
            out.push(Input::Hardware(level));
        }
        out
    }

    /// The supervisor's verdict or boot slot changed (what `status.json` now says).
    pub fn set_supervisor(&mut self, f: &StatusFile) {
        let s = &f.status;
        self.report.supervisor = Some(SupervisorHealth {
            mode: format!("{:?}", s.mode),
            healthy: s.healthy,
            takeovers_allowed: s.takeovers_allowed,
            last_reset: format!("{:?}", s.last_reset),
            reason: s.reason.clone(),
            readiness: f.readiness.clone(),
        });
    }

    /// Writes `health.json` (atomically; a reader sees the old or the new report).
    pub fn write(&mut self) {
        self.report.updated_us = hotspare_base::clock::now_us();
        let written = serde_json::to_vec_pretty(&self.report)
            .map_err(|e| e.to_string())
            .and_then(|json| write_atomic_unsynced(&self.path, &json, 0o644).map_err(|e| e.to_string()));
        if let Err(e) = written {
            log::error!("health file {}: {e}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_faults_and_the_hardware_level() {
        let d = tempfile::tempdir().unwrap();
        let mut book = HealthBook::new(d.path().join("health.json"));
        let n = Notice {
            at_us: 1,
            severity: Severity::Critical,
            source: "raid".into(),
            kind: "Fail".into(),
            text: "md0: sdb failed".into(),
        };
        assert!(book.apply(Report::Notice(n.clone())).is_empty(), "a notice alone changes no level");
        let fault = Report::Fault { source: "raid".into(), reason: Some("md0 failed".into()) };
        assert_eq!(book.apply(fault), vec![Input::Fault { source: "raid".into(), reason: Some("md0 failed".into()) }]);
        let md0 = ArrayHealth { device: "md0".into(), severity: Some(Severity::Critical), ..Default::default() };
        assert_eq!(book.apply(Report::Arrays(vec![md0])), vec![Input::Hardware(Level::Critical)]);
        assert_eq!(book.apply(Report::Arrays(vec![])), vec![Input::Hardware(Level::Ok)]);
        book.write();
        let back: HealthReport = serde_json::from_slice(&std::fs::read(d.path().join("health.json")).unwrap()).unwrap();
        assert_eq!(back.notices, vec![n]);
        assert!(back.updated_us > 0);
    }
}
