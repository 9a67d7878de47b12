//! Fleet updates on the device with RAUC (docs/design/update.md): the image booted from slot A
//! fetches a signed verity bundle from a real HTTP server on the host (busybox `wget`, the
//! host at 10.0.2.2), `rauc install` writes slot B (root, and its kernel and initramfs to
//! /boot/B by the bundle's hook) and makes it primary through the `custom` backend
//! (`hotspare boot-state`); after a reboot U-Boot boots B, the new version runs and the
//! supervisor marks B good. Then a bundle signed by a CA the image does not trust and one for
//! another board are refused with RAUC's reason, and nothing changes. Another VM installs a
//! bundle whose root cannot be mounted: U-Boot tries it three times and falls back to A.
//! Needs the image and the bundles (`scripts/build-image`, `scripts/build-bundle --test`;
//! `scripts/test` builds both, and with HW_TESTS_REQUIRE_IMAGE a missing bundle fails).

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hotspare_hw_tests::appliance::{image_dir, skip_reason, Appliance, Options, UBOOT_BANNER};
use hotspare_hw_tests::http::{serve_files, FileServer};
use serde_json::Value;

const BOOT: Duration = Duration::from_secs(180);
const CMD: Duration = Duration::from_secs(60);
const INSTALL: Duration = Duration::from_secs(240);
const BUNDLES: [&str; 4] = ["update", "other-ca", "other-board", "broken"];

/// The test bundles, or None (skip) when they or the image are missing.
fn bundles() -> Option<HashMap<String, PathBuf>> {
    if let Some(r) = skip_reason() {
        eprintln!("SKIPPED: {r}");
        return None;
    }
    let dir = image_dir().join("test-bundles");
    let files: HashMap<String, PathBuf> =
        BUNDLES.iter().map(|b| (format!("{b}.raucb"), dir.join(format!("{b}.raucb")))).collect();
    if let Some(missing) = files.values().find(|p| !p.is_file()) {
        let msg = format!("no test bundle {} (scripts/build-bundle --test makes them)", missing.display());
        if std::env::var_os("HW_TESTS_REQUIRE_IMAGE").is_some() {
            panic!("{msg}; HW_TESTS_REQUIRE_IMAGE is set");
        }
        eprintln!("SKIPPED: {msg}");
        return None;
    }
    Some(files)
}

/// `rauc status --output-format=json`, parsed; None while the client cannot reach the
/// service (exit 1).
fn rauc_status(vm: &mut Appliance) -> Option<Value> {
    let (rc, out) = vm.shell("rauc status --output-format=json", CMD);
    if rc != 0 {
        eprintln!("rauc status exited with {rc}: {}", out.join("\n"));
        return None;
    }
    let line = out.iter().find(|l| l.trim_start().starts_with('{')).unwrap_or_else(|| panic!("no JSON in {out:?}"));
    Some(serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("rauc status: {e}: {line}")))
}

/// (booted bootname, primary slot name) of `rauc status`. Right after the supervisor's
/// "ready" `rauc service` may not own its bus name yet (the client then fails, or gets no
/// properties: `booted` null): asked again for up to a minute.
fn booted_and_primary(vm: &mut Appliance) -> (String, String) {
    let deadline = Instant::now() + CMD;
    loop {
        let s = rauc_status(vm).unwrap_or_default();
        if let (Some(b), Some(p)) = (s["booted"].as_str(), s["boot_primary"].as_str()) {
            return (b.to_string(), p.to_string());
        }
        assert!(Instant::now() < deadline, "rauc status has no booted or primary slot: {s}");
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Fetches `name` from the host's file server to /data/bundle.raucb, then `rauc install`s it:
/// its exit status, its output and how long it took.
fn fetch_and_install(vm: &mut Appliance, server: &FileServer, name: &str) -> (i32, String, Duration) {
    vm.shell_ok(
        &format!("rm -f /data/bundle.raucb; wget -q -O /data/bundle.raucb http://10.0.2.2:{}/{name}", server.port),
        CMD,
    );
    let t = Instant::now();
    let (rc, out) = vm.shell("rauc install /data/bundle.raucb 2>&1", INSTALL);
    let took = t.elapsed();
    vm.shell_ok("rm -f /data/bundle.raucb", CMD);
    (rc, out.join("\n"), took)
}

/// What must not change when a bundle is refused: the boot state and both slots' kernels.
fn boot_fingerprint(vm: &mut Appliance) -> String {
    vm.shell_ok(
        "cd /boot && md5sum bootstate.0 bootstate.1 A/Image A/initrd B/Image B/initrd && hotspare boot-state show",
        CMD,
    )
    .join("\n")
}

#[test]
fn a_signed_bundle_is_installed_booted_and_marked_good_and_foreign_ones_are_refused() {
    let Some(files) = bundles() else { return };
    let server = serve_files(files);
    let mut vm = Appliance::boot(&Options::default());
    vm.expect("hotspare-boot: slot A (tries left 2)", BOOT);
    let (line, _) = vm.wait_ready(BOOT);
    assert!(line.contains("slot A marked good"), "{line}");
    let version_a = vm.shell_ok("cat /etc/hotspare/version", CMD).join("");
    assert_eq!(booted_and_primary(&mut vm), ("A".into(), "rootfs.0".into()));

    let (rc, out, took) = fetch_and_install(&mut vm, &server, "update.raucb");
    eprintln!("rauc install of update.raucb: {:.1} s", took.as_secs_f64());
    assert_eq!(rc, 0, "rauc install failed:\n{out}");
    assert!(out.contains("succeeded"), "{out}");
    assert_eq!(booted_and_primary(&mut vm), ("A".into(), "rootfs.1".into()), "B is primary after the install");

    vm.shell("reboot &", CMD);
    let rebooted = Instant::now();
    vm.expect(UBOOT_BANNER, BOOT);
    vm.expect("hotspare-boot: slot B (tries left 2)", BOOT);
    let (line, _) = vm.wait_ready(BOOT);
    eprintln!("reboot to slot B marked good: {:.1} s", rebooted.elapsed().as_secs_f64());
    assert!(line.contains("slot B marked good"), "{line}");
    let version_b = vm.shell_ok("cat /etc/hotspare/version", CMD).join("");
    assert_ne!(version_a, version_b, "the update's version runs");
    assert!(version_b.ends_with("+update-test"), "{version_b}");
    assert_eq!(booted_and_primary(&mut vm), ("B".into(), "rootfs.1".into()));

    let before = boot_fingerprint(&mut vm);
    let (rc, out, _) = fetch_and_install(&mut vm, &server, "other-ca.raucb");
    eprintln!("other CA refused:\n{out}");
    assert_ne!(rc, 0, "a bundle of another CA was installed:\n{out}");
    assert!(out.contains("signature verification failed"), "{out}");
    let (rc, out, _) = fetch_and_install(&mut vm, &server, "other-board.raucb");
    eprintln!("other board refused:\n{out}");
    assert_ne!(rc, 0, "a bundle of another board was installed:\n{out}");
    assert!(out.contains("Compatible mismatch"), "{out}");
    assert_eq!(boot_fingerprint(&mut vm), before, "a refused bundle changed the boot partition");
    assert_eq!(booted_and_primary(&mut vm), ("B".into(), "rootfs.1".into()));
    assert_eq!(server.served.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[test]
fn a_bundle_whose_root_cannot_boot_falls_back_to_the_old_slot_after_three_tries() {
    let Some(files) = bundles() else { return };
    let server = serve_files(files);
    let mut vm = Appliance::boot(&Options::default());
    let (line, _) = vm.wait_ready(BOOT);
    assert!(line.contains("slot A marked good"), "{line}");
    // (also waits for `rauc service` to be on the bus: an install before fails to reach it)
    assert_eq!(booted_and_primary(&mut vm), ("A".into(), "rootfs.0".into()));
    let (rc, out, _) = fetch_and_install(&mut vm, &server, "broken.raucb");
    assert_eq!(rc, 0, "rauc install failed:\n{out}");
    assert_eq!(booted_and_primary(&mut vm), ("A".into(), "rootfs.1".into()));
    vm.shell("reboot &", CMD);
    let t = Instant::now();
    for left in [2, 1, 0] {
        vm.expect(&format!("hotspare-boot: slot B (tries left {left})"), BOOT);
        vm.expect("initrd: cannot mount the root filesystem", BOOT);
    }
    vm.expect("hotspare-boot: slot A (tries left 2)", BOOT);
    let (line, _) = vm.wait_ready(BOOT);
    eprintln!("back on slot A, marked good, {:.1} s after the reboot", t.elapsed().as_secs_f64());
    assert!(line.contains("slot A marked good"), "{line}");
    assert_eq!(booted_and_primary(&mut vm), ("A".into(), "rootfs.0".into()));
}
