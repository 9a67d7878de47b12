//! The shared base of the firmware (the bottom layer, like Moonfire NVR's
//! `server/base`): small pieces every other crate uses, each defined once
//! here. No I/O beyond the file system, no async runtime, no knowledge of
//! cameras, stores or roles.
//!
//! - [`clock`]: the [`Clock`] trait, the real [`SystemClock`] and the settable
//!   [`SimClock`] for tests; [`clock::now_us`] reads the real wall clock.
//! - [`fs`]: [`fs::write_atomic`] (temporary file, fsync, rename, directory fsync),
//!   [`fs::sync_dir`], [`fs::is_nospc`].
//! - [`sync`]: [`LockExt::lock_or_recover`], the one answer to a poisoned mutex.
//! - [`backoff`]: [`Backoff`], capped exponential delays.
//! - [`time`]: RFC 3339 / µs-since-epoch parsing with a typed [`time::TimeError`].
//! - [`config_error`]: the one error shape of every configuration file (file, line, column,
//!   key, what was expected); [`error_chain`]: an error printed with its causes.
//!
//! `scripts/check-one-definition` fails when a second copy of any of these
//! appears in another crate.

pub mod backoff;
pub mod clock;
pub mod config_error;
pub mod error_chain;
pub mod fs;
pub mod sync;
pub mod time;

pub use backoff::Backoff;
pub use clock::{Clock, SharedClock, SimClock, SystemClock};
pub use sync::LockExt;
