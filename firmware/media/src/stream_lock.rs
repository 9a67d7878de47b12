//! Which RTP packets of a channel are ours: the SSRC lock
//! (`UnknownSsrc::Ignore`) and the start of this PLAY (RTP-Info `seq`),
//! shared by the video and the audio depacketizer.

use hotspare_camera_policy::UnknownSsrc;

use crate::rtp::RtpPacket;

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
        if ignore && self.expected.or(self.taken).is_some_and(|ours| ours != pkt.ssrc()) {
            return false;
        }
        if let Some(start) = self.start_seq {
            if (pkt.sequence().wrapping_sub(start) as i16) < 0 {
                return false;
            }
            self.start_seq = None;
        }
        self.taken = Some(pkt.ssrc());
        true
    }
}
