//! Sequence parameter set parsing for H.264 and H.265: the few fields the
//! store needs to write MP4 sample entries (`avcC` / `hvcC`, picture size in
//! `tkhd` and the visual sample entry).
//!
//! Hand-written exp-Golomb reader over the RBSP (emulation-prevention bytes
//! `00 00 03` removed). Every parser returns a typed [`SpsError`] on bad
//! input and never panics, whatever the bytes (they are fuzzed).

use crate::Codec;
use thiserror::Error;

/// Why a parameter set could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SpsError {
    #[error("parameter set truncated (ran out of bits)")]
    Truncated,
    #[error("NAL unit type {0} is not a sequence parameter set")]
    NotSps(u8),
    #[error("invalid parameter set: {0}")]
    Invalid(&'static str),
}

/// Removes emulation-prevention bytes: every `00 00 03` becomes `00 00`.
pub fn nal_to_rbsp(nal: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(nal.len());
    let mut zeros = 0usize;
    for &b in nal {
        if zeros >= 2 && b == 3 {
            zeros = 0;
            continue;
        }
        zeros = if b == 0 { zeros + 1 } else { 0 };
        out.push(b);
    }
    out
}

/// MSB-first bit reader with exp-Golomb decoding.
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        BitReader { data, pos: 0 }
    }

    /// Reads one bit.
    pub fn bit(&mut self) -> Result<bool, SpsError> {
        let byte = self.data.get(self.pos / 8).ok_or(SpsError::Truncated)?;
        let v = (byte >> (7 - (self.pos % 8))) & 1;
        self.pos += 1;
        Ok(v == 1)
    }

    /// Reads `n` (≤ 64) bits as an unsigned integer.
    pub fn bits(&mut self, n: u32) -> Result<u64, SpsError> {
        if n > 64 {
            return Err(SpsError::Invalid("bit count above 64"));
        }
        let mut v = 0u64;
        for _ in 0..n {
            v = (v << 1) | u64::from(self.bit()?);
        }
        Ok(v)
    }

    /// Skips `n` bits.
    pub fn skip(&mut self, n: usize) -> Result<(), SpsError> {
        let end = self.pos.checked_add(n).ok_or(SpsError::Truncated)?;
        if end > self.data.len() * 8 {
            return Err(SpsError::Truncated);
        }
        self.pos = end;
        Ok(())
    }

    /// Unsigned exp-Golomb (`ue(v)`), limited to 32-bit values.
    pub fn ue(&mut self) -> Result<u32, SpsError> {
        let mut zeros = 0u32;
        while !self.bit()? {
            zeros += 1;
            if zeros > 31 {
                return Err(SpsError::Invalid("exp-Golomb code longer than 32 bits"));
            }
        }
        let rest = self.bits(zeros)?;
        let v = (1u64 << zeros) - 1 + rest;
        u32::try_from(v).map_err(|_| SpsError::Invalid("exp-Golomb value above u32"))
    }

    /// Signed exp-Golomb (`se(v)`).
    pub fn se(&mut self) -> Result<i32, SpsError> {
        let k = i64::from(self.ue()?);
        let v = if k % 2 == 1 { (k + 1) / 2 } else { -(k / 2) };
        i32::try_from(v).map_err(|_| SpsError::Invalid("signed exp-Golomb out of range"))
    }
}

/// Fields of an H.264 SPS used for `avcC` and picture size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H264Sps {
    pub profile_idc: u8,
    pub constraint_flags: u8,
    pub level_idc: u8,
    pub seq_parameter_set_id: u32,
    pub chroma_format_idc: u32,
    pub bit_depth_luma_minus8: u32,
    pub bit_depth_chroma_minus8: u32,
    /// Cropped picture width in luma samples.
    pub width: u32,
    /// Cropped picture height in luma samples.
    pub height: u32,
}

impl H264Sps {
    /// Profiles whose SPS carries chroma format / bit depth / scaling lists
    /// (and whose `avcC` carries the high-profile extension).
    pub fn is_high_profile(profile_idc: u8) -> bool {
        matches!(profile_idc, 100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135)
    }
}

fn skip_h264_scaling_list(r: &mut BitReader<'_>, size: usize) -> Result<(), SpsError> {
    let mut last: i32 = 8;
    let mut next: i32 = 8;
    for _ in 0..size {
        if next != 0 {
            // H.264 7.4.2.1.1: delta_scale lies in -128..=127, which also
            // keeps `last + delta` far from i32 overflow.
            let delta = r.se()?;
            if !(-128..=127).contains(&delta) {
                return Err(SpsError::Invalid("delta_scale outside -128..127"));
            }
            next = (last + delta).rem_euclid(256);
        }
        if next != 0 {
            last = next;
        }
    }
    Ok(())
}

/// Parses an H.264 SPS NAL unit (with its 1-byte header, without start code).
pub fn parse_h264_sps(nal: &[u8]) -> Result<H264Sps, SpsError> {
    let &h = nal.first().ok_or(SpsError::Truncated)?;
    if h & 0x1f != 7 {
        return Err(SpsError::NotSps(h & 0x1f));
    }
    let rbsp = nal_to_rbsp(&nal[1..]);
    let mut r = BitReader::new(&rbsp);
    let profile_idc = r.bits(8)? as u8;
    let constraint_flags = r.bits(8)? as u8;
    let level_idc = r.bits(8)? as u8;
    let seq_parameter_set_id = r.ue()?;
    if seq_parameter_set_id > 31 {
        return Err(SpsError::Invalid("seq_parameter_set_id above 31"));
    }
    let (mut chroma_format_idc, mut separate_colour_plane, mut bd_luma, mut bd_chroma) = (1, false, 0, 0);
    if H264Sps::is_high_profile(profile_idc) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc > 3 {
            return Err(SpsError::Invalid("chroma_format_idc above 3"));
        }
        if chroma_format_idc == 3 {
            separate_colour_plane = r.bit()?;
        }
        bd_luma = r.ue()?;
        bd_chroma = r.ue()?;
        if bd_luma > 6 || bd_chroma > 6 {
            return Err(SpsError::Invalid("bit depth above 14"));
        }
        let _qpprime_y_zero_transform_bypass = r.bit()?;
        if r.bit()? {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? {
                    skip_h264_scaling_list(&mut r, if i < 6 { 16 } else { 64 })?;
                }
            }
        }
    }
    let _log2_max_frame_num_minus4 = r.ue()?;
    match r.ue()? {
        0 => {
            let _log2_max_poc_lsb_minus4 = r.ue()?;
        }
        1 => {
            let _delta_pic_order_always_zero = r.bit()?;
            let _offset_for_non_ref_pic = r.se()?;
            let _offset_for_top_to_bottom_field = r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return Err(SpsError::Invalid("num_ref_frames_in_pic_order_cnt_cycle above 255"));
            }
            for _ in 0..n {
                r.se()?;
            }
        }
        2 => {}
        _ => return Err(SpsError::Invalid("pic_order_cnt_type above 2")),
    }
    let _max_num_ref_frames = r.ue()?;
    let _gaps = r.bit()?;
    let width_mbs = u64::from(r.ue()?) + 1;
    let height_map_units = u64::from(r.ue()?) + 1;
    let frame_mbs_only = r.bit()?;
    if !frame_mbs_only {
        let _mb_adaptive_frame_field = r.bit()?;
    }
    let _direct_8x8_inference = r.bit()?;
    let (mut cl, mut cr, mut ct, mut cb) = (0u64, 0u64, 0u64, 0u64);
    if r.bit()? {
        cl = r.ue()?.into();
        cr = r.ue()?.into();
        ct = r.ue()?.into();
        cb = r.ue()?.into();
    }
    let field_factor: u64 = if frame_mbs_only { 1 } else { 2 };
    let chroma_array_type = if separate_colour_plane { 0 } else { chroma_format_idc };
    let (crop_x, crop_y) = match chroma_array_type {
        0 => (1, field_factor),
        1 => (2, 2 * field_factor),
        2 => (2, field_factor),
        _ => (1, field_factor),
    };
    let full_w = width_mbs * 16;
    let full_h = height_map_units * 16 * field_factor;
    let width = full_w
        .checked_sub(crop_x * (cl + cr))
        .filter(|&w| w > 0)
        .ok_or(SpsError::Invalid("cropping wider than the picture"))?;
    let height = full_h
        .checked_sub(crop_y * (ct + cb))
        .filter(|&h| h > 0)
        .ok_or(SpsError::Invalid("cropping taller than the picture"))?;
    Ok(H264Sps {
        profile_idc,
        constraint_flags,
        level_idc,
        seq_parameter_set_id,
        chroma_format_idc,
        bit_depth_luma_minus8: bd_luma,
        bit_depth_chroma_minus8: bd_chroma,
        width: u32::try_from(width).map_err(|_| SpsError::Invalid("width above u32"))?,
        height: u32::try_from(height).map_err(|_| SpsError::Invalid("height above u32"))?,
    })
}

/// Fields of an H.265 SPS used for `hvcC` and picture size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct H265Sps {
    pub sps_max_sub_layers_minus1: u8,
    pub sps_temporal_id_nesting_flag: bool,
    pub general_profile_space: u8,
    pub general_tier_flag: bool,
    pub general_profile_idc: u8,
    pub general_profile_compatibility_flags: u32,
    /// The 48 bits following the compatibility flags (progressive, interlaced,
    /// non-packed, frame-only and the reserved/constraint bits), right-aligned.
    pub general_constraint_indicator_flags: u64,
    pub general_level_idc: u8,
    pub sps_seq_parameter_set_id: u32,
    pub chroma_format_idc: u32,
    pub separate_colour_plane_flag: bool,
    /// Cropped (conformance window) width in luma samples.
    pub width: u32,
    /// Cropped (conformance window) height in luma samples.
    pub height: u32,
    pub bit_depth_luma_minus8: u32,
    pub bit_depth_chroma_minus8: u32,
}

/// Parses an H.265 SPS NAL unit (with its 2-byte header, without start code).
pub fn parse_h265_sps(nal: &[u8]) -> Result<H265Sps, SpsError> {
    if nal.len() < 2 {
        return Err(SpsError::Truncated);
    }
    let t = (nal[0] >> 1) & 0x3f;
    if t != 33 {
        return Err(SpsError::NotSps(t));
    }
    let rbsp = nal_to_rbsp(&nal[2..]);
    let mut r = BitReader::new(&rbsp);
    let _vps_id = r.bits(4)?;
    let max_sub_layers_minus1 = r.bits(3)? as u8;
    if max_sub_layers_minus1 > 6 {
        return Err(SpsError::Invalid("sps_max_sub_layers_minus1 above 6"));
    }
    let temporal_id_nesting = r.bit()?;
    // profile_tier_level(1, sps_max_sub_layers_minus1)
    let general_profile_space = r.bits(2)? as u8;
    let general_tier_flag = r.bit()?;
    let general_profile_idc = r.bits(5)? as u8;
    let general_profile_compatibility_flags = r.bits(32)? as u32;
    let general_constraint_indicator_flags = r.bits(48)?;
    let general_level_idc = r.bits(8)? as u8;
    let mut profile_present = [false; 8];
    let mut level_present = [false; 8];
    for i in 0..usize::from(max_sub_layers_minus1) {
        profile_present[i] = r.bit()?;
        level_present[i] = r.bit()?;
    }
    if max_sub_layers_minus1 > 0 {
        for _ in max_sub_layers_minus1..8 {
            r.skip(2)?; // reserved_zero_2bits
        }
    }
    for i in 0..usize::from(max_sub_layers_minus1) {
        if profile_present[i] {
            r.skip(88)?;
        }
        if level_present[i] {
            r.skip(8)?;
        }
    }
    let sps_seq_parameter_set_id = r.ue()?;
    if sps_seq_parameter_set_id > 15 {
        return Err(SpsError::Invalid("sps_seq_parameter_set_id above 15"));
    }
    let chroma_format_idc = r.ue()?;
    if chroma_format_idc > 3 {
        return Err(SpsError::Invalid("chroma_format_idc above 3"));
    }
    let separate_colour_plane_flag = chroma_format_idc == 3 && r.bit()?;
    let pic_w = u64::from(r.ue()?);
    let pic_h = u64::from(r.ue()?);
    let (mut cl, mut cr, mut ct, mut cb) = (0u64, 0u64, 0u64, 0u64);
    if r.bit()? {
        cl = r.ue()?.into();
        cr = r.ue()?.into();
        ct = r.ue()?.into();
        cb = r.ue()?.into();
    }
    let bit_depth_luma_minus8 = r.ue()?;
    let bit_depth_chroma_minus8 = r.ue()?;
    if bit_depth_luma_minus8 > 8 || bit_depth_chroma_minus8 > 8 {
        return Err(SpsError::Invalid("bit depth above 16"));
    }
    let chroma_array_type = if separate_colour_plane_flag { 0 } else { chroma_format_idc };
    let (sub_w, sub_h) = match chroma_array_type {
        1 => (2, 2),
        2 => (2, 1),
        _ => (1, 1),
    };
    let width = pic_w
        .checked_sub(sub_w * (cl + cr))
        .filter(|&w| w > 0)
        .ok_or(SpsError::Invalid("conformance window wider than the picture"))?;
    let height = pic_h
        .checked_sub(sub_h * (ct + cb))
        .filter(|&h| h > 0)
        .ok_or(SpsError::Invalid("conformance window taller than the picture"))?;
    Ok(H265Sps {
        sps_max_sub_layers_minus1: max_sub_layers_minus1,
        sps_temporal_id_nesting_flag: temporal_id_nesting,
        general_profile_space,
        general_tier_flag,
        general_profile_idc,
        general_profile_compatibility_flags,
        general_constraint_indicator_flags,
        general_level_idc,
        sps_seq_parameter_set_id,
        chroma_format_idc,
        separate_colour_plane_flag,
        width: u32::try_from(width).map_err(|_| SpsError::Invalid("width above u32"))?,
        height: u32::try_from(height).map_err(|_| SpsError::Invalid("height above u32"))?,
        bit_depth_luma_minus8,
        bit_depth_chroma_minus8,
    })
}

/// Cropped picture size `(width, height)` from an SPS of `codec`.
pub fn picture_size(codec: Codec, sps: &[u8]) -> Result<(u32, u32), SpsError> {
    match codec {
        Codec::H264 => parse_h264_sps(sps).map(|s| (s.width, s.height)),
        Codec::H265 => parse_h265_sps(sps).map(|s| (s.width, s.height)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x264 1920x1080 Main profile SPS (1088 cropped to 1080), from fixtures/clip-h264.h264.
    const H264_SPS_1080: &[u8] = &[
        0x67, 0x4d, 0x40, 0x28, 0xda, 0x01, 0xe0, 0x08, 0x9f, 0x97, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00, 0x10, 0x00,
        0x00, 0x03, 0x03, 0x20, 0xf1, 0x83, 0x2a,
    ];
    /// x265 1920x1080 Main profile SPS, from fixtures/clip-h265.h265.
    const H265_SPS_1080: &[u8] = &[
        0x42, 0x01, 0x01, 0x01, 0x60, 0x00, 0x00, 0x03, 0x00, 0x90, 0x00, 0x00, 0x03, 0x00, 0x00, 0x03, 0x00, 0x78,
        0xa0, 0x03, 0xc0, 0x80, 0x10, 0xe5, 0x96, 0xea, 0x49, 0x32, 0xbc, 0x05, 0xa0, 0x20, 0x00, 0x00, 0x03, 0x00,
        0x20, 0x00, 0x00, 0x03, 0x03, 0x21,
    ];

    #[test]
    fn rbsp_removes_emulation_prevention() {
        assert_eq!(nal_to_rbsp(&[0, 0, 3, 1, 0, 0, 3, 0, 0, 3]), vec![0, 0, 1, 0, 0, 0, 0]);
    }

    #[test]
    fn exp_golomb() {
        // 1 -> 0, 010 -> 1, 011 -> 2, 00100 -> 3
        let data = [0b1010_0110, 0b0100_0000];
        let mut r = BitReader::new(&data);
        assert_eq!(r.ue().unwrap(), 0);
        assert_eq!(r.ue().unwrap(), 1);
        assert_eq!(r.ue().unwrap(), 2);
        assert_eq!(r.ue().unwrap(), 3);
        assert_eq!(r.ue(), Err(SpsError::Truncated));
    }

    #[test]
    fn h264_1080p() {
        let s = parse_h264_sps(H264_SPS_1080).unwrap();
        assert_eq!((s.profile_idc, s.level_idc, s.width, s.height), (77, 40, 1920, 1080));
    }

    #[test]
    fn h265_1080p() {
        let s = parse_h265_sps(H265_SPS_1080).unwrap();
        assert_eq!((s.general_profile_idc, s.general_level_idc, s.width, s.height), (1, 120, 1920, 1080));
        assert_eq!((s.chroma_format_idc, s.bit_depth_luma_minus8, s.bit_depth_chroma_minus8), (1, 0, 0));
        assert_eq!(picture_size(Codec::H265, H265_SPS_1080), Ok((1920, 1080)));
    }

    /// Fuzzer find (fuzz/regressions/sps/scaling-list-delta-overflow): a
    /// High-profile SPS whose scaling list has a delta_scale of about 2^31
    /// made `last + delta` overflow (a panic in debug builds).
    #[test]
    fn huge_scaling_list_delta_is_an_error_not_an_overflow() {
        const INPUT: &str = "672cffffffffffffffffffff01fffcfe4e7effabf183000000007fffffff5b7aff24e0";
        let nal: Vec<u8> =
            (0..INPUT.len()).step_by(2).map(|i| u8::from_str_radix(&INPUT[i..i + 2], 16).unwrap()).collect();
        assert_eq!(parse_h264_sps(&nal), Err(SpsError::Invalid("delta_scale outside -128..127")));
        assert!(picture_size(Codec::H264, &nal).is_err());
        let _ = parse_h265_sps(&nal);
        let regression = include_bytes!("../../../fuzz/regressions/sps/scaling-list-delta-overflow");
        assert_eq!(&regression[..], &nal[..], "the unit test and the kept fuzz regression are the same input");
    }

    #[test]
    fn garbage_never_panics() {
        let mut x: u32 = 12345;
        for len in 0..200usize {
            let mut v = Vec::with_capacity(len);
            for _ in 0..len {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                v.push((x >> 16) as u8);
            }
            for first in [0x67u8, 0x42] {
                if let Some(b) = v.first_mut() {
                    *b = first;
                }
                let _ = parse_h264_sps(&v);
                let _ = parse_h265_sps(&v);
            }
        }
        for cut in 0..H264_SPS_1080.len() {
            let _ = parse_h264_sps(&H264_SPS_1080[..cut]);
        }
        for cut in 0..H265_SPS_1080.len() {
            let _ = parse_h265_sps(&H265_SPS_1080[..cut]);
        }
    }
}
