//! The supervisor's state files (`boot-history`, `shutdown-marker`): disk input read at
//! every boot, possibly torn by a power cut.
#![no_main]

use hotspare_supervisor::boot::{history_text, parse_history, Marker};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // Whatever parses writes back to the same entries.
    let h = parse_history(&text);
    assert!(h.len() <= text.lines().count());
    assert_eq!(parse_history(&history_text(&h)), h);
    if let Some(m) = Marker::parse(&text) {
        assert_eq!(Marker::parse(&m.text()), Some(m));
    }
});
