//! End to end: situations where the spare must *not* take over: a RAID
//! array that is degraded but still records (fault tolerance doing its
//! job), and an NVR that misses single checks now and then (a flap).

use crate::failover_common::*;
use hotspare_api::DiskState;
use rustix::process::Signal;
use std::time::Duration;

#[test]
fn no_takeover_for_a_degraded_raid_that_records() {
    let mut site = Site::prepare(1, 2);
    let mdstat = site.dir().join("mdstat");
    std::fs::write(
        &mdstat,
        "Personalities : [raid1] \nmd0 : active raid1 sdb[1](F) sda[0]\n      1046528 blocks super 1.2 [2/1] [U_]\n      \nunused devices: <none>\n",
    )
    .unwrap();
    site.nvrs[0].storage_extra = format!("raid_device = \"md0\"\nmdstat = \"{}\"\n", mdstat.display());
    site.start();
    site.wait_healthy();
    let s = site.nvr(0).try_status().unwrap();
    assert_eq!(s.storage.state, DiskState::Degraded, "{:?}", s.storage);
    assert!(s.storage.writable && s.cameras.iter().all(|c| c.recording), "{s:#?}");
    let (checks, misses) = site.watch_no_takeover(0, Duration::from_secs(10));
    eprintln!("degraded RAID: {checks} checks, no takeover");
    assert!(checks >= 8, "only {checks} checks seen in 10 s\n{}", site.dump());
    assert_eq!(misses, 0);
    // Still degraded at the end: the condition held all along.
    let s = site.nvr(0).try_status().unwrap();
    assert_eq!(s.storage.state, DiskState::Degraded);
    assert!(!site.spare_log().contains("TAKEOVER"), "{}", site.spare_log());
}

#[test]
fn no_takeover_for_a_flapping_nvr() {
    let mut site = Site::prepare(1, 2);
    site.start();
    site.wait_healthy();
    let api = site.nvr(0).group.pid();
    // Freeze the NVR's API process (not its recorder) three times, 3 s apart. A check times
    // out after 1 s and starts 1 s after the previous one: a 1.5 s freeze is missed only when
    // it happens to swallow a whole check (about one time in two), so each freeze lasts 2.2 s,
    // which always costs one check (the one starting in the freeze's first second times out
    // before it ends) and at most two, never three in a row.
    let flaps = std::thread::spawn(move || {
        for _ in 0..3 {
            signal_pid(api, Signal::STOP);
            std::thread::sleep(Duration::from_millis(2200));
            signal_pid(api, Signal::CONT);
            std::thread::sleep(Duration::from_millis(3000));
        }
    });
    let (checks, misses) = site.watch_no_takeover(0, Duration::from_secs(17));
    flaps.join().unwrap();
    eprintln!("flapping NVR: {checks} checks, at most {misses} missed in a row, no takeover");
    assert!(misses >= 1, "the freezes were never seen as missed checks\n{}", site.dump());
    assert!(misses < 3, "{misses} misses in a row");
    let v = site.view(0).unwrap();
    assert_eq!((v.phase.as_str(), v.misses), ("watching", 0), "{v:#?}");
    assert!(!site.spare_log().contains("TAKEOVER"), "{}", site.spare_log());
}
