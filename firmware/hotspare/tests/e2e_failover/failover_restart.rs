//! End to end: `kill -9` of the spare itself, (1) while it records a
//! taken-over NVR and (2) in the middle of re-inserting the failover video.
//! The restarted spare resumes from its state directory: the takeover goes
//! on (and records again), the re-insertion finishes, and the NVR ends up
//! with every failover frame exactly once.

use crate::common::{ffprobe, now_us};
use crate::failover_common::*;
use hotspare_api::Location;
use rustix::process::Signal;
use std::time::{Duration, Instant};

#[test]
fn spare_killed_during_takeover_resumes_it() {
    let mut site = Site::prepare(1, 2);
    site.nvrs[0].segment_seconds = 2;
    site.start();
    site.wait_healthy();
    let killed = site.kill_nvr(0);
    let v = site.wait_takeover(0, Duration::from_secs(20));
    let (since, reason) = (v.since_us.unwrap(), v.reason.clone().unwrap());
    std::thread::sleep(Duration::from_secs(3));

    let spare_killed = site.kill_spare();
    let (frames_before, segs_before) = store_frames(&site.dir().join("spare-store/nvr1"));
    assert!(frames_before >= 2 * 50 && segs_before >= 2, "{frames_before} frames, {segs_before} segments");
    // Down for 2 s: more than the 1.5 s gap that joins spans, even when the kill lost
    // almost nothing (the recorder flushes before 1 s is unsaved).
    std::thread::sleep(Duration::from_secs(2));
    let restarted = now_us();
    site.start_spare();
    // The takeover survives the restart: same phase, reason and start.
    let v = site.wait_takeover(0, Duration::from_secs(20));
    assert_eq!((v.reason.as_deref(), v.since_us), (Some(reason.as_str()), Some(since)), "{v:#?}");
    assert!(site.spare_log().contains("nvr1: resuming takeover after a restart of the spare"), "{}", site.dump());
    // And it records again: held video newer than the restart.
    let end = Instant::now() + Duration::from_secs(15);
    let mut resumed_first = std::collections::BTreeMap::new();
    for cam in site.nvrs[0].cam_ids() {
        loop {
            let held = site.held(0, &cam);
            if let Some(s) = held.spans.iter().find(|s| s.start_us >= restarted) {
                if s.end_us > s.start_us + 1_000_000 {
                    resumed_first.insert(cam.clone(), s.start_us);
                    break;
                }
            }
            assert!(Instant::now() < end, "{cam}: nothing recorded after the restart: {held:#?}\n{}", site.dump());
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    site.restart_nvr(0);
    let v = site.wait_failback(0, Duration::from_secs(40));
    let failback = v.takeovers.last().unwrap().failback_us.unwrap();
    eprintln!(
        "spare killed {:.2} s into the takeover, {segs_before} segments ({frames_before} frames) on disk; \
         restarted {:.2} s later; first new frames {}; re-inserted {} segments, {} frames",
        secs(spare_killed - since),
        secs(restarted - spare_killed),
        resumed_first.iter().map(|(c, f)| format!("{c} +{:.2} s", secs(f - restarted))).collect::<Vec<_>>().join(", "),
        v.reinsert.segments_done,
        v.reinsert.frames_done
    );
    while now_us() < failback + 2_000_000 {
        std::thread::sleep(Duration::from_millis(200));
    }

    // Everything is on the NVR: video from before the spare's crash and after its restart.
    let mut failover_frames = 0;
    for cam in site.nvrs[0].cam_ids() {
        let rec = site.recordings(0, &cam);
        let fo = failover_spans(&rec);
        assert!(fo.iter().all(|s| s.location == Location::Nvr), "{rec:#?}");
        let before = fo.iter().any(|s| s.start_us < spare_killed - 2_000_000 && s.end_us > spare_killed - 1_500_000);
        let after = fo.iter().any(|s| s.start_us <= resumed_first[&cam] && s.end_us > resumed_first[&cam] + 1_000_000);
        assert!(
            before && after,
            "{cam}: failover video from before the crash {before}, after the restart {after}\n{rec:#?}"
        );
        failover_frames += failover_frames_on_nvr(&rec);
        let hole = largest_span_gap(&rec.spans, since + 2_000_000, failback);
        eprintln!(
            "{cam}: largest hole during the takeover {:.2} s (the spare was down {:.2} s)",
            secs(hole),
            secs(restarted - spare_killed)
        );
        assert!(hole <= (restarted - spare_killed) + 2 * GOP_US + 1_000_000, "{cam}: hole {hole} µs\n{rec:#?}");
        // The segment the crash cut short was recovered: the export decodes cleanly.
        let mp4 = site.dir().join(format!("{cam}.mp4"));
        site.export(0, &cam, killed - 2_000_000, failback + 1_000_000, &mp4);
        let p = ffprobe(&mp4);
        assert!(p.stderr.trim().is_empty(), "{}", p.stderr);
        let errs = decode_errors(&mp4);
        assert!(errs.trim().is_empty(), "{cam}: ffmpeg decode errors:\n{errs}");
    }
    assert_eq!(failover_frames, v.reinsert.frames_done);
    assert!(v.reinsert.frames_done + 50 >= frames_before, "{} < {frames_before}", v.reinsert.frames_done);
    assert_eq!(origin_files(&site.nvrs[0].storage) as u64, v.reinsert.segments_done);
    let _ = killed;
}

#[test]
fn spare_killed_during_reinsertion_resumes_it() {
    let mut site = Site::prepare(1, 2);
    site.nvrs[0].segment_seconds = 2;
    site.start();
    site.wait_healthy();
    site.kill_nvr(0);
    site.wait_takeover(0, Duration::from_secs(20));
    std::thread::sleep(Duration::from_secs(10));
    site.restart_nvr(0);
    let nvr_store = site.nvrs[0].storage.clone();
    let api = site.nvr(0).group.pid();

    // Once the NVR has begun storing a second segment, the spare has the receipt of the first:
    // freeze the NVR there (re-insertion cannot progress) and check what the spare says.
    let end = Instant::now() + Duration::from_secs(40);
    while origin_files(&nvr_store) < 2 {
        assert!(Instant::now() < end, "re-insertion never started\n{}", site.dump());
        std::thread::sleep(Duration::from_millis(1));
    }
    signal_pid(api, Signal::STOP);
    let frozen_us = now_us();
    let frozen_at = origin_files(&nvr_store);
    // The spare publishes its progress with each check; wait for a check that ended after the
    // freeze (it times out within about 2 s: at most two missed checks, not a takeover).
    let end = Instant::now() + Duration::from_millis(2500);
    let v = loop {
        let v = site.view(0).unwrap();
        if v.last_check_us.is_some_and(|t| t > frozen_us) || Instant::now() > end {
            break v;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let p1 = v.reinsert.clone();
    let spare_killed = site.kill_spare();
    signal_pid(api, Signal::CONT);
    assert!(v.last_check_us.is_some_and(|t| t > frozen_us), "no check published after the freeze: {v:#?}");
    assert_eq!(v.phase, "watching", "{v:#?}");
    assert!(p1.segments_done >= 1 && !p1.finished, "not mid-way: {p1:?} ({frozen_at} stored on the NVR)");
    let (left_frames, left_segs) = store_frames(&site.dir().join("spare-store/nvr1"));
    assert!(left_segs >= 1, "nothing left on the spare: {p1:?}");
    let recorded = p1.frames_done + left_frames;

    site.start_spare();
    let v = site.wait_view(0, Duration::from_secs(30), "re-insertion resumed and finished", |v| {
        v.phase == "watching" && v.reinsert.finished
    });
    let p2 = &v.reinsert;
    eprintln!(
        "spare killed after {} of {} segments ({frozen_at} begun on the NVR); the restarted spare re-inserted {} \
         segments ({} frames, {} already there); the spare recorded {recorded} frames in all",
        p1.segments_done,
        p1.segments_done + left_segs,
        p2.segments_done,
        p2.frames_done,
        p2.already_there
    );
    assert!(site.spare_log().contains("nvr1: re-insertion finished"), "{}", site.dump());
    assert_eq!((p2.segments_done, p2.frames_done), (left_segs, left_frames), "{p2:?}");
    assert!(p2.already_there <= 1, "{p2:?}");
    assert_eq!(store_frames(&site.dir().join("spare-store/nvr1")), (0, 0));

    // Exactly once on the NVR: every frame the spare recorded, no segment twice.
    let mut on_nvr = 0;
    for cam in site.nvrs[0].cam_ids() {
        let rec = site.recordings(0, &cam);
        assert!(rec.spans.iter().all(|s| s.location == Location::Nvr), "{rec:#?}");
        on_nvr += failover_frames_on_nvr(&rec);
        let fo = failover_spans(&rec);
        for w in fo.windows(2) {
            assert!(w[1].start_us >= w[0].end_us, "{cam}: overlapping failover spans {w:?}");
        }
    }
    assert_eq!(on_nvr, recorded, "failover frames on the NVR vs frames the spare recorded");
    // Every segment once: those re-inserted before the crash plus those left on the spare (one of
    // which the NVR may have stored just before the crash: then it was `already_there`).
    assert_eq!(origin_files(&nvr_store) as u64, p1.segments_done + left_segs);
    let _ = spare_killed;
}
