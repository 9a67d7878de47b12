//! A simulated world for the core: processes whose behaviour the test sets, driven at the
//! core's `poll_at` and at their own heartbeat times.

use std::collections::BTreeMap;
use std::time::Duration;

use hotspare_ipc::{Progress, ResetCause};

use crate::core::{BootVerdict, Core, Effect, ExitHow, Input, Limits, ServiceSpec};

pub const S: Duration = Duration::from_secs(1);

/// What a service's processes do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// Heartbeats every `every`.
    Beats { every: Duration },
    /// Heartbeats, then exits with code 1 `after` its start.
    Crashes { after: Duration, every: Duration },
    /// Never heartbeats (and exits on SIGTERM).
    Hangs,
    /// Heartbeats with progress: `cameras` expected, `bytes` added per heartbeat.
    Records { every: Duration, cameras: u32, bytes: u64 },
}

#[derive(Debug)]
pub struct Proc {
    pub pid: u32,
    pub started: Duration,
    pub next_beat: Duration,
    pub bytes: u64,
}

pub struct Sim {
    pub core: Core,
    pub now: Duration,
    pub behaviour: BTreeMap<String, Behaviour>,
    pub ignores_term: BTreeMap<String, bool>,
    pub procs: BTreeMap<String, Proc>,
    /// Exits due (service, pid, at, how): the world's reaction to a signal.
    pending_exits: Vec<(String, u32, Duration, ExitHow)>,
    next_pid: u32,
    pub log: Vec<(Duration, Effect)>,
    pub inputs: Vec<(Duration, Input)>,
}

pub fn limits() -> Limits {
    Limits {
        backoff_min: S,
        backoff_max: 8 * S,
        stable_after: 60 * S,
        start_limit_burst: 5,
        start_limit_interval: 60 * S,
        crash_loops_before_reset: 2,
        stop_grace: 5 * S,
        boot_grace: 30 * S,
        pet_interval: 5 * S,
    }
}

pub fn spec(name: &str, critical: bool) -> ServiceSpec {
    ServiceSpec {
        name: name.into(),
        critical,
        heartbeat_deadline: Some(10 * S),
        start_deadline: 20 * S,
        progress_deadline: None,
    }
}

pub fn recorder() -> ServiceSpec {
    ServiceSpec { progress_deadline: Some(30 * S), ..spec("recorder", true) }
}

pub fn boot(rescue: bool) -> BootVerdict {
    BootVerdict { last_reset: ResetCause::Deliberate, rescue: rescue.then(|| "3 resets within 30 min".to_owned()) }
}

impl Sim {
    pub fn new(services: Vec<ServiceSpec>, limits: Limits, boot: BootVerdict) -> Sim {
        let behaviour = services.iter().map(|s| (s.name.clone(), Behaviour::Beats { every: 2 * S })).collect();
        let mut sim = Sim {
            core: Core::new(Duration::ZERO, services, limits, boot),
            now: Duration::ZERO,
            behaviour,
            ignores_term: BTreeMap::new(),
            procs: BTreeMap::new(),
            pending_exits: Vec::new(),
            next_pid: 100,
            log: Vec::new(),
            inputs: Vec::new(),
        };
        sim.input(Input::Tick);
        sim
    }

    pub fn set(&mut self, service: &str, b: Behaviour) {
        self.behaviour.insert(service.into(), b);
    }

    /// Feeds one input at the current time and lets the world react to the effects.
    pub fn input(&mut self, input: Input) {
        self.inputs.push((self.now, input.clone()));
        let effects = self.core.handle(self.now, input);
        let mut follow = Vec::new();
        for e in effects {
            match &e {
                Effect::Start { service } => {
                    self.next_pid += 1;
                    let pid = self.next_pid;
                    let p = Proc { pid, started: self.now, next_beat: self.now + S / 2, bytes: 0 };
                    self.procs.insert(service.clone(), p);
                    follow.push(Input::Started { service: service.clone(), pid });
                }
                Effect::Terminate { service, pid } => {
                    let ignores_term = self.ignores_term.get(service).copied().unwrap_or(false);
                    if self.procs.get(service).is_some_and(|p| p.pid == *pid && !ignores_term) {
                        self.pending_exits.push((service.clone(), *pid, self.now + S / 10, ExitHow::Signal(15)));
                    }
                }
                Effect::Kill { service, pid } if self.procs.get(service).is_some_and(|p| p.pid == *pid) => {
                    self.pending_exits.push((service.clone(), *pid, self.now, ExitHow::Signal(9)));
                }
                _ => {}
            }
            self.log.push((self.now, e));
        }
        for i in follow {
            self.input(i);
        }
    }

    /// When the world does something next.
    fn next_world_event(&self) -> Option<Duration> {
        let beats = self.procs.iter().filter_map(|(name, p)| match self.behaviour[name] {
            Behaviour::Hangs => None,
            Behaviour::Crashes { after, .. } => Some(p.next_beat.min(p.started + after)),
            _ => Some(p.next_beat),
        });
        beats.chain(self.pending_exits.iter().map(|e| e.2)).min()
    }

    /// Runs the world and the core until `end`.
    pub fn run_until(&mut self, end: Duration) {
        loop {
            let next = self.core.poll_at().min(self.next_world_event().unwrap_or(Duration::MAX));
            if next > end {
                self.now = end;
                self.input(Input::Tick);
                return;
            }
            self.now = self.now.max(next);
            self.world_step();
            self.input(Input::Tick);
        }
    }

    /// Everything the processes do at `now`.
    fn world_step(&mut self) {
        let now = self.now;
        let due: Vec<_> = self.pending_exits.iter().filter(|e| e.2 <= now).cloned().collect();
        self.pending_exits.retain(|e| e.2 > now);
        for (service, pid, _, how) in due {
            if self.procs.get(&service).is_some_and(|p| p.pid == pid) {
                self.procs.remove(&service);
                self.input(Input::Exited { service, pid, how });
            }
        }
        let names: Vec<String> = self.procs.keys().cloned().collect();
        for name in names {
            let b = self.behaviour[&name];
            let Some(p) = self.procs.get_mut(&name) else { continue };
            if let Behaviour::Crashes { after, .. } = b {
                if now >= p.started + after {
                    let pid = p.pid;
                    self.procs.remove(&name);
                    self.input(Input::Exited { service: name, pid, how: ExitHow::Code(1) });
                    continue;
                }
            }
            if now < p.next_beat {
                continue;
            }
            let (every, progress) = match b {
                Behaviour::Beats { every } | Behaviour::Crashes { every, .. } => (every, None),
                Behaviour::Hangs => continue,
                Behaviour::Records { every, cameras, bytes } => {
                    p.bytes += bytes;
                    (every, Some(Progress { bytes_fsynced: p.bytes, cameras_expected: cameras }))
                }
            };
            p.next_beat = now + every;
            let pid = p.pid;
            self.input(Input::Heartbeat { service: name, pid, progress, role: None });
        }
    }

    pub fn effects(&self, pred: impl Fn(&Effect) -> bool) -> Vec<Duration> {
        self.log.iter().filter(|(_, e)| pred(e)).map(|(t, _)| *t).collect()
    }

    pub fn starts(&self, service: &str) -> Vec<Duration> {
        self.effects(|e| matches!(e, Effect::Start { service: s } if s == service))
    }

    pub fn pets(&self) -> Vec<Duration> {
        self.effects(|e| matches!(e, Effect::PetWatchdog))
    }

    pub fn pets_between(&self, from: Duration, to: Duration) -> usize {
        self.pets().into_iter().filter(|&t| t >= from && t < to).count()
    }
}
