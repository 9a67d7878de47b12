//! One supervised service as the core sees it: whether it runs, its liveness deadline, its
//! restart backoff and start-rate window, and its recording progress.

use std::collections::VecDeque;
use std::time::Duration;

use hotspare_base::Backoff;
use hotspare_ipc::Progress;

/// A service of the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    pub name: String,
    /// Its health gates the watchdog; its crash loop leads to the reset path.
    pub critical: bool,
    /// A running service that sent no heartbeat for this long is hung: killed and restarted.
    /// `None`: the service sends no heartbeats (alive while its process runs).
    pub heartbeat_deadline: Option<Duration>,
    /// Time from a start to the first heartbeat.
    pub start_deadline: Duration,
    /// For a recording service: while its heartbeats say cameras should record, its
    /// fsynced bytes must grow at least once in this long (else the watchdog is not petted).
    pub progress_deadline: Option<Duration>,
}

/// Whether the process runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Run {
    /// Not running; started again at `next_start` (`None`: not at all, e.g. shutting down).
    Stopped { next_start: Option<Duration> },
    /// A start was asked for; waiting for `Started` or `StartFailed`.
    Starting { at: Duration },
    /// `term_sent`: when SIGTERM was sent; `killed`: SIGKILL was sent too.
    Running { pid: u32, since: Duration, term_sent: Option<Duration>, killed: bool },
}

#[derive(Clone, Debug)]
pub struct Service {
    pub spec: ServiceSpec,
    pub run: Run,
    /// Overdue after this instant (see [`Service::overdue`]).
    pub deadline_at: Duration,
    pub backoff: Backoff,
    /// Times of the starts inside the start-rate window.
    pub starts: VecDeque<Duration>,
    /// Times the start-rate limit was hit since the last stable run.
    pub crash_loops: u32,
    /// Fsynced bytes of the current process's last heartbeat.
    pub last_bytes: Option<u64>,
    /// Whether the last progress said cameras should record.
    pub expecting: bool,
    /// When the bytes last grew (or recording became expected).
    pub advanced_at: Duration,
    /// The current process has sent a heartbeat (see [`Service::up`]).
    pub heard: bool,
}

impl Service {
    pub fn new(spec: ServiceSpec, now: Duration, backoff: Backoff) -> Service {
        let deadline_at = now + spec.start_deadline;
        Service {
            spec,
            run: Run::Stopped { next_start: Some(now) },
            deadline_at,
            backoff,
            starts: VecDeque::new(),
            crash_loops: 0,
            last_bytes: None,
            expecting: false,
            advanced_at: now,
            heard: false,
        }
    }

    pub fn pid(&self) -> Option<u32> {
        match self.run {
            Run::Running { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// No sign of life within its deadline: a heartbeating service whose last heartbeat (or
    /// start) is older than its deadline, or a service without heartbeats that is not
    /// running past its start deadline.
    pub fn overdue(&self, now: Duration) -> bool {
        match (self.spec.heartbeat_deadline, self.run) {
            (None, Run::Running { .. }) => false,
            _ => now > self.deadline_at,
        }
    }

    /// Up: its process runs and is not being stopped, and (a heartbeating service) has sent
    /// a heartbeat since it started.
    pub fn up(&self) -> bool {
        matches!(self.run, Run::Running { term_sent: None, .. })
            && (self.spec.heartbeat_deadline.is_none() || self.heard)
    }

    /// Recording expected and the fsynced bytes have not grown within the progress deadline.
    pub fn stalled(&self, now: Duration) -> bool {
        match self.spec.progress_deadline {
            Some(d) => self.expecting && now > self.advanced_at + d,
            None => false,
        }
    }

    /// A heartbeat of the running process.
    pub fn heartbeat(&mut self, now: Duration, progress: Option<Progress>) {
        if let Some(d) = self.spec.heartbeat_deadline {
            self.deadline_at = now + d;
        }
        self.heard = true;
        let Some(p) = progress else { return };
        let expecting = p.cameras_expected > 0;
        let grew = self.last_bytes.is_some_and(|b| p.bytes_fsynced > b);
        if !expecting || grew || (!self.expecting && self.last_bytes.is_none()) {
            self.advanced_at = now;
        }
        self.last_bytes = Some(p.bytes_fsynced);
        self.expecting = expecting;
    }

    /// The process started.
    pub fn started(&mut self, now: Duration, pid: u32) {
        self.run = Run::Running { pid, since: now, term_sent: None, killed: false };
        self.deadline_at = now + self.spec.start_deadline;
        self.heard = false;
        // A new process counts its bytes from 0; the time since the last growth carries over.
        self.last_bytes = None;
    }

    /// Starts within the window ending at `at` (the window is `interval` long, open at its start).
    pub fn starts_within(&mut self, at: Duration, interval: Duration) -> usize {
        while self.starts.front().is_some_and(|&s| s + interval <= at) {
            self.starts.pop_front();
        }
        self.starts.len()
    }
}
