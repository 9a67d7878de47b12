//! `hotspare record`: recording of one or more cameras from the command
//! line in one process, with retention running beside it.

use std::sync::Arc;
use std::time::Duration;

use hotspare_recorder::{run_camera, spawn_retention, CameraConfig, CameraStatus, RecorderOptions, StatusHandle};
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

pub async fn run(a: RecordArgs) -> Result<(), CliError> {
    let credentials = match (a.user, a.password) {
        (Some(user), Some(password)) => Some(Credentials { user, password }),
        (None, None) => None,
        _ => return Err(CliError::new("--user and --password go together")),
    };
    let mut cams = Vec::new();
    for (i, url) in a.url.iter().enumerate() {
        hotspare_rtsp::client::split_url(url).map_err(|e| CliError::new(e.to_string()))?;
        let id = if a.url.len() == 1 { a.camera.clone() } else { format!("{}{i}", a.camera) };
        cams.push(CameraConfig { id, url: url.clone(), credentials: credentials.clone() });
    }
    let cfg = StoreConfig {
        segment_duration: a.segment,
        high_water_percent: a.high_water,
        max_age: a.max_age,
        ..StoreConfig::default()
    };
    let store =
        Store::open(&a.store, cfg).map_err(|e| CliError::new(format!("opening store {}: {e}", a.store.display())))?;
    let opts = RecorderOptions { stall_timeout: a.stall_timeout, ..RecorderOptions::default() };
    let rec = Recording::start(store.clone(), cams, opts);
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
    let mut failures = Vec::new();
    for (cam, s) in &done {
        let segs = store.segments(&cam.id).map_err(|e| CliError::new(e.to_string()))?;
        println!(
            "recorded camera {}: {} frames, {} bytes, {} segments, lost packets {}, discontinuities {}, sessions {}{}",
            cam.id,
            s.frames,
            s.bytes,
            segs.len(),
            s.lost_packets,
            s.discontinuities,
            s.sessions,
            s.last_frame_wall_us.map(|t| format!(", last frame {}", format_us(t))).unwrap_or_default()
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
