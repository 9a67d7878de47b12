//! [`CameraWriter::write_audio`]: the audio frames of a camera, written into the
//! open video segment's optional `.audio` / `.audio-index` pair (format in
//! [`crate::audio_index`]). Same durability rules as the video path: writes at
//! explicit offsets, truncation back to the verified lengths on error, one
//! ENOSPC recycle-and-retry. The audio files are fdatasynced with the next
//! video batch (and at segment close), so audio adds no sync of its own per
//! batch. A failed audio write never fails or closes the video segment.

use crate::audio_index::{validate_audio_params, AudioEntry, AudioIndexHeader, AUDIO_INDEX_VERSION};
use crate::contract::AudioFrameIn;
use crate::error::StoreError;
use crate::index::encode_record;
use crate::segment::SegmentId;
use crate::writer::{pwrite_all, pwritev_all, CameraWriter};
use hotspare_base::fs::sync_dir;
use hotspare_media::AudioParams;
use std::fs::{File, OpenOptions};
use std::io::IoSlice;
use std::path::PathBuf;

/// A run anchor of the audio clock: (wall µs, pts, sample rate).
type Anchor = (i64, i64, u32);

/// Audio state of a [`CameraWriter`].
#[derive(Default)]
pub(crate) struct AudioState {
    part: Option<OpenAudio>,
    anchor: Option<Anchor>,
    /// Segment that takes no more audio (its audio parameters changed, or an audio file
    /// could not be written or synced).
    blocked: Option<SegmentId>,
    /// Frames of the current run, not yet written (reused).
    entries: Vec<AudioEntry>,
    /// Encoded record (reused).
    buf: Vec<u8>,
    /// Audio frames dropped (no open video segment, blocked segment, pts going back).
    pub dropped: u64,
}

/// The audio files of the open segment.
struct OpenAudio {
    seg: SegmentId,
    params: AudioParams,
    anchor: Anchor,
    first_pts: i64,
    start_wall_us: i64,
    data: File,
    index: File,
    data_path: PathBuf,
    index_path: PathBuf,
    data_len: u64,
    index_len: u64,
    frames: u32,
    last_pts_rel: i64,
    unsynced: bool,
}

/// µs of `ticks` of a `rate` Hz clock (saturating).
fn ticks_us(ticks: i64, rate: u32) -> i64 {
    i64::try_from(i128::from(ticks) * 1_000_000 / i128::from(rate.max(1))).unwrap_or(i64::MAX)
}

impl CameraWriter {
    /// Appends a batch of audio frames to the open segment's audio. Frame `i` owns the next
    /// `frames[i].pieces` slices of `iov`. Returns how many frames were stored.
    ///
    /// Frames are dropped (not an error) when no video segment is open (audio before the
    /// first keyframe), when the segment's audio was blocked, or when a frame's pts goes back
    /// within the segment. When `params` differ from those of the segment's audio, the rest of
    /// the segment takes no audio and the video is cut at its next keyframe, so the new
    /// parameters start with the next segment. Audio files are created with the first stored
    /// frame and closed with the segment. An I/O error (or [`StoreError::Full`] after a
    /// recycle and retry) is returned with the audio files truncated back to what was written
    /// before; the video segment is left as it is.
    pub fn write_audio(
        &mut self,
        params: &AudioParams,
        frames: &[AudioFrameIn],
        iov: &[IoSlice<'_>],
    ) -> Result<u32, StoreError> {
        self.check_audio_batch(frames, iov)?;
        validate_audio_params(params).map_err(|source| StoreError::BadAudio { camera: self.camera.clone(), source })?;
        let Some(seg) = self.seg_id() else {
            self.audio.dropped += frames.len() as u64;
            return Ok(0);
        };
        if self.audio.part.as_ref().is_some_and(|p| p.seg != seg) {
            self.close_audio();
        }
        if self.audio.part.as_ref().is_some_and(|p| p.params != *params) {
            log::warn!("camera {}: audio parameters changed; new audio starts with the next segment", self.camera);
            self.close_audio();
            self.audio.blocked = Some(seg);
            self.request_cut();
        }
        let (mut pos, mut run_start, mut stored) = (0usize, 0usize, 0u32);
        self.audio.entries.clear();
        for f in frames {
            let end = pos + f.pieces as usize;
            let anchor = self.audio_anchor(params.sample_rate, f);
            let wall = anchor.0.saturating_add(ticks_us(f.pts.saturating_sub(anchor.1), anchor.2));
            if self.audio.blocked == Some(seg) {
                self.audio.dropped += 1;
                pos = end;
                run_start = end;
                continue;
            }
            if self.audio.part.is_none() {
                if let Err(e) = self.open_audio(seg, params, anchor, f.pts, wall) {
                    self.audio.dropped += (frames.len() - stored as usize) as u64;
                    return Err(e);
                }
            }
            let Some(part) = self.audio.part.as_ref() else { break };
            let pts_rel = if part.anchor == anchor {
                f.pts.saturating_sub(part.first_pts)
            } else {
                // Re-anchored inside the segment (a new session): placed by wall time.
                let us = wall.saturating_sub(part.start_wall_us);
                i64::try_from(i128::from(us) * i128::from(params.sample_rate) / 1_000_000).unwrap_or(i64::MAX)
            };
            let prev = self.audio.entries.last().map_or(part.last_pts_rel, |e| e.pts_rel);
            let first = part.frames == 0 && self.audio.entries.is_empty();
            if pts_rel < 0 || (!first && pts_rel < prev) {
                self.flush_audio_run(&iov[run_start..pos])?;
                self.audio.dropped += 1;
                pos = end;
                run_start = end;
                continue;
            }
            self.audio.entries.push(AudioEntry { len: f.len, pts_rel, duration: f.duration });
            stored += 1;
            pos = end;
        }
        self.flush_audio_run(&iov[run_start..pos])?;
        Ok(stored)
    }

    fn check_audio_batch(&self, frames: &[AudioFrameIn], iov: &[IoSlice<'_>]) -> Result<(), StoreError> {
        let bad = |reason| Err(StoreError::BadBatch { camera: self.camera.clone(), reason });
        let mut pos = 0usize;
        for f in frames {
            let end = pos.saturating_add(f.pieces as usize);
            let Some(pieces) = iov.get(pos..end) else { return bad("audio frames claim more pieces than given") };
            if pieces.iter().map(|p| p.len() as u64).sum::<u64>() != u64::from(f.len) {
                return bad("an audio frame's len is not the sum of its pieces");
            }
            if f.len == 0 || f.duration == 0 {
                return bad("empty audio frame");
            }
            pos = end;
        }
        if pos != iov.len() {
            return bad("more pieces than audio frames claim");
        }
        Ok(())
    }

    /// The run anchor for frame `f`, re-anchoring at a discontinuity, a new rate or pts going back.
    fn audio_anchor(&mut self, rate: u32, f: &AudioFrameIn) -> Anchor {
        match self.audio.anchor {
            Some(a) if !f.discontinuity && a.2 == rate && f.pts >= a.1 => a,
            _ => {
                let a = (f.wall_us, f.pts, rate);
                self.audio.anchor = Some(a);
                a
            }
        }
    }

    fn open_audio(
        &mut self,
        seg: SegmentId,
        params: &AudioParams,
        anchor: Anchor,
        pts: i64,
        wall: i64,
    ) -> Result<(), StoreError> {
        let header = AudioIndexHeader {
            version: AUDIO_INDEX_VERSION,
            params: params.clone(),
            start_wall_us: wall,
            first_pts: pts,
        };
        let part = self.with_space_retry(|w| w.try_create_audio(seg, &header, anchor), "creating audio files")?;
        self.audio.part = Some(part);
        Ok(())
    }

    fn try_create_audio(&mut self, seg: SegmentId, h: &AudioIndexHeader, anchor: Anchor) -> std::io::Result<OpenAudio> {
        let (data_path, index_path) = (seg.audio_path(&self.dir), seg.audio_index_path(&self.dir));
        let sync = self.store.cfg.sync_each_batch;
        let buf = &mut self.audio.buf;
        let r = (|| {
            let create = |p: &PathBuf| OpenOptions::new().write(true).create_new(true).open(p);
            let data = create(&data_path)?;
            let index = create(&index_path)?;
            buf.clear();
            encode_record(h, buf).map_err(std::io::Error::other)?;
            pwrite_all(&index, buf, 0)?;
            if sync {
                index.sync_data()?;
                data.sync_data()?;
                sync_dir(data_path.parent().unwrap_or(&data_path)).map_err(|e| std::io::Error::other(e.to_string()))?;
            }
            Ok(OpenAudio {
                seg,
                params: h.params.clone(),
                anchor,
                first_pts: h.first_pts,
                start_wall_us: h.start_wall_us,
                data,
                index,
                data_path: data_path.clone(),
                index_path: index_path.clone(),
                data_len: 0,
                index_len: buf.len() as u64,
                frames: 0,
                last_pts_rel: 0,
                unsynced: false,
            })
        })();
        if r.is_err() {
            let _ = std::fs::remove_file(&data_path);
            let _ = std::fs::remove_file(&index_path);
        }
        r
    }

    /// Writes the pending audio entries (whose bytes are `iov`).
    fn flush_audio_run(&mut self, iov: &[IoSlice<'_>]) -> Result<(), StoreError> {
        if self.audio.entries.is_empty() {
            return Ok(());
        }
        let r = self.with_space_retry(|w| w.try_append_audio(iov), "appending audio");
        let entries = std::mem::take(&mut self.audio.entries);
        if r.is_ok() {
            if let Some(p) = self.audio.part.as_mut() {
                p.frames += entries.len() as u32;
                p.last_pts_rel = entries.last().map_or(p.last_pts_rel, |e| e.pts_rel);
                p.unsynced = true;
            }
        } else {
            self.audio.dropped += entries.len() as u64;
        }
        self.audio.entries = entries;
        self.audio.entries.clear();
        r
    }

    fn try_append_audio(&mut self, iov: &[IoSlice<'_>]) -> std::io::Result<()> {
        let AudioState { part, entries, buf, blocked, .. } = &mut self.audio;
        let Some(p) = part.as_mut() else { return Ok(()) };
        buf.clear();
        encode_record(&entries[..], buf).map_err(std::io::Error::other)?;
        let r = pwritev_all(&p.data, iov, p.data_len).and_then(|_| pwrite_all(&p.index, buf, p.index_len));
        match r {
            Ok(()) => {
                p.data_len += iov.iter().map(|s| s.len() as u64).sum::<u64>();
                p.index_len += buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                let t = p.data.set_len(p.data_len).and(p.index.set_len(p.index_len));
                if let Err(te) = t {
                    // The files may now hold bytes no record covers: no more audio here.
                    log::error!("{}: truncating after failed audio write: {te}", p.data_path.display());
                    *blocked = Some(p.seg);
                    *part = None;
                }
                Err(e)
            }
        }
    }

    /// fdatasyncs the audio files if a batch was written since the last sync. Called after each
    /// video batch's sync. A failed sync stops the segment's audio (the video is unaffected).
    pub(crate) fn sync_audio(&mut self) {
        let Some(p) = self.audio.part.as_mut() else { return };
        if !p.unsynced {
            return;
        }
        match p.data.sync_data().and_then(|_| p.index.sync_data()) {
            Ok(()) => p.unsynced = false,
            Err(e) => {
                log::error!("{}: fdatasync: {e}; no more audio in this segment", p.data_path.display());
                self.audio.blocked = Some(p.seg);
                self.audio.part = None;
            }
        }
    }

    /// Closes the open segment's audio: synced, or removed when no frame made it.
    pub(crate) fn close_audio(&mut self) {
        let Some(p) = self.audio.part.take() else { return };
        if p.frames == 0 {
            drop((p.data, p.index));
            let _ = std::fs::remove_file(&p.data_path);
            let _ = std::fs::remove_file(&p.index_path);
            return;
        }
        if let Err(e) = p.data.sync_data().and_then(|_| p.index.sync_data()) {
            log::error!("{}: fdatasync at close: {e}", p.data_path.display());
        }
    }

    /// Audio frames dropped so far (before the first keyframe, after a parameter change, pts
    /// going back, failed writes).
    pub fn audio_frames_dropped(&self) -> u64 {
        self.audio.dropped
    }
}
