use super::*;
use std::time::Duration;

/// A sysfs root with `block/<dev>` links to `devices/.../ataN/.../block/<dev>` (as the
/// kernel lays them out) and the disk's serial.
struct Sys(tempfile::TempDir);

impl Sys {
    fn new() -> Sys {
        let s = Sys(tempfile::tempdir().unwrap());
        std::fs::create_dir_all(s.block()).unwrap();
        s
    }
    fn block(&self) -> PathBuf {
        self.0.path().join("sys/block")
    }
    fn plug(&self, dev: &str, port: u32, serial: &str) {
        let real = self.0.path().join(format!(
            "sys/devices/pci0000:00/0000:00:02.0/ata{port}/host{p}/target{p}:0:0/{p}:0:0:0/block/{dev}",
            p = port - 1
        ));
        let _ = std::fs::remove_dir_all(&real);
        std::fs::create_dir_all(real.join("device")).unwrap();
        std::fs::write(real.join("device/serial"), format!("{serial}\n")).unwrap();
        let link = self.block().join(dev);
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&real, link).unwrap();
    }
    fn unplug(&self, dev: &str) {
        std::fs::remove_file(self.block().join(dev)).unwrap();
    }
    fn md0(&self, members: &[(&str, &str)], degraded: u32) {
        let md = self.block().join("md0/md");
        let _ = std::fs::remove_dir_all(&md);
        std::fs::create_dir_all(&md).unwrap();
        for (k, v) in [("array_state", "clean"), ("level", "raid1"), ("raid_disks", "2")] {
            std::fs::write(md.join(k), v).unwrap();
        }
        std::fs::write(md.join("degraded"), degraded.to_string()).unwrap();
        for (m, st) in members {
            std::fs::create_dir_all(md.join(format!("dev-{m}"))).unwrap();
            std::fs::write(md.join(format!("dev-{m}/state")), st).unwrap();
        }
    }
}

fn kinds(r: &[Report]) -> Vec<String> {
    r.iter()
        .filter_map(|r| match r {
            Report::Notice(n) => Some(n.kind.clone()),
            _ => None,
        })
        .collect()
}

/// The notice of `kind` in `r`.
fn notice<'a>(r: &'a [Report], kind: &str) -> &'a Notice {
    r.iter()
        .find_map(|r| match r {
            Report::Notice(n) if n.kind == kind => Some(n),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {kind} in {r:?}"))
}

fn bays_of(r: &[Report]) -> Vec<BayHealth> {
    r.iter().find_map(|r| if let Report::Bays(b) = r { Some(b.clone()) } else { None }).unwrap_or_default()
}

fn monitor(sys: &Sys, state: &Path, mdadm: Vec<String>) -> Hotplug {
    let bays_toml = state.join("bays.toml");
    std::fs::write(&bays_toml, "[[bay]]\nname = \"bay1\"\npath = \"/devices/*/ata1/*\"\n[[bay]]\nname = \"bay2\"\npath = \"/devices/*/ata2/*\"\n").unwrap();
    let raw = crate::raid::RawRaid {
        sys_block: sys.block(),
        auto_add: "spare-same-slot".into(),
        mdadm,
        bays: Some(bays_toml.clone()),
        ..crate::raid::RawRaid::default()
    };
    Hotplug::new(raw.into_config().unwrap(), load_bays(&bays_toml).unwrap(), state.join("bays.json"))
}

#[test]
fn removed_new_disk_and_spare_same_slot() {
    let sys = Sys::new();
    let state = tempfile::tempdir().unwrap();
    let argv_file = state.path().join("argv");
    let mdadm = vec!["sh".into(), "-c".into(), format!("echo \"$@\" > '{}'", argv_file.display()), "mdadm".into()];
    sys.plug("sda", 1, "WD-A");
    sys.plug("sdb", 2, "WD-B");
    sys.md0(&[("sda", "in_sync"), ("sdb", "in_sync")], 0);
    let mut h = monitor(&sys, state.path(), mdadm.clone());
    let r = h.look(1);
    assert!(kinds(&r).is_empty(), "first start: recorded, nothing said: {r:?}");
    let b = bays_of(&r);
    assert_eq!((b[1].device.as_str(), b[1].serial.as_str(), b[1].present, b[1].new), ("sdb", "WD-B", true, false));
    assert!(state.path().join("bays.json").exists());

    // sdb fails and is pulled.
    sys.md0(&[("sda", "in_sync"), ("sdb", "faulty")], 1);
    sys.unplug("sdb");
    let r = h.look(2);
    // md still lists sdb: failed and removed, as udev's `mdadm -If` does on a hot-unplug
    assert_eq!(kinds(&r), ["DiskRemoved", "DetachedRemoved"]);
    assert_eq!(std::fs::read_to_string(&argv_file).unwrap(), "--incremental --fail sdb\n");
    assert_eq!((bays_of(&r)[1].present, bays_of(&r)[1].severity), (false, Some(Severity::Warning)));

    // A replacement (sdc) in bay2: NewDisk, added to md0.
    sys.md0(&[("sda", "in_sync")], 1);
    sys.plug("sdc", 2, "WD-C");
    let r = h.look(3);
    assert_eq!(kinds(&r), ["NewDisk", "AutoAdd"]);
    assert_eq!(std::fs::read_to_string(&argv_file).unwrap(), "--add /dev/md0 /dev/sdc\n");
    let b = bays_of(&r);
    assert_eq!((b[1].device.as_str(), b[1].new), ("sdc", true));
    assert!(h.look(4).is_empty(), "nothing new");

    // A restart remembers: the old disk back in bay2 is not new, a third one is.
    let mut h = monitor(&sys, state.path(), mdadm);
    let _ = h.look(5);
    sys.unplug("sdc");
    sys.plug("sdb", 2, "WD-B");
    assert_eq!(kinds(&h.look(6)), ["DiskRemoved", "DiskAdded"]);
}

#[test]
fn a_pulled_member_md_still_counts_in_sync_is_failed_and_removed() {
    let sys = Sys::new();
    let state = tempfile::tempdir().unwrap();
    let argv_file = state.path().join("argv");
    let record = format!("echo \"$@\" >> '{}'", argv_file.display());
    sys.plug("sda", 1, "WD-A");
    sys.plug("sdb", 2, "WD-B");
    sys.md0(&[("sda", "in_sync"), ("sdb", "in_sync")], 0);
    let mut h = monitor(&sys, state.path(), vec!["sh".into(), "-c".into(), record, "mdadm".into()]);
    let _ = h.look(1);
    // pulled while idle: no I/O has failed, md still counts sdb in sync
    sys.unplug("sdb");
    let r = h.look(2);
    assert_eq!(kinds(&r), ["DiskRemoved", "DetachedRemoved"]);
    assert_eq!(std::fs::read_to_string(&argv_file).unwrap(), "--incremental --fail sdb\n");
    let n = notice(&r, "DetachedRemoved");
    assert_eq!(n.severity, Severity::Info);
    assert!(n.text.starts_with("md0: sdb failed and removed (bay2's disk is gone)"), "{}", n.text);
    // md has let go: nothing more to do
    sys.md0(&[("sda", "in_sync")], 1);
    assert!(kinds(&h.look(3)).is_empty());

    // mdadm failing: a warning saying so
    let mut h = monitor(&sys, state.path(), vec!["sh".into(), "-c".into(), "echo no >&2; exit 1".into()]);
    sys.plug("sdb", 2, "WD-B");
    sys.md0(&[("sda", "in_sync"), ("sdb", "in_sync")], 0);
    let _ = h.look(4);
    sys.unplug("sdb");
    let r = h.look(5);
    let n = notice(&r, "DetachedRemoved");
    assert_eq!(n.severity, Severity::Warning);
    assert!(n.text.contains("--incremental --fail sdb failed") && n.text.ends_with(": no"), "{}", n.text);
}

#[test]
fn bays_file_errors() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("bays.toml");
    std::fs::write(&p, "[[bay]]\nname = \"bay1\"\npath = \"a\"\n[[bay]]\nname = \"bay1\"\npath = \"b\"\n").unwrap();
    let e = load_bays(&p).unwrap_err().to_string();
    assert!(e.contains("bay[1].name"), "{e}");
    std::fs::write(&p, "[[bay]]\nname = \"bay1\"\n").unwrap();
    assert!(load_bays(&p).unwrap_err().to_string().contains("path"));
    let board = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../board/qemu-virt/bays.toml");
    let bays = load_bays(&board).unwrap();
    let qemu = "/devices/platform/4010000000.pcie/pci0000:00/0000:00:02.0/ata2/host1/target1:0:0/1:0:0:0/block/sdb";
    assert_eq!(bays::bay_of(&bays, qemu).map(|b| b.name.as_str()), Some("bay2"));
}

/// A real uevent: as root, `change` written to a loop device's `uevent` reaches the libudev
/// monitor on the kernel source. Skipped (with a message) where that cannot be done.
#[test]
fn a_kernel_uevent_wakes_the_monitor() {
    let dev = std::fs::read_dir("/sys/block")
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        // A loop device: a `change` uevent on it disturbs nothing.
        .filter(|e| e.file_name().to_str().is_some_and(|n| n.starts_with("loop")))
        .map(|e| e.path().join("uevent"))
        .find(|p| std::fs::OpenOptions::new().write(true).open(p).is_ok());
    let Some(uevent) = dev else {
        return eprintln!("no writable /sys/block/loop*/uevent (not root?): skipped");
    };
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || uevents(&tx));
    std::thread::sleep(Duration::from_millis(300));
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        std::fs::write(&uevent, "change").unwrap();
        std::thread::sleep(Duration::from_millis(200));
        if rx.try_recv().is_ok() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no wake-up for a change uevent on {}", uevent.display());
    }
}
