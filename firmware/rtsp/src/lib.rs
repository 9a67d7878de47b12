//! RTSP for cameras: Basic/Digest authentication (client and server side),
//! and the client that sets up a session (OPTIONS, DESCRIBE, SETUP, PLAY)
//! with RTP interleaved over TCP and builds keep-alive/TEARDOWN requests.

pub mod auth;
pub mod base;
pub mod client;
pub mod error;
pub mod reply;

pub use client::{play, ClientOptions, Session};
pub use error::RtspError;
