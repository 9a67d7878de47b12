//! A snapshot of the md arrays as the kernel shows them in sysfs
//! (`/sys/block/mdX/md/{array_state,level,raid_disks,degraded,sync_action,sync_completed}`
//! and `dev-*/{state,slot}`, Documentation/admin-guide/md.rst), and the verdict on each
//! array. Reading is forgiving: a missing or unreadable attribute reads as empty (an array
//! being stopped vanishes piece by piece). The diff into events is [`crate::md_events`].

use std::collections::BTreeMap;
use std::path::Path;

/// One member device (`dev-<name>` directory).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Member {
    /// e.g. `sdb` or `sdb1`.
    pub name: String,
    /// `slot`: the role in the array; `None` for `none` (a spare or a faulty device).
    pub slot: Option<u32>,
    /// `state` as the kernel prints it, e.g. `in_sync`, `faulty`, `spare`, `in_sync,write_error`.
    pub state: String,
}

impl Member {
    fn flag(&self, f: &str) -> bool {
        self.state.split(',').any(|s| s.trim() == f)
    }
    pub fn faulty(&self) -> bool {
        self.flag("faulty")
    }
    pub fn in_sync(&self) -> bool {
        self.flag("in_sync")
    }
}

/// One md array.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Array {
    /// e.g. `md0`.
    pub device: String,
    /// e.g. `raid1`; empty for an inactive array.
    pub level: String,
    /// `clear`, `inactive`, `suspended`, `readonly`, `read-auto`, `clean`, `active`,
    /// `write-pending`, `active-idle`, `broken`.
    pub array_state: String,
    pub raid_disks: u32,
    pub degraded: u32,
    /// `idle`, `resync`, `recover`, `check`, `repair`, `reshape`, `frozen`; empty if absent.
    pub sync_action: String,
    /// `sync_completed` as `(done, total)` sectors; `None` for `none`/`delayed`/absent.
    pub sync_completed: Option<(u64, u64)>,
    pub members: Vec<Member>,
    /// Spares the configuration wants (mdadm's `spares=`); `None`: no opinion.
    pub spares_wanted: Option<u32>,
}

/// The verdict on an array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Ok,
    /// Fewer working members than wanted, data still there.
    Degraded,
    /// Inactive, broken, or more members missing than the level survives.
    Failed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Ok => "ok",
            Verdict::Degraded => "degraded",
            Verdict::Failed => "failed",
        }
    }
}

impl Array {
    /// Members that may be lost without losing data.
    fn redundancy(&self) -> u32 {
        match self.level.as_str() {
            "raid1" => self.raid_disks.saturating_sub(1),
            "raid4" | "raid5" | "raid10" => 1,
            "raid6" => 2,
            _ => 0,
        }
    }

    pub fn verdict(&self) -> Verdict {
        if matches!(self.array_state.as_str(), "inactive" | "clear" | "broken" | "") {
            return Verdict::Failed;
        }
        let faulty = self.members.iter().filter(|m| m.faulty()).count() as u32;
        if self.degraded > self.redundancy() || (self.redundancy() == 0 && faulty > 0) {
            return Verdict::Failed;
        }
        if !self.members.is_empty() && self.members.iter().all(|m| m.faulty()) {
            return Verdict::Failed;
        }
        if self.degraded > 0 {
            Verdict::Degraded
        } else {
            Verdict::Ok
        }
    }

    /// A sync action runs (anything but `idle`/`frozen`/absent).
    pub fn syncing(&self) -> bool {
        !matches!(self.sync_action.as_str(), "idle" | "frozen" | "")
    }

    /// Progress of the running sync action in percent (0..=100).
    pub fn sync_percent(&self) -> Option<f32> {
        let (done, total) = self.sync_completed.filter(|_| self.syncing())?;
        if total == 0 {
            return None;
        }
        Some((done.min(total) as f64 * 100.0 / total as f64) as f32)
    }

    /// Members that are neither faulty nor in sync and have no slot: spares.
    pub fn spares(&self) -> u32 {
        self.members.iter().filter(|m| !m.faulty() && !m.in_sync() && m.slot.is_none()).count() as u32
    }
}

/// All md arrays at one moment. `scanned == false` is "nothing seen yet" (the first diff
/// reports only the states found, not NewArray).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    pub scanned: bool,
    pub arrays: BTreeMap<String, Array>,
}

fn attr(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).map(|s| s.trim().to_owned()).unwrap_or_default()
}

/// `sync_completed`: `"123 / 456"` → `(123, 456)`; `none`, `delayed` → `None`.
pub fn parse_sync_completed(s: &str) -> Option<(u64, u64)> {
    let (a, b) = s.split_once('/')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Reads the array `md` under `sys_block` (`/sys/block`); `None` if it has no `md` directory.
pub fn read_array(sys_block: &Path, md: &str) -> Option<Array> {
    let dir = sys_block.join(md).join("md");
    let entries = std::fs::read_dir(&dir).ok()?;
    let mut members: Vec<Member> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.strip_prefix("dev-")?.to_owned();
            let d = e.path();
            Some(Member { slot: attr(&d, "slot").parse().ok(), state: attr(&d, "state"), name })
        })
        .collect();
    members.sort_by(|a, b| a.name.cmp(&b.name));
    Some(Array {
        device: md.to_owned(),
        level: attr(&dir, "level"),
        array_state: attr(&dir, "array_state"),
        raid_disks: attr(&dir, "raid_disks").parse().unwrap_or(0),
        degraded: attr(&dir, "degraded").parse().unwrap_or(0),
        sync_action: attr(&dir, "sync_action"),
        sync_completed: parse_sync_completed(&attr(&dir, "sync_completed")),
        members,
        spares_wanted: None,
    })
}

/// Every `md*` block device under `sys_block` with an `md` directory.
pub fn read(sys_block: &Path) -> Snapshot {
    let mut arrays = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(sys_block) {
        for e in entries.filter_map(|e| e.ok()) {
            let Some(name) = e.file_name().to_str().map(str::to_owned) else { continue };
            if !name.starts_with("md") {
                continue;
            }
            if let Some(a) = read_array(sys_block, &name) {
                arrays.insert(name, a);
            }
        }
    }
    Snapshot { scanned: true, arrays }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn testdata(state: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/md").join(state).join("sys/block")
    }

    fn mdstat(state: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/md").join(state).join("mdstat");
        std::fs::read_to_string(p).unwrap()
    }

    #[test]
    fn clean() {
        let s = read(&testdata("clean"));
        let a = &s.arrays["md0"];
        assert_eq!((a.level.as_str(), a.array_state.as_str(), a.raid_disks, a.degraded), ("raid1", "clean", 2, 0));
        assert_eq!(a.members.len(), 2);
        assert!(a.members.iter().all(|m| m.in_sync() && !m.faulty()));
        assert_eq!(a.members[1].slot, Some(1));
        assert_eq!((a.verdict(), a.syncing(), a.sync_percent(), a.spares()), (Verdict::Ok, false, None, 0));
        assert_eq!(crate::mdstat::parse(&mdstat("clean"), "md0").unwrap().state(), crate::mdstat::ArrayState::Ok);
    }

    #[test]
    fn degraded() {
        let a = read(&testdata("degraded")).arrays.remove("md0").unwrap();
        assert_eq!(a.verdict(), Verdict::Degraded);
        let sdb = a.members.iter().find(|m| m.name == "sdb").unwrap();
        assert!(sdb.faulty() && sdb.slot.is_none(), "{sdb:?}");
        let md = crate::mdstat::parse(&mdstat("degraded"), "md0").unwrap();
        assert_eq!((md.state(), md.members_text()), (crate::mdstat::ArrayState::Degraded, "[2/1] [U_]".into()));
    }

    #[test]
    fn recovering_with_progress() {
        let a = read(&testdata("recovering")).arrays.remove("md0").unwrap();
        assert_eq!((a.verdict(), a.sync_action.as_str()), (Verdict::Degraded, "recover"));
        let pct = a.sync_percent().unwrap();
        assert!((pct - 42.0).abs() < 0.1, "{pct}");
        let sdc = a.members.iter().find(|m| m.name == "sdc").unwrap();
        assert_eq!((sdc.state.as_str(), sdc.slot), ("spare", Some(1)));
        assert_eq!(a.spares(), 0, "a rebuilding member has a slot: not a spare");
        let md = crate::mdstat::parse(&mdstat("recovering"), "md0").unwrap();
        assert_eq!(md.sync.as_deref(), Some("recovery = 42.0%"));
    }

    #[test]
    fn failed_and_inactive() {
        let a = read(&testdata("failed")).arrays.remove("md0").unwrap();
        assert_eq!((a.degraded, a.verdict()), (2, Verdict::Failed));
        let i = read(&testdata("inactive")).arrays.remove("md0").unwrap();
        assert_eq!((i.array_state.as_str(), i.spares(), i.verdict()), ("inactive", 2, Verdict::Failed));
        assert_eq!(
            crate::mdstat::parse(&mdstat("inactive"), "md0").unwrap().state(),
            crate::mdstat::ArrayState::Failed
        );
    }

    #[test]
    fn levels_and_values() {
        let mut a = Array {
            level: "raid5".into(),
            array_state: "active".into(),
            raid_disks: 4,
            degraded: 1,
            ..Array::default()
        };
        assert_eq!(a.verdict(), Verdict::Degraded);
        a.degraded = 2;
        assert_eq!(a.verdict(), Verdict::Failed);
        a.level = "raid6".into();
        assert_eq!(a.verdict(), Verdict::Degraded);
        a.level = "raid0".into();
        a.degraded = 0;
        a.members = vec![Member { name: "sda".into(), slot: Some(0), state: "faulty".into() }];
        assert_eq!(a.verdict(), Verdict::Failed);
        assert_eq!(parse_sync_completed("1024 / 2048"), Some((1024, 2048)));
        assert_eq!(parse_sync_completed("none"), None);
        assert_eq!(parse_sync_completed("delayed"), None);
        assert!(read(Path::new("/nonexistent")).arrays.is_empty());
    }
}
