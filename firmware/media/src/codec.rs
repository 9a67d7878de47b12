//! Video codec identity and the out-of-band parameter sets a decoder needs.

use serde::{Deserialize, Serialize};

/// Video codecs the recorder stores.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Codec {
    H264,
    H265,
}

impl Codec {
    /// NAL unit type of a NAL whose first header byte is `b0`.
    pub fn nal_type(self, b0: u8) -> u8 {
        match self {
            Codec::H264 => b0 & 0x1f,
            Codec::H265 => (b0 >> 1) & 0x3f,
        }
    }

    /// Size of the NAL unit header in bytes.
    pub fn nal_header_len(self) -> usize {
        match self {
            Codec::H264 => 1,
            Codec::H265 => 2,
        }
    }

    /// True for NAL types that start a random-access point (IDR / IRAP).
    pub fn is_keyframe_nal(self, nal_type: u8) -> bool {
        match self {
            Codec::H264 => nal_type == 5,
            Codec::H265 => (16..=21).contains(&nal_type),
        }
    }

    /// True for NAL types carrying a VCL slice (picture data).
    pub fn is_vcl_nal(self, nal_type: u8) -> bool {
        match self {
            Codec::H264 => (1..=5).contains(&nal_type),
            Codec::H265 => nal_type < 32,
        }
    }

    /// Name as used in SDP `rtpmap` (`H264`, `H265`).
    pub fn sdp_name(self) -> &'static str {
        match self {
            Codec::H264 => "H264",
            Codec::H265 => "H265",
        }
    }
}

/// Parameter sets of a video stream: what an MP4 sample entry (avcC/hvcC)
/// carries. Each field holds one NAL unit *with* its header and *without* a
/// start code or length prefix. `vps` is empty for H.264.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodecParams {
    pub vps: Vec<u8>,
    pub sps: Vec<u8>,
    pub pps: Vec<u8>,
}

impl CodecParams {
    /// True when the parameter sets needed by `codec` are all present.
    pub fn is_complete(&self, codec: Codec) -> bool {
        !self.sps.is_empty() && !self.pps.is_empty() && (codec == Codec::H264 || !self.vps.is_empty())
    }
}
