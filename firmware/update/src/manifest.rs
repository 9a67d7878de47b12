//! The update manifest: which bundle the fleet should run and how fast it rolls out.
//!
//! ```json
//! {
//!   "compatible": "hotspare-qemu-virt",
//!   "version": "2026.12.2",
//!   "bundle": "hotspare-2026.12.2.raucb",
//!   "sha256": "<64 hex digits>",
//!   "size": 45613056,
//!   "rollout": [
//!     { "at": "2026-12-08T02:00:00Z", "percent": 10 },
//!     { "at": "2026-12-09T02:00:00Z", "percent": 100 }
//!   ]
//! }
//! ```
//!
//! `bundle` is a URL, absolute or relative to the manifest's own URL. `rollout` is optional
//! (absent: every box at once); stages are in time order with percentages that never go down.
//! The manifest is not what makes an update trusted: RAUC checks the bundle's signature
//! against the box's keyring, and the agent checks that the signed bundle says the same
//! `compatible` and `version` as the manifest (docs/security.md).

use serde::Deserialize;

/// The largest manifest the agent reads (a hostile server cannot make it hold more).
pub const MAX_MANIFEST_BYTES: usize = 64 * 1024;
/// The largest bundle a manifest may announce (the data partition holds the download).
pub const MAX_BUNDLE_BYTES: u64 = 1 << 30;

/// A parsed, validated manifest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Manifest {
    pub compatible: String,
    pub version: String,
    /// The bundle's URL as written (resolve it against the manifest's URL with [`resolve`]).
    pub bundle: String,
    pub sha256: [u8; 32],
    pub size: u64,
    /// Stages in time order (empty: everyone now).
    pub rollout: Vec<Stage>,
}

/// From `at` on, `percent` of the boxes (by [`crate::rollout::bucket`]) take the version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stage {
    pub at_us: i64,
    pub percent: u8,
}

/// Why a manifest was refused; the text names the field.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ManifestError {
    #[error("manifest is {0} bytes, more than the {MAX_MANIFEST_BYTES} allowed")]
    TooLarge(usize),
    #[error("manifest is not valid JSON of the expected shape: {0}")]
    Json(String),
    #[error("manifest field `{field}`: {why}")]
    Field { field: &'static str, why: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    compatible: String,
    version: String,
    bundle: String,
    sha256: String,
    size: u64,
    #[serde(default)]
    rollout: Vec<RawStage>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStage {
    at: String,
    percent: u8,
}

fn field(field: &'static str, why: impl Into<String>) -> ManifestError {
    ManifestError::Field { field, why: why.into() }
}

/// A name or version: 1–128 printable ASCII characters without spaces.
fn token(name: &'static str, v: &str) -> Result<(), ManifestError> {
    if v.is_empty() || v.len() > 128 || !v.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(field(name, format!("{v:?}: 1 to 128 printable ASCII characters, no spaces")));
    }
    Ok(())
}

impl Manifest {
    /// Parses and validates a manifest body.
    pub fn parse(body: &[u8]) -> Result<Manifest, ManifestError> {
        if body.len() > MAX_MANIFEST_BYTES {
            return Err(ManifestError::TooLarge(body.len()));
        }
        let raw: Raw = serde_json::from_slice(body).map_err(|e| ManifestError::Json(e.to_string()))?;
        token("compatible", &raw.compatible)?;
        token("version", &raw.version)?;
        token("bundle", &raw.bundle)?;
        let mut sha256 = [0u8; 32];
        hex::decode_to_slice(&raw.sha256, &mut sha256)
            .map_err(|_| field("sha256", format!("{:?}: 64 hexadecimal digits", raw.sha256)))?;
        if raw.size == 0 || raw.size > MAX_BUNDLE_BYTES {
            return Err(field("size", format!("{}: 1 to {MAX_BUNDLE_BYTES} bytes", raw.size)));
        }
        let mut rollout = Vec::with_capacity(raw.rollout.len().min(64));
        for s in &raw.rollout {
            if rollout.len() == 64 {
                return Err(field("rollout", "more than 64 stages"));
            }
            let at_us = hotspare_base::time::parse_rfc3339_us(&s.at)
                .map_err(|e| field("rollout", format!("at {:?}: {e}", s.at)))?;
            if s.percent > 100 {
                return Err(field("rollout", format!("percent {}: 0 to 100", s.percent)));
            }
            if let Some(prev) = rollout.last().copied() {
                let Stage { at_us: prev_at, percent: prev_percent } = prev;
                if at_us <= prev_at {
                    return Err(field("rollout", format!("stage at {:?} is not after the one before", s.at)));
                }
                if s.percent < prev_percent {
                    return Err(field(
                        "rollout",
                        format!("percent {} after {prev_percent}: never goes down", s.percent),
                    ));
                }
            }
            rollout.push(Stage { at_us, percent: s.percent });
        }
        Ok(Manifest {
            compatible: raw.compatible,
            version: raw.version,
            bundle: raw.bundle,
            sha256,
            size: raw.size,
            rollout,
        })
    }

    /// The bundle's absolute URL: `bundle` itself when it has a scheme, else `bundle`
    /// relative to the directory of `manifest_url` (or its host's root for `/path`).
    pub fn bundle_url(&self, manifest_url: &str) -> String {
        resolve(manifest_url, &self.bundle)
    }
}

/// `reference` against `base` as a browser would for the forms a manifest uses: absolute
/// (`scheme://…`), absolute path (`/x`), or relative to the base's directory (`x`, `d/x`).
pub fn resolve(base: &str, reference: &str) -> String {
    if reference.contains("://") {
        return reference.to_string();
    }
    let (scheme_host, path) = match base.find("://") {
        Some(i) => match base[i + 3..].find('/') {
            Some(j) => base.split_at(i + 3 + j),
            None => (base, "/"),
        },
        None => ("", base),
    };
    if reference.starts_with('/') {
        return format!("{scheme_host}{reference}");
    }
    let path = path.split(['?', '#']).next().unwrap_or("");
    let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
    format!("{scheme_host}{dir}{reference}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

    fn body(extra: &str) -> String {
        format!(
            r#"{{"compatible":"hotspare-qemu-virt","version":"2","bundle":"b.raucb","sha256":"{SHA}","size":10{extra}}}"#
        )
    }

    #[test]
    fn a_manifest_parses_with_and_without_rollout() {
        let m = Manifest::parse(body("").as_bytes()).unwrap();
        assert_eq!((m.version.as_str(), m.size, m.sha256[1], m.rollout.len()), ("2", 10, 0x11, 0));
        let m = Manifest::parse(
            body(r#","rollout":[{"at":"2026-12-08T00:00:00Z","percent":10},{"at":"2026-12-09T00:00:00Z","percent":100}]"#)
                .as_bytes(),
        )
        .unwrap();
        assert_eq!(m.rollout.iter().map(|s| s.percent).collect::<Vec<_>>(), vec![10, 100]);
        assert_eq!(m.rollout[1].at_us - m.rollout[0].at_us, 86_400_000_000);
    }

    #[test]
    fn bad_manifests_name_the_field() {
        let cases = [
            (body("").replace(SHA, "xyz"), "sha256"),
            (body("").replace("\"size\":10", "\"size\":0"), "size"),
            (body("").replace("\"2\"", "\"two words\""), "version"),
            (body("").replace("\"2\"", "\"\""), "version"),
            (body(r#","rollout":[{"at":"yesterday","percent":10}]"#), "rollout"),
            (body(r#","rollout":[{"at":"2026-12-08T00:00:00Z","percent":101}]"#), "rollout"),
            (
                body(
                    r#","rollout":[{"at":"2026-12-08T00:00:00Z","percent":50},{"at":"2026-12-09T00:00:00Z","percent":10}]"#,
                ),
                "never goes down",
            ),
            (
                body(
                    r#","rollout":[{"at":"2026-12-09T00:00:00Z","percent":5},{"at":"2026-12-08T00:00:00Z","percent":10}]"#,
                ),
                "not after",
            ),
            (body(r#","extra":1"#), "unknown field `extra`"),
            ("[1,2]".to_string(), "not valid JSON"),
        ];
        for (text, want) in cases {
            let e = Manifest::parse(text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(want), "{text}: {e}");
        }
        let big = vec![b' '; MAX_MANIFEST_BYTES + 1];
        assert_eq!(Manifest::parse(&big), Err(ManifestError::TooLarge(MAX_MANIFEST_BYTES + 1)));
    }

    #[test]
    fn bundle_urls_resolve_like_a_browser() {
        let m = "http://10.0.2.2:8000/fleet/manifest.json?x=1";
        assert_eq!(resolve(m, "b.raucb"), "http://10.0.2.2:8000/fleet/b.raucb");
        assert_eq!(resolve(m, "../b.raucb"), "http://10.0.2.2:8000/fleet/../b.raucb");
        assert_eq!(resolve(m, "/b.raucb"), "http://10.0.2.2:8000/b.raucb");
        assert_eq!(resolve(m, "https://cdn/x.raucb"), "https://cdn/x.raucb");
        assert_eq!(resolve("http://h:1", "b"), "http://h:1/b");
    }
}
