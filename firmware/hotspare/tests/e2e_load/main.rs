//! The hostile-load test of the boxes' HTTP servers. A binary of its own: its load must not
//! share the process (and the CPU) with other tests, or their timing would decide its result.
//!
//! One test binary for the group (shared helpers compile and link once); each former
//! test file is a module, so a test keeps its name as `FILE::TEST`.

#[path = "../common/mod.rs"]
mod common;
#[path = "../failover_common/mod.rs"]
mod failover_common;
#[path = "../nvr_common/mod.rs"]
mod nvr_common;

mod http_load;
