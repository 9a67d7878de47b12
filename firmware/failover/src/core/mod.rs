//! The spare's decisions as a pure state machine: `Core::handle(now_us, input) -> Vec<Effect>`
//! plus [`Core::poll_at`], in the shape of [`Monitor::handle`] (and of smoltcp's
//! `Interface::poll(timestamp)` + `poll_at`). No I/O, no clock reads, no tasks: the runtime
//! ([`crate::engine`]) gathers inputs (check results, re-insertion ends, timers), calls
//! [`Core::handle`] with the time it read, and performs the effects in order (HTTP checks,
//! recorders, stores, emails, SSDP, state files). Tested in simulated time (`tests/`).
//!
//! What it owns: when each NVR is checked; one [`Monitor`] per NVR (takeover and failback
//! verdicts, the failback interval); the settings snapshots; which cameras are recorded
//! (channels given by NVR priority, [`crate::capacity`]); when a store is reopened; which
//! email rule applies; what to announce; when re-insertion starts; what is persisted.
//!
//! Several spares (N+M), later: a takeover becomes a claim. The monitor's verdict would emit
//! `Effect::Claim { nvr, lease_until }` (sent to the peer spares) instead of starting recorders
//! at once; `Input::ClaimGranted` / `Input::PeerClaim { nvr, peer, lease_until }` decide who
//! records, `poll_at` also returns the next lease renewal (`Effect::RenewLease`), and a lost
//! lease stops the recorders (`StopReason::LeaseLost`). The recorder set stays the core's, so
//! the invariants checked by the tests carry over.

mod actions;
mod effects;
mod inputs;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hotspare_api::spare::TakeoverRecord;
use hotspare_store::StoreConfig;

pub use effects::{Effect, StopReason};
pub use inputs::{CoreConfig, Input, NvrSpec, Restored};

use hotspare_api::TakeoverConfig;

use crate::monitor::{Action, Event, Monitor, Observation, Phase};
use crate::state::{NvrState, Snapshot};

/// Store settings from an NVR's recording settings (defaults without a snapshot).
pub fn store_config(snap: Option<&Snapshot>) -> StoreConfig {
    let mut c = StoreConfig::default();
    if let Some(s) = snap {
        let r = &s.config.recording;
        c.segment_duration = Duration::from_secs(r.segment_seconds.clamp(1, 3600) as u64);
        c.high_water_percent = r.high_water_percent.clamp(1, 99);
        c.max_age = r.retention_days.map(|d| Duration::from_secs(d as u64 * 86_400));
    }
    c
}

/// What the core knows of one NVR.
#[derive(Clone, Debug)]
pub struct NvrCore {
    spec: NvrSpec,
    monitor: Monitor,
    snapshot: Option<Snapshot>,
    /// Cameras the NVR records again during the current takeover.
    handed_back: BTreeSet<String>,
    /// Cameras of the current takeover the channel licence does not cover.
    uncovered: Vec<String>,
    takeovers: Vec<TakeoverRecord>,
    reinserting: bool,
    check_in_flight: bool,
    next_check_us: Option<i64>,
    last_check_us: Option<i64>,
    last_error: Option<String>,
    config_error: Option<String>,
    /// The takeover refused while takeovers are blocked (logged once per blocking).
    refused: Option<String>,
}

impl NvrCore {
    pub fn id(&self) -> &str {
        &self.spec.id
    }
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }
    pub fn snapshot(&self) -> Option<&Snapshot> {
        self.snapshot.as_ref()
    }
    pub fn is_taken_over(&self) -> bool {
        matches!(self.monitor.phase(), Phase::TakenOver { .. })
    }
    pub fn handed_back(&self) -> &BTreeSet<String> {
        &self.handed_back
    }
    pub fn uncovered(&self) -> &[String] {
        &self.uncovered
    }
    pub fn takeovers(&self) -> &[TakeoverRecord] {
        &self.takeovers
    }
    pub fn reinserting(&self) -> bool {
        self.reinserting
    }
    pub fn last_check_us(&self) -> Option<i64> {
        self.last_check_us
    }
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }
    /// The takeover refused now because takeovers are blocked, if any.
    pub fn refused(&self) -> Option<&str> {
        self.refused.as_deref()
    }
}

/// The spare's decision core.
#[derive(Clone, Debug)]
pub struct Core {
    cfg: CoreConfig,
    nvrs: BTreeMap<String, NvrCore>,
    /// Cameras recorded on the spare, (NVR id, camera id): what the effects started.
    recording: BTreeSet<(String, String)>,
    started: bool,
    /// Why new takeovers are refused now (the supervisor's reason); `None`: allowed.
    takeovers_blocked: Option<String>,
}

impl Core {
    /// A core resuming what a previous run left (`restored`, by NVR id; empty on a first start).
    pub fn new(cfg: CoreConfig, mut restored: BTreeMap<String, Restored>) -> Core {
        let mut nvrs = BTreeMap::new();
        for spec in &cfg.nvrs {
            let Restored { state, snapshot } = restored.remove(&spec.id).unwrap_or_default();
            let monitor = match state {
                Some(s) => Monitor::resume(cfg.timing, s.phase, s.identity),
                None => Monitor::resume(cfg.timing, Phase::Watching, snapshot.as_ref().map(|s| s.identity.clone())),
            };
            // A takeover resumed after a restart keeps its record (status, failback email).
            let takeovers = match monitor.phase() {
                Phase::TakenOver { reason, since_us, .. } => {
                    vec![TakeoverRecord { at_us: *since_us, reason: reason.to_string(), failback_us: None }]
                }
                Phase::Watching => Vec::new(),
            };
            // Cameras already back on the NVR stay its own after a restart.
            let handed_back = match monitor.phase() {
                Phase::TakenOver { handed_back, .. } => handed_back.clone(),
                Phase::Watching => BTreeSet::new(),
            };
            let n = NvrCore {
                spec: spec.clone(),
                monitor,
                snapshot,
                handed_back,
                uncovered: Vec::new(),
                takeovers,
                reinserting: false,
                check_in_flight: false,
                next_check_us: None,
                last_check_us: None,
                last_error: None,
                config_error: None,
                refused: None,
            };
            nvrs.insert(spec.id.clone(), n);
        }
        Core { cfg, nvrs, recording: BTreeSet::new(), started: false, takeovers_blocked: None }
    }

    pub fn nvrs(&self) -> impl Iterator<Item = &NvrCore> {
        self.nvrs.values()
    }
    pub fn nvr(&self, id: &str) -> Option<&NvrCore> {
        self.nvrs.get(id)
    }
    /// Cameras of `nvr` recorded on the spare.
    pub fn recording(&self, nvr: &str) -> Vec<String> {
        self.recording.iter().filter(|(n, _)| n == nvr).map(|(_, c)| c.clone()).collect()
    }
    /// Channels in use (cameras recorded on the spare).
    pub fn channels_used(&self) -> u16 {
        self.recording.len() as u16
    }
    pub fn config(&self) -> &CoreConfig {
        &self.cfg
    }
    /// Why new takeovers are refused now; `None`: allowed.
    pub fn takeovers_blocked(&self) -> Option<&str> {
        self.takeovers_blocked.as_deref()
    }

    /// The phase of every NVR, as persisted.
    pub fn persisted(&self) -> BTreeMap<String, NvrState> {
        self.nvrs
            .iter()
            .map(|(id, n)| {
                (id.clone(), NvrState { phase: n.monitor.phase().clone(), identity: n.monitor.identity().cloned() })
            })
            .collect()
    }

    /// When the core wants [`Input::Tick`] next (µs since the epoch); `None`: only on an input.
    pub fn poll_at(&self) -> Option<i64> {
        if !self.started {
            return None;
        }
        self.nvrs.values().filter(|n| !n.check_in_flight).filter_map(|n| n.next_check_us).min()
    }

    /// Takes one input at `now_us`; returns what to do, in order.
    pub fn handle(&mut self, now_us: i64, input: Input) -> Vec<Effect> {
        let mut fx = Vec::new();
        match input {
            Input::Started => {
                if !self.started {
                    self.start(now_us, &mut fx);
                }
            }
            Input::Checked { nvr, obs, config } => {
                if let Some(n) = self.nvrs.get_mut(&nvr) {
                    n.check_in_flight = false;
                }
                self.checked(now_us, &nvr, obs, config, &mut fx);
            }
            Input::ReinsertEnded { nvr } => {
                if let Some(n) = self.nvrs.get_mut(&nvr) {
                    n.reinserting = false;
                }
            }
            Input::Takeovers { blocked } => {
                if blocked != self.takeovers_blocked {
                    match &blocked {
                        Some(why) => log::warn!("takeovers not allowed by the supervisor: {why}"),
                        None => log::info!("takeovers allowed again by the supervisor"),
                    }
                    for n in self.nvrs.values_mut() {
                        n.refused = None;
                    }
                }
                self.takeovers_blocked = blocked;
            }
            Input::Tick => {}
        }
        self.schedule_checks(now_us, &mut fx);
        fx
    }

    /// Resumes what a previous run left: takeovers (recorders, SSDP) and re-insertions.
    fn start(&mut self, now_us: i64, fx: &mut Vec<Effect>) {
        self.started = true;
        self.reallocate(now_us, fx);
        let ids: Vec<String> = self.nvrs.keys().cloned().collect();
        for id in ids {
            if self.nvrs[&id].is_taken_over() {
                log::warn!("{id}: resuming takeover after a restart of the spare");
                self.announce(&id, true, fx);
            } else {
                self.start_reinsert(&id, fx);
            }
            if let Some(n) = self.nvrs.get_mut(&id) {
                n.next_check_us = Some(now_us);
            }
        }
    }

    /// Asks for the checks that are due: one per `check_interval` per NVR, never two at once
    /// (a check answered late is followed by the next at once).
    fn schedule_checks(&mut self, now_us: i64, fx: &mut Vec<Effect>) {
        let interval = self.cfg.timing.check_interval.as_micros() as i64;
        for (id, n) in self.nvrs.iter_mut() {
            if n.check_in_flight || n.next_check_us.is_none_or(|t| t > now_us) {
                continue;
            }
            n.check_in_flight = true;
            n.next_check_us = Some(now_us + interval);
            fx.push(Effect::Check { nvr: id.clone() });
        }
    }

    fn checked(
        &mut self,
        now_us: i64,
        id: &str,
        obs: Observation,
        mut config: Option<Result<Box<TakeoverConfig>, String>>,
        fx: &mut Vec<Effect>,
    ) {
        let blocked = self.takeovers_blocked.clone();
        let Some(n) = self.nvrs.get_mut(id) else { return };
        let was_watching = !n.is_taken_over();
        n.last_check_us = Some(now_us);
        n.last_error = match &obs {
            Observation::Unreachable { error } => Some(error.clone()),
            Observation::Status(_) => None,
        };
        let actions = n.monitor.handle(now_us, Event::Check(obs));
        // Hand-backs of one check are done together, then the freed channels reallocated once
        // (so a channel is not given to a camera handed back by the same check).
        let mut handed_back = false;
        for a in actions {
            if handed_back && !matches!(a, Action::HandBack { .. }) {
                self.after_hand_back(now_us, fx);
                handed_back = false;
            }
            match a {
                Action::SyncConfig => self.sync_config(now_us, id, config.take(), fx),
                Action::TakeOver { reason } => match (&blocked, was_watching) {
                    (Some(why), true) => self.refuse(id, &reason.to_string(), why),
                    _ => self.take_over(now_us, id, reason.to_string(), fx),
                },
                Action::HandBack { camera } => {
                    self.hand_back(id, &camera, fx);
                    handed_back = true;
                }
                Action::FailbackDone => self.failback_done(now_us, id, fx),
            }
        }
        if handed_back {
            self.after_hand_back(now_us, fx);
        }
    }

    /// A new takeover while the supervisor forbids them: the NVR stays watched, the refusal
    /// is logged once (until takeovers are allowed again) and shown in the status.
    fn refuse(&mut self, id: &str, reason: &str, why: &str) {
        let Some(n) = self.nvrs.get_mut(id) else { return };
        n.monitor.refuse_takeover();
        if n.refused.is_none() {
            log::error!("{id}: would take over ({reason}) but takeovers are not allowed: {why}");
        }
        n.refused = Some(reason.to_string());
    }
}
