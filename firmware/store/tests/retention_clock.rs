//! Retention by age and the import time check driven by a simulated clock: the store reads
//! time only from `StoreConfig::clock`, so no test sleeps.
mod common;

use common::*;
use hotspare_base::SimClock;
use hotspare_store::{ImportSource, InvalidSegment, Store, StoreConfig, StoreError};
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

fn cfg(clock: &SimClock) -> StoreConfig {
    StoreConfig {
        segment_duration: Duration::from_secs(1),
        // Never above the mark: only `max_age` deletes.
        high_water_percent: 100,
        max_age: Some(HOUR),
        clock: clock.shared(),
        ..Default::default()
    }
}

#[test]
fn max_age_follows_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    let clock = SimClock::new(WALL0);
    let store = Store::open(dir.path(), cfg(&clock)).unwrap();
    let clip = synthetic_h264(25 * 4 + 1, 25, 1000);
    let mut w = store.writer("cam").unwrap();
    feed(&mut w, &clip, 0..25 * 4, 25, 0);
    w.close().unwrap();
    let segs = store.segments("cam").unwrap();
    assert!(segs.len() >= 3, "{segs:?}");
    let ends: Vec<i64> = segs.iter().map(|s| s.end_wall_us()).collect();

    // Recorded just now (by the simulated clock): nothing is old enough.
    store.recycle();
    assert_eq!(store.segments("cam").unwrap().len(), segs.len());

    // One hour after the first segment ended, plus 1 µs: exactly that segment is past max_age.
    clock.set_wall_us(ends[0] + HOUR.as_micros() as i64 + 1);
    store.recycle();
    let left: Vec<i64> = store.segments("cam").unwrap().iter().map(|s| s.end_wall_us()).collect();
    assert_eq!(left, ends[1..], "only the segment that ended over an hour ago is deleted");

    // A day later every closed segment is gone; an open one is never deleted however old.
    let mut open = store.writer("live").unwrap();
    feed(&mut open, &clip, 0..10, 5, 0);
    clock.advance(Duration::from_secs(86_400));
    store.recycle();
    assert!(store.segments("cam").unwrap().is_empty());
    let live = store.segments("live").unwrap();
    assert_eq!((live.len(), live[0].open), (1, true));
}

#[test]
fn import_judges_the_future_by_the_injected_clock() {
    let dir = tempfile::tempdir().unwrap();
    // A segment recorded at WALL0, offered to a store whose clock reads two days earlier.
    let clock = SimClock::new(WALL0 - 2 * 86_400_000_000);
    let src_dir = tempfile::tempdir().unwrap();
    let src =
        Store::open(src_dir.path(), StoreConfig { segment_duration: Duration::from_secs(600), ..cfg(&clock) }).unwrap();
    let clip = synthetic_h264(26, 25, 1000);
    let mut w = src.writer("cam").unwrap();
    feed(&mut w, &clip, 0..25, 25, 0);
    w.close().unwrap();
    let seg = src.segments("cam").unwrap().remove(0);
    let (index_path, sample_path) = src.segment_paths(&seg).unwrap();
    let (index, sample) = (std::fs::read(index_path).unwrap(), std::fs::read(sample_path).unwrap());

    let store = Store::open(dir.path(), cfg(&clock)).unwrap();
    let offer = |uid: &str| {
        let tmp = store.import_temp_path().unwrap();
        std::fs::write(&tmp, &sample).unwrap();
        store.import_segment("cam", ImportSource { uid, sha256: "00", index: &index, sample_tmp: &tmp, audio: None })
    };
    match offer("u1") {
        Err(StoreError::InvalidImport { source: InvalidSegment::InFuture { .. }, .. }) => {}
        other => panic!("expected InFuture, got {other:?}"),
    }
    clock.advance(Duration::from_secs(2 * 86_400));
    let (info, created) = offer("u2").expect("accepted once the clock caught up");
    assert!(created);
    assert_eq!(info.start_wall_us, seg.start_wall_us);
}
