//! SETUP of the camera's audio track, after the video's and on the same
//! session: interleaved channels after the video's over TCP, a port pair of
//! its own over UDP. Audio is optional: a camera that refuses it, answers
//! with a transport we cannot pair with the video's, or offers no audio
//! track we can store is logged and recorded video only.

use rtsp_types::{headers, Method, Url};

use super::{exchange, Conn, Controller};
use crate::auth::Credentials;
use crate::base;
use crate::reply::RtpInfo;
use crate::transport::{self, Media, SourceFilter, TransportReply, UdpMedia};
use hotspare_camera_policy::{Audio, CameraPolicy};
use hotspare_media::sdp::Description;
use hotspare_media::sdp_audio::AudioTrack;

/// The audio track of a playing session.
#[derive(Debug)]
pub struct AudioSetup {
    pub track: AudioTrack,
    /// Where its RTP and RTCP arrive (same kind as the video's).
    pub media: Media,
    /// The URL SETUP was sent to for the audio track.
    pub track_url: String,
    /// `RTP-Info: ssrc=` of the audio track in the PLAY answer, else `Transport: ssrc=` of SETUP.
    pub expected_ssrc: Option<u32>,
    /// `RTP-Info: seq=` of the audio track.
    pub rtp_info_seq: Option<u16>,
}

/// The audio track to set up per the policy, if the SDP has one we can store.
pub(super) fn wanted_track(desc: &Description, policy: &CameraPolicy, shown: &str) -> Option<AudioTrack> {
    let offered = desc.tracks.iter().any(|t| t.media == "audio");
    if policy.audio == Audio::Ignore {
        if offered {
            log::info!("{shown}: audio track not recorded (audio = ignore)");
        }
        return None;
    }
    let track = desc.audio_track();
    if track.is_none() && offered {
        log::warn!("{shown}: the camera's audio track is not AAC or G.711 or is broken: recording video only");
    }
    track
}

/// SETUP of `track` on the session the video's SETUP opened. `None`
/// (logged) when the camera refuses it or answers with an unusable transport.
pub(super) async fn setup(
    conn: &mut Conn<'_>,
    ctl: &mut Controller,
    creds: &Option<Credentials>,
    base: &Url,
    track: AudioTrack,
    video: &Media,
    video_url: &Url,
) -> Option<(AudioSetup, Option<u32>)> {
    let shown = conn.url.clone();
    let track_url = match base::join_control(base, track.control.as_deref()) {
        Ok(u) if u != *video_url => u,
        Ok(_) => {
            log::warn!("{shown}: the audio track has the video's control URL: recording video only");
            return None;
        }
        Err(e) => {
            log::warn!("{shown}: audio track control URL unusable ({e}): recording video only");
            return None;
        }
    };
    let (request, udp) = match video {
        Media::Interleaved { channel } => (transport::tcp_request(channel.wrapping_add(2)), None),
        Media::Udp(_) => {
            let pair = conn.stream.local_addr().and_then(|l| transport::bind_pair(l.ip()));
            let (rtp, rtcp) = match pair {
                Ok(p) => p,
                Err(e) => {
                    log::warn!("{shown}: cannot bind a UDP port pair for audio ({e}): recording video only");
                    return None;
                }
            };
            let port = rtp.local_addr().map(|a| a.port()).ok()?;
            (transport::udp_request(port), Some((rtp, rtcp)))
        }
    };
    let reply = match exchange(conn, ctl, creds, Method::Setup, &track_url, &[(headers::TRANSPORT, request)]).await {
        Ok(r) => r,
        Err(e) => {
            log::warn!("{shown}: audio SETUP failed ({e}): recording video only");
            return None;
        }
    };
    let reply_hdr = reply.header(&headers::TRANSPORT).map(|v| v.as_str().to_string()).unwrap_or_default();
    let t = TransportReply::parse(&reply_hdr);
    let media = match (udp, video) {
        (None, Media::Interleaved { channel }) if t.tcp || reply_hdr.trim().is_empty() => {
            let audio_channel = t.channel.unwrap_or(channel.wrapping_add(2));
            if audio_channel == *channel || audio_channel == channel.wrapping_add(1) {
                log::warn!("{shown}: audio answered on the video's channel {audio_channel}: recording video only");
                return None;
            }
            Media::Interleaved { channel: audio_channel }
        }
        (Some((rtp, rtcp)), Media::Udp(_)) if !t.tcp && !reply_hdr.trim().is_empty() => {
            let peer = conn.stream.peer_addr().ok()?;
            let socket = |s| tokio::net::UdpSocket::from_std(s).ok();
            Media::Udp(UdpMedia { rtp: socket(rtp)?, rtcp: socket(rtcp)?, filter: SourceFilter::new(peer.ip(), &t) })
        }
        _ => {
            log::warn!(
                "{shown}: audio SETUP answered with Transport {reply_hdr:?}, unlike the video's: recording video only"
            );
            return None;
        }
    };
    let setup = AudioSetup { track, media, track_url: track_url.to_string(), expected_ssrc: None, rtp_info_seq: None };
    Some((setup, t.ssrc))
}

/// Takes the audio track's `RTP-Info` entry, unless it is the video's (a
/// camera that lists one entry only).
pub(super) fn apply_rtp_info(
    audio: &mut AudioSetup,
    info: Option<RtpInfo>,
    video: Option<&RtpInfo>,
    transport_ssrc: Option<u32>,
) {
    let info = info.filter(|a| video.is_none_or(|v| v.url != a.url));
    audio.expected_ssrc = info.as_ref().and_then(|i| i.ssrc).or(transport_ssrc);
    audio.rtp_info_seq = info.as_ref().and_then(|i| i.seq);
}
