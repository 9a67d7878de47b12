//! A scripted RTSP server on a loopback socket: answers each request with
//! the recorded response of its method (checking credentials against the
//! recorded challenge), and after PLAY sends an RTP stream.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use hotspare_rtsp::auth::{verify, Challenge, Credentials};
use rtsp_types::{Message, Request};

use super::script::Script;

/// A request the server received.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: String,
    pub uri: String,
    pub authorization: Option<String>,
}

/// What the server sends around the PLAY answer.
#[derive(Clone, Debug, Default)]
pub struct Stream {
    /// Interleaved frames sent just before the PLAY answer.
    pub before_play: Vec<Vec<u8>>,
    /// Interleaved frames sent after it.
    pub after_play: Vec<Vec<u8>>,
}

pub struct Server {
    pub port: u16,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<JoinHandle<()>>,
}

pub const USER: &str = "admin";
pub const PASSWORD: &str = "12345";

impl Server {
    pub fn start(script: Script, stream: Stream) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let port = listener.local_addr().expect("local addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen2 = seen.clone();
        let thread = std::thread::spawn(move || {
            if let Ok((sock, _)) = listener.accept() {
                serve(sock, &script, &stream, &seen2);
            }
        });
        Server { port, seen, thread: Some(thread) }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // The serving thread ends when the client closes its connection.
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The (realm, nonce) pairs of the recorded challenges; `None` nonce for Basic.
fn challenges(script: &Script) -> Vec<(String, Option<String>)> {
    let Some(r) = script.get("401") else { return Vec::new() };
    r.headers("WWW-Authenticate")
        .filter_map(|v| match Challenge::parse(v) {
            Ok(Challenge::Basic { realm }) => Some((realm, None)),
            Ok(Challenge::Digest { realm, nonce, .. }) => Some((realm, Some(nonce))),
            Err(_) => None,
        })
        .collect()
}

fn serve(mut sock: TcpStream, script: &Script, stream: &Stream, seen: &Mutex<Vec<Seen>>) {
    let _ = sock.set_read_timeout(Some(Duration::from_secs(10)));
    let creds = Credentials { user: USER.into(), password: PASSWORD.into() };
    let offered = challenges(script);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut setups = 0;
    loop {
        let req = loop {
            match Message::<Vec<u8>>::parse(&buf) {
                Ok((Message::Request(r), n)) => {
                    buf.drain(..n);
                    break r;
                }
                Ok((_, n)) => {
                    buf.drain(..n);
                }
                Err(rtsp_types::ParseError::Incomplete(_)) => match sock.read(&mut chunk) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                },
                Err(rtsp_types::ParseError::Error) => return,
            }
        };
        let method: &str = req.method().into();
        let method = method.to_string();
        let authorization = req.header(&rtsp_types::headers::AUTHORIZATION).map(|v| v.as_str().to_string());
        if let Ok(mut s) = seen.lock() {
            let uri = req.request_uri().map(|u| u.to_string()).unwrap_or_default();
            s.push(Seen { method: method.clone(), uri, authorization: authorization.clone() });
        }
        let cseq = req.header(&rtsp_types::headers::CSEQ).map(|v| v.as_str().to_string()).unwrap_or_default();
        let authorized = offered.is_empty()
            || authorization.as_deref().is_some_and(|h| {
                offered.iter().any(|(realm, nonce)| verify(h, &method, &creds, realm, nonce.as_deref()))
            });
        // The capture's `SETUP` answers the first SETUP; a later one (the
        // audio track's) gets section `SETUP <n>` if there is one, else the
        // generic answer.
        let section = match method.as_str() {
            "SETUP" if authorized => {
                setups += 1;
                if setups == 1 {
                    method.clone()
                } else {
                    format!("SETUP {setups}")
                }
            }
            _ => method.clone(),
        };
        let out = match script.get(&section) {
            _ if !authorized => script.get("401").map(|r| r.render(&cseq)),
            Some(r) => Some(r.render(&cseq)),
            None => Some(generic(&req, &cseq)),
        };
        if method == "PLAY" && authorized {
            for f in &stream.before_play {
                let _ = sock.write_all(f);
            }
        }
        let Some(out) = out else { return };
        if sock.write_all(&out).is_err() {
            return;
        }
        if method == "PLAY" && authorized {
            let all: Vec<u8> = stream.after_play.concat();
            if sock.write_all(&all).is_err() {
                return;
            }
        }
    }
}

/// The answer to a method the capture has no response for: TEARDOWN,
/// keep-alives, OPTIONS of captures that start at DESCRIBE, and SETUP and
/// PLAY of captures that stop at DESCRIBE (the plainest answer: the
/// requested transport echoed, a session id).
fn generic(req: &Request<Vec<u8>>, cseq: &str) -> Vec<u8> {
    let extra = match req.method() {
        rtsp_types::Method::Options => "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n".into(),
        rtsp_types::Method::Setup => {
            let t = req.header(&rtsp_types::headers::TRANSPORT).map(|v| v.as_str().to_string()).unwrap_or_default();
            format!("Transport: {t}\r\nSession: 4242;timeout=60\r\n")
        }
        rtsp_types::Method::Play => "Session: 4242\r\n".into(),
        _ => String::new(),
    };
    format!("RTSP/1.0 200 OK\r\nCSeq: {cseq}\r\n{extra}\r\n").into_bytes()
}
