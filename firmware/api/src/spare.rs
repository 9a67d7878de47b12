//! The spare's own wire contract: what `GET /api/v1/status` of a spare
//! (`hotspare failover`) returns, read by the CLI, the demo and the tests.
//! Plain serde types; the spare's engine fills them, nobody else needs its
//! internals to read them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `GET /api/v1/status` of a spare.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpareStatus {
    pub name: String,
    pub serial: String,
    pub nvrs_licensed: u8,
    pub channels_licensed: u16,
    pub channels_used: u16,
    pub nvrs: Vec<NvrView>,
    /// SHA-256 fingerprint of the spare's TLS certificate (`sha256:…`), the one NVRs pin;
    /// absent with `[tls] insecure`.
    #[serde(default)]
    pub fingerprint: Option<String>,
    /// Why the spare takes over no NVR now (the supervisor's reason: rescue mode, a critical
    /// hardware fault); absent when takeovers are allowed. NVRs already taken over stay covered.
    #[serde(default)]
    pub takeovers_blocked: Option<String>,
    /// With `--settings`: the settings generation the spare runs with (0: a fresh box's
    /// defaults); absent when it runs from failover.toml alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_seq: Option<u64>,
    /// A newer settings generation waiting for the end of every takeover and re-insertion
    /// (the spare never reloads while covering).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_pending: Option<u64>,
    /// Why the newest settings generation is not used (`settings generation 5: nvr[0].url: …`);
    /// the spare keeps running with `settings_seq`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settings_error: Option<String>,
}

/// One takeover, for the log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TakeoverRecord {
    pub at_us: i64,
    pub reason: String,
    pub failback_us: Option<i64>,
}

/// What the spare knows of one protected NVR.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NvrView {
    pub id: String,
    pub url: String,
    pub server_name: Option<String>,
    pub serial: Option<String>,
    /// `watching` or `taken_over`.
    pub phase: String,
    pub reason: Option<String>,
    pub since_us: Option<i64>,
    pub misses: u32,
    pub last_check_us: Option<i64>,
    pub last_error: Option<String>,
    pub snapshot_us: Option<i64>,
    /// Cameras recorded here now.
    pub recording: Vec<String>,
    /// Cameras not yet handed back.
    pub covering: Vec<String>,
    /// Cameras the channel licence could not cover.
    pub uncovered: Vec<String>,
    /// Start of the first segment recorded here since the takeover began,
    /// per recorded camera.
    pub first_frame_us: BTreeMap<String, Option<i64>>,
    pub reinsert: ReinsertProgress,
    pub takeovers: Vec<TakeoverRecord>,
}

/// Progress of one NVR's re-insertion, shown in the spare's status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReinsertProgress {
    pub segments_done: u64,
    pub frames_done: u64,
    pub bytes_done: u64,
    /// Segments re-sent that the NVR already had (idempotent retries).
    pub already_there: u64,
    pub segments_left: u64,
    pub last_error: Option<String>,
    /// Segments the NVR refused as invalid, `"<uid>: <reason>"`: kept on the spare, not retried
    /// in this round.
    #[serde(default)]
    pub set_aside: Vec<String>,
    pub finished: bool,
    /// When this round of re-insertion started and finished (µs since epoch).
    pub started_us: i64,
    pub finished_us: Option<i64>,
}
