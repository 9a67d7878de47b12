//! The audio depacketizer on AAC RTP sent by a real encoder (ffmpeg's RTP
//! muxer, see testdata/rtp/README.md): the access units it yields are
//! byte for byte those ffmpeg wrote to an ADTS file, with timestamps 1024
//! apart, whether ffmpeg fragmented every access unit or aggregated several
//! per packet.

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
