//! `<storage.dir>/.recorder-status.json`: what the recorder process tells
//! the API process, rewritten every second (temp file + rename; in place
//! when the volume is full). A file older than [`STALE_AFTER`] means the
//! recorder is not working (dead, frozen, or unable to write).

use hotspare_base::fs::{is_nospc, write_atomic_unsynced};
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const FILE_NAME: &str = ".recorder-status.json";
/// The status file, and a camera's last frame, must be at most this old for "recording".
pub const STALE_AFTER: Duration = Duration::from_secs(3);

/// Content of the status file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecorderStatus {
    /// When the recorder wrote this, µs since the Unix epoch.
    pub written_us: i64,
    pub pid: u32,
    pub cameras: Vec<CameraEntry>,
    pub recycle: RecycleEntry,
    /// Video bytes the recorder process made durable since it started (the store's count);
    /// the API process relays it to the supervisor as recording progress.
    #[serde(default)]
    pub bytes_fsynced: u64,
    /// Cameras that should be recording now (every configured camera).
    #[serde(default)]
    pub cameras_expected: u32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CameraEntry {
    pub id: String,
    /// `connecting`, `recording`, `retrying`, `stopped`.
    pub state: String,
    pub frames: u64,
    pub last_frame_us: Option<i64>,
    pub last_error: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecycleEntry {
    pub failing: bool,
    pub reason: String,
}

pub fn path(dir: &Path) -> PathBuf {
    dir.join(FILE_NAME)
}

/// Writes the status atomically (temp file, rename). On a full volume the existing file is
/// overwritten in place, padded with spaces to its old length, so a full disk does not make
/// the recorder look dead.
pub fn write(dir: &Path, status: &RecorderStatus) -> std::io::Result<()> {
    let json = serde_json::to_vec(status).map_err(std::io::Error::other)?;
    let target = path(dir);
    match write_atomic_unsynced(&target, &json, 0o644).map_err(|e| e.source) {
        Err(e) if is_nospc(&e) => {
            let old_len = std::fs::metadata(&target)?.len() as usize;
            if json.len() > old_len {
                return Err(e);
            }
            let mut padded = json;
            padded.resize(old_len, b' ');
            let mut f = std::fs::OpenOptions::new().write(true).open(&target)?;
            f.write_all(&padded)
        }
        other => other,
    }
}

/// Reads the status file; `None` when missing or unreadable (a torn in-place write is retried
/// once).
pub fn read(dir: &Path) -> Option<RecorderStatus> {
    for attempt in 0..2 {
        if let Ok(bytes) = std::fs::read(path(dir)) {
            if let Ok(s) = serde_json::from_slice(&bytes) {
                return Some(s);
            }
        }
        if attempt == 0 {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let d = tempfile::tempdir().unwrap();
        assert!(read(d.path()).is_none());
        let s = RecorderStatus {
            written_us: 5,
            pid: 1,
            cameras: vec![CameraEntry {
                id: "c".into(),
                state: "recording".into(),
                frames: 3,
                last_frame_us: Some(4),
                last_error: None,
            }],
            recycle: RecycleEntry::default(),
            bytes_fsynced: 7,
            cameras_expected: 1,
        };
        write(d.path(), &s).unwrap();
        assert_eq!(read(d.path()), Some(s));
    }
}
