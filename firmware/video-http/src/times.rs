//! Times in query parameters: RFC 3339 or an integer of µs since the Unix epoch.

use std::time::UNIX_EPOCH;

/// Parses `s` as µs since the epoch (an integer) or an RFC 3339 time.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(us) = s.parse::<i64>() {
        return Ok(us);
    }
    let t = humantime::parse_rfc3339_weak(s)
        .map_err(|e| format!("{s:?} is neither µs since 1970 nor an RFC 3339 time: {e}"))?;
    let d = t.duration_since(UNIX_EPOCH).map_err(|_| format!("{s:?} is before 1970"))?;
    i64::try_from(d.as_micros()).map_err(|_| format!("{s:?} is too far in the future"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_forms() {
        assert_eq!(super::parse_time("1700000000000000"), Ok(1_700_000_000_000_000));
        assert_eq!(super::parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000_000));
        assert!(super::parse_time("yesterday").is_err());
    }
}
