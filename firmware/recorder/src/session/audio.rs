//! The audio track of a playing session: its RTP (interleaved channel or
//! UDP socket) to the audio depacketizer, each frame timed on the video's
//! wall clock, the frames handed to the store after each video batch, and
//! receiver reports for the audio stream.
//!
//! Wall clock of audio (the store anchors audio once per run at its first
//! frame, so what matters is that this mapping agrees with the video's):
//! - when the camera's sender reports of both streams are known, the audio
//!   pts goes through the audio report to the camera's NTP time, through the
//!   video report to a video pts, and gets that pts's wall time on the
//!   video's session mapping (lip sync as the camera states it, right even
//!   when the camera's clock is unset, since only differences are used);
//! - otherwise audio is anchored by arrival: its first frame's wall time is
//!   the video reference's wall time plus the local time elapsed since that
//!   reference frame arrived, later frames follow by pts.
//!
//! The video reference is the first video keyframe of the session (the one
//! the store anchors the video run at). Audio before it gets its arrival
//! time; the store drops it anyway (no segment open yet).
//!
//! Memory: the depacketizer's [`hotspare_media::audio_depacketize::AudioLimits`];
//! frame and slice vectors are reused, so steady state allocates nothing per frame.

use std::io::IoSlice;

use hotspare_camera_policy::CameraPolicy;
use hotspare_media::audio_depacketize::AudioDepacketizer;
use hotspare_media::rtp::SenderReport;
use hotspare_rtsp::AudioSetup;
use hotspare_store::contract::AudioFrameIn;
use hotspare_store::CameraWriter;
use tokio::time::Instant;

use crate::receiver_report::ReceiverStats;
use crate::status::StatusHandle;

/// (extended RTP timestamp, camera NTP time in µs) of a sender report.
type Report = (i64, i64);

/// Extends a report's 32-bit RTP timestamp next to `near`.
fn extend(rtp_ts: u32, near: i64) -> i64 {
    near + i64::from(rtp_ts.wrapping_sub(near as u32) as i32)
}

/// Where the audio of a session goes and how it is timed.
pub(super) struct AudioPath {
    pub d: AudioDepacketizer,
    rate: u32,
    ssrc_expected: Option<u32>,
    frames: Vec<AudioFrameIn>,
    iov_storage: Vec<IoSlice<'static>>,
    pub rr: ReceiverStats,
    /// Latest sender report of the audio stream.
    audio_sr: Option<Report>,
    /// Arrival anchor: (audio pts, wall µs) of the first frame timed by arrival.
    arrival_anchor: Option<(i64, i64)>,
    /// The next frame is the first of this session: a discontinuity.
    first_frame: bool,
    /// Depacketizer drops already counted in the status.
    counted_drops: u64,
    logged_error: bool,
}

/// The video's side of the audio timing.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct VideoRef {
    /// (pts 90 kHz, wall µs given to the store, local µs when it was mapped)
    /// of the session's first video keyframe.
    pub first_key: Option<(i64, i64, i64)>,
    /// Latest sender report of the video stream.
    pub sr: Option<Report>,
}

impl AudioPath {
    pub fn new(setup: &AudioSetup, policy: &CameraPolicy, rr: ReceiverStats) -> Self {
        let mut d = AudioDepacketizer::new(&setup.track).with_policy(policy);
        d.set_expected_ssrc(setup.expected_ssrc);
        AudioPath {
            rate: setup.track.params.sample_rate.max(1),
            d,
            ssrc_expected: setup.expected_ssrc,
            frames: Vec::with_capacity(64),
            iov_storage: Vec::with_capacity(64),
            rr,
            audio_sr: None,
            arrival_anchor: None,
            first_frame: true,
            counted_drops: 0,
            logged_error: false,
        }
    }

    /// One RTP packet of the audio stream.
    pub fn on_rtp(&mut self, packet: &[u8], arrival: Instant, now_us: i64, video: &VideoRef) {
        self.rr.on_rtp(packet, arrival);
        let before = self.d.frames().len();
        if let Err(e) = self.d.push(packet) {
            if !self.logged_error {
                log::warn!("dropped a bad audio RTP packet: {e}");
                self.logged_error = true;
            }
        }
        for i in before..self.d.frames().len() {
            let f = self.d.frames()[i];
            let wall_us = self.wall_us(f.pts, now_us, video);
            self.frames.push(AudioFrameIn {
                pts: f.pts,
                wall_us,
                duration: f.duration,
                discontinuity: f.discontinuity || std::mem::take(&mut self.first_frame),
                len: f.len,
                pieces: 1,
            });
        }
    }

    /// A sender report on the audio RTCP channel or socket.
    pub fn on_sender_report(&mut self, sr: SenderReport, arrival: Instant) {
        self.rr.on_sender_report(sr.ssrc, sr.ntp, arrival);
        if self.ssrc_expected.is_some_and(|s| s != sr.ssrc) {
            return;
        }
        let near = self.d.frames().last().map(|f| f.pts).or(self.audio_sr.map(|r| r.0)).unwrap_or(i64::from(sr.rtp_ts));
        self.audio_sr = Some((extend(sr.rtp_ts, near), sr.wall_us()));
    }

    fn wall_us(&mut self, pts: i64, now_us: i64, video: &VideoRef) -> i64 {
        let Some((ref_pts, ref_wall, ref_local)) = video.first_key else { return now_us };
        if let (Some((a_ts, a_ntp)), Some((v_ts, v_ntp))) = (self.audio_sr, video.sr) {
            let ntp = a_ntp + (i128::from(pts - a_ts) * 1_000_000 / i128::from(self.rate)) as i64;
            let vpts = v_ts + (i128::from(ntp - v_ntp) * 90_000 / 1_000_000) as i64;
            return ref_wall + (i128::from(vpts - ref_pts) * 1_000_000 / 90_000) as i64;
        }
        let (p0, w0) = *self.arrival_anchor.get_or_insert((pts, ref_wall + (now_us - ref_local)));
        w0 + (i128::from(pts - p0) * 1_000_000 / i128::from(self.rate)) as i64
    }

    /// Hands the frames received since the last call to the store.
    pub fn write(&mut self, writer: &mut CameraWriter, status: &StatusHandle, camera: &str) {
        let n = self.frames.len() as u64;
        let stored = if self.frames.is_empty() {
            0
        } else {
            let mut iov: Vec<IoSlice<'_>> = std::mem::take(&mut self.iov_storage);
            for f in self.d.frames() {
                iov.push(IoSlice::new(self.d.frame_bytes(f)));
            }
            let r = writer.write_audio(self.d.params(), &self.frames, &iov);
            iov.clear();
            self.iov_storage = iov.into_iter().map(|_| IoSlice::new(&[])).collect();
            match r {
                Ok(k) => u64::from(k),
                Err(e) => {
                    // Audio never costs the video: logged, counted, the session goes on.
                    if !self.logged_error || e.is_no_space() {
                        log::warn!("{camera}: {n} audio frames not stored: {e}");
                        self.logged_error = true;
                    }
                    0
                }
            }
        };
        self.frames.clear();
        self.d.clear_completed();
        let depacketizer_drops = self.d.stats().dropped_frames;
        let dropped = n - stored.min(n) + depacketizer_drops - self.counted_drops.min(depacketizer_drops);
        self.counted_drops = depacketizer_drops;
        status.update(|st| {
            st.audio_frames += stored;
            st.audio_dropped += dropped;
        });
    }
}

impl super::Pipeline<'_> {
    /// An audio RTP packet interleaved at `buf[s..e]`.
    pub(super) fn on_audio_rtp_at(&mut self, s: usize, e: usize) {
        let now = self.local_time.now_us();
        if let Some(a) = self.audio.as_mut() {
            a.on_rtp(&self.buf[s..e], self.arrival, now, &self.video_ref);
        }
    }

    /// An audio RTP datagram.
    pub(super) fn on_audio_rtp(&mut self, packet: &[u8]) {
        let now = self.local_time.now_us();
        if let Some(a) = self.audio.as_mut() {
            a.on_rtp(packet, self.arrival, now, &self.video_ref);
        }
    }

    /// An audio RTCP datagram.
    pub(super) fn on_audio_rtcp(&mut self, packet: &[u8]) {
        if let (Some(a), Some(sr)) = (self.audio.as_mut(), hotspare_media::rtp::find_sender_report(packet)) {
            a.on_sender_report(sr, self.arrival);
        }
    }

    /// The audio received since the last batch, to the store (after the video's batch).
    pub(super) fn write_audio(&mut self) {
        if let Some(a) = self.audio.as_mut() {
            a.write(self.writer, &self.status, &self.camera);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use hotspare_media::sdp_audio::{AudioFraming, AudioTrack};
    use hotspare_media::{AudioCodec, AudioParams};
    use hotspare_rtsp::transport::Media;

    fn pcmu_path() -> AudioPath {
        let track = AudioTrack {
            params: AudioParams { codec: AudioCodec::Pcmu, sample_rate: 8000, channels: 1, config: Vec::new() },
            payload_type: 0,
            control: None,
            framing: AudioFraming::G711,
        };
        let setup = AudioSetup {
            track,
            media: Media::Interleaved { channel: 2 },
            track_url: "rtsp://cam/audio".into(),
            expected_ssrc: None,
            rtp_info_seq: None,
        };
        AudioPath::new(&setup, &CameraPolicy::default(), ReceiverStats::new(1, 0, 8000, Instant::now()))
    }

    #[test]
    fn audio_before_the_video_reference_gets_its_arrival_time() {
        let mut a = pcmu_path();
        assert_eq!(a.wall_us(123, 7_000_000, &VideoRef::default()), 7_000_000);
    }

    #[test]
    fn arrival_anchor_is_relative_to_the_video_reference_then_follows_pts() {
        let mut a = pcmu_path();
        // The first keyframe: pts 0, wall 1 s (say from a camera clock), mapped at local 5 s.
        let video = VideoRef { first_key: Some((0, 1_000_000, 5_000_000)), sr: None };
        // First audio frame arrives 0.5 s after it (local time): wall 1.5 s.
        assert_eq!(a.wall_us(8000, 5_500_000, &video), 1_500_000);
        // Later frames by pts (1 s of 8 kHz later), whatever their arrival.
        assert_eq!(a.wall_us(16_000, 9_999_999, &video), 2_500_000);
    }

    #[test]
    fn sender_reports_of_both_streams_give_lip_sync_even_with_an_unset_camera_clock() {
        let mut a = pcmu_path();
        // Camera clock in 1970; both reports at the same instant: audio ts 8000 = video ts 180 000.
        let ntp_1970 = 2_208_988_800u64 << 32;
        a.on_sender_report(SenderReport { ssrc: 7, ntp: ntp_1970, rtp_ts: 8000 }, Instant::now());
        let video = VideoRef { first_key: Some((90_000, 1_000_000, 5_000_000)), sr: Some((180_000, 0)) };
        // Audio pts 8000 is video pts 180 000, 1 s after the reference keyframe.
        assert_eq!(a.wall_us(8000, 123, &video), 2_000_000);
        assert_eq!(a.wall_us(12_000, 456, &video), 2_500_000);
    }

    #[test]
    fn report_timestamps_extend_across_wrap() {
        assert_eq!(extend(10, (1i64 << 32) - 5), (1i64 << 32) + 10);
        assert_eq!(extend(u32::MAX - 1, 1i64 << 32), (1i64 << 32) - 2);
        assert_eq!(extend(500, 400), 500);
    }
}
