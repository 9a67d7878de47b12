//! What a camera's recording task reports: state, counters, last frame.

use hotspare_base::LockExt;
use std::sync::{Arc, Mutex};

/// Connection state of a camera's recorder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CameraState {
    Connecting,
    Recording,
    /// Waiting before the next attempt after `error`.
    Retrying {
        error: String,
    },
    Stopped,
}

/// A snapshot of one camera's recorder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CameraStatus {
    pub state: CameraState,
    pub frames: u64,
    pub bytes: u64,
    pub last_frame_wall_us: Option<i64>,
    pub lost_packets: u64,
    pub discontinuities: u64,
    pub dropped_frames: u64,
    pub sessions: u64,
    /// Batches the store could not take (volume full, recycling failing).
    pub store_failures: u64,
    pub last_error: Option<String>,
    /// Transport of the latest session: `"tcp"` (interleaved) or `"udp"`.
    pub transport: Option<&'static str>,
    /// Audio frames stored, and dropped (damaged by loss, before the first
    /// keyframe of a segment, or not stored).
    pub audio_frames: u64,
    pub audio_dropped: u64,
}

impl Default for CameraStatus {
    fn default() -> Self {
        CameraStatus {
            state: CameraState::Connecting,
            frames: 0,
            bytes: 0,
            last_frame_wall_us: None,
            lost_packets: 0,
            discontinuities: 0,
            dropped_frames: 0,
            sessions: 0,
            store_failures: 0,
            last_error: None,
            transport: None,
            audio_frames: 0,
            audio_dropped: 0,
        }
    }
}

/// Shared handle the recorder updates and the API reads.
#[derive(Clone, Debug, Default)]
pub struct StatusHandle(Arc<Mutex<CameraStatus>>);

impl StatusHandle {
    pub fn get(&self) -> CameraStatus {
        self.0.lock_or_recover().clone()
    }
    pub fn update(&self, f: impl FnOnce(&mut CameraStatus)) {
        f(&mut self.0.lock_or_recover())
    }
}
