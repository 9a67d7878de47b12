//! The depacketizer's vocabulary: pieces, frames, counters, limits, errors
//! and the RTP timestamp extender.

use crate::rtp::RtpError;
use crate::Codec;

/// A byte range of one frame's sample-file form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Bytes of the receive buffer handed to [`Depacketizer::push`](super::Depacketizer::push).
    Recv { start: u32, len: u32 },
    /// Bytes of [`Depacketizer::side`](super::Depacketizer::side).
    Side { start: u32, len: u32 },
}

/// A completed access unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// 90 kHz (the RTP clock), extended across timestamp wrap-around.
    pub pts: i64,
    pub keyframe: bool,
    /// Packets were lost before this frame.
    pub discontinuity: bool,
    /// Length in sample-file form (length prefixes included).
    pub len: u32,
    /// Number of pieces, following the previous frame's.
    pub pieces: u32,
}

/// Counters since the depacketizer was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub packets: u64,
    pub lost_packets: u64,
    pub discontinuities: u64,
    /// Frames dropped because they were damaged or waited for a keyframe.
    pub dropped_frames: u64,
    pub frames: u64,
    pub bad_packets: u64,
    /// Access units dropped because they exceeded the [`Limits`].
    pub oversized_frames: u64,
    /// Packets ignored as not ours (`UnknownSsrc::Ignore`): of another SSRC,
    /// or sent before the start announced in `RTP-Info`. Never counted as
    /// loss, never moving sequence or timestamp state.
    pub foreign_packets: u64,
    /// NAL units split at Annex B start codes inside them
    /// (`StartCodesInNal::Split`).
    pub split_nals: u64,
    /// Fragmentation units with both start and end bits taken as whole
    /// NAL units (`SingleFragmentFu::Accept`).
    pub single_fragment_fus: u64,
}

/// Memory bounds of one depacketizer (one camera).
///
/// With these, whatever the packets: at most `max_pieces` pieces are held,
/// the side buffer holds at most 6 bytes per piece (a length prefix and a
/// rebuilt NAL header), there are at most `max_pieces` completed frames, and
/// the parameter sets and the scratch buffer hold at most
/// [`MAX_PARAM_SET_BYTES`] each. Vectors grow by doubling, so each one's
/// capacity stays below twice its bound (or its small initial capacity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest access unit in sample-file form (NAL units with their 4-byte
    /// length prefixes).
    pub max_frame_bytes: u32,
    /// Most pieces held at once: completed frames not yet cleared plus the
    /// frame in progress. A NAL unit takes two (prefix, bytes), an FU NAL one
    /// per fragment plus one.
    pub max_pieces: usize,
}

impl Limits {
    /// Bounds matching a receive buffer of at most `max_buffer` bytes: a
    /// frame as large as the buffer, and one piece per 128 bytes of it (at
    /// least 4096). Real cameras send a few NAL units per frame and
    /// fragments of ~1400 bytes, far below that; a stream of 1-byte NAL
    /// units (3 bytes each in a STAP-A) hits it.
    pub fn for_buffer(max_buffer: usize) -> Limits {
        Limits {
            max_frame_bytes: u32::try_from(max_buffer).unwrap_or(u32::MAX),
            max_pieces: (max_buffer / 128).max(4096),
        }
    }
}

impl Default for Limits {
    /// The recorder's default receive buffer maximum, 16 MiB.
    fn default() -> Self {
        Limits::for_buffer(16 << 20)
    }
}

/// Largest parameter set (VPS/SPS/PPS) taken as the stream's: `avcC` and
/// `hvcC` store their lengths in 16 bits. Larger ones stay in the frame's
/// bytes but are not kept as parameters.
pub const MAX_PARAM_SET_BYTES: usize = u16::MAX as usize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DepacketizeError {
    #[error(transparent)]
    Rtp(#[from] RtpError),
    #[error("{codec:?} RTP payload with NAL type {nal_type} is not supported")]
    UnsupportedNal { codec: Codec, nal_type: u8 },
    #[error("{codec:?} aggregation packet is truncated")]
    BadAggregate { codec: Codec },
    #[error("{codec:?} fragmentation unit is malformed or out of order")]
    BadFragment { codec: Codec },
    #[error("empty RTP payload")]
    EmptyPayload,
    #[error(
        "{codec:?} access unit larger than the per-camera limit of {limit} bytes: dropped, recording resumes at the next keyframe"
    )]
    FrameTooLarge { codec: Codec, limit: u32 },
    #[error(
        "{codec:?} access unit dropped: {limit} pieces of frames not yet written are already held (per-camera limit), recording resumes at the next keyframe"
    )]
    TooManyPieces { codec: Codec, limit: usize },
}

/// Extends 32-bit RTP timestamps to a monotonic 64-bit count.
#[derive(Clone, Copy, Debug, Default)]
pub struct TimestampExtender {
    last: Option<(u32, i64)>,
    /// After [`Self::restart_after_last`]: what the next timestamp maps to.
    restart_at: Option<i64>,
}

impl TimestampExtender {
    /// A new timeline (another SSRC) continues just after the last value
    /// given out, so extended timestamps stay monotonic.
    pub fn restart_after_last(&mut self) {
        if let Some((_, ext)) = self.last.take() {
            self.restart_at = Some(ext.saturating_add(1));
        }
    }

    pub fn extend(&mut self, ts: u32) -> i64 {
        let ext = match self.last {
            None => self.restart_at.take().unwrap_or(ts as i64),
            Some((last_ts, last_ext)) => last_ext.saturating_add(ts.wrapping_sub(last_ts) as i32 as i64),
        };
        self.last = Some((ts, ext));
        ext
    }
}
