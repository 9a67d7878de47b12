//! MP4 of a time range, served as a virtual file ([`hotspare_store::Mp4Plan`])
//! with HTTP Range support and a streamed body: the NVR's
//! `GET /api/v1/recordings/{ID}.mp4` and the spare's
//! `GET /api/v1/held/{NVR}/recordings/{ID}.mp4`.
//!
//! Bounded by construction: one request covers at most [`MAX_SPAN_US`] of
//! recording (longer: 400, page with `from`/`to`), so a plan's memory does
//! not grow with the history; at most [`MAX_DOWNLOADS`] MP4 bodies are
//! served at once (more: 503 with `Retry-After`), each streamed one chunk
//! at a time ([`PlanStream`]).

use crate::body::PlanStream;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse as _, Response};
use hotspare_http::Failure;
use hotspare_store::{Mp4Plan, SegmentInfo, Store};
use std::sync::Arc;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The longest recording one MP4 request may cover: one hour.
pub const MAX_SPAN_US: i64 = 3_600_000_000;
/// MP4 bodies served at once (each holds at most one chunk in memory plus socket buffers).
pub const MAX_DOWNLOADS: usize = 16;

/// A slot of the concurrent-download cap, or the 503 to answer.
pub fn download_slot(slots: &Arc<Semaphore>) -> Result<OwnedSemaphorePermit, Failure> {
    slots.clone().try_acquire_owned().map_err(|_| {
        Failure::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_DOWNLOADS} video downloads are running already; retry later"),
        )
    })
}

/// `Err` (what to tell the client) when the recording of `camera` within `[from, to]` spans more
/// than [`MAX_SPAN_US`].
pub fn check_span(store: &Store, camera: &str, from: Option<i64>, to: Option<i64>) -> Result<(), String> {
    let Ok(segs) = store.segments(camera) else { return Ok(()) };
    check_span_of(&segs, from, to)
}

/// [`check_span`] over a camera's segments.
pub fn check_span_of(segs: &[SegmentInfo], from: Option<i64>, to: Option<i64>) -> Result<(), String> {
    let (from, to) = (from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX));
    let mut inside = segs.iter().filter(|s| s.start_wall_us <= to && s.end_wall_us() >= from);
    let Some(first) = inside.next() else { return Ok(()) };
    let start = first.start_wall_us.max(from);
    let end = inside.fold(first.end_wall_us(), |e, s| e.max(s.end_wall_us())).min(to);
    let span = end.saturating_sub(start);
    if span > MAX_SPAN_US {
        return Err(format!(
            "the requested range holds {} s of recording; one MP4 request covers at most {} s: \
             request it in pages with from and to",
            span / 1_000_000,
            MAX_SPAN_US / 1_000_000
        ));
    }
    Ok(())
}

/// A parsed `Range` header against a file of `total` bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum RangeReq {
    /// No (usable) range: the whole file.
    Full,
    /// Bytes `start..end` (end exclusive).
    Part(u64, u64),
    /// Not satisfiable: 416.
    Unsatisfiable,
}

/// Parses a single `bytes=` range. Malformed or multi-range headers are ignored (whole file), as
/// RFC 9110 allows.
pub fn parse_range(h: Option<&str>, total: u64) -> RangeReq {
    let Some(spec) = h.and_then(|h| h.trim().strip_prefix("bytes=")) else { return RangeReq::Full };
    if spec.contains(',') {
        return RangeReq::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else { return RangeReq::Full };
    let (a, b) = (a.trim(), b.trim());
    let parsed = match (a.is_empty(), b.is_empty()) {
        (true, true) => return RangeReq::Full,
        // Suffix: the last b bytes.
        (true, false) => match b.parse::<u64>() {
            Ok(0) => return RangeReq::Unsatisfiable,
            Ok(n) => (total.saturating_sub(n), total.saturating_sub(1)),
            Err(_) => return RangeReq::Full,
        },
        (false, _) => {
            let Ok(start) = a.parse::<u64>() else { return RangeReq::Full };
            let end = if b.is_empty() {
                total.saturating_sub(1)
            } else {
                match b.parse::<u64>() {
                    Ok(e) if e >= start => e.min(total.saturating_sub(1)),
                    _ => return RangeReq::Full,
                }
            };
            (start, end)
        }
    };
    let (start, last) = parsed;
    if total == 0 || start >= total {
        return RangeReq::Unsatisfiable;
    }
    RangeReq::Part(start, last + 1)
}

fn header_str(v: String) -> HeaderValue {
    HeaderValue::from_str(&v).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Serves `plan` (whole or one range) as a [`PlanStream`] holding `slot` until the body ends.
pub fn serve_plan(plan: Mp4Plan, range: Option<&str>, camera: &str, slot: OwnedSemaphorePermit) -> Response {
    let total = plan.total_len;
    let (status, start, end) = match parse_range(range, total) {
        RangeReq::Full => (StatusCode::OK, 0, total),
        RangeReq::Part(s, e) => (StatusCode::PARTIAL_CONTENT, s, e),
        RangeReq::Unsatisfiable => {
            let mut r = Failure::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                format!("range {} outside the {total} bytes of the file", range.unwrap_or("")),
            )
            .into_response();
            r.headers_mut().insert(header::CONTENT_RANGE, header_str(format!("bytes */{total}")));
            return r;
        }
    };
    let body = PlanStream::new(plan, start, end, camera.to_owned(), Some(slot));
    let mut resp = Response::new(Body::from_stream(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("video/mp4"));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(header::CONTENT_LENGTH, header_str((end - start).to_string()));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(header::CONTENT_RANGE, header_str(format!("bytes {start}-{}/{total}", end - 1)));
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspare_store::Origin;

    /// A closed segment of `dur_s` seconds starting at `start_s`.
    fn seg(start_s: i64, dur_s: u64) -> SegmentInfo {
        crate::spans::tests::seg(start_s, dur_s, Origin::Local)
    }

    #[test]
    fn one_request_covers_at_most_an_hour() {
        // 33 h of one-minute segments.
        let segs: Vec<SegmentInfo> = (0..33 * 60).map(|i| seg(i * 60, 60)).collect();
        let us = |s: i64| Some(s * 1_000_000);
        assert!(check_span_of(&segs, us(0), us(3600)).is_ok());
        assert!(check_span_of(&segs, us(7200), us(10_800)).is_ok());
        let e = check_span_of(&segs, None, None).unwrap_err();
        assert!(e.contains("118800 s") && e.contains("pages"), "{e}");
        assert!(check_span_of(&segs, us(0), us(3601)).is_err());
        assert!(check_span_of(&segs, us(100_000), None).is_err());
        // Short recording, unbounded request: fine (nothing to page).
        assert!(check_span_of(&segs[..30], None, None).is_ok());
        assert!(check_span_of(&[], None, None).is_ok());
    }

    #[test]
    fn downloads_beyond_the_cap_get_503() {
        let slots = Arc::new(Semaphore::new(MAX_DOWNLOADS));
        let held: Vec<_> = (0..MAX_DOWNLOADS).map(|_| download_slot(&slots).unwrap()).collect();
        let refused = download_slot(&slots).unwrap_err();
        assert_eq!(refused.status, StatusCode::SERVICE_UNAVAILABLE);
        let r = refused.into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        drop(held);
        assert!(download_slot(&slots).is_ok());
    }

    #[test]
    fn ranges() {
        use RangeReq::*;
        assert_eq!(parse_range(None, 1000), Full);
        assert_eq!(parse_range(Some("bytes=0-99"), 1000), Part(0, 100));
        assert_eq!(parse_range(Some("bytes=990-"), 1000), Part(990, 1000));
        assert_eq!(parse_range(Some("bytes=990-5000"), 1000), Part(990, 1000));
        assert_eq!(parse_range(Some("bytes=-10"), 1000), Part(990, 1000));
        assert_eq!(parse_range(Some("bytes=-5000"), 1000), Part(0, 1000));
        assert_eq!(parse_range(Some("bytes=1000-"), 1000), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=2000-3000"), 1000), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 1000), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=5-1"), 1000), Full);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 1000), Full);
        assert_eq!(parse_range(Some("items=0-1"), 1000), Full);
    }
}
