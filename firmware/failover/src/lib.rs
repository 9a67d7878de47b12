//! The spare (`hotspare failover`): monitors NVRs, decides takeover and
//! failback, keeps synced snapshots of their settings, records taken-over
//! cameras, re-inserts the video into the NVR when it is back; plus the
//! licence, email and UPnP/SSDP pieces it needs.

pub mod api;
pub mod capacity;
pub mod client;
pub mod config;
pub mod email;
pub mod engine;
pub mod file_body;
pub mod licence;
pub mod monitor;
pub mod recorders;
pub mod reinsert;
pub mod ssdp;
pub mod state;
pub mod status;
