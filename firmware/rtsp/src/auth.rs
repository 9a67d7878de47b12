//! RTSP authentication: Basic and Digest (RFC 2617, MD5, with or without
//! `qop=auth`). The client side answers a `WWW-Authenticate` challenge; the
//! server side (used by the camera simulator) issues challenges and checks
//! `Authorization` headers.

use base64::Engine;
use md5::{Digest, Md5};

/// User name and password for a camera.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic { realm: String },
    Digest { realm: String, nonce: String, opaque: Option<String>, qop_auth: bool },
}

/// Errors from parsing authentication headers.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("unsupported authentication scheme in {0:?}")]
    UnsupportedScheme(String),
    #[error("authentication header {0:?} lacks the {1} parameter")]
    MissingParam(String, &'static str),
    #[error("digest algorithm {0:?} is not supported (only MD5)")]
    UnsupportedAlgorithm(String),
}

/// Splits `key=value, key="quoted, value"` parameter lists.
fn auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_ascii_lowercase();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(stripped) = rest.strip_prefix('"') {
            let end = stripped.find('"').unwrap_or(stripped.len());
            value = stripped[..end].to_string();
            rest = stripped.get(end + 1..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start().trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    out
}

impl Challenge {
    /// Parses one `WWW-Authenticate` header value.
    pub fn parse(header: &str) -> Result<Challenge, AuthError> {
        let header = header.trim();
        let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
        let params = auth_params(params);
        let get = |k: &str| params.iter().find(|(key, _)| key == k).map(|(_, v)| v.clone());
        let realm = get("realm").unwrap_or_default();
        if scheme.eq_ignore_ascii_case("basic") {
            return Ok(Challenge::Basic { realm });
        }
        if !scheme.eq_ignore_ascii_case("digest") {
            return Err(AuthError::UnsupportedScheme(header.to_string()));
        }
        if let Some(alg) = get("algorithm") {
            if !alg.eq_ignore_ascii_case("md5") {
                return Err(AuthError::UnsupportedAlgorithm(alg));
            }
        }
        let nonce = get("nonce").ok_or_else(|| AuthError::MissingParam(header.to_string(), "nonce"))?;
        let qop_auth = get("qop").is_some_and(|q| q.split(',').any(|q| q.trim() == "auth"));
        Ok(Challenge::Digest { realm, nonce, opaque: get("opaque"), qop_auth })
    }

    /// Picks the strongest challenge among several `WWW-Authenticate` values.
    pub fn best<'a>(headers: impl IntoIterator<Item = &'a str>) -> Result<Challenge, AuthError> {
        let mut best = None;
        let mut err = AuthError::UnsupportedScheme(String::new());
        for h in headers {
            match Challenge::parse(h) {
                Ok(c @ Challenge::Digest { .. }) => return Ok(c),
                Ok(c) => best = Some(c),
                Err(e) => err = e,
            }
        }
        best.ok_or(err)
    }
}

fn md5_hex(parts: &[&str]) -> String {
    let mut h = Md5::new();
    for (i, p) in parts.iter().enumerate() {
        if i > 0 {
            h.update(b":");
        }
        h.update(p.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Digest `response` value per RFC 2617.
pub fn digest_response(
    creds: &Credentials,
    realm: &str,
    nonce: &str,
    method: &str,
    uri: &str,
    qop: Option<(&str, &str)>, // (nc, cnonce) when qop=auth
) -> String {
    let ha1 = md5_hex(&[&creds.user, realm, &creds.password]);
    let ha2 = md5_hex(&[method, uri]);
    match qop {
        Some((nc, cnonce)) => md5_hex(&[&ha1, nonce, nc, cnonce, "auth", &ha2]),
        None => md5_hex(&[&ha1, nonce, &ha2]),
    }
}

/// Client-side state: answers a challenge for each request.
#[derive(Debug)]
pub struct Authenticator {
    creds: Credentials,
    challenge: Challenge,
    nc: u32,
    cnonce: String,
}

impl Authenticator {
    pub fn new(creds: Credentials, challenge: Challenge) -> Self {
        let cnonce = format!("{:016x}", rand::random::<u64>());
        Authenticator { creds, challenge, nc: 0, cnonce }
    }

    /// The `Authorization` header value for a request.
    pub fn authorization(&mut self, method: &str, uri: &str) -> String {
        match &self.challenge {
            Challenge::Basic { .. } => {
                let raw = format!("{}:{}", self.creds.user, self.creds.password);
                format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(raw))
            }
            Challenge::Digest { realm, nonce, opaque, qop_auth } => {
                let mut v = format!(
                    "Digest username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\"",
                    self.creds.user, realm, nonce, uri
                );
                let resp = if *qop_auth {
                    self.nc += 1;
                    let nc = format!("{:08x}", self.nc);
                    let r = digest_response(&self.creds, realm, nonce, method, uri, Some((&nc, &self.cnonce)));
                    v.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{}\"", self.cnonce));
                    r
                } else {
                    digest_response(&self.creds, realm, nonce, method, uri, None)
                };
                v.push_str(&format!(", response=\"{resp}\""));
                if let Some(o) = opaque {
                    v.push_str(&format!(", opaque=\"{o}\""));
                }
                v
            }
        }
    }
}

/// Server-side check of an `Authorization` header against the expected
/// credentials, for a Digest challenge with `realm` and `nonce` issued
/// earlier (or Basic when `nonce` is `None`).
pub fn verify(header: &str, method: &str, creds: &Credentials, realm: &str, nonce: Option<&str>) -> bool {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        let expect = format!("{}:{}", creds.user, creds.password);
        return nonce.is_none()
            && base64::engine::general_purpose::STANDARD.decode(rest.trim()).is_ok_and(|d| d == expect.as_bytes());
    }
    if !scheme.eq_ignore_ascii_case("digest") {
        return false;
    }
    let Some(nonce) = nonce else { return false };
    let p = auth_params(rest);
    let get = |k: &str| p.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let (Some(user), Some(uri), Some(resp), Some(got_nonce)) =
        (get("username"), get("uri"), get("response"), get("nonce"))
    else {
        return false;
    };
    if user != creds.user || got_nonce != nonce || get("realm").is_some_and(|r| r != realm) {
        return false;
    }
    let qop = match (get("qop"), get("nc"), get("cnonce")) {
        (Some("auth"), Some(nc), Some(cn)) => Some((nc, cn)),
        (None, _, _) => None,
        _ => return false,
    };
    digest_response(creds, realm, nonce, method, uri, qop) == resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds() -> Credentials {
        Credentials { user: "admin".into(), password: "secret".into() }
    }

    #[test]
    fn rfc2617_example() {
        // The worked example from RFC 2617 section 3.5.
        let c = Credentials { user: "Mufasa".into(), password: "Circle Of Life".into() };
        let r = digest_response(
            &c,
            "testrealm@host.com",
            "dcd98b7102dd2f0e8b11d0f600bfb0c093",
            "GET",
            "/dir/index.html",
            Some(("00000001", "0a4f113b")),
        );
        assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    }

    #[test]
    fn parses_digest_challenge_with_commas_in_quotes() {
        let c = Challenge::parse(r#"Digest realm="cam, front", nonce="abc", qop="auth,auth-int", opaque="o""#).unwrap();
        assert_eq!(
            c,
            Challenge::Digest {
                realm: "cam, front".into(),
                nonce: "abc".into(),
                opaque: Some("o".into()),
                qop_auth: true
            }
        );
    }

    #[test]
    fn prefers_digest_over_basic() {
        let c = Challenge::best(["Basic realm=\"x\"", "Digest realm=\"x\", nonce=\"n\""]).unwrap();
        assert!(matches!(c, Challenge::Digest { .. }));
    }

    #[test]
    fn missing_nonce_is_named() {
        assert_eq!(
            Challenge::parse("Digest realm=\"x\""),
            Err(AuthError::MissingParam("Digest realm=\"x\"".into(), "nonce"))
        );
    }

    #[test]
    fn client_answer_verifies_on_server() {
        for qop in [false, true] {
            let ch = Challenge::Digest { realm: "r".into(), nonce: "n1".into(), opaque: None, qop_auth: qop };
            let mut a = Authenticator::new(creds(), ch);
            let h = a.authorization("DESCRIBE", "rtsp://h/cam0");
            assert!(verify(&h, "DESCRIBE", &creds(), "r", Some("n1")));
            let bad = Credentials { user: "admin".into(), password: "wrong".into() };
            assert!(!verify(&h, "DESCRIBE", &bad, "r", Some("n1")));
            assert!(!verify(&h, "DESCRIBE", &creds(), "r", Some("other-nonce")));
        }
    }

    #[test]
    fn basic_round_trip() {
        let mut a = Authenticator::new(creds(), Challenge::Basic { realm: "r".into() });
        let h = a.authorization("OPTIONS", "*");
        assert!(verify(&h, "OPTIONS", &creds(), "r", None));
        assert!(!verify("Basic !!!", "OPTIONS", &creds(), "r", None));
    }
}
