//! What the core asks the runtime to do, in order. Each effect is one piece of I/O; the runtime
//! performs them one after the other (a recorder is stopped, its segment closed, before the
//! channel it frees is used) and reports back what it learns as [`Input`](super::Input)s.

use std::collections::BTreeMap;

use hotspare_api::{CameraSettings, EmailSettings};
use hotspare_store::StoreConfig;

use crate::state::{NvrState, Snapshot};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Ask the NVR for its status and, when it answers, its settings; report
    /// [`Input::Checked`](super::Input::Checked).
    Check { nvr: String },
    /// Write this settings snapshot (it differs from the one on disk).
    SaveSnapshot { nvr: String, snapshot: Box<Snapshot> },
    /// Write the phase of every NVR, so a restarted spare resumes its takeovers.
    SaveState { nvrs: BTreeMap<String, NvrState> },
    /// Reopen the NVR's failover store with its recording settings (nothing records into it and
    /// nothing re-inserts from it now).
    ReopenStore { nvr: String, config: StoreConfig },
    /// Record this camera of a taken-over NVR on the spare.
    StartRecorder { nvr: String, camera: CameraSettings },
    /// Stop recording it (returns once its segment is closed).
    StopRecorder { nvr: String, camera: String, why: StopReason },
    /// Announce the NVR's name over UPnP/SSDP (the spare stands in for it).
    Announce { nvr: String, name: String },
    /// Stop announcing it.
    Withdraw { nvr: String, name: String },
    /// Send this email.
    Email { nvr: String, settings: EmailSettings, subject: String, body: String },
    /// Re-insert the NVR's held video into it; report [`Input::ReinsertEnded`](super::Input::ReinsertEnded)
    /// when done or when there is nothing to re-insert.
    StartReinsert { nvr: String },
}

/// Why a recorder is stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// The NVR records this camera again.
    HandBack,
    /// Failback: the NVR records all its cameras again.
    Failback,
    /// The channel went to a camera of a higher-priority NVR (or the camera is no longer wanted).
    Reallocated,
}
