//! The NVR's `nvr.toml` and the spare's `failover.toml` parsers on
//! arbitrary text.
//!
//! Checked: no panic; an error names the file and says what is wrong (a key
//! and a problem, and a line inside the text); an accepted
//! file's validated values hold (listen address, camera ids unique, spare
//! tokens, intervals non-zero).
#![no_main]

use std::collections::HashSet;
use std::path::Path;

use hotspare_failover::config::{Config as SpareConfig, ConfigError as SpareError};
use hotspare_nvr::config::{ConfigError as NvrError, NvrConfig};
use libfuzzer_sys::fuzz_target;

const FILE: &str = "fuzz.toml";

fn nvr(text: &str) {
    match NvrConfig::parse(Path::new(FILE), text) {
        Ok(c) => {
            let _ = c.listen();
            let _ = c.store_config();
            let mut ids = HashSet::new();
            for cam in &c.cameras {
                assert!(ids.insert(cam.id.as_str()), "duplicate camera id {:?} accepted", cam.id);
            }
            assert!((1..=3600).contains(&c.storage.segment_seconds));
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with(FILE), "error does not name the file: {msg}");
            match e {
                NvrError::Invalid { line, key, problem, .. } => {
                    assert!(!key.is_empty() && !problem.trim().is_empty(), "error without key or problem: {msg}");
                    assert!(line >= 1 && line <= text.lines().count() + 1, "line {line} outside the text: {msg}");
                }
                NvrError::Read { .. } => panic!("parse reported a read error"),
            }
        }
    }
}

fn spare(text: &str) {
    match SpareConfig::parse(text, Path::new(FILE)) {
        Ok(c) => {
            let t = c.timing();
            assert!(!t.check_interval.is_zero() && t.failures_to_takeover >= 1);
            assert!(!c.spare.serial.is_empty() && c.spare.serial.len() <= 64);
            let mut ids = HashSet::new();
            for n in &c.nvrs {
                assert!(ids.insert(n.id.as_str()), "duplicate NVR id {:?} accepted", n.id);
                assert!(n.url.starts_with("http://") || n.url.starts_with("https://"), "{}", n.url);
            }
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.starts_with(FILE), "error does not name the file: {msg}");
            match e {
                SpareError::Invalid { line, key, problem, .. } => {
                    assert!(!key.is_empty() && !problem.is_empty(), "error without key or problem: {msg}");
                    assert!(line >= 1 && line <= text.lines().count() + 1, "line {line} outside the text: {msg}");
                }
                SpareError::Read { .. } => panic!("parse reported {msg}"),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    nvr(&text);
    spare(&text);
});
