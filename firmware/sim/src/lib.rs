//! Camera simulator: serves `rtsp://HOST:PORT/cam0 … cam{N-1}`, each replaying
//! an Annex B H.264/H.265 clip in real time in a loop (RTP timestamps keep
//! increasing across loops), RTP over RTSP/TCP interleaved or over UDP
//! unicast ([`udp`], which can also refuse UDP or send nothing over it), with
//! optional Digest authentication and an optional G.711 audio track.
//!
//! This file owns the configuration, the shared per-instance state and the
//! accept loop; [`rtsp_server`] handles one connection (its RTSP methods in
//! `methods`), [`stream`] paces the
//! media of a playing session, [`packetize`] makes RTP packets, [`clip`]
//! reads the clip, [`sdp`] describes it and [`audio`] makes the tone.

pub mod audio;
pub mod clip;
mod error;
mod methods;
pub mod packetize;
pub mod rtsp_server;
pub mod sdp;
pub mod stream;
pub mod udp;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotspare_media::{Codec, CodecParams};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

pub use error::SimError;
pub use udp::UdpMode;

use crate::clip::Clip;
use crate::packetize::PacketizedFrame;

/// Settings of one simulator instance.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub listen: SocketAddr,
    pub streams: u32,
    /// Annex B elementary stream; codec from the extension (.h264/.264, .h265/.265/.hevc).
    pub clip: PathBuf,
    pub fps: u32,
    /// When both are set, every request needs Digest authentication.
    pub user: Option<String>,
    pub password: Option<String>,
    /// Adds a G.711 µ-law audio track to the SDP (and sends it when set up).
    pub audio: bool,
    /// Session timeout announced in `Session: …;timeout=N`, and enforced: a
    /// playing session with no request for this long is ended, as real
    /// cameras do (clients must send keep-alives).
    pub session_timeout_s: u32,
    /// How a client asking for RTP over UDP is answered.
    pub udp: UdpMode,
}

impl SimConfig {
    /// One stream (`/cam0`) at 25 fps, no authentication, no audio.
    pub fn new(listen: SocketAddr, clip: impl Into<PathBuf>) -> Self {
        SimConfig {
            listen,
            streams: 1,
            clip: clip.into(),
            fps: 25,
            user: None,
            password: None,
            audio: false,
            session_timeout_s: 60,
            udp: UdpMode::Serve,
        }
    }

    fn validate(&self) -> Result<(), SimError> {
        if self.session_timeout_s == 0 {
            return Err(SimError::Config("session timeout must be at least 1 s".into()));
        }
        if self.streams == 0 {
            return Err(SimError::Config("streams must be at least 1".into()));
        }
        if !(1..=1000).contains(&self.fps) {
            return Err(SimError::Config(format!("fps {} is out of range 1..=1000", self.fps)));
        }
        if self.user.is_some() != self.password.is_some() {
            return Err(SimError::Config("user and password must be given together".into()));
        }
        Ok(())
    }
}

/// What one finished session sent (kept for the last [`MAX_REPORTS`] sessions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionReport {
    pub stream: u32,
    pub peer: SocketAddr,
    pub frames_sent: u64,
}

/// How many [`SessionReport`]s [`SimStats`] keeps.
pub const MAX_REPORTS: usize = 1024;

/// Counters of a running simulator, readable while it serves.
#[derive(Debug, Default)]
pub struct SimStats {
    pub connections: AtomicU64,
    pub sessions_played: AtomicU64,
    /// Video frames written to sockets, all connections together.
    pub frames_sent: AtomicU64,
    /// RTCP receiver reports received from clients (over TCP and UDP).
    pub receiver_reports: AtomicU64,
    reports: Mutex<Vec<SessionReport>>,
}

impl SimStats {
    /// Reports of finished sessions (those that reached PLAY), oldest first.
    pub fn finished(&self) -> Vec<SessionReport> {
        self.reports.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub(crate) fn record(&self, report: SessionReport) {
        if let Ok(mut r) = self.reports.lock() {
            if r.len() >= MAX_REPORTS {
                r.remove(0);
            }
            r.push(report);
        }
    }

    pub(crate) fn add_frames(&self, n: u64) {
        self.frames_sent.fetch_add(n, Ordering::Relaxed);
    }
}

/// Everything the connections of one instance share (read-only but for stats).
#[derive(Debug)]
pub(crate) struct Shared {
    pub cfg: SimConfig,
    pub codec: Codec,
    pub params: CodecParams,
    pub frames: Vec<PacketizedFrame>,
    pub tone: Vec<u8>,
    pub realm: String,
    /// Digest nonce, one per instance so reconnecting clients may reuse it.
    pub nonce: String,
    pub credentials: Option<hotspare_rtsp::auth::Credentials>,
    pub stats: Arc<SimStats>,
}

/// A bound simulator, not yet serving.
pub struct Sim {
    listener: TcpListener,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
}

impl Sim {
    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Live counters.
    pub fn stats(&self) -> Arc<SimStats> {
        self.shared.stats.clone()
    }

    /// Accepts and serves connections until the future is dropped, which
    /// also ends every connection.
    pub async fn serve(self) -> Result<(), SimError> {
        let mut conns = JoinSet::new();
        loop {
            while conns.try_join_next().is_some() {}
            match self.listener.accept().await {
                Ok((sock, peer)) => {
                    self.shared.stats.connections.fetch_add(1, Ordering::Relaxed);
                    let shared = self.shared.clone();
                    conns.spawn(rtsp_server::serve_connection(sock, peer, shared));
                }
                Err(e) => {
                    // Typically out of file descriptors: wait rather than spin.
                    log::warn!("sim: {}", SimError::Accept(e));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
}

/// Loads the clip, packetizes it once and binds the listening socket.
pub async fn bind(cfg: SimConfig) -> Result<Sim, SimError> {
    cfg.validate()?;
    let codec = clip::codec_for_path(&cfg.clip)?;
    let data =
        tokio::fs::read(&cfg.clip).await.map_err(|source| SimError::ClipRead { path: cfg.clip.clone(), source })?;
    let clip = Clip::parse(&cfg.clip, codec, &data)?;
    let frames = packetize::packetize_clip(&clip, packetize::MTU);
    let listener = TcpListener::bind(cfg.listen).await.map_err(|source| SimError::Bind { addr: cfg.listen, source })?;
    let local_addr = listener.local_addr().map_err(|source| SimError::Bind { addr: cfg.listen, source })?;
    let keyframes = clip.frames.iter().filter(|f| f.keyframe).count();
    log::info!(
        "sim: listening on rtsp://{local_addr}/cam0..cam{}: {} ({:?}, {} frames, {} keyframes, {} kbit/s at {} fps){}{}",
        cfg.streams - 1,
        cfg.clip.display(),
        codec,
        clip.frames.len(),
        keyframes,
        clip.byte_len() as u64 * 8 * cfg.fps as u64 / clip.frames.len() as u64 / 1000,
        cfg.fps,
        if cfg.audio { ", PCMU audio" } else { "" },
        if cfg.user.is_some() { ", digest auth" } else { "" },
    );
    let credentials = match (&cfg.user, &cfg.password) {
        (Some(user), Some(password)) => {
            Some(hotspare_rtsp::auth::Credentials { user: user.clone(), password: password.clone() })
        }
        _ => None,
    };
    let shared = Shared {
        codec,
        params: clip.params,
        frames,
        tone: audio::tone_packet(),
        realm: "hotspare-sim".into(),
        nonce: format!("{:032x}", rand::random::<u128>()),
        credentials,
        stats: Arc::new(SimStats::default()),
        cfg,
    };
    Ok(Sim { listener, local_addr, shared: Arc::new(shared) })
}

/// Binds and serves until the future is dropped.
pub async fn run(cfg: SimConfig) -> Result<(), SimError> {
    bind(cfg).await?.serve().await
}
