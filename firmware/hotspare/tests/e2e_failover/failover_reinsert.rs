//! End to end: a power cut of an NVR, the spare recording its cameras, the
//! NVR coming back, failback, and re-insertion of the failover video into
//! the NVR's store: the NVR's timeline then shows the outage as `failover`
//! video stored on the NVR, its MP4 export of the outage decodes cleanly and
//! has no hole longer than detection + one GOP + the NVR's unflushed last
//! second, and no frame is stored twice.

use crate::common::{ffprobe, now_us};
use crate::failover_common::*;
use hotspare_api::Location;
use std::time::Duration;

#[test]
fn failback_reinserts_the_outage_without_a_hole() {
    let mut site = Site::prepare(1, 2);
    site.nvrs[0].segment_seconds = 2;
    site.start();
    site.wait_healthy();
    std::thread::sleep(Duration::from_secs(2));

    let killed = site.kill_nvr(0);
    let v = site.wait_takeover(0, Duration::from_secs(20));
    let since = v.since_us.unwrap();
    let detection = since - killed;
    std::thread::sleep(Duration::from_secs(6));
    let back = site.restart_nvr(0);
    let v = site.wait_failback(0, Duration::from_secs(40));
    let failback = v.takeovers[0].failback_us.unwrap();
    let r = &v.reinsert;
    eprintln!(
        "detection {:.2} s; NVR back after {:.2} s; failback {:.2} s after restart; re-inserted {} segments, \
         {} frames, {} bytes in {:.2} s ({} already there)",
        secs(detection),
        secs(back - killed),
        secs(failback - back),
        r.segments_done,
        r.frames_done,
        r.bytes_done,
        secs(r.finished_us.unwrap() - r.started_us),
        r.already_there
    );
    assert!(r.last_error.is_none() && r.segments_left == 0, "{r:?}");
    assert_eq!(r.already_there, 0, "first re-insertion: nothing can be there yet: {r:?}");
    assert!(r.segments_done >= 4, "2 cameras × ≥ 6 s in 2 s segments: {r:?}");
    // Nothing left on the spare.
    assert_eq!(store_frames(&site.dir().join("spare-store/nvr1")), (0, 0), "the spare still holds video");

    // Let the NVR record (and flush) a few seconds after the failback.
    while now_us() < failback + 3_000_000 {
        std::thread::sleep(Duration::from_millis(200));
    }
    let (from, to) = (killed - 3_000_000, failback + 2_000_000);
    let bound = detection + GOP_US + 1_000_000;
    let mut failover_frames = 0;
    for cam in site.nvrs[0].cam_ids() {
        let rec = site.recordings(0, &cam);
        let fo = failover_spans(&rec);
        assert!(!fo.is_empty(), "{cam}: no failover spans on the NVR: {rec:#?}");
        assert!(fo.iter().all(|s| s.location == Location::Nvr), "{cam}: failover video not re-inserted: {rec:#?}");
        // The failover video lies within the takeover.
        assert!(fo[0].start_us >= since && fo.last().unwrap().end_us <= failback + 1_000_000, "{rec:#?}");
        failover_frames += failover_frames_on_nvr(&rec);
        let span_hole = largest_span_gap(&rec.spans, killed - 2_000_000, failback);
        let overlap = rec
            .spans
            .iter()
            .filter(|s| s.source == hotspare_api::Source::Local && s.start_us > killed)
            .map(|s| fo.last().unwrap().end_us - s.start_us)
            .next()
            .unwrap_or(0);

        // Playback of the outage from the NVR, re-inserted video included.
        let mp4 = site.dir().join(format!("{cam}-outage.mp4"));
        site.export(0, &cam, from, to, &mp4);
        let p = ffprobe(&mp4);
        assert_eq!(p.codec, "h264");
        assert!(p.stderr.trim().is_empty(), "{cam}: ffprobe: {}", p.stderr);
        let pk = packets(&mp4);
        let errs = decode_errors(&mp4);
        let zero: Vec<(usize, (i64, i64))> =
            pk.iter().copied().enumerate().filter(|(_, (_, d))| *d < FRAME_US / 2 || *d > 3 * FRAME_US / 2).collect();
        assert!(
            errs.trim().is_empty(),
            "{cam}: ffmpeg decode errors:\n{errs}\npackets of odd duration: {zero:?} of {}\n{rec:#?}\n{}",
            pk.len(),
            std::fs::read_dir(site.nvrs[0].storage.join(&cam))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" ")
        );
        assert_eq!(pk.len() as i64, p.frames);
        assert_monotonic(&pk, &cam);
        let longest = pk[..pk.len() - 1].iter().map(|&(_, d)| d).max().unwrap();
        let hole = longest - FRAME_US;
        let mp4_us: i64 = pk.iter().map(|&(_, d)| d).sum();
        eprintln!(
            "{cam}: {} frames exported over {:.2} s of wall time (MP4 lasts {:.2} s); largest hole: {:.2} s in the \
             MP4, {:.2} s between spans (bound {:.2} s); NVR and spare overlap {:.2} s at failback",
            p.frames,
            secs(to - from),
            secs(mp4_us),
            secs(hole),
            secs(span_hole),
            secs(bound),
            secs(overlap)
        );
        assert!(hole <= bound, "{cam}: a hole of {hole} µs in the export (bound {bound} µs)\n{pk:?}");
        assert!(span_hole <= bound, "{cam}: a hole of {span_hole} µs between spans\n{rec:#?}");
        // The export covers the window: at least the wall time minus the allowed hole.
        assert!(mp4_us >= (to - from) - bound - 2 * GOP_US, "{cam}: MP4 of {mp4_us} µs for {} µs", to - from);
        // ...and plays the failback overlap once: MP4 time follows wall time. Allowed beyond the
        // window: the export starts at the keyframe before `from` (≤ one GOP) and the joins
        // between the spare's and the NVR's recordings are timed by two clocks (≤ two frames);
        // the overlap played twice would add more than a second (the test prints it).
        let allowed = (to - from) + GOP_US + 2 * FRAME_US;
        assert!(mp4_us <= allowed, "{cam}: MP4 of {mp4_us} µs for {} µs of wall time", to - from);
    }
    // No frame twice, none lost between the spare and the NVR.
    assert_eq!(failover_frames, v.reinsert.frames_done, "failover frames on the NVR vs frames re-inserted");
    assert_eq!(origin_files(&site.nvrs[0].storage) as u64, v.reinsert.segments_done);
}
