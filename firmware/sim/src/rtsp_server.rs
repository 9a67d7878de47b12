//! One RTSP connection: reads and parses requests (handled in `methods`),
//! and once playing interleaves the session's RTP/RTCP
//! with the responses on the same socket, one write per batch. A client too
//! slow to keep up is dropped rather than buffered for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rtsp_types::headers::{self, HeaderName};
use rtsp_types::{Message, ParseError, Response, StatusCode, Version};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, timeout, Instant};

use crate::packetize::RtpStream;
use crate::stream::Playout;
use crate::udp::{self, UdpMode, UdpTrack};
use crate::{SessionReport, Shared};

/// Largest request (headers + body) we accept.
const MAX_REQUEST: usize = 16 * 1024;
/// A write of queued media taking longer than this drops the client.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// Falling further behind the schedule than this drops the client.
const MAX_LAG: Duration = Duration::from_secs(2);
/// Kernel send buffer per connection (Linux doubles it): with a fixed size
/// instead of autotuning (up to 4 MiB), a stalled client costs at most about
/// a second of 4 Mbit/s media in the kernel and is noticed sooner.
const SEND_BUFFER: usize = 512 * 1024;
pub(crate) const PUBLIC: &str = "OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER";

/// Track of a camera: index into the SDP's m-lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Track {
    Video,
    Audio,
}

/// RTSP session state of a connection (one session per connection).
#[derive(Debug)]
pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) stream: u32,
    pub(crate) video: Option<RtpStream>,
    pub(crate) audio: Option<RtpStream>,
    pub(crate) playout: Option<Playout>,
    pub(crate) frames_sent: u64,
    /// Tracks sent over UDP (empty: interleaved).
    pub(crate) udp: Vec<UdpTrack>,
    /// RTCP receiver reports the client sent.
    pub(crate) receiver_reports: u64,
}

/// Why a connection ended.
pub(crate) enum End {
    Teardown,
    Closed,
    BadRequest,
    TooSlow(&'static str),
    /// No request within the session timeout while playing.
    SessionTimeout(u32),
    Io(std::io::Error),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::Teardown => write!(f, "teardown"),
            End::Closed => write!(f, "closed by peer"),
            End::BadRequest => write!(f, "bad request"),
            End::TooSlow(what) => write!(f, "client too slow: {what}"),
            End::SessionTimeout(s) => write!(f, "session timed out: no request for {s} s"),
            End::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

pub(crate) struct Conn {
    pub(crate) shared: Arc<Shared>,
    pub(crate) peer: SocketAddr,
    pub(crate) local: SocketAddr,
    pub(crate) inbuf: Vec<u8>,
    pub(crate) out: Vec<u8>,
    /// Media of a UDP session, interleaved-framed as the playout writes it, before it is sent.
    pub(crate) media: Vec<u8>,
    pub(crate) session: Option<Session>,
    /// When the client last sent a request (keep-alives count).
    pub(crate) last_request: Instant,
}

/// Serves one accepted connection until TEARDOWN, disconnect or error.
pub(crate) async fn serve_connection(mut sock: TcpStream, peer: SocketAddr, shared: Arc<Shared>) {
    let _ = sock.set_nodelay(true);
    if let Err(e) = rustix::net::sockopt::set_socket_send_buffer_size(&sock, SEND_BUFFER) {
        log::debug!("sim: cannot set SO_SNDBUF for {peer}: {e}");
    }
    let local = sock.local_addr().unwrap_or(shared.cfg.listen);
    let mut c = Conn {
        shared,
        peer,
        local,
        inbuf: Vec::new(),
        out: Vec::new(),
        media: Vec::new(),
        session: None,
        last_request: Instant::now(),
    };
    let end = c.run(&mut sock).await;
    let _ = sock.shutdown().await;
    match &c.session {
        Some(s) if s.playout.is_some() => {
            log::info!(
                "cam{}: sent {} frames over {}, {} receiver reports received ({peer}, {end})",
                s.stream,
                s.frames_sent,
                if s.udp.is_empty() { "tcp" } else { "udp" },
                s.receiver_reports
            );
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
            let mut rtcp_in = [0u8; 1500];
            let rtcp_sock = self.session.as_ref().and_then(|s| s.udp.first()).map(|t| &t.rtcp);
            tokio::select! {
                r = recv_rtcp(rtcp_sock, &mut rtcp_in) => if let Ok(n) = r {
                    self.count_receiver_reports(&rtcp_in[..n]);
                },
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
                        let limit = self.shared.cfg.session_timeout_s;
                        if now.duration_since(self.last_request) > Duration::from_secs(limit.into()) {
                            return End::SessionTimeout(limit);
                        }
                        let sh = &self.shared;
                        let udp = self.session.as_ref().is_some_and(|s| !s.udp.is_empty());
                        let Some(p) = self.session.as_mut().and_then(|s| s.playout.as_mut()) else { continue };
                        let out = if udp { &mut self.media } else { &mut self.out };
                        media_frames = p.produce(now, &sh.frames, &sh.tone, &sh.realm, out);
                    }
                }
            }
            if !self.media.is_empty() {
                let silent = self.shared.cfg.udp == UdpMode::Silent;
                if let Some(s) = self.session.as_ref().filter(|_| !silent) {
                    match timeout(WRITE_TIMEOUT, udp::send(&s.udp, &self.media)).await {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return End::Io(e),
                        Err(_) => return End::TooSlow("UDP send timed out"),
                    }
                }
                self.media.clear();
                self.media.shrink_to(256 * 1024);
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
                            self.last_request = Instant::now();
                            if let Some(end) = self.handle_request(&req) {
                                return Some(end);
                            }
                        }
                        Message::Data(d) if d.channel_id() % 2 == 1 => self.count_receiver_reports(d.as_slice()),
                        // Data on RTP channels and stray responses.
                        Message::Data(_) | Message::Response(_) => {}
                    }
                }
                Err(ParseError::Incomplete(_)) if self.inbuf.len() <= MAX_REQUEST => return None,
                Err(_) => {
                    let line = String::from_utf8_lossy(&self.inbuf[..self.inbuf.len().min(80)]).into_owned();
                    log::warn!("sim: bad request from {}: {line:?}", self.peer);
                    self.inbuf.clear();
                    self.respond(
                        Version::V1_0,
                        StatusCode::BadRequest,
                        None,
                        &[(headers::CONNECTION, "close".into())],
                        b"",
                    );
                    return Some(End::BadRequest);
                }
            }
        }
    }

    fn count_receiver_reports(&mut self, rtcp: &[u8]) {
        let n = udp::count_receiver_reports(rtcp);
        if let Some(s) = &mut self.session {
            s.receiver_reports += n;
        }
        self.shared.stats.receiver_reports.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn respond(
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
}

/// The next datagram on the RTCP socket of a UDP session; never, without one.
async fn recv_rtcp(sock: Option<&tokio::net::UdpSocket>, buf: &mut [u8]) -> std::io::Result<usize> {
    match sock {
        Some(s) => s.recv_from(buf).await.map(|(n, _)| n),
        None => std::future::pending().await,
    }
}
