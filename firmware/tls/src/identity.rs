//! A box's TLS identity: a self-signed ECDSA P-256 certificate and its key
//! in a directory of the box's state, made on first start and kept for good
//! (peers have pinned its fingerprint). The directory is created with mode
//! 0700 and the key file with 0600, at creation.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hotspare_base::fs::write_atomic;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;

use crate::{Fingerprint, TlsError};

/// The certificate, PEM.
pub const CERT_FILE: &str = "cert.pem";
/// The private key, PEM, mode 0600.
pub const KEY_FILE: &str = "key.pem";
/// Mode of the key file.
pub const KEY_MODE: u32 = 0o600;
/// Mode of the identity directory.
pub const DIR_MODE: u32 = 0o700;

/// A box's certificate, ready to serve.
#[derive(Clone)]
pub struct Identity {
    pub server_config: Arc<ServerConfig>,
    pub fingerprint: Fingerprint,
    /// Where the files are.
    pub dir: PathBuf,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("fingerprint", &self.fingerprint).field("dir", &self.dir).finish()
    }
}

fn io<'a>(path: &'a Path, op: &'static str) -> impl FnOnce(std::io::Error) -> TlsError + 'a {
    move |source| TlsError::Io { path: path.to_owned(), op, source }
}

fn generate(name: &str, key: Option<rcgen::KeyPair>) -> Result<(rcgen::Certificate, rcgen::KeyPair), TlsError> {
    let key = match key {
        Some(k) => k,
        None => rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?,
    };
    let mut params = rcgen::CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, name);
    // Pinned by fingerprint: validity is not checked by peers; make it long.
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2120, 1, 1);
    let cert = params.self_signed(&key)?;
    Ok((cert, key))
}

/// The server config for `cert` and `key` (TLS 1.2 and 1.3, HTTP/1.1).
pub fn server_config(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> Result<ServerConfig, TlsError> {
    let mut cfg = ServerConfig::builder_with_provider(crate::provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(cfg)
}

impl Identity {
    /// Loads the identity in `dir`, or makes one (certificate subject `name`) when there is
    /// none. A key file others can read is narrowed to 0600 with a warning; a certificate
    /// without its key is an error (the identity peers pinned is gone: delete the
    /// certificate to make a new one, then pair again).
    pub fn load_or_create(dir: &Path, name: &str) -> Result<Identity, TlsError> {
        fs::DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir).map_err(io(dir, "create directory"))?;
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        let (cert_der, key_der) = match (cert_path.exists(), key_path.exists()) {
            (true, true) => {
                restrict_key(&key_path)?;
                (read_cert(&cert_path)?, read_key(&key_path)?)
            }
            (true, false) => {
                return Err(TlsError::BadFile {
                    path: key_path,
                    problem: format!(
                        "missing while {} exists: the box's identity is lost; delete the certificate to make a \
                         new one and pair the peers again with the new fingerprint",
                        cert_path.display()
                    ),
                })
            }
            (false, has_key) => {
                let key = if has_key {
                    log::warn!("{}: missing; making a new certificate for the existing key", cert_path.display());
                    let pem = fs::read_to_string(&key_path).map_err(io(&key_path, "read"))?;
                    Some(rcgen::KeyPair::from_pem(&pem).map_err(|e| TlsError::BadFile {
                        path: key_path.clone(),
                        problem: format!("not a private key: {e}"),
                    })?)
                } else {
                    None
                };
                let (cert, key) = generate(name, key)?;
                if !has_key {
                    write_atomic(&key_path, key.serialize_pem().as_bytes(), KEY_MODE)?;
                }
                write_atomic(&cert_path, cert.pem().as_bytes(), 0o644)?;
                log::info!("{}: new TLS certificate made", dir.display());
                (cert.der().clone(), PrivateKeyDer::try_from(key.serialize_der()).map_err(|e| bad(&key_path, e))?)
            }
        };
        let fingerprint = Fingerprint::of(&cert_der);
        let server_config = Arc::new(server_config(cert_der, key_der)?);
        Ok(Identity { server_config, fingerprint, dir: dir.to_owned() })
    }
}

fn bad(path: &Path, problem: impl std::fmt::Display) -> TlsError {
    TlsError::BadFile { path: path.to_owned(), problem: problem.to_string() }
}

fn restrict_key(path: &Path) -> Result<(), TlsError> {
    let meta = fs::metadata(path).map_err(io(path, "stat"))?;
    if meta.permissions().mode() & 0o077 != 0 {
        log::warn!("{}: readable by others; now mode 600", path.display());
        fs::set_permissions(path, fs::Permissions::from_mode(KEY_MODE)).map_err(io(path, "chmod"))?;
    }
    Ok(())
}

fn read_cert(path: &Path) -> Result<CertificateDer<'static>, TlsError> {
    let pem = fs::read(path).map_err(io(path, "read"))?;
    let mut reader = pem.as_slice();
    let first = rustls_pemfile::certs(&mut reader).next();
    match first {
        Some(Ok(c)) => Ok(c),
        Some(Err(e)) => Err(bad(path, format!("not a PEM certificate: {e}"))),
        None => Err(bad(path, "no certificate in it")),
    }
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pem = fs::read(path).map_err(io(path, "read"))?;
    match rustls_pemfile::private_key(&mut pem.as_slice()) {
        Ok(Some(k)) => Ok(k),
        Ok(None) => Err(bad(path, "no private key in it")),
        Err(e) => Err(bad(path, format!("not a PEM private key: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn made_once_then_loaded_with_a_private_key() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("tls");
        let a = Identity::load_or_create(&dir, "nvr NVR-1").unwrap();
        assert_eq!(mode(&dir.join(KEY_FILE)), 0o600);
        assert_eq!(mode(&dir), 0o700);
        let b = Identity::load_or_create(&dir, "nvr NVR-1").unwrap();
        assert_eq!(a.fingerprint, b.fingerprint, "the identity is kept across starts");
        let pem = fs::read(dir.join(CERT_FILE)).unwrap();
        let der = rustls_pemfile::certs(&mut pem.as_slice()).next().unwrap().unwrap();
        assert_eq!(Fingerprint::of(&der), a.fingerprint);
    }

    #[test]
    fn a_widened_key_is_narrowed_and_a_lost_key_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let a = Identity::load_or_create(d.path(), "spare").unwrap();
        fs::set_permissions(d.path().join(KEY_FILE), fs::Permissions::from_mode(0o644)).unwrap();
        let b = Identity::load_or_create(d.path(), "spare").unwrap();
        assert_eq!((mode(&d.path().join(KEY_FILE)), a.fingerprint), (0o600, b.fingerprint));
        fs::remove_file(d.path().join(KEY_FILE)).unwrap();
        let e = Identity::load_or_create(d.path(), "spare").unwrap_err().to_string();
        assert!(e.contains("key.pem") && e.contains("identity is lost"), "{e}");
    }
}
