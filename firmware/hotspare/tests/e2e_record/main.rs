//! End-to-end tests of `hotspare record` and `hotspare export`: recording from the camera
//! simulator and GStreamer, camera faults, crashes, and the store's integrity.
//!
//! One test binary for the group (shared helpers compile and link once); each former
//! test file is a module, so a test keeps its name as `FILE::TEST`.

#[path = "../common/mod.rs"]
mod common;

mod record_audio;
mod record_crash_bound;
mod record_faults;
mod record_gstreamer;
mod record_sim;
mod record_udp;
mod store_integrity;
