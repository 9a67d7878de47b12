//! The hardware watchdog through the Linux watchdog API's file interface: opening the
//! device arms it, each write is a keep-alive, and writing `V` before closing ("magic
//! close") disarms it — done only on a deliberate shutdown. The boot status comes from the
//! driver's sysfs `bootstatus` (`WDIOF_CARDRESET`).
//!
//! Not through the ioctls (`WDIOC_KEEPALIVE`, `WDIOC_SETTIMEOUT`, `WDIOC_GETBOOTSTATUS`):
//! rustix's and nix's ioctl calls are `unsafe`, which the workspace denies. A write is the
//! same keep-alive as `WDIOC_KEEPALIVE`; the timeout is the board's (driver parameter, e.g.
//! `i6300esb.heartbeat=`) and is checked against the configuration through sysfs `timeout`.
//!
//! A regular file stands in for the device in tests (each keep-alive appends a byte, the
//! magic close a `V`): the same code runs against both.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `WDIOF_CARDRESET` of `<linux/watchdog.h>`: the last reboot was caused by the watchdog.
pub const WDIOF_CARDRESET: u32 = 0x0020;

#[derive(Debug, thiserror::Error)]
#[error("watchdog {}: {op}: {source}", path.display())]
pub struct WatchdogError {
    pub path: PathBuf,
    pub op: &'static str,
    #[source]
    pub source: std::io::Error,
}

/// The open (armed) watchdog.
#[derive(Debug)]
pub struct Watchdog {
    path: PathBuf,
    file: File,
}

impl Watchdog {
    /// Opens, and so arms, the watchdog.
    pub fn open(path: &Path) -> Result<Watchdog, WatchdogError> {
        let file = OpenOptions::new().write(true).open(path).map_err(|source| WatchdogError {
            path: path.to_owned(),
            op: "open",
            source,
        })?;
        Ok(Watchdog { path: path.to_owned(), file })
    }

    /// Keep-alive.
    pub fn pet(&mut self) -> Result<(), WatchdogError> {
        self.file.write_all(b"k").map_err(|source| WatchdogError { path: self.path.clone(), op: "keep-alive", source })
    }

    /// Disarms the watchdog and closes it (deliberate shutdown only).
    pub fn magic_close(mut self) -> Result<(), WatchdogError> {
        self.file.write_all(b"V").map_err(|source| WatchdogError { path: self.path.clone(), op: "magic close", source })
    }
}

/// Whether the watchdog reset the box, from a sysfs `bootstatus` file (`None`: unknown).
pub fn fired(bootstatus: &Path) -> Option<bool> {
    let text = std::fs::read_to_string(bootstatus).ok()?;
    let t = text.trim();
    let flags = match t.strip_prefix("0x") {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => t.parse().ok()?,
    };
    Some(flags & WDIOF_CARDRESET != 0)
}

/// The driver's timeout from sysfs `timeout` next to `bootstatus`, if it says.
pub fn driver_timeout(bootstatus: &Path) -> Option<Duration> {
    let text = std::fs::read_to_string(bootstatus.with_file_name("timeout")).ok()?;
    text.trim().parse().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_alives_are_writes_and_the_magic_close_is_a_v() {
        let d = tempfile::tempdir().unwrap();
        let dev = d.path().join("watchdog");
        std::fs::write(&dev, b"").unwrap();
        let mut w = Watchdog::open(&dev).unwrap();
        w.pet().unwrap();
        w.pet().unwrap();
        w.magic_close().unwrap();
        assert_eq!(std::fs::read(&dev).unwrap(), b"kkV");
        let e = Watchdog::open(&d.path().join("none")).unwrap_err().to_string();
        assert!(e.contains("none: open:"), "{e}");
    }

    #[test]
    fn boot_status_and_timeout_from_sysfs() {
        let d = tempfile::tempdir().unwrap();
        let bs = d.path().join("bootstatus");
        std::fs::write(&bs, "32\n").unwrap();
        assert_eq!(fired(&bs), Some(true));
        std::fs::write(&bs, "0\n").unwrap();
        assert_eq!(fired(&bs), Some(false));
        std::fs::write(&bs, "0x20").unwrap();
        assert_eq!(fired(&bs), Some(true));
        std::fs::write(&bs, "junk").unwrap();
        assert_eq!(fired(&bs), None);
        assert_eq!(fired(&d.path().join("missing")), None);
        std::fs::write(d.path().join("timeout"), "60\n").unwrap();
        assert_eq!(driver_timeout(&bs), Some(Duration::from_secs(60)));
    }
}
