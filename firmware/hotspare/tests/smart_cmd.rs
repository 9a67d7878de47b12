//! `hotspare smart <device>` on what is not a disk: a clear error and exit status 3 (the
//! installer's "cannot read"). Real disks are the image's hw-tests (QEMU AHCI and NVMe).

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_hotspare");

fn smart(device: &str) -> (Option<i32>, String) {
    let out = Command::new(BIN).args(["smart", device]).output().unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn what_is_not_a_disk_exits_3_with_a_clear_error() {
    let (code, err) = smart("/dev/null");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("error: /dev/null: not a SATA or NVMe disk"), "{err}");

    let d = tempfile::tempdir().unwrap();
    let file = d.path().join("disk.img");
    std::fs::write(&file, [0u8; 4096]).unwrap();
    let (code, err) = smart(file.to_str().unwrap());
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("not a SATA or NVMe disk (not a device node)"), "{err}");

    // An NVMe name goes to the NVMe admin ioctl, which /dev/null does not answer either.
    let nvme = d.path().join("nvme0");
    std::os::unix::fs::symlink("/dev/null", &nvme).unwrap();
    let (code, err) = smart(nvme.to_str().unwrap());
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("nvme0: not a SATA or NVMe disk"), "{err}");

    let (code, err) = smart("/dev/no-such-disk");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("/dev/no-such-disk: No such file"), "{err}");
}
