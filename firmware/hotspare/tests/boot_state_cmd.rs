//! `hotspare boot-state` as RAUC's custom bootloader backend calls it, on a temp
//! directory standing in for the mounted FAT boot partition.

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hotspare");

/// Runs `hotspare boot-state --dir DIR ARGS`; returns (success, stdout, stderr).
fn run(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let o = Command::new(BIN).arg("boot-state").arg("--dir").arg(dir).args(args).output().unwrap();
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn rauc_custom_backend_operations() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    assert_eq!(run(d, &["get-primary"]).1, "A\n");
    let (ok, out, _) = run(d, &["set-primary", "B"]);
    assert!(ok && out.contains("bootstate.0: seq 1, BOOT_ORDER=B A"), "{out}");
    assert_eq!(run(d, &["get-primary"]).1, "B\n");
    assert_eq!(run(d, &["get-state", "B"]).1, "good\n");
    let (ok, out, _) = run(d, &["set-state", "B", "bad"]);
    assert!(ok && out.contains("bootstate.1: seq 2") && out.contains("BOOT_B_LEFT=0"), "{out}");
    assert_eq!(run(d, &["get-state", "B"]).1, "bad\n");
    assert_eq!(run(d, &["get-primary"]).1, "A\n");
    run(d, &["set-state", "A", "bad"]);
    let (ok, _, err) = run(d, &["get-primary"]);
    assert!(!ok && err.contains("no slot of BOOT_ORDER has tries left"), "{err}");
    let (ok, out, _) = run(d, &["mark-good", "B"]);
    assert!(ok && out.contains("seq 4") && out.contains("BOOT_B_LEFT=3"), "{out}");
    assert_eq!(run(d, &["get-primary"]).1, "B\n");
}

#[test]
fn errors_name_the_file_and_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ok, _, err) = run(&d.join("not-mounted"), &["show"]);
    assert!(!ok && err.contains("not-mounted") && err.contains("No such file"), "{err}");
    run(d, &["mark-good", "A"]);
    std::fs::write(d.join("bootstate.1"), b"BS_CRC=00000000\nBOOT_A_LEFT=3\n").unwrap();
    let (ok, out, _) = run(d, &["show"]);
    assert!(ok, "{out}");
    assert!(out.contains("bootstate.1: invalid: checksum mismatch"), "{out}");
    assert!(out.contains("current: bootstate.0") && out.contains("next boot: slot A"), "{out}");
    let (ok, _, err) = run(d, &["set-primary", "C"]);
    assert!(!ok && err.contains("invalid value 'C'"), "{err}");
}
