//! `hotspare record`: one-shot recording of a camera from the command line,
//! with retention running beside it.

use std::time::Duration;

use hotspare_recorder::{run_camera, CameraConfig, RecorderOptions, StatusHandle};
use hotspare_rtsp::auth::Credentials;
use hotspare_store::{RecycleState, Store, StoreConfig};
use tokio::sync::watch;

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

pub async fn run(a: RecordArgs) -> Result<(), CliError> {
    let credentials = match (a.user, a.password) {
        (Some(user), Some(password)) => Some(Credentials { user, password }),
        (None, None) => None,
        _ => return Err(CliError::new("--user and --password go together")),
    };
    hotspare_rtsp::client::split_url(&a.url).map_err(|e| CliError::new(e.to_string()))?;
    let cfg = StoreConfig {
        segment_duration: a.segment,
        high_water_percent: a.high_water,
        max_age: a.max_age,
        ..StoreConfig::default()
    };
    let store = Store::open(&a.store, cfg)
        .map_err(|e| CliError::new(format!("opening store {}: {e}", a.store.display())))?;
    let opts = RecorderOptions { stall_timeout: a.stall_timeout, ..RecorderOptions::default() };
    let status = StatusHandle::default();
    let (stop_tx, stop_rx) = watch::channel(false);
    let cam = CameraConfig { id: a.camera.clone(), url: a.url.clone(), credentials };
    let task = tokio::spawn(run_camera(cam, store.clone(), opts, status.clone(), stop_rx));

    let retention = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut last = RecycleState::Ok;
            loop {
                let s = tokio::task::spawn_blocking({
                    let store = store.clone();
                    move || store.recycle()
                })
                .await
                .unwrap_or(RecycleState::Ok);
                if s != last {
                    match &s {
                        RecycleState::Ok => log::info!("recycling ok again"),
                        RecycleState::Failing { reason } => log::error!("recycle failure: {reason}"),
                    }
                    last = s;
                }
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        })
    };

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
    let _ = stop_tx.send(true);
    let result = task.await.map_err(|e| CliError::new(format!("recorder task failed: {e}")))?;
    retention.abort();
    result.map_err(|e| CliError::new(format!("camera {}: {e}", a.camera)))?;

    let s = status.get();
    let segs = store.segments(&a.camera).map_err(|e| CliError::new(e.to_string()))?;
    println!(
        "recorded camera {}: {} frames, {} bytes, {} segments, lost packets {}, discontinuities {}, sessions {}{}",
        a.camera,
        s.frames,
        s.bytes,
        segs.len(),
        s.lost_packets,
        s.discontinuities,
        s.sessions,
        s.last_frame_wall_us.map(|t| format!(", last frame {}", format_us(t))).unwrap_or_default()
    );
    if let RecycleState::Failing { reason } = store.recycle_state() {
        println!("recycle failure: {reason}");
    }
    if s.frames == 0 {
        let why = s.last_error.unwrap_or_else(|| "no frames arrived".into());
        return Err(CliError::new(format!("nothing recorded from {}: {why}", a.url)));
    }
    Ok(())
}
