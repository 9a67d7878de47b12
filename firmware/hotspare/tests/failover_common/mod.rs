//! Harness of the failover end-to-end tests: a site on loopback made of real
//! processes — `hotspare sim-camera`, protected NVRs (`hotspare nvr`, API
//! process + recorder child, each NVR in its own process group) and one
//! spare (`hotspare failover`, fast profile: 1 s checks × 3) — with configs
//! written to a temporary directory, wait helpers that poll the spare's
//! `/api/v1/status`, kill/restart by process group, and the checks the
//! tests share (NVR timelines, MP4 exports, packet holes).
//!
//! Every wait panics with the spare's status and the tails of every log, so
//! a failure explains itself. Configs, pairing and the meaning of "taken over"
//! and "failed back" come from the site kit (`hotspare::kit`), which the demo
//! and the failover benchmark use too; this module drives it blocking.
#![allow(dead_code)]

use crate::common::mount;
use crate::common::{bin, free_port, now_us, wait_port, Proc, Sim};
use crate::nvr_common::{basic, box_fingerprint, pin, try_http, Resp};
use hotspare::kit;
pub use hotspare::kit::NvrSpec;
use hotspare_api::spare::{NvrView, SpareStatus};
use hotspare_api::{Location, NvrStatus, RecordingSpan, Recordings, Source};
use rustix::process::{Pid, Signal};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Frame duration of the fixture clip (25 fps), µs.
pub const FRAME_US: i64 = 40_000;
/// One GOP of the fixture clip (25 frames, 1 s), µs.
pub const GOP_US: i64 = 1_000_000;

pub fn secs(us: i64) -> f64 {
    us as f64 / 1e6
}

// ---------------------------------------------------------------- processes

/// A child in its own process group (`setpgid(0, 0)`), so the whole tree
/// (an NVR and its recorder) is signalled at once. SIGKILL to the group on drop.
pub struct Group {
    pub proc: Proc,
    pid: u32,
    alive: bool,
}

impl Group {
    pub fn spawn(name: &str, mut cmd: Command) -> Group {
        cmd.process_group(0);
        let proc = Proc::spawn(name, cmd);
        let pid = proc.pid();
        Group { proc, pid, alive: true }
    }

    /// Pid of the leader (= the process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    pub fn signal_group(&self, sig: Signal) {
        kit::signal_group(self.pid, sig);
    }

    /// SIGKILL to the whole group (a power cut), then reap the leader.
    pub fn kill_group(&mut self) {
        if self.alive {
            self.signal_group(Signal::KILL);
            self.proc.kill();
            self.alive = false;
        }
    }

    /// Everything the leader wrote so far (stdout, then stderr).
    pub fn log(&self) -> String {
        format!("{}{}", self.proc.stdout.text(), self.proc.stderr.text())
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.kill_group();
    }
}

/// `kill -SIG pid` for one process (not its group).
pub fn signal_pid(pid: u32, sig: Signal) {
    let p = Pid::from_raw(pid as i32).expect("pid");
    rustix::process::kill_process(p, sig).unwrap_or_else(|e| panic!("kill -{sig:?} {pid}: {e}"));
}

pub use crate::common::children;

fn tail(text: &str, lines: usize) -> String {
    let v: Vec<&str> = text.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

// ---------------------------------------------------------------- HTTP

/// GET with a short timeout; `Err` when the process does not answer.
pub fn try_get(port: u16, path: &str, headers: &[(String, String)]) -> Result<Resp, String> {
    try_http(port, "GET", path, headers, b"", Duration::from_secs(5))
}

/// GET that must answer (60 s timeout, e.g. MP4 exports), with `auth` (a [`basic`] header).
pub fn get_ok(port: u16, path: &str, auth: &(String, String)) -> Resp {
    let r = try_http(port, "GET", path, std::slice::from_ref(auth), b"", Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(r.status, 200, "GET {path}: {}", r.text());
    r
}

// ---------------------------------------------------------------- NVRs

/// The admin credentials of a protected NVR as an `Authorization` header.
pub trait NvrAdmin {
    fn admin(&self) -> (String, String);
}

impl NvrAdmin for NvrSpec {
    fn admin(&self) -> (String, String) {
        basic(&self.admin_user, &self.admin_password)
    }
}

/// A running `hotspare nvr` (API process leading its group, recorder child in it).
pub struct NvrProc {
    pub group: Group,
    pub port: u16,
    /// Admin `Authorization` header.
    pub auth: (String, String),
}

impl NvrProc {
    pub fn start(spec: &NvrSpec) -> NvrProc {
        if let Some(fp) = box_fingerprint("nvr", &spec.config) {
            pin(spec.port, fp);
        }
        let mut cmd = Command::new(bin());
        cmd.arg("nvr").arg("--config").arg(&spec.config);
        let group = Group::spawn(&format!("nvr {}", spec.id), cmd);
        let end = Instant::now() + Duration::from_secs(20);
        let auth = spec.admin();
        while try_get(spec.port, "/api/v1/status", std::slice::from_ref(&auth)).map(|r| r.status) != Ok(200) {
            assert!(Instant::now() < end, "nvr {} never answered\n{}", spec.id, group.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        NvrProc { group, port: spec.port, auth }
    }

    pub fn try_status(&self) -> Option<NvrStatus> {
        let r = try_get(self.port, "/api/v1/status", std::slice::from_ref(&self.auth)).ok()?;
        (r.status == 200).then(|| r.json())
    }

    /// Pid of the recorder child (waits up to 10 s for it).
    pub fn recorder_pid(&self) -> u32 {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(p) = children(self.group.pid()).first() {
                return *p;
            }
            assert!(Instant::now() < end, "no recorder child of {}", self.group.pid());
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

// ---------------------------------------------------------------- spare

/// A running `hotspare failover`.
pub struct SpareProc {
    pub group: Group,
    pub port: u16,
}

impl SpareProc {
    pub fn start(config: &Path, port: u16, ssdp: Option<u16>) -> SpareProc {
        if let Some(fp) = box_fingerprint("failover", config) {
            pin(port, fp);
        }
        let mut cmd = Command::new(bin());
        cmd.arg("failover").arg("--config").arg(config).arg("--ssdp");
        match ssdp {
            Some(p) => cmd.arg(format!("127.0.0.1:{p}")),
            None => cmd.arg("off"),
        };
        let group = Group::spawn("spare", cmd);
        let end = Instant::now() + Duration::from_secs(20);
        while try_get(port, "/api/v1/status", &[spare_viewer()]).map(|r| r.status) != Ok(200) {
            assert!(Instant::now() < end, "the spare never answered\n{}", group.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        SpareProc { group, port }
    }

    pub fn try_status(&self) -> Option<SpareStatus> {
        let r = try_get(self.port, "/api/v1/status", &[spare_viewer()]).ok()?;
        (r.status == 200).then(|| r.json())
    }
}

/// The viewer account of [`spare_config_text`].
pub const SPARE_VIEWER: (&str, &str) = ("watcher", "Sp4re-viewer");

/// `Authorization` header of [`SPARE_VIEWER`].
pub fn spare_viewer() -> (String, String) {
    basic(SPARE_VIEWER.0, SPARE_VIEWER.1)
}

/// The spare's config ([`kit::SpareSpec::text`]) with the [`SPARE_VIEWER`] account.
pub fn spare_config_text(serial: &str, port: u16, dir: &Path, nvrs: &[NvrSpec], spare_extra: &str) -> String {
    spare_spec(serial, port, dir, &dir.join("failover.toml"), spare_extra).text(nvrs)
}

fn spare_spec(serial: &str, port: u16, dir: &Path, config: &Path, extra: &str) -> kit::SpareSpec {
    kit::SpareSpec {
        serial: serial.into(),
        port,
        dir: dir.to_owned(),
        config: config.to_owned(),
        extra: extra.into(),
        viewer: (SPARE_VIEWER.0.into(), SPARE_VIEWER.1.into()),
    }
}

// ---------------------------------------------------------------- site

/// Simulator + NVRs + spare. Built with [`Site::prepare`] (nothing running),
/// adjusted through its pub fields, then [`Site::start`]ed.
pub struct Site {
    pub work: tempfile::TempDir,
    pub sim: Sim,
    pub nvrs: Vec<NvrSpec>,
    pub procs: Vec<Option<NvrProc>>,
    pub spare: Option<SpareProc>,
    pub spare_port: u16,
    pub spare_serial: String,
    pub spare_config: PathBuf,
    /// Extra lines of `[spare]` (e.g. `licence = ...`).
    pub spare_extra: String,
    /// `--ssdp 127.0.0.1:PORT` when set, `off` otherwise.
    pub ssdp: Option<u16>,
    /// Held while the site exists (the last field: released after every process is killed).
    _one_at_a_time: std::sync::MutexGuard<'static, ()>,
}

/// One site at a time per test binary. A site is a simulator, NVRs with their recorders and
/// a spare, all in real time; the tests of a group binary run on parallel threads, and two
/// sites at once on a small machine make takeover and failback times depend on the load.
fn one_site_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SITES: std::sync::Mutex<()> = std::sync::Mutex::new(());
    // A test that panicked with its site poisons the lock; the next site may still run.
    SITES.lock().unwrap_or_else(|e| e.into_inner())
}

impl Site {
    /// A simulator with `nvr_count * cams` streams and NVR specs `nvr1..` with
    /// `cams` cameras each (`cam0..` across the site), 4 s segments.
    pub fn prepare(nvr_count: usize, cams: usize) -> Site {
        Self::prepare_with(nvr_count, cams, &[])
    }

    /// As [`Site::prepare`], the simulator started with `sim_extra` too (e.g. `--audio`).
    pub fn prepare_with(nvr_count: usize, cams: usize, sim_extra: &[&str]) -> Site {
        let one_at_a_time = one_site_at_a_time();
        let work = tempfile::tempdir().unwrap();
        let sim_port = free_port();
        let streams = (nvr_count * cams).to_string();
        let mut sim_args = vec!["--streams", &streams];
        sim_args.extend_from_slice(sim_extra);
        let sim = Sim::start("h264", sim_port, &sim_args);
        let spare_port = free_port();
        let sim_addr = format!("127.0.0.1:{sim_port}");
        let nvrs = (0..nvr_count)
            .map(|n| NvrSpec::new(work.path(), n, free_port(), kit::site_cameras(n, cams, &sim_addr)))
            .collect::<Vec<_>>();
        let procs = nvrs.iter().map(|_| None).collect();
        Site {
            spare_config: work.path().join("failover.toml"),
            work,
            sim,
            nvrs,
            procs,
            spare: None,
            spare_port,
            spare_serial: "HS-T1".into(),
            spare_extra: String::new(),
            ssdp: None,
            _one_at_a_time: one_at_a_time,
        }
    }

    pub fn dir(&self) -> &Path {
        self.work.path()
    }

    /// Writes every config, paired as an installer does (each box's fingerprint, read with
    /// `--fingerprint`, into its peers' configs), and starts the NVRs, then the spare.
    pub fn start(&mut self) {
        self.start_nvrs();
        self.start_spare();
    }

    /// Writes and pairs every config as [`Site::start`] does and starts the NVRs only (the
    /// spare then runs from `spare_config` under a supervisor, say).
    pub fn start_nvrs(&mut self) {
        let spare = spare_spec(&self.spare_serial, self.spare_port, self.dir(), &self.spare_config, &self.spare_extra);
        kit::pair(Path::new(bin()), &spare, &mut self.nvrs).unwrap_or_else(|e| panic!("pairing the site: {e}"));
        for i in 0..self.nvrs.len() {
            self.procs[i] = Some(NvrProc::start(&self.nvrs[i]));
        }
    }

    /// Takes as the site's spare a `group` that runs it (a supervisor started by the test):
    /// waits for its API, then for a healthy site.
    pub fn adopt_spare(&mut self, group: Group) {
        let end = Instant::now() + Duration::from_secs(30);
        while try_get(self.spare_port, "/api/v1/status", &[spare_viewer()]).map(|r| r.status) != Ok(200) {
            assert!(Instant::now() < end, "the spare never answered\n{}", group.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        self.spare = Some(SpareProc { group, port: self.spare_port });
        self.wait_healthy();
    }

    pub fn start_spare(&mut self) {
        self.spare = Some(SpareProc::start(&self.spare_config, self.spare_port, self.ssdp));
    }

    /// SIGKILL to the spare's process group; returns when (µs).
    pub fn kill_spare(&mut self) -> i64 {
        let t = now_us();
        if let Some(s) = self.spare.as_mut() {
            s.group.kill_group();
        }
        t
    }

    pub fn nvr(&self, i: usize) -> &NvrProc {
        self.procs[i].as_ref().expect("NVR running")
    }

    /// SIGKILL to NVR `i`'s process group (API + recorder: a power cut); returns when (µs).
    pub fn kill_nvr(&mut self, i: usize) -> i64 {
        let t = now_us();
        if let Some(mut p) = self.procs[i].take() {
            p.group.kill_group();
        }
        t
    }

    /// Starts NVR `i` again with the same config; returns when (µs).
    pub fn restart_nvr(&mut self, i: usize) -> i64 {
        let t = now_us();
        self.procs[i] = Some(NvrProc::start(&self.nvrs[i]));
        t
    }

    pub fn spare_status(&self) -> Option<SpareStatus> {
        self.spare.as_ref()?.try_status()
    }

    pub fn view(&self, i: usize) -> Option<NvrView> {
        let id = &self.nvrs[i].id;
        self.spare_status()?.nvrs.into_iter().find(|n| &n.id == id)
    }

    pub fn spare_log(&self) -> String {
        self.spare.as_ref().map(|s| s.group.log()).unwrap_or_default()
    }

    /// The spare's status and the last lines of every log.
    pub fn dump(&self) -> String {
        let mut s = format!("--- spare status\n{:#?}\n", self.spare_status());
        s.push_str(&format!("--- spare log (tail)\n{}\n", tail(&self.spare_log(), 60)));
        for (n, p) in self.nvrs.iter().zip(&self.procs) {
            if let Some(p) = p {
                s.push_str(&format!("--- {} log (tail)\n{}\n", n.id, tail(&p.group.log(), 30)));
            }
        }
        s
    }

    /// Polls NVR `i`'s view on the spare every 100 ms until `pred` holds.
    pub fn wait_view(&self, i: usize, timeout: Duration, what: &str, pred: impl Fn(&NvrView) -> bool) -> NvrView {
        let end = Instant::now() + timeout;
        loop {
            if let Some(v) = self.view(i) {
                if pred(&v) {
                    return v;
                }
            }
            if Instant::now() > end {
                panic!("waited {timeout:?} for {what} ({})\n{}", self.nvrs[i].id, self.dump());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until the spare holds every NVR's settings (watching) and every NVR records.
    pub fn wait_healthy(&self) {
        let end = Instant::now() + Duration::from_secs(30);
        loop {
            let synced = self.spare_status().is_some_and(|s| kit::all_synced(&s));
            let recording = self.procs.iter().flatten().all(|p| {
                p.try_status().is_some_and(|s| !s.cameras.is_empty() && s.cameras.iter().all(|c| c.recording))
            });
            if synced && recording {
                // Starting together is not a failure: no takeover of an NVR that is still starting.
                let s = self.spare_status().unwrap_or_default();
                assert!(s.nvrs.iter().all(|n| n.takeovers.is_empty()), "takeover at start-up\n{}", self.dump());
                return;
            }
            if Instant::now() > end {
                panic!("site not healthy after 30 s (synced {synced}, recording {recording})\n{}", self.dump());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Waits until NVR `i` is taken over and the spare has a first frame of each of its cameras.
    pub fn wait_takeover(&self, i: usize, timeout: Duration) -> NvrView {
        let cams = self.nvrs[i].cam_ids();
        self.wait_view(i, timeout, "takeover with every camera recorded on the spare", |v| kit::taken_over(v, &cams))
    }

    /// Waits until NVR `i` is failed back (watching, failback time set) and re-insertion finished.
    pub fn wait_failback(&self, i: usize, timeout: Duration) -> NvrView {
        self.wait_view(i, timeout, "failback and re-insertion", kit::failed_back)
    }

    /// Asserts that NVR `i` stays watching with no takeover for `dur`, returning how many
    /// checks the spare made meanwhile and the most misses in a row it showed.
    pub fn watch_no_takeover(&self, i: usize, dur: Duration) -> (usize, u32) {
        let end = Instant::now() + dur;
        let mut checks = std::collections::BTreeSet::new();
        let mut max_misses = 0;
        while Instant::now() < end {
            let v = self.view(i).unwrap_or_else(|| panic!("spare does not answer\n{}", self.dump()));
            assert!(
                v.phase == "watching" && v.takeovers.is_empty() && v.recording.is_empty(),
                "{} was taken over: {v:#?}\n{}",
                v.id,
                self.dump()
            );
            if let Some(t) = v.last_check_us {
                checks.insert(t);
            }
            max_misses = max_misses.max(v.misses);
            std::thread::sleep(Duration::from_millis(100));
        }
        (checks.len(), max_misses)
    }

    /// The NVR's timeline of `cam`.
    pub fn recordings(&self, i: usize, cam: &str) -> Recordings {
        get_ok(self.nvrs[i].port, &format!("/api/v1/recordings?camera={cam}"), &self.nvrs[i].admin()).json()
    }

    /// The spare's held timeline of NVR `i`'s `cam` (not yet re-inserted).
    pub fn held(&self, i: usize, cam: &str) -> Recordings {
        let spare = self.spare.as_ref().expect("spare running");
        get_ok(spare.port, &format!("/api/v1/held/{}/recordings?camera={cam}", self.nvrs[i].id), &spare_viewer()).json()
    }

    /// Downloads NVR `i`'s MP4 of `cam` over `[from, to]` (µs) to `out`.
    pub fn export(&self, i: usize, cam: &str, from: i64, to: i64, out: &Path) {
        let path = format!("/api/v1/recordings/{cam}.mp4?from={from}&to={to}");
        let r = get_ok(self.nvrs[i].port, &path, &self.nvrs[i].admin());
        std::fs::write(out, &r.body).unwrap();
    }

    /// GET on the spare with Basic credentials.
    pub fn whoami(&self, user: &str, password: &str) -> Resp {
        let spare = self.spare.as_ref().expect("spare running");
        try_get(spare.port, "/api/v1/whoami", &[basic(user, password)]).unwrap_or_else(|e| panic!("{e}"))
    }
}

// ---------------------------------------------------------------- checks

/// Failover spans of a timeline.
pub fn failover_spans(r: &Recordings) -> Vec<&RecordingSpan> {
    r.spans.iter().filter(|s| s.source == Source::Failover).collect()
}

/// Frames of the failover spans stored on the NVR itself.
pub fn failover_frames_on_nvr(r: &Recordings) -> u64 {
    r.spans.iter().filter(|s| s.source == Source::Failover && s.location == Location::Nvr).map(|s| s.frames).sum()
}

/// The largest hole between spans within `[from, to]`, µs (spans may overlap).
pub fn largest_span_gap(spans: &[RecordingSpan], from: i64, to: i64) -> i64 {
    let mut s: Vec<&RecordingSpan> = spans.iter().filter(|s| s.end_us > from && s.start_us < to).collect();
    s.sort_by_key(|s| s.start_us);
    let Some(first) = s.first() else { return to - from };
    let mut gap = (first.start_us - from).max(0);
    let mut covered = first.end_us;
    for span in &s[1..] {
        gap = gap.max(span.start_us - covered);
        covered = covered.max(span.end_us);
    }
    gap.max(to - covered)
}

/// `(pts, duration)` in µs of every video packet per ffprobe.
pub fn packets(path: &Path) -> Vec<(i64, i64)> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,duration_time"])
        .args(["-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.trim().is_empty(), "ffprobe packets of {}: {err}", path.display());
    let us = |s: &str| (s.trim().parse::<f64>().unwrap_or_else(|_| panic!("bad time {s:?}")) * 1e6).round() as i64;
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (p, d) = l.split_once(',').unwrap_or_else(|| panic!("ffprobe line {l:?}"));
            (us(p), us(d))
        })
        .collect()
}

/// What `ffmpeg -v error` prints decoding the whole file (empty when clean). The output keeps
/// the input's 90 kHz time base (`-enc_time_base -1`): an export stretches the frame before a
/// gap, so its frames are not on a 25 fps grid, and ffmpeg's default 1/25 time base for the
/// null output rounds two frames 1 tick (11 µs) off the grid onto one timestamp and reports
/// "non monotonically increasing dts" about its own output, not the file.
pub fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-enc_time_base:v", "-1", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    let mut s = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        s.push_str(&format!("\n(exit {:?})", out.status));
    }
    s
}

/// Asserts that packet timestamps strictly increase and every packet lasts > 0.
#[track_caller]
pub fn assert_monotonic(pk: &[(i64, i64)], what: &str) {
    for (i, w) in pk.windows(2).enumerate() {
        assert!(w[1].0 > w[0].0 && w[0].1 > 0, "{what}: packet {i} {:?} then {:?}", w[0], w[1]);
    }
}

/// Frames and segments in a spare's (or any) store directory for one NVR, read from disk.
pub fn store_frames(root: &Path) -> (u64, u64) {
    if !root.exists() {
        return (0, 0);
    }
    let store = hotspare_store::Store::open_readonly(root).expect("open store read-only");
    let (mut frames, mut segs) = (0u64, 0u64);
    for cam in store.cameras() {
        for s in store.segments(&cam).unwrap() {
            frames += u64::from(s.frames);
            segs += 1;
        }
    }
    (frames, segs)
}

/// `*.origin` sidecars (re-inserted segments) under a store root, counted on disk.
pub fn origin_files(root: &Path) -> usize {
    let mut n = 0;
    for cam in std::fs::read_dir(root).into_iter().flatten().flatten() {
        if cam.path().is_dir() {
            n += std::fs::read_dir(cam.path())
                .into_iter()
                .flatten()
                .flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".origin"))
                .count();
        }
    }
    n
}

/// A read-only bind mount of a directory over itself (as after `errors=remount-ro`: every
/// new open for writing through the path fails with EROFS); unmounted on drop.
pub struct ReadOnlyBind {
    pub dir: PathBuf,
}

impl ReadOnlyBind {
    /// `Err` with the reason when this machine does not allow mounts (not root).
    pub fn over(dir: &Path) -> Result<ReadOnlyBind, String> {
        let d = dir.to_str().unwrap();
        mount(&["--bind", d, d])?;
        let rb = ReadOnlyBind { dir: dir.to_owned() };
        mount(&["-o", "remount,bind,ro", d])?;
        Ok(rb)
    }
}

impl Drop for ReadOnlyBind {
    fn drop(&mut self) {
        let ok = Command::new("umount").arg(&self.dir).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
        }
    }
}

/// Bytes `(size, available)` of the filesystem holding `path`.
pub fn fs_space(path: &Path) -> (u64, u64) {
    let st = rustix::fs::statvfs(path).expect("statvfs");
    (st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize)
}

/// Fills the filesystem of `dir` with a non-video file until `leave` bytes are available
/// (or the volume is full); returns the bytes written.
pub fn fill(dir: &Path, leave: u64) -> u64 {
    use std::io::Write;
    let (_, avail) = fs_space(dir);
    let want = avail.saturating_sub(leave);
    let mut f = std::fs::File::create(dir.join("not-video.bin")).unwrap();
    let chunk = vec![0x5au8; 64 * 1024];
    let mut written = 0u64;
    while written < want {
        let n = chunk.len().min((want - written) as usize);
        match f.write_all(&chunk[..n]) {
            Ok(()) => written += n as u64,
            Err(_) => break,
        }
    }
    let _ = f.sync_all();
    written
}

/// Port of a fresh UDP socket on loopback for SSDP.
pub fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Sends a unicast `M-SEARCH` (`ST: ssdp:all`, no MX: answered at once) to `port` and
/// collects the answers that arrive within `wait`.
pub fn msearch(port: u16, wait: Duration) -> Vec<String> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let req = "M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: \"ssdp:discover\"\r\nST: ssdp:all\r\n\r\n";
    s.send_to(req.as_bytes(), ("127.0.0.1", port)).unwrap();
    let end = Instant::now() + wait;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return out;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.recv_from(&mut buf) {
            Ok((n, _)) => out.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(_) => return out,
        }
    }
}

/// Value of header `name` in an SSDP/HTTP message.
pub fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// Runs `hotspare failover --config cfg --ssdp off` expecting it to exit; returns the output.
pub fn failover_exits(cfg: &Path) -> crate::common::Output {
    let mut cmd = Command::new(bin());
    cmd.arg("failover").arg("--config").arg(cfg).arg("--ssdp").arg("off");
    Proc::spawn("failover", cmd).finish(Duration::from_secs(15))
}

pub fn wait_tcp(port: u16) {
    wait_port(port, Duration::from_secs(10));
}
