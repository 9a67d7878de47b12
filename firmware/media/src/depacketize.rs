//! RTP payloads to access units, without copying payload bytes.
//!
//! The depacketizer never owns media bytes: packets stay in the caller's
//! receive buffer and an access unit is described as a list of [`Piece`]s,
//! ranges of that buffer interleaved with small ranges of a side buffer that
//! holds what the sample file needs and the wire lacks (4-byte NAL length
//! prefixes, the NAL header rebuilt from an FU header). The recorder turns
//! the pieces of a batch of frames into `IoSlice`s for one `writev`.
//!
//! H.264 (RFC 6184): single NAL, STAP-A, FU-A. H.265 (RFC 7798): single NAL,
//! AP, FU (no DONL: `sprop-max-don-diff` 0). Access units end at the marker
//! bit or when the timestamp changes. A sequence gap, or a fragment that
//! does not continue what came before, drops the access unit in progress and
//! everything up to the next keyframe, and flags that keyframe as a
//! discontinuity: a lost packet never produces a corrupt frame.
//!
//! Memory is bounded by [`Limits`] whatever the camera sends: an access unit
//! larger than `max_frame_bytes`, or one arriving while `max_pieces` pieces
//! are already held, is dropped like a lost one (the rest of it is skipped,
//! the next keyframe is a discontinuity) and counted in
//! [`Stats::oversized_frames`]. Every internal vector then stays within a
//! small multiple of the limits (see [`Limits`]).

use crate::rtp::{RtpError, RtpPacket};
use crate::{Codec, CodecParams};

/// A byte range of one frame's sample-file form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Piece {
    /// Bytes of the receive buffer handed to [`Depacketizer::push`].
    Recv { start: u32, len: u32 },
    /// Bytes of [`Depacketizer::side`].
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
}

impl TimestampExtender {
    pub fn extend(&mut self, ts: u32) -> i64 {
        let ext = match self.last {
            None => ts as i64,
            Some((last_ts, last_ext)) => last_ext.saturating_add(ts.wrapping_sub(last_ts) as i32 as i64),
        };
        self.last = Some((ts, ext));
        ext
    }
}

#[derive(Clone, Copy, Debug)]
struct AuState {
    /// None: only non-VCL NALs so far and the timestamp is not settled.
    ts: Option<u32>,
    pts: i64,
    first_piece: usize,
    side_start: usize,
    recv_floor: u32,
    len: u32,
    keyframe: bool,
    has_vcl: bool,
}

#[derive(Clone, Copy, Debug)]
struct FuState {
    prefix_pos: usize,
    first_piece: usize,
    nal_len: u32,
    nal_type: u8,
}

/// Turns the RTP packets of one video stream into access units.
#[derive(Debug)]
pub struct Depacketizer {
    codec: Codec,
    payload_type: u8,
    side: Vec<u8>,
    pieces: Vec<Piece>,
    frames: Vec<Frame>,
    completed_pieces: usize,
    completed_side: usize,
    au: Option<AuState>,
    fu: Option<FuState>,
    last_seq: Option<u16>,
    ts: TimestampExtender,
    wait_key: bool,
    pending_discontinuity: bool,
    params: CodecParams,
    params_version: u32,
    stats: Stats,
    scratch: Vec<u8>,
    limits: Limits,
    /// Timestamp of an access unit dropped for its size: its remaining
    /// packets are skipped.
    skip_ts: Option<u32>,
}

impl Depacketizer {
    /// `params` are the parameter sets from SDP (possibly empty); default
    /// [`Limits`].
    pub fn new(codec: Codec, payload_type: u8, params: CodecParams) -> Self {
        Self::with_limits(codec, payload_type, params, Limits::default())
    }

    /// As [`Self::new`], bounded by `limits`.
    pub fn with_limits(codec: Codec, payload_type: u8, params: CodecParams, limits: Limits) -> Self {
        Depacketizer {
            codec,
            payload_type,
            side: Vec::with_capacity(4096),
            pieces: Vec::with_capacity(1024),
            frames: Vec::with_capacity(64),
            completed_pieces: 0,
            completed_side: 0,
            au: None,
            fu: None,
            last_seq: None,
            ts: TimestampExtender::default(),
            wait_key: true,
            pending_discontinuity: false,
            params,
            params_version: 0,
            stats: Stats::default(),
            scratch: Vec::new(),
            limits,
            skip_ts: None,
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }
    /// Pieces held: those of the completed frames and of the frame in progress.
    pub fn held_pieces(&self) -> usize {
        self.pieces.len()
    }

    pub fn codec(&self) -> Codec {
        self.codec
    }
    pub fn stats(&self) -> Stats {
        self.stats
    }
    /// Latest parameter sets (SDP, then in-band).
    pub fn params(&self) -> &CodecParams {
        &self.params
    }
    /// Bumped whenever in-band parameter sets differ from the previous ones.
    pub fn params_version(&self) -> u32 {
        self.params_version
    }
    /// Completed frames not yet cleared.
    pub fn frames(&self) -> &[Frame] {
        &self.frames
    }
    /// Pieces of the completed frames, in order.
    pub fn completed_pieces(&self) -> &[Piece] {
        &self.pieces[..self.completed_pieces]
    }
    /// The side buffer that [`Piece::Side`] ranges point into.
    pub fn side(&self) -> &[u8] {
        &self.side
    }
    /// Sum of the completed frames' lengths.
    pub fn completed_bytes(&self) -> u64 {
        self.frames.iter().map(|f| f.len as u64).sum()
    }

    /// Smallest receive-buffer offset the access unit in progress still
    /// refers to; bytes before it may be discarded after [`Self::clear_completed`].
    pub fn recv_floor(&self) -> Option<u32> {
        self.au.filter(|a| self.pieces.len() > a.first_piece).map(|a| a.recv_floor)
    }

    /// Forgets completed frames (after they were written).
    pub fn clear_completed(&mut self) {
        let (np, ns) = (self.completed_pieces, self.completed_side);
        self.pieces.drain(..np);
        self.side.drain(..ns);
        for p in &mut self.pieces {
            if let Piece::Side { start, .. } = p {
                *start -= ns as u32;
            }
        }
        if let Some(a) = &mut self.au {
            a.first_piece -= np;
            a.side_start -= ns;
        }
        if let Some(f) = &mut self.fu {
            f.prefix_pos -= ns;
            f.first_piece -= np;
        }
        self.frames.clear();
        self.completed_pieces = 0;
        self.completed_side = 0;
    }

    /// The receive buffer dropped its first `shift` bytes: moves the
    /// remaining pieces along. Only valid after [`Self::clear_completed`].
    pub fn rebase(&mut self, shift: u32) {
        for p in &mut self.pieces {
            if let Piece::Recv { start, .. } = p {
                *start -= shift;
            }
        }
        if let Some(a) = &mut self.au {
            a.recv_floor = a.recv_floor.saturating_sub(shift);
        }
    }

    /// Handles one RTP packet lying at `buf[start..end]`.
    pub fn push(&mut self, buf: &[u8], start: usize, end: usize) -> Result<(), DepacketizeError> {
        self.stats.packets += 1;
        let pkt = match RtpPacket::parse(&buf[start..end]) {
            Ok(p) => p,
            Err(e) => {
                self.stats.bad_packets += 1;
                return Err(e.into());
            }
        };
        if pkt.payload_type() != self.payload_type {
            return Ok(());
        }
        let seq = pkt.sequence();
        if let Some(last) = self.last_seq {
            let gap = seq.wrapping_sub(last.wrapping_add(1)) as i16;
            if gap < 0 {
                return Ok(()); // late or duplicate packet
            }
            if gap > 0 {
                self.stats.lost_packets += gap as u64;
                self.loss();
            }
        }
        self.last_seq = Some(seq);
        let ts = pkt.timestamp();
        if let Some(skip) = self.skip_ts {
            if skip == ts {
                if pkt.marker() {
                    self.skip_ts = None;
                }
                return Ok(()); // the rest of an access unit dropped for its size
            }
            self.skip_ts = None;
        }
        if let Some(a) = self.au {
            match a.ts {
                Some(t) if t != ts => self.finish_au(Some(ts)),
                None => {
                    let pts = self.ts.extend(ts);
                    if let Some(a) = &mut self.au {
                        a.ts = Some(ts);
                        a.pts = pts;
                    }
                }
                _ => {}
            }
        }
        if self.au.is_none() {
            let pts = self.ts.extend(ts);
            self.au = Some(AuState {
                ts: Some(ts),
                pts,
                first_piece: self.pieces.len(),
                side_start: self.side.len(),
                recv_floor: start as u32,
                len: 0,
                keyframe: false,
                has_vcl: false,
            });
        }
        let off = start + pkt.payload_offset();
        let payload = pkt.payload();
        let r = match self.codec {
            Codec::H264 => self.push_h264(buf, off, payload),
            Codec::H265 => self.push_h265(buf, off, payload),
        };
        if let Err(e) = r {
            if matches!(e, DepacketizeError::FrameTooLarge { .. } | DepacketizeError::TooManyPieces { .. }) {
                self.stats.oversized_frames += 1;
                self.skip_ts = (!pkt.marker()).then_some(ts);
            } else {
                self.stats.bad_packets += 1;
            }
            self.loss();
            return Err(e);
        }
        if pkt.marker() {
            self.finish_au(None);
        }
        Ok(())
    }

    fn push_h264(&mut self, buf: &[u8], off: usize, p: &[u8]) -> Result<(), DepacketizeError> {
        let codec = Codec::H264;
        let Some(&b0) = p.first() else { return Err(DepacketizeError::EmptyPayload) };
        match b0 & 0x1f {
            1..=23 => {
                self.check_no_fu()?;
                self.admit(2, 4 + p.len() as u64)?;
                self.add_nal(buf, off, p.len());
            }
            24 => {
                self.check_no_fu()?;
                self.aggregate(buf, off + 1, &p[1..])?;
            }
            28 => {
                let fu = *p.get(1).ok_or(DepacketizeError::BadFragment { codec })?;
                let header = [(b0 & 0xe0) | (fu & 0x1f)];
                self.fragment(buf, fu & 0x80 != 0, fu & 0x40 != 0, &header, off + 2, p.len() - 2)?;
            }
            t => return Err(DepacketizeError::UnsupportedNal { codec, nal_type: t }),
        }
        Ok(())
    }

    fn push_h265(&mut self, buf: &[u8], off: usize, p: &[u8]) -> Result<(), DepacketizeError> {
        let codec = Codec::H265;
        if p.len() < 2 {
            return Err(DepacketizeError::EmptyPayload);
        }
        match codec.nal_type(p[0]) {
            48 => {
                self.check_no_fu()?;
                self.aggregate(buf, off + 2, &p[2..])?;
            }
            49 => {
                let fu = *p.get(2).ok_or(DepacketizeError::BadFragment { codec })?;
                let header = [(p[0] & 0x81) | ((fu & 0x3f) << 1), p[1]];
                self.fragment(buf, fu & 0x80 != 0, fu & 0x40 != 0, &header, off + 3, p.len() - 3)?;
            }
            t @ 50..=63 => return Err(DepacketizeError::UnsupportedNal { codec, nal_type: t }),
            _ => {
                self.check_no_fu()?;
                self.admit(2, 4 + p.len() as u64)?;
                self.add_nal(buf, off, p.len());
            }
        }
        Ok(())
    }

    /// Fails when adding `pieces` pieces and `bytes` bytes (sample-file
    /// form) to the frame in progress would exceed the limits.
    fn admit(&self, pieces: usize, bytes: u64) -> Result<(), DepacketizeError> {
        if self.pieces.len() + pieces > self.limits.max_pieces {
            return Err(DepacketizeError::TooManyPieces { codec: self.codec, limit: self.limits.max_pieces });
        }
        let done = self.au.map_or(0, |a| u64::from(a.len));
        let fragment = self.fu.map_or(0, |f| 4 + u64::from(f.nal_len));
        if done + fragment + bytes > u64::from(self.limits.max_frame_bytes) {
            return Err(DepacketizeError::FrameTooLarge { codec: self.codec, limit: self.limits.max_frame_bytes });
        }
        Ok(())
    }

    fn check_no_fu(&self) -> Result<(), DepacketizeError> {
        match self.fu {
            Some(_) => Err(DepacketizeError::BadFragment { codec: self.codec }),
            None => Ok(()),
        }
    }

    /// STAP-A / AP: 16-bit size, NAL unit, repeated.
    fn aggregate(&mut self, buf: &[u8], mut off: usize, mut p: &[u8]) -> Result<(), DepacketizeError> {
        let bad = DepacketizeError::BadAggregate { codec: self.codec };
        if p.is_empty() {
            return Err(bad);
        }
        // Validate first so a bad packet adds nothing.
        let (mut q, mut nals, mut bytes) = (p, 0usize, 0u64);
        while !q.is_empty() {
            let n = match q {
                [a, b, ..] => u16::from_be_bytes([*a, *b]) as usize,
                _ => return Err(bad),
            };
            if n == 0 || q.len() < 2 + n {
                return Err(bad);
            }
            q = &q[2 + n..];
            nals += 1;
            bytes += 4 + n as u64;
        }
        self.admit(2 * nals, bytes)?;
        while !p.is_empty() {
            let n = u16::from_be_bytes([p[0], p[1]]) as usize;
            self.add_nal(buf, off + 2, n);
            off += 2 + n;
            p = &p[2 + n..];
        }
        Ok(())
    }

    fn fragment(
        &mut self,
        buf: &[u8],
        start: bool,
        end: bool,
        header: &[u8],
        off: usize,
        len: usize,
    ) -> Result<(), DepacketizeError> {
        let bad = DepacketizeError::BadFragment { codec: self.codec };
        if (start && (self.fu.is_some() || end)) || (!start && self.fu.is_none()) {
            return Err(bad);
        }
        let new_pieces = usize::from(start) + usize::from(len > 0);
        let new_bytes = if start { 4 + header.len() as u64 } else { 0 } + len as u64;
        self.admit(new_pieces, new_bytes)?;
        if start {
            let prefix_pos = self.side.len();
            self.side.extend_from_slice(&[0, 0, 0, 0]);
            self.side.extend_from_slice(header);
            let first_piece = self.pieces.len();
            self.pieces.push(Piece::Side { start: prefix_pos as u32, len: (4 + header.len()) as u32 });
            self.fu = Some(FuState {
                prefix_pos,
                first_piece,
                nal_len: header.len() as u32,
                nal_type: self.codec.nal_type(header[0]),
            });
        }
        let Some(fu) = &mut self.fu else { return Err(bad) };
        if len > 0 {
            self.pieces.push(Piece::Recv { start: off as u32, len: len as u32 });
            fu.nal_len += len as u32;
        }
        if end {
            let fu = *fu;
            self.fu = None;
            self.side[fu.prefix_pos..fu.prefix_pos + 4].copy_from_slice(&fu.nal_len.to_be_bytes());
            if is_param_set(self.codec, fu.nal_type) && fu.nal_len as usize <= MAX_PARAM_SET_BYTES {
                let mut s = std::mem::take(&mut self.scratch);
                s.clear();
                for p in &self.pieces[fu.first_piece..] {
                    match *p {
                        Piece::Side { start, len } => s.extend_from_slice(&self.side[start as usize..][..len as usize]),
                        Piece::Recv { start, len } => s.extend_from_slice(&buf[start as usize..][..len as usize]),
                    }
                }
                self.note_param_set(fu.nal_type, &s[4..]);
                self.scratch = s;
            }
            self.note_nal(fu.nal_type, 4 + fu.nal_len);
        }
        Ok(())
    }

    fn add_nal(&mut self, buf: &[u8], off: usize, len: usize) {
        let pos = self.side.len();
        self.side.extend_from_slice(&(len as u32).to_be_bytes());
        self.pieces.push(Piece::Side { start: pos as u32, len: 4 });
        self.pieces.push(Piece::Recv { start: off as u32, len: len as u32 });
        let nal = &buf[off..off + len];
        let t = self.codec.nal_type(nal[0]);
        if is_param_set(self.codec, t) {
            self.note_param_set(t, nal);
        }
        self.note_nal(t, 4 + len as u32);
    }

    fn note_nal(&mut self, nal_type: u8, bytes: u32) {
        if let Some(a) = &mut self.au {
            a.len += bytes;
            a.keyframe |= self.codec.is_keyframe_nal(nal_type);
            a.has_vcl |= self.codec.is_vcl_nal(nal_type);
        }
    }

    fn note_param_set(&mut self, nal_type: u8, nal: &[u8]) {
        if nal.len() > MAX_PARAM_SET_BYTES {
            return;
        }
        let slot = match (self.codec, nal_type) {
            (Codec::H264, 7) | (Codec::H265, 33) => &mut self.params.sps,
            (Codec::H264, 8) | (Codec::H265, 34) => &mut self.params.pps,
            (Codec::H265, 32) => &mut self.params.vps,
            _ => return,
        };
        if slot.as_slice() != nal {
            slot.clear();
            slot.extend_from_slice(nal);
            self.params_version += 1;
        }
    }

    /// Ends the access unit in progress; `next_ts` is the timestamp of the
    /// packet that ended it, `None` when the marker bit did.
    fn finish_au(&mut self, next_ts: Option<u32>) {
        let Some(a) = self.au else { return };
        if self.fu.is_some() {
            // A fragmented NAL never ended: the frame is damaged.
            self.loss();
            return;
        }
        if !a.has_vcl {
            // Parameter sets or SEI sent apart: they belong to the next picture.
            let pts = next_ts.map(|t| self.ts.extend(t));
            if let Some(au) = &mut self.au {
                au.ts = next_ts;
                au.pts = pts.unwrap_or(au.pts);
            }
            return;
        }
        self.au = None;
        if self.wait_key && !a.keyframe {
            self.drop_pieces(&a);
            self.stats.dropped_frames += 1;
            return;
        }
        self.wait_key = false;
        self.frames.push(Frame {
            pts: a.pts,
            keyframe: a.keyframe,
            discontinuity: std::mem::take(&mut self.pending_discontinuity),
            len: a.len,
            pieces: (self.pieces.len() - a.first_piece) as u32,
        });
        self.completed_pieces = self.pieces.len();
        self.completed_side = self.side.len();
        self.stats.frames += 1;
    }

    /// Drops the access unit in progress because it does not fit the
    /// caller's receive buffer (as if its packets were lost) and skips its
    /// remaining packets. Returns false when it held no bytes of the buffer.
    pub fn drop_oversized_in_progress(&mut self) -> bool {
        if self.recv_floor().is_none() {
            return false;
        }
        self.skip_ts = self.au.and_then(|a| a.ts);
        self.stats.oversized_frames += 1;
        self.loss();
        true
    }

    fn drop_pieces(&mut self, a: &AuState) {
        self.pieces.truncate(a.first_piece);
        self.side.truncate(a.side_start);
    }

    /// Packets were lost or damaged: drop the frame in progress and wait
    /// for a keyframe.
    fn loss(&mut self) {
        if let Some(a) = self.au.take() {
            self.drop_pieces(&a);
            if a.has_vcl {
                self.stats.dropped_frames += 1;
            }
        }
        self.fu = None;
        if !self.pending_discontinuity {
            self.stats.discontinuities += 1;
        }
        self.wait_key = true;
        self.pending_discontinuity = true;
    }
}

fn is_param_set(codec: Codec, t: u8) -> bool {
    match codec {
        Codec::H264 => t == 7 || t == 8,
        Codec::H265 => (32..=34).contains(&t),
    }
}

/// Copies the completed frames' sample-file bytes into `out` (for tests and
/// fuzzing; the recorder writes pieces with `writev` instead).
pub fn gather(d: &Depacketizer, buf: &[u8], out: &mut Vec<u8>) {
    for p in d.completed_pieces() {
        match *p {
            Piece::Side { start, len } => out.extend_from_slice(&d.side()[start as usize..][..len as usize]),
            Piece::Recv { start, len } => out.extend_from_slice(&buf[start as usize..][..len as usize]),
        }
    }
}

#[cfg(test)]
#[path = "depacketize_tests.rs"]
mod tests;
