//! Importing segments from another store, sharing a store directory between a
//! writing process and a read-only reader, and deleting segments.
mod common;

use common::*;
use hotspare_base::clock::now_us;
use hotspare_store::index::{encode_record, FrameEntry, IndexHeader};
use hotspare_store::validate::validate_segment;
use hotspare_store::{parse_index, ImportSource, InvalidSegment, Origin, Store, StoreConfig, StoreError};
use std::path::Path;
use std::time::Duration;

fn cfg() -> StoreConfig {
    StoreConfig { segment_duration: Duration::from_secs(600), ..Default::default() }
}

/// Records `n` frames at `wall_offset` into a fresh store; returns (index bytes, sample bytes).
fn segment_bytes(wall_offset: i64, n: usize) -> (Vec<u8>, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    let mut w = store.writer("src").unwrap();
    feed(&mut w, &synthetic_h264(n, 25, 200), 0..n, 25, wall_offset);
    w.close().unwrap();
    let segs = store.segments("src").unwrap();
    assert_eq!(segs.len(), 1);
    let (i, s) = store.segment_paths(&segs[0]).unwrap();
    (std::fs::read(i).unwrap(), std::fs::read(s).unwrap())
}

fn stage(store: &Store, sample: &[u8]) -> std::path::PathBuf {
    let p = store.import_temp_path().unwrap();
    std::fs::write(&p, sample).unwrap();
    p
}

fn import(store: &Store, uid: &str, sha: &str, index: &[u8], sample: &[u8]) -> Result<bool, StoreError> {
    let tmp = stage(store, sample);
    let r = store.import_segment("cam", ImportSource { uid, sha256: sha, index, sample_tmp: &tmp, audio: None });
    assert!(!tmp.exists() || r.as_ref().is_ok_and(|(_, c)| !c));
    r.map(|(_, created)| created)
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn import_idempotent_conflict_and_validation() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    let mut w = store.writer("cam").unwrap();
    feed(&mut w, &synthetic_h264(50, 25, 200), 0..50, 25, 0);
    w.close().unwrap();
    let (index, sample) = segment_bytes(10_000_000, 75);
    assert!(import(&store, "spare/cam/1", "aa", &index, &sample).unwrap());
    assert!(!import(&store, "spare/cam/1", "aa", &index, &sample).unwrap());
    assert!(matches!(import(&store, "spare/cam/1", "bb", &index, &sample), Err(StoreError::ImportConflict { .. })));
    let short = &sample[..sample.len() - 1];
    let e = import(&store, "spare/cam/2", "cc", &index, short).unwrap_err();
    assert!(e.to_string().contains("bytes"), "{e}");
    let e = import(&store, "spare/cam/3", "cc", &index[..index.len() - 3], &sample).unwrap_err();
    assert!(matches!(e, StoreError::InvalidImport { .. }), "{e}");
    let e = import(&store, "spare/cam/4", "cc", b"garbage", &sample).unwrap_err();
    assert!(matches!(e, StoreError::InvalidImport { .. }), "{e}");
    let segs = store.segments("cam").unwrap();
    assert_eq!(segs.len(), 2);
    assert_eq!(segs[0].origin, Origin::Local);
    assert_eq!(segs[1].origin, Origin::Imported { uid: "spare/cam/1".into() });
    assert_eq!(segs[1].frames, 75);
    assert_eq!(store.export_mp4("cam", None, None).unwrap().frames, 125);
    // Same start time imported again under another uid: a free seq is picked.
    assert!(import(&store, "spare/cam/5", "dd", &index, &sample).unwrap());
    let segs = store.segments("cam").unwrap();
    assert_eq!(segs.len(), 3);
    assert_eq!((segs[1].id.start_wall_us, segs[1].id.seq + 1), (segs[2].id.start_wall_us, segs[2].id.seq));
    drop(store);

    // Recovery keeps imported segments and their origin; an orphan sidecar is removed.
    let orphan = dir.path().join("cam/0000000000000001-0.origin");
    std::fs::write(&orphan, b"x").unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    assert!(!orphan.exists());
    let segs = store.segments("cam").unwrap();
    assert_eq!(segs.len(), 3);
    assert_eq!(segs[1].origin, Origin::Imported { uid: "spare/cam/1".into() });
    assert!(!import(&store, "spare/cam/1", "aa", &index, &sample).unwrap());
    // Deleting removes all three files.
    store.delete_segment(&segs[1]).unwrap();
    assert_eq!(store.segments("cam").unwrap().len(), 2);
    assert!(files(&dir.path().join("cam")).iter().all(|f| !f.starts_with(&segs[1].id.to_string())));
    assert!(store.clean_import_dir().is_ok());
}

#[test]
fn readonly_reader_beside_writer() {
    let dir = tempfile::tempdir().unwrap();
    let rw = Store::open(dir.path(), cfg()).unwrap();
    let ro = Store::open_readonly(dir.path()).unwrap();
    assert!(ro.writer("cam").is_err());
    let clip = synthetic_h264(100, 25, 200);
    let mut w = rw.writer("cam").unwrap();
    feed(&mut w, &clip, 0..50, 25, 0);
    // Open segment seen by the reader up to its last complete frame; nothing is changed.
    let cam_dir = dir.path().join("cam");
    let before = files(&cam_dir);
    ro.refresh().unwrap();
    assert_eq!(ro.segments("cam").unwrap()[0].frames, 50);
    // The writer appends; the reader sees the new frames after a refresh and never truncates or
    // renames anything.
    let seg = &rw.segments("cam").unwrap()[0];
    let (_, sample) = rw.segment_paths(seg).unwrap();
    let len = std::fs::metadata(&sample).unwrap().len();
    feed(&mut w, &clip, 50..75, 25, 0);
    ro.refresh().unwrap();
    assert_eq!(ro.segments("cam").unwrap()[0].frames, 75);
    assert!(std::fs::metadata(&sample).unwrap().len() > len);
    assert_eq!(files(&cam_dir), before);

    // The reader imports; the writer's retention pass sees the import as a closed segment.
    let (index, bytes) = segment_bytes(100_000_000, 30);
    let tmp = stage(&ro, &bytes);
    let (_, created) = ro
        .import_segment("cam", ImportSource { uid: "u1", sha256: "ee", index: &index, sample_tmp: &tmp, audio: None })
        .unwrap();
    assert!(created);
    assert_eq!(rw.segments("cam").unwrap().len(), 1);
    rw.recycle();
    let segs = rw.segments("cam").unwrap();
    assert_eq!(segs.len(), 2);
    assert!(segs[0].open && !segs[1].open);
    assert_eq!(segs[1].origin, Origin::Imported { uid: "u1".into() });
    w.close().unwrap();
    // Deleted by the writer: gone for the reader after a refresh.
    rw.delete_segment(&segs[1]).unwrap();
    ro.refresh().unwrap();
    assert_eq!(ro.segments("cam").unwrap().len(), 1);
    assert!(ro.delete_segment(&ro.segments("cam").unwrap()[0]).is_err());
}

/// Re-encodes `index` after `edit` changed its header or frames.
fn reencode(index: &[u8], edit: impl FnOnce(&mut IndexHeader, &mut Vec<FrameEntry>)) -> Vec<u8> {
    let mut p = parse_index(index).unwrap();
    edit(&mut p.header, &mut p.frames);
    let mut buf = Vec::new();
    encode_record(&p.header, &mut buf).unwrap();
    encode_record(&p.frames[..], &mut buf).unwrap();
    buf
}

/// Every way an offered segment can lie is refused with the reason, leaving nothing behind;
/// the valid segment is then accepted.
#[test]
fn import_rejects_invalid_segments_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), cfg()).unwrap();
    let (index, sample) = segment_bytes(10_000_000, 60);
    let frames = parse_index(&index).unwrap().frames;
    let mut random = sample.clone();
    let mut x: u32 = 7;
    for b in &mut random {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        *b = (x >> 16) as u8;
    }
    let mut overrun = sample.clone();
    let first_nal = u32::from_be_bytes(overrun[..4].try_into().unwrap());
    overrun[..4].copy_from_slice(&(first_nal + frames[0].len).to_be_bytes());
    let mut truncated_nal = sample.clone();
    truncated_nal[..4].copy_from_slice(&(first_nal - 1).to_be_bytes());
    let cases: Vec<(&str, Vec<u8>, Vec<u8>)> = vec![
        ("negative start", reencode(&index, |h, _| h.start_wall_us = -1_000_000), sample.clone()),
        (
            "start far in the future",
            reencode(&index, |h, _| h.start_wall_us = now_us() + 2 * 86_400_000_000),
            sample.clone(),
        ),
        ("random bytes as the sample", index.clone(), random),
        ("bad SPS", reencode(&index, |h, _| h.params.sps = vec![0x67, 0xff]), sample.clone()),
        ("PPS of the wrong type", reencode(&index, |h, _| h.params.pps = vec![0x65, 1]), sample.clone()),
        ("NAL length past the frame", index.clone(), overrun),
        ("NAL lengths short of the frame", index.clone(), truncated_nal),
        ("frames not summing to the file", reencode(&index, |_, f| f[1].len += 1), sample.clone()),
        (
            "frame boundary inside a NAL",
            reencode(&index, |_, f| {
                f[0].len += 4;
                f[1].len -= 4
            }),
            sample.clone(),
        ),
        ("pts going back", reencode(&index, |_, f| f[2].pts_rel_90k = f[1].pts_rel_90k - 1), sample.clone()),
        ("keyframe without IDR", reencode(&index, |_, f| f[1].keyframe = true), sample.clone()),
        (
            "segment lasting two days",
            reencode(&index, |_, f| f.last_mut().unwrap().pts_rel_90k = 2 * 86_400 * 90_000),
            sample.clone(),
        ),
    ];
    let expect: [fn(&InvalidSegment) -> bool; 12] = [
        |e| matches!(e, InvalidSegment::NegativeStart(_)),
        |e| matches!(e, InvalidSegment::InFuture { .. }),
        |_| true,
        |e| matches!(e, InvalidSegment::BadSps(_)),
        |e| matches!(e, InvalidSegment::BadParamNal { which: "PPS", .. }),
        |e| matches!(e, InvalidSegment::NalOverrun { frame: 0, .. }),
        |e| matches!(e, InvalidSegment::NalOverrun { frame: 0, .. } | InvalidSegment::NalTooShort { frame: 0, .. }),
        |e| matches!(e, InvalidSegment::LengthMismatch { .. }),
        |e| matches!(e, InvalidSegment::NalOverrun { .. }),
        |e| matches!(e, InvalidSegment::PtsBackwards { frame: 2, .. }),
        |e| matches!(e, InvalidSegment::KeyframeWithoutIdr { frame: 1 }),
        |e| matches!(e, InvalidSegment::TooLong(_)),
    ];
    for (i, ((what, idx, smp), ok)) in cases.iter().zip(expect).enumerate() {
        let e = import(&store, &format!("spare/cam/bad{i}"), "aa", idx, smp).unwrap_err();
        match &e {
            StoreError::InvalidImport { source, .. } => assert!(ok(source), "{what}: {e}"),
            _ => panic!("{what}: not an InvalidImport: {e}"),
        }
        assert!(files(&store.import_dir().unwrap()).is_empty(), "{what}: leftovers in the import directory");
        let cam = dir.path().join("cam");
        assert!(!cam.exists() || files(&cam).is_empty(), "{what}: files left: {:?}", files(&cam));
    }
    assert!(store.segments("cam").is_err() || store.segments("cam").unwrap().is_empty());
    // The valid segment is accepted afterwards, under one of the refused uids too.
    assert!(import(&store, "spare/cam/bad0", "aa", &index, &sample).unwrap());
    assert_eq!(store.segments("cam").unwrap().len(), 1);
    // Validation of in-memory bytes agrees.
    assert!(validate_segment(&index, &sample, now_us()).is_ok());
}
