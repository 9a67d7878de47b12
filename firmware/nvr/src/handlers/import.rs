//! `POST /api/v1/import` (admin): re-insertion of one failover segment. The
//! `X-Hotspare-Segment` header describes it ([`hotspare_api::ImportSegment`]);
//! the body is the index file then the sample file. The body is streamed to
//! a temporary file in the store while hashed, then validated and stored
//! durably by [`hotspare_store::Store::import_segment`]. The resumable form
//! (`PUT` chunks at an offset, `GET` the offset) is in [`resumable`].

use super::{Failure, Shared};
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use futures_core::Stream;
use hotspare_api::{ImportReceipt, ImportSegment};
use hotspare_store::{ImportSource, StoreError};
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::pin::Pin;
use tokio::io::AsyncWriteExt;

pub const SEGMENT_HEADER: &str = "x-hotspare-segment";
/// Largest accepted body of one request, unless `HOTSPARE_IMPORT_MAX_REQUEST` (bytes) says
/// otherwise (tests lower it).
pub const MAX_BODY: u64 = 256 << 20;
/// Largest accepted index part.
pub const MAX_INDEX: u64 = 16 << 20;

fn unprocessable(m: impl Into<String>) -> Failure {
    Failure::new(StatusCode::UNPROCESSABLE_ENTITY, m)
}

/// Removes the temporary sample file unless it was handed to the store.
struct TempFile(Option<PathBuf>);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = std::fs::remove_file(p);
        }
    }
}

pub(super) mod resumable;

/// The per-request body limit: [`MAX_BODY`] or `HOTSPARE_IMPORT_MAX_REQUEST`.
pub(super) fn max_request() -> u64 {
    static MAX: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MAX.get_or_init(|| {
        std::env::var("HOTSPARE_IMPORT_MAX_REQUEST")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&n| n > 0)
            .unwrap_or(MAX_BODY)
    })
}

/// The `X-Hotspare-Segment` header, checked (camera id, SHA-256 syntax, index size).
fn segment_header(headers: &HeaderMap) -> Result<ImportSegment, Failure> {
    let raw = headers
        .get(SEGMENT_HEADER)
        .ok_or_else(|| Failure::bad_request("X-Hotspare-Segment header (JSON ImportSegment) required"))?;
    let text = raw.to_str().map_err(|_| Failure::bad_request("X-Hotspare-Segment: not ASCII"))?;
    let seg: ImportSegment =
        serde_json::from_str(text).map_err(|e| Failure::bad_request(format!("X-Hotspare-Segment: {e}")))?;
    if !hotspare_store::segment::valid_camera_id(&seg.camera) {
        return Err(Failure::bad_request(format!("camera {:?}: not a valid camera id", seg.camera)));
    }
    if seg.sha256.len() != 64 || !seg.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(Failure::bad_request("sha256: expected 64 lower-case hex digits"));
    }
    if seg.index_len > MAX_INDEX {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("index of {} bytes exceeds the {MAX_INDEX}-byte limit", seg.index_len),
        ));
    }
    Ok(seg)
}

fn describe(headers: &HeaderMap) -> Result<ImportSegment, Failure> {
    let seg = segment_header(headers)?;
    let max = max_request();
    let total = seg.index_len.saturating_add(seg.sample_len);
    if total > max {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("segment of {total} bytes exceeds the {max}-byte limit of one request: use PUT (resumable)"),
        ));
    }
    if let Some(cl) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()) {
        if cl != total {
            return Err(unprocessable(format!("Content-Length {cl} is not index_len + sample_len = {total}")));
        }
    }
    Ok(seg)
}

/// Streams the body: the index part into memory, the sample part into `tmp`; returns the index
/// bytes and the SHA-256 (hex) of everything.
async fn receive(body: Body, seg: &ImportSegment, tmp: &std::path::Path) -> Result<(Vec<u8>, String), Failure> {
    let mut stream = body.into_data_stream();
    let mut file =
        tokio::fs::File::create(tmp).await.map_err(|e| Failure::internal(format!("{}: create: {e}", tmp.display())))?;
    let mut hasher = Sha256::new();
    let mut index = Vec::with_capacity(seg.index_len as usize);
    let expected = seg.index_len + seg.sample_len;
    let mut got = 0u64;
    while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        let chunk = chunk.map_err(|e| Failure::bad_request(format!("reading the body: {e}")))?;
        got += chunk.len() as u64;
        if got > expected {
            return Err(unprocessable(format!("body longer than index_len + sample_len = {expected} bytes")));
        }
        hasher.update(&chunk);
        let need = (seg.index_len as usize).saturating_sub(index.len()).min(chunk.len());
        index.extend_from_slice(&chunk[..need]);
        if need < chunk.len() {
            file.write_all(&chunk[need..]).await.map_err(|e| write_failure(tmp, e))?;
        }
    }
    if got != expected {
        return Err(unprocessable(format!("body is {got} bytes, index_len + sample_len is {expected}")));
    }
    file.flush().await.map_err(|e| write_failure(tmp, e))?;
    Ok((index, hex::encode(hasher.finalize())))
}

/// 422 unless the body's SHA-256 `sha` is the one `seg` announced.
fn describe_sha(sha: &str, seg: &ImportSegment) -> Result<(), Failure> {
    if sha != seg.sha256 {
        return Err(unprocessable(format!(
            "SHA-256 mismatch: the body hashes to {sha}, X-Hotspare-Segment says {}",
            seg.sha256
        )));
    }
    Ok(())
}

fn write_failure(tmp: &std::path::Path, e: std::io::Error) -> Failure {
    if hotspare_base::fs::is_nospc(&e) {
        return Failure::new(StatusCode::INSUFFICIENT_STORAGE, format!("no space to receive the segment: {e}"));
    }
    Failure::internal(format!("{}: write: {e}", tmp.display()))
}

pub(super) async fn import(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<ImportReceipt>), Failure> {
    let seg = describe(&headers)?;
    let store = st.store.clone();
    let tmp = tokio::task::spawn_blocking(move || store.import_temp_path())
        .await
        .map_err(|e| Failure::internal(format!("import: {e}")))?
        .map_err(|e| Failure::internal(e.to_string()))?;
    let mut guard = TempFile(Some(tmp.clone()));
    let (index, sha) = receive(body, &seg, &tmp).await?;
    describe_sha(&sha, &seg)?;
    let store = st.store.clone();
    let s = seg.clone();
    guard.0 = None; // import_segment consumes or removes the file
    let r = tokio::task::spawn_blocking(move || {
        let src = ImportSource { uid: &s.uid, sha256: &s.sha256, index: &index, sample_tmp: &tmp };
        store.import_segment(&s.camera, src)
    })
    .await
    .map_err(|e| Failure::internal(format!("import task: {e}")))?;
    receipt(r, &seg, sha)
}

/// The reply to a finished import: 201 (stored now) / 200 (was there), or the store's refusal
/// as 409 (uid conflict), 422 (invalid segment), 400, 507 (no space), 500.
fn receipt(
    r: Result<(hotspare_store::SegmentInfo, bool), StoreError>,
    seg: &ImportSegment,
    sha: String,
) -> Result<(StatusCode, Json<ImportReceipt>), Failure> {
    match r {
        Ok((info, created)) => {
            if created && (info.start_wall_us != seg.start_us || u64::from(info.frames) != seg.frames) {
                log::warn!(
                    "import {}: header said start {} / {} frames, the index has {} / {}",
                    seg.uid,
                    seg.start_us,
                    seg.frames,
                    info.start_wall_us,
                    info.frames
                );
            }
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            Ok((status, Json(ImportReceipt { uid: seg.uid.clone(), created, sha256: sha })))
        }
        Err(e @ StoreError::ImportConflict { .. }) => Err(Failure::new(StatusCode::CONFLICT, e.to_string())),
        Err(e @ (StoreError::BadImport { .. } | StoreError::InvalidImport { .. })) => {
            log::warn!("{e}");
            Err(unprocessable(e.to_string()))
        }
        Err(e @ StoreError::BadCameraId(_)) => Err(Failure::bad_request(e.to_string())),
        Err(e) if e.is_no_space() => Err(Failure::new(StatusCode::INSUFFICIENT_STORAGE, e.to_string())),
        Err(e) => Err(Failure::internal(format!("import {}: {e}", seg.uid))),
    }
}
