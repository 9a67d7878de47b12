//! The hardware-test harness: a QEMU process whose serial console is read
//! line by line with expect-style waits and timeouts and typed on ([`qemu`]),
//! its QMP socket ([`qmp`]), the U-Boot pieces the boot tests need: pflash
//! images, a FAT boot disk built without root (sfdisk + mkfs.vfat + mtools),
//! files read and written on it ([`uboot`]), and the whole appliance image
//! booted as the box boots it ([`appliance`]). Tests skip (with a message) only when `qemu-system-aarch64`
//! is missing; `scripts/test` installs it.

pub mod appliance;
pub mod http;
pub mod qemu;
pub mod qmp;
pub mod shell;
pub mod stream;
pub mod uboot;

use std::path::PathBuf;

/// Multiplies every timeout (slow CI machines): `HW_TIMEOUT_FACTOR=3`.
pub fn timeout_factor() -> u32 {
    std::env::var("HW_TIMEOUT_FACTOR").ok().and_then(|v| v.parse().ok()).filter(|&f| f > 0).unwrap_or(1)
}

/// The path of a program on `PATH`, if any.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}

/// `Some(reason)` when the QEMU tests cannot run here (the only reason to skip).
pub fn skip_reason() -> Option<String> {
    if which("qemu-system-aarch64").is_none() {
        return Some(
            "qemu-system-aarch64 is not installed (apt-get install qemu-system-arm; scripts/test does)".into(),
        );
    }
    None
}
