//! RTSP for cameras: Basic/Digest authentication (client and server side),
//! and the client that sets up a session (OPTIONS, DESCRIBE, SETUP, PLAY)
//! with RTP interleaved over TCP or over UDP unicast, and builds
//! keep-alive/TEARDOWN requests.

pub mod auth;
pub mod base;
pub mod client;
pub mod error;
pub mod reply;
pub mod transport;

pub use client::{play, play_with, AudioSetup, ClientOptions, Session};
pub use error::RtspError;
pub use transport::{Media, Requested};
