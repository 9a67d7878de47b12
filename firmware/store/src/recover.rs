//! Crash recovery run by [`crate::Store::open`]: makes every segment's
//! sample and index files agree (torn tails cut, missing indexes rebuilt,
//! hopeless pairs renamed `*.corrupt`) and returns the camera's catalog.

use crate::error::StoreError;
use crate::index::{encode_record, parse_index, total_duration, FrameEntry, IndexHeader, INDEX_VERSION};
use crate::origin::{read_origin, Origin, ORIGIN_EXT};
use crate::scan;
use crate::segment::{SegMeta, SegmentId, CORRUPT_EXT, INDEX_EXT, SAMPLE_EXT, TMP_EXT};
use crate::sync_dir;
use hotspare_media::Codec;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::Path;

/// Recovers every segment in `dir` (camera `camera`).
pub(crate) fn recover_camera(dir: &Path, camera: &str) -> Result<BTreeMap<SegmentId, SegMeta>, StoreError> {
    let mut ids = BTreeSet::new();
    let mut origins = BTreeSet::new();
    let entries = std::fs::read_dir(dir).map_err(|e| StoreError::io(dir, "list camera directory", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| StoreError::io(dir, "list camera directory", e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some((stem, ext)) = name.split_once('.') else { continue };
        match ext {
            _ if ext == SAMPLE_EXT || ext == INDEX_EXT => {
                if let Some(id) = SegmentId::parse_stem(stem) {
                    ids.insert(id);
                }
            }
            _ if ext == ORIGIN_EXT => {
                if let Some(id) = SegmentId::parse_stem(stem) {
                    origins.insert(id);
                }
            }
            _ if ext.ends_with(TMP_EXT) => {
                let _ = std::fs::remove_file(entry.path());
            }
            _ => {}
        }
    }
    let mut segs = BTreeMap::new();
    let mut changed = false;
    for id in ids {
        let (meta, dirty) = recover_segment(dir, id)?;
        changed |= dirty;
        if let Some(mut meta) = meta {
            if origins.contains(&id) {
                if let Some(rec) = read_origin(dir, id)? {
                    meta.origin = rec.origin;
                    meta.sha256 = Some(rec.sha256);
                }
            }
            segs.insert(id, meta);
        }
    }
    // A sidecar whose segment is gone (removed above, or an import interrupted before its
    // files were renamed into place) is removed.
    for id in origins.iter().filter(|id| !segs.contains_key(id)) {
        let p = id.origin_path(dir);
        match std::fs::remove_file(&p) {
            Ok(()) => changed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&p, "remove orphan origin", e)),
        }
    }
    if changed {
        sync_dir(dir)?;
    }
    log::info!("camera {camera}: {} segments after recovery", segs.len());
    Ok(segs)
}

fn rename_corrupt(dir: &Path, id: SegmentId, why: &str) -> Result<(), StoreError> {
    log::error!("{}/{id}: unrecoverable ({why}); renamed *.{CORRUPT_EXT}", dir.display());
    for p in [id.sample_path(dir), id.index_path(dir)] {
        if p.exists() {
            let to =
                p.with_extension(format!("{}.{CORRUPT_EXT}", p.extension().and_then(|e| e.to_str()).unwrap_or("")));
            std::fs::rename(&p, &to).map_err(|e| StoreError::io(&p, "rename to .corrupt", e))?;
        }
    }
    Ok(())
}

fn remove_pair(dir: &Path, id: SegmentId) -> Result<(), StoreError> {
    for p in [id.sample_path(dir), id.index_path(dir), id.origin_path(dir)] {
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StoreError::io(&p, "remove", e)),
            _ => {}
        }
    }
    Ok(())
}

/// Writes a fresh index atomically: temp file, fsync, rename, (directory synced by caller).
fn write_index(path: &Path, header: &IndexHeader, frames: &[FrameEntry]) -> Result<(), StoreError> {
    let mut buf = Vec::new();
    let enc = |e: postcard::Error| StoreError::io(path, "encode index", std::io::Error::other(e));
    encode_record(header, &mut buf).map_err(enc)?;
    if !frames.is_empty() {
        encode_record(frames, &mut buf).map_err(enc)?;
    }
    let tmp = path.with_extension(format!("{INDEX_EXT}.{TMP_EXT}"));
    let mut f = std::fs::File::create(&tmp).map_err(|e| StoreError::io(&tmp, "create", e))?;
    f.write_all(&buf).and_then(|_| f.sync_all()).map_err(|e| StoreError::io(&tmp, "write", e))?;
    std::fs::rename(&tmp, path).map_err(|e| StoreError::io(path, "rename temp index", e))
}

fn truncate(path: &Path, len: u64) -> Result<(), StoreError> {
    let f = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| StoreError::io(path, "open", e))?;
    f.set_len(len).and_then(|_| f.sync_all()).map_err(|e| StoreError::io(path, "truncate", e))
}

/// Recovers one segment; returns its catalog entry (None if removed or corrupt) and whether the
/// directory changed.
fn recover_segment(dir: &Path, id: SegmentId) -> Result<(Option<SegMeta>, bool), StoreError> {
    let (sample_path, index_path) = (id.sample_path(dir), id.index_path(dir));
    let sample_len = match std::fs::metadata(&sample_path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            log::warn!("{}: no sample file; index removed", index_path.display());
            remove_pair(dir, id)?;
            return Ok((None, true));
        }
        Err(e) => return Err(StoreError::io(&sample_path, "stat", e)),
    };
    let index_bytes = match std::fs::read(&index_path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(StoreError::io(&index_path, "read", e)),
    };
    let parsed = index_bytes.as_deref().map(parse_index);
    let (header, mut frames, mut dirty) = match parsed {
        Some(Ok(p)) => {
            if p.torn {
                log::warn!("{}: torn tail after {} bytes cut off", index_path.display(), p.valid_len);
                truncate(&index_path, p.valid_len as u64)?;
            }
            (p.header, p.frames, p.torn)
        }
        _ if sample_len == 0 => {
            remove_pair(dir, id)?;
            return Ok((None, true));
        }
        other => {
            if let Some(Err(e)) = other {
                log::warn!("{}: {e}; rebuilding from the sample file", index_path.display());
            }
            let rebuilt = scan::rebuild(&sample_path).map_err(|e| StoreError::io(&sample_path, "scan", e))?;
            let Some(rb) = rebuilt else {
                rename_corrupt(dir, id, "no index and no sane frames in the sample file")?;
                return Ok((None, true));
            };
            let header = IndexHeader {
                version: INDEX_VERSION,
                codec: rb.codec,
                params: rb.params,
                start_wall_us: id.start_wall_us,
                first_pts_90k: 0,
            };
            write_index(&index_path, &header, &rb.frames)?;
            log::warn!("{}: index rebuilt, {} frames", index_path.display(), rb.frames.len());
            (header, rb.frames, true)
        }
    };
    // Keep the frames whose bytes are entirely inside the sample file.
    let (keep, indexed) = crate::index::frames_within(&frames, sample_len);
    if keep < frames.len() {
        log::warn!(
            "{}: sample file shorter than indexed; {} frames dropped",
            sample_path.display(),
            frames.len() - keep
        );
        frames.truncate(keep);
        write_index(&index_path, &header, &frames)?;
        dirty = true;
    }
    if frames.is_empty() {
        remove_pair(dir, id)?;
        return Ok((None, true));
    }
    if sample_len > indexed {
        log::warn!("{}: {} unindexed tail bytes cut off", sample_path.display(), sample_len - indexed);
        truncate(&sample_path, indexed)?;
        dirty = true;
    }
    let codec: Codec = header.codec;
    Ok((
        Some(SegMeta {
            duration_90k: total_duration(&frames),
            frames: frames.len() as u32,
            bytes: indexed,
            codec,
            open: false,
            origin: Origin::Local,
            sha256: None,
            scanned: None,
        }),
        dirty,
    ))
}
