//! H.264 / H.265 SPS parsers on arbitrary NAL units.
#![no_main]

use hotspare_media::sps::{nal_to_rbsp, parse_h264_sps, parse_h265_sps, picture_size};
use hotspare_media::Codec;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let rbsp = nal_to_rbsp(data);
    assert!(rbsp.len() <= data.len());
    if let Ok(s) = parse_h264_sps(data) {
        let _ = (s.width, s.height, s.profile_idc);
    }
    if let Ok(s) = parse_h265_sps(data) {
        let _ = (s.width, s.height);
    }
    let _ = picture_size(Codec::H264, data);
    let _ = picture_size(Codec::H265, data);
});
