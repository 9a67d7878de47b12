//! MP4 export as a *virtual file*: [`Store::export_mp4`] plans an MP4 of a
//! camera's recording over a time range, across segment boundaries, without
//! copying video: an [`Mp4Plan`] is a small header (`ftyp`, `moov`, `mdat`
//! header) followed by byte ranges of sample files, so an HTTP server can
//! serve any byte range with [`Mp4Plan::write_range`].
//!
//! Timeline choice: when there is a gap between two consecutive segments
//! (the next one starts later than the earlier one ends), the last frame of
//! the earlier segment is stretched to cover the gap, so presentation times in
//! the MP4 stay aligned with wall-clock time. The export starts at the
//! keyframe at or before `from` and ends with the last frame at or before
//! `to`.
//!
//! One bad segment never fails the export: a segment whose index cannot be
//! read (deleted meanwhile by retention, damaged) or whose parameter sets do
//! not make an MP4 sample entry (an SPS that does not parse) is skipped with
//! a log line and the rest is served.

use crate::audio_export::{plan_audio, SegmentAudio};
use crate::error::StoreError;
use crate::mp4::{self, Chunk, TrackTables};
use crate::mp4_audio::{self, AudioTrack};
use crate::segment::{SegmentIndex, SegmentInfo};
use crate::Store;
use hotspare_media::{AudioCodec, Codec, CodecParams};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// A planned MP4 file: `header` then each part's bytes, `total_len` bytes in all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mp4Plan {
    /// `ftyp` + `moov` + `mdat` header.
    pub header: Vec<u8>,
    /// Sample file byte ranges forming the `mdat` payload: (path, offset, len).
    pub parts: Vec<(PathBuf, u64, u64)>,
    pub total_len: u64,
    pub frames: u32,
    pub duration_90k: u64,
    /// Codec of the audio track, `None` when the export has none (video-only segments).
    pub audio: Option<AudioCodec>,
    /// Audio frames (MP4 samples) in the audio track.
    pub audio_frames: u32,
}

impl Mp4Plan {
    /// Writes the whole file.
    pub fn write_to(&self, w: &mut impl Write) -> Result<(), StoreError> {
        self.write_range(0, self.total_len, w)
    }

    /// Writes bytes `start..end` (end exclusive) of the file.
    pub fn write_range(&self, start: u64, end: u64, w: &mut impl Write) -> Result<(), StoreError> {
        if start > end || end > self.total_len {
            return Err(StoreError::BadRange { start, end, total: self.total_len });
        }
        let out_err = |e| StoreError::io("<export output>", "write", e);
        let hlen = self.header.len() as u64;
        if start < hlen {
            w.write_all(&self.header[start as usize..end.min(hlen) as usize]).map_err(out_err)?;
        }
        let mut pos = hlen;
        let mut buf = vec![0u8; 256 * 1024];
        for (path, offset, len) in &self.parts {
            let (a, b) = (start.max(pos), end.min(pos + len));
            if a < b {
                let mut f = File::open(path).map_err(|e| StoreError::io(path, "open sample file", e))?;
                f.seek(SeekFrom::Start(offset + (a - pos))).map_err(|e| StoreError::io(path, "seek", e))?;
                // Read and write errors are told apart: a full output volume
                // is not a problem of the sample file.
                let mut left = b - a;
                while left > 0 {
                    let want = left.min(buf.len() as u64) as usize;
                    let n = f.read(&mut buf[..want]).map_err(|e| StoreError::io(path, "read", e))?;
                    if n == 0 {
                        return Err(StoreError::ShortSample { path: path.clone() });
                    }
                    w.write_all(&buf[..n]).map_err(out_err)?;
                    left -= n as u64;
                }
            }
            pos += len;
            if pos >= end {
                break;
            }
        }
        Ok(())
    }
}

/// Selected frames `[first, last]` of one segment index.
struct Pick {
    idx: SegmentIndex,
    audio: Option<SegmentAudio>,
    first: usize,
    last: usize,
}

impl Store {
    /// Plans an MP4 of `camera` from the keyframe at or before `from` to the last frame at or
    /// before `to` (wall µs; `None` = unbounded). Open segments are included up to what is
    /// indexed now.
    pub fn export_mp4(&self, camera: &str, from: Option<i64>, to: Option<i64>) -> Result<Mp4Plan, StoreError> {
        let (from, to) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
        let segs: Vec<SegmentInfo> = self.segments(camera)?;
        let mut picks: Vec<Pick> = Vec::new();
        // Every segment starts with a keyframe, so the keyframe at or before `from` is in the
        // last segment starting at or before `from`: earlier segments are not part of the
        // export even when the end of their last frame reaches past `from`.
        let first_seg = segs.iter().rposition(|s| s.start_wall_us <= from).unwrap_or(0);
        // Wall time the export already covers: a segment overlapping it (the
        // NVR and a spare both recording at failback) continues at its first
        // keyframe at or after it, so no time is played twice.
        let mut covered_until = i64::MIN;
        // Parameter sets already tried: whether they make a sample entry.
        let mut usable: Vec<(Codec, CodecParams, bool)> = Vec::new();
        for s in &segs[first_seg..] {
            if s.start_wall_us > to || s.end_wall_us() <= from {
                continue;
            }
            let idx = match self.read_index(s) {
                Ok(idx) => idx,
                Err(e) => {
                    log::warn!("export of {camera}: segment {} skipped: {e}", s.id);
                    continue;
                }
            };
            if idx.frames.is_empty() {
                continue;
            }
            let ok = match usable.iter().find(|(c, p, _)| *c == idx.codec && *p == idx.params) {
                Some((_, _, ok)) => *ok,
                None => {
                    let r = mp4::sample_entry(idx.codec, &idx.params);
                    if let Err(e) = &r {
                        log::warn!("export of {camera}: segment {} skipped: bad parameter sets: {e}", s.id);
                    }
                    usable.push((idx.codec, idx.params.clone(), r.is_ok()));
                    r.is_ok()
                }
            };
            if !ok {
                continue;
            }
            let n = idx.frames.len();
            let mut first = if idx.start_wall_us <= from {
                (0..n).rev().find(|&k| idx.frames[k].keyframe && idx.frame_wall_us(k) <= from).unwrap_or(0)
            } else {
                0
            };
            if idx.frame_wall_us(first) < covered_until {
                match (first..n).find(|&k| idx.frames[k].keyframe && idx.frame_wall_us(k) >= covered_until) {
                    Some(k) => first = k,
                    None => continue,
                }
            }
            let Some(last) = (first..n).rev().find(|&k| idx.frame_wall_us(k) <= to) else { continue };
            covered_until =
                idx.frame_wall_us(last) + crate::segment::ticks_to_us(u64::from(idx.frames[last].duration_90k));
            let audio = self.read_audio(s).unwrap_or_else(|e| {
                log::warn!("export of {camera}: audio of segment {} left out: {e}", s.id);
                None
            });
            picks.push(Pick { idx, audio, first, last });
        }
        if picks.is_empty() {
            return Err(StoreError::EmptyExport { camera: camera.to_owned() });
        }
        plan(&picks)
    }
}

fn plan(picks: &[Pick]) -> Result<Mp4Plan, StoreError> {
    let mut keys: Vec<(Codec, &CodecParams)> = Vec::new();
    let mut entries: Vec<Vec<u8>> = Vec::new();
    let (mut width, mut height) = (0, 0);
    let (mut sizes, mut durations, mut sync) = (Vec::new(), Vec::new(), Vec::new());
    let mut chunks = Vec::with_capacity(picks.len());
    let mut parts = Vec::with_capacity(picks.len());
    for (pi, p) in picks.iter().enumerate() {
        let key = (p.idx.codec, &p.idx.params);
        let entry = match keys.iter().position(|k| *k == key) {
            Some(e) => e,
            None => {
                let (e, w, h) = mp4::sample_entry(p.idx.codec, &p.idx.params).map_err(|e| StoreError::SampleEntry {
                    segment: format!("{}/{}", p.idx.camera, p.idx.id),
                    reason: e.to_string(),
                })?;
                if entries.is_empty() {
                    (width, height) = (w, h);
                }
                keys.push(key);
                entries.push(e);
                keys.len() - 1
            }
        };
        let frames = &p.idx.frames[p.first..=p.last];
        for f in frames {
            sizes.push(f.len);
            durations.push(f.duration_90k);
            if f.keyframe {
                sync.push(sizes.len() as u32);
            }
        }
        // Stretch the last frame over a gap before the next segment.
        if let (Some(next), true) = (picks.get(pi + 1), p.last + 1 == p.idx.frames.len()) {
            let end_us = p.idx.frame_wall_us(p.last)
                + crate::segment::ticks_to_us(u64::from(frames[frames.len() - 1].duration_90k));
            let gap_us = next.idx.frame_wall_us(next.first).saturating_sub(end_us);
            if gap_us > 0 {
                if let Some(d) = durations.last_mut() {
                    *d = (u64::from(*d) + gap_us as u64 * 9 / 100).min(u64::from(u32::MAX)) as u32;
                }
            }
        }
        let offset = frames[0].offset;
        let len = frames.iter().map(|f| u64::from(f.len)).sum::<u64>();
        chunks.push(Chunk { entry: entry as u32 + 1, samples: frames.len() as u32, offset: 0 });
        parts.push((p.idx.sample_path.clone(), offset, len));
    }
    let codec = keys[0].0;
    let t0_us = picks[0].idx.frame_wall_us(picks[0].first);
    let video_90k: u64 = durations.iter().map(|&d| u64::from(d)).sum();
    let audio_pick: Vec<Option<SegmentAudio>> = picks.iter().map(|p| p.audio.clone()).collect();
    let audio = plan_audio(&audio_pick, t0_us, t0_us.saturating_add(crate::segment::ticks_to_us(video_90k)));
    let audio_entry = audio.as_ref().map(|a| mp4_audio::sample_entry(&a.params));
    // mdat: each segment's video, then the audio runs that belong after it.
    // (chunk kind: false = video, true = audio; index of the chunk in its track)
    let mut layout: Vec<(bool, usize, u64)> = Vec::with_capacity(parts.len());
    let mut all_parts = Vec::with_capacity(parts.len());
    let mut next_run = 0;
    for (pi, p) in parts.into_iter().enumerate() {
        layout.push((false, pi, p.2));
        all_parts.push(p);
        if let Some(a) = &audio {
            while let Some((_, path, off, len)) = a.runs.get(next_run).filter(|r| r.0 == pi) {
                layout.push((true, next_run, *len));
                all_parts.push((path.clone(), *off, *len));
                next_run += 1;
            }
        }
    }
    let mut audio_chunks = audio.as_ref().map(|a| a.chunks.clone()).unwrap_or_default();
    let payload: u64 = all_parts.iter().map(|p| p.2).sum();
    let build = |chunks: &[Chunk], audio_chunks: &[Chunk]| {
        let t =
            TrackTables { entries: &entries, width, height, sizes: &sizes, durations: &durations, sync: &sync, chunks };
        let at = audio.as_ref().zip(audio_entry.as_ref()).map(|(a, entry)| AudioTrack {
            params: &a.params,
            entry,
            start_90k: a.start_90k,
            sizes: &a.sizes,
            durations: &a.durations,
            chunks: audio_chunks,
        });
        let mut h = mp4::ftyp(codec);
        h.extend_from_slice(&mp4::moov_av(&t, at.as_ref()));
        h.extend_from_slice(&mp4::mdat_header(payload));
        h
    };
    // co64 entries have a fixed size, so the header length does not depend on the offsets.
    let header_len = build(&chunks, &audio_chunks).len() as u64;
    let mut off = header_len;
    for &(is_audio, i, len) in &layout {
        let c = if is_audio { &mut audio_chunks[i] } else { &mut chunks[i] };
        c.offset = off;
        off += len;
    }
    let header = build(&chunks, &audio_chunks);
    let parts = all_parts;
    Ok(Mp4Plan {
        total_len: header.len() as u64 + payload,
        header,
        parts,
        frames: sizes.len() as u32,
        duration_90k: video_90k,
        audio: audio.as_ref().map(|a| a.params.codec),
        audio_frames: audio.as_ref().map_or(0, |a| a.sizes.len() as u32),
    })
}
