//! Audio beside the video: written with `CameraWriter::write_audio`, exported as a second
//! MP4 track (checked with ffprobe / ffmpeg against real AAC and G.711 made by ffmpeg),
//! recovered without ever costing video, deleted with its segment.
mod common;

use common::*;
use hotspare_media::{AudioCodec, AudioParams, Codec};
use hotspare_store::{AudioFrameIn, CameraWriter, Store, StoreConfig};
use std::io::IoSlice;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures");

fn have_tools() -> bool {
    let ok = Command::new("ffmpeg").arg("-version").output().is_ok()
        && Command::new("ffprobe").arg("-version").output().is_ok()
        && Path::new(FIXTURES).join("clip-h264.h264").exists();
    if !ok {
        println!("SKIP: ffmpeg/ffprobe or fixtures missing");
    }
    ok
}

/// Real audio frames made by ffmpeg: a 400 Hz sine at 16 kHz mono, `secs` long.
struct Audio {
    params: AudioParams,
    frames: Vec<Vec<u8>>,
    /// Samples per frame.
    samples: u32,
}

fn ffmpeg_audio(codec: AudioCodec, secs: u32) -> Audio {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("a.raw");
    let (args, format): (&[&str], &str) = match codec {
        AudioCodec::Aac => (&["-c:a", "aac", "-b:a", "32k"], "adts"),
        AudioCodec::Pcma => (&["-c:a", "pcm_alaw"], "alaw"),
        AudioCodec::Pcmu => (&["-c:a", "pcm_mulaw"], "mulaw"),
    };
    let st = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "sine=frequency=400:sample_rate=16000"])
        .args(["-t", &secs.to_string(), "-ac", "1"])
        .args(args)
        .args(["-f", format, "-y"])
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success());
    let bytes = std::fs::read(&out).unwrap();
    match codec {
        AudioCodec::Aac => {
            // Strip the ADTS headers into access units; the config from the first header.
            let mut frames = Vec::new();
            let mut i = 0;
            let mut config = vec![];
            while i + 7 <= bytes.len() {
                assert_eq!((bytes[i], bytes[i + 1] & 0xf0), (0xff, 0xf0), "ADTS sync at {i}");
                let protection_absent = bytes[i + 1] & 1 == 1;
                let len = (usize::from(bytes[i + 3] & 3) << 11)
                    | (usize::from(bytes[i + 4]) << 3)
                    | usize::from(bytes[i + 5] >> 5);
                let hdr = if protection_absent { 7 } else { 9 };
                if config.is_empty() {
                    let object = (bytes[i + 2] >> 6) + 1;
                    let freq = (bytes[i + 2] >> 2) & 0xf;
                    let chan = ((bytes[i + 2] & 1) << 2) | (bytes[i + 3] >> 6);
                    config = vec![object << 3 | freq >> 1, (freq & 1) << 7 | chan << 3];
                }
                frames.push(bytes[i + hdr..i + len].to_vec());
                i += len;
            }
            Audio { params: AudioParams { codec, sample_rate: 16_000, channels: 1, config }, frames, samples: 1024 }
        }
        _ => Audio {
            params: AudioParams { codec, sample_rate: 16_000, channels: 1, config: vec![] },
            frames: bytes.chunks(320).map(<[u8]>::to_vec).collect(),
            samples: 320,
        },
    }
}

/// Audio frame `k`: pts `base + k * samples`, wall `WALL0 + offset_us + k * samples / 16 kHz`.
fn audio_batch(a: &Audio, range: std::ops::Range<usize>, base: i64, offset_us: i64) -> Vec<AudioFrameIn> {
    range
        .map(|k| {
            let pts = k as i64 * i64::from(a.samples);
            AudioFrameIn {
                pts: base + pts,
                wall_us: WALL0 + offset_us + pts * 1_000_000 / 16_000,
                duration: a.samples,
                discontinuity: false,
                len: a.frames[k].len() as u32,
                pieces: 1,
            }
        })
        .collect()
}

fn write_audio(w: &mut CameraWriter, a: &Audio, range: std::ops::Range<usize>, offset_us: i64) -> u32 {
    let frames = audio_batch(a, range.clone(), 5_000, offset_us);
    let iov: Vec<IoSlice<'_>> = a.frames[range].iter().map(|f| IoSlice::new(f)).collect();
    w.write_audio(&a.params, &frames, &iov).expect("write_audio")
}

/// Video 0..75 (3 s) in batches of 7 frames, each followed by the audio up to the batch's end,
/// audio starting `offset_us` after the video.
fn record(w: &mut CameraWriter, clip: &Clip, a: &Audio, offset_us: i64) {
    let stream = clip.stream();
    let per_frame_us = i64::from(a.samples) * 1_000_000 / 16_000;
    let (mut i, mut k) = (0, 0);
    while i < 75 {
        let j = (i + 7).min(75);
        let b = Batch::new(clip, i..j, 0);
        w.write(&stream, &b.frames, &b.iov()).unwrap();
        let end_us = j as i64 * 40_000;
        let mut k2 = k;
        while k2 < a.frames.len() && offset_us + (k2 as i64) * per_frame_us < end_us {
            k2 += 1;
        }
        if k2 > k {
            write_audio(w, a, k..k2, offset_us);
        }
        k = k2;
        i = j;
    }
}

struct Probe {
    codec_v: String,
    codec_a: String,
    v_end: f64,
    a_start: f64,
    a_end: f64,
}

fn probe(path: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", "stream=codec_type,codec_name,start_time,duration"])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "ffprobe: {err}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let rows: Vec<Vec<String>> =
        text.lines().filter(|l| !l.is_empty()).map(|l| l.split(',').map(str::to_owned).collect()).collect();
    assert_eq!(rows.len(), 2, "two streams: {text}");
    let find = |t: &str| rows.iter().find(|r| r.contains(&t.to_owned())).unwrap_or_else(|| panic!("{t}: {text}"));
    let (v, a) = (find("video"), find("audio"));
    let num = |r: &Vec<String>, i: usize| r[i].parse::<f64>().unwrap_or_else(|_| panic!("{text}"));
    // csv order: codec_name, codec_type, start_time, duration
    Probe {
        codec_v: v[0].clone(),
        codec_a: a[0].clone(),
        v_end: num(v, 2) + num(v, 3),
        a_start: num(a, 2),
        a_end: num(a, 2) + num(a, 3),
    }
}

fn ffmpeg_clean(path: &Path) {
    let out = Command::new("ffmpeg").args(["-v", "error", "-i"]).arg(path).args(["-f", "null", "-"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "ffmpeg {}: {err}", path.display());
}

fn export_check(codec: AudioCodec, name: &str) {
    let a = ffmpeg_audio(codec, 4);
    let clip = load_annexb(&format!("{FIXTURES}/clip-h264.h264"), Codec::H264);
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig { segment_duration: Duration::from_secs(1), ..Default::default() };
    let store = Store::open(dir.path(), cfg.clone()).unwrap();
    let mut w = store.writer("cam").unwrap();
    record(&mut w, &clip, &a, 100_000);
    w.close().unwrap();
    let segs = store.segments("cam").unwrap();
    assert!(segs.len() >= 3, "{segs:?}");
    for s in &segs {
        let audio = store.read_audio(s).unwrap().expect("every segment has audio");
        assert_eq!(audio.params, a.params);
    }
    drop(store);
    // Recovery of a clean store changes nothing and keeps the audio.
    let store = Store::open(dir.path(), cfg).unwrap();
    let plan = store.export_mp4("cam", None, None).unwrap();
    assert_eq!(plan.audio, Some(codec));
    let per_frame = f64::from(a.samples) / 16_000.0;
    let out = dir.path().join("out.mp4");
    plan.write_to(&mut std::fs::File::create(&out).unwrap()).unwrap();
    let p = probe(&out);
    eprintln!("{name}: video ends {} audio {}..{} frames {}", p.v_end, p.a_start, p.a_end, plan.audio_frames);
    if let Ok(keep) = std::env::var("KEEP_MP4") {
        std::fs::copy(&out, format!("{keep}-{name}.mp4")).unwrap();
    }
    assert_eq!((p.codec_v.as_str(), p.codec_a.as_str()), ("h264", name));
    assert!((p.v_end - 3.0).abs() < 0.001, "video ends at {}", p.v_end);
    assert!((p.a_start - 0.1).abs() <= per_frame, "audio starts at {} (written at 0.1 s)", p.a_start);
    assert!((p.a_end - p.v_end).abs() <= per_frame, "audio ends at {}, video at {}", p.a_end, p.v_end);
    ffmpeg_clean(&out);
    // Whole audio kept: every frame from 0.1 s to the video's end.
    let want = ((3.0 - 0.1) / per_frame).ceil() as u32;
    assert_eq!(plan.audio_frames, want);

    // Served by ranges (video-http), the pieces join to the whole file.
    let mut full = Vec::new();
    plan.write_to(&mut full).unwrap();
    let mut joined = Vec::new();
    let h = plan.header.len() as u64;
    for pair in [0, h - 1, h + 3, plan.total_len / 2, plan.total_len - 1, plan.total_len].windows(2) {
        plan.write_range(pair[0], pair[1], &mut joined).unwrap();
    }
    assert!(joined == full);

    // A sub-range keeps both tracks in step.
    let sub = store.export_mp4("cam", Some(WALL0 + 1_200_000), Some(WALL0 + 2_400_000)).unwrap();
    let out = dir.path().join("sub.mp4");
    sub.write_to(&mut std::fs::File::create(&out).unwrap()).unwrap();
    let p = probe(&out);
    assert!(p.a_start <= per_frame, "{}", p.a_start);
    assert!((p.a_end - p.v_end).abs() <= per_frame, "audio ends at {}, video at {}", p.a_end, p.v_end);
    ffmpeg_clean(&out);
}

#[test]
fn export_aac() {
    if have_tools() {
        export_check(AudioCodec::Aac, "aac");
    }
}

#[test]
fn export_pcma() {
    if have_tools() {
        export_check(AudioCodec::Pcma, "pcm_alaw");
    }
}

#[test]
fn export_pcmu() {
    if have_tools() {
        export_check(AudioCodec::Pcmu, "pcm_mulaw");
    }
}

/// Re-insertion: a segment's audio travels with it, is validated, and the imported segment
/// exports with both tracks; bad audio is refused with the reason.
#[test]
fn imported_segment_keeps_its_audio() {
    if !have_tools() {
        return;
    }
    use hotspare_store::{ImportAudio, ImportSource, StoreError};
    let a = ffmpeg_audio(AudioCodec::Aac, 4);
    let clip = load_annexb(&format!("{FIXTURES}/clip-h264.h264"), Codec::H264);
    let src = tempfile::tempdir().unwrap();
    let store = Store::open(src.path(), StoreConfig::default()).unwrap();
    let mut w = store.writer("cam").unwrap();
    record(&mut w, &clip, &a, 0);
    w.close().unwrap();
    let seg = store.segments("cam").unwrap().remove(0);
    let (index, sample) = store.segment_paths(&seg).unwrap();
    let (aindex, adata) = store.audio_paths(&seg).unwrap().expect("the segment has audio");
    let (index, aindex) = (std::fs::read(index).unwrap(), std::fs::read(aindex).unwrap());

    let dst = tempfile::tempdir().unwrap();
    let nvr = Store::open_readonly(dst.path()).unwrap();
    let stage = |p: &Path| {
        let t = nvr.import_temp_path().unwrap();
        std::fs::copy(p, &t).unwrap();
        t
    };
    // Bad audio: one byte short of what its index lists; nothing is stored.
    let (s_tmp, a_tmp) = (stage(&sample), stage(&adata));
    let f = std::fs::OpenOptions::new().write(true).open(&a_tmp).unwrap();
    f.set_len(f.metadata().unwrap().len() - 1).unwrap();
    let audio = Some(ImportAudio { index: &aindex, data_tmp: &a_tmp });
    let e = nvr
        .import_segment("cam", ImportSource { uid: "u", sha256: "aa", index: &index, sample_tmp: &s_tmp, audio })
        .unwrap_err();
    assert!(matches!(e, StoreError::InvalidImportAudio { .. }), "{e}");
    assert!(e.to_string().contains("audio frames total"), "{e}");
    assert!(!s_tmp.exists() && !a_tmp.exists());
    assert!(nvr.segments("cam").unwrap().is_empty());

    let (s_tmp, a_tmp) = (stage(&sample), stage(&adata));
    let audio = Some(ImportAudio { index: &aindex, data_tmp: &a_tmp });
    let (info, created) = nvr
        .import_segment("cam", ImportSource { uid: "u", sha256: "aa", index: &index, sample_tmp: &s_tmp, audio })
        .unwrap();
    assert!(created);
    assert!(nvr.read_audio(&info).unwrap().is_some());
    let plan = nvr.export_mp4("cam", None, None).unwrap();
    assert_eq!(plan.audio, Some(AudioCodec::Aac));
    let out = dst.path().join("imported.mp4");
    plan.write_to(&mut std::fs::File::create(&out).unwrap()).unwrap();
    let p = probe(&out);
    assert_eq!((p.codec_v.as_str(), p.codec_a.as_str()), ("h264", "aac"));
    assert!((p.a_end - p.v_end).abs() <= 0.064, "audio ends at {}, video at {}", p.a_end, p.v_end);
    ffmpeg_clean(&out);
}
