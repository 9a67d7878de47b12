//! `GET /api/v1/recordings/{ID}.mp4?from=T&to=T`: an MP4 of the range from
//! the store, served by [`hotspare_video_http::mp4`] (Range, streamed body,
//! span and download caps); when the store has nothing in the range the
//! request is proxied to a spare that holds the failover video.

use super::recordings::{check_camera, held_url as spare_url, range_query};
use super::Shared;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use hotspare_http::Failure;
use hotspare_store::StoreError;
use hotspare_video_http::body::{Chunk, ChunkStream};
use hotspare_video_http::mp4::{check_span, download_slot, serve_plan};
use std::collections::HashMap;
use tokio::sync::{mpsc, OwnedSemaphorePermit};

/// Forwards the request to the spares; the first that has the video answers.
async fn proxy_to_spare(
    st: &Shared,
    camera: &str,
    query: &HashMap<String, String>,
    range: Option<&str>,
    slot: OwnedSemaphorePermit,
) -> Option<Response> {
    for spare in st.cfg.spares() {
        let url = spare_url(spare, &st.cfg.server.serial, &format!("recordings/{camera}.mp4"));
        let mut req = st.spare_get(&url).query(&query.iter().collect::<Vec<_>>());
        if let Some(r) = range {
            req = req.header(reqwest::header::RANGE, r);
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                match hotspare_tls::PinError::find(&e) {
                    Some(pin) => log::error!("spare {spare}: {pin}"),
                    None => log::warn!("spare {spare} unreachable: {e}"),
                }
                continue;
            }
        };
        let status = resp.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            continue;
        }
        if !(status.is_success() || status == reqwest::StatusCode::RANGE_NOT_SATISFIABLE) {
            log::warn!("spare {spare}: mp4 of {camera}: HTTP {status}");
            continue;
        }
        let mut out = Response::builder().status(status.as_u16());
        for name in [header::CONTENT_TYPE, header::CONTENT_LENGTH, header::CONTENT_RANGE, header::ACCEPT_RANGES] {
            if let Some(v) = resp.headers().get(name.as_str()).and_then(|v| HeaderValue::from_bytes(v.as_bytes()).ok())
            {
                out = out.header(name, v);
            }
        }
        let (tx, rx) = mpsc::channel::<Chunk>(4);
        let spare = spare.clone();
        tokio::spawn(async move {
            let _slot = slot;
            loop {
                match resp.chunk().await {
                    Ok(Some(c)) => {
                        if tx.send(Ok(Bytes::from(c.to_vec()))).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        log::warn!("spare {spare}: proxied mp4 interrupted: {e}");
                        let _ = tx.send(Err(std::io::Error::other(e.to_string()))).await;
                        break;
                    }
                }
            }
        });
        return out.body(Body::from_stream(ChunkStream(rx))).ok();
    }
    None
}

pub(super) async fn mp4(
    State(st): State<Shared>,
    Path(file): Path<String>,
    headers: HeaderMap,
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, Failure> {
    let Query(q) = q.map_err(|e| Failure::bad_request(e.body_text()))?;
    let Some(camera) = file.strip_suffix(".mp4") else {
        return Err(Failure::not_found(format!("{file}: expected CAMERA.mp4")));
    };
    let rq = range_query(&q, Some(camera.to_owned()))?;
    let slot = download_slot(&st.downloads)?;
    st.refresh_store().await;
    check_camera(&st, camera)?;
    check_span(&st.store, camera, rq.from, rq.to).map_err(Failure::bad_request)?;
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let store = st.store.clone();
    let cam = camera.to_owned();
    let plan = tokio::task::spawn_blocking(move || store.export_mp4(&cam, rq.from, rq.to))
        .await
        .map_err(|e| Failure::internal(format!("export task: {e}")))?;
    match plan {
        Ok(plan) => Ok(serve_plan(plan, range.as_deref(), camera, slot)),
        Err(StoreError::EmptyExport { .. }) => {
            let mut fwd = HashMap::new();
            fwd.extend(rq.from.map(|f| ("from".to_owned(), f.to_string())));
            fwd.extend(rq.to.map(|t| ("to".to_owned(), t.to_string())));
            match proxy_to_spare(&st, camera, &fwd, range.as_deref(), slot).await {
                Some(r) => Ok(r),
                None => Err(Failure::not_found(format!("no recordings of camera {camera} in the requested range"))),
            }
        }
        Err(StoreError::BadCameraId(c)) => Err(Failure::not_found(format!("unknown camera {c:?}"))),
        Err(e) => Err(Failure::internal(format!("mp4 of {camera}: {e}"))),
    }
}
