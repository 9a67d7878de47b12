//! `GET /api/v1/status`: identity, uptime, per-camera recording state from
//! the recorder's status file, storage health and recycling.

use super::Shared;
use crate::status_file::{self, STALE_AFTER};
use axum::extract::State;
use axum::Json;
use hotspare_api::{CameraRecording, NvrStatus, RecyclingStatus};
use hotspare_base::clock::now_us;

pub(super) async fn status(State(st): State<Shared>) -> Json<NvrStatus> {
    let storage = st.health.current().await;
    let dir = st.cfg.storage.dir.clone();
    let file = tokio::task::spawn_blocking(move || status_file::read(&dir)).await.ok().flatten();
    let now = now_us();
    let stale_us = STALE_AFTER.as_micros() as i64;
    let fresh = file.as_ref().is_some_and(|f| (now - f.written_us).abs() <= stale_us);
    let cameras = st
        .cfg
        .cameras
        .iter()
        .map(|c| {
            let entry = file.as_ref().and_then(|f| f.cameras.iter().find(|e| e.id == c.id));
            let last_frame_us = entry.and_then(|e| e.last_frame_us);
            CameraRecording {
                id: c.id.clone(),
                recording: fresh && last_frame_us.is_some_and(|t| (now - t).abs() <= stale_us),
                last_frame_us,
            }
        })
        .collect();
    let recycling = match &file {
        Some(f) => RecyclingStatus { failing: f.recycle.failing, reason: f.recycle.reason.clone() },
        None => RecyclingStatus { failing: false, reason: String::new() },
    };
    Json(NvrStatus {
        server_name: st.cfg.server.name.clone(),
        serial: st.cfg.server.serial.clone(),
        firmware_version: env!("CARGO_PKG_VERSION").to_owned(),
        uptime_s: st.started.elapsed().as_secs(),
        now_us: now,
        cameras,
        storage,
        recycling,
        fingerprint: st.fingerprint.map(|f| f.to_string()),
    })
}
