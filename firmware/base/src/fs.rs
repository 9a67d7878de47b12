//! Durable file replacement and the I/O error kinds callers branch on.
//!
//! [`write_atomic`] is the one way a file is replaced: a crash (or power cut)
//! leaves either the old or the new content, never a mix, and the new name is
//! durable when it returns.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// A failed file-system step: which one, on which path.
#[derive(Debug, thiserror::Error)]
#[error("{}: {op}: {source}", path.display())]
pub struct FsError {
    /// The path the step acted on (the temporary file, the target or its directory).
    pub path: PathBuf,
    /// The step: "create", "write", "fsync", "rename", "fsync directory", ...
    pub op: &'static str,
    #[source]
    pub source: io::Error,
}

impl FsError {
    fn at<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(io::Error) -> FsError + 'a {
        move |source| FsError { path: path.to_owned(), op, source }
    }
}

/// Replaces `path` with `bytes` so that a crash leaves the old or the new content: writes
/// `path` with extension `tmp` (a leftover of a crash is removed first, so the new file is
/// created with exactly `mode`, e.g. 0600 for secrets), fsyncs it, renames it over `path`
/// and fsyncs the directory. On an error the temporary file is removed.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
    replace(path, bytes, mode, true)
}

/// [`write_atomic`] without the two fsyncs: readers never see a torn file, but after a power
/// cut the old content may come back. For files rewritten every second whose loss is harmless
/// (the recorder's status file), where an fsync per write would only load the disk.
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8], mode: u32) -> Result<(), FsError> {
    replace(path, bytes, mode, false)
}

fn replace(path: &Path, bytes: &[u8], mode: u32, durable: bool) -> Result<(), FsError> {
    let tmp = path.with_extension("tmp");
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(FsError::at(&tmp, "remove stale temporary file")(e)),
    }
    let written = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)
            .map_err(FsError::at(&tmp, "create"))?;
        f.write_all(bytes).map_err(FsError::at(&tmp, "write"))?;
        if durable {
            f.sync_all().map_err(FsError::at(&tmp, "fsync"))?;
        }
        fs::rename(&tmp, path).map_err(FsError::at(path, "rename"))
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written?;
    if durable {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            sync_dir(dir)?;
        }
    }
    Ok(())
}

/// fsyncs a directory so entries created, renamed or removed in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), FsError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(FsError::at(dir, "fsync directory"))
}

/// Whether `e` is "no space left on device" (ENOSPC): a full volume is a recycling problem,
/// not a disk failure, and callers handle it apart.
pub fn is_nospc(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_content_with_the_given_mode_and_leaves_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("state.postcard");
        // A stale temporary file of a crash, readable by all: its mode must not carry over.
        fs::write(d.path().join("state.tmp"), b"stale").unwrap();
        fs::set_permissions(d.path().join("state.tmp"), fs::Permissions::from_mode(0o644)).unwrap();
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(!d.path().join("state.tmp").exists());
        write_atomic_unsynced(&p, b"three", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"three");
    }

    #[test]
    fn a_failed_replace_names_the_step_and_keeps_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f");
        write_atomic(&p, b"old", 0o644).unwrap();
        // Renaming a file over a non-empty directory fails.
        let target = d.path().join("dir");
        fs::create_dir(&target).unwrap();
        fs::write(target.join("x"), b"").unwrap();
        let e = write_atomic(&target, b"new", 0o644).unwrap_err();
        assert_eq!((e.op, e.path.as_path()), ("rename", target.as_path()));
        assert!(!d.path().join("dir.tmp").exists(), "temporary file removed");
        assert_eq!(fs::read(&p).unwrap(), b"old");
        assert!(e.to_string().contains("rename"), "{e}");
    }

    #[test]
    fn nospc_is_recognised_by_its_os_error() {
        assert!(is_nospc(&io::Error::from_raw_os_error(28)));
        assert!(!is_nospc(&io::Error::from_raw_os_error(5)));
        assert!(!is_nospc(&io::Error::other("no space")));
    }
}
