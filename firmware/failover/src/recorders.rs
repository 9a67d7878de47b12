//! The cameras the spare records for taken-over NVRs: one recorder task per
//! camera, started and stopped one by one (cameras are handed back one at a
//! time, and capacity changes move single channels).

use std::collections::BTreeMap;
use std::sync::Arc;

use hotspare_api::CameraSettings;
use hotspare_recorder::{run_camera, CameraConfig, RecordError, RecorderOptions, StatusHandle};
use hotspare_rtsp::auth::Credentials;
use hotspare_store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What the spare's recorder of a taken-over camera is given: the camera's
/// settings as its NVR sent them, its policy included, so the spare records
/// it the way the NVR does.
pub fn camera_config(cam: &CameraSettings) -> CameraConfig {
    let credentials = match (&cam.user, &cam.password) {
        (Some(user), Some(password)) => Some(Credentials { user: user.clone(), password: password.clone() }),
        _ => None,
    };
    CameraConfig { id: cam.id.clone(), url: cam.url.clone(), credentials, policy: cam.policy }
}

struct CamTask {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), RecordError>>,
    status: StatusHandle,
}

/// Running camera recorders keyed by (NVR id, camera id).
#[derive(Default)]
pub struct Recorders {
    tasks: BTreeMap<(String, String), CamTask>,
}

impl Recorders {
    pub fn is_running(&self, nvr: &str, cam: &str) -> bool {
        self.tasks.contains_key(&(nvr.to_string(), cam.to_string()))
    }

    /// Cameras of `nvr` being recorded.
    pub fn running(&self, nvr: &str) -> Vec<String> {
        self.tasks.keys().filter(|(n, _)| n == nvr).map(|(_, c)| c.clone()).collect()
    }

    pub fn status(&self, nvr: &str, cam: &str) -> Option<StatusHandle> {
        self.tasks.get(&(nvr.to_string(), cam.to_string())).map(|t| t.status.clone())
    }

    /// Starts recording `cam` of `nvr` into `store` (no-op when running).
    pub fn start(&mut self, nvr: &str, cam: &CameraSettings, store: Arc<Store>, opts: RecorderOptions) {
        let key = (nvr.to_string(), cam.id.clone());
        if self.tasks.contains_key(&key) {
            return;
        }
        let config = camera_config(cam);
        let (stop, stop_rx) = watch::channel(false);
        let status = StatusHandle::default();
        let task = tokio::spawn(run_camera(config, store, opts, status.clone(), stop_rx));
        log::info!("{nvr}/{}: recording on the spare from {}", cam.id, cam.url);
        self.tasks.insert(key, CamTask { stop, task, status });
    }

    /// Stops recording `cam` of `nvr`; returns once its segment is closed.
    pub async fn stop(&mut self, nvr: &str, cam: &str) {
        if let Some(t) = self.tasks.remove(&(nvr.to_string(), cam.to_string())) {
            let _ = t.stop.send(true);
            match t.task.await {
                Ok(Ok(())) => log::info!("{nvr}/{cam}: stopped recording on the spare"),
                Ok(Err(e)) => log::error!("{nvr}/{cam}: recorder ended with {e}"),
                Err(e) => log::error!("{nvr}/{cam}: recorder task failed: {e}"),
            }
        }
    }

    pub async fn stop_all(&mut self) {
        let keys: Vec<_> = self.tasks.keys().cloned().collect();
        for (n, c) in keys {
            self.stop(&n, &c).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspare_api::CameraPolicy;

    /// The camera settings as an NVR sends them (`GET /api/v1/config`), with
    /// a `policy` table and without one (an NVR older than the policy).
    #[test]
    fn the_nvr_policy_reaches_the_spare_recorder() {
        let sent = r#"{"id":"cam0","name":"Door","url":"rtsp://10.0.0.7/s0","user":"u","password":"p",
            "policy":{"transport":"udp","content_base":"strict","unassigned_channel":"error"}}"#;
        let cam: CameraSettings = serde_json::from_str(sent).expect("settings with a policy");
        // Through the spare's snapshot file too (postcard).
        let cam: CameraSettings =
            postcard::from_bytes(&postcard::to_allocvec(&cam).expect("encode")).expect("decode snapshot");
        let config = camera_config(&cam);
        let expected: CameraPolicy =
            serde_json::from_str(r#"{"transport":"udp","content_base":"strict","unassigned_channel":"error"}"#)
                .expect("policy");
        assert_ne!(expected, CameraPolicy::default());
        assert_eq!(config.policy, expected);
        assert_eq!(config.credentials.map(|c| c.user), Some("u".into()));

        let old = r#"{"id":"cam0","name":"Door","url":"rtsp://10.0.0.7/s0","user":null,"password":null}"#;
        let cam: CameraSettings = serde_json::from_str(old).expect("settings of an older NVR");
        assert_eq!(camera_config(&cam).policy, CameraPolicy::default());
    }
}
