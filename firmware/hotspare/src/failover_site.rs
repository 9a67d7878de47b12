//! `hotspare failover --settings DIR`: the spare run from the box's settings, reloaded in
//! place when they change. Every [`POLL`] it reads the current generation; when the spare's
//! part of it changed ([`site_settings::same_role`]), it stops the engine, builds a new one and
//! swaps the API router, in the same process. The listener is never closed: the server calls
//! whichever router is current per request ([`switching`]), so a client sees no refused
//! connection, only the new accounts from its next request on. Never while covering: while any
//! NVR is taken over or re-inserted into, the generation waits (`settings_pending` in the
//! status) and is applied after the failback. A generation the spare cannot use is reported
//! (`settings_error`) and the one in force kept. A fresh box (no generation) runs with the
//! defaults: no NVRs, no accounts (the API answers 401 to everyone).

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use hotspare_api::spare::SpareStatus;
use hotspare_base::LockExt;
use hotspare_failover::config::Config;
use hotspare_failover::engine::{EngineError, EngineOptions};
use hotspare_failover::handlers::Stores;
use hotspare_failover::licence::Capacity;
use hotspare_failover::settings_api::SettingsApi;
use hotspare_failover::site_settings::{self, Site, SiteError};
use hotspare_recorder::RecorderOptions;
use hotspare_settings::model::Settings;
use hotspare_settings::SettingsStore;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::failover_cmd::{acceptor, bind, build, SsdpBind};
use crate::CliError;

/// How often the settings directory is read. Polling (not inotify): it is one directory listing
/// and one small file a second, it sees every writer (console, panel, API, `hotspare settings`,
/// a restore) and every way a generation appears (rename into place), and it needs no watch
/// to be re-armed after a factory reset removed the files.
pub const POLL: Duration = Duration::from_secs(1);
/// How long a new engine waits for the old one's stores to be released (their locks).
const REOPEN: Duration = Duration::from_secs(10);

/// The engine in force and what it was built from.
struct Running {
    site: Site,
    seq: u64,
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), EngineError>>,
    covering: Arc<AtomicBool>,
    stores: Stores,
}

/// What does not change across reloads.
struct Fixed {
    base: Config,
    ssdp: SsdpBind,
    fingerprint: Option<String>,
    gate: Option<watch::Receiver<Option<String>>>,
    shared: Arc<Mutex<SpareStatus>>,
    /// The settings routes, the same across reloads (their confirmation window lives on).
    settings_api: Option<SettingsApi>,
}

pub async fn run(
    dir: &Path,
    base: Config,
    identity: Option<hotspare_tls::Identity>,
    ssdp: SsdpBind,
    settings_api: Option<SettingsApi>,
) -> Result<(), CliError> {
    let store = SettingsStore::open(dir).map_err(CliError::wrap)?;
    let shared = Arc::new(Mutex::new(SpareStatus::default()));
    let supervised = crate::spare_heartbeat::spawn(shared.clone()).await;
    let (gate, heartbeat) = supervised.map(|(g, t)| (Some(g), Some(t))).unwrap_or_default();
    let fingerprint = identity.as_ref().map(|i| i.fingerprint.to_string());
    let fixed = Fixed { base, ssdp, fingerprint, gate, shared, settings_api };
    let listen = fixed.base.spare.listen;

    let mut skipped = Vec::new();
    let (settings, seq) = read(&store, &mut skipped).unwrap_or_else(|e| {
        log::error!("{}: {e}: starting with the defaults", dir.display());
        (Settings::default(), 0)
    });
    let mut rejected: Option<u64> = None;
    let (mut running, router) = match prepare(&fixed, &settings, seq) {
        Ok((site, capacity)) => fixed.start(site, capacity, seq).await?,
        Err(e) => {
            log::error!("{e}: the spare starts with no NVRs and no accounts");
            fixed.set_status(|s| s.settings_error = Some(e.to_string()));
            rejected = Some(seq);
            let (site, capacity) = prepare(&fixed, &Settings::default(), 0).map_err(CliError::wrap)?;
            fixed.start(site, capacity, 0).await?
        }
    };
    fixed.set_status(|s| s.settings_seq = Some(running.seq));
    let (router_tx, router_rx) = watch::channel(router);
    let listener = bind(listen).await?;
    let limits = hotspare_http::ServerLimits::for_this_process();
    let tls = acceptor(identity, listen);
    let server =
        tokio::spawn(hotspare_http::serve(listener, switching(router_rx), limits, std::future::pending(), tls));

    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let terminated = crate::record::terminated();
    tokio::pin!(terminated);
    let ended = loop {
        tokio::select! {
            _ = &mut terminated => break None,
            r = &mut running.task => break Some(r),
            _ = poll.tick() => {
                let next = match read(&store, &mut skipped) {
                    Ok(x) => x,
                    Err(e) => {
                        log::warn!("{}: {e}", dir.display());
                        continue;
                    }
                };
                if let Some(router) = fixed.poll(&mut running, &mut rejected, next).await {
                    let _ = router_tx.send(router);
                }
            }
        }
    };
    server.abort();
    if let Some(h) = heartbeat {
        h.abort();
    }
    match ended {
        None => {
            log::info!("stopping");
            let _ = running.stop.send(true);
            let r = running.task.await;
            r.map_err(|e| CliError::new(format!("engine task: {e}")))?.map_err(|e| CliError::new(e.to_string()))
        }
        Some(r) => {
            r.map_err(|e| CliError::new(format!("engine task: {e}")))?.map_err(|e| CliError::new(e.to_string()))?;
            Err(CliError::new("the failover engine stopped"))
        }
    }
}

/// The current generation and its number (0: none yet, the defaults). Damaged generations
/// are logged once (`skipped`: those already said).
fn read(
    store: &SettingsStore,
    skipped: &mut Vec<std::path::PathBuf>,
) -> Result<(Settings, u64), hotspare_settings::store::SaveError> {
    let cur = store.current()?;
    for (path, why) in &cur.skipped {
        if !skipped.contains(path) {
            log::warn!("{}: skipped: {why}", path.display());
            skipped.push(path.clone());
        }
    }
    let seq = cur.seq();
    Ok((cur.settings, seq))
}

/// The spare's configuration from `settings` and its verified capacity.
fn prepare(fixed: &Fixed, settings: &Settings, seq: u64) -> Result<(Site, Capacity), SiteError> {
    let site = site_settings::apply(&fixed.base, settings, seq)?;
    let capacity = site_settings::capacity(&site, seq)?;
    Ok((site, capacity))
}

/// A router that hands each request to the router current at that moment.
fn switching(current: watch::Receiver<Router>) -> Router {
    Router::new().fallback(move |req: axum::extract::Request| {
        let mut router = current.borrow().clone();
        async move {
            match tower_service::Service::call(&mut router, req).await {
                Ok(r) => r,
                Err(never) => match never {},
            }
        }
    })
}

impl Fixed {
    fn set_status(&self, f: impl FnOnce(&mut SpareStatus)) {
        f(&mut self.shared.lock_or_recover());
    }

    /// One look at the settings: `Some(router)` when a new engine replaced `running` (the old
    /// one stopped first, so that its stores are closed before the new one opens them).
    /// Otherwise the status says what waits or why it is refused.
    async fn poll(
        &self,
        running: &mut Running,
        rejected: &mut Option<u64>,
        (settings, seq): (Settings, u64),
    ) -> Option<Router> {
        if seq == running.seq || Some(seq) == *rejected {
            return None;
        }
        let (site, capacity) = match prepare(self, &settings, seq) {
            Ok(x) => x,
            Err(e) => {
                log::error!("{e}: the spare keeps generation {}", running.seq);
                self.set_status(|s| (s.settings_error, s.settings_pending) = (Some(e.to_string()), None));
                *rejected = Some(seq);
                return None;
            }
        };
        if site_settings::same_role(&running.site, &site) {
            log::info!("settings generation {seq}: nothing the spare uses changed (no reload)");
            self.set_status(|s| (s.settings_seq, s.settings_pending, s.settings_error) = (Some(seq), None, None));
            running.seq = seq;
            return None;
        }
        if running.covering.load(Ordering::SeqCst) {
            let first = self.shared.lock_or_recover().settings_pending != Some(seq);
            if first {
                log::info!("settings generation {seq} waits: the spare is covering (applied after the failback)");
            }
            self.set_status(|s| s.settings_pending = Some(seq));
            return None;
        }
        log::info!("settings generation {seq}: reloading the spare (generation {} before)", running.seq);
        let old = running.site.clone();
        self.stop(running).await;
        let (new, router) = match self.start(site, capacity, seq).await {
            Ok(x) => {
                self.set_status(|s| (s.settings_seq, s.settings_pending, s.settings_error) = (Some(seq), None, None));
                x
            }
            Err(e) => {
                log::error!("settings generation {seq}: {e}: back to generation {}", running.seq);
                self.set_status(|s| (s.settings_error, s.settings_pending) = (Some(e.to_string()), None));
                *rejected = Some(seq);
                let capacity = site_settings::capacity(&old, running.seq).unwrap_or_else(|_| Capacity::unlicensed());
                // When even that fails, the stopped engine ends the process (the supervisor restarts it).
                self.start(old, capacity, running.seq).await.ok()?
            }
        };
        *running = new;
        Some(router)
    }

    /// Stops `running`'s engine and waits for it; its stores are then closed.
    async fn stop(&self, running: &Running) {
        let _ = running.stop.send(true);
        let deadline = Instant::now() + REOPEN;
        while !running.task.is_finished() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        running.stores.lock_or_recover().clear();
    }

    /// A new engine (and router) for `site`; waits up to [`REOPEN`] for the stores of the engine
    /// before it to be released.
    async fn start(&self, site: Site, capacity: Capacity, seq: u64) -> Result<(Running, Router), CliError> {
        let opts = EngineOptions {
            ssdp_bind: if site.ssdp { self.ssdp.0 } else { None },
            ssdp_multicast: self.ssdp.1,
            recorder: RecorderOptions::default(),
            fingerprint: self.fingerprint.clone(),
            takeovers_blocked: self.gate.clone(),
        };
        let deadline = Instant::now() + REOPEN;
        let (engine, router) = loop {
            match build(
                site.config.clone(),
                capacity.clone(),
                opts.clone(),
                self.shared.clone(),
                self.settings_api.clone(),
            ) {
                Ok(x) => break x,
                Err(e) if Instant::now() < deadline => {
                    log::debug!("settings generation {seq}: {e}: retrying");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        };
        let (stop, stop_rx) = watch::channel(false);
        let (covering, stores) = (engine.covering(), engine.stores());
        let task = tokio::spawn(engine.run(stop_rx));
        Ok((Running { site, seq, stop, task, covering, stores }, router))
    }
}
