//! Errors of the RTSP client, each naming what went wrong and where.

use crate::auth::AuthError;
use hotspare_media::sdp::SdpError;

#[derive(Debug, thiserror::Error)]
pub enum RtspError {
    #[error("bad camera URL {url:?}: {why}")]
    Url { url: String, why: String },
    #[error("cannot connect to {addr}: {source}")]
    Connect { addr: String, source: std::io::Error },
    #[error("{method} to {url} got no answer within {secs} s")]
    Timeout { method: String, url: String, secs: u64 },
    #[error("connection to {url} failed: {source}")]
    Io { url: String, source: std::io::Error },
    #[error("{url} closed the connection")]
    Closed { url: String },
    #[error("{method} {url} failed: {status} {reason}")]
    Status { method: String, url: String, status: u16, reason: String },
    #[error("{url} rejected the credentials of user {user:?} (wrong user name or password)")]
    Unauthorized { url: String, user: String },
    #[error("{url} requires authentication but no user name and password are configured")]
    NeedCredentials { url: String },
    #[error("malformed RTSP message from {url}: {detail}")]
    Malformed { url: String, detail: String },
    #[error("{url}: {source}")]
    Sdp { url: String, source: SdpError },
    #[error("{url}: {source}")]
    Auth { url: String, source: AuthError },
    #[error("{url} answered SETUP with a transport we cannot use: {detail}")]
    Transport { url: String, detail: String },
    #[error("cannot bind a UDP port pair for RTP on {ip}: {source}")]
    UdpBind { ip: std::net::IpAddr, source: std::io::Error },
}

impl RtspError {
    /// True for errors a reconnect will not fix without a configuration
    /// change (still retried, but logged louder and backed off longer).
    pub fn is_config_error(&self) -> bool {
        matches!(self, RtspError::Url { .. } | RtspError::Unauthorized { .. } | RtspError::NeedCredentials { .. })
    }
}
