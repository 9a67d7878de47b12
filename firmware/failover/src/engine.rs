//! The spare's runtime: the thin async loop around the decision core ([`crate::core`]). It
//! reads the clock, gathers inputs (check results from one short task per check, re-insertion
//! ends, the core's timer), hands each to [`Core::handle`] and performs the effects in order:
//! HTTP checks, recorders, stores, emails, SSDP, state files, re-insertion tasks. It also
//! publishes the status and the credentials the API accepts, and recycles the stores.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotspare_api::spare::{NvrView, ReinsertProgress, SpareStatus};
use hotspare_recorder::RecorderOptions;
use hotspare_store::Store;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinHandle, JoinSet};

use crate::client::NvrClient;
use crate::config::{Config, NvrEntry};
use crate::core::{store_config, Core, CoreConfig, Effect, Input, NvrSpec, Restored};
use crate::handlers::ActingAs;
use crate::licence::Capacity;
use crate::monitor::{Observation, Phase, Timing};
use crate::recorders::Recorders;
use crate::reinsert;
use crate::ssdp::{Announcer, Device};
use crate::state::StateDir;
use hotspare_base::clock::now_us;
use hotspare_base::LockExt;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("state directory: {0}")]
    State(#[from] crate::state::StateError),
    #[error("failover store {path}: {source}")]
    Store { path: String, source: hotspare_store::StoreError },
    #[error("SSDP: {0}")]
    Ssdp(#[from] crate::ssdp::SsdpError),
}

/// Engine options that are not in the config file.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Where SSDP listens; `None` disables the announcement.
    pub ssdp_bind: Option<std::net::SocketAddr>,
    pub ssdp_multicast: bool,
    pub recorder: RecorderOptions,
    /// The spare's TLS certificate fingerprint, shown in the status (`None`: plain HTTP).
    pub fingerprint: Option<String>,
    /// From the supervisor (when one runs the spare): `Some(reason)` while new takeovers are
    /// not allowed.
    pub takeovers_blocked: Option<watch::Receiver<Option<String>>>,
}

/// The next value of the supervisor's takeover gate; never resolves without one (or once
/// its sender is gone).
async fn gate_changed(gate: &mut Option<watch::Receiver<Option<String>>>) -> Option<Option<String>> {
    let Some(g) = gate else { return std::future::pending().await };
    if g.changed().await.is_err() {
        return std::future::pending().await;
    }
    Some(g.borrow_and_update().clone())
}

/// The I/O side of one NVR.
struct NvrRt {
    entry: NvrEntry,
    client: NvrClient,
    store: Arc<Store>,
    reinsert: Option<JoinHandle<()>>,
    progress: Arc<Mutex<ReinsertProgress>>,
}

pub struct Engine {
    cfg: Config,
    capacity: Capacity,
    timing: Timing,
    opts: EngineOptions,
    state: StateDir,
    core: Core,
    nvrs: BTreeMap<String, NvrRt>,
    recorders: Recorders,
    announcer: Option<Announcer>,
    checks: JoinSet<()>,
    shared: Arc<Mutex<SpareStatus>>,
    acting: Arc<Mutex<Vec<ActingAs>>>,
    /// The current store of each NVR, shared with the API.
    stores: crate::handlers::Stores,
    /// True while any NVR is taken over or its video is being re-inserted ([`Engine::covering`]).
    covering: Arc<AtomicBool>,
}

impl Engine {
    pub fn new(
        cfg: Config,
        capacity: Capacity,
        opts: EngineOptions,
        shared: Arc<Mutex<SpareStatus>>,
    ) -> Result<Engine, EngineError> {
        let t = cfg.timing();
        let timing = Timing {
            check_interval: t.check_interval,
            failures_to_takeover: t.failures_to_takeover,
            recording_check_interval: t.recording_check_interval,
            failback_check_interval: t.failback_check_interval,
        };
        let state = StateDir::open(&cfg.spare.state)?;
        let mut saved = state.load_nvrs().unwrap_or_else(|e| {
            log::error!("{e}");
            BTreeMap::new()
        });
        let mut restored = BTreeMap::new();
        let mut nvrs = BTreeMap::new();
        for entry in &cfg.nvrs {
            let snapshot = state.load_snapshot(&entry.id).unwrap_or_else(|e| {
                log::error!("{e}");
                None
            });
            let root = cfg.spare.store.join(&entry.id);
            let store = Store::open(&root, store_config(snapshot.as_ref()))
                .map_err(|source| EngineError::Store { path: root.display().to_string(), source })?;
            restored.insert(entry.id.clone(), Restored { state: saved.remove(&entry.id), snapshot });
            nvrs.insert(
                entry.id.clone(),
                NvrRt {
                    entry: entry.clone(),
                    client: NvrClient::new(&entry.url, &entry.admin_user, &entry.admin_password, entry.fingerprint),
                    store,
                    reinsert: None,
                    progress: Arc::default(),
                },
            );
        }
        let core_cfg = CoreConfig {
            timing,
            channels: capacity.channels,
            nvrs: cfg.nvrs.iter().map(|e| NvrSpec { id: e.id.clone(), priority: e.priority }).collect(),
            email: cfg.email.clone(),
        };
        let stores: BTreeMap<String, Arc<Store>> = nvrs.iter().map(|(id, n)| (id.clone(), n.store.clone())).collect();
        Ok(Engine {
            stores: Arc::new(Mutex::new(stores)),
            core: Core::new(core_cfg, restored),
            cfg,
            capacity,
            timing,
            opts,
            state,
            nvrs,
            recorders: Recorders::default(),
            announcer: None,
            checks: JoinSet::new(),
            shared,
            acting: Arc::default(),
            covering: Arc::default(),
        })
    }

    /// Runs until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<(), EngineError> {
        if let Some(bind) = self.opts.ssdp_bind {
            self.announcer = Some(Announcer::bind(bind, self.opts.ssdp_multicast).await?);
        }
        let (tx, mut rx) = mpsc::unbounded_channel();
        self.step(Input::Started, &tx).await;
        let mut housekeeping = tokio::time::interval(Duration::from_secs(5));
        let mut gate = self.opts.takeovers_blocked.take();
        if let Some(g) = gate.as_mut() {
            let blocked = g.borrow_and_update().clone();
            self.step(Input::Takeovers { blocked }, &tx).await;
        }
        self.publish();
        loop {
            let wait = self.core.poll_at().map(|t| Duration::from_micros(t.saturating_sub(now_us()).max(0) as u64));
            tokio::select! {
                _ = stop.changed() => break,
                Some(input) = rx.recv() => self.step(input, &tx).await,
                _ = tokio::time::sleep(wait.unwrap_or_default()), if wait.is_some() => self.step(Input::Tick, &tx).await,
                _ = housekeeping.tick() => self.housekeeping(),
                Some(blocked) = gate_changed(&mut gate) => self.step(Input::Takeovers { blocked }, &tx).await,
            }
            while self.checks.try_join_next().is_some() {}
            self.publish();
        }
        self.checks.abort_all();
        self.recorders.stop_all().await;
        for n in self.nvrs.values() {
            if let Some(t) = &n.reinsert {
                t.abort();
            }
        }
        Ok(())
    }

    fn housekeeping(&mut self) {
        for n in self.nvrs.values() {
            let store = n.store.clone();
            tokio::task::spawn_blocking(move || store.recycle());
        }
    }

    /// One input through the core, then its effects in order.
    async fn step(&mut self, input: Input, tx: &mpsc::UnboundedSender<Input>) {
        for effect in self.core.handle(now_us(), input) {
            self.perform(effect, tx).await;
        }
    }

    async fn perform(&mut self, effect: Effect, tx: &mpsc::UnboundedSender<Input>) {
        match effect {
            Effect::Check { nvr } => self.check(nvr, tx),
            Effect::SaveSnapshot { nvr, snapshot } => match self.state.save_snapshot(&nvr, &snapshot, None) {
                Ok(_) => log::info!("{nvr}: settings snapshot saved ({} cameras)", snapshot.config.cameras.len()),
                Err(e) => log::error!("{nvr}: saving settings snapshot: {e}"),
            },
            Effect::SaveState { nvrs } => {
                if let Err(e) = self.state.save_nvrs(&nvrs) {
                    log::error!("saving spare state: {e}");
                }
            }
            Effect::ReopenStore { nvr, config } => {
                let Some(n) = self.nvrs.get_mut(&nvr) else { return };
                match Store::open(&self.cfg.spare.store.join(&nvr), config) {
                    Ok(s) => {
                        self.stores.lock_or_recover().insert(nvr, s.clone());
                        n.store = s;
                    }
                    Err(e) => log::error!("{nvr}: reopening failover store: {e}"),
                }
            }
            Effect::StartRecorder { nvr, camera } => {
                let Some(n) = self.nvrs.get(&nvr) else { return };
                self.recorders.start(&nvr, &camera, n.store.clone(), self.opts.recorder.clone());
            }
            Effect::StopRecorder { nvr, camera, .. } => self.recorders.stop(&nvr, &camera).await,
            Effect::Announce { nvr, name } => {
                if let Some(a) = &self.announcer {
                    if let Err(e) = a.add(self.device(name)) {
                        log::error!("{nvr}: SSDP: {e}");
                    }
                }
            }
            Effect::Withdraw { name, .. } => {
                if let Some(a) = &self.announcer {
                    a.remove(&name);
                }
            }
            Effect::Email { nvr, settings, subject, body } => {
                tokio::spawn(async move {
                    match crate::email::send(&settings, &subject, &body).await {
                        Ok(()) => log::info!("{nvr}: email sent to {}", settings.to.join(", ")),
                        Err(e) => log::error!("{nvr}: email not sent: {e}"),
                    }
                });
            }
            Effect::StartReinsert { nvr } => self.start_reinsert(nvr, tx),
        }
    }

    /// One status check (and settings pull when it answers), reported as [`Input::Checked`].
    fn check(&mut self, nvr: String, tx: &mpsc::UnboundedSender<Input>) {
        let Some(n) = self.nvrs.get(&nvr) else { return };
        let timeout = self.timing.check_interval.clamp(Duration::from_millis(500), Duration::from_secs(5));
        let (client, tx) = (n.client.clone(), tx.clone());
        self.checks.spawn(async move {
            let (obs, config) = match client.status(timeout).await {
                Ok(s) => {
                    let c = client.config(timeout).await.map(Box::new).map_err(|e| e.to_string());
                    (Observation::Status(Box::new(s)), Some(c))
                }
                Err(e) => (Observation::Unreachable { error: e.to_string() }, None),
            };
            let _ = tx.send(Input::Checked { nvr, obs, config });
        });
    }

    /// Re-inserts the NVR's held video when its store holds any; reports [`Input::ReinsertEnded`].
    fn start_reinsert(&mut self, nvr: String, tx: &mpsc::UnboundedSender<Input>) {
        let serial = self.cfg.spare.serial.clone();
        let Some(n) = self.nvrs.get_mut(&nvr) else { return };
        let has_work = n.store.cameras().iter().any(|c| n.store.segments(c).is_ok_and(|s| !s.is_empty()));
        if !has_work {
            let _ = tx.send(Input::ReinsertEnded { nvr });
            return;
        }
        *n.progress.lock_or_recover() = ReinsertProgress::default();
        log::info!("{nvr}: re-inserting failover video into {}", n.entry.url);
        let task = reinsert::run(n.store.clone(), n.client.clone(), serial, nvr.clone(), n.progress.clone());
        let tx = tx.clone();
        n.reinsert = Some(tokio::spawn(async move {
            task.await;
            let _ = tx.send(Input::ReinsertEnded { nvr });
        }));
    }

    fn device(&self, name: String) -> Device {
        Device {
            name,
            serial: self.cfg.spare.serial.clone(),
            location: format!(
                "{}://{}{}",
                if self.cfg.tls.insecure { "http" } else { "https" },
                self.cfg.spare.listen,
                hotspare_api::api_path!("/upnp/description.xml")
            ),
        }
    }

    fn publish(&self) {
        let nvrs = self.core.nvrs().filter_map(|c| Some((c, self.nvrs.get(c.id())?))).map(|(c, n)| self.view(c, n));
        let nvrs = nvrs.collect();
        let acting = self
            .core
            .nvrs()
            .filter(|c| c.is_taken_over())
            .filter_map(|c| {
                let snap = c.snapshot()?;
                Some(ActingAs {
                    nvr: c.id().to_string(),
                    serial: snap.identity.serial.clone(),
                    server_name: snap.config.server.name.clone(),
                    admin_user: snap.config.server.admin_user.clone(),
                    admin_password_hash: snap.config.server.admin_password_hash.clone(),
                })
            })
            .collect();
        *self.acting.lock_or_recover() = acting;
        let covering = self.core.nvrs().any(|c| c.is_taken_over() || c.reinserting());
        self.covering.store(covering, Ordering::SeqCst);
        let mut s = self.shared.lock_or_recover();
        // The settings fields belong to whoever runs the engine (`--settings`): kept.
        let (settings_seq, settings_pending, settings_error) =
            (s.settings_seq.take(), s.settings_pending.take(), s.settings_error.take());
        *s = SpareStatus {
            name: self.cfg.spare.name.clone(),
            serial: self.cfg.spare.serial.clone(),
            nvrs_licensed: self.capacity.nvrs,
            channels_licensed: self.capacity.channels,
            channels_used: self.core.channels_used(),
            nvrs,
            fingerprint: self.opts.fingerprint.clone(),
            takeovers_blocked: self.core.takeovers_blocked().map(str::to_string),
            settings_seq,
            settings_pending,
            settings_error,
        };
    }

    fn view(&self, c: &crate::core::NvrCore, n: &NvrRt) -> NvrView {
        let (phase, reason, since_us, covering) = match c.monitor().phase() {
            Phase::Watching => ("watching", None, None, Vec::new()),
            Phase::TakenOver { reason, since_us, covering, .. } => {
                ("taken_over", Some(reason.to_string()), Some(*since_us), covering.iter().cloned().collect())
            }
        };
        let recording = self.core.recording(c.id());
        // First frame recorded here since the takeover began.
        let first_frame_us = recording
            .iter()
            .map(|cam| {
                let after = since_us.unwrap_or(0);
                let first = n
                    .store
                    .segments(cam)
                    .ok()
                    .and_then(|segs| segs.iter().find(|s| s.start_wall_us >= after).map(|s| s.start_wall_us));
                (cam.clone(), first)
            })
            .collect();
        let snap = c.snapshot();
        NvrView {
            id: c.id().to_string(),
            url: n.entry.url.clone(),
            server_name: snap.map(|s| s.config.server.name.clone()),
            serial: c.monitor().identity().map(|i| i.serial.clone()),
            phase: phase.to_string(),
            reason,
            since_us,
            misses: c.monitor().misses(),
            last_check_us: c.last_check_us(),
            last_error: c.last_error().map(str::to_string),
            snapshot_us: snap.map(|s| s.taken_us),
            recording,
            covering,
            uncovered: c.uncovered().to_vec(),
            first_frame_us,
            reinsert: n.progress.lock_or_recover().clone(),
            takeovers: c.takeovers().to_vec(),
        }
    }

    /// Credentials of the NVRs being stood in for, for the API.
    pub fn admin_hashes(&self) -> Arc<Mutex<Vec<ActingAs>>> {
        self.acting.clone()
    }

    /// True (after each step) while any NVR is taken over or being re-inserted into: the
    /// spare must not be reconfigured then (`--settings` waits).
    pub fn covering(&self) -> Arc<AtomicBool> {
        self.covering.clone()
    }

    /// Stores per NVR, for the API.
    pub fn stores(&self) -> crate::handlers::Stores {
        self.stores.clone()
    }
}
