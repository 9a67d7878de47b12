//! `hotspare supervisor --config supervisor.toml` (the appliance's root service, in
//! `hotspare-supervisor`) and, with `dev-tools`, the hidden `hotspare dev-heartbeat`: a
//! service that speaks the heartbeat IPC and crashes, hangs or stops recording on cue (the
//! integration tests' child).

use std::path::PathBuf;

use crate::CliError;

#[derive(clap::Args, Debug)]
pub struct SupervisorArgs {
    /// supervisor.toml
    #[arg(long)]
    pub config: PathBuf,
}

/// Runs the supervisor until SIGTERM / SIGINT (a deliberate shutdown) or its reset path.
/// SIGUSR1 re-checks SMART at once (with `[smart]` in supervisor.toml).
pub async fn run(a: SupervisorArgs) -> Result<(), CliError> {
    let cfg = hotspare_supervisor::config::SupervisorConfig::load(&a.config).map_err(CliError::wrap)?;
    let exe = std::env::current_exe().map_err(|e| CliError::new(format!("cannot find the hotspare binary: {e}")))?;
    match hotspare_supervisor::runner::run(cfg, exe, crate::record::terminated()).await.map_err(CliError::wrap)? {
        hotspare_supervisor::runner::Ending::Shutdown => Ok(()),
        hotspare_supervisor::runner::Ending::Reset { reason, command_ok } => {
            log::error!("reset path taken ({reason}); reset command {}", if command_ok { "ran" } else { "failed" });
            Ok(())
        }
    }
}

#[cfg(feature = "dev-tools")]
pub use dev::{dev_heartbeat, DevHeartbeatArgs};

#[cfg(feature = "dev-tools")]
mod dev {
    use std::io::Write;
    use std::path::PathBuf;
    use std::time::Duration;

    use hotspare_ipc::client::{ClientConfig, HeartbeatClient, SERVICE_ENV, SOCKET_ENV};
    use hotspare_ipc::{Progress, RoleState};

    use crate::CliError;

    #[derive(clap::Args, Debug)]
    pub struct DevHeartbeatArgs {
        /// The supervisor's socket (default: $HOTSPARE_SUPERVISOR_SOCKET).
        #[arg(long)]
        pub socket: Option<PathBuf>,
        /// The service name (default: $HOTSPARE_SERVICE).
        #[arg(long)]
        pub service: Option<String>,
        #[arg(long, default_value = "100ms", value_parser = humantime::parse_duration)]
        pub interval: Duration,
        /// Exit with code 3 after this long (a crash).
        #[arg(long, value_parser = humantime::parse_duration)]
        pub exit_after: Option<Duration>,
        /// Once this file exists, stop heartbeating and keep running (a hang).
        #[arg(long)]
        pub hang_file: Option<PathBuf>,
        /// Report recording progress: the bytes fsynced are this file's number.
        #[arg(long)]
        pub progress_file: Option<PathBuf>,
        /// Cameras expected to record (with --progress-file).
        #[arg(long, default_value_t = 1)]
        pub cameras: u32,
        /// Append this process's pid to this file at start (counts the starts).
        #[arg(long)]
        pub runs_file: Option<PathBuf>,
        /// Role state in the heartbeats: `spare-armed`, `spare-covering`, `spare-idle` or
        /// `nvr`; with --role-file, read from that file each time (it wins while it exists).
        #[arg(long)]
        pub role: Option<String>,
        /// A file holding the role state (as --role), read continually: tests change it.
        #[arg(long)]
        pub role_file: Option<PathBuf>,
    }

    fn role(word: &str) -> Result<Option<RoleState>, CliError> {
        Ok(Some(match word.trim() {
            "spare-armed" => RoleState::Spare { armed: true, covering: 0 },
            "spare-covering" => RoleState::Spare { armed: true, covering: 1 },
            "spare-idle" => RoleState::Spare { armed: false, covering: 0 },
            "nvr" => RoleState::Nvr,
            "" => return Ok(None),
            other => {
                return Err(CliError::new(format!("--role {other:?}: spare-armed, spare-covering, spare-idle or nvr")))
            }
        }))
    }

    fn env_or(v: Option<String>, var: &str) -> Result<String, CliError> {
        v.or_else(|| std::env::var(var).ok()).ok_or_else(|| CliError::new(format!("{var} is not set")))
    }

    pub async fn dev_heartbeat(a: DevHeartbeatArgs) -> Result<(), CliError> {
        if let Some(f) = &a.runs_file {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(f)
                .map_err(|e| CliError::new(format!("{}: {e}", f.display())))?;
            writeln!(file, "{}", std::process::id()).map_err(|e| CliError::new(e.to_string()))?;
        }
        let socket = PathBuf::from(env_or(a.socket.map(|p| p.display().to_string()), SOCKET_ENV)?);
        let service = env_or(a.service, SERVICE_ENV)?;
        let client = HeartbeatClient::spawn(ClientConfig { socket, service, interval: a.interval });
        let fixed = a.role.as_deref().map(role).transpose()?.flatten();
        client.role.send_replace(fixed);
        let started = tokio::time::Instant::now();
        loop {
            if a.exit_after.is_some_and(|d| started.elapsed() >= d) {
                std::process::exit(3);
            }
            if a.hang_file.as_deref().is_some_and(|f| f.exists()) {
                client.task.abort();
            }
            if let Some(f) = &a.progress_file {
                let bytes = std::fs::read_to_string(f).ok().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
                client.progress.send_replace(Some(Progress { bytes_fsynced: bytes, cameras_expected: a.cameras }));
            }
            if let Some(f) = &a.role_file {
                let r = std::fs::read_to_string(f).ok().map(|t| role(&t)).transpose()?.flatten().or(fixed);
                client.role.send_if_modified(|cur| std::mem::replace(cur, r) != r);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
