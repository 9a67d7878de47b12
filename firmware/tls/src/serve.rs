//! Serving an axum router over TLS: accept, TLS handshake (bounded in
//! time), HTTP/1.1 with a header read timeout, one task per connection,
//! and a lingering close: a reply sent before the request body was read (a
//! 401 to an import) would otherwise be lost to the TCP reset the unread
//! bytes cause, so the server says close_notify and discards what still
//! arrives for a bounded time before closing.
//! Kept small on purpose: the hardened accept loop of `hotspare-http`
//! takes `TlsAcceptor::from(identity.server_config)` in its place.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Time a client has to finish the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Time a client has to send the request headers.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long, and how many bytes, the lingering close discards at most.
pub const LINGER: (Duration, u64) = (Duration::from_secs(2), 64 << 20);

/// Serves `router` over TLS on `listener` until `shutdown` resolves (then stops accepting;
/// requests in flight finish on their own tasks).
pub async fn serve_tls(
    listener: TcpListener,
    router: axum::Router,
    config: Arc<ServerConfig>,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(config);
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of descriptors and the like: wait instead of spinning.
                    log::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = &mut shutdown => return Ok(()),
        };
        let (acceptor, router) = (acceptor.clone(), router.clone());
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    log::debug!("{peer}: TLS handshake failed: {e}");
                    return;
                }
                Err(_) => {
                    log::debug!("{peer}: no TLS handshake within {HANDSHAKE_TIMEOUT:?}");
                    return;
                }
            };
            let served = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(tls), TowerToHyperService::new(router))
                .without_shutdown()
                .await;
            match served {
                Ok(parts) => linger(parts.io.into_inner()).await,
                Err(e) => log::debug!("{peer}: {e}"),
            }
        });
    }
}

/// close_notify, then read and discard until the client closes or [`LINGER`] is spent.
async fn linger(mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>) {
    if tls.shutdown().await.is_err() {
        return;
    }
    let (limit, max_bytes) = LINGER;
    let _ = tokio::time::timeout(limit, async {
        let mut buf = vec![0u8; 16 * 1024];
        let mut total = 0u64;
        while total < max_bytes {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => total += n as u64,
            }
        }
    })
    .await;
}
