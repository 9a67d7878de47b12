//! Helpers shared by the integration tests: fixture paths, starting a
//! simulator in-process on an ephemeral port, running ffmpeg/ffprobe, and a
//! minimal raw RTSP client for checks ffmpeg cannot express.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Output;
use std::sync::Arc;
use std::time::Duration;

use hotspare_sim::{SimConfig, SimStats};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures").join(name)
}

/// True when ffmpeg and ffprobe can run; prints why a test is skipped otherwise.
pub fn have_ffmpeg(test: &str) -> bool {
    let ok = ["ffmpeg", "ffprobe"]
        .iter()
        .all(|t| std::process::Command::new(t).arg("-version").output().is_ok_and(|o| o.status.success()));
    if !ok {
        eprintln!("SKIPPED {test}: ffmpeg/ffprobe not installed (apt-get install ffmpeg)");
    }
    ok
}

/// A simulator serving in the test's runtime; stopped when dropped.
pub struct Running {
    pub addr: SocketAddr,
    pub stats: Arc<SimStats>,
    pub session_timeout_s: u32,
    task: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("rtsp://{}{path}", self.addr)
    }

    /// Waits until `n` sessions have finished, returning their reports.
    pub async fn wait_finished(&self, n: usize) -> Vec<hotspare_sim::SessionReport> {
        for _ in 0..100 {
            let r = self.stats.finished();
            if r.len() >= n {
                return r;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.stats.finished()
    }
}

pub fn config(clip: &str) -> SimConfig {
    let mut cfg = SimConfig::new("127.0.0.1:0".parse().expect("addr"), fixture(clip));
    cfg.streams = 4;
    cfg
}

pub async fn start(cfg: SimConfig) -> Running {
    let _ = env_logger::builder().is_test(true).try_init();
    let session_timeout_s = cfg.session_timeout_s;
    let sim = hotspare_sim::bind(cfg).await.expect("bind simulator");
    let addr = sim.local_addr();
    let stats = sim.stats();
    let task = tokio::spawn(async move {
        if let Err(e) = sim.serve().await {
            eprintln!("simulator stopped: {e}");
        }
    });
    Running { addr, stats, session_timeout_s, task }
}

/// Runs a command with a time limit, returning its output.
pub async fn run(prog: &str, args: &[&str]) -> Output {
    let fut = tokio::process::Command::new(prog).args(args).kill_on_drop(true).output();
    match tokio::time::timeout(Duration::from_secs(30), fut).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => panic!("cannot run {prog}: {e}"),
        Err(_) => panic!("{prog} {args:?} did not finish in 30 s"),
    }
}

pub fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// A bare RTSP/TCP client: one request at a time, then interleaved data.
pub struct RawClient {
    pub sock: TcpStream,
    buf: Vec<u8>,
    cseq: u32,
}

/// A parsed response: status, headers (name lowercased), body.
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == &name.to_ascii_lowercase()).map(|(_, v)| v.as_str())
    }
}

/// One interleaved packet.
#[derive(Debug)]
pub struct Interleaved {
    pub channel: u8,
    pub data: Vec<u8>,
}

impl RawClient {
    pub async fn connect(addr: SocketAddr) -> RawClient {
        RawClient { sock: TcpStream::connect(addr).await.expect("connect"), buf: Vec::new(), cseq: 0 }
    }

    pub async fn send_raw(&mut self, data: &[u8]) {
        self.sock.write_all(data).await.expect("write");
    }

    pub async fn request(&mut self, method: &str, url: &str, headers: &[(&str, &str)]) -> RawResponse {
        self.cseq += 1;
        let mut req = format!("{method} {url} RTSP/1.0\r\nCSeq: {}\r\n", self.cseq);
        for (n, v) in headers {
            req.push_str(&format!("{n}: {v}\r\n"));
        }
        req.push_str("\r\n");
        self.send_raw(req.as_bytes()).await;
        self.response().await.expect("response")
    }

    async fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 65536];
        match tokio::time::timeout(Duration::from_secs(5), self.sock.read(&mut tmp)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => false,
            Ok(Ok(n)) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

    /// Reads the next response, skipping interleaved data; `None` on EOF.
    pub async fn response(&mut self) -> Option<RawResponse> {
        loop {
            while self.buf.first() == Some(&b'$') {
                self.interleaved().await?;
            }
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
                let headers: Vec<(String, String)> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
                    .collect();
                let len: usize =
                    headers.iter().find(|(n, _)| n == "content-length").map_or(0, |(_, v)| v.parse().unwrap_or(0));
                while self.buf.len() < end + 4 + len {
                    if !self.fill().await {
                        return None;
                    }
                }
                let body = String::from_utf8_lossy(&self.buf[end + 4..end + 4 + len]).into_owned();
                self.buf.drain(..end + 4 + len);
                return Some(RawResponse { status, headers, body });
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// Reads the next interleaved packet; `None` on EOF or timeout.
    pub async fn interleaved(&mut self) -> Option<Interleaved> {
        loop {
            if self.buf.len() >= 4 {
                assert_eq!(self.buf[0], b'$', "expected interleaved data");
                let len = u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize;
                if self.buf.len() >= 4 + len {
                    let p = Interleaved { channel: self.buf[1], data: self.buf[4..4 + len].to_vec() };
                    self.buf.drain(..4 + len);
                    return Some(p);
                }
            }
            if !self.fill().await {
                return None;
            }
        }
    }

    /// True when the server closed the connection (no more bytes).
    pub async fn closed(&mut self) -> bool {
        self.buf.clear();
        !self.fill().await
    }
}
