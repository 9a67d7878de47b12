//! The spare (`hotspare failover`): monitors NVRs, decides takeover and
//! failback, keeps synced snapshots of their settings, records taken-over
//! cameras, re-inserts the video into the NVR when it is back; plus the
//! licence, email and UPnP/SSDP pieces it needs.
//!
//! Layers, each using only those below it: wire types (`hotspare_api`) and the base (`hotspare_base`: clock, files, locks); the pure
//! decisions ([`monitor`], [`capacity`], [`core`]) and what they persist ([`state`]); the I/O
//! pieces ([`client`], [`recorders`], [`reinsert`], [`email`], [`ssdp`], [`handlers`], [`settings_api`]); the runtime
//! ([`engine`]) that runs the core and performs its effects.

pub mod capacity;
pub mod client;
pub mod config;
pub mod core;
pub mod email;
pub mod engine;
pub mod file_body;
pub mod handlers;
pub mod licence;
pub mod monitor;
pub mod recorders;
pub mod reinsert;
pub mod settings_api;
pub mod site_settings;
pub mod ssdp;
pub mod state;
