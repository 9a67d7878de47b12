//! What the spare keeps on disk so a takeover works after an NVR is gone
//! for good and across a restart of the spare: the last good settings
//! snapshot of each NVR, and the monitor phase of each (which NVRs are
//! taken over). Postcard files written atomically (temp, fsync, rename,
//! directory fsync), so a power cut leaves the old or the new file.
//!
//! Snapshots hold the NVRs' camera and SMTP passwords: every file is
//! created with mode 0600 and the directories with 0700 (owner: the
//! firmware), at creation, never widened and narrowed afterwards.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hotspare_api::TakeoverConfig;
use hotspare_base::fs::{write_atomic, FsError};
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

impl From<FsError> for StateError {
    fn from(e: FsError) -> Self {
        StateError::Io { path: e.path, op: e.op, source: e.source }
    }
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

/// Mode of every state file: readable by the firmware only (snapshots hold passwords).
pub const FILE_MODE: u32 = 0o600;
/// Mode of the state directories.
pub const DIR_MODE: u32 = 0o700;

/// Narrows `path` to `mode` when it grants more (files of an older build).
fn restrict(path: &Path, mode: u32) -> Result<(), StateError> {
    let meta = fs::metadata(path).map_err(|e| StateError::Io { path: path.to_path_buf(), op: "stat", source: e })?;
    if meta.permissions().mode() & 0o777 & !mode != 0 {
        log::warn!("{}: was readable by others; now mode {mode:o}", path.display());
        fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|e| StateError::Io {
            path: path.to_path_buf(),
            op: "chmod",
            source: e,
        })?;
    }
    Ok(())
}

impl StateDir {
    /// Opens (creating with mode [`DIR_MODE`]) the state directory. A directory that exists
    /// with group or world access is narrowed to [`DIR_MODE`] (state of an older build),
    /// and so are the files in it that hold settings.
    pub fn open(dir: &Path) -> Result<StateDir, StateError> {
        let snaps = dir.join("snapshots");
        fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(&snaps).map_err(|e| StateError::Io {
            path: snaps.clone(),
            op: "create",
            source: e,
        })?;
        for d in [dir, snaps.as_path()] {
            restrict(d, DIR_MODE)?;
        }
        for entry in fs::read_dir(&snaps).map_err(|e| StateError::Io { path: snaps.clone(), op: "list", source: e })? {
            let entry = entry.map_err(|e| StateError::Io { path: snaps.clone(), op: "list", source: e })?;
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                restrict(&entry.path(), FILE_MODE)?;
            }
        }
        let nvrs = dir.join("nvrs.postcard");
        if nvrs.is_file() {
            restrict(&nvrs, FILE_MODE)?;
        }
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
        write_atomic(&self.snapshot_path(nvr), &postcard::to_allocvec(snap)?, FILE_MODE)?;
        Ok(true)
    }

    pub fn load_nvrs(&self) -> Result<BTreeMap<String, NvrState>, StateError> {
        Ok(self.read(&self.dir.join("nvrs.postcard"))?.unwrap_or_default())
    }

    pub fn save_nvrs(&self, nvrs: &BTreeMap<String, NvrState>) -> Result<(), StateError> {
        Ok(write_atomic(&self.dir.join("nvrs.postcard"), &postcard::to_allocvec(nvrs)?, FILE_MODE)?)
    }
}

/// The NVRs that the state directory `dir` says are taken over, read without changing
/// anything (a reader never sets a corrupt file aside: that is the engine's job), for the
/// console's and the front panel's status. A missing or unreadable file reads as none.
pub fn taken_over(dir: &Path) -> Vec<String> {
    let path = dir.join("nvrs.postcard");
    let Ok(bytes) = fs::read(&path) else { return Vec::new() };
    match postcard::from_bytes::<BTreeMap<String, NvrState>>(&bytes) {
        Ok(m) => m.into_iter().filter(|(_, s)| matches!(s.phase, Phase::TakenOver { .. })).map(|(id, _)| id).collect(),
        Err(e) => {
            log::debug!("{}: {e}", path.display());
            Vec::new()
        }
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
                    policy: Default::default(),
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
                    handed_back: ["cam1".to_string()].into(),
                },
                identity: None,
            },
        );
        m.insert("nvr2".to_string(), NvrState { phase: Phase::Watching, identity: None });
        s.save_nvrs(&m).unwrap();
        assert_eq!(StateDir::open(d.path()).unwrap().load_nvrs().unwrap(), m);
        assert_eq!(taken_over(d.path()), ["nvr1"]);
    }

    #[test]
    fn a_reader_of_the_phases_changes_nothing() {
        let d = tempfile::tempdir().unwrap();
        assert!(taken_over(d.path()).is_empty(), "no file yet: none taken over");
        fs::write(d.path().join("nvrs.postcard"), b"\xff\xff\xff").unwrap();
        assert!(taken_over(d.path()).is_empty());
        assert!(d.path().join("nvrs.postcard").exists(), "the engine sets a corrupt file aside, not a reader");
    }

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn snapshot_and_state_files_are_private() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("state");
        let s = StateDir::open(&root).unwrap();
        // A temporary file left by a crash, world-readable, must not lend its mode.
        fs::write(root.join("snapshots/nvr1.tmp"), b"old").unwrap();
        fs::set_permissions(root.join("snapshots/nvr1.tmp"), fs::Permissions::from_mode(0o644)).unwrap();
        assert!(s.save_snapshot("nvr1", &snap(), None).unwrap());
        s.save_nvrs(&BTreeMap::new()).unwrap();
        assert_eq!(mode(&root.join("snapshots/nvr1.postcard")), 0o600);
        assert_eq!(mode(&root.join("nvrs.postcard")), 0o600);
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("snapshots")), 0o700);
        assert!(!root.join("snapshots/nvr1.tmp").exists());
    }

    #[test]
    fn state_of_an_older_build_is_narrowed_on_open() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("snapshots")).unwrap();
        fs::set_permissions(d.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let snap_file = d.path().join("snapshots/nvr1.postcard");
        fs::write(&snap_file, postcard::to_allocvec(&snap()).unwrap()).unwrap();
        fs::set_permissions(&snap_file, fs::Permissions::from_mode(0o644)).unwrap();
        let s = StateDir::open(d.path()).unwrap();
        assert_eq!(mode(&snap_file), 0o600);
        assert_eq!(mode(d.path()), 0o700);
        assert_eq!(s.load_snapshot("nvr1").unwrap(), Some(snap()));
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
