//! Re-insertion: every segment the spare recorded for an NVR is pushed to
//! the NVR's import endpoint, checksummed (SHA-256 over index + sample
//! bytes), and deleted here only after the NVR's receipt confirms the same
//! checksum. The NVR's import is idempotent per segment uid, so a spare
//! killed between the NVR's receipt and the local delete re-sends and gets
//! `created: false`: nothing lost, nothing duplicated. Resumes after a
//! restart of either side by simply starting over with what is left.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotspare_api::ImportSegment;
use hotspare_store::{SegmentInfo, Store};
use sha2::{Digest, Sha256};

use crate::client::NvrClient;

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

async fn push_one(
    store: &Arc<Store>,
    client: &NvrClient,
    spare_serial: &str,
    nvr: &str,
    seg: &SegmentInfo,
) -> Result<bool, String> {
    let (index_path, sample_path) = store.segment_paths(seg).map_err(|e| e.to_string())?;
    let (index, sample) = tokio::task::spawn_blocking(move || {
        let i = std::fs::read(&index_path).map_err(|e| format!("{}: {e}", index_path.display()))?;
        let s = std::fs::read(&sample_path).map_err(|e| format!("{}: {e}", sample_path.display()))?;
        Ok::<_, String>((i, s))
    })
    .await
    .map_err(|e| e.to_string())??;
    let mut body = index;
    let index_len = body.len() as u64;
    body.extend_from_slice(&sample);
    let sha256 = hex::encode(Sha256::digest(&body));
    let meta = ImportSegment {
        uid: segment_uid(spare_serial, nvr, seg),
        camera: seg.camera.clone(),
        start_us: seg.start_wall_us,
        end_us: seg.end_wall_us(),
        frames: seg.frames as u64,
        index_len,
        sample_len: sample.len() as u64,
        sha256: sha256.clone(),
    };
    let receipt = client.import(&meta, body).await.map_err(|e| e.to_string())?;
    if receipt.sha256 != sha256 || receipt.uid != meta.uid {
        return Err(format!("NVR receipt for {} does not match (sha {} vs {sha256})", meta.uid, receipt.sha256));
    }
    // Only now is the local copy deleted.
    store.delete_segment(seg).map_err(|e| e.to_string())?;
    Ok(receipt.created)
}

/// Pushes every closed segment of `store` to the NVR, retrying with backoff
/// until none is left.
pub async fn run(
    store: Arc<Store>,
    client: NvrClient,
    spare_serial: String,
    nvr: String,
    progress: Arc<Mutex<ReinsertProgress>>,
) {
    let mut delay = Duration::from_millis(500);
    let set = |f: &dyn Fn(&mut ReinsertProgress)| f(&mut progress.lock().unwrap_or_else(|p| p.into_inner()));
    set(&|p| p.started_us = crate::engine::now_us());
    loop {
        let segs = closed_segments(&store);
        set(&|p| p.segments_left = segs.len() as u64);
        if segs.is_empty() {
            set(&|p| {
                p.finished = true;
                p.finished_us = Some(crate::engine::now_us());
            });
            log::info!("{nvr}: re-insertion finished");
            return;
        }
        let mut failed = false;
        for seg in &segs {
            match push_one(&store, &client, &spare_serial, &nvr, seg).await {
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
                Err(e) => {
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
