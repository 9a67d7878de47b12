//! The supervisor's decisions as a pure state machine, in the shape of the failover core:
//! `Core::handle(now, input) -> Vec<Effect>` plus [`Core::poll_at`]. `now` is monotonic time
//! since the supervisor started. No I/O: the runner ([`crate::runner`]) starts and signals
//! processes, reads the IPC, pets the watchdog and persists what the effects say.
//!
//! Rules: a service that exits is restarted after a capped backoff, at most
//! `start_limit_burst` starts per `start_limit_interval` (hitting the limit is a crash loop,
//! reported; `crash_loops_before_reset` of them for a critical service take the reset path,
//! except in rescue mode); a service overdue for its heartbeat is terminated (SIGTERM, then
//! SIGKILL after `stop_grace`) and so restarted; the watchdog is petted during the boot grace,
//! always in rescue mode, and otherwise only while healthy (no critical service overdue, no
//! recording stalled); the first time the box is ready (healthy, every service up, not in
//! rescue mode) is said once ([`Effect::Ready`]: the booted slot is marked good).

mod io;
mod service;
#[cfg(test)]
mod tests;

use std::time::Duration;

use hotspare_base::Backoff;
use hotspare_ipc::{Level, Mode, ResetCause, Status};

pub use io::{Effect, Event, ExitHow, Input};
pub use service::{Run, Service, ServiceSpec};

/// Restart, rate-limit and watchdog timings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// A process that ran this long restarts after `backoff_min` again and clears its crash loops.
    pub stable_after: Duration,
    pub start_limit_burst: u32,
    pub start_limit_interval: Duration,
    /// Crash loops of a critical service (since its last stable run) that take the reset path.
    pub crash_loops_before_reset: u32,
    /// Between SIGTERM and SIGKILL.
    pub stop_grace: Duration,
    /// After the supervisor starts, the watchdog is petted whatever the health.
    pub boot_grace: Duration,
    pub pet_interval: Duration,
}

/// How this boot started (from [`crate::boot`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BootVerdict {
    pub last_reset: ResetCause,
    /// `Some(why)`: too many resets lately, run in rescue mode.
    pub rescue: Option<String>,
}

#[derive(Debug)]
pub struct Core {
    services: Vec<Service>,
    limits: Limits,
    boot: BootVerdict,
    boot_grace_end: Duration,
    next_pet: Duration,
    /// Whether the last verdict after the boot grace was healthy (for the petting events).
    petting: bool,
    faults: Vec<(String, String)>,
    hardware: Level,
    shutting_down: bool,
    reset_asked: bool,
    all_stopped_said: bool,
    /// Whether the watchdog may be petted (as of the last `handle`).
    pet_allowed: bool,
    /// The `now` of the last `handle`.
    last_now: Duration,
    /// [`Effect::Ready`] was emitted (once per boot).
    ready_said: bool,
    published: Option<Status>,
}

impl Core {
    pub fn new(now: Duration, services: Vec<ServiceSpec>, limits: Limits, boot: BootVerdict) -> Core {
        let services = services
            .into_iter()
            .map(|s| Service::new(s, now, Backoff::new(limits.backoff_min, limits.backoff_max)))
            .collect();
        Core {
            services,
            limits,
            boot,
            boot_grace_end: now + limits.boot_grace,
            next_pet: now,
            petting: true,
            faults: Vec::new(),
            hardware: Level::Ok,
            shutting_down: false,
            reset_asked: false,
            all_stopped_said: false,
            pet_allowed: true,
            last_now: now,
            ready_said: false,
            published: None,
        }
    }

    pub fn services(&self) -> &[Service] {
        &self.services
    }

    pub fn in_rescue(&self) -> bool {
        self.boot.rescue.is_some()
    }

    /// Why the box is not healthy now (`None`: healthy).
    pub fn unhealthy(&self, now: Duration) -> Option<String> {
        let mut why = Vec::new();
        for s in &self.services {
            if s.spec.critical && s.overdue(now) {
                why.push(format!("{} is not alive", s.spec.name));
            }
            if s.stalled(now) {
                why.push(format!("{} records nothing", s.spec.name));
            }
        }
        (!why.is_empty()).then(|| why.join(", "))
    }

    /// Ready: not in rescue mode, not stopping, healthy, and every service up (running and,
    /// if it heartbeats, heard from). The first time during a boot is [`Effect::Ready`]: the
    /// booted slot is marked good (docs/design/boot-counting.md).
    pub fn ready(&self, now: Duration) -> bool {
        !self.in_rescue()
            && !self.shutting_down
            && !self.reset_asked
            && self.unhealthy(now).is_none()
            && self.services.iter().all(Service::up)
    }

    /// Whether the box has been ready during this boot ([`Effect::Ready`] was emitted).
    pub fn was_ready(&self) -> bool {
        self.ready_said
    }

    /// The verdict published to services.
    pub fn status(&self, now: Duration) -> Status {
        let unhealthy = self.unhealthy(now);
        let mode = if self.in_rescue() {
            Mode::Rescue
        } else if now < self.boot_grace_end {
            Mode::BootGrace
        } else {
            Mode::Normal
        };
        let mut reason: Vec<String> = self.boot.rescue.iter().map(|r| format!("rescue mode: {r}")).collect();
        reason.extend(unhealthy.iter().cloned());
        reason.extend(self.faults.iter().map(|(src, r)| format!("{src}: {r}")));
        Status {
            mode,
            healthy: unhealthy.is_none(),
            takeovers_allowed: !self.in_rescue() && self.faults.is_empty(),
            last_reset: self.boot.last_reset,
            hardware: self.hardware,
            reason: reason.join("; "),
        }
    }

    /// The latest time at which [`Core::handle`] must be called with [`Input::Tick`].
    pub fn poll_at(&self) -> Duration {
        // An hour at most between ticks; only instants still ahead count.
        let mut at = self.last_now + Duration::from_secs(3600);
        let last = self.last_now;
        let mut consider = |t: Duration| {
            if t > last {
                at = at.min(t)
            }
        };
        if self.pet_allowed {
            consider(self.next_pet.max(last + Duration::from_millis(1)));
        }
        if !self.shutting_down {
            consider(self.boot_grace_end);
        }
        for s in &self.services {
            match s.run {
                Run::Stopped { next_start: Some(t) } => consider(t),
                Run::Running { term_sent: Some(t), killed: false, .. } => consider(t + self.limits.stop_grace),
                _ => {}
            }
            // Just after a deadline passes, so that the verdict changes at once.
            consider(s.deadline_at + Duration::from_millis(1));
            if let Some(d) = s.spec.progress_deadline.filter(|_| s.expecting) {
                consider(s.advanced_at + d + Duration::from_millis(1));
            }
        }
        at
    }

    pub fn handle(&mut self, now: Duration, input: Input) -> Vec<Effect> {
        let now = now.max(self.last_now);
        self.last_now = now;
        let mut out = Vec::new();
        if self.published.is_none() {
            out.push(Effect::Report(Event::LastReset(self.boot.last_reset)));
            if let Some(r) = &self.boot.rescue {
                out.push(Effect::Report(Event::Rescue { reason: r.clone() }));
            }
        }
        match input {
            Input::Tick => {}
            Input::Started { service, pid } => {
                if let Some(s) = self.find(&service) {
                    s.started(now, pid);
                    if self.shutting_down {
                        out.push(Effect::Terminate { service, pid });
                        self.mark_terminated(now, pid);
                    }
                }
            }
            Input::StartFailed { service, error } => {
                if let Some(i) = self.index(&service) {
                    if matches!(self.services[i].run, Run::Starting { .. }) {
                        out.push(Effect::Report(Event::StartFailed { service, error }));
                        self.after_exit(now, i, Duration::ZERO, &mut out);
                    }
                }
            }
            Input::Exited { service, pid, how } => {
                if let Some(i) = self.index(&service) {
                    if let Run::Running { pid: p, since, .. } = self.services[i].run {
                        if p == pid {
                            out.push(Effect::Report(Event::Exited { service, how }));
                            self.after_exit(now, i, now.saturating_sub(since), &mut out);
                        }
                    }
                }
            }
            Input::Heartbeat { service, pid, progress, role: _ } => {
                if let Some(s) = self.find(&service) {
                    // Not from a process already told to stop: SIGTERM is followed by SIGCONT,
                    // and a frozen process may send one queued heartbeat before it handles it.
                    let stopping = matches!(s.run, Run::Running { term_sent: Some(_), .. });
                    if s.pid() == Some(pid) && !stopping {
                        s.heartbeat(now, progress);
                    }
                }
            }
            Input::Fault { source, reason } => {
                self.faults.retain(|(s, _)| *s != source);
                if let Some(r) = reason {
                    self.faults.push((source, r));
                }
            }
            Input::Hardware(level) => self.hardware = level,
            Input::Shutdown => {
                if !self.shutting_down {
                    self.shutting_down = true;
                    for s in &mut self.services {
                        match s.run {
                            Run::Stopped { .. } => s.run = Run::Stopped { next_start: None },
                            Run::Running { pid, term_sent: None, since, killed } => {
                                out.push(Effect::Terminate { service: s.spec.name.clone(), pid });
                                s.run = Run::Running { pid, since, term_sent: Some(now), killed };
                            }
                            _ => {}
                        }
                    }
                }
            }
        }
        self.timers(now, &mut out);
        out
    }

    fn index(&self, name: &str) -> Option<usize> {
        self.services.iter().position(|s| s.spec.name == name)
    }

    fn find(&mut self, name: &str) -> Option<&mut Service> {
        self.services.iter_mut().find(|s| s.spec.name == name)
    }

    fn mark_terminated(&mut self, now: Duration, pid: u32) {
        for s in &mut self.services {
            if let Run::Running { pid: p, since, killed, .. } = s.run {
                if p == pid {
                    s.run = Run::Running { pid, since, term_sent: Some(now), killed };
                }
            }
        }
    }

    /// The process of service `i` is gone (after running for `ran`): when to start it again.
    fn after_exit(&mut self, now: Duration, i: usize, ran: Duration, out: &mut Vec<Effect>) {
        let l = self.limits;
        let rescue = self.in_rescue();
        let s = &mut self.services[i];
        let name = s.spec.name.clone();
        if s.spec.heartbeat_deadline.is_none() {
            s.deadline_at = now + s.spec.start_deadline;
        }
        if self.shutting_down {
            s.run = Run::Stopped { next_start: None };
            return;
        }
        if ran >= l.stable_after {
            s.backoff.succeeded();
            s.crash_loops = 0;
        }
        let mut at = now + s.backoff.failed();
        let burst = l.start_limit_burst.max(1) as usize;
        if s.starts_within(at, l.start_limit_interval) >= burst {
            // Held back until the oldest start leaves the window.
            let oldest = s.starts.front().copied().unwrap_or(now);
            at = at.max(oldest + l.start_limit_interval);
            s.crash_loops += 1;
            out.push(Effect::Report(Event::CrashLoop {
                service: name.clone(),
                starts: burst as u32,
                within: l.start_limit_interval,
                until: at,
            }));
            if s.spec.critical && !rescue && !self.reset_asked && s.crash_loops >= l.crash_loops_before_reset.max(1) {
                self.reset_asked = true;
                s.run = Run::Stopped { next_start: None };
                out.push(Effect::Reset {
                    reason: format!("{name} crash-looped {} times", l.crash_loops_before_reset.max(1)),
                });
                return;
            }
        }
        s.run = Run::Stopped { next_start: Some(at) };
        out.push(Effect::Report(Event::Restarting { service: name, after: at.saturating_sub(now) }));
    }

    /// Starts due, hung services, kills past the grace, petting, the published verdict.
    fn timers(&mut self, now: Duration, out: &mut Vec<Effect>) {
        let l = self.limits;
        for s in &mut self.services {
            let name = s.spec.name.clone();
            match s.run {
                Run::Stopped { next_start: Some(t) } if t <= now && !self.shutting_down && !self.reset_asked => {
                    s.starts_within(now, l.start_limit_interval);
                    s.starts.push_back(now);
                    s.run = Run::Starting { at: now };
                    out.push(Effect::Start { service: name.clone() });
                }
                Run::Running { pid, since, term_sent: None, killed }
                    if s.spec.heartbeat_deadline.is_some() && s.overdue(now) =>
                {
                    out.push(Effect::Report(Event::Hung { service: name.clone(), pid }));
                    out.push(Effect::Terminate { service: name.clone(), pid });
                    s.run = Run::Running { pid, since, term_sent: Some(now), killed };
                }
                Run::Running { pid, since, term_sent: Some(t), killed: false } if now >= t + l.stop_grace => {
                    out.push(Effect::Kill { service: name.clone(), pid });
                    s.run = Run::Running { pid, since, term_sent: Some(t), killed: true };
                }
                _ => {}
            }
        }
        if self.shutting_down
            && !self.all_stopped_said
            && self.services.iter().all(|s| matches!(s.run, Run::Stopped { .. }))
        {
            self.all_stopped_said = true;
            out.push(Effect::AllStopped);
        }

        let unhealthy = self.unhealthy(now);
        let after_grace = now >= self.boot_grace_end && !self.in_rescue();
        if after_grace {
            match (&unhealthy, self.petting) {
                (Some(r), true) => {
                    for s in self.services.iter().filter(|s| s.stalled(now)) {
                        out.push(Effect::Report(Event::ProgressStalled { service: s.spec.name.clone() }));
                    }
                    out.push(Effect::Report(Event::PettingStopped { reason: r.clone() }));
                }
                (None, false) => out.push(Effect::Report(Event::PettingResumed)),
                _ => {}
            }
            self.petting = unhealthy.is_none();
        }
        let pet_allowed = !self.shutting_down && !self.reset_asked && (!after_grace || unhealthy.is_none());
        if pet_allowed && now >= self.next_pet {
            out.push(Effect::PetWatchdog);
            self.next_pet = now + l.pet_interval;
        }
        self.pet_allowed = pet_allowed;

        let status = self.status(now);
        if self.published.as_ref() != Some(&status) {
            out.push(Effect::Publish(status.clone()));
            self.published = Some(status);
        }
        if !self.ready_said && self.ready(now) {
            self.ready_said = true;
            out.push(Effect::Ready);
        }
    }
}
