//! RTSP messages met on a playing session, WWW-Authenticate challenges, and
//! the Transport header of a SETUP reply.
#![no_main]

use hotspare_rtsp::auth::Challenge;
use hotspare_rtsp::client::{parse_in_stream, InStream};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match parse_in_stream(data) {
        Ok(InStream::Message { len, .. }) => {
            assert!(len > 0 && len <= data.len(), "message length {len} of a {}-byte buffer", data.len());
        }
        Ok(InStream::NeedMore) | Err(_) => {}
    }
    let text = String::from_utf8_lossy(data);
    let _ = Challenge::parse(&text);
    let _ = Challenge::best(text.split('\n'));
    let reply = hotspare_rtsp::transport::TransportReply::parse(&text);
    assert!(reply.server_port.is_none_or(|(rtp, rtcp)| rtp != 0 && rtcp != Some(0)), "{reply:?}");
});
