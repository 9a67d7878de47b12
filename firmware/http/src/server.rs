//! The hardened HTTP/1.1 server: an accept loop of its own over hyper, so
//! that no client can hold what others need.
//! - Connection caps: at most [`ServerLimits::max_connections`] in all and
//!   [`ServerLimits::max_connections_per_ip`] per client address; a
//!   connection over either cap is closed at once (never queued).
//! - Timeouts: request headers must arrive within
//!   [`ServerLimits::header_read_timeout`] (slowloris), which hyper also
//!   applies while a keep-alive connection waits for its next request; and a
//!   connection on which no byte moves either way for
//!   [`ServerLimits::idle_timeout`] is dropped, so a client that stops
//!   reading a response frees its connection (write timeout).
//! - TLS: with an acceptor, each connection is accepted through it, the
//!   handshake bounded by [`ServerLimits::tls_handshake_timeout`] (and
//!   counted against the caps while it runs).
//! - Lingering close: when a connection ends, the socket is half-closed and
//!   what the client still sends is read and discarded for at most
//!   [`LINGER`], so a reply sent before the request body was read (a 401,
//!   413 or 422 to an upload) reaches the client instead of being destroyed
//!   by the TCP reset that closing with unread data causes.
//! - The peer address is given to handlers as
//!   [`axum::extract::ConnectInfo<SocketAddr>`].

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// How long, and how many bytes, the lingering close discards at most.
pub const LINGER: (Duration, u64) = (Duration::from_secs(2), 64 << 20);

/// Limits of a [`serve`]d listener.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub tls_handshake_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// How long a graceful shutdown waits for open connections to finish.
    pub drain_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            max_connections: 1024,
            max_connections_per_ip: 64,
            drain_timeout: Duration::from_secs(5),
        }
    }
}

impl ServerLimits {
    /// The limits of a role process (NVR or spare): the defaults, after raising the soft
    /// open-files limit toward the hard one, with the total connection cap kept 128 below the
    /// descriptors available, so the caps bind before file descriptors run out (the store,
    /// sockets to peers and cameras need some too).
    pub fn for_this_process() -> ServerLimits {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        const WANTED: u64 = 65_536;
        let l = getrlimit(Resource::Nofile);
        let mut files = l.current.unwrap_or(WANTED);
        let target = l.maximum.map_or(WANTED, |m| m.min(WANTED));
        if target > files {
            match setrlimit(Resource::Nofile, Rlimit { current: Some(target), maximum: l.maximum }) {
                Ok(()) => files = target,
                Err(e) => log::warn!("cannot raise the open-files limit to {target}: {e}"),
            }
        }
        let mut limits = ServerLimits::default();
        let room = usize::try_from(files.saturating_sub(128)).unwrap_or(usize::MAX).max(16);
        limits.max_connections = limits.max_connections.min(room);
        limits
    }
}

/// Open connections, in all and per client address.
#[derive(Default)]
struct Connections {
    total: usize,
    per_ip: HashMap<IpAddr, usize>,
}

/// A claimed connection slot, given back on drop.
struct Slot {
    table: Arc<Mutex<Connections>>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.total = t.total.saturating_sub(1);
        if let Some(n) = t.per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                t.per_ip.remove(&self.ip);
            }
        }
    }
}

fn claim(table: &Arc<Mutex<Connections>>, ip: IpAddr, limits: &ServerLimits) -> Result<Slot, &'static str> {
    let mut t = table.lock().unwrap_or_else(|p| p.into_inner());
    if t.total >= limits.max_connections {
        return Err("total connection cap");
    }
    let n = t.per_ip.entry(ip).or_insert(0);
    if *n >= limits.max_connections_per_ip {
        return Err("per-client connection cap");
    }
    *n += 1;
    t.total += 1;
    Ok(Slot { table: table.clone(), ip })
}

/// Logs refused connections at most once a second (a flood must not flood the log).
struct RefusalLog {
    last: Option<Instant>,
    count: u64,
}

impl RefusalLog {
    fn refused(&mut self, peer: SocketAddr, why: &str) {
        self.count += 1;
        if self.last.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            log::warn!("http: closed a connection from {peer} ({why}); {} refused since the last report", self.count);
            self.last = Some(Instant::now());
            self.count = 0;
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets open connections finish
/// their requests for up to [`ServerLimits::drain_timeout`].
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
    tls: Option<TlsAcceptor>,
) -> io::Result<()> {
    let table = Arc::new(Mutex::new(Connections::default()));
    let (drain_tx, drain_rx) = watch::channel(false);
    let mut refusals = RefusalLog { last: None, count: 0 };
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        let (tcp, peer) = match accepted {
            Ok(c) => c,
            Err(e) => {
                // Out of file descriptors or a transient error: wait a moment instead of spinning.
                log::warn!("http: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let slot = match claim(&table, peer.ip(), &limits) {
            Ok(s) => s,
            Err(why) => {
                refusals.refused(peer, why);
                drop(tcp);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        // A second handle on the socket, for the lingering close after hyper dropped its own.
        let linger_handle = std::os::fd::AsFd::as_fd(&tcp).try_clone_to_owned();
        let (router, limits, tls, drain) = (router.clone(), limits.clone(), tls.clone(), drain_rx.clone());
        tokio::spawn(async move {
            let activity = Activity::new();
            match tls {
                None => connection(Watched::new(tcp, activity.clone()), peer, router, &limits, activity, drain).await,
                Some(acceptor) => {
                    let hs = tokio::time::timeout(limits.tls_handshake_timeout, acceptor.accept(tcp)).await;
                    match hs {
                        Ok(Ok(stream)) => {
                            let io = Watched::new(stream, activity.clone());
                            connection(io, peer, router, &limits, activity, drain).await
                        }
                        Ok(Err(e)) => log::debug!("http: TLS handshake with {peer}: {e}"),
                        Err(_) => log::debug!("http: TLS handshake with {peer}: timeout"),
                    }
                }
            }
            match linger_handle {
                Ok(fd) => linger(fd).await,
                Err(e) => log::debug!("http: connection from {peer}: no handle for a lingering close: {e}"),
            }
            drop(slot);
        });
    }
    drop(listener);
    let _ = drain_tx.send(true);
    let end = Instant::now() + limits.drain_timeout;
    while table.lock().unwrap_or_else(|p| p.into_inner()).total > 0 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// One connection: hyper HTTP/1.1 with the header-read timeout, dropped when idle for
/// `idle_timeout`, shut down gracefully when `drain` turns true.
async fn connection<I>(
    io: I,
    peer: SocketAddr,
    router: Router,
    limits: &ServerLimits,
    activity: Arc<Activity>,
    mut drain: watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
        req.extensions_mut().insert(ConnectInfo(peer));
        let mut router = router.clone();
        tower_service::Service::call(&mut router, req)
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let mut draining = *drain.borrow();
    if draining {
        conn.as_mut().graceful_shutdown();
    }
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    log::debug!("http: connection from {peer}: {e}");
                }
                return;
            }
            () = activity.stalled(limits.idle_timeout) => {
                log::debug!("http: connection from {peer}: nothing moved for {:?}, closed", limits.idle_timeout);
                return;
            }
            changed = drain.changed(), if !draining => {
                if changed.is_err() || *drain.borrow() {
                    draining = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// Half-closes the socket, then reads and discards until the client closes or [`LINGER`] is
/// spent; the socket closes when `fd` drops.
async fn linger(fd: std::os::fd::OwnedFd) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let std_stream = std::net::TcpStream::from(fd);
    if std_stream.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(mut stream) = tokio::net::TcpStream::from_std(std_stream) else { return };
    if stream.shutdown().await.is_err() {
        return;
    }
    let (limit, max_bytes) = LINGER;
    let _ = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 16 * 1024];
        let mut total = 0u64;
        while total < max_bytes {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => total += n as u64,
            }
        }
    })
    .await;
}

/// When a byte last moved on a connection.
struct Activity {
    start: Instant,
    /// Milliseconds after `start`.
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Arc<Activity> {
        Arc::new(Activity { start: Instant::now(), last_ms: AtomicU64::new(0) })
    }

    fn touch(&self) {
        self.last_ms.store(self.start.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    /// Resolves once nothing has moved for `idle`.
    async fn stalled(&self, idle: Duration) {
        loop {
            let deadline = self.start + Duration::from_millis(self.last_ms.load(Ordering::Relaxed)) + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline.into()).await;
        }
    }
}

/// An IO that records progress in an [`Activity`].
struct Watched<I> {
    io: I,
    activity: Arc<Activity>,
}

impl<I> Watched<I> {
    fn new(io: I, activity: Arc<Activity>) -> Self {
        Watched { io, activity }
    }
}

impl<I: AsyncRead + Unpin> AsyncRead for Watched<I> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Watched<I> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, data);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
