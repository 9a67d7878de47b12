//! The site kit (development tools only): what the demo, the failover benchmark and the
//! end-to-end tests share to run a site on loopback — the protected NVRs' and the spare's
//! configs, pairing them by certificate fingerprint as an installer does, killing a box's
//! whole process group (an NVR and its recorder: a power cut), and the spare's views that
//! mean "healthy", "taken over" and "failed back". Each user drives the site its own way:
//! the demo and the benchmark asynchronously over reqwest (`site.rs` of the binary), the
//! tests blocking with their own HTTP client and captured logs (`tests/failover_common`).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use hotspare_api::spare::{NvrView, SpareStatus};
use rustix::process::{kill_process_group, Pid, Signal};

/// What went wrong setting up a site.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("hotspare {what} --fingerprint: {problem}")]
    Fingerprint { what: String, problem: String },
}

fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> KitError {
    let what = what.to_string();
    move |source| KitError::Io { what, source }
}

/// A free loopback port (TCP and UDP) for a server started later.
///
/// Chosen below the kernel's ephemeral range (`ip_local_port_range`), so no
/// outgoing connection can take it between now and the server's bind (a port
/// from `bind(":0")` is an ephemeral one: under load another process's
/// connection took it before the server started, and a test failed with
/// "Address already in use"). Successive calls in one process give distinct
/// ports; processes start at different places (by pid). Falls back to an
/// ephemeral port when the range below is too small.
pub fn free_port() -> Result<u16, KitError> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const LOW: u32 = 15_000;
    let high = ephemeral_low().unwrap_or(32_768);
    if high > LOW + 1_000 {
        let span = high - LOW;
        let start = std::process::id().wrapping_mul(7_919) % span;
        for _ in 0..span.min(2_000) {
            let port = (LOW + (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span) as u16;
            let tcp = TcpListener::bind(("127.0.0.1", port));
            if tcp.is_ok() && std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
                return Ok(port);
            }
        }
    }
    let l = TcpListener::bind("127.0.0.1:0").map_err(io("a free port"))?;
    l.local_addr().map(|a| a.port()).map_err(io("a free port"))
}

/// The first port of the kernel's ephemeral range.
fn ephemeral_low() -> Option<u32> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
    range.split_whitespace().next()?.parse().ok()
}

/// Writes a file that holds passwords (a config): created with mode 0600, readable only by
/// the user running the site.
pub fn write_private(path: &Path, text: &str) -> Result<(), KitError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(path.display())(e)),
    }
    let mut f =
        std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io(path.display()))?;
    f.write_all(text.as_bytes()).map_err(io(path.display()))
}

/// `EXE ROLE --config CONFIG --fingerprint` (`role`: `nvr` or `failover`): the box's
/// certificate fingerprint, made if there is none yet.
pub fn box_fingerprint(exe: &Path, role: &str, config: &Path) -> Result<hotspare_tls::Fingerprint, KitError> {
    let what = format!("{role} --config {}", config.display());
    let fail = |problem: String| KitError::Fingerprint { what: what.clone(), problem };
    let out = Command::new(exe)
        .arg(role)
        .arg("--config")
        .arg(config)
        .arg("--fingerprint")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| fail(e.to_string()))?;
    if !out.status.success() {
        return Err(fail(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    String::from_utf8_lossy(&out.stdout).trim().parse().map_err(|e| fail(format!("{e}")))
}

/// Signal to a whole process group (a box started in its own group: the NVR and its recorder).
pub fn signal_group(leader_pid: u32, sig: Signal) {
    if let Some(pid) = i32::try_from(leader_pid).ok().and_then(Pid::from_raw) {
        let _ = kill_process_group(pid, sig);
    }
}

/// The cameras of NVR `n` (0-based) of a site where every NVR has `per_nvr` cameras of one
/// simulator at `sim` (`HOST:PORT`): `(camN, rtsp://sim/camN)`, numbered across the site.
pub fn site_cameras(n: usize, per_nvr: usize, sim: &str) -> Vec<(String, String)> {
    (n * per_nvr..(n + 1) * per_nvr).map(|i| (format!("cam{i}"), format!("rtsp://{sim}/cam{i}"))).collect()
}

/// What one protected NVR's `nvr.toml` says. Edit the fields before [`pair`].
#[derive(Clone, Debug)]
pub struct NvrSpec {
    pub id: String,
    pub name: String,
    pub serial: String,
    pub port: u16,
    pub admin_user: String,
    pub admin_password: String,
    pub storage: PathBuf,
    pub segment_seconds: u32,
    /// Extra lines of `[storage]` (e.g. `raid_device`, `mdstat`).
    pub storage_extra: String,
    /// Extra tables at the end (e.g. `[[server.accounts]]`, `[email]`, `[[event]]`).
    pub extra: String,
    pub upnp: bool,
    /// `(camera id, RTSP URL)`.
    pub cams: Vec<(String, String)>,
    /// Priority in the spare's config.
    pub priority: u32,
    pub config: PathBuf,
    /// This NVR's certificate fingerprint, pinned in the spare's config ([`pair`]).
    pub fingerprint: Option<hotspare_tls::Fingerprint>,
    /// The spare's, pinned in this NVR's config ([`pair`]).
    pub spare_fingerprint: Option<hotspare_tls::Fingerprint>,
}

impl NvrSpec {
    /// NVR `n` (0-based) of a site in `dir`: id `nvr{n+1}`, config and store in `dir`,
    /// 4 s segments, UPnP on, priority `n + 1`.
    pub fn new(dir: &Path, n: usize, port: u16, cams: Vec<(String, String)>) -> NvrSpec {
        let id = format!("nvr{}", n + 1);
        NvrSpec {
            name: format!("NVR Hall {}", n + 1),
            serial: format!("NVR-000{}", n + 1),
            port,
            admin_user: "admin".into(),
            admin_password: format!("pw-{id}-s3cret"),
            storage: dir.join(format!("{id}-store")),
            segment_seconds: 4,
            storage_extra: String::new(),
            extra: String::new(),
            upnp: true,
            cams,
            priority: n as u32 + 1,
            config: dir.join(format!("{id}.toml")),
            fingerprint: None,
            spare_fingerprint: None,
            id,
        }
    }

    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    pub fn cam_ids(&self) -> Vec<String> {
        self.cams.iter().map(|c| c.0.clone()).collect()
    }

    /// The `nvr.toml` text, with the spare at 127.0.0.1:`spare_port`.
    pub fn text(&self, spare_port: u16) -> String {
        let mut t = format!(
            "[server]\nname = \"{}\"\nserial = \"{}\"\nlisten = \"127.0.0.1:{}\"\nadmin_user = \"{}\"\n\
             admin_password = \"{}\"\nupnp = {}\n\n[storage]\ndir = \"{}\"\nsegment_seconds = {}\n{}\n\
             [failover]\nspares = [\"https://127.0.0.1:{spare_port}\"]\n",
            self.name,
            self.serial,
            self.port,
            self.admin_user,
            self.admin_password,
            self.upnp,
            self.storage.display(),
            self.segment_seconds,
            self.storage_extra,
        );
        if let Some(fp) = &self.spare_fingerprint {
            t.push_str(&format!("fingerprints = [\"{fp}\"]\n"));
        }
        for (id, url) in &self.cams {
            t.push_str(&format!("\n[[camera]]\nid = \"{id}\"\nname = \"Camera {id}\"\nurl = \"{url}\"\n"));
        }
        t.push('\n');
        t.push_str(&self.extra);
        t
    }
}

/// What the spare's `failover.toml` says (its NVRs come from their [`NvrSpec`]s).
#[derive(Clone, Debug)]
pub struct SpareSpec {
    pub serial: String,
    pub port: u16,
    /// Where its store and state directories are.
    pub dir: PathBuf,
    pub config: PathBuf,
    /// Extra lines of `[spare]` (e.g. `licence = ...`).
    pub extra: String,
    /// Its viewer account `(user, password)`.
    pub viewer: (String, String),
}

impl SpareSpec {
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// The spare's `[spare]` and `[monitor]` tables in the fast profile, its viewer account,
    /// plus one `[[nvr]]` per NVR (admin credentials as the NVRs have them, pinned when the
    /// NVR's fingerprint is known).
    pub fn text(&self, nvrs: &[NvrSpec]) -> String {
        let mut t = format!(
            "[spare]\nname = \"spare-1\"\nserial = \"{}\"\nlisten = \"127.0.0.1:{}\"\n\
             store = \"{}\"\nstate = \"{}\"\n{}\n[monitor]\nprofile = \"fast\"\n\n\
             [[account]]\nuser = \"{}\"\nrole = \"viewer\"\npassword = \"{}\"\n",
            self.serial,
            self.port,
            self.dir.join("spare-store").display(),
            self.dir.join("spare-state").display(),
            self.extra,
            self.viewer.0,
            self.viewer.1
        );
        for n in nvrs {
            t.push_str(&format!(
                "\n[[nvr]]\nid = \"{}\"\nurl = \"{}\"\nadmin_user = \"{}\"\nadmin_password = \"{}\"\npriority = {}\n",
                n.id,
                n.url(),
                n.admin_user,
                n.admin_password,
                n.priority
            ));
            if let Some(fp) = &n.fingerprint {
                t.push_str(&format!("fingerprint = \"{fp}\"\n"));
            }
        }
        t
    }
}

/// Writes every config, paired as an installer does: the spare's fingerprint (read with
/// `exe failover --fingerprint`) into each NVR's config, each NVR's (`exe nvr --fingerprint`)
/// into the spare's. Returns the spare's fingerprint; the NVRs' are in their specs.
pub fn pair(exe: &Path, spare: &SpareSpec, nvrs: &mut [NvrSpec]) -> Result<hotspare_tls::Fingerprint, KitError> {
    write_private(&spare.config, &spare.text(&[]))?;
    let spare_fp = box_fingerprint(exe, "failover", &spare.config)?;
    for n in nvrs.iter_mut() {
        n.spare_fingerprint = Some(spare_fp);
        write_private(&n.config, &n.text(spare.port))?;
        n.fingerprint = Some(box_fingerprint(exe, "nvr", &n.config)?);
    }
    write_private(&spare.config, &spare.text(nvrs))?;
    Ok(spare_fp)
}

/// The spare holds every NVR's settings and watches each.
pub fn all_synced(s: &SpareStatus) -> bool {
    s.nvrs.iter().all(|n| n.snapshot_us.is_some() && n.phase == "watching")
}

/// The NVR is taken over and the spare records exactly `cams`, each with a first frame.
pub fn taken_over(v: &NvrView, cams: &[String]) -> bool {
    let mut rec = v.recording.clone();
    rec.sort();
    let mut cams = cams.to_vec();
    cams.sort();
    v.phase == "taken_over" && rec == cams && cams.iter().all(|c| v.first_frame_us.get(c).is_some_and(|f| f.is_some()))
}

/// The NVR is failed back (watching, failback time set) and re-insertion has finished.
pub fn failed_back(v: &NvrView) -> bool {
    v.phase == "watching" && v.reinsert.finished && v.takeovers.last().is_some_and(|t| t.failback_us.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_ports_are_distinct_bindable_and_below_the_ephemeral_range() {
        let low = ephemeral_low().unwrap_or(32_768);
        let ports: Vec<u16> = (0..50).map(|_| free_port().expect("a free port")).collect();
        let mut unique = ports.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
        for p in ports {
            assert!(u32::from(p) < low || low <= 16_000, "{p} in the ephemeral range from {low}");
            TcpListener::bind(("127.0.0.1", p)).expect("the port binds");
        }
    }

    fn site(dir: &Path) -> (SpareSpec, Vec<NvrSpec>) {
        let spare = SpareSpec {
            serial: "HS-T1".into(),
            port: 7443,
            dir: dir.to_owned(),
            config: dir.join("failover.toml"),
            extra: String::new(),
            viewer: ("watcher".into(), "Sp4re-viewer".into()),
        };
        let nvrs =
            (0..2).map(|n| NvrSpec::new(dir, n, 8443 + n as u16, site_cameras(n, 2, "127.0.0.1:8554"))).collect();
        (spare, nvrs)
    }

    #[test]
    fn the_configs_of_a_site_load_as_the_boxes_read_them() {
        let dir = tempfile::tempdir().unwrap();
        let (spare, mut nvrs) = site(dir.path());
        let fp = hotspare_tls::Fingerprint([7; 32]);
        nvrs[0].fingerprint = Some(fp);
        nvrs[1].spare_fingerprint = Some(fp);
        let cfg = hotspare_failover::config::Config::parse(&spare.text(&nvrs), &spare.config).unwrap();
        assert_eq!(cfg.nvrs.len(), 2);
        assert_eq!(cfg.nvrs[1].url, "https://127.0.0.1:8444");
        assert_eq!(cfg.nvrs[0].fingerprint, Some(fp));
        assert_eq!(cfg.nvrs[1].fingerprint, None);
        let nvr = hotspare_nvr::NvrConfig::parse(&nvrs[1].config, &nvrs[1].text(spare.port)).unwrap();
        let cams: Vec<_> = nvr.cameras.iter().map(|c| c.id.clone()).collect();
        assert_eq!(cams, ["cam2", "cam3"]);
        assert_eq!(nvr.cameras[0].url, "rtsp://127.0.0.1:8554/cam2");
    }

    #[test]
    fn taken_over_means_every_camera_of_the_nvr_has_a_first_frame_on_the_spare() {
        let cams = vec!["cam0".to_string(), "cam1".to_string()];
        let mut v =
            NvrView { phase: "taken_over".into(), recording: vec!["cam1".into(), "cam0".into()], ..Default::default() };
        v.first_frame_us.insert("cam0".into(), Some(1));
        v.first_frame_us.insert("cam1".into(), None);
        assert!(!taken_over(&v, &cams), "cam1 has no frame yet");
        v.first_frame_us.insert("cam1".into(), Some(2));
        assert!(taken_over(&v, &cams));
        v.recording.pop();
        assert!(!taken_over(&v, &cams), "cam0 is not recorded");
    }

    #[test]
    fn failed_back_needs_the_failback_time_and_finished_reinsertion() {
        let mut v = NvrView { phase: "watching".into(), ..Default::default() };
        v.takeovers.push(hotspare_api::spare::TakeoverRecord { at_us: 1, reason: "down".into(), failback_us: None });
        v.reinsert.finished = true;
        assert!(!failed_back(&v));
        v.takeovers[0].failback_us = Some(2);
        assert!(failed_back(&v));
        v.reinsert.finished = false;
        assert!(!failed_back(&v));
    }
}
