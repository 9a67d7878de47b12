//! `status.json` in the state directory: the supervisor's verdict (the IPC [`Status`] the
//! services get) and beside it what people and tools want: whether the box has been ready
//! during this boot, the booted slot and whether it was marked good, and each service's
//! state. The runner rewrites it (atomically) whenever any of it changes; `hotspare status`
//! and the hw-tests read it.

use std::path::{Path, PathBuf};

use hotspare_base::fs::write_atomic_unsynced;
use std::collections::BTreeMap;

use hotspare_api::health::Readiness;
use hotspare_ipc::{RoleState, Status};
use serde::{Deserialize, Serialize};

use crate::core::{Core, Run, Service};
use crate::monitor::HealthBook;

/// The file's name in the state directory.
pub const FILE_NAME: &str = "status.json";

/// The contents of `status.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFile {
    #[serde(flatten)]
    pub status: Status,
    #[serde(flatten)]
    pub readiness: Readiness,
    #[serde(default)]
    pub services: Vec<ServiceState>,
    /// The supervisor's process (a reader can tell a file left by one that is gone).
    #[serde(default)]
    pub pid: Option<u32>,
    /// The last role state each service's heartbeats told (the failover spare: armed, how
    /// many NVRs it covers), by service name; the front panel and the console show it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub roles: BTreeMap<String, RoleState>,
}

impl StatusFile {
    /// The spare's role state, if a service reported one: `(armed, covering)`.
    pub fn spare(&self) -> Option<(bool, u32)> {
        self.roles.values().find_map(|r| match *r {
            RoleState::Spare { armed, covering } => Some((armed, covering)),
            RoleState::Nvr => None,
        })
    }
}

/// One service as the core sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceState {
    pub name: String,
    pub critical: bool,
    /// `up`, `starting` (no heartbeat yet), `stopping`, `restarting` (waiting for its
    /// backoff), `crash-looping` (held back by the start limit) or `stopped`.
    pub state: String,
    /// Its process, when one runs.
    pub pid: Option<u32>,
}

/// The states of the core's services (pure).
pub fn service_states(services: &[Service]) -> Vec<ServiceState> {
    services
        .iter()
        .map(|s| {
            let state = match s.run {
                _ if s.up() => "up",
                Run::Running { term_sent: Some(_), .. } => "stopping",
                Run::Running { .. } | Run::Starting { .. } => "starting",
                Run::Stopped { next_start: Some(_) } if s.crash_loops > 0 => "crash-looping",
                Run::Stopped { next_start: Some(_) } => "restarting",
                Run::Stopped { next_start: None } => "stopped",
            };
            ServiceState { name: s.spec.name.clone(), critical: s.spec.critical, state: state.into(), pid: s.pid() }
        })
        .collect()
}

/// Why `status.json` could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}: not a status file: {source}", path.display())]
    Parse { path: PathBuf, source: serde_json::Error },
}

/// Reads a `status.json`.
pub fn read(path: &Path) -> Result<StatusFile, ReadError> {
    let bytes = std::fs::read(path).map_err(|source| ReadError::Io { path: path.into(), source })?;
    serde_json::from_slice(&bytes).map_err(|source| ReadError::Parse { path: path.into(), source })
}

/// `status.json` and the supervisor's part of `health.json`, rewritten when they change.
pub(crate) struct FilesOut {
    pub status: StatusWriter,
    /// The verdict last published (nothing is written before the first).
    pub published: Option<Status>,
    /// Whether the booted slot was marked good (`None`: not tried yet, or no boot counting).
    pub marked: Option<bool>,
    /// The last role state of each service (from its heartbeats).
    pub roles: BTreeMap<String, RoleState>,
}

impl FilesOut {
    /// An input of the core: a heartbeat's role state is kept for `status.json`.
    pub fn input(&mut self, input: &crate::core::Input) {
        if let crate::core::Input::Heartbeat { service, role: Some(role), .. } = input {
            self.roles.insert(service.clone(), *role);
        }
    }

    pub fn write(&mut self, core: &Core, booted: Option<hotspare_platform::bootstate::Slot>, book: &mut HealthBook) {
        let Some(status) = &self.published else { return };
        let file = StatusFile {
            status: status.clone(),
            // With boot counting, ready once the mark was tried: then a ready box whose slot
            // is not marked good is one whose mark failed.
            readiness: Readiness {
                ready: core.was_ready() && (booted.is_none() || self.marked.is_some()),
                slot: booted.map(|s| s.to_string()),
                slot_marked_good: self.marked == Some(true),
            },
            services: service_states(core.services()),
            pid: Some(std::process::id()),
            roles: self.roles.clone(),
        };
        book.set_supervisor(&file);
        if self.status.update(file) {
            book.write();
        }
    }
}

/// Writes `status.json` when its contents change.
#[derive(Debug)]
pub struct StatusWriter {
    path: PathBuf,
    last: Option<StatusFile>,
}

impl StatusWriter {
    pub fn new(state_dir: &Path) -> StatusWriter {
        StatusWriter { path: state_dir.join(FILE_NAME), last: None }
    }

    /// Writes `file` unless it is what was written last; returns whether it changed.
    pub fn update(&mut self, file: StatusFile) -> bool {
        if self.last.as_ref() == Some(&file) {
            return false;
        }
        let written = serde_json::to_vec_pretty(&file)
            .map_err(|e| e.to_string())
            .and_then(|json| write_atomic_unsynced(&self.path, &json, 0o644).map_err(|e| e.to_string()));
        if let Err(e) = written {
            log::error!("status file {}: {e}", self.path.display());
        }
        self.last = Some(file);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspare_ipc::{Level, Mode, ResetCause};

    #[test]
    fn the_file_round_trips_with_the_status_flattened_and_old_files_still_read() {
        let status = Status {
            mode: Mode::Normal,
            healthy: true,
            takeovers_allowed: true,
            last_reset: ResetCause::Watchdog,
            hardware: Level::Ok,
            reason: String::new(),
        };
        let f = StatusFile {
            status: status.clone(),
            readiness: Readiness { ready: true, slot: Some("A".into()), slot_marked_good: true },
            services: vec![ServiceState { name: "failover".into(), critical: true, state: "up".into(), pid: Some(7) }],
            pid: Some(6),
            roles: BTreeMap::from([("failover".into(), RoleState::Spare { armed: true, covering: 1 })]),
        };
        let json = serde_json::to_string_pretty(&f).unwrap();
        assert!(json.contains("\"healthy\": true") && json.contains("\"slot\": \"A\""), "{json}");
        assert!(json.contains("\"covering\": 1") && f.spare() == Some((true, 1)), "{json}");
        assert_eq!(serde_json::from_str::<StatusFile>(&json).unwrap(), f);
        // A status.json of an older supervisor (the Status alone) still reads.
        let old = serde_json::to_string(&status).unwrap();
        let back: StatusFile = serde_json::from_str(&old).unwrap();
        assert_eq!((back.status, back.readiness), (status, Readiness::default()));
        let d = tempfile::tempdir().unwrap();
        let mut w = StatusWriter::new(d.path());
        assert!(w.update(f.clone()) && !w.update(f.clone()));
        assert_eq!(read(&d.path().join(FILE_NAME)).unwrap(), f);
        let e = read(&d.path().join("absent.json")).unwrap_err().to_string();
        assert!(e.contains("absent.json"), "{e}");
    }
}
