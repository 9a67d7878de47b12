//! The RTP transport of a session: RTP/AVP/TCP interleaved in the RTSP
//! connection, or RTP/AVP over UDP unicast to an even/odd port pair we bind
//! on the interface facing the camera. Owns the SETUP `Transport` header we
//! send, the reading of the camera's answer (it chooses its ports), and the
//! source filter that keeps datagrams of any other sender away from the
//! depacketizer.

use std::io;
use std::net::{IpAddr, SocketAddr};

/// Receive buffer asked for the RTP socket: a key frame of a 4K camera
/// arrives as one burst of datagrams (the kernel caps this at `rmem_max`).
pub const UDP_RECV_BUFFER: usize = 4 << 20;

/// Which transport SETUP asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Requested {
    /// `RTP/AVP/TCP;unicast;interleaved=0-1`.
    Tcp,
    /// `RTP/AVP;unicast;client_port=a-b`.
    Udp,
}

/// Where a playing session's RTP and RTCP arrive.
#[derive(Debug)]
pub enum Media {
    /// Interleaved in the RTSP connection: RTP on `channel`, RTCP on `channel + 1`.
    Interleaved { channel: u8 },
    /// UDP unicast; the RTSP connection still carries keep-alives and their replies.
    Udp(UdpMedia),
}

impl Media {
    /// `"tcp"` or `"udp"`, for logs and status.
    pub fn name(&self) -> &'static str {
        match self {
            Media::Interleaved { .. } => "tcp",
            Media::Udp(_) => "udp",
        }
    }
}

/// The two sockets of an RTP-over-UDP session and who may send to them.
#[derive(Debug)]
pub struct UdpMedia {
    pub rtp: tokio::net::UdpSocket,
    pub rtcp: tokio::net::UdpSocket,
    pub filter: SourceFilter,
}

/// Accepts datagrams only from the camera: from its RTSP address or the
/// `source` its SETUP reply names, and, once known (from `server_port` or
/// the first datagram), only from its RTP / RTCP port.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceFilter {
    peer: IpAddr,
    source: Option<IpAddr>,
    rtp_port: Option<u16>,
    rtcp_port: Option<u16>,
}

impl SourceFilter {
    pub fn new(peer: IpAddr, reply: &TransportReply) -> Self {
        SourceFilter {
            peer: canonical(peer),
            source: reply.source.map(canonical),
            rtp_port: reply.server_port.map(|p| p.0),
            rtcp_port: reply.server_port.and_then(|p| p.1),
        }
    }

    fn ip_ok(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        ip == self.peer || Some(ip) == self.source
    }

    /// Whether an RTP datagram from `from` is the camera's (learning its port on the first).
    pub fn accept_rtp(&mut self, from: SocketAddr) -> bool {
        accept(self.ip_ok(from.ip()), &mut self.rtp_port, from.port())
    }

    /// Whether an RTCP datagram from `from` is the camera's (learning its port on the first).
    pub fn accept_rtcp(&mut self, from: SocketAddr) -> bool {
        accept(self.ip_ok(from.ip()), &mut self.rtcp_port, from.port())
    }

    /// Where receiver reports go: the camera's RTCP port, else its RTP port + 1.
    pub fn rtcp_destination(&self) -> Option<SocketAddr> {
        let port = self.rtcp_port.or_else(|| self.rtp_port.and_then(|p| p.checked_add(1)))?;
        Some(SocketAddr::new(self.source.unwrap_or(self.peer), port))
    }
}

fn accept(ip_ok: bool, known: &mut Option<u16>, port: u16) -> bool {
    if !ip_ok {
        return false;
    }
    match *known {
        Some(p) => p == port,
        None => {
            *known = Some(port);
            true
        }
    }
}

/// IPv4-mapped IPv6 addresses as IPv4, so both forms of one address compare equal.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// What the camera's SETUP reply says about the transport.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TransportReply {
    /// `RTP/AVP/TCP` (interleaved) rather than UDP.
    pub tcp: bool,
    /// First channel of `interleaved=a-b`.
    pub channel: Option<u8>,
    /// `server_port=a-b` (or `=a`): the camera's RTP and RTCP ports.
    pub server_port: Option<(u16, Option<u16>)>,
    /// `source=`: the address the camera sends from, when it says.
    pub source: Option<IpAddr>,
    /// `ssrc=`: hexadecimal (RFC 2326), decimal when longer than 8 digits,
    /// padded with spaces by some Hikvision firmware.
    pub ssrc: Option<u32>,
}

impl TransportReply {
    /// Reads the first transport spec of a `Transport` header; unknown or
    /// malformed parameters are ignored (cameras add their own).
    pub fn parse(header: &str) -> TransportReply {
        let spec = header.split(',').next().unwrap_or("");
        let mut parts = spec.split(';').map(str::trim);
        let proto = parts.next().unwrap_or("").to_ascii_uppercase();
        let mut r = TransportReply { tcp: proto.ends_with("/TCP"), ..TransportReply::default() };
        for p in parts {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let v = v.trim().trim_matches('"');
            match k.trim().to_ascii_lowercase().as_str() {
                "interleaved" => r.channel = v.split('-').next().and_then(|c| c.trim().parse().ok()),
                "server_port" => r.server_port = port_range(v),
                "source" => r.source = v.parse().ok(),
                "ssrc" => r.ssrc = crate::reply::parse_ssrc(v),
                _ => {}
            }
        }
        r
    }
}

fn port_range(v: &str) -> Option<(u16, Option<u16>)> {
    let mut it = v.split('-');
    let a: u16 = it.next()?.trim().parse().ok().filter(|p| *p != 0)?;
    let b = it.next().and_then(|b| b.trim().parse::<u16>().ok()).filter(|p| *p != 0);
    Some((a, b))
}

/// The `Transport` header of a SETUP asking for UDP to `rtp_port` and `rtp_port + 1`.
pub fn udp_request(rtp_port: u16) -> String {
    format!("RTP/AVP;unicast;client_port={}-{}", rtp_port, rtp_port.wrapping_add(1))
}

/// The `Transport` header of a SETUP asking for interleaved channels `channel`, `channel + 1`.
pub fn tcp_request(channel: u8) -> String {
    format!("RTP/AVP/TCP;unicast;interleaved={}-{}", channel, channel.wrapping_add(1))
}

/// Binds an even port for RTP and the next one for RTCP on `ip` (RFC 3550
/// §11), non-blocking, the RTP socket with a large receive buffer.
pub fn bind_pair(ip: IpAddr) -> io::Result<(std::net::UdpSocket, std::net::UdpSocket)> {
    let mut last = None;
    for _ in 0..64 {
        let rtp = bind(ip, 0, Some(UDP_RECV_BUFFER))?;
        let port = rtp.local_addr()?.port();
        if port % 2 != 0 || port == u16::MAX {
            continue;
        }
        match bind(ip, port + 1, None) {
            Ok(rtcp) => return Ok((rtp, rtcp)),
            Err(e) if e.kind() == io::ErrorKind::AddrInUse => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::AddrInUse, "no free even/odd UDP port pair")))
}

fn bind(ip: IpAddr, port: u16, recv_buffer: Option<usize>) -> io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let addr = SocketAddr::new(ip, port);
    let s = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(size) = recv_buffer {
        // Best effort: the kernel caps it at net.core.rmem_max.
        let _ = s.set_recv_buffer_size(size);
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    Ok(s.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_ssrc_as_cameras_write_it() {
        let ssrc = |h: &str| TransportReply::parse(h).ssrc;
        assert_eq!(ssrc("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=5D2A01C4;mode=\"play\""), Some(0x5D2A01C4));
        assert_eq!(ssrc("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc= d6d6627"), Some(0x0d6d6627));
        assert_eq!(ssrc("RTP/AVP/TCP;unicast;interleaved=0-1"), None);
        assert_eq!(ssrc("RTP/AVP/TCP;ssrc=3735928559"), Some(3735928559));
    }

    #[test]
    fn reply_parsing() {
        let r = TransportReply::parse(
            "RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;source=10.0.0.9;ssrc=0A0B0C0D;mode=\"PLAY\"",
        );
        assert!(!r.tcp);
        assert_eq!(r.server_port, Some((6970, Some(6971))));
        assert_eq!(r.source, Some("10.0.0.9".parse().unwrap()));
        assert_eq!(r.ssrc, Some(0x0a0b0c0d));
        let r = TransportReply::parse("RTP/AVP/TCP;unicast;interleaved=2-3");
        assert!(r.tcp);
        assert_eq!(r.channel, Some(2));
        assert_eq!(r.server_port, None);
        let r = TransportReply::parse("RTP/AVP/UDP;unicast;server_port=7000;source=cam.local");
        assert_eq!((r.tcp, r.server_port, r.source), (false, Some((7000, None)), None));
        let r = TransportReply::parse("RTP/AVP;server_port=x-1;ssrc=zz;interleaved=");
        assert_eq!(r, TransportReply::default());
        assert_eq!(TransportReply::parse(""), TransportReply::default());
    }

    #[test]
    fn filter_keeps_strays_out_and_learns_ports() {
        let cam: IpAddr = "10.0.0.9".parse().unwrap();
        let at = |ip: &str, port| SocketAddr::new(ip.parse().unwrap(), port);
        let known = TransportReply { server_port: Some((6970, Some(6971))), ..TransportReply::default() };
        let mut f = SourceFilter::new(cam, &known);
        assert!(f.accept_rtp(at("10.0.0.9", 6970)));
        assert!(!f.accept_rtp(at("10.0.0.9", 6972)), "another port of the camera");
        assert!(!f.accept_rtp(at("10.0.0.66", 6970)), "another host");
        assert!(f.accept_rtp(at("::ffff:10.0.0.9", 6970)), "mapped form of the camera's address");
        assert!(f.accept_rtcp(at("10.0.0.9", 6971)));
        assert_eq!(f.rtcp_destination(), Some(at("10.0.0.9", 6971)));

        // No server_port: the first datagram from the camera's address fixes the port.
        let mut f = SourceFilter::new(cam, &TransportReply::default());
        assert_eq!(f.rtcp_destination(), None);
        assert!(!f.accept_rtp(at("10.0.0.66", 5555)), "a stray never fixes the port");
        assert!(f.accept_rtp(at("10.0.0.9", 5000)));
        assert!(!f.accept_rtp(at("10.0.0.9", 5002)));
        assert_eq!(f.rtcp_destination(), Some(at("10.0.0.9", 5001)));

        // A `source` other than the RTSP peer is accepted as well.
        let other = TransportReply { source: Some("10.0.0.10".parse().unwrap()), ..TransportReply::default() };
        let mut f = SourceFilter::new(cam, &other);
        assert!(f.accept_rtcp(at("10.0.0.10", 7001)));
        assert_eq!(f.rtcp_destination(), Some(at("10.0.0.10", 7001)));
    }

    #[test]
    fn pair_is_even_then_odd() {
        let (rtp, rtcp) = bind_pair("127.0.0.1".parse().unwrap()).unwrap();
        let p = rtp.local_addr().unwrap().port();
        assert_eq!(p % 2, 0);
        assert_eq!(rtcp.local_addr().unwrap().port(), p + 1);
        assert_eq!(udp_request(p), format!("RTP/AVP;unicast;client_port={}-{}", p, p + 1));
    }
}
