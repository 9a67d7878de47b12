//! Retention and ENOSPC handling on a real 8 MiB tmpfs (needs root to mount;
//! skipped with a printed reason otherwise).
mod common;

use common::*;
use hotspare_store::{RecycleState, Store, StoreConfig, StoreError};
use std::path::Path;
use std::time::Duration;

fn usage(p: &Path) -> u64 {
    let st = rustix::fs::statvfs(p).unwrap();
    (st.f_blocks - st.f_bfree) * 100 / st.f_blocks
}

fn cfg(hw: u8) -> StoreConfig {
    StoreConfig { segment_duration: Duration::from_secs(1), high_water_percent: hw, ..Default::default() }
}

/// Writes `segs` closed one-second segments of 25 frames x `size` bytes for `camera`.
fn fill(store: &std::sync::Arc<Store>, camera: &str, segs: usize, size: usize, wall_offset: i64) {
    let clip = synthetic_h264(25 * segs + 1, 25, size);
    let mut w = store.writer(camera).unwrap();
    feed(&mut w, &clip, 0..25 * segs, 25, wall_offset);
    w.close().unwrap();
}

#[test]
fn retention_tmpfs() {
    let Some(fs) = Tmpfs::mount() else { return };
    let root = fs.path.join("store");

    // 1. Above the mark: the oldest closed segments go first, across cameras.
    {
        let store = Store::open(&root, cfg(50)).unwrap();
        assert_eq!(store.recycle(), RecycleState::Ok, "empty volume is under the mark");
        fill(&store, "old", 2, 40_000, 0); // ~2 MB, oldest
        fill(&store, "new", 3, 40_000, 100_000_000); // ~3 MB
        assert!(usage(&fs.path) > 50);
        assert_eq!(store.recycle(), RecycleState::Ok);
        assert!(usage(&fs.path) <= 50);
        assert!(store.segments("old").unwrap().len() < 2, "the oldest segments are deleted first");
        assert_eq!(store.segments("new").unwrap().len(), 3, "newer segments kept");
        // max_age removes everything recorded in 2023.
        drop(store);
        let store = Store::open(&root, StoreConfig { max_age: Some(Duration::from_secs(3600)), ..cfg(50) }).unwrap();
        store.recycle();
        assert!(store.segments("new").unwrap().is_empty());
    }

    // 2. Only an open segment and the volume above the mark: Failing, nothing deleted.
    {
        let store = Store::open(&root, StoreConfig { segment_duration: Duration::from_secs(600), ..cfg(50) }).unwrap();
        let clip = synthetic_h264(250, 25, 40_000);
        let mut w = store.writer("live").unwrap();
        feed(&mut w, &clip, 0..125, 25, 0); // ~5 MB in one open segment
        assert!(matches!(store.recycle(), RecycleState::Failing { .. }));
        assert!(matches!(store.recycle_state(), RecycleState::Failing { .. }));
        assert_eq!(store.segments("live").unwrap()[0].frames, 125);

        // 3. ENOSPC with nothing deletable: typed Full, file truncated, no panic.
        let b = Batch::new(&clip, 125..225, 0); // ~4 MB more does not fit in 8 MiB
        let err = w.write(&clip.stream(), &b.frames, &b.iov()).unwrap_err();
        assert!(matches!(err, StoreError::Full(_)), "{err}");
        assert!(matches!(store.recycle_state(), RecycleState::Failing { .. }));
        let seg = store.segments("live").unwrap().remove(0);
        assert_eq!((seg.frames, seg.open), (125, false));
        let idx = store.read_index(&seg).unwrap();
        assert_eq!(std::fs::metadata(&idx.sample_path).unwrap().len(), seg.bytes);

        // 4. Space comes back (the closed segment can now be recycled): writes resume with a
        //    new segment at the next keyframe.
        assert_eq!(store.recycle(), RecycleState::Ok);
        let b = Batch::new(&clip, 130..160, 0);
        w.write(&clip.stream(), &b.frames, &b.iov()).unwrap();
        let segs = store.segments("live").unwrap();
        let last = segs.last().unwrap();
        assert_eq!((last.start_wall_us - WALL0) / 40_000, 150);
        assert_eq!((last.frames, last.open), (10, true));
        drop(w);
    }

    // 5. ENOSPC while closed segments exist: truncate, recycle, retry succeeds.
    {
        let store = Store::open(&root, cfg(50)).unwrap();
        for s in store.segments("live").unwrap() {
            assert!(!s.open);
        }
        fill(&store, "filler", 4, 40_000, 200_000_000); // ~4 MB closed, newer than "live"
        let clip = synthetic_h264(100, 100, 40_000);
        let mut w = store.writer("big").unwrap();
        let b = Batch::new(&clip, 0..100, 300_000_000); // ~4 MB in one batch: ENOSPC first
        w.write(&clip.stream(), &b.frames, &b.iov()).unwrap();
        assert_eq!(store.segments("big").unwrap()[0].frames, 100);
        assert_eq!(store.recycle_state(), RecycleState::Ok);
        drop(w);
        // Everything still on disk is consistent after a reopen.
        drop(store);
        let store = Store::open(&root, cfg(50)).unwrap();
        assert_eq!(store.segments("big").unwrap()[0].frames, 100);
    }
}
