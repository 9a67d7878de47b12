//! RTSP client session set-up (OPTIONS, DESCRIBE, SETUP, PLAY) over TCP,
//! with RTP interleaved or over UDP (see [`crate::transport`]), and the
//! requests sent while media flows (keep-alive, TEARDOWN). Reading media is
//! the recorder's job: after PLAY the session hands over its socket, any
//! bytes already read and, for UDP, the RTP/RTCP sockets.

use std::time::Duration;

use rtsp_types::{headers, Message, Method, Request, Response, Url, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::auth::{Authenticator, Challenge, Credentials};
use crate::error::RtspError;
use crate::transport::{self, Media, Requested, SourceFilter, TransportReply, UdpMedia};
use crate::{base, reply};
use hotspare_camera_policy::CameraPolicy;
use hotspare_media::sdp::{Description, VideoTrack};

mod audio;
pub use audio::AudioSetup;

/// Tunables of the client; the defaults suit real cameras.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub user_agent: String,
    /// How this camera's quirks are tolerated.
    pub policy: CameraPolicy,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
            user_agent: concat!("hotspare/", env!("CARGO_PKG_VERSION")).to_string(),
            policy: CameraPolicy::default(),
        }
    }
}

/// A playing session: the socket, what was read past the PLAY reply, and
/// what the recorder needs to know.
#[derive(Debug)]
pub struct Session {
    pub stream: TcpStream,
    /// Bytes read after the PLAY response (media may already be there).
    pub leftover: Vec<u8>,
    pub video: VideoTrack,
    /// Where the video's RTP and RTCP arrive.
    pub media: Media,
    /// Session timeout announced by the server.
    pub timeout: Duration,
    pub control: Controller,
    /// The URL SETUP was sent to for the video track.
    pub track_url: String,
    /// The SSRC the camera announced for our stream: `RTP-Info: ssrc=` of
    /// our track in the PLAY answer, else `Transport: ssrc=` of SETUP.
    pub expected_ssrc: Option<u32>,
    /// `RTP-Info` `seq` / `rtptime` of our track in the PLAY answer.
    pub rtp_info_seq: Option<u16>,
    pub rtp_info_rtptime: Option<u32>,
    /// Interleaved frames skipped before the PLAY answer (never handed to
    /// the depacketizer: they may be a stale session's).
    pub skipped_before_play: u64,
    /// The audio track, when the policy records audio, the SDP offers a
    /// track we can store and the camera accepted its SETUP.
    pub audio: Option<AudioSetup>,
}

/// Builds the requests sent on a playing session (keep-alive, TEARDOWN).
#[derive(Debug)]
pub struct Controller {
    url: Url,
    cseq: u32,
    auth: Option<Authenticator>,
    session_id: Option<String>,
    keepalive: Method,
    user_agent: String,
}

/// Camera URL with any `user:password@` removed, and those credentials.
pub fn split_url(url: &str) -> Result<(Url, Option<Credentials>), RtspError> {
    let bad = |why: &str| RtspError::Url { url: url.to_string(), why: why.to_string() };
    let mut u = Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    if u.scheme() != "rtsp" {
        return Err(bad("scheme must be rtsp"));
    }
    if u.host_str().is_none() {
        return Err(bad("no host"));
    }
    let creds = (!u.username().is_empty())
        .then(|| Credentials { user: pct_decode(u.username()), password: pct_decode(u.password().unwrap_or("")) });
    let _ = u.set_username("");
    let _ = u.set_password(None);
    Ok((u, creds))
}

fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a header value that may join several challenges with commas
/// (`Digest realm="a", nonce="b", Basic realm="a"`).
fn split_challenges(v: &str) -> Vec<&str> {
    let mut starts = Vec::new();
    let lower = v.to_ascii_lowercase();
    for scheme in ["digest ", "basic "] {
        let mut from = 0;
        while let Some(i) = lower[from..].find(scheme) {
            let at = from + i;
            let before = lower[..at].trim_end();
            if before.is_empty() || before.ends_with(',') {
                starts.push(at);
            }
            from = at + scheme.len();
        }
    }
    starts.sort_unstable();
    let mut out = Vec::new();
    for (k, &s) in starts.iter().enumerate() {
        let end = starts.get(k + 1).copied().unwrap_or(v.len());
        out.push(v[s..end].trim().trim_end_matches(',').trim());
    }
    if out.is_empty() {
        out.push(v.trim());
    }
    out
}

struct Conn<'a> {
    stream: &'a mut TcpStream,
    buf: Vec<u8>,
    url: String,
    timeout: Duration,
    /// Interleaved frames skipped while waiting for an answer.
    skipped: u64,
}

impl Conn<'_> {
    async fn read_response(&mut self, method: &str) -> Result<Response<Vec<u8>>, RtspError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            // Skip interleaved media that may precede the reply.
            while self.buf.first() == Some(&b'$') {
                match hotspare_media::interleaved::parse(&self.buf) {
                    Some(f) => {
                        self.buf.drain(..f.total);
                        self.skipped += 1;
                    }
                    None => break,
                }
            }
            if !self.buf.is_empty() && self.buf[0] != b'$' {
                match Message::<Vec<u8>>::parse(&self.buf) {
                    Ok((Message::Response(r), n)) => {
                        self.buf.drain(..n);
                        return Ok(r);
                    }
                    Ok((_, n)) => {
                        // A request or data from the server: not our answer.
                        self.buf.drain(..n);
                        continue;
                    }
                    Err(rtsp_types::ParseError::Incomplete(_)) => {}
                    Err(rtsp_types::ParseError::Error) => {
                        let head = String::from_utf8_lossy(&self.buf[..self.buf.len().min(60)]).into_owned();
                        return Err(RtspError::Malformed {
                            url: self.url.clone(),
                            detail: format!("reply to {method} is not RTSP: {head:?}"),
                        });
                    }
                }
            }
            if self.buf.len() > 1 << 20 {
                return Err(RtspError::Malformed { url: self.url.clone(), detail: "reply over 1 MiB".into() });
            }
            let mut chunk = [0u8; 8192];
            let n = match tokio::time::timeout_at(deadline, self.stream.read(&mut chunk)).await {
                Err(_) => {
                    return Err(RtspError::Timeout {
                        method: method.into(),
                        url: self.url.clone(),
                        secs: self.timeout.as_secs(),
                    })
                }
                Ok(Err(e)) => return Err(RtspError::Io { url: self.url.clone(), source: e }),
                Ok(Ok(0)) => return Err(RtspError::Closed { url: self.url.clone() }),
                Ok(Ok(n)) => n,
            };
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

impl Controller {
    fn request(&mut self, method: Method, uri: &Url, extra: &[(headers::HeaderName, String)]) -> Vec<u8> {
        self.cseq += 1;
        let mut b = Request::builder(method.clone(), Version::V1_0)
            .request_uri(uri.clone())
            .header(headers::CSEQ, self.cseq.to_string())
            .header(headers::USER_AGENT, self.user_agent.clone());
        if let Some(a) = &mut self.auth {
            let m: &str = (&method).into();
            b = b.header(headers::AUTHORIZATION, a.authorization(m, uri.as_str()));
        }
        if let Some(s) = &self.session_id {
            b = b.header(headers::SESSION, s.clone());
        }
        for (k, v) in extra {
            b = b.header(k.clone(), v.clone());
        }
        let mut out = Vec::with_capacity(256);
        // Writing into a Vec cannot fail.
        let _ = b.empty().write(&mut out);
        out
    }

    /// Bytes of a keep-alive request (GET_PARAMETER when the camera lists
    /// it in `Public`, else OPTIONS).
    pub fn keepalive(&mut self) -> Vec<u8> {
        let url = self.url.clone();
        let m = self.keepalive.clone();
        self.request(m, &url, &[])
    }

    /// Bytes of a TEARDOWN request.
    pub fn teardown(&mut self) -> Vec<u8> {
        let url = self.url.clone();
        self.request(Method::Teardown, &url, &[])
    }
}

async fn exchange(
    conn: &mut Conn<'_>,
    ctl: &mut Controller,
    creds: &Option<Credentials>,
    method: Method,
    uri: &Url,
    extra: &[(headers::HeaderName, String)],
) -> Result<Response<Vec<u8>>, RtspError> {
    let name: &str = (&method).into();
    let name = name.to_string();
    for attempt in 0..2 {
        let req = ctl.request(method.clone(), uri, extra);
        conn.stream.write_all(&req).await.map_err(|e| RtspError::Io { url: conn.url.clone(), source: e })?;
        let resp = conn.read_response(&name).await?;
        let status: u16 = resp.status().into();
        if status == 401 {
            let Some(c) = creds.clone() else {
                return Err(RtspError::NeedCredentials { url: conn.url.clone() });
            };
            if attempt == 1 || ctl.auth.is_some() && !stale(&resp) {
                return Err(RtspError::Unauthorized { url: conn.url.clone(), user: c.user });
            }
            let values: Vec<&str> = resp
                .headers()
                .filter(|(k, _)| **k == headers::WWW_AUTHENTICATE)
                .flat_map(|(_, v)| split_challenges(v.as_str()))
                .collect();
            let ch = Challenge::best(values).map_err(|e| RtspError::Auth { url: conn.url.clone(), source: e })?;
            ctl.auth = Some(Authenticator::new(c, ch));
            continue;
        }
        if !(200..300).contains(&status) {
            return Err(RtspError::Status {
                method: name,
                url: uri.to_string(),
                status,
                reason: resp.reason_phrase().to_string(),
            });
        }
        return Ok(resp);
    }
    Err(RtspError::Unauthorized {
        url: conn.url.clone(),
        user: creds.as_ref().map(|c| c.user.clone()).unwrap_or_default(),
    })
}

fn stale(resp: &Response<Vec<u8>>) -> bool {
    resp.header(&headers::WWW_AUTHENTICATE).is_some_and(|v| v.as_str().to_ascii_lowercase().contains("stale=true"))
}

/// Connects and plays the camera's video track, RTP interleaved over TCP.
pub async fn play(url: &str, creds: Option<Credentials>, opts: &ClientOptions) -> Result<Session, RtspError> {
    play_with(url, creds, opts, Requested::Tcp).await
}

/// Connects and plays the camera's video track over the `requested`
/// transport. For UDP, a port pair is bound on the interface facing the
/// camera; a camera that answers with interleaved TCP instead is taken as is.
pub async fn play_with(
    url: &str,
    creds: Option<Credentials>,
    opts: &ClientOptions,
    requested: Requested,
) -> Result<Session, RtspError> {
    let (url, url_creds) = split_url(url)?;
    let creds = creds.or(url_creds);
    let host = url.host_str().unwrap_or_default().to_string();
    let addr = format!("{}:{}", host.trim_start_matches('[').trim_end_matches(']'), url.port().unwrap_or(554));
    let shown = url.to_string();
    let mut stream = match tokio::time::timeout(opts.connect_timeout, TcpStream::connect(&addr)).await {
        Err(_) => {
            return Err(RtspError::Timeout {
                method: "connect".into(),
                url: shown,
                secs: opts.connect_timeout.as_secs(),
            })
        }
        Ok(Err(e)) => return Err(RtspError::Connect { addr, source: e }),
        Ok(Ok(s)) => s,
    };
    let _ = stream.set_nodelay(true);
    let mut ctl = Controller {
        url: url.clone(),
        cseq: 0,
        auth: None,
        session_id: None,
        keepalive: Method::Options,
        user_agent: opts.user_agent.clone(),
    };
    let mut conn =
        Conn { stream: &mut stream, buf: Vec::new(), url: shown.clone(), timeout: opts.request_timeout, skipped: 0 };

    let opt = exchange(&mut conn, &mut ctl, &creds, Method::Options, &url, &[]).await?;
    if opt.header(&headers::PUBLIC).is_some_and(|p| p.as_str().to_ascii_uppercase().contains("GET_PARAMETER")) {
        ctl.keepalive = Method::GetParameter;
    }
    let desc =
        exchange(&mut conn, &mut ctl, &creds, Method::Describe, &url, &[(headers::ACCEPT, "application/sdp".into())])
            .await?;
    let base_header = desc.header(&headers::CONTENT_BASE).or_else(|| desc.header(&headers::CONTENT_LOCATION));
    let malformed = |detail: String| RtspError::Malformed { url: shown.clone(), detail };
    let base =
        base::content_base(base_header.map(|v| v.as_str()), &url, opts.policy.content_base).map_err(malformed)?;
    let sdp_err = |e| RtspError::Sdp { url: shown.clone(), source: e };
    let video = Description::parse_with(desc.body(), &opts.policy).and_then(|d| {
        for repair in &d.repairs {
            log::warn!("{shown}: SDP repaired (sdp_session_lines = repair): {repair}");
        }
        let v = d.video()?;
        let audio = audio::wanted_track(&d, &opts.policy, &shown);
        Ok((d.control, v, audio))
    });
    let (session_control, video, audio_track) = video.map_err(sdp_err)?;
    let base =
        base::join_control(&base, session_control.as_deref().filter(|c| c.contains("://"))).map_err(malformed)?;
    let track_url = base::join_control(&base, video.control.as_deref()).map_err(malformed)?;

    let (request, udp) = match requested {
        Requested::Tcp => (transport::tcp_request(0), None),
        Requested::Udp => {
            let local = conn.stream.local_addr().map_err(|e| RtspError::Io { url: shown.clone(), source: e })?;
            let (rtp, rtcp) =
                transport::bind_pair(local.ip()).map_err(|e| RtspError::UdpBind { ip: local.ip(), source: e })?;
            let port = rtp.local_addr().map_err(|e| RtspError::UdpBind { ip: local.ip(), source: e })?.port();
            (transport::udp_request(port), Some((rtp, rtcp)))
        }
    };
    let setup =
        exchange(&mut conn, &mut ctl, &creds, Method::Setup, &track_url, &[(headers::TRANSPORT, request)]).await?;
    let reply_hdr = setup.header(&headers::TRANSPORT).map(|v| v.as_str().to_string()).unwrap_or_default();
    let reply = TransportReply::parse(&reply_hdr);
    let bad_reply = || RtspError::Transport { url: shown.clone(), detail: format!("Transport: {reply_hdr:?}") };
    let transport_ssrc = reply.ssrc;
    let media = match udp {
        // Cameras may answer a UDP request with interleaved TCP: take it.
        _ if reply.tcp => Media::Interleaved { channel: reply.channel.unwrap_or(0) },
        None => return Err(bad_reply()),
        Some(_) if reply_hdr.trim().is_empty() => return Err(bad_reply()),
        Some((rtp, rtcp)) => {
            let peer = conn.stream.peer_addr().map_err(|e| RtspError::Io { url: shown.clone(), source: e })?;
            let io = |e| RtspError::Io { url: shown.clone(), source: e };
            Media::Udp(UdpMedia {
                rtp: tokio::net::UdpSocket::from_std(rtp).map_err(io)?,
                rtcp: tokio::net::UdpSocket::from_std(rtcp).map_err(io)?,
                filter: SourceFilter::new(peer.ip(), &reply),
            })
        }
    };
    let session_hdr = setup.header(&headers::SESSION).map(|v| v.as_str().to_string()).ok_or_else(|| {
        RtspError::Malformed { url: shown.clone(), detail: "SETUP reply has no Session header".into() }
    })?;
    let mut parts = session_hdr.split(';');
    let id = parts.next().unwrap_or("").trim().to_string();
    let timeout = parts
        .find_map(|p| p.trim().strip_prefix("timeout="))
        .and_then(|t| t.trim().parse::<u64>().ok())
        .filter(|t| *t > 0)
        .unwrap_or(60);
    ctl.session_id = Some(id);
    let audio = match audio_track {
        Some(t) => audio::setup(&mut conn, &mut ctl, &creds, &base, t, &media, &track_url).await,
        None => None,
    };
    let played =
        exchange(&mut conn, &mut ctl, &creds, Method::Play, &base, &[(headers::RANGE, "npt=0.000-".into())]).await?;
    let rtp_info = played.header(&headers::RTP_INFO).and_then(|v| reply::rtp_info_for(v.as_str(), track_url.as_str()));
    let audio = audio.map(|(mut a, transport_ssrc)| {
        let info = played.header(&headers::RTP_INFO).and_then(|v| reply::rtp_info_for(v.as_str(), &a.track_url));
        audio::apply_rtp_info(&mut a, info, rtp_info.as_ref(), transport_ssrc);
        a
    });
    let leftover = std::mem::take(&mut conn.buf);
    let skipped_before_play = conn.skipped;
    Ok(Session {
        stream,
        leftover,
        video,
        media,
        timeout: Duration::from_secs(timeout),
        control: ctl,
        track_url: track_url.to_string(),
        expected_ssrc: rtp_info.as_ref().and_then(|i| i.ssrc).or(transport_ssrc),
        rtp_info_seq: rtp_info.as_ref().and_then(|i| i.seq),
        rtp_info_rtptime: rtp_info.as_ref().and_then(|i| i.rtptime),
        skipped_before_play,
        audio,
    })
}

/// What the recorder found at the start of its buffer when it was not an
/// interleaved frame.
#[derive(Debug, PartialEq, Eq)]
pub enum InStream {
    /// An RTSP message of this many bytes; `Some(status)` for responses.
    Message {
        len: usize,
        status: Option<u16>,
    },
    NeedMore,
}

/// Bytes on a playing session that are neither interleaved data nor an RTSP message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unexpected bytes on the media stream: {start:?}")]
pub struct UnexpectedBytes {
    /// The first bytes (up to 40), lossily as text.
    pub start: String,
}

/// Classifies non-interleaved bytes on a playing session.
pub fn parse_in_stream(buf: &[u8]) -> Result<InStream, UnexpectedBytes> {
    match Message::<Vec<u8>>::parse(buf) {
        Ok((Message::Response(r), len)) => Ok(InStream::Message { len, status: Some(r.status().into()) }),
        Ok((_, len)) => Ok(InStream::Message { len, status: None }),
        Err(rtsp_types::ParseError::Incomplete(_)) if buf.len() < 64 * 1024 => Ok(InStream::NeedMore),
        Err(_) => Err(UnexpectedBytes { start: String::from_utf8_lossy(&buf[..buf.len().min(40)]).into_owned() }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_credentials_are_split_off() {
        let (u, c) = split_url("rtsp://ad%40min:p%3Ass@10.0.0.1:8554/cam0").unwrap();
        assert_eq!(u.as_str(), "rtsp://10.0.0.1:8554/cam0");
        let c = c.unwrap();
        assert_eq!((c.user.as_str(), c.password.as_str()), ("ad@min", "p:ss"));
        assert!(split_url("http://x/").is_err());
        assert!(split_url("not a url").is_err());
    }

    #[test]
    fn joined_challenges_are_split() {
        let v = split_challenges(r#"Digest realm="a, b", nonce="n", Basic realm="a""#);
        assert_eq!(v, vec![r#"Digest realm="a, b", nonce="n""#, r#"Basic realm="a""#]);
    }

    #[test]
    fn in_stream_messages() {
        let r = b"RTSP/1.0 200 OK\r\nCSeq: 5\r\n\r\n$";
        assert_eq!(parse_in_stream(r).unwrap(), InStream::Message { len: r.len() - 1, status: Some(200) });
        assert_eq!(parse_in_stream(b"RTSP/1.0 200 O").unwrap(), InStream::NeedMore);
        assert!(parse_in_stream(b"\x00\x01garbage\r\n\r\n").is_err());
    }
}
