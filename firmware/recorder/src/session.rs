//! The hot loop of one playing RTSP session: RTP into a receive buffer
//! (interleaved frames read from the RTSP connection, or one UDP datagram
//! at a time, see [`crate::media_input`]), packets to the depacketizer,
//! completed frames to the store in batches written with one vectored write;
//! RTCP sender reports for the wall clock, receiver reports back to the
//! camera ([`crate::receiver_report`]).
//!
//! Copies: the kernel copies payload bytes once into the receive buffer;
//! from there they go to the sample file through `writev`. The only other
//! move is of the bytes of the frame still in progress when a batch is
//! written (a fraction of one frame), shifted to the front of the buffer.
//! Vectors are reused, so steady state allocates nothing per frame.

use std::hash::{BuildHasher, Hasher};
use std::io::IoSlice;
use std::time::Duration;

use hotspare_base::SharedClock;
use hotspare_camera_policy::{Transport, UnassignedChannel};
use hotspare_media::depacketize::{Depacketizer, Limits};
use hotspare_media::{interleaved, rtp};
use hotspare_rtsp::client::{parse_in_stream, InStream};
use hotspare_rtsp::transport::{Media, SourceFilter};
use hotspare_rtsp::Session;
use hotspare_store::contract::{FrameIn, StreamInfo};
use hotspare_store::CameraWriter;
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::clock::WallClock;
use crate::media_input::{
    next_audio_datagram, next_input, parse_control, warn_status, Input, UdpSockets, AUDIO_DATAGRAM, RTCP_BUFFER,
};
use crate::receiver_report::{ReceiverStats, MAX_REPORT, RR_INTERVAL};
use crate::status::StatusHandle;
use crate::{Malformed, RecordError, RecorderOptions};

mod audio;
mod batch;

use audio::{AudioPath, VideoRef};

/// RTP clock rate of H.264/H.265 video.
const VIDEO_CLOCK_RATE: u32 = 90_000;
/// RTP datagrams read in one go before the session's timers are looked at again.
const UDP_BURST: usize = 64;

/// State of the loop apart from the socket.
struct Pipeline<'w> {
    buf: Vec<u8>,
    pos: usize,
    d: Depacketizer,
    frames: Vec<FrameIn>,
    iov_storage: Vec<IoSlice<'static>>,
    info: StreamInfo,
    params_version: u32,
    clock: WallClock,
    /// Local wall time (µs since the epoch), from [`RecorderOptions::clock`].
    local_time: SharedClock,
    writer: &'w mut CameraWriter,
    status: StatusHandle,
    channel: u8,
    batch_90k: i64,
    camera: String,
    bad_packets_in_row: u32,
    /// The next frame is the first of this session: a discontinuity.
    first_frame: bool,
    /// A batch of this session reached the store.
    wrote_any: bool,
    /// pts of the last frame handed to the store (or given up on): the
    /// unsaved video a crash would lose starts after it.
    saved_pts: Option<i64>,
    /// pts of the newest completed frame and the interval before it (the
    /// expected duration of the frame in progress).
    newest_pts: Option<i64>,
    interval_90k: i64,
    /// What to do with interleaved data on channels we did not set up.
    unassigned_channel: UnassignedChannel,
    /// Interleaved frames seen on such channels (counted, then skipped).
    unassigned_frames: u64,
    /// Reception statistics for the receiver reports.
    rr: ReceiverStats,
    /// When the bytes being parsed arrived.
    arrival: Instant,
    /// An RTP datagram from the camera arrived (UDP sessions).
    got_udp_rtp: bool,
    /// The audio track, when the session has one.
    audio: Option<AudioPath>,
    /// Its interleaved RTP channel (TCP sessions).
    audio_channel: Option<u8>,
    /// What the audio's wall clock follows.
    video_ref: VideoRef,
}

/// Records until `shutdown` turns true (`Ok`) or the session fails.
pub async fn record_session(
    session: Session,
    writer: &mut CameraWriter,
    opts: &RecorderOptions,
    status: &StatusHandle,
    shutdown: &mut watch::Receiver<bool>,
    camera: &str,
) -> Result<(), RecordError> {
    let Session { mut stream, leftover, video, media, timeout, mut control, expected_ssrc, audio, .. } = session;
    let (channel, udp, mut filter) = match media {
        Media::Interleaved { channel } => (channel, None, None),
        Media::Udp(u) => (0, Some(UdpSockets { rtp: u.rtp, rtcp: u.rtcp }), Some(u.filter)),
    };
    let mut buf = Vec::with_capacity(opts.buffer_capacity.max(leftover.len() + 65536));
    // Over UDP the RTSP connection carries only RTSP messages.
    let mut control_buf = Vec::new();
    match udp {
        None => buf.extend_from_slice(&leftover),
        Some(_) => control_buf.extend_from_slice(&leftover),
    }
    let mut rtcp_buf = vec![0u8; RTCP_BUFFER];
    let start = Instant::now();
    let (audio_path, audio_channel, audio_udp, mut audio_filter) = match audio {
        Some(a) => {
            let rr = ReceiverStats::new(own_ssrc(camera), a.track.payload_type, a.track.params.sample_rate, start);
            let path = AudioPath::new(&a, &opts.client.policy, rr);
            match a.media {
                Media::Interleaved { channel } => (Some(path), Some(channel), None, None),
                Media::Udp(u) => (Some(path), None, Some(UdpSockets { rtp: u.rtp, rtcp: u.rtcp }), Some(u.filter)),
            }
        }
        None => (None, None, None, None),
    };
    let mut audio_buf = vec![0u8; if audio_udp.is_some() { AUDIO_DATAGRAM } else { 0 }];
    let mut audio_rtcp_buf = vec![0u8; if audio_udp.is_some() { RTCP_BUFFER } else { 0 }];
    let info = StreamInfo { codec: video.codec, params: video.params.clone() };
    let mut p = Pipeline {
        buf,
        pos: 0,
        d: Depacketizer::with_limits(
            video.codec,
            video.payload_type,
            video.params,
            Limits::for_buffer(opts.max_buffer),
        )
        .with_policy(&opts.client.policy),
        frames: Vec::with_capacity(64),
        iov_storage: Vec::with_capacity(1024),
        info,
        params_version: 0,
        clock: WallClock::new(opts.max_clock_skew.as_micros() as i64, opts.client.policy.wall_clock),
        local_time: opts.clock.clone(),
        writer,
        status: status.clone(),
        channel,
        batch_90k: (opts.batch_duration.as_micros() as i64 * 9 / 100).max(1),
        camera: camera.to_string(),
        bad_packets_in_row: 0,
        first_frame: true,
        wrote_any: false,
        saved_pts: None,
        newest_pts: None,
        interval_90k: 0,
        unassigned_channel: opts.client.policy.unassigned_channel,
        unassigned_frames: 0,
        rr: ReceiverStats::new(own_ssrc(camera), video.payload_type, VIDEO_CLOCK_RATE, start),
        arrival: start,
        got_udp_rtp: false,
        audio: audio_path,
        audio_channel,
        video_ref: VideoRef::default(),
    };
    // The SSRC the camera announced for our stream (SETUP `Transport`, PLAY
    // `RTP-Info`): under `unknown_ssrc = ignore` packets of others are skipped.
    p.d.set_expected_ssrc(expected_ssrc);
    let (mut rd, mut wr) = stream.split();
    let ka_period = (timeout / 2).clamp(Duration::from_secs(1), Duration::from_secs(30));
    let mut keepalive = tokio::time::interval_at(start + ka_period, ka_period);
    // The first report goes out soon (it also opens a NAT's path for RTCP), then every RR_INTERVAL.
    let mut reports = tokio::time::interval_at(start + Duration::from_secs(1), RR_INTERVAL);
    reports.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut report = [0u8; 4 + MAX_REPORT];
    // `udp-then-tcp`: no RTP datagram by then ends the session (set up again over TCP).
    let udp_deadline = start + opts.udp_fallback_timeout;
    let mut waiting_for_udp = udp.is_some() && opts.client.policy.transport == Transport::UdpThenTcp;
    let mut last_media = Instant::now();
    let mut frames_seen = 0u64;
    let result = loop {
        if *shutdown.borrow() {
            break Ok(());
        }
        let spare = p.buf.capacity() - p.buf.len();
        if spare < 64 * 1024 {
            p.make_room(opts.max_buffer)?;
        }
        tokio::select! {
            _ = shutdown.changed() => break Ok(()),
            _ = keepalive.tick() => {
                if let Err(e) = wr.write_all(&control.keepalive()).await {
                    break Err(RecordError::Io(e));
                }
            }
            _ = reports.tick() => {
                let n = p.rr.write_report(Instant::now(), &mut report[4..]);
                match (&udp, &filter) {
                    (Some(u), Some(f)) => {
                        // Advisory: a report that cannot be sent is not worth ending the session for.
                        if let Some(to) = f.rtcp_destination() {
                            let _ = u.rtcp.try_send_to(&report[4..4 + n], to);
                        }
                    }
                    _ => {
                        report[..4].copy_from_slice(&interleaved::header(channel.wrapping_add(1), n as u16));
                        if let Err(e) = wr.write_all(&report[..4 + n]).await {
                            break Err(RecordError::Io(e));
                        }
                    }
                }
                if let Some(a) = p.audio.as_mut() {
                    let n = a.rr.write_report(Instant::now(), &mut report[4..]);
                    match (&audio_udp, &audio_filter, p.audio_channel) {
                        (Some(u), Some(f), _) => {
                            if let Some(to) = f.rtcp_destination() {
                                let _ = u.rtcp.try_send_to(&report[4..4 + n], to);
                            }
                        }
                        (_, _, Some(ch)) => {
                            report[..4].copy_from_slice(&interleaved::header(ch.wrapping_add(1), n as u16));
                            if let Err(e) = wr.write_all(&report[..4 + n]).await {
                                break Err(RecordError::Io(e));
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ = tokio::time::sleep_until(last_media + opts.stall_timeout) => {
                break Err(RecordError::Stalled { secs: opts.stall_timeout.as_secs_f32() });
            }
            _ = tokio::time::sleep_until(udp_deadline), if waiting_for_udp => {
                break Err(RecordError::NoUdpMedia { secs: opts.udp_fallback_timeout.as_secs_f32() });
            }
            input = next_audio_datagram(audio_udp.as_ref(), &mut audio_buf, &mut audio_rtcp_buf) => {
                p.arrival = Instant::now();
                match input {
                    Input::Rtp(Ok((n, from))) if audio_filter.as_mut().is_some_and(|f| f.accept_rtp(from)) => {
                        p.on_audio_rtp(&audio_buf[..n.min(audio_buf.len())]);
                    }
                    Input::Rtcp(Ok((n, from))) if audio_filter.as_mut().is_some_and(|f| f.accept_rtcp(from)) => {
                        p.on_audio_rtcp(&audio_rtcp_buf[..n.min(audio_rtcp_buf.len())]);
                    }
                    // Audio socket errors never end the session: the video goes on.
                    _ => {}
                }
            }
            input = next_input(&mut rd, udp.as_ref(), &mut p.buf, &mut control_buf, &mut rtcp_buf) => {
                p.arrival = Instant::now();
                let r = match input {
                    Input::Tcp(Ok(0)) => Err(RecordError::Closed),
                    Input::Tcp(Ok(_)) if udp.is_some() => parse_control(&mut control_buf, camera),
                    Input::Tcp(Ok(_)) => p.parse(),
                    Input::Rtp(Ok((n, from))) => {
                        // RTP datagrams come only with UDP sockets and their filter.
                        let (Some(u), Some(f)) = (&udp, filter.as_mut()) else { continue };
                        let mut r = p.on_datagram(n, from, f);
                        // Drain what else is queued while there is room, then look at the timers again.
                        for _ in 0..UDP_BURST {
                            if r.is_err() || p.buf.capacity() - p.buf.len() < 64 * 1024 {
                                break;
                            }
                            match u.rtp.try_recv_buf_from(&mut p.buf) {
                                Ok((n, from)) => {
                                    p.arrival = Instant::now();
                                    r = p.on_datagram(n, from, f);
                                }
                                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                                Err(e) => r = Err(RecordError::Io(e)),
                            }
                        }
                        waiting_for_udp &= !p.got_udp_rtp;
                        r
                    }
                    Input::Rtcp(Ok((n, from))) => {
                        if filter.as_mut().is_some_and(|f| f.accept_rtcp(from)) {
                            p.on_rtcp(&rtcp_buf[..n.min(rtcp_buf.len())]);
                        }
                        Ok(())
                    }
                    Input::Tcp(Err(e)) | Input::Rtp(Err(e)) | Input::Rtcp(Err(e)) => Err(RecordError::Io(e)),
                };
                if let Err(e) = r {
                    break Err(e);
                }
                let s = p.d.stats();
                if s.frames > frames_seen {
                    frames_seen = s.frames;
                    last_media = Instant::now();
                }
                if p.batch_due() {
                    p.flush()?;
                }
            }
        }
    };
    p.flush()?;
    if result.is_ok() || matches!(result, Err(RecordError::NoUdpMedia { .. })) {
        // Polite end; the camera may already be gone.
        let _ = tokio::time::timeout(Duration::from_millis(500), wr.write_all(&control.teardown())).await;
    }
    result
}

/// An SSRC for our receiver reports, different per session and camera.
fn own_ssrc(camera: &str) -> u32 {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(camera.as_bytes());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    h.finish() as u32
}

impl Pipeline<'_> {
    /// Handles every complete interleaved frame or RTSP message in the buffer.
    fn parse(&mut self) -> Result<(), RecordError> {
        loop {
            let rest = &self.buf[self.pos..];
            if rest.is_empty() {
                return Ok(());
            }
            if rest[0] == b'$' {
                let Some(f) = interleaved::parse(rest) else { return Ok(()) };
                let (s, e) = (self.pos + f.packet.start, self.pos + f.packet.end);
                self.pos += f.total;
                if f.channel == self.channel {
                    self.on_rtp(s, e)?;
                } else if f.channel == self.channel.wrapping_add(1) {
                    let sr = rtp::find_sender_report(&self.buf[s..e]);
                    self.on_sender_report(sr);
                } else if Some(f.channel) == self.audio_channel {
                    self.on_audio_rtp_at(s, e);
                } else if Some(f.channel.wrapping_sub(1)) == self.audio_channel {
                    let sr = rtp::find_sender_report(&self.buf[s..e]);
                    if let (Some(a), Some(sr)) = (self.audio.as_mut(), sr) {
                        a.on_sender_report(sr, self.arrival);
                    }
                } else {
                    self.on_unassigned_channel(f.channel)?;
                }
                continue;
            }
            match parse_in_stream(rest) {
                Ok(InStream::Message { len, status }) => {
                    warn_status(&self.camera, status);
                    self.pos += len;
                }
                Ok(InStream::NeedMore) => return Ok(()),
                Err(e) => return Err(RecordError::Malformed(e.into())),
            }
        }
    }

    /// Interleaved data on a channel no track was set up on (a camera's
    /// metadata or a stale session): per [`UnassignedChannel`], counted and
    /// skipped, or the end of the session.
    fn on_unassigned_channel(&mut self, channel: u8) -> Result<(), RecordError> {
        if self.unassigned_channel == UnassignedChannel::Error {
            return Err(RecordError::Malformed(Malformed::UnassignedChannel(channel)));
        }
        if self.unassigned_frames == 0 {
            log::info!("{}: skipping interleaved data on channel {channel}, which no track was set up on", self.camera);
        }
        self.unassigned_frames += 1;
        Ok(())
    }

    /// An RTP datagram of `n` bytes was appended to the buffer: the
    /// camera's goes to the depacketizer, anyone else's is dropped.
    fn on_datagram(
        &mut self,
        n: usize,
        from: std::net::SocketAddr,
        filter: &mut SourceFilter,
    ) -> Result<(), RecordError> {
        let end = self.buf.len();
        let start = end - n.min(end);
        if !filter.accept_rtp(from) {
            self.buf.truncate(start);
            return Ok(());
        }
        self.got_udp_rtp = true;
        self.pos = end;
        self.on_rtp(start, end)
    }

    /// An RTCP compound packet: its sender report times the frames.
    fn on_rtcp(&mut self, packet: &[u8]) {
        self.on_sender_report(rtp::find_sender_report(packet));
    }

    fn on_sender_report(&mut self, sr: Option<rtp::SenderReport>) {
        let Some(sr) = sr else { return };
        self.rr.on_sender_report(sr.ssrc, sr.ntp, self.arrival);
        // After a batch was written the depacketizer holds no frame: the newest pts is the reference
        // (the report's raw timestamp would be wrong by 2^32 after a wrap).
        let near = self.d.frames().last().map(|f| f.pts).or(self.newest_pts).unwrap_or(sr.rtp_ts as i64);
        if self.rr.source().is_none_or(|s| s == sr.ssrc) {
            let ext = near + i64::from(sr.rtp_ts.wrapping_sub(near as u32) as i32);
            self.video_ref.sr = Some((ext, sr.wall_us()));
        }
        self.clock.on_sender_report(sr.rtp_ts, sr.wall_us(), near, self.local_time.now_us());
    }

    fn on_rtp(&mut self, s: usize, e: usize) -> Result<(), RecordError> {
        self.rr.on_rtp(&self.buf[s..e], self.arrival);
        let before = self.d.frames().len();
        let version = self.d.params_version();
        match self.d.push(&self.buf, s, e) {
            Ok(()) => self.bad_packets_in_row = 0,
            Err(err) => {
                self.bad_packets_in_row += 1;
                if self.bad_packets_in_row == 1 {
                    log::warn!("{}: dropped a bad RTP packet: {err}", self.camera);
                }
                if self.bad_packets_in_row > 200 {
                    let count = self.bad_packets_in_row;
                    return Err(RecordError::Malformed(Malformed::BadPackets { count, last: err }));
                }
            }
        }
        let now = self.local_time.now_us();
        for f in &self.d.frames()[before..] {
            if let Some(prev) = self.newest_pts {
                self.interval_90k = f.pts.saturating_sub(prev).clamp(0, self.batch_90k);
            }
            self.newest_pts = Some(f.pts);
            let wall_us = self.clock.wall_us(f.pts, now);
            if f.keyframe && self.video_ref.first_key.is_none() {
                self.video_ref.first_key = Some((f.pts, wall_us, now));
            }
            self.frames.push(FrameIn {
                pts_90k: f.pts,
                wall_us,
                keyframe: f.keyframe,
                discontinuity: f.discontinuity || std::mem::take(&mut self.first_frame),
                len: f.len,
                pieces: f.pieces,
            });
        }
        if self.d.params_version() != version {
            // New parameter sets belong to the frame in progress: write what
            // came before with the old ones.
            self.flush()?;
            self.params_version = self.d.params_version();
            self.info.params = self.d.params().clone();
        }
        Ok(())
    }
}
