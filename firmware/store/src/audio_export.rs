//! Reading a segment's audio ([`Store::read_audio`]) and planning the MP4
//! audio track of an export (`plan_audio`).
//!
//! Timeline: the MP4's time 0 is the wall time of the first exported video
//! frame, and video time follows wall time (gaps stretch the frame before).
//! Audio frames are placed by their wall time: a part's frames at its start
//! wall time plus their pts. The audio of all exported segments is merged in
//! order; a frame before time 0, at or after the video's end, or starting
//! inside the audio already placed (segments overlapping at failback) is left
//! out — an overlap of at most half a frame (rounding between two parts of
//! one run) is closed by starting the frame where the previous one ends; a
//! gap stretches the frame before it, as for video. The audio track starts
//! with an empty edit up to its first frame.

use crate::audio_index::{parse_audio_index, provable_audio, validate_audio_params};
use crate::error::StoreError;
use crate::mp4::Chunk;
use crate::segment::{valid_camera_id, SegmentInfo};
use crate::Store;
use hotspare_media::AudioParams;
use std::path::PathBuf;

/// One audio frame of a [`SegmentAudio`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioFrame {
    /// Byte offset in the `.audio` file.
    pub offset: u64,
    pub len: u32,
    /// pts relative to the part's first frame, audio clock.
    pub pts_rel: i64,
    /// Samples per channel.
    pub duration: u32,
}

/// The audio of a segment, as returned by [`Store::read_audio`]: only frames whose bytes are
/// inside the `.audio` file and that are sane are listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentAudio {
    pub params: AudioParams,
    /// Wall-clock time of the first audio frame, µs.
    pub start_wall_us: i64,
    pub first_pts: i64,
    pub audio_path: PathBuf,
    pub frames: Vec<AudioFrame>,
}

impl Store {
    /// Reads the audio of a segment: `None` when it has none (a video-only segment).
    pub fn read_audio(&self, seg: &SegmentInfo) -> Result<Option<SegmentAudio>, StoreError> {
        if !valid_camera_id(&seg.camera) {
            return Err(StoreError::BadCameraId(seg.camera.clone()));
        }
        let dir = self.camera_dir(&seg.camera);
        let (audio_path, index_path) = (seg.id.audio_path(&dir), seg.id.audio_index_path(&dir));
        let mut lens = [0u64; 2];
        for (p, l) in [&index_path, &audio_path].into_iter().zip(&mut lens) {
            match std::fs::symlink_metadata(p) {
                Ok(m) if m.file_type().is_file() => *l = m.len(),
                Ok(_) => return Ok(None),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Err(e) => return Err(StoreError::io(p, "stat audio file", e)),
            }
        }
        let bytes = std::fs::read(&index_path).map_err(|e| StoreError::io(&index_path, "read audio index", e))?;
        let parsed =
            parse_audio_index(&bytes).map_err(|source| StoreError::Index { path: index_path.clone(), source })?;
        if validate_audio_params(&parsed.header.params).is_err() {
            return Ok(None);
        }
        let (keep, _) = provable_audio(&parsed, lens[1]);
        let mut offset = 0u64;
        let frames = parsed.frames[..keep]
            .iter()
            .map(|f| {
                let a = AudioFrame { offset, len: f.len, pts_rel: f.pts_rel, duration: f.duration };
                offset += u64::from(f.len);
                a
            })
            .collect();
        Ok(Some(SegmentAudio {
            params: parsed.header.params,
            start_wall_us: parsed.header.start_wall_us,
            first_pts: parsed.header.first_pts,
            audio_path,
            frames,
        }))
    }
}

/// The planned audio track of an export.
pub(crate) struct AudioPlan {
    pub params: AudioParams,
    pub start_90k: u64,
    pub sizes: Vec<u32>,
    pub durations: Vec<u32>,
    pub chunks: Vec<Chunk>,
    /// Per chunk: (index of the exported segment it belongs after, `.audio` path, offset, len).
    pub runs: Vec<(usize, PathBuf, u64, u64)>,
}

/// `x` µs in `rate` Hz ticks, rounded to the nearest.
fn us_to_ticks(us: i64, rate: u32) -> i64 {
    let t = (i128::from(us) * i128::from(rate) + 500_000).div_euclid(1_000_000);
    t.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
}

/// Plans the audio track for exported segments whose audio is `audio` (in export order), for a
/// video timeline from `t0_us` to `end_us` (wall). `None` when no audio is left.
pub(crate) fn plan_audio(audio: &[Option<SegmentAudio>], t0_us: i64, end_us: i64) -> Option<AudioPlan> {
    let params = audio.iter().flatten().next()?.params.clone();
    let rate = params.sample_rate;
    let end_t = us_to_ticks(end_us.saturating_sub(t0_us), rate);
    let (mut sizes, mut durations, mut chunks, mut runs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut first_t: Option<i64> = None;
    let mut prev_end: Option<i64> = None;
    for (pi, a) in audio.iter().enumerate() {
        let Some(a) = a else { continue };
        if a.params != params {
            log::warn!("export: audio of {} left out: its parameters differ from the first", a.audio_path.display());
            continue;
        }
        let base = us_to_ticks(a.start_wall_us.saturating_sub(t0_us), rate);
        // The current run of consecutive frames: (first offset, bytes, samples, next frame index).
        let mut run: Option<(u64, u64, u32, usize)> = None;
        let mut close = |run: &mut Option<(u64, u64, u32, usize)>| {
            if let Some((off, len, n, _)) = run.take() {
                chunks.push(Chunk { entry: 1, samples: n, offset: 0 });
                runs.push((pi, a.audio_path.clone(), off, len));
            }
        };
        for (k, f) in a.frames.iter().enumerate() {
            let mut t = base.saturating_add(f.pts_rel);
            if t < 0 || t >= end_t {
                close(&mut run);
                continue;
            }
            match prev_end {
                Some(pe) if t < pe => {
                    if pe - t > i64::from(f.duration / 2) {
                        close(&mut run);
                        continue;
                    }
                    t = pe;
                }
                Some(pe) if t > pe => {
                    if let Some(d) = durations.last_mut() {
                        *d = (i64::from(*d) + (t - pe)).min(i64::from(u32::MAX)) as u32;
                    }
                }
                Some(_) => {}
                None => first_t = Some(t),
            }
            prev_end = Some(t.saturating_add(i64::from(f.duration)));
            sizes.push(f.len);
            durations.push(f.duration);
            match &mut run {
                Some((_, len, n, next)) if *next == k => {
                    *len += u64::from(f.len);
                    *n += 1;
                    *next = k + 1;
                }
                _ => {
                    close(&mut run);
                    run = Some((f.offset, u64::from(f.len), 1, k + 1));
                }
            }
        }
        close(&mut run);
    }
    let first_t = first_t?;
    let start_90k = (i128::from(first_t) * 90_000 / i128::from(rate.max(1))) as u64;
    Some(AudioPlan { params, start_90k, sizes, durations, chunks, runs })
}
