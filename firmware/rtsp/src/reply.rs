//! What a camera announces about our stream in its PLAY answer: the
//! `RTP-Info` entry of our track (`url=…;seq=…;rtptime=…;ssrc=…`; `ssrc` is
//! not in RFC 2326 there, but cameras send it, and it is the one telling our
//! stream from a stale one), and the SSRC syntax cameras use. The SETUP
//! answer's `Transport` is [`crate::transport::TransportReply`].

/// Parses an SSRC as cameras write it: 8 hex digits (RFC 2326), or
/// decimal when longer than 8 digits.
pub(crate) fn parse_ssrc(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.len() <= 8 {
        u32::from_str_radix(s, 16).ok()
    } else {
        s.parse().ok()
    }
}

/// One entry of `RTP-Info`: where our stream starts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RtpInfo {
    pub url: String,
    pub seq: Option<u16>,
    pub rtptime: Option<u32>,
    pub ssrc: Option<u32>,
}

fn parse_entry(entry: &str) -> RtpInfo {
    let mut info = RtpInfo::default();
    for p in entry.split(';') {
        let Some((k, v)) = p.trim().split_once('=') else { continue };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "url" => info.url = v.trim_matches('"').to_string(),
            "seq" => info.seq = v.parse().ok(),
            "rtptime" => info.rtptime = v.parse().ok(),
            "ssrc" => info.ssrc = parse_ssrc(v),
            _ => {}
        }
    }
    info
}

/// The `RTP-Info` entry of the track at `track_url`: the one whose `url`
/// equals it; else one whose `url` is a suffix of it or it of that (cameras
/// send relative URLs or their own address); else the only entry.
pub fn rtp_info_for(header: &str, track_url: &str) -> Option<RtpInfo> {
    let entries: Vec<RtpInfo> =
        split_entries(header).into_iter().map(parse_entry).filter(|e| !e.url.is_empty()).collect();
    let norm = |s: &str| s.trim_end_matches('/').to_string();
    let track = norm(track_url);
    let path =
        |s: &str| s.split_once("://").map(|(_, r)| r.split_once('/').map_or("", |(_, p)| p)).unwrap_or(s).to_string();
    let exact = entries.iter().find(|e| norm(&e.url) == track);
    let by_path = || {
        entries.iter().find(|e| {
            let p = norm(&path(&e.url));
            !p.is_empty() && (track.ends_with(&p) || p.ends_with(&norm(&path(&track))))
        })
    };
    exact.or_else(by_path).or(if entries.len() == 1 { entries.first() } else { None }).cloned()
}

/// Splits `RTP-Info` into entries at the commas that start a new `url=`
/// (URLs may hold commas).
fn split_entries(header: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let lower = header.to_ascii_lowercase();
    for (i, _) in header.match_indices(',') {
        if lower[i + 1..].trim_start().starts_with("url=") {
            out.push(&header[start..i]);
            start = i + 1;
        }
    }
    out.push(&header[start..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_info_entry_of_our_track() {
        let h = "url=rtsp://10.0.0.9/s0/trackID=1;seq=4660;rtptime=305419896;ssrc=1A2B3C4D,\
                 url=rtsp://10.0.0.9/s0/trackID=2;seq=1;rtptime=2";
        let v = rtp_info_for(h, "rtsp://10.0.0.9/s0/trackID=1").unwrap();
        assert_eq!((v.seq, v.rtptime, v.ssrc), (Some(4660), Some(305419896), Some(0x1A2B3C4D)));
        let a = rtp_info_for(h, "rtsp://10.0.0.9/s0/trackID=2").unwrap();
        assert_eq!((a.seq, a.ssrc), (Some(1), None));
        // Relative URL, and the camera's own address instead of ours.
        let rel = rtp_info_for("url=trackID=1;seq=7;rtptime=8", "rtsp://cam.example/s0/trackID=1").unwrap();
        assert_eq!(rel.seq, Some(7));
        let nat = rtp_info_for(
            "url=rtsp://192.168.1.64:554/s0/trackID=1;seq=9, url=rtsp://192.168.1.64:554/s0/trackID=2;seq=10",
            "rtsp://203.0.113.7:10554/s0/trackID=1",
        )
        .unwrap();
        assert_eq!(nat.seq, Some(9));
        // Two entries, neither ours: none.
        assert_eq!(rtp_info_for("url=rtsp://h/a;seq=1,url=rtsp://h/b;seq=2", "rtsp://h/c"), None);
    }
}
