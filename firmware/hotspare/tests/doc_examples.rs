//! The documentation can be trusted: every example file in `docs/` loads with the real loader
//! of its role, and every relative link in `docs/` and `README.md` leads to a file that exists.
//!
//! Examples are fenced code blocks whose info string names the file they stand for
//! (the convention is described in `docs/README.md`):
//! - ```` ```toml nvr.toml ```` — loaded by `NvrConfig::load` (what `hotspare nvr` runs);
//! - ```` ```toml failover.toml ```` — loaded by `Config::load` (what `hotspare failover`
//!   runs), then its NVR count checked against its licence: the unlicensed capacity, or, when
//!   `spare.licence` is set, the licence example of the docs with the same file name;
//! - ```` ```toml supervisor.toml ```` — loaded by `SupervisorConfig::load` (what
//!   `hotspare supervisor` runs), each service naming a subcommand of this binary;
//! - ```` ```toml licence.toml ```` — a licence: parsed and its signature checked against the
//!   keys this build trusts (the development key in tests: `--features hotspare/dev-keys`).
//!
//! Other blocks (plain ```` ```toml ````, fragments) are not checked. The test fails when an
//! example does not load, and when there are no examples at all.

use std::path::{Path, PathBuf};

use hotspare_failover::config::Config as FailoverConfig;
use hotspare_failover::licence::{Capacity, Licence, LicenceSource};
use hotspare_nvr::NvrConfig;
use hotspare_supervisor::config::SupervisorConfig;

/// The repository's root (`firmware/hotspare` is two levels down).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repository root")
}

/// Every `.md` file under `dir`, sorted.
fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("read docs dir").map(|e| e.expect("dir entry").path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            markdown_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "md") {
            out.push(p);
        }
    }
}

fn docs() -> Vec<PathBuf> {
    let mut files = Vec::new();
    markdown_files(&repo().join("docs"), &mut files);
    assert!(!files.is_empty(), "no documentation found under docs/");
    files
}

/// One fenced block: where it is, the words of its info string, its text.
struct Block {
    file: PathBuf,
    line: usize,
    info: Vec<String>,
    text: String,
}

impl Block {
    fn place(&self) -> String {
        format!("{}:{}", self.file.strip_prefix(repo()).unwrap_or(&self.file).display(), self.line)
    }
}

fn fenced_blocks(file: &Path) -> Vec<Block> {
    let text = std::fs::read_to_string(file).expect("read markdown");
    let mut blocks = Vec::new();
    let mut open: Option<(String, Block)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(fence) = ["```", "~~~"].into_iter().find(|f| trimmed.starts_with(f)) {
                    let info = trimmed.trim_start_matches(fence.chars().next().unwrap_or('`'));
                    let fence_len = trimmed.len() - info.len();
                    let block = Block {
                        file: file.to_owned(),
                        line: i + 1,
                        info: info.split_whitespace().map(str::to_owned).collect(),
                        text: String::new(),
                    };
                    open = Some((trimmed[..fence_len].to_owned(), block));
                }
            }
            Some((fence, block)) => {
                if trimmed.starts_with(fence.as_str()) && trimmed.trim_start_matches(fence.as_str()).trim().is_empty() {
                    if let Some((_, b)) = open.take() {
                        blocks.push(b);
                    }
                } else {
                    block.text.push_str(line);
                    block.text.push('\n');
                }
            }
        }
    }
    assert!(open.is_none(), "{}: a fenced block is never closed", file.display());
    blocks
}

/// Examples marked `toml NAME`, by file name.
fn examples(name: &str) -> Vec<Block> {
    docs()
        .iter()
        .flat_map(|f| fenced_blocks(f))
        .filter(|b| b.info.len() >= 2 && b.info[0] == "toml" && b.info[1] == name)
        .collect()
}

#[test]
fn nvr_examples_load() {
    let examples = examples("nvr.toml");
    assert!(!examples.is_empty(), "no ```toml nvr.toml example in docs/");
    let dir = tempfile::tempdir().expect("tempdir");
    for b in &examples {
        let path = dir.path().join("nvr.toml");
        std::fs::write(&path, &b.text).expect("write example");
        let cfg = NvrConfig::load(&path).unwrap_or_else(|e| panic!("{}: example does not load: {e}", b.place()));
        assert!(!cfg.server.serial.is_empty(), "{}", b.place());
    }
}

#[test]
fn supervisor_examples_load() {
    let examples = examples("supervisor.toml");
    assert!(!examples.is_empty(), "no ```toml supervisor.toml example in docs/");
    let dir = tempfile::tempdir().expect("tempdir");
    for b in &examples {
        let path = dir.path().join("supervisor.toml");
        std::fs::write(&path, &b.text).expect("write example");
        let cfg = SupervisorConfig::load(&path).unwrap_or_else(|e| panic!("{}: example does not load: {e}", b.place()));
        assert!(!cfg.services.is_empty(), "{}", b.place());
        for s in cfg.services.iter().filter(|s| s.program.is_none()) {
            let role = s.args.first().map(String::as_str).unwrap_or_default();
            let help = std::process::Command::new(env!("CARGO_BIN_EXE_hotspare"))
                .args([role, "--help"])
                .output()
                .expect("run hotspare");
            assert!(
                help.status.success(),
                "{}: service {}: `hotspare {role}` is not a subcommand",
                b.place(),
                s.spec.name
            );
        }
    }
}

#[cfg(feature = "dev-keys")]
#[test]
fn licence_examples_verify() {
    let examples = examples("licence.toml");
    assert!(!examples.is_empty(), "no ```toml licence.toml example in docs/");
    for b in &examples {
        let licence = Licence::parse(&b.text, &b.place())
            .unwrap_or_else(|e| panic!("{}: licence example does not parse: {e}", b.place()));
        licence
            .verify(&licence.box_id)
            .unwrap_or_else(|e| panic!("{}: licence example does not verify: {e}", b.place()));
    }
}

#[test]
fn failover_examples_load() {
    let examples = examples("failover.toml");
    assert!(!examples.is_empty(), "no ```toml failover.toml example in docs/");
    let dir = tempfile::tempdir().expect("tempdir");
    for b in &examples {
        let path = dir.path().join("failover.toml");
        std::fs::write(&path, &b.text).expect("write example");
        let cfg = FailoverConfig::load(&path).unwrap_or_else(|e| panic!("{}: example does not load: {e}", b.place()));
        let capacity = match &cfg.spare.licence {
            None => cfg.capacity().unwrap_or_else(|e| panic!("{}: {e}", b.place())),
            Some(p) => licence_capacity(b, p),
        };
        cfg.check_capacity(&capacity).unwrap_or_else(|e| panic!("{}: {e}", b.place()));
    }
}

/// The capacity of the docs' licence example named like `path`, its signature checked for the
/// box it names (the box is the installer's, not the test machine's). Without the development
/// key (`dev-keys`) no example licence can verify: its values are taken as written.
fn licence_capacity(b: &Block, path: &Path) -> Capacity {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    let licence = examples(name)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("{}: spare.licence {path:?}: no ```toml {name} example in docs/", b.place()));
    let parsed = Licence::parse(&licence.text, &licence.place()).unwrap_or_else(|e| panic!("{}: {e}", licence.place()));
    if cfg!(feature = "dev-keys") {
        parsed.verify(&parsed.box_id).unwrap_or_else(|e| panic!("{}: {e}", licence.place()))
    } else {
        Capacity {
            nvrs: u8::try_from(parsed.nvrs).unwrap_or(u8::MAX),
            channels: u16::try_from(parsed.channels).unwrap_or(u16::MAX),
            source: LicenceSource::Licensed { id: parsed.licence_id.clone() },
        }
    }
}

/// Relative links `[text](target)` in docs/ and README.md lead to files that exist.
#[test]
fn relative_links_resolve() {
    let mut files = docs();
    files.push(repo().join("README.md"));
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read markdown");
        let mut in_code = false;
        for (i, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
                continue;
            }
            if in_code {
                continue;
            }
            for target in link_targets(line) {
                if target.contains("://") || target.starts_with('#') || target.starts_with("mailto:") {
                    continue;
                }
                let path = target.split('#').next().unwrap_or_default();
                let resolved = file.parent().unwrap_or(Path::new(".")).join(path);
                checked += 1;
                if !resolved.exists() {
                    broken.push(format!("{}:{}: {target}", file.strip_prefix(repo()).unwrap_or(file).display(), i + 1));
                }
            }
        }
    }
    assert!(checked > 0, "no relative links found: is the link syntax still [text](path)?");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The targets of inline links `](target)` on a line (code spans excluded).
fn link_targets(line: &str) -> Vec<String> {
    // Drop code spans so that `a](b)` inside backticks is not a link.
    let mut plain = String::new();
    for (i, part) in line.split('`').enumerate() {
        if i % 2 == 0 {
            plain.push_str(part);
        }
    }
    let mut out = Vec::new();
    let mut rest = plain.as_str();
    while let Some(at) = rest.find("](") {
        rest = &rest[at + 2..];
        if let Some(end) = rest.find(')') {
            let target = rest[..end].split_whitespace().next().unwrap_or_default();
            if !target.is_empty() {
                out.push(target.to_owned());
            }
            rest = &rest[end..];
        }
    }
    out
}
