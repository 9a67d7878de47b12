//! The fleet-update agent's logic, without I/O (design: docs/design/update.md).
//!
//! A box polls an update *manifest* (JSON on the fleet's HTTP server) naming one signed RAUC
//! bundle, its checksum and a staged rollout; the agent decides whether and when this box
//! takes it, and never installs or reboots while the spare is covering an NVR. RAUC checks
//! the bundle's signature and writes the other A/B slot; U-Boot's boot counting and the
//! supervisor's "marked good" decide whether the new slot stays.
//!
//! - [`manifest`]: the manifest's format, parsed with an error naming the field.
//! - [`rollout`]: which boxes take a version when (a stable bucket per box and version).
//! - [`agent`]: the agent, a plain state machine `handle(now, input) -> effects` with
//!   [`agent::Agent::poll_at`], tested in simulated time; the `hotspare update` command
//!   does the I/O its effects ask for.

pub mod agent;
pub mod manifest;
pub mod rollout;

pub use agent::{Agent, AgentConfig, Effect, Input, InstallError, Memory, Now, Status};
pub use manifest::{Manifest, ManifestError, Stage};
