//! What goes into the core and what comes out of it.

use std::fmt;
use std::time::Duration;

use hotspare_ipc::{Level, Progress, ResetCause, RoleState, Status};

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitHow {
    Code(i32),
    Signal(i32),
}

impl fmt::Display for ExitHow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitHow::Code(c) => write!(f, "exit code {c}"),
            ExitHow::Signal(s) => write!(f, "signal {s}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Time passed (the runner calls at [`crate::core::Core::poll_at`] at the latest).
    Tick,
    /// The process of a [`Effect::Start`] runs.
    Started {
        service: String,
        pid: u32,
    },
    /// A [`Effect::Start`] failed (the program could not be run).
    StartFailed {
        service: String,
        error: String,
    },
    Exited {
        service: String,
        pid: u32,
        how: ExitHow,
    },
    /// A heartbeat from the process `pid` of `service` (the pid of its connection's hello).
    Heartbeat {
        service: String,
        pid: u32,
        progress: Option<Progress>,
        /// What the role says it is doing (the core ignores it; the runner drives the LEDs).
        role: Option<RoleState>,
    },
    /// A critical fault raised (`Some(reason)`) or cleared (`None`) by `source` (later: the
    /// disk monitor: a failed array, a critical SMART verdict, a volume that cannot record).
    /// A fault stops takeovers; it does not stop the petting (a reset does not mend disks).
    Fault {
        source: String,
        reason: Option<String>,
    },
    /// The worst hardware verdict changed (from the monitors); published in the status.
    Hardware(Level),
    /// A deliberate shutdown or reboot: stop every service.
    Shutdown,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    /// Start the service's process (then report `Started` or `StartFailed`).
    Start { service: String },
    /// SIGTERM to the process.
    Terminate { service: String, pid: u32 },
    /// SIGKILL to the process (it did not stop within the stop grace).
    Kill { service: String, pid: u32 },
    /// Keep the hardware watchdog from firing.
    PetWatchdog,
    /// The configured reset path (a critical service crash-loops): persist the marker and
    /// reboot. The core pets no more, so the watchdog resets the box if the reboot fails.
    Reset { reason: String },
    /// The verdict changed: tell the services (and the status file).
    Publish(Status),
    /// The box is ready for the first time during this boot (see
    /// [`crate::core::Core::ready`]): mark the booted slot good. Never in rescue mode.
    Ready,
    /// Log (and later e-mail / API) an event.
    Report(Event),
    /// After [`Input::Shutdown`]: every service has stopped.
    AllStopped,
}

/// What the supervisor reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Exited {
        service: String,
        how: ExitHow,
    },
    StartFailed {
        service: String,
        error: String,
    },
    Restarting {
        service: String,
        after: Duration,
    },
    Hung {
        service: String,
        pid: u32,
    },
    /// The start-rate limit was hit: starts are held back until `until`.
    CrashLoop {
        service: String,
        starts: u32,
        within: Duration,
        until: Duration,
    },
    ProgressStalled {
        service: String,
    },
    PettingStopped {
        reason: String,
    },
    PettingResumed,
    Rescue {
        reason: String,
    },
    LastReset(ResetCause),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Exited { service, how } => write!(f, "{service} exited ({how})"),
            Event::StartFailed { service, error } => write!(f, "{service} could not be started: {error}"),
            Event::Restarting { service, after } => write!(f, "restarting {service} in {after:?}"),
            Event::Hung { service, pid } => write!(f, "{service} (pid {pid}) sent no heartbeat in time: killing it"),
            Event::CrashLoop { service, starts, within, .. } => {
                write!(f, "{service} crash-loops: {starts} starts within {within:?}; holding it back")
            }
            Event::ProgressStalled { service } => write!(f, "{service}: recording expected but nothing fsynced"),
            Event::PettingStopped { reason } => write!(f, "not healthy, watchdog no longer petted: {reason}"),
            Event::PettingResumed => write!(f, "healthy again, watchdog petted"),
            Event::Rescue { reason } => write!(f, "RESCUE MODE: {reason}; no takeovers, no resets"),
            Event::LastReset(c) => write!(f, "last reset: {c:?}"),
        }
    }
}
