//! `GET /api/v1/health` of both roles: the supervisor's `health.json` (the box's health as
//! it sees it), read at each request, parsed as [`HealthReport`] and served re-serialized, so
//! a corrupt or foreign file never reaches a client. 503 while there is no readable report
//! (the supervisor is not running, or not yet written it).

use std::path::Path;

use axum::http::StatusCode;
use axum::Json;
use hotspare_api::health::HealthReport;

use crate::Failure;

/// Where the supervisor writes it (its default state directory).
pub const DEFAULT_FILE: &str = "/var/lib/hotspare/supervisor/health.json";

/// The reply to `GET /api/v1/health` from the report at `path`.
pub async fn reply(path: &Path) -> Result<Json<HealthReport>, Failure> {
    let unavailable = |why: String| {
        log::warn!("health report {}: {why}", path.display());
        Failure::new(StatusCode::SERVICE_UNAVAILABLE, format!("no health report: {why}"))
    };
    let bytes = match tokio::fs::read(path).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(unavailable("the supervisor has not written one (is it running?)".into()))
        }
        Err(e) => return Err(unavailable(format!("cannot read it: {e}"))),
    };
    serde_json::from_slice::<HealthReport>(&bytes)
        .map(Json)
        .map_err(|e| unavailable(format!("the supervisor's report is unreadable: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn present_absent_and_corrupt() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("health.json");
        let e = reply(&p).await.unwrap_err();
        assert_eq!(e.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(e.message.contains("has not written one"), "{}", e.message);
        std::fs::write(&p, br#"{"updated_us": 5, "firmware_version": "1", "secret": "x"}"#).unwrap();
        assert!(reply(&p).await.is_err(), "missing fields: not a report");
        let r = HealthReport { updated_us: 7, firmware_version: "1.2".into(), ..HealthReport::default() };
        let mut json = serde_json::to_value(&r).unwrap();
        json["leak"] = "x".into();
        std::fs::write(&p, serde_json::to_vec(&json).unwrap()).unwrap();
        let Json(back) = reply(&p).await.unwrap();
        assert_eq!(back, r, "unknown fields are dropped by the re-serialization");
    }
}
