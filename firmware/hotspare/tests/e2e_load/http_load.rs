//! End to end (issue 6): an NVR and a spare (fast profile) on loopback while
//! a LAN client attacks the NVR's API: (a) ~1100 idle TCP connections,
//! (b) slowloris (headers trickled), (c) ~500 MP4 requests that never read
//! their body, (d) password guessing on the NVR's `/config` and on the
//! spare's `/whoami`. Under each load the spare must not take over, the NVR
//! must keep answering `/status` to an authenticated client, and the NVR
//! API process's RSS must stay bounded. The attacker uses other loopback
//! addresses than the spare (127.0.0.2 and up), as a LAN client would, and
//! speaks TLS to the boxes (they serve TLS only) before its HTTP attack.
//! The figures printed (`LOAD ...` and `guesser ...` lines) are in
//! docs/benchmarks.md.

use crate::failover_common::*;
use crate::nvr_common::{basic, pinned};
use socket2::{Domain, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long each load runs.
const LOAD_FOR: Duration = Duration::from_secs(15);
/// RSS bound of the NVR API process under any load.
const RSS_LIMIT_KB: u64 = 200 * 1024;

fn raise_nofile() {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let l = getrlimit(Resource::Nofile);
    let want = l.maximum.map_or(16_384, |m| m.min(16_384));
    if l.current.is_some_and(|c| c < want) {
        setrlimit(Resource::Nofile, Rlimit { current: Some(want), maximum: l.maximum }).expect("raise RLIMIT_NOFILE");
    }
}

fn rss_kb(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// An attacker's connection: TLS when the box's port is pinned (what a client must get through
/// before the server sees any HTTP), plain TCP otherwise.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }

    /// Blocking again, reads bounded by `timeout`.
    fn blocking(&self, timeout: Duration) {
        let _ = self.tcp().set_nonblocking(false);
        let _ = self.tcp().set_read_timeout(Some(timeout));
    }
}

impl Read for Conn {
    fn read(&mut self, b: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(b),
            Conn::Tls(s) => s.read(b),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(b),
            Conn::Tls(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// A connection from `127.0.0.{host}` with a small receive buffer that has sent `first` (after
/// the TLS handshake, if the port is pinned); non-blocking afterwards.
fn connect_from(host: u8, port: u16, first: &[u8]) -> Option<Conn> {
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).ok()?;
    s.set_recv_buffer_size(4096).ok()?;
    s.bind(&SocketAddr::from(([127, 0, 0, host], 0)).into()).ok()?;
    s.connect_timeout(&SocketAddr::from(([127, 0, 0, 1], port)).into(), Duration::from_secs(2)).ok()?;
    let t: TcpStream = s.into();
    t.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut c = match pinned(port) {
        Some(fp) => {
            let cfg = Arc::new(hotspare_tls::pinned_client_config(&[fp]).ok()?);
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1").ok()?;
            let mut tls = rustls::StreamOwned::new(rustls::ClientConnection::new(cfg, name).ok()?, t);
            while tls.conn.is_handshaking() {
                tls.conn.complete_io(&mut tls.sock).ok()?;
            }
            Conn::Tls(Box::new(tls))
        }
        None => Conn::Plain(t),
    };
    if !first.is_empty() {
        c.write_all(first).ok()?;
        c.flush().ok()?;
    }
    c.tcp().set_nonblocking(true).ok()?;
    Some(c)
}

/// True when the server closed `c` (EOF, close_notify or reset). With `drain`, whatever the
/// server sent is read and dropped (a slowloris client reads); without, the client never reads
/// and only peeks at the socket (a connection with unread data is not seen as closed).
fn closed(c: &mut Conn, drain: bool) -> bool {
    let mut b = [0u8; 4096];
    if !drain {
        return match c.tcp().peek(&mut b[..1]) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => e.kind() != ErrorKind::WouldBlock,
        };
    }
    loop {
        match c.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
            Err(_) => return true,
        }
    }
}

/// What an attacker thread reports.
#[derive(Default)]
struct Tally {
    opened: AtomicU64,
    closed_by_server: AtomicU64,
    refused: AtomicU64,
    unauthorized: AtomicU64,
    too_many: AtomicU64,
    other: AtomicU64,
}

/// Keeps `n` connections open from hosts `hosts`, each sending `first` once and then `trickle`
/// every second (if any); reopens what the server closes, until `stop`. `drain`: see [`closed`].
#[allow(clippy::too_many_arguments)]
fn hold_connections(
    port: u16,
    hosts: std::ops::RangeInclusive<u8>,
    n: usize,
    first: Vec<u8>,
    trickle: Option<Vec<u8>>,
    drain: bool,
    stop: Arc<AtomicBool>,
    tally: Arc<Tally>,
) {
    let hosts: Vec<u8> = hosts.collect();
    let mut conns: Vec<Option<Conn>> = (0..n).map(|_| None).collect();
    while !stop.load(Ordering::SeqCst) {
        for (i, c) in conns.iter_mut().enumerate() {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            if c.as_mut().is_some_and(|c| closed(c, drain)) {
                tally.closed_by_server.fetch_add(1, Ordering::Relaxed);
                *c = None;
            }
            match c {
                Some(s) => {
                    if let Some(t) = &trickle {
                        let _ = s.write(t);
                    }
                }
                None => match connect_from(hosts[i % hosts.len()], port, &first) {
                    Some(s) => {
                        tally.opened.fetch_add(1, Ordering::Relaxed);
                        *c = Some(s);
                    }
                    None => {
                        tally.refused.fetch_add(1, Ordering::Relaxed);
                    }
                },
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// Longest a guessing client may wait for an answer (PBKDF2 of a debug build on a loaded
/// machine can take seconds).
const GUESS_TIMEOUT: Duration = Duration::from_secs(30);
/// Guesses verified (answered 401) at most per client address while guessing for [`GUESSING_FOR`]:
/// 5 free, then one per backoff period (1 s doubling: 1+2+4+8+16 = 31 s) and slack for one in
/// flight when backed off.
const MAX_VERIFIED_PER_CLIENT: u64 = 5 + 6 + 2;
/// How long the password-guessing load runs (long enough to get past the free failures even
/// when each verification takes seconds).
const GUESSING_FOR: Duration = Duration::from_secs(40);

/// Wrong passwords in a loop from `127.0.0.{host}` until `stop`, one new connection each, at
/// most ~200 a second (so the client's ephemeral ports do not run out). Asserts that this client
/// was backed off (429) and had few guesses verified.
fn guess(port: u16, host: u8, path: String, stop: Arc<AtomicBool>, tally: Arc<Tally>) {
    let mut n = 0u64;
    let (mut verified, mut refused) = (0u64, 0u64);
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        std::thread::sleep(Duration::from_millis(5));
        let (k, v) = basic("admin", &format!("guess-{n}"));
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{k}: {v}\r\n\r\n");
        let Some(mut s) = connect_from(host, port, req.as_bytes()) else {
            tally.refused.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        s.blocking(GUESS_TIMEOUT);
        let mut head = [0u8; 12];
        match s.read_exact(&mut head) {
            Ok(()) if &head[9..12] == b"401" => {
                verified += 1;
                tally.unauthorized.fetch_add(1, Ordering::Relaxed)
            }
            Ok(()) if &head[9..12] == b"429" => {
                refused += 1;
                tally.too_many.fetch_add(1, Ordering::Relaxed)
            }
            _ => tally.other.fetch_add(1, Ordering::Relaxed),
        };
    }
    eprintln!("guesser 127.0.0.{host} on {path}: {verified} verified (401), {refused} refused (429)");
    assert!(refused > 0, "127.0.0.{host} on {path}: never backed off ({verified} guesses verified)");
    assert!(verified <= MAX_VERIFIED_PER_CLIENT, "127.0.0.{host} on {path}: {verified} guesses verified");
}

struct Observed {
    rss_max_kb: u64,
    status_ok: u64,
    status_failed: Vec<String>,
    status_max: Duration,
}

/// Polls the NVR's `/status` as its admin from 127.0.0.1 every 250 ms and samples its RSS until
/// `stop`.
fn observe(port: u16, pid: u32, auth: (String, String), stop: Arc<AtomicBool>) -> Observed {
    let mut o = Observed { rss_max_kb: 0, status_ok: 0, status_failed: Vec::new(), status_max: Duration::ZERO };
    while !stop.load(Ordering::SeqCst) {
        o.rss_max_kb = o.rss_max_kb.max(rss_kb(pid));
        let t = Instant::now();
        match try_get(port, "/api/v1/status", std::slice::from_ref(&auth)) {
            Ok(r) if r.status == 200 => o.status_ok += 1,
            Ok(r) => o.status_failed.push(format!("HTTP {}", r.status)),
            Err(e) => o.status_failed.push(e),
        }
        o.status_max = o.status_max.max(t.elapsed());
        std::thread::sleep(Duration::from_millis(250));
    }
    o
}

#[test]
fn nvr_api_under_hostile_load_keeps_serving_without_takeover() {
    raise_nofile();
    let mut site = Site::prepare(1, 1);
    site.start();
    site.wait_healthy();
    let port = site.nvrs[0].port;
    let spare_port = site.spare_port;
    let pid = site.nvr(0).group.pid();
    let admin = site.nvrs[0].admin();
    // Some video to ask for.
    std::thread::sleep(Duration::from_secs(3));
    let cam = site.nvrs[0].cams[0].0.clone();
    let (auth_k, auth_v) = admin.clone();
    let mp4_req =
        format!("GET /api/v1/recordings/{cam}.mp4 HTTP/1.1\r\nHost: x\r\n{auth_k}: {auth_v}\r\n\r\n").into_bytes();
    type Attack = Box<dyn Fn(Arc<AtomicBool>, Arc<Tally>) -> Vec<std::thread::JoinHandle<()>>>;
    let loads: Vec<(&str, Duration, Attack)> = vec![
        (
            "idle connections (1100)",
            LOAD_FOR,
            Box::new(move |stop, tally| {
                vec![std::thread::spawn(move || {
                    hold_connections(port, 2..=12, 1100, Vec::new(), None, true, stop, tally)
                })]
            }),
        ),
        (
            "slowloris (300, one header line a second)",
            LOAD_FOR,
            Box::new(move |stop, tally| {
                let first = b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\n".to_vec();
                let trickle = Some(b"X-Slow: a\r\n".to_vec());
                vec![std::thread::spawn(move || {
                    hold_connections(port, 13..=17, 300, first, trickle, true, stop, tally)
                })]
            }),
        ),
        (
            "MP4 requests never read (500)",
            LOAD_FOR,
            Box::new(move |stop, tally| {
                let req = mp4_req.clone();
                vec![std::thread::spawn(move || hold_connections(port, 20..=27, 500, req, None, false, stop, tally))]
            }),
        ),
        (
            "password guessing (NVR /config x2, spare /whoami x1)",
            GUESSING_FOR,
            Box::new(move |stop, tally| {
                let mut v = Vec::new();
                for host in 30..32u8 {
                    let (stop, tally) = (stop.clone(), tally.clone());
                    v.push(std::thread::spawn(move || guess(port, host, "/api/v1/config".into(), stop, tally)));
                }
                for host in 34..35u8 {
                    let (stop, tally) = (stop.clone(), tally.clone());
                    v.push(std::thread::spawn(move || guess(spare_port, host, "/api/v1/whoami".into(), stop, tally)));
                }
                v
            }),
        ),
    ];
    for (name, load_for, start) in loads {
        let before = rss_kb(pid);
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Tally::default());
        let t0 = Instant::now();
        let attackers = start(stop.clone(), tally.clone());
        let observer = {
            let (stop, auth) = (stop.clone(), admin.clone());
            std::thread::spawn(move || observe(port, pid, auth, stop))
        };
        let (checks, misses) = site.watch_no_takeover(0, load_for);
        stop.store(true, Ordering::SeqCst);
        for a in attackers {
            a.join().unwrap();
        }
        let secs = t0.elapsed().as_secs_f64();
        let o = observer.join().unwrap();
        std::thread::sleep(Duration::from_secs(3));
        let after = rss_kb(pid);
        let t = &tally;
        eprintln!(
            "LOAD {name}: NVR RSS before {before} kB, max during {} kB, 3 s after {after} kB; \
             /status {} ok, {} failed, slowest {:?}; spare checks {checks}, max misses in a row {misses}; \
             connections opened {}, closed by the server {}, refused {}; 401 {} ({:.1}/s), 429 {} ({:.1}/s), other {}",
            o.rss_max_kb,
            o.status_ok,
            o.status_failed.len(),
            o.status_max,
            t.opened.load(Ordering::Relaxed),
            t.closed_by_server.load(Ordering::Relaxed),
            t.refused.load(Ordering::Relaxed),
            t.unauthorized.load(Ordering::Relaxed),
            t.unauthorized.load(Ordering::Relaxed) as f64 / secs,
            t.too_many.load(Ordering::Relaxed),
            t.too_many.load(Ordering::Relaxed) as f64 / secs,
            t.other.load(Ordering::Relaxed),
        );
        assert!(o.status_failed.is_empty(), "{name}: /status failed: {:?}\n{}", o.status_failed, site.dump());
        assert!(o.status_ok >= 10, "{name}: only {} status answers", o.status_ok);
        assert!(o.rss_max_kb < RSS_LIMIT_KB, "{name}: NVR RSS {} kB", o.rss_max_kb);
        assert!(misses < 3, "{name}: the spare missed {misses} checks in a row\n{}", site.dump());
        // Password guessing: each guesser thread asserts it was backed off and had at most
        // MAX_VERIFIED_PER_CLIENT guesses verified (joined above).
        if name.starts_with("idle") || name.starts_with("slowloris") {
            assert!(t.closed_by_server.load(Ordering::Relaxed) > 0, "{name}: the server never closed a connection");
        }
    }
    let s = site.spare_status().expect("spare status");
    assert!(s.nvrs.iter().all(|n| n.takeovers.is_empty()), "{}", site.dump());
}
