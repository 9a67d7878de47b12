//! Picks the video track out of an SDP description (RFC 4566) as cameras
//! send it in a DESCRIBE reply: codec, payload type, control URL and the
//! out-of-band parameter sets (`sprop-parameter-sets`, `sprop-vps/sps/pps`).
//!
//! Camera quirk policy: tracks of other media (audio, metadata) are listed
//! but never required; a missing session-level `o=`/`t=` line is tolerated
//! by inserting defaults before parsing, since several cameras omit them;
//! truncated lines (`o=- 1001 1 IN `, `c=IN `) are repaired or dropped under
//! [`hotspare_camera_policy::SdpSessionLines::Repair`] (see `sdp_repair`). The audio track is picked
//! by [`Description::audio`] (`sdp_audio`).

use base64::Engine;

use hotspare_camera_policy::CameraPolicy;

use crate::{Codec, CodecParams};

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP is not valid: {0}")]
    Syntax(#[source] sdp_types::ParserError),
    /// The third-party parser panicked on the description.
    #[error("SDP is not valid: the SDP parser rejected the description")]
    ParserPanicked,
    #[error("SDP has no H.264 or H.265 video track (tracks: {0})")]
    NoVideo(String),
    #[error("SDP video track has a bad parameter set in {0}")]
    BadParameterSet(&'static str),
}

/// One media section as far as the recorder cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Track {
    /// `video`, `audio`, `application`, …
    pub media: String,
    /// Encoding name from `a=rtpmap` (upper case), e.g. `H264`, `PCMU`.
    pub encoding: String,
    pub payload_type: u8,
    pub clock_rate: u32,
    /// Channels from `a=rtpmap` (`…/16000/2`), when given.
    pub channels: Option<u8>,
    /// `a=control` value, possibly relative.
    pub control: Option<String>,
    pub fmtp: Option<String>,
}

/// The parsed description: its tracks and the session-level control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Description {
    pub control: Option<String>,
    pub tracks: Vec<Track>,
    /// What was repaired or dropped to parse it (empty for a valid SDP),
    /// in words, for a warning.
    pub repairs: Vec<String>,
}

/// A video track the recorder can store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VideoTrack {
    pub codec: Codec,
    pub payload_type: u8,
    pub clock_rate: u32,
    pub control: Option<String>,
    pub params: CodecParams,
}

fn attr_values<'a>(m: &'a sdp_types::Media, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    m.get_attribute_values(name).ok().into_iter().flatten().flatten()
}

/// Static payload types that have no `a=rtpmap` line.
fn static_payload(pt: u8) -> Option<(&'static str, u32)> {
    match pt {
        0 => Some(("PCMU", 8000)),
        8 => Some(("PCMA", 8000)),
        26 => Some(("JPEG", 90000)),
        _ => None,
    }
}

impl Description {
    /// Parses with the default [`CameraPolicy`] (truncated session-level
    /// lines repaired).
    pub fn parse(raw: &[u8]) -> Result<Description, SdpError> {
        Self::parse_with(raw, &CameraPolicy::default())
    }

    /// Parses under the camera's policy: `policy.sdp_session_lines` says
    /// whether lines the parser refuses are repaired or dropped
    /// (`SdpSessionLines::Repair`) or refuse the description.
    pub fn parse_with(raw: &[u8], policy: &CameraPolicy) -> Result<Description, SdpError> {
        let text = String::from_utf8_lossy(raw);
        let (session, repairs) = crate::sdp_repair::parse_session(&text, policy.sdp_session_lines)?;
        let control = session.get_first_attribute_value("control").ok().flatten().map(str::to_string);
        let mut tracks = Vec::new();
        for m in &session.medias {
            let Some(pt) = m.fmt.split_whitespace().next().and_then(|f| f.parse::<u8>().ok()) else {
                continue;
            };
            let rtpmap = attr_values(m, "rtpmap").find_map(|v| {
                let (p, rest) = v.split_once(' ')?;
                (p.trim().parse::<u8>().ok()? == pt).then(|| rest.trim().to_string())
            });
            let (encoding, clock_rate, channels) = match rtpmap {
                Some(r) => {
                    let mut parts = r.split('/');
                    let enc = parts.next().unwrap_or("").trim().to_ascii_uppercase();
                    let clock = parts.next().and_then(|c| c.trim().parse().ok()).unwrap_or(90000);
                    let channels = parts.next().and_then(|c| c.trim().parse().ok());
                    (enc, clock, channels)
                }
                None => match static_payload(pt) {
                    Some((e, c)) => (e.to_string(), c, None),
                    None => (String::new(), 90000, None),
                },
            };
            let fmtp = attr_values(m, "fmtp").find_map(|v| {
                let (p, rest) = v.split_once(' ')?;
                (p.trim().parse::<u8>().ok()? == pt).then(|| rest.trim().to_string())
            });
            let control = m.get_first_attribute_value("control").ok().flatten().map(str::to_string);
            tracks.push(Track {
                media: m.media.clone(),
                encoding,
                payload_type: pt,
                clock_rate,
                channels,
                control,
                fmtp,
            });
        }
        Ok(Description { control, tracks, repairs })
    }

    /// The first H.264/H.265 video track with its parameter sets.
    pub fn video(&self) -> Result<VideoTrack, SdpError> {
        for t in &self.tracks {
            let codec = match (t.media.as_str(), t.encoding.as_str()) {
                ("video", "H264") => Codec::H264,
                ("video", "H265") | ("video", "HEVC") => Codec::H265,
                _ => continue,
            };
            let params = params_from_fmtp(codec, t.fmtp.as_deref().unwrap_or(""))?;
            return Ok(VideoTrack {
                codec,
                payload_type: t.payload_type,
                clock_rate: t.clock_rate,
                control: t.control.clone(),
                params,
            });
        }
        let names: Vec<String> = self.tracks.iter().map(|t| format!("{} {}", t.media, t.encoding)).collect();
        Err(SdpError::NoVideo(names.join(", ")))
    }
}

/// Parameter sets from an fmtp line; absent ones stay empty (they may come
/// in-band).
pub fn params_from_fmtp(codec: Codec, fmtp: &str) -> Result<CodecParams, SdpError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut p = CodecParams::default();
    for kv in fmtp.split(';') {
        let Some((k, v)) = kv.split_once('=') else { continue };
        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim());
        let decode = |name: &'static str, s: &str| -> Result<Vec<u8>, SdpError> {
            let d = b64.decode(s.trim()).map_err(|_| SdpError::BadParameterSet(name))?;
            if d.is_empty() {
                return Err(SdpError::BadParameterSet(name));
            }
            Ok(d)
        };
        match (codec, k.as_str()) {
            (Codec::H264, "sprop-parameter-sets") => {
                for s in v.split(',').filter(|s| !s.trim().is_empty()) {
                    let nal = decode("sprop-parameter-sets", s)?;
                    match codec.nal_type(nal[0]) {
                        7 => p.sps = nal,
                        8 => p.pps = nal,
                        _ => {}
                    }
                }
            }
            (Codec::H265, "sprop-vps") => p.vps = decode("sprop-vps", v.split(',').next().unwrap_or(""))?,
            (Codec::H265, "sprop-sps") => p.sps = decode("sprop-sps", v.split(',').next().unwrap_or(""))?,
            (Codec::H265, "sprop-pps") => p.pps = decode("sprop-pps", v.split(',').next().unwrap_or(""))?,
            _ => {}
        }
    }
    Ok(p)
}

/// Resolves a track's control attribute against the base URL (Content-Base,
/// Content-Location or the request URL).
pub fn resolve_control(base: &str, control: Option<&str>) -> String {
    match control {
        None | Some("*") | Some("") => base.to_string(),
        Some(c) if c.contains("://") => c.to_string(),
        Some(c) => {
            if base.ends_with('/') {
                format!("{base}{c}")
            } else {
                format!("{base}/{c}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AXIS_LIKE: &str = "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=Session\r\nt=0 0\r\na=control:*\r\n\
m=audio 0 RTP/AVP 0\r\na=control:trackID=2\r\n\
m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 packetization-mode=1;profile-level-id=640028;sprop-parameter-sets=Z2QAKKwbGoB4AiflwFuAgICgAAADACAAAAZR4wYsAA==,aO48sA==\r\n\
a=control:trackID=1\r\n";

    #[test]
    fn picks_video_after_audio() {
        let d = Description::parse(AXIS_LIKE.as_bytes()).unwrap();
        assert_eq!(d.tracks.len(), 2);
        assert_eq!(d.tracks[0].encoding, "PCMU");
        let v = d.video().unwrap();
        assert_eq!(v.codec, Codec::H264);
        assert_eq!(v.payload_type, 96);
        assert_eq!(v.control.as_deref(), Some("trackID=1"));
        assert_eq!(v.params.sps[0] & 0x1f, 7);
        assert_eq!(v.params.pps, vec![0x68, 0xee, 0x3c, 0xb0]);
    }

    #[test]
    fn tolerates_missing_origin_and_timing() {
        let sdp = "v=0\r\ns=x\r\nm=video 0 RTP/AVP 97\r\na=rtpmap:97 H265/90000\r\n\
a=fmtp:97 sprop-vps=QAEMAf//AWAAAAMAkAAAAwAAAwB4lZgJ;sprop-sps=QgEBAWAAAAMAkAAAAwAAAwB4oAPAgBDlluVJMrwFoCAAAAMAIAAAAwMh;sprop-pps=RAHBcrRiQA==\r\n";
        let v = Description::parse(sdp.as_bytes()).unwrap().video().unwrap();
        assert_eq!(v.codec, Codec::H265);
        assert!(v.params.is_complete(Codec::H265));
    }

    #[test]
    fn errors_name_the_problem() {
        let sdp = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=x\r\nt=0 0\r\nm=audio 0 RTP/AVP 0\r\n";
        let e = Description::parse(sdp.as_bytes()).unwrap().video().unwrap_err();
        assert_eq!(e, SdpError::NoVideo("audio PCMU".into()));
        assert!(params_from_fmtp(Codec::H264, "sprop-parameter-sets=!!!").is_err());
    }

    #[test]
    fn stray_lines_are_dropped_not_fatal() {
        // Found by fuzzing: sdp-types asserts on a non-`x=` line before `m=`.
        assert!(Description::parse(b"6\na=").is_ok());
        let sdp = "v=0\r\n garbage line\r\ns=x\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
        assert_eq!(Description::parse(sdp.as_bytes()).unwrap().video().unwrap().payload_type, 96);
    }

    #[test]
    fn control_resolution() {
        assert_eq!(resolve_control("rtsp://h/cam0/", Some("trackID=1")), "rtsp://h/cam0/trackID=1");
        assert_eq!(resolve_control("rtsp://h/cam0", Some("trackID=1")), "rtsp://h/cam0/trackID=1");
        assert_eq!(resolve_control("rtsp://h/cam0", Some("rtsp://x/y")), "rtsp://x/y");
        assert_eq!(resolve_control("rtsp://h/cam0", Some("*")), "rtsp://h/cam0");
    }
}

#[cfg(test)]
#[path = "sdp_tests.rs"]
mod tolerance_tests;
