//! Store recovery over arbitrary directory contents: the input is a small
//! program that builds a file tree (camera directories; `.sample`, `.index`,
//! `.audio`, `.audio-index`, `.origin`, `.tmp` files with fuzzed or well-formed content; directories
//! with segment-like names) in a fresh temporary directory. `Store::open`
//! (full recovery) must not panic, and every frame it then serves must lie
//! inside its sample file (read back to the last byte), and so must every
//! audio frame served inside its `.audio` file. A read-only open and
//! an MP4 export plan of each camera must not panic either.
//!
//! Program: repeated `[op][args...]` until the input ends:
//! - `op % 7 == 0`: `[cam]` make camera directory `CAMS[cam % 4]` current
//! - `1`: `[stem][ext][len: u8][bytes]` a file with raw bytes
//! - `2`: `[stem][ext]` a directory where a segment file could be
//! - `3`: `[stem][n][n × (len: u8, key: u8)]` a well-formed index (fixture SPS/PPS)
//! - `4`: `[stem][n][n × (len: u8, key: u8)]` a sample file of n frames of one
//!   length-prefixed slice NAL each (lengths of `len` + 2 bytes)
//! - `5`: `[stem][at: u8][xor: u8]` flips bits of an existing `.index` (`.audio-index` when
//!   `at` is odd) at `at`
//! - `6`: `[stem][codec][n][n × len: u8][cut: u8]` a well-formed audio pair (G.711 or AAC,
//!   frames of `len` + 1 bytes) whose `.audio` holds the indexed bytes plus `cut % 8` extra
//!   bytes, or `cut % 8` bytes fewer when `cut` ≥ 128
#![no_main]

use hotspare_media::{AudioCodec, AudioParams, Codec, CodecParams};
use hotspare_store::audio_index::{AudioEntry, AudioIndexHeader, AUDIO_INDEX_VERSION};
use hotspare_store::index::{encode_record, FrameEntry, IndexHeader, INDEX_VERSION};
use hotspare_store::{Store, StoreConfig};
use libfuzzer_sys::fuzz_target;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const CAMS: [&str; 4] = ["cam", "c-1", "bad.cam", "x"];
const STEMS: [&str; 5] = ["0000000000000001-0", "0000000000000002-0", "00000000000f4240-1", "zz-0", "0000000000000003-ff"];
const EXTS: [&str; 8] = ["sample", "index", "origin", "index.tmp", "sample.corrupt", "index", "audio", "audio-index"];
/// SPS/PPS of fixtures/clip-h264.h264.
const SPS: &[u8] = &[
    0x67, 0x4d, 0x40, 0x28, 0xda, 0x01, 0xe0, 0x08, 0x9f, 0x97, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00, 0x00,
    0x03, 0x03, 0x20, 0xf1, 0x83, 0x2a,
];
const PPS: &[u8] = &[0x68, 0xef, 0x3c, 0x80];

struct Cursor<'a>(&'a [u8]);

impl Cursor<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(*b)
    }
    fn take(&mut self, n: usize) -> &[u8] {
        let (a, b) = self.0.split_at(n.min(self.0.len()));
        self.0 = b;
        a
    }
}

fn frames(c: &mut Cursor<'_>) -> Vec<(u32, bool)> {
    let n = c.byte().unwrap_or(0) % 40;
    (0..n).map_while(|_| Some((u32::from(c.byte()?) + 2, c.byte()? & 1 == 1))).collect()
}

fn build(root: &Path, data: &[u8]) {
    let mut c = Cursor(data);
    let mut cam = root.join(CAMS[0]);
    let _ = std::fs::create_dir_all(&cam);
    while let Some(op) = c.byte() {
        let stem = |c: &mut Cursor<'_>| STEMS[usize::from(c.byte().unwrap_or(0)) % STEMS.len()];
        match op % 7 {
            0 => {
                cam = root.join(CAMS[usize::from(c.byte().unwrap_or(0)) % CAMS.len()]);
                let _ = std::fs::create_dir_all(&cam);
            }
            1 => {
                let (s, e) = (stem(&mut c), EXTS[usize::from(c.byte().unwrap_or(0)) % EXTS.len()]);
                let len = usize::from(c.byte().unwrap_or(0));
                let _ = std::fs::write(cam.join(format!("{s}.{e}")), c.take(len));
            }
            2 => {
                let (s, e) = (stem(&mut c), EXTS[usize::from(c.byte().unwrap_or(0)) % EXTS.len()]);
                let _ = std::fs::create_dir_all(cam.join(format!("{s}.{e}")));
            }
            3 => {
                let s = stem(&mut c);
                let header = IndexHeader {
                    version: INDEX_VERSION,
                    codec: Codec::H264,
                    params: CodecParams { vps: vec![], sps: SPS.to_vec(), pps: PPS.to_vec() },
                    start_wall_us: 1_000_000,
                    first_pts_90k: 0,
                };
                let mut buf = Vec::new();
                let _ = encode_record(&header, &mut buf);
                let entries: Vec<FrameEntry> = frames(&mut c)
                    .iter()
                    .enumerate()
                    .map(|(i, &(len, keyframe))| FrameEntry { len: len + 4, pts_rel_90k: i as i64 * 3600, keyframe })
                    .collect();
                for batch in entries.chunks(7) {
                    let _ = encode_record(batch, &mut buf);
                }
                let _ = std::fs::write(cam.join(format!("{s}.index")), buf);
            }
            4 => {
                let s = stem(&mut c);
                let mut buf = Vec::new();
                for (len, key) in frames(&mut c) {
                    buf.extend_from_slice(&len.to_be_bytes());
                    buf.push(if key { 0x65 } else { 0x41 });
                    buf.push(0x88);
                    buf.extend(std::iter::repeat_n(0x5a, len as usize - 2));
                }
                let _ = std::fs::write(cam.join(format!("{s}.sample")), buf);
            }
            6 => {
                let s = stem(&mut c);
                let codec =
                    [AudioCodec::Pcma, AudioCodec::Pcmu, AudioCodec::Aac][usize::from(c.byte().unwrap_or(0) % 3)];
                let config = if codec == AudioCodec::Aac { vec![0x14, 0x08] } else { vec![] };
                let header = AudioIndexHeader {
                    version: AUDIO_INDEX_VERSION,
                    params: AudioParams { codec, sample_rate: 8000, channels: 1, config },
                    start_wall_us: 1_000_000,
                    first_pts: 0,
                };
                let n = c.byte().unwrap_or(0) % 40;
                let lens: Vec<u32> = (0..n).map_while(|_| Some(u32::from(c.byte()?) + 1)).collect();
                let mut pts = 0i64;
                let entries: Vec<AudioEntry> = lens
                    .iter()
                    .map(|&len| {
                        let duration = if codec == AudioCodec::Aac { 1024 } else { len };
                        let e = AudioEntry { len, pts_rel: pts, duration };
                        pts += i64::from(duration);
                        e
                    })
                    .collect();
                let mut buf = Vec::new();
                let _ = encode_record(&header, &mut buf);
                for batch in entries.chunks(5) {
                    let _ = encode_record(batch, &mut buf);
                }
                let _ = std::fs::write(cam.join(format!("{s}.audio-index")), buf);
                let cut = c.byte().unwrap_or(0);
                let total: usize = lens.iter().map(|&l| l as usize).sum();
                let len =
                    if cut >= 128 { total.saturating_sub(usize::from(cut % 8)) } else { total + usize::from(cut % 8) };
                let _ = std::fs::write(cam.join(format!("{s}.audio")), vec![0xd5; len]);
            }
            _ => {
                let s = stem(&mut c);
                let (at, xor) = (c.byte().unwrap_or(0), c.byte().unwrap_or(1));
                let p = cam.join(format!("{s}.{}", if at & 1 == 1 { "audio-index" } else { "index" }));
                if let Ok(mut b) = std::fs::read(&p) {
                    if !b.is_empty() {
                        let i = usize::from(at) % b.len();
                        b[i] ^= xor;
                        let _ = std::fs::write(&p, b);
                    }
                }
            }
        }
    }
}

/// Every frame served by `store` is inside its sample file, read back whole.
fn check_served(store: &Store) {
    for cam in store.cameras() {
        let Ok(segs) = store.segments(&cam) else { continue };
        for seg in &segs {
            let Ok(idx) = store.read_index(seg) else { continue };
            let mut f = std::fs::File::open(&idx.sample_path).expect("a served segment's sample file opens");
            let len = f.metadata().expect("stat").len();
            let mut buf = Vec::new();
            for fr in &idx.frames {
                let end = fr.offset + u64::from(fr.len);
                assert!(end <= len, "{}: frame {}..{end} past {len}", idx.sample_path.display(), fr.offset);
                buf.resize(fr.len as usize, 0);
                f.seek(SeekFrom::Start(fr.offset)).expect("seek");
                f.read_exact(&mut buf).expect("a served frame reads whole");
            }
        }
        for seg in &segs {
            let Ok(Some(audio)) = store.read_audio(seg) else { continue };
            let len = std::fs::metadata(&audio.audio_path).expect("a served audio file exists").len();
            for fr in &audio.frames {
                let end = fr.offset + u64::from(fr.len);
                assert!(end <= len, "{}: audio frame {}..{end} past {len}", audio.audio_path.display(), fr.offset);
            }
        }
        let _ = store.export_mp4(&cam, None, None);
    }
}

fuzz_target!(|data: &[u8]| {
    static N: AtomicU64 = AtomicU64::new(0);
    let root: PathBuf =
        std::env::temp_dir().join(format!("store_recover-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed)));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).expect("temp dir");
    build(&root, data);
    if let Ok(ro) = Store::open_readonly(&root) {
        check_served(&ro);
    }
    if let Ok(store) = Store::open(&root, StoreConfig::default()) {
        check_served(&store);
    }
    // Recovery once more over what the first pass left: still no panic, still sound.
    if let Ok(store) = Store::open(&root, StoreConfig::default()) {
        check_served(&store);
    }
    let _ = std::fs::remove_dir_all(&root);
});
