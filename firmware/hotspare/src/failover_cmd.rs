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
}

pub async fn run(a: FailoverArgs) -> Result<(), CliError> {
    let cfg = Config::load(&a.config).map_err(|e| CliError::new(e.to_string()))?;
    let capacity = cfg.capacity().map_err(|e| CliError::new(e.to_string()))?;
    cfg.check_capacity(&capacity).map_err(|e| CliError::new(e.to_string()))?;
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
    let opts = EngineOptions { ssdp_bind, ssdp_multicast, recorder: RecorderOptions::default() };
    let listen = cfg.spare.listen;
    let engine = Engine::new(cfg, capacity, opts, shared.clone()).map_err(|e| CliError::new(e.to_string()))?;
    let api = hotspare_failover::api::router(shared, engine.stores(), engine.admin_hashes());
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::new(format!("cannot listen on {listen}: {e}")))?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let server = tokio::spawn(async move { axum::serve(listener, api).await });
    let engine_task = tokio::spawn(engine.run(stop_rx));
    crate::record::terminated().await;
    log::info!("stopping");
    let _ = stop_tx.send(true);
    server.abort();
    engine_task.await.map_err(|e| CliError::new(format!("engine task: {e}")))?.map_err(|e| CliError::new(e.to_string()))
}
