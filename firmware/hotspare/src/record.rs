//! `hotspare record`: recording of one or more cameras from the command
//! line in one process, with retention running beside it.
//!
//! The camera password never comes from the command line (it would show in
//! the process list, `/proc/PID/cmdline`): it is read from
//! [`PASSWORD_ENV`] or from `--password-file`; a password given with
//! `--password` or inside a URL is refused with an error saying so.

use std::sync::Arc;
use std::time::Duration;

use hotspare_recorder::{
    run_camera, spawn_retention, CameraConfig, CameraPolicy, CameraStatus, RecorderOptions, StatusHandle,
};
use hotspare_rtsp::auth::Credentials;
use hotspare_store::{RecycleState, Store, StoreConfig};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cli::RecordArgs;
use crate::times::format_us;
use crate::CliError;

/// Resolves on SIGINT or SIGTERM.
pub async fn terminated() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

/// A camera's recorder task.
pub type CameraTask = JoinHandle<Result<(), hotspare_recorder::RecordError>>;

/// Cameras being recorded by this process.
pub struct Recording {
    pub cameras: Vec<(CameraConfig, StatusHandle, CameraTask)>,
    stop: watch::Sender<bool>,
    retention: JoinHandle<()>,
}

impl Recording {
    pub fn start(store: Arc<Store>, cams: Vec<CameraConfig>, opts: RecorderOptions) -> Recording {
        let (stop, stop_rx) = watch::channel(false);
        let cameras = cams
            .into_iter()
            .map(|cam| {
                let status = StatusHandle::default();
                let task =
                    tokio::spawn(run_camera(cam.clone(), store.clone(), opts.clone(), status.clone(), stop_rx.clone()));
                (cam, status, task)
            })
            .collect();
        let retention = spawn_retention(store, Duration::from_secs(5));
        Recording { cameras, stop, retention }
    }

    /// Stops every camera (closing segments) and returns their final status.
    pub async fn stop(self) -> Result<Vec<(CameraConfig, CameraStatus)>, CliError> {
        let _ = self.stop.send(true);
        let mut out = Vec::new();
        for (cam, status, task) in self.cameras {
            let r = task.await.map_err(|e| CliError::new(format!("camera {}: task failed: {e}", cam.id)))?;
            r.map_err(|e| CliError::new(format!("camera {}: {e}", cam.id)))?;
            out.push((cam, status.get()));
        }
        self.retention.abort();
        Ok(out)
    }
}

/// When a supervisor runs this recorder (`HOTSPARE_SUPERVISOR_SOCKET`): heartbeats from this
/// runtime carrying the store's fsynced bytes and the cameras expected (all of them), so a
/// wedged runtime or a stalled disk shows up in the supervisor. The task runs until aborted.
fn heartbeat(store: Arc<Store>, cameras_expected: u32) -> Option<JoinHandle<()>> {
    use hotspare_ipc::client::{ClientConfig, HeartbeatClient};
    let cfg = ClientConfig::from_env()?;
    log::info!("heartbeats to the supervisor at {} as {:?}", cfg.socket.display(), cfg.service);
    let client = HeartbeatClient::spawn(cfg);
    Some(tokio::spawn(async move {
        loop {
            let p = hotspare_ipc::Progress { bytes_fsynced: store.bytes_fsynced(), cameras_expected };
            client.progress.send_replace(Some(p));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }))
}

/// Environment variable holding the camera password of `hotspare record`.
pub const PASSWORD_ENV: &str = "HOTSPARE_CAMERA_PASSWORD";

const WHERE_PASSWORDS_GO: &str = "a password on the command line is visible to every user in the process list; \
     set it in HOTSPARE_CAMERA_PASSWORD or put it in a file given with --password-file";

/// The password: first line of `--password-file`, else [`PASSWORD_ENV`].
fn read_password(file: Option<&std::path::Path>, env: Option<String>) -> Result<Option<String>, CliError> {
    let Some(file) = file else { return Ok(env.filter(|p| !p.is_empty())) };
    let text =
        std::fs::read_to_string(file).map_err(|e| CliError::new(format!("--password-file {}: {e}", file.display())))?;
    let password = text.lines().next().unwrap_or_default().to_owned();
    if password.is_empty() {
        return Err(CliError::new(format!("--password-file {}: the first line is empty", file.display())));
    }
    Ok(Some(password))
}

/// The cameras' URLs (credentials removed) and credentials, from the arguments and the
/// environment value `env` of [`PASSWORD_ENV`]. Refuses passwords given on the command line.
fn cameras(a: &RecordArgs, env: Option<String>) -> Result<Vec<CameraConfig>, CliError> {
    if a.password.is_some() {
        return Err(CliError::new(format!("--password refused: {WHERE_PASSWORDS_GO}")));
    }
    let password = read_password(a.password_file.as_deref(), env)?;
    let mut cams = Vec::new();
    for (i, url) in a.url.iter().enumerate() {
        let (clean, in_url) = hotspare_rtsp::client::split_url(url).map_err(|e| CliError::new(e.to_string()))?;
        if in_url.as_ref().is_some_and(|c| !c.password.is_empty()) {
            return Err(CliError::new(format!(
                "{}: password in the URL refused (give the user with --user or as user@): {WHERE_PASSWORDS_GO}",
                redacted(clean.as_str(), in_url.as_ref().map(|c| c.user.as_str()))
            )));
        }
        let user = a.user.clone().or(in_url.map(|c| c.user));
        let credentials = match (user, &password) {
            (Some(user), Some(password)) => Some(Credentials { user, password: password.clone() }),
            (None, None) => None,
            (Some(user), None) => {
                return Err(CliError::new(format!(
                    "camera user {user:?} given without a password: set {PASSWORD_ENV} or use --password-file"
                )))
            }
            (None, Some(_)) => {
                return Err(CliError::new("a camera password was given but no user: add --user (or user@ in the URL)"))
            }
        };
        let id = if a.url.len() == 1 { a.camera.clone() } else { format!("{}{i}", a.camera) };
        cams.push(CameraConfig {
            id,
            url: clean.to_string(),
            credentials,
            policy: CameraPolicy { transport: a.transport, ..CameraPolicy::default() },
        });
    }
    Ok(cams)
}

/// `url` (without credentials) shown with `user:***@` in place of them.
fn redacted(url: &str, user: Option<&str>) -> String {
    match (user, url.split_once("://")) {
        (Some(user), Some((scheme, rest))) => format!("{scheme}://{user}:***@{rest}"),
        _ => url.to_owned(),
    }
}

pub async fn run(a: RecordArgs) -> Result<(), CliError> {
    let cams = cameras(&a, std::env::var(PASSWORD_ENV).ok())?;
    let cfg = StoreConfig {
        segment_duration: a.segment,
        high_water_percent: a.high_water,
        max_age: a.max_age,
        ..StoreConfig::default()
    };
    let store =
        Store::open(&a.store, cfg).map_err(|e| CliError::new(format!("opening store {}: {e}", a.store.display())))?;
    let opts = RecorderOptions { stall_timeout: a.stall_timeout, ..RecorderOptions::default() };
    let expected = cams.len() as u32;
    let rec = Recording::start(store.clone(), cams, opts);
    let heartbeat = heartbeat(store.clone(), expected);
    let deadline = async {
        match a.duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = deadline => {}
        _ = terminated() => log::info!("stopping on signal"),
    }
    let done = rec.stop().await?;
    if let Some(h) = heartbeat {
        h.abort();
    }
    let mut failures = Vec::new();
    for (cam, s) in &done {
        let segs = store.segments(&cam.id).map_err(|e| CliError::new(e.to_string()))?;
        println!(
            "recorded camera {}: {} frames, {} bytes, {} segments, lost packets {}, discontinuities {}, sessions {}, audio frames {}, audio dropped {}{}{}",
            cam.id,
            s.frames,
            s.bytes,
            segs.len(),
            s.lost_packets,
            s.discontinuities,
            s.sessions,
            s.audio_frames,
            s.audio_dropped,
            s.last_frame_wall_us.map(|t| format!(", last frame {}", format_us(t))).unwrap_or_default(),
            s.transport.map(|t| format!(", transport {t}")).unwrap_or_default()
        );
        if s.frames == 0 {
            let why = s.last_error.clone().unwrap_or_else(|| "no frames arrived".into());
            failures.push(format!("nothing recorded from {}: {why}", cam.url));
        }
    }
    if let RecycleState::Failing { reason } = store.recycle_state() {
        println!("recycle failure: {reason}");
    }
    if !failures.is_empty() {
        return Err(CliError::new(failures.join("; ")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(argv: &[&str]) -> RecordArgs {
        let mut full = vec!["hotspare", "record", "--store", "/nonexistent", "--camera", "c"];
        full.extend_from_slice(argv);
        match crate::cli::Args::parse_from(full).command {
            crate::cli::Command::Record(a) => a,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn password_comes_from_the_environment_or_a_file() {
        let a = args(&["rtsp://127.0.0.1/cam0", "--user", "op"]);
        let c = cameras(&a, Some("from-env".into())).unwrap();
        assert_eq!(c[0].credentials.as_ref().map(|c| (c.user.as_str(), c.password.as_str())), Some(("op", "from-env")));
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "from-file\n").unwrap();
        let a = args(&["rtsp://op@127.0.0.1/cam0", "--password-file", f.to_str().unwrap()]);
        let c = cameras(&a, Some("from-env".into())).unwrap();
        assert_eq!(
            c[0].credentials.as_ref().map(|c| (c.user.as_str(), c.password.as_str())),
            Some(("op", "from-file"))
        );
        assert_eq!(c[0].url, "rtsp://127.0.0.1/cam0");
        assert!(cameras(&args(&["rtsp://127.0.0.1/cam0"]), None).unwrap()[0].credentials.is_none());
    }

    #[test]
    fn transport_flag() {
        use hotspare_recorder::Transport;
        assert_eq!(args(&["rtsp://127.0.0.1/cam0"]).transport, Transport::Tcp);
        assert_eq!(args(&["rtsp://127.0.0.1/cam0", "--transport", "udp"]).transport, Transport::Udp);
        assert_eq!(args(&["rtsp://127.0.0.1/cam0", "--transport", "udp-then-tcp"]).transport, Transport::UdpThenTcp);
        let e = crate::cli::Args::try_parse_from([
            "hotspare",
            "record",
            "--store",
            "/x",
            "--camera",
            "c",
            "rtsp://127.0.0.1/cam0",
            "--transport",
            "carrier-pigeon",
        ])
        .unwrap_err()
        .to_string();
        assert!(e.contains("carrier-pigeon") && e.contains("udp-then-tcp"), "{e}");
    }

    #[test]
    fn passwords_on_the_command_line_are_refused() {
        let e = cameras(&args(&["rtsp://op:s3cret@127.0.0.1/cam0"]), None).unwrap_err().to_string();
        assert!(e.contains("password in the URL") && e.contains("HOTSPARE_CAMERA_PASSWORD"), "{e}");
        assert!(e.contains("rtsp://op:***@127.0.0.1/cam0") && !e.contains("s3cret"), "{e}");
        let e = cameras(&args(&["rtsp://127.0.0.1/cam0", "--user", "op", "--password", "s3cret"]), None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("--password refused") && e.contains("--password-file") && !e.contains("s3cret"), "{e}");
        let e = cameras(&args(&["rtsp://127.0.0.1/cam0", "--user", "op"]), None).unwrap_err().to_string();
        assert!(e.contains("without a password") && e.contains(PASSWORD_ENV), "{e}");
    }
}
