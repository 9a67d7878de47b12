//! SSDP on real sockets: a unicast M-SEARCH on loopback gets the 200 OK;
//! with multicast, NOTIFY alive/byebye reach a group member (skipped with a
//! note when the sandbox cannot route multicast).

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use hotspare_failover::ssdp::{device_uuid, AnnounceConfig, Announcer, Device, DEVICE_TYPE, SSDP_GROUP};
use tokio::net::UdpSocket;
use tokio::time::timeout;

fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn headers(msg: &str) -> (String, HashMap<String, String>) {
    let mut lines = msg.split("\r\n");
    let first = lines.next().unwrap_or_default().to_owned();
    let h = lines
        .take_while(|l| !l.is_empty())
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_uppercase(), v.trim().to_owned()))
        .collect();
    (first, h)
}

async fn search(client: &UdpSocket, to: SocketAddr, st: &str, mx: Option<u32>) {
    let mut m = format!("M-SEARCH * HTTP/1.1\r\nHOST: {to}\r\nMAN: \"ssdp:discover\"\r\nST: {st}\r\n");
    if let Some(mx) = mx {
        m.push_str(&format!("MX: {mx}\r\n"));
    }
    m.push_str("\r\n");
    client.send_to(m.as_bytes(), to).await.unwrap();
}

/// Everything arriving within `wait`.
async fn collect(sock: &UdpSocket, wait: Duration) -> Vec<String> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(Ok((n, _))) = timeout(wait, sock.recv_from(&mut buf)).await {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    out
}

#[tokio::test]
async fn unicast_search_on_loopback() {
    let port = free_udp_port();
    let bind: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let a = Announcer::start(AnnounceConfig {
        name: "NVR Hall 2".into(),
        serial: "HS-0001".into(),
        location: "http://127.0.0.1:8090/api/v1/upnp/description.xml".into(),
        bind,
        multicast: false,
    })
    .await
    .expect("start");
    assert_eq!(a.local_addr(), bind);
    let uuid = device_uuid("HS-0001", "NVR Hall 2");

    let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // Garbage first: ignored, and the responder keeps working.
    client.send_to(b"\x00\xffgarbage", bind).await.unwrap();
    client.send_to(b"M-SEARCH * HTTP/1.1\r\nST: x\r\n\r\n", bind).await.unwrap();

    search(&client, bind, DEVICE_TYPE, None).await;
    let got = collect(&client, Duration::from_secs(2)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let (status, h) = headers(&got[0]);
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert_eq!(h["ST"], DEVICE_TYPE);
    assert_eq!(h["USN"], format!("uuid:{uuid}::{DEVICE_TYPE}"));
    assert_eq!(h["LOCATION"], "http://127.0.0.1:8090/api/v1/upnp/description.xml");
    assert_eq!(h["X-HOTSPARE-NAME"], "NVR Hall 2");
    assert!(h["SERVER"].contains("UPnP/1.0") && h["SERVER"].contains("Hotspare/"), "{:?}", h["SERVER"]);
    assert!(h["CACHE-CONTROL"].starts_with("max-age="));
    assert!(h.contains_key("EXT") && h["DATE"].ends_with("GMT"));

    // A second announced NVR; ssdp:all answers 3 types for each, after at most MX.
    a.add(Device { name: "NVR Hall 3".into(), serial: "HS-0001".into(), location: "http://127.0.0.1:8090/x".into() })
        .unwrap();
    search(&client, bind, "ssdp:all", Some(1)).await;
    let got = collect(&client, Duration::from_millis(2500)).await;
    assert_eq!(got.len(), 6, "{got:?}");
    let names: std::collections::BTreeSet<_> = got.iter().map(|m| headers(m).1["X-HOTSPARE-NAME"].clone()).collect();
    assert_eq!(names.into_iter().collect::<Vec<_>>(), ["NVR Hall 2", "NVR Hall 3"]);

    search(&client, bind, "upnp:rootdevice", None).await;
    assert_eq!(collect(&client, Duration::from_secs(1)).await.len(), 2);
    search(&client, bind, &format!("uuid:{uuid}"), None).await;
    let got = collect(&client, Duration::from_secs(1)).await;
    assert_eq!(got.len(), 1);
    assert_eq!(headers(&got[0]).1["USN"], format!("uuid:{uuid}"));
    search(&client, bind, "urn:schemas-upnp-org:device:MediaServer:1", None).await;
    assert!(collect(&client, Duration::from_millis(500)).await.is_empty());

    assert!(a.remove("NVR Hall 3"));
    assert!(!a.remove("NVR Hall 3"));
    assert_eq!(a.names(), ["NVR Hall 2"]);
    search(&client, bind, "ssdp:all", None).await;
    assert_eq!(collect(&client, Duration::from_secs(1)).await.len(), 3);

    a.stop().await;
    search(&client, bind, "ssdp:all", None).await;
    assert!(collect(&client, Duration::from_millis(500)).await.is_empty(), "stopped");
}

#[tokio::test]
async fn invalid_device_is_refused() {
    let e = Announcer::start(AnnounceConfig {
        name: "x".into(),
        serial: "S".into(),
        location: "ftp://nope".into(),
        bind: "127.0.0.1:0".parse().unwrap(),
        multicast: false,
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(e.contains("location"), "{e}");
}

/// Multicast: NOTIFY alive on start, a group M-SEARCH answered, byebye on
/// drop. Needs a multicast route (the default route works); skipped with a
/// note otherwise.
#[tokio::test]
async fn multicast_notify_and_search() {
    let port = free_udp_port();
    let bind: SocketAddr = format!("0.0.0.0:{port}").parse().unwrap();
    // A listener in the group on the same port (SO_REUSEADDR) before the announcer starts.
    let listener = {
        let s =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, Some(socket2::Protocol::UDP)).unwrap();
        s.set_reuse_address(true).unwrap();
        s.set_nonblocking(true).unwrap();
        s.bind(&bind.into()).unwrap();
        if let Err(e) = s.join_multicast_v4(&SSDP_GROUP, &Ipv4Addr::UNSPECIFIED) {
            eprintln!("SKIP multicast test: cannot join {SSDP_GROUP}: {e}");
            return;
        }
        UdpSocket::from_std(s.into()).unwrap()
    };
    let a = match Announcer::start(AnnounceConfig {
        name: "NVR Hall 2".into(),
        serial: "HS-0001".into(),
        location: "http://192.0.2.2:8090/".into(),
        bind,
        multicast: true,
    })
    .await
    {
        Ok(a) => a,
        Err(e) => {
            eprintln!("SKIP multicast test: {e}");
            return;
        }
    };
    let got = collect(&listener, Duration::from_secs(1)).await;
    let notifies: Vec<_> = got.iter().filter(|m| m.starts_with("NOTIFY * HTTP/1.1")).collect();
    if notifies.is_empty() {
        eprintln!("SKIP multicast test: no multicast loopback in this network namespace");
        return;
    }
    assert_eq!(notifies.len(), 3, "{notifies:?}");
    let nts: Vec<_> = notifies.iter().map(|m| headers(m).1["NT"].clone()).collect();
    assert!(nts.contains(&DEVICE_TYPE.to_owned()) && nts.contains(&"upnp:rootdevice".to_owned()), "{nts:?}");
    assert!(notifies.iter().all(|m| headers(m).1["NTS"] == "ssdp:alive"));

    let client = UdpSocket::bind("0.0.0.0:0").await.unwrap();
    search(&client, SocketAddr::from((SSDP_GROUP, port)), "upnp:rootdevice", Some(1)).await;
    let answers = collect(&client, Duration::from_millis(2500)).await;
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert_eq!(headers(&answers[0]).1["X-HOTSPARE-NAME"], "NVR Hall 2");
    let _ = collect(&listener, Duration::from_millis(100)).await; // the search itself

    drop(a);
    let got = collect(&listener, Duration::from_secs(1)).await;
    let byes = got.iter().filter(|m| headers(m).1.get("NTS").map(String::as_str) == Some("ssdp:byebye")).count();
    assert_eq!(byes, 3, "{got:?}");
}
