//! A site on loopback for the demo and the failover benchmark: camera
//! simulator, NVR processes and a spare process, with their configs written
//! to a work directory and their APIs polled over HTTPS. Configs, pairing
//! (each box's certificate fingerprint read with `--fingerprint` and written
//! into its peers' configs) and what "taken over" and "failed back" mean come
//! from the site kit (`hotspare::kit`) the end-to-end tests use too; this
//! module drives it asynchronously.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hotspare::kit::{self, NvrSpec, SpareSpec};
use hotspare_api::spare::{NvrView, SpareStatus};
use hotspare_api::{NvrStatus, Recordings};
use rustix::process::Signal;

use crate::CliError;

fn kit_error(e: kit::KitError) -> CliError {
    CliError::new(e.to_string())
}

/// A child process in its own process group, killed (with its children)
/// when dropped.
pub struct Proc {
    child: Child,
}

impl Proc {
    pub fn spawn(name: &str, args: &[&str], log: &Path) -> Result<Proc, CliError> {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().map_err(|e| CliError::new(format!("own executable: {e}")))?;
        let out = std::fs::File::create(log).map_err(|e| CliError::new(format!("{}: {e}", log.display())))?;
        let err = out.try_clone().map_err(|e| CliError::new(e.to_string()))?;
        let child = Command::new(exe)
            .args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| CliError::new(format!("starting {name}: {e}")))?;
        Ok(Proc { child })
    }

    fn signal_group(&self, sig: Signal) {
        kit::signal_group(self.child.id(), sig);
    }

    /// SIGKILL to the whole process group (the NVR and its recorder child).
    pub fn kill_hard(&mut self) {
        self.signal_group(Signal::KILL);
        let _ = self.child.wait();
    }

    /// SIGTERM to the group, SIGKILL after 5 s.
    pub fn terminate(&mut self) {
        self.signal_group(Signal::TERM);
        for _ in 0..50 {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill_hard();
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            self.kill_hard();
        }
    }
}

/// The viewer account every process of the site has (`[[server.accounts]]` of the NVRs,
/// `[[account]]` of the spare): the site's own reads authenticate with it.
pub const SITE_VIEWER: (&str, &str) = ("site", "site-viewer-pw");

/// JSON over HTTPS to the processes of the site (accepting the site's pinned certificates), as
/// [`SITE_VIEWER`].
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
}

impl Http {
    pub fn new(pins: &[hotspare_tls::Fingerprint]) -> Result<Self, CliError> {
        let client = hotspare_tls::http_client_builder(pins)
            .map_err(|e| CliError::new(e.to_string()))?
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| CliError::new(format!("HTTP client: {e}")))?;
        Ok(Http { client })
    }

    pub async fn get<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, String> {
        let r = self.client.get(url).basic_auth(SITE_VIEWER.0, Some(SITE_VIEWER.1)).send().await;
        let r = r.map_err(|e| format!("{url}: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("{url}: HTTP {}", r.status()));
        }
        r.json().await.map_err(|e| format!("{url}: {e}"))
    }

    pub async fn bytes(&self, url: &str) -> Result<Vec<u8>, String> {
        let r = self.client.get(url).basic_auth(SITE_VIEWER.0, Some(SITE_VIEWER.1)).timeout(Duration::from_secs(60));
        let r = r.send().await.map_err(|e| format!("{url}: {e}"))?;
        if !r.status().is_success() {
            return Err(format!("{url}: HTTP {}", r.status()));
        }
        r.bytes().await.map(|b| b.to_vec()).map_err(|e| format!("{url}: {e}"))
    }

    pub async fn spare(&self, base: &str) -> Result<SpareStatus, String> {
        self.get(&format!("{base}{}", hotspare_api::api_path!("/status"))).await
    }

    pub async fn nvr(&self, base: &str) -> Result<NvrStatus, String> {
        self.get(&format!("{base}{}", hotspare_api::api_path!("/status"))).await
    }

    pub async fn recordings(&self, base: &str, camera: &str) -> Result<Recordings, String> {
        self.get(&format!("{base}{}?camera={camera}", hotspare_api::api_path!("/recordings"))).await
    }
}

/// Polls `f` every 200 ms until it returns `Some` or `limit` passes.
pub async fn wait_for<T, F, Fut>(limit: Duration, what: &str, mut f: F) -> Result<T, CliError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let t0 = tokio::time::Instant::now();
    loop {
        if let Some(v) = f().await {
            return Ok(v);
        }
        if t0.elapsed() > limit {
            return Err(CliError::new(format!("timed out after {limit:?} waiting for {what}")));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A running site: simulator, NVRs (2 cameras each) and one spare.
pub struct Site {
    pub dir: PathBuf,
    pub http: Http,
    pub nvrs: Vec<NvrSpec>,
    pub spare: String,
    /// The spare's certificate fingerprint (pinned in every NVR's config).
    pub spare_fingerprint: hotspare_tls::Fingerprint,
    procs: Vec<Proc>,
    _spare: Proc,
    sim: tokio::task::JoinHandle<Result<(), hotspare_sim::SimError>>,
}

impl Site {
    /// Starts a camera simulator, `nvr_count` NVRs with `cams_per_nvr`
    /// cameras each, and a spare in the fast profile.
    pub async fn start(dir: &Path, clip: &Path, nvr_count: u32, cams_per_nvr: u32) -> Result<Site, CliError> {
        std::fs::create_dir_all(dir).map_err(|e| CliError::new(format!("creating {}: {e}", dir.display())))?;
        let sim = hotspare_sim::bind(hotspare_sim::SimConfig {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            streams: nvr_count * cams_per_nvr,
            clip: clip.to_path_buf(),
            fps: 25,
            user: None,
            password: None,
            audio: true,
            session_timeout_s: 60,
            udp: hotspare_sim::UdpMode::Serve,
        })
        .await
        .map_err(|e| CliError::new(format!("camera simulator: {e}")))?;
        let cam_addr = sim.local_addr().to_string();
        let sim = tokio::spawn(sim.serve());
        let exe = std::env::current_exe().map_err(|e| CliError::new(format!("own executable: {e}")))?;
        let spare = SpareSpec {
            serial: "HS-DEMO".into(),
            port: kit::free_port().map_err(kit_error)?,
            dir: dir.to_path_buf(),
            config: dir.join("failover.toml"),
            extra: String::new(),
            viewer: (SITE_VIEWER.0.into(), SITE_VIEWER.1.into()),
        };
        let mut nvrs = Vec::new();
        for n in 0..nvr_count as usize {
            let cams = kit::site_cameras(n, cams_per_nvr as usize, &cam_addr);
            let mut nvr = NvrSpec::new(dir, n, kit::free_port().map_err(kit_error)?, cams);
            nvr.name = format!("NVR {}", nvr.id);
            nvr.serial = format!("SN-{}", nvr.id);
            nvr.admin_password = format!("demo-{}", nvr.id);
            nvr.extra = format!(
                "[[server.accounts]]\nuser = \"{}\"\nrole = \"viewer\"\npassword = \"{}\"\n",
                SITE_VIEWER.0, SITE_VIEWER.1
            );
            nvrs.push(nvr);
        }
        // Pairing: the spare's fingerprint into each NVR's config, theirs into the spare's.
        let spare_fingerprint = kit::pair(&exe, &spare, &mut nvrs).map_err(kit_error)?;
        let mut pins: Vec<_> = nvrs.iter().filter_map(|n| n.fingerprint).collect();
        pins.push(spare_fingerprint);
        let mut procs = Vec::new();
        for n in &nvrs {
            procs.push(Self::spawn_nvr(dir, n)?);
        }
        let spare_cfg = spare.config.display().to_string();
        let spare_proc =
            Proc::spawn("spare", &["failover", "--config", &spare_cfg, "--ssdp", "off"], &dir.join("spare.log"))?;
        Ok(Site {
            dir: dir.to_path_buf(),
            http: Http::new(&pins)?,
            nvrs,
            spare: spare.url(),
            spare_fingerprint,
            procs,
            _spare: spare_proc,
            sim,
        })
    }

    fn spawn_nvr(dir: &Path, n: &NvrSpec) -> Result<Proc, CliError> {
        let cfg = n.config.display().to_string();
        Proc::spawn(&n.id, &["nvr", "--config", &cfg], &dir.join(format!("{}.log", n.id)))
    }

    /// Waits until the spare holds every NVR's settings and every NVR records.
    pub async fn wait_healthy(&self) -> Result<(), CliError> {
        wait_for(Duration::from_secs(30), "the spare to sync every NVR's settings", || async {
            let s = self.http.spare(&self.spare).await.ok()?;
            kit::all_synced(&s).then_some(())
        })
        .await?;
        wait_for(Duration::from_secs(30), "every NVR to record", || async {
            for n in &self.nvrs {
                let s = self.http.nvr(&n.url()).await.ok()?;
                if !s.cameras.iter().all(|c| c.recording) {
                    return None;
                }
            }
            Some(())
        })
        .await
    }

    /// SIGKILL to NVR `i` and its recorder (a power cut); returns when.
    pub fn kill_nvr(&mut self, i: usize) -> i64 {
        let t = hotspare_base::clock::now_us();
        self.procs[i].kill_hard();
        t
    }

    pub fn restart_nvr(&mut self, i: usize) -> Result<i64, CliError> {
        let t = hotspare_base::clock::now_us();
        self.procs[i] = Self::spawn_nvr(&self.dir, &self.nvrs[i])?;
        Ok(t)
    }

    /// Waits until NVR `i` is taken over and every camera has a first frame on the spare.
    pub async fn wait_takeover(&self, i: usize) -> Result<NvrView, CliError> {
        let id = self.nvrs[i].id.clone();
        let cams = self.nvrs[i].cam_ids();
        wait_for(Duration::from_secs(30), &format!("the takeover of {id}"), || async {
            let s = self.http.spare(&self.spare).await.ok()?;
            let v = s.nvrs.into_iter().find(|n| n.id == id)?;
            kit::taken_over(&v, &cams).then_some(v)
        })
        .await
    }

    /// Waits until NVR `i` is failed back and re-insertion has finished.
    pub async fn wait_failback(&self, i: usize) -> Result<NvrView, CliError> {
        let id = self.nvrs[i].id.clone();
        wait_for(Duration::from_secs(90), &format!("failback and re-insertion of {id}"), || async {
            let s = self.http.spare(&self.spare).await.ok()?;
            let v = s.nvrs.into_iter().find(|n| n.id == id)?;
            kit::failed_back(&v).then_some(v)
        })
        .await
    }

    /// Stops every process of the site.
    pub fn stop(mut self) {
        for p in self.procs.iter_mut() {
            p.terminate();
        }
        self.sim.abort();
    }
}
