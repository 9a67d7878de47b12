//! Sharing a store directory between processes: [`Store::open_readonly`]
//! (the API process reading beside the recorder process), [`Store::refresh`]
//! (rescan the disk for segments written, imported or deleted by another
//! process), and per-segment access for re-insertion
//! ([`Store::segment_paths`], [`Store::delete_segment`]).

use crate::error::StoreError;
use crate::index::{parse_index, total_duration};
use crate::origin::{read_origin, Origin};
use crate::segment::{valid_camera_id, SegMeta, SegmentId, INDEX_EXT, SAMPLE_EXT};
use crate::{RecycleState, SegmentInfo, Store, StoreConfig};
use hotspare_base::LockExt;
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Segment stems of `dir` that have both a sample and an index file.
fn complete_stems(dir: &Path) -> std::io::Result<BTreeSet<SegmentId>> {
    let (mut samples, mut indexes) = (BTreeSet::new(), BTreeSet::new());
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name();
        let Some((stem, ext)) = name.to_str().and_then(|n| n.split_once('.')) else { continue };
        let Some(id) = SegmentId::parse_stem(stem) else { continue };
        if ext == SAMPLE_EXT {
            samples.insert(id);
        } else if ext == INDEX_EXT {
            indexes.insert(id);
        }
    }
    Ok(samples.intersection(&indexes).copied().collect())
}

/// Length of `p` when it is a regular file (a directory or FIFO where a segment file belongs
/// is not read: reading a FIFO would block).
fn file_len(p: &Path) -> Option<u64> {
    std::fs::symlink_metadata(p).ok().filter(|m| m.file_type().is_file()).map(|m| m.len())
}

/// Reads a segment's catalog entry without changing anything on disk. `None` when its index
/// does not decode (yet: a writer may be creating it) or no frame is complete.
fn scan_meta(dir: &Path, id: SegmentId) -> Option<SegMeta> {
    let sample_len = file_len(&id.sample_path(dir))?;
    file_len(&id.index_path(dir))?;
    let bytes = std::fs::read(id.index_path(dir)).ok()?;
    let parsed = parse_index(&bytes).ok()?;
    let (keep, indexed) = crate::index::frames_within(&parsed.frames, sample_len);
    if keep == 0 {
        return None;
    }
    let rec = read_origin(dir, id).unwrap_or_else(|e| {
        log::warn!("{e}");
        None
    });
    Some(SegMeta {
        duration_90k: total_duration(&parsed.frames[..keep]),
        frames: keep as u32,
        bytes: indexed,
        codec: parsed.header.codec,
        open: false,
        origin: rec.as_ref().map_or(Origin::Local, |r| r.origin.clone()),
        sha256: rec.map(|r| r.sha256),
        scanned: Some((bytes.len() as u64, sample_len)),
    })
}

impl Store {
    /// Opens the store at `root` for reading beside a process that writes it. Nothing on disk
    /// is changed: no recovery (a half-written segment is read up to its last complete frame),
    /// no retention, no writers. The only write allowed is [`Store::import_segment`], which adds
    /// new files and never touches existing ones.
    pub fn open_readonly(root: &Path) -> Result<Arc<Store>, StoreError> {
        if !root.is_dir() {
            return Err(StoreError::io(root, "open store", std::io::ErrorKind::NotFound.into()));
        }
        let store = Arc::new(Store {
            root: root.to_owned(),
            cfg: StoreConfig::default(),
            catalog: Mutex::new(BTreeMap::new()),
            writers: Mutex::new(HashSet::new()),
            state: Mutex::new(RecycleState::Ok),
            recycle_lock: Mutex::new(()),
            read_only: true,
            import_lock: Mutex::new(()),
            _writer_lock: None,
            fsynced: std::sync::atomic::AtomicU64::new(0),
        });
        store.refresh()?;
        Ok(store)
    }

    /// True when opened with [`Store::open_readonly`].
    pub fn is_read_only(&self) -> bool {
        self.read_only
    }

    /// Rescans every camera directory: adds segments created by another process (recordings,
    /// imports), drops those deleted by another process, and re-reads segments that grew. Never
    /// changes the disk. Segments this store writes itself are left alone.
    pub fn refresh(&self) -> Result<(), StoreError> {
        let entries = std::fs::read_dir(&self.root).map_err(|e| StoreError::io(&self.root, "list store root", e))?;
        let mut cameras = BTreeSet::new();
        for entry in entries {
            let entry = entry.map_err(|e| StoreError::io(&self.root, "list store root", e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            if valid_camera_id(&name) && entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                cameras.insert(name);
            }
        }
        {
            // Cameras whose directory vanished lose their closed segments.
            let mut cat = self.catalog.lock_or_recover();
            for (cam, segs) in cat.iter_mut() {
                if !cameras.contains(cam) {
                    segs.retain(|_, m| m.open || m.scanned.is_none() && !self.read_only);
                }
            }
        }
        for cam in &cameras {
            self.refresh_camera(cam)?;
        }
        Ok(())
    }

    pub(crate) fn refresh_camera(&self, camera: &str) -> Result<(), StoreError> {
        let dir = self.camera_dir(camera);
        let on_disk = match complete_stems(&dir) {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeSet::new(),
            Err(e) => return Err(StoreError::io(&dir, "list camera directory", e)),
        };
        let known: BTreeMap<SegmentId, Option<(u64, u64)>> = self
            .catalog
            .lock_or_recover()
            .get(camera)
            .map(|segs| segs.iter().map(|(id, m)| (*id, m.scanned)).collect())
            .unwrap_or_default();
        let mut updates = Vec::new();
        for id in &on_disk {
            let rescan = match known.get(id) {
                None => true,
                // Written or recovered by this store: its catalog entry is authoritative.
                Some(None) => false,
                Some(Some((ilen, slen))) => {
                    file_len(&id.index_path(&dir)) != Some(*ilen) || file_len(&id.sample_path(&dir)) != Some(*slen)
                }
            };
            if rescan {
                updates.push((*id, scan_meta(&dir, *id)));
            }
        }
        let mut cat = self.catalog.lock_or_recover();
        let segs = cat.entry(camera.to_owned()).or_default();
        // Gone from the disk (deleted by another process); never our own open segments.
        segs.retain(|id, m| on_disk.contains(id) || m.open || (m.scanned.is_none() && !self.read_only));
        for (id, meta) in updates {
            match (meta, segs.get(&id)) {
                // A writer of this store claimed the id meanwhile.
                (_, Some(m)) if m.scanned.is_none() => {}
                (Some(meta), _) => {
                    segs.insert(id, meta);
                }
                (None, _) => {
                    segs.remove(&id);
                }
            }
        }
        Ok(())
    }

    /// `(index file, sample file)` of a segment.
    pub fn segment_paths(&self, seg: &SegmentInfo) -> Result<(PathBuf, PathBuf), StoreError> {
        if !valid_camera_id(&seg.camera) {
            return Err(StoreError::BadCameraId(seg.camera.clone()));
        }
        let dir = self.camera_dir(&seg.camera);
        Ok((seg.id.index_path(&dir), seg.id.sample_path(&dir)))
    }

    /// `(audio index, audio file)` of a segment, `None` when it has no audio (both must be
    /// regular files). Re-insertion sends them after the index and the sample file.
    pub fn audio_paths(&self, seg: &SegmentInfo) -> Result<Option<(PathBuf, PathBuf)>, StoreError> {
        if !valid_camera_id(&seg.camera) {
            return Err(StoreError::BadCameraId(seg.camera.clone()));
        }
        let dir = self.camera_dir(&seg.camera);
        let (index, data) = (seg.id.audio_index_path(&dir), seg.id.audio_path(&dir));
        Ok((file_len(&index).is_some() && file_len(&data).is_some()).then_some((index, data)))
    }

    /// Deletes a closed segment (sample file, index, origin sidecar) and fsyncs the directory.
    pub fn delete_segment(&self, seg: &SegmentInfo) -> Result<(), StoreError> {
        if self.read_only {
            return Err(StoreError::ReadOnly("delete segments"));
        }
        if !valid_camera_id(&seg.camera) {
            return Err(StoreError::BadCameraId(seg.camera.clone()));
        }
        let open = self.catalog.lock_or_recover().get(&seg.camera).and_then(|s| s.get(&seg.id)).map(|m| m.open);
        match open {
            None => return Err(StoreError::NoSegment(format!("{}/{}", seg.camera, seg.id))),
            Some(true) => return Err(StoreError::SegmentOpen { segment: format!("{}/{}", seg.camera, seg.id) }),
            Some(false) => {}
        }
        if !self.remove_segment(&seg.camera, seg.id) {
            return Err(StoreError::io(
                self.camera_dir(&seg.camera),
                "delete segment",
                std::io::Error::other(format!("cannot remove the files of {}", seg.id)),
            ));
        }
        Ok(hotspare_base::fs::sync_dir(&self.camera_dir(&seg.camera))?)
    }
}
