//! What the spare keeps on disk so a takeover works after an NVR is gone
//! for good and across a restart of the spare: the last good settings
//! snapshot of each NVR, and the monitor phase of each (which NVRs are
//! taken over). Postcard files written atomically (temp, fsync, rename,
//! directory fsync), so a power cut leaves the old or the new file.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use hotspare_api::TakeoverConfig;
use serde::{Deserialize, Serialize};

use crate::monitor::{Identity, Phase};

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("{path}: {op}: {source}")]
    Io { path: PathBuf, op: &'static str, source: std::io::Error },
    #[error("{path}: unreadable state ({source}); it was moved aside to {aside}")]
    Corrupt { path: PathBuf, aside: PathBuf, source: postcard::Error },
    #[error("encoding state: {0}")]
    Encode(#[from] postcard::Error),
}

/// The last good settings of an NVR, as pulled from its `/config`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    pub taken_us: i64,
    pub identity: Identity,
    pub config: TakeoverConfig,
}

/// Per-NVR state that survives a restart.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvrState {
    pub phase: Phase,
    pub identity: Option<Identity>,
}

/// The state directory.
#[derive(Clone, Debug)]
pub struct StateDir {
    dir: PathBuf,
}

/// Writes `bytes` to `path` so that a crash leaves either the old or the new content.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), StateError> {
    let io = |op, source| StateError::Io { path: path.to_path_buf(), op, source };
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| io("create", e))?;
    f.write_all(bytes).map_err(|e| io("write", e))?;
    f.sync_all().map_err(|e| io("fsync", e))?;
    fs::rename(&tmp, path).map_err(|e| io("rename", e))?;
    if let Some(dir) = path.parent() {
        File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io("fsync directory", e))?;
    }
    Ok(())
}

impl StateDir {
    pub fn open(dir: &Path) -> Result<StateDir, StateError> {
        let snaps = dir.join("snapshots");
        fs::create_dir_all(&snaps).map_err(|e| StateError::Io { path: snaps, op: "create", source: e })?;
        Ok(StateDir { dir: dir.to_path_buf() })
    }

    fn snapshot_path(&self, nvr: &str) -> PathBuf {
        self.dir.join("snapshots").join(format!("{nvr}.postcard"))
    }

    fn read<T: for<'de> Deserialize<'de>>(&self, path: &Path) -> Result<Option<T>, StateError> {
        let bytes = match fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StateError::Io { path: path.to_path_buf(), op: "read", source: e }),
        };
        match postcard::from_bytes(&bytes) {
            Ok(v) => Ok(Some(v)),
            Err(source) => {
                let aside = path.with_extension("corrupt");
                let _ = fs::rename(path, &aside);
                Err(StateError::Corrupt { path: path.to_path_buf(), aside, source })
            }
        }
    }

    pub fn load_snapshot(&self, nvr: &str) -> Result<Option<Snapshot>, StateError> {
        self.read(&self.snapshot_path(nvr))
    }

    /// Saves the snapshot when it differs from the stored one (returns
    /// whether it wrote).
    pub fn save_snapshot(&self, nvr: &str, snap: &Snapshot, previous: Option<&Snapshot>) -> Result<bool, StateError> {
        if previous.is_some_and(|p| p.config == snap.config && p.identity == snap.identity) {
            return Ok(false);
        }
        atomic_write(&self.snapshot_path(nvr), &postcard::to_allocvec(snap)?)?;
        Ok(true)
    }

    pub fn load_nvrs(&self) -> Result<BTreeMap<String, NvrState>, StateError> {
        Ok(self.read(&self.dir.join("nvrs.postcard"))?.unwrap_or_default())
    }

    pub fn save_nvrs(&self, nvrs: &BTreeMap<String, NvrState>) -> Result<(), StateError> {
        atomic_write(&self.dir.join("nvrs.postcard"), &postcard::to_allocvec(nvrs)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Reason;
    use hotspare_api::{Action, CameraSettings, EventKind, EventRule, RecordingSettings, ServerSettings};

    fn snap() -> Snapshot {
        Snapshot {
            taken_us: 5,
            identity: Identity { serial: "SN".into(), server_name: "NVR".into(), disk_generation: "g".into() },
            config: TakeoverConfig {
                cameras: vec![CameraSettings {
                    id: "cam0".into(),
                    name: "Door".into(),
                    url: "rtsp://h/cam0".into(),
                    user: Some("u".into()),
                    password: None,
                }],
                recording: RecordingSettings {
                    mode: "continuous".into(),
                    segment_seconds: 60,
                    retention_days: None,
                    high_water_percent: 90,
                    stream: "main".into(),
                },
                events: vec![EventRule { on: EventKind::Takeover, action: Action::Email }],
                email: None,
                server: ServerSettings {
                    name: "NVR".into(),
                    upnp: true,
                    admin_user: "admin".into(),
                    admin_password_hash: "x".into(),
                },
            },
        }
    }

    #[test]
    fn snapshot_and_phase_round_trip() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        assert_eq!(s.load_snapshot("nvr1").unwrap(), None);
        assert!(s.save_snapshot("nvr1", &snap(), None).unwrap());
        let back = s.load_snapshot("nvr1").unwrap().unwrap();
        assert_eq!(back, snap());
        assert!(!s.save_snapshot("nvr1", &snap(), Some(&back)).unwrap());
        let mut m = BTreeMap::new();
        m.insert(
            "nvr1".to_string(),
            NvrState {
                phase: Phase::TakenOver {
                    reason: Reason::NotRecording { cameras: 1 },
                    since_us: 9,
                    covering: ["cam0".to_string()].into(),
                },
                identity: None,
            },
        );
        s.save_nvrs(&m).unwrap();
        assert_eq!(StateDir::open(d.path()).unwrap().load_nvrs().unwrap(), m);
    }

    #[test]
    fn corrupt_state_is_moved_aside_with_a_clear_error() {
        let d = tempfile::tempdir().unwrap();
        let s = StateDir::open(d.path()).unwrap();
        fs::write(d.path().join("snapshots/nvr1.postcard"), b"\xff\xff\xff").unwrap();
        let e = s.load_snapshot("nvr1").unwrap_err();
        assert!(e.to_string().contains("moved aside"), "{e}");
        assert!(d.path().join("snapshots/nvr1.corrupt").exists());
        assert_eq!(s.load_snapshot("nvr1").unwrap(), None);
    }
}
