//! The appliance image booted in QEMU the way the box boots (U-Boot, slot A/B,
//! the supervisor and its services on the real kernel's watchdog, AHCI and
//! NVMe disks and md RAID): boot to ready, the console's status command, SMART
//! from the emulated disks and an NVMe critical warning set through QMP, a RAID
//! member failing and the last one vanishing, the watchdog resetting a frozen
//! supervisor, and a slot that never gets ready falling back to the other.
//! Needs the image (`scripts/build-image`; `scripts/test` builds it).
//! Each test boots its own VM; they run in parallel (TCG, one vCPU each).

use std::time::{Duration, Instant};

use hotspare_api::health::{HealthReport, Severity};
use hotspare_hw_tests::appliance::{disk_with_changed_slot, skip_reason, Appliance, Options, UBOOT_BANNER};

/// Power-on to ready (U-Boot ~7 s, kernel + rcS ~6 s, the supervisor; first boot makes
/// the RAID), with room for a loaded 2-core machine; × HW_TIMEOUT_FACTOR.
const BOOT: Duration = Duration::from_secs(180);
const CMD: Duration = Duration::from_secs(60);
const HEALTH: Duration = Duration::from_secs(90);

fn skip() -> bool {
    match skip_reason() {
        Some(r) => {
            eprintln!("SKIPPED: {r}");
            true
        }
        None => false,
    }
}

fn array(h: &HealthReport) -> Option<&hotspare_api::health::ArrayHealth> {
    h.arrays.iter().find(|a| a.device == "md0")
}

fn recording_volume(h: &HealthReport) -> Option<&hotspare_api::health::VolumeHealth> {
    h.volumes.iter().find(|v| v.path == "/var/lib/hotspare/recordings")
}

fn takeovers_allowed(h: &HealthReport) -> Option<bool> {
    h.supervisor.as_ref().map(|s| s.takeovers_allowed)
}

/// The supervisor's pid.
fn supervisor_pid(vm: &mut Appliance) -> u32 {
    vm.pid_of("supervisor").expect("the supervisor runs")
}

#[test]
fn boots_slot_a_to_ready_and_reports_its_disks_and_an_nvme_critical_warning() {
    if skip() {
        return;
    }
    let mut vm = Appliance::boot(&Options { nvme: true, ..Options::default() });
    vm.expect("hotspare-boot: slot A (tries left 2)", BOOT);
    let (line, took) = vm.wait_ready(BOOT);
    eprintln!("ready {:.1} s after power-on: {line}", took.as_secs_f64());
    assert!(line.contains("slot A marked good"), "{line}");

    // RAID created on the first boot, assembled and mounted; both bay disks' SMART read
    let h = vm.wait_health("md0 in sync, the volume writable, SMART of sda, sdb, nvme0", HEALTH, |h| {
        array(h).is_some_and(|a| a.degraded == 0 && a.members.len() == 2)
            && recording_volume(h).is_some_and(|v| v.writable && !v.read_only)
            && ["sda", "sdb", "nvme0"].iter().all(|d| h.smart.iter().any(|s| s.device == *d))
    });
    for s in &h.smart {
        assert_eq!(s.passed, Some(true), "{s:?}");
        assert!(s.severity.is_none() || s.severity == Some(Severity::Info), "{s:?}");
    }
    assert_eq!(takeovers_allowed(&h), Some(true), "{:?}", h.supervisor);
    let mounts = vm.shell_ok("grep ' /var/lib/hotspare/recordings ' /proc/mounts", CMD);
    assert!(mounts.iter().any(|l| l.starts_with("/dev/md0 ")), "{mounts:?}");

    // the console's status command: version, slot, services, healthy
    let (rc, status) = vm.shell("hotspare status", CMD);
    let text = status.join("\n");
    assert_eq!(rc, 0, "{text}");
    assert!(text.contains("slot A"), "{text}");
    assert!(text.contains(&format!("hotspare {}", env!("CARGO_PKG_VERSION"))), "{text}");
    assert!(text.contains("failover"), "{text}");
    assert!(status.iter().any(|l| l.trim() == "status: healthy"), "{text}");
    let state = vm.shell_ok("hotspare boot-state --dir /boot show", CMD).join("\n");
    assert!(state.contains("BOOT_A_LEFT=3") && state.contains("next boot: slot A"), "{state}");

    // NVMe critical warning (reliability degraded) set at run time; a SMART check now
    vm.qmp
        .execute(
            "qom-set",
            serde_json::json!({"path": "/machine/peripheral/nvme0", "property": "smart_critical_warning", "value": 4}),
        )
        .unwrap();
    let pid = supervisor_pid(&mut vm);
    vm.shell_ok(&format!("kill -USR1 {pid}"), CMD);
    let h = vm.wait_health("nvme0 critical and takeovers refused", HEALTH, |h| {
        h.smart.iter().any(|s| s.device == "nvme0" && s.severity == Some(Severity::Critical))
            && takeovers_allowed(h) == Some(false)
    });
    eprintln!("after the critical warning: {:?}", h.supervisor);
    let spare = vm.api_get("/api/v1/status").unwrap();
    assert!(spare["takeovers_blocked"].as_str().is_some_and(|r| !r.is_empty()), "{spare:#}");
}

#[test]
fn a_failed_raid_member_degrades_and_losing_both_means_cannot_record() {
    if skip() {
        return;
    }
    let mut vm = Appliance::boot(&Options::default());
    vm.wait_ready(BOOT);
    vm.wait_health("md0 in sync", HEALTH, |h| array(h).is_some_and(|a| a.degraded == 0 && a.members.len() == 2));

    vm.shell_ok("mdadm /dev/md0 --fail /dev/sdb", CMD);
    let h = vm.wait_health("md0 degraded with sdb faulty, the volume still writable", HEALTH, |h| {
        array(h).is_some_and(|a| a.degraded == 1 && a.members.iter().any(|m| m.device == "sdb" && m.state == "faulty"))
            && recording_volume(h).is_some_and(|v| v.writable)
    });
    assert_ne!(recording_volume(&h).and_then(|v| v.severity), Some(Severity::Critical), "{:?}", h.volumes);
    assert_eq!(takeovers_allowed(&h), Some(true), "a degraded RAID that records still covers: {:?}", h.supervisor);
    // the volume takes writes
    vm.shell_ok("dd if=/dev/zero of=/var/lib/hotspare/recordings/probe bs=64k count=16 conv=fsync", CMD);

    // the last member vanishes (the kernel drops the disk): nothing can be recorded
    vm.shell_ok("echo 1 > /sys/block/sda/device/delete", CMD);
    let h = vm.wait_health("the recording volume unusable and takeovers refused", HEALTH, |h| {
        recording_volume(h).is_some_and(|v| v.severity == Some(Severity::Critical))
            && takeovers_allowed(h) == Some(false)
    });
    eprintln!("after losing both members: {:?} {:?}", h.volumes, h.supervisor);
}

#[test]
fn the_watchdog_resets_a_frozen_supervisor_and_the_next_boot_says_so() {
    if skip() {
        return;
    }
    let mut vm = Appliance::boot(&Options::default());
    vm.wait_ready(BOOT);
    let pid = supervisor_pid(&mut vm);
    vm.shell_ok(&format!("kill -STOP {pid}"), CMD);
    let frozen = Instant::now();
    // the supervisor's timeout_s (board/qemu-virt/supervisor.toml) + a margin
    vm.expect(UBOOT_BANNER, Duration::from_secs(60 + 45));
    eprintln!("reset {:.1} s after SIGSTOP", frozen.elapsed().as_secs_f64());
    let (line, _) = vm.wait_ready(BOOT);
    assert!(line.contains("slot A marked good"), "{line}");
    let h = vm.wait_health("the last reset", HEALTH, |h| h.supervisor.is_some());
    let last = h.supervisor.map(|s| s.last_reset).unwrap_or_default();
    assert_eq!(last, "Watchdog", "last reset after the watchdog fired");
}

#[test]
fn a_slot_that_never_gets_ready_is_tried_three_times_then_the_other_boots() {
    if skip() {
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    // a test build of slot A whose supervisor exits at once (its configuration is broken)
    let disk = disk_with_changed_slot(scratch.path(), "root-a", |root| {
        std::fs::write(root.join("etc/hotspare/supervisor.toml"), "# a broken test build\nthis is not = = toml\n")
            .unwrap();
    });
    let mut vm = Appliance::boot(&Options { disk: Some(disk), ..Options::default() });
    for left in [2, 1, 0] {
        vm.expect(&format!("hotspare-boot: slot A (tries left {left})"), BOOT);
        vm.expect("supervisor: exited with status", BOOT);
        // the boot deadline (rcS arms the watchdog; nobody takes it over) resets the box
        vm.expect(UBOOT_BANNER, BOOT);
    }
    vm.expect("hotspare-boot: slot B (tries left 2)", BOOT);
    let (line, took) = vm.wait_ready(BOOT);
    eprintln!("slot B ready {:.1} s after power-on", took.as_secs_f64());
    assert!(line.contains("slot B marked good"), "{line}");
    let state = vm.shell_ok("hotspare boot-state --dir /boot show", CMD).join("\n");
    assert!(state.contains("BOOT_A_LEFT=0") && state.contains("BOOT_B_LEFT=3"), "{state}");
    assert!(state.contains("next boot: slot B"), "{state}");
}
