//! Clip loading: reads an Annex B H.264/H.265 elementary stream, splits it
//! into NAL units and groups them into access units (one per picture), and
//! picks out the parameter sets the SDP announces.

use std::path::Path;

use hotspare_media::{Codec, CodecParams};

use crate::SimError;

/// One picture: its NAL units (header included, start codes removed) in
/// stream order, including the parameter sets repeated before keyframes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessUnit {
    pub nals: Vec<Vec<u8>>,
    pub keyframe: bool,
}

/// A whole clip, ready to be packetized.
#[derive(Clone, Debug)]
pub struct Clip {
    pub codec: Codec,
    pub params: CodecParams,
    pub frames: Vec<AccessUnit>,
}

/// Codec from a file name's extension.
pub fn codec_for_path(path: &Path) -> Result<Codec, SimError> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "h264" | "264" => Ok(Codec::H264),
        "h265" | "265" | "hevc" => Ok(Codec::H265),
        _ => Err(SimError::ClipCodec { path: path.to_path_buf(), ext }),
    }
}

impl Clip {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Clip, SimError> {
        let codec = codec_for_path(path)?;
        let data = std::fs::read(path).map_err(|source| SimError::ClipRead { path: path.to_path_buf(), source })?;
        Clip::parse(path, codec, &data)
    }

    /// Parses an Annex B byte stream; `path` only names the clip in errors.
    pub fn parse(path: &Path, codec: Codec, data: &[u8]) -> Result<Clip, SimError> {
        let err_path = || path.to_path_buf();
        if data.is_empty() {
            return Err(SimError::ClipEmpty { path: err_path() });
        }
        // A real stream starts with a start code (possibly after zero bytes).
        let lead = data.iter().take_while(|&&b| b == 0).count();
        if lead < 2 || data.get(lead) != Some(&1) {
            return Err(SimError::ClipNotAnnexB { path: err_path(), checked: (lead + 1).min(data.len()) });
        }
        let mut params = CodecParams::default();
        let mut frames = Vec::new();
        let mut cur = AccessUnit { nals: Vec::new(), keyframe: false };
        let mut cur_has_vcl = false;
        for nal in split_annex_b(data) {
            if nal.len() < codec.nal_header_len() {
                continue;
            }
            let ty = codec.nal_type(nal[0]);
            let vcl = codec.is_vcl_nal(ty);
            // A non-VCL NAL after a picture's slices, or the first slice of a
            // new picture, starts the next access unit.
            let starts_au = cur_has_vcl && (!vcl || first_slice_of_picture(codec, nal));
            if starts_au {
                frames.push(std::mem::replace(&mut cur, AccessUnit { nals: Vec::new(), keyframe: false }));
                cur_has_vcl = false;
            }
            match (codec, ty) {
                (Codec::H264, 7) | (Codec::H265, 33) if params.sps.is_empty() => params.sps = nal.to_vec(),
                (Codec::H264, 8) | (Codec::H265, 34) if params.pps.is_empty() => params.pps = nal.to_vec(),
                (Codec::H265, 32) if params.vps.is_empty() => params.vps = nal.to_vec(),
                _ => {}
            }
            if vcl {
                cur_has_vcl = true;
                cur.keyframe |= codec.is_keyframe_nal(ty);
            }
            cur.nals.push(nal.to_vec());
        }
        if cur_has_vcl {
            frames.push(cur);
        }
        if frames.is_empty() {
            return Err(SimError::ClipNoFrames { path: err_path() });
        }
        for (what, set) in [("SPS", &params.sps), ("PPS", &params.pps)] {
            if set.is_empty() {
                return Err(SimError::ClipMissingParams { path: err_path(), what });
            }
        }
        if codec == Codec::H265 && params.vps.is_empty() {
            return Err(SimError::ClipMissingParams { path: err_path(), what: "VPS" });
        }
        if !frames[0].keyframe {
            return Err(SimError::ClipNoLeadingKeyframe { path: err_path() });
        }
        Ok(Clip { codec, params, frames })
    }

    /// Total payload bytes (NAL units without start codes) in the clip.
    pub fn byte_len(&self) -> usize {
        self.frames.iter().flat_map(|f| &f.nals).map(Vec::len).sum()
    }
}

/// True when the slice NAL `nal` begins a new picture: the first slice
/// segment flag (H.265) or `first_mb_in_slice == 0` (H.264, ue(v) coded as
/// a single `1` bit).
fn first_slice_of_picture(codec: Codec, nal: &[u8]) -> bool {
    match codec {
        Codec::H264 => nal.get(1).is_some_and(|b| b & 0x80 != 0),
        Codec::H265 => nal.get(2).is_some_and(|b| b & 0x80 != 0),
    }
}

/// Splits an Annex B stream at its 3- and 4-byte start codes, returning each
/// NAL unit without the start code and without trailing zero bytes.
pub fn split_annex_b(data: &[u8]) -> Vec<&[u8]> {
    let mut starts = Vec::new(); // index of the first byte after each start code
    let mut i = 0;
    while i + 2 < data.len() {
        if data[i + 2] > 1 {
            i += 3;
        } else if data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1 {
            starts.push(i + 3);
            i += 3;
        } else {
            i += 1;
        }
    }
    let mut out = Vec::with_capacity(starts.len());
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).map_or(data.len(), |&next| next - 3);
        let mut nal = &data[s..end.max(s)];
        while let [rest @ .., 0] = nal {
            nal = rest;
        }
        if !nal.is_empty() {
            out.push(nal);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn p() -> PathBuf {
        PathBuf::from("t.h264")
    }

    #[test]
    fn splits_three_and_four_byte_start_codes() {
        let d = [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3, 0, 0, 0, 0, 1, 0x65, 0x88, 0];
        let nals = split_annex_b(&d);
        assert_eq!(nals, vec![&[0x67, 1, 2][..], &[0x68, 3][..], &[0x65, 0x88][..]]);
    }

    #[test]
    fn groups_access_units_h264() {
        let d = [
            0, 0, 0, 1, 0x67, 0x4d, 0, 0, 0, 1, 0x68, 0xee, 0, 0, 0, 1, 0x65, 0x88, 1, // IDR
            0, 0, 0, 1, 0x41, 0x9a, 2, // P (first_mb = 0)
            0, 0, 0, 1, 0x41, 0x40, 3, // second slice of the same P
            0, 0, 0, 1, 0x41, 0x9a, 4, // next P
        ];
        let c = Clip::parse(&p(), Codec::H264, &d).unwrap();
        assert_eq!(c.frames.len(), 3);
        assert!(c.frames[0].keyframe && !c.frames[1].keyframe);
        assert_eq!(c.frames[0].nals.len(), 3);
        assert_eq!(c.frames[1].nals.len(), 2);
        assert_eq!(c.params.sps, vec![0x67, 0x4d]);
        assert_eq!(c.params.pps, vec![0x68, 0xee]);
    }

    #[test]
    fn typed_errors_for_bad_files() {
        assert!(matches!(Clip::parse(&p(), Codec::H264, &[]), Err(SimError::ClipEmpty { .. })));
        assert!(matches!(Clip::parse(&p(), Codec::H264, b"hello world"), Err(SimError::ClipNotAnnexB { .. })));
        let no_sps = [0, 0, 1, 0x65, 0x88];
        assert!(matches!(
            Clip::parse(&p(), Codec::H264, &no_sps),
            Err(SimError::ClipMissingParams { what: "SPS", .. })
        ));
        let only_ps = [0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2];
        assert!(matches!(Clip::parse(&p(), Codec::H264, &only_ps), Err(SimError::ClipNoFrames { .. })));
        assert!(matches!(codec_for_path(Path::new("x.mp4")), Err(SimError::ClipCodec { .. })));
        assert_eq!(codec_for_path(Path::new("x.HEVC")).unwrap(), Codec::H265);
    }
}
