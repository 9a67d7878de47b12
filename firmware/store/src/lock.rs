//! The single-writer lock of a store: the process that writes or recovers a
//! store holds an exclusive `flock` on `ROOT/.lock` (holding its pid) for as
//! long as any of its [`crate::Store`]s of that root is open. A second
//! process gets [`StoreError::Locked`] naming the holder; readers
//! ([`crate::Store::open_readonly`]) take no lock. Within one process, every
//! `Store::open` of the same root shares one lock (a process re-running
//! recovery on a store it already writes is not a second writer).

use crate::error::StoreError;
use hotspare_base::LockExt;
use rustix::fs::FlockOperation;
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Name of the lock file in the store root (not a valid camera id, so never a camera).
pub const LOCK_FILE: &str = ".lock";

/// A held writer lock; released when the last `Arc` is dropped (the file is closed).
#[derive(Debug)]
pub(crate) struct StoreLock {
    _file: File,
}

/// Locks held by this process, by canonical store root.
fn held() -> &'static Mutex<HashMap<PathBuf, Weak<StoreLock>>> {
    static HELD: OnceLock<Mutex<HashMap<PathBuf, Weak<StoreLock>>>> = OnceLock::new();
    HELD.get_or_init(Default::default)
}

/// Takes (or shares, within this process) the writer lock of the store at `root`.
pub(crate) fn lock_store(root: &Path) -> Result<Arc<StoreLock>, StoreError> {
    let canon = root.canonicalize().map_err(|e| StoreError::io(root, "resolve store root", e))?;
    let mut held = held().lock_or_recover();
    if let Some(l) = held.get(&canon).and_then(Weak::upgrade) {
        return Ok(l);
    }
    let path = canon.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o644)
        .open(&path)
        .map_err(|e| StoreError::io(&path, "open lock file", e))?;
    // This process's own lock, just released, can still be held for a moment by a copy of its
    // file descriptor in a child between fork and exec (another thread starting a program):
    // then the lock file names this process, and the lock is tried again for up to 2 s.
    let mut own_retries = 400;
    loop {
        match rustix::fs::flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => break,
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let pid = holder_pid(&file);
                if pid == Some(std::process::id()) && own_retries > 0 {
                    own_retries -= 1;
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    continue;
                }
                let holder = match pid {
                    Some(pid) => format!("pid {pid}"),
                    None => "a process that wrote no pid".to_owned(),
                };
                return Err(StoreError::Locked { root: canon, holder });
            }
            Err(e) => return Err(StoreError::io(&path, "flock lock file", e.into())),
        }
    }
    // Only the holder writes the file: its pid, for the error above.
    let pid = format!("{}\n", std::process::id());
    file.set_len(0)
        .and_then(|_| rustix::io::pwrite(&file, pid.as_bytes(), 0).map_err(Into::into))
        .map_err(|e| StoreError::io(&path, "write pid to lock file", e))?;
    let l = Arc::new(StoreLock { _file: file });
    held.retain(|_, w| w.strong_count() > 0);
    held.insert(canon, Arc::downgrade(&l));
    Ok(l)
}

/// The pid the holder wrote into the lock file (read from its start).
fn holder_pid(file: &File) -> Option<u32> {
    let mut buf = [0u8; 32];
    let n = file.read_at(&mut buf, 0).ok()?;
    std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
}
