//! The pinned TLS transport between real sockets on loopback: a server made
//! with `hotspare_http::serve` from a box identity, clients built with
//! [`http_client_builder`].

use std::time::Duration;

use hotspare_tls::{http_client_builder, Fingerprint, Identity, PinError};

async fn server(id: &Identity) -> (String, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = axum::Router::new().route("/ping", axum::routing::get(|| async { "pong" }));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let cfg = id.server_config.clone();
    let tls = Some(hotspare_tls::tokio_rustls::TlsAcceptor::from(cfg));
    let limits = hotspare_http::ServerLimits::default();
    tokio::spawn(hotspare_http::serve(
        listener,
        router,
        limits,
        async move {
            let _ = stopped.await;
        },
        tls,
    ));
    (format!("127.0.0.1:{}", addr.port()), stop)
}

fn client(pins: &[Fingerprint]) -> reqwest::Client {
    http_client_builder(pins).unwrap().timeout(Duration::from_secs(10)).build().unwrap()
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s = format!("{s}: {inner}");
        cur = inner.source();
    }
    s
}

#[tokio::test]
async fn pinned_server_answers_and_others_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let box_id = Identity::load_or_create(&dir.path().join("nvr"), "nvr").unwrap();
    let other = Identity::load_or_create(&dir.path().join("other"), "other").unwrap();
    assert_ne!(box_id.fingerprint, other.fingerprint);
    let (addr, _stop) = server(&box_id).await;
    let url = format!("https://{addr}/ping");

    // The right pin: the request goes through.
    let r = client(&[box_id.fingerprint]).get(&url).send().await.expect("pinned request");
    assert_eq!(r.text().await.unwrap(), "pong");
    // One of several pins matching is enough (an NVR with two spares).
    let r = client(&[other.fingerprint, box_id.fingerprint]).get(&url).send().await.expect("pinned request");
    assert!(r.status().is_success());

    // A wrong pin: refused, and the error names both fingerprints.
    let e = client(&[other.fingerprint]).get(&url).send().await.unwrap_err();
    let text = chain(&e);
    assert!(text.contains(&other.fingerprint.to_string()) && text.contains(&box_id.fingerprint.to_string()), "{text}");
    assert!(text.contains("mismatch"), "{text}");
    assert_eq!(
        PinError::find(&e),
        Some(PinError::Mismatch { expected: vec![other.fingerprint], seen: box_id.fingerprint })
    );

    // No pin configured: refused too (no trust on first use), naming what the server presented.
    let e = client(&[]).get(&url).send().await.unwrap_err();
    assert_eq!(PinError::find(&e), Some(PinError::NotConfigured { seen: box_id.fingerprint }));
    assert!(chain(&e).contains(&format!("fingerprint = \"{}\"", box_id.fingerprint)), "{}", chain(&e));

    // Plain HTTP to the TLS port gets no answer.
    let plain = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let r = plain.get(format!("http://{addr}/ping")).send().await;
    assert!(r.is_err(), "plain HTTP was answered: {:?}", r.map(|r| r.status()));
}
