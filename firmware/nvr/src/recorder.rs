//! The recorder process (`hotspare nvr-recorder`): records every configured
//! camera into the store, runs retention every 5 s, and writes the status
//! file every second. Started and restarted by the API process; dies with it.

use crate::config::NvrConfig;
use crate::status_file::{self, CameraEntry, RecorderStatus, RecycleEntry};
use crate::{terminated, NvrError};
use hotspare_base::clock::now_us;
use hotspare_recorder::{run_camera, CameraConfig, CameraState, RecorderOptions, StatusHandle};
use hotspare_rtsp::auth::Credentials;
use hotspare_store::{RecycleState, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

const RETENTION_EVERY: Duration = Duration::from_secs(5);
const STATUS_EVERY: Duration = Duration::from_secs(1);

fn state_name(s: &CameraState) -> &'static str {
    match s {
        CameraState::Connecting => "connecting",
        CameraState::Recording => "recording",
        CameraState::Retrying { .. } => "retrying",
        CameraState::Stopped => "stopped",
    }
}

/// Asks the kernel to kill this process when its parent (the API process) dies, and exits at
/// once if the parent is already gone.
fn die_with_parent() {
    if let Err(e) = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL)) {
        log::warn!("cannot set the parent-death signal: {e}");
    }
    if rustix::process::getppid().is_none_or(|p| p.as_raw_pid() == 1) {
        log::error!("parent process gone; exiting");
        std::process::exit(1);
    }
}

/// Runs the recorder until SIGTERM/SIGINT.
pub async fn run_recorder(cfg: NvrConfig) -> Result<(), NvrError> {
    die_with_parent();
    let dir = cfg.storage.dir.clone();
    let store = tokio::task::spawn_blocking({
        let (dir, sc) = (dir.clone(), cfg.store_config());
        move || Store::open(&dir, sc)
    })
    .await
    .map_err(NvrError::StoreOpenTask)?
    .map_err(NvrError::Store)?;
    let (stop, stop_rx) = watch::channel(false);
    let opts = RecorderOptions::default();
    let mut cameras = Vec::new();
    for c in &cfg.cameras {
        let credentials = match (&c.user, &c.password) {
            (Some(user), Some(password)) => Some(Credentials { user: user.clone(), password: password.clone() }),
            _ => None,
        };
        let cam = CameraConfig { id: c.id.clone(), url: c.url.clone(), credentials, policy: c.policy };
        let status = StatusHandle::default();
        let task = tokio::spawn(run_camera(cam, store.clone(), opts.clone(), status.clone(), stop_rx.clone()));
        cameras.push((c.id.clone(), status, task));
    }
    log::info!("recorder: {} cameras into {}", cameras.len(), dir.display());
    let retention = hotspare_recorder::spawn_retention(store.clone(), RETENTION_EVERY);
    let statuses: Vec<(String, StatusHandle)> = cameras.iter().map(|(id, s, _)| (id.clone(), s.clone())).collect();
    let status_task = tokio::spawn(status_loop(dir, store.clone(), statuses));
    terminated().await;
    log::info!("recorder: stopping");
    let _ = stop.send(true);
    for (id, _, task) in cameras {
        match tokio::time::timeout(Duration::from_secs(5), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => log::error!("camera {id}: {e}"),
            Ok(Err(e)) => log::error!("camera {id}: task failed: {e}"),
            Err(_) => log::error!("camera {id}: did not stop within 5 s"),
        }
    }
    retention.abort();
    status_task.abort();
    Ok(())
}

async fn status_loop(dir: std::path::PathBuf, store: Arc<Store>, cams: Vec<(String, StatusHandle)>) {
    let mut last_error = String::new();
    loop {
        let status = RecorderStatus {
            written_us: now_us(),
            pid: std::process::id(),
            cameras: cams
                .iter()
                .map(|(id, h)| {
                    let s = h.get();
                    CameraEntry {
                        id: id.clone(),
                        state: state_name(&s.state).into(),
                        frames: s.frames,
                        last_frame_us: s.last_frame_wall_us,
                        last_error: s.last_error,
                    }
                })
                .collect(),
            recycle: match store.recycle_state() {
                RecycleState::Ok => RecycleEntry::default(),
                RecycleState::Failing { reason } => RecycleEntry { failing: true, reason },
            },
            bytes_fsynced: store.bytes_fsynced(),
            cameras_expected: cams.len() as u32,
        };
        let d = dir.clone();
        let r = tokio::task::spawn_blocking(move || status_file::write(&d, &status)).await;
        let err = match r {
            Ok(Ok(())) => String::new(),
            Ok(Err(e)) => e.to_string(),
            Err(e) => e.to_string(),
        };
        if err != last_error {
            if err.is_empty() {
                log::info!("status file written again");
            } else {
                log::warn!("{}: cannot write the status file: {err}", status_file::path(&dir).display());
            }
            last_error = err;
        }
        tokio::time::sleep(STATUS_EVERY).await;
    }
}
