//! The SMART monitor: every `interval_min` (and at once on SIGUSR1 to the supervisor) reads
//! each disk ([`hotspare_platform::smart::device`]) off the runtime, judges it against its
//! previous snapshot ([`hotspare_platform::smart::verdict`]) and reports: `Report::Smart`
//! (one [`SmartHealth`] per disk), a `Report::Notice` per new finding, and
//! `Report::Fault{source: "smart"}` while a critical finding stands. The snapshots are kept
//! in `<state_dir>/smart.json` so "increased" survives a restart. The decisions are in
//! [`SmartBook`] (no I/O but that file, tested without a runtime).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hotspare_api::health::{Notice, Severity, SmartHealth};
use hotspare_base::fs::write_atomic_unsynced;
use hotspare_platform::smart::device::{self, Target};
use hotspare_platform::smart::{self, Finding, FindingKind, Snapshot};
use serde::Deserialize;
use tokio::signal::unix::{signal, Signal, SignalKind};

use crate::monitor::{Report, ReportTx};

/// `[smart]` of supervisor.toml as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawSmart {
    devices: Option<Vec<String>>,
    #[serde(default = "default_interval")]
    interval_min: u64,
    #[serde(default = "default_sys_block")]
    sys_block: PathBuf,
    #[serde(default = "default_sys_class_nvme")]
    sys_class_nvme: PathBuf,
    #[serde(default = "default_dev")]
    dev: PathBuf,
}

fn default_interval() -> u64 {
    30
}
fn default_sys_block() -> PathBuf {
    "/sys/block".into()
}
fn default_sys_class_nvme() -> PathBuf {
    "/sys/class/nvme".into()
}
fn default_dev() -> PathBuf {
    "/dev".into()
}

/// `[smart]`: which disks, how often, where sysfs and the device nodes are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmartConfig {
    /// `None`: every `sd*` and `nvme*` of `sys_block`.
    pub devices: Option<Vec<String>>,
    pub interval: Duration,
    pub sys_block: PathBuf,
    pub sys_class_nvme: PathBuf,
    pub dev: PathBuf,
}

impl SmartConfig {
    /// Checks the table; an error is `(key, problem)`.
    pub fn from_raw(r: RawSmart) -> Result<SmartConfig, (&'static str, &'static str)> {
        if r.interval_min == 0 {
            return Err(("smart.interval_min", "must be at least 1"));
        }
        if r.devices.as_ref().is_some_and(|d| d.iter().any(String::is_empty)) {
            return Err(("smart.devices", "an empty device name"));
        }
        Ok(SmartConfig {
            devices: r.devices,
            interval: Duration::from_secs(r.interval_min * 60),
            sys_block: r.sys_block,
            sys_class_nvme: r.sys_class_nvme,
            dev: r.dev,
        })
    }

    /// The disks to read now (autodetection is redone each time: hot-plug).
    pub fn targets(&self) -> Vec<Target> {
        match &self.devices {
            Some(d) => d.iter().map(|a| Target::from_arg(a)).collect(),
            None => device::autodetect(&self.sys_block, &self.dev),
        }
    }
}

/// One disk's reading: its snapshot or why it could not be read.
pub type Reading = (String, Result<Snapshot, String>);

fn severity(s: smart::Severity) -> Severity {
    match s {
        smart::Severity::Warning => Severity::Warning,
        smart::Severity::Critical => Severity::Critical,
    }
}

/// The fields of [`SmartHealth`] from a snapshot and its findings.
pub fn health(s: &Snapshot, findings: &[Finding]) -> SmartHealth {
    SmartHealth {
        device: s.device.clone(),
        severity: findings.iter().map(|f| severity(f.severity)).max(),
        model: s.model.clone(),
        serial: s.serial.clone(),
        kind: s.kind.as_str().into(),
        passed: Some(s.passed),
        temperature_c: s.temperature_c(),
        power_on_hours: s.power_on_hours(),
        findings: findings.iter().map(|f| f.text.clone()).collect(),
    }
}

/// Key of "the same finding again": kind and subject (a disk's unreadability is
/// `None`).
type Key = Option<(FindingKind, u32)>;

/// The monitor's memory: the last snapshot and the standing findings of each disk, and
/// the fault it raised.
#[derive(Debug, Default)]
pub struct SmartBook {
    snapshots: BTreeMap<String, Snapshot>,
    standing: BTreeMap<String, BTreeSet<Key>>,
    fault: Option<String>,
}

impl SmartBook {
    /// The book with the snapshots of `path` (`smart.json`; missing or unreadable: empty).
    pub fn load(path: &Path) -> SmartBook {
        let snapshots = match std::fs::read(path) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                log::warn!("{}: {e}: starting without previous SMART snapshots", path.display());
                BTreeMap::new()
            }),
            Err(_) => BTreeMap::new(),
        };
        SmartBook { snapshots, ..SmartBook::default() }
    }

    pub fn save(&self, path: &Path) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(&self.snapshots).map_err(|e| e.to_string())?;
        write_atomic_unsynced(path, &json, 0o644).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// One check of every disk at `now_us`: what to report.
    pub fn handle(&mut self, now_us: i64, readings: Vec<Reading>) -> Vec<Report> {
        let mut out = Vec::new();
        let mut disks = Vec::new();
        let mut critical = Vec::new();
        let notice = |severity, kind: &str, text: String| {
            Report::Notice(Notice { at_us: now_us, severity, source: "smart".into(), kind: kind.into(), text })
        };
        for (name, reading) in readings {
            let before = self.standing.remove(&name).unwrap_or_default();
            let mut now = BTreeSet::new();
            match reading {
                Ok(snap) => {
                    let findings = smart::verdict(self.snapshots.get(&name), &snap);
                    for f in &findings {
                        let key = Some((f.kind, f.subject));
                        if !before.contains(&key) {
                            out.push(notice(severity(f.severity), f.kind.code(), f.text.clone()));
                        }
                        if f.severity == smart::Severity::Critical {
                            critical.push(f.text.clone());
                        }
                        now.insert(key);
                    }
                    disks.push(health(&snap, &findings));
                    self.snapshots.insert(name.clone(), snap);
                }
                Err(e) => {
                    // Unreadable after it was read: a warning; never read (a USB stick
                    // without SAT): said, without a severity.
                    let known = self.snapshots.get(&name);
                    let sev = known.map(|_| Severity::Warning);
                    let text = format!("{name}: cannot read SMART: {e}");
                    if !before.contains(&None) {
                        out.push(notice(sev.unwrap_or(Severity::Info), "SmartUnreadable", text.clone()));
                    }
                    now.insert(None);
                    let (model, serial) = known.map(|s| (s.model.clone(), s.serial.clone())).unwrap_or_default();
                    let kind = known.map(|s| s.kind.as_str().to_owned()).unwrap_or_default();
                    disks.push(SmartHealth {
                        device: name.clone(),
                        severity: sev,
                        model,
                        serial,
                        kind,
                        findings: vec![text],
                        ..SmartHealth::default()
                    });
                }
            }
            self.standing.insert(name, now);
        }
        out.push(Report::Smart(disks));
        let fault = (!critical.is_empty()).then(|| critical.join("; "));
        if fault != self.fault {
            out.push(Report::Fault { source: "smart".into(), reason: fault.clone() });
            self.fault = fault;
        }
        out
    }
}

/// Starts the SMART monitor if supervisor.toml has a `[smart]` table. SIGUSR1 is caught
/// from here on either way (without `[smart]` it is logged and ignored): its default action
/// would end the supervisor, and with it every service.
pub fn spawn(smart: Option<&SmartConfig>, state_dir: &Path, tx: &ReportTx) {
    let usr1 = signal(SignalKind::user_defined1()).map_err(|e| log::error!("SIGUSR1: {e}")).ok();
    match smart {
        Some(c) => drop(tokio::spawn(run_with(c.clone(), state_dir.join("smart.json"), tx.clone(), usr1))),
        None => {
            if let Some(mut s) = usr1 {
                tokio::spawn(async move {
                    while s.recv().await.is_some() {
                        log::info!("SIGUSR1: no [smart] table in supervisor.toml: nothing to check");
                    }
                });
            }
        }
    }
}

/// The monitor's loop; ends when the runner stops listening.
pub async fn run(cfg: SmartConfig, state: PathBuf, tx: ReportTx) {
    let usr1 = signal(SignalKind::user_defined1()).map_err(|e| log::error!("SIGUSR1: {e}")).ok();
    run_with(cfg, state, tx, usr1).await
}

async fn run_with(cfg: SmartConfig, state: PathBuf, tx: ReportTx, mut usr1: Option<Signal>) {
    let mut book = SmartBook::load(&state);
    loop {
        let (targets, nvme) = (cfg.targets(), cfg.sys_class_nvme.clone());
        let read = tokio::task::spawn_blocking(move || {
            targets.iter().map(|t| (t.name.clone(), device::read(t, &nvme).map_err(|e| e.to_string()))).collect()
        });
        let readings: Vec<Reading> = match read.await {
            Ok(r) => r,
            Err(e) => {
                log::error!("SMART check: {e}");
                Vec::new()
            }
        };
        for r in book.handle(hotspare_base::clock::now_us(), readings) {
            if tx.send(r).is_err() {
                return;
            }
        }
        if let Err(e) = book.save(&state) {
            log::error!("SMART snapshots: {e}");
        }
        let sleep = tokio::time::sleep(cfg.interval);
        match usr1.as_mut() {
            Some(s) => tokio::select! {
                _ = sleep => {}
                _ = s.recv() => log::info!("SIGUSR1: checking SMART now"),
            },
            None => sleep.await,
        }
    }
}

#[cfg(test)]
#[path = "smart_tests.rs"]
mod tests;
