//! Segment store: the on-disk heart of the recorder. Owns the per-camera
//! segment files on the RAID, their crash recovery, retention (recycling)
//! and MP4 export.
//!
//! # Public API
//! - [`Store::open`]`(root, StoreConfig) -> Result<Arc<Store>>` — creates `root`, takes the
//!   store's single-writer lock ([`StoreError::Locked`] names the holding pid), runs crash
//!   recovery.
//! - [`Store::writer`]`(&Arc<Store>, camera) -> Result<CameraWriter>` — one writer per camera.
//! - [`CameraWriter::write`]`(&mut self, &StreamInfo, &[FrameIn], &[IoSlice]) -> Result<()>`,
//!   [`CameraWriter::close`]`(self)`; dropping a writer closes it too.
//! - [`CameraWriter::write_audio`]`(&mut self, &AudioParams, &[AudioFrameIn], &[IoSlice]) ->
//!   Result<u32>` — audio frames into the open segment's optional audio pair (timing contract
//!   on [`AudioFrameIn`]); [`Store::read_audio`]`(&SegmentInfo) -> Option<SegmentAudio>`;
//!   [`Store::audio_paths`] for re-insertion; an export has an audio track when its segments
//!   have audio ([`Mp4Plan::audio`]).
//! - [`Store::cameras`], [`Store::segments`]`(camera) -> Vec<SegmentInfo>` (sorted by start),
//!   [`Store::read_index`]`(&SegmentInfo) -> SegmentIndex`.
//! - [`Store::recycle`]`() -> RecycleState` (one retention pass; call it periodically, e.g. every
//!   10 s), [`Store::recycle_state`].
//! - [`Store::export_mp4`]`(camera, from, to) -> Mp4Plan`; [`Mp4Plan::write_to`],
//!   [`Mp4Plan::write_range`] serve it as a virtual file.
//! - [`parse_index`] decodes an index file and never panics (fuzz target).
//! - [`Store::open_readonly`]`(root)` — a reader beside another process's writing store (no
//!   recovery, no deletions, no writes except imports); [`Store::refresh`] rescans the disk.
//! - [`Store::import_segment`]`(camera, ImportSource) -> (SegmentInfo, created)` — durable,
//!   idempotent (per uid) insertion of a segment recorded elsewhere, with its audio if any
//!   ([`ImportAudio`]) (failover re-insertion);
//!   [`SegmentInfo::origin`] tells [`Origin::Local`] from [`Origin::Imported`].
//! - [`Store::delete_segment`], [`Store::segment_paths`] — for a spare handing segments back.
//!
//! # On-disk format
//! `ROOT/<camera>/` per camera (`[A-Za-z0-9_-]{1,64}`). Per segment two files named by the
//! wall-clock time of its first frame: `<start_us:016x>-<seq:x>.sample` and `.index`
//! (`seq` only disambiguates two segments of a camera starting in the same µs).
//!
//! - **sample file**: the frames concatenated exactly as handed to the store: each frame is a
//!   sequence of `[u32 be length][NAL unit]`, i.e. what an MP4 `mdat` holds. Written with
//!   vectored writes straight from the recorder's buffers.
//! - **index file**: append-only log of records `[u32 le payload length][u32 le crc32(payload)]
//!   [postcard payload]`. Record 0 is the header `{version: u16 = 1, codec, CodecParams {vps,
//!   sps, pps}, start_wall_us: i64, first_pts_90k: i64}`; each following record is one written
//!   batch: a postcard sequence of `{len: u32, pts_rel_90k: i64 (zigzag varint, pts minus the
//!   segment's first pts), keyframe: bool}`. Frame offsets are the running sum of `len`; a
//!   frame's duration is the pts delta to the next frame, the last frame gets the previous
//!   frame's duration (1/25 s when alone). Storing pts rather than durations means a batch
//!   never has to wait for the next frame.
//! - A segment starts with a keyframe and is cut at a keyframe once it lasts
//!   `segment_duration` (the first segment of each writer is shortened by a per-camera
//!   stagger, FNV-1a(camera) mod `segment_duration`, so cameras don't rotate together), when
//!   the `StreamInfo` changes, or at a `discontinuity` frame.
//! - Write order per batch: `pwritev` to the sample file at its verified length, `pwrite` of
//!   the index record at the index's verified length, then (if `sync_each_batch`, the default)
//!   `fdatasync` both. On a failed write both files are truncated back; since writes go to
//!   explicit offsets, a retry never leaves a hole the index points into. A new segment's
//!   files are created with the header record, synced, and the camera directory is fsynced.
//!   A `kill -9` loses nothing already handed to the store (the page cache has it) and a
//!   power cut loses at most the last batch (the recorder flushes before 1 s is unsaved).
//! - **Single writer**: `Store::open` holds an exclusive `flock` on `ROOT/.lock` (holding its
//!   pid) for as long as a `Store` of that root is open in the process; readers use
//!   [`Store::open_readonly`] and take no lock.
//! - **Crash recovery** (`Store::open`) keeps every frame it can prove:
//!   index records are read up to the first torn or bad-CRC record; frames in the sample file
//!   after the last indexed one are indexed from it by scanning its length-prefixed NAL units
//!   (frame starts: H.264 VCL NAL with `first_mb_in_slice == 0`, H.265 VCL NAL with
//!   `first_slice_segment_in_pic_flag`; keyframes from IDR/IRAP NAL types; pts continuing at
//!   the last frame rate) and the index is rewritten atomically (temp file, rename, fsync
//!   directory). A missing or unreadable index is rebuilt the same way (codec and parameters
//!   from in-band VPS/SPS/PPS, 1/25 s durations, start time from the file name). Index entries
//!   past the sample file's end are dropped. What cannot be proven is never deleted: a damaged
//!   index and the bytes of a torn last frame are copied to `ROOT/.quarantine/<camera>/`
//!   before the index is rewritten / the tail cut; a non-file where a segment file belongs is
//!   moved there; a pair with no provable frame is renamed `*.sample.corrupt` /
//!   `*.index.corrupt` and never served. Only a never-written segment (empty sample) and an
//!   index whose sample file is gone (an interrupted deletion) are removed. An error on one
//!   segment or camera is logged and only that one is not served. Readers and export never
//!   read past the verified length.
//! - **Retention**: [`Store::recycle`] deletes segments older than `max_age` (by
//!   `StoreConfig::clock`, the system clock unless a test injects a simulated one), then the oldest
//!   closed segments of any camera while the volume (statvfs on `ROOT`) is above
//!   `high_water_percent`. Deletion removes the sample file first, then the index. Each pass
//!   first rescans the disk ([`Store::refresh`]) so segments imported by another process are
//!   recycled like any closed segment.
//! - **Audio** (optional, [`audio_index`], `docs/design/audio-in-segments.md`): per segment a
//!   second pair `<stem>.audio` (AAC access units without ADTS, or G.711 bytes) and
//!   `<stem>.audio-index` (the index framing: header with `AudioParams`, start wall time and
//!   first pts, then batches of `{len, pts_rel, duration}` in the audio clock). The video
//!   files are the same with or without it. Recovery handles the audio after the video and
//!   never costs video for it; retention deletes it with the segment.
//! - **Imported segments** carry a sidecar `<stem>.origin` (see [`origin`]); a local segment has
//!   none. An import writes and fsyncs the sidecar (`O_EXCL`, which also claims the name), then
//!   renames the index and then the sample file into place and fsyncs the directory. Recovery
//!   keeps complete imported segments like any other and removes sidecars whose segment is gone.

pub mod audio_export;
pub mod audio_index;
mod audio_recover;
mod audio_writer;
pub mod contract;
pub mod error;
pub mod export;
mod import;
pub mod index;
mod lock;
pub mod mp4;
pub mod mp4_audio;
pub mod origin;
mod recover;
mod retention;
mod scan;
pub mod segment;
mod shared;
pub mod validate;
mod writer;

pub use audio_export::{AudioFrame, SegmentAudio};
pub use contract::{AudioFrameIn, FrameIn, RecycleState, StreamInfo};
pub use error::{IndexError, StoreError};
pub use export::Mp4Plan;
pub use import::{ImportAudio, ImportSource};
pub use index::{parse_index, ParsedIndex};
pub use lock::LOCK_FILE;
pub use origin::Origin;
pub use recover::QUARANTINE_DIR;
pub use segment::{IndexedFrame, SegmentId, SegmentIndex, SegmentInfo};
pub use validate::InvalidSegment;
pub use writer::CameraWriter;

use crate::index::frame_durations;
use crate::segment::{valid_camera_id, Catalog};
use hotspare_base::fs::sync_dir;
use hotspare_base::{LockExt, SharedClock, SystemClock};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Store settings.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// Target segment length (cut at the first keyframe after it). Default 60 s.
    pub segment_duration: Duration,
    /// Retention deletes old segments while volume usage is above this. Default 90.
    pub high_water_percent: u8,
    /// Segments ending longer ago than this are deleted. Default none.
    pub max_age: Option<Duration>,
    /// `fdatasync` sample and index after every batch. Default true.
    pub sync_each_batch: bool,
    /// The wall clock `max_age` and imports are judged by. Default the system clock; tests
    /// use a [`hotspare_base::SimClock`].
    pub clock: SharedClock,
}

/// Two configurations are equal when their settings are: the clock is how time is read, not a
/// setting (a decision core compares the configuration it asks a store to be reopened with).
impl PartialEq for StoreConfig {
    fn eq(&self, other: &Self) -> bool {
        let StoreConfig { segment_duration, high_water_percent, max_age, sync_each_batch, clock: _ } = self;
        *segment_duration == other.segment_duration
            && *high_water_percent == other.high_water_percent
            && *max_age == other.max_age
            && *sync_each_batch == other.sync_each_batch
    }
}

impl Eq for StoreConfig {}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            segment_duration: Duration::from_secs(60),
            high_water_percent: 90,
            max_age: None,
            sync_each_batch: true,
            clock: SystemClock::shared(),
        }
    }
}

/// The segment store rooted at one directory (normally the RAID mount).
pub struct Store {
    root: PathBuf,
    cfg: StoreConfig,
    catalog: Mutex<Catalog>,
    writers: Mutex<HashSet<String>>,
    state: Mutex<RecycleState>,
    recycle_lock: Mutex<()>,
    /// Opened with [`Store::open_readonly`]: no recovery, writers, deletions or retention.
    read_only: bool,
    /// Serializes imports (uid lookup + name claim + rename).
    import_lock: Mutex<()>,
    /// The single-writer lock (`None` when read-only).
    _writer_lock: Option<Arc<lock::StoreLock>>,
    /// Video bytes made durable (fdatasynced) by this store's writers since it was opened.
    fsynced: AtomicU64,
}

impl Store {
    /// Opens (creating if needed) the store at `root` as its one writer: takes the store's
    /// exclusive lock ([`StoreError::Locked`] naming the holder when another process has it)
    /// and runs crash recovery over every camera directory.
    pub fn open(root: &Path, cfg: StoreConfig) -> Result<Arc<Store>, StoreError> {
        std::fs::create_dir_all(root).map_err(|e| StoreError::io(root, "create store root", e))?;
        let writer_lock = lock::lock_store(root)?;
        let mut catalog = Catalog::new();
        let entries = std::fs::read_dir(root).map_err(|e| StoreError::io(root, "list store root", e))?;
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(root, "list store root", e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            if !valid_camera_id(&name) || !entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            // One unreadable camera directory never stops the others from being served.
            let segs = recover::recover_camera(&entry.path(), &name).unwrap_or_else(|e| {
                log::error!("camera {name}: not recovered, not served: {e}");
                Default::default()
            });
            catalog.insert(name, segs);
        }
        Ok(Arc::new(Store {
            root: root.to_owned(),
            cfg,
            catalog: Mutex::new(catalog),
            writers: Mutex::new(HashSet::new()),
            state: Mutex::new(RecycleState::Ok),
            recycle_lock: Mutex::new(()),
            read_only: false,
            import_lock: Mutex::new(()),
            _writer_lock: Some(writer_lock),
            fsynced: AtomicU64::new(0),
        }))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config(&self) -> &StoreConfig {
        &self.cfg
    }

    /// Video bytes made durable (fdatasynced) since the store was opened, all cameras
    /// together; never decreases. The recorder's progress for the supervisor: it grows after
    /// each synced batch (or at each segment close without `sync_each_batch`).
    pub fn bytes_fsynced(&self) -> u64 {
        self.fsynced.load(Ordering::Relaxed)
    }

    pub(crate) fn add_fsynced(&self, bytes: u64) {
        self.fsynced.fetch_add(bytes, Ordering::Relaxed);
    }

    pub(crate) fn camera_dir(&self, camera: &str) -> PathBuf {
        self.root.join(camera)
    }

    /// Opens the writer of `camera` (creating its directory). Only one writer per camera may
    /// exist at a time.
    pub fn writer(self: &Arc<Self>, camera: &str) -> Result<CameraWriter, StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly("open a writer"));
        }
        if !valid_camera_id(camera) {
            return Err(StoreError::BadCameraId(camera.to_owned()));
        }
        let dir = self.camera_dir(camera);
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, "create camera directory", e))?;
            sync_dir(&self.root)?;
        }
        if !self.writers.lock_or_recover().insert(camera.to_owned()) {
            return Err(StoreError::WriterBusy(camera.to_owned()));
        }
        self.catalog.lock_or_recover().entry(camera.to_owned()).or_default();
        Ok(CameraWriter::new(Arc::clone(self), camera.to_owned(), dir))
    }

    pub(crate) fn release_writer(&self, camera: &str) {
        self.writers.lock_or_recover().remove(camera);
    }

    /// Cameras that have a directory in the store, sorted.
    pub fn cameras(&self) -> Vec<String> {
        self.catalog.lock_or_recover().keys().cloned().collect()
    }

    /// Segments of `camera` sorted by start time (empty segments not listed).
    pub fn segments(&self, camera: &str) -> Result<Vec<SegmentInfo>, StoreError> {
        if !valid_camera_id(camera) {
            return Err(StoreError::BadCameraId(camera.to_owned()));
        }
        let cat = self.catalog.lock_or_recover();
        Ok(cat
            .get(camera)
            .map(|segs| {
                segs.iter().filter(|(_, m)| m.frames > 0).map(|(id, m)| segment::info(camera, *id, m)).collect()
            })
            .unwrap_or_default())
    }

    /// Reads the index of a segment. Frames are limited to those whose bytes are inside the
    /// sample file as it is now.
    pub fn read_index(&self, seg: &SegmentInfo) -> Result<SegmentIndex, StoreError> {
        if !valid_camera_id(&seg.camera) {
            return Err(StoreError::BadCameraId(seg.camera.clone()));
        }
        let dir = self.camera_dir(&seg.camera);
        let index_path = seg.id.index_path(&dir);
        let sample_path = seg.id.sample_path(&dir);
        for p in [&index_path, &sample_path] {
            let m = std::fs::symlink_metadata(p).map_err(|e| StoreError::io(p, "stat segment file", e))?;
            if !m.file_type().is_file() {
                return Err(StoreError::io(p, "read segment", std::io::Error::other("not a regular file")));
            }
        }
        let bytes = std::fs::read(&index_path).map_err(|e| StoreError::io(&index_path, "read index", e))?;
        let parsed = parse_index(&bytes).map_err(|source| StoreError::Index { path: index_path.clone(), source })?;
        let sample_len =
            std::fs::metadata(&sample_path).map_err(|e| StoreError::io(&sample_path, "stat sample file", e))?.len();
        let (keep, _) = index::frames_within(&parsed.frames, sample_len);
        let mut frames = Vec::with_capacity(keep);
        let mut offset = 0u64;
        for (f, duration_90k) in parsed.frames.iter().zip(frame_durations(&parsed.frames)).take(keep) {
            frames.push(IndexedFrame {
                offset,
                len: f.len,
                duration_90k,
                pts_rel_90k: f.pts_rel_90k,
                keyframe: f.keyframe,
            });
            offset += u64::from(f.len);
        }
        Ok(SegmentIndex {
            id: seg.id,
            camera: seg.camera.clone(),
            codec: parsed.header.codec,
            params: parsed.header.params,
            start_wall_us: parsed.header.start_wall_us,
            first_pts_90k: parsed.header.first_pts_90k,
            sample_path,
            frames,
        })
    }

    /// State left by the last retention pass or failed write.
    pub fn recycle_state(&self) -> RecycleState {
        self.state.lock_or_recover().clone()
    }

    pub(crate) fn set_state(&self, s: RecycleState) {
        *self.state.lock_or_recover() = s;
    }
}
