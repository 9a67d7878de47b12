//! Types at the boundary between the recorder and the store.

use hotspare_media::{Codec, CodecParams};

/// One access unit handed to [`crate::CameraWriter::write`]. Its bytes are the
/// next `pieces` entries of the batch's `IoSlice` list, and they are already
/// in sample-file form: a sequence of 4-byte big-endian length + NAL unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameIn {
    /// Presentation time, 90 kHz, extended (monotonic across RTP wrap).
    pub pts_90k: i64,
    /// Wall-clock time of this frame, microseconds since the Unix epoch.
    pub wall_us: i64,
    /// Random access point (IDR / IRAP).
    pub keyframe: bool,
    /// Frames were lost just before this one (RTP sequence gap): the store
    /// starts a new segment here so no segment spans a hole.
    pub discontinuity: bool,
    /// Sum of the lengths of this frame's pieces.
    pub len: u32,
    /// Number of `IoSlice`s of the batch that belong to this frame.
    pub pieces: u32,
}

/// Codec and parameter sets of the stream being written; a change starts a
/// new segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamInfo {
    pub codec: Codec,
    pub params: CodecParams,
}

/// Whether retention keeps the volume under its high-water mark.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum RecycleState {
    Ok,
    /// Nothing more can be deleted and usage stays above the high-water
    /// mark (or writes fail with ENOSPC). One of the failover triggers.
    Failing {
        reason: String,
    },
}
