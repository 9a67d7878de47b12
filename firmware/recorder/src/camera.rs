//! One camera's recording task: connect, record, and on any failure
//! reconnect with capped exponential backoff, until shut down. A camera
//! that disappears and comes back is recorded again without a restart.
//!
//! Transport (the camera's `policy.transport`): `tcp` asks for interleaved
//! RTP, `udp` for UDP only. `udp-then-tcp` asks for UDP; when the camera
//! refuses it (461 Unsupported Transport) or no RTP datagram arrives within
//! `udp_fallback_timeout` of PLAY, the session is torn down and set up again
//! at once over TCP. The fallback holds for the next connection attempt
//! only: once that TCP session ends, reconnecting tries UDP first again (a
//! firewall may have been opened), so a camera whose UDP never arrives
//! loses `udp_fallback_timeout` of video per reconnect.

use std::sync::Arc;

use hotspare_base::{error_chain, Backoff};
use hotspare_camera_policy::{CameraPolicy, Transport};
use hotspare_rtsp::auth::Credentials;
use hotspare_rtsp::{Requested, RtspError};
use hotspare_store::Store;
use tokio::sync::watch;

use crate::session::record_session;
use crate::status::{CameraState, StatusHandle};
use crate::{RecordError, RecorderOptions};

/// A camera to record.
#[derive(Clone, Debug)]
pub struct CameraConfig {
    /// Store directory name: `[A-Za-z0-9_-]{1,64}`.
    pub id: String,
    /// `rtsp://[user:password@]host[:port]/path`.
    pub url: String,
    pub credentials: Option<Credentials>,
    /// How this camera's quirks are tolerated; replaces
    /// `RecorderOptions::client.policy` for its sessions.
    pub policy: CameraPolicy,
}

/// Records `cam` into `store` until `shutdown` turns true. Each new RTSP
/// session starts a new segment (its first frame is a discontinuity). Returns an error
/// only for store failures that make recording impossible (the camera
/// directory cannot be created); network trouble is retried forever.
pub async fn run_camera(
    cam: CameraConfig,
    store: Arc<Store>,
    opts: RecorderOptions,
    status: StatusHandle,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), RecordError> {
    let mut opts = opts;
    opts.client.policy = cam.policy;
    let mut writer = store.writer(&cam.id).map_err(RecordError::Store)?;
    let mut backoff = Backoff::new(opts.backoff_min, opts.backoff_max);
    let mut logged_error = String::new();
    // `udp-then-tcp` fell back: the next session is over TCP.
    let mut fell_back = false;
    loop {
        if *shutdown.borrow() {
            break;
        }
        status.update(|s| s.state = CameraState::Connecting);
        let requested = requested_transport(opts.client.policy.transport, std::mem::take(&mut fell_back));
        let attempt = tokio::select! {
            r = hotspare_rtsp::play_with(&cam.url, cam.credentials.clone(), &opts.client, requested) => r,
            _ = shutdown.changed() => break,
        };
        let error = match attempt {
            Ok(session) => {
                let media = session.media.name();
                log::info!(
                    "{}: playing {:?} from {} over {media} (session timeout {:?}, announced SSRC {:?}, {} stray packets skipped before PLAY)",
                    cam.id,
                    session.video.codec,
                    session.track_url,
                    session.timeout,
                    session.expected_ssrc.map(|s| format!("{s:08x}")),
                    session.skipped_before_play
                );
                status.update(|s| {
                    s.state = CameraState::Recording;
                    s.sessions += 1;
                    s.last_error = None;
                    s.transport = Some(media);
                });
                let frames_before = status.get().frames;
                let r = record_session(session, &mut writer, &opts, &status, &mut shutdown, &cam.id).await;
                if status.get().frames > frames_before {
                    backoff.succeeded();
                }
                match r {
                    Ok(()) => break,
                    Err(e @ RecordError::NoUdpMedia { .. }) => {
                        log::warn!("{}: {e}: setting up again over TCP", cam.id);
                        fell_back = true;
                        continue;
                    }
                    Err(e @ RecordError::Store(_)) => {
                        // Not a camera problem: end the segment and go on.
                        log::error!("{}: {e}", cam.id);
                        e.to_string()
                    }
                    // The status says what failed and why (each cause).
                    Err(e) => error_chain::join(&e, ": "),
                }
            }
            Err(e)
                if requested == Requested::Udp
                    && opts.client.policy.transport == Transport::UdpThenTcp
                    && refused_udp(&e) =>
            {
                log::warn!("{}: {e}: setting up again over TCP", cam.id);
                fell_back = true;
                continue;
            }
            Err(e) => {
                let text = e.to_string();
                if e.is_config_error() {
                    log::error!("{}: {text}", cam.id);
                }
                text
            }
        };
        let wait = backoff.failed();
        if error != logged_error {
            log::warn!("{}: {error}; retrying in {:?}", cam.id, wait);
            logged_error = error.clone();
        }
        status.update(|s| {
            s.state = CameraState::Retrying { error: error.clone() };
            s.last_error = Some(error);
        });
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = shutdown.changed() => break,
        }
    }
    writer.close().map_err(RecordError::Store)?;
    status.update(|s| s.state = CameraState::Stopped);
    Ok(())
}

/// What SETUP asks for under `policy`, `fell_back` when the last UDP session got nothing.
pub(crate) fn requested_transport(policy: Transport, fell_back: bool) -> Requested {
    match policy {
        Transport::Tcp => Requested::Tcp,
        Transport::Udp => Requested::Udp,
        Transport::UdpThenTcp if fell_back => Requested::Tcp,
        Transport::UdpThenTcp => Requested::Udp,
    }
}

/// The camera will not send RTP over UDP (461 Unsupported Transport, or a SETUP reply we cannot use).
fn refused_udp(e: &RtspError) -> bool {
    matches!(e, RtspError::Status { status: 461, .. } | RtspError::Transport { .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_rule() {
        assert_eq!(requested_transport(Transport::Tcp, false), Requested::Tcp);
        assert_eq!(requested_transport(Transport::Udp, false), Requested::Udp);
        assert_eq!(requested_transport(Transport::Udp, true), Requested::Udp, "udp: no fallback");
        assert_eq!(requested_transport(Transport::UdpThenTcp, false), Requested::Udp);
        assert_eq!(requested_transport(Transport::UdpThenTcp, true), Requested::Tcp);
    }
}
