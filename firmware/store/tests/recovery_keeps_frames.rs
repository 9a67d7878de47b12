//! Recovery keeps every frame it can prove, and one bad entry never stops the
//! rest of the store or of an export: a flipped bit in an index record, a
//! directory named like a segment file, a segment whose SPS does not parse.
mod common;

use common::*;
use hotspare_store::index::{encode_record, parse_index};
use hotspare_store::{Store, StoreConfig};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn cfg(segment_s: u64) -> StoreConfig {
    StoreConfig { segment_duration: Duration::from_secs(segment_s), ..Default::default() }
}

/// Writes `n` synthetic frames (GOP 25, batches of 10) to camera `cam` and closes the writer.
fn record(root: &Path, n: usize, segment_s: u64) -> Vec<hotspare_store::SegmentInfo> {
    let store = Store::open(root, cfg(segment_s)).unwrap();
    let clip = synthetic_h264(n, 25, 500);
    let mut w = store.writer("cam").unwrap();
    feed(&mut w, &clip, 0..n, 10, 0);
    w.close().unwrap();
    store.segments("cam").unwrap()
}

fn quarantined(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.join(".quarantine")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            out.push(e.path());
            if e.path().is_dir() {
                dirs.push(e.path());
            }
        }
    }
    out
}

fn frame_lens(store: &Store, seg: &hotspare_store::SegmentInfo) -> Vec<u32> {
    store.read_index(seg).unwrap().frames.iter().map(|f| f.len).collect()
}

/// A bit flipped inside the 2nd of 5 batch records: the index is rebuilt from the sample
/// file after the last good record; all 50 frames stay served, the sample file is intact,
/// and the damaged index is kept in the quarantine.
#[test]
fn flipped_bit_in_index_keeps_every_frame() {
    let dir = tempfile::tempdir().unwrap();
    let segs = record(dir.path(), 50, 600);
    assert_eq!(segs.len(), 1);
    let before = Store::open_readonly(dir.path()).unwrap();
    let lens = frame_lens(&before, &segs[0]);
    let (index, sample) = before.segment_paths(&segs[0]).unwrap();
    let sample_bytes = std::fs::read(&sample).unwrap();
    let mut bytes = std::fs::read(&index).unwrap();
    let p = parse_index(&bytes).unwrap();
    assert_eq!(p.batches, 5);
    // Header record, then batch records; flip one bit in the payload of batch 2.
    let header_len = 8 + u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
    let batch1_len = 8 + u32::from_le_bytes(bytes[header_len..header_len + 4].try_into().unwrap()) as usize;
    bytes[header_len + batch1_len + 8 + 3] ^= 0x04;
    std::fs::write(&index, &bytes).unwrap();
    assert_eq!(parse_index(&bytes).unwrap().frames.len(), 10, "the flip really cuts the log");

    let store = Store::open(dir.path(), cfg(600)).unwrap();
    let after = store.segments("cam").unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!((after[0].frames, after[0].bytes), (50, segs[0].bytes));
    assert_eq!(frame_lens(&store, &after[0]), lens, "every frame at its place");
    let idx = store.read_index(&after[0]).unwrap();
    assert_eq!(idx.frames.iter().filter(|f| f.keyframe).count(), 2);
    assert_eq!(std::fs::read(&sample).unwrap(), sample_bytes, "sample file untouched");
    assert_eq!(store.export_mp4("cam", None, None).unwrap().frames, 50);
    let q = quarantined(dir.path());
    assert!(q.iter().any(|p| std::fs::read(p).ok().as_deref() == Some(&bytes[..])), "damaged index kept: {q:?}");
    drop(store);
    // Recovery is stable: a second open finds a sound index and changes nothing.
    let again = Store::open(dir.path(), cfg(600)).unwrap();
    assert_eq!(again.segments("cam").unwrap()[0].frames, 50);
}

/// A crash between the sample write and its index record (the record entirely missing):
/// the frames in the sample file are indexed again, none lost.
#[test]
fn missing_last_record_frames_indexed_from_sample() {
    let dir = tempfile::tempdir().unwrap();
    let segs = record(dir.path(), 50, 600);
    let ro = Store::open_readonly(dir.path()).unwrap();
    let lens = frame_lens(&ro, &segs[0]);
    let (index, _) = ro.segment_paths(&segs[0]).unwrap();
    let bytes = std::fs::read(&index).unwrap();
    let mut pos = 0;
    let mut starts = Vec::new();
    while pos < bytes.len() {
        starts.push(pos);
        pos += 8 + u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
    }
    std::fs::write(&index, &bytes[..*starts.last().unwrap()]).unwrap();
    let store = Store::open(dir.path(), cfg(600)).unwrap();
    let after = store.segments("cam").unwrap();
    assert_eq!((after[0].frames, after[0].bytes), (50, segs[0].bytes));
    assert_eq!(frame_lens(&store, &after[0]), lens);
    // Rebuilt frames continue the timeline at the last known frame rate.
    let idx = store.read_index(&after[0]).unwrap();
    assert!(idx.frames.iter().all(|f| f.duration_90k == 3600), "{:?}", idx.frames);
}

/// A directory named like an index file (and other unexpected entries) never stops the
/// store from opening: the other segments are served, the directory goes to the
/// quarantine, and the sample file beside it is indexed from its content.
#[test]
fn index_named_directory_does_not_stop_open() {
    let dir = tempfile::tempdir().unwrap();
    let segs = record(dir.path(), 100, 2);
    assert!(segs.len() >= 2, "{segs:?}");
    let total: u32 = segs.iter().map(|s| s.frames).sum();
    let cam = dir.path().join("cam");
    // The first segment's index replaced by a directory of that name.
    let index0 = segs[0].id.index_path(&cam);
    std::fs::remove_file(&index0).unwrap();
    std::fs::create_dir(&index0).unwrap();
    std::fs::write(index0.join("inside"), b"x").unwrap();
    // More odd entries: a segment-named directory with no sample, stray files and dirs.
    std::fs::create_dir(cam.join("00000000000000ff-0.index")).unwrap();
    std::fs::create_dir(cam.join("00000000000000fe-0.sample")).unwrap();
    std::fs::create_dir(cam.join("X.index")).unwrap();
    std::fs::write(cam.join("notes.txt"), b"hello").unwrap();
    std::fs::create_dir(dir.path().join("not a camera")).unwrap();

    let ro = Store::open_readonly(dir.path()).unwrap();
    assert_eq!(ro.segments("cam").unwrap().len(), segs.len() - 1, "read-only: the segment without index is skipped");
    drop(ro);

    let store = Store::open(dir.path(), cfg(2)).unwrap();
    let after = store.segments("cam").unwrap();
    assert_eq!(after.len(), segs.len());
    assert_eq!(after.iter().map(|s| s.frames).sum::<u32>(), total, "every frame served");
    assert_eq!(store.export_mp4("cam", None, None).unwrap().frames, total);
    assert!(index0.is_file(), "index rebuilt in place of the directory");
    let q = quarantined(dir.path());
    assert!(q.iter().any(|p| p.join("inside").is_file()), "the directory is kept in the quarantine: {q:?}");
    assert!(cam.join("X.index").is_dir() && cam.join("notes.txt").is_file(), "unrelated entries left alone");
}

/// One segment whose SPS does not parse: an export over the range skips it and serves the
/// other segments (read-write and read-only stores alike).
#[test]
fn bad_sps_segment_skipped_in_export() {
    let dir = tempfile::tempdir().unwrap();
    let segs = record(dir.path(), 150, 2);
    assert!(segs.len() >= 3, "{segs:?}");
    let total: u32 = segs.iter().map(|s| s.frames).sum();
    let bad = &segs[1];
    let index = bad.id.index_path(&dir.path().join("cam"));
    let mut p = parse_index(&std::fs::read(&index).unwrap()).unwrap();
    p.header.params.sps = vec![0x67, 0xff];
    let mut buf = Vec::new();
    encode_record(&p.header, &mut buf).unwrap();
    encode_record(&p.frames[..], &mut buf).unwrap();
    std::fs::write(&index, buf).unwrap();

    for store in [Store::open_readonly(dir.path()).unwrap(), Store::open(dir.path(), cfg(2)).unwrap()] {
        assert_eq!(store.segments("cam").unwrap().len(), segs.len(), "the bad segment is still stored");
        let plan = store.export_mp4("cam", None, None).unwrap();
        assert_eq!(plan.frames, total - bad.frames);
        let mut out = Vec::new();
        plan.write_to(&mut out).unwrap();
        assert_eq!(out.len() as u64, plan.total_len);
        // A range inside the bad segment alone has nothing to serve: a clear error.
        let mid = bad.start_wall_us + 500_000;
        assert!(matches!(
            store.export_mp4("cam", Some(mid), Some(mid + 100_000)),
            Err(hotspare_store::StoreError::EmptyExport { .. })
        ));
    }
}
