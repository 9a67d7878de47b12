//! Where the bytes of a playing session come from. Over TCP everything is
//! in the RTSP connection (interleaved RTP/RTCP and replies) and is read
//! into the receive buffer. Over UDP one RTP datagram is received into the
//! receive buffer's free space (one datagram, one packet: no copy), RTCP
//! into a small buffer of its own, and the RTSP connection, still open for
//! keep-alives, into a control buffer read for their replies.

use std::io;
use std::net::SocketAddr;

use hotspare_media::interleaved;
use hotspare_rtsp::client::{parse_in_stream, InStream};
use tokio::net::tcp::ReadHalf;
use tokio::net::UdpSocket;

use crate::{Malformed, RecordError};

/// Largest RTCP compound packet read from the RTCP socket.
pub(crate) const RTCP_BUFFER: usize = 2048;

/// Largest audio RTP datagram read from the audio socket.
pub(crate) const AUDIO_DATAGRAM: usize = 8192;

/// The sockets of an RTP-over-UDP session.
pub(crate) struct UdpSockets {
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
}

/// What arrived.
pub(crate) enum Input {
    /// Bytes from the RTSP connection: appended to the receive buffer (TCP)
    /// or to the control buffer (UDP).
    Tcp(io::Result<usize>),
    /// One RTP datagram of this many bytes appended to the receive buffer.
    Rtp(io::Result<(usize, SocketAddr)>),
    /// One RTCP datagram of this many bytes at the start of the RTCP buffer.
    Rtcp(io::Result<(usize, SocketAddr)>),
}

/// Waits for the next input. Cancel-safe (every branch is), so it can sit in
/// the session's `select!` beside its timers.
pub(crate) async fn next_input(
    rd: &mut ReadHalf<'_>,
    udp: Option<&UdpSockets>,
    media: &mut Vec<u8>,
    control: &mut Vec<u8>,
    rtcp: &mut [u8],
) -> Input {
    use tokio::io::AsyncReadExt;
    let Some(u) = udp else { return Input::Tcp(rd.read_buf(media).await) };
    tokio::select! {
        r = u.rtp.recv_buf_from(media) => Input::Rtp(r),
        r = u.rtcp.recv_from(rtcp) => Input::Rtcp(r),
        r = rd.read_buf(control) => Input::Tcp(r),
    }
}

/// Waits for the next datagram on the audio track's UDP sockets: RTP into
/// `rtp`, RTCP into `rtcp`. Never ready without audio sockets. Cancel-safe.
pub(crate) async fn next_audio_datagram(audio: Option<&UdpSockets>, rtp: &mut [u8], rtcp: &mut [u8]) -> Input {
    let Some(u) = audio else { return std::future::pending().await };
    tokio::select! {
        r = u.rtp.recv_from(rtp) => Input::Rtp(r),
        r = u.rtcp.recv_from(rtcp) => Input::Rtcp(r),
    }
}

/// Handles the RTSP connection's bytes of a UDP session: replies to
/// keep-alives (each non-2xx one logged), interleaved data the camera should
/// not send (skipped). Bytes that are neither end the session.
pub(crate) fn parse_control(buf: &mut Vec<u8>, camera: &str) -> Result<(), RecordError> {
    loop {
        if buf.is_empty() {
            return Ok(());
        }
        if buf[0] == b'$' {
            let Some(f) = interleaved::parse(buf) else { return Ok(()) };
            buf.drain(..f.total);
            continue;
        }
        match parse_in_stream(buf) {
            Ok(InStream::Message { len, status }) => {
                warn_status(camera, status);
                buf.drain(..len);
            }
            Ok(InStream::NeedMore) => return Ok(()),
            Err(e) => return Err(RecordError::Malformed(Malformed::Stream(e))),
        }
    }
}

/// Logs a keep-alive answered with an error status.
pub(crate) fn warn_status(camera: &str, status: Option<u16>) {
    if let Some(code) = status.filter(|c| !(200..300).contains(c)) {
        log::warn!("{camera}: camera answered a keep-alive with status {code}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_of_a_udp_session() {
        let mut b = b"RTSP/1.0 200 OK\r\nCSeq: 3\r\n\r\n".to_vec();
        b.extend_from_slice(&interleaved::header(1, 2));
        b.extend_from_slice(&[9, 9]);
        b.extend_from_slice(b"RTSP/1.0 454 Session Not Found\r\nCSeq: 4\r\n\r\nRTSP/1.0 200");
        parse_control(&mut b, "cam").unwrap();
        assert_eq!(b, b"RTSP/1.0 200", "an incomplete reply waits for more bytes");
        let mut junk = b"\x00\x01garbage\r\n\r\n".to_vec();
        assert!(matches!(parse_control(&mut junk, "cam"), Err(RecordError::Malformed(_))));
    }
}
