//! Video over HTTP, shared by both roles' APIs (the NVR serves its store,
//! the spare the failover video it holds for each NVR):
//! - [`mp4`]: an MP4 of a time range with HTTP Range, span and download caps;
//! - [`body`]: the streamed response bodies (bounded memory per download);
//! - [`spans`]: recording spans (segments merged across small gaps);
//! - [`times`]: the `from`/`to` query times (RFC 3339 or µs).
//!
//! A crate of its own, not a module of [`hotspare_http`], so that the
//! server and authentication layer stays free of the segment store.

pub mod body;
pub mod mp4;
pub mod spans;
pub mod times;
