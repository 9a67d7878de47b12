//! A captured RTSP exchange as test data: the camera's answer to each
//! method, read from `testdata/<vendor>/<name>.txt`.
//!
//! Format: `#` lines are comments (the source of the capture); `--- NAME`
//! starts a section holding one response as captured (LF or CRLF line
//! ends). NAME is a method (`OPTIONS`, `DESCRIBE`, `SETUP`, `PLAY`) or
//! `401`, the challenge sent to any request without valid credentials.
//! `CSeq` and `Content-Length` are rewritten to fit the replayed request.

use std::collections::HashMap;
use std::path::Path;

/// One recorded response: status line and headers, and the body.
#[derive(Clone, Debug)]
pub struct Recorded {
    pub head: Vec<String>,
    pub body: String,
}

impl Recorded {
    /// Values of the header `name` (case-insensitive).
    pub fn headers<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.head.iter().skip(1).filter_map(move |l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
        })
    }

    /// The response bytes for the request with sequence number `cseq`.
    pub fn render(&self, cseq: &str) -> Vec<u8> {
        let mut out = String::new();
        for (i, l) in self.head.iter().enumerate() {
            let name = l.split_once(':').map(|(k, _)| k.trim().to_ascii_lowercase());
            if i > 0 && matches!(name.as_deref(), Some("cseq" | "content-length")) {
                continue;
            }
            out.push_str(l);
            out.push_str("\r\n");
        }
        out.push_str(&format!("CSeq: {cseq}\r\n"));
        if !self.body.is_empty() {
            out.push_str(&format!("Content-Length: {}\r\n", self.body.len()));
        }
        out.push_str("\r\n");
        out.push_str(&self.body);
        out.into_bytes()
    }
}

/// A vendor's exchange.
#[derive(Debug)]
pub struct Script {
    pub sections: HashMap<String, Recorded>,
}

impl Script {
    pub fn load(rel: &str) -> Script {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata").join(rel);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut sections = HashMap::new();
        let mut name: Option<String> = None;
        let mut lines: Vec<String> = Vec::new();
        let mut finish = |name: &mut Option<String>, lines: &mut Vec<String>| {
            if let Some(n) = name.take() {
                let blank = lines.iter().position(|l| l.is_empty()).unwrap_or(lines.len());
                let head = lines[..blank].to_vec();
                let body: String = lines.get(blank + 1..).unwrap_or(&[]).iter().map(|l| format!("{l}\r\n")).collect();
                let body = if body.trim().is_empty() { String::new() } else { body };
                sections.insert(n, Recorded { head, body });
            }
            lines.clear();
        };
        for l in text.lines() {
            let l = l.trim_end_matches('\r');
            if let Some(n) = l.strip_prefix("--- ") {
                finish(&mut name, &mut lines);
                name = Some(n.trim().to_string());
            } else if name.is_none() && l.starts_with('#') || name.is_none() && l.is_empty() {
                continue;
            } else {
                lines.push(l.to_string());
            }
        }
        finish(&mut name, &mut lines);
        Script { sections }
    }

    pub fn get(&self, name: &str) -> Option<&Recorded> {
        self.sections.get(name)
    }
}
