//! Wire formats for video and audio, with no I/O: RTP packets and RTSP interleaved
//! framing, SDP media descriptions, H.264/H.265 NAL units, parameter sets
//! and the depacketizer that turns RTP payloads into access units.
//!
//! Everything here works over borrowed buffers (zero-copy accessors) so the
//! recorder can keep payload bytes where the socket put them.

pub mod audio_codec;
mod bits;
pub mod codec;
pub mod sps;

pub use audio_codec::{AudioCodec, AudioParams};
pub use codec::{Codec, CodecParams};
pub mod audio_depacketize;
pub mod depacketize;
pub mod interleaved;
pub mod rtp;
pub mod sdp;
pub mod sdp_audio;
mod sdp_repair;
pub mod stream_lock;
