//! Fleet updates on the device with RAUC (docs/design/update.md) driven by the update agent
//! (docs/design/update-agent.md): the image booted from slot A is given a manifest URL in its
//! settings; Python's `http.server` on the host (the guest reaches it at 10.0.2.2) serves the
//! manifest and a signed verity bundle; the agent (`hotspare update`, a service of the
//! supervisor) downloads it, has RAUC verify it, `rauc install` writes slot B (root, and its
//! kernel and initramfs to /boot/B by the bundle's hook) and makes it primary through the
//! `custom` backend (`hotspare boot-state`), and the agent reboots; U-Boot boots B, the new
//! version runs, the supervisor marks B good, and the agent says `updated to …`. Then a bundle
//! signed by a CA the image does not trust and one for another board are refused by `rauc
//! install` itself with RAUC's reason, and nothing changes. Another VM is offered a bundle
//! whose root cannot be mounted: the agent installs it and reboots, U-Boot tries it three
//! times and falls back to A, and the agent then refuses that version for good.
//! Needs the image and the bundles (`scripts/build-image`, `scripts/build-bundle --test`;
//! `scripts/test` builds both, and with HW_TESTS_REQUIRE_IMAGE a missing bundle fails).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
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

/// Offers `name` (a bundle of `version`) to the fleet: the manifest on the server names it with
/// its size and SHA-256.
fn offer(server: &FileServer, name: &str, bundle: &Path, version: &str) {
    let out = Command::new("sha256sum").arg(bundle).output().expect("sha256sum");
    let sha = String::from_utf8_lossy(&out.stdout).split_whitespace().next().unwrap_or("").to_string();
    let size = std::fs::metadata(bundle).expect("bundle").len();
    let manifest = format!(
        r#"{{"compatible":"hotspare-qemu-virt","version":"{version}","bundle":"{name}","sha256":"{sha}","size":{size}}}"#
    );
    server.put("manifest.json", manifest.as_bytes());
}

/// Points the box's agent at the server's manifest (a settings change, as the console or the
/// API would make it).
fn follow(vm: &mut Appliance, server: &FileServer) {
    vm.shell_ok(
        &format!(
            "hotspare settings --dir /data/settings set update.manifest_url=http://10.0.2.2:{}/manifest.json",
            server.port
        ),
        CMD,
    );
}

/// The agent's status file once `pred` holds (polled for up to `timeout`).
fn agent_status(vm: &mut Appliance, timeout: Duration, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + timeout;
    loop {
        // (the file ends without a newline: echo one, or the shell helper loses its last line)
        let (rc, out) = vm.shell("cat /data/update/update.json && echo", CMD);
        let v: Value = if rc == 0 { serde_json::from_str(&out.join("\n")).unwrap_or_default() } else { Value::Null };
        if pred(&v) {
            return v;
        }
        if Instant::now() >= deadline {
            let (_, seen) =
                vm.shell("ls -la /data/update; ps | grep '[h]otspare update'; cat /data/update/update.json", CMD);
            panic!("waited {timeout:?} for the agent: {what}; update.json: {v}\n{}", seen.join("\n"));
        }
        std::thread::sleep(Duration::from_secs(2));
    }
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
    let server = serve_files(files.clone());
    let mut vm = Appliance::boot(&Options::default());
    vm.expect("hotspare-boot: slot A (tries left 2)", BOOT);
    let (line, _) = vm.wait_ready(BOOT);
    assert!(line.contains("slot A marked good"), "{line}");
    let version_a = vm.shell_ok("cat /etc/hotspare/version", CMD).join("");
    assert_eq!(booted_and_primary(&mut vm), ("A".into(), "rootfs.0".into()));

    let update_version = format!("{version_a}+update-test");
    offer(&server, "update.raucb", &files["update.raucb"], &update_version);
    let offered = Instant::now();
    follow(&mut vm, &server);
    // The agent downloads, verifies, installs and reboots by itself.
    vm.expect(UBOOT_BANNER, INSTALL);
    let rebooted = Instant::now();
    eprintln!("manifest offered to the agent's reboot: {:.1} s", offered.elapsed().as_secs_f64());
    vm.expect("hotspare-boot: slot B (tries left 2)", BOOT);
    let (line, _) = vm.wait_ready(BOOT);
    eprintln!("reboot to slot B marked good: {:.1} s", rebooted.elapsed().as_secs_f64());
    assert!(line.contains("slot B marked good"), "{line}");
    let version_b = vm.shell_ok("cat /etc/hotspare/version", CMD).join("");
    assert_eq!(version_b, update_version, "the update's version runs");
    assert_eq!(booted_and_primary(&mut vm), ("B".into(), "rootfs.1".into()));
    let s = agent_status(&mut vm, CMD, "the outcome of the update", |s| s["last_outcome"].is_string());
    assert_eq!(s["last_outcome"], format!("updated to {update_version}"), "{s}");
    assert_eq!(s["installed"], update_version.as_str(), "{s}");
    let (_, status) = vm.shell("hotspare status", CMD);
    let want = format!("update: idle, runs {update_version}: updated to {update_version}");
    assert!(status.iter().any(|l| l.trim() == want), "`hotspare status` has no {want:?}:\n{}", status.join("\n"));
    assert_eq!(server.fetched("update.raucb"), 1, "{}", server.log());

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
    assert_eq!(server.fetched("other-ca.raucb") + server.fetched("other-board.raucb"), 2, "{}", server.log());
    let s = agent_status(&mut vm, CMD, "up to date", |s| s["state"] == "idle");
    assert!(s["last_error"].is_null(), "the agent, up to date, has nothing to say: {s}");
}

#[test]
fn a_bundle_whose_root_cannot_boot_falls_back_to_the_old_slot_after_three_tries() {
    let Some(files) = bundles() else { return };
    let server = serve_files(files.clone());
    let mut vm = Appliance::boot(&Options::default());
    let (line, _) = vm.wait_ready(BOOT);
    assert!(line.contains("slot A marked good"), "{line}");
    // (also waits for `rauc service` to be on the bus: an install before fails to reach it)
    assert_eq!(booted_and_primary(&mut vm), ("A".into(), "rootfs.0".into()));
    let version_a = vm.shell_ok("cat /etc/hotspare/version", CMD).join("");
    let broken = format!("{version_a}+broken");
    offer(&server, "broken.raucb", &files["broken.raucb"], &broken);
    follow(&mut vm, &server);
    vm.expect(UBOOT_BANNER, INSTALL);
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
    // The agent sees it came back on the old version: that version is refused, not retried.
    let s = agent_status(&mut vm, CMD, "the failed update noticed", |s| s["last_outcome"].is_string());
    let outcome = s["last_outcome"].as_str().unwrap_or("");
    assert!(outcome.starts_with(&format!("{broken} did not stay")), "{s}");
    let s = agent_status(&mut vm, CMD, "the refusal", |s| {
        s["last_error"].as_str().is_some_and(|e| e.contains("was refused"))
    });
    assert_eq!(s["installed"], version_a.as_str(), "{s}");
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(server.fetched("broken.raucb"), 1, "fetched again after it failed to boot:\n{}", server.log());
}
