//! The HTTP API (axum): routes, shared state, errors and admin auth. Every
//! error reply is a JSON [`hotspare_api::ApiError`].

mod body;
mod import;
pub mod mp4;
pub mod recordings;
mod status;

use crate::config::NvrConfig;
use crate::health::{HealthMonitor, RaidSource};
use crate::password::{constant_time_eq, hash_password};
use crate::NvrError;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use hotspare_store::Store;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The store is rescanned at most this often for recordings and MP4 requests.
const REFRESH_EVERY: Duration = Duration::from_secs(1);

/// State shared by the handlers.
pub struct AppState {
    pub cfg: NvrConfig,
    pub started: Instant,
    pub store: Arc<Store>,
    pub health: HealthMonitor,
    /// `pbkdf2-sha256$…` of the admin password, made once at startup.
    pub admin_hash: String,
    /// Client of the spares' API: `https://` only to a spare with a pinned fingerprint.
    pub http: reqwest::Client,
    /// This NVR's certificate fingerprint (`None`: plain HTTP, `[tls] insecure`).
    pub fingerprint: Option<hotspare_tls::Fingerprint>,
    last_refresh: Mutex<Option<Instant>>,
}

pub type Shared = Arc<AppState>;

impl AppState {
    pub fn new(cfg: NvrConfig, fingerprint: Option<hotspare_tls::Fingerprint>) -> Result<Shared, NvrError> {
        let store = Store::open_readonly(&cfg.storage.dir).map_err(NvrError::Store)?;
        if let Err(e) = store.clean_import_dir() {
            log::warn!("{e}");
        }
        let raid = cfg.storage.raid_device.as_ref().map(|d| RaidSource {
            device: d.clone(),
            mdstat: cfg.storage.mdstat.clone(),
            sys_block: "/sys/block".into(),
        });
        let health = HealthMonitor::new(cfg.storage.dir.clone(), raid);
        let http = hotspare_tls::http_client_builder(&cfg.spare_fingerprints())
            .map_err(|e| NvrError::Other(format!("http client: {e}")))?
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(|e| NvrError::Other(format!("http client: {e}")))?;
        Ok(Arc::new(AppState {
            admin_hash: hash_password(&cfg.server.admin_password),
            cfg,
            started: Instant::now(),
            store,
            health,
            http,
            fingerprint,
            last_refresh: Mutex::new(None),
        }))
    }

    /// Rescans the store if that was last done more than [`REFRESH_EVERY`] ago.
    pub(crate) async fn refresh_store(&self) {
        {
            let mut last = self.last_refresh.lock().unwrap_or_else(|p| p.into_inner());
            if last.is_some_and(|t| t.elapsed() < REFRESH_EVERY) {
                return;
            }
            *last = Some(Instant::now());
        }
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.refresh()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!("rescanning the store: {e}"),
            Err(e) => log::warn!("rescanning the store: {e}"),
        }
    }

    fn is_admin(&self, headers: &HeaderMap) -> bool {
        let Some(v) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) else { return false };
        let Some(b64) = v.strip_prefix("Basic ").or_else(|| v.strip_prefix("basic ")) else { return false };
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64.trim()) else { return false };
        let Ok(text) = String::from_utf8(raw) else { return false };
        let Some((user, password)) = text.split_once(':') else { return false };
        let s = &self.cfg.server;
        // Both compared, always, in constant time.
        let u = constant_time_eq(user.as_bytes(), s.admin_user.as_bytes());
        let p = constant_time_eq(password.as_bytes(), s.admin_password.as_bytes());
        u & p
    }

    /// `Ok` for the admin, else a 401 with a Basic challenge.
    pub(crate) fn require_admin(&self, headers: &HeaderMap) -> Result<(), Failure> {
        if self.is_admin(headers) {
            Ok(())
        } else {
            Err(Failure::new(StatusCode::UNAUTHORIZED, "admin credentials required (HTTP Basic)"))
        }
    }
}

/// An error reply: status code + [`hotspare_api::ApiError`] body.
#[derive(Debug)]
pub struct Failure {
    pub status: StatusCode,
    pub message: String,
}

impl Failure {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Failure {
        Failure { status, message: message.into() }
    }
    pub fn bad_request(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn not_found(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, message)
    }
    pub fn internal(message: impl Into<String>) -> Failure {
        let message = message.into();
        log::error!("{message}");
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, message)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut r = (self.status, Json(hotspare_api::ApiError { error: self.message })).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"hotspare\""));
        }
        r
    }
}

async fn config(
    axum::extract::State(st): axum::extract::State<Shared>,
    headers: HeaderMap,
) -> Result<Json<hotspare_api::TakeoverConfig>, Failure> {
    st.require_admin(&headers)?;
    Ok(Json(st.cfg.takeover(st.admin_hash.clone())))
}

async fn not_found() -> Failure {
    Failure::not_found("no such endpoint")
}

async fn method_not_allowed() -> Failure {
    Failure::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this endpoint")
}

/// All routes under [`hotspare_api::PREFIX`].
pub fn router(state: Shared) -> Router {
    let p = hotspare_api::PREFIX;
    Router::new()
        .route(&format!("{p}/status"), get(status::status))
        .route(&format!("{p}/config"), get(config))
        .route(&format!("{p}/recordings"), get(recordings::recordings))
        .route(&format!("{p}/recordings/{{file}}"), get(mp4::mp4))
        .route(&format!("{p}/import"), post(import::import).put(import::resumable::put).get(import::resumable::offset))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}
