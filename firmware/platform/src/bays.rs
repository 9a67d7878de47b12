//! Disk bays: which bay a disk sits in (the board's sysfs device-path pattern per bay), the
//! serials each bay has held (a disk whose serial the bay never held is a **new disk**: the
//! "HDD replaced" event), the array members a pulled disk leaves behind, and the auto-add
//! decision (mdadm's `POLICY action=spare-same-slot`: a new disk in the bay of a member of a
//! degraded array is added to that array). Pure: the caller lists the disks (sysfs) and
//! persists [`History`].

use std::collections::{BTreeMap, BTreeSet};

use crate::md_sysfs::{Snapshot, Verdict};

/// A bay of the board profile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bay {
    pub name: String,
    /// Glob (`*` any run of characters, `?` one) on the disk's sysfs device path, e.g.
    /// `/devices/pci0000:00/*/ata1/*`.
    pub path: String,
}

/// A disk as sysfs shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Disk {
    /// `sda`.
    pub device: String,
    /// The device path (`/devices/.../block/sda`, `DEVPATH` of its uevent).
    pub devpath: String,
    pub serial: String,
}

/// What each bay held: its serials, and the array its disk last belonged to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    pub serials: BTreeMap<String, BTreeSet<String>>,
    pub arrays: BTreeMap<String, String>,
}

/// What changed in a bay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BayEvent {
    Removed {
        bay: String,
        device: String,
        serial: String,
    },
    /// `new`: the bay never held this serial (a replaced disk).
    Added {
        bay: String,
        device: String,
        serial: String,
        new: bool,
    },
}

/// The `[raid] auto_add` policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AutoAdd {
    Off,
    SpareSameSlot,
}

/// `*`/`?` glob match.
pub fn glob(pattern: &str, s: &str) -> bool {
    let (p, s) = (pattern.as_bytes(), s.as_bytes());
    let (mut pi, mut si) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        // A `*` is a wildcard first, even where the subject holds a `*` too.
        if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, si));
            pi += 1;
        } else if pi < p.len() && (p[pi] == b'?' || p[pi] == s[si]) {
            pi += 1;
            si += 1;
        } else if let Some((sp, ss)) = star {
            pi = sp + 1;
            si = ss + 1;
            star = Some((sp, ss + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

/// The first bay whose pattern matches `devpath`.
pub fn bay_of<'a>(bays: &'a [Bay], devpath: &str) -> Option<&'a Bay> {
    bays.iter().find(|b| glob(&b.path, devpath))
}

/// Which disk is in which bay now (disks in no bay are left out).
pub fn occupancy(bays: &[Bay], disks: &[Disk]) -> BTreeMap<String, Disk> {
    disks.iter().filter_map(|d| Some((bay_of(bays, &d.devpath)?.name.clone(), d.clone()))).collect()
}

/// The bay events from `prev` to `cur` occupancy; records new serials in `history`.
/// `prev == None` is the first look since the supervisor started: only new disks are
/// reported (one put in while the box was off). With `first_ever` (no history at all) the
/// disks found are recorded, none is new.
pub fn diff(
    prev: Option<&BTreeMap<String, Disk>>,
    cur: &BTreeMap<String, Disk>,
    history: &mut History,
    first_ever: bool,
) -> Vec<BayEvent> {
    let mut out = Vec::new();
    for (bay, d) in prev.into_iter().flatten() {
        if cur.get(bay).is_none_or(|c| c.serial != d.serial) {
            out.push(BayEvent::Removed { bay: bay.clone(), device: d.device.clone(), serial: d.serial.clone() });
        }
    }
    for (bay, d) in cur {
        let seen = history.serials.entry(bay.clone()).or_default();
        let new = !first_ever && !seen.contains(&d.serial);
        seen.insert(d.serial.clone());
        let changed = match prev {
            Some(p) => p.get(bay).is_none_or(|p| p.serial != d.serial),
            None => new,
        };
        if changed {
            out.push(BayEvent::Added { bay: bay.clone(), device: d.device.clone(), serial: d.serial.clone(), new });
        }
    }
    out
}

/// The member name (`sda1`) belongs to disk `sda`.
fn on_disk(member: &str, disk: &str) -> bool {
    let rest = match member.strip_prefix(disk) {
        Some(r) => r,
        None => return false,
    };
    let rest = rest.strip_prefix('p').filter(|_| disk.ends_with(|c: char| c.is_ascii_digit())).unwrap_or(rest);
    rest.chars().all(|c| c.is_ascii_digit())
}

/// Records which array each bay's disk is a working member of.
pub fn remember_arrays(occ: &BTreeMap<String, Disk>, md: &Snapshot, history: &mut History) {
    for (bay, d) in occ {
        let array = md.arrays.values().find(|a| a.members.iter().any(|m| !m.faulty() && on_disk(&m.name, &d.device)));
        if let Some(a) = array {
            history.arrays.insert(bay.clone(), a.device.clone());
        }
    }
}

/// spare-same-slot: `(array, device)` to add for a new disk in a bay whose previous disk was
/// a member of an array that is now degraded (and the new disk is in no array yet).
pub fn auto_add(policy: AutoAdd, ev: &BayEvent, md: &Snapshot, history: &History) -> Option<(String, String)> {
    let BayEvent::Added { bay, device, new: true, .. } = ev else { return None };
    if policy == AutoAdd::Off {
        return None;
    }
    let array = md.arrays.get(history.arrays.get(bay)?)?;
    let used = md.arrays.values().any(|a| a.members.iter().any(|m| on_disk(&m.name, device)));
    (array.verdict() == Verdict::Degraded && !used).then(|| (array.device.clone(), device.clone()))
}

/// The array members (`(array, member)`, e.g. `("md0", "sdb")`) that were on the disk of a
/// [`BayEvent::Removed`] which is gone from the system (not in `disks`): md keeps such a
/// member until an I/O fails, so it is failed and removed, as udev's `mdadm -If` does on a
/// hot-unplug. A disk that is still there (its serial read differently) is left alone.
pub fn detached_members(ev: &BayEvent, disks: &[Disk], md: &Snapshot) -> Vec<(String, String)> {
    let BayEvent::Removed { device, .. } = ev else { return Vec::new() };
    if disks.iter().any(|d| &d.device == device) {
        return Vec::new();
    }
    md.arrays
        .values()
        .flat_map(|a| a.members.iter().filter(|m| on_disk(&m.name, device)).map(|m| (a.device.clone(), m.name.clone())))
        .collect()
}

/// A uevent (`KEY=value` properties) that may change the bays: a whole disk of the block
/// subsystem added, removed or changed.
pub fn is_disk_uevent(props: &BTreeMap<String, String>) -> bool {
    let get = |k: &str| props.get(k).map(String::as_str);
    get("SUBSYSTEM") == Some("block")
        && get("DEVTYPE") == Some("disk")
        && matches!(get("ACTION"), Some("add" | "remove" | "change"))
}

/// The properties of a kernel uevent datagram (`action@devpath\0KEY=value\0...`).
pub fn parse_uevent(datagram: &[u8]) -> BTreeMap<String, String> {
    datagram
        .split(|&b| b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok()?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[cfg(test)]
#[path = "bays_tests.rs"]
mod tests;
