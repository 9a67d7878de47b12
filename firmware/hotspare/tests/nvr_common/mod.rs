//! Helpers of the `hotspare nvr` end-to-end tests: a minimal HTTP/1.1 client
//! (over TLS to a port whose box fingerprint was pinned with [`pin`], as the
//! boxes' own clients do), config files, and an NVR process with its recorder
//! child.
#![allow(dead_code)]

use crate::common::{bin, free_port, wait_port, Proc};
use base64::Engine;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

fn pins() -> &'static Mutex<std::collections::HashMap<u16, hotspare_tls::Fingerprint>> {
    static PINS: OnceLock<Mutex<std::collections::HashMap<u16, hotspare_tls::Fingerprint>>> = OnceLock::new();
    PINS.get_or_init(Default::default)
}

/// From now on [`try_http`] speaks TLS to 127.0.0.1:`port`, accepting only `fingerprint`.
pub fn pin(port: u16, fingerprint: hotspare_tls::Fingerprint) {
    pins().lock().unwrap().insert(port, fingerprint);
}

/// The fingerprint pinned for `port`.
pub fn pinned(port: u16) -> Option<hotspare_tls::Fingerprint> {
    pins().lock().unwrap().get(&port).copied()
}

/// `hotspare ROLE --config CONFIG --fingerprint` (`role`: `nvr` or `failover`): the box's
/// certificate fingerprint, made if there is none yet; `None` for a plain-HTTP
/// (`[tls] insecure`) or unusable config.
pub fn box_fingerprint(role: &str, config: &Path) -> Option<hotspare_tls::Fingerprint> {
    hotspare::kit::box_fingerprint(Path::new(bin()), role, config).ok()
}

pub trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

pub const ADMIN: (&str, &str) = ("admin", "Adm1n-s3cret");
/// The viewer account of [`config_text`]; [`get`] authenticates with it.
pub const VIEWER: (&str, &str) = ("guard", "V1ewer-s3cret");

/// One HTTP reply.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> T {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("bad JSON ({e}): {}", self.text()))
    }
}

pub fn basic(user: &str, password: &str) -> (String, String) {
    (
        "Authorization".into(),
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))),
    )
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else { return out };
        let n = usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 4 + n..];
    }
}

/// A connection to 127.0.0.1:`port`: TLS pinned to the box's fingerprint when the port was
/// registered with [`pin`], plain TCP otherwise.
pub fn connect(port: u16, timeout: Duration) -> Result<Box<dyn ReadWrite>, String> {
    let ctx = |what: &str, e: &dyn std::fmt::Display| format!("{what}: {e}");
    let s = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), timeout).map_err(|e| ctx("connect", &e))?;
    s.set_read_timeout(Some(timeout)).map_err(|e| ctx("set timeout", &e))?;
    s.set_write_timeout(Some(timeout)).map_err(|e| ctx("set timeout", &e))?;
    Ok(match pinned(port) {
        Some(fp) => {
            let cfg = Arc::new(hotspare_tls::pinned_client_config(&[fp]).map_err(|e| ctx("TLS config", &e))?);
            let name = rustls::pki_types::ServerName::try_from("127.0.0.1").map_err(|e| ctx("server name", &e))?;
            let conn = rustls::ClientConnection::new(cfg, name).map_err(|e| ctx("TLS", &e))?;
            Box::new(rustls::StreamOwned::new(conn, s))
        }
        None => Box::new(s),
    })
}

/// `method path` on 127.0.0.1:`port` (Connection: close).
pub fn http(port: u16, method: &str, path: &str, headers: &[(String, String)], body: &[u8]) -> Resp {
    try_http(port, method, path, headers, body, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`http`], but a server that does not answer (refused, reset, no reply within `timeout`,
/// malformed reply) is an `Err` naming the problem instead of a panic: for polling processes
/// that may be dead, stopped or restarting.
pub fn try_http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<Resp, String> {
    let ctx = |what: &str, e: &dyn std::fmt::Display| format!("{method} 127.0.0.1:{port}{path}: {what}: {e}");
    let mut s = connect(port, timeout).map_err(|e| format!("{method} 127.0.0.1:{port}{path}: {e}"))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).map_err(|e| ctx("send", &e))?;
    // A server may answer (413, 401, …) and close before reading a large body: then sending the
    // rest fails (EPIPE/ECONNRESET) but its reply is there to read.
    let sent = s.write_all(body);
    let mut raw = Vec::new();
    let read = s.read_to_end(&mut raw);
    if raw.is_empty() {
        sent.map_err(|e| ctx("send", &e))?;
        read.map_err(|e| ctx("read", &e))?;
    }
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| ctx("reply", &"no header end"))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| ctx("reply", &"no status line"))?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))).collect();
    let mut body = raw[end + 4..].to_vec();
    if headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked")) {
        body = dechunk(&body);
    }
    Ok(Resp { status, headers, body })
}

/// GET as [`VIEWER`].
pub fn get(port: u16, path: &str) -> Resp {
    http(port, "GET", path, &[basic(VIEWER.0, VIEWER.1)], b"")
}

/// nvr.toml text.
pub fn config_text(port: u16, dir: &Path, cams: &[(&str, String)], storage_extra: &str, extra: &str) -> String {
    let mut t = format!(
        "[server]\nname = \"Test NVR\"\nserial = \"NVR-T1\"\nlisten = \"127.0.0.1:{port}\"\nadmin_user = \"{}\"\n\
         admin_password = \"{}\"\nupnp = false\n\n[[server.accounts]]\nuser = \"{}\"\nrole = \"viewer\"\n\
         password = \"{}\"\n\n[storage]\ndir = \"{}\"\nsegment_seconds = 60\n{storage_extra}\n",
        ADMIN.0,
        ADMIN.1,
        VIEWER.0,
        VIEWER.1,
        dir.display()
    );
    for (id, url) in cams {
        t.push_str(&format!(
            "\n[[camera]]\nid = \"{id}\"\nname = \"Camera {id}\"\nurl = \"{url}\"\nuser = \"viewer\"\npassword = \"cam-pw-{id}\"\n"
        ));
    }
    t.push_str(extra);
    t
}

/// A running `hotspare nvr`.
pub struct Nvr {
    pub proc: Proc,
    pub port: u16,
    pub config: PathBuf,
}

impl Nvr {
    pub fn start(config: &Path, port: u16) -> Nvr {
        Nvr::start_env(config, port, &[])
    }

    /// [`Nvr::start`] with extra environment variables.
    pub fn start_env(config: &Path, port: u16, env: &[(&str, &str)]) -> Nvr {
        if let Some(fp) = box_fingerprint("nvr", config) {
            pin(port, fp);
        }
        let mut cmd = Command::new(bin());
        cmd.arg("nvr").arg("--config").arg(config).envs(env.iter().copied());
        let proc = Proc::spawn("nvr", cmd);
        let end = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < end, "nvr never listened\n{}\n{}", proc.stdout.text(), proc.stderr.text());
            std::thread::sleep(Duration::from_millis(50));
        }
        wait_port(port, Duration::from_secs(1));
        Nvr { proc, port, config: config.to_owned() }
    }

    /// Writes `text` to `<dir>/nvr.toml` and starts an NVR with it.
    pub fn with_config(dir: &Path, text: &str, port: u16) -> Nvr {
        let config = dir.join("nvr.toml");
        std::fs::write(&config, text).unwrap();
        Nvr::start(&config, port)
    }

    pub fn status(&self) -> hotspare_api::NvrStatus {
        let r = get(self.port, "/api/v1/status");
        assert_eq!(r.status, 200, "{}", r.text());
        r.json()
    }

    /// Polls the status until `pred` holds (panics with the last status and the log).
    pub fn wait_status(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&hotspare_api::NvrStatus) -> bool,
    ) -> hotspare_api::NvrStatus {
        let end = Instant::now() + timeout;
        loop {
            let s = self.status();
            if pred(&s) {
                return s;
            }
            if Instant::now() > end {
                panic!("waited {timeout:?} for {what}; last status {s:#?}\n--- nvr log\n{}", self.proc.stderr.text());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Pid of the recorder child process.
    pub fn recorder_pid(&self) -> u32 {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(p) = crate::common::children(self.proc.pid()).first() {
                return *p;
            }
            assert!(Instant::now() < end, "no recorder child");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn admin_get(&self, path: &str) -> Resp {
        http(self.port, "GET", path, &[basic(ADMIN.0, ADMIN.1)], b"")
    }
}

pub fn signal(pid: u32, sig: &str) {
    let ok = Command::new("kill").arg(format!("-{sig}")).arg(pid.to_string()).status().unwrap().success();
    assert!(ok, "kill -{sig} {pid}");
}

pub fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

/// Two-stream simulator + an NVR recording both streams into `dir`.
pub fn sim_ports() -> (u16, u16) {
    (free_port(), free_port())
}

/// `ffprobe` frame count of an MP4, and its stderr (errors).
pub fn ffprobe_frames(path: &Path) -> (u64, String) {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0", "-show_entries", "stream=nb_read_frames"])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe");
    let frames = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0);
    (frames, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// SHA-256 of `data` in lower-case hex, as the import API names a segment's body.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(data))
}
