//! Times in query parameters: RFC 3339 or an integer of µs since the Unix epoch.

/// Parses `s` as µs since the epoch (an integer) or an RFC 3339 time (the one parser, in base).
pub use hotspare_base::time::parse_time_us as parse_time;

#[cfg(test)]
mod tests {
    #[test]
    fn both_forms() {
        assert_eq!(super::parse_time("1700000000000000"), Ok(1_700_000_000_000_000));
        assert_eq!(super::parse_time("2023-11-14T22:13:20Z"), Ok(1_700_000_000_000_000));
        assert!(super::parse_time("yesterday").is_err());
    }
}
