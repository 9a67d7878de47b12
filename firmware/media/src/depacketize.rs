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
//! Camera quirks, per [`Depacketizer::with_policy`] (`CameraPolicy`):
//! a fragmentation unit with both start and end bits is a whole NAL unit
//! (`SingleFragmentFu::Accept`); Annex B start codes inside a non-VCL NAL
//! unit split it (`StartCodesInNal::Split`, see `depacketize_split.rs`);
//! the depacketizer locks to one SSRC, the announced one
//! ([`Depacketizer::set_expected_ssrc`]) else the first seen, and ignores
//! packets of others without counting loss (`UnknownSsrc::Ignore`).
//!
//! Memory is bounded by [`Limits`] whatever the camera sends: an access unit
//! larger than `max_frame_bytes`, or one arriving while `max_pieces` pieces
//! are already held, is dropped like a lost one (the rest of it is skipped,
//! the next keyframe is a discontinuity) and counted in
//! [`Stats::oversized_frames`]. Every internal vector then stays within a
//! small multiple of the limits (see [`Limits`]).

use hotspare_camera_policy::{CameraPolicy, SingleFragmentFu, StartCodesInNal, UnknownSsrc};

use crate::stream_lock::{intake, Intake, StreamLock};
use crate::{Codec, CodecParams};

#[path = "depacketize_types.rs"]
mod types;
pub use types::*;

#[path = "depacketize_split.rs"]
mod split;

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
    single_fragment_fu: SingleFragmentFu,
    start_codes_in_nal: StartCodesInNal,
    /// Which packets are ours (SSRC lock, start of this PLAY).
    lock: StreamLock,
    /// Scratch: parts of a NAL unit split at start codes.
    cuts: Vec<(u32, u32)>,
    /// Scratch: the pieces of a fragmented NAL unit being split.
    fu_pieces: Vec<Piece>,
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
            single_fragment_fu: SingleFragmentFu::default(),
            start_codes_in_nal: StartCodesInNal::default(),
            lock: StreamLock::new(UnknownSsrc::default()),
            cuts: Vec::new(),
            fu_pieces: Vec::new(),
        }
    }

    /// Tolerates the camera quirks `policy` says: `single_fragment_fu`,
    /// `start_codes_in_nal`, `unknown_ssrc` (the other options are not the
    /// depacketizer's). Without it, the defaults apply. Call it at
    /// construction: it resets the SSRC lock.
    pub fn with_policy(mut self, policy: &CameraPolicy) -> Self {
        self.single_fragment_fu = policy.single_fragment_fu;
        self.start_codes_in_nal = policy.start_codes_in_nal;
        self.lock = StreamLock::new(policy.unknown_ssrc);
        self
    }

    /// The SSRC the server announced (SETUP `Transport: ssrc=`, PLAY
    /// `RTP-Info: ssrc=`); `None`: the first one seen. Under
    /// `UnknownSsrc::Ignore` packets of any other SSRC are counted in
    /// [`Stats::foreign_packets`] and ignored. If packets of another SSRC
    /// were taken before, the frame in progress is dropped (not counted as
    /// loss) and timestamps go on monotonic from the last one.
    pub fn set_expected_ssrc(&mut self, ssrc: Option<u32>) {
        if self.lock.set_expected_ssrc(ssrc) {
            self.switch_stream();
        }
    }

    /// The first sequence number of this PLAY (RTP-Info `seq`): until a
    /// packet at or after it arrives, earlier ones (from a previous PLAY of
    /// the same session) are counted in [`Stats::foreign_packets`] and
    /// ignored. No effect once packets were taken.
    pub fn set_expected_start(&mut self, seq: u16) {
        self.lock.set_expected_start(seq);
    }

    /// The packets taken from now on are of another stream: forget its
    /// sequence state, drop the frame in progress without counting loss.
    fn switch_stream(&mut self) {
        self.last_seq = None;
        self.fu = None;
        self.skip_ts = None;
        if let Some(a) = self.au.take() {
            self.drop_pieces(&a);
        }
        self.ts.restart_after_last();
        self.wait_key = true;
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
        let pkt = match intake(&buf[start..end], self.payload_type, &mut self.lock, &mut self.last_seq) {
            Err(e) => {
                self.stats.bad_packets += 1;
                return Err(e.into());
            }
            Ok(Intake::Skip) => return Ok(()),
            Ok(Intake::Foreign) => {
                self.stats.foreign_packets += 1;
                return Ok(());
            }
            Ok(Intake::Ours { pkt, lost }) => {
                if lost > 0 {
                    self.stats.lost_packets += lost;
                    self.loss();
                }
                pkt
            }
        };
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
                let (pieces, bytes) = self.nal_cost(p);
                self.admit(pieces, bytes)?;
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
                let (pieces, bytes) = self.nal_cost(p);
                self.admit(pieces, bytes)?;
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
        let (mut q, mut pieces, mut bytes) = (p, 0usize, 0u64);
        while !q.is_empty() {
            let n = match q {
                [a, b, ..] => u16::from_be_bytes([*a, *b]) as usize,
                _ => return Err(bad),
            };
            if n == 0 || q.len() < 2 + n {
                return Err(bad);
            }
            let (np, nb) = self.nal_cost(&q[2..2 + n]);
            q = &q[2 + n..];
            pieces = pieces.saturating_add(np);
            bytes += nb;
        }
        self.admit(pieces, bytes)?;
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
        let single_fragment_ok = self.single_fragment_fu == SingleFragmentFu::Accept;
        if (start && (self.fu.is_some() || (end && !single_fragment_ok))) || (!start && self.fu.is_none()) {
            return Err(bad);
        }
        if start && end {
            self.stats.single_fragment_fus += 1;
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
            self.finish_fu(buf, fu)?;
        }
        Ok(())
    }

    /// Ends a fragmented NAL unit taken whole: its length prefix, parameter
    /// set and frame bookkeeping.
    fn finish_whole_fu(&mut self, buf: &[u8], fu: FuState) {
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

    /// Adds the NAL unit at `buf[off..off + len]` as it is.
    fn add_whole_nal(&mut self, buf: &[u8], off: usize, len: usize) {
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
