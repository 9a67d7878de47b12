//! The client side: a rustls [`ServerCertVerifier`] that accepts a server
//! only when the SHA-256 of its end-entity certificate is one of the pinned
//! fingerprints (handshake signatures are still verified with the
//! provider's algorithms), and reqwest clients built on it.
//!
//! With no fingerprint configured every connection is refused, and the
//! error names the fingerprint the peer presented so the installer can
//! check it on the peer and paste it into the configuration (no silent
//! trust on first use).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, OtherError, SignatureScheme};

use crate::{Fingerprint, TlsError};

/// A server whose certificate is not pinned. (`Debug` is the message: rustls shows the
/// error of a custom verifier with `{:?}`.)
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error(
        "no certificate fingerprint is configured for this peer; it presented {seen}: check that this is the \
         fingerprint the peer shows (hotspare ... --fingerprint) and add fingerprint = \"{seen}\" to this box's \
         configuration"
    )]
    NotConfigured { seen: Fingerprint },
    #[error("certificate fingerprint mismatch: expected {}, the peer presented {seen}", list(.expected))]
    Mismatch { expected: Vec<Fingerprint>, seen: Fingerprint },
}

impl std::fmt::Debug for PinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

fn list(f: &[Fingerprint]) -> String {
    f.iter().map(|f| f.to_string()).collect::<Vec<_>>().join(" or ")
}

impl PinError {
    /// The pin error somewhere in the source chain of `e` (e.g. of a reqwest error).
    pub fn find(e: &(dyn std::error::Error + 'static)) -> Option<PinError> {
        if let Some(p) = e.downcast_ref::<PinError>() {
            return Some(p.clone());
        }
        if let Some(rustls::Error::InvalidCertificate(CertificateError::Other(o))) = e.downcast_ref::<rustls::Error>() {
            return o.0.downcast_ref::<PinError>().cloned();
        }
        // An io::Error's source() skips the error it wraps (rustls's, or another io::Error).
        if let Some(inner) = e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            if let Some(p) = PinError::find(inner) {
                return Some(p);
            }
        }
        PinError::find(e.source()?)
    }
}

#[derive(Debug)]
struct PinnedVerifier {
    pins: Vec<Fingerprint>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let seen = Fingerprint::of(end_entity);
        if self.pins.contains(&seen) {
            return Ok(ServerCertVerified::assertion());
        }
        let e = if self.pins.is_empty() {
            PinError::NotConfigured { seen }
        } else {
            PinError::Mismatch { expected: self.pins.clone(), seen }
        };
        Err(rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc::new(e)))))
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// A client config that accepts only servers whose certificate fingerprint is in `pins`
/// (none: every server is refused, naming its fingerprint).
pub fn pinned_client_config(pins: &[Fingerprint]) -> Result<ClientConfig, TlsError> {
    let provider = crate::provider();
    let algorithms = provider.signature_verification_algorithms;
    let mut cfg = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedVerifier { pins: pins.to_vec(), algorithms }))
        .with_no_client_auth();
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

/// A reqwest client builder whose `https://` connections accept only `pins` (plain
/// `http://` URLs still work, for `insecure` development setups).
pub fn http_client_builder(pins: &[Fingerprint]) -> Result<reqwest::ClientBuilder, TlsError> {
    Ok(reqwest::Client::builder().use_preconfigured_tls(pinned_client_config(pins)?))
}
