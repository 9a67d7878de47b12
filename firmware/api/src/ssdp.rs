//! SSDP (UPnP discovery) messages, as the spare sends and reads them: the
//! pure wire part, with no sockets. `M-SEARCH` parsing ([`parse_msearch`],
//! network input: never panics, fuzzed), `NOTIFY` and search responses, the
//! stable device uuid. The announcer that owns the UDP socket is
//! `hotspare_failover::ssdp`.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha2::{Digest as _, Sha256};

/// The SSDP multicast group.
pub const SSDP_GROUP: Ipv4Addr = Ipv4Addr::new(239, 255, 255, 250);
/// The SSDP port.
pub const SSDP_PORT: u16 = 1900;
/// The device type announced for a taken-over NVR.
pub const DEVICE_TYPE: &str = "urn:hotspare:device:nvr:1";
/// `CACHE-CONTROL: max-age` of announcements, seconds.
pub const MAX_AGE_S: u32 = 1800;
/// How often `ssdp:alive` is repeated.
pub const NOTIFY_INTERVAL: Duration = Duration::from_secs(300);
/// Largest datagram parsed; bigger ones are rejected.
pub const MAX_DATAGRAM: usize = 8192;

/// What to announce and where to listen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnnounceConfig {
    /// Server name of the taken-over NVR.
    pub name: String,
    /// The spare's serial (the uuid is derived from serial + name).
    pub serial: String,
    /// `http://<addr>/...`: where the device description is (the spare's API).
    pub location: String,
    /// `0.0.0.0:1900` on the appliance; a loopback port in tests.
    pub bind: SocketAddr,
    /// Join the SSDP group and send NOTIFYs (off: answer unicast M-SEARCH only).
    pub multicast: bool,
}

/// One announced device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    pub name: String,
    pub serial: String,
    pub location: String,
}

impl Device {
    /// `uuid` without the `uuid:` prefix.
    pub fn uuid(&self) -> String {
        device_uuid(&self.serial, &self.name)
    }
}

/// Why a datagram is not an M-SEARCH we answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("datagram of {0} bytes is too large")]
    TooLarge(usize),
    #[error("not UTF-8")]
    NotUtf8,
    #[error("not an M-SEARCH request: {0:?}")]
    NotMSearch(String),
    #[error("bad request line {0:?}")]
    BadRequestLine(String),
    #[error("bad header line {0:?}")]
    BadHeader(String),
    #[error("too many header lines")]
    TooManyHeaders,
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("duplicate {0} header")]
    Duplicate(&'static str),
    #[error("MAN is {0:?}, not \"ssdp:discover\"")]
    BadMan(String),
    #[error("MX {0:?} is not a number of seconds")]
    BadMx(String),
    #[error("bad ST {0:?}")]
    BadSt(String),
}

/// A parsed M-SEARCH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MSearch {
    /// Search target.
    pub st: String,
    /// Maximum wait in seconds (absent in unicast searches).
    pub mx: Option<u32>,
    pub host: Option<String>,
}

fn clip(s: &str) -> String {
    s.chars().take(64).collect()
}

/// Parses an SSDP M-SEARCH datagram. Pure; never panics.
pub fn parse_msearch(data: &[u8]) -> Result<MSearch, ParseError> {
    if data.len() > MAX_DATAGRAM {
        return Err(ParseError::TooLarge(data.len()));
    }
    let text = std::str::from_utf8(data).map_err(|_| ParseError::NotUtf8)?;
    let mut lines = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
    let request = lines.next().unwrap_or_default();
    let mut parts = request.split(' ').filter(|p| !p.is_empty());
    if parts.next() != Some("M-SEARCH") {
        return Err(ParseError::NotMSearch(clip(request)));
    }
    let target = parts.next();
    let version = parts.next();
    if target != Some("*") || !matches!(version, Some("HTTP/1.1" | "HTTP/1.0")) || parts.next().is_some() {
        return Err(ParseError::BadRequestLine(clip(request)));
    }
    let (mut st, mut mx, mut man, mut host) = (None, None, None, None);
    let mut count = 0;
    for line in lines {
        if line.is_empty() {
            break;
        }
        count += 1;
        if count > 64 {
            return Err(ParseError::TooManyHeaders);
        }
        let (name, value) = line.split_once(':').ok_or_else(|| ParseError::BadHeader(clip(line)))?;
        let name = name.trim();
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(ParseError::BadHeader(clip(line)));
        }
        let value = value.trim();
        let slot = match name.to_ascii_uppercase().as_str() {
            "ST" => (&mut st, "ST"),
            "MX" => (&mut mx, "MX"),
            "MAN" => (&mut man, "MAN"),
            "HOST" => (&mut host, "HOST"),
            _ => continue,
        };
        if slot.0.is_some() {
            return Err(ParseError::Duplicate(slot.1));
        }
        *slot.0 = Some(value);
    }
    let man = man.ok_or(ParseError::Missing("MAN"))?;
    if man != "\"ssdp:discover\"" && man != "ssdp:discover" {
        return Err(ParseError::BadMan(clip(man)));
    }
    let st = st.ok_or(ParseError::Missing("ST"))?;
    if st.is_empty() || st.len() > 256 || st.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(ParseError::BadSt(clip(st)));
    }
    let mx = match mx {
        None => None,
        Some(v) => Some(
            (!v.is_empty() && v.len() <= 9 && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse::<u32>().ok())
                .flatten()
                .ok_or_else(|| ParseError::BadMx(clip(v)))?,
        ),
    };
    Ok(MSearch { st: st.to_owned(), mx, host: host.map(str::to_owned) })
}

/// The uuid (8-4-4-4-12 hex, RFC 9562 version 8) of a device announced by
/// spare `serial` under `name`: SHA-256 of both, so stable and distinct.
pub fn device_uuid(serial: &str, name: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"hotspare-ssdp\0");
    h.update(serial.as_bytes());
    h.update(b"\0");
    h.update(name.as_bytes());
    let mut b: [u8; 16] = h.finalize()[..16].try_into().unwrap_or_default();
    b[6] = (b[6] & 0x0f) | 0x80;
    b[8] = (b[8] & 0x3f) | 0x80;
    let x = hex::encode(b);
    format!("{}-{}-{}-{}-{}", &x[0..8], &x[8..12], &x[12..16], &x[16..20], &x[20..32])
}

/// `SERVER` header value.
pub fn server_header() -> String {
    format!("Linux UPnP/1.0 Hotspare/{}", env!("CARGO_PKG_VERSION"))
}

/// `(NT or ST, USN)` of the three notification types of a device.
pub fn notification_types(device: &Device) -> [(String, String); 3] {
    let uuid = device.uuid();
    [
        ("upnp:rootdevice".to_owned(), format!("uuid:{uuid}::upnp:rootdevice")),
        (format!("uuid:{uuid}"), format!("uuid:{uuid}")),
        (DEVICE_TYPE.to_owned(), format!("uuid:{uuid}::{DEVICE_TYPE}")),
    ]
}

/// The `(ST, USN)` pairs a device answers a search for `st` with.
pub fn matches(device: &Device, st: &str) -> Vec<(String, String)> {
    notification_types(device).into_iter().filter(|(nt, _)| st == "ssdp:all" || st == nt).collect()
}

fn header_value(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// A NOTIFY datagram; `nts` is `ssdp:alive` or `ssdp:byebye`.
pub fn notify_message(device: &Device, nt: &str, usn: &str, nts: &str, host: SocketAddr) -> String {
    let mut m = format!("NOTIFY * HTTP/1.1\r\nHOST: {host}\r\nNT: {nt}\r\nNTS: {nts}\r\nUSN: {usn}\r\n");
    if nts == "ssdp:alive" {
        m.push_str(&format!(
            "CACHE-CONTROL: max-age={MAX_AGE_S}\r\nLOCATION: {}\r\nSERVER: {}\r\nX-HOTSPARE-NAME: {}\r\n",
            header_value(&device.location),
            server_header(),
            header_value(&device.name)
        ));
    }
    m.push_str("\r\n");
    m
}

/// The unicast `200 OK` answer to an M-SEARCH.
pub fn search_response(device: &Device, st: &str, usn: &str, now: SystemTime) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age={MAX_AGE_S}\r\nDATE: {}\r\nEXT:\r\nLOCATION: {}\r\n\
         SERVER: {}\r\nST: {st}\r\nUSN: {usn}\r\nX-HOTSPARE-NAME: {}\r\nCONTENT-LENGTH: 0\r\n\r\n",
        http_date(now),
        header_value(&device.location),
        server_header(),
        header_value(&device.name)
    )
}

/// RFC 1123 date (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil from days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] =
        b"M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nMX: 2\r\nST: ssdp:all\r\n\r\n";

    #[test]
    fn parses_a_search() {
        let s = parse_msearch(GOOD).expect("parses");
        assert_eq!(s, MSearch { st: "ssdp:all".into(), mx: Some(2), host: Some("239.255.255.250:1900".into()) });
    }

    #[test]
    fn header_names_are_case_insensitive_and_lf_is_accepted() {
        let s = parse_msearch(b"M-SEARCH * HTTP/1.1\nst: upnp:rootdevice\nMan: \"ssdp:discover\"\n\n").expect("parses");
        assert_eq!(s.st, "upnp:rootdevice");
        assert_eq!(s.mx, None);
    }

    #[test]
    fn rejects_bad_input() {
        let cases: &[(&[u8], &str)] = &[
            (b"", "not an M-SEARCH"),
            (b"NOTIFY * HTTP/1.1\r\nNT: x\r\n\r\n", "not an M-SEARCH"),
            (b"M-SEARCH / HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nST: a\r\n\r\n", "bad request line"),
            (b"M-SEARCH * HTTP/1.1\r\nST: a\r\n\r\n", "missing MAN"),
            (b"M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\n\r\n", "missing ST"),
            (b"M-SEARCH * HTTP/1.1\r\nMAN: \"x\"\r\nST: a\r\n\r\n", "MAN is"),
            (b"M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nST: a\r\nMX: -1\r\n\r\n", "MX"),
            (b"M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nST: a\r\nMX: 99999999999\r\n\r\n", "MX"),
            (b"M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nST: a\r\nST: b\r\n\r\n", "duplicate ST"),
            (b"M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nno colon\r\n\r\n", "bad header"),
            (b"M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nST: \r\n\r\n", "bad ST"),
            (b"M-SEARCH * HTTP/1.1\r\nMAN: \"ssdp:discover\"\r\nST: a\xff\r\n\r\n", "not UTF-8"),
        ];
        for (input, want) in cases {
            let e = parse_msearch(input).expect_err("rejected").to_string();
            assert!(e.contains(want), "{:?}: {e} does not contain {want}", String::from_utf8_lossy(input));
        }
        assert!(matches!(parse_msearch(&vec![b'a'; MAX_DATAGRAM + 1]), Err(ParseError::TooLarge(_))));
        let many = format!("M-SEARCH * HTTP/1.1\r\n{}\r\n", "X: y\r\n".repeat(100));
        assert_eq!(parse_msearch(many.as_bytes()), Err(ParseError::TooManyHeaders));
    }

    #[test]
    fn never_panics_on_prefixes_and_garbage() {
        for n in 0..GOOD.len() {
            let _ = parse_msearch(&GOOD[..n]);
        }
        let mut x: u32 = 1;
        for _ in 0..2000 {
            let mut d = GOOD.to_vec();
            for _ in 0..4 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                let i = (x as usize >> 8) % d.len();
                d[i] = (x >> 16) as u8;
            }
            let _ = parse_msearch(&d);
        }
    }

    #[test]
    fn uuid_is_stable_and_distinct() {
        let a = device_uuid("HS-0001", "nvr-1");
        assert_eq!(a, device_uuid("HS-0001", "nvr-1"));
        assert_ne!(a, device_uuid("HS-0001", "nvr-2"));
        assert_ne!(a, device_uuid("HS-0002", "nvr-1"));
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "8");
    }

    #[test]
    fn search_matching() {
        let d = Device { name: "NVR 1".into(), serial: "S".into(), location: "http://10.0.0.1:8090/".into() };
        assert_eq!(matches(&d, "ssdp:all").len(), 3);
        assert_eq!(matches(&d, "upnp:rootdevice").len(), 1);
        assert_eq!(matches(&d, DEVICE_TYPE).len(), 1);
        assert_eq!(matches(&d, &format!("uuid:{}", d.uuid())).len(), 1);
        assert!(matches(&d, "urn:schemas-upnp-org:device:MediaServer:1").is_empty());
        let r = search_response(&d, DEVICE_TYPE, "uuid:x::y", UNIX_EPOCH);
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n"));
        assert!(r.contains("DATE: Thu, 01 Jan 1970 00:00:00 GMT\r\n"));
        assert!(r.contains("X-HOTSPARE-NAME: NVR 1\r\n"));
        assert!(r.ends_with("\r\n\r\n"));
    }

    #[test]
    fn http_dates() {
        assert_eq!(http_date(UNIX_EPOCH + Duration::from_secs(784_111_777)), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(http_date(UNIX_EPOCH + Duration::from_secs(951_782_400)), "Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn notify_carries_alive_headers_only_when_alive() {
        let d = Device { name: "n".into(), serial: "S".into(), location: "http://h/".into() };
        let group = SocketAddr::from((SSDP_GROUP, SSDP_PORT));
        let alive = notify_message(&d, "upnp:rootdevice", "uuid:u::upnp:rootdevice", "ssdp:alive", group);
        assert!(alive.contains("LOCATION: http://h/\r\n") && alive.contains("NTS: ssdp:alive\r\n"));
        let bye = notify_message(&d, "upnp:rootdevice", "uuid:u::upnp:rootdevice", "ssdp:byebye", group);
        assert!(!bye.contains("LOCATION") && bye.contains("NTS: ssdp:byebye\r\n"));
    }
}
