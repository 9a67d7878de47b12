//! RTP over UDP unicast for the simulator: the transport a SETUP offers,
//! the server port pair of a track, the sending of a session's packets to
//! the client's ports, and the counting of the RTCP receiver reports the
//! client sends back. [`UdpMode`] makes the simulator refuse UDP or accept
//! it and send nothing, as cameras behind firewalls do.

use std::io;
use std::net::{IpAddr, SocketAddr};

use tokio::net::UdpSocket;

/// How the simulator answers a client asking for RTP over UDP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UdpMode {
    /// Send RTP and RTCP to the client's ports.
    #[default]
    Serve,
    /// Answer SETUP with 461 Unsupported Transport.
    Refuse,
    /// Accept SETUP, then send nothing over UDP (a firewall drops it).
    Silent,
}

impl std::str::FromStr for UdpMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "serve" => Ok(UdpMode::Serve),
            "refuse" => Ok(UdpMode::Refuse),
            "silent" => Ok(UdpMode::Silent),
            _ => Err(format!("{s:?}: expected serve, refuse or silent")),
        }
    }
}

/// A transport a client's SETUP offers that the simulator can serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Offer {
    /// Interleaved, from this channel.
    Tcp(u8),
    /// UDP to the client's RTP port and RTCP port.
    Udp(u16, u16),
}

/// The first transport of a `Transport` header we serve: `RTP/AVP/TCP`
/// (channel `default` when no `interleaved=`), or `RTP/AVP[/UDP]` with a
/// `client_port`. `None` when nothing offered is usable.
pub fn parse_offer(header: &str, default: u8) -> Option<Offer> {
    for spec in header.split(',') {
        let mut parts = spec.split(';').map(str::trim);
        let proto = parts.next().unwrap_or("").to_ascii_uppercase();
        let params: Vec<(&str, &str)> = parts.map(|p| p.split_once('=').unwrap_or((p, ""))).collect();
        let param = |k: &str| params.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| *v);
        match proto.as_str() {
            "RTP/AVP/TCP" => match param("interleaved") {
                None => return Some(Offer::Tcp(default)),
                Some(range) => return range.split('-').next().and_then(|c| c.trim().parse().ok()).map(Offer::Tcp),
            },
            "RTP/AVP" | "RTP/AVP/UDP" => {
                let Some(range) = param("client_port") else { continue };
                let mut it = range.split('-');
                let Some(rtp) = it.next().and_then(|p| p.trim().parse::<u16>().ok()).filter(|p| *p != 0) else {
                    continue;
                };
                let rtcp = it.next().and_then(|p| p.trim().parse().ok()).unwrap_or(rtp.wrapping_add(1));
                return Some(Offer::Udp(rtp, rtcp));
            }
            _ => {}
        }
    }
    None
}

/// One track sent over UDP: our port pair and the client's.
#[derive(Debug)]
pub struct UdpTrack {
    /// Interleaved channel of the track's RTP in the packets the playout writes.
    pub channel: u8,
    pub rtp: UdpSocket,
    pub rtcp: UdpSocket,
    pub to_rtp: SocketAddr,
    pub to_rtcp: SocketAddr,
}

impl UdpTrack {
    /// Binds a port pair on `ip` for a client at `client` ports `(rtp, rtcp)`.
    pub fn bind(ip: IpAddr, channel: u8, client: IpAddr, ports: (u16, u16)) -> io::Result<UdpTrack> {
        let (rtp, rtcp) = hotspare_rtsp::transport::bind_pair(ip)?;
        Ok(UdpTrack {
            channel,
            rtp: UdpSocket::from_std(rtp)?,
            rtcp: UdpSocket::from_std(rtcp)?,
            to_rtp: SocketAddr::new(client, ports.0),
            to_rtcp: SocketAddr::new(client, ports.1),
        })
    }

    /// Our RTP and RTCP ports.
    pub fn server_ports(&self) -> (u16, u16) {
        let port = |s: &UdpSocket| s.local_addr().map(|a| a.port()).unwrap_or(0);
        (port(&self.rtp), port(&self.rtcp))
    }
}

/// Sends each interleaved packet of `media` (as the playout writes them) to
/// its track's client port, RTP from our RTP port and RTCP from our RTCP port;
/// packets of channels without a UDP track are dropped.
pub async fn send(tracks: &[UdpTrack], media: &[u8]) -> io::Result<()> {
    let mut rest = media;
    while let Some(f) = hotspare_media::interleaved::parse(rest) {
        let packet = &rest[f.packet.clone()];
        if let Some(t) = tracks.iter().find(|t| t.channel == f.channel) {
            t.rtp.send_to(packet, t.to_rtp).await?;
        } else if let Some(t) = tracks.iter().find(|t| t.channel.wrapping_add(1) == f.channel) {
            t.rtcp.send_to(packet, t.to_rtcp).await?;
        }
        rest = &rest[f.total..];
    }
    Ok(())
}

/// Receiver reports (RTCP PT 201) in a compound RTCP packet.
pub fn count_receiver_reports(mut buf: &[u8]) -> u64 {
    let mut n = 0;
    while buf.len() >= 4 && buf[0] >> 6 == 2 {
        let len = (u16::from_be_bytes([buf[2], buf[3]]) as usize + 1) * 4;
        if len > buf.len() {
            break;
        }
        n += u64::from(buf[1] == 201);
        buf = &buf[len..];
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offers() {
        assert_eq!(parse_offer("RTP/AVP/TCP;unicast;interleaved=4-5", 0), Some(Offer::Tcp(4)));
        assert_eq!(parse_offer("RTP/AVP/TCP;unicast", 2), Some(Offer::Tcp(2)));
        assert_eq!(parse_offer("RTP/AVP;unicast;client_port=5000-5001", 0), Some(Offer::Udp(5000, 5001)));
        assert_eq!(parse_offer("RTP/AVP/UDP;unicast;client_port=5000", 0), Some(Offer::Udp(5000, 5001)));
        assert_eq!(parse_offer("RTP/AVP;multicast", 0), None);
        assert_eq!(parse_offer("RTP/AVP;unicast;client_port=x,RTP/AVP/TCP;interleaved=0-1", 0), Some(Offer::Tcp(0)));
        assert_eq!(parse_offer("RTP/AVP/TCP;interleaved=x", 0), None);
        assert_eq!(parse_offer("", 0), None);
    }

    #[test]
    fn receiver_reports_are_counted() {
        let rr = [0x81, 201, 0, 1, 0, 0, 0, 1];
        let sdes = [0x81, 202, 0, 0];
        assert_eq!(count_receiver_reports(&[&rr[..], &sdes[..]].concat()), 1);
        assert_eq!(count_receiver_reports(&[0x80, 200, 0, 60]), 0);
        assert_eq!(count_receiver_reports(b"GET"), 0);
    }
}
