//! End-to-end tests of the spare (`hotspare failover`) protecting NVRs on a loopback site: takeover
//! triggers and non-triggers, held video, failback and re-insertion, restarts, capacity,
//! configuration refusals and notifications.
//!
//! One test binary for the group (shared helpers compile and link once); each former
//! test file is a module, so a test keeps its name as `FILE::TEST`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../failover_common/mod.rs"]
mod failover_common;
#[path = "../nvr_common/mod.rs"]
mod nvr_common;

mod failover_audio;
mod failover_capacity;
mod failover_config;
mod failover_held;
mod failover_no_takeover;
mod failover_notify;
mod failover_reinsert;
mod failover_restart;
mod failover_triggers;
