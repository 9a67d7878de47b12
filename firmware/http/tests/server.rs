//! The hardened server against misbehaving clients, on loopback: slowloris
//! and idle connections are closed by the header-read timeout, connections
//! over the per-client and total caps are closed at once while other
//! clients are served, a client that never reads its response is dropped
//! (and the response body with it), and TLS works through an acceptor with
//! a bounded handshake.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::routing::get;
use axum::Router;
use hotspare_http::{serve, ServerLimits};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_rustls::rustls;

/// Sets its flag when dropped (the response body of `/endless`).
struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

fn app(dropped: Arc<AtomicBool>) -> Router {
    Router::new()
        .route("/ip", get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }))
        .route(
            "/endless",
            get(move || {
                let flag = DropFlag(dropped.clone());
                let chunk = Bytes::from(vec![b'x'; 64 << 10]);
                let stream = futures_stream(move || {
                    let _keep = &flag;
                    Ok::<_, std::io::Error>(chunk.clone())
                });
                async move { Body::from_stream(stream) }
            }),
        )
}

/// An endless stream of `f()`.
fn futures_stream<T, F: FnMut() -> T + Send + Unpin + 'static>(f: F) -> Endless<F> {
    Endless(f)
}
struct Endless<F>(F);
impl<T, F: FnMut() -> T + Unpin> futures_core::Stream for Endless<F> {
    type Item = T;
    fn poll_next(mut self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<Option<T>> {
        std::task::Poll::Ready(Some((self.0)()))
    }
}

async fn start(limits: ServerLimits, tls: Option<tokio_rustls::TlsAcceptor>) -> (SocketAddr, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let dropped = Arc::new(AtomicBool::new(false));
    tokio::spawn(serve(listener, app(dropped.clone()), limits, std::future::pending(), tls));
    (addr, dropped)
}

fn limits() -> ServerLimits {
    ServerLimits {
        header_read_timeout: Duration::from_secs(1),
        idle_timeout: Duration::from_secs(2),
        tls_handshake_timeout: Duration::from_secs(1),
        max_connections: 100,
        max_connections_per_ip: 100,
        drain_timeout: Duration::from_secs(1),
    }
}

async fn connect_from(ip: &str, to: SocketAddr) -> TcpStream {
    let s = TcpSocket::new_v4().unwrap();
    s.bind(SocketAddr::new(ip.parse::<IpAddr>().unwrap(), 0)).unwrap();
    s.connect(to).await.unwrap()
}

/// Reads until EOF or error; true when that happens within `limit`.
async fn closed_within<S: AsyncRead + Unpin>(s: &mut S, limit: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let end = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(end, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
        }
    }
}

async fn get_text<S: AsyncRead + AsyncWrite + Unpin>(s: &mut S, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_and_idle_connections_are_closed() {
    let (addr, _) = start(limits(), None).await;
    // Headers trickled one line every 200 ms: closed by the 1 s header timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /ip HTTP/1.1\r\n").await.unwrap();
    let t = Instant::now();
    let mut closed = false;
    for i in 0..50 {
        if slow.write_all(format!("X-Slow-{i}: a\r\n").as_bytes()).await.is_err() {
            closed = true;
            break;
        }
        if closed_within(&mut slow, Duration::from_millis(200)).await {
            closed = true;
            break;
        }
    }
    assert!(closed, "a slowloris connection was still open after {:?}", t.elapsed());
    assert!(t.elapsed() < Duration::from_secs(8), "closed only after {:?}", t.elapsed());
    // A connection that sends nothing at all.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut idle, Duration::from_secs(8)).await, "an idle connection stayed open");
    // Served clients are unaffected.
    let mut ok = TcpStream::connect(addr).await.unwrap();
    assert!(get_text(&mut ok, "/ip").await.ends_with("127.0.0.1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_caps_are_closed_at_once() {
    let (addr, _) = start(ServerLimits { max_connections_per_ip: 3, max_connections: 5, ..limits() }, None).await;
    let header_timeout = Duration::from_secs(1);
    // Three idle connections from 127.0.0.2 fill its share.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut c = connect_from("127.0.0.2", addr).await;
        c.write_all(b"GET /ip HTTP/1.1\r\n").await.unwrap();
        held.push(c);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut over = connect_from("127.0.0.2", addr).await;
    assert!(closed_within(&mut over, header_timeout / 2).await, "4th connection of one client not closed at once");
    // Another client is served, and its peer address reaches the handler.
    let mut other = connect_from("127.0.0.3", addr).await;
    assert!(get_text(&mut other, "/ip").await.ends_with("127.0.0.3"));
    // Total cap (5): two more idle connections from a third address, then a sixth is closed.
    let mut more = Vec::new();
    for _ in 0..2 {
        let mut c = connect_from("127.0.0.4", addr).await;
        c.write_all(b"GET /ip HTTP/1.1\r\n").await.unwrap();
        more.push(c);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut sixth = connect_from("127.0.0.5", addr).await;
    assert!(closed_within(&mut sixth, header_timeout / 2).await, "connection over the total cap not closed");
    // Slots come back when connections end.
    drop(held);
    drop(more);
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = connect_from("127.0.0.2", addr).await;
        if get_text(&mut c, "/ip").await.ends_with("127.0.0.2") {
            break;
        }
        assert!(Instant::now() < end, "slots never freed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_never_reads_is_dropped() {
    let (addr, dropped) = start(limits(), None).await;
    let mut c = TcpStream::connect(addr).await.unwrap();
    c.write_all(b"GET /endless HTTP/1.1\r\nHost: t\r\n\r\n").await.unwrap();
    // Never read: socket buffers fill, nothing moves for idle_timeout (2 s), the server drops the
    // connection and the response body.
    let end = Instant::now() + Duration::from_secs(20);
    while !dropped.load(Ordering::SeqCst) {
        assert!(Instant::now() < end, "the response body of a client that never reads was never dropped");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_through_the_acceptor_with_a_bounded_handshake() {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let rcgen::CertifiedKey { cert, key_pair } = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    let server = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    let (addr, _) = start(limits(), Some(acceptor)).await;

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client));
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = connector.connect(name, TcpStream::connect(addr).await.unwrap()).await.unwrap();
    let reply = get_text(&mut tls, "/ip").await;
    assert!(reply.starts_with("HTTP/1.1 200") && reply.ends_with("127.0.0.1"), "{reply}");

    // Plain HTTP on the TLS port: no handshake, closed.
    let mut plain = TcpStream::connect(addr).await.unwrap();
    let reply = get_text(&mut plain, "/ip").await;
    assert!(!reply.contains("200 OK"), "{reply}");
    // A client that never starts the handshake is closed after the handshake timeout.
    let mut silent = TcpStream::connect(addr).await.unwrap();
    assert!(closed_within(&mut silent, Duration::from_secs(8)).await, "a silent TLS client stayed connected");
}
