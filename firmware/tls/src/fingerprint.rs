//! Certificate fingerprints as the installer sees and types them:
//! `sha256:` followed by the 64 hex digits of the SHA-256 of the DER
//! certificate (upper case and `:` separators are accepted when parsing).

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// SHA-256 of a DER certificate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Fingerprint(pub [u8; 32]);

impl Fingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of(cert_der: &[u8]) -> Fingerprint {
        Fingerprint(Sha256::digest(cert_der).into())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A text that is not a fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not a certificate fingerprint ({problem}); expected sha256: and 64 hex digits")]
pub struct BadFingerprint {
    pub text: String,
    pub problem: &'static str,
}

impl FromStr for Fingerprint {
    type Err = BadFingerprint;

    fn from_str(s: &str) -> Result<Fingerprint, BadFingerprint> {
        let bad = |problem| BadFingerprint { text: s.to_owned(), problem };
        let t = s.trim();
        let Some(hex_part) = t.get(..7).filter(|p| p.eq_ignore_ascii_case("sha256:")).map(|_| &t[7..]) else {
            return Err(bad("no sha256: prefix"));
        };
        let digits: String = hex_part.chars().filter(|c| *c != ':').collect();
        if digits.len() != 64 {
            return Err(bad("not 64 hex digits"));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(&digits, &mut out).map_err(|_| bad("not hex"))?;
        Ok(Fingerprint(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lenient_forms() {
        let f = Fingerprint::of(b"certificate");
        let text = f.to_string();
        assert!(text.starts_with("sha256:") && text.len() == 7 + 64, "{text}");
        assert_eq!(text.parse::<Fingerprint>().unwrap(), f);
        let upper_colons: String = text[7..]
            .to_uppercase()
            .as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":");
        assert_eq!(format!("SHA256:{upper_colons}").parse::<Fingerprint>().unwrap(), f);
    }

    #[test]
    fn bad_fingerprints_say_why() {
        let e = "md5:00".parse::<Fingerprint>().unwrap_err();
        assert!(e.to_string().contains("no sha256: prefix"), "{e}");
        let e = "sha256:abcd".parse::<Fingerprint>().unwrap_err();
        assert!(e.to_string().contains("64 hex digits"), "{e}");
        let e = format!("sha256:{}", "zz".repeat(32)).parse::<Fingerprint>().unwrap_err();
        assert!(e.to_string().contains("not hex"), "{e}");
    }
}
