//! End to end: a camera with audio (the simulator's PCMU tone). The spare
//! records its video and audio during an NVR's outage and re-inserts both
//! into the NVR's store: the NVR's export of the outage has an audio track
//! beside the video, of the same length, decoding cleanly.

use crate::common::now_us;
use crate::failover_common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// (codec, duration in seconds) of the first stream `selector` of `mp4`.
fn stream(mp4: &Path, selector: &str) -> Option<(String, f64)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", selector])
        .args(["-show_entries", "stream=codec_name,duration", "-of", "csv=p=0"])
        .arg(mp4)
        .output()
        .expect("ffprobe runs");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (codec, duration) = text.lines().find(|l| !l.trim().is_empty())?.split_once(',')?;
    Some((codec.to_string(), duration.trim().parse().ok()?))
}

#[test]
fn reinserted_failover_video_keeps_its_audio() {
    let mut site = Site::prepare_with(1, 1, &["--audio"]);
    site.nvrs[0].segment_seconds = 2;
    site.start();
    site.wait_healthy();
    std::thread::sleep(Duration::from_secs(2));

    site.kill_nvr(0);
    let v = site.wait_takeover(0, Duration::from_secs(20));
    let since = v.since_us.unwrap();
    std::thread::sleep(Duration::from_secs(6));
    site.restart_nvr(0);
    let v = site.wait_failback(0, Duration::from_secs(40));
    let failback = v.takeovers[0].failback_us.unwrap();
    let r = &v.reinsert;
    assert!(r.last_error.is_none() && r.segments_left == 0 && r.segments_done >= 2, "{r:?}");
    while now_us() < failback + 3_000_000 {
        std::thread::sleep(Duration::from_millis(200));
    }
    for cam in site.nvrs[0].cam_ids() {
        let rec = site.recordings(0, &cam);
        let fo = failover_spans(&rec);
        assert!(!fo.is_empty(), "{cam}: no failover spans on the NVR: {rec:#?}");
        // The re-inserted failover video only (stored on the NVR now).
        let (from, to) = (fo[0].start_us.max(since), fo.last().unwrap().end_us);
        let mp4 = site.dir().join(format!("{cam}-failover.mp4"));
        site.export(0, &cam, from, to, &mp4);
        let (vcodec, vdur) = stream(&mp4, "v:0").expect("a video track");
        let (acodec, adur) = stream(&mp4, "a:0").unwrap_or_else(|| panic!("{cam}: no audio in the export: {rec:#?}"));
        assert_eq!((vcodec.as_str(), acodec.as_str()), ("h264", "pcm_mulaw"));
        assert!((vdur - adur).abs() <= 0.3, "{cam}: video {vdur} s vs audio {adur} s");
        let errs = decode_errors(&mp4);
        assert!(errs.trim().is_empty(), "{cam}: ffmpeg decode errors:\n{errs}");
        eprintln!("{cam}: failover export {:.2} s of wall time: video {vdur} s, audio {adur} s", secs(to - from));
    }
}
