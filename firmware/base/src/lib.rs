//! The shared base of the firmware (the bottom layer, like Moonfire NVR's
//! `server/base`): small pieces every other crate uses, each defined once
//! here. No I/O beyond the file system, no async runtime, no knowledge of
//! cameras, stores or roles.

pub mod config_error;
pub mod error_chain;
