//! RTSP messages met on a playing session; WWW-Authenticate challenges
//! (Basic, Digest MD5/SHA-256 and their -sess forms): any challenge that
//! parses is answered, and the answer must verify on the server side; the
//! Transport header of a SETUP reply (ports, source, SSRC) and the RTP-Info
//! of a PLAY reply; Content-Base repair (always an rtsp URL) and a=control
//! joining.
#![no_main]

use hotspare_camera_policy::ContentBase;
use hotspare_rtsp::auth::{verify, Authenticator, Challenge, Credentials};
use hotspare_rtsp::client::{parse_in_stream, InStream};
use hotspare_rtsp::{base, reply};
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
    if let Ok(ch) = Challenge::best(text.split('\n')) {
        let (realm, nonce) = match &ch {
            Challenge::Basic { realm } => (realm.clone(), None),
            Challenge::Digest { realm, nonce, .. } => (realm.clone(), Some(nonce.clone())),
        };
        // Quotes and commas in server values cannot round-trip through our
        // own quoting; only check answers to well-formed values.
        let plain = |s: &str| !s.contains(['"', ',', '\\']);
        if plain(&realm) && nonce.as_deref().is_none_or(plain) {
            let creds = Credentials { user: "admin".into(), password: "pw".into() };
            let h = Authenticator::new(creds.clone(), ch).authorization("DESCRIBE", "rtsp://cam/s0");
            assert!(verify(&h, "DESCRIBE", &creds, &realm, nonce.as_deref()), "{h}");
        }
    }
    let _ = reply::rtp_info_for(&text, "rtsp://cam/s0/trackID=1");
    if let Ok((request, _)) = hotspare_rtsp::client::split_url("rtsp://cam:554/s0") {
        let b = base::content_base(Some(&text), &request, ContentBase::Repair)
            .unwrap_or_else(|e| panic!("repair never refuses: {e}"));
        assert!(matches!(b.scheme(), "rtsp" | "rtsps") && b.host_str().is_some(), "{b}");
        let _ = base::content_base(Some(&text), &request, ContentBase::Strict);
        let _ = base::join_control(&b, Some(&text));
    }
    let reply = hotspare_rtsp::transport::TransportReply::parse(&text);
    assert!(reply.server_port.is_none_or(|(rtp, rtcp)| rtp != 0 && rtcp != Some(0)), "{reply:?}");
});
