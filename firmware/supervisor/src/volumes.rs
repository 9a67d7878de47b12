//! The recording-volume monitor: every `interval_s`, each configured volume gets the write
//! probe (create, write, fdatasync, unlink: an EIO shows here) and a look at its mount in
//! mountinfo (a filesystem remounted read-only after an error). A volume that cannot record
//! is reported (`Report::Volumes`), noticed (`CannotRecord`, critical; `CanRecord` when it
//! recovers) and raises the `volume` fault (no takeovers). `[volumes]` in supervisor.toml.

use std::path::PathBuf;
use std::time::Duration;

use hotspare_api::health::{Notice, Severity, VolumeHealth};
use hotspare_platform::{mountinfo, volume};
use serde::Deserialize;

use crate::monitor::{Report, ReportTx};

/// `[volumes]` as written.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RawVolumes {
    /// The recording directories to probe.
    pub paths: Vec<PathBuf>,
    pub mountinfo: PathBuf,
    pub interval_s: u64,
    /// Overrides `interval_s` (tests).
    pub interval_ms: Option<u64>,
}

impl Default for RawVolumes {
    fn default() -> Self {
        RawVolumes { paths: Vec::new(), mountinfo: "/proc/self/mountinfo".into(), interval_s: 60, interval_ms: None }
    }
}

/// The monitor's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumesConfig {
    pub paths: Vec<PathBuf>,
    pub mountinfo: PathBuf,
    pub interval: Duration,
}

impl RawVolumes {
    /// Checks the values; `Err((key, problem))`.
    pub fn into_config(self) -> Result<VolumesConfig, (String, String)> {
        let interval = crate::config::interval("volumes", self.interval_s, self.interval_ms)?;
        if let Some(p) = self.paths.iter().find(|p| !p.is_absolute()) {
            return Err(("volumes.paths".into(), format!("{} is not an absolute path", p.display())));
        }
        Ok(VolumesConfig { paths: self.paths, mountinfo: self.mountinfo, interval })
    }
}

/// One volume as probed: the write probe and whether its mount is read-only (`None`: no
/// mount found or mountinfo unreadable).
pub fn health(path: &str, probe: &volume::Probe, read_only: Option<bool>) -> VolumeHealth {
    let ro = read_only == Some(true);
    let detail = match (probe.writable, ro) {
        (true, false) => probe.detail.clone(), // may say "volume full": still records (recycling)
        (_, true) if probe.writable || probe.detail.is_empty() => format!("{path}: mounted read-only"),
        (_, true) => format!("{path}: mounted read-only; {}", probe.detail),
        (false, false) => probe.detail.clone(),
    };
    let can = probe.writable && !ro;
    VolumeHealth {
        path: path.into(),
        severity: (!can).then_some(Severity::Critical),
        writable: probe.writable,
        read_only: ro,
        detail,
    }
}

/// What the monitor remembers between looks.
#[derive(Debug, Default)]
pub struct VolumesState {
    last: Option<Vec<VolumeHealth>>,
    fault: Option<String>,
}

impl VolumesState {
    /// The reports a new look calls for.
    pub fn look(&mut self, at_us: i64, cur: Vec<VolumeHealth>) -> Vec<Report> {
        let mut out = Vec::new();
        let cannot = |v: &VolumeHealth| v.severity == Some(Severity::Critical);
        for v in &cur {
            let before = self.last.as_ref().and_then(|l| l.iter().find(|o| o.path == v.path));
            let was_bad = before.is_some_and(cannot);
            let notice = |severity, kind: &str, text: String| {
                Report::Notice(Notice { at_us, severity, source: "volume".into(), kind: kind.into(), text })
            };
            if cannot(v) && !was_bad {
                out.push(notice(Severity::Critical, "CannotRecord", format!("cannot record: {}", v.detail)));
            } else if !cannot(v) && was_bad {
                out.push(notice(Severity::Info, "CanRecord", format!("{}: recording volume writable again", v.path)));
            }
        }
        let bad: Vec<&str> = cur.iter().filter(|v| cannot(v)).map(|v| v.detail.as_str()).collect();
        let fault = (!bad.is_empty()).then(|| format!("cannot record: {}", bad.join("; ")));
        if self.last.as_ref() != Some(&cur) {
            out.push(Report::Volumes(cur.clone()));
            self.last = Some(cur);
        }
        if fault != self.fault {
            out.push(Report::Fault { source: "volume".into(), reason: fault.clone() });
            self.fault = fault;
        }
        out
    }
}

/// Probes every volume.
fn probe_all(cfg: &VolumesConfig) -> Vec<VolumeHealth> {
    let mounts = std::fs::read_to_string(&cfg.mountinfo).ok().map(|t| mountinfo::parse(&t));
    cfg.paths
        .iter()
        .map(|p| {
            let probe = volume::probe(p);
            let ro = mounts.as_ref().and_then(|m| mountinfo::mount_of(m, p)).map(|m| m.read_only());
            health(&p.display().to_string(), &probe, ro)
        })
        .collect()
}

/// Starts the monitor in a thread of its own (a probe may block long on a dying disk; a
/// thread does not hold up the runtime's end at shutdown).
pub fn spawn(cfg: VolumesConfig, tx: ReportTx) {
    let run = move || {
        let mut state = VolumesState::default();
        loop {
            for r in state.look(hotspare_base::clock::now_us(), probe_all(&cfg)) {
                if tx.send(r).is_err() {
                    return;
                }
            }
            std::thread::sleep(cfg.interval);
        }
    };
    if let Err(e) = std::thread::Builder::new().name("volumes".into()).spawn(run) {
        log::error!("volume monitor: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> volume::Probe {
        volume::Probe { writable: true, detail: String::new() }
    }

    #[test]
    fn verdicts() {
        let v = health("/rec", &ok(), Some(false));
        assert_eq!((v.severity, v.detail.as_str()), (None, ""));
        let v = health("/rec", &ok(), Some(true));
        assert_eq!((v.severity, v.detail.as_str()), (Some(Severity::Critical), "/rec: mounted read-only"));
        let eio = volume::Probe { writable: false, detail: "/rec: write probe failed: Input/output error".into() };
        let v = health("/rec", &eio, None);
        assert_eq!((v.severity, v.writable, v.read_only), (Some(Severity::Critical), false, false));
        assert!(v.detail.contains("Input/output error"));
        let full = volume::Probe { writable: true, detail: "/rec: volume full".into() };
        assert_eq!(health("/rec", &full, Some(false)).severity, None, "a full volume records (recycling)");
    }

    #[test]
    fn notices_and_fault_on_change_only() {
        let mut st = VolumesState::default();
        let good = vec![health("/rec", &ok(), Some(false))];
        let bad = vec![health("/rec", &ok(), Some(true))];
        assert!(matches!(st.look(1, good.clone()).as_slice(), [Report::Volumes(_)]));
        assert!(st.look(2, good.clone()).is_empty());
        let r = st.look(3, bad.clone());
        assert!(matches!(&r[0], Report::Notice(n) if n.kind == "CannotRecord" && n.severity == Severity::Critical));
        assert!(
            matches!(&r[2], Report::Fault { source, reason: Some(why) } if source == "volume" && why.contains("read-only"))
        );
        assert!(st.look(4, bad).is_empty(), "said once");
        let r = st.look(5, good);
        assert!(matches!(&r[0], Report::Notice(n) if n.kind == "CanRecord"));
        assert!(matches!(&r[2], Report::Fault { reason: None, .. }));
    }

    #[test]
    fn config_values() {
        let e = RawVolumes { paths: vec!["rec".into()], ..RawVolumes::default() }.into_config().unwrap_err();
        assert_eq!(e.0, "volumes.paths");
        let c = RawVolumes { interval_ms: Some(50), ..RawVolumes::default() }.into_config().unwrap();
        assert_eq!(c.interval, Duration::from_millis(50));
    }
}
