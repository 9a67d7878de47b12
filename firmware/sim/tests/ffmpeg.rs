//! End-to-end tests against real ffprobe/ffmpeg processes: stream info,
//! 4-second recordings (frame count, no errors, timestamps across the clip
//! loop), Digest authentication and the audio track. Skipped (with a
//! message) when ffmpeg is not installed.

mod common;

use common::*;

/// `key=value` lines of ffprobe `-of default=nw=1` output.
fn values(out: &str, key: &str) -> Vec<String> {
    out.lines().filter_map(|l| l.strip_prefix(&format!("{key}="))).map(str::to_owned).collect()
}

async fn probe(url: &str) -> std::process::Output {
    run(
        "ffprobe",
        &[
            "-v",
            "error",
            "-rtsp_transport",
            "tcp",
            "-show_entries",
            "stream=codec_name,width,height",
            "-of",
            "default=nw=1",
            url,
        ],
    )
    .await
}

async fn probe_clip(clip: &str, codec: &str) {
    let sim = start(config(clip)).await;
    let o = probe(&sim.url("/cam0")).await;
    let (out, err) = text(&o);
    assert!(o.status.success(), "ffprobe failed: {err}");
    assert_eq!(values(&out, "codec_name"), [codec], "{out}");
    assert_eq!(values(&out, "width"), ["1920"]);
    assert_eq!(values(&out, "height"), ["1080"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffprobe_reads_h264() {
    if have_ffmpeg("ffprobe_reads_h264") {
        probe_clip("clip-h264.h264", "h264").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffprobe_reads_h265() {
    if have_ffmpeg("ffprobe_reads_h265") {
        probe_clip("clip-h265.h265", "hevc").await;
    }
}

/// Records 4 s of /cam1 (the 3 s clip loops once), then checks the file.
async fn record_clip(clip: &str) {
    let sim = start(config(clip)).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let out_path = dir.path().join("out.mkv");
    let out = out_path.to_str().expect("utf-8 path");
    let url = sim.url("/cam1");
    let o =
        run("ffmpeg", &["-v", "error", "-rtsp_transport", "tcp", "-i", &url, "-t", "4", "-c", "copy", "-y", out]).await;
    let (_, err) = text(&o);
    assert!(o.status.success(), "ffmpeg failed: {err}");
    assert!(err.trim().is_empty(), "ffmpeg reported errors: {err}");

    let o = run(
        "ffprobe",
        &["-v", "error", "-count_frames", "-show_entries", "stream=nb_read_frames", "-of", "default=nw=1", out],
    )
    .await;
    let (stdout, err) = text(&o);
    assert!(o.status.success() && err.trim().is_empty(), "ffprobe of the recording: {err}");
    let frames: u64 = values(&stdout, "nb_read_frames").first().and_then(|v| v.parse().ok()).expect("frame count");
    assert!((75..=125).contains(&frames), "recorded {frames} frames, expected about 100");

    // Timestamps keep increasing across the loop of the clip. (ffmpeg's RTSP
    // demuxer leaves the first frame without a timestamp, whichever server:
    // the muxer then gives it 0, the same as the second, so skip it.)
    let o = run("ffprobe", &["-v", "error", "-show_entries", "packet=pts", "-of", "csv=p=0", out]).await;
    let pts: Vec<i64> = text(&o).0.lines().filter_map(|l| l.trim().trim_end_matches(',').parse().ok()).collect();
    assert_eq!(pts.len() as u64, frames);
    assert!(pts[1..].windows(2).all(|w| w[1] > w[0]), "pts not increasing: {pts:?}");
    let span_ms = pts[pts.len() - 1] - pts[0];
    assert!((3500..=4500).contains(&span_ms), "recording spans {span_ms} ms");

    // The simulator's own count for that session matches the recording.
    let reports = sim.wait_finished(1).await;
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].stream, 1);
    let sent = reports[0].frames_sent;
    assert!(sent >= frames && sent <= frames + 15, "sim sent {sent} frames, recording has {frames}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_records_h264() {
    if have_ffmpeg("ffmpeg_records_h264") {
        record_clip("clip-h264.h264").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_records_h265() {
    if have_ffmpeg("ffmpeg_records_h265") {
        record_clip("clip-h265.h265").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digest_auth_with_ffprobe() {
    if !have_ffmpeg("digest_auth_with_ffprobe") {
        return;
    }
    let mut cfg = config("clip-h264.h264");
    cfg.user = Some("admin".into());
    cfg.password = Some("s3cret".into());
    let sim = start(cfg).await;
    let good = format!("rtsp://admin:s3cret@{}/cam0", sim.addr);
    let o = probe(&good).await;
    assert!(o.status.success(), "ffprobe with the right password failed: {}", text(&o).1);
    assert_eq!(values(&text(&o).0, "codec_name"), ["h264"]);

    let bad = format!("rtsp://admin:wrong@{}/cam0", sim.addr);
    let o = probe(&bad).await;
    assert!(!o.status.success(), "ffprobe with a wrong password succeeded");
    assert!(text(&o).1.contains("401"), "expected a 401: {}", text(&o).1);

    let o = probe(&sim.url("/cam0")).await;
    assert!(!o.status.success(), "ffprobe without credentials succeeded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audio_track_with_ffprobe() {
    if !have_ffmpeg("audio_track_with_ffprobe") {
        return;
    }
    let mut cfg = config("clip-h265.h265");
    cfg.audio = true;
    let sim = start(cfg).await;
    let o = probe(&sim.url("/cam2")).await;
    let (out, err) = text(&o);
    assert!(o.status.success() && err.trim().is_empty(), "ffprobe failed: {err}");
    assert_eq!(values(&out, "codec_name"), ["hevc", "pcm_mulaw"], "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_found_with_ffprobe() {
    if !have_ffmpeg("not_found_with_ffprobe") {
        return;
    }
    let sim = start(config("clip-h264.h264")).await;
    let o = probe(&sim.url("/cam99")).await;
    assert!(!o.status.success());
    assert!(text(&o).1.contains("404"), "expected 404: {}", text(&o).1);
}
