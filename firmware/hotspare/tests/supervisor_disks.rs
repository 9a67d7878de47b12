//! `hotspare supervisor` watching disks as a real process, over a temp sysfs tree the test
//! changes: an md array degrades (Fail + DegradedArray notices in `health.json`, takeovers
//! still allowed: a degraded array records), fails (the `raid` fault: takeovers refused with
//! the reason in `status.json`), is rebuilt (RebuildStarted, Rebuild20..80) and finishes
//! (RebuildFinished, SpareActive, takeovers allowed); a recording volume on a read-only
//! mount cannot record (Volumes report, notice and fault). Each waits for the behaviour
//! with a generous limit, not for a timing.

#[path = "supervisor_common/mod.rs"]
mod supervisor_common;

use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::{Duration, Instant};

struct Sup {
    dir: tempfile::TempDir,
    child: Child,
}

impl Sup {
    fn start(dir: tempfile::TempDir, extra: &str) -> Sup {
        let d = dir.path();
        let config = format!("{}{extra}\n", supervisor_common::config_head(d));
        let child = supervisor_common::start(d, &config);
        Sup { dir, child }
    }

    fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.dir.path().join("state").join(name)).unwrap_or_default()
    }

    fn health(&self) -> serde_json::Value {
        serde_json::from_str(&self.read("health.json")).unwrap_or(serde_json::Value::Null)
    }

    fn notices(&self) -> Vec<String> {
        let h = self.health();
        let Some(n) = h["notices"].as_array() else { return Vec::new() };
        n.iter().map(|n| n["kind"].as_str().unwrap_or_default().to_owned()).collect()
    }

    /// SIGTERM: the supervisor ends at once (the monitors' threads do not hold it up).
    fn stop_promptly(mut self) {
        let pid = rustix::process::Pid::from_raw(self.child.id() as i32).unwrap();
        rustix::process::kill_process(pid, rustix::process::Signal::TERM).unwrap();
        let t = Instant::now();
        while self.child.try_wait().unwrap().is_none() {
            assert!(t.elapsed() < Duration::from_secs(10), "the supervisor did not end");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn takeovers(&self) -> Option<bool> {
        let s: serde_json::Value = serde_json::from_str(&self.read("status.json")).ok()?;
        s["takeovers_allowed"].as_bool()
    }
}

impl Drop for Sup {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Writes the md0 attributes (a raid5 of 3) and its members' `(state, slot)`. `sys/md0` is a
/// symbolic link (as in sysfs) replaced at once: the monitor never sees half a change.
fn md0(sys: &Path, degraded: u32, action: &str, completed: &str, members: &[(&str, &str, &str)]) {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let root = sys.parent().unwrap().join(format!("devices/md0.{n}"));
    let md = root.join("md");
    std::fs::create_dir_all(&md).unwrap();
    std::fs::create_dir_all(sys).unwrap();
    for (k, v) in [
        ("array_state", "clean"),
        ("level", "raid5"),
        ("raid_disks", "3"),
        ("degraded", &degraded.to_string()),
        ("sync_action", action),
        ("sync_completed", completed),
    ] {
        std::fs::write(md.join(k), format!("{v}\n")).unwrap();
    }
    for (name, state, slot) in members {
        let d = md.join(format!("dev-{name}"));
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("state"), format!("{state}\n")).unwrap();
        std::fs::write(d.join("slot"), format!("{slot}\n")).unwrap();
    }
    let tmp = sys.join(".md0.tmp");
    std::os::unix::fs::symlink(&root, &tmp).unwrap();
    std::fs::rename(&tmp, sys.join("md0")).unwrap();
}

fn count(v: &[String], kind: &str) -> usize {
    v.iter().filter(|k| *k == kind).count()
}

#[test]
fn raid_degrades_fails_rebuilds_and_takeovers_follow() {
    let dir = tempfile::tempdir().unwrap();
    let sys: PathBuf = dir.path().join("sys/block");
    let ok = [("sda", "in_sync", "0"), ("sdb", "in_sync", "1"), ("sdc", "in_sync", "2")];
    md0(&sys, 0, "idle", "none", &ok);
    std::fs::write(dir.path().join("mdstat"), "Personalities : [raid5]\nunused devices: <none>\n").unwrap();
    let raid = format!(
        "[raid]\nsys_block = \"{}\"\nmdstat = \"{}\"\ninterval_ms = 100\n",
        sys.display(),
        dir.path().join("mdstat").display()
    );
    let s = Sup::start(dir, &raid);
    until("md0 reported ok", || s.health()["arrays"][0]["state"] == "ok");
    until("takeovers allowed", || s.takeovers() == Some(true));
    assert!(s.notices().is_empty(), "a clean array at start says nothing: {:?}", s.notices());

    md0(&sys, 1, "idle", "none", &[ok[0], ok[1], ("sdc", "faulty", "none")]);
    // Notices come before the arrays' report: wait for both.
    until("Fail and DegradedArray", || {
        let n = s.notices();
        count(&n, "Fail") == 1 && count(&n, "DegradedArray") == 1 && s.health()["arrays"][0]["state"] == "degraded"
    });
    let h = s.health();
    assert_eq!(h["arrays"][0]["state"], "degraded");
    assert_eq!(h["arrays"][0]["severity"], "critical");
    let fail = h["notices"].as_array().unwrap().iter().find(|n| n["kind"] == "Fail").unwrap().clone();
    assert_eq!((fail["severity"].as_str(), fail["source"].as_str()), (Some("critical"), Some("raid")));
    assert!(fail["text"].as_str().unwrap().contains("sdc"), "{fail}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.takeovers(), Some(true), "a degraded array still records: takeovers allowed");

    md0(&sys, 2, "idle", "none", &[ok[0], ("sdb", "faulty", "none"), ("sdc", "faulty", "none")]);
    until("takeovers refused", || s.takeovers() == Some(false));
    let status = s.read("status.json");
    assert!(status.contains("RAID md0 failed (raid5, 2 of 3 members missing)"), "{status}");
    until("md0 failed in health.json", || s.health()["arrays"][0]["state"] == "failed");

    // Repaired and reassembled: sdb back, sdd rebuilding in slot 2.
    let rebuilding = |pct: u64| {
        let done = format!("{} / 1000", pct * 10);
        md0(&sys, 1, "recover", &done, &[ok[0], ok[1], ("sdd", "spare", "2")]);
    };
    rebuilding(25);
    until("RebuildStarted, Rebuild20, takeovers allowed again", || {
        let n = s.notices();
        count(&n, "RebuildStarted") == 1 && count(&n, "Rebuild20") == 1 && s.takeovers() == Some(true)
    });
    until("25 %", || s.health()["arrays"][0]["sync_percent"] == 25.0);
    rebuilding(85);
    until("Rebuild40..80", || {
        let n = s.notices();
        ["Rebuild40", "Rebuild60", "Rebuild80"].iter().all(|k| count(&n, k) == 1)
    });
    md0(&sys, 0, "idle", "none", &[ok[0], ok[1], ("sdd", "in_sync", "2")]);
    until("RebuildFinished and SpareActive", || {
        let n = s.notices();
        count(&n, "RebuildFinished") == 1 && count(&n, "SpareActive") == 1
    });
    until("md0 ok", || s.health()["arrays"][0]["state"] == "ok");
    assert_eq!(s.takeovers(), Some(true));
    s.stop_promptly();
}

#[test]
fn a_read_only_recording_volume_cannot_record_and_refuses_takeovers() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let mountinfo = dir.path().join("mountinfo");
    let line = |opts: &str| {
        format!("22 1 8:1 / / rw - ext4 /dev/sda1 rw\n41 22 9:0 / {} rw - ext4 /dev/md0 {opts}\n", rec.display())
    };
    std::fs::write(&mountinfo, line("rw")).unwrap();
    let cfg = format!(
        "[volumes]\npaths = [\"{}\"]\nmountinfo = \"{}\"\ninterval_ms = 100\n",
        rec.display(),
        mountinfo.display()
    );
    let s = Sup::start(dir, &cfg);
    until("the volume reported writable", || s.health()["volumes"][0]["writable"] == true);
    until("takeovers allowed", || s.takeovers() == Some(true));
    assert_eq!(s.health()["volumes"][0]["read_only"], false);

    // ext4 hit an error and remounted itself read-only.
    std::fs::write(&mountinfo, line("ro,errors=remount-ro")).unwrap();
    until("takeovers refused", || s.takeovers() == Some(false));
    assert!(s.read("status.json").contains("mounted read-only"), "{}", s.read("status.json"));
    until("the volume read-only in health.json", || s.health()["volumes"][0]["read_only"] == true);
    let h = s.health();
    assert_eq!(
        (h["volumes"][0]["read_only"].as_bool(), h["volumes"][0]["severity"].as_str()),
        (Some(true), Some("critical"))
    );
    assert_eq!(s.notices(), ["CannotRecord"]);

    // Repaired (fsck, remounted read-write).
    std::fs::write(&mountinfo, line("rw")).unwrap();
    until("CanRecord, takeovers allowed", || {
        s.notices().last().map(String::as_str) == Some("CanRecord") && s.takeovers() == Some(true)
    });
}

/// Puts disk `dev` with `serial` on AHCI port `port` of the temp sysfs (`block/<dev>` links to
/// the device directory, as in sysfs).
fn plug(sys: &Path, dev: &str, port: u32, serial: &str) {
    let p = port - 1;
    let real = sys
        .parent()
        .unwrap()
        .join(format!("devices/pci0000:00/0000:00:02.0/ata{port}/host{p}/target{p}:0:0/{p}:0:0:0/block/{dev}"));
    std::fs::create_dir_all(real.join("device")).unwrap();
    std::fs::write(real.join("device/serial"), format!("{serial}\n")).unwrap();
    std::os::unix::fs::symlink(&real, sys.join(dev)).unwrap();
}

#[test]
fn a_replaced_disk_is_new_and_added_to_its_degraded_array() {
    let dir = tempfile::tempdir().unwrap();
    let sys: PathBuf = dir.path().join("sys/block");
    std::fs::create_dir_all(&sys).unwrap();
    plug(&sys, "sda", 1, "WD-A");
    plug(&sys, "sdb", 2, "WD-B");
    // The md tree of a raid1 on sda + sdb (md0() writes a raid5 of 3: fine for the bays).
    md0(&sys, 0, "idle", "none", &[("sda", "in_sync", "0"), ("sdb", "in_sync", "1")]);
    let argv = dir.path().join("mdadm-argv");
    let board = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../board/qemu-virt/bays.toml");
    let raid = format!(
        "[raid]\nsys_block = \"{}\"\nmdstat = \"{}\"\ninterval_ms = 100\nbays = \"{}\"\nauto_add = \"spare-same-slot\"\n\
         mdadm = [\"sh\", \"-c\", \"echo \\\"$@\\\" > '{}'\", \"mdadm\"]\n",
        sys.display(),
        dir.path().join("mdstat").display(),
        board.display(),
        argv.display(),
    );
    let s = Sup::start(dir, &raid);
    until("both bays present", || {
        let b = s.health()["bays"].clone();
        b[0]["serial"] == "WD-A" && b[1]["serial"] == "WD-B" && b[1]["present"] == true
    });
    until("bays.json written", || s.read("bays.json").contains("WD-B"));

    // sdb fails and is pulled; a new disk goes into bay2 as sdc.
    md0(&sys, 1, "idle", "none", &[("sda", "in_sync", "0"), ("sdb", "faulty", "none")]);
    until("Fail", || count(&s.notices(), "Fail") == 1);
    std::fs::remove_file(sys.join("sdb")).unwrap();
    until("DiskRemoved", || count(&s.notices(), "DiskRemoved") == 1);
    md0(&sys, 1, "idle", "none", &[("sda", "in_sync", "0")]);
    plug(&sys, "sdc", 2, "WD-C");
    until("NewDisk and AutoAdd", || {
        let n = s.notices();
        count(&n, "NewDisk") == 1 && count(&n, "AutoAdd") == 1
    });
    until("mdadm ran", || std::fs::read_to_string(&argv).unwrap_or_default() == "--add /dev/md0 /dev/sdc\n");
    until("bay2 holds the new disk", || {
        let b = s.health()["bays"][1].clone();
        b["device"] == "sdc" && b["new"] == true && b["bay"] == "bay2"
    });
    let h = s.health();
    let new = h["notices"].as_array().unwrap().iter().find(|n| n["kind"] == "NewDisk").unwrap().clone();
    assert_eq!((new["source"].as_str(), new["text"].as_str()), (Some("hotplug"), Some("bay2: new disk sdc (WD-C)")));
    s.stop_promptly();
}

#[test]
fn monitors_looking_every_minute_do_not_hold_up_a_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let sys: PathBuf = dir.path().join("sys/block");
    md0(&sys, 0, "idle", "none", &[("sda", "in_sync", "0"), ("sdb", "in_sync", "1"), ("sdc", "in_sync", "2")]);
    let rec = dir.path().join("rec");
    std::fs::create_dir_all(&rec).unwrap();
    let cfg = format!(
        "[raid]\nsys_block = \"{}\"\nmdstat = \"{}\"\n\n[volumes]\npaths = [\"{}\"]\n",
        sys.display(),
        dir.path().join("mdstat").display(),
        rec.display()
    );
    let s = Sup::start(dir, &cfg);
    until("first looks", || s.health()["arrays"][0]["state"] == "ok" && s.health()["volumes"][0]["writable"] == true);
    s.stop_promptly();
}
