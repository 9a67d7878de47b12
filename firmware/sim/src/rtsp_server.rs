//! One RTSP connection: parses requests (OPTIONS, DESCRIBE, SETUP, PLAY,
//! GET/SET_PARAMETER, TEARDOWN), enforces Digest authentication, and once
//! playing interleaves the session's RTP/RTCP with the responses on the same
//! socket. A client too slow to keep up is dropped rather than buffered for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rtsp_types::headers::{self, HeaderName};
use rtsp_types::{Message, Method, ParseError, Request, Response, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, Instant};

use crate::packetize::{RtpStream, PCMU_PT, VIDEO_PT};
use crate::sdp::{self, AUDIO_CONTROL, VIDEO_CONTROL};
use crate::stream::{Playout, VIDEO_RATE};
use crate::{SessionReport, Shared};

/// Largest request (headers + body) we accept.
const MAX_REQUEST: usize = 16 * 1024;
/// A write of queued media taking longer than this drops the client.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Falling further behind the schedule than this drops the client.
const MAX_LAG: Duration = Duration::from_secs(2);
/// Session timeout announced in the `Session` header.
const SESSION_TIMEOUT_S: u32 = 60;
const PUBLIC: &str = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER";

/// Track of a camera: index into the SDP's m-lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Track {
    Video,
    Audio,
}

/// RTSP session state of a connection (one session per connection).
#[derive(Debug)]
struct Session {
    id: String,
    stream: u32,
    video: Option<RtpStream>,
    audio: Option<RtpStream>,
    playout: Option<Playout>,
    frames_sent: u64,
}

/// Why a connection ended.
enum End {
    Teardown,
    Closed,
    BadRequest,
    TooSlow(&'static str),
    Io(std::io::Error),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Teardown => write!(f, "teardown"),
            End::Closed => write!(f, "closed by peer"),
            End::BadRequest => write!(f, "bad request"),
            End::TooSlow(what) => write!(f, "client too slow: {what}"),
            End::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

struct Conn {
    shared: Arc<Shared>,
    peer: SocketAddr,
    local: SocketAddr,
    inbuf: Vec<u8>,
    out: Vec<u8>,
    session: Option<Session>,
}

/// Serves one accepted connection until TEARDOWN, disconnect or error.
pub(crate) async fn serve_connection(mut sock: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let _ = sock.set_nodelay(true);
    let local = sock.local_addr().unwrap_or(shared.cfg.listen);
    let mut c = Conn { shared, peer, local, inbuf: Vec::new(), out: Vec::new(), session: None };
    let end = c.run(&mut sock).await;
    let _ = sock.shutdown().await;
    match &c.session {
        Some(s) if s.playout.is_some() => {
            log::info!("cam{}: sent {} frames ({peer}, {end})", s.stream, s.frames_sent);
            c.shared.stats.record(SessionReport { stream: s.stream, peer, frames_sent: s.frames_sent });
        }
        _ => log::debug!("sim: connection from {peer} ended: {end}"),
    }
}

impl Conn {
    async fn run(&mut self, sock: &mut TcpStream) -> End {
        let (mut rd, mut wr) = sock.split();
        loop {
            let deadline = self.session.as_ref().and_then(|s| s.playout.as_ref()).map(Playout::next_deadline);
            let mut media_frames = 0;
            let mut end = None;
            tokio::select! {
                r = rd.read_buf(&mut self.inbuf) => match r {
                    Ok(0) => end = Some(End::Closed),
                    Ok(_) => end = self.handle_input(),
                    Err(e) => end = Some(End::Io(e)),
                },
                _ = sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                    let now = Instant::now();
                    if let Some(p) = self.session.as_mut().and_then(|s| s.playout.as_mut()) {
                        if p.lag(now) > MAX_LAG {
                            return End::TooSlow("fell behind schedule");
                        }
                        let sh = &self.shared;
                        media_frames = p.produce(now, &sh.frames, &sh.tone, &sh.realm, &mut self.out);
                    }
                }
            }
            if !self.out.is_empty() {
                match timeout(WRITE_TIMEOUT, wr.write_all(&self.out)).await {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => return End::Io(e),
                    Err(_) => return End::TooSlow("write timed out"),
                }
                // Keep the buffer's allocation, but not a huge one.
                self.out.clear();
                self.out.shrink_to(256 * 1024);
            }
            if media_frames > 0 {
                if let Some(s) = &mut self.session {
                    s.frames_sent += media_frames;
                }
                self.shared.stats.add_frames(media_frames);
            }
            if let Some(end) = end {
                return end;
            }
        }
    }

    /// Handles every complete message in the input buffer; returns `Some`
    /// when the connection must end (after the queued output is written).
    fn handle_input(&mut self) -> Option<End> {
        loop {
            if self.inbuf.is_empty() {
                return None;
            }
            match Message::<Vec<u8>>::parse(&self.inbuf) {
                Ok((msg, used)) => {
                    self.inbuf.drain(..used);
                    match msg {
                        Message::Request(req) => {
                            if let Some(end) = self.handle_request(&req) {
                                return Some(end);
                            }
                        }
                        // RTCP receiver reports and stray responses.
                        Message::Data(_) | Message::Response(_) => {}
                    }
                }
                Err(ParseError::Incomplete(_)) if self.inbuf.len() <= MAX_REQUEST => return None,
                Err(_) => {
                    let line = String::from_utf8_lossy(&self.inbuf[..self.inbuf.len().min(80)]).into_owned();
                    log::warn!("sim: bad request from {}: {line:?}", self.peer);
                    self.inbuf.clear();
                    self.respond(Version::V1_0, StatusCode::BadRequest, None, &[(headers::CONNECTION, "close".into())], b"");
                    return Some(End::BadRequest);
                }
            }
        }
    }

    fn respond(
        &mut self,
        version: Version,
        status: StatusCode,
        cseq: Option<&str>,
        extra: &[(HeaderName, String)],
        body: &[u8],
    ) {
        let mut b = Response::builder(version, status).header(headers::SERVER, "hotspare-sim");
        if let Some(cseq) = cseq {
            b = b.header(headers::CSEQ, cseq);
        }
        for (name, value) in extra {
            b = b.header(name.clone(), value.as_str());
        }
        let resp = b.build(body.to_vec());
        if let Err(e) = resp.write(&mut self.out) {
            log::error!("sim: cannot serialize response: {e}");
        }
    }

    fn authorized(&self, req: &Request<Vec<u8>>) -> bool {
        let Some(creds) = &self.shared.credentials else { return true };
        let Some(h) = req.header(&headers::AUTHORIZATION) else { return false };
        let method: &str = req.method().into();
        hotspare_rtsp::auth::verify(h.as_str(), method, creds, &self.shared.realm, Some(&self.shared.nonce))
    }

    fn handle_request(&mut self, req: &Request<Vec<u8>>) -> Option<End> {
        let v = req.version();
        let cseq = req.header(&headers::CSEQ).map(|h| h.as_str().to_owned());
        let cseq = cseq.as_deref();
        let method: &str = req.method().into();
        log::debug!("sim: {} {method} {}", self.peer, req.request_uri().map_or("*", |u| u.as_str()));
        if !self.authorized(req) {
            let challenge = format!("Digest realm=\"{}\", nonce=\"{}\"", self.shared.realm, self.shared.nonce);
            self.respond(v, StatusCode::Unauthorized, cseq, &[(headers::WWW_AUTHENTICATE, challenge)], b"");
            return None;
        }
        // A request naming a session that is not ours.
        if let Some(h) = req.header(&headers::SESSION) {
            let id = h.as_str().split(';').next().unwrap_or("").trim();
            if !matches!(&self.session, Some(s) if s.id == id) {
                self.respond(v, StatusCode::SessionNotFound, cseq, &[], b"");
                return None;
            }
        }
        match req.method() {
            Method::Options => self.respond(v, StatusCode::Ok, cseq, &[(headers::PUBLIC, PUBLIC.into())], b""),
            Method::Describe => self.describe(req, cseq),
            Method::Setup => self.setup(req, cseq),
            Method::Play => self.play(req, cseq),
            Method::GetParameter | Method::SetParameter => {
                let extra = self.session_header();
                self.respond(v, StatusCode::Ok, cseq, &extra, b"");
            }
            Method::Teardown => {
                let extra = self.session_header();
                self.respond(v, StatusCode::Ok, cseq, &extra, b"");
                return Some(End::Teardown);
            }
            _ => self.respond(v, StatusCode::NotImplemented, cseq, &[(headers::PUBLIC, PUBLIC.into())], b""),
        }
        None
    }

    fn session_header(&self) -> Vec<(HeaderName, String)> {
        match &self.session {
            Some(s) => vec![(headers::SESSION, format!("{};timeout={SESSION_TIMEOUT_S}", s.id))],
            None => vec![],
        }
    }

    /// Camera index and track named by the request URI (`/camN[/trackID=K]`).
    fn target(&self, req: &Request<Vec<u8>>) -> Option<(u32, Option<Track>)> {
        let url = req.request_uri()?;
        let mut segs = url.path().split('/').filter(|s| !s.is_empty());
        let cam: u32 = segs.next()?.strip_prefix("cam")?.parse().ok()?;
        if cam >= self.shared.cfg.streams {
            return None;
        }
        let track = match segs.next() {
            None => None,
            Some(VIDEO_CONTROL) => Some(Track::Video),
            Some(AUDIO_CONTROL) if self.shared.cfg.audio => Some(Track::Audio),
            Some(_) => return None,
        };
        segs.next().is_none().then_some((cam, track))
    }

    /// `rtsp://host:port/camN/` of the request, without credentials.
    fn base_url(&self, req: &Request<Vec<u8>>, cam: u32) -> String {
        let host = req.request_uri().and_then(|u| u.host_str().map(str::to_owned)).unwrap_or_else(|| self.local.ip().to_string());
        let port = req.request_uri().and_then(|u| u.port()).unwrap_or(554);
        format!("rtsp://{host}:{port}/cam{cam}/")
    }

    fn describe(&mut self, req: &Request<Vec<u8>>, cseq: Option<&str>) {
        let v = req.version();
        let Some((cam, None)) = self.target(req) else {
            return self.respond(v, StatusCode::NotFound, cseq, &[], b"");
        };
        let sh = &self.shared;
        let body = sdp::describe(sh.codec, &sh.params, sh.cfg.fps, sh.cfg.audio, rand::random::<u32>() as u64, &self.local.ip().to_string());
        let extra = [
            (headers::CONTENT_TYPE, "application/sdp".to_owned()),
            (headers::CONTENT_BASE, self.base_url(req, cam)),
        ];
        self.respond(v, StatusCode::Ok, cseq, &extra, body.as_bytes());
    }

    fn setup(&mut self, req: &Request<Vec<u8>>, cseq: Option<&str>) {
        let v = req.version();
        let Some((cam, track)) = self.target(req) else {
            return self.respond(v, StatusCode::NotFound, cseq, &[], b"");
        };
        let track = track.unwrap_or(Track::Video);
        let default_channel = if track == Track::Video { 0 } else { 2 };
        let transport = req.header(&headers::TRANSPORT).map(|h| h.as_str().to_owned()).unwrap_or_default();
        let Some(channel) = parse_tcp_transport(&transport, default_channel) else {
            log::debug!("sim: {}: unsupported transport {transport:?}", self.peer);
            return self.respond(v, StatusCode::UnsupportedTransport, cseq, &[], b"");
        };
        if let Some(s) = &self.session {
            if s.stream != cam || s.playout.is_some() {
                return self.respond(v, StatusCode::MethodNotValidInThisState, cseq, &[], b"");
            }
        }
        let session = self.session.get_or_insert_with(|| Session {
            id: format!("{:016X}", rand::random::<u64>()),
            stream: cam,
            video: None,
            audio: None,
            playout: None,
            frames_sent: 0,
        });
        let pt = if track == Track::Video { VIDEO_PT } else { PCMU_PT };
        let rtp = RtpStream::new(pt, channel);
        let reply_transport = format!(
            "RTP/AVP/TCP;unicast;interleaved={}-{};ssrc={:08X};mode=\"PLAY\"",
            channel,
            channel.wrapping_add(1),
            rtp.ssrc
        );
        match track {
            Track::Video => session.video = Some(rtp),
            Track::Audio => session.audio = Some(rtp),
        }
        let mut extra = self.session_header();
        extra.push((headers::TRANSPORT, reply_transport));
        self.respond(v, StatusCode::Ok, cseq, &extra, b"");
    }

    fn play(&mut self, req: &Request<Vec<u8>>, cseq: Option<&str>) {
        let v = req.version();
        let Some((cam, _)) = self.target(req) else {
            return self.respond(v, StatusCode::NotFound, cseq, &[], b"");
        };
        let base = self.base_url(req, cam);
        let fps = self.shared.cfg.fps;
        let Some(s) = self.session.as_mut().filter(|s| s.stream == cam && s.video.is_some()) else {
            return self.respond(v, StatusCode::MethodNotValidInThisState, cseq, &[], b"");
        };
        if s.playout.is_none() {
            let Some(video) = s.video.clone() else { return };
            let vts0: u32 = rand::random();
            let audio = s.audio.clone().map(|a| (a, rand::random::<u32>()));
            s.playout = Some(Playout::new(Instant::now(), fps, video, vts0, audio));
            self.shared.stats.sessions_played.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            log::info!("cam{cam}: playing to {}", self.peer);
        }
        let Some(p) = &s.playout else { return };
        let vts_now = p.video_ts0.wrapping_add((p.frame_idx * VIDEO_RATE as u64 / fps as u64) as u32);
        let mut info = format!("url={base}{VIDEO_CONTROL};seq={};rtptime={vts_now}", p.video.seq);
        if let Some((a, ts0)) = &p.audio {
            let ats = ts0.wrapping_add((p.audio_idx * crate::audio::SAMPLES_PER_PACKET as u64) as u32);
            info.push_str(&format!(",url={base}{AUDIO_CONTROL};seq={};rtptime={ats}", a.seq));
        }
        let mut extra = self.session_header();
        extra.push((headers::RANGE, "npt=0.000-".into()));
        extra.push((headers::RTP_INFO, info));
        self.respond(v, StatusCode::Ok, cseq, &extra, b"");
    }
}

/// The first RTP channel of a `Transport` header offering `RTP/AVP/TCP`
/// (taking `default` when it gives no `interleaved=`); `None` when no
/// TCP transport is offered.
fn parse_tcp_transport(header: &str, default: u8) -> Option<u8> {
    for spec in header.split(',') {
        let mut parts = spec.split(';').map(str::trim);
        let proto = parts.next().unwrap_or("");
        if !proto.eq_ignore_ascii_case("RTP/AVP/TCP") {
            continue;
        }
        let mut channel = default;
        for p in parts {
            if let Some(range) = p.strip_prefix("interleaved=") {
                channel = range.split('-').next().and_then(|c| c.trim().parse().ok())?;
            }
        }
        return Some(channel);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_parsing() {
        assert_eq!(parse_tcp_transport("RTP/AVP/TCP;unicast;interleaved=4-5", 0), Some(4));
        assert_eq!(parse_tcp_transport("RTP/AVP/TCP;unicast", 2), Some(2));
        assert_eq!(parse_tcp_transport("RTP/AVP;unicast;client_port=5000-5001", 0), None);
        assert_eq!(parse_tcp_transport("RTP/AVP;unicast;client_port=1-2,RTP/AVP/TCP;interleaved=0-1", 0), Some(0));
        assert_eq!(parse_tcp_transport("RTP/AVP/TCP;interleaved=x", 0), None);
        assert_eq!(parse_tcp_transport("", 0), None);
    }
}
