//! What the core is built from and what it is told: its configuration, the state that
//! survived a restart of the spare, and the inputs the runtime gathers.

use hotspare_api::{EmailSettings, TakeoverConfig};

use crate::monitor::{Observation, Timing};
use crate::state::{NvrState, Snapshot};

/// The part of the spare's configuration decisions depend on.
#[derive(Clone, Debug)]
pub struct CoreConfig {
    pub timing: Timing,
    /// Channels the licence allows (cameras recorded at once, all NVRs together).
    pub channels: u16,
    /// The protected NVRs.
    pub nvrs: Vec<NvrSpec>,
    /// The spare's own `[email]`, used when an NVR's event rules do not ask for email.
    pub email: Option<EmailSettings>,
}

/// One protected NVR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NvrSpec {
    pub id: String,
    /// Lower is covered first when channels run short.
    pub priority: u32,
}

/// What a previous run of the spare left on disk for one NVR.
#[derive(Clone, Debug, Default)]
pub struct Restored {
    pub state: Option<NvrState>,
    pub snapshot: Option<Snapshot>,
}

/// Something the runtime saw or did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The runtime is up (SSDP bound): resume takeovers and re-insertions of a previous run,
    /// start checking.
    Started,
    /// A check asked for by [`Effect::Check`](super::Effect::Check) ended: what the NVR's status
    /// said and, when it answered, its settings (or why they could not be read).
    Checked { nvr: String, obs: Observation, config: Option<Result<Box<TakeoverConfig>, String>> },
    /// The re-insertion started by [`Effect::StartReinsert`](super::Effect::StartReinsert) ended
    /// (finished, or there was nothing to re-insert).
    ReinsertEnded { nvr: String },
    /// Whether new takeovers are allowed, from the supervisor's status: `Some(reason)` while
    /// they are not (rescue mode, a critical fault). An NVR already taken over stays covered.
    Takeovers { blocked: Option<String> },
    /// The time of [`Core::poll_at`](super::Core::poll_at) has come.
    Tick,
}
