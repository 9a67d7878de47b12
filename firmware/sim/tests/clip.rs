//! The fixture clips load as expected, and bad clips give errors naming the file.

mod common;

use hotspare_media::Codec;
use hotspare_sim::clip::Clip;
use hotspare_sim::{SimConfig, SimError};

#[test]
fn fixtures_load() {
    for (name, codec) in [("clip-h264.h264", Codec::H264), ("clip-h265.h265", Codec::H265)] {
        let clip = Clip::load(&common::fixture(name)).expect(name);
        assert_eq!(clip.codec, codec);
        assert_eq!(clip.frames.len(), 75, "{name}");
        let keys: Vec<usize> = clip.frames.iter().enumerate().filter(|(_, f)| f.keyframe).map(|(i, _)| i).collect();
        assert_eq!(keys, [0, 25, 50], "{name}");
        assert!(clip.params.is_complete(codec));
        // Parameter sets are repeated in-band before every keyframe.
        for k in keys {
            let first = codec.nal_type(clip.frames[k].nals[0][0]);
            assert_eq!(first, if codec == Codec::H264 { 7 } else { 32 }, "{name} frame {k}");
        }
    }
}

#[tokio::test]
async fn bad_clips_are_named_in_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.h264");
    std::fs::write(&garbage, b"this is not video").expect("write");
    let empty = dir.path().join("empty.h265");
    std::fs::write(&empty, b"").expect("write");
    let cases = [
        (garbage, "not an Annex B"),
        (empty, "is empty"),
        (dir.path().join("missing.h264"), "cannot read clip"),
        (dir.path().join("clip.mp4"), "unknown codec"),
    ];
    for (path, what) in cases {
        let cfg = SimConfig::new("127.0.0.1:0".parse().expect("addr"), &path);
        let err = match hotspare_sim::bind(cfg).await {
            Ok(_) => panic!("{} accepted", path.display()),
            Err(e) => e,
        };
        let msg = err.to_string();
        assert!(msg.contains(what) && msg.contains(&*path.to_string_lossy()), "{msg}");
    }
    let mut cfg = SimConfig::new("127.0.0.1:0".parse().expect("addr"), common::fixture("clip-h264.h264"));
    cfg.streams = 0;
    assert!(matches!(hotspare_sim::bind(cfg).await, Err(SimError::Config(_))));
}
