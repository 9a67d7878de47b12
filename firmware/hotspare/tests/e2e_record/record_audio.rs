//! The camera's audio recorded beside the video, end to end: GStreamer's
//! RTSP server sends video + AAC or video + PCMA, the simulator video +
//! PCMU, over TCP interleaved and over UDP; the export must hold both tracks
//! with the right codecs, of matching durations, and decode without an error.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::*;

/// (codec, start, duration in seconds) of the first stream `selector` (`v:0`, `a:0`) of `mp4`.
fn stream(mp4: &Path, selector: &str) -> Option<(String, f64, f64)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", selector])
        .args(["-show_entries", "stream=codec_name,start_time,duration", "-of", "csv=p=0"])
        .arg(mp4)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let mut fields = line.split(',');
    let codec = fields.next()?.to_string();
    let start = fields.next()?.trim().parse().ok()?;
    let duration = fields.next()?.trim().parse().ok()?;
    Some((codec, start, duration))
}

/// Exports `camera` and checks both tracks; returns (video s, audio s).
fn check_export(store: &Path, camera: &str, video_codec: &str, audio_codec: &str, dump: &str) -> (f64, f64) {
    let mp4 = store.join(format!("{camera}.mp4"));
    export_ok(store, camera, None, None, &mp4);
    let (vcodec, vstart, vdur) = stream(&mp4, "v:0").expect("a video track");
    let (acodec, astart, adur) = stream(&mp4, "a:0").unwrap_or_else(|| panic!("no audio track in the export:\n{dump}"));
    assert_eq!(vcodec, video_codec);
    assert_eq!(acodec, audio_codec);
    assert!((vdur - adur).abs() <= 0.2, "video {vdur} s vs audio {adur} s");
    assert!((vstart - astart).abs() <= 0.2, "video starts at {vstart} s, audio at {astart} s");
    let errs = ffmpeg_errors(&mp4);
    assert!(errs.trim().is_empty(), "ffmpeg decode errors:\n{errs}");
    (vdur, adur)
}

fn gst_audio(audio: &str, transport: &str, want_codec: &str) {
    if let Err(why) = gst_has("x264enc") {
        eprintln!("SKIP: GStreamer h264 + {audio}: {why}");
        return;
    }
    if audio == "aac" {
        if let Err(why) = gst_has("voaacenc") {
            eprintln!("SKIP: GStreamer AAC: {why}");
            return;
        }
    }
    let gst = Gst::start(&["--codec", "h264", "--frames", "150", "--audio", audio]);
    let store = tempfile::tempdir().unwrap();
    let out = record(
        &gst.url(),
        store.path(),
        "gst",
        &["--duration", "9s", "--segment", "2s", "--transport", transport],
        Duration::from_secs(20),
    );
    let s = expect_summary(&out);
    assert_eq!(s.transport.as_deref(), Some(transport), "{}", out.dump());
    assert!(s.audio_frames > 0, "no audio recorded:\n{}", out.dump());
    let (vdur, adur) = check_export(store.path(), "gst", "h264", want_codec, &out.dump());
    eprintln!(
        "gstreamer h264 + {audio} over {transport}: {} video frames, {} audio frames ({} dropped), video {vdur} s, audio {adur} s",
        s.frames, s.audio_frames, s.audio_dropped
    );
}

#[test]
fn gstreamer_aac_tcp() {
    gst_audio("aac", "tcp", "aac");
}

#[test]
fn gstreamer_aac_udp() {
    gst_audio("aac", "udp", "aac");
}

#[test]
fn gstreamer_pcma_tcp() {
    gst_audio("pcma", "tcp", "pcm_alaw");
}

#[test]
fn gstreamer_pcma_udp() {
    gst_audio("pcma", "udp", "pcm_alaw");
}

/// The simulator's PCMU tone over TCP interleaved and over UDP, across
/// segment cuts.
fn sim_audio(transport: &str) {
    let sim = Sim::start("h264", free_port(), &["--audio"]);
    let store = tempfile::tempdir().unwrap();
    let out = record(
        &sim.url(),
        store.path(),
        "cam",
        &["--duration", "7s", "--segment", "2s", "--transport", transport],
        Duration::from_secs(20),
    );
    let s = expect_summary(&out);
    assert_eq!(s.transport.as_deref(), Some(transport), "{}", out.dump());
    // 20 ms packets: about 50 a second for the ~6 s recorded.
    assert!(s.audio_frames >= 200, "{} audio frames:\n{}", s.audio_frames, out.dump());
    let (vdur, adur) = check_export(store.path(), "cam", "h264", "pcm_mulaw", &out.dump());
    eprintln!(
        "sim h264 + pcmu over {transport}: {} video frames, {} audio frames ({} dropped), video {vdur} s, audio {adur} s",
        s.frames, s.audio_frames, s.audio_dropped
    );
}

#[test]
fn sim_pcmu_tcp() {
    sim_audio("tcp");
}

#[test]
fn sim_pcmu_udp() {
    sim_audio("udp");
}
