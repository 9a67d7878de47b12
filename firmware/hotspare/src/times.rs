//! RFC 3339 times on the command line, as µs since the Unix epoch.

use std::time::{Duration, UNIX_EPOCH};

use crate::CliError;

pub fn parse_rfc3339_us(flag: &str, s: &str) -> Result<i64, CliError> {
    let t = humantime::parse_rfc3339_weak(s)
        .map_err(|e| CliError::new(format!("{flag} {s:?} is not an RFC 3339 time (e.g. 2026-11-21T10:00:00Z): {e}")))?;
    let d = t.duration_since(UNIX_EPOCH).map_err(|_| CliError::new(format!("{flag} {s:?} is before 1970")))?;
    Ok(d.as_micros() as i64)
}

pub fn format_us(us: i64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_micros(us.max(0) as u64)).to_string()
}
