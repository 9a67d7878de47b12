//! RFC 3339 times on the command line, as µs since the Unix epoch.

use std::time::{Duration, UNIX_EPOCH};

use crate::CliError;

/// The time given to `flag` (base's [`hotspare_base::time::parse_rfc3339_us`]), errors naming the flag.
pub fn parse_rfc3339_us(flag: &str, s: &str) -> Result<i64, CliError> {
    hotspare_base::time::parse_rfc3339_us(s).map_err(|e| CliError::new(format!("{flag} {e}")))
}

pub fn format_us(us: i64) -> String {
    humantime::format_rfc3339_millis(UNIX_EPOCH + Duration::from_micros(us.max(0) as u64)).to_string()
}
