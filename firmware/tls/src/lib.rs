//! TLS of the NVR↔spare API, paired like SSH: each box makes a self-signed
//! certificate and key on first start ([`Identity::load_or_create`]) and
//! shows its SHA-256 [`Fingerprint`]; the installer writes each peer's
//! fingerprint into the other box's configuration, and clients accept a
//! server only when its certificate has a pinned fingerprint
//! ([`pinned_client_config`]). No certificate authority, names or expiry
//! are involved. Crypto: rustls with the `ring` provider.
//!
//! Modules: [`fingerprint`] (parse/format), [`identity`] (certificate and
//! key files), [`pinned`] (the verifying client config, reqwest clients).
//! Servers take `TlsAcceptor::from(identity.server_config)` into
//! `hotspare_http::serve`.

pub mod fingerprint;
pub mod identity;
pub mod pinned;

pub use fingerprint::Fingerprint;
pub use identity::Identity;
pub use pinned::{http_client_builder, pinned_client_config, PinError};
pub use rustls;
pub use tokio_rustls;

use std::path::PathBuf;

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {op}: {source}")]
    Io { path: PathBuf, op: &'static str, source: std::io::Error },
    #[error("{path}: {problem}")]
    BadFile { path: PathBuf, problem: String },
    #[error("making the box's certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

impl From<hotspare_base::fs::FsError> for TlsError {
    fn from(e: hotspare_base::fs::FsError) -> Self {
        TlsError::Io { path: e.path, op: e.op, source: e.source }
    }
}

/// The crypto provider of every config made here.
pub fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}
