//! The spare's HTTP API: its status, the failover video it still holds for
//! each NVR (timeline spans and MP4 playback with Range, which the NVR
//! proxies to its clients before re-insertion), and acting as a failed
//! NVR: while an NVR is taken over, its admin credentials are accepted.
//! Each route declares the role it needs ([`routes`]); accounts are the
//! admins of the protected NVRs and `[[account]]` tables
//! ([`crate::config::Config::api_accounts`]). The box's settings, for admins,
//! are in [`crate::settings_api`].

use hotspare_base::LockExt;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axum::extract::{FromRef, Path, Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use hotspare_api::spare::SpareStatus;
use hotspare_api::{ApiError, Location, Recordings};
use hotspare_http::{Access, Account, Authenticator, Role, Route};
use hotspare_store::Store;
use serde::Serialize;

use crate::settings_api::{self, SettingsApi};

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
    auth: Arc<Authenticator>,
    /// Slots of the concurrent MP4 download cap (as on the NVR).
    downloads: Arc<tokio::sync::Semaphore>,
    /// The supervisor's `health.json` (`GET /api/v1/health`).
    health_file: Arc<std::path::PathBuf>,
    /// The box's settings (`hotspare failover --settings DIR`); `None`: their routes answer 404.
    settings: Option<SettingsApi>,
}

impl FromRef<ApiState> for Option<SettingsApi> {
    fn from_ref(st: &ApiState) -> Self {
        st.settings.clone()
    }
}

fn fail(code: StatusCode, msg: impl Into<String>) -> Response {
    (code, Json(ApiError { error: msg.into() })).into_response()
}

/// Every route with the access it needs (documented in `docs/ref/api.md`); the router is built from
/// this table only.
fn routes() -> Vec<Route<ApiState>> {
    let viewer = Access::Needs(Role::Viewer);
    let admin = Access::Needs(Role::Admin);
    let settings = hotspare_api::api_path!("/settings");
    vec![
        Route::new("GET", hotspare_api::api_path!("/status"), viewer, get(get_status)),
        Route::new("GET", hotspare_api::api_path!("/health"), viewer, get(get_health)),
        Route::new("GET", hotspare_api::api_path!("/whoami"), Access::Handler, get(whoami)),
        // UPnP control points fetch the description without credentials; it holds what SSDP
        // already announces (name, serial of the taken-over NVR).
        Route::new("GET", hotspare_api::api_path!("/upnp/description.xml"), Access::Public, get(upnp_description)),
        Route::new("GET", hotspare_api::api_path!("/held/{nvr}/recordings"), viewer, get(held_recordings)),
        Route::new("GET", hotspare_api::api_path!("/held/{nvr}/recordings/{file}"), viewer, get(held_mp4)),
        Route::new("GET", settings, admin, get(settings_api::get_settings)),
        Route::new("PUT", settings, admin, put(settings_api::put_settings)),
        Route::new("POST", hotspare_api::api_path!("/settings/confirm"), admin, post(settings_api::confirm)),
        Route::new("GET", hotspare_api::api_path!("/settings/history"), admin, get(settings_api::history)),
        Route::new("POST", hotspare_api::api_path!("/settings/restore/{seq}"), admin, post(settings_api::restore)),
    ]
}

/// `(method, path, access)` of every route.
pub fn route_table() -> Vec<(&'static str, String, Access)> {
    hotspare_http::routes::table(&routes())
}

pub fn router(
    status: Arc<Mutex<SpareStatus>>,
    stores: Stores,
    acting: Arc<Mutex<Vec<ActingAs>>>,
    auth: Arc<Authenticator>,
    health_file: std::path::PathBuf,
    settings: Option<SettingsApi>,
) -> Router {
    let downloads = Arc::new(tokio::sync::Semaphore::new(hotspare_video_http::mp4::MAX_DOWNLOADS));
    let health_file = Arc::new(health_file);
    let state = ApiState { status, stores, acting, auth: auth.clone(), downloads, health_file, settings };
    hotspare_http::routes::build(routes(), &auth).with_state(state)
}

async fn get_status(State(st): State<ApiState>) -> Json<SpareStatus> {
    Json(st.status.lock_or_recover().clone())
}

async fn get_health(
    State(st): State<ApiState>,
) -> Result<Json<hotspare_api::health::HealthReport>, hotspare_http::Failure> {
    hotspare_http::health::reply(&st.health_file).await
}

/// NVR id from an id or a serial, and its store.
fn store_of(st: &ApiState, key: &str) -> Option<(String, Arc<Store>)> {
    let stores = st.stores.lock_or_recover();
    if let Some(s) = stores.get(key) {
        return Some((key.to_string(), s.clone()));
    }
    let status = st.status.lock_or_recover();
    let id = status.nvrs.iter().find(|n| n.serial.as_deref() == Some(key))?.id.clone();
    stores.get(&id).map(|s| (id, s.clone()))
}

fn parse_time(s: Option<&String>) -> Result<Option<i64>, String> {
    s.map(|s| hotspare_base::time::parse_time_us(s)).transpose().map_err(|e| e.to_string())
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
    let mut spans = hotspare_video_http::spans::spans(camera, &segs);
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
    let slot = match hotspare_video_http::mp4::download_slot(&st.downloads) {
        Ok(s) => s,
        Err(f) => return f.into_response(),
    };
    if let Err(e) = hotspare_video_http::mp4::check_span(&store, camera, from, to) {
        return fail(StatusCode::BAD_REQUEST, e);
    }
    let camera = camera.to_string();
    let plan = tokio::task::spawn_blocking(move || store.export_mp4(&camera, from, to)).await;
    match plan {
        Ok(Ok(plan)) => {
            let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
            hotspare_video_http::mp4::serve_plan(plan, range, file.trim_end_matches(".mp4"), slot)
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
    let acting = st.acting.lock_or_recover().clone();
    let Some(a) = acting.iter().find(|a| q.get("name").is_none_or(|n| *n == a.server_name)) else {
        return fail(StatusCode::NOT_FOUND, "no NVR is taken over");
    };
    let spare = st.status.lock_or_recover().serial.clone();
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
/// spare accepts a failed NVR's admin while it stands in for it (rate-limited
/// and hashed off the async workers like every login).
async fn whoami(State(st): State<ApiState>, req: Request) -> Response {
    let acting = st.acting.lock_or_recover().clone();
    let accounts: Vec<Account> = acting
        .iter()
        .map(|a| Account {
            user: a.admin_user.clone(),
            role: Role::Admin,
            password_hash: a.admin_password_hash.clone(),
        })
        .collect();
    let ip = hotspare_http::auth::client_ip(&req);
    match st.auth.authenticate_against(ip, req.headers(), &accounts).await {
        Ok(id) => match acting.get(id.account) {
            Some(a) => {
                Json(WhoAmI { user: id.user, acting_as: a.server_name.clone(), nvr: a.nvr.clone() }).into_response()
            }
            None => hotspare_http::Denied::Wrong.into_response(),
        },
        Err(hotspare_http::Denied::Missing | hotspare_http::Denied::Wrong) => {
            let mut r = fail(StatusCode::UNAUTHORIZED, "credentials of a taken-over NVR's admin required");
            r.headers_mut()
                .insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Basic realm=\"hotspare\""));
            r
        }
        Err(d) => d.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use base64::Engine as _;
    use hotspare_http::password::hash_password;
    use tower::ServiceExt as _;

    fn app() -> Router {
        let accounts = vec![
            Account { user: "admin".into(), role: Role::Admin, password_hash: hash_password("adm") },
            Account { user: "guard".into(), role: Role::Viewer, password_hash: hash_password("view") },
        ];
        let auth = Authenticator::new(accounts, Default::default());
        let health = "/nonexistent/health.json".into();
        router(Default::default(), Default::default(), Default::default(), auth, health, None)
    }

    async fn status_of(app: &Router, method: &str, path: &str, auth: Option<(&str, &str)>) -> StatusCode {
        let mut req = Request::builder().method(method).uri(path);
        if let Some((u, p)) = auth {
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            req = req.header(header::AUTHORIZATION, format!("Basic {b}"));
        }
        app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap().status()
    }

    /// Walks the route table the router is built from: only declared public routes answer
    /// without credentials.
    #[tokio::test]
    async fn every_route_needs_credentials_unless_public() {
        let app = app();
        let table = route_table();
        assert!(table.len() >= 5, "{table:?}");
        for (method, path, access) in table {
            let path = hotspare_http::routes::sample_path(&path);
            let anonymous = status_of(&app, method, &path, None).await;
            let viewer = status_of(&app, method, &path, Some(("guard", "view"))).await;
            match access {
                Access::Public => assert_ne!(anonymous, StatusCode::UNAUTHORIZED, "{path}"),
                Access::Needs(role) => {
                    assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "{path} without credentials");
                    let expect_forbidden = role == Role::Admin;
                    assert_eq!(viewer == StatusCode::FORBIDDEN, expect_forbidden, "{path} as viewer: {viewer}");
                    assert_ne!(viewer, StatusCode::UNAUTHORIZED, "{path}");
                }
                // whoami: credentials of a taken-over NVR only (none here).
                Access::Handler => {
                    assert_eq!(anonymous, StatusCode::UNAUTHORIZED, "{path} without credentials");
                    assert_eq!(viewer, StatusCode::UNAUTHORIZED, "{path}");
                }
            }
        }
    }
}
