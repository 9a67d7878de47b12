//! The system-health monitor: every `[system] interval_s` (10 s) it reads the box's
//! resources ([`hotspare_platform::system::read`]: temperature, memory, load per core,
//! filesystems, file handles), judges them against the `[system]` thresholds and sends
//! [`Report::System`], plus a [`Report::Notice`] whenever a reading changes level (warning,
//! critical, back to normal). Also the `[system]` table of supervisor.toml.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hotspare_api::health::{FilesystemHealth, Notice, ProcessFilesHealth, Severity, SystemHealth, ThresholdCrossed};
use hotspare_base::config_error::ConfigError;
use hotspare_platform::system::thresholds::{self, Level, Limit, Thresholds, Tracker};
use hotspare_platform::system::{self as sys, Readings, Sources};
use serde::Deserialize;

use crate::monitor::{Report, ReportTx};

/// `[system]` as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct RawSystem {
    enabled: bool,
    interval_s: u64,
    proc: PathBuf,
    sys: PathBuf,
    filesystems: Option<Vec<PathBuf>>,
    load_per_core: [f64; 2],
    memory_pct: [f64; 2],
    file_handles_pct: [f64; 2],
    filesystem_pct: [f64; 2],
    temperature_c: [f64; 2],
}

impl Default for RawSystem {
    fn default() -> Self {
        let t = Thresholds::default();
        let pair = |l: Limit| [l.warning, l.critical];
        RawSystem {
            enabled: true,
            interval_s: 10,
            proc: "/proc".into(),
            sys: "/sys".into(),
            filesystems: None,
            load_per_core: pair(t.load_per_core),
            memory_pct: pair(t.memory_pct),
            file_handles_pct: pair(t.file_handles_pct),
            filesystem_pct: pair(t.filesystem_pct),
            temperature_c: pair(t.temperature_c),
        }
    }
}

/// The system-health monitor's settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SystemConfig {
    pub interval: Duration,
    pub sources: Sources,
    pub thresholds: Thresholds,
}

impl RawSystem {
    /// `None` when `enabled = false`; the filesystems default to the state directory.
    pub(crate) fn check(
        self,
        state_dir: &Path,
        bad: &dyn Fn(&str, &str) -> ConfigError,
    ) -> Result<Option<SystemConfig>, ConfigError> {
        if !self.enabled {
            return Ok(None);
        }
        if self.interval_s == 0 {
            return Err(bad("system.interval_s", "must be at least 1"));
        }
        let limit = |key: &str, [warning, critical]: [f64; 2]| {
            if !(warning.is_finite() && critical.is_finite() && warning <= critical) {
                return Err(bad(&format!("system.{key}"), "must be [warning, critical] with warning <= critical"));
            }
            Ok(Limit::new(warning, critical))
        };
        let thresholds = Thresholds {
            load_per_core: limit("load_per_core", self.load_per_core)?,
            memory_pct: limit("memory_pct", self.memory_pct)?,
            file_handles_pct: limit("file_handles_pct", self.file_handles_pct)?,
            filesystem_pct: limit("filesystem_pct", self.filesystem_pct)?,
            temperature_c: limit("temperature_c", self.temperature_c)?,
        };
        let filesystems = self.filesystems.unwrap_or_else(|| vec![state_dir.to_owned()]);
        Ok(Some(SystemConfig {
            interval: Duration::from_secs(self.interval_s),
            // The services are the supervisor's children: their open files are counted.
            sources: Sources { proc: self.proc, sys: self.sys, filesystems, parent: Some(std::process::id()) },
            thresholds,
        }))
    }
}

fn severity(l: Level) -> Option<Severity> {
    match l {
        Level::Normal => None,
        Level::Warning => Some(Severity::Warning),
        Level::Critical => Some(Severity::Critical),
    }
}

/// The report of one reading and the notices of the levels that changed since the last.
pub fn assess(r: &Readings, t: &Thresholds, tracker: &mut Tracker, now_us: i64) -> (SystemHealth, Vec<Notice>) {
    let verdict = thresholds::verdict(r, t);
    let notices = tracker
        .update(&verdict)
        .into_iter()
        .map(|c| Notice {
            at_us: now_us,
            severity: severity(c.to).unwrap_or(Severity::Info),
            source: "system".into(),
            kind: format!("Threshold{:?}", c.to),
            text: c.text,
        })
        .collect();
    let crossed = verdict
        .iter()
        .filter_map(|j| {
            Some(ThresholdCrossed {
                reading: j.key.clone(),
                value: j.value,
                limit: j.limit?,
                severity: severity(j.level)?,
            })
        })
        .collect();
    let health = SystemHealth {
        severity: severity(thresholds::worst(&verdict)),
        temperature_c: r.temperatures.iter().map(|t| t.celsius).reduce(f64::max),
        memory_used_pct: r.memory.map(|m| m.used_pct()),
        load_per_core: r.load.map(|([_, five, _], cpus)| five / f64::from(cpus.max(1))),
        file_handles_used_pct: r.file_handles.map(|h| h.used_pct()),
        filesystems: r
            .filesystems
            .iter()
            .map(|f| FilesystemHealth { path: f.path.display().to_string(), used_pct: f.used_pct })
            .collect(),
        processes: r
            .processes
            .iter()
            .map(|p| ProcessFilesHealth { pid: p.pid, name: p.name.clone(), open: p.open, limit: p.limit })
            .collect(),
        crossed,
        errors: r.errors.clone(),
    };
    (health, notices)
}

/// Starts the monitor (from [`crate::monitor::spawn_all`]); it ends when the runner does.
pub fn spawn(cfg: &SystemConfig, tx: &ReportTx) {
    let (cfg, tx) = (cfg.clone(), tx.clone());
    tokio::spawn(async move {
        let mut tracker = Tracker::default();
        let mut every = tokio::time::interval(cfg.interval);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            let src = cfg.sources.clone();
            // statvfs of a sick disk may block: off the async workers.
            let Ok(readings) = tokio::task::spawn_blocking(move || sys::read(&src)).await else { continue };
            let (health, notices) = assess(&readings, &cfg.thresholds, &mut tracker, hotspare_base::clock::now_us());
            for n in notices {
                let _ = tx.send(Report::Notice(n));
            }
            if tx.send(Report::System(health)).is_err() {
                return;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspare_platform::system::{FileHandles, Memory, ProcessFiles, Temperature};

    #[test]
    fn readings_to_the_report_and_notices() {
        let mut r = Readings {
            temperatures: vec![
                Temperature { sensor: "cpu".into(), celsius: 91.0 },
                Temperature { sensor: "gpu".into(), celsius: 50.0 },
            ],
            memory: Some(Memory { total_kib: 1000, available_kib: 500 }),
            load: Some(([0.0, 1.0, 0.0], 2)),
            filesystems: vec![],
            file_handles: Some(FileHandles { used: 10, max: 100 }),
            processes: vec![ProcessFiles { pid: 9, name: "hotspare recorder".into(), open: 5, limit: 1024 }],
            errors: vec!["/proc/x: gone".into()],
        };
        let mut tr = Tracker::default();
        let (h, n) = assess(&r, &Thresholds::default(), &mut tr, 7);
        assert_eq!(h.severity, Some(Severity::Critical));
        assert_eq!((h.temperature_c, h.memory_used_pct, h.load_per_core), (Some(91.0), Some(50.0), Some(0.5)));
        assert_eq!(h.crossed.len(), 1);
        assert_eq!((h.crossed[0].reading.as_str(), h.crossed[0].limit), ("temperature cpu", 90.0));
        assert_eq!(h.errors, vec!["/proc/x: gone".to_owned()]);
        assert_eq!((h.processes[0].pid, h.processes[0].open, h.processes[0].limit), (9, 5, 1024));
        assert_eq!(n.len(), 1);
        assert_eq!((n[0].severity, n[0].kind.as_str(), n[0].at_us), (Severity::Critical, "ThresholdCritical", 7));
        r.temperatures[0].celsius = 60.0;
        let (h, n) = assess(&r, &Thresholds::default(), &mut tr, 8);
        assert_eq!((h.severity, h.crossed.len()), (None, 0));
        assert_eq!((n[0].severity, n[0].kind.as_str()), (Severity::Info, "ThresholdNormal"));
        assert_eq!(n[0].text, "temperature cpu back to normal (60.0)");
    }
}
