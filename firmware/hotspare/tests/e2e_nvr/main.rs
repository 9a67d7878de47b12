//! End-to-end tests of the NVR role (`hotspare nvr`): its API, the import of re-inserted
//! video, and where passwords do (not) end up.
//!
//! One test binary for the group (shared helpers compile and link once); each former
//! test file is a module, so a test keeps its name as `FILE::TEST`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../failover_common/mod.rs"]
mod failover_common;
#[path = "../nvr_common/mod.rs"]
mod nvr_common;

mod health_api;
mod nvr_api;
mod nvr_import;
mod secrets;
