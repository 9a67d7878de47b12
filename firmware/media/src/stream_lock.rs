//! Which RTP packets of a channel are ours: the SSRC lock
//! (`UnknownSsrc::Ignore`) and the start of this PLAY (RTP-Info `seq`),
//! and the intake every packet goes through before its payload is read
//! (parse, payload type, lock, sequence: [`intake`]), shared by the video
//! and the audio depacketizer. An announced SSRC that
//! never comes while one other SSRC alone does is given up after
//! [`ADOPT_AFTER`] packets.

use hotspare_camera_policy::UnknownSsrc;

use crate::rtp::{RtpError, RtpPacket};

/// Foreign packets of one SSRC in a row, while none of ours ever came, after
/// which that SSRC is taken as ours: the announced SSRC was wrong (or
/// misparsed) and waiting for it would record nothing. A stale session
/// interleaved with ours never gets there: ours arrives in between.
pub const ADOPT_AFTER: u32 = 1000;

/// Decides, packet by packet, whether a packet belongs to our stream.
#[derive(Clone, Copy, Debug, Default)]
pub struct StreamLock {
    policy: UnknownSsrc,
    /// The SSRC announced by the server (SETUP / RTP-Info).
    expected: Option<u32>,
    /// The SSRC of the packets taken so far.
    taken: Option<u32>,
    /// Packets before this sequence number are from a previous PLAY;
    /// cleared by the first packet taken.
    start_seq: Option<u16>,
    /// A packet was taken since the lock was made.
    took_any: bool,
    /// The SSRC of the current run of foreign packets, and its length.
    foreign_run: Option<(u32, u32)>,
}

impl StreamLock {
    pub fn new(policy: UnknownSsrc) -> Self {
        StreamLock { policy, ..StreamLock::default() }
    }

    /// Sets the announced SSRC; true when packets of another SSRC were
    /// taken before (the caller forgets that stream's state).
    pub fn set_expected_ssrc(&mut self, ssrc: Option<u32>) -> bool {
        self.expected = ssrc;
        let switched = matches!((ssrc, self.taken), (Some(want), Some(had)) if want != had);
        if switched {
            self.taken = None;
        }
        switched
    }

    /// Sets the first sequence number of this PLAY, unless packets were
    /// taken already.
    pub fn set_expected_start(&mut self, seq: u16) {
        if self.taken.is_none() {
            self.start_seq = Some(seq);
        }
    }

    /// Whether `pkt` is ours; the first packet taken locks the SSRC.
    pub fn is_ours(&mut self, pkt: &RtpPacket) -> bool {
        let ignore = self.policy == UnknownSsrc::Ignore;
        let ssrc = pkt.ssrc();
        if ignore && self.expected.or(self.taken).is_some_and(|ours| ours != ssrc) {
            if self.took_any {
                return false;
            }
            let run = match self.foreign_run {
                Some((s, n)) if s == ssrc => n + 1,
                _ => 1,
            };
            self.foreign_run = Some((ssrc, run));
            if run < ADOPT_AFTER {
                return false;
            }
            log::warn!(
                "RTP: SSRC {:08x} announced but {ADOPT_AFTER} packets of {ssrc:08x} alone came: taking those",
                self.expected.unwrap_or(0)
            );
            self.expected = None;
        }
        if let Some(start) = self.start_seq {
            if (pkt.sequence().wrapping_sub(start) as i16) < 0 {
                return false;
            }
            self.start_seq = None;
        }
        self.taken = Some(ssrc);
        self.took_any = true;
        self.foreign_run = None;
        true
    }
}

/// What [`intake`] made of one packet.
#[derive(Debug)]
pub enum Intake<'a> {
    /// Another payload type, or late or duplicate: skip it.
    Skip,
    /// Not our SSRC (or from before this PLAY): count it, skip it.
    Foreign,
    /// Ours and in order, `lost` packets missing before it.
    Ours { pkt: RtpPacket<'a>, lost: u64 },
}

/// The checks every RTP packet passes before its payload is depacketized:
/// it parses, has our payload type, is ours by `lock`, and is not late or a
/// duplicate by `last_seq` (updated; a gap is reported as `lost`).
pub fn intake<'a>(
    bytes: &'a [u8],
    payload_type: u8,
    lock: &mut StreamLock,
    last_seq: &mut Option<u16>,
) -> Result<Intake<'a>, RtpError> {
    let pkt = RtpPacket::parse(bytes)?;
    if pkt.payload_type() != payload_type {
        return Ok(Intake::Skip);
    }
    if !lock.is_ours(&pkt) {
        return Ok(Intake::Foreign);
    }
    let seq = pkt.sequence();
    let mut lost = 0;
    if let Some(last) = *last_seq {
        let gap = seq.wrapping_sub(last.wrapping_add(1)) as i16;
        if gap < 0 {
            return Ok(Intake::Skip); // late or duplicate packet
        }
        lost = gap as u64;
    }
    *last_seq = Some(seq);
    Ok(Intake::Ours { pkt, lost })
}
