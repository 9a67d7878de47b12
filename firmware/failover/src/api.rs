//! The spare's HTTP API: its status, the failover video it still holds for
//! each NVR (timeline spans and MP4 playback with Range, which the NVR
//! proxies to its clients before re-insertion), and acting as a failed
//! NVR: while an NVR is taken over, its admin credentials are accepted.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use hotspare_api::{ApiError, Location, Recordings};
use hotspare_store::Store;
use serde::Serialize;

use crate::status::SpareStatus;

/// Admin credentials of a taken-over NVR, accepted while it is taken over.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActingAs {
    pub nvr: String,
    pub serial: String,
    pub server_name: String,
    pub admin_user: String,
    pub admin_password_hash: String,
}

/// The failover store of each NVR, as the engine has it now (it reopens a
/// store when a takeover begins, to apply the NVR's recording settings).
pub type Stores = Arc<Mutex<BTreeMap<String, Arc<Store>>>>;

#[derive(Clone)]
struct ApiState {
    status: Arc<Mutex<SpareStatus>>,
    stores: Stores,
    acting: Arc<Mutex<Vec<ActingAs>>>,
}

fn fail(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, Json(ApiError { error: msg.into() })).into_response()
}

pub fn router(status: Arc<Mutex<SpareStatus>>, stores: Stores, acting: Arc<Mutex<Vec<ActingAs>>>) -> Router {
    Router::new()
        .route("/api/v1/status", get(get_status))
        .route("/api/v1/whoami", get(whoami))
        .route("/api/v1/upnp/description.xml", get(upnp_description))
        .route("/api/v1/held/{nvr}/recordings", get(held_recordings))
        .route("/api/v1/held/{nvr}/recordings/{file}", get(held_mp4))
        .with_state(ApiState { status, stores, acting })
}

async fn get_status(State(st): State<ApiState>) -> Json<SpareStatus> {
    Json(st.status.lock().unwrap_or_else(|p| p.into_inner()).clone())
}

/// NVR id from an id or a serial, and its store.
fn store_of(st: &ApiState, key: &str) -> Option<(String, Arc<Store>)> {
    let stores = st.stores.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(s) = stores.get(key) {
        return Some((key.to_string(), s.clone()));
    }
    let status = st.status.lock().unwrap_or_else(|p| p.into_inner());
    let id = status.nvrs.iter().find(|n| n.serial.as_deref() == Some(key))?.id.clone();
    stores.get(&id).map(|s| (id, s.clone()))
}

fn parse_time(s: Option<&String>) -> Result<Option<i64>, String> {
    let Some(s) = s else { return Ok(None) };
    if let Ok(us) = s.parse::<i64>() {
        return Ok(Some(us));
    }
    hotspare_nvr::times::parse_time(s).map(Some)
}

async fn held_recordings(
    State(st): State<ApiState>,
    Path(nvr): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some((_, store)) = store_of(&st, &nvr) else { return fail(StatusCode::NOT_FOUND, format!("no NVR {nvr:?}")) };
    let Some(camera) = q.get("camera") else { return fail(StatusCode::BAD_REQUEST, "camera parameter missing") };
    let (from, to) = match (parse_time(q.get("from")), parse_time(q.get("to"))) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let segs = match store.segments(camera) {
        Ok(s) => s,
        Err(e) => return fail(StatusCode::BAD_REQUEST, e.to_string()),
    };
    let mut spans = hotspare_nvr::api::recordings::spans(camera, &segs);
    spans.retain(|s| from.is_none_or(|f| s.end_us >= f) && to.is_none_or(|t| s.start_us <= t));
    for s in &mut spans {
        s.source = hotspare_api::Source::Failover;
        s.location = Location::Spare;
    }
    Json(Recordings { camera: camera.clone(), spans }).into_response()
}

async fn held_mp4(
    State(st): State<ApiState>,
    Path((nvr, file)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let Some((_, store)) = store_of(&st, &nvr) else { return fail(StatusCode::NOT_FOUND, format!("no NVR {nvr:?}")) };
    let Some(camera) = file.strip_suffix(".mp4") else {
        return fail(StatusCode::NOT_FOUND, format!("{file:?}: expected CAMERA.mp4"));
    };
    let (from, to) = match (parse_time(q.get("from")), parse_time(q.get("to"))) {
        (Ok(f), Ok(t)) => (f, t),
        (Err(e), _) | (_, Err(e)) => return fail(StatusCode::BAD_REQUEST, e),
    };
    let camera = camera.to_string();
    let plan = tokio::task::spawn_blocking(move || store.export_mp4(&camera, from, to)).await;
    match plan {
        Ok(Ok(plan)) => {
            let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
            hotspare_nvr::api::mp4::serve_plan(plan, range, file.trim_end_matches(".mp4"))
        }
        Ok(Err(e)) => fail(StatusCode::NOT_FOUND, e.to_string()),
        Err(e) => fail(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// UPnP device description of a taken-over NVR the spare announces (the
/// SSDP `LOCATION`): its server name as the friendly name.
async fn upnp_description(State(st): State<ApiState>, Query(q): Query<HashMap<String, String>>) -> Response {
    let acting = st.acting.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let Some(a) = acting.iter().find(|a| q.get("name").is_none_or(|n| *n == a.server_name)) else {
        return fail(StatusCode::NOT_FOUND, "no NVR is taken over");
    };
    let spare = st.status.lock().unwrap_or_else(|p| p.into_inner()).serial.clone();
    let uuid = crate::ssdp::device_uuid(&spare, &a.server_name);
    let body = format!(
        "<?xml version=\"1.0\"?>\n<root xmlns=\"urn:schemas-upnp-org:device-1-0\">\n\
         <specVersion><major>1</major><minor>0</minor></specVersion>\n<device>\n\
         <deviceType>urn:hotspare:device:nvr:1</deviceType>\n<friendlyName>{}</friendlyName>\n\
         <manufacturer>Hotspare</manufacturer>\n<modelName>Hotspare failover (standing in for {})</modelName>\n\
         <serialNumber>{}</serialNumber>\n<UDN>uuid:{uuid}</UDN>\n</device>\n</root>\n",
        xml_escape(&a.server_name),
        xml_escape(&a.nvr),
        xml_escape(&a.serial)
    );
    ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], body).into_response()
}

#[derive(Serialize)]
struct WhoAmI {
    user: String,
    acting_as: String,
    nvr: String,
}

/// Basic-auth check against the admin credentials of taken-over NVRs: the
/// spare accepts a failed NVR's admin while it stands in for it.
async fn whoami(State(st): State<ApiState>, headers: HeaderMap) -> Response {
    let deny = || {
        let mut r = fail(StatusCode::UNAUTHORIZED, "credentials of a taken-over NVR's admin required");
        r.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"hotspare\""));
        r
    };
    let Some((user, password)) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b.trim()).ok())
        .and_then(|d| String::from_utf8(d).ok())
        .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_string(), p.to_string())))
    else {
        return deny();
    };
    let acting = st.acting.lock().unwrap_or_else(|p| p.into_inner()).clone();
    for a in acting {
        if a.admin_user == user && hotspare_nvr::password::verify_password(&password, &a.admin_password_hash) {
            return Json(WhoAmI { user, acting_as: a.server_name, nvr: a.nvr }).into_response();
        }
    }
    deny()
}
