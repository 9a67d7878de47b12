//! Reading and writing the two boot-state copies in a mounted FAT directory
//! (the boot partition). The writer overwrites the older or invalid copy in
//! place with seq+1 and fsyncs it, so a power cut leaves the other copy intact;
//! the pure rules are in [`crate::bootstate`].

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::bootstate::{choose, BootState, Choice, Copy, FILE_NAMES, MAX_LEN};

#[derive(Debug, Error)]
pub enum IoError {
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    #[error("{}: cannot write: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
}

/// Both copies of a directory and the choice between them.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub dir: PathBuf,
    pub copies: [Copy; 2],
    pub choice: Choice,
}

impl Loaded {
    pub fn path(&self, index: usize) -> PathBuf {
        self.dir.join(FILE_NAMES[index])
    }
}

fn read_copy(path: &Path) -> Result<Copy, IoError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Copy::Missing),
        Err(source) => return Err(IoError::Read { path: path.into(), source }),
    };
    let mut bytes = Vec::new();
    // One byte over the limit is enough to say "too long".
    file.take(MAX_LEN as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| IoError::Read { path: path.into(), source })?;
    Ok(match BootState::parse(&bytes) {
        Ok(s) => Copy::Valid(s),
        Err(e) => Copy::Invalid(e.to_string()),
    })
}

/// Reads `bootstate.0` and `bootstate.1` of `dir` (a missing file is a missing
/// copy; an unreadable one is an error naming it).
pub fn load(dir: &Path) -> Result<Loaded, IoError> {
    // A missing directory (boot partition not mounted) is an error, not two missing copies.
    let meta = fs::metadata(dir).map_err(|source| IoError::Read { path: dir.into(), source })?;
    if !meta.is_dir() {
        let source = io::Error::other("not a directory (the mounted FAT boot partition)");
        return Err(IoError::Read { path: dir.into(), source });
    }
    let copies = [read_copy(&dir.join(FILE_NAMES[0]))?, read_copy(&dir.join(FILE_NAMES[1]))?];
    let choice = choose(&copies);
    Ok(Loaded { dir: dir.to_path_buf(), copies, choice })
}

/// Writes `next` (its seq replaced by the current seq + 1) over the copy the
/// choice names, in place, then fsyncs the file and the directory. Returns the
/// path written and the state as written.
pub fn store(loaded: &Loaded, next: &BootState) -> Result<(PathBuf, BootState), IoError> {
    let written = loaded.choice.successor(next);
    let path = loaded.path(loaded.choice.write_to);
    let werr = |source| IoError::Write { path: path.clone(), source };
    let mut f = OpenOptions::new().write(true).create(true).truncate(true).open(&path).map_err(werr)?;
    f.write_all(&written.serialize()).map_err(werr)?;
    f.sync_all().map_err(werr)?;
    // FAT (vfat) has no directory fsync semantics beyond the file's; ignore EINVAL there.
    if let Ok(d) = File::open(&loaded.dir) {
        let _ = d.sync_all();
    }
    Ok((path, written))
}

/// Writes raw bytes as copy `index` (tests: torn and corrupt copies).
pub fn write_raw(dir: &Path, index: usize, bytes: &[u8]) -> Result<(), IoError> {
    let path = dir.join(FILE_NAMES[index % 2]);
    fs::write(&path, bytes).map_err(|source| IoError::Write { path, source })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstate::Slot;

    #[test]
    fn writes_alternate_and_a_torn_newer_copy_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let l = load(dir.path()).unwrap();
        assert_eq!((l.copies[0].clone(), l.choice.from), (Copy::Missing, None));
        let (p, s) = store(&l, &l.choice.state.boot_attempt().1).unwrap();
        assert_eq!((p.file_name().unwrap().to_str().unwrap(), s.seq, s.a_left), ("bootstate.0", 1, 2));
        let l = load(dir.path()).unwrap();
        let (p, s) = store(&l, &l.choice.state.mark_good(Slot::A)).unwrap();
        assert_eq!((p.file_name().unwrap().to_str().unwrap(), s.seq, s.a_left), ("bootstate.1", 2, 3));
        // Tear the newer copy: the reader takes copy 0 again and says why copy 1 is invalid.
        let full = fs::read(dir.path().join("bootstate.1")).unwrap();
        write_raw(dir.path(), 1, &full[..full.len() - 3]).unwrap();
        let l = load(dir.path()).unwrap();
        assert_eq!((l.choice.from, l.choice.state.seq, l.choice.write_to), (Some(0), 1, 1));
        assert!(matches!(&l.copies[1], Copy::Invalid(why) if why.contains("checksum")), "{:?}", l.copies[1]);
    }

    #[test]
    fn an_unreadable_copy_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("bootstate.0")).unwrap();
        let e = load(dir.path()).unwrap_err().to_string();
        assert!(e.contains("bootstate.0"), "{e}");
        let e = load(&dir.path().join("absent")).unwrap_err().to_string();
        assert!(e.contains("absent") && e.contains("No such file"), "{e}");
    }
}
