//! The box's one configuration model: what an installer sets on the serial
//! console, the front panel or the HTTP API (hostname, network, time, the NVRs
//! to protect, monitoring, licence, accounts, email, announcement). All three
//! channels read and write it through this crate, so they cannot disagree.
//!
//! - [`model`]: the typed settings and their defaults (a fresh box).
//! - [`validate`]: every problem named by field, with what is allowed.
//! - [`store`]: generations on disk (`settings.<seq>.toml`, written power-safe,
//!   the last few kept and restorable), conflict-checked saves, factory reset.
//! - [`confirm`]: a change that can cut the installer off (network) is
//!   reverted unless confirmed from the same channel in time (a plain state
//!   machine, `handle(now, event) -> actions`).
//! - [`fields`]: single fields read and set by name (`network.address`), for
//!   menus and the command line.
//! - [`secrets`]: what is never shown (passwords, hashes) and kept when an
//!   edit leaves it out; clear passwords of an edit hashed.
//! - [`pending`]: the stored change waiting for its confirmation, one file
//!   per holder of a confirm window.
//!
//! Design record: docs/design/settings.md.

pub mod confirm;
pub mod fields;
pub mod model;
pub mod pending;
pub mod secrets;
pub mod store;
pub mod validate;

pub use model::Settings;
pub use store::SettingsStore;
pub use validate::FieldError;
