//! Audio on a full volume (a real 8 MiB tmpfs; needs root to mount, skipped with a printed
//! reason otherwise): a failed audio write is a typed `Full`, leaves the audio files at what
//! was written before, costs the video nothing, and the retry after space comes back lands
//! exactly after the last good frame (no hole of zeros).
mod common;

use common::*;
use hotspare_media::{AudioCodec, AudioParams};
use hotspare_store::{CameraWriter, Store, StoreConfig, StoreError};
use std::io::{IoSlice, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn frame_bytes(k: usize) -> Vec<u8> {
    vec![(k % 250) as u8 + 1; 160]
}

fn audio(w: &mut CameraWriter, range: std::ops::Range<usize>) -> Result<u32, StoreError> {
    let p = AudioParams { codec: AudioCodec::Pcmu, sample_rate: 8000, channels: 1, config: vec![] };
    let data: Vec<Vec<u8>> = range.clone().map(frame_bytes).collect();
    let frames = g711_frames(range);
    let iov: Vec<IoSlice<'_>> = data.iter().map(|d| IoSlice::new(d)).collect();
    w.write_audio(&p, &frames, &iov)
}

/// Fills the volume of `dir` with a ballast file; returns its path.
fn fill(dir: &Path) -> PathBuf {
    let p = dir.join("ballast");
    let mut f = std::fs::File::create(&p).unwrap();
    for chunk in [64 << 10, 4 << 10, 512] {
        let buf = vec![0x77u8; chunk];
        while f.write_all(&buf).is_ok() {}
    }
    p
}

#[test]
fn audio_on_a_full_volume() {
    let Some(fs) = Tmpfs::mount() else { return };
    let root = fs.path.join("store");
    let cfg = StoreConfig { segment_duration: Duration::from_secs(600), ..Default::default() };
    let store = Store::open(&root, cfg.clone()).unwrap();
    let clip = synthetic_h264(100, 25, 100);
    let mut w = store.writer("a").unwrap();
    feed(&mut w, &clip, 0..25, 25, 0);
    assert_eq!(audio(&mut w, 0..50).unwrap(), 50);
    let ballast = fill(&fs.path);
    let err = audio(&mut w, 50..150).unwrap_err();
    assert!(matches!(err, StoreError::Full(_)), "{err}");
    let seg = store.segments("a").unwrap().remove(0);
    assert!(seg.open, "a failed audio write leaves the video segment open");
    let dir = root.join("a");
    assert_eq!(std::fs::metadata(seg.id.audio_path(&dir)).unwrap().len(), 50 * 160, "truncated back");
    assert_eq!(store.read_audio(&seg).unwrap().unwrap().frames.len(), 50);

    // Space comes back: the retry lands right after frame 49, and the video goes on.
    std::fs::remove_file(ballast).unwrap();
    assert_eq!(audio(&mut w, 50..150).unwrap(), 100);
    feed(&mut w, &clip, 25..50, 25, 0);
    w.close().unwrap();
    let want: Vec<u8> = (0..150).flat_map(frame_bytes).collect();
    assert!(std::fs::read(seg.id.audio_path(&dir)).unwrap() == want, "no hole, no stray bytes");
    drop(store);
    let store = Store::open(&root, cfg).unwrap();
    let seg = store.segments("a").unwrap().remove(0);
    assert_eq!(seg.frames, 50);
    assert_eq!(store.read_audio(&seg).unwrap().unwrap().frames.len(), 150);
}
