//! Index-file decoding: never panics, and what it returns is consistent.
#![no_main]

use hotspare_store::index::{frame_durations, total_duration};
use hotspare_store::parse_index;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(p) = parse_index(data) else { return };
    assert!(p.valid_len <= data.len(), "valid_len {} past {}", p.valid_len, data.len());
    assert_eq!(p.torn, p.valid_len < data.len());
    if p.batches == 0 {
        assert!(p.frames.is_empty(), "frames without a batch record");
    }
    let mut offset = 0u64;
    for f in &p.frames {
        offset += u64::from(f.len);
        let _ = (f.pts_rel_90k, f.keyframe);
    }
    let _ = offset;
    let durs: Vec<u32> = frame_durations(&p.frames).collect();
    assert_eq!(durs.len(), p.frames.len());
    let _ = total_duration(&p.frames);
    let _ = p.header.params.is_complete(p.header.codec);
});
