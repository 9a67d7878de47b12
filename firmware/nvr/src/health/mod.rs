//! Storage health of the NVR: the write probe of the recording volume plus
//! the RAID state from mdstat ([`hotspare_platform`] reads both), combined
//! into the verdict [`hotspare_api::StorageStatus`]. Checked every 2 s by
//! the API process and on demand when older than that.

use hotspare_api::{Disk, DiskState, RaidStatus, StorageStatus};
use hotspare_platform::disk;
use hotspare_platform::mdstat::{self, ArrayState};
use hotspare_platform::volume::{probe, Probe};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A check older than this is redone before it is reported.
pub const MAX_AGE: Duration = Duration::from_secs(2);
/// A probe that does not finish in this long counts as a failed volume.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// RAID settings: the array to watch and where mdstat is.
#[derive(Clone, Debug)]
pub struct RaidSource {
    pub device: String,
    pub mdstat: PathBuf,
    /// `/sys/block` (tests may point elsewhere).
    pub sys_block: PathBuf,
}

fn disk_state(s: ArrayState) -> DiskState {
    match s {
        ArrayState::Ok => DiskState::Ok,
        ArrayState::Degraded => DiskState::Degraded,
        ArrayState::Failed => DiskState::Failed,
    }
}

fn worst(a: DiskState, b: DiskState) -> DiskState {
    let rank = |s| match s {
        DiskState::Ok => 0,
        DiskState::Degraded => 1,
        DiskState::Failed => 2,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// RAID part of the status: (raid, disks, detail when not ok).
pub fn raid_status(src: &RaidSource) -> (RaidStatus, Vec<Disk>, String) {
    let text = match std::fs::read_to_string(&src.mdstat) {
        Ok(t) => t,
        Err(e) => {
            let detail = format!("{}: cannot read: {e}", src.mdstat.display());
            let raid = RaidStatus { device: src.device.clone(), state: DiskState::Failed, members: String::new() };
            return (raid, Vec::new(), detail);
        }
    };
    let Some(arr) = mdstat::parse(&text, &src.device) else {
        let detail = format!("RAID {} not found in {}", src.device, src.mdstat.display());
        let raid = RaidStatus { device: src.device.clone(), state: DiskState::Failed, members: String::new() };
        return (raid, Vec::new(), detail);
    };
    let state = disk_state(arr.state());
    let disks: Vec<Disk> = arr
        .members
        .iter()
        .map(|(name, faulty)| Disk {
            name: name.clone(),
            serial: disk::serial(&src.sys_block, name),
            state: if *faulty || !arr.active { DiskState::Failed } else { DiskState::Ok },
        })
        .collect();
    let detail = match state {
        DiskState::Ok => String::new(),
        _ => {
            let faulty: Vec<&str> = arr.members.iter().filter(|(_, f)| *f).map(|(n, _)| n.as_str()).collect();
            let mut d = format!(
                "RAID {} {} {}",
                src.device,
                if arr.active { "active" } else { "inactive" },
                arr.members_text()
            );
            if !faulty.is_empty() {
                d.push_str(&format!(", faulty: {}", faulty.join(" ")));
            }
            if let Some(s) = &arr.sync {
                d.push_str(&format!(", {s}"));
            }
            d
        }
    };
    (RaidStatus { device: src.device.clone(), state, members: arr.members_text() }, disks, detail)
}

/// One full check.
pub fn check(dir: &Path, raid: Option<&RaidSource>) -> StorageStatus {
    let p = probe(dir);
    combine(p, raid.map(raid_status))
}

fn combine(p: Probe, raid: Option<(RaidStatus, Vec<Disk>, String)>) -> StorageStatus {
    let mut state = if p.writable { DiskState::Ok } else { DiskState::Failed };
    let mut details = Vec::new();
    if !p.detail.is_empty() {
        details.push(p.detail);
    }
    let (raid, disks) = match raid {
        Some((r, disks, detail)) => {
            state = worst(state, r.state);
            if !detail.is_empty() {
                details.push(detail);
            }
            (Some(r), disks)
        }
        None => (None, Vec::new()),
    };
    StorageStatus {
        state,
        writable: p.writable,
        detail: details.join("; "),
        raid,
        disk_generation: disk::generation(disks.iter().map(|d| d.serial.as_str())),
        disks,
    }
}

/// The last check and when it was made; shared by the periodic task and request handlers.
#[derive(Clone)]
pub struct HealthMonitor {
    dir: PathBuf,
    raid: Option<RaidSource>,
    last: Arc<Mutex<Option<(Instant, StorageStatus)>>>,
    /// Only one probe at a time.
    probing: Arc<tokio::sync::Mutex<()>>,
}

impl HealthMonitor {
    pub fn new(dir: PathBuf, raid: Option<RaidSource>) -> HealthMonitor {
        HealthMonitor { dir, raid, last: Arc::default(), probing: Arc::default() }
    }

    /// Runs a check now (off the async threads, bounded by [`PROBE_TIMEOUT`]).
    pub async fn refresh(&self) -> StorageStatus {
        let _one = self.probing.lock().await;
        if let Some(s) = self.fresh() {
            return s;
        }
        let (dir, raid) = (self.dir.clone(), self.raid.clone());
        let task = tokio::task::spawn_blocking(move || check(&dir, raid.as_ref()));
        let status = match tokio::time::timeout(PROBE_TIMEOUT, task).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => self.failed(format!("storage check failed: {e}")),
            Err(_) => self.failed(format!("{}: write probe did not finish in {PROBE_TIMEOUT:?}", self.dir.display())),
        };
        let changed = self.last().map(|l| l.state != status.state || l.detail != status.detail).unwrap_or(true);
        if changed {
            match status.state {
                DiskState::Ok => log::info!("storage ok"),
                _ => log::warn!("storage {:?}: {}", status.state, status.detail),
            }
        }
        *self.last.lock().unwrap_or_else(|p| p.into_inner()) = Some((Instant::now(), status.clone()));
        status
    }

    fn failed(&self, detail: String) -> StorageStatus {
        combine(Probe { writable: false, detail }, None)
    }

    fn last(&self) -> Option<StorageStatus> {
        self.last.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|(_, s)| s.clone())
    }

    fn fresh(&self) -> Option<StorageStatus> {
        let g = self.last.lock().unwrap_or_else(|p| p.into_inner());
        g.as_ref().filter(|(t, _)| t.elapsed() <= MAX_AGE).map(|(_, s)| s.clone())
    }

    /// The last check if it is at most [`MAX_AGE`] old, else a new one.
    pub async fn current(&self) -> StorageStatus {
        match self.fresh() {
            Some(s) => s,
            None => self.refresh().await,
        }
    }

    /// Checks every 2 s until the task is dropped.
    pub fn spawn(&self) -> tokio::task::JoinHandle<()> {
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                me.refresh().await;
                tokio::time::sleep(MAX_AGE).await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raid_from_mdstat_file_and_serials() {
        let d = tempfile::tempdir().unwrap();
        let md = d.path().join("mdstat");
        std::fs::write(&md, "md0 : active raid1 sdb[1](F) sda[0]\n      1046528 blocks super 1.2 [2/1] [U_]\n\n")
            .unwrap();
        let sys = d.path().join("block");
        std::fs::create_dir_all(sys.join("sda/device")).unwrap();
        std::fs::write(sys.join("sda/device/serial"), "WD-123\n").unwrap();
        let src = RaidSource { device: "md0".into(), mdstat: md.clone(), sys_block: sys };
        let s = check(d.path(), Some(&src));
        assert_eq!(s.state, DiskState::Degraded);
        assert!(s.writable);
        assert_eq!(s.raid.as_ref().unwrap().members, "[2/1] [U_]");
        assert_eq!(s.disks[0], Disk { name: "sdb".into(), serial: "sdb".into(), state: DiskState::Failed });
        assert_eq!(s.disks[1].serial, "WD-123");
        assert!(s.detail.contains("faulty: sdb"), "{}", s.detail);
        let g = s.disk_generation.clone();
        std::fs::write(d.path().join("block/sda/device/serial"), "WD-999").unwrap();
        assert_ne!(check(d.path(), Some(&src)).disk_generation, g);
        std::fs::remove_file(&md).unwrap();
        assert_eq!(check(d.path(), Some(&src)).state, DiskState::Failed);
    }
}
