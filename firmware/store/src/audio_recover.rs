//! Crash recovery of a segment's audio part (`.audio` + `.audio-index`), run
//! by [`crate::Store::open`] after the segment's video is recovered. Audio
//! never costs video: whatever audio cannot be proven is moved or copied to
//! the quarantine and the segment is kept, served with the audio that was
//! proven or without audio. Audio is removed only with its video (a deletion
//! that was interrupted) or when it holds no byte (created, never written).

use crate::audio_index::{parse_audio_index, provable_audio};
use crate::error::StoreError;
use crate::index::encode_record;
use crate::recover::{quarantine_copy, quarantine_entry, quarantine_tail, regular_file, truncate};
use crate::segment::SegmentId;
use hotspare_base::fs::write_atomic;
use std::path::Path;

/// Removes the audio files of `id` (its video is gone). Returns whether any was there.
pub(crate) fn remove_audio(dir: &Path, id: SegmentId) -> Result<bool, StoreError> {
    let mut any = false;
    for p in [id.audio_path(dir), id.audio_index_path(dir)] {
        match std::fs::remove_file(&p) {
            Ok(()) => any = true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(StoreError::io(&p, "remove", e)),
        }
    }
    Ok(any)
}

/// Moves whatever audio files of `id` exist to the quarantine (the segment's video was found
/// unrecoverable and renamed `*.corrupt`).
pub(crate) fn quarantine_audio(dir: &Path, id: SegmentId, why: &str) -> Result<bool, StoreError> {
    let mut any = false;
    for p in [id.audio_path(dir), id.audio_index_path(dir)] {
        if p.symlink_metadata().is_ok() {
            quarantine_entry(dir, &p, why)?;
            any = true;
        }
    }
    Ok(any)
}

/// Recovers the audio part of a segment whose video was kept. Returns whether the directory
/// changed.
pub(crate) fn recover_audio(dir: &Path, id: SegmentId) -> Result<bool, StoreError> {
    let (data_path, index_path) = (id.audio_path(dir), id.audio_index_path(dir));
    let index_len = regular_file(dir, &index_path)?;
    let data_len = regular_file(dir, &data_path)?;
    let (data_len, index_bytes) = match (data_len, index_len) {
        (None, None) => return Ok(false),
        (Some(0), None) => return remove_audio(dir, id),
        (Some(_), None) => return quarantine_audio(dir, id, "audio data without its index"),
        (None, Some(_)) => return quarantine_audio(dir, id, "audio index without its data"),
        (Some(d), Some(_)) => (d, std::fs::read(&index_path).map_err(|e| StoreError::io(&index_path, "read", e))?),
    };
    let parsed = match parse_audio_index(&index_bytes) {
        Ok(p) => p,
        Err(_) if data_len == 0 => return remove_audio(dir, id),
        Err(e) => return quarantine_audio(dir, id, &format!("audio index unreadable ({e})")),
    };
    let (keep, bytes) = provable_audio(&parsed, data_len);
    if keep == 0 {
        if data_len == 0 {
            return remove_audio(dir, id);
        }
        return quarantine_audio(dir, id, "no provable audio frame");
    }
    let mut dirty = false;
    if parsed.torn || keep < parsed.frames.len() {
        log::warn!(
            "{}: audio index kept up to frame {keep} of {} (torn: {})",
            index_path.display(),
            parsed.frames.len(),
            parsed.torn
        );
        quarantine_copy(dir, &index_path, &index_bytes)?;
        let mut buf = Vec::new();
        let enc = |e: postcard::Error| StoreError::io(&index_path, "encode audio index", std::io::Error::other(e));
        encode_record(&parsed.header, &mut buf).map_err(enc)?;
        encode_record(&parsed.frames[..keep], &mut buf).map_err(enc)?;
        write_atomic(&index_path, &buf, 0o644)?;
        dirty = true;
    }
    if data_len > bytes {
        quarantine_tail(dir, &data_path, bytes, "audio bytes no audio index record covers")?;
        truncate(&data_path, bytes)?;
        dirty = true;
    }
    Ok(dirty)
}
