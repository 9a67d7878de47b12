//! The camera's audio recorded beside the video, end to end: GStreamer's
//! RTSP server sends video + AAC or video + PCMA, over TCP interleaved and
//! over UDP; the export must hold both tracks with the right codecs, of
//! matching durations, and decode without an error.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::*;

/// (codec, duration in seconds) of the first stream `selector` (`v:0`, `a:0`) of `mp4`.
fn stream(mp4: &Path, selector: &str) -> Option<(String, f64)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", selector])
        .args(["-show_entries", "stream=codec_name,duration", "-of", "csv=p=0"])
        .arg(mp4)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let (codec, duration) = line.split_once(',')?;
    Some((codec.to_string(), duration.trim().parse().ok()?))
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
    let mp4 = store.path().join("out.mp4");
    export_ok(store.path(), "gst", None, None, &mp4);
    let (vcodec, vdur) = stream(&mp4, "v:0").expect("a video track");
    let (acodec, adur) = stream(&mp4, "a:0").unwrap_or_else(|| panic!("no audio track in the export:\n{}", out.dump()));
    assert_eq!(vcodec, "h264");
    assert_eq!(acodec, want_codec);
    assert!((vdur - adur).abs() <= 0.2, "video {vdur} s vs audio {adur} s");
    let errs = ffmpeg_errors(&mp4);
    assert!(errs.trim().is_empty(), "ffmpeg decode errors:\n{errs}");
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
