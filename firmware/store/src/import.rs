//! Re-insertion of a segment recorded elsewhere (by a failover spare):
//! [`Store::import_segment`] validates it, stores it durably next to the
//! local segments with an origin sidecar, and is idempotent per uid.

use crate::audio_index::{audio_times, validate_audio};
use crate::error::StoreError;
use crate::index::total_duration;
use crate::origin::{create_origin, Origin, OriginRecord};
use crate::segment::{self, valid_camera_id, SegMeta, SegmentId, TMP_EXT};
use crate::validate::{validate_index, validate_lengths, validate_sample, InvalidSegment};
use crate::{SegmentInfo, Store};
use hotspare_base::fs::sync_dir;
use hotspare_base::LockExt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Directory (inside the store root, on the same filesystem) for files of imports in progress.
pub const IMPORT_DIR: &str = ".import";

/// One segment offered for import.
#[derive(Clone, Copy, Debug)]
pub struct ImportSource<'a> {
    /// Stable id of the segment at its source; a second import with the same uid is a no-op.
    pub uid: &'a str,
    /// SHA-256 (lower-case hex) of `index` followed by the sample bytes, as verified by the caller.
    pub sha256: &'a str,
    /// The complete index file.
    pub index: &'a [u8],
    /// The sample file, written completely to a temporary file under [`Store::import_dir`]. It is
    /// renamed into place (or removed when the segment is already there).
    pub sample_tmp: &'a Path,
    /// The segment's audio, when it has some (a segment without is imported video-only).
    pub audio: Option<ImportAudio<'a>>,
}

/// The audio part of an [`ImportSource`].
#[derive(Clone, Copy, Debug)]
pub struct ImportAudio<'a> {
    /// The complete `.audio-index` file.
    pub index: &'a [u8],
    /// The `.audio` file, written completely to a temporary file under [`Store::import_dir`];
    /// renamed into place or removed like `sample_tmp`.
    pub data_tmp: &'a Path,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Store {
    /// `ROOT/.import`, created if needed: where an importer writes the sample file it receives.
    pub fn import_dir(&self) -> Result<PathBuf, StoreError> {
        let dir = self.root.join(IMPORT_DIR);
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, "create import directory", e))?;
        Ok(dir)
    }

    /// A fresh temporary file name under [`Store::import_dir`].
    pub fn import_temp_path(&self) -> Result<PathBuf, StoreError> {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        Ok(self.import_dir()?.join(format!("{}-{n}.{TMP_EXT}", std::process::id())))
    }

    /// Removes leftovers of interrupted imports (call at startup, before importing).
    pub fn clean_import_dir(&self) -> Result<(), StoreError> {
        let dir = self.root.join(IMPORT_DIR);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::io(&dir, "list import directory", e)),
        };
        for entry in entries.flatten() {
            let _ = std::fs::remove_file(entry.path());
        }
        Ok(())
    }

    /// Imports one segment of `camera`. Validates it ([`crate::validate`]: the index decodes
    /// completely, parameter sets parse, times are sane, NAL lengths walk every frame exactly
    /// and the frames add up to the sample file; else [`StoreError::InvalidImport`]; its audio,
    /// if any, by [`crate::audio_index::validate_audio`], else
    /// [`StoreError::InvalidImportAudio`]); then writes the origin sidecar, renames the audio
    /// files (if any), the index and the sample file into place (`<start_us:016x>-<seq>` with a
    /// free `seq`) and fsyncs everything. Returns the segment
    /// and whether it was created: the same uid again with the same SHA-256 returns the stored
    /// segment and `false`; with another SHA-256 it is [`StoreError::ImportConflict`].
    pub fn import_segment(&self, camera: &str, src: ImportSource<'_>) -> Result<(SegmentInfo, bool), StoreError> {
        let r = self.import_inner(camera, src);
        if !matches!(r, Ok((_, true))) {
            let _ = std::fs::remove_file(src.sample_tmp);
            if let Some(a) = src.audio {
                let _ = std::fs::remove_file(a.data_tmp);
            }
        }
        r
    }

    fn import_inner(&self, camera: &str, src: ImportSource<'_>) -> Result<(SegmentInfo, bool), StoreError> {
        let bad = |reason: String| StoreError::BadImport { uid: src.uid.to_owned(), reason };
        if !valid_camera_id(camera) {
            return Err(StoreError::BadCameraId(camera.to_owned()));
        }
        if src.uid.is_empty() || src.uid.len() > 512 {
            return Err(bad("uid must be 1 to 512 bytes".into()));
        }
        let _one = self.import_lock.lock_or_recover();
        self.refresh_camera(camera)?;
        if let Some((info, sha)) = self.find_uid(src.uid) {
            if sha.as_deref() == Some(src.sha256) {
                return Ok((info, false));
            }
            return Err(StoreError::ImportConflict { uid: src.uid.to_owned() });
        }
        let invalid = |source: InvalidSegment| StoreError::InvalidImport { uid: src.uid.to_owned(), source };
        let parsed = validate_index(src.index, self.cfg.clock.now_us()).map_err(invalid)?;
        let sample = std::fs::File::open(src.sample_tmp)
            .map_err(|e| StoreError::io(src.sample_tmp, "open imported sample", e))?;
        let sample_len =
            sample.metadata().map_err(|e| StoreError::io(src.sample_tmp, "stat imported sample", e))?.len();
        validate_lengths(&parsed.frames, sample_len).map_err(invalid)?;
        validate_sample(parsed.header.codec, &parsed.frames, std::io::BufReader::with_capacity(64 << 10, sample))
            .map_err(|e| match e {
                InvalidSegment::Read(detail) => {
                    StoreError::io(src.sample_tmp, "read imported sample", std::io::Error::other(detail))
                }
                e => invalid(e),
            })?;
        if let Some(a) = src.audio {
            let len =
                std::fs::metadata(a.data_tmp).map_err(|e| StoreError::io(a.data_tmp, "stat imported audio", e))?.len();
            let audio = validate_audio(a.index, len)
                .map_err(|source| StoreError::InvalidImportAudio { uid: src.uid.to_owned(), source })?;
            audio_times(&audio, self.cfg.clock.now_us())
                .map_err(|source| StoreError::InvalidImportAudio { uid: src.uid.to_owned(), source })?;
        }
        let dir = self.camera_dir(camera);
        if !dir.is_dir() {
            std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, "create camera directory", e))?;
            sync_dir(&self.root)?;
        }
        let rec = OriginRecord { origin: Origin::Imported { uid: src.uid.to_owned() }, sha256: src.sha256.to_owned() };
        let id = self.claim_id(camera, &dir, parsed.header.start_wall_us, &rec)?;
        let (index_path, sample_path) = (id.index_path(&dir), id.sample_path(&dir));
        let (audio_index_path, audio_path) = (id.audio_index_path(&dir), id.audio_path(&dir));
        let placed = (|| {
            // Audio before video: until the video pair is in place the segment does not exist,
            // and recovery removes audio without video (an import cut short is sent again).
            if let Some(a) = src.audio {
                self.place_bytes(a.index, &audio_index_path)?;
                self.place_file(a.data_tmp, &audio_path)?;
            }
            self.place_bytes(src.index, &index_path)?;
            self.place_file(src.sample_tmp, &sample_path)?;
            Ok::<(), StoreError>(sync_dir(&dir)?)
        })();
        if let Err(e) = placed {
            for p in [&sample_path, &index_path, &audio_path, &audio_index_path, &id.origin_path(&dir)] {
                let _ = std::fs::remove_file(p);
            }
            return Err(e);
        }
        let meta = SegMeta {
            duration_90k: total_duration(&parsed.frames),
            frames: parsed.frames.len() as u32,
            bytes: sample_len,
            codec: parsed.header.codec,
            open: false,
            origin: rec.origin,
            sha256: Some(rec.sha256),
            scanned: Some((src.index.len() as u64, sample_len)),
        };
        let info = segment::info(camera, id, &meta);
        self.catalog.lock_or_recover().entry(camera.to_owned()).or_default().insert(id, meta);
        log::info!("imported {camera}/{id} ({} frames) as {}", info.frames, src.uid);
        Ok((info, true))
    }

    /// Writes `bytes` to a temporary file, fsyncs it and renames it to `to`.
    fn place_bytes(&self, bytes: &[u8], to: &Path) -> Result<(), StoreError> {
        let tmp = self.import_temp_path()?;
        let mut f = std::fs::File::create(&tmp).map_err(|e| StoreError::io(&tmp, "create", e))?;
        f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| StoreError::io(&tmp, "write", e))?;
        std::fs::rename(&tmp, to).map_err(|e| StoreError::io(to, "rename into place", e))
    }

    /// fsyncs the received file `tmp` and renames it to `to`.
    fn place_file(&self, tmp: &Path, to: &Path) -> Result<(), StoreError> {
        std::fs::File::open(tmp).and_then(|f| f.sync_all()).map_err(|e| StoreError::io(tmp, "fsync", e))?;
        std::fs::rename(tmp, to).map_err(|e| StoreError::io(to, "rename into place", e))
    }

    /// The stored segment imported under `uid`, with its SHA-256.
    fn find_uid(&self, uid: &str) -> Option<(SegmentInfo, Option<String>)> {
        let cat = self.catalog.lock_or_recover();
        cat.iter().find_map(|(cam, segs)| {
            segs.iter().find_map(|(id, m)| match &m.origin {
                Origin::Imported { uid: u } if u == uid => Some((segment::info(cam, *id, m), m.sha256.clone())),
                _ => None,
            })
        })
    }

    /// Picks a free `seq` for a segment starting at `start_us` and claims it by creating the
    /// origin sidecar exclusively.
    fn claim_id(&self, camera: &str, dir: &Path, start_us: i64, rec: &OriginRecord) -> Result<SegmentId, StoreError> {
        for seq in 0..=u32::from(u16::MAX) {
            let id = SegmentId { start_wall_us: start_us, seq };
            let in_catalog = self.catalog.lock_or_recover().get(camera).is_some_and(|s| s.contains_key(&id));
            if in_catalog || id.sample_path(dir).exists() || id.index_path(dir).exists() {
                continue;
            }
            if create_origin(dir, id, rec)? {
                return Ok(id);
            }
        }
        Err(StoreError::BadImport {
            uid: rec.origin_uid().to_owned(),
            reason: format!("no free segment name at {start_us}"),
        })
    }
}

impl OriginRecord {
    fn origin_uid(&self) -> &str {
        match &self.origin {
            Origin::Imported { uid } => uid,
            Origin::Local => "",
        }
    }
}
