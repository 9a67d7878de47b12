//! A simulated site for the core: NVR models answering checks, a spare runtime that performs
//! the effects on plain sets (recorders, disk, SSDP, mail, re-insertion), simulated time, and
//! the invariants checked after every step. No sockets, no clock.

use std::collections::{BTreeMap, BTreeSet};

pub use super::nvr_model::{email_settings, Mode, SimNvr};

use crate::core::{Core, CoreConfig, Effect, Input, NvrSpec, Restored, StopReason};
use crate::monitor::{Phase, Timing};
use crate::state::{NvrState, Snapshot};

pub const S: i64 = 1_000_000;
/// Simulated time of the first step (a plausible wall clock).
pub const T0: i64 = 1_700_000_000 * S;
/// How long a re-insertion takes in the simulation.
pub const REINSERT_US: i64 = 5 * S;

/// What the simulated spare wrote to disk (survives a restart).
#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub state: BTreeMap<String, NvrState>,
    pub snapshots: BTreeMap<String, Snapshot>,
}

/// The core and everything around it.
pub struct Sim {
    pub now: i64,
    pub cfg: CoreConfig,
    pub core: Core,
    pub nvrs: BTreeMap<String, SimNvr>,
    /// Recorders running on the spare.
    pub recorders: BTreeSet<(String, String)>,
    /// Seconds of video held on the spare per NVR (recorded, not yet re-inserted).
    pub held: BTreeMap<String, i64>,
    /// Running re-insertions: NVR → when they end.
    pub reinserts: BTreeMap<String, i64>,
    pub disk: Disk,
    pub announced: BTreeSet<String>,
    /// Every effect but checks, with its time.
    pub log: Vec<(i64, Effect)>,
    /// Per (NVR, takeover start): when each failback evaluation handed something back.
    handback_times: BTreeMap<(String, i64), Vec<i64>>,
    /// When takeovers were last allowed again by the supervisor (0: never forbidden).
    allowed_since: i64,
}

impl Sim {
    /// `nvrs`: (id, priority, cameras).
    pub fn new(timing: Timing, channels: u16, nvrs: &[(&str, u32, usize)]) -> Sim {
        let cfg = CoreConfig {
            timing,
            channels,
            nvrs: nvrs.iter().map(|(id, p, _)| NvrSpec { id: id.to_string(), priority: *p }).collect(),
            email: Some(email_settings("spare-admin@site")),
        };
        let mut sim = Sim {
            now: T0,
            core: Core::new(cfg.clone(), BTreeMap::new()),
            cfg,
            nvrs: nvrs.iter().map(|(id, _, c)| (id.to_string(), SimNvr::new(*c))).collect(),
            recorders: BTreeSet::new(),
            held: BTreeMap::new(),
            reinserts: BTreeMap::new(),
            disk: Disk::default(),
            announced: BTreeSet::new(),
            log: Vec::new(),
            handback_times: BTreeMap::new(),
            allowed_since: 0,
        };
        sim.input(Input::Started);
        sim
    }

    /// Feeds one input at the current time, performs the effects (answering checks at once).
    pub fn input(&mut self, input: Input) {
        if input == (Input::Takeovers { blocked: None }) && self.core.takeovers_blocked().is_some() {
            self.allowed_since = self.now;
        }
        let mut queue = vec![input];
        while !queue.is_empty() {
            let input = queue.remove(0);
            for e in self.core.handle(self.now, input) {
                self.perform(&e, &mut queue);
                if !matches!(e, Effect::Check { .. }) {
                    self.log.push((self.now, e));
                }
            }
        }
        self.check_invariants();
    }

    fn perform(&mut self, e: &Effect, queue: &mut Vec<Input>) {
        match e {
            Effect::Check { nvr } => {
                let (obs, config) = self.nvrs.get_mut(nvr).expect("known NVR").answer(nvr, self.now);
                queue.push(Input::Checked { nvr: nvr.clone(), obs, config });
            }
            Effect::SaveSnapshot { nvr, snapshot } => {
                self.disk.snapshots.insert(nvr.clone(), (**snapshot).clone());
            }
            Effect::SaveState { nvrs } => {
                for (id, st) in nvrs {
                    let Phase::TakenOver { since_us, .. } = &st.phase else { continue };
                    if *since_us == self.now {
                        let mode = self.nvrs[id].mode;
                        assert_ne!(mode, Mode::Healthy, "{id}: a healthy NVR taken over");
                    }
                }
                self.disk.state = nvrs.clone();
            }
            Effect::ReopenStore { nvr, .. } => {
                assert!(!self.recorders.iter().any(|(n, _)| n == nvr), "{nvr}: store reopened while recording");
                assert!(!self.reinserts.contains_key(nvr), "{nvr}: store reopened while re-inserting");
            }
            Effect::StartRecorder { nvr, camera } => {
                let fresh = self.recorders.insert((nvr.clone(), camera.id.clone()));
                assert!(fresh, "{nvr}/{}: two recorders for one camera", camera.id);
                assert!(self.recorders.len() <= self.cfg.channels as usize, "more recorders than channels");
            }
            Effect::StopRecorder { nvr, camera, why } => {
                assert!(self.recorders.remove(&(nvr.clone(), camera.clone())), "{nvr}/{camera}: stop of a stopped one");
                let takeover = self.core.nvr(nvr).and_then(|n| n.takeovers().last()).map_or(0, |t| t.at_us);
                if *why == StopReason::HandBack {
                    self.handback_times.entry((nvr.clone(), takeover)).or_default().push(self.now);
                }
            }
            Effect::Announce { name, .. } => {
                self.announced.insert(name.clone());
            }
            Effect::Withdraw { name, .. } => {
                self.announced.remove(name);
            }
            Effect::Email { .. } => {}
            Effect::StartReinsert { nvr } => {
                assert!(!self.reinserts.contains_key(nvr), "{nvr}: two re-insertions at once");
                if self.held.get(nvr).copied().unwrap_or(0) > 0 {
                    self.reinserts.insert(nvr.clone(), self.now + REINSERT_US);
                } else {
                    queue.push(Input::ReinsertEnded { nvr: nvr.clone() });
                }
            }
        }
    }

    /// Runs until `until`: the core's timers, re-insertions ending, video held per second.
    pub fn run_until(&mut self, until: i64) {
        loop {
            let next_reinsert = self.reinserts.values().min().copied();
            let next = [self.core.poll_at(), next_reinsert].into_iter().flatten().min();
            let Some(next) = next.filter(|&t| t <= until) else { break };
            self.advance(next);
            let ended: Vec<String> =
                self.reinserts.iter().filter(|(_, &t)| t <= self.now).map(|(n, _)| n.clone()).collect();
            for nvr in ended {
                self.reinserts.remove(&nvr);
                self.held.insert(nvr.clone(), 0);
                self.input(Input::ReinsertEnded { nvr });
            }
            if self.core.poll_at().is_some_and(|t| t <= self.now) {
                self.input(Input::Tick);
            }
        }
        self.advance(until);
    }

    pub fn run_for(&mut self, us: i64) {
        self.run_until(self.now + us);
    }

    fn advance(&mut self, to: i64) {
        if to > self.now {
            for (nvr, _) in &self.recorders {
                *self.held.entry(nvr.clone()).or_default() += (to - self.now).max(1);
            }
            self.now = to;
        }
    }

    /// Changes what an NVR does from now on.
    pub fn set_mode(&mut self, nvr: &str, mode: Mode) {
        let now = self.now;
        let n = self.nvrs.get_mut(nvr).expect("known NVR");
        if matches!(mode, Mode::Healthy | Mode::Flapping) && n.mode != mode {
            n.healthy_since = now;
        }
        n.down_since = match (mode, n.down_since) {
            (Mode::Down, Some(t)) => Some(t),
            (Mode::Down, None) => Some(now),
            _ => None,
        };
        n.mode = mode;
    }

    /// The spare restarts: recorders and re-insertions end, a new core resumes from the disk.
    pub fn restart_spare(&mut self) {
        self.recorders.clear();
        self.reinserts.clear();
        self.announced.clear();
        self.handback_times.clear();
        let now = self.now;
        for n in self.nvrs.values_mut() {
            // A new spare starts counting missed checks afresh.
            n.down_since = n.down_since.map(|_| now);
        }
        let restored = self
            .cfg
            .nvrs
            .iter()
            .map(|s| {
                let r = Restored {
                    state: self.disk.state.get(&s.id).cloned(),
                    snapshot: self.disk.snapshots.get(&s.id).cloned(),
                };
                (s.id.clone(), r)
            })
            .collect();
        self.core = Core::new(self.cfg.clone(), restored);
        self.input(Input::Started);
    }

    pub fn taken_over(&self, nvr: &str) -> bool {
        self.core.nvr(nvr).is_some_and(|n| n.is_taken_over())
    }

    pub fn recording(&self, nvr: &str) -> Vec<String> {
        self.recorders.iter().filter(|(n, _)| n == nvr).map(|(_, c)| c.clone()).collect()
    }

    /// Effects logged since `from` (µs).
    pub fn effects_since(&self, from: i64) -> Vec<&Effect> {
        self.log.iter().filter(|(t, _)| *t >= from).map(|(_, e)| e).collect()
    }

    /// Checked after every step.
    fn check_invariants(&self) {
        let core_rec: BTreeSet<(String, String)> = self
            .cfg
            .nvrs
            .iter()
            .flat_map(|s| self.core.recording(&s.id).into_iter().map(|c| (s.id.clone(), c)))
            .collect();
        assert_eq!(core_rec, self.recorders, "the core's recorders are the running ones");
        let full = self.recorders.len() == self.cfg.channels as usize;
        let checks = self.cfg.timing.failures_to_takeover as i64 + 1;
        let detect = self.cfg.timing.check_interval.as_micros() as i64 * checks;
        // Failing again while taken over is seen at the failback checks' pace.
        let detect_again = self.cfg.timing.failback_check_interval.as_micros() as i64 * checks;
        for (id, sim) in &self.nvrs {
            let n = self.core.nvr(id).expect("core knows every NVR");
            // A camera is never recorded by nobody while its NVR is down and channels are left
            // (cameras the NVR recorded again in this takeover are its own until the spare has
            // had the time to see the NVR fail again).
            // While the supervisor forbids takeovers, none is required; once allowed again, the
            // detection time counts from then (the misses are kept, so it is at most as long).
            let down_since = sim.down_since.map(|t| t.max(self.allowed_since));
            let forbidden = self.core.takeovers_blocked().is_some() && !n.is_taken_over();
            if let Some(t) = down_since.filter(|t| self.now >= t + detect && !forbidden) {
                assert!(n.is_taken_over(), "{id}: down since {:?}, not taken over", sim.down_since);
                let seen_again = self.now >= t + detect.max(detect_again);
                for cam in (0..sim.cameras).map(|i| format!("cam{i}")) {
                    let ok = self.recorders.contains(&(id.clone(), cam.clone()))
                        || (n.handed_back().contains(&cam) && !seen_again)
                        || full;
                    assert!(ok, "{id}/{cam}: down, channels left, recorded by nobody");
                }
            }
            if let Phase::TakenOver { covering, .. } = n.monitor().phase() {
                for cam in covering {
                    assert!(!n.handed_back().contains(cam), "{id}/{cam}: covered and handed back");
                }
                for cam in n.uncovered() {
                    assert!(full, "{id}/{cam}: left uncovered with channels free");
                }
            } else {
                assert!(self.recording(id).is_empty(), "{id}: recorded on the spare while watching");
            }
        }
        // Failback decisions at most once per failback interval (within one takeover).
        let interval = self.cfg.timing.failback_check_interval.as_micros() as i64;
        for ((id, _), times) in &self.handback_times {
            for w in times.windows(2).filter(|w| w[0] != w[1]) {
                assert!(w[1] - w[0] >= interval, "{id}: hand-backs {} µs apart", w[1] - w[0]);
            }
        }
    }
}
