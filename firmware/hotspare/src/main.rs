//! `hotspare`: the multi-call binary of the failover appliance. Each
//! subcommand is one process role or tool; see `hotspare --help`. The
//! development tools (`sim-camera`, `demo`, `bench-failover` and the site they
//! run) are built only with the `dev-tools` feature (see Cargo.toml).

#[cfg(feature = "dev-tools")]
mod bench_failover;
mod boot_state_cmd;
mod cli;
mod console_cmd;
#[cfg(feature = "dev-tools")]
mod demo;
mod export;
mod failover_cmd;
mod failover_site;
mod licence_cmd;
mod nvr_cmd;
mod panel_cmd;
mod record;
mod settings_cmd;
#[cfg(feature = "dev-tools")]
mod site;
mod smart_cmd;
mod spare_heartbeat;
mod status_cmd;
mod supervisor_cmd;
mod times;
mod update_cmd;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = cli::Args::parse();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
    if let Err(e) = end_with_the_parent() {
        eprintln!("error: {e}");
        return std::process::ExitCode::FAILURE;
    }
    let r = match args.command {
        // Its own exit statuses (0 healthy, 1 warning, 2 critical, 3 cannot read).
        cli::Command::Smart(a) => return smart_cmd::run(a),
        cli::Command::BootState(a) => return boot_state_cmd::run(a),
        // 0 done, 1 refused (names the field), 2 the store cannot be read or written.
        cli::Command::Settings(a) => return settings_cmd::run(a),
        // 0 healthy, 1 not healthy, 2 cannot read the state.
        cli::Command::Status(a) => return status_cmd::run(a),
        // Ends only on SIGTERM (0); 2 the settings store cannot be opened.
        cli::Command::Console(a) => return console_cmd::run(a),
        #[cfg(feature = "dev-tools")]
        cli::Command::SimCamera(a) => runtime().and_then(|rt| rt.block_on(sim_camera(a))),
        cli::Command::Record(a) => runtime().and_then(|rt| rt.block_on(record::run(a))),
        cli::Command::Export(a) => export::run(a),
        #[cfg(feature = "dev-tools")]
        cli::Command::Demo(a) => runtime().and_then(|rt| rt.block_on(demo::run(a))),
        cli::Command::Nvr(a) if a.fingerprint => nvr_cmd::fingerprint(&a.config),
        cli::Command::Nvr(a) => runtime().and_then(|rt| rt.block_on(nvr_cmd::run(a.config))),
        cli::Command::NvrRecorder(a) => runtime().and_then(|rt| rt.block_on(nvr_cmd::run_recorder(a.config))),
        cli::Command::Failover(a) => runtime().and_then(|rt| rt.block_on(failover_cmd::run(a))),
        cli::Command::Licence(a) => licence_cmd::run(a),
        cli::Command::Panel(a) => runtime().and_then(|rt| rt.block_on(panel_cmd::run(a))),
        cli::Command::Update(a) => runtime().and_then(|rt| rt.block_on(update_cmd::run(a))),
        cli::Command::Supervisor(a) => runtime().and_then(|rt| rt.block_on(supervisor_cmd::run(a))),
        #[cfg(feature = "dev-tools")]
        cli::Command::DevHeartbeat(a) => runtime().and_then(|rt| rt.block_on(supervisor_cmd::dev_heartbeat(a))),
        #[cfg(feature = "dev-tools")]
        cli::Command::BenchFailover(a) => runtime().and_then(|rt| rt.block_on(bench_failover::run(a))),
    };
    match r {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // The whole chain: what failed, then each cause.
            eprintln!("error: {}", hotspare_base::error_chain::join(&e, ": caused by "));
            std::process::ExitCode::FAILURE
        }
    }
}

/// A process started by the supervisor (or by the NVR: its recorder) ends (SIGTERM) with
/// its parent, so a restarted parent never meets an orphan still recording into the store.
/// Called while the process has one thread (the variable is then removed, so that this
/// process's own children are told their own parent).
fn end_with_the_parent() -> Result<(), String> {
    use hotspare_platform::process::{die_with_parent, PARENT_PID_ENV};
    let Some(pid) = std::env::var_os(PARENT_PID_ENV) else { return Ok(()) };
    std::env::remove_var(PARENT_PID_ENV);
    let pid = pid
        .to_str()
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| format!("{PARENT_PID_ENV}={pid:?} is not a process id"))?;
    die_with_parent(pid)
}

/// Errors at the top level: a message with context for the operator, or a library's error
/// kept whole (its causes are printed too).
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Message(String),
    #[error(transparent)]
    Library(Box<dyn std::error::Error + Send + Sync>),
}

impl CliError {
    pub fn new(msg: impl Into<String>) -> Self {
        CliError::Message(msg.into())
    }

    /// A library error, with its source chain.
    pub fn wrap(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        CliError::Library(Box::new(e))
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::new(format!("cannot start the async runtime: {e}")))
}

#[cfg(feature = "dev-tools")]
async fn sim_camera(a: cli::SimCameraArgs) -> Result<(), CliError> {
    if a.user.is_some() != a.password.is_some() {
        return Err(CliError::new("--user and --password go together"));
    }
    let cfg = hotspare_sim::SimConfig {
        listen: a.listen,
        streams: a.streams,
        clip: a.clip,
        fps: a.fps,
        user: a.user,
        password: a.password,
        audio: a.audio,
        session_timeout_s: a.session_timeout,
        udp: a.udp,
    };
    let sim = hotspare_sim::bind(cfg).await.map_err(|e| CliError::new(e.to_string()))?;
    println!("sim-camera listening on rtsp://{}/cam0", sim.local_addr());
    tokio::select! {
        r = sim.serve() => r.map_err(|e| CliError::new(e.to_string())),
        _ = record::terminated() => Ok(()),
    }
}
