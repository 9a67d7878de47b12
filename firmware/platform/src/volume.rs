//! The write probe of a recording volume: can a file be created, written,
//! synced to disk and removed?

use std::io::Write;
use std::path::Path;

/// Outcome of the write probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub writable: bool,
    /// Empty when the probe succeeded.
    pub detail: String,
}

// A local copy until hotspare-base has the shared one (issue 7, helper 1).
fn is_nospc(e: &std::io::Error) -> bool {
    e.raw_os_error() == Some(rustix::io::Errno::NOSPC.raw_os_error())
}

/// Create, write, fdatasync and unlink `<dir>/.probe-<pid>`. ENOSPC leaves the volume
/// writable (a full volume is a recycling problem, not a disk failure) but is reported.
pub fn probe(dir: &Path) -> Probe {
    let path = dir.join(format!(".probe-{}", std::process::id()));
    let r = (|| {
        let mut f = std::fs::OpenOptions::new().write(true).create(true).truncate(true).open(&path)?;
        f.write_all(b"hotspare storage probe\n")?;
        f.sync_data()?;
        drop(f);
        std::fs::remove_file(&path)
    })();
    match r {
        Ok(()) => Probe { writable: true, detail: String::new() },
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            if is_nospc(&e) {
                Probe { writable: true, detail: format!("{}: volume full: {e}", dir.display()) }
            } else {
                Probe { writable: false, detail: format!("{}: write probe failed: {e}", dir.display()) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_ok_and_missing_dir() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(probe(d.path()), Probe { writable: true, detail: String::new() });
        assert!(std::fs::read_dir(d.path()).unwrap().next().is_none(), "the probe file is removed");
        let gone = d.path().join("gone");
        let p = probe(&gone);
        assert!(!p.writable && p.detail.contains("No such file"), "{p:?}");
    }
}
