//! `hotspare failover --config failover.toml`: the spare.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hotspare_failover::config::Config;
use hotspare_failover::engine::{Engine, EngineOptions};
use hotspare_recorder::RecorderOptions;
use tokio::sync::watch;

use crate::CliError;

#[derive(clap::Args, Debug)]
pub struct FailoverArgs {
    #[arg(long)]
    pub config: PathBuf,
    /// UDP address for UPnP/SSDP announcements of taken-over NVRs' names;
    /// `off` disables them.
    #[arg(long, default_value = "0.0.0.0:1900")]
    pub ssdp: String,
    /// Print the spare's TLS certificate fingerprint (making the certificate if there is none
    /// yet) and exit: the installer writes it into each NVR's `[failover] fingerprints`.
    #[arg(long)]
    pub fingerprint: bool,
    /// The box's settings directory (`hotspare settings --dir`): served to admins on
    /// `/api/v1/settings` (without it, those routes answer 404).
    #[arg(long)]
    pub settings: Option<PathBuf>,
    /// Program run (no shell) with the settings directory as its argument when a change over
    /// the API altered the network (and again when an unconfirmed change is reverted).
    #[arg(long)]
    pub apply_network: Option<PathBuf>,
    /// How long a network change made over the API waits for the same user's confirmation.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub confirm_window: std::time::Duration,
}

/// The spare's TLS identity in `<state>/tls` (made on first start); `None` with
/// `[tls] insecure = true`.
fn tls_identity(cfg: &Config) -> Result<Option<hotspare_tls::Identity>, CliError> {
    if cfg.tls.insecure {
        return Ok(None);
    }
    let dir = cfg.spare.state.join("tls");
    hotspare_tls::Identity::load_or_create(&dir, &format!("hotspare spare {}", cfg.spare.serial))
        .map(Some)
        .map_err(|e| CliError::new(format!("TLS identity: {e}")))
}

/// The settings over the API (`--settings`), reverting a change a previous run left unconfirmed.
async fn settings_api(a: &FailoverArgs) -> Result<Option<hotspare_failover::settings_api::SettingsApi>, CliError> {
    use hotspare_failover::settings_api::{SettingsApi, SettingsApiOptions};
    let Some(dir) = &a.settings else { return Ok(None) };
    let o = SettingsApiOptions {
        dir: dir.clone(),
        apply_network: a.apply_network.clone(),
        confirm_window: a.confirm_window,
    };
    SettingsApi::start(o).await.map(Some).map_err(|e| CliError::new(format!("--settings: {e}")))
}

pub async fn run(a: FailoverArgs) -> Result<(), CliError> {
    let cfg = Config::load(&a.config).map_err(CliError::wrap)?;
    let identity = tls_identity(&cfg)?;
    if a.fingerprint {
        let id = identity.ok_or_else(|| {
            CliError::new(format!("{}: [tls] insecure = true: this spare has no certificate", a.config.display()))
        })?;
        println!("{}", id.fingerprint);
        return Ok(());
    }
    let capacity = cfg.capacity().map_err(|e| CliError::new(e.to_string()))?;
    cfg.check_capacity(&capacity).map_err(CliError::wrap)?;
    let (ssdp_bind, ssdp_multicast) = match a.ssdp.as_str() {
        "off" => (None, false),
        s => {
            let addr: SocketAddr = s
                .parse()
                .map_err(|_| CliError::new(format!("--ssdp {s:?} is not an address like 0.0.0.0:1900 or off")))?;
            (Some(addr), addr.ip().is_unspecified())
        }
    };
    log::info!(
        "spare {} ({}): {} NVRs, licence allows {} NVRs and {} channels",
        cfg.spare.name,
        cfg.spare.serial,
        cfg.nvrs.len(),
        capacity.nvrs,
        capacity.channels
    );
    let shared = Arc::new(Mutex::new(Default::default()));
    for n in cfg.nvrs.iter().filter(|n| n.fingerprint.is_none() && n.url.starts_with("https://")) {
        log::warn!(
            "{}: no fingerprint configured: the spare will not talk to it (it logs the fingerprint the NVR \
             presents; check it on the NVR with hotspare nvr --config F --fingerprint)",
            n.id
        );
    }
    let fingerprint = identity.as_ref().map(|i| i.fingerprint.to_string());
    let supervised = crate::spare_heartbeat::spawn(shared.clone()).await;
    let (takeovers_blocked, heartbeat) = supervised.map(|(g, t)| (Some(g), Some(t))).unwrap_or_default();
    let opts = EngineOptions {
        ssdp_bind,
        ssdp_multicast,
        recorder: RecorderOptions::default(),
        fingerprint,
        takeovers_blocked,
    };
    let listen = cfg.spare.listen;
    let auth = hotspare_http::Authenticator::new(cfg.api_accounts(), hotspare_http::AuthLimits::default());
    let health_file = cfg.spare.health_file.clone();
    let engine = Engine::new(cfg, capacity, opts, shared.clone()).map_err(|e| CliError::new(e.to_string()))?;
    let settings = settings_api(&a).await?;
    let api = hotspare_failover::handlers::router(
        shared,
        engine.stores(),
        engine.admin_hashes(),
        auth,
        health_file,
        settings,
    );
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::new(format!("cannot listen on {listen}: {e}")))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let tls = match identity {
        Some(id) => {
            log::info!("spare API on https://{listen} (certificate fingerprint {})", id.fingerprint);
            Some(hotspare_tls::tokio_rustls::TlsAcceptor::from(id.server_config))
        }
        None => {
            log::warn!("spare API on http://{listen}: plain HTTP ([tls] insecure = true), for development only");
            None
        }
    };
    let limits = hotspare_http::ServerLimits::for_this_process();
    let server = tokio::spawn(hotspare_http::serve(listener, api, limits, std::future::pending(), tls));
    let engine_task = tokio::spawn(engine.run(stop_rx));
    crate::record::terminated().await;
    log::info!("stopping");
    let _ = stop_tx.send(true);
    server.abort();
    if let Some(h) = heartbeat {
        h.abort();
    }
    engine_task.await.map_err(|e| CliError::new(format!("engine task: {e}")))?.map_err(|e| CliError::new(e.to_string()))
}
