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

/// One audio frame handed to [`crate::CameraWriter::write_audio`]: an AAC access unit without
/// its ADTS header, or a run of G.711 bytes. Its bytes are the next `pieces` entries of the
/// batch's `IoSlice` list.
///
/// Timing contract (how audio stays in sync with the video):
/// - `pts` is in the audio clock (`AudioParams::sample_rate` Hz, the RTP clock of the audio
///   track), extended so it only grows within a run (no wrap);
/// - `wall_us` comes from the same wall-clock mapping the recorder uses for the video frames
///   (both arrival-based, or both from RTCP sender reports) — that is what puts the two
///   tracks in sync;
/// - the store anchors the audio once per run (the first frame, and again at a
///   `discontinuity`, a pts going back, or a new sample rate): a frame's wall time is the
///   anchor's wall time plus its pts elapsed since the anchor. So a moving wall-clock mapping
///   never makes audio jitter, exactly as for video (`CameraWriter` `run_anchor`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioFrameIn {
    /// Presentation time in the audio clock, extended (monotonic across RTP wrap).
    pub pts: i64,
    /// Wall-clock time of this frame, microseconds since the Unix epoch.
    pub wall_us: i64,
    /// Samples per channel the frame holds (1024 for an AAC-LC access unit; `len / channels`
    /// for G.711).
    pub duration: u32,
    /// Audio was lost just before this frame, or a new RTSP session began: re-anchor.
    pub discontinuity: bool,
    /// Sum of the lengths of this frame's pieces.
    pub len: u32,
    /// Number of `IoSlice`s of the batch that belong to this frame.
    pub pieces: u32,
}
