//! The spare's main loop. One check task per NVR polls its status (and
//! settings) and sends what it saw here; this loop owns every monitor and
//! every recorder, so decisions are made one at a time: monitor actions
//! become takeovers (record the cameras the channel licence covers, by
//! priority), hand-backs, failbacks (emails, SSDP) and re-insertion.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hotspare_api::{Action as RuleAction, EventKind, TakeoverConfig};
use hotspare_recorder::RecorderOptions;
use hotspare_store::{Store, StoreConfig};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::api::ActingAs;
use crate::capacity::{allocate, Demand};
use crate::client::NvrClient;
use crate::config::{Config, NvrEntry};
use crate::licence::Capacity;
use crate::monitor::{Action, Event, Identity, Monitor, Observation, Phase, Timing};
use crate::recorders::Recorders;
use crate::reinsert::{self, ReinsertProgress};
use crate::ssdp::{Announcer, Device};
use crate::state::{NvrState, Snapshot, StateDir};
use crate::status::{NvrView, SpareStatus, TakeoverRecord};

pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("state directory: {0}")]
    State(#[from] crate::state::StateError),
    #[error("failover store {path}: {source}")]
    Store { path: String, source: hotspare_store::StoreError },
    #[error("SSDP: {0}")]
    Ssdp(#[from] crate::ssdp::SsdpError),
}

/// What a check task saw.
struct Checked {
    nvr: String,
    at_us: i64,
    obs: Observation,
    config: Option<Result<TakeoverConfig, String>>,
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
}

struct NvrRt {
    entry: NvrEntry,
    client: NvrClient,
    monitor: Monitor,
    snapshot: Option<Snapshot>,
    store: Arc<Store>,
    last_failback_eval_us: i64,
    handed_back: BTreeSet<String>,
    uncovered: Vec<String>,
    reinsert: Option<JoinHandle<()>>,
    progress: Arc<Mutex<ReinsertProgress>>,
    last_check_us: Option<i64>,
    last_error: Option<String>,
    config_error: Option<String>,
    takeovers: Vec<TakeoverRecord>,
}

pub struct Engine {
    cfg: Config,
    capacity: Capacity,
    timing: Timing,
    opts: EngineOptions,
    state: StateDir,
    nvrs: BTreeMap<String, NvrRt>,
    recorders: Recorders,
    announcer: Option<Announcer>,
    shared: Arc<Mutex<SpareStatus>>,
    acting: Arc<Mutex<Vec<ActingAs>>>,
    /// The current store of each NVR, shared with the API.
    stores: crate::api::Stores,
}

fn store_config(snap: Option<&Snapshot>) -> StoreConfig {
    let mut c = StoreConfig::default();
    if let Some(s) = snap {
        let r = &s.config.recording;
        c.segment_duration = Duration::from_secs(r.segment_seconds.clamp(1, 3600) as u64);
        c.high_water_percent = r.high_water_percent.clamp(1, 99);
        c.max_age = r.retention_days.map(|d| Duration::from_secs(d as u64 * 86_400));
    }
    c
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
        let saved = state.load_nvrs().unwrap_or_else(|e| {
            log::error!("{e}");
            BTreeMap::new()
        });
        let mut nvrs = BTreeMap::new();
        for entry in &cfg.nvrs {
            let snapshot = state.load_snapshot(&entry.id).unwrap_or_else(|e| {
                log::error!("{e}");
                None
            });
            let monitor = match saved.get(&entry.id) {
                Some(s) => Monitor::resume(timing, s.phase.clone(), s.identity.clone()),
                None => Monitor::resume(timing, Phase::Watching, snapshot.as_ref().map(|s| s.identity.clone())),
            };
            // A takeover resumed after a restart keeps its record (status, failback email).
            let takeovers = match monitor.phase() {
                Phase::TakenOver { reason, since_us, .. } => {
                    vec![TakeoverRecord { at_us: *since_us, reason: reason.to_string(), failback_us: None }]
                }
                Phase::Watching => Vec::new(),
            };
            let root = cfg.spare.store.join(&entry.id);
            let store = Store::open(&root, store_config(snapshot.as_ref()))
                .map_err(|source| EngineError::Store { path: root.display().to_string(), source })?;
            nvrs.insert(
                entry.id.clone(),
                NvrRt {
                    entry: entry.clone(),
                    client: NvrClient::new(&entry.url, &entry.admin_user, &entry.admin_password, entry.fingerprint),
                    monitor,
                    snapshot,
                    store,
                    last_failback_eval_us: 0,
                    handed_back: BTreeSet::new(),
                    uncovered: Vec::new(),
                    reinsert: None,
                    progress: Arc::default(),
                    last_check_us: None,
                    last_error: None,
                    config_error: None,
                    takeovers,
                },
            );
        }
        let stores: BTreeMap<String, Arc<Store>> = nvrs.iter().map(|(id, n)| (id.clone(), n.store.clone())).collect();
        let stores = Arc::new(Mutex::new(stores));
        Ok(Engine {
            stores,
            cfg,
            capacity,
            timing,
            opts,
            state,
            nvrs,
            recorders: Recorders::default(),
            announcer: None,
            shared,
            acting: Arc::default(),
        })
    }

    fn spawn_checks(&self, tx: &mpsc::Sender<Checked>, stop: &watch::Receiver<bool>) -> Vec<JoinHandle<()>> {
        let interval = self.timing.check_interval;
        let timeout = interval.clamp(Duration::from_millis(500), Duration::from_secs(5));
        self.nvrs
            .values()
            .map(|n| {
                let (client, id, tx, mut stop) = (n.client.clone(), n.entry.id.clone(), tx.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(interval);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tokio::select! {
                            _ = tick.tick() => {}
                            _ = stop.changed() => return,
                        }
                        let (obs, config) = match client.status(timeout).await {
                            Ok(s) => {
                                let c = client.config(timeout).await.map_err(|e| e.to_string());
                                (Observation::Status(Box::new(s)), Some(c))
                            }
                            Err(e) => (Observation::Unreachable { error: e.to_string() }, None),
                        };
                        if tx.send(Checked { nvr: id.clone(), at_us: now_us(), obs, config }).await.is_err() {
                            return;
                        }
                    }
                })
            })
            .collect()
    }

    /// Runs until `stop` turns true.
    pub async fn run(mut self, mut stop: watch::Receiver<bool>) -> Result<(), EngineError> {
        if let Some(bind) = self.opts.ssdp_bind {
            self.announcer = Some(Announcer::bind(bind, self.opts.ssdp_multicast).await?);
        }
        // Resume what a previous run left: takeovers and re-insertions.
        self.reallocate().await;
        let resumed: Vec<String> = self.nvrs.keys().cloned().collect();
        for id in resumed {
            let taken = matches!(self.nvrs[&id].monitor.phase(), Phase::TakenOver { .. });
            if taken {
                log::warn!("{id}: resuming takeover after a restart of the spare");
                self.announce(&id, true);
            } else {
                self.start_reinsert(&id);
            }
        }
        let (tx, mut rx) = mpsc::channel(64);
        let checks = self.spawn_checks(&tx, &stop);
        let mut housekeeping = tokio::time::interval(Duration::from_secs(5));
        self.publish();
        loop {
            tokio::select! {
                _ = stop.changed() => break,
                Some(c) = rx.recv() => self.on_check(c).await,
                _ = housekeeping.tick() => self.housekeeping(),
            }
            self.publish();
        }
        for c in checks {
            c.abort();
        }
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

    async fn on_check(&mut self, c: Checked) {
        let Some(n) = self.nvrs.get_mut(&c.nvr) else { return };
        n.last_check_us = Some(c.at_us);
        n.last_error = match &c.obs {
            Observation::Unreachable { error } => Some(error.clone()),
            Observation::Status(_) => None,
        };
        if matches!(n.monitor.phase(), Phase::TakenOver { .. }) {
            if c.at_us - n.last_failback_eval_us < self.timing.failback_check_interval.as_micros() as i64 {
                return;
            }
            n.last_failback_eval_us = c.at_us;
        }
        let actions = n.monitor.handle(c.at_us, Event::Check(c.obs));
        for a in actions {
            match a {
                Action::SyncConfig => self.sync_config(&c.nvr, c.at_us, c.config.clone()),
                Action::TakeOver { reason } => self.take_over(&c.nvr, c.at_us, reason.to_string()).await,
                Action::HandBack { camera } => self.hand_back(&c.nvr, &camera).await,
                Action::FailbackDone => self.failback_done(&c.nvr).await,
            }
        }
    }

    fn sync_config(&mut self, id: &str, at_us: i64, config: Option<Result<TakeoverConfig, String>>) {
        let Some(n) = self.nvrs.get_mut(id) else { return };
        match config {
            Some(Ok(config)) => {
                let Some(identity) = n.monitor.identity().cloned() else { return };
                let snap = Snapshot { taken_us: at_us, identity, config };
                match self.state.save_snapshot(id, &snap, n.snapshot.as_ref()) {
                    Ok(true) => log::info!("{id}: settings snapshot saved ({} cameras)", snap.config.cameras.len()),
                    Ok(false) => {}
                    Err(e) => log::error!("{id}: saving settings snapshot: {e}"),
                }
                n.snapshot = Some(snap);
                n.config_error = None;
            }
            Some(Err(e)) => {
                if n.config_error.as_deref() != Some(e.as_str()) {
                    log::warn!("{id}: cannot read its settings (keeping the last snapshot): {e}");
                }
                n.config_error = Some(e);
            }
            None => {}
        }
    }

    fn persist(&self) {
        let map: BTreeMap<String, NvrState> = self
            .nvrs
            .iter()
            .map(|(id, n)| {
                (id.clone(), NvrState { phase: n.monitor.phase().clone(), identity: n.monitor.identity().cloned() })
            })
            .collect();
        if let Err(e) = self.state.save_nvrs(&map) {
            log::error!("saving spare state: {e}");
        }
    }

    async fn take_over(&mut self, id: &str, at_us: i64, reason: String) {
        let Some(n) = self.nvrs.get_mut(id) else { return };
        log::warn!("{id}: TAKEOVER: {reason}");
        n.takeovers.push(TakeoverRecord { at_us, reason: reason.clone(), failback_us: None });
        n.handed_back.clear();
        if n.snapshot.is_none() {
            log::error!("{id}: cannot record its cameras: no settings snapshot was ever pulled from it");
        }
        if self.recorders.running(id).is_empty() && n.reinsert.as_ref().is_none_or(|t| t.is_finished()) {
            let root = self.cfg.spare.store.join(id);
            match Store::open(&root, store_config(n.snapshot.as_ref())) {
                Ok(s) => {
                    self.stores.lock().unwrap_or_else(|p| p.into_inner()).insert(id.to_string(), s.clone());
                    n.store = s;
                }
                Err(e) => log::error!("{id}: reopening failover store: {e}"),
            }
        }
        self.reallocate().await;
        self.persist();
        self.announce(id, true);
        self.notify(id, EventKind::Takeover, &reason);
    }

    async fn hand_back(&mut self, id: &str, camera: &str) {
        log::info!("{id}/{camera}: the NVR records it again: handing back");
        self.recorders.stop(id, camera).await;
        if let Some(n) = self.nvrs.get_mut(id) {
            n.handed_back.insert(camera.to_string());
        }
        self.reallocate().await;
        self.persist();
    }

    async fn failback_done(&mut self, id: &str) {
        for cam in self.recorders.running(id) {
            self.recorders.stop(id, &cam).await;
        }
        if let Some(n) = self.nvrs.get_mut(id) {
            log::warn!("{id}: FAILBACK: every camera is recorded by the NVR again");
            n.uncovered.clear();
            if let Some(t) = n.takeovers.last_mut() {
                t.failback_us = Some(now_us());
            }
        }
        self.reallocate().await;
        self.persist();
        self.announce(id, false);
        self.notify(id, EventKind::Failback, "the NVR records its cameras again");
        self.start_reinsert(id);
    }

    fn start_reinsert(&mut self, id: &str) {
        let serial = self.cfg.spare.serial.clone();
        let Some(n) = self.nvrs.get_mut(id) else { return };
        if n.reinsert.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let has_work = n.store.cameras().iter().any(|c| n.store.segments(c).is_ok_and(|s| !s.is_empty()));
        if !has_work {
            return;
        }
        *n.progress.lock().unwrap_or_else(|p| p.into_inner()) = ReinsertProgress::default();
        log::info!("{id}: re-inserting failover video into {}", n.entry.url);
        n.reinsert = Some(tokio::spawn(reinsert::run(
            n.store.clone(),
            n.client.clone(),
            serial,
            id.to_string(),
            n.progress.clone(),
        )));
    }

    /// Records the cameras of every taken-over NVR that the channel licence
    /// covers, by priority; stops the rest.
    async fn reallocate(&mut self) {
        let demands: Vec<Demand> = self
            .nvrs
            .values()
            .filter(|n| matches!(n.monitor.phase(), Phase::TakenOver { .. }))
            .filter_map(|n| {
                let snap = n.snapshot.as_ref()?;
                let cameras =
                    snap.config.cameras.iter().map(|c| c.id.clone()).filter(|c| !n.handed_back.contains(c)).collect();
                Some(Demand { nvr: n.entry.id.clone(), priority: n.entry.priority, cameras })
            })
            .collect();
        let alloc = allocate(&demands, self.capacity.channels);
        // Stop what is no longer covered first, to free channels.
        let running: Vec<(String, String)> = self
            .nvrs
            .keys()
            .flat_map(|id| self.recorders.running(id).into_iter().map(move |c| (id.clone(), c)))
            .collect();
        for (id, cam) in running {
            if !alloc.covered.get(&id).is_some_and(|c| c.contains(&cam)) {
                self.recorders.stop(&id, &cam).await;
            }
        }
        for (id, n) in self.nvrs.iter_mut() {
            n.uncovered = alloc.uncovered.get(id).cloned().unwrap_or_default();
            if !n.uncovered.is_empty() {
                log::warn!("{id}: channel licence exhausted: cameras not covered: {}", n.uncovered.join(", "));
            }
            let (Some(covered), Some(snap)) = (alloc.covered.get(id), n.snapshot.as_ref()) else { continue };
            let mut started = Vec::new();
            for cam in snap.config.cameras.iter().filter(|c| covered.contains(&c.id)) {
                if !self.recorders.is_running(id, &cam.id) {
                    self.recorders.start(id, cam, n.store.clone(), self.opts.recorder.clone());
                    started.push(cam.id.clone());
                }
            }
            if !started.is_empty() {
                n.monitor.handle(now_us(), Event::TookOver { cameras: started });
            }
        }
    }

    fn announce(&mut self, id: &str, on: bool) {
        let (Some(a), Some(n)) = (&self.announcer, self.nvrs.get(id)) else { return };
        let Some(snap) = &n.snapshot else { return };
        if !snap.config.server.upnp {
            return;
        }
        let device = Device {
            name: snap.config.server.name.clone(),
            serial: self.cfg.spare.serial.clone(),
            location: format!(
                "{}://{}/api/v1/upnp/description.xml",
                if self.cfg.tls.insecure { "http" } else { "https" },
                self.cfg.spare.listen
            ),
        };
        if on {
            if let Err(e) = a.add(device) {
                log::error!("{id}: SSDP: {e}");
            }
        } else {
            a.remove(&device.name);
        }
    }

    /// Sends the emails the NVR's event rules (or the spare's own settings) ask for.
    fn notify(&self, id: &str, kind: EventKind, detail: &str) {
        let Some(n) = self.nvrs.get(id) else { return };
        let snap = n.snapshot.as_ref();
        let rules_email =
            snap.is_some_and(|s| s.config.events.iter().any(|r| r.on == kind && r.action == RuleAction::Email));
        let settings = match (rules_email, snap.and_then(|s| s.config.email.clone())) {
            (true, Some(e)) => e,
            _ => match &self.cfg.email {
                Some(e) => e.clone(),
                None => return,
            },
        };
        let name = snap.map(|s| s.config.server.name.clone()).unwrap_or_else(|| id.to_string());
        let cameras = self.recorders.running(id);
        let (subject, body) = match kind {
            EventKind::Failback => {
                let since = n.takeovers.last().map(|t| t.at_us).unwrap_or_else(now_us);
                let since = UNIX_EPOCH + Duration::from_micros(since.max(0) as u64);
                let handed: Vec<String> = n.handed_back.iter().cloned().collect();
                crate::email::failback_message(&name, detail, &handed, since, SystemTime::now())
            }
            _ => crate::email::takeover_message(&name, detail, &cameras, SystemTime::now()),
        };
        let id = id.to_string();
        tokio::spawn(async move {
            match crate::email::send(&settings, &subject, &body).await {
                Ok(()) => log::info!("{id}: email sent to {}", settings.to.join(", ")),
                Err(e) => log::error!("{id}: email not sent: {e}"),
            }
        });
    }

    fn publish(&self) {
        let nvrs = self
            .nvrs
            .values()
            .map(|n| {
                let (phase, reason, since_us, covering) = match n.monitor.phase() {
                    Phase::Watching => ("watching", None, None, Vec::new()),
                    Phase::TakenOver { reason, since_us, covering } => {
                        ("taken_over", Some(reason.to_string()), Some(*since_us), covering.iter().cloned().collect())
                    }
                };
                // First frame recorded here since the takeover began.
                let first_frames =
                    self.recorders
                        .running(&n.entry.id)
                        .into_iter()
                        .map(|c| {
                            let after = since_us.unwrap_or(0);
                            let first = n.store.segments(&c).ok().and_then(|segs| {
                                segs.iter().find(|s| s.start_wall_us >= after).map(|s| s.start_wall_us)
                            });
                            (c, first)
                        })
                        .collect();
                NvrView {
                    id: n.entry.id.clone(),
                    url: n.entry.url.clone(),
                    server_name: n.snapshot.as_ref().map(|s| s.config.server.name.clone()),
                    serial: n.monitor.identity().map(|i: &Identity| i.serial.clone()),
                    phase: phase.to_string(),
                    reason,
                    since_us,
                    misses: n.monitor.misses(),
                    last_check_us: n.last_check_us,
                    last_error: n.last_error.clone(),
                    snapshot_us: n.snapshot.as_ref().map(|s| s.taken_us),
                    recording: self.recorders.running(&n.entry.id),
                    covering,
                    uncovered: n.uncovered.clone(),
                    first_frame_us: first_frames,
                    reinsert: n.progress.lock().unwrap_or_else(|p| p.into_inner()).clone(),
                    takeovers: n.takeovers.clone(),
                }
            })
            .collect();
        let acting = self
            .nvrs
            .values()
            .filter(|n| matches!(n.monitor.phase(), Phase::TakenOver { .. }))
            .filter_map(|n| {
                let snap = n.snapshot.as_ref()?;
                Some(ActingAs {
                    nvr: n.entry.id.clone(),
                    serial: snap.identity.serial.clone(),
                    server_name: snap.config.server.name.clone(),
                    admin_user: snap.config.server.admin_user.clone(),
                    admin_password_hash: snap.config.server.admin_password_hash.clone(),
                })
            })
            .collect();
        *self.acting.lock().unwrap_or_else(|p| p.into_inner()) = acting;
        let mut s = self.shared.lock().unwrap_or_else(|p| p.into_inner());
        *s = SpareStatus {
            name: self.cfg.spare.name.clone(),
            serial: self.cfg.spare.serial.clone(),
            nvrs_licensed: self.capacity.nvrs,
            channels_licensed: self.capacity.channels,
            channels_used: self.nvrs.keys().map(|id| self.recorders.running(id).len() as u16).sum(),
            nvrs,
            fingerprint: self.opts.fingerprint.clone(),
        };
    }

    /// Credentials of the NVRs being stood in for, for the API.
    pub fn admin_hashes(&self) -> Arc<Mutex<Vec<ActingAs>>> {
        self.acting.clone()
    }

    /// Stores per NVR, for the API.
    pub fn stores(&self) -> crate::api::Stores {
        self.stores.clone()
    }
}
