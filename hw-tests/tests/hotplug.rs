//! A bay disk hot-unplugged and plugged in again, in the appliance image booted in QEMU:
//! the bays are scsi-hd disks on virtio-scsi (QEMU's AHCI disks cannot be unplugged), slot A
//! carries a `bays.toml` naming their SCSI targets. The supervisor's bay monitor sees the
//! removal (md0 loses the member), the same disk put back is not new (and, the policy
//! being `spare-same-slot`, not added), a blank disk with a new serial is a "new disk" that
//! is added to md0, which rebuilds and is in sync with two members again.
//! Needs the image (`scripts/build-image`; `scripts/test` builds it).

use std::process::Command;
use std::time::{Duration, Instant};

use hotspare_api::health::{ArrayHealth, BayHealth, HealthReport, Severity};
use hotspare_hw_tests::appliance::{
    disk_with_changed_slot, run_tool, skip_reason, Appliance, BayKind, Options, VIRTIO_SCSI_BAYS_TOML,
};

/// Power-on to ready (first boot makes the RAID); × HW_TIMEOUT_FACTOR.
const BOOT: Duration = Duration::from_secs(180);
const HEALTH: Duration = Duration::from_secs(90);
/// A 2 GiB RAID1 member rebuilt over TCG on a loaded 2-core machine.
const REBUILD: Duration = Duration::from_secs(600);

fn array(h: &HealthReport) -> Option<&ArrayHealth> {
    h.arrays.iter().find(|a| a.device == "md0")
}

fn bay<'a>(h: &'a HealthReport, name: &str) -> Option<&'a BayHealth> {
    h.bays.iter().find(|b| b.bay == name)
}

/// md0 with both members in sync and nothing to rebuild.
fn in_sync(h: &HealthReport) -> bool {
    array(h).is_some_and(|a| {
        a.degraded == 0
            && a.members.len() == 2
            && a.members.iter().all(|m| m.state.contains("in_sync"))
            && matches!(a.sync_action.as_str(), "idle" | "")
    })
}

/// Notices of `kind` from the bay monitor that name `what`.
fn notices<'a>(h: &'a HealthReport, kind: &str, what: &str) -> Vec<&'a str> {
    h.notices.iter().filter(|n| n.kind == kind && n.text.contains(what)).map(|n| n.text.as_str()).collect()
}

#[test]
fn a_pulled_bay_disk_is_seen_gone_and_a_new_one_is_added_and_rebuilt() {
    if let Some(r) = skip_reason() {
        eprintln!("SKIPPED: {r}");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let disk = disk_with_changed_slot(scratch.path(), "root-a", |root| {
        std::fs::write(root.join("etc/hotspare/board/bays.toml"), VIRTIO_SCSI_BAYS_TOML).unwrap();
    });
    let mut vm = Appliance::boot(&Options { disk: Some(disk), bays: BayKind::VirtioScsi, ..Options::default() });
    let (_, took) = vm.wait_ready(BOOT);
    eprintln!("ready {:.1} s after power-on", took.as_secs_f64());
    let h = vm.wait_health("md0 in sync, both bays holding their disks", HEALTH, |h| {
        in_sync(h) && ["bay1", "bay2"].iter().all(|b| bay(h, b).is_some_and(|b| b.present))
    });
    let b2 = bay(&h, "bay2").unwrap().clone();
    assert_eq!(bay(&h, "bay1").map(|b| b.device.as_str()), Some("sda"), "{:?}", h.bays);
    assert_eq!(b2.device, "sdb", "{:?}", h.bays);
    assert!(b2.serial.contains("HSBAY0002"), "the disk's own serial: {b2:?}");
    assert!(!b2.new, "a disk found on the first start is not new: {b2:?}");

    // bay2's disk pulled: the bay empty (a member missing), md0 running on sda alone
    let pulled = Instant::now();
    vm.unplug_bay("bay2");
    let h = vm.wait_health("bay2 empty and md0 degraded without sdb", HEALTH, |h| {
        bay(h, "bay2").is_some_and(|b| !b.present && b.severity == Some(Severity::Warning))
            && array(h).is_some_and(|a| a.degraded == 1 && a.members.iter().all(|m| m.device == "sda"))
    });
    assert_eq!(notices(&h, "DiskRemoved", "bay2").len(), 1, "{:#?}", h.notices);
    // md learns of a gone disk only from a failed I/O, and keeps it listed even then: the bay
    // monitor fails and removes the member (mdadm --incremental --fail, as udev would)
    let detached = notices(&h, "DetachedRemoved", "md0: sdb failed and removed");
    assert_eq!(detached.len(), 1, "{:#?}", h.notices);
    eprintln!("pulled, seen in {:.1} s: {detached:?}", pulled.elapsed().as_secs_f64());

    // the same disk put back: known to the bay (not new), so spare-same-slot leaves it alone
    let old = vm.dir.path().join("bay2.qcow2");
    vm.plug_bay("bay2", &old, "HSBAY0002", "bay2-back");
    let h = vm.wait_health("bay2 holding its old disk again", HEALTH, |h| {
        bay(h, "bay2").is_some_and(|b| b.present && b.serial == b2.serial)
    });
    let back = bay(&h, "bay2").unwrap();
    assert!(!back.new, "the disk the bay held before is not new: {back:?}");
    assert_eq!(notices(&h, "DiskAdded", "bay2").len(), 1, "{:#?}", h.notices);
    assert!(notices(&h, "NewDisk", "bay2").is_empty(), "{:#?}", h.notices);
    assert!(h.notices.iter().all(|n| n.kind != "AutoAdd"), "{:#?}", h.notices);
    assert_eq!(array(&h).map(|a| a.degraded), Some(1), "not added by the policy: {:?}", h.arrays);

    // pulled again, and a blank disk with a serial never seen put in its place
    vm.unplug_bay("bay2");
    vm.wait_health("bay2 empty again", HEALTH, |h| bay(h, "bay2").is_some_and(|b| !b.present));
    let blank = vm.dir.path().join("bay2-new.qcow2");
    run_tool(Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&blank).arg("2G"));
    let plugged = Instant::now();
    vm.plug_bay("bay2", &blank, "HSBAY0003", "bay2-new");
    let h = vm.wait_health("a new disk in bay2, added to md0", HEALTH, |h| {
        bay(h, "bay2").is_some_and(|b| b.present && b.new && b.serial.contains("HSBAY0003"))
            && array(h).is_some_and(|a| a.members.len() == 2)
    });
    let new = bay(&h, "bay2").unwrap().device.clone();
    assert_eq!(notices(&h, "NewDisk", "bay2").len(), 1, "{:#?}", h.notices);
    let added = notices(&h, "AutoAdd", &new);
    assert!(added.iter().any(|t| t.contains("added as spare")), "{:#?}", h.notices);
    eprintln!("new disk, added {:.1} s after the plug: {added:?}", plugged.elapsed().as_secs_f64());

    // md0 rebuilds onto it (recover) and is in sync with both members
    let h = vm.wait_health("md0 in sync with sda and the new disk", REBUILD, |h| {
        in_sync(h) && array(h).is_some_and(|a| a.members.iter().any(|m| m.device == new))
    });
    assert_eq!(notices(&h, "RebuildStarted", "md0: recover").len(), 1, "{:#?}", h.notices);
    assert_eq!(notices(&h, "RebuildFinished", "md0: recover").len(), 1, "{:#?}", h.notices);
    assert_eq!(bay(&h, "bay2").map(|b| b.severity), Some(None), "{:?}", h.bays);
    assert_eq!(array(&h).and_then(|a| a.severity), None, "{:?}", h.arrays);
    let mdstat = vm.shell_ok("cat /proc/mdstat", Duration::from_secs(60)).join("\n");
    assert!(mdstat.contains("[UU]"), "{mdstat}");
    eprintln!("md0 in sync {:.1} s after the plug (2 GiB rebuilt)", plugged.elapsed().as_secs_f64());
}
