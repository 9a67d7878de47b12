//! SDP for DESCRIBE: one video m-line (H.264 or H.265 with the clip's
//! parameter sets in `fmtp`) and, when audio is enabled, a PCMU m-line.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hotspare_media::{Codec, CodecParams};

use crate::packetize::{PCMU_PT, VIDEO_PT};

/// Control attribute (relative to the Content-Base) of the video track.
pub const VIDEO_CONTROL: &str = "trackID=0";
/// Control attribute of the audio track.
pub const AUDIO_CONTROL: &str = "trackID=1";

/// Builds the session description of one camera.
pub fn describe(codec: Codec, params: &CodecParams, fps: u32, audio: bool, session_id: u64, host: &str) -> String {
    let ip4 = if host.contains(':') { "IP6" } else { "IP4" };
    let mut s = format!(
        "v=0\r\no=- {session_id} 1 IN {ip4} {host}\r\ns=hotspare camera simulator\r\nc=IN {ip4} {host}\r\n\
         t=0 0\r\na=tool:hotspare-sim\r\na=type:broadcast\r\na=control:*\r\na=range:npt=0-\r\n"
    );
    s.push_str(&format!("m=video 0 RTP/AVP {VIDEO_PT}\r\na=rtpmap:{VIDEO_PT} {}/90000\r\n", codec.sdp_name()));
    s.push_str(&format!("a=fmtp:{VIDEO_PT} {}\r\n", fmtp(codec, params)));
    s.push_str(&format!("a=framerate:{fps}\r\na=control:{VIDEO_CONTROL}\r\n"));
    if audio {
        s.push_str(&format!(
            "m=audio 0 RTP/AVP {PCMU_PT}\r\na=rtpmap:{PCMU_PT} PCMU/8000\r\na=control:{AUDIO_CONTROL}\r\n"
        ));
    }
    s
}

/// The `fmtp` parameters carrying the parameter sets.
pub fn fmtp(codec: Codec, params: &CodecParams) -> String {
    match codec {
        Codec::H264 => {
            let profile: String = params.sps.iter().skip(1).take(3).map(|b| format!("{b:02X}")).collect();
            format!(
                "packetization-mode=1;profile-level-id={profile};sprop-parameter-sets={},{}",
                B64.encode(&params.sps),
                B64.encode(&params.pps)
            )
        }
        Codec::H265 => format!(
            "sprop-vps={};sprop-sps={};sprop-pps={}",
            B64.encode(&params.vps),
            B64.encode(&params.sps),
            B64.encode(&params.pps)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_fmtp() {
        let p = CodecParams { vps: vec![], sps: vec![0x67, 0x4d, 0x00, 0x28, 0xaa], pps: vec![0x68, 0xee] };
        assert_eq!(
            fmtp(Codec::H264, &p),
            "packetization-mode=1;profile-level-id=4D0028;sprop-parameter-sets=Z00AKKo=,aO4="
        );
        let sdp = describe(Codec::H264, &p, 25, true, 1, "127.0.0.1");
        assert!(sdp.contains("a=rtpmap:96 H264/90000\r\n"));
        assert!(sdp.contains("m=audio 0 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"));
    }
}
