//! ISO BMFF (MP4) box building: `ftyp`, `moov` with one video track
//! (`avc1`+`avcC` / `hvc1`+`hvcC` sample entries, `stts`, `stss`, `stsz`,
//! `stsc`, `co64`) and an optional audio track ([`crate::mp4_audio`]), and
//! the `mdat` header. Pure byte building; the export
//! planner ([`crate::export`]) decides what goes in.

use hotspare_media::sps::{parse_h264_sps, parse_h265_sps, SpsError};
use hotspare_media::{Codec, CodecParams};

/// Movie and media timescale: 90 kHz, the RTP video clock.
pub const TIMESCALE: u32 = 90_000;

/// Writes a box: size placeholder, fourcc, body from `f`, then patches the size.
pub(crate) fn bx(buf: &mut Vec<u8>, fourcc: &[u8; 4], f: impl FnOnce(&mut Vec<u8>)) {
    let start = buf.len();
    buf.extend_from_slice(&[0, 0, 0, 0]);
    buf.extend_from_slice(fourcc);
    f(buf);
    let size = (buf.len() - start) as u32;
    buf[start..start + 4].copy_from_slice(&size.to_be_bytes());
}

/// Full box: version and 24-bit flags before the body.
pub(crate) fn fullbox(buf: &mut Vec<u8>, fourcc: &[u8; 4], version: u8, flags: u32, f: impl FnOnce(&mut Vec<u8>)) {
    bx(buf, fourcc, |b| {
        b.push(version);
        b.extend_from_slice(&flags.to_be_bytes()[1..]);
        f(b);
    })
}

pub(crate) fn u16be(b: &mut Vec<u8>, v: u16) {
    b.extend_from_slice(&v.to_be_bytes());
}
pub(crate) fn u32be(b: &mut Vec<u8>, v: u32) {
    b.extend_from_slice(&v.to_be_bytes());
}
pub(crate) fn u64be(b: &mut Vec<u8>, v: u64) {
    b.extend_from_slice(&v.to_be_bytes());
}

pub(crate) const MATRIX: [u32; 9] = [0x0001_0000, 0, 0, 0, 0x0001_0000, 0, 0, 0, 0x4000_0000];

/// `avcC` body (AVCDecoderConfigurationRecord) from one SPS and one PPS.
pub fn avcc(params: &CodecParams) -> Result<Vec<u8>, SpsError> {
    let sps = parse_h264_sps(&params.sps)?;
    let mut b = vec![1, sps.profile_idc, sps.constraint_flags, sps.level_idc, 0xff, 0xe1];
    u16be(&mut b, params.sps.len() as u16);
    b.extend_from_slice(&params.sps);
    b.push(1);
    u16be(&mut b, params.pps.len() as u16);
    b.extend_from_slice(&params.pps);
    if matches!(sps.profile_idc, 100 | 110 | 122 | 144) {
        b.push(0xfc | sps.chroma_format_idc as u8 & 3);
        b.push(0xf8 | sps.bit_depth_luma_minus8 as u8 & 7);
        b.push(0xf8 | sps.bit_depth_chroma_minus8 as u8 & 7);
        b.push(0);
    }
    Ok(b)
}

/// `hvcC` body (HEVCDecoderConfigurationRecord) with VPS, SPS and PPS arrays.
pub fn hvcc(params: &CodecParams) -> Result<Vec<u8>, SpsError> {
    let s = parse_h265_sps(&params.sps)?;
    let mut b = vec![1, s.general_profile_space << 6 | u8::from(s.general_tier_flag) << 5 | s.general_profile_idc];
    u32be(&mut b, s.general_profile_compatibility_flags);
    b.extend_from_slice(&s.general_constraint_indicator_flags.to_be_bytes()[2..]);
    b.push(s.general_level_idc);
    u16be(&mut b, 0xf000); // min_spatial_segmentation_idc = 0
    b.push(0xfc); // parallelismType = 0 (unknown)
    b.push(0xfc | s.chroma_format_idc as u8 & 3);
    b.push(0xf8 | s.bit_depth_luma_minus8 as u8 & 7);
    b.push(0xf8 | s.bit_depth_chroma_minus8 as u8 & 7);
    u16be(&mut b, 0); // avgFrameRate unknown
                      // constantFrameRate 0, numTemporalLayers, temporalIdNested, lengthSizeMinusOne = 3
    b.push((s.sps_max_sub_layers_minus1 + 1) << 3 | u8::from(s.sps_temporal_id_nesting_flag) << 2 | 3);
    b.push(3);
    for (t, nal) in [(32u8, &params.vps), (33, &params.sps), (34, &params.pps)] {
        b.push(0x80 | t); // array_completeness = 1
        u16be(&mut b, 1);
        u16be(&mut b, nal.len() as u16);
        b.extend_from_slice(nal);
    }
    Ok(b)
}

/// A visual sample entry (`avc1` or `hvc1`) with its configuration box.
pub fn sample_entry(codec: Codec, params: &CodecParams) -> Result<(Vec<u8>, u32, u32), SpsError> {
    let (fourcc, cfg_fourcc, cfg, (w, h)) = match codec {
        Codec::H264 => (b"avc1", b"avcC", avcc(params)?, parse_h264_sps(&params.sps).map(|s| (s.width, s.height))?),
        Codec::H265 => (b"hvc1", b"hvcC", hvcc(params)?, parse_h265_sps(&params.sps).map(|s| (s.width, s.height))?),
    };
    if params.sps.len() > usize::from(u16::MAX)
        || params.pps.len() > usize::from(u16::MAX)
        || params.vps.len() > usize::from(u16::MAX)
    {
        return Err(SpsError::Invalid("parameter set longer than 65535 bytes"));
    }
    let mut b = Vec::new();
    bx(&mut b, fourcc, |b| {
        b.extend_from_slice(&[0; 6]);
        u16be(b, 1); // data_reference_index
        b.extend_from_slice(&[0; 16]); // pre_defined, reserved, pre_defined[3]
        u16be(b, w.min(0xffff) as u16);
        u16be(b, h.min(0xffff) as u16);
        u32be(b, 0x0048_0000);
        u32be(b, 0x0048_0000);
        u32be(b, 0);
        u16be(b, 1); // frame_count
        b.extend_from_slice(&[0; 32]); // compressorname
        u16be(b, 0x0018);
        u16be(b, 0xffff);
        bx(b, cfg_fourcc, |b| b.extend_from_slice(&cfg));
    });
    Ok((b, w, h))
}

/// `ftyp` box.
pub fn ftyp(codec: Codec) -> Vec<u8> {
    let mut b = Vec::new();
    bx(&mut b, b"ftyp", |b| {
        b.extend_from_slice(b"isom");
        u32be(b, 0x200);
        b.extend_from_slice(b"isomiso2mp41");
        b.extend_from_slice(match codec {
            Codec::H264 => b"avc1",
            Codec::H265 => b"hvc1",
        });
    });
    b
}

/// `mdat` box header for `payload` bytes (64-bit size form).
pub fn mdat_header(payload: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(16);
    u32be(&mut b, 1);
    b.extend_from_slice(b"mdat");
    u64be(&mut b, payload + 16);
    b
}

/// One chunk of the track: consecutive samples stored contiguously.
#[derive(Clone, Copy, Debug)]
pub struct Chunk {
    /// 1-based index of the sample entry (in `TrackTables::entries` order).
    pub entry: u32,
    pub samples: u32,
    /// File offset of the chunk's first byte.
    pub offset: u64,
}

/// Everything the sample table needs.
pub struct TrackTables<'a> {
    /// Encoded sample entries (from [`sample_entry`]).
    pub entries: &'a [Vec<u8>],
    pub width: u32,
    pub height: u32,
    pub sizes: &'a [u32],
    pub durations: &'a [u32],
    /// 1-based numbers of sync samples.
    pub sync: &'a [u32],
    pub chunks: &'a [Chunk],
}

/// `moov` box with a single video track.
pub fn moov(t: &TrackTables<'_>) -> Vec<u8> {
    moov_av(t, None)
}

/// `moov` box with the video track and, when given, an audio track (track 2). Without audio
/// the bytes are those of [`moov`].
pub fn moov_av(t: &TrackTables<'_>, audio: Option<&crate::mp4_audio::AudioTrack<'_>>) -> Vec<u8> {
    let duration: u64 = t.durations.iter().map(|&d| u64::from(d)).sum();
    let movie_duration = audio.map_or(duration, |a| duration.max(a.movie_duration()));
    let mut b = Vec::new();
    bx(&mut b, b"moov", |b| {
        fullbox(b, b"mvhd", 1, 0, |b| {
            u64be(b, 0);
            u64be(b, 0);
            u32be(b, TIMESCALE);
            u64be(b, movie_duration);
            u32be(b, 0x0001_0000); // rate
            u16be(b, 0x0100); // volume
            b.extend_from_slice(&[0; 10]);
            MATRIX.iter().for_each(|&m| u32be(b, m));
            b.extend_from_slice(&[0; 24]);
            u32be(b, if audio.is_some() { 3 } else { 2 }); // next_track_ID
        });
        bx(b, b"trak", |b| {
            fullbox(b, b"tkhd", 1, 3, |b| {
                u64be(b, 0);
                u64be(b, 0);
                u32be(b, 1); // track_ID
                u32be(b, 0);
                u64be(b, duration);
                b.extend_from_slice(&[0; 8]);
                u16be(b, 0); // layer
                u16be(b, 0); // alternate_group
                u16be(b, 0); // volume
                u16be(b, 0);
                MATRIX.iter().for_each(|&m| u32be(b, m));
                u32be(b, t.width << 16);
                u32be(b, t.height << 16);
            });
            bx(b, b"mdia", |b| {
                fullbox(b, b"mdhd", 1, 0, |b| {
                    u64be(b, 0);
                    u64be(b, 0);
                    u32be(b, TIMESCALE);
                    u64be(b, duration);
                    u16be(b, 0x55c4); // "und"
                    u16be(b, 0);
                });
                fullbox(b, b"hdlr", 0, 0, |b| {
                    u32be(b, 0);
                    b.extend_from_slice(b"vide");
                    b.extend_from_slice(&[0; 12]);
                    b.extend_from_slice(b"Hotspare video\0");
                });
                bx(b, b"minf", |b| {
                    fullbox(b, b"vmhd", 0, 1, |b| b.extend_from_slice(&[0; 8]));
                    bx(b, b"dinf", |b| {
                        fullbox(b, b"dref", 0, 0, |b| {
                            u32be(b, 1);
                            fullbox(b, b"url ", 0, 1, |_| {});
                        })
                    });
                    bx(b, b"stbl", |b| stbl(b, t));
                });
            });
        });
        if let Some(a) = audio {
            crate::mp4_audio::trak(b, a);
        }
    });
    b
}

fn stbl(b: &mut Vec<u8>, t: &TrackTables<'_>) {
    sample_tables(b, t.entries, t.durations, Some(t.sync), t.sizes, t.chunks);
}

/// `stsd`, `stts`, `stss` (when `sync` is given; without it every sample is a sync sample),
/// `stsz`, `stsc` and `co64`.
pub(crate) fn sample_tables(
    b: &mut Vec<u8>,
    entries: &[Vec<u8>],
    durations: &[u32],
    sync: Option<&[u32]>,
    sizes: &[u32],
    chunks: &[Chunk],
) {
    fullbox(b, b"stsd", 0, 0, |b| {
        u32be(b, entries.len() as u32);
        entries.iter().for_each(|e| b.extend_from_slice(e));
    });
    fullbox(b, b"stts", 0, 0, |b| {
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for &d in durations {
            match runs.last_mut() {
                Some((n, last)) if *last == d => *n += 1,
                _ => runs.push((1, d)),
            }
        }
        u32be(b, runs.len() as u32);
        runs.iter().for_each(|&(n, d)| {
            u32be(b, n);
            u32be(b, d);
        });
    });
    if let Some(sync) = sync {
        fullbox(b, b"stss", 0, 0, |b| {
            u32be(b, sync.len() as u32);
            sync.iter().for_each(|&s| u32be(b, s));
        });
    }
    fullbox(b, b"stsz", 0, 0, |b| {
        u32be(b, 0);
        u32be(b, sizes.len() as u32);
        sizes.iter().for_each(|&s| u32be(b, s));
    });
    fullbox(b, b"stsc", 0, 0, |b| {
        let mut rows: Vec<(u32, u32, u32)> = Vec::new();
        for (i, c) in chunks.iter().enumerate() {
            if !matches!(rows.last(), Some(&(_, n, e)) if n == c.samples && e == c.entry) {
                rows.push((i as u32 + 1, c.samples, c.entry));
            }
        }
        u32be(b, rows.len() as u32);
        rows.iter().for_each(|&(first, n, e)| {
            u32be(b, first);
            u32be(b, n);
            u32be(b, e);
        });
    });
    fullbox(b, b"co64", 0, 0, |b| {
        u32be(b, chunks.len() as u32);
        chunks.iter().for_each(|c| u64be(b, c.offset));
    });
}
