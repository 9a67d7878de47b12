//! Audio codec identity and what a decoder needs to start: the types the
//! audio depacketizer produces and the store writes into an MP4 sample
//! entry (`mp4a` with an `esds` for AAC, `alaw`/`ulaw` for G.711).

use serde::{Deserialize, Serialize};

/// Audio codecs recorded beside the video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AudioCodec {
    /// MPEG-4 AAC (RTP `mpeg4-generic`, RFC 3640 AAC-hbr / AAC-lbr).
    Aac,
    /// G.711 A-law (RTP `PCMA`, static payload type 8).
    Pcma,
    /// G.711 µ-law (RTP `PCMU`, static payload type 0).
    Pcmu,
}

impl AudioCodec {
    /// Encoding name as used in SDP `rtpmap`.
    pub fn sdp_name(self) -> &'static str {
        match self {
            AudioCodec::Aac => "MPEG4-GENERIC",
            AudioCodec::Pcma => "PCMA",
            AudioCodec::Pcmu => "PCMU",
        }
    }
}

/// An audio stream as stored: codec, rate, channels and, for AAC, the
/// `AudioSpecificConfig` (ISO 14496-3 §1.6.2.1, from the SDP `config=`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AudioParams {
    pub codec: AudioCodec,
    /// Samples per second; also the unit of audio timestamps (the RTP clock).
    pub sample_rate: u32,
    pub channels: u8,
    /// AAC `AudioSpecificConfig`; empty for G.711.
    pub config: Vec<u8>,
}
