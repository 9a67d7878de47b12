//! `hotspare update --settings /data/settings --state /data/update --failover-config F`:
//! the fleet-update agent as a service (the supervisor runs it). The decisions are
//! `hotspare_update::Agent`'s; this module does the I/O its effects ask for: HTTP
//! ([`fetch`]), RAUC ([`rauc`]), the reboot program, and the files:
//!
//! - `<state>/update.json`: the agent's status (what `hotspare status` and the console show);
//! - `<state>/memory.json`: what it remembers across reboots (the attempted version, refused
//!   bundles), written atomically before it acts on it;
//! - `<state>/download/`: the bundle being downloaded (resumed after a restart).
//!
//! The manifest URL and interval are the settings' `[update]` (re-read every 10 s; empty URL:
//! no updates, state `off`). Covering is the spare's state directory (from `--failover-config`),
//! read every second and again right before a reboot. Design: docs/design/update.md.

mod fetch;
mod rauc;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hotspare_settings::SettingsStore;
use hotspare_update::{Agent, AgentConfig, Effect, Input, Memory, Now};

use crate::CliError;

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// The settings directory (its `[update]` names the manifest).
    #[arg(long, default_value = "/data/settings")]
    pub settings: PathBuf,
    /// The agent's own directory (status, memory, download); on the data partition.
    #[arg(long, default_value = "/data/update")]
    pub state: PathBuf,
    /// The spare's failover.toml: its state directory says whether it is covering an NVR
    /// (without it the box is never considered covering: an NVR-role box).
    #[arg(long)]
    pub failover_config: Option<PathBuf>,
    /// RAUC's system configuration (this box's `compatible`).
    #[arg(long, default_value = "/etc/rauc/system.conf")]
    pub rauc_conf: PathBuf,
    /// The rauc program.
    #[arg(long, default_value = "rauc")]
    pub rauc: PathBuf,
    /// The version this slot runs (one line, written into the root file system by the build).
    #[arg(long, default_value = "/etc/hotspare/version")]
    pub version_file: PathBuf,
    /// Program run (no arguments) to restart into the new slot.
    #[arg(long, default_value = "/sbin/reboot")]
    pub reboot: PathBuf,
    /// This box's identity for the rollout stages (default: the licence's box id).
    #[arg(long)]
    pub box_id: Option<String>,
    /// Overrides the settings' `update.check_every_s` (tests; a fleet operator's quick check).
    #[arg(long, value_parser = humantime::parse_duration)]
    pub check_every: Option<Duration>,
    /// The first retry after a failed check or download (doubling up to the interval).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub retry: Duration,
}

/// What the settings say (`None`: updates off).
fn update_settings(store: &SettingsStore, every: Option<Duration>) -> Option<(String, Duration)> {
    let cur = store.current().ok()?;
    let u = cur.settings.update;
    let every = every.unwrap_or(Duration::from_secs(u64::from(u.check_every_s)));
    (!u.manifest_url.is_empty()).then_some((u.manifest_url, every))
}

pub async fn run(a: UpdateArgs) -> Result<(), CliError> {
    let installed = std::fs::read_to_string(&a.version_file)
        .map_err(|e| CliError::new(format!("{}: {e} (the version this slot runs)", a.version_file.display())))?
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if installed.is_empty() {
        return Err(CliError::new(format!("{}: empty (the version this slot runs)", a.version_file.display())));
    }
    let compatible = rauc::compatible(&a.rauc_conf).map_err(CliError::new)?;
    // Without an identity the box is in the last rollout bucket (takes a version at 100 %).
    let box_id = match a.box_id.clone() {
        Some(id) => Some(id),
        None => hotspare_failover::licence::box_id()
            .inspect_err(|e| log::warn!("update: no box identity ({e}): staged versions reach this box last"))
            .ok(),
    };
    let store = SettingsStore::open(&a.settings).map_err(CliError::wrap)?;
    std::fs::create_dir_all(&a.state).map_err(|e| CliError::new(format!("{}: {e}", a.state.display())))?;
    let spare_state = crate::failover_cmd::spare_state_dir(a.failover_config.as_deref());
    let covering = move || spare_state.as_deref().is_some_and(|d| !hotspare_failover::state::taken_over(d).is_empty());
    let client = fetch::client().map_err(CliError::new)?;
    let files = Files { state: a.state.clone() };
    let mut memory = files.load_memory();
    let clock = Clock::new();
    let mut stop = Box::pin(crate::record::terminated());
    log::info!(
        "update: this slot runs {installed} ({compatible}, box {})",
        box_id.as_deref().unwrap_or("without identity")
    );

    let mut current: Option<(String, Duration)> = None;
    let mut agent: Option<Agent> = None;
    let mut was_covering = false;
    let mut settings_read: Option<Instant> = None;
    let mut wanted = None;
    loop {
        // Settings (every 10 s): a new URL or interval makes a new agent while it is between
        // actions.
        if settings_read.is_none_or(|t| t.elapsed() >= Duration::from_secs(10)) {
            wanted = update_settings(&store, a.check_every);
            settings_read = Some(Instant::now());
        }
        let quiet = agent.as_ref().is_none_or(|ag| matches!(ag.status().state, "idle" | "waiting-rollout"));
        if wanted != current && quiet {
            agent = wanted.as_ref().map(|(url, every)| {
                let cfg = AgentConfig {
                    manifest_url: url.clone(),
                    compatible: compatible.clone(),
                    box_id: box_id.clone(),
                    check_every: *every,
                    retry_min: a.retry.min(*every),
                };
                let (mut ag, effects) = Agent::new(cfg, installed.clone(), memory.clone(), clock.now());
                for e in effects {
                    if let Effect::Save(m) = e {
                        files.save_memory(&m);
                        memory = m;
                    }
                }
                if let Some(o) = &ag.status().last_outcome {
                    log::info!("update: {o}");
                }
                was_covering = covering();
                ag.handle(clock.now(), Input::Covering(was_covering));
                ag
            });
            match &wanted {
                Some((url, every)) => log::info!("update: manifest {url}, checked every {} s", every.as_secs()),
                None => log::info!("update: no manifest URL in the settings: updates off"),
            }
            current = wanted.clone();
        }
        let Some(ag) = agent.as_mut() else {
            files.status_off(&installed);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(10)) => continue,
                _ = &mut stop => return Ok(()),
            }
        };
        // One step: wake at poll_at (or in a second to look at covering and the settings).
        let wake = ag.poll_at().map_or(Duration::from_secs(1), |at| at.saturating_sub(clock.now().mono));
        tokio::select! {
            _ = tokio::time::sleep(wake.min(Duration::from_secs(1))) => {}
            _ = &mut stop => return Ok(()),
        }
        // Carried out until the agent waits again; SIGTERM stops it anywhere (a download is
        // resumed at the next start).
        let step = async {
            let mut queue = VecDeque::new();
            let c = covering();
            if c != was_covering {
                log::info!("update: the spare {} covering", if c { "is" } else { "stopped" });
                was_covering = c;
                queue.push_back(Input::Covering(c));
            }
            queue.push_back(Input::Tick);
            while let Some(input) = queue.pop_front() {
                for effect in ag.handle(clock.now(), input) {
                    if let Some(next) = carry_out(&a, &client, &files, &covering, effect, &mut memory).await {
                        // What happened meanwhile is told first: a takeover during a download.
                        let c = covering();
                        if c != was_covering {
                            was_covering = c;
                            queue.push_back(Input::Covering(c));
                        }
                        queue.push_back(next);
                    }
                }
                files.save_status(ag);
            }
        };
        tokio::select! {
            _ = step => {}
            _ = &mut stop => return Ok(()),
        }
    }
}

/// Carries out one effect; returns the input it produced, if any.
async fn carry_out(
    a: &UpdateArgs,
    client: &reqwest::Client,
    files: &Files,
    covering: &impl Fn() -> bool,
    effect: Effect,
    memory: &mut Memory,
) -> Option<Input> {
    match effect {
        Effect::FetchManifest { url } => Some(Input::Manifest(fetch::manifest(client, &url).await)),
        Effect::Download { url, sha256, size } => {
            log::info!("update: downloading {url} ({size} bytes)");
            Some(Input::Downloaded(fetch::bundle(client, &url, &files.download(), sha256, size).await))
        }
        Effect::Check { path } => Some(Input::Checked(rauc::info(&a.rauc, &a.rauc_conf, &path).await)),
        Effect::Install { path } => {
            log::info!("update: installing {}", path.display());
            let t = Instant::now();
            let r = rauc::install(&a.rauc, &path).await;
            match &r {
                Ok(()) => log::info!("update: installed in {:.1} s", t.elapsed().as_secs_f64()),
                Err(e) => log::error!("update: {e:?}"),
            }
            Some(Input::Installed(r))
        }
        Effect::Save(m) => {
            files.save_memory(&m);
            *memory = m;
            None
        }
        Effect::Discard { path } => {
            let _ = std::fs::remove_file(path);
            None
        }
        Effect::Reboot => {
            if covering() {
                log::warn!("update: a takeover began: not rebooting now");
                return Some(Input::Covering(true));
            }
            log::info!("update: rebooting into the new slot");
            let failed = match tokio::process::Command::new(&a.reboot).status().await {
                Ok(s) if s.success() => return None,
                Ok(s) => format!("{} exited {s}", a.reboot.display()),
                Err(e) => format!("{}: {e}", a.reboot.display()),
            };
            log::error!("update: {failed}");
            Some(Input::RebootFailed(failed))
        }
    }
}

/// The agent's files in its state directory.
struct Files {
    state: PathBuf,
}

impl Files {
    fn download(&self) -> PathBuf {
        self.state.join("download")
    }

    fn load_memory(&self) -> Memory {
        let p = self.state.join("memory.json");
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).unwrap_or_else(|e| {
                log::error!("update: {}: {e}: starting with nothing remembered", p.display());
                Memory::default()
            }),
            Err(_) => Memory::default(),
        }
    }

    fn save_memory(&self, m: &Memory) {
        self.write("memory.json", &serde_json::to_vec_pretty(m).unwrap_or_default());
    }

    fn save_status(&self, ag: &Agent) {
        self.write("update.json", &serde_json::to_vec_pretty(ag.status()).unwrap_or_default());
    }

    fn status_off(&self, installed: &str) {
        let v = serde_json::json!({ "state": "off", "installed": installed });
        self.write("update.json", &serde_json::to_vec_pretty(&v).unwrap_or_default());
    }

    fn write(&self, name: &str, bytes: &[u8]) {
        let p = self.state.join(name);
        if std::fs::read(&p).is_ok_and(|old| old == bytes) {
            return;
        }
        if let Err(e) = hotspare_base::fs::write_atomic(&p, bytes, 0o600) {
            log::error!("update: {}: {e}", p.display());
        }
    }
}

/// Monotonic and wall time for the agent.
struct Clock {
    start: Instant,
}

impl Clock {
    fn new() -> Clock {
        Clock { start: Instant::now() }
    }

    fn now(&self) -> Now {
        Now { mono: self.start.elapsed(), wall_us: hotspare_base::clock::now_us() }
    }
}
