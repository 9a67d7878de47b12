//! RTP packet view and RTCP sender-report search on arbitrary bytes.
#![no_main]

use hotspare_media::{interleaved, rtp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = rtp::RtpPacket::parse(data) {
        let off = p.payload_offset();
        let payload = p.payload();
        assert!(off >= 12, "payload offset {off} inside the fixed header");
        assert!(off + payload.len() <= data.len(), "payload {}+{} outside packet of {}", off, payload.len(), data.len());
        assert_eq!(payload, &data[off..off + payload.len()], "payload() is not data[payload_offset..]");
        let _ = (p.marker(), p.payload_type(), p.sequence(), p.timestamp(), p.ssrc());
        assert!(p.payload_type() < 128);
    }
    if let Some(sr) = rtp::find_sender_report(data) {
        let _ = sr.wall_us();
    }
    if let Some(f) = interleaved::parse(data) {
        assert!(f.packet.start <= f.packet.end, "interleaved packet range reversed: {:?}", f.packet);
        assert!(f.packet.end <= f.total && f.total <= data.len(), "interleaved {:?} total {} of {}", f.packet, f.total, data.len());
    }
});
