//! `POST /api/v1/import` (admin): re-insertion of one failover segment. The
//! `X-Hotspare-Segment` header describes it ([`hotspare_api::ImportSegment`]);
//! the body is the index file then the sample file, then (a segment with
//! audio) the audio index and the audio file. The body is streamed to
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
use hotspare_store::{ImportAudio, ImportSource, StoreError};
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
    for (what, len) in [("index", seg.index_len), ("audio index", seg.audio_index_len)] {
        if len > MAX_INDEX {
            return Err(Failure::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("{what} of {len} bytes exceeds the {MAX_INDEX}-byte limit"),
            ));
        }
    }
    if (seg.audio_index_len == 0) != (seg.audio_len == 0) {
        return Err(Failure::bad_request("audio_index_len and audio_len: both 0 (no audio) or both set"));
    }
    Ok(seg)
}

fn describe(headers: &HeaderMap) -> Result<ImportSegment, Failure> {
    let seg = segment_header(headers)?;
    let max = max_request();
    let total = seg.body_len();
    if total > max {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("segment of {total} bytes exceeds the {max}-byte limit of one request: use PUT (resumable)"),
        ));
    }
    if let Some(cl) = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok()) {
        if cl != total {
            return Err(unprocessable(format!("Content-Length {cl} is not the sum of the part lengths = {total}")));
        }
    }
    Ok(seg)
}

/// The part of the body byte `pos` falls in (0 index, 1 sample, 2 audio index, 3 audio) and
/// the bytes of that part left from `pos`; `None` past the end.
pub(super) fn part_at(lens: &[u64; 4], pos: u64) -> Option<(usize, u64)> {
    let mut start = 0u64;
    for (i, &len) in lens.iter().enumerate() {
        let end = start.saturating_add(len);
        if pos < end {
            return Some((i, end - pos));
        }
        start = end;
    }
    None
}

/// What a `POST` body is received into: the two index parts in memory, the sample and audio
/// parts in temporary files of the store.
struct Received {
    index: Vec<u8>,
    audio_index: Vec<u8>,
    sha: String,
}

/// Streams the body: index parts into memory, the sample part into `tmp`, the audio part into
/// `audio_tmp`; returns the index bytes and the SHA-256 (hex) of everything.
async fn receive(
    body: Body,
    seg: &ImportSegment,
    tmp: &std::path::Path,
    audio_tmp: &std::path::Path,
) -> Result<Received, Failure> {
    let mut stream = body.into_data_stream();
    let create = |p: &std::path::Path| {
        let p = p.to_owned();
        async move {
            tokio::fs::File::create(&p).await.map_err(|e| Failure::internal(format!("{}: create: {e}", p.display())))
        }
    };
    let mut file = create(tmp).await?;
    let mut audio_file = if seg.audio_len > 0 { Some(create(audio_tmp).await?) } else { None };
    let mut hasher = Sha256::new();
    let mut index = Vec::with_capacity(seg.index_len as usize);
    let mut audio_index = Vec::with_capacity(seg.audio_index_len as usize);
    let lens = seg.part_lens();
    let expected = seg.body_len();
    let mut got = 0u64;
    while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        let chunk = chunk.map_err(|e| Failure::bad_request(format!("reading the body: {e}")))?;
        if got + chunk.len() as u64 > expected {
            return Err(unprocessable(format!("body longer than the sum of the part lengths = {expected} bytes")));
        }
        hasher.update(&chunk);
        let mut rest = &chunk[..];
        while let Some((part, left)) = part_at(&lens, got).filter(|_| !rest.is_empty()) {
            let n = (left.min(rest.len() as u64)) as usize;
            let (now, later) = rest.split_at(n);
            match (part, audio_file.as_mut()) {
                (0, _) => index.extend_from_slice(now),
                (1, _) => file.write_all(now).await.map_err(|e| write_failure(tmp, e))?,
                (2, _) => audio_index.extend_from_slice(now),
                (_, Some(f)) => f.write_all(now).await.map_err(|e| write_failure(audio_tmp, e))?,
                (_, None) => return Err(Failure::internal("audio bytes without an audio file")),
            }
            got += n as u64;
            rest = later;
        }
    }
    if got != expected {
        return Err(unprocessable(format!("body is {got} bytes, the sum of the part lengths is {expected}")));
    }
    file.flush().await.map_err(|e| write_failure(tmp, e))?;
    if let Some(f) = audio_file.as_mut() {
        f.flush().await.map_err(|e| write_failure(audio_tmp, e))?;
    }
    Ok(Received { index, audio_index, sha: hex::encode(hasher.finalize()) })
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
    let store = st.store.clone();
    let audio_tmp = tokio::task::spawn_blocking(move || store.import_temp_path())
        .await
        .map_err(|e| Failure::internal(format!("import: {e}")))?
        .map_err(|e| Failure::internal(e.to_string()))?;
    let mut guard = TempFile(Some(tmp.clone()));
    let mut audio_guard = TempFile(Some(audio_tmp.clone()));
    let Received { index, audio_index, sha } = receive(body, &seg, &tmp, &audio_tmp).await?;
    describe_sha(&sha, &seg)?;
    let store = st.store.clone();
    let s = seg.clone();
    guard.0 = None; // import_segment consumes or removes the files
    let has_audio = seg.audio_len > 0;
    if has_audio {
        audio_guard.0 = None;
    }
    let r = tokio::task::spawn_blocking(move || {
        let audio = has_audio.then_some(ImportAudio { index: &audio_index, data_tmp: &audio_tmp });
        let src = ImportSource { uid: &s.uid, sha256: &s.sha256, index: &index, sample_tmp: &tmp, audio };
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
        Err(
            e @ (StoreError::BadImport { .. }
            | StoreError::InvalidImport { .. }
            | StoreError::InvalidImportAudio { .. }),
        ) => {
            log::warn!("{e}");
            Err(unprocessable(e.to_string()))
        }
        Err(e @ StoreError::BadCameraId(_)) => Err(Failure::bad_request(e.to_string())),
        Err(e) if e.is_no_space() => Err(Failure::new(StatusCode::INSUFFICIENT_STORAGE, e.to_string())),
        Err(e) => Err(Failure::internal(format!("import {}: {e}", seg.uid))),
    }
}
