//! GStreamer's RTSP server (gst-rtsp-server) as the camera: a peer we did
//! not write. Its stream ends after `--frames` frames.

use std::time::Duration;

use crate::common::*;

fn gst_record(codec: &str, ffprobe_codec: &str) {
    let enc = if codec == "h264" { "x264enc" } else { "x265enc" };
    if let Err(why) = gst_has(enc) {
        eprintln!("SKIP: GStreamer {codec} peer: {why}");
        return;
    }
    let gst = Gst::start(&["--codec", codec, "--frames", "100", "--audio"]);
    let store = tempfile::tempdir().unwrap();
    let out =
        record(&gst.url(), store.path(), "gst", &["--duration", "8s", "--segment", "2s"], Duration::from_secs(18));
    let s = expect_summary(&out);
    assert_eq!(s.sessions, 1, "{}", out.dump());
    let mp4 = store.path().join("out.mp4");
    let exported = export_ok(store.path(), "gst", None, None, &mp4);
    let p = ffprobe(&mp4);
    assert_eq!(p.codec, ffprobe_codec, "{p:?}");
    assert!(p.width > 0 && p.height > 0, "{p:?}");
    assert!(p.stderr.trim().is_empty(), "ffprobe errors: {}", p.stderr);
    let errs = ffmpeg_errors(&mp4);
    assert!(errs.trim().is_empty(), "ffmpeg decode errors:\n{errs}");
    assert_eq!(p.frames, exported);
    assert_eq!(exported, s.frames, "export vs the recorder's summary");
    assert_near(p.frames, 100, GOP, "frames recorded of the 100 GStreamer sent");
    eprintln!(
        "gstreamer {codec}+audio: 100 sent, recorder {} frames ({} segments), ffprobe {}",
        s.frames, s.segments, p.frames
    );
}

#[test]
fn gstreamer_h264_with_audio() {
    gst_record("h264", "h264");
}

#[test]
fn gstreamer_h265_with_audio() {
    gst_record("h265", "hevc");
}

/// Digest authentication against GStreamer's implementation.
#[test]
fn gstreamer_digest_auth() {
    if let Err(why) = gst_has("x264enc") {
        eprintln!("SKIP: GStreamer digest auth: {why}");
        return;
    }
    let gst = Gst::start(&["--codec", "h264", "--frames", "1000", "--user", "operator", "--password", "s3cret"]);
    auth_cases(&gst.url(), gst.port, "operator", "s3cret");
}
