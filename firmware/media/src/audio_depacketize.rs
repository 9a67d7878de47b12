//! RTP payloads of an audio track to audio frames for the store: AAC per
//! RFC 3640 (AU headers with the fmtp's sizelength / indexlength /
//! indexdeltalength, several access units per packet, an access unit
//! fragmented across packets reassembled) and G.711 (the payload is the
//! samples: one frame per packet).
//!
//! Audio is tiny (a few kB/s), so frame bytes are copied into a buffer the
//! depacketizer owns ([`AudioDepacketizer::data`]); frames are ranges of it
//! until [`AudioDepacketizer::clear_completed`]. Timestamps are in the RTP
//! clock ([`AudioParams::sample_rate`]), extended across wrap-around, and
//! strictly increasing (a frame that would go back is dropped). A sequence
//! gap drops a partly reassembled access unit and flags the next frame as a
//! discontinuity. Packets of another SSRC are ignored as for video
//! ([`StreamLock`]). Memory is bounded by [`AudioLimits`].

use hotspare_camera_policy::{CameraPolicy, UnknownSsrc};

use crate::bits::Bits;
use crate::depacketize::TimestampExtender;
use crate::rtp::RtpError;
use crate::sdp_audio::{AacFraming, AudioFraming, AudioTrack};
use crate::stream_lock::{intake, Intake, StreamLock};
use crate::AudioParams;

/// One audio frame (an AAC access unit, or a G.711 packet's samples).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioFrame {
    /// In the RTP clock, extended across wrap-around.
    pub pts: i64,
    /// In the RTP clock.
    pub duration: u32,
    /// Packets were lost before this frame.
    pub discontinuity: bool,
    /// Range of [`AudioDepacketizer::data`].
    pub start: u32,
    pub len: u32,
}

/// Counters since the depacketizer was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AudioStats {
    pub packets: u64,
    pub lost_packets: u64,
    pub frames: u64,
    pub bad_packets: u64,
    /// Frames dropped: damaged by loss, over the limits, or going back in time.
    pub dropped_frames: u64,
    /// Packets of another SSRC or before the announced start, ignored.
    pub foreign_packets: u64,
}

/// Memory bounds of one audio depacketizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioLimits {
    /// Largest frame (AAC: 6144 bits per channel; G.711: one packet).
    pub max_frame_bytes: u32,
    /// Bytes of completed frames held before [`AudioDepacketizer::clear_completed`];
    /// frames beyond are dropped.
    pub max_held_bytes: u32,
}

impl Default for AudioLimits {
    /// 64 KiB frames, 1 MiB held (minutes of G.711, far more than one batch).
    fn default() -> Self {
        AudioLimits { max_frame_bytes: 64 << 10, max_held_bytes: 1 << 20 }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioDepacketizeError {
    #[error(transparent)]
    Rtp(#[from] RtpError),
    #[error("AAC RTP payload has malformed AU headers")]
    BadAuHeaders,
    #[error("AAC access unit fragment does not continue the one in progress")]
    BadFragment,
    #[error("audio frame of {len} bytes is over the limit of {limit} bytes: dropped")]
    FrameTooLarge { len: u64, limit: u32 },
}

/// An AAC access unit being reassembled from fragments.
#[derive(Clone, Copy, Debug)]
struct Partial {
    ts: u32,
    size: u32,
    start: usize,
}

/// Turns the RTP packets of one audio track into frames.
#[derive(Debug)]
pub struct AudioDepacketizer {
    params: AudioParams,
    payload_type: u8,
    framing: AudioFraming,
    limits: AudioLimits,
    lock: StreamLock,
    data: Vec<u8>,
    frames: Vec<AudioFrame>,
    partial: Option<Partial>,
    last_seq: Option<u16>,
    last_pts: Option<i64>,
    ts: TimestampExtender,
    pending_discontinuity: bool,
    stats: AudioStats,
}

impl AudioDepacketizer {
    /// For the track the SDP described, default limits and policy.
    pub fn new(track: &AudioTrack) -> Self {
        Self::with_limits(track, AudioLimits::default())
    }

    pub fn with_limits(track: &AudioTrack, limits: AudioLimits) -> Self {
        AudioDepacketizer {
            params: track.params.clone(),
            payload_type: track.payload_type,
            framing: track.framing,
            limits,
            lock: StreamLock::new(UnknownSsrc::default()),
            data: Vec::with_capacity(4096),
            frames: Vec::with_capacity(64),
            partial: None,
            last_seq: None,
            last_pts: None,
            ts: TimestampExtender::default(),
            pending_discontinuity: false,
            stats: AudioStats::default(),
        }
    }

    /// Applies `policy.unknown_ssrc` (call before any packet).
    pub fn with_policy(mut self, policy: &CameraPolicy) -> Self {
        self.lock = StreamLock::new(policy.unknown_ssrc);
        self
    }

    /// The SSRC the server announced for this track; see
    /// [`crate::depacketize::Depacketizer::set_expected_ssrc`].
    pub fn set_expected_ssrc(&mut self, ssrc: Option<u32>) {
        if self.lock.set_expected_ssrc(ssrc) {
            self.last_seq = None;
            self.partial = None;
            self.ts.restart_after_last();
        }
    }

    /// The first sequence number of this PLAY (RTP-Info `seq`).
    pub fn set_expected_start(&mut self, seq: u16) {
        self.lock.set_expected_start(seq);
    }

    pub fn params(&self) -> &AudioParams {
        &self.params
    }
    pub fn stats(&self) -> AudioStats {
        self.stats
    }
    /// Completed frames not yet cleared.
    pub fn frames(&self) -> &[AudioFrame] {
        &self.frames
    }
    /// The bytes completed frames point into.
    pub fn data(&self) -> &[u8] {
        &self.data
    }
    /// The bytes of one of [`Self::frames`].
    pub fn frame_bytes(&self, f: &AudioFrame) -> &[u8] {
        &self.data[f.start as usize..][..f.len as usize]
    }

    /// Forgets completed frames (after they were written); keeps an access
    /// unit in reassembly.
    pub fn clear_completed(&mut self) {
        let keep = self.partial.map_or(self.data.len(), |p| p.start);
        self.data.drain(..keep);
        if let Some(p) = &mut self.partial {
            p.start = 0;
        }
        self.frames.clear();
    }

    /// Handles one RTP packet.
    pub fn push(&mut self, packet: &[u8]) -> Result<(), AudioDepacketizeError> {
        self.stats.packets += 1;
        let pkt = match intake(packet, self.payload_type, &mut self.lock, &mut self.last_seq) {
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
        let r = match self.framing {
            AudioFraming::G711 => self.push_g711(pkt.timestamp(), pkt.payload()),
            AudioFraming::Aac(f) => self.push_aac(f, pkt.timestamp(), pkt.payload()),
        };
        if r.is_err() {
            self.stats.bad_packets += 1;
            self.loss();
        }
        r
    }

    fn push_g711(&mut self, ts: u32, payload: &[u8]) -> Result<(), AudioDepacketizeError> {
        let duration = (payload.len() / usize::from(self.params.channels.max(1))) as u32;
        if duration == 0 {
            return Ok(()); // not one sample per channel: nothing to store
        }
        let pts = self.ts.extend(ts);
        self.add_frame(pts, duration, payload);
        Ok(())
    }

    fn push_aac(&mut self, f: AacFraming, ts: u32, p: &[u8]) -> Result<(), AudioDepacketizeError> {
        let bad = AudioDepacketizeError::BadAuHeaders;
        let [h0, h1, rest @ ..] = p else { return Err(bad) };
        let header_bits = usize::from(u16::from_be_bytes([*h0, *h1]));
        let header_bytes = header_bits.div_ceil(8);
        if rest.len() < header_bytes {
            return Err(bad);
        }
        let (headers, body) = rest.split_at(header_bytes);
        let first_bits = usize::from(f.size_length) + usize::from(f.index_length);
        let next_bits = usize::from(f.size_length) + usize::from(f.index_delta_length);
        if header_bits < first_bits || (header_bits - first_bits) % next_bits != 0 {
            return Err(bad);
        }
        let count = 1 + (header_bits - first_bits) / next_bits;
        let first_size = Bits::new(headers).read(f.size_length).ok_or(bad.clone())?;
        if let Some(partial) = self.partial.take() {
            let have = (self.data.len() - partial.start) as u64;
            let continues = count == 1
                && partial.ts == ts
                && first_size == partial.size
                && have + body.len() as u64 <= u64::from(partial.size);
            if continues {
                self.data.extend_from_slice(body);
                if self.data.len() - partial.start == partial.size as usize {
                    let pts = self.ts.extend(ts);
                    self.push_frame(pts, f.frame_duration, partial.start);
                } else {
                    self.partial = Some(partial);
                }
                return Ok(());
            }
            // The rest of that AU never came: drop it, take this packet afresh.
            self.data.truncate(partial.start);
            self.stats.dropped_frames += 1;
            self.pending_discontinuity = true;
        }
        if count == 1 && first_size as usize > body.len() {
            // The first fragment of an AU larger than the packet.
            if first_size > self.limits.max_frame_bytes {
                self.stats.dropped_frames += 1;
                let limit = self.limits.max_frame_bytes;
                return Err(AudioDepacketizeError::FrameTooLarge { len: u64::from(first_size), limit });
            }
            if self.fits(first_size as usize) {
                self.partial = Some(Partial { ts, size: first_size, start: self.data.len() });
                self.data.extend_from_slice(body);
            } else {
                self.stats.dropped_frames += 1;
            }
            return Ok(());
        }
        // Whole AUs: check every header before taking any.
        let mut total = 0u64;
        read_au_headers(f, headers, count, |size, _| total += u64::from(size)).ok_or(bad.clone())?;
        if total > body.len() as u64 {
            return Err(bad);
        }
        let base = self.ts.extend(ts);
        let (mut at, mut offset, mut first) = (0usize, 0i64, true);
        read_au_headers(f, headers, count, |size, index| {
            // AU-index-delta: the AU's distance to the previous one, minus one.
            if !std::mem::take(&mut first) {
                offset += i64::from(index) + 1;
            }
            let au = &body[at..at + size as usize];
            at += size as usize;
            if !au.is_empty() {
                self.add_frame(base.saturating_add(offset * i64::from(f.frame_duration)), f.frame_duration, au);
            }
        });
        Ok(())
    }

    /// Whether `len` more bytes may be held.
    fn fits(&self, len: usize) -> bool {
        self.data.len() + len <= self.limits.max_held_bytes as usize
    }

    fn add_frame(&mut self, pts: i64, duration: u32, bytes: &[u8]) {
        if bytes.len() > self.limits.max_frame_bytes as usize || !self.fits(bytes.len()) {
            self.stats.dropped_frames += 1;
            return;
        }
        let start = self.data.len();
        self.data.extend_from_slice(bytes);
        self.push_frame(pts, duration, start);
    }

    fn push_frame(&mut self, pts: i64, duration: u32, start: usize) {
        if self.last_pts.is_some_and(|last| pts <= last) {
            self.data.truncate(start);
            self.stats.dropped_frames += 1;
            return;
        }
        self.last_pts = Some(pts);
        self.frames.push(AudioFrame {
            pts,
            duration,
            discontinuity: std::mem::take(&mut self.pending_discontinuity),
            start: start as u32,
            len: (self.data.len() - start) as u32,
        });
        self.stats.frames += 1;
    }

    /// Packets were lost or damaged: drop a partly reassembled AU.
    fn loss(&mut self) {
        if let Some(p) = self.partial.take() {
            self.data.truncate(p.start);
            self.stats.dropped_frames += 1;
        }
        self.pending_discontinuity = true;
    }
}

/// Calls `each(size, index or index delta)` for the `count` AU headers;
/// None when they run past `headers`.
fn read_au_headers(f: AacFraming, headers: &[u8], count: usize, mut each: impl FnMut(u32, u32)) -> Option<()> {
    let mut bits = Bits::new(headers);
    for i in 0..count {
        let size = bits.read(f.size_length)?;
        let index = bits.read(if i == 0 { f.index_length } else { f.index_delta_length })?;
        each(size, index);
    }
    Some(())
}

#[cfg(test)]
#[path = "audio_depacketize_tests.rs"]
mod tests;
