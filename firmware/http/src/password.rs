//! Password hashes: `pbkdf2-sha256$ITER$SALT_B64$HASH_B64` (standard base64
//! without padding). The NVR publishes only the admin hash; a spare that takes
//! over verifies the failed NVR's admin credentials with [`verify_password`].
//! Verifying costs `ITER` HMAC rounds: callers on async workers go through
//! [`crate::auth::Authenticator`], which runs it on the blocking pool.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use sha2::Sha256;

/// PBKDF2 iterations of new hashes.
pub const ITERATIONS: u32 = 100_000;
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
/// Hashes claiming more iterations than this are rejected: a stored or received hash cannot make
/// one verification cost more than about 10 new-hash verifications.
pub const MAX_ITERATIONS: u32 = 1_000_000;

/// Hashes `password` with a fresh random salt.
pub fn hash_password(password: &str) -> String {
    let salt: [u8; SALT_LEN] = rand::random();
    hash_with(password, &salt, ITERATIONS)
}

fn hash_with(password: &str, salt: &[u8], iterations: u32) -> String {
    let mut out = [0u8; HASH_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt, iterations, &mut out);
    format!("pbkdf2-sha256${iterations}${}${}", STANDARD_NO_PAD.encode(salt), STANDARD_NO_PAD.encode(out))
}

/// A parsed hash.
struct Parsed {
    iterations: u32,
    salt: Vec<u8>,
    expect: Vec<u8>,
}

fn parse(hash: &str) -> Result<Parsed, String> {
    let mut parts = hash.split('$');
    let (Some("pbkdf2-sha256"), Some(iter), Some(salt), Some(expect), None) =
        (parts.next(), parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("expected pbkdf2-sha256$ITERATIONS$SALT$HASH".into());
    };
    let iterations = iter.parse::<u32>().map_err(|_| format!("iterations {iter:?} is not a number"))?;
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(format!("iterations {iterations} outside 1..={MAX_ITERATIONS}"));
    }
    let (Ok(salt), Ok(expect)) = (STANDARD_NO_PAD.decode(salt), STANDARD_NO_PAD.decode(expect)) else {
        return Err("salt and hash must be base64 without padding".into());
    };
    if expect.is_empty() || expect.len() > 64 || salt.len() > 64 {
        return Err("hash must be 1..=64 bytes and salt at most 64 bytes".into());
    }
    Ok(Parsed { iterations, salt, expect })
}

/// `Ok` when `hash` is a hash [`verify_password`] accepts to check against (well formed, cost within
/// [`MAX_ITERATIONS`]); else what is wrong with it.
pub fn check_hash(hash: &str) -> Result<(), String> {
    parse(hash).map(|_| ())
}

/// True when `password` matches `hash` (as made by [`hash_password`]). A malformed hash, or one
/// costing more than [`MAX_ITERATIONS`], never matches. The comparison takes the same time
/// wherever the hashes differ. Blocking (CPU) work: not for async workers.
pub fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(p) = parse(hash) else { return false };
    let mut out = vec![0u8; p.expect.len()];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), &p.salt, p.iterations, &mut out);
    constant_time_eq(&out, &p.expect)
}

/// Equality of two byte strings in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash_password("s3cret");
        assert!(h.starts_with("pbkdf2-sha256$100000$"));
        assert!(verify_password("s3cret", &h));
        assert!(!verify_password("s3cret!", &h));
        assert_ne!(h, hash_password("s3cret"), "salt is random");
        assert!(!verify_password("s3cret", "pbkdf2-sha256$0$AAAA$AAAA"));
        assert!(!verify_password("s3cret", "garbage"));
        assert!(!verify_password("s3cret", &format!("{h}$extra")));
        assert!(check_hash(&h).is_ok());
    }

    #[test]
    fn cost_is_bounded() {
        let h = hash_password("s3cret");
        let costly = h.replace("$100000$", "$50000000$");
        let e = check_hash(&costly).unwrap_err();
        assert!(e.contains("50000000"), "{e}");
        // Rejected before any hashing: this returns at once.
        assert!(!verify_password("s3cret", &costly));
    }

    #[test]
    fn known_vector() {
        // RFC 7914 §11 PBKDF2-HMAC-SHA256 vector ("passwd", "salt", 1 iteration), first 32 bytes.
        let h = hash_with("passwd", b"salt", 1);
        let expect = hex_decode("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc");
        assert_eq!(
            h,
            format!("pbkdf2-sha256$1${}${}", STANDARD_NO_PAD.encode(b"salt"), STANDARD_NO_PAD.encode(expect))
        );
    }

    fn hex_decode(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }
}
