//! Shared helpers of the end-to-end tests: real `hotspare` processes (and
//! GStreamer's RTSP server) on loopback, ffprobe/ffmpeg checks of exports,
//! and guards that kill every child process when a test ends or panics.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, UNIX_EPOCH};

/// Frames per GOP of the fixture clips and the GStreamer peer (1 s at 25 fps).
pub const GOP: i64 = 25;

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_hotspare")
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

pub fn clip(codec: &str) -> PathBuf {
    let p = match codec {
        "h264" => repo_root().join("fixtures/clip-h264.h264"),
        "h265" => repo_root().join("fixtures/clip-h265.h265"),
        other => panic!("no clip for {other}"),
    };
    assert!(p.is_file(), "missing fixture {}", p.display());
    p
}

/// Direct children of `pid` (from `/proc/PID/task/*/children`): an NVR's recorder.
pub fn children(pid: u32) -> Vec<u32> {
    let mut kids = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let c = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            kids.extend(c.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
        }
    }
    kids
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    hotspare::kit::free_port().unwrap_or_else(|e| panic!("{e}"))
}

/// The wall clock, µs since the Unix epoch.
#[allow(unused_imports)] // not every test binary reads the clock
pub use hotspare_base::clock::now_us;

pub fn rfc3339(us: i64) -> String {
    humantime::format_rfc3339_micros(UNIX_EPOCH + Duration::from_micros(us as u64)).to_string()
}

/// Text a child wrote so far, collected by reader threads.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<String>>);

impl Captured {
    pub fn text(&self) -> String {
        self.0.lock().unwrap().clone()
    }
    fn spawn_reader(&self, r: impl Read + Send + 'static) -> std::thread::JoinHandle<()> {
        let buf = self.0.clone();
        std::thread::spawn(move || {
            let mut r = BufReader::new(r);
            let mut line = String::new();
            loop {
                line.clear();
                match r.read_line(&mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => buf.lock().unwrap().push_str(&line),
                }
            }
        })
    }
}

/// A child process killed (SIGKILL) and reaped on drop.
pub struct Proc {
    pub name: String,
    child: Option<Child>,
    pub stdout: Captured,
    pub stderr: Captured,
    readers: Vec<std::thread::JoinHandle<()>>,
    pub started: Instant,
}

impl Proc {
    pub fn spawn(name: &str, mut cmd: Command) -> Proc {
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.env("RUST_LOG", "info");
        let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {name}: {e}"));
        let stdout = Captured::default();
        let stderr = Captured::default();
        let readers =
            vec![stdout.spawn_reader(child.stdout.take().unwrap()), stderr.spawn_reader(child.stderr.take().unwrap())];
        Proc { name: name.into(), child: Some(child), stdout, stderr, readers, started: Instant::now() }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Polls stdout+stderr until `pred` holds; panics with the output after `timeout`.
    pub fn wait_for_output(&self, timeout: Duration, what: &str, pred: impl Fn(&str, &str) -> bool) {
        let end = Instant::now() + timeout;
        loop {
            let (o, e) = (self.stdout.text(), self.stderr.text());
            if pred(&o, &e) {
                return;
            }
            if Instant::now() > end {
                panic!("{}: waited {timeout:?} for {what}\n--- stdout\n{o}\n--- stderr\n{e}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILL and reap.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait up to `timeout` (then SIGKILL).
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let mut c = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(c.id().to_string()).status();
        let end = Instant::now() + timeout;
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return Some(st);
            }
            if Instant::now() > end {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the exit (SIGKILL after `timeout`, then panics) and returns everything.
    pub fn finish(mut self, timeout: Duration) -> Output {
        let mut c = self.child.take().unwrap();
        let end = self.started + timeout;
        let status = loop {
            if let Some(st) = c.try_wait().unwrap() {
                break Some(st);
            }
            if Instant::now() > end {
                let _ = c.kill();
                let _ = c.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
        let out =
            Output { status, stdout: self.stdout.text(), stderr: self.stderr.text(), elapsed: self.started.elapsed() };
        assert!(
            out.status.is_some(),
            "{} did not exit within {timeout:?} (hang)\n--- stdout\n{}\n--- stderr\n{}",
            self.name,
            out.stdout,
            out.stderr
        );
        out
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a finished process left.
#[derive(Debug)]
pub struct Output {
    /// `None` when it had to be killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Output {
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
    pub fn dump(&self) -> String {
        format!(
            "status {:?} after {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.status, self.elapsed, self.stdout, self.stderr
        )
    }
    pub fn assert_no_panic(&self) {
        assert!(!self.stderr.contains("panicked"), "panic in stderr:\n{}", self.dump());
    }
}

// ---------------------------------------------------------------- simulator

/// `hotspare sim-camera` on 127.0.0.1.
pub struct Sim {
    pub proc: Proc,
    pub port: u16,
}

impl Sim {
    pub fn start(codec: &str, port: u16, extra: &[&str]) -> Sim {
        let mut cmd = Command::new(bin());
        cmd.arg("sim-camera").arg("--listen").arg(format!("127.0.0.1:{port}")).arg("--clip").arg(clip(codec));
        cmd.args(extra);
        let proc = Proc::spawn("sim-camera", cmd);
        proc.wait_for_output(Duration::from_secs(10), "sim-camera listening", |o, _| o.contains("listening on"));
        wait_port(port, Duration::from_secs(5));
        Sim { proc, port }
    }

    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/cam0", self.port)
    }

    /// `N` of every "camK: sent N frames" line, oldest first.
    pub fn sent(&self) -> Vec<i64> {
        parse_sent(&self.proc.stderr.text())
    }

    /// Waits until at least `n` sessions reported what they sent.
    pub fn wait_sent(&self, n: usize) -> Vec<i64> {
        self.proc
            .wait_for_output(Duration::from_secs(5), "\"sent N frames\" log line", |_, e| parse_sent(e).len() >= n);
        self.sent()
    }
}

pub fn parse_sent(log: &str) -> Vec<i64> {
    log.lines()
        .filter_map(|l| {
            let i = l.find(": sent ")?;
            let rest = &l[i + 7..];
            let n = rest.split(' ').next()?;
            rest[n.len()..].starts_with(" frames").then(|| n.parse().ok()).flatten()
        })
        .collect()
}

pub fn wait_port(port: u16, timeout: Duration) {
    let end = Instant::now() + timeout;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < end, "port {port} never accepted connections");
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------- GStreamer

/// GStreamer's RTSP server (gst-rtsp-server via Python) serving /cam0.
pub struct Gst {
    pub proc: Proc,
    pub port: u16,
}

pub fn gst_script() -> PathBuf {
    repo_root().join("scripts/gst-rtsp-server.py")
}

/// Whether this machine's GStreamer has `element` (e.g. x265enc); `Err` names why not.
pub fn gst_has(element: &str) -> Result<(), String> {
    let out = Command::new("gst-inspect-1.0")
        .arg("--exists")
        .arg(element)
        .status()
        .map_err(|e| format!("gst-inspect-1.0 not runnable: {e}"))?;
    if out.success() {
        Ok(())
    } else {
        Err(format!("GStreamer element {element} is not installed"))
    }
}

impl Gst {
    pub fn start(extra: &[&str]) -> Gst {
        let port = free_port();
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.arg(gst_script()).arg("--port").arg(port.to_string()).args(extra);
        let proc = Proc::spawn("gst-rtsp-server", cmd);
        proc.wait_for_output(Duration::from_secs(10), "READY", |o, _| o.contains("READY"));
        let port = proc
            .stdout
            .text()
            .lines()
            .find_map(|l| l.strip_prefix("READY ").and_then(|p| p.trim().parse().ok()))
            .unwrap_or(port);
        Gst { proc, port }
    }

    pub fn url(&self) -> String {
        format!("rtsp://127.0.0.1:{}/cam0", self.port)
    }
}

// ---------------------------------------------------------------- record

pub fn record_cmd(url: &str, store: &Path, camera: &str, extra: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("record").arg(url).arg("--store").arg(store).arg("--camera").arg(camera).args(extra);
    cmd
}

/// Runs `record` to the end (killed after `timeout`, which fails the test).
pub fn record(url: &str, store: &Path, camera: &str, extra: &[&str], timeout: Duration) -> Output {
    Proc::spawn("record", record_cmd(url, store, camera, extra)).finish(timeout)
}

/// The `recorded camera ...` summary line.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub frames: i64,
    pub bytes: i64,
    pub segments: i64,
    pub lost_packets: i64,
    pub discontinuities: i64,
    pub sessions: i64,
    pub last_frame: Option<String>,
    /// Transport of the last session (`tcp`, `udp`).
    pub transport: Option<String>,
    pub audio_frames: i64,
    pub audio_dropped: i64,
}

pub fn summary(stdout: &str) -> Option<Summary> {
    let line = stdout.lines().find(|l| l.starts_with("recorded camera "))?;
    let rest = line.split_once(": ")?.1;
    let mut s = Summary::default();
    for part in rest.split(", ") {
        let num = |p: &str| p.split(' ').find_map(|w| w.parse::<i64>().ok()).unwrap_or(-1);
        if part.ends_with(" frames") {
            s.frames = num(part);
        } else if part.ends_with(" bytes") {
            s.bytes = num(part);
        } else if part.ends_with(" segments") {
            s.segments = num(part);
        } else if part.starts_with("lost packets ") {
            s.lost_packets = num(part);
        } else if part.starts_with("discontinuities ") {
            s.discontinuities = num(part);
        } else if part.starts_with("sessions ") {
            s.sessions = num(part);
        } else if part.starts_with("audio frames ") {
            s.audio_frames = num(part);
        } else if part.starts_with("audio dropped ") {
            s.audio_dropped = num(part);
        } else if let Some(t) = part.strip_prefix("last frame ") {
            s.last_frame = Some(t.to_string());
        } else if let Some(t) = part.strip_prefix("transport ") {
            s.transport = Some(t.to_string());
        }
    }
    Some(s)
}

/// The summary of a successful `record`, or a panic with the whole output.
pub fn expect_summary(out: &Output) -> Summary {
    assert!(out.success(), "record failed:\n{}", out.dump());
    out.assert_no_panic();
    let s = summary(&out.stdout).unwrap_or_else(|| panic!("no summary line:\n{}", out.dump()));
    assert!(s.frames > 0, "no frames:\n{}", out.dump());
    s
}

// ---------------------------------------------------------------- store

/// `(start_us, path)` of each `.sample` file of a camera, sorted.
pub fn segments(store: &Path, camera: &str) -> Vec<(i64, PathBuf)> {
    let mut v: Vec<(i64, PathBuf)> = std::fs::read_dir(store.join(camera))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    let stem = name.strip_suffix(".sample")?;
                    let start = i64::from_str_radix(stem.split('-').next()?, 16).ok()?;
                    Some((start, e.path()))
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Every file under the store whose name contains `.corrupt`.
pub fn corrupt_files(store: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![store.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.to_string_lossy().contains(".corrupt") {
                out.push(p);
            }
        }
    }
    out
}

// ---------------------------------------------------------------- export & checks

pub fn export(store: &Path, camera: &str, from: Option<&str>, to: Option<&str>, out: &Path) -> Output {
    let mut cmd = Command::new(bin());
    cmd.arg("export").arg("--store").arg(store).arg("--camera").arg(camera).arg("-o").arg(out);
    if let Some(f) = from {
        cmd.arg("--from").arg(f);
    }
    if let Some(t) = to {
        cmd.arg("--to").arg(t);
    }
    Proc::spawn("export", cmd).finish(Duration::from_secs(20))
}

/// `exported N frames, ...` of a successful export.
pub fn export_ok(store: &Path, camera: &str, from: Option<&str>, to: Option<&str>, out: &Path) -> i64 {
    let o = export(store, camera, from, to, out);
    assert!(o.success(), "export failed:\n{}", o.dump());
    o.assert_no_panic();
    o.stdout
        .lines()
        .find_map(|l| l.strip_prefix("exported ").and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok()))
        .unwrap_or_else(|| panic!("no 'exported N frames' line:\n{}", o.dump()))
}

#[derive(Debug)]
pub struct Probe {
    pub codec: String,
    pub width: i64,
    pub height: i64,
    pub frames: i64,
    pub stderr: String,
}

/// ffprobe of the first video stream, counting decoded frames.
pub fn ffprobe(path: &Path) -> Probe {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-count_frames", "-select_streams", "v:0"])
        .args(["-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ffprobe {} failed: {stderr}\n{stdout}", path.display());
    let field = |k: &str| -> String {
        let key = format!("\"{k}\":");
        let i = stdout.find(&key).unwrap_or_else(|| panic!("ffprobe output lacks {k}: {stdout}"));
        stdout[i + key.len()..]
            .trim_start()
            .trim_start_matches('"')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    Probe {
        codec: field("codec_name"),
        width: field("width").parse().unwrap(),
        height: field("height").parse().unwrap(),
        frames: field("nb_read_frames").parse().unwrap(),
        stderr,
    }
}

/// What `ffmpeg -v error -i path -f null -` printed (empty when it decodes cleanly).
pub fn ffmpeg_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let mut s = String::from_utf8_lossy(&out.stderr).into_owned();
    s.push_str(&String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        s.push_str(&format!("\n(exit {:?})", out.status));
    }
    s
}

/// Exports the whole camera and checks the MP4 fully: codec, size, clean
/// decode; returns (frames per export, frames per ffprobe).
pub fn export_and_check(store: &Path, camera: &str, out: &Path, codec: &str, size: (i64, i64)) -> (i64, Probe) {
    let exported = export_ok(store, camera, None, None, out);
    let p = ffprobe(out);
    assert_eq!(p.codec, codec, "{p:?}");
    assert_eq!((p.width, p.height), size, "{p:?}");
    assert!(p.stderr.trim().is_empty(), "ffprobe errors: {}", p.stderr);
    let errs = ffmpeg_errors(out);
    assert!(errs.trim().is_empty(), "ffmpeg decode errors:\n{errs}");
    assert_eq!(p.frames, exported, "ffprobe frames vs export's own count");
    (exported, p)
}

// ---------------------------------------------------------------- tmpfs

/// A tmpfs mounted for one test; unmounted on drop.
/// Runs `mount ARGS`; `Err` with mount's message when it fails (not root).
pub fn mount(args: &[&str]) -> Result<(), String> {
    let out = Command::new("mount").args(args).output().map_err(|e| format!("mount not runnable: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

pub struct Tmpfs {
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    /// `Err` with a reason when mounting is not possible here (not root, no CAP_SYS_ADMIN).
    pub fn mount(size: &str) -> Result<Tmpfs, String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let path = dir.path().to_str().ok_or("temporary path is not UTF-8")?.to_owned();
        mount(&["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs", &path])
            .map_err(|e| format!("mount -t tmpfs failed: {e}"))?;
        Ok(Tmpfs { dir })
    }

    /// The mount, or `None` after printing why the calling test is skipped.
    pub fn or_skip(size: &str, test: &str) -> Option<Tmpfs> {
        match Tmpfs::mount(size) {
            Ok(fs) => Some(fs),
            Err(why) => {
                eprintln!("SKIP {test}: {why}");
                None
            }
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(self.dir.path()).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
        }
    }
}

/// Asserts `|a - b| <= tol` with context.
#[track_caller]
pub fn assert_near(a: i64, b: i64, tol: i64, what: &str) {
    assert!((a - b).abs() <= tol, "{what}: {a} vs {b} differ by more than {tol}");
}

// ---------------------------------------------------------------- auth

/// Five `record` runs at once: password in the environment, in a file (user in the URL),
/// in the URL (refused), wrong password, none.
pub fn auth_cases(url: &str, port: u16, user: &str, password: &str) {
    // One store per run: a store has one writing process.
    let stores: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let pw_file = stores[0].path().join("camera-password");
    std::fs::write(&pw_file, format!("{password}\n")).unwrap();
    let url_user = format!("rtsp://{user}@127.0.0.1:{port}/cam0");
    let url_creds = format!("rtsp://{user}:{password}@127.0.0.1:{port}/cam0");
    let short = Duration::from_secs(12);
    let with_env = |store: &Path, cam: &str, pw: &str, extra: &[&str]| {
        let mut cmd = record_cmd(url, store, cam, extra);
        cmd.env("HOTSPARE_CAMERA_PASSWORD", pw);
        Proc::spawn("record", cmd).finish(short)
    };
    std::thread::scope(|sc| {
        let env = sc.spawn(|| with_env(stores[0].path(), "env", password, &["--duration", "3s", "--user", user]));
        let file = sc.spawn(|| {
            let f = pw_file.to_str().unwrap();
            record(&url_user, stores[1].path(), "file", &["--duration", "3s", "--password-file", f], short)
        });
        let in_url = sc.spawn(|| record(&url_creds, stores[2].path(), "inurl", &["--duration", "3s"], short));
        let wrong = sc.spawn(|| with_env(stores[3].path(), "wrong", "not-it", &["--duration", "2s", "--user", user]));
        let none = sc.spawn(|| record(url, stores[4].path(), "none", &["--duration", "2s"], short));
        for (name, h) in [("env", env), ("file", file)] {
            let o = h.join().unwrap();
            let s = expect_summary(&o);
            assert!(s.frames >= 25, "{name}: only {} frames in 3 s:\n{}", s.frames, o.dump());
        }
        let o = in_url.join().unwrap();
        assert!(!o.success(), "a password in the URL was accepted:\n{}", o.dump());
        o.assert_no_panic();
        assert!(
            o.all().contains("password in the URL refused") && o.all().contains("HOTSPARE_CAMERA_PASSWORD"),
            "{}",
            o.dump()
        );
        assert!(!o.all().contains(password), "the password leaked into the output:\n{}", o.dump());
        let o = wrong.join().unwrap();
        assert!(!o.success(), "wrong password recorded:\n{}", o.dump());
        o.assert_no_panic();
        assert!(o.all().contains("nothing recorded from"), "{}", o.dump());
        assert!(o.all().contains("rejected the credentials") && o.all().contains(user), "{}", o.dump());
        assert!(!o.all().contains("not-it"), "the password leaked into the output:\n{}", o.dump());
        let o = none.join().unwrap();
        assert!(!o.success(), "no credentials recorded:\n{}", o.dump());
        o.assert_no_panic();
        assert!(o.all().contains("requires authentication"), "{}", o.dump());
    });
}

/// A real SMTP server: `python3 -m aiosmtpd` (Debian's python3-aiosmtpd) on a free loopback
/// port, storing each message in a maildir; killed on drop.
pub struct Smtp {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
}

impl Smtp {
    pub fn start(dir: &Path) -> Smtp {
        let port = free_port();
        let maildir = dir.join("maildir");
        let child = Command::new("/usr/bin/python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start /usr/bin/python3 -m aiosmtpd (apt install python3-aiosmtpd): {e}")
            });
        let smtp = Smtp { child, port, maildir };
        wait_port(port, Duration::from_secs(40));
        smtp
    }

    pub fn messages(&self) -> Vec<String> {
        maildir_messages(&self.maildir)
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The messages of a maildir, oldest first: headers unfolded, the quoted-printable body's
/// soft line breaks joined (enough for the words tests look for).
pub fn maildir_messages(maildir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else { return Vec::new() };
    let mut v: Vec<(std::time::SystemTime, String)> = entries
        .filter_map(|e| {
            let e = e.ok()?;
            let t = e.metadata().ok()?.modified().ok()?;
            let text = std::fs::read_to_string(e.path()).ok()?.replace("\r\n", "\n");
            let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
            let body = body.replace("=\n", "").replace("=3D", "=");
            Some((t, format!("{}\n\n{body}", head.replace("\n ", " ").replace("\n\t", " "))))
        })
        .collect();
    v.sort();
    v.into_iter().map(|(_, m)| m).collect()
}
