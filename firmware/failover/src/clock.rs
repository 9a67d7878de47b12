//! The wall clock of the spare's runtime (the local copy until the shared base crate has one).
//! Read by the runtime only (the engine's loop and re-insertion).

use std::time::{SystemTime, UNIX_EPOCH};

/// µs since the Unix epoch.
pub fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}
