//! The update agent: a plain state machine. The `hotspare update` command feeds it what
//! happened ([`Input`]) with the time ([`Now`]) and carries out what it asks ([`Effect`]):
//! fetch the manifest, download the bundle (checked against the manifest's size and
//! SHA-256), have RAUC check it (`rauc info`: signature, compatible, version), install it
//! (`rauc install`), reboot. Between those it decides:
//!
//! - nothing while the spare is covering an NVR: no download, no install, no reboot
//!   (a takeover during a download lets the download finish, then waits);
//! - a box takes a version only in its rollout stage ([`crate::rollout`]);
//! - a version that RAUC refused, that failed to install, or whose slot did not come up
//!   (the box restarted on the old version) is *refused*: remembered ([`Memory`], saved
//!   before acting on it) and never tried again while the manifest offers that same bundle;
//! - failures of the network or the server are retried with a capped backoff.

use crate::manifest::Manifest;
use crate::rollout;
use hotspare_base::Backoff;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

/// The agent's settings.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    pub manifest_url: String,
    /// This box's RAUC `compatible` (bundles for another board are refused).
    pub compatible: String,
    /// The box's identity (the licence's box id): the rollout bucket. A box without one is
    /// in the last bucket (99): it takes a staged version only once it reaches 100 %.
    pub box_id: Option<String>,
    /// Between two manifest checks when nothing is happening.
    pub check_every: Duration,
    /// The first retry after a failure (doubling up to `check_every`).
    pub retry_min: Duration,
}

/// The time: monotonic for intervals, wall time (µs since the epoch) for rollout stages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    pub mono: Duration,
    pub wall_us: i64,
}

/// What the `hotspare update` command tells the agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// Time passed (the command wakes at [`Agent::poll_at`]).
    Tick,
    /// Whether the spare is covering an NVR now (sent on every change).
    Covering(bool),
    /// The manifest's body, or why it could not be fetched.
    Manifest(Result<Vec<u8>, String>),
    /// The bundle is at this path with the manifest's size and SHA-256, or why not.
    Downloaded(Result<PathBuf, String>),
    /// What RAUC read from the bundle once its signature verified, or RAUC's refusal.
    Checked(Result<BundleInfo, String>),
    /// `rauc install` succeeded (the other slot is primary now), or its error.
    Installed(Result<(), InstallError>),
    /// The reboot command failed (why): the box still runs the old slot with the new one
    /// primary; the reboot is asked again after a backoff.
    RebootFailed(String),
}

/// Why `rauc install` failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstallError {
    /// RAUC could not be asked (its service not on the bus yet, D-Bus down): the bundle is
    /// kept and the install tried again after a backoff, not refused.
    Unreachable(String),
    /// RAUC tried and failed: the bundle is refused.
    Failed(String),
}

/// What a verified bundle says of itself (`rauc info`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BundleInfo {
    pub compatible: String,
    pub version: String,
}

/// What the agent asks the command to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Effect {
    FetchManifest {
        url: String,
    },
    Download {
        url: String,
        sha256: [u8; 32],
        size: u64,
    },
    Check {
        path: PathBuf,
    },
    Install {
        path: PathBuf,
    },
    /// Save this before going on (an atomic write of the agent's memory).
    Save(Memory),
    /// Reboot into the newly installed slot (only ever asked while not covering).
    Reboot,
    /// The downloaded bundle is no longer needed.
    Discard {
        path: PathBuf,
    },
}

/// What the agent remembers across restarts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memory {
    /// A version installed and rebooted into; decided at the next start: running it means it
    /// stayed, running anything else means the new slot fell back.
    pub attempted: Option<String>,
    /// Bundles not to try again: (version, SHA-256 hex, why); the newest 16.
    pub refused: Vec<Refused>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refused {
    pub version: String,
    pub sha256: String,
    pub why: String,
}

/// The agent's state as shown to people (`update.json`, the console).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// `idle`, `checking`, `waiting-rollout`, `waiting-covering`, `downloading`, `checking-bundle`,
    /// `installing`, `waiting-rauc`, `reboot-waiting-covering`, `rebooting`, `reboot-retry`.
    pub state: &'static str,
    pub installed: String,
    /// The version the manifest offers, once read.
    pub offered: Option<String>,
    /// When a rollout stage will include this box (wall µs), while waiting for it.
    pub rollout_at_us: Option<i64>,
    pub bucket: Option<u8>,
    /// The last failure or refusal, in words.
    pub last_error: Option<String>,
    /// Set at start: the outcome of the previous attempt (`updated to X`, `X did not stay: …`).
    pub last_outcome: Option<String>,
    pub refused: Vec<Refused>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    /// Next manifest check at this monotonic time.
    Idle {
        next: Duration,
    },
    Fetching,
    /// Eligible, but the spare is covering: download when it stops (the manifest is still
    /// read at the interval, so a withdrawn or newer version is seen).
    WaitCovering(Manifest, Duration),
    Downloading(Manifest),
    Checking(Manifest, PathBuf),
    /// Checked, waiting for the spare to stop covering before installing.
    InstallWaitCovering(Manifest, PathBuf),
    Installing(Manifest, PathBuf),
    /// RAUC could not be reached: try the install again at this time.
    InstallRetry(Manifest, PathBuf, Duration),
    RebootWaitCovering,
    Rebooting,
    /// The reboot command failed: ask again at this time.
    RebootRetry(Duration),
}

/// The update agent.
#[derive(Debug)]
pub struct Agent {
    cfg: AgentConfig,
    installed: String,
    memory: Memory,
    state: State,
    covering: bool,
    backoff: Backoff,
    status: Status,
}

const MAX_REFUSED: usize = 16;

impl Agent {
    /// An agent on a box running `installed`, with what it remembered; the returned effects
    /// (a [`Effect::Save`] when the previous attempt is decided now) come first.
    pub fn new(cfg: AgentConfig, installed: String, memory: Memory, now: Now) -> (Agent, Vec<Effect>) {
        let backoff = Backoff::new(cfg.retry_min, cfg.check_every);
        let status = Status {
            state: "idle",
            installed: installed.clone(),
            offered: None,
            rollout_at_us: None,
            bucket: None,
            last_error: None,
            last_outcome: None,
            refused: memory.refused.clone(),
        };
        let mut agent =
            Agent { cfg, installed, memory, state: State::Idle { next: now.mono }, covering: false, backoff, status };
        let mut effects = Vec::new();
        if let Some(v) = agent.memory.attempted.take() {
            if v == agent.installed {
                agent.status.last_outcome = Some(format!("updated to {v}"));
            } else {
                let why = format!(
                    "installed, but the box came back on {}: the new slot did not boot or was not marked good",
                    agent.installed
                );
                agent.status.last_outcome = Some(format!("{v} did not stay: {why}"));
                // The checksum is not known here; the version alone marks it.
                agent.refuse(&v, "", &why);
            }
            effects.push(Effect::Save(agent.memory.clone()));
        }
        (agent, effects)
    }

    /// When the agent next wants a [`Input::Tick`] (monotonic); `None`: only inputs wake it.
    pub fn poll_at(&self) -> Option<Duration> {
        match self.state {
            State::Idle { next }
            | State::WaitCovering(_, next)
            | State::InstallRetry(_, _, next)
            | State::RebootRetry(next) => Some(next),
            _ => None,
        }
    }

    pub fn status(&self) -> &Status {
        &self.status
    }

    pub fn memory(&self) -> &Memory {
        &self.memory
    }

    /// Feeds one input; returns what to do, in order.
    pub fn handle(&mut self, now: Now, input: Input) -> Vec<Effect> {
        let mut out = Vec::new();
        if let Input::Covering(c) = &input {
            self.covering = *c;
        }
        let state = std::mem::replace(&mut self.state, State::Fetching);
        self.state = match (state, input) {
            (State::Idle { next } | State::WaitCovering(_, next), Input::Tick) if now.mono >= next => {
                out.push(Effect::FetchManifest { url: self.cfg.manifest_url.clone() });
                self.set("checking");
                State::Fetching
            }
            (State::Fetching, Input::Manifest(Ok(body))) => self.offered(now, &body, &mut out),
            (State::Fetching, Input::Manifest(Err(e))) => self.retry(now, format!("manifest: {e}")),
            (State::WaitCovering(m, _), Input::Covering(false)) => self.download(m, &mut out),
            (State::Downloading(m), Input::Downloaded(Ok(path))) => {
                out.push(Effect::Check { path: path.clone() });
                self.set("checking-bundle");
                State::Checking(m, path)
            }
            (State::Downloading(m), Input::Downloaded(Err(e))) => {
                self.retry(now, format!("downloading {}: {e}", m.bundle_url(&self.cfg.manifest_url)))
            }
            (State::Checking(m, path), Input::Checked(result)) => match self.verify(&m, result) {
                Ok(()) if self.covering => {
                    self.set("waiting-covering");
                    State::InstallWaitCovering(m, path)
                }
                Ok(()) => self.install(m, path, &mut out),
                Err(why) => self.refused(now, &m, path, why, &mut out),
            },
            (State::InstallWaitCovering(m, path), Input::Covering(false)) => self.install(m, path, &mut out),
            (State::Installing(m, path), Input::Installed(Ok(()))) => {
                self.backoff.succeeded();
                self.memory.attempted = Some(m.version.clone());
                out.push(Effect::Save(self.memory.clone()));
                out.push(Effect::Discard { path });
                self.status.last_error = None;
                self.reboot_unless_covering(&mut out)
            }
            (State::Installing(m, path), Input::Installed(Err(InstallError::Failed(e)))) => {
                self.refused(now, &m, path, format!("rauc install failed: {e}"), &mut out)
            }
            (State::Installing(m, path), Input::Installed(Err(InstallError::Unreachable(e)))) => {
                self.status.last_error = Some(format!("{}: RAUC could not be reached (trying again): {e}", m.version));
                self.set("waiting-rauc");
                State::InstallRetry(m, path, now.mono + self.backoff.failed())
            }
            (State::InstallRetry(m, path, next), Input::Tick) if now.mono >= next => {
                if self.covering {
                    self.set("waiting-covering");
                    State::InstallWaitCovering(m, path)
                } else {
                    self.install(m, path, &mut out)
                }
            }
            (State::RebootWaitCovering, Input::Covering(false)) => self.reboot_unless_covering(&mut out),
            // A takeover just before the reboot was carried out: the command does not reboot
            // and tells the agent, which waits again.
            (State::Rebooting, Input::Covering(true)) => {
                self.set("reboot-waiting-covering");
                State::RebootWaitCovering
            }
            (State::Rebooting, Input::RebootFailed(e)) => {
                self.status.last_error = Some(format!("installed, but the reboot failed (trying again): {e}"));
                self.set("reboot-retry");
                State::RebootRetry(now.mono + self.backoff.failed())
            }
            (State::RebootRetry(next), Input::Tick) if now.mono >= next => self.reboot_unless_covering(&mut out),
            (state, _) => state,
        };
        out
    }

    fn set(&mut self, state: &'static str) {
        self.status.state = state;
    }

    fn idle(&mut self, now: Now, after: Duration) -> State {
        self.set("idle");
        State::Idle { next: now.mono + after }
    }

    fn retry(&mut self, now: Now, why: String) -> State {
        self.status.last_error = Some(why);
        let after = self.backoff.failed();
        self.idle(now, after)
    }

    /// The manifest was read: decide whether this box takes its version now.
    fn offered(&mut self, now: Now, body: &[u8], out: &mut Vec<Effect>) -> State {
        let m = match Manifest::parse(body) {
            Ok(m) => m,
            Err(e) => return self.retry(now, format!("manifest from {}: {e}", self.cfg.manifest_url)),
        };
        self.backoff.succeeded();
        self.status.offered = Some(m.version.clone());
        self.status.rollout_at_us = None;
        self.status.bucket = None;
        let every = self.cfg.check_every;
        if m.compatible != self.cfg.compatible {
            self.status.last_error =
                Some(format!("the manifest offers a bundle for {}, this box is {}", m.compatible, self.cfg.compatible));
            return self.idle(now, every);
        }
        if m.version == self.installed {
            self.status.last_error = None;
            return self.idle(now, every);
        }
        let sha = hex::encode(m.sha256);
        if let Some(r) =
            self.memory.refused.iter().find(|r| r.version == m.version && (r.sha256.is_empty() || r.sha256 == sha))
        {
            self.status.last_error = Some(format!("{} was refused: {}", r.version, r.why));
            return self.idle(now, every);
        }
        let bucket = self.cfg.box_id.as_deref().map_or(99, |id| rollout::bucket(id, &m.version));
        self.status.bucket = Some(bucket);
        if let Err(at) = rollout::eligible(&m.rollout, bucket, now.wall_us) {
            self.status.rollout_at_us = at;
            let state = self.idle(now, every);
            self.set("waiting-rollout");
            // Wake at the stage's start if that comes before the next regular check.
            let until_stage = at.map(|at| Duration::from_micros(u64::try_from(at - now.wall_us).unwrap_or(0)));
            return match until_stage {
                Some(d) if d < every => State::Idle { next: now.mono + d },
                _ => state,
            };
        }
        if self.covering {
            self.set("waiting-covering");
            return State::WaitCovering(m, now.mono + every);
        }
        self.download(m, out)
    }

    fn download(&mut self, m: Manifest, out: &mut Vec<Effect>) -> State {
        out.push(Effect::Download { url: m.bundle_url(&self.cfg.manifest_url), sha256: m.sha256, size: m.size });
        self.set("downloading");
        State::Downloading(m)
    }

    /// The signed bundle must say what the manifest said.
    fn verify(&self, m: &Manifest, result: Result<BundleInfo, String>) -> Result<(), String> {
        let info = result.map_err(|e| format!("RAUC refused the bundle: {e}"))?;
        if info.compatible != self.cfg.compatible {
            return Err(format!("the bundle is for {}, this box is {}", info.compatible, self.cfg.compatible));
        }
        if info.version != m.version {
            return Err(format!("the signed bundle says version {}, the manifest {}", info.version, m.version));
        }
        Ok(())
    }

    fn install(&mut self, m: Manifest, path: PathBuf, out: &mut Vec<Effect>) -> State {
        out.push(Effect::Install { path: path.clone() });
        self.set("installing");
        State::Installing(m, path)
    }

    fn refused(&mut self, now: Now, m: &Manifest, path: PathBuf, why: String, out: &mut Vec<Effect>) -> State {
        self.refuse(&m.version, &hex::encode(m.sha256), &why);
        out.push(Effect::Save(self.memory.clone()));
        out.push(Effect::Discard { path });
        self.status.last_error = Some(format!("{}: {why}", m.version));
        let every = self.cfg.check_every;
        self.idle(now, every)
    }

    fn refuse(&mut self, version: &str, sha256: &str, why: &str) {
        self.memory.refused.retain(|r| !(r.version == version && r.sha256 == sha256));
        self.memory.refused.push(Refused { version: version.into(), sha256: sha256.into(), why: why.into() });
        let excess = self.memory.refused.len().saturating_sub(MAX_REFUSED);
        self.memory.refused.drain(..excess);
        self.status.refused = self.memory.refused.clone();
    }

    fn reboot_unless_covering(&mut self, out: &mut Vec<Effect>) -> State {
        if self.covering {
            self.set("reboot-waiting-covering");
            return State::RebootWaitCovering;
        }
        out.push(Effect::Reboot);
        self.set("rebooting");
        State::Rebooting
    }
}

#[cfg(test)]
mod tests;
