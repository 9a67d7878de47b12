//! `GET /api/v1/recordings?camera=ID&from=T&to=T`: contiguous spans of a
//! camera's video ([`hotspare_video_http::spans`]), from the store (local and
//! re-inserted failover video) and from the spares that still hold failover
//! video of this NVR.

use super::{Failure, Shared};
use axum::extract::{Query, State};
use axum::Json;
use hotspare_api::{Location, RecordingSpan, Recordings, Source};
use hotspare_store::SegmentInfo;
use hotspare_video_http::spans::{reinserted, spans};
use hotspare_video_http::times::parse_time;
use std::collections::HashMap;
use std::time::Duration;
/// How long a spare may take to answer.
const SPARE_TIMEOUT: Duration = Duration::from_secs(3);

/// Parsed `camera`, `from`, `to`.
pub(super) struct RangeQuery {
    pub camera: String,
    pub from: Option<i64>,
    pub to: Option<i64>,
}

pub(super) fn time_param(q: &HashMap<String, String>, key: &str) -> Result<Option<i64>, Failure> {
    q.get(key).map(|v| parse_time(v).map_err(|e| Failure::bad_request(format!("{key}: {e}")))).transpose()
}

pub(super) fn range_query(q: &HashMap<String, String>, camera: Option<String>) -> Result<RangeQuery, Failure> {
    let camera = match camera.or_else(|| q.get("camera").cloned()) {
        Some(c) => c,
        None => return Err(Failure::bad_request("camera: required query parameter")),
    };
    let (from, to) = (time_param(q, "from")?, time_param(q, "to")?);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            return Err(Failure::bad_request("from is after to"));
        }
    }
    Ok(RangeQuery { camera, from, to })
}

/// Known camera: configured, or with recordings in the store.
pub(super) fn check_camera(st: &Shared, camera: &str) -> Result<(), Failure> {
    let known = st.cfg.cameras.iter().any(|c| c.id == camera) || st.store.cameras().iter().any(|c| c == camera);
    if known && hotspare_store::segment::valid_camera_id(camera) {
        Ok(())
    } else {
        Err(Failure::not_found(format!("unknown camera {camera:?}")))
    }
}

pub(super) fn held_url(spare: &str, serial: &str, rest: &str) -> String {
    format!("{}{}/held/{serial}/{rest}", spare.trim_end_matches('/'), hotspare_api::PREFIX)
}

/// Spans the spares hold for this NVR; unreachable or failing spares are logged and skipped.
async fn spare_spans(st: &Shared, q: &RangeQuery) -> Vec<RecordingSpan> {
    let mut out = Vec::new();
    for spare in st.cfg.spares() {
        let url = held_url(spare, &st.cfg.server.serial, "recordings");
        let mut params = vec![("camera", q.camera.clone())];
        params.extend(q.from.map(|f| ("from", f.to_string())));
        params.extend(q.to.map(|t| ("to", t.to_string())));
        let r = st.spare_get(&url).query(&params).timeout(SPARE_TIMEOUT).send().await;
        let resp = match r {
            Ok(r) if r.status().is_success() => r,
            Ok(r) if r.status() == reqwest::StatusCode::NOT_FOUND => continue,
            Ok(r) => {
                log::warn!("spare {spare}: recordings: HTTP {}", r.status());
                continue;
            }
            Err(e) => {
                match hotspare_tls::PinError::find(&e) {
                    Some(pin) => log::error!("spare {spare}: {pin}"),
                    None => log::warn!("spare {spare} unreachable: {e}"),
                }
                continue;
            }
        };
        match resp.json::<Recordings>().await {
            Ok(rec) => out.extend(rec.spans.into_iter().map(|mut s| {
                s.camera = q.camera.clone();
                s.source = Source::Failover;
                s.location = Location::Spare;
                s
            })),
            Err(e) => log::warn!("spare {spare}: bad recordings reply: {e}"),
        }
    }
    out
}

pub(super) async fn recordings(
    State(st): State<Shared>,
    q: Result<Query<HashMap<String, String>>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Recordings>, Failure> {
    let Query(q) = q.map_err(|e| Failure::bad_request(e.body_text()))?;
    let q = range_query(&q, None)?;
    st.refresh_store().await;
    check_camera(&st, &q.camera)?;
    let segs = st.store.segments(&q.camera).map_err(|e| Failure::not_found(e.to_string()))?;
    let (from, to) = (q.from.unwrap_or(i64::MIN), q.to.unwrap_or(i64::MAX));
    let segs: Vec<SegmentInfo> =
        segs.into_iter().filter(|s| s.start_wall_us <= to && s.end_wall_us() >= from).collect();
    let mut spans = spans(&q.camera, &segs);
    let held = spare_spans(&st, &q).await;
    let extra: Vec<RecordingSpan> = held.into_iter().filter(|s| !reinserted(&spans, s)).collect();
    spans.extend(extra);
    spans.sort_by_key(|s| (s.start_us, s.end_us));
    Ok(Json(Recordings { camera: q.camera, spans }))
}
