//! `hotspare failover --config failover.toml [--settings DIR]`: the spare. Without
//! `--settings` everything comes from failover.toml; with it, the site parts come from the
//! box's settings and follow their changes ([`crate::failover_site`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use hotspare_api::spare::SpareStatus;
use hotspare_failover::config::Config;
use hotspare_failover::engine::{Engine, EngineOptions};
use hotspare_failover::licence::Capacity;
use hotspare_failover::settings_api::SettingsApi;
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
    /// The box's settings directory (`/data/settings`): the NVRs, accounts, monitoring, email,
    /// licence, name and SSDP on/off come from its current generation and changes apply
    /// without a restart; failover.toml then holds only the box's fixed parts. The settings
    /// are also served to admins on `/api/v1/settings` (without `--settings`: 404).
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

/// Where SSDP listens (`None`: off) and whether it joins the multicast group.
pub type SsdpBind = (Option<SocketAddr>, bool);

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
async fn settings_api(a: &FailoverArgs) -> Result<Option<SettingsApi>, CliError> {
    use hotspare_failover::settings_api::SettingsApiOptions;
    let Some(dir) = &a.settings else { return Ok(None) };
    let o = SettingsApiOptions {
        dir: dir.clone(),
        apply_network: a.apply_network.clone(),
        confirm_window: a.confirm_window,
    };
    SettingsApi::start(o).await.map(Some).map_err(|e| CliError::new(format!("--settings: {e}")))
}

fn parse_ssdp(s: &str) -> Result<SsdpBind, CliError> {
    match s {
        "off" => Ok((None, false)),
        s => {
            let addr: SocketAddr = s
                .parse()
                .map_err(|_| CliError::new(format!("--ssdp {s:?} is not an address like 0.0.0.0:1900 or off")))?;
            Ok((Some(addr), addr.ip().is_unspecified()))
        }
    }
}

pub async fn run(a: FailoverArgs) -> Result<(), CliError> {
    let cfg = match &a.settings {
        Some(_) => Config::load_box(&a.config),
        // The certificate needs only the box's parts: a box-only file serves too.
        None if a.fingerprint => Config::load(&a.config).or_else(|e| Config::load_box(&a.config).map_err(|_| e)),
        None => Config::load(&a.config),
    }
    .map_err(CliError::wrap)?;
    let identity = tls_identity(&cfg)?;
    if a.fingerprint {
        let id = identity.ok_or_else(|| {
            CliError::new(format!("{}: [tls] insecure = true: this spare has no certificate", a.config.display()))
        })?;
        println!("{}", id.fingerprint);
        return Ok(());
    }
    let ssdp = parse_ssdp(&a.ssdp)?;
    if let Some(dir) = &a.settings {
        let api = settings_api(&a).await?;
        return crate::failover_site::run(dir, cfg, identity, ssdp, api).await;
    }
    let capacity = cfg.capacity().map_err(|e| CliError::new(e.to_string()))?;
    cfg.check_capacity(&capacity).map_err(CliError::wrap)?;
    let shared = Arc::new(Mutex::new(Default::default()));
    let supervised = crate::spare_heartbeat::spawn(shared.clone()).await;
    let (takeovers_blocked, heartbeat) = supervised.map(|(g, t)| (Some(g), Some(t))).unwrap_or_default();
    let opts = EngineOptions {
        ssdp_bind: ssdp.0,
        ssdp_multicast: ssdp.1,
        recorder: RecorderOptions::default(),
        fingerprint: identity.as_ref().map(|i| i.fingerprint.to_string()),
        takeovers_blocked,
    };
    let listen = cfg.spare.listen;
    let (engine, api) = build(cfg, capacity, opts, shared, None)?;
    let listener = bind(listen).await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let tls = acceptor(identity, listen);
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

/// The engine and the API router of `cfg` (accounts hashed here); `settings`: the settings
/// routes (one [`SettingsApi`] for the life of the process: its confirmation window outlives
/// reloads).
pub fn build(
    cfg: Config,
    capacity: Capacity,
    opts: EngineOptions,
    shared: Arc<Mutex<SpareStatus>>,
    settings: Option<SettingsApi>,
) -> Result<(Engine, axum::Router), CliError> {
    log::info!(
        "spare {} ({}): {} NVRs, licence allows {} NVRs and {} channels",
        cfg.spare.name,
        cfg.spare.serial,
        cfg.nvrs.len(),
        capacity.nvrs,
        capacity.channels
    );
    for n in cfg.nvrs.iter().filter(|n| n.fingerprint.is_none() && n.url.starts_with("https://")) {
        log::warn!(
            "{}: no fingerprint configured: the spare will not talk to it (it logs the fingerprint the NVR \
             presents; check it on the NVR with hotspare nvr --config F --fingerprint)",
            n.id
        );
    }
    let auth = hotspare_http::Authenticator::new(cfg.api_accounts(), hotspare_http::AuthLimits::default());
    let health_file = cfg.spare.health_file.clone();
    let engine = Engine::new(cfg, capacity, opts, shared.clone()).map_err(|e| CliError::new(e.to_string()))?;
    let api = hotspare_failover::handlers::router(
        shared,
        engine.stores(),
        engine.admin_hashes(),
        auth,
        health_file,
        settings,
    );
    Ok((engine, api))
}

pub async fn bind(listen: SocketAddr) -> Result<tokio::net::TcpListener, CliError> {
    tokio::net::TcpListener::bind(listen).await.map_err(|e| CliError::new(format!("cannot listen on {listen}: {e}")))
}

pub fn acceptor(
    identity: Option<hotspare_tls::Identity>,
    listen: SocketAddr,
) -> Option<hotspare_tls::tokio_rustls::TlsAcceptor> {
    match identity {
        Some(id) => {
            log::info!("spare API on https://{listen} (certificate fingerprint {})", id.fingerprint);
            Some(hotspare_tls::tokio_rustls::TlsAcceptor::from(id.server_config))
        }
        None => {
            log::warn!("spare API on http://{listen}: plain HTTP ([tls] insecure = true), for development only");
            None
        }
    }
}

/// The spare's state directory named by its failover.toml (a whole file, or a box-only one
/// used with `--settings`), for the console and the panel: which NVRs are taken over is in
/// it. `None` (logged) when there is no file or it cannot be read: they then count the NVRs
/// covered without naming them.
pub fn spare_state_dir(config: Option<&std::path::Path>) -> Option<PathBuf> {
    let f = config?;
    match Config::load(f).or_else(|_| Config::load_box(f)) {
        Ok(c) => Some(c.spare.state),
        Err(e) => {
            log::warn!("{e}: the NVRs covered are counted, not named");
            None
        }
    }
}
