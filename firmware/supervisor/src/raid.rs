//! The md RAID monitor: looks at the arrays in sysfs every `interval_s` and whenever the
//! kernel signals a change (poll(2) `POLLPRI` on `array_state`, `sync_action` and
//! `/proc/mdstat`), turns the differences into mdadm's events (notices, source `raid`),
//! reports the arrays' health, and raises the `raid` fault (no takeovers) while an array has
//! failed. The decisions are in `hotspare_platform::{md_sysfs, md_events}`; this module is
//! the task, its timing and the translation into [`Report`]s. `[raid]` in supervisor.toml.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hotspare_api::health::{ArrayHealth, MemberHealth, Notice, Severity};
use hotspare_platform::bays::AutoAdd;
use hotspare_platform::md_events::{self, MdSeverity};
use hotspare_platform::md_sysfs::{self, Array, Snapshot, Verdict};
use serde::Deserialize;

use crate::monitor::{Report, ReportTx};

/// `[raid]` as written.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RawRaid {
    /// Where the block devices are in sysfs.
    pub sys_block: PathBuf,
    /// `/proc/mdstat` (polled for `POLLPRI`: the kernel's "an array changed").
    pub mdstat: PathBuf,
    pub interval_s: u64,
    /// Overrides `interval_s` (tests).
    pub interval_ms: Option<u64>,
    /// Spares each array should have (mdadm's `spares=`), e.g. `{ md0 = 1 }`.
    pub spares: BTreeMap<String, u32>,
    /// The board profile's `bays.toml`; absent: no bay/hot-plug monitor.
    pub bays: Option<PathBuf>,
    /// `off` or `spare-same-slot` (a new disk in a degraded array's bay is added to it).
    pub auto_add: String,
    /// The program adding a disk: `<mdadm...> --add /dev/mdX /dev/sdY`.
    pub mdadm: Vec<String>,
    /// Listen to the kernel's uevents (libudev) to look at once on hot-plug.
    pub uevents: bool,
}

impl Default for RawRaid {
    fn default() -> Self {
        RawRaid {
            sys_block: "/sys/block".into(),
            mdstat: "/proc/mdstat".into(),
            interval_s: 60,
            interval_ms: None,
            spares: BTreeMap::new(),
            bays: None,
            auto_add: "off".into(),
            mdadm: vec!["mdadm".into()],
            uevents: true,
        }
    }
}

/// The monitor's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RaidConfig {
    pub sys_block: PathBuf,
    pub mdstat: PathBuf,
    pub interval: Duration,
    pub spares: BTreeMap<String, u32>,
    pub bays: Option<PathBuf>,
    pub auto_add: AutoAdd,
    pub mdadm: Vec<String>,
    pub uevents: bool,
}

impl RawRaid {
    /// Checks the values; `Err((key, problem))`.
    pub fn into_config(self) -> Result<RaidConfig, (String, String)> {
        let interval = crate::config::interval("raid", self.interval_s, self.interval_ms)?;
        let auto_add = match self.auto_add.as_str() {
            "off" => AutoAdd::Off,
            "spare-same-slot" => AutoAdd::SpareSameSlot,
            _ => return Err(("raid.auto_add".into(), "must be \"off\" or \"spare-same-slot\"".into())),
        };
        if self.mdadm.is_empty() {
            return Err(("raid.mdadm".into(), "needs the program to run (e.g. [\"mdadm\"])".into()));
        }
        Ok(RaidConfig {
            sys_block: self.sys_block,
            mdstat: self.mdstat,
            interval,
            spares: self.spares,
            bays: self.bays,
            auto_add,
            mdadm: self.mdadm,
            uevents: self.uevents,
        })
    }
}

/// What the monitor remembers between looks.
#[derive(Debug, Default)]
pub struct RaidState {
    prev: Snapshot,
    arrays: Option<Vec<ArrayHealth>>,
    fault: Option<String>,
}

impl RaidState {
    /// The reports a new look `cur` (taken at `at_us`) calls for.
    pub fn look(&mut self, at_us: i64, cur: Snapshot) -> Vec<Report> {
        let mut out: Vec<Report> = md_events::events(&self.prev, &cur)
            .into_iter()
            .map(|e| {
                let severity = match e.severity() {
                    MdSeverity::Info => Severity::Info,
                    MdSeverity::Warning => Severity::Warning,
                    MdSeverity::Critical => Severity::Critical,
                };
                Report::Notice(Notice { at_us, severity, source: "raid".into(), kind: e.name(), text: e.text() })
            })
            .collect();
        let arrays: Vec<ArrayHealth> = cur.arrays.values().map(health).collect();
        if self.arrays.as_ref() != Some(&arrays) {
            out.push(Report::Arrays(arrays.clone()));
            self.arrays = Some(arrays);
        }
        let failed: Vec<String> = cur.arrays.values().filter_map(failure).collect();
        let fault = (!failed.is_empty()).then(|| failed.join("; "));
        if fault != self.fault {
            out.push(Report::Fault { source: "raid".into(), reason: fault.clone() });
            self.fault = fault;
        }
        self.prev = cur;
        out
    }
}

/// Why a failed array stops takeovers; `None` if it has not failed.
fn failure(a: &Array) -> Option<String> {
    (a.verdict() == Verdict::Failed).then(|| {
        if matches!(a.array_state.as_str(), "inactive" | "clear" | "broken" | "") {
            format!(
                "RAID {} failed (array_state {})",
                a.device,
                if a.array_state.is_empty() { "?" } else { &a.array_state }
            )
        } else {
            format!("RAID {} failed ({}, {} of {} members missing)", a.device, a.level, a.degraded, a.raid_disks)
        }
    })
}

fn health(a: &Array) -> ArrayHealth {
    let verdict = a.verdict();
    let severity = match verdict {
        Verdict::Failed => Some(Severity::Critical),
        // A rebuild under way is the repair: a warning until it is done.
        Verdict::Degraded if a.syncing() => Some(Severity::Warning),
        Verdict::Degraded => Some(Severity::Critical),
        Verdict::Ok => None,
    };
    ArrayHealth {
        device: a.device.clone(),
        severity,
        level: a.level.clone(),
        state: verdict.as_str().into(),
        array_state: a.array_state.clone(),
        members: a
            .members
            .iter()
            .map(|m| MemberHealth { device: m.name.clone(), slot: m.slot, state: m.state.clone() })
            .collect(),
        degraded: a.degraded,
        sync_action: a.sync_action.clone(),
        sync_percent: a.sync_percent().map(|p| (p * 10.0).round() / 10.0),
    }
}

/// Starts the monitor in a thread of its own: its reads and poll(2) block, and a thread
/// (unlike a blocking task) does not hold up the runtime's end at shutdown.
pub fn spawn(cfg: RaidConfig, tx: ReportTx) {
    let run = move || {
        let mut state = RaidState::default();
        loop {
            let mut cur = md_sysfs::read(&cfg.sys_block);
            for (name, a) in cur.arrays.iter_mut() {
                a.spares_wanted = cfg.spares.get(name).copied();
            }
            let watched = watched(&cfg, &cur);
            for r in state.look(hotspare_base::clock::now_us(), cur) {
                if tx.send(r).is_err() {
                    return;
                }
            }
            if wait_change(&watched, cfg.interval) {
                // Let the kernel finish the change (a fail is several attribute writes).
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    };
    if let Err(e) = std::thread::Builder::new().name("raid".into()).spawn(run) {
        log::error!("RAID monitor: {e}");
    }
}

/// The attributes whose change the kernel signals with `POLLPRI`.
fn watched(cfg: &RaidConfig, s: &Snapshot) -> Vec<PathBuf> {
    let mut v = vec![cfg.mdstat.clone()];
    for name in s.arrays.keys() {
        let md = cfg.sys_block.join(name).join("md");
        v.push(md.join("array_state"));
        v.push(md.join("sync_action"));
        v.push(md.join("degraded"));
    }
    v
}

/// Blocks until one of `paths` signals a change (`true`) or `timeout` passes (`false`).
/// Each file is read first (sysfs notifies only after a read). Regular files (test trees)
/// never signal: the timeout paces the looks.
fn wait_change(paths: &[PathBuf], timeout: Duration) -> bool {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    use std::io::Read;
    let files: Vec<std::fs::File> = paths
        .iter()
        .filter_map(|p| {
            let mut f = std::fs::File::open(Path::new(p)).ok()?;
            let mut buf = Vec::new();
            let _ = f.read_to_end(&mut buf);
            Some(f)
        })
        .collect();
    let mut fds: Vec<PollFd<'_>> = files.iter().map(|f| PollFd::new(f, PollFlags::PRI | PollFlags::ERR)).collect();
    let t = Timespec { tv_sec: timeout.as_secs() as i64, tv_nsec: i64::from(timeout.subsec_nanos()) };
    if fds.is_empty() {
        std::thread::sleep(timeout);
        return false;
    }
    matches!(poll(&mut fds, Some(&t)), Ok(n) if n > 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspare_platform::md_sysfs::Member;

    fn array(degraded: u32, states: &[&str], action: &str, done: Option<(u64, u64)>) -> Snapshot {
        let members = states
            .iter()
            .enumerate()
            .map(|(i, s)| Member {
                name: format!("sd{}", (b'a' + i as u8) as char),
                slot: Some(i as u32),
                state: (*s).into(),
            })
            .collect();
        let a = Array {
            device: "md0".into(),
            level: "raid1".into(),
            array_state: "clean".into(),
            raid_disks: 2,
            degraded,
            sync_action: action.into(),
            sync_completed: done,
            members,
            spares_wanted: None,
        };
        Snapshot { scanned: true, arrays: [("md0".to_string(), a)].into() }
    }

    fn kinds(r: &[Report]) -> Vec<String> {
        r.iter()
            .map(|r| match r {
                Report::Notice(n) => n.kind.clone(),
                Report::Fault { reason, .. } => format!("Fault({})", reason.is_some()),
                Report::Arrays(a) => format!("Arrays({})", a[0].state),
                _ => "?".into(),
            })
            .collect()
    }

    #[test]
    fn degrade_rebuild_fail_and_recover() {
        let mut st = RaidState::default();
        assert_eq!(kinds(&st.look(1, array(0, &["in_sync", "in_sync"], "idle", None))), ["Arrays(ok)"]);
        assert!(st.look(2, array(0, &["in_sync", "in_sync"], "idle", None)).is_empty(), "nothing new");
        let r = st.look(3, array(1, &["in_sync", "faulty"], "idle", None));
        assert_eq!(kinds(&r), ["Fail", "DegradedArray", "Arrays(degraded)"]);
        let Report::Arrays(a) = &r[2] else { unreachable!() };
        assert_eq!((a[0].severity, a[0].members[1].state.as_str()), (Some(Severity::Critical), "faulty"));
        let r = st.look(4, array(1, &["in_sync", "spare"], "recover", Some((50, 100))));
        assert_eq!(kinds(&r), ["RebuildStarted", "Rebuild20", "Rebuild40", "Arrays(degraded)"]);
        let Report::Arrays(a) = &r[3] else { unreachable!() };
        assert_eq!((a[0].severity, a[0].sync_percent), (Some(Severity::Warning), Some(50.0)));
        // Both members gone: failed, the fault stands until the array works again.
        let r = st.look(5, array(2, &["faulty", "faulty"], "idle", None));
        assert_eq!(
            kinds(&r),
            ["Fail", "FailSpare", "DegradedArray", "RebuildFinished", "Arrays(failed)", "Fault(true)"]
        );
        let Report::Fault { reason, .. } = &r[5] else { unreachable!() };
        assert_eq!(reason.as_deref(), Some("RAID md0 failed (raid1, 2 of 2 members missing)"));
        let r = st.look(6, array(0, &["in_sync", "in_sync"], "idle", None));
        assert_eq!(kinds(&r), ["Arrays(ok)", "Fault(false)"]);
    }

    #[test]
    fn config_values() {
        let c = RawRaid { interval_ms: Some(100), ..RawRaid::default() }.into_config().unwrap();
        assert_eq!(c.interval, Duration::from_millis(100));
        let e = RawRaid { interval_s: 0, ..RawRaid::default() }.into_config().unwrap_err();
        assert_eq!(e.0, "raid.interval_s");
        let e = RawRaid { auto_add: "always".into(), ..RawRaid::default() }.into_config().unwrap_err();
        assert_eq!(e.0, "raid.auto_add");
        let c = RawRaid { auto_add: "spare-same-slot".into(), ..RawRaid::default() }.into_config().unwrap();
        assert_eq!(c.auto_add, AutoAdd::SpareSameSlot);
    }

    #[test]
    fn waiting_on_regular_files_times_out() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("array_state"), "clean\n").unwrap();
        let t = std::time::Instant::now();
        assert!(!wait_change(&[d.path().join("array_state"), d.path().join("gone")], Duration::from_millis(50)));
        assert!(t.elapsed() >= Duration::from_millis(50));
    }
}
