//! The stored form of a change waiting for its confirmation
//! ([`crate::confirm::Pending`]), so that a restart before the confirmation
//! reverts it. One definition for every channel that holds a confirm window.
//!
//! Each holder (the console, the front panel, the spare's API) has its own
//! file, `<settings>/pending-<holder>.toml` ([`file_name`]): the three run in
//! separate processes, each with its own [`crate::confirm::ConfirmWindow`] in
//! memory, and a shared file would be overwritten or removed by a holder that
//! knows nothing of the other's change (the console's confirmation would
//! delete the API's pending change, which a restart would then keep). The
//! file is written power-safe ([`hotspare_base::fs::write_atomic`], 0600) and
//! removed (directory fsynced) when the change is confirmed or reverted.

use std::path::{Path, PathBuf};

use crate::confirm::Pending;

/// The serial console's holder name.
pub const CONSOLE: &str = "console";
/// The front panel's holder name.
pub const PANEL: &str = "panel";
/// The spare's HTTP API's holder name (every `api:<user>` channel).
pub const API: &str = "api";

#[derive(Debug, thiserror::Error)]
pub enum PendingError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {problem}", path.display())]
    Parse { path: PathBuf, problem: String },
    #[error(transparent)]
    Fs(#[from] hotspare_base::fs::FsError),
}

/// `pending-<holder>.toml`.
pub fn file_name(holder: &str) -> String {
    format!("pending-{holder}.toml")
}

/// The file of `holder` in the settings directory `dir`.
pub fn path(dir: &Path, holder: &str) -> PathBuf {
    dir.join(file_name(holder))
}

/// The change `holder` left waiting (`None`: nothing pending).
pub fn read(dir: &Path, holder: &str) -> Result<Option<Pending>, PendingError> {
    let path = path(dir, holder);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(PendingError::Io { path, source }),
    };
    toml::from_str(&text).map(Some).map_err(|e| PendingError::Parse { path, problem: e.message().to_string() })
}

/// Stores `p` for `holder`, or forgets it (`None`).
pub fn write(dir: &Path, holder: &str, p: Option<&Pending>) -> Result<(), PendingError> {
    let path = path(dir, holder);
    match p {
        Some(p) => {
            let text =
                toml::to_string(p).map_err(|e| PendingError::Parse { path: path.clone(), problem: e.to_string() })?;
            Ok(hotspare_base::fs::write_atomic(&path, text.as_bytes(), 0o600)?)
        }
        None => match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(PendingError::Io { path, source: e }),
            _ => Ok(hotspare_base::fs::sync_dir(dir)?),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_read_back_per_holder_and_forgotten() {
        let d = tempfile::tempdir().unwrap();
        let p = Pending { applied: 3, revert_to: 2, channel: "api:alice".into(), deadline_us: 1_000 };
        assert_eq!(read(d.path(), API).unwrap(), None);
        write(d.path(), API, Some(&p)).unwrap();
        assert_eq!(read(d.path(), API).unwrap(), Some(p));
        assert_eq!(read(d.path(), CONSOLE).unwrap(), None, "each holder has its own file");
        assert!(d.path().join("pending-api.toml").exists());
        write(d.path(), API, None).unwrap();
        write(d.path(), API, None).unwrap();
        assert_eq!(read(d.path(), API).unwrap(), None);
        std::fs::write(path(d.path(), PANEL), "applied = \"x\"").unwrap();
        let e = read(d.path(), PANEL).unwrap_err();
        assert!(e.to_string().contains("pending-panel.toml"), "{e}");
    }
}
