//! Supervisor IPC frames (`hotspare_ipc::FrameBuf`): a Unix socket any local service writes
//! to. The input is a byte stream, delivered in two reads cut where its first byte says.
#![no_main]

use hotspare_ipc::{encode, FrameBuf, MAX_FRAME};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let cut = data.first().map_or(0, |&b| b as usize).min(data.len());
    let mut fb = FrameBuf::new();
    let mut accepted = Vec::new();
    for part in [&data[..cut], &data[cut..]] {
        fb.push(part);
        while let Ok(Some(m)) = fb.next_message() {
            accepted.push(m);
        }
    }
    for m in accepted {
        // Whatever is accepted is a valid message: it encodes again, within the bound.
        let f = encode(&m).expect("an accepted message encodes");
        assert!(f.len() <= MAX_FRAME + 2, "{} bytes", f.len());
    }
});
