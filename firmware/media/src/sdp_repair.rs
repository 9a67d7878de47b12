//! Gets a camera's SDP text through the strict third-party parser
//! (`sdp-types`): normalizes the lines, then, under
//! [`SdpSessionLines::Repair`], repairs or drops each line the parser
//! refuses and parses again.
//!
//! Normalizing (both policies, as always): only `x=value` lines are kept
//! (stray text is dropped), and a missing `v=`, `o=` or `t=` line is
//! inserted. Repairing (the default policy) then handles what cameras send
//! truncated: an `o=` line the parser refuses is replaced by a neutral
//! origin, a `t=` line by `t=0 0`, a bad `m=` line drops its whole media
//! section, a second `o=`/`s=`/`c=`/… line is dropped, and any other
//! refused line (`c=IN `, a bad `b=`, in a session or a media section) is
//! dropped: a recorder needs only the media sections' `m=`, `a=rtpmap`,
//! `a=fmtp` and `a=control`. Each repair is reported in words.

use hotspare_camera_policy::SdpSessionLines;
use sdp_types::ParserError;

use crate::sdp::SdpError;

/// The origin line put in place of a missing or truncated one.
const DEFAULT_ORIGIN: &str = "o=- 0 0 IN IP4 0.0.0.0";

/// At most this many lines are repaired: each repair costs a re-parse, and
/// a description needing more is not one a camera sent by mistake.
const MAX_REPAIRS: usize = 32;

/// The text's SDP lines (`x=value`), with `v=`, `o=` and `t=` ensured.
fn normalize(text: &str) -> Vec<String> {
    let is_sdp = |l: &&str| {
        let b = l.as_bytes();
        b.len() >= 2 && b[0].is_ascii_lowercase() && b[1] == b'='
    };
    let src: Vec<&str> = text.lines().map(str::trim_end).filter(is_sdp).collect();
    let has = |p: &str| src.iter().any(|l| l.starts_with(p));
    let mut lines = Vec::with_capacity(src.len() + 3);
    if !src.first().is_some_and(|l| l.starts_with("v=")) {
        lines.push("v=0".to_string());
    }
    for line in &src {
        lines.push(line.to_string());
        if line.starts_with("v=") && !has("o=") {
            lines.push(DEFAULT_ORIGIN.to_string());
        }
        if line.starts_with("s=") && !has("t=") {
            lines.push("t=0 0".to_string());
        }
    }
    lines
}

/// The 1-based line number a parser error names, if any.
fn error_line(e: &ParserError) -> Option<usize> {
    use ParserError::*;
    match *e {
        InvalidLineFormat(n, _)
        | InvalidFieldEncoding(n, _)
        | InvalidFieldFormat(n, _)
        | MissingField(n, _)
        | FieldTrailingData(n, _)
        | InvalidVersion(n, _)
        | MultipleVersions(n)
        | MultipleOrigins(n)
        | MultipleSessionNames(n)
        | MultipleSessionDescription(n)
        | MultipleUris(n)
        | MultipleConnections(n)
        | MultipleTimeZones(n)
        | MultipleMediaTitles(n)
        | MultipleKeys(n) => Some(n),
        _ => None,
    }
}

fn is_duplicate(e: &ParserError) -> bool {
    use ParserError::*;
    matches!(
        e,
        MultipleVersions(_)
            | MultipleOrigins(_)
            | MultipleSessionNames(_)
            | MultipleSessionDescription(_)
            | MultipleUris(_)
            | MultipleConnections(_)
            | MultipleTimeZones(_)
            | MultipleMediaTitles(_)
            | MultipleKeys(_)
    )
}

/// Repairs line `i` (0-based) that the parser refused with `e`; returns
/// what was done.
fn repair(lines: &mut Vec<String>, i: usize, e: &ParserError) -> String {
    let shown: String = lines[i].chars().take(60).collect();
    let duplicate = is_duplicate(e);
    match lines[i].as_bytes()[0] {
        b'o' if !duplicate => {
            lines[i] = DEFAULT_ORIGIN.to_string();
            format!("`{shown}` replaced by `{DEFAULT_ORIGIN}`")
        }
        b't' if !duplicate => {
            lines[i] = "t=0 0".to_string();
            format!("`{shown}` replaced by `t=0 0`")
        }
        b'v' if i == 0 && !duplicate => {
            lines[i] = "v=0".to_string();
            format!("`{shown}` replaced by `v=0`")
        }
        b'm' => {
            let end = lines[i + 1..].iter().position(|l| l.starts_with("m=")).map_or(lines.len(), |p| i + 1 + p);
            lines.drain(i..end);
            format!("media section of `{shown}` dropped")
        }
        _ => {
            lines.remove(i);
            format!("`{shown}` dropped")
        }
    }
}

/// Parses `text` under `policy`; returns the session and the repairs made.
pub(crate) fn parse_session(
    text: &str,
    policy: SdpSessionLines,
) -> Result<(sdp_types::Session, Vec<String>), SdpError> {
    let mut lines = normalize(text);
    let mut repairs = Vec::new();
    loop {
        let mut joined = String::with_capacity(lines.iter().map(|l| l.len() + 2).sum());
        for l in &lines {
            joined.push_str(l);
            joined.push_str("\r\n");
        }
        // The third-party parser has asserted on odd input before: a panic
        // there must not take the recorder down (network input).
        let parsed = std::panic::catch_unwind(|| sdp_types::Session::parse(joined.as_bytes()))
            .map_err(|_| SdpError::ParserPanicked)?;
        let e = match parsed {
            Ok(session) => return Ok((session, repairs)),
            Err(e) => e,
        };
        let line = error_line(&e).and_then(|n| n.checked_sub(1)).filter(|&i| i < lines.len());
        let (SdpSessionLines::Repair, Some(i)) = (policy, line) else {
            return Err(SdpError::Syntax(e));
        };
        if repairs.len() >= MAX_REPAIRS {
            return Err(SdpError::Syntax(e));
        }
        repairs.push(repair(&mut lines, i, &e));
    }
}
