//! The recording pipeline: an RTSP session's media goes through the
//! depacketizer into the segment store, in batches flushed before 1 s of
//! video is unsaved (the crash bound, see `session::batch::flush_due`),
//! with keep-alives, stall detection and reconnects.

pub mod camera;
pub mod clock;
mod media_input;
pub mod receiver_report;
pub mod retention;
pub mod session;
pub mod status;

use std::time::Duration;

pub use camera::{run_camera, CameraConfig};
pub use hotspare_camera_policy::{CameraPolicy, Transport};
pub use retention::spawn_retention;
pub use status::{CameraState, CameraStatus, StatusHandle};

/// Tunables of the recorder; defaults suit real cameras.
#[derive(Clone, Debug)]
pub struct RecorderOptions {
    /// No completed frame for this long: drop the session and reconnect.
    pub stall_timeout: Duration,
    /// Frames are handed to the store before this much video (by pts) is
    /// unsaved: a `kill -9` loses at most this much of what reached the
    /// recorder, a power cut at most the last batch.
    pub batch_duration: Duration,
    /// Initial receive buffer per camera; grows up to `max_buffer` for
    /// very large frames.
    pub buffer_capacity: usize,
    pub max_buffer: usize,
    /// RTCP sender reports further than this from local time are ignored.
    pub max_clock_skew: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    pub client: hotspare_rtsp::ClientOptions,
    /// The wall clock frames are stamped by (until a camera's sender reports take over).
    pub clock: hotspare_base::SharedClock,
    /// `udp-then-tcp`: no RTP datagram within this long after PLAY ends the
    /// UDP session, and the camera is set up again over TCP.
    pub udp_fallback_timeout: Duration,
}

impl Default for RecorderOptions {
    fn default() -> Self {
        RecorderOptions {
            stall_timeout: Duration::from_secs(10),
            batch_duration: Duration::from_secs(1),
            buffer_capacity: 1 << 20,
            max_buffer: 16 << 20,
            max_clock_skew: Duration::from_secs(300),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            client: hotspare_rtsp::ClientOptions::default(),
            clock: hotspare_base::SystemClock::shared(),
            udp_fallback_timeout: Duration::from_secs(4),
        }
    }
}

/// Why a recording session ended.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error(transparent)]
    Rtsp(#[from] hotspare_rtsp::RtspError),
    #[error("store: {0}")]
    Store(hotspare_store::StoreError),
    #[error("no video for {secs} s (stalled)")]
    Stalled { secs: f32 },
    #[error("camera closed the connection")]
    Closed,
    /// `udp-then-tcp`: the camera's RTP did not arrive over UDP.
    #[error("no RTP over UDP within {secs} s of PLAY (a firewall or NAT on the way?)")]
    NoUdpMedia { secs: f32 },
    /// Reading from or writing to the camera's connection failed.
    #[error("connection error")]
    Io(#[source] std::io::Error),
    #[error("malformed data from camera")]
    Malformed(#[source] Malformed),
    #[error("a frame of over {0} bytes does not fit the receive buffer")]
    FrameTooLarge(usize),
}

/// What was malformed in the camera's data ([`RecordError::Malformed`]).
#[derive(Debug, thiserror::Error)]
pub enum Malformed {
    /// Bytes between interleaved frames that are not an RTSP message.
    #[error(transparent)]
    Stream(#[from] hotspare_rtsp::client::UnexpectedBytes),
    /// The camera keeps sending RTP packets the depacketizer rejects.
    #[error("{count} bad RTP packets in a row, the last one")]
    BadPackets {
        count: u32,
        #[source]
        last: hotspare_media::depacketize::DepacketizeError,
    },
    /// Interleaved data on a channel no track was set up on, refused by the
    /// camera's policy (`unassigned_channel = "error"`).
    #[error(
        "interleaved data on channel {0}, which no track was set up on (camera policy unassigned_channel = \"error\")"
    )]
    UnassignedChannel(u8),
}
