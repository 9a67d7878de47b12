//! Command-line definitions of every subcommand.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "hotspare", version, about = "N+1 failover appliance for IP video surveillance")]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Camera simulator: serves rtsp://HOST:PORT/cam0..cam{N-1} replaying a clip.
    #[cfg(feature = "dev-tools")]
    SimCamera(SimCameraArgs),
    /// Records one camera into a segment store.
    Record(RecordArgs),
    /// Writes an MP4 of a camera's recordings.
    Export(ExportArgs),
    /// Runs a whole site on loopback and shows what the appliance does.
    #[cfg(feature = "dev-tools")]
    Demo(DemoArgs),
    /// Protected recording server: records its cameras and serves the API spares read.
    Nvr(NvrArgs),
    /// The recorder process of `nvr` (started by it).
    #[command(hide = true)]
    NvrRecorder(NvrArgs),
    /// The failover spare: monitors NVRs, takes over, fails back, re-inserts.
    Failover(crate::failover_cmd::FailoverArgs),
    /// The appliance's root service: runs the other services, pets the hardware watchdog while healthy (SIGUSR1: check SMART now).
    Supervisor(crate::supervisor_cmd::SupervisorArgs),
    /// A service speaking the supervisor's heartbeat IPC that crashes, hangs or stops recording on cue.
    #[cfg(feature = "dev-tools")]
    #[command(hide = true)]
    DevHeartbeat(crate::supervisor_cmd::DevHeartbeatArgs),
    /// Reads a disk's SMART once and prints the verdict (exit 0 healthy, 1 warning, 2 critical, 3 cannot read).
    Smart(crate::smart_cmd::SmartArgs),
    /// Reads and edits the A/B boot-counting state U-Boot uses (also RAUC's custom bootloader backend).
    BootState(crate::boot_state_cmd::BootStateArgs),
    /// The box's state for the console: version, slot, services, hardware (exit 0 healthy, 1 not, 2 cannot read).
    Status(crate::status_cmd::StatusArgs),
    /// The box's settings (network, NVRs, accounts, …): show, get, set, history, restore, factory reset.
    Settings(crate::settings_cmd::SettingsArgs),
    /// The serial console: numbered menus and the first-boot wizard on a tty (ends only on SIGTERM).
    Console(crate::console_cmd::ConsoleArgs),
    /// The front panel: screens and a small menu on any display LCDd drives (runs until SIGTERM).
    Panel(crate::panel_cmd::PanelArgs),
    Update(crate::update_cmd::UpdateArgs),
    /// Issue, verify and make keys for licences.
    #[command(alias = "license")]
    Licence(crate::licence_cmd::LicenceArgs),
    /// Failover latency and re-insertion throughput on a loopback site.
    #[cfg(feature = "dev-tools")]
    #[command(hide = true)]
    BenchFailover(BenchFailoverArgs),
}

#[cfg(feature = "dev-tools")]
#[derive(clap::Args, Debug)]
pub struct BenchFailoverArgs {
    #[arg(long, default_value = "fixtures/clip-h264.h264")]
    pub clip: PathBuf,
    #[arg(long, default_value_t = 10)]
    pub trials: u32,
    /// Cameras of the NVR that fails.
    #[arg(long, default_value_t = 4)]
    pub cameras: u32,
    /// Outage of the last trial (measures re-insertion throughput).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub long_outage: Duration,
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct NvrArgs {
    /// nvr.toml
    #[arg(long)]
    pub config: PathBuf,
    /// Print the NVR's TLS certificate fingerprint (making the certificate if there is none
    /// yet) and exit: the installer writes it into the spare's config.
    #[arg(long)]
    pub fingerprint: bool,
}

#[cfg(feature = "dev-tools")]
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Clip the simulated cameras replay.
    #[arg(long, default_value = "fixtures/clip-h264.h264")]
    pub clip: PathBuf,
    /// How long the spare records the failed NVR's cameras.
    #[arg(long, default_value = "8s", value_parser = humantime::parse_duration)]
    pub duration: Duration,
    /// Working directory (default: a fresh temporary directory).
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

#[cfg(feature = "dev-tools")]
#[derive(clap::Args, Debug)]
pub struct SimCameraArgs {
    #[arg(long, default_value = "127.0.0.1:8554")]
    pub listen: std::net::SocketAddr,
    #[arg(long, default_value_t = 1)]
    pub streams: u32,
    /// Annex B H.264 (.h264) or H.265 (.h265) clip.
    #[arg(long)]
    pub clip: PathBuf,
    #[arg(long, default_value_t = 25)]
    pub fps: u32,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub password: Option<String>,
    /// Also offer a G.711 audio track.
    #[arg(long)]
    pub audio: bool,
    /// Session timeout (s) announced and enforced: clients must keep alive.
    #[arg(long, default_value_t = 60)]
    pub session_timeout: u32,
    /// Clients asking for RTP over UDP: serve (send to their ports), refuse (461
    /// Unsupported Transport) or silent (accept, then send nothing: a firewall).
    #[arg(long, default_value = "serve")]
    pub udp: hotspare_sim::UdpMode,
}

#[derive(clap::Args, Debug)]
#[command(after_help = "The camera password is never taken from the command line (every user sees it in the \
process list): set it in the HOTSPARE_CAMERA_PASSWORD environment variable or put it in a file given with \
--password-file.")]
pub struct RecordArgs {
    /// rtsp://[user@]host[:port]/path (no password in the URL); several URLs
    /// record several cameras in this one process (ids CAMERA0, CAMERA1, …).
    #[arg(required = true)]
    pub url: Vec<String>,
    #[arg(long)]
    pub store: PathBuf,
    /// Camera id in the store (`[A-Za-z0-9_-]{1,64}`); a prefix when several URLs are given.
    #[arg(long)]
    pub camera: String,
    /// Stop after this long (e.g. 30s, 5m); default: until SIGINT/SIGTERM.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub duration: Option<Duration>,
    /// Camera user (or `user@` in the URL).
    #[arg(long)]
    pub user: Option<String>,
    /// File whose first line is the camera password (else HOTSPARE_CAMERA_PASSWORD).
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// Refused: a password on the command line shows in the process list.
    #[arg(long, hide = true)]
    pub password: Option<String>,
    /// Segment length.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub segment: Duration,
    /// Reconnect when no frame arrived for this long.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub stall_timeout: Duration,
    /// How RTP reaches us: tcp (interleaved in the RTSP connection), udp (unicast, no
    /// fallback) or udp-then-tcp (TCP when nothing arrives over UDP within 4 s of PLAY).
    #[arg(long, default_value = "tcp", value_parser = parse_transport)]
    pub transport: hotspare_recorder::Transport,
    /// Retention: keep volume usage under this percentage.
    #[arg(long, default_value_t = 90, value_parser = clap::value_parser!(u8).range(1..=99))]
    pub high_water: u8,
    /// Retention: delete recordings older than this.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub max_age: Option<Duration>,
}

#[derive(clap::Args, Debug)]
pub struct ExportArgs {
    #[arg(long)]
    pub store: PathBuf,
    #[arg(long)]
    pub camera: String,
    /// RFC 3339 start time (default: first frame).
    #[arg(long)]
    pub from: Option<String>,
    /// RFC 3339 end time (default: last frame).
    #[arg(long)]
    pub to: Option<String>,
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

/// `--transport`: the values of `[camera.policy] transport`.
fn parse_transport(s: &str) -> Result<hotspare_recorder::Transport, String> {
    use hotspare_recorder::Transport;
    match s {
        "tcp" => Ok(Transport::Tcp),
        "udp" => Ok(Transport::Udp),
        "udp-then-tcp" => Ok(Transport::UdpThenTcp),
        _ => Err(format!("{s:?}: expected tcp, udp or udp-then-tcp")),
    }
}
