//! Steady state of `CameraWriter::write` allocates nothing per frame: after
//! the segment is open, batches of frames go to disk (writev of the sample,
//! index record appended, fdatasync) with zero heap allocations, counted by
//! a global allocator.
mod common;

use std::io::IoSlice;
use std::time::Duration;

use common::*;
use hotspare_store::{Store, StoreConfig};

#[path = "../../media/tests/support/counting_alloc.rs"]
mod counting_alloc;
use counting_alloc::allocs;

#[test]
fn writer_steady_state_allocates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig { segment_duration: Duration::from_secs(3600), ..Default::default() };
    let store = Store::open(dir.path(), cfg).unwrap();
    let clip = synthetic_h264(500, 25, 2000);
    let stream = clip.stream();
    // Batches of one GOP, built before counting.
    let batches: Vec<Batch> = (0..20).map(|g| Batch::new(&clip, g * 25..(g + 1) * 25, 0)).collect();
    let iovs: Vec<Vec<IoSlice<'_>>> = batches.iter().map(|b| b.iov()).collect();
    let mut w = store.writer("cam").unwrap();
    // Warm-up: the segment is created and the reused buffers reach size.
    for (b, iov) in batches.iter().zip(&iovs).take(4) {
        w.write(&stream, &b.frames, iov).unwrap();
    }
    let before = allocs();
    for (b, iov) in batches.iter().zip(&iovs).skip(4) {
        w.write(&stream, &b.frames, iov).unwrap();
    }
    let during = allocs() - before;
    w.close().unwrap();
    assert_eq!(store.segments("cam").unwrap()[0].frames, 500, "one segment with every frame");
    assert_eq!(during, 0, "{during} allocations for 16 batches of 25 frames in steady state");
}
