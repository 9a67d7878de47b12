//! Digest hash algorithms (RFC 7616 §3.4.1–3.4.3): MD5 and SHA-256, each
//! plain or `-sess`, and the `response` value computed with them.

use md5::{Digest, Md5};
use sha2::Sha256;

use super::Credentials;

/// The `algorithm` of a Digest challenge.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Algorithm {
    /// `MD5`, also what a challenge without `algorithm` means (RFC 2617).
    #[default]
    Md5,
    /// `MD5-sess`: the first hash also covers the nonce and client nonce.
    Md5Sess,
    /// `SHA-256` (RFC 7616); some Hikvision-OEM firmware offers only this.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
}

impl Algorithm {
    /// Parses the `algorithm` parameter (case-insensitive); `None` for
    /// algorithms we do not implement (e.g. `SHA-512-256`).
    pub fn parse(s: &str) -> Option<Algorithm> {
        let s = s.trim();
        [
            ("MD5", Algorithm::Md5),
            ("MD5-sess", Algorithm::Md5Sess),
            ("SHA-256", Algorithm::Sha256),
            ("SHA-256-sess", Algorithm::Sha256Sess),
        ]
        .into_iter()
        .find(|(name, _)| s.eq_ignore_ascii_case(name))
        .map(|(_, a)| a)
    }

    /// The name as sent in an `Authorization` header.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
        }
    }

    /// Preference among several offered challenges: higher is stronger.
    pub fn strength(self) -> u8 {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => 1,
            Algorithm::Sha256 | Algorithm::Sha256Sess => 2,
        }
    }

    fn is_sess(self) -> bool {
        matches!(self, Algorithm::Md5Sess | Algorithm::Sha256Sess)
    }

    /// Lower-case hex hash of `parts` joined by `:`.
    pub fn hex(self, parts: &[&str]) -> String {
        let joined = parts.join(":");
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => hex(&Md5::digest(joined.as_bytes())),
            Algorithm::Sha256 | Algorithm::Sha256Sess => hex(&Sha256::digest(joined.as_bytes())),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The parts of a Digest answer that vary per request.
#[derive(Clone, Copy, Debug)]
pub struct DigestInput<'a> {
    pub algorithm: Algorithm,
    pub realm: &'a str,
    pub nonce: &'a str,
    pub method: &'a str,
    pub uri: &'a str,
    /// `(nc, cnonce)` when answering with `qop=auth`.
    pub qop: Option<(&'a str, &'a str)>,
    /// The client nonce; `-sess` algorithms need it even without `qop`.
    pub cnonce: &'a str,
}

/// Digest `response` value per RFC 7616 §3.4.1 (RFC 2617 for MD5).
pub fn response(creds: &Credentials, d: &DigestInput<'_>) -> String {
    let a = d.algorithm;
    let mut ha1 = a.hex(&[&creds.user, d.realm, &creds.password]);
    if a.is_sess() {
        ha1 = a.hex(&[&ha1, d.nonce, d.cnonce]);
    }
    let ha2 = a.hex(&[d.method, d.uri]);
    match d.qop {
        Some((nc, cnonce)) => a.hex(&[&ha1, d.nonce, nc, cnonce, "auth", &ha2]),
        None => a.hex(&[&ha1, d.nonce, &ha2]),
    }
}

/// The `username` sent when the server asked for `userhash=true`
/// (RFC 7616 §3.4.4): `H(user:realm)`.
pub fn user_hash(algorithm: Algorithm, user: &str, realm: &str) -> String {
    algorithm.hex(&[user, realm])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7616 §3.9.1: the same request answered with MD5 and with SHA-256.
    fn rfc7616(algorithm: Algorithm) -> String {
        let c = Credentials { user: "Mufasa".into(), password: "Circle of Life".into() };
        response(
            &c,
            &DigestInput {
                algorithm,
                realm: "http-auth@example.org",
                nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
                method: "GET",
                uri: "/dir/index.html",
                qop: Some(("00000001", "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ")),
                cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
            },
        )
    }

    #[test]
    fn rfc7616_md5_example() {
        assert_eq!(rfc7616(Algorithm::Md5), "8ca523f5e9506fed4657c9700eebdbec");
    }

    #[test]
    fn rfc7616_sha256_example() {
        assert_eq!(rfc7616(Algorithm::Sha256), "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
    }

    #[test]
    fn sess_variants_differ_from_plain_and_use_the_cnonce() {
        let plain = rfc7616(Algorithm::Sha256);
        let sess = rfc7616(Algorithm::Sha256Sess);
        assert_ne!(plain, sess);
        assert_eq!(sess.len(), 64);
        assert_ne!(rfc7616(Algorithm::Md5), rfc7616(Algorithm::Md5Sess));
    }

    #[test]
    fn names_round_trip_case_insensitively() {
        for a in [Algorithm::Md5, Algorithm::Md5Sess, Algorithm::Sha256, Algorithm::Sha256Sess] {
            assert_eq!(Algorithm::parse(a.name()), Some(a));
            assert_eq!(Algorithm::parse(&a.name().to_ascii_lowercase()), Some(a));
        }
        assert_eq!(Algorithm::parse("SHA-512-256"), None);
    }
}
