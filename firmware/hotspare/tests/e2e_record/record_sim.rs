//! `hotspare record` from `hotspare sim-camera`, then `hotspare export`,
//! checked with ffprobe/ffmpeg and against what the simulator says it sent.

use std::time::Duration;

use crate::common::*;

/// Records ~6 s in 2 s segments and checks the whole export.
fn record_and_check(codec: &str, ffprobe_codec: &str, sim_args: &[&str]) {
    let sim = Sim::start(codec, free_port(), sim_args);
    let store = tempfile::tempdir().unwrap();
    let out =
        record(&sim.url(), store.path(), "cam", &["--duration", "6s", "--segment", "2s"], Duration::from_secs(15));
    let s = expect_summary(&out);
    let sent = sim.wait_sent(1);
    assert_eq!(sent.len(), 1, "one session expected: {sent:?}");
    let sent = sent[0];
    assert_eq!(s.sessions, 1, "{}", out.dump());
    assert!(s.segments >= 3, "6 s in 2 s segments gave {} segments", s.segments);
    // 6 s at 25 fps, less the connection set-up.
    assert!((130..=160).contains(&s.frames), "recorded {} frames in 6 s:\n{}", s.frames, out.dump());

    let mp4 = store.path().join("out.mp4");
    let (exported, p) = export_and_check(store.path(), "cam", &mp4, ffprobe_codec, (1920, 1080));
    assert_eq!(exported, s.frames, "export vs the recorder's summary");
    assert_near(p.frames, sent, GOP, "exported frames vs frames the simulator sent");
    assert!(corrupt_files(store.path()).is_empty());
    eprintln!("{codec}: sim sent {sent}, recorder {} frames in {} segments, export {}", s.frames, s.segments, p.frames);
}

#[test]
fn sim_h264_record_export() {
    record_and_check("h264", "h264", &[]);
}

#[test]
fn sim_h265_record_export() {
    record_and_check("h265", "hevc", &[]);
}

/// The simulator's audio track is offered and ignored: video still complete.
#[test]
fn sim_h264_with_audio_track() {
    record_and_check("h264", "h264", &["--audio"]);
}

#[test]
fn sim_h265_with_audio_track() {
    record_and_check("h265", "hevc", &["--audio"]);
}

/// `--from/--to` pick a sub-range: fewer frames, still a clean MP4 that
/// starts on a keyframe; a bad `--from` is a clear error.
#[test]
fn export_sub_range_and_bad_time() {
    let sim = Sim::start("h264", free_port(), &[]);
    let store = tempfile::tempdir().unwrap();
    let out =
        record(&sim.url(), store.path(), "cam", &["--duration", "6s", "--segment", "2s"], Duration::from_secs(15));
    let s = expect_summary(&out);
    let segs = segments(store.path(), "cam");
    assert!(segs.len() >= 3, "segments: {segs:?}");
    let all = export_ok(store.path(), "cam", None, None, &store.path().join("all.mp4"));
    assert_eq!(all, s.frames);

    // From the start of the second segment to half a second into the last one.
    let from = segs[1].0;
    let to = segs[segs.len() - 1].0 + 500_000;
    let mp4 = store.path().join("part.mp4");
    let part = export_ok(store.path(), "cam", Some(&rfc3339(from)), Some(&rfc3339(to)), &mp4);
    let p = ffprobe(&mp4);
    assert_eq!(p.codec, "h264");
    assert!(p.stderr.trim().is_empty(), "ffprobe: {}", p.stderr);
    let errs = ffmpeg_errors(&mp4);
    assert!(errs.trim().is_empty(), "ffmpeg:\n{errs}");
    assert_eq!(p.frames, part);
    // the frames the store holds in the range (from the whole export's times: a camera
    // starved by a busy machine sends fewer than 25 a second, and that is not the export's
    // doing)
    let start = segs[0].0;
    let in_range =
        frame_times_us(&store.path().join("all.mp4")).iter().filter(|t| (from..to).contains(&(start + **t))).count();
    assert!(part < all, "sub-range {part} not fewer than all {all}");
    assert_near(part, in_range as i64, 2, "frames of the sub-range vs the store's frames in that range");

    // The same range from the summary's last-frame time: the last second.
    let last = s.last_frame.clone().expect("summary has a last frame time");
    let last_us =
        humantime::parse_rfc3339_weak(&last).unwrap().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros() as i64;
    let tail =
        export_ok(store.path(), "cam", Some(&rfc3339(last_us - 1_000_000)), None, &store.path().join("tail.mp4"));
    // Starts at the keyframe at or before `from`: between 1 s and 2 GOPs + 1 s of frames.
    assert!((25..=2 * GOP + 1).contains(&tail), "last-second export has {tail} frames");

    // A bad --from: non-zero, names the flag.
    for (flag_from, flag_to) in [(Some("yesterday"), None), (None, Some("2026-13-45T99:00:00Z"))] {
        let o = export(store.path(), "cam", flag_from, flag_to, &store.path().join("bad.mp4"));
        assert!(!o.success(), "bad time accepted:\n{}", o.dump());
        o.assert_no_panic();
        let flag = if flag_from.is_some() { "--from" } else { "--to" };
        assert!(o.stderr.contains(flag) && o.stderr.contains("RFC 3339"), "unclear error:\n{}", o.dump());
        assert!(!store.path().join("bad.mp4").exists());
    }
    // A range with nothing in it.
    let o = export(
        store.path(),
        "cam",
        Some("2001-01-01T00:00:00Z"),
        Some("2001-01-01T00:01:00Z"),
        &store.path().join("none.mp4"),
    );
    assert!(!o.success() && o.stderr.contains("nothing to export"), "{}", o.dump());
    eprintln!("all {all}, sub-range {part} (the store holds {in_range} in its range), last second {tail}");
}

/// Keep-alive: the simulator ends a playing session that sends no request
/// within its 3 s timeout (as cameras do); a 10 s recording must stay one
/// session, with every frame.
#[test]
fn keepalive_holds_the_session_past_its_timeout() {
    let sim = Sim::start("h264", free_port(), &["--session-timeout", "3"]);
    let store = tempfile::tempdir().unwrap();
    let out = record(&sim.url(), store.path(), "cam", &["--duration", "10s"], Duration::from_secs(25));
    let s = expect_summary(&out);
    assert_eq!(s.sessions, 1, "the session was not kept alive:\n{}", out.dump());
    let sent = sim.wait_sent(1);
    // Frames the simulator sends between the recorder stopping and its
    // TEARDOWN arriving are not loss: within one GOP, never more than sent.
    assert!(s.frames <= sent[0] && s.frames + 25 >= sent[0], "recorded {} of {} sent", s.frames, sent[0]);
    assert!(!sim.proc.stderr.text().contains("session timed out"), "simulator timed the session out");
}

/// The presentation time of each video frame of an MP4, µs from its first one (ffprobe).
fn frame_times_us(mp4: &std::path::Path) -> Vec<i64> {
    let out = std::process::Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time", "-of", "csv=p=0"])
        .arg(mp4)
        .output()
        .expect("ffprobe runs");
    assert!(out.status.success(), "ffprobe: {}", String::from_utf8_lossy(&out.stderr));
    let times: Vec<f64> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
        .collect();
    let first = times.iter().copied().fold(f64::INFINITY, f64::min);
    times.iter().map(|t| ((t - first) * 1e6).round() as i64).collect()
}
