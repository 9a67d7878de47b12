//! The HTTP/JSON contract between a protected NVR (`hotspare nvr`) and a
//! failover spare (`hotspare failover`), documented for people in
//! `docs/ref/api.md`. Plain serde types, no I/O; both sides use these so the
//! contract cannot drift. Times are µs since the Unix epoch (`*_us`).
//! The spare's own status (read by the CLI and tools) is in [`spare`].

pub use hotspare_camera_policy::CameraPolicy;
use serde::{Deserialize, Serialize};

pub mod health;
pub mod spare;
pub mod ssdp;

/// The path of an API endpoint, a `&'static str`: `api_path!("/status")` is
/// `"/api/v1/status"`. Route tables and clients build every path with it (or [`PREFIX`]), so
/// the version prefix is written once.
#[macro_export]
macro_rules! api_path {
    ($path:literal) => {
        concat!("/api/v1", $path)
    };
}

/// API version prefix of every path.
pub const PREFIX: &str = api_path!("");

/// `GET /api/v1/status`: is the server alive, recording, healthy?
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NvrStatus {
    pub server_name: String,
    pub serial: String,
    pub firmware_version: String,
    pub uptime_s: u64,
    pub now_us: i64,
    pub cameras: Vec<CameraRecording>,
    pub storage: StorageStatus,
    pub recycling: RecyclingStatus,
    /// SHA-256 fingerprint of the NVR's TLS certificate (`sha256:…`), the one spares pin;
    /// absent when the API is plain HTTP (`[tls] insecure`).
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// Whether one camera is being recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraRecording {
    pub id: String,
    /// Frames arrived and were stored within the last few seconds.
    pub recording: bool,
    pub last_frame_us: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiskState {
    Ok,
    /// RAID lost redundancy but still reads and writes.
    Degraded,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disk {
    pub name: String,
    pub serial: String,
    pub state: DiskState,
}

/// Recording volume health.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageStatus {
    /// Worst of the volume probe and the RAID state.
    pub state: DiskState,
    /// A write + fsync probe on the recording volume succeeded.
    pub writable: bool,
    /// Why the volume is not ok (empty when ok).
    pub detail: String,
    pub raid: Option<RaidStatus>,
    pub disks: Vec<Disk>,
    /// Changes when the set of disk serials changes (a new HDD).
    pub disk_generation: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RaidStatus {
    pub device: String,
    pub state: DiskState,
    /// e.g. `[2/1] [U_]`
    pub members: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecyclingStatus {
    pub failing: bool,
    pub reason: String,
}

/// `GET /api/v1/config` (admin only): what a spare needs to take over.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TakeoverConfig {
    pub cameras: Vec<CameraSettings>,
    pub recording: RecordingSettings,
    pub events: Vec<EventRule>,
    pub email: Option<EmailSettings>,
    pub server: ServerSettings,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CameraSettings {
    pub id: String,
    pub name: String,
    pub url: String,
    pub user: Option<String>,
    pub password: Option<String>,
    /// How the camera's quirks are tolerated (its `[camera.policy]`), so a
    /// spare records it the way its NVR does. Absent from older NVRs:
    /// the defaults.
    #[serde(default)]
    pub policy: CameraPolicy,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingSettings {
    /// `continuous` (the only mode today).
    pub mode: String,
    pub segment_seconds: u32,
    pub retention_days: Option<u32>,
    pub high_water_percent: u8,
    /// Which camera stream is recorded (`main`).
    pub stream: String,
}

/// Things that happen, to which actions are attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Takeover,
    Failback,
    CameraLost,
    DiskFailed,
    RecycleFailed,
}

/// An action: `"email"` or `"log"` (plain strings in JSON and TOML, and
/// postcard-friendly for the spare's snapshots).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Email to the recipients of the email settings.
    Email,
    /// Log line at warning level.
    Log,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventRule {
    pub on: EventKind,
    pub action: Action,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailSettings {
    pub smtp_host: String,
    pub smtp_port: u16,
    pub from: String,
    pub to: Vec<String>,
    pub user: Option<String>,
    pub password: Option<String>,
    // --- SMTP transport security (issue 6, "Secrets") ---
    /// `starttls` (required: no plain-text fallback), `implicit` (TLS from the first byte,
    /// port 465) or `none`. Unset: STARTTLS when the server offers it, and required when
    /// `user`/`password` are set (credentials never go out in clear text unless `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<SmtpTls>,
    /// PEM certificate(s) to trust instead of the public roots: the CA of a site's mail
    /// server, or its own self-signed certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_certificate: Option<String>,
}

/// How an SMTP connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain SMTP, then `STARTTLS`, which the server must offer.
    Starttls,
    /// TLS from the start (SMTPS, usually port 465).
    Implicit,
    /// No TLS at all (a trusted local relay).
    None,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub name: String,
    pub upnp: bool,
    pub admin_user: String,
    /// `pbkdf2-sha256$ITER$SALT_B64$HASH_B64`; the clear password never leaves the NVR.
    pub admin_password_hash: String,
}

/// Where recorded video came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Recorded by this NVR.
    Local,
    /// Recorded by a spare during a takeover (light blue on timelines).
    Failover,
}

/// Where the bytes of a span are now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    Nvr,
    Spare,
}

/// `GET /api/v1/recordings?camera=ID&from=T&to=T`: contiguous spans.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecordingSpan {
    pub camera: String,
    pub start_us: i64,
    pub end_us: i64,
    pub frames: u64,
    pub source: Source,
    pub location: Location,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recordings {
    pub camera: String,
    pub spans: Vec<RecordingSpan>,
}

/// One failover segment offered for re-insertion: `POST /api/v1/import`
/// with this as JSON in the `X-Hotspare-Segment` header and the segment's
/// index file bytes followed by its sample file bytes (then, for a segment
/// with audio, its audio index and audio bytes) as the body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportSegment {
    /// Unique and stable per segment: `<spare serial>/<camera>/<segment id>`.
    pub uid: String,
    pub camera: String,
    pub start_us: i64,
    pub end_us: i64,
    pub frames: u64,
    pub index_len: u64,
    pub sample_len: u64,
    /// SHA-256 of the body (index bytes, sample bytes, then the audio index and audio
    /// bytes when there is audio), lower-case hex.
    pub sha256: String,
    /// Bytes of the segment's `.audio-index`, sent after the sample bytes; 0 (and absent from
    /// the JSON) for a segment without audio, which is described exactly as before audio.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub audio_index_len: u64,
    /// Bytes of the segment's `.audio`, sent after the audio index; 0 without audio.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub audio_len: u64,
}

impl ImportSegment {
    /// Lengths of the body's parts in order: index, sample, audio index, audio.
    pub fn part_lens(&self) -> [u64; 4] {
        [self.index_len, self.sample_len, self.audio_index_len, self.audio_len]
    }

    /// Length of the whole body (saturating).
    pub fn body_len(&self) -> u64 {
        self.part_lens().iter().fold(0u64, |a, &b| a.saturating_add(b))
    }
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Reply to an import: the NVR has the segment durably (fsynced).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportReceipt {
    pub uid: String,
    /// False when the segment was already there (idempotent retry).
    pub created: bool,
    pub sha256: String,
}

/// Resumable import (`docs/ref/api.md`, "Import"): reply to `GET /api/v1/import?uid=U`, and the
/// `202 Accepted` reply to a `PUT /api/v1/import` chunk that did not complete the segment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportOffset {
    pub uid: String,
    /// Bytes of the body (index then sample) the NVR holds: the next chunk starts here.
    pub offset: u64,
    /// Largest body one request may carry.
    pub max_request: u64,
}

/// Error body of every non-2xx reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiError {
    pub error: String,
}
