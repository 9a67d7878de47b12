//! Crash recovery on Store::open.
mod common;

use common::*;
use hotspare_store::{Store, StoreConfig};
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

/// Writes one segment of 50 frames (batches of 10) with the writer "killed" (forgotten).
fn crashed_segment(root: &std::path::Path) -> (PathBuf, PathBuf, u64, Vec<u64>) {
    let store =
        Store::open(root, StoreConfig { segment_duration: Duration::from_secs(600), ..Default::default() }).unwrap();
    let clip = synthetic_h264(50, 25, 500);
    let mut w = store.writer("cam").unwrap();
    feed(&mut w, &clip, 0..50, 10, 0);
    std::mem::forget(w); // like kill -9: nothing closed
    let seg = store.segments("cam").unwrap().remove(0);
    assert!(seg.open);
    let idx = store.read_index(&seg).unwrap();
    let lens = idx.frames.iter().map(|f| f.len as u64).collect();
    (idx.sample_path.clone(), idx.sample_path.with_extension("index"), seg.bytes, lens)
}

fn reopen(root: &std::path::Path) -> std::sync::Arc<Store> {
    Store::open(root, StoreConfig::default()).unwrap()
}

#[test]
fn kill_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, bytes, _) = crashed_segment(dir.path());
    let segs = reopen(dir.path()).segments("cam").unwrap();
    assert_eq!((segs.len(), segs[0].frames, segs[0].bytes, segs[0].open), (1, 50, bytes, false));
}

#[test]
fn garbage_sample_tail_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, _, bytes, _) = crashed_segment(dir.path());
    std::fs::OpenOptions::new().append(true).open(&sample).unwrap().write_all(&[0xab; 777]).unwrap();
    let store = reopen(dir.path());
    let segs = store.segments("cam").unwrap();
    assert_eq!((segs[0].frames, segs[0].bytes), (50, bytes));
    assert_eq!(std::fs::metadata(&sample).unwrap().len(), bytes);
}

/// A torn last index record: its frames are still in the sample file and are indexed from
/// it (never cut off).
#[test]
fn torn_index_tail_indexed_from_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, index, bytes, lens) = crashed_segment(dir.path());
    let ilen = std::fs::metadata(&index).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&index).unwrap().set_len(ilen - 5).unwrap();
    let store = reopen(dir.path());
    let segs = store.segments("cam").unwrap();
    assert_eq!((segs[0].frames, segs[0].bytes), (50, bytes));
    assert_eq!(std::fs::metadata(&sample).unwrap().len(), bytes);
    let idx = store.read_index(&segs[0]).unwrap();
    assert_eq!(idx.frames.iter().map(|f| f.len as u64).collect::<Vec<_>>(), lens);
    // The index was rewritten whole: a second open changes nothing.
    assert_eq!(reopen(dir.path()).segments("cam").unwrap()[0].frames, 50);
}

#[test]
fn short_sample_drops_index_entries() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, _, _, lens) = crashed_segment(dir.path());
    let keep: u64 = lens[..33].iter().sum::<u64>() + 10; // mid-frame 34
    std::fs::OpenOptions::new().write(true).open(&sample).unwrap().set_len(keep).unwrap();
    let store = reopen(dir.path());
    let segs = store.segments("cam").unwrap();
    assert_eq!((segs[0].frames, segs[0].bytes), (33, keep - 10));
    assert_eq!(std::fs::metadata(&sample).unwrap().len(), keep - 10);
    assert_eq!(reopen(dir.path()).segments("cam").unwrap()[0].frames, 33);
}

#[test]
fn missing_index_rebuilt_from_sample() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, index, bytes, lens) = crashed_segment(dir.path());
    std::fs::remove_file(&index).unwrap();
    std::fs::OpenOptions::new().append(true).open(&sample).unwrap().write_all(&[0, 0, 1]).unwrap();
    let store = reopen(dir.path());
    let segs = store.segments("cam").unwrap();
    assert_eq!((segs[0].frames, segs[0].bytes), (50, bytes));
    let idx = store.read_index(&segs[0]).unwrap();
    assert_eq!(idx.frames.iter().map(|f| f.len as u64).collect::<Vec<_>>(), lens);
    assert_eq!(idx.frames.iter().filter(|f| f.keyframe).count(), 2);
    assert!(idx.frames.iter().all(|f| f.duration_90k == 3600));
    assert_eq!(idx.params.sps, H264_SPS);
    assert_eq!(idx.start_wall_us, WALL0);
    assert!(index.exists());
}

#[test]
fn garbage_pair_renamed_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, index, _, _) = crashed_segment(dir.path());
    std::fs::write(&sample, vec![0x5a; 4000]).unwrap();
    std::fs::write(&index, vec![0x33; 100]).unwrap();
    let store = reopen(dir.path());
    assert!(store.segments("cam").unwrap().is_empty());
    assert!(!sample.exists() && !index.exists());
    assert!(PathBuf::from(format!("{}.corrupt", sample.display())).exists());
    assert!(PathBuf::from(format!("{}.corrupt", index.display())).exists());
    assert!(matches!(store.export_mp4("cam", None, None), Err(hotspare_store::StoreError::EmptyExport { .. })));
}

/// No whole frame left (10 bytes of the first): not served, but kept as `*.corrupt`.
#[test]
fn segment_without_whole_frame_kept_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, index, _, _) = crashed_segment(dir.path());
    std::fs::OpenOptions::new().write(true).open(&sample).unwrap().set_len(10).unwrap();
    let store = reopen(dir.path());
    assert!(store.segments("cam").unwrap().is_empty());
    assert!(!sample.exists() && !index.exists());
    assert_eq!(std::fs::metadata(format!("{}.corrupt", sample.display())).unwrap().len(), 10);
}

/// A segment created and never written (empty sample file) is removed: nothing to keep.
#[test]
fn never_written_segment_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (sample, index, _, _) = crashed_segment(dir.path());
    std::fs::OpenOptions::new().write(true).open(&sample).unwrap().set_len(0).unwrap();
    let store = reopen(dir.path());
    assert!(store.segments("cam").unwrap().is_empty());
    assert!(!sample.exists() && !index.exists());
}
