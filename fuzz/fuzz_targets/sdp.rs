//! SDP parsing, video- and audio-track selection on arbitrary bytes.
//!
//! Input: one byte picking the policy (bit 0: `SdpSessionLines::Strict`),
//! then the SDP text. A description accepted under `Strict` is accepted
//! under `Repair` too, with the same tracks and no repairs.
#![no_main]

use hotspare_camera_policy::{CameraPolicy, SdpSessionLines};
use hotspare_media::sdp::{resolve_control, Description};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else { return };
    let strict = CameraPolicy { sdp_session_lines: SdpSessionLines::Strict, ..CameraPolicy::default() };
    let policy = if flags & 1 != 0 { strict } else { CameraPolicy::default() };
    let Ok(d) = Description::parse_with(data, &policy) else { return };
    if policy == strict {
        let repaired = Description::parse(data).expect("accepted under Strict, refused under Repair");
        assert_eq!(repaired.tracks, d.tracks);
        assert!(repaired.repairs.is_empty(), "{:?}", repaired.repairs);
    }
    for t in &d.tracks {
        let _ = resolve_control("rtsp://127.0.0.1:8554/cam0/", t.control.as_deref());
    }
    let _ = resolve_control("rtsp://127.0.0.1:8554/cam0", d.control.as_deref());
    if let Ok(v) = d.video() {
        let _ = v.params.is_complete(v.codec);
        let _ = resolve_control("rtsp://127.0.0.1:8554/cam0", v.control.as_deref());
    }
    if let Some(a) = d.audio_track() {
        assert!(a.params.sample_rate > 0 && a.params.channels > 0, "{a:?}");
        if let hotspare_media::sdp_audio::AudioFraming::Aac(f) = a.framing {
            assert!((1..=16).contains(&f.size_length) && f.frame_duration > 0, "{f:?}");
            assert!(!a.params.config.is_empty());
        }
    }
});
