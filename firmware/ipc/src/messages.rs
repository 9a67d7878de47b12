//! The messages. Services send [`Hello`] once per connection, then [`Heartbeat`]s; the
//! supervisor answers with [`Status`] whenever its verdict changes (and after each hello).
//! Adding a field or variant is a new [`crate::PROTOCOL_VERSION`]: postcard is not
//! self-describing, so both ends must agree on the shapes.

use serde::{Deserialize, Serialize};

/// Longest service name and version string, in bytes.
pub const MAX_NAME: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    Hello(Hello),
    Heartbeat(Heartbeat),
    Status(Status),
}

/// First message of a service on a new connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// The service's name in the supervisor's configuration (`recorder`, `failover`, …).
    pub service: String,
    /// Its process id: the supervisor ignores a service whose pid is not the child it started.
    pub pid: u32,
    /// The firmware version of the sender (`CARGO_PKG_VERSION`).
    pub version: String,
}

/// "Still alive", sent every interval (well within the service's heartbeat deadline).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    pub service: String,
    /// Counts up from 0 per connection.
    pub seq: u64,
    /// Recording progress, from services that record (the recorder); `None` otherwise.
    pub progress: Option<Progress>,
    /// What the service is doing, from the roles (the failover spare: armed, covering); `None`
    /// from the others. Drives the failover LED.
    pub role: Option<RoleState>,
}

/// The state of a role, as its heartbeats tell the supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RoleState {
    /// The failover spare: `armed` (monitoring NVRs, ready to take over) and how many NVRs it
    /// is covering now.
    Spare { armed: bool, covering: u32 },
    /// A protected recording server.
    Nvr,
}

/// The worst hardware verdict of the box (RAID, disks, SMART, volumes, system resources).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    #[default]
    Ok,
    Warning,
    Critical,
}

/// How far recording has got: the supervisor pets the watchdog only while `bytes_fsynced`
/// advances whenever `cameras_expected` is not zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    /// Bytes of recordings made durable (fsynced) since the service started; never decreases.
    pub bytes_fsynced: u64,
    /// Cameras that should be recording now (0: nothing is expected to be written).
    pub cameras_expected: u32,
}

/// The supervisor's verdict, for the services (and later the API and console).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub mode: Mode,
    /// Every critical service alive and recording progressing (the watchdog is being petted).
    pub healthy: bool,
    /// False in rescue mode (and on a critical fault): the spare must not take over NVRs.
    pub takeovers_allowed: bool,
    /// Why the box last went down.
    pub last_reset: ResetCause,
    /// The worst hardware verdict (details in the supervisor's `health.json`).
    pub hardware: Level,
    /// Why the box is not healthy or not taking over, for people; empty when all is well.
    pub reason: String,
}

/// The supervisor's mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Just booted: the watchdog is petted while the services start.
    BootGrace,
    /// Petted only while healthy.
    Normal,
    /// Too many resets in a short time: no more resets, no takeovers; console, API and disk
    /// monitoring stay up.
    Rescue,
}

/// Why the box last went down, from the watchdog's boot status and the supervisor's
/// persisted shutdown marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResetCause {
    /// No marker: first boot of this state directory.
    FirstBoot,
    /// A deliberate shutdown or reboot (the supervisor wrote its marker and closed the watchdog).
    Deliberate,
    /// The hardware watchdog reset the box (its boot status says so, or the supervisor was
    /// running with the watchdog armed and left no shutdown marker).
    Watchdog,
    /// The supervisor chose to reset (a critical service crash-looped).
    SupervisorReset,
    /// The supervisor was running and left no marker, and the watchdog does not say it fired:
    /// a power cut or a kernel panic.
    Unclean,
}
