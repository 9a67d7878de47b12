//! What the core does on each monitor verdict: settings sync, takeover, hand-back, failback,
//! and the channel allocation, SSDP and email decisions they lead to. Effects only.

use std::time::{Duration, UNIX_EPOCH};

use hotspare_api::spare::TakeoverRecord;
use hotspare_api::{Action as RuleAction, EventKind, TakeoverConfig};

use super::{store_config, Core, Effect, StopReason};
use crate::capacity::{allocate, Demand};
use crate::monitor::Event;
use crate::state::Snapshot;

fn system_time(us: i64) -> std::time::SystemTime {
    UNIX_EPOCH + Duration::from_micros(us.max(0) as u64)
}

impl Core {
    /// Keeps the NVR's settings (written when they changed) or notes why they could not be read.
    pub(super) fn sync_config(
        &mut self,
        now_us: i64,
        id: &str,
        config: Option<Result<Box<TakeoverConfig>, String>>,
        fx: &mut Vec<Effect>,
    ) {
        let Some(n) = self.nvrs.get_mut(id) else { return };
        match config {
            Some(Ok(config)) => {
                let Some(identity) = n.monitor.identity().cloned() else { return };
                let snap = Snapshot { taken_us: now_us, identity, config: *config };
                let unchanged =
                    n.snapshot.as_ref().is_some_and(|p| p.config == snap.config && p.identity == snap.identity);
                if !unchanged {
                    fx.push(Effect::SaveSnapshot { nvr: id.to_string(), snapshot: Box::new(snap.clone()) });
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

    pub(super) fn take_over(&mut self, now_us: i64, id: &str, reason: String, fx: &mut Vec<Effect>) {
        let recording_any = !self.recording(id).is_empty();
        let Some(n) = self.nvrs.get_mut(id) else { return };
        log::warn!("{id}: TAKEOVER: {reason}");
        n.takeovers.push(TakeoverRecord { at_us: now_us, reason: reason.clone(), failback_us: None });
        n.handed_back.clear();
        if n.snapshot.is_none() {
            log::error!("{id}: cannot record its cameras: no settings snapshot was ever pulled from it");
        }
        // The NVR's current recording settings apply, unless the store is in use.
        if !recording_any && !n.reinserting {
            fx.push(Effect::ReopenStore { nvr: id.to_string(), config: store_config(n.snapshot.as_ref()) });
        }
        self.reallocate(now_us, fx);
        fx.push(Effect::SaveState { nvrs: self.persisted() });
        self.announce(id, true, fx);
        self.notify(now_us, id, EventKind::Takeover, &reason, fx);
    }

    /// The NVR records `camera` again: stop recording it here ([`Self::after_hand_back`] follows).
    pub(super) fn hand_back(&mut self, id: &str, camera: &str, fx: &mut Vec<Effect>) {
        log::info!("{id}/{camera}: the NVR records it again: handing back");
        self.stop(id, camera, StopReason::HandBack, fx);
        if let Some(n) = self.nvrs.get_mut(id) {
            n.handed_back.insert(camera.to_string());
        }
    }

    /// After the hand-backs of one check: the freed channels go to uncovered cameras.
    pub(super) fn after_hand_back(&mut self, now_us: i64, fx: &mut Vec<Effect>) {
        self.reallocate(now_us, fx);
        fx.push(Effect::SaveState { nvrs: self.persisted() });
    }

    pub(super) fn failback_done(&mut self, now_us: i64, id: &str, fx: &mut Vec<Effect>) {
        for cam in self.recording(id) {
            self.stop(id, &cam, StopReason::Failback, fx);
        }
        if let Some(n) = self.nvrs.get_mut(id) {
            log::warn!("{id}: FAILBACK: every camera is recorded by the NVR again");
            n.uncovered.clear();
            // Every open record ends here (an NVR that failed again mid-failback has two).
            for t in n.takeovers.iter_mut().filter(|t| t.failback_us.is_none()) {
                t.failback_us = Some(now_us);
            }
        }
        self.reallocate(now_us, fx);
        fx.push(Effect::SaveState { nvrs: self.persisted() });
        self.announce(id, false, fx);
        self.notify(now_us, id, EventKind::Failback, "the NVR records its cameras again", fx);
        self.start_reinsert(id, fx);
    }

    pub(super) fn start_reinsert(&mut self, id: &str, fx: &mut Vec<Effect>) {
        let Some(n) = self.nvrs.get_mut(id) else { return };
        if n.reinserting {
            return;
        }
        n.reinserting = true;
        fx.push(Effect::StartReinsert { nvr: id.to_string() });
    }

    fn stop(&mut self, id: &str, camera: &str, why: StopReason, fx: &mut Vec<Effect>) {
        if self.recording.remove(&(id.to_string(), camera.to_string())) {
            fx.push(Effect::StopRecorder { nvr: id.to_string(), camera: camera.to_string(), why });
        }
    }

    /// Records the cameras of every taken-over NVR that the channel licence covers, by
    /// priority; stops the rest (first, to free channels).
    pub(super) fn reallocate(&mut self, now_us: i64, fx: &mut Vec<Effect>) {
        let demands: Vec<Demand> = self
            .nvrs
            .values()
            .filter(|n| n.is_taken_over())
            .filter_map(|n| {
                let snap = n.snapshot.as_ref()?;
                let cameras =
                    snap.config.cameras.iter().map(|c| c.id.clone()).filter(|c| !n.handed_back.contains(c)).collect();
                Some(Demand { nvr: n.spec.id.clone(), priority: n.spec.priority, cameras })
            })
            .collect();
        let alloc = allocate(&demands, self.cfg.channels);
        let running: Vec<(String, String)> = self.recording.iter().cloned().collect();
        for (id, cam) in running {
            if !alloc.covered.get(&id).is_some_and(|c| c.contains(&cam)) {
                self.stop(&id, &cam, StopReason::Reallocated, fx);
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
                if self.recording.insert((id.clone(), cam.id.clone())) {
                    fx.push(Effect::StartRecorder { nvr: id.clone(), camera: cam.clone() });
                    started.push(cam.id.clone());
                }
            }
            if !started.is_empty() {
                n.monitor.handle(now_us, Event::TookOver { cameras: started });
            }
        }
    }

    /// Announces (or withdraws) the NVR's name over SSDP when its settings enable UPnP.
    pub(super) fn announce(&self, id: &str, on: bool, fx: &mut Vec<Effect>) {
        let Some(snap) = self.nvrs.get(id).and_then(|n| n.snapshot.as_ref()) else { return };
        if !snap.config.server.upnp {
            return;
        }
        let (nvr, name) = (id.to_string(), snap.config.server.name.clone());
        fx.push(if on { Effect::Announce { nvr, name } } else { Effect::Withdraw { nvr, name } });
    }

    /// The email the NVR's event rules (or else the spare's own `[email]`) ask for.
    fn notify(&self, now_us: i64, id: &str, kind: EventKind, detail: &str, fx: &mut Vec<Effect>) {
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
        let (subject, body) = match kind {
            EventKind::Failback => {
                let since = n.takeovers.last().map(|t| t.at_us).unwrap_or(now_us);
                let handed: Vec<String> = n.handed_back.iter().cloned().collect();
                crate::email::failback_message(&name, detail, &handed, system_time(since), system_time(now_us))
            }
            _ => crate::email::takeover_message(&name, detail, &self.recording(id), system_time(now_us)),
        };
        fx.push(Effect::Email { nvr: id.to_string(), settings, subject, body });
    }
}
