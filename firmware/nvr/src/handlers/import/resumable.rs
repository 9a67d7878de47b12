//! Resumable import: `PUT /api/v1/import` carries one chunk of a segment's
//! body (index, sample, then audio index and audio bytes) at the offset given by `Content-Range`,
//! `GET /api/v1/import?uid=U` answers how many bytes the NVR holds. Chunks are
//! appended to partial files per uid under the store's `.import` directory
//! (one per part) in bounded pieces, fsynced
//! before the reply; when the last byte arrives the body is hashed, validated
//! and committed by [`hotspare_store::Store::import_segment`]. At most
//! [`MAX_PARTIALS`] uploads are in progress; one idle for [`MAX_IDLE`] is
//! dropped when a new one needs room, and all are dropped at startup.

use super::{describe_sha, max_request, part_at, receipt, segment_header, unprocessable, write_failure};
use crate::handlers::{Failure, Shared};
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_core::Stream;
use hotspare_api::{ImportOffset, ImportSegment};
use hotspare_base::LockExt;
use hotspare_store::{ImportAudio, ImportSource};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Uploads in progress at once.
pub const MAX_PARTIALS: usize = 8;
/// An upload not written for this long may be dropped to make room for a new one.
pub const MAX_IDLE: Duration = Duration::from_secs(3600);
/// Largest segment accepted by the resumable form.
pub const MAX_SEGMENT: u64 = 1 << 40;

/// Uids with a `PUT` running (one request per upload at a time).
static BUSY: Mutex<Option<HashSet<String>>> = Mutex::new(None);

struct Busy(String);

impl Busy {
    fn claim(key: &str) -> Result<Busy, Failure> {
        let mut set = BUSY.lock_or_recover();
        if !set.get_or_insert_with(HashSet::new).insert(key.to_owned()) {
            return Err(Failure::new(StatusCode::TOO_MANY_REQUESTS, "another request is uploading this segment"));
        }
        Ok(Busy(key.to_owned()))
    }
    fn is_busy(key: &str) -> bool {
        BUSY.lock_or_recover().as_ref().is_some_and(|s| s.contains(key))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        if let Some(s) = BUSY.lock_or_recover().as_mut() {
            s.remove(&self.0);
        }
    }
}

/// The files of one upload in the import directory, named by a hash of its uid.
struct Partial {
    key: String,
    desc: PathBuf,
    index: PathBuf,
    sample: PathBuf,
    audio_index: PathBuf,
    audio: PathBuf,
}

impl Partial {
    fn new(dir: &Path, uid: &str) -> Partial {
        Partial::at(dir, hex::encode(&Sha256::digest(uid.as_bytes())[..16]))
    }

    fn at(dir: &Path, key: String) -> Partial {
        let at = |ext: &str| dir.join(format!("up-{key}.{ext}"));
        Partial {
            desc: at("desc"),
            index: at("index"),
            sample: at("sample"),
            audio_index: at("audio-index"),
            audio: at("audio"),
            key,
        }
    }

    /// The part files in body order: index, sample, audio index, audio.
    fn parts(&self) -> [&PathBuf; 4] {
        [&self.index, &self.sample, &self.audio_index, &self.audio]
    }

    /// Bytes held, or `None` when there is no upload (or its descriptor differs from `seg`).
    fn held(&self, seg: Option<&ImportSegment>) -> Option<u64> {
        let desc: ImportSegment = serde_json::from_slice(&std::fs::read(&self.desc).ok()?).ok()?;
        if seg.is_some_and(|s| *s != desc) {
            return None;
        }
        let len = |p: &Path| std::fs::metadata(p).map(|m| m.len()).ok();
        // An upload started before audio parts existed has no audio files: 0 bytes of them.
        let audio = len(&self.audio_index).unwrap_or(0) + len(&self.audio).unwrap_or(0);
        Some(len(&self.index)? + len(&self.sample)? + audio)
    }

    fn remove(&self) {
        for p in [&self.desc, &self.index, &self.sample, &self.audio_index, &self.audio] {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Starts an upload of `seg` (room permitting), dropping whatever was there for its uid.
    fn start(&self, dir: &Path, seg: &ImportSegment) -> Result<(), Failure> {
        self.remove();
        make_room(dir)?;
        let json = serde_json::to_vec(seg).map_err(|e| Failure::internal(e.to_string()))?;
        let empty = &[][..];
        for (p, data) in [
            (&self.index, empty),
            (&self.sample, empty),
            (&self.audio_index, empty),
            (&self.audio, empty),
            (&self.desc, &json[..]),
        ] {
            std::fs::write(p, data).map_err(|e| write_failure(p, e))?;
        }
        Ok(())
    }
}

/// Drops uploads idle for [`MAX_IDLE`]; fails with 503 if [`MAX_PARTIALS`] remain.
fn make_room(dir: &Path) -> Result<(), Failure> {
    let mut live = 0;
    for e in std::fs::read_dir(dir).map_err(|e| Failure::internal(format!("{}: {e}", dir.display())))?.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(key) = name.strip_prefix("up-").and_then(|n| n.strip_suffix(".desc")) else { continue };
        let p = Partial::at(dir, key.to_owned());
        let idle = [&p.desc, &p.index, &p.sample, &p.audio_index, &p.audio]
            .iter()
            .filter_map(|f| std::fs::metadata(f).ok()?.modified().ok()?.elapsed().ok())
            .min()
            .unwrap_or(MAX_IDLE);
        if idle >= MAX_IDLE && !Busy::is_busy(&p.key) {
            log::warn!("import: dropping upload {} idle for {idle:?}", p.key);
            p.remove();
        } else {
            live += 1;
        }
    }
    if live >= MAX_PARTIALS {
        return Err(Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{live} imports already in progress (limit {MAX_PARTIALS}); retry later"),
        ));
    }
    Ok(())
}

/// `Content-Range: bytes FIRST-LAST/TOTAL` → (first, length).
fn content_range(headers: &HeaderMap, total: u64) -> Result<(u64, u64), Failure> {
    let bad = |m: String| Failure::bad_request(format!("Content-Range: {m}"));
    let v = headers
        .get(header::CONTENT_RANGE)
        .ok_or_else(|| bad("required (bytes FIRST-LAST/TOTAL)".into()))?
        .to_str()
        .map_err(|_| bad("not ASCII".into()))?;
    let parse = || {
        let (range, t) = v.strip_prefix("bytes ")?.split_once('/')?;
        let (a, b) = range.split_once('-')?;
        Some((a.trim().parse::<u64>().ok()?, b.trim().parse::<u64>().ok()?, t.trim().parse::<u64>().ok()?))
    };
    let (first, last, t) = parse().ok_or_else(|| bad(format!("{v:?} is not bytes FIRST-LAST/TOTAL")))?;
    if t != total {
        return Err(unprocessable(format!("Content-Range total {t} is not the sum of the part lengths = {total}")));
    }
    if first > last || last >= total {
        return Err(bad(format!("{v:?} is not a range inside 0..{total}")));
    }
    Ok((first, last - first + 1))
}

#[derive(serde::Deserialize)]
pub(in crate::handlers) struct UidQuery {
    uid: String,
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Failure> + Send + 'static) -> Result<T, Failure> {
    tokio::task::spawn_blocking(f).await.map_err(|e| Failure::internal(format!("import task: {e}")))?
}

/// `GET /api/v1/import?uid=U` (admin): bytes held of that upload (0 when none).
pub(in crate::handlers) async fn offset(
    State(st): State<Shared>,
    Query(q): Query<UidQuery>,
) -> Result<Json<ImportOffset>, Failure> {
    let store = st.store.clone();
    let uid = q.uid.clone();
    let held = blocking(move || {
        let dir = store.import_dir().map_err(|e| Failure::internal(e.to_string()))?;
        Ok(Partial::new(&dir, &uid).held(None).unwrap_or(0))
    })
    .await?;
    Ok(Json(ImportOffset { uid: q.uid, offset: held, max_request: max_request() }))
}

/// `PUT /api/v1/import` (admin): one chunk. 202 + [`ImportOffset`] while incomplete; the
/// import's receipt or refusal (as `POST`) once the last byte is in.
pub(in crate::handlers) async fn put(
    State(st): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, Failure> {
    let seg = segment_header(&headers)?;
    let total = seg.body_len();
    if total > MAX_SEGMENT {
        return Err(Failure::new(StatusCode::PAYLOAD_TOO_LARGE, format!("segment of {total} bytes is too large")));
    }
    let (first, len) = content_range(&headers, total)?;
    let max = max_request();
    if len > max {
        return Err(Failure::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("chunk of {len} bytes exceeds the {max}-byte limit of one request"),
        ));
    }
    let store = st.store.clone();
    let dir = blocking(move || store.import_dir().map_err(|e| Failure::internal(e.to_string()))).await?;
    let part = Partial::new(&dir, &seg.uid);
    let _busy = Busy::claim(&part.key)?;
    let (part, held) = {
        let seg = seg.clone();
        blocking(move || {
            let held = match part.held(Some(&seg)) {
                Some(h) => h,
                None => {
                    part.start(&dir, &seg)?;
                    0
                }
            };
            Ok((part, held))
        })
        .await?
    };
    if first != held {
        return Err(Failure::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            format!("the NVR holds {held} bytes of {}; this chunk starts at {first}", seg.uid),
        ));
    }
    append(&part, body, &seg, held, len).await?;
    let now = held + len;
    if now < total {
        let reply = ImportOffset { uid: seg.uid, offset: now, max_request: max };
        return Ok((StatusCode::ACCEPTED, Json(reply)).into_response());
    }
    finish(&st, part, seg).await.map(IntoResponse::into_response)
}

/// Appends the `len` bytes of `body` at `held` (index part first, then sample, audio index and
/// audio parts), then fsyncs them. Bytes that arrived before an interrupted body are kept (and
/// synced).
async fn append(part: &Partial, body: Body, seg: &ImportSegment, held: u64, len: u64) -> Result<(), Failure> {
    let open = |p: PathBuf| async move {
        tokio::fs::OpenOptions::new().append(true).create(true).open(&p).await.map_err(|e| write_failure(&p, e))
    };
    let paths = part.parts();
    let mut files = Vec::with_capacity(paths.len());
    for p in paths {
        files.push(open(p.clone()).await?);
    }
    let lens = seg.part_lens();
    let mut stream = body.into_data_stream();
    let (mut pos, end) = (held, held + len);
    let mut outcome = Ok(());
    'body: while let Some(chunk) = std::future::poll_fn(|cx| Pin::new(&mut stream).poll_next(cx)).await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => {
                outcome = Err(Failure::bad_request(format!("reading the body after {} bytes: {e}", pos - held)));
                break;
            }
        };
        if pos + chunk.len() as u64 > end {
            outcome = Err(unprocessable(format!("body longer than the {len} bytes of its Content-Range")));
            break;
        }
        let mut rest = &chunk[..];
        while let Some((i, left)) = part_at(&lens, pos).filter(|_| !rest.is_empty()) {
            let n = left.min(rest.len() as u64) as usize;
            if let Err(e) = files[i].write_all(&rest[..n]).await {
                outcome = Err(write_failure(paths[i], e));
                break 'body;
            }
            pos += n as u64;
            rest = &rest[n..];
        }
    }
    for (f, p) in files.iter_mut().zip(paths) {
        if let Err(e) = f.flush().await {
            return Err(write_failure(p, e));
        }
        if let Err(e) = f.sync_data().await {
            return Err(write_failure(p, e));
        }
    }
    outcome?;
    if pos != end {
        return Err(Failure::bad_request(format!(
            "body of {} bytes, Content-Range says {len}; the NVR now holds {pos} bytes",
            pos - held
        )));
    }
    Ok(())
}

/// SHA-256 (hex) of the files one after the other, read in bounded pieces.
fn hash_files(files: &[&Path]) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    for p in files {
        let mut f = std::fs::File::open(p)?;
        loop {
            let n = f.read(&mut buf)?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
    }
    Ok(hex::encode(h.finalize()))
}

/// The whole body is in: checks its SHA-256, validates and commits it. The partial upload is
/// gone afterwards whatever the outcome.
async fn finish(
    st: &Shared,
    part: Partial,
    seg: ImportSegment,
) -> Result<(StatusCode, Json<hotspare_api::ImportReceipt>), Failure> {
    let store = st.store.clone();
    let s = seg.clone();
    let (r, sha) = blocking(move || {
        let outcome = (|| {
            let sha = hash_files(&part.parts().map(PathBuf::as_path))
                .map_err(|e| Failure::internal(format!("import {}: hashing: {e}", s.uid)))?;
            describe_sha(&sha, &s)?;
            let read = |p: &Path| std::fs::read(p).map_err(|e| Failure::internal(format!("import {}: {e}", s.uid)));
            let index = read(&part.index)?;
            let audio_index = if s.audio_len > 0 { read(&part.audio_index)? } else { Vec::new() };
            let audio = (s.audio_len > 0).then_some(ImportAudio { index: &audio_index, data_tmp: &part.audio });
            let src = ImportSource { uid: &s.uid, sha256: &s.sha256, index: &index, sample_tmp: &part.sample, audio };
            Ok((store.import_segment(&s.camera, src), sha))
        })();
        part.remove();
        outcome
    })
    .await?;
    receipt(r, &seg, sha)
}
