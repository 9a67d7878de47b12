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
//! and the others go on; any other failure is retried with backoff.

use std::collections::BTreeSet;
use std::io::Read;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotspare_api::ImportSegment;
use hotspare_store::{SegmentId, SegmentInfo, Store};
use sha2::{Digest, Sha256};

use crate::client::{ChunkReply, ClientError, NvrClient};
use crate::file_body::file_range_body;

/// Progress of one NVR's re-insertion, shown in the spare's status.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ReinsertProgress {
    pub segments_done: u64,
    pub frames_done: u64,
    pub bytes_done: u64,
    /// Segments re-sent that the NVR already had (idempotent retries).
    pub already_there: u64,
    pub segments_left: u64,
    pub last_error: Option<String>,
    /// Segments the NVR refused as invalid, `"<uid>: <reason>"`: kept on the spare, not retried
    /// in this round.
    #[serde(default)]
    pub set_aside: Vec<String>,
    pub finished: bool,
    /// When this round of re-insertion started and finished (µs since epoch).
    pub started_us: i64,
    pub finished_us: Option<i64>,
}

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

/// Why a segment was not re-inserted.
enum PushError {
    /// Worth retrying (network, auth, NVR busy or full…).
    Retry(String),
    /// The NVR refuses this segment; set it aside.
    Rejected(String),
}

impl From<ClientError> for PushError {
    fn from(e: ClientError) -> Self {
        match &e {
            ClientError::Status { status: 400 | 409 | 413 | 422, .. } => PushError::Rejected(e.to_string()),
            _ => PushError::Retry(e.to_string()),
        }
    }
}

/// Lengths of the index and sample files and the SHA-256 (hex) of both, read in bounded pieces.
fn measure(files: &[PathBuf; 2]) -> Result<(u64, u64, String), String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut lens = [0u64; 2];
    for (p, len) in files.iter().zip(&mut lens) {
        let mut f = std::fs::File::open(p).map_err(|e| format!("{}: {e}", p.display()))?;
        loop {
            let n = f.read(&mut buf).map_err(|e| format!("{}: {e}", p.display()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            *len += n as u64;
        }
    }
    Ok((lens[0], lens[1], hex::encode(h.finalize())))
}

async fn push_one(
    store: &Arc<Store>,
    client: &NvrClient,
    spare_serial: &str,
    nvr: &str,
    seg: &SegmentInfo,
    opts: ReinsertOptions,
) -> Result<bool, PushError> {
    let (index_path, sample_path) = store.segment_paths(seg).map_err(|e| PushError::Retry(e.to_string()))?;
    let files = [index_path, sample_path];
    let f2 = files.clone();
    let (index_len, sample_len, sha256) = tokio::task::spawn_blocking(move || measure(&f2))
        .await
        .map_err(|e| PushError::Retry(e.to_string()))?
        .map_err(PushError::Retry)?;
    let meta = ImportSegment {
        uid: segment_uid(spare_serial, nvr, seg),
        camera: seg.camera.clone(),
        start_us: seg.start_wall_us,
        end_us: seg.end_wall_us(),
        frames: seg.frames as u64,
        index_len,
        sample_len,
        sha256: sha256.clone(),
    };
    let total = index_len + sample_len;
    let held = client.import_offset(&meta.uid).await?;
    let (mut offset, max_request) = (held.offset, held.max_request.max(1));
    if offset >= total {
        offset = 0; // a stale upload of other bytes: the NVR starts it over
    }
    let receipt = loop {
        let n = opts.chunk.min(max_request).min(total - offset);
        let body = reqwest::Body::wrap(file_range_body(files.to_vec(), offset, n));
        match client.import_chunk(&meta, offset, n, body).await? {
            ChunkReply::Done(r) => break r,
            ChunkReply::More(o) if o.offset > offset && o.offset < total => offset = o.offset,
            ChunkReply::More(o) => {
                return Err(PushError::Retry(format!("NVR holds {} of {total} bytes after a chunk", o.offset)))
            }
        }
    };
    if receipt.sha256 != sha256 || receipt.uid != meta.uid {
        return Err(PushError::Retry(format!(
            "NVR receipt for {} does not match (sha {} vs {sha256})",
            meta.uid, receipt.sha256
        )));
    }
    // Only now is the local copy deleted.
    store.delete_segment(seg).map_err(|e| PushError::Retry(e.to_string()))?;
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
    let mut delay = Duration::from_millis(500);
    let set = |f: &dyn Fn(&mut ReinsertProgress)| f(&mut progress.lock().unwrap_or_else(|p| p.into_inner()));
    set(&|p| p.started_us = crate::engine::now_us());
    let mut set_aside: BTreeSet<(String, SegmentId)> = BTreeSet::new();
    loop {
        let segs: Vec<SegmentInfo> =
            closed_segments(&store).into_iter().filter(|s| !set_aside.contains(&(s.camera.clone(), s.id))).collect();
        set(&|p| p.segments_left = segs.len() as u64);
        if segs.is_empty() {
            set(&|p| {
                p.finished = true;
                p.finished_us = Some(crate::engine::now_us());
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
                    delay = Duration::from_millis(500);
                }
                Err(PushError::Rejected(e)) => {
                    let uid = segment_uid(&spare_serial, &nvr, seg);
                    log::error!("{nvr}: the NVR refuses segment {uid}; kept on the spare, set aside: {e}");
                    set_aside.insert((seg.camera.clone(), seg.id));
                    set(&|p| {
                        p.segments_left = p.segments_left.saturating_sub(1);
                        p.set_aside.push(format!("{uid}: {e}"));
                    });
                }
                Err(PushError::Retry(e)) => {
                    log::warn!("{nvr}: re-inserting {}: {e}; retrying in {delay:?}", seg.camera);
                    set(&|p| p.last_error = Some(e.clone()));
                    failed = true;
                    break;
                }
            }
        }
        if failed {
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }
}
