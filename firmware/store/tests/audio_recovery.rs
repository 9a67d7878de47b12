//! The audio part of segments through the writer's edge cases, crash recovery and deletion:
//! bad audio is cut or quarantined, never at the cost of video.
mod common;

use common::*;
use hotspare_media::{AudioCodec, AudioParams};
use hotspare_store::{CameraWriter, SegmentInfo, Store, StoreConfig, QUARANTINE_DIR};
use std::io::IoSlice;
use std::path::{Path, PathBuf};

fn pcma() -> AudioParams {
    AudioParams { codec: AudioCodec::Pcma, sample_rate: 8000, channels: 1, config: vec![] }
}

/// G.711 frames of 20 ms (160 bytes) `range`, frame k at pts k*160 and wall WALL0 + k*20 ms.
fn audio(w: &mut CameraWriter, p: &AudioParams, range: std::ops::Range<usize>) -> u32 {
    let data: Vec<Vec<u8>> = range.clone().map(|k| vec![k as u8 | 0x55; 160]).collect();
    let frames = g711_frames(range);
    let iov: Vec<IoSlice<'_>> = data.iter().map(|d| IoSlice::new(d)).collect();
    w.write_audio(p, &frames, &iov).unwrap()
}

/// One 2 s segment (50 frames) with 2 s of audio; returns the store root's camera dir and the segment.
fn one_segment(root: &Path) -> (PathBuf, SegmentInfo) {
    let store = Store::open(root, StoreConfig::default()).unwrap();
    let clip = synthetic_h264(50, 25, 100);
    let mut w = store.writer("a").unwrap();
    feed(&mut w, &clip, 0..25, 25, 0);
    assert_eq!(audio(&mut w, &pcma(), 0..50), 50);
    feed(&mut w, &clip, 25..50, 25, 0);
    assert_eq!(audio(&mut w, &pcma(), 50..100), 50);
    w.close().unwrap();
    let seg = store.segments("a").unwrap().remove(0);
    (root.join("a"), seg)
}

fn reopen(root: &Path) -> (std::sync::Arc<Store>, SegmentInfo) {
    let store = Store::open(root, StoreConfig::default()).unwrap();
    let segs = store.segments("a").unwrap();
    assert_eq!(segs.len(), 1, "the video segment is always kept");
    assert_eq!(segs[0].frames, 50);
    let s = segs[0].clone();
    (store, s)
}

fn quarantined(root: &Path) -> Vec<String> {
    let q = root.join(QUARANTINE_DIR).join("a");
    let mut v: Vec<String> = std::fs::read_dir(q)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn audio_before_video_is_dropped_and_segment_keeps_its_audio() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let mut w = store.writer("a").unwrap();
    assert_eq!(audio(&mut w, &pcma(), 0..10), 0, "no video segment open yet");
    assert_eq!(w.audio_frames_dropped(), 10);
    drop(w);
    assert_eq!(std::fs::read_dir(dir.path().join("a")).unwrap().count(), 0, "no file left behind");
    let (cam, seg) = one_segment(&dir.path().join("b"));
    let store = Store::open_readonly(&dir.path().join("b")).unwrap();
    let a = store.read_audio(&seg).unwrap().unwrap();
    assert_eq!(a.frames.len(), 100);
    assert_eq!(a.start_wall_us, WALL0);
    assert_eq!(a.frames[99].pts_rel, 99 * 160);
    assert!(seg.id.audio_path(&cam).exists());
}

#[test]
fn params_change_cuts_at_next_keyframe() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let clip = synthetic_h264(75, 25, 100);
    let mut w = store.writer("a").unwrap();
    feed(&mut w, &clip, 0..10, 10, 0);
    assert_eq!(audio(&mut w, &pcma(), 0..20), 20);
    let mut other = pcma();
    other.codec = AudioCodec::Pcmu;
    assert_eq!(audio(&mut w, &other, 20..40), 0, "new parameters wait for the next segment");
    feed(&mut w, &clip, 10..30, 10, 0); // keyframe at 25 cuts
    assert_eq!(audio(&mut w, &other, 50..60), 10);
    w.close().unwrap();
    let segs = store.segments("a").unwrap();
    assert_eq!(segs.iter().map(|s| s.frames).collect::<Vec<_>>(), vec![25, 5]);
    assert_eq!(store.read_audio(&segs[0]).unwrap().unwrap().params, pcma());
    assert_eq!(store.read_audio(&segs[1]).unwrap().unwrap().params, other);
}

#[test]
fn torn_audio_record_and_tail_are_cut_video_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (cam, seg) = one_segment(dir.path());
    // A torn last record in the audio index, and bytes after the last frame in .audio.
    let ai = seg.id.audio_index_path(&cam);
    let len = std::fs::metadata(&ai).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&ai).unwrap();
    f.set_len(len - 3).unwrap();
    let mut data = std::fs::read(seg.id.audio_path(&cam)).unwrap();
    data.extend_from_slice(&[1, 2, 3]);
    std::fs::write(seg.id.audio_path(&cam), &data).unwrap();
    let (store, s) = reopen(dir.path());
    let a = store.read_audio(&s).unwrap().unwrap();
    assert_eq!(a.frames.len(), 50, "the first batch is proven");
    assert_eq!(std::fs::metadata(seg.id.audio_path(&cam)).unwrap().len(), 50 * 160);
    let q = quarantined(dir.path());
    assert!(q.iter().any(|n| n.ends_with(".audio-index.corrupt")), "{q:?}");
    assert!(q.iter().any(|n| n.contains(".audio.tail-8000")), "{q:?}");
    let plan = store.export_mp4("a", None, None).unwrap();
    assert_eq!((plan.frames, plan.audio_frames), (50, 50));
}

#[test]
fn unreadable_audio_is_quarantined_video_kept() {
    let dir = tempfile::tempdir().unwrap();
    let (cam, seg) = one_segment(dir.path());
    std::fs::write(seg.id.audio_index_path(&cam), b"not an index at all").unwrap();
    let (store, s) = reopen(dir.path());
    assert_eq!(store.read_audio(&s).unwrap(), None);
    assert!(!seg.id.audio_path(&cam).exists() && !seg.id.audio_index_path(&cam).exists());
    assert_eq!(quarantined(dir.path()).len(), 2);
    let plan = store.export_mp4("a", None, None).unwrap();
    assert_eq!((plan.frames, plan.audio, plan.audio_frames), (50, None, 0));
    // A lone .audio (its index lost) goes to the quarantine as well.
    drop(store);
    let dir = tempfile::tempdir().unwrap();
    let (cam, seg) = one_segment(dir.path());
    std::fs::remove_file(seg.id.audio_index_path(&cam)).unwrap();
    let (store, s) = reopen(dir.path());
    assert_eq!(store.read_audio(&s).unwrap(), None);
    assert_eq!(quarantined(dir.path()), vec![format!("{}.audio", seg.id)]);
}

#[test]
fn audio_is_deleted_with_its_segment() {
    let dir = tempfile::tempdir().unwrap();
    let (cam, seg) = one_segment(dir.path());
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    store.delete_segment(&seg).unwrap();
    assert_eq!(std::fs::read_dir(&cam).unwrap().count(), 0);
    drop(store);
    // An interrupted deletion (video gone, audio still there) is finished by recovery.
    let dir = tempfile::tempdir().unwrap();
    let (cam, seg) = one_segment(dir.path());
    std::fs::remove_file(seg.id.sample_path(&cam)).unwrap();
    std::fs::remove_file(seg.id.index_path(&cam)).unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    assert!(store.segments("a").unwrap().is_empty());
    assert_eq!(std::fs::read_dir(&cam).unwrap().count(), 0);
}
