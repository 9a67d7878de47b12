//! Where a camera's tracks live: the base URL from `Content-Base` /
//! `Content-Location` (tolerating a base without a scheme, per
//! [`ContentBase`]) and the joining of `a=control` values onto it.
//!
//! Joining appends rather than following RFC 3986 dot-segment rules, as
//! cameras mean it: `rtsp://h/cam/realmonitor?channel=1&subtype=0/` +
//! `trackID=0` is the URL Dahua expects, and `rtsp://h/s0` + `trackID=1`
//! means `rtsp://h/s0/trackID=1`.

use hotspare_camera_policy::ContentBase;
use rtsp_types::Url;

/// The base URL of a DESCRIBE answer: its `Content-Base` (or
/// `Content-Location`) header value, else the request URL.
///
/// A value without a scheme (`host:554/stream0/`) is, under
/// [`ContentBase::Repair`], taken as `rtsp://` + the value, or resolved
/// against the request URL when it is a path (`/stream0/`); when even that
/// does not parse, the request URL is the base. Under
/// [`ContentBase::Strict`] it is an error (the message names the value).
pub fn content_base(header: Option<&str>, request: &Url, policy: ContentBase) -> Result<Url, String> {
    let Some(value) = header.map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(request.clone());
    };
    if let Some(u) = Url::parse(value).ok().filter(is_rtsp) {
        return Ok(u);
    }
    if policy == ContentBase::Strict {
        return Err(format!("Content-Base {value:?} is not an rtsp:// URL (camera policy content_base = \"strict\")"));
    }
    let repaired =
        if value.starts_with('/') { request.join(value).ok() } else { Url::parse(&format!("rtsp://{value}")).ok() };
    Ok(repaired.filter(is_rtsp).unwrap_or_else(|| request.clone()))
}

fn is_rtsp(u: &Url) -> bool {
    matches!(u.scheme(), "rtsp" | "rtsps") && u.host_str().is_some_and(|h| !h.is_empty())
}

/// The URL of a track (or of the session) whose `a=control` is `control`.
///
/// - none, empty or `*`: the base itself;
/// - an absolute `rtsp://` URL: as given, even on another host (requests go
///   over our connection anyway, and the camera knows the URL it named);
/// - a path (`/s0/track1`): on the base's host;
/// - anything else: appended to the base, with one `/` between.
pub fn join_control(base: &Url, control: Option<&str>) -> Result<Url, String> {
    let c = control.map(str::trim).unwrap_or("");
    if c.is_empty() || c == "*" {
        return Ok(base.clone());
    }
    let bad = |e: &dyn std::fmt::Display| format!("control {c:?} on base {:?}: {e}", base.as_str());
    if let Some(u) = Url::parse(c).ok().filter(is_rtsp) {
        return Ok(u);
    }
    if c.starts_with('/') {
        return base.join(c).map_err(|e| bad(&e));
    }
    let b = base.as_str();
    let joined = if b.ends_with('/') { format!("{b}{c}") } else { format!("{b}/{c}") };
    Url::parse(&joined).map_err(|e| bad(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect(s)
    }

    #[test]
    fn content_base_without_scheme_is_repaired() {
        // As sent by an SV3C camera (moonfire-nvr issue #356).
        let req = url("rtsp://10.0.0.5:554/stream0");
        let b = content_base(Some("192.168.1.10:554/stream0/"), &req, ContentBase::Repair).unwrap();
        assert_eq!(b.as_str(), "rtsp://192.168.1.10:554/stream0/");
        let b = content_base(Some("/Streaming/Channels/101/"), &req, ContentBase::Repair).unwrap();
        assert_eq!(b.as_str(), "rtsp://10.0.0.5:554/Streaming/Channels/101/");
        // Not even a host: the request URL.
        let b = content_base(Some(":::"), &req, ContentBase::Repair).unwrap();
        assert_eq!(b, req);
        // Absent or empty: the request URL.
        assert_eq!(content_base(None, &req, ContentBase::Strict).unwrap(), req);
        assert_eq!(content_base(Some(" "), &req, ContentBase::Strict).unwrap(), req);
    }

    #[test]
    fn content_base_without_scheme_is_refused_when_strict() {
        let req = url("rtsp://10.0.0.5/stream0");
        let e = content_base(Some("10.0.0.5:554/stream0/"), &req, ContentBase::Strict).unwrap_err();
        assert!(e.contains("10.0.0.5:554/stream0/") && e.contains("strict"), "{e}");
        let ok = content_base(Some("rtsp://10.0.0.5/stream0/"), &req, ContentBase::Strict).unwrap();
        assert_eq!(ok.as_str(), "rtsp://10.0.0.5/stream0/");
    }

    #[test]
    fn control_joining_quirks() {
        let slash = url("rtsp://h:554/s0/");
        let bare = url("rtsp://h:554/s0");
        let dahua = url("rtsp://h/cam/realmonitor?channel=1&subtype=0/");
        let j = |b: &Url, c: Option<&str>| join_control(b, c).unwrap().to_string();
        assert_eq!(j(&slash, Some("trackID=1")), "rtsp://h:554/s0/trackID=1");
        assert_eq!(j(&bare, Some("trackID=1")), "rtsp://h:554/s0/trackID=1");
        assert_eq!(j(&slash, Some("*")), "rtsp://h:554/s0/");
        assert_eq!(j(&slash, None), "rtsp://h:554/s0/");
        assert_eq!(j(&slash, Some(" ")), "rtsp://h:554/s0/");
        assert_eq!(j(&dahua, Some("trackID=0")), "rtsp://h/cam/realmonitor?channel=1&subtype=0/trackID=0");
        assert_eq!(j(&bare, Some("/other/track1")), "rtsp://h:554/other/track1");
        // An absolute control on another host (a camera behind NAT naming its
        // private address) is used as given.
        assert_eq!(j(&slash, Some("rtsp://192.168.1.64:554/s0/track1")), "rtsp://192.168.1.64:554/s0/track1");
    }
}
