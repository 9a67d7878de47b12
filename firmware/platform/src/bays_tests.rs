use super::*;
use crate::md_sysfs::{Array, Member};

const ATA1: &str = "/devices/pci0000:00/0000:00:02.0/ata1/host0/target0:0:0/0:0:0:0/block/sda";
const ATA2: &str = "/devices/pci0000:00/0000:00:02.0/ata2/host1/target1:0:0/1:0:0:0/block/sdb";

fn bays() -> Vec<Bay> {
    vec![
        Bay { name: "bay1".into(), path: "/devices/*/ata1/*".into() },
        Bay { name: "bay2".into(), path: "/devices/*/ata2/*".into() },
    ]
}

fn disk(dev: &str, devpath: &str, serial: &str) -> Disk {
    Disk { device: dev.into(), devpath: devpath.into(), serial: serial.into() }
}

fn md0(states: &[(&str, &str)], degraded: u32) -> Snapshot {
    let members = states.iter().map(|(n, s)| Member { name: (*n).into(), slot: None, state: (*s).into() }).collect();
    let a = Array {
        device: "md0".into(),
        level: "raid1".into(),
        array_state: "clean".into(),
        raid_disks: 2,
        degraded,
        members,
        ..Array::default()
    };
    Snapshot { scanned: true, arrays: [("md0".to_string(), a)].into() }
}

#[test]
fn globs_and_bays() {
    assert!(glob("/devices/*/ata1/*", ATA1));
    assert!(!glob("/devices/*/ata1/*", ATA2));
    assert!(glob("a?c", "abc") && !glob("a?c", "abbc") && glob("*", "") && glob("a*b*c", "axxbyyc"));
    assert!(!glob("a*b", "a/c"));
    // A `*` in the subject is matched by the wildcard, not only as a literal (found by the
    // kernel_text fuzz target).
    assert!(glob("*", "*i/sda") && glob("a*", "a*b") && glob("/devices/*?ata1", "/devices/*?ata1"));
    assert_eq!(bay_of(&bays(), ATA2).map(|b| b.name.as_str()), Some("bay2"));
    assert!(bay_of(&bays(), "/devices/virtual/block/loop0").is_none());
    let occ = occupancy(&bays(), &[disk("sda", ATA1, "A"), disk("loop0", "/devices/virtual/block/loop0", "loop0")]);
    assert_eq!(occ.keys().collect::<Vec<_>>(), ["bay1"]);
}

#[test]
fn first_start_records_then_a_replaced_disk_is_new() {
    let mut h = History::default();
    let two = occupancy(&bays(), &[disk("sda", ATA1, "A"), disk("sdb", ATA2, "B")]);
    assert!(diff(None, &two, &mut h, true).is_empty(), "the first start records silently");
    assert!(diff(None, &two, &mut h.clone(), false).is_empty(), "a restart: the same disks say nothing");
    assert_eq!(h.serials["bay2"], BTreeSet::from(["B".to_string()]));
    let one = occupancy(&bays(), &[disk("sda", ATA1, "A")]);
    let ev = diff(Some(&two), &one, &mut h, false);
    assert_eq!(ev, [BayEvent::Removed { bay: "bay2".into(), device: "sdb".into(), serial: "B".into() }]);
    // The same disk back: added, not new.
    let ev = diff(Some(&one), &two, &mut h, false);
    assert_eq!(ev, [BayEvent::Added { bay: "bay2".into(), device: "sdb".into(), serial: "B".into(), new: false }]);
    // Another disk in bay2: new (also when swapped between two looks, without an empty bay).
    let swapped = occupancy(&bays(), &[disk("sda", ATA1, "A"), disk("sdc", ATA2, "C")]);
    let ev = diff(Some(&two), &swapped, &mut h, false);
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[1], BayEvent::Added { bay: "bay2".into(), device: "sdc".into(), serial: "C".into(), new: true });
    // A disk moved from bay2 to bay1 is new to bay1 (the serial history is per bay).
    let moved = occupancy(&bays(), &[disk("sda", ATA1, "C")]);
    let ev = diff(Some(&one), &moved, &mut h, false);
    assert!(ev.contains(&BayEvent::Added { bay: "bay1".into(), device: "sda".into(), serial: "C".into(), new: true }));
    // Restarted with the history: a disk put in while the box was off is found new.
    let mut h2 = h.clone();
    let d = occupancy(&bays(), &[disk("sda", ATA1, "D")]);
    let ev = diff(None, &d, &mut h2, false);
    assert_eq!(ev, [BayEvent::Added { bay: "bay1".into(), device: "sda".into(), serial: "D".into(), new: true }]);
}

#[test]
fn spare_same_slot() {
    let mut h = History::default();
    let occ = occupancy(&bays(), &[disk("sda", ATA1, "A"), disk("sdb", ATA2, "B")]);
    remember_arrays(&occ, &md0(&[("sda1", "in_sync"), ("sdb1", "in_sync")], 0), &mut h);
    assert_eq!(h.arrays.get("bay2").map(String::as_str), Some("md0"));
    let degraded = md0(&[("sda1", "in_sync")], 1);
    let new = BayEvent::Added { bay: "bay2".into(), device: "sdc".into(), serial: "C".into(), new: true };
    assert_eq!(auto_add(AutoAdd::SpareSameSlot, &new, &degraded, &h), Some(("md0".into(), "sdc".into())));
    assert_eq!(auto_add(AutoAdd::Off, &new, &degraded, &h), None);
    let old = BayEvent::Added { bay: "bay2".into(), device: "sdc".into(), serial: "C".into(), new: false };
    assert_eq!(auto_add(AutoAdd::SpareSameSlot, &old, &degraded, &h), None, "a known disk is not wiped");
    let clean = md0(&[("sda1", "in_sync"), ("sdb1", "in_sync")], 0);
    assert_eq!(auto_add(AutoAdd::SpareSameSlot, &new, &clean, &h), None, "nothing to repair");
    let already = md0(&[("sda1", "in_sync"), ("sdc", "spare")], 1);
    assert_eq!(auto_add(AutoAdd::SpareSameSlot, &new, &already, &h), None, "already in an array");
    assert!(on_disk("nvme0n1p2", "nvme0n1") && on_disk("sda", "sda") && !on_disk("sdab", "sda"));
}

#[test]
fn a_pulled_disk_leaves_its_members_to_remove() {
    let md = md0(&[("sda1", "in_sync"), ("sdb1", "in_sync"), ("sdb2", "faulty")], 0);
    let gone = BayEvent::Removed { bay: "bay2".into(), device: "sdb".into(), serial: "B".into() };
    let left = [disk("sda", ATA1, "A")];
    let want = [("md0".to_string(), "sdb1".to_string()), ("md0".to_string(), "sdb2".to_string())];
    assert_eq!(detached_members(&gone, &left, &md), want);
    // the disk still there (its serial read differently): its members stay
    let still = [disk("sda", ATA1, "A"), disk("sdb", ATA2, "sdb")];
    assert!(detached_members(&gone, &still, &md).is_empty());
    // a disk in no array, and an added disk: nothing to remove
    let other = BayEvent::Removed { bay: "bay2".into(), device: "sdc".into(), serial: "C".into() };
    assert!(detached_members(&other, &left, &md).is_empty());
    let added = BayEvent::Added { bay: "bay2".into(), device: "sdb".into(), serial: "B".into(), new: false };
    assert!(detached_members(&added, &left, &md).is_empty());
}

#[test]
fn uevents() {
    let dg = b"add@/devices/pci0000:00/0000:00:02.0/ata2/host1/target1:0:0/1:0:0:0/block/sdb\0ACTION=add\0DEVPATH=/devices/pci0000:00/0000:00:02.0/ata2/host1/target1:0:0/1:0:0:0/block/sdb\0SUBSYSTEM=block\0MAJOR=8\0MINOR=16\0DEVNAME=sdb\0DEVTYPE=disk\0DISKSEQ=3\0SEQNUM=1021\0";
    let p = parse_uevent(dg);
    assert_eq!(p["DEVNAME"], "sdb");
    assert!(is_disk_uevent(&p));
    assert_eq!(bay_of(&bays(), &p["DEVPATH"]).unwrap().name, "bay2");
    let part = parse_uevent(b"add@/x/sdb1\0ACTION=add\0SUBSYSTEM=block\0DEVTYPE=partition\0");
    assert!(!is_disk_uevent(&part));
    let bind = parse_uevent(b"bind@/x\0ACTION=bind\0SUBSYSTEM=block\0DEVTYPE=disk\0");
    assert!(!is_disk_uevent(&bind));
}
