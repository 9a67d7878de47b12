//! RTSP authentication: Basic and Digest (RFC 2617 / RFC 7616: MD5,
//! MD5-sess, SHA-256, SHA-256-sess, with or without `qop=auth`, `userhash`).
//! The client side answers a `WWW-Authenticate` challenge; the server side
//! (used by the camera simulator and the replay tests) checks
//! `Authorization` headers.

pub mod algorithm;

use base64::Engine;

pub use algorithm::Algorithm;
use algorithm::DigestInput;

/// User name and password for a camera.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    pub user: String,
    pub password: String,
}

/// A parsed `WWW-Authenticate` challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Challenge {
    Basic {
        realm: String,
    },
    Digest {
        realm: String,
        nonce: String,
        opaque: Option<String>,
        qop_auth: bool,
        algorithm: Algorithm,
        /// The server asked for the user name hashed (`userhash=true`).
        userhash: bool,
    },
}

/// Errors from parsing authentication headers.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("unsupported authentication scheme in {0:?}")]
    UnsupportedScheme(String),
    #[error("authentication header {0:?} lacks the {1} parameter")]
    MissingParam(String, &'static str),
    #[error("digest algorithm {0:?} is not supported (only MD5, MD5-sess, SHA-256, SHA-256-sess)")]
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
        let algorithm = match get("algorithm") {
            None => Algorithm::Md5,
            Some(alg) => Algorithm::parse(&alg).ok_or(AuthError::UnsupportedAlgorithm(alg))?,
        };
        let nonce = get("nonce").ok_or_else(|| AuthError::MissingParam(header.to_string(), "nonce"))?;
        let qop_auth = get("qop").is_some_and(|q| q.split(',').any(|q| q.trim() == "auth"));
        let userhash = get("userhash").is_some_and(|u| u.eq_ignore_ascii_case("true"));
        Ok(Challenge::Digest { realm, nonce, opaque: get("opaque"), qop_auth, algorithm, userhash })
    }

    /// How much this challenge is preferred: Digest SHA-256 over Digest MD5
    /// over Basic.
    fn strength(&self) -> u8 {
        match self {
            Challenge::Basic { .. } => 0,
            Challenge::Digest { algorithm, .. } => 1 + algorithm.strength(),
        }
    }

    /// Picks the strongest challenge among several `WWW-Authenticate`
    /// values (the first of equal strength); the error of the last
    /// unusable one when none is usable.
    pub fn best<'a>(headers: impl IntoIterator<Item = &'a str>) -> Result<Challenge, AuthError> {
        let mut best: Option<Challenge> = None;
        let mut err = AuthError::UnsupportedScheme(String::new());
        for h in headers {
            match Challenge::parse(h) {
                Ok(c) => {
                    if best.as_ref().is_none_or(|b| c.strength() > b.strength()) {
                        best = Some(c);
                    }
                }
                Err(e) => err = e,
            }
        }
        best.ok_or(err)
    }
}

/// Digest `response` value with MD5 per RFC 2617 (no `-sess`).
pub fn digest_response(
    creds: &Credentials,
    realm: &str,
    nonce: &str,
    method: &str,
    uri: &str,
    qop: Option<(&str, &str)>, // (nc, cnonce) when qop=auth
) -> String {
    let cnonce = qop.map(|(_, c)| c).unwrap_or("");
    algorithm::response(creds, &DigestInput { algorithm: Algorithm::Md5, realm, nonce, method, uri, qop, cnonce })
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
            Challenge::Digest { realm, nonce, opaque, qop_auth, algorithm, userhash } => {
                let user = if *userhash {
                    algorithm::user_hash(*algorithm, &self.creds.user, realm)
                } else {
                    self.creds.user.clone()
                };
                let mut v = format!("Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\"");
                // A challenge without `algorithm` is answered without one
                // (RFC 2617 servers may not know the parameter).
                if *algorithm != Algorithm::Md5 {
                    v.push_str(&format!(", algorithm={}", algorithm.name()));
                }
                let nc = format!("{:08x}", self.nc + 1);
                let qop = qop_auth.then_some((nc.as_str(), self.cnonce.as_str()));
                let input = DigestInput { algorithm: *algorithm, realm, nonce, method, uri, qop, cnonce: &self.cnonce };
                let resp = algorithm::response(&self.creds, &input);
                if *qop_auth {
                    self.nc += 1;
                    v.push_str(&format!(", qop=auth, nc={nc}, cnonce=\"{}\"", self.cnonce));
                } else if matches!(algorithm, Algorithm::Md5Sess | Algorithm::Sha256Sess) {
                    v.push_str(&format!(", cnonce=\"{}\"", self.cnonce));
                }
                v.push_str(&format!(", response=\"{resp}\""));
                if let Some(o) = opaque {
                    v.push_str(&format!(", opaque=\"{o}\""));
                }
                if *userhash {
                    v.push_str(", userhash=true");
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
    let Some(algorithm) = Algorithm::parse(get("algorithm").unwrap_or("MD5")) else { return false };
    let expected_user = if get("userhash").is_some_and(|u| u.eq_ignore_ascii_case("true")) {
        algorithm::user_hash(algorithm, &creds.user, realm)
    } else {
        creds.user.clone()
    };
    if user != expected_user || got_nonce != nonce || get("realm").is_some_and(|r| r != realm) {
        return false;
    }
    let qop = match (get("qop"), get("nc"), get("cnonce")) {
        (Some("auth"), Some(nc), Some(cn)) => Some((nc, cn)),
        (None, _, _) => None,
        _ => return false,
    };
    let cnonce = get("cnonce").unwrap_or("");
    algorithm::response(creds, &DigestInput { algorithm, realm, nonce, method, uri, qop, cnonce }) == resp
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
                qop_auth: true,
                algorithm: Algorithm::Md5,
                userhash: false,
            }
        );
    }

    #[test]
    fn prefers_digest_over_basic() {
        let c = Challenge::best(["Basic realm=\"x\"", "Digest realm=\"x\", nonce=\"n\""]).unwrap();
        assert!(matches!(c, Challenge::Digest { .. }));
    }

    #[test]
    fn prefers_sha256_among_several_digest_challenges() {
        let md5 = r#"Digest realm="x", nonce="n1", algorithm=MD5, qop="auth""#;
        let sha = r#"Digest realm="x", nonce="n2", algorithm="SHA-256", qop="auth""#;
        for order in [[md5, sha, "Basic realm=\"x\""], ["Basic realm=\"x\"", sha, md5]] {
            match Challenge::best(order).unwrap() {
                Challenge::Digest { algorithm, nonce, .. } => {
                    assert_eq!((algorithm, nonce.as_str()), (Algorithm::Sha256, "n2"));
                }
                c => panic!("picked {c:?}"),
            }
        }
    }

    #[test]
    fn sha256_only_challenge_is_usable_and_unknown_algorithm_named() {
        let only = Challenge::best([r#"Digest realm="IP Camera(C1234)", nonce="abc", algorithm="SHA-256""#]);
        assert!(matches!(only, Ok(Challenge::Digest { algorithm: Algorithm::Sha256, .. })), "{only:?}");
        assert_eq!(
            Challenge::parse(r#"Digest realm="x", nonce="n", algorithm=SHA-512-256"#),
            Err(AuthError::UnsupportedAlgorithm("SHA-512-256".into()))
        );
        // An unusable challenge beside a usable one does not stop us.
        let c = Challenge::best([
            r#"Digest realm="x", nonce="n", algorithm=SHA-512-256"#,
            r#"Digest realm="x", nonce="m""#,
        ]);
        assert!(matches!(c, Ok(Challenge::Digest { algorithm: Algorithm::Md5, .. })), "{c:?}");
    }

    #[test]
    fn every_algorithm_with_and_without_qop_and_userhash_verifies() {
        for algorithm in [Algorithm::Md5, Algorithm::Md5Sess, Algorithm::Sha256, Algorithm::Sha256Sess] {
            for qop_auth in [false, true] {
                for userhash in [false, true] {
                    let ch = Challenge::Digest {
                        realm: "r".into(),
                        nonce: "n1".into(),
                        opaque: Some("op".into()),
                        qop_auth,
                        algorithm,
                        userhash,
                    };
                    let mut a = Authenticator::new(creds(), ch);
                    let h = a.authorization("SETUP", "rtsp://h/cam0/trackID=1");
                    let case = format!("{algorithm:?} qop={qop_auth} userhash={userhash}: {h}");
                    assert!(verify(&h, "SETUP", &creds(), "r", Some("n1")), "{case}");
                    assert_eq!(h.contains("admin"), !userhash, "{case}");
                    let bad = Credentials { user: "admin".into(), password: "wrong".into() };
                    assert!(!verify(&h, "SETUP", &bad, "r", Some("n1")), "{case}");
                    // The next request counts up nc and still verifies.
                    let h2 = a.authorization("PLAY", "rtsp://h/cam0/");
                    assert!(verify(&h2, "PLAY", &creds(), "r", Some("n1")), "{case}");
                    assert_eq!(h2.contains("nc=00000002"), qop_auth, "{case}");
                }
            }
        }
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
            let ch = Challenge::Digest {
                realm: "r".into(),
                nonce: "n1".into(),
                opaque: None,
                qop_auth: qop,
                algorithm: Algorithm::Md5,
                userhash: false,
            };
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
