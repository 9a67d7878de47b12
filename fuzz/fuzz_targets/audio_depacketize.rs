//! Audio depacketizer (RFC 3640 AAC, G.711) on a stream of RTP packets.
//!
//! Input: a flags byte, then packets as `[u16 be control][bytes]`: the low
//! 11 bits of `control` are the packet length (cut at the end of the
//! input), bit 15 clears completed frames after the push (as the recorder
//! does after writing a batch), bit 14 skips a sequence number. Flags bits
//! 0–1 pick the framing: G.711 mono, G.711 stereo, AAC-hbr (13/3/3), AAC
//! with lengths from the next input byte (size 1..=16, index and delta
//! 0..=3); bit 2 fixes up packet headers (version 2, payload type 97,
//! consecutive sequence numbers); bit 3 `UnknownSsrc::Accept`; bit 4 sets
//! the expected SSRC to 0x12345678; bit 5 uses tiny limits.
//!
//! After every push: every frame lies inside `data()`, is no larger than
//! the frame limit, has a duration; held bytes stay within the limit;
//! timestamps strictly increase across the whole run.
#![no_main]

use hotspare_camera_policy::{CameraPolicy, UnknownSsrc};
use hotspare_media::audio_depacketize::{AudioDepacketizer, AudioLimits};
use hotspare_media::sdp_audio::{AacFraming, AudioFraming, AudioTrack};
use hotspare_media::{AudioCodec, AudioParams};
use libfuzzer_sys::fuzz_target;

const PT: u8 = 97;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else { return };
    let aac = |size_length, index_length, index_delta_length| {
        AudioFraming::Aac(AacFraming { size_length, index_length, index_delta_length, frame_duration: 1024 })
    };
    let (framing, channels) = match flags & 3 {
        0 => (AudioFraming::G711, 1),
        1 => (AudioFraming::G711, 2),
        2 => (aac(13, 3, 3), 1),
        _ => {
            let Some((&b, r)) = rest.split_first() else { return };
            rest = r;
            (aac(1 + (b & 15), (b >> 4) & 3, b >> 6), 2)
        }
    };
    let codec = if framing == AudioFraming::G711 { AudioCodec::Pcmu } else { AudioCodec::Aac };
    let track = AudioTrack {
        params: AudioParams { codec, sample_rate: 8000, channels, config: vec![0x14, 0x08] },
        payload_type: PT,
        control: None,
        framing,
    };
    let limits =
        if flags & 32 != 0 { AudioLimits { max_frame_bytes: 300, max_held_bytes: 1000 } } else { AudioLimits::default() };
    let unknown_ssrc = if flags & 8 != 0 { UnknownSsrc::Accept } else { UnknownSsrc::Ignore };
    let mut d = AudioDepacketizer::with_limits(&track, limits)
        .with_policy(&CameraPolicy { unknown_ssrc, ..CameraPolicy::default() });
    if flags & 16 != 0 {
        d.set_expected_ssrc(Some(0x1234_5678));
    }
    let (mut seq, mut last_pts, mut seen) = (0u16, None::<i64>, 0usize);
    let mut pkt = Vec::new();
    while rest.len() >= 2 {
        let ctl = u16::from_be_bytes([rest[0], rest[1]]);
        rest = &rest[2..];
        let n = usize::from(ctl & 0x07ff).min(rest.len());
        pkt.clear();
        pkt.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        if ctl & 0x4000 != 0 {
            seq = seq.wrapping_add(1);
        }
        if flags & 4 != 0 && pkt.len() >= 12 {
            pkt[0] = 0x80 | (pkt[0] & 0x3f);
            pkt[1] = (pkt[1] & 0x80) | PT;
            pkt[2..4].copy_from_slice(&seq.to_be_bytes());
        }
        seq = seq.wrapping_add(1);
        let _ = d.push(&pkt);
        assert!(d.data().len() <= limits.max_held_bytes as usize, "{} bytes held", d.data().len());
        for f in &d.frames()[seen..] {
            assert!(f.start as usize + f.len as usize <= d.data().len(), "{f:?} outside {}", d.data().len());
            assert!(f.len >= 1 && f.len <= limits.max_frame_bytes, "{f:?}");
            assert!(f.duration > 0, "{f:?}");
            assert!(last_pts.is_none_or(|l| f.pts > l), "pts {} after {last_pts:?}", f.pts);
            last_pts = Some(f.pts);
        }
        seen = d.frames().len();
        if ctl & 0x8000 != 0 {
            d.clear_completed();
            seen = 0;
        }
    }
});
