//! Crash recovery run by [`crate::Store::open`] (the store's one writer):
//! makes every segment's sample and index files agree while keeping every
//! frame it can prove. A torn or bad index record means "index the rest
//! from the sample file" (scan from the end of the last good record), a
//! missing or unreadable index is rebuilt from the sample file, and whatever
//! cannot be proven (bytes of a torn frame, a damaged index, a pair with no
//! sane frame, a directory or other non-file where a segment file belongs)
//! is moved to the quarantine `ROOT/.quarantine/<camera>/`, never deleted.
//! One bad segment never stops the rest of the store from opening.

use crate::audio_recover;
use crate::error::StoreError;
use crate::index::{
    encode_record, frame_durations, parse_index, total_duration, FrameEntry, IndexHeader, DEFAULT_DURATION_90K,
    INDEX_VERSION,
};
use crate::origin::Origin;
use crate::origin::{read_origin, ORIGIN_EXT};
use crate::scan;
use crate::segment::{SegMeta, SegmentId, AUDIO_EXT, AUDIO_INDEX_EXT, CORRUPT_EXT, INDEX_EXT, SAMPLE_EXT, TMP_EXT};
use hotspare_base::fs::{sync_dir, write_atomic};
use hotspare_media::Codec;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Directory of the store root holding what recovery could not prove (never served).
pub const QUARANTINE_DIR: &str = ".quarantine";

/// `ROOT/.quarantine/<camera>` for the camera directory `dir`.
fn quarantine_dir(dir: &Path) -> PathBuf {
    let camera = dir.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    dir.parent().unwrap_or(dir).join(QUARANTINE_DIR).join(camera)
}

/// A path in the quarantine named `name` that does not exist yet.
fn quarantine_path(dir: &Path, name: &str) -> Result<PathBuf, StoreError> {
    let q = quarantine_dir(dir);
    std::fs::create_dir_all(&q).map_err(|e| StoreError::io(&q, "create quarantine", e))?;
    let mut p = q.join(name);
    let mut n = 1u32;
    while p.symlink_metadata().is_ok() {
        p = q.join(format!("{name}.{n}"));
        n += 1;
    }
    Ok(p)
}

/// Moves `path` (file, directory or anything else) into the quarantine.
pub(crate) fn quarantine_entry(dir: &Path, path: &Path, why: &str) -> Result<(), StoreError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let to = quarantine_path(dir, &name)?;
    std::fs::rename(path, &to).map_err(|e| StoreError::io(path, "move to quarantine", e))?;
    log::error!("{}: {why}; moved to {}", path.display(), to.display());
    Ok(())
}

/// Copies bytes `from..` of `path` into the quarantine (before they are cut off).
pub(crate) fn quarantine_tail(dir: &Path, path: &Path, from: u64, why: &str) -> Result<(), StoreError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let to = quarantine_path(dir, &format!("{name}.tail-{from}"))?;
    let copy = || -> std::io::Result<()> {
        let mut src = std::fs::File::open(path)?;
        src.seek(SeekFrom::Start(from))?;
        let mut dst = std::fs::OpenOptions::new().write(true).create_new(true).open(&to)?;
        std::io::copy(&mut src, &mut dst)?;
        dst.sync_all()
    };
    copy().map_err(|e| StoreError::io(&to, "copy to quarantine", e))?;
    log::warn!("{}: {why}; bytes from {from} kept in {}", path.display(), to.display());
    Ok(())
}

/// Recovers every segment in `dir` (camera `camera`).
pub(crate) fn recover_camera(dir: &Path, camera: &str) -> Result<BTreeMap<SegmentId, SegMeta>, StoreError> {
    let mut ids = BTreeSet::new();
    let mut origins = BTreeSet::new();
    let mut audio = BTreeSet::new();
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
            _ if ext == AUDIO_EXT || ext == AUDIO_INDEX_EXT => {
                if let Some(id) = SegmentId::parse_stem(stem) {
                    audio.insert(id);
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
        let (meta, dirty) = match recover_segment(dir, id) {
            Ok(r) => r,
            Err(e) => {
                // One bad segment never stops the rest of the store: it is left as it is and
                // not served.
                log::error!("{}/{id}: not recovered, not served: {e}", dir.display());
                (None, true)
            }
        };
        changed |= dirty;
        if audio.remove(&id) {
            // The audio is recovered after its video and never costs it.
            let corrupt = dir.join(format!("{id}.{SAMPLE_EXT}.{CORRUPT_EXT}"));
            let r = match (&meta, id.sample_path(dir).exists(), corrupt.exists()) {
                (Some(_), ..) => audio_recover::recover_audio(dir, id),
                // Not recovered (an error, logged above): left as it is, like its video.
                (None, true, _) => Ok(false),
                (None, false, true) => audio_recover::quarantine_audio(dir, id, "the segment's video is unrecoverable"),
                (None, false, false) => audio_recover::remove_audio(dir, id),
            };
            match r {
                Ok(d) => changed |= d,
                Err(e) => log::error!("{}/{id}: audio not recovered, left as it is: {e}", dir.display()),
            }
        }
        if let Some(mut meta) = meta {
            if origins.contains(&id) {
                match read_origin(dir, id) {
                    Ok(Some(rec)) => {
                        meta.origin = rec.origin;
                        meta.sha256 = Some(rec.sha256);
                    }
                    Ok(None) => {}
                    Err(e) => log::warn!("{e}; segment kept as local"),
                }
            }
            segs.insert(id, meta);
        }
    }
    // Audio whose segment is gone: a deletion (video first) that was interrupted.
    for id in audio {
        match audio_recover::remove_audio(dir, id) {
            Ok(d) => changed |= d,
            Err(e) => log::warn!("{}/{id}: remove orphan audio: {e}", dir.display()),
        }
    }
    // A sidecar whose segment is gone (removed above, or an import interrupted before its
    // files were renamed into place) is removed.
    for id in origins.iter().filter(|id| !segs.contains_key(id)) {
        let p = id.origin_path(dir);
        match std::fs::remove_file(&p) {
            Ok(()) => changed = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => log::warn!("{}: remove orphan origin: {e}", p.display()),
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
    for p in
        [id.sample_path(dir), id.index_path(dir), id.audio_path(dir), id.audio_index_path(dir), id.origin_path(dir)]
    {
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StoreError::io(&p, "remove", e)),
            _ => {}
        }
    }
    Ok(())
}

/// Writes a fresh index atomically ([`write_atomic`]: temp file, fsync, rename, directory fsync).
fn write_index(path: &Path, header: &IndexHeader, frames: &[FrameEntry]) -> Result<(), StoreError> {
    let mut buf = Vec::new();
    let enc = |e: postcard::Error| StoreError::io(path, "encode index", std::io::Error::other(e));
    encode_record(header, &mut buf).map_err(enc)?;
    if !frames.is_empty() {
        encode_record(frames, &mut buf).map_err(enc)?;
    }
    Ok(write_atomic(path, &buf, 0o644)?)
}

pub(crate) fn truncate(path: &Path, len: u64) -> Result<(), StoreError> {
    let f = std::fs::OpenOptions::new().write(true).open(path).map_err(|e| StoreError::io(path, "open", e))?;
    f.set_len(len).and_then(|_| f.sync_all()).map_err(|e| StoreError::io(path, "truncate", e))
}

/// A segment file's path when it is a regular file; anything else there (a directory, a
/// symlink, a device) is moved to the quarantine and the file counts as missing.
pub(crate) fn regular_file(dir: &Path, path: &Path) -> Result<Option<u64>, StoreError> {
    match path.symlink_metadata() {
        Ok(m) if m.file_type().is_file() => Ok(Some(m.len())),
        Ok(_) => {
            quarantine_entry(dir, path, "not a regular file")?;
            Ok(None)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(path, "stat", e)),
    }
}

/// Recovers one segment; returns its catalog entry (None if removed or quarantined) and
/// whether the directory changed.
fn recover_segment(dir: &Path, id: SegmentId) -> Result<(Option<SegMeta>, bool), StoreError> {
    let (sample_path, index_path) = (id.sample_path(dir), id.index_path(dir));
    let index_len = regular_file(dir, &index_path)?;
    let Some(sample_len) = regular_file(dir, &sample_path)? else {
        if index_len.is_some() {
            // Retention removes the sample file first: this is a deletion to finish.
            log::warn!("{}: no sample file; index removed", index_path.display());
            remove_pair(dir, id)?;
        }
        return Ok((None, true));
    };
    let index_bytes = match index_len {
        Some(_) => Some(std::fs::read(&index_path).map_err(|e| StoreError::io(&index_path, "read", e))?),
        None => None,
    };
    let parsed = index_bytes.as_deref().map(parse_index);
    let (header, mut frames, mut dirty) = match parsed {
        Some(Ok(p)) => {
            let torn = p.torn;
            if torn {
                // The original stays in the quarantine: records after a bad one may be intact.
                log::warn!("{}: bad or torn record after {} bytes", index_path.display(), p.valid_len);
                quarantine_copy(dir, &index_path, index_bytes.as_deref().unwrap_or_default())?;
            }
            (p.header, p.frames, torn)
        }
        _ if sample_len == 0 => {
            remove_pair(dir, id)?;
            return Ok((None, true));
        }
        other => {
            if let Some(Err(e)) = other {
                log::warn!("{}: {e}; rebuilding from the sample file", index_path.display());
                quarantine_copy(dir, &index_path, index_bytes.as_deref().unwrap_or_default())?;
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
            log::warn!("{}: index rebuilt from the sample file, {} frames", index_path.display(), rb.frames.len());
            (header, rb.frames, true)
        }
    };
    // Keep the frames whose bytes are entirely inside the sample file.
    let (keep, mut indexed) = crate::index::frames_within(&frames, sample_len);
    if keep < frames.len() {
        log::warn!(
            "{}: sample file shorter than indexed; {} frames dropped",
            sample_path.display(),
            frames.len() - keep
        );
        frames.truncate(keep);
        dirty = true;
    }
    if sample_len > indexed {
        // Frames written whose index record never made it (a crash between the two writes,
        // a bad record): index them from the sample file.
        let tail = scan::frames_from(&sample_path, header.codec, indexed)
            .map_err(|e| StoreError::io(&sample_path, "scan unindexed tail", e))?;
        if !tail.is_empty() {
            let step = frame_durations(&frames).last().map_or(i64::from(DEFAULT_DURATION_90K), i64::from);
            let next_pts = frames.last().map_or(0, |f| f.pts_rel_90k.saturating_add(step));
            log::warn!("{}: {} unindexed frames indexed from the sample file", sample_path.display(), tail.len());
            for (i, f) in tail.iter().enumerate() {
                frames.push(FrameEntry {
                    len: f.len,
                    pts_rel_90k: next_pts.saturating_add(step.saturating_mul(i as i64)),
                    keyframe: f.keyframe,
                });
                indexed += u64::from(f.len);
            }
            dirty = true;
        }
    }
    if frames.is_empty() && sample_len == 0 {
        // Created and never written (a crash right after the segment was opened).
        remove_pair(dir, id)?;
        return Ok((None, true));
    }
    if frames.is_empty() {
        rename_corrupt(dir, id, "no complete frame")?;
        return Ok((None, true));
    }
    if dirty {
        write_index(&index_path, &header, &frames)?;
    }
    if sample_len > indexed {
        // Bytes of a frame that was never completely written: kept in the quarantine, cut
        // from the segment so that its sample file is exactly its frames.
        quarantine_tail(dir, &sample_path, indexed, "incomplete frame after the last whole one")?;
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

/// Keeps a copy of a damaged index's bytes in the quarantine before it is rewritten.
pub(crate) fn quarantine_copy(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let to = quarantine_path(dir, &format!("{name}.{CORRUPT_EXT}"))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&to)
        .map_err(|e| StoreError::io(&to, "create", e))?;
    f.write_all(bytes).and_then(|_| f.sync_all()).map_err(|e| StoreError::io(&to, "write", e))?;
    log::warn!("{}: original kept as {}", path.display(), to.display());
    Ok(())
}
