//! The bay and hot-plug monitor: which disk is in which bay of the board (`bays.toml` of the
//! board profile), disks removed and added, a **new disk** (a serial the bay never held:
//! notice `NewDisk`, the "HDD replaced" event) and, with `[raid] auto_add =
//! "spare-same-slot"`, `mdadm --add` of a new disk to the degraded array its bay served.
//! It looks every `[raid] interval_s` and at once on a kernel uevent of a disk (libudev
//! monitor on the kernel netlink source, in a thread of its own; the looks in another). The serials each bay held
//! persist in `<state_dir>/bays.json`. Decisions: `hotspare_platform::bays`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;

use hotspare_api::health::{BayHealth, Notice, Severity};
use hotspare_base::config_error::{read, ConfigError, ConfigText};
use hotspare_platform::bays::{self, Bay, BayEvent, Disk, History};
use hotspare_platform::{disk, md_sysfs};
use serde::{Deserialize, Serialize};

use crate::monitor::{Report, ReportTx};
use crate::raid::RaidConfig;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBays {
    bay: Vec<RawBay>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBay {
    name: String,
    path: String,
}

/// Reads the board's `bays.toml` (docs/ref/bays-toml.md).
pub fn load_bays(path: &Path) -> Result<Vec<Bay>, ConfigError> {
    let text = read(path)?;
    let ct = ConfigText::new(path, &text);
    let raw: RawBays = ct.deserialize()?;
    let mut out: Vec<Bay> = Vec::new();
    for (i, b) in raw.bay.into_iter().enumerate() {
        if b.name.is_empty() || out.iter().any(|o| o.name == b.name) {
            return Err(ct.error_for_key(&format!("bay[{i}].name"), "must be a name of its own".into()));
        }
        out.push(Bay { name: b.name, path: b.path });
    }
    Ok(out)
}

/// `bays.json`.
#[derive(Serialize, Deserialize, Default)]
struct SavedHistory {
    serials: BTreeMap<String, BTreeSet<String>>,
    arrays: BTreeMap<String, String>,
}

/// The whole disks under `sys_block` with their device paths (relative to the sysfs root,
/// as in uevents) and serials.
pub fn list_disks(sys_block: &Path) -> Vec<Disk> {
    let root = sys_block.parent().and_then(|p| p.canonicalize().ok());
    let Ok(entries) = std::fs::read_dir(sys_block) else { return Vec::new() };
    let mut out: Vec<Disk> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let device = e.file_name().to_str()?.to_owned();
            let real = e.path().canonicalize().ok()?;
            let devpath = match &root {
                Some(r) => real.strip_prefix(r).ok().map(|p| format!("/{}", p.display()))?,
                None => real.display().to_string(),
            };
            Some(Disk { serial: disk::serial(sys_block, &device), device, devpath })
        })
        .collect();
    out.sort_by(|a, b| a.device.cmp(&b.device));
    out
}

/// What the monitor remembers.
struct Hotplug {
    cfg: RaidConfig,
    bays: Vec<Bay>,
    history: History,
    history_path: PathBuf,
    first_ever: bool,
    prev: Option<BTreeMap<String, Disk>>,
    /// Serials found new during this run, per bay.
    new: BTreeMap<String, String>,
    last_report: Option<Vec<BayHealth>>,
}

impl Hotplug {
    fn look(&mut self, at_us: i64) -> Vec<Report> {
        let disks = list_disks(&self.cfg.sys_block);
        let occ = bays::occupancy(&self.bays, &disks);
        let md = md_sysfs::read(&self.cfg.sys_block);
        let before = (self.history.serials.clone(), self.history.arrays.clone());
        let events = bays::diff(self.prev.as_ref(), &occ, &mut self.history, self.first_ever);
        self.first_ever = false;
        let mut out = Vec::new();
        let notice = |severity, kind: &str, text: String| {
            Report::Notice(Notice { at_us, severity, source: "hotplug".into(), kind: kind.into(), text })
        };
        for ev in &events {
            match ev {
                BayEvent::Removed { bay, device, serial } => {
                    self.new.remove(bay);
                    out.push(notice(
                        Severity::Warning,
                        "DiskRemoved",
                        format!("{bay}: disk {device} ({serial}) removed"),
                    ));
                    for (array, member) in bays::detached_members(ev, &disks, &md) {
                        let args = ["--incremental", "--fail", member.as_str()];
                        let done = format!("{array}: {member} failed and removed ({bay}'s disk is gone)");
                        out.push(self.mdadm(at_us, &args, "DetachedRemoved", done));
                    }
                }
                BayEvent::Added { bay, device, serial, new } => {
                    if *new {
                        self.new.insert(bay.clone(), serial.clone());
                        out.push(notice(Severity::Info, "NewDisk", format!("{bay}: new disk {device} ({serial})")));
                    } else {
                        out.push(notice(Severity::Info, "DiskAdded", format!("{bay}: disk {device} ({serial}) added")));
                    }
                    if let Some((array, dev)) = bays::auto_add(self.cfg.auto_add, ev, &md, &self.history) {
                        let done = format!("{array}: {dev} added as spare");
                        let args = ["--add", &format!("/dev/{array}"), &format!("/dev/{dev}")];
                        out.push(self.mdadm(at_us, &args, "AutoAdd", done));
                    }
                }
            }
        }
        bays::remember_arrays(&occ, &md, &mut self.history);
        if before != (self.history.serials.clone(), self.history.arrays.clone()) {
            self.save();
        }
        let health: Vec<BayHealth> = self
            .bays
            .iter()
            .map(|b| {
                let d = occ.get(&b.name);
                // An empty bay whose disk served an array: a member is missing.
                let missing = d.is_none() && self.history.arrays.contains_key(&b.name);
                BayHealth {
                    bay: b.name.clone(),
                    severity: missing.then_some(Severity::Warning),
                    device: d.map(|d| d.device.clone()).unwrap_or_default(),
                    serial: d.map(|d| d.serial.clone()).unwrap_or_default(),
                    present: d.is_some(),
                    new: d.is_some_and(|d| self.new.get(&b.name) == Some(&d.serial)),
                }
            })
            .collect();
        if self.last_report.as_ref() != Some(&health) {
            out.push(Report::Bays(health.clone()));
            self.last_report = Some(health);
        }
        self.prev = Some(occ);
        out
    }

    /// Runs `<mdadm> args`: a notice of `kind` saying `done` (and the command), or why it
    /// failed.
    fn mdadm(&self, at_us: i64, args: &[&str], kind: &str, done: String) -> Report {
        let argv = format!("{} {}", self.cfg.mdadm.join(" "), args.join(" "));
        let r = match self.cfg.mdadm.split_first() {
            Some((program, pre)) => std::process::Command::new(program).args(pre).args(args).output(),
            None => Err(std::io::Error::other("no [raid] mdadm command")),
        };
        let (severity, text) = match r {
            Ok(o) if o.status.success() => (Severity::Info, format!("{done} ({argv})")),
            Ok(o) => {
                let err = String::from_utf8_lossy(&o.stderr).trim().to_owned();
                (Severity::Warning, format!("{argv} failed: {}: {err}", o.status))
            }
            Err(e) => (Severity::Warning, format!("{argv} failed: {e}")),
        };
        Report::Notice(Notice { at_us, severity, source: "hotplug".into(), kind: kind.into(), text })
    }

    fn save(&self) {
        let saved = SavedHistory { serials: self.history.serials.clone(), arrays: self.history.arrays.clone() };
        let written = serde_json::to_vec_pretty(&saved)
            .map_err(|e| e.to_string())
            .and_then(|j| hotspare_base::fs::write_atomic(&self.history_path, &j, 0o644).map_err(|e| e.to_string()));
        if let Err(e) = written {
            log::error!("bay history {}: {e}", self.history_path.display());
        }
    }
}

impl Hotplug {
    /// The monitor with the bay history kept in `history_path` (none yet: the first start
    /// ever, whose disks are all remembered and none is new).
    fn new(cfg: RaidConfig, bays: Vec<Bay>, history_path: PathBuf) -> Hotplug {
        let saved: Option<SavedHistory> = std::fs::read(&history_path)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| log::error!("{}: {e}", history_path.display())).ok());
        let first_ever = saved.is_none();
        let saved = saved.unwrap_or_default();
        Hotplug {
            cfg,
            bays,
            history: History { serials: saved.serials, arrays: saved.arrays },
            history_path,
            first_ever,
            prev: None,
            new: BTreeMap::new(),
            last_report: None,
        }
    }
}

/// Starts the monitor (if `cfg.bays` names a readable bays file).
pub fn spawn(cfg: &RaidConfig, state_dir: &Path, tx: ReportTx) {
    let Some(path) = cfg.bays.as_deref() else { return };
    let bays = match load_bays(path) {
        Ok(b) => b,
        Err(e) => return log::error!("{e}: no bay monitor"),
    };
    let mut h = Hotplug::new(cfg.clone(), bays, state_dir.join("bays.json"));
    let (wake_tx, wake) = mpsc::channel::<()>();
    if cfg.uevents {
        let started = std::thread::Builder::new().name("uevents".into()).spawn(move || {
            if let Err(e) = uevents(&wake_tx) {
                log::warn!("disk uevents: {e}: looking at the bays every interval only");
            }
        });
        if let Err(e) = started {
            log::warn!("disk uevents: {e}: looking at the bays every interval only");
        }
    }
    // A thread of its own: sysfs reads and mdadm block, and a thread does not hold up the
    // runtime's end at shutdown.
    let run = move || loop {
        for r in h.look(hotspare_base::clock::now_us()) {
            if tx.send(r).is_err() {
                return;
            }
        }
        if wake.recv_timeout(h.cfg.interval).is_ok() {
            // A replaced disk comes as several uevents: let them settle, then look once.
            std::thread::sleep(std::time::Duration::from_millis(300));
            while wake.try_recv().is_ok() {}
        }
    };
    if let Err(e) = std::thread::Builder::new().name("hotplug".into()).spawn(run) {
        log::error!("bay monitor: {e}");
    }
}

/// Blocks forever sending a wake-up per disk uevent (add, remove, change of a whole disk).
pub fn uevents(wake: &mpsc::Sender<()>) -> std::io::Result<()> {
    use rustix::event::{poll, PollFd, PollFlags};
    let socket = udev::MonitorBuilder::new_kernel()?.match_subsystem_devtype("block", "disk")?.listen()?;
    loop {
        let mut fds = [PollFd::new(&socket, PollFlags::IN)];
        poll(&mut fds, None)?;
        for ev in socket.iter() {
            let props: BTreeMap<String, String> = ev
                .properties()
                .map(|p| (p.name().to_string_lossy().into_owned(), p.value().to_string_lossy().into_owned()))
                .collect();
            if bays::is_disk_uevent(&props) && wake.send(()).is_err() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
#[path = "hotplug_tests.rs"]
mod tests;
