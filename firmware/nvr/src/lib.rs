//! The protected recording server role (`hotspare nvr`): records its own
//! cameras and serves the HTTP/JSON API ([`hotspare_api`], documented in
//! `docs/ref/api.md`) that failover spares read.
//!
//! Two processes, as on the real box:
//! - the **API process** ([`run_nvr`]): axum server, storage health checks,
//!   read-only view of the store ([`hotspare_store::Store::open_readonly`]),
//!   imports of failover segments, and the supervision ([`recorder_child`]) of
//! - the **recorder process** ([`recorder::run_recorder`], `hotspare
//!   nvr-recorder`): records every camera, runs retention, and writes
//!   `<storage.dir>/.recorder-status.json` every second ([`status_file`]).
//!   The API process restarts it when it exits (backoff 1 s..10 s); a frozen
//!   recorder shows as a stale status file, i.e. cameras not recording.
//!
//! Modules: [`config`] (nvr.toml, accounts),
//! [`health`] (storage verdict from the volume probe and mdstat of
//! [`hotspare_platform`]), [`status_file`], [`recorder`], [`recorder_child`],
//! [`api`] (routes, MP4 serving through [`hotspare_video_http`], import,
//! spare proxying).

pub mod config;
pub mod handlers;
pub mod health;
pub mod heartbeat;
pub mod recorder;
pub mod recorder_child;
pub mod status_file;

pub use config::{ConfigError, NvrConfig};
/// Password hashes (moved to [`hotspare_http::password`]; re-exported for existing callers).
pub use hotspare_http::password;
pub use hotspare_http::password::{hash_password, verify_password};

use std::path::{Path, PathBuf};

/// Errors that stop the NVR or its recorder.
#[derive(Debug, thiserror::Error)]
pub enum NvrError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("store: {0}")]
    Store(hotspare_store::StoreError),
    #[error("{dir}: cannot create the storage directory: {source}")]
    StorageDir {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The HTTP server stopped with an error.
    #[error("http server")]
    Serve(#[source] std::io::Error),
    /// The HTTP client (to the spares) cannot be built.
    #[error("http client")]
    HttpClient(#[source] reqwest::Error),
    /// The TLS of the HTTP client (pinned to the spares' certificates) cannot be set up.
    #[error("http client TLS")]
    HttpClientTls(#[source] hotspare_tls::TlsError),
    /// The NVR's certificate and key can be neither loaded nor made.
    #[error("TLS identity in {}", dir.display())]
    TlsIdentity {
        dir: PathBuf,
        #[source]
        source: hotspare_tls::TlsError,
    },
    /// The task opening the store panicked or was cancelled.
    #[error("store open task")]
    StoreOpenTask(#[source] tokio::task::JoinError),
}

/// Resolves on SIGTERM or SIGINT.
pub async fn terminated() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// `hotspare nvr --config FILE`: the API process. Loads and validates the configuration,
/// starts the recorder process (`recorder_exe nvr-recorder --config FILE`), serves the API
/// until SIGTERM/SIGINT, then stops the recorder and returns.
pub async fn run_nvr(config_path: &Path, recorder_exe: PathBuf) -> Result<(), NvrError> {
    let cfg = NvrConfig::load(config_path)?;
    let identity = tls_identity(&cfg, config_path)?;
    let dir = cfg.storage.dir.clone();
    std::fs::create_dir_all(&dir).map_err(|source| NvrError::StorageDir { dir: dir.clone(), source })?;
    let listener = tokio::net::TcpListener::bind(cfg.listen())
        .await
        .map_err(|source| NvrError::Bind { addr: cfg.listen(), source })?;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let child = recorder_child::supervise(recorder_exe, config_path.to_owned(), stop_rx);
    let heartbeat = heartbeat::spawn(dir.clone());
    let state = handlers::AppState::new(cfg, identity.as_ref().map(|i| i.fingerprint))?;
    let health_task = state.health.spawn();
    let app = handlers::router(state.clone());
    let addr = cfg_addr(&listener);
    let serial = state.cfg.server.serial.clone();
    let tls = match identity {
        Some(id) => {
            log::info!("nvr {serial} listening on https://{addr} (certificate fingerprint {})", id.fingerprint);
            Some(hotspare_tls::tokio_rustls::TlsAcceptor::from(id.server_config))
        }
        None => {
            log::warn!(
                "nvr {serial} listening on http://{addr}: plain HTTP ([tls] insecure = true), for development only"
            );
            None
        }
    };
    let served =
        hotspare_http::serve(listener, app, hotspare_http::ServerLimits::for_this_process(), terminated(), tls).await;
    log::info!("nvr: stopping");
    health_task.abort();
    if let Some(h) = heartbeat {
        h.abort();
    }
    let _ = stop.send(true);
    if let Err(e) = child.await {
        log::error!("recorder supervisor: {e}");
    }
    served.map_err(NvrError::Serve)
}

/// The NVR's TLS identity (made on first start), `None` with `[tls] insecure = true`.
pub fn tls_identity(cfg: &NvrConfig, config_path: &Path) -> Result<Option<hotspare_tls::Identity>, NvrError> {
    if cfg.tls.insecure {
        return Ok(None);
    }
    let dir = cfg.tls_dir(config_path);
    hotspare_tls::Identity::load_or_create(&dir, &format!("hotspare nvr {}", cfg.server.serial))
        .map(Some)
        .map_err(|source| NvrError::TlsIdentity { dir, source })
}

fn cfg_addr(l: &tokio::net::TcpListener) -> String {
    l.local_addr().map(|a| a.to_string()).unwrap_or_else(|_| "?".into())
}
