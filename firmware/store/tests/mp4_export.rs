//! MP4 export of the real fixture clips, checked with ffprobe / ffmpeg.
mod common;

use common::*;
use hotspare_media::Codec;
use hotspare_store::{Store, StoreConfig};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");

fn ffprobe(path: &Path) -> String {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=nb_read_frames,width,height,codec_name", "-of", "default=nw=1"])
        .arg(path)
        .output()
        .expect("run ffprobe");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "ffprobe {}: {err}", path.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn ffmpeg_decodes_cleanly(path: &Path) {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("run ffmpeg");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "ffmpeg {}: {err}", path.display());
}

fn check(codec: Codec, file: &str, name: &str) {
    let clip = load_annexb(&format!("{FIXTURES}/{file}"), codec);
    let n = clip.frames.len();
    assert_eq!(n, 75);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig { segment_duration: Duration::from_secs(1), ..Default::default() })
        .unwrap();
    let mut w = store.writer("mp4cam").unwrap();
    feed(&mut w, &clip, 0..n, 7, 0);
    w.close().unwrap();
    let segs = store.segments("mp4cam").unwrap();
    assert!(segs.len() >= 3, "export must cross segment boundaries: {segs:?}");

    let whole = store.export_mp4("mp4cam", None, None).unwrap();
    assert_eq!(whole.frames as usize, n);
    assert_eq!(whole.duration_90k, n as u64 * 3600);
    let out = dir.path().join("whole.mp4");
    let mut f = std::fs::File::create(&out).unwrap();
    whole.write_to(&mut f).unwrap();
    drop(f);
    assert_eq!(std::fs::metadata(&out).unwrap().len(), whole.total_len);
    let probe = ffprobe(&out);
    for want in [format!("codec_name={name}"), "width=1920".into(), "height=1080".into(), format!("nb_read_frames={n}")]
    {
        assert!(probe.contains(&want), "{want} not in {probe}");
    }
    ffmpeg_decodes_cleanly(&out);

    // write_range pieces concatenate to write_to.
    let mut full = Vec::new();
    whole.write_to(&mut full).unwrap();
    let mut cuts =
        [0, 1, 100, whole.header.len() as u64 - 1, whole.header.len() as u64 + 5, 300_000, 300_001, whole.total_len];
    cuts.sort_unstable();
    let mut joined = Vec::new();
    for pair in cuts.windows(2) {
        whole.write_range(pair[0], pair[1], &mut joined).unwrap();
    }
    assert!(joined == full);
    assert!(whole.write_range(5, whole.total_len + 1, &mut Vec::new()).is_err());

    // Sub-range: from frame 30's time to frame 60's: starts at keyframe 25.
    let sub = store.export_mp4("mp4cam", Some(WALL0 + 30 * 40_000 + 1), Some(WALL0 + 60 * 40_000)).unwrap();
    assert_eq!(sub.frames, 36);
    let out = dir.path().join("sub.mp4");
    sub.write_to(&mut std::fs::File::create(&out).unwrap()).unwrap();
    assert!(ffprobe(&out).contains("nb_read_frames=36"));
    ffmpeg_decodes_cleanly(&out);
}

fn have_tools() -> bool {
    let ok =
        Command::new("ffprobe").arg("-version").output().is_ok() && Path::new(FIXTURES).join("clip-h264.h264").exists();
    if !ok {
        println!("SKIP: ffprobe or fixtures missing");
    }
    ok
}

#[test]
fn export_h264() {
    if have_tools() {
        check(Codec::H264, "clip-h264.h264", "h264");
    }
}

#[test]
fn export_h265() {
    if have_tools() {
        check(Codec::H265, "clip-h265.h265", "hevc");
    }
}

#[test]
fn gap_between_segments_stretches_last_frame() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let clip = synthetic_h264(50, 25, 100);
    let mut w = store.writer("g").unwrap();
    feed(&mut w, &clip, 0..25, 25, 0);
    // Second half comes 2 s later (wall) after a discontinuity.
    let mut b = Batch::new(&clip, 25..50, 2_000_000);
    b.frames[0].discontinuity = true;
    w.write(&clip.stream(), &b.frames, &b.iov()).unwrap();
    drop(w);
    let plan = store.export_mp4("g", None, None).unwrap();
    assert_eq!(plan.frames, 50);
    assert_eq!(plan.duration_90k, 50 * 3600 + 2 * 90_000);
}

/// At failback the NVR and the spare both record for a few seconds; their
/// segments overlap in time. The export plays that time once: it continues
/// in the later segment at its first keyframe after what it already has.
#[test]
fn overlapping_segments_are_played_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let clip = synthetic_h264(150, 25, 100);
    let mut w = store.writer("o").unwrap();
    feed(&mut w, &clip, 0..150, 25, 0); // 0 s .. 6 s
                                        // A second recording of 4 s .. 8 s (a new session: discontinuity).
    let mut b = Batch::new(&clip, 0..100, 4_000_000);
    b.frames[0].discontinuity = true;
    w.write(&clip.stream(), &b.frames, &b.iov()).unwrap();
    drop(w);
    assert_eq!(store.segments("o").unwrap().len(), 2);
    let plan = store.export_mp4("o", None, None).unwrap();
    // All of the first (150 frames), then the second from its keyframe at 6 s (frame 50).
    assert_eq!(plan.frames, 200);
    assert_eq!(plan.duration_90k, 8 * 90_000, "MP4 time must follow wall time");
    // A range inside the overlap comes from the first recording alone.
    let inner = store.export_mp4("o", Some(WALL0 + 4_500_000), Some(WALL0 + 5_500_000)).unwrap();
    assert_eq!(inner.frames, 38, "frames 100 (keyframe at 4 s) through 137 (5.48 s)");
}
