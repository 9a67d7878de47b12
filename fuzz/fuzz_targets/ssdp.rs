//! SSDP M-SEARCH datagrams (UDP network input to the spare).
#![no_main]

use hotspare_api::ssdp::{parse_msearch, MAX_DATAGRAM};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = parse_msearch(data) {
        assert!(data.len() <= MAX_DATAGRAM, "accepted a {}-byte datagram", data.len());
        assert!(!s.st.is_empty(), "accepted a search without ST");
        assert!(s.st.len() <= data.len());
    }
});
