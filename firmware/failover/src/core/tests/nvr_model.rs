//! A simulated NVR for the core's tests: what it answers to a status check in each way it
//! can fail (down, not recording, HDD failed, recycling failing, flapping) and as it comes
//! back camera by camera.

use hotspare_api::{
    Action as RuleAction, CameraRecording, CameraSettings, DiskState, EmailSettings, EventKind, EventRule, NvrStatus,
    RecordingSettings, RecyclingStatus, ServerSettings, StorageStatus, TakeoverConfig,
};

use super::sim::{S, T0};
use crate::monitor::Observation;

/// What an NVR does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Answers and records its cameras (each once it has been up `recording_delay_s[i]`).
    Healthy,
    /// No answer (network disconnection, power cut).
    Down,
    /// Answers but records no camera.
    NotRecording,
    /// The recording volume failed.
    HddFailed,
    /// Retention cannot free space.
    RecycleFailing,
    /// Down and up on alternate checks.
    Flapping,
}

impl Mode {
    /// Whether a takeover is the right answer to this mode, and its reason's prefix.
    pub fn trigger(self) -> Option<&'static str> {
        match self {
            Mode::Healthy | Mode::Flapping => None,
            Mode::Down => Some("network disconnection"),
            Mode::NotRecording => Some("connected but not recording"),
            Mode::HddFailed => Some("HDD failed"),
            Mode::RecycleFailing => Some("fails to recycle"),
        }
    }
}

/// One simulated NVR.
#[derive(Clone, Debug)]
pub struct SimNvr {
    pub mode: Mode,
    pub cameras: usize,
    /// Seconds after becoming healthy before camera `i` records again.
    pub recording_delay_s: Vec<i64>,
    /// When it last became healthy.
    pub healthy_since: i64,
    /// When it last stopped answering (for the coverage invariant).
    pub down_since: Option<i64>,
    /// Its event rules ask for email at takeover and failback (with its own SMTP settings).
    pub email_rules: bool,
    /// Checks answered.
    pub checks: u32,
    flap: bool,
    /// Its settings as last built, and for which `email_rules`.
    settings: Option<(bool, TakeoverConfig)>,
}

impl SimNvr {
    pub fn new(cameras: usize) -> Self {
        SimNvr {
            mode: Mode::Healthy,
            cameras,
            recording_delay_s: vec![0; cameras],
            healthy_since: T0 - 3600 * S,
            down_since: None,
            email_rules: true,
            checks: 0,
            flap: false,
            settings: None,
        }
    }

    pub fn config(&self, id: &str) -> TakeoverConfig {
        TakeoverConfig {
            cameras: (0..self.cameras)
                .map(|i| CameraSettings {
                    id: format!("cam{i}"),
                    name: format!("Camera {i}"),
                    url: format!("rtsp://{id}-cam{i}/main"),
                    user: None,
                    password: None,
                    policy: Default::default(),
                })
                .collect(),
            recording: RecordingSettings {
                mode: "continuous".into(),
                segment_seconds: 60,
                retention_days: None,
                high_water_percent: 90,
                stream: "main".into(),
            },
            events: if self.email_rules {
                vec![
                    EventRule { on: EventKind::Takeover, action: RuleAction::Email },
                    EventRule { on: EventKind::Failback, action: RuleAction::Email },
                ]
            } else {
                Vec::new()
            },
            email: Some(email_settings("nvr-admin@site")),
            server: ServerSettings {
                name: format!("NVR {id}"),
                upnp: true,
                admin_user: "admin".into(),
                admin_password_hash: "x".into(),
            },
        }
    }

    /// The answer to one check.
    pub fn answer(&mut self, id: &str, now: i64) -> (Observation, Option<Result<Box<TakeoverConfig>, String>>) {
        self.checks += 1;
        let down = match self.mode {
            Mode::Down => true,
            Mode::Flapping => {
                self.flap = !self.flap;
                self.flap
            }
            _ => false,
        };
        if down {
            return (Observation::Unreachable { error: "connection refused".into() }, None);
        }
        let up_s = (now - self.healthy_since) / S;
        // Back from a failure it rebooted: within the startup grace it may record nothing yet.
        let uptime_s = if self.mode == Mode::Healthy { up_s.clamp(0, 3600) as u64 } else { 3600 };
        let cameras = (0..self.cameras)
            .map(|i| CameraRecording {
                id: format!("cam{i}"),
                recording: match self.mode {
                    Mode::NotRecording => false,
                    Mode::Healthy | Mode::Flapping => up_s >= self.recording_delay_s[i],
                    _ => true,
                },
                last_frame_us: Some(now),
            })
            .collect();
        let failed = self.mode == Mode::HddFailed;
        let status = NvrStatus {
            server_name: format!("NVR {id}"),
            serial: format!("SN-{id}"),
            firmware_version: "0.1.0".into(),
            uptime_s,
            now_us: now,
            cameras,
            storage: StorageStatus {
                state: if failed { DiskState::Failed } else { DiskState::Ok },
                writable: !failed,
                detail: if failed { "read-only file system".into() } else { String::new() },
                raid: None,
                disks: Vec::new(),
                disk_generation: "g1".into(),
            },
            recycling: RecyclingStatus {
                failing: self.mode == Mode::RecycleFailing,
                reason: if self.mode == Mode::RecycleFailing { "volume full".into() } else { String::new() },
            },
            fingerprint: None,
        };
        if self.settings.as_ref().is_none_or(|(rules, _)| *rules != self.email_rules) {
            self.settings = Some((self.email_rules, self.config(id)));
        }
        let settings = self.settings.as_ref().map(|(_, c)| Box::new(c.clone()));
        (Observation::Status(Box::new(status)), settings.map(Ok))
    }
}

pub fn email_settings(to: &str) -> EmailSettings {
    EmailSettings {
        smtp_host: "mail.site".into(),
        smtp_port: 587,
        from: "spare@site".into(),
        to: vec![to.into()],
        user: None,
        password: None,
        tls: None,
        ca_certificate: None,
    }
}
