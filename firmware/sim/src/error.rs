//! The simulator's error type: what went wrong and with which file or address.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Everything that can stop the simulator from starting or serving.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("cannot read clip {path}: {source}")]
    ClipRead { path: PathBuf, source: std::io::Error },
    #[error("clip {path}: unknown codec for extension {ext:?} (expected .h264/.264 or .h265/.265/.hevc)")]
    ClipCodec { path: PathBuf, ext: String },
    #[error("clip {path} is empty")]
    ClipEmpty { path: PathBuf },
    #[error("clip {path} is not an Annex B elementary stream (no start code in the first {checked} bytes)")]
    ClipNotAnnexB { path: PathBuf, checked: usize },
    #[error("clip {path} has no {what} parameter set")]
    ClipMissingParams { path: PathBuf, what: &'static str },
    #[error("clip {path} has no picture (no VCL NAL unit)")]
    ClipNoFrames { path: PathBuf },
    #[error("clip {path}: first access unit is not a keyframe")]
    ClipNoLeadingKeyframe { path: PathBuf },
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("accepting a connection failed: {0}")]
    Accept(std::io::Error),
}
