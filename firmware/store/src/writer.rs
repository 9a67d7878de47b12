//! [`CameraWriter`]: appends batches of frames of one camera to its open
//! segment (vectored writes, no payload copies, no per-frame allocation in
//! steady state), cuts segments, and handles ENOSPC by truncating, recycling
//! and retrying once.

use crate::audio_writer::AudioState;
use crate::contract::{FrameIn, RecycleState, StreamInfo};
use crate::error::StoreError;
use crate::index::{encode_record, FrameEntry, IndexHeader, DEFAULT_DURATION_90K, INDEX_VERSION};
use crate::origin::Origin;
use crate::segment::{SegMeta, SegmentId};
use crate::Store;
use hotspare_base::fs::{is_nospc, sync_dir};
use hotspare_base::LockExt;
use std::fs::{File, OpenOptions};
use std::io::IoSlice;
use std::path::PathBuf;
use std::sync::Arc;

/// Linux IOV_MAX: most slices one `writev` call accepts.
const IOV_MAX: usize = 1024;

/// Writes one camera's frames into segments. Created by [`Store::writer`].
pub struct CameraWriter {
    pub(crate) store: Arc<Store>,
    pub(crate) camera: String,
    pub(crate) dir: PathBuf,
    seg: Option<OpenSegment>,
    /// The next segment is this writer's first (shortened by the stagger).
    first_segment: bool,
    stagger_90k: i64,
    segment_90k: i64,
    /// Frames of the current run, not yet written (reused).
    entries: Vec<FrameEntry>,
    /// Encoded index record (reused).
    buf: Vec<u8>,
    closed: bool,
    /// The last write failed with Full: the next success clears the Failing state.
    after_full: bool,
    /// (wall µs, pts) of the first frame of the current continuous run (one
    /// RTP session with no discontinuity). Later segments of the run are
    /// timed from it by pts, so consecutive segments join exactly even when
    /// the recorder's wall-clock mapping moves (an RTCP report arriving).
    run_anchor: Option<(i64, i64)>,
    /// The open segment's audio (see [`crate::audio_writer`]).
    pub(crate) audio: AudioState,
    /// Cut the segment at the next keyframe (the audio parameters changed).
    cut_requested: bool,
}

struct OpenSegment {
    id: SegmentId,
    stream: StreamInfo,
    first_pts: i64,
    target_90k: i64,
    sample: File,
    index: File,
    sample_path: PathBuf,
    index_path: PathBuf,
    sample_len: u64,
    index_len: u64,
    frames: u32,
    /// pts_rel of the last two written frames (for the catalog's duration).
    last_two: [i64; 2],
}

/// FNV-1a 64: a hash that is stable across builds (the stagger must not change).
fn fnv1a(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// Writes all of `iov` to `f` at byte `offset` with `pwritev`, IOV_MAX slices at a time,
/// finishing short writes. Writing at an explicit offset (never at the file position) means a
/// failed or partial write that is then truncated away leaves no hole: the retry lands
/// exactly where the valid bytes end.
pub(crate) fn pwritev_all(f: &File, iov: &[IoSlice<'_>], mut offset: u64) -> std::io::Result<()> {
    let mut i = 0;
    let mut skip = 0usize; // bytes of iov[i] already written
    while i < iov.len() {
        if skip > 0 {
            let n = match rustix::io::pwrite(f, &iov[i][skip..], offset) {
                Ok(n) => n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                return Err(std::io::ErrorKind::WriteZero.into());
            }
            offset += n as u64;
            skip += n;
            if skip == iov[i].len() {
                skip = 0;
                i += 1;
            }
            continue;
        }
        let chunk = &iov[i..iov.len().min(i + IOV_MAX)];
        let mut n = match rustix::io::pwritev(f, chunk, offset) {
            Ok(n) => n,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        };
        if n == 0 && chunk.iter().any(|s| !s.is_empty()) {
            return Err(std::io::ErrorKind::WriteZero.into());
        }
        offset += n as u64;
        // Skip whole slices written; remember how far into a partially written one we got.
        while i < iov.len() && n >= iov[i].len() {
            n -= iov[i].len();
            i += 1;
        }
        skip = n;
    }
    Ok(())
}

/// Writes all of `buf` to `f` at byte `offset` (see [`pwritev_all`]).
pub(crate) fn pwrite_all(f: &File, buf: &[u8], offset: u64) -> std::io::Result<()> {
    pwritev_all(f, &[IoSlice::new(buf)], offset)
}

impl CameraWriter {
    pub(crate) fn new(store: Arc<Store>, camera: String, dir: PathBuf) -> CameraWriter {
        let segment_90k =
            (store.cfg.segment_duration.as_micros().saturating_mul(9) / 100).clamp(1, i64::MAX as u128) as i64;
        let stagger_90k = (fnv1a(&camera) % segment_90k as u64) as i64;
        CameraWriter {
            store,
            camera,
            dir,
            seg: None,
            first_segment: true,
            stagger_90k,
            segment_90k,
            entries: Vec::new(),
            buf: Vec::new(),
            closed: false,
            after_full: false,
            run_anchor: None,
            audio: AudioState::default(),
            cut_requested: false,
        }
    }

    pub fn camera(&self) -> &str {
        &self.camera
    }

    /// The open segment, if any.
    pub(crate) fn seg_id(&self) -> Option<SegmentId> {
        self.seg.as_ref().map(|s| s.id)
    }

    /// Asks for the open segment to be cut at the next keyframe.
    pub(crate) fn request_cut(&mut self) {
        self.cut_requested = true;
    }

    /// Per-camera stagger (90 kHz) by which the first segment is shortened.
    pub fn stagger_90k(&self) -> i64 {
        self.stagger_90k
    }

    /// Appends a batch. Frame `i` owns the next `frames[i].pieces` slices of `iov`. Frames
    /// before the first keyframe (or after a discontinuity, until a keyframe) are skipped.
    /// On [`StoreError::Full`] or another I/O error the open segment is closed and the next
    /// write starts a new segment at a keyframe.
    pub fn write(&mut self, stream: &StreamInfo, frames: &[FrameIn], iov: &[IoSlice<'_>]) -> Result<(), StoreError> {
        self.check_batch(frames, iov)?;
        let r = self.write_inner(stream, frames, iov);
        if r.is_err() {
            self.entries.clear();
            if let Err(e) = self.close_segment() {
                log::warn!("camera {}: closing segment after failed write: {e}", self.camera);
            }
        }
        r
    }

    fn check_batch(&self, frames: &[FrameIn], iov: &[IoSlice<'_>]) -> Result<(), StoreError> {
        let bad = |reason| Err(StoreError::BadBatch { camera: self.camera.clone(), reason });
        let mut pos = 0usize;
        for f in frames {
            let end = pos.saturating_add(f.pieces as usize);
            let Some(pieces) = iov.get(pos..end) else { return bad("frames claim more pieces than given") };
            if pieces.iter().map(|p| p.len() as u64).sum::<u64>() != u64::from(f.len) {
                return bad("a frame's len is not the sum of its pieces");
            }
            if f.len == 0 {
                return bad("empty frame");
            }
            pos = end;
        }
        if pos != iov.len() {
            return bad("more pieces than frames claim");
        }
        Ok(())
    }

    fn write_inner(&mut self, stream: &StreamInfo, frames: &[FrameIn], iov: &[IoSlice<'_>]) -> Result<(), StoreError> {
        if self.seg.as_ref().is_some_and(|s| s.stream != *stream) {
            self.close_segment()?;
        }
        let (mut pos, mut run_start) = (0usize, 0usize);
        for f in frames {
            let end = pos + f.pieces as usize;
            let cut = self.seg.as_ref().is_some_and(|s| {
                f.discontinuity
                    || (f.keyframe && (self.cut_requested || f.pts_90k.saturating_sub(s.first_pts) >= s.target_90k))
            });
            if cut {
                self.flush_run(&iov[run_start..pos])?;
                self.close_segment()?;
            }
            if self.seg.is_none() {
                if !f.keyframe {
                    if f.discontinuity {
                        self.run_anchor = None;
                    }
                    pos = end;
                    run_start = end;
                    continue;
                }
                self.open_segment(stream, f)?;
                run_start = pos;
            }
            if let Some(s) = &self.seg {
                self.entries.push(FrameEntry {
                    len: f.len,
                    pts_rel_90k: f.pts_90k.saturating_sub(s.first_pts),
                    keyframe: f.keyframe,
                });
            }
            pos = end;
        }
        self.flush_run(&iov[run_start..pos])
    }

    /// Runs `op`; on ENOSPC runs a retention pass and retries once, then reports Full.
    pub(crate) fn with_space_retry<T>(
        &mut self,
        mut op: impl FnMut(&mut Self) -> Result<T, std::io::Error>,
        what: &str,
    ) -> Result<T, StoreError> {
        for attempt in 0..2 {
            match op(self) {
                Ok(v) => {
                    if self.after_full {
                        // Space was found again: re-evaluate the high-water mark now. (Setting
                        // `Ok` here made a volume above the mark with nothing left to delete
                        // flap between failing and ok, and a spare fail back and take over again.)
                        self.after_full = false;
                        self.store.recycle();
                    }
                    return Ok(v);
                }
                Err(e) if is_nospc(&e) && attempt == 0 => {
                    log::warn!("camera {}: no space left while {what}; recycling and retrying", self.camera);
                    self.store.recycle();
                }
                Err(e) if is_nospc(&e) => {
                    let reason = format!("camera {}: no space left while {what} even after recycling", self.camera);
                    self.store.set_state(RecycleState::Failing { reason: reason.clone() });
                    self.after_full = true;
                    return Err(StoreError::Full(reason));
                }
                Err(e) => return Err(StoreError::io(&self.dir, "write segment", e)),
            }
        }
        Err(StoreError::Full(format!("camera {}: {what}", self.camera)))
    }

    fn open_segment(&mut self, stream: &StreamInfo, f: &FrameIn) -> Result<(), StoreError> {
        let seg = self.with_space_retry(|w| w.try_create(stream, f), "creating a segment")?;
        self.seg = Some(seg);
        Ok(())
    }

    /// Wall-clock start of a segment whose first frame is `f`.
    fn segment_start_us(&mut self, f: &FrameIn) -> i64 {
        match self.run_anchor {
            Some((wall, pts)) if !f.discontinuity && f.pts_90k >= pts => wall + (f.pts_90k - pts) * 1_000_000 / 90_000,
            _ => {
                self.run_anchor = Some((f.wall_us, f.pts_90k));
                f.wall_us
            }
        }
    }

    fn try_create(&mut self, stream: &StreamInfo, f: &FrameIn) -> std::io::Result<OpenSegment> {
        let start_wall_us = self.segment_start_us(f);
        let id = {
            let mut cat = self.store.catalog.lock_or_recover();
            let segs = cat.entry(self.camera.clone()).or_default();
            let seq = segs
                .range(SegmentId { start_wall_us, seq: 0 }..=SegmentId { start_wall_us, seq: u32::MAX })
                .next_back()
                .map_or(0, |(id, _)| id.seq + 1);
            let id = SegmentId { start_wall_us, seq };
            let meta = SegMeta {
                duration_90k: 0,
                frames: 0,
                bytes: 0,
                codec: stream.codec,
                open: true,
                origin: Origin::Local,
                sha256: None,
                scanned: None,
            };
            segs.insert(id, meta);
            id
        };
        let (sample_path, index_path) = (id.sample_path(&self.dir), id.index_path(&self.dir));
        let r = (|| {
            let create = |p: &PathBuf| OpenOptions::new().write(true).create_new(true).open(p);
            let sample = create(&sample_path)?;
            let index = create(&index_path)?;
            let header = IndexHeader {
                version: INDEX_VERSION,
                codec: stream.codec,
                params: stream.params.clone(),
                start_wall_us,
                first_pts_90k: f.pts_90k,
            };
            self.buf.clear();
            encode_record(&header, &mut self.buf).map_err(std::io::Error::other)?;
            pwrite_all(&index, &self.buf, 0)?;
            if self.store.cfg.sync_each_batch {
                index.sync_data()?;
                sample.sync_data()?;
                sync_dir(&self.dir).map_err(|e| std::io::Error::other(e.to_string()))?;
            }
            let target_90k = if self.first_segment { self.segment_90k - self.stagger_90k } else { self.segment_90k };
            Ok(OpenSegment {
                id,
                stream: stream.clone(),
                first_pts: f.pts_90k,
                target_90k,
                sample,
                index,
                sample_path: sample_path.clone(),
                index_path: index_path.clone(),
                sample_len: 0,
                index_len: self.buf.len() as u64,
                frames: 0,
                last_two: [0, 0],
            })
        })();
        if r.is_err() {
            let _ = std::fs::remove_file(&sample_path);
            let _ = std::fs::remove_file(&index_path);
            if let Some(segs) = self.store.catalog.lock_or_recover().get_mut(&self.camera) {
                segs.remove(&id);
            }
        }
        r
    }

    /// Writes the pending entries (whose bytes are `iov`) to the open segment.
    fn flush_run(&mut self, iov: &[IoSlice<'_>]) -> Result<(), StoreError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        self.with_space_retry(|w| w.try_append(iov), "appending frames")?;
        if self.store.cfg.sync_each_batch {
            self.store.add_fsynced(iov.iter().map(|s| s.len() as u64).sum());
            self.sync_audio();
        }
        let Some(seg) = self.seg.as_mut() else { return Ok(()) };
        let n = self.entries.len();
        let bytes: u64 = self.entries.iter().map(|e| u64::from(e.len)).sum();
        seg.frames += n as u32;
        seg.last_two = match &self.entries[..] {
            [.., a, b] => [a.pts_rel_90k, b.pts_rel_90k],
            [b] => [seg.last_two[1], b.pts_rel_90k],
            [] => seg.last_two,
        };
        let duration_90k = if seg.frames == 1 {
            u64::from(DEFAULT_DURATION_90K)
        } else {
            let [a, b] = seg.last_two;
            (b.max(0) as u64 + b.saturating_sub(a).max(0) as u64).max(1)
        };
        if let Some(m) = self.store.catalog.lock_or_recover().get_mut(&self.camera).and_then(|s| s.get_mut(&seg.id)) {
            m.frames = seg.frames;
            m.bytes += bytes;
            m.duration_90k = duration_90k;
        }
        self.entries.clear();
        Ok(())
    }

    fn try_append(&mut self, iov: &[IoSlice<'_>]) -> std::io::Result<()> {
        let Some(seg) = self.seg.as_mut() else { return Ok(()) };
        self.buf.clear();
        encode_record(&self.entries[..], &mut self.buf).map_err(std::io::Error::other)?;
        let r = (|| {
            pwritev_all(&seg.sample, iov, seg.sample_len)?;
            pwrite_all(&seg.index, &self.buf, seg.index_len)?;
            if self.store.cfg.sync_each_batch {
                seg.sample.sync_data()?;
                seg.index.sync_data()?;
            }
            Ok(())
        })();
        match r {
            Ok(()) => {
                seg.sample_len += iov.iter().map(|s| s.len() as u64).sum::<u64>();
                seg.index_len += self.buf.len() as u64;
                Ok(())
            }
            Err(e) => {
                // Back to the state before the batch (frees the space a partial write took).
                // Writes go to explicit offsets, so the retry rewrites these bytes and never
                // leaves a hole of zeros inside what the index covers.
                let t1 = seg.sample.set_len(seg.sample_len);
                let t2 = seg.index.set_len(seg.index_len);
                if let Err(te) = t1.and(t2) {
                    log::error!("{}: truncating after failed write: {te}", seg.sample_path.display());
                }
                Err(e)
            }
        }
    }

    /// Finishes the open segment (if any): syncs it, marks it closed, removes it if empty.
    fn close_segment(&mut self) -> Result<(), StoreError> {
        self.close_audio();
        self.cut_requested = false;
        let Some(seg) = self.seg.take() else { return Ok(()) };
        self.first_segment = false;
        let mut cat = self.store.catalog.lock_or_recover();
        let segs = cat.entry(self.camera.clone()).or_default();
        if seg.frames == 0 {
            segs.remove(&seg.id);
            drop(cat);
            drop((seg.sample, seg.index));
            let _ = std::fs::remove_file(&seg.sample_path);
            let _ = std::fs::remove_file(&seg.index_path);
            return Ok(());
        }
        if let Some(m) = segs.get_mut(&seg.id) {
            m.open = false;
        }
        drop(cat);
        if !self.store.cfg.sync_each_batch {
            seg.sample.sync_data().map_err(|e| StoreError::io(&seg.sample_path, "fdatasync", e))?;
            seg.index.sync_data().map_err(|e| StoreError::io(&seg.index_path, "fdatasync", e))?;
            sync_dir(&self.dir)?;
            self.store.add_fsynced(seg.sample_len);
        }
        Ok(())
    }

    /// Finishes the open segment and releases the camera.
    pub fn close(mut self) -> Result<(), StoreError> {
        self.finish()
    }

    fn finish(&mut self) -> Result<(), StoreError> {
        if self.closed {
            return Ok(());
        }
        self.closed = true;
        let r = self.close_segment();
        self.store.release_writer(&self.camera);
        r
    }
}

impl Drop for CameraWriter {
    fn drop(&mut self) {
        if let Err(e) = self.finish() {
            log::warn!("camera {}: closing writer: {e}", self.camera);
        }
    }
}
