//! Per-NVR decisions: when to take over and when to fail back.
//!
//! A plain state machine, `Monitor::handle(now_us, event) -> Vec<Action>`,
//! with no sockets and no clocks, so the vendor behaviour is tested
//! deterministically:
//! - status checked every `check_interval`; takeover after
//!   `failures_to_takeover` consecutive unanswered checks (network
//!   disconnection); one missed check (a flap) does nothing;
//! - recording health evaluated every `recording_check_interval`: takeover
//!   when the HDD failed, recycling fails, or no camera is recorded —
//!   except a degraded RAID that still records (fault tolerance working);
//! - once taken over, checks are evaluated every `failback_check_interval`
//!   (checks in between are ignored; this is the one place that interval is
//!   enforced): when the NVR answers as the same server (or reports a new HDD), its volume works and
//!   it records a camera again, that camera is handed back; when all are,
//!   failback is done and re-insertion starts. An NVR that fails again
//!   (unanswered checks, volume or recycling) while some of its cameras are
//!   already handed back is taken over again, so those cameras are not left
//!   to nobody.

use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use hotspare_api::{DiskState, NvrStatus};
use serde::{Deserialize, Serialize};

/// Check timing of one NVR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub check_interval: Duration,
    pub failures_to_takeover: u32,
    pub recording_check_interval: Duration,
    pub failback_check_interval: Duration,
}

impl Timing {
    /// The vendor defaults: 30 s × 3, recording every minute, failback every minute.
    pub fn default_profile() -> Self {
        Timing {
            check_interval: Duration::from_secs(30),
            failures_to_takeover: 3,
            recording_check_interval: Duration::from_secs(60),
            failback_check_interval: Duration::from_secs(60),
        }
    }
    /// For tests and demanding sites: 1 s × 3.
    pub fn fast_profile() -> Self {
        Timing {
            check_interval: Duration::from_secs(1),
            failures_to_takeover: 3,
            recording_check_interval: Duration::from_secs(1),
            failback_check_interval: Duration::from_secs(2),
        }
    }
}

/// Why an NVR was taken over: the four situations of the vendor documents.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reason {
    /// No answer to `checks` consecutive status checks.
    NetworkDisconnection { checks: u32, error: String },
    /// Answers but records none of its cameras.
    NotRecording { cameras: u32 },
    /// Retention cannot free space.
    RecycleFailure { detail: String },
    /// The recording volume failed (not writable, RAID failed).
    HddFailure { detail: String },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::NetworkDisconnection { checks, error } => {
                write!(f, "network disconnection: no answer to {checks} checks in a row ({error})")
            }
            Reason::NotRecording { cameras } => {
                write!(f, "connected but not recording: 0 of {cameras} cameras recording")
            }
            Reason::RecycleFailure { detail } => write!(f, "fails to recycle video files: {detail}"),
            Reason::HddFailure { detail } => write!(f, "HDD failed: {detail}"),
        }
    }
}

/// What a status check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Observation {
    Unreachable { error: String },
    Status(Box<NvrStatus>),
}

/// Inputs of the state machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Check(Observation),
    /// The engine started recording these cameras for a takeover.
    TookOver {
        cameras: Vec<String>,
    },
}

/// Outputs: what the engine must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The NVR answered while watched: pull and keep its settings.
    SyncConfig,
    TakeOver {
        reason: Reason,
    },
    /// The NVR records this camera again: stop recording it here.
    HandBack {
        camera: String,
    },
    /// Every camera is handed back: re-insert the failover video.
    FailbackDone,
}

/// Who the NVR was when last seen healthy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Identity {
    pub serial: String,
    pub server_name: String,
    pub disk_generation: String,
}

impl Identity {
    pub fn of(s: &NvrStatus) -> Self {
        Identity {
            serial: s.serial.clone(),
            server_name: s.server_name.clone(),
            disk_generation: s.storage.disk_generation.clone(),
        }
    }
}

/// Where the monitor stands; persisted so a restarted spare carries on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    Watching,
    TakenOver {
        reason: Reason,
        since_us: i64,
        covering: BTreeSet<String>,
        /// Cameras the NVR records again during this takeover (handed back). Should the NVR
        /// fail again before every camera is back, the takeover starts again and these are
        /// recorded here again. (Absent in state files of older firmware: empty.)
        #[serde(default)]
        handed_back: BTreeSet<String>,
    },
}

/// The monitor of one NVR.
#[derive(Clone, Debug)]
pub struct Monitor {
    timing: Timing,
    phase: Phase,
    misses: u32,
    last_recording_check_us: Option<i64>,
    /// Last check evaluated for failback (taken over only).
    last_failback_check_us: Option<i64>,
    identity: Option<Identity>,
}

/// An NVR whose API process started less than this long ago and records no
/// camera yet is starting (its recorder is still connecting to the cameras),
/// not failed: "connected but not recording" waits until it has been up this
/// long. Volume and recycling failures count at once.
pub const STARTUP_GRACE_S: u64 = 10;

/// The reason to take over, if the status shows one.
pub fn recording_failure(s: &NvrStatus) -> Option<Reason> {
    if !s.storage.writable || s.storage.state == DiskState::Failed {
        let detail =
            if s.storage.detail.is_empty() { "recording volume failed".to_string() } else { s.storage.detail.clone() };
        return Some(Reason::HddFailure { detail });
    }
    if s.recycling.failing {
        return Some(Reason::RecycleFailure { detail: s.recycling.reason.clone() });
    }
    // A degraded RAID that still records is fault tolerance doing its job.
    if !s.cameras.is_empty() && !s.cameras.iter().any(|c| c.recording) {
        return Some(Reason::NotRecording { cameras: s.cameras.len() as u32 });
    }
    None
}

impl Monitor {
    pub fn new(timing: Timing) -> Self {
        Monitor::resume(timing, Phase::Watching, None)
    }

    /// A monitor resuming from persisted state.
    pub fn resume(timing: Timing, phase: Phase, identity: Option<Identity>) -> Self {
        Monitor { timing, phase, misses: 0, last_recording_check_us: None, last_failback_check_us: None, identity }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }
    pub fn identity(&self) -> Option<&Identity> {
        self.identity.as_ref()
    }
    /// Consecutive unanswered checks so far.
    pub fn misses(&self) -> u32 {
        self.misses
    }

    /// When to check next.
    pub fn next_check_in(&self) -> Duration {
        match self.phase {
            Phase::Watching => self.timing.check_interval,
            Phase::TakenOver { .. } => self.timing.failback_check_interval,
        }
    }

    pub fn handle(&mut self, now_us: i64, event: Event) -> Vec<Action> {
        match event {
            Event::TookOver { cameras } => {
                if let Phase::TakenOver { covering, .. } = &mut self.phase {
                    covering.extend(cameras);
                }
                Vec::new()
            }
            Event::Check(obs) => match self.phase {
                Phase::Watching => self.watching(now_us, obs),
                Phase::TakenOver { .. } => {
                    let interval = self.timing.failback_check_interval.as_micros() as i64;
                    if self.last_failback_check_us.is_some_and(|t| now_us - t < interval) {
                        return Vec::new();
                    }
                    self.last_failback_check_us = Some(now_us);
                    self.taken_over(obs)
                }
            },
        }
    }

    /// The takeover just decided from watching is not allowed (the supervisor says no
    /// takeovers): back to watching. The misses are kept, so the next failed check decides
    /// again (and takes over once takeovers are allowed).
    pub fn refuse_takeover(&mut self) {
        let Phase::TakenOver { reason, covering, handed_back, .. } = &self.phase else { return };
        if !covering.is_empty() || !handed_back.is_empty() {
            return;
        }
        if let Reason::NetworkDisconnection { checks, .. } = reason {
            self.misses = *checks;
        }
        self.phase = Phase::Watching;
    }

    fn take_over(&mut self, now_us: i64, reason: Reason) -> Vec<Action> {
        self.phase = Phase::TakenOver {
            reason: reason.clone(),
            since_us: now_us,
            covering: BTreeSet::new(),
            handed_back: BTreeSet::new(),
        };
        self.misses = 0;
        self.last_failback_check_us = None;
        vec![Action::TakeOver { reason }]
    }

    fn watching(&mut self, now_us: i64, obs: Observation) -> Vec<Action> {
        match obs {
            Observation::Unreachable { error } => {
                self.misses += 1;
                if self.misses >= self.timing.failures_to_takeover {
                    let checks = self.misses;
                    return self.take_over(now_us, Reason::NetworkDisconnection { checks, error });
                }
                Vec::new()
            }
            Observation::Status(s) => {
                self.misses = 0;
                // It answered: keep who it is and (SyncConfig first) its settings, also when this
                // very check leads to a takeover, so that a takeover at first sight (a spare
                // started next to an already failing NVR) has settings to record with.
                self.identity = Some(Identity::of(&s));
                let due = self
                    .last_recording_check_us
                    .is_none_or(|t| now_us - t >= self.timing.recording_check_interval.as_micros() as i64);
                if due {
                    self.last_recording_check_us = Some(now_us);
                    match recording_failure(&s) {
                        Some(Reason::NotRecording { .. }) if s.uptime_s < STARTUP_GRACE_S => {
                            // Starting up: look again at the next answered check.
                            self.last_recording_check_us = None;
                        }
                        Some(reason) => {
                            let mut actions = vec![Action::SyncConfig];
                            actions.extend(self.take_over(now_us, reason));
                            return actions;
                        }
                        None => {}
                    }
                }
                vec![Action::SyncConfig]
            }
        }
    }

    /// The NVR fails again while some of its cameras are already handed back: the takeover
    /// starts again (same covering, a new reason), so those cameras are recorded here again.
    fn relapse(&mut self, reason: Reason) -> Vec<Action> {
        let Phase::TakenOver { reason: r, handed_back, .. } = &mut self.phase else { return Vec::new() };
        if handed_back.is_empty() {
            return Vec::new();
        }
        log::warn!("failed again while {} camera(s) were handed back: taking over again", handed_back.len());
        *r = reason.clone();
        handed_back.clear();
        self.misses = 0;
        vec![Action::TakeOver { reason }]
    }

    fn taken_over(&mut self, obs: Observation) -> Vec<Action> {
        let s = match obs {
            Observation::Unreachable { error } => {
                // Counted only while some cameras are back on the NVR (else the spare records
                // them all and there is nothing to take again).
                let partly_back =
                    matches!(&self.phase, Phase::TakenOver { handed_back, .. } if !handed_back.is_empty());
                if partly_back {
                    self.misses += 1;
                    if self.misses >= self.timing.failures_to_takeover {
                        let checks = self.misses;
                        return self.relapse(Reason::NetworkDisconnection { checks, error });
                    }
                }
                return Vec::new();
            }
            Observation::Status(s) => s,
        };
        self.misses = 0;
        let same_server = self.identity.as_ref().is_none_or(|id| id.serial == s.serial);
        let new_hdd = self.identity.as_ref().is_some_and(|id| id.disk_generation != s.storage.disk_generation);
        if !(same_server || new_hdd) {
            log::warn!("NVR answers as serial {} but was {:?}: not failing back", s.serial, self.identity);
            return Vec::new();
        }
        if let Some(r) = recording_failure(&s).filter(|r| !matches!(r, Reason::NotRecording { .. })) {
            return self.relapse(r);
        }
        let Phase::TakenOver { covering, handed_back, .. } = &mut self.phase else { return Vec::new() };
        let mut actions = Vec::new();
        for cam in s.cameras.iter().filter(|c| c.recording) {
            if covering.remove(&cam.id) {
                handed_back.insert(cam.id.clone());
                actions.push(Action::HandBack { camera: cam.id.clone() });
            }
        }
        if covering.is_empty() && s.cameras.iter().any(|c| c.recording) {
            self.phase = Phase::Watching;
            self.misses = 0;
            self.last_recording_check_us = None;
            self.identity = Some(Identity::of(&s));
            actions.push(Action::FailbackDone);
        }
        actions
    }
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
