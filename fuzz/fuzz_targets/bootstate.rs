//! The boot-counting state as read from the FAT boot partition
//! (`hotspare_platform::bootstate`): two copies, as a torn write, a corrupt card or
//! a hostile file may leave them. Input: `[u16 le length of copy 0][copy 0][copy 1]`;
//! a copy starting with `!` gets a correct `BS_CRC` header in place of the `!` (so
//! the fuzzer reaches the body parser).
#![no_main]

use hotspare_platform::bootstate::{choose, crc32, BootState, Copy, Slot, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fn copy(raw: &[u8]) -> Vec<u8> {
    match raw.strip_prefix(b"!") {
        Some(body) => [format!("BS_CRC={:08x}\n", crc32(body)).as_bytes(), body].concat(),
        None => raw.to_vec(),
    }
}

fuzz_target!(|data: &[u8]| {
    let n = data.get(..2).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]) as usize);
    let rest = data.get(2..).unwrap_or_default();
    let (c0, c1) = rest.split_at(n.min(rest.len()));
    let copies = [c0, c1].map(|c| match BootState::parse(&copy(c)) {
        Ok(s) => {
            // What parses writes back to bytes that parse to the same state.
            let again = s.serialize();
            assert!(again.len() > HEADER_LEN);
            assert_eq!(BootState::parse(&again).as_ref(), Ok(&s));
            assert!(!s.order.is_empty() && s.order.len() <= 2);
            Copy::Valid(s)
        }
        Err(e) => Copy::Invalid(e.to_string()),
    });
    let c = choose(&copies);
    assert_ne!(Some(c.write_to), c.from);
    for (i, copy) in copies.iter().enumerate() {
        if let Copy::Valid(s) = copy {
            // The chosen copy has the highest seq of the valid ones.
            assert!(c.from.is_some() && s.seq <= c.state.seq, "copy {i} newer than the choice");
        }
    }
    // The script's rule: the chosen slot loses exactly one try; none → both reset.
    let (slot, next) = c.state.boot_attempt();
    match slot {
        Some(s) => assert_eq!(next.left(s) + 1, c.state.left(s)),
        None => assert!(Slot::ALL.iter().all(|&s| next.left(s) == 3)),
    }
    for s in Slot::ALL {
        assert!(c.state.mark_good(s).is_good(s));
        assert_eq!(c.state.set_primary(s).primary(), Some(s));
        assert!(!c.state.mark_bad(s).is_good(s));
    }
    let written = c.successor(&next);
    assert_eq!(BootState::parse(&written.serialize()), Ok(written));
});
