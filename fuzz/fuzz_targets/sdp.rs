//! SDP parsing and video-track selection on arbitrary bytes.
#![no_main]

use hotspare_media::sdp::{resolve_control, Description};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(d) = Description::parse(data) else { return };
    for t in &d.tracks {
        let _ = resolve_control("rtsp://127.0.0.1:8554/cam0/", t.control.as_deref());
    }
    let _ = resolve_control("rtsp://127.0.0.1:8554/cam0", d.control.as_deref());
    if let Ok(v) = d.video() {
        let _ = v.params.is_complete(v.codec);
        let _ = resolve_control("rtsp://127.0.0.1:8554/cam0", v.control.as_deref());
    }
});
