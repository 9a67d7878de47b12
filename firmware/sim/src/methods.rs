//! The RTSP methods of a connection: authentication, DESCRIBE (SDP), SETUP
//! (TCP-interleaved transport only), PLAY (starts the playout), keep-alives
//! and TEARDOWN, each answering into the connection's output buffer.

use rtsp_types::headers::{self, HeaderName};
use rtsp_types::{Method, Request, StatusCode};
use tokio::time::Instant;

use crate::packetize::{RtpStream, PCMU_PT, VIDEO_PT};
use crate::rtsp_server::{Conn, End, Session, Track, PUBLIC};
use crate::sdp::{self, AUDIO_CONTROL, VIDEO_CONTROL};
use crate::stream::{Playout, VIDEO_RATE};
use crate::udp::{parse_offer, Offer, UdpMode, UdpTrack};

impl Conn {
    fn authorized(&self, req: &Request<Vec<u8>>) -> bool {
        let Some(creds) = &self.shared.credentials else { return true };
        let Some(h) = req.header(&headers::AUTHORIZATION) else { return false };
        let method: &str = req.method().into();
        hotspare_rtsp::auth::verify(h.as_str(), method, creds, &self.shared.realm, Some(&self.shared.nonce))
    }

    pub(crate) fn handle_request(&mut self, req: &Request<Vec<u8>>) -> Option<End> {
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
            Some(s) => vec![(headers::SESSION, format!("{};timeout={}", s.id, self.shared.cfg.session_timeout_s))],
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
        let host = req
            .request_uri()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| self.local.ip().to_string());
        let port = req.request_uri().and_then(|u| u.port()).unwrap_or(554);
        format!("rtsp://{host}:{port}/cam{cam}/")
    }

    fn describe(&mut self, req: &Request<Vec<u8>>, cseq: Option<&str>) {
        let v = req.version();
        let Some((cam, None)) = self.target(req) else {
            return self.respond(v, StatusCode::NotFound, cseq, &[], b"");
        };
        let sh = &self.shared;
        let body = sdp::describe(
            sh.codec,
            &sh.params,
            sh.cfg.fps,
            sh.cfg.audio,
            rand::random::<u32>() as u64,
            &self.local.ip().to_string(),
        );
        let extra =
            [(headers::CONTENT_TYPE, "application/sdp".to_owned()), (headers::CONTENT_BASE, self.base_url(req, cam))];
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
        let offer = parse_offer(&transport, default_channel);
        let refused = match offer {
            None => true,
            Some(Offer::Udp(..)) => self.shared.cfg.udp == UdpMode::Refuse,
            Some(Offer::Tcp(_)) => false,
        };
        if refused {
            log::debug!("sim: {}: unsupported transport {transport:?}", self.peer);
            return self.respond(v, StatusCode::UnsupportedTransport, cseq, &[], b"");
        }
        if let Some(s) = &self.session {
            if s.stream != cam || s.playout.is_some() {
                return self.respond(v, StatusCode::MethodNotValidInThisState, cseq, &[], b"");
            }
            // One transport per session.
            if s.udp.is_empty() != matches!(offer, Some(Offer::Tcp(_))) {
                return self.respond(v, StatusCode::UnsupportedTransport, cseq, &[], b"");
            }
        }
        let channel = match offer {
            Some(Offer::Tcp(c)) => c,
            _ => default_channel,
        };
        let udp = match offer {
            Some(Offer::Udp(rtp_port, rtcp_port)) => {
                match UdpTrack::bind(self.local.ip(), channel, self.peer.ip(), (rtp_port, rtcp_port)) {
                    Ok(t) => Some(t),
                    Err(e) => {
                        log::warn!("sim: {}: cannot bind UDP ports: {e}", self.peer);
                        return self.respond(v, StatusCode::InternalServerError, cseq, &[], b"");
                    }
                }
            }
            _ => None,
        };
        let session = self.session.get_or_insert_with(|| Session {
            id: format!("{:016X}", rand::random::<u64>()),
            stream: cam,
            video: None,
            audio: None,
            playout: None,
            frames_sent: 0,
            udp: Vec::new(),
            receiver_reports: 0,
        });
        let pt = if track == Track::Video { VIDEO_PT } else { PCMU_PT };
        let rtp = RtpStream::new(pt, channel);
        let reply_transport = match &udp {
            None => format!(
                "RTP/AVP/TCP;unicast;interleaved={}-{};ssrc={:08X};mode=\"PLAY\"",
                channel,
                channel.wrapping_add(1),
                rtp.ssrc
            ),
            Some(t) => {
                let (a, b) = t.server_ports();
                format!(
                    "RTP/AVP;unicast;client_port={}-{};server_port={a}-{b};source={};ssrc={:08X};mode=\"PLAY\"",
                    t.to_rtp.port(),
                    t.to_rtcp.port(),
                    self.local.ip(),
                    rtp.ssrc
                )
            }
        };
        if let Some(t) = udp {
            session.udp.retain(|u| u.channel != t.channel);
            session.udp.push(t);
        }
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
            match s.udp.first() {
                None => log::info!("cam{cam}: playing to {} over tcp", self.peer),
                Some(t) => log::info!("cam{cam}: playing to {} over udp to port {}", self.peer, t.to_rtp.port()),
            }
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
