//! The hardware watchdog through the Linux watchdog API: opening the device arms it; at
//! open the configured timeout is set with `WDIOC_SETTIMEOUT` (the driver may round or
//! clamp it: what it accepted is reported), each keep-alive is `WDIOC_KEEPALIVE`, the boot
//! status comes from `WDIOC_GETBOOTSTATUS` (`WDIOF_CARDRESET`; the driver's sysfs
//! `bootstatus` is the fallback), and writing `V` before closing ("magic close") disarms it
//! — done only on a deliberate shutdown. The ioctls are the safe wrappers of
//! [`hotspare_platform::ioctl`].
//!
//! A file that answers `ENOTTY` to the ioctls (a regular file: the tests' stand-in) is
//! driven through writes instead, the watchdog API's file interface: each keep-alive appends
//! a `k`, the magic close a `V`. The same code runs against both.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hotspare_platform::ioctl;
use rustix::io::Errno;

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

/// What the device told at open.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Opened {
    /// The driver's identity (`WDIOC_GETSUPPORT`), if it answers.
    pub identity: Option<String>,
    /// The timeout the driver accepted (`WDIOC_SETTIMEOUT`); `None`: not set through the
    /// ioctl (a file, or a driver without `WDIOF_SETTIMEOUT`).
    pub timeout: Option<Duration>,
    /// Why the timeout could not be set, for the log.
    pub timeout_error: Option<String>,
    /// `WDIOC_GETBOOTSTATUS`: the watchdog reset the box (`None`: the device does not say).
    pub fired: Option<bool>,
}

/// The open (armed) watchdog.
#[derive(Debug)]
pub struct Watchdog {
    path: PathBuf,
    file: File,
    /// Keep-alives through `WDIOC_KEEPALIVE` (false: through writes).
    ioctls: bool,
}

impl Watchdog {
    /// Opens, and so arms, the watchdog and asks for `timeout`.
    pub fn open(path: &Path, timeout: Duration) -> Result<(Watchdog, Opened), WatchdogError> {
        let file = OpenOptions::new().write(true).open(path).map_err(|source| WatchdogError {
            path: path.to_owned(),
            op: "open",
            source,
        })?;
        let mut opened =
            Opened { identity: ioctl::watchdog_support(&file).ok().map(|i| i.identity), ..Opened::default() };
        let secs = u32::try_from(timeout.as_secs()).unwrap_or(u32::MAX);
        let ioctls = match ioctl::watchdog_set_timeout(&file, secs) {
            Ok(t) => {
                opened.timeout = Some(Duration::from_secs(u64::from(t)));
                true
            }
            Err(Errno::NOTTY) => false,
            Err(e) => {
                // A real watchdog that cannot change its timeout: say what it runs with.
                let now = ioctl::watchdog_timeout(&file).map(|t| format!("{t} s")).unwrap_or_else(|_| "unknown".into());
                opened.timeout_error = Some(format!("WDIOC_SETTIMEOUT {secs} s: {e} (the driver's timeout: {now})"));
                true
            }
        };
        opened.fired = ioctl::watchdog_boot_status(&file).ok().map(|f| f & WDIOF_CARDRESET != 0);
        Ok((Watchdog { path: path.to_owned(), file, ioctls }, opened))
    }

    /// Keep-alive.
    pub fn pet(&mut self) -> Result<(), WatchdogError> {
        if self.ioctls {
            match ioctl::watchdog_keepalive(&self.file) {
                Ok(()) => return Ok(()),
                // Not the device we thought: the write interface does the same.
                Err(Errno::NOTTY) => self.ioctls = false,
                Err(e) => return Err(self.error("keep-alive", e.into())),
            }
        }
        self.file.write_all(b"k").map_err(|e| self.error("keep-alive", e))
    }

    /// Disarms the watchdog and closes it (deliberate shutdown only).
    pub fn magic_close(mut self) -> Result<(), WatchdogError> {
        self.file.write_all(b"V").map_err(|e| self.error("magic close", e))
    }

    fn error(&self, op: &'static str, source: std::io::Error) -> WatchdogError {
        WatchdogError { path: self.path.clone(), op, source }
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
    fn a_file_answers_enotty_and_is_driven_through_writes() {
        let d = tempfile::tempdir().unwrap();
        let dev = d.path().join("watchdog");
        std::fs::write(&dev, b"").unwrap();
        let (mut w, opened) = Watchdog::open(&dev, Duration::from_secs(60)).unwrap();
        assert_eq!(opened, Opened::default(), "a file says nothing through the ioctls");
        w.pet().unwrap();
        w.pet().unwrap();
        w.magic_close().unwrap();
        assert_eq!(std::fs::read(&dev).unwrap(), b"kkV");
        let e = Watchdog::open(&d.path().join("none"), Duration::from_secs(60)).unwrap_err().to_string();
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
