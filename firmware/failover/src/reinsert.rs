//! Re-insertion: every segment the spare recorded for an NVR is pushed to
//! the NVR's resumable import endpoint (`docs/ref/api.md`, "Import"),
//! checksummed (SHA-256 over index + sample bytes), streamed from its files
//! in chunks of at most [`ReinsertOptions::chunk`] bytes starting at the
//! offset the NVR already holds, and deleted here only after the NVR's
//! receipt confirms the same checksum. The NVR's import is idempotent per
//! segment uid, so a spare killed between the NVR's receipt and the local
//! delete re-sends and gets `created: false`: nothing lost, nothing
//! duplicated. A transfer interrupted on either side continues from the
//! NVR's offset. A segment the NVR refuses as invalid (400, 409, 413, 422) is
//! logged, reported in [`ReinsertProgress::set_aside`] and kept on the spare,
//! and the others go on; any other failure is retried with backoff. Failures
//! are [`ReinsertError`]s; the status shows their text.

use hotspare_base::{Backoff, LockExt};
use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotspare_api::spare::ReinsertProgress;
use hotspare_api::ImportSegment;
use hotspare_store::{SegmentId, SegmentInfo, Store, StoreError};
use sha2::{Digest, Sha256};

use crate::client::{ChunkReply, ClientError, NvrClient};
use crate::file_body::file_range_body;
use hotspare_base::clock::now_us;

/// Stable id of a segment across restarts of either side.
pub fn segment_uid(spare_serial: &str, nvr: &str, seg: &SegmentInfo) -> String {
    format!("{spare_serial}/{nvr}/{}/{:016x}-{}", seg.camera, seg.id.start_wall_us, seg.id.seq)
}

fn closed_segments(store: &Store) -> Vec<SegmentInfo> {
    let mut all = Vec::new();
    for cam in store.cameras() {
        if let Ok(segs) = store.segments(&cam) {
            all.extend(segs.into_iter().filter(|s| !s.open));
        }
    }
    all.sort_by_key(|s| s.start_wall_us);
    all
}

/// Options of a re-insertion round.
#[derive(Clone, Copy, Debug)]
pub struct ReinsertOptions {
    /// Largest request body (the NVR's `max_request` lowers it further).
    pub chunk: u64,
}

impl Default for ReinsertOptions {
    /// 16 MiB chunks, or `HOTSPARE_REINSERT_CHUNK` bytes.
    fn default() -> Self {
        let chunk = std::env::var("HOTSPARE_REINSERT_CHUNK")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(16 << 20);
        ReinsertOptions { chunk }
    }
}

/// Why one segment was not re-inserted (this attempt).
#[derive(Debug, thiserror::Error)]
pub enum ReinsertError {
    #[error("reading segment file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("failover store: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Client(#[from] ClientError),
    #[error("checksum task: {0}")]
    Task(#[from] tokio::task::JoinError),
    #[error("NVR holds {held} of {total} bytes after a chunk")]
    Offset { held: u64, total: u64 },
    #[error("NVR receipt for {uid} does not match (sha {got} vs {expected})")]
    Receipt { uid: String, got: String, expected: String },
}

impl ReinsertError {
    /// The NVR refuses this segment as invalid (400, 409, 413, 422): set it aside rather than
    /// retry. Every other error is worth retrying (network, auth, NVR busy or full…).
    pub fn is_rejection(&self) -> bool {
        matches!(self, ReinsertError::Client(ClientError::Status { status: 400 | 409 | 413 | 422, .. }))
    }
}

/// Lengths of the segment's files (index, sample, then audio index and audio when it has audio)
/// and the SHA-256 (hex) of all of them one after the other, read in bounded pieces.
fn measure(files: &[PathBuf]) -> Result<(Vec<u64>, String), ReinsertError> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut lens = vec![0u64; files.len()];
    for (p, len) in files.iter().zip(&mut lens) {
        let read = |source| ReinsertError::Read { path: p.clone(), source };
        let mut f = std::fs::File::open(p).map_err(read)?;
        loop {
            let n = f.read(&mut buf).map_err(read)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            *len += n as u64;
        }
    }
    Ok((lens, hex::encode(h.finalize())))
}

async fn push_one(
    store: &Arc<Store>,
    client: &NvrClient,
    spare_serial: &str,
    nvr: &str,
    seg: &SegmentInfo,
    opts: ReinsertOptions,
) -> Result<bool, ReinsertError> {
    let (index_path, sample_path) = store.segment_paths(seg)?;
    let mut files = vec![index_path, sample_path];
    if let Some((audio_index, audio)) = store.audio_paths(seg)? {
        files.extend([audio_index, audio]);
    }
    let f2 = files.clone();
    let (lens, sha256) = tokio::task::spawn_blocking(move || measure(&f2)).await??;
    let len = |i: usize| lens.get(i).copied().unwrap_or(0);
    let meta = ImportSegment {
        uid: segment_uid(spare_serial, nvr, seg),
        camera: seg.camera.clone(),
        start_us: seg.start_wall_us,
        end_us: seg.end_wall_us(),
        frames: seg.frames as u64,
        index_len: len(0),
        sample_len: len(1),
        sha256: sha256.clone(),
        audio_index_len: len(2),
        audio_len: len(3),
    };
    let total = meta.body_len();
    let held = client.import_offset(&meta.uid).await?;
    let (mut offset, max_request) = (held.offset, held.max_request.max(1));
    if offset >= total {
        offset = 0; // a stale upload of other bytes: the NVR starts it over
    }
    let receipt = loop {
        let n = opts.chunk.min(max_request).min(total - offset);
        let body = reqwest::Body::wrap(file_range_body(files.clone(), offset, n));
        match client.import_chunk(&meta, offset, n, body).await? {
            ChunkReply::Done(r) => break r,
            ChunkReply::More(o) if o.offset > offset && o.offset < total => offset = o.offset,
            ChunkReply::More(o) => return Err(ReinsertError::Offset { held: o.offset, total }),
        }
    };
    if receipt.sha256 != sha256 || receipt.uid != meta.uid {
        return Err(ReinsertError::Receipt { uid: meta.uid, got: receipt.sha256, expected: sha256 });
    }
    // Only now is the local copy deleted.
    store.delete_segment(seg)?;
    Ok(receipt.created)
}

/// Pushes every closed segment of `store` to the NVR, retrying with backoff
/// until none is left but those the NVR refused ([`ReinsertOptions::default`]).
pub async fn run(
    store: Arc<Store>,
    client: NvrClient,
    spare_serial: String,
    nvr: String,
    progress: Arc<Mutex<ReinsertProgress>>,
) {
    run_with(store, client, spare_serial, nvr, progress, ReinsertOptions::default()).await
}

/// [`run`] with explicit options.
pub async fn run_with(
    store: Arc<Store>,
    client: NvrClient,
    spare_serial: String,
    nvr: String,
    progress: Arc<Mutex<ReinsertProgress>>,
    opts: ReinsertOptions,
) {
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let set = |f: &dyn Fn(&mut ReinsertProgress)| f(&mut progress.lock_or_recover());
    set(&|p| p.started_us = now_us());
    let mut set_aside: BTreeSet<(String, SegmentId)> = BTreeSet::new();
    loop {
        let segs: Vec<SegmentInfo> =
            closed_segments(&store).into_iter().filter(|s| !set_aside.contains(&(s.camera.clone(), s.id))).collect();
        set(&|p| p.segments_left = segs.len() as u64);
        if segs.is_empty() {
            set(&|p| {
                p.finished = true;
                p.finished_us = Some(now_us());
            });
            log::info!("{nvr}: re-insertion finished ({} segments set aside)", set_aside.len());
            return;
        }
        let mut failed = false;
        for seg in &segs {
            match push_one(&store, &client, &spare_serial, &nvr, seg, opts).await {
                Ok(created) => {
                    set(&|p| {
                        p.segments_done += 1;
                        p.frames_done += seg.frames as u64;
                        p.bytes_done += seg.bytes;
                        p.segments_left = p.segments_left.saturating_sub(1);
                        p.last_error = None;
                        if !created {
                            p.already_there += 1;
                        }
                    });
                    backoff.succeeded();
                }
                Err(e) if e.is_rejection() => {
                    let uid = segment_uid(&spare_serial, &nvr, seg);
                    log::error!("{nvr}: the NVR refuses segment {uid}; kept on the spare, set aside: {e}");
                    set_aside.insert((seg.camera.clone(), seg.id));
                    set(&|p| {
                        p.segments_left = p.segments_left.saturating_sub(1);
                        p.set_aside.push(format!("{uid}: {e}"));
                    });
                }
                Err(e) => {
                    log::warn!("{nvr}: re-inserting {}: {e}; retrying in {:?}", seg.camera, backoff.next_delay());
                    set(&|p| p.last_error = Some(e.to_string()));
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            tokio::time::sleep(backoff.failed()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16) -> ReinsertError {
        ReinsertError::Client(ClientError::Status {
            url: "https://nvr/api/v1/import".into(),
            status: code,
            message: "no".into(),
        })
    }

    #[test]
    fn refusals_are_set_aside_everything_else_is_retried() {
        for code in [400, 409, 413, 422] {
            assert!(status(code).is_rejection(), "{code}");
        }
        for code in [401, 429, 500, 503, 507] {
            assert!(!status(code).is_rejection(), "{code}");
        }
        assert!(!ReinsertError::Offset { held: 1, total: 2 }.is_rejection());
    }

    #[test]
    fn a_missing_segment_file_names_the_file() {
        let d = tempfile::tempdir().unwrap();
        let files = [d.path().join("gone.index"), d.path().join("gone.sample")];
        let e = measure(&files).unwrap_err();
        assert!(matches!(&e, ReinsertError::Read { path, .. } if path.ends_with("gone.index")), "{e:?}");
        assert!(e.to_string().contains("gone.index"), "{e}");
        assert!(std::error::Error::source(&e).is_some(), "the io error is kept as the source");
    }
}
