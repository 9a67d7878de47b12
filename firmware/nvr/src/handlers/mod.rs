//! The HTTP API (axum): the route table with each route's role, shared
//! state and errors. Authentication (HTTP Basic, roles, rate limiting) is
//! [`hotspare_http::auth`], applied by the route table. Every error reply is
//! a JSON [`hotspare_api::ApiError`].

mod import;
mod mp4;
mod recordings;
mod status;

use crate::config::NvrConfig;
use crate::health::{HealthMonitor, RaidSource};
use crate::NvrError;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use hotspare_base::LockExt;
use hotspare_http::password::hash_password;
use hotspare_http::{Access, AuthLimits, Authenticator, Role, Route};
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
    /// Verifies the credentials of every request (accounts of `nvr.toml`).
    pub auth: Arc<Authenticator>,
    /// Slots of the concurrent MP4 download cap ([`hotspare_video_http::mp4::MAX_DOWNLOADS`]); the status path never
    /// touches them.
    pub downloads: Arc<tokio::sync::Semaphore>,
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
            .map_err(NvrError::HttpClientTls)?
            .connect_timeout(Duration::from_secs(3))
            .build()
            .map_err(NvrError::HttpClient)?;
        let admin_hash = hash_password(&cfg.server.admin_password);
        let auth = Authenticator::new(cfg.accounts(&admin_hash), AuthLimits::default());
        Ok(Arc::new(AppState {
            admin_hash,
            auth,
            cfg,
            started: Instant::now(),
            store,
            health,
            http,
            fingerprint,
            downloads: Arc::new(tokio::sync::Semaphore::new(hotspare_video_http::mp4::MAX_DOWNLOADS)),
            last_refresh: Mutex::new(None),
        }))
    }

    /// Rescans the store if that was last done more than [`REFRESH_EVERY`] ago.
    pub(crate) async fn refresh_store(&self) {
        {
            let mut last = self.last_refresh.lock_or_recover();
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

    /// A GET to a spare, with [`NvrConfig::spare_credentials`] (by default the admin's: a spare
    /// accepts the admin of each NVR it protects).
    pub(crate) fn spare_get(&self, url: &str) -> reqwest::RequestBuilder {
        let (user, password) = self.cfg.spare_credentials();
        self.http.get(url).basic_auth(user, Some(password))
    }
}

/// The error reply (shared with the spare's API).
pub use hotspare_http::Failure;

async fn config(axum::extract::State(st): axum::extract::State<Shared>) -> Json<hotspare_api::TakeoverConfig> {
    Json(st.cfg.takeover(st.admin_hash.clone()))
}

/// `GET /api/v1/health`: the supervisor's report ([`hotspare_http::health`]).
async fn health(
    axum::extract::State(st): axum::extract::State<Shared>,
) -> Result<Json<hotspare_api::health::HealthReport>, Failure> {
    hotspare_http::health::reply(&st.cfg.server.health_file).await
}

async fn not_found() -> Failure {
    Failure::not_found("no such endpoint")
}

async fn method_not_allowed() -> Failure {
    Failure::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed on this endpoint")
}

/// Every route under [`hotspare_api::PREFIX`] with the role it needs (documented in
/// `docs/ref/api.md`). The router is built from this table only.
pub fn routes() -> Vec<Route<Shared>> {
    let p = hotspare_api::PREFIX;
    let viewer = Access::Needs(Role::Viewer);
    let admin = Access::Needs(Role::Admin);
    vec![
        Route::new("GET", format!("{p}/status"), viewer, get(status::status)),
        Route::new("GET", format!("{p}/health"), viewer, get(health)),
        Route::new("GET", format!("{p}/config"), admin, get(config)),
        Route::new("GET", format!("{p}/recordings"), viewer, get(recordings::recordings)),
        Route::new("GET", format!("{p}/recordings/{{file}}"), viewer, get(mp4::mp4)),
        Route::new("POST", format!("{p}/import"), admin, post(import::import)),
        Route::new("PUT", format!("{p}/import"), admin, put(import::resumable::put)),
        Route::new("GET", format!("{p}/import"), admin, get(import::resumable::offset)),
    ]
}

/// The API's router: [`routes`] behind their access checks.
pub fn router(state: Shared) -> Router {
    hotspare_http::routes::build(routes(), &state.auth)
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{header, Request};
    use axum::response::Response;
    use base64::Engine as _;
    use hotspare_http::routes::sample_path;
    use std::path::Path;
    use tower::ServiceExt as _;

    fn app(dir: &Path) -> Router {
        let text = format!(
            "[server]\nname = \"N\"\nserial = \"S1\"\nadmin_user = \"admin\"\nadmin_password = \"adm\"\n\
             [[server.accounts]]\nuser = \"guard\"\nrole = \"viewer\"\npassword = \"view\"\n\
             [storage]\ndir = \"{}\"\n",
            dir.display()
        );
        let cfg = NvrConfig::parse(Path::new("nvr.toml"), &text).unwrap();
        router(AppState::new(cfg, None).unwrap())
    }

    async fn call(app: &Router, method: &str, path: &str, auth: Option<(&str, &str)>) -> Response {
        let mut req = Request::builder().method(method).uri(path);
        if let Some((u, p)) = auth {
            let b = base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"));
            req = req.header(header::AUTHORIZATION, format!("Basic {b}"));
        }
        app.clone().oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
    }

    /// Walks the route table the router is built from: a route added later cannot escape.
    #[tokio::test]
    async fn every_route_needs_its_role() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let table = hotspare_http::routes::table(&routes());
        assert!(table.len() >= 5, "{table:?}");
        for (method, path, access) in table {
            let path = sample_path(&path);
            let anonymous = call(&app, method, &path, None).await;
            assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED, "{method} {path} without credentials");
            assert!(anonymous.headers().contains_key(header::WWW_AUTHENTICATE));
            let wrong = call(&app, method, &path, Some(("admin", "nope"))).await.status();
            assert_eq!(wrong, StatusCode::UNAUTHORIZED, "{method} {path} with a wrong password");
            let viewer = call(&app, method, &path, Some(("guard", "view"))).await.status();
            let admin = call(&app, method, &path, Some(("admin", "adm"))).await.status();
            assert!(![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&admin), "{method} {path}: {admin}");
            match access {
                Access::Needs(Role::Admin) => assert_eq!(viewer, StatusCode::FORBIDDEN, "{method} {path} as viewer"),
                Access::Needs(Role::Viewer) => {
                    assert!(![StatusCode::UNAUTHORIZED, StatusCode::FORBIDDEN].contains(&viewer), "{method} {path}")
                }
                Access::Public | Access::Handler => panic!("{method} {path}: the NVR has no public route"),
            }
        }
    }

    #[tokio::test]
    async fn password_guessing_gets_429() {
        let dir = tempfile::tempdir().unwrap();
        let app = app(dir.path());
        let status = format!("{}/status", hotspare_api::PREFIX);
        for _ in 0..AuthLimits::default().free_failures {
            let r = call(&app, "GET", &status, Some(("admin", "guess"))).await;
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        }
        let r = call(&app, "GET", &status, Some(("admin", "adm"))).await;
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = r.headers()[header::RETRY_AFTER].to_str().unwrap().parse().unwrap();
        assert!((1..=300).contains(&retry), "{retry}");
    }
}
