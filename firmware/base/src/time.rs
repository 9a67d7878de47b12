//! Parsing times given by people and clients: RFC 3339 (`2026-11-21T10:00:00Z`) or an
//! integer of µs since the Unix epoch, into µs since the epoch.

use std::time::{SystemTime, UNIX_EPOCH};

/// Why a time did not parse; callers map it into their own error (a 400, a CLI message).
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum TimeError {
    #[error("{input:?} is not an RFC 3339 time (e.g. 2026-11-21T10:00:00Z): {reason}")]
    NotRfc3339 { input: String, reason: humantime::TimestampError },
    #[error("{input:?} is neither µs since 1970 nor an RFC 3339 time: {reason}")]
    NotATime { input: String, reason: humantime::TimestampError },
    #[error("{input:?} is before 1970")]
    BeforeEpoch { input: String },
    #[error("{input:?} is too far in the future")]
    TooLate { input: String },
}

/// An RFC 3339 time (the lenient form: `T` or a space, `Z` optional, any fraction).
pub fn parse_rfc3339_us(s: &str) -> Result<i64, TimeError> {
    let t = humantime::parse_rfc3339_weak(s).map_err(|reason| TimeError::NotRfc3339 { input: s.to_owned(), reason })?;
    since_epoch_us(s, t)
}

/// An RFC 3339 UTC time in the strict form `2025-03-01T09:30:00Z` (what licences carry).
pub fn parse_rfc3339_strict_us(s: &str) -> Result<i64, TimeError> {
    let t = humantime::parse_rfc3339(s).map_err(|reason| TimeError::NotRfc3339 { input: s.to_owned(), reason })?;
    since_epoch_us(s, t)
}

/// An integer of µs since the epoch, or else an RFC 3339 time ([`parse_rfc3339_us`]).
pub fn parse_time_us(s: &str) -> Result<i64, TimeError> {
    if let Ok(us) = s.parse::<i64>() {
        return Ok(us);
    }
    parse_rfc3339_us(s).map_err(|e| match e {
        TimeError::NotRfc3339 { input, reason } => TimeError::NotATime { input, reason },
        e => e,
    })
}

fn since_epoch_us(input: &str, t: SystemTime) -> Result<i64, TimeError> {
    let d = t.duration_since(UNIX_EPOCH).map_err(|_| TimeError::BeforeEpoch { input: input.to_owned() })?;
    i64::try_from(d.as_micros()).map_err(|_| TimeError::TooLate { input: input.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms() {
        assert_eq!(parse_time_us("1700000000000000"), Ok(1_700_000_000_000_000));
        assert_eq!(parse_time_us("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000_000));
        assert_eq!(parse_rfc3339_us("2023-11-14 22:13:20.5"), Ok(1_700_000_000_500_000));
        assert!(matches!(parse_time_us("yesterday"), Err(TimeError::NotATime { .. })));
        assert!(matches!(parse_rfc3339_us("1700000000000000"), Err(TimeError::NotRfc3339 { .. })));
    }

    #[test]
    fn strict_form_wants_t_and_z() {
        assert_eq!(parse_rfc3339_strict_us("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000_000));
        assert!(parse_rfc3339_strict_us("2023-11-14 22:13:20").is_err());
    }

    #[test]
    fn before_1970_is_refused() {
        // humantime itself refuses years before 1970 (out of range).
        assert!(parse_rfc3339_us("1969-12-31T23:59:59Z").is_err());
        let e = parse_rfc3339_us("tomorrow").unwrap_err().to_string();
        assert!(e.contains("not an RFC 3339 time"), "{e}");
    }
}
