//! Writing segments and reading them back.
mod common;

use common::*;
use hotspare_store::{Store, StoreConfig, StoreError};
use std::time::Duration;

fn cfg(secs: u64) -> StoreConfig {
    StoreConfig { segment_duration: Duration::from_secs(secs), ..Default::default() }
}

#[test]
fn segments_cut_at_duration_with_stagger() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg(4)).unwrap();
    let clip = synthetic_h264(250, 25, 300);
    let mut w = store.writer("cam1").unwrap();
    let stagger = w.stagger_90k();
    feed(&mut w, &clip, 0..250, 25, 0);
    w.close().unwrap();
    let segs = store.segments("cam1").unwrap();
    // First segment: cut at the first keyframe with pts >= 4 s - stagger; then every 4 s.
    let target0 = 4 * 90_000 - stagger;
    let first_cut = (1..10).map(|k| k * 25).find(|&f| f as i64 * 3600 >= target0).unwrap();
    let mut expect = vec![first_cut];
    let mut start = first_cut;
    while start < 250 {
        let next = ((start / 25 + 1)..).map(|k| k * 25).find(|&f| (f - start) as i64 * 3600 >= 4 * 90_000).unwrap();
        expect.push(next.min(250) - start);
        start = next;
    }
    let got: Vec<usize> = segs.iter().map(|s| s.frames as usize).collect();
    assert_eq!(got, expect, "stagger {stagger}");
    assert_eq!(got.iter().sum::<usize>(), 250);
    let mut frame = 0;
    for s in &segs {
        assert!(!s.open);
        let idx = store.read_index(s).unwrap();
        assert_eq!(idx.frames.len(), s.frames as usize);
        assert_eq!(s.start_wall_us, WALL0 + frame as i64 * 40_000);
        assert_eq!(idx.first_pts_90k, frame as i64 * 3600);
        assert_eq!(s.duration_90k, 3600 * s.frames as u64);
        assert_eq!(s.bytes, idx.frames.iter().map(|f| f.len as u64).sum::<u64>());
        let sample = std::fs::read(&idx.sample_path).unwrap();
        assert_eq!(sample.len() as u64, s.bytes);
        for f in &idx.frames {
            assert_eq!(f.duration_90k, 3600);
            assert_eq!(f.keyframe, frame % 25 == 0);
            let expected: Vec<u8> = clip.frames[frame]
                .0
                .iter()
                .flat_map(|n| {
                    let mut v = (n.len() as u32).to_be_bytes().to_vec();
                    v.extend_from_slice(n);
                    v
                })
                .collect();
            assert_eq!(&sample[f.offset as usize..(f.offset + f.len as u64) as usize], &expected[..]);
            frame += 1;
        }
    }
    assert_eq!(store.cameras(), vec!["cam1".to_string()]);
}

#[test]
fn stagger_differs_between_cameras() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let a = store.writer("camera-a").unwrap().stagger_90k();
    let b = store.writer("camera-b").unwrap().stagger_90k();
    assert_ne!(a, b);
    assert!((0..60 * 90_000).contains(&a) && (0..60 * 90_000).contains(&b));
}

#[test]
fn skips_until_keyframe_and_cuts_on_discontinuity_and_params() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg(60)).unwrap();
    let clip = synthetic_h264(100, 25, 100);
    let mut w = store.writer("c").unwrap();
    // Frames 5..30: 5..25 skipped (no keyframe yet), segment starts at 25.
    feed(&mut w, &clip, 5..30, 10, 0);
    // Discontinuity at frame 30 (not a keyframe): segment closed, 30..50 skipped.
    let mut b = common::Batch::new(&clip, 30..60, 0);
    b.frames[0].discontinuity = true;
    w.write(&clip.stream(), &b.frames, &b.iov()).unwrap();
    // Params change at frame 75 (a keyframe): new segment.
    feed(&mut w, &clip, 60..75, 15, 0);
    let mut other = clip.stream();
    other.params.pps = vec![0x68, 0xee, 0x3c, 0x80];
    let b = common::Batch::new(&clip, 75..100, 0);
    w.write(&other, &b.frames, &b.iov()).unwrap();
    drop(w);
    let segs = store.segments("c").unwrap();
    let got: Vec<(i64, u32)> = segs.iter().map(|s| ((s.start_wall_us - WALL0) / 40_000, s.frames)).collect();
    assert_eq!(got, vec![(25, 5), (50, 25), (75, 25)]);
    assert_eq!(store.read_index(&segs[2]).unwrap().params.pps, vec![0x68, 0xee, 0x3c, 0x80]);
    // Discontinuity on a keyframe starts a new segment right there.
    let mut w = store.writer("c").unwrap();
    let mut b = common::Batch::new(&clip, 0..50, 10_000_000);
    b.frames[25].discontinuity = true;
    w.write(&clip.stream(), &b.frames, &b.iov()).unwrap();
    drop(w);
    assert_eq!(store.segments("c").unwrap().iter().map(|s| s.frames).collect::<Vec<_>>(), vec![5, 25, 25, 25, 25]);
}

#[test]
fn open_segment_listed_and_last_duration() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg(60)).unwrap();
    let clip = synthetic_h264(3, 25, 100);
    let mut w = store.writer("c").unwrap();
    feed(&mut w, &clip, 0..1, 1, 0);
    let segs = store.segments("c").unwrap();
    assert_eq!((segs.len(), segs[0].open, segs[0].frames, segs[0].duration_90k), (1, true, 1, 3600));
    feed(&mut w, &clip, 1..3, 2, 0);
    let segs = store.segments("c").unwrap();
    assert_eq!((segs[0].frames, segs[0].duration_90k), (3, 3 * 3600));
    let idx = store.read_index(&segs[0]).unwrap();
    assert_eq!(idx.frames.iter().map(|f| f.duration_90k).collect::<Vec<_>>(), vec![3600; 3]);
    w.close().unwrap();
    assert!(!store.segments("c").unwrap()[0].open);
}

#[test]
fn rejects_bad_ids_second_writer_and_bad_batches() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg(60)).unwrap();
    for bad in ["", "a/b", "..", "x y", &"a".repeat(65)] {
        assert!(matches!(store.writer(bad), Err(StoreError::BadCameraId(_))), "{bad:?}");
    }
    let mut w = store.writer("ok_Cam-1").unwrap();
    assert!(matches!(store.writer("ok_Cam-1"), Err(StoreError::WriterBusy(_))));
    let clip = synthetic_h264(2, 25, 100);
    let mut b = common::Batch::new(&clip, 0..2, 0);
    b.frames[1].len += 1;
    assert!(matches!(w.write(&clip.stream(), &b.frames, &b.iov()), Err(StoreError::BadBatch { .. })));
    b.frames[1].len -= 1;
    b.frames[1].pieces += 1;
    assert!(matches!(w.write(&clip.stream(), &b.frames, &b.iov()), Err(StoreError::BadBatch { .. })));
    drop(w);
    assert!(store.writer("ok_Cam-1").is_ok());
}

/// The recorder's wall-clock mapping may move mid-session (an RTCP sender
/// report replacing the arrival-time anchor): segments of one continuous run
/// still join exactly, timed by pts from the run's first frame.
#[test]
fn segments_of_a_run_join_when_the_wall_clock_mapping_moves() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg(2)).unwrap();
    let clip = synthetic_h264(250, 25, 300);
    let mut w = store.writer("cam1").unwrap();
    feed(&mut w, &clip, 0..100, 25, 0);
    // From frame 100 on the mapping says 0.44 s earlier.
    feed(&mut w, &clip, 100..250, 25, -440_000);
    w.close().unwrap();
    let segs = store.segments("cam1").unwrap();
    assert!(segs.len() >= 4, "{segs:?}");
    for pair in segs.windows(2) {
        assert_eq!(pair[1].start_wall_us, pair[0].end_wall_us(), "segments must join: {pair:?}");
    }
    assert_eq!(segs[0].start_wall_us, WALL0);
}

/// The supervisor's recording progress: every video byte written with `sync_each_batch` is
/// counted once synced (so the count equals the bytes in the segments), it only grows, and
/// without `sync_each_batch` the bytes count when their segment is closed and synced.
#[test]
fn bytes_fsynced_counts_synced_video_and_never_decreases() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg(4)).unwrap();
    assert_eq!(store.bytes_fsynced(), 0);
    let clip = synthetic_h264(100, 25, 300);
    let mut w = store.writer("cam1").unwrap();
    feed(&mut w, &clip, 0..50, 25, 0);
    let mid = store.bytes_fsynced();
    assert!(mid > 0);
    feed(&mut w, &clip, 50..100, 25, 0);
    w.close().unwrap();
    let total: u64 = store.segments("cam1").unwrap().iter().map(|s| s.bytes).sum();
    assert!(store.bytes_fsynced() >= mid);
    assert_eq!(store.bytes_fsynced(), total);

    let dir = tempfile::tempdir().unwrap();
    let lazy = StoreConfig { sync_each_batch: false, ..cfg(4) };
    let store = Store::open(dir.path(), lazy).unwrap();
    let mut w = store.writer("cam1").unwrap();
    feed(&mut w, &clip, 0..10, 25, 0);
    assert_eq!(store.bytes_fsynced(), 0, "nothing synced before the segment closes");
    w.close().unwrap();
    let total: u64 = store.segments("cam1").unwrap().iter().map(|s| s.bytes).sum();
    assert_eq!(store.bytes_fsynced(), total);
}
