use std::path::Path;

use hotspare_platform::smart::ata::Attribute;
use hotspare_platform::smart::{AtaSmart, Kind};

use super::*;
use crate::config::SupervisorConfig;

fn attr(id: u8, flags: u16, current: u8, raw: u64, threshold: u8) -> Attribute {
    Attribute { id, flags, current, worst: current, raw, threshold: Some(threshold) }
}

/// A SATA disk: reallocated (5, prefail, threshold 36), pending (197) and temperature.
fn disk(realloc_value: u8, realloc_raw: u64, pending: u64, passed: bool) -> Snapshot {
    Snapshot {
        device: "sda".into(),
        kind: Kind::Ata,
        model: "QEMU HARDDISK".into(),
        serial: "QM00001".into(),
        passed,
        ata: Some(AtaSmart {
            attributes: vec![
                attr(5, 0x33, realloc_value, realloc_raw, 36),
                attr(9, 0x32, 90, 8766, 0),
                attr(194, 0x22, 36, 36, 0),
                attr(197, 0x12, 100, pending, 0),
            ],
            error_count: Some(0),
            self_tests: None,
        }),
        nvme: None,
    }
}

fn check(book: &mut SmartBook, s: Snapshot) -> Vec<Report> {
    book.handle(1, vec![("sda".into(), Ok(s))])
}

fn notices(r: &[Report]) -> Vec<(Severity, String)> {
    r.iter()
        .filter_map(|r| match r {
            Report::Notice(n) => Some((n.severity, n.kind.clone())),
            _ => None,
        })
        .collect()
}

fn disks(r: &[Report]) -> Vec<SmartHealth> {
    r.iter()
        .find_map(|r| match r {
            Report::Smart(d) => Some(d.clone()),
            _ => None,
        })
        .expect("a Smart report each check")
}

fn faults(r: &[Report]) -> Vec<Option<String>> {
    r.iter()
        .filter_map(|r| match r {
            Report::Fault { source, reason } if source == "smart" => Some(reason.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn healthy_increasing_critical_and_recovered() {
    let mut book = SmartBook::default();
    let r = check(&mut book, disk(100, 0, 0, true));
    assert!(notices(&r).is_empty() && faults(&r).is_empty(), "{r:?}");
    let d = &disks(&r)[0];
    assert_eq!((d.device.as_str(), d.kind.as_str(), d.severity, d.passed), ("sda", "ata", None, Some(true)));
    assert_eq!((d.temperature_c, d.power_on_hours, d.serial.as_str()), (Some(36), Some(8766), "QM00001"));

    let r = check(&mut book, disk(100, 8, 4, true));
    let raw = (Severity::Warning, "SmartRawIncreased".to_owned());
    assert_eq!(notices(&r), [raw.clone(), raw]);
    assert_eq!(disks(&r)[0].severity, Some(Severity::Warning));
    assert_eq!(disks(&r)[0].findings[1], "sda: 197 Current_Pending_Sector increased from 0 to 4");
    let r = check(&mut book, disk(100, 8, 4, true));
    assert!(notices(&r).is_empty() && disks(&r)[0].severity.is_none(), "unchanged: {r:?}");

    let r = check(&mut book, disk(30, 8, 4, false));
    let n = notices(&r);
    assert_eq!(n, [(Severity::Critical, "SmartFailing".into()), (Severity::Critical, "SmartPrefailAttribute".into())]);
    let f = faults(&r);
    assert!(f.len() == 1 && f[0].as_deref().is_some_and(|t| t.contains("FAILING")), "{f:?}");
    let r = check(&mut book, disk(30, 8, 4, false));
    assert!(notices(&r).is_empty() && faults(&r).is_empty(), "a standing finding is said once: {r:?}");
    assert_eq!(disks(&r)[0].severity, Some(Severity::Critical));
    let r = check(&mut book, disk(100, 8, 4, true));
    assert_eq!(faults(&r), [None], "the fault clears");
}

#[test]
fn increases_survive_a_restart() {
    let d = tempfile::tempdir().unwrap();
    let state = d.path().join("smart.json");
    let mut book = SmartBook::load(&state);
    check(&mut book, disk(100, 0, 0, true));
    book.save(&state).unwrap();
    let mut book = SmartBook::load(&state);
    let r = check(&mut book, disk(100, 0, 2, true));
    assert_eq!(notices(&r), [(Severity::Warning, "SmartRawIncreased".to_owned())]);
    std::fs::write(&state, "{ not json").unwrap();
    let mut book = SmartBook::load(&state);
    assert!(notices(&check(&mut book, disk(100, 0, 9, true))).is_empty(), "a bad file: start afresh");
}

#[test]
fn an_unreadable_disk() {
    let mut book = SmartBook::default();
    let err = || vec![("sdb".to_owned(), Err("not a SATA or NVMe disk".to_owned()))];
    let r = book.handle(1, err());
    assert_eq!(notices(&r), [(Severity::Info, "SmartUnreadable".to_owned())]);
    assert_eq!(disks(&r)[0].severity, None, "never read: no severity (a USB stick)");
    assert!(notices(&book.handle(2, err())).is_empty(), "said once");
    let mut s = disk(100, 0, 0, true);
    s.device = "sdb".into();
    book.handle(3, vec![("sdb".into(), Ok(s))]);
    let r = book.handle(4, err());
    assert_eq!(notices(&r), [(Severity::Warning, "SmartUnreadable".to_owned())]);
    let d = &disks(&r)[0];
    assert_eq!((d.severity, d.serial.as_str(), d.passed), (Some(Severity::Warning), "QM00001", None));
}

#[test]
fn the_smart_table() {
    let base = "state_dir = \"/s\"\nreset_command = [\"/sbin/reboot\"]\n";
    let parse = |t: &str| SupervisorConfig::parse(&format!("{base}{t}"), Path::new("supervisor.toml"));
    assert_eq!(parse("").unwrap().smart, None);
    let c = parse("[smart]\n").unwrap().smart.unwrap();
    assert_eq!((c.devices.clone(), c.interval), (None, Duration::from_secs(1800)));
    assert_eq!((c.sys_block.as_path(), c.dev.as_path()), (Path::new("/sys/block"), Path::new("/dev")));
    let c = parse("[smart]\ndevices = [\"/dev/sg0\", \"nvme0\"]\ninterval_min = 5\n").unwrap().smart.unwrap();
    let t = c.targets();
    assert_eq!((t[0].name.as_str(), t[1].name.as_str(), t[1].kind), ("sg0", "nvme0", Kind::Nvme));
    let e = parse("[smart]\ninterval_min = 0\n").unwrap_err().to_string();
    assert!(e.contains(":4:") && e.contains("smart.interval_min: must be at least 1"), "{e}");
    let e = parse("[smart]\nsurprise = 1\n").unwrap_err().to_string();
    assert!(e.contains("surprise"), "{e}");
}

/// The reports until the next `Report::Smart`, and that one's disks.
async fn until_smart(rx: &mut tokio::sync::mpsc::UnboundedReceiver<Report>) -> (Vec<Report>, Vec<SmartHealth>) {
    let mut seen = Vec::new();
    loop {
        let r = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("a report").unwrap();
        if let Report::Smart(d) = &r {
            return (seen, d.clone());
        }
        seen.push(r);
    }
}

#[tokio::test]
async fn the_monitor_reports_and_rechecks_on_sigusr1() {
    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("not-a-disk");
    std::fs::write(&file, b"").unwrap();
    let cfg = SmartConfig {
        devices: Some(vec![file.display().to_string()]),
        interval: Duration::from_secs(3600),
        sys_block: d.path().into(),
        sys_class_nvme: d.path().into(),
        dev: d.path().into(),
    };
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let task = tokio::spawn(run(cfg, d.path().join("smart.json"), tx));
    let (seen, disks) = until_smart(&mut rx).await;
    assert_eq!(seen.len(), 1, "the unreadable notice: {seen:?}");
    assert!(disks[0].findings[0].contains("not a SATA or NVMe disk (not a device node)"), "{disks:?}");
    assert!(d.path().join("smart.json").exists());
    rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::USR1).unwrap();
    let (seen, disks) = until_smart(&mut rx).await;
    assert!(seen.is_empty() && disks.len() == 1, "a second check at once, nothing new: {seen:?}");
    task.abort();
}
