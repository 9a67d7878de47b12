//! The audio depacketizer on AAC RTP from real senders: ffmpeg's RTP muxer
//! (see testdata/rtp/README.md), whose access units must come out byte for
//! byte as ffmpeg wrote them to an ADTS file, with timestamps 1024 apart,
//! whether every access unit was fragmented or several were aggregated per
//! packet; and one packet of an Axis camera.

use base64::Engine;
use hotspare_media::audio_depacketize::AudioDepacketizer;
use hotspare_media::sdp::Description;
use hotspare_media::AudioCodec;

fn testdata(name: &str) -> Vec<u8> {
    let path = format!("{}/testdata/rtp/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The raw access units of an ADTS stream.
fn adts_access_units(mut b: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while b.len() >= 7 {
        let len = (usize::from(b[3] & 3) << 11) | (usize::from(b[4]) << 3) | usize::from(b[5] >> 5);
        let header = if b[1] & 1 == 1 { 7 } else { 9 };
        out.push(b[header..len].to_vec());
        b = &b[len..];
    }
    out
}

fn packets(mut b: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    while b.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([b[0], b[1]]));
        out.push(&b[2..2 + n]);
        b = &b[2 + n..];
    }
    out
}

#[test]
fn ffmpeg_aac_rtp_gives_the_encoders_access_units() {
    let sdp = Description::parse(&testdata("ffmpeg-aac.sdp")).expect("sdp");
    let track = sdp.audio_track().expect("AAC track");
    assert_eq!((track.params.codec, track.params.sample_rate, track.params.channels), (AudioCodec::Aac, 16000, 1));
    let reference = adts_access_units(&testdata("ffmpeg-aac.adts"));
    assert_eq!(reference.len(), 17);
    for (file, aus) in [("ffmpeg-aac-fragmented.rtp", 17), ("ffmpeg-aac-aggregated.rtp", 13)] {
        let wire = testdata(file);
        let mut d = AudioDepacketizer::new(&track);
        for p in packets(&wire) {
            d.push(p).expect(file);
        }
        let got: Vec<Vec<u8>> = d.frames().iter().map(|f| d.frame_bytes(f).to_vec()).collect();
        assert_eq!(got.len(), aus, "{file}");
        assert!(got == reference[..aus], "{file}: access units differ from the encoder's");
        let f = d.frames();
        assert!(f.windows(2).all(|w| w[1].pts - w[0].pts == 1024), "{file}");
        assert!(f.iter().all(|f| f.duration == 1024 && !f.discontinuity), "{file}");
        assert_eq!((d.stats().lost_packets, d.stats().bad_packets), (0, 0), "{file}");
    }
}

/// One AAC packet of an Axis camera with the camera's SDP
/// (testdata/sdp/axis-gstreamer-aac.sdp). Source: the AAC depay test of
/// AxisCommunications/media-stream-library.
const AXIS_AAC_PACKET: &str = "gOE3VgfSkcjtSUMVABAHyAEmNa0UobgEQutal+Vl5JNVvdLtBVkkrFXytphSh4iIAIi/D647wkC+\
+19nzXfn1DVGN9b7rquOONOLHxYfa+X1KnPvneEN+D/t5v152p9RC8X9/5/DcR/M65g/v/P7XxH+T9pePb/5/f8F/g/oU\
vtf9fh77sHwGgZn6v5/d7B95wlR7Ht67gOMPgE3FyU104ciaEGj5lElEouptaCTg0M3yBAizaANAjth8RpWzgLktGZd8xw\
uDXEzn3j+Gn55+yaLrEDqB1iVbQBWbRmv1ZjfCQBmKBw/b5Mw/xH+kP8LADeDgAAAAAAAAAAAAAAAAAAAAAAAAAAAew==";

#[test]
fn axis_camera_aac_packet_is_one_access_unit() {
    let sdp =
        std::fs::read(format!("{}/testdata/sdp/axis-gstreamer-aac.sdp", env!("CARGO_MANIFEST_DIR"))).expect("sdp");
    let track = Description::parse(&sdp).expect("sdp").audio_track().expect("AAC track");
    let packet = base64::engine::general_purpose::STANDARD.decode(AXIS_AAC_PACKET).expect("base64");
    let mut d = AudioDepacketizer::new(&track);
    d.push(&packet).expect("packet");
    assert_eq!(d.frames().len(), 1);
    let f = d.frames()[0];
    // RTP header 12 bytes, AU-headers-length 2, one 16-bit AU header.
    assert_eq!(f.len as usize, packet.len() - 12 - 4);
    assert_eq!(d.frame_bytes(&f), &packet[16..]);
    assert_eq!(f.pts, i64::from(u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]])));
}
