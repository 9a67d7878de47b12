//! One shape for every configuration-file error (`nvr.toml`, `failover.toml`,
//! …): the file, the line and column, the dotted key (`storage.dir`,
//! `camera[0].url`) and what was expected there. [`ConfigText`] makes these
//! errors from TOML syntax and type errors (serde) and from the checks a
//! configuration runs after parsing, locating the key in the text.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read (the cause is the `source`).
    #[error("{}: cannot read", file.display())]
    Read {
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A syntax, type or value error at a place in the file; `problem` says
    /// what was expected there.
    #[error("{}:{line}:{column}: {key}: {problem}", file.display())]
    Invalid { file: PathBuf, line: usize, column: usize, key: String, problem: String },
}

/// Reads a configuration file.
pub fn read(file: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(file).map_err(|source| ConfigError::Read { file: file.to_owned(), source })
}

/// The text of a configuration file and its name: makes [`ConfigError`]s
/// that point into it.
#[derive(Clone, Copy, Debug)]
pub struct ConfigText<'a> {
    pub file: &'a Path,
    pub text: &'a str,
}

impl<'a> ConfigText<'a> {
    pub fn new(file: &'a Path, text: &'a str) -> Self {
        ConfigText { file, text }
    }

    /// Deserializes the TOML text; a syntax or type error names its place and
    /// the key there.
    pub fn deserialize<T: DeserializeOwned>(&self) -> Result<T, ConfigError> {
        toml::from_str(self.text).map_err(|e| {
            let offset = e.span().map_or(0, |s| s.start);
            let problem = match e.message().trim() {
                "" => "not valid TOML".to_owned(),
                m => m.to_owned(),
            };
            self.error_at(offset, &key_at(self.text, offset), problem)
        })
    }

    /// The error for `key` at byte `offset` of the text.
    pub fn error_at(&self, offset: usize, key: &str, problem: String) -> ConfigError {
        let (line, column) = line_col(self.text, offset);
        ConfigError::Invalid { file: self.file.to_owned(), line, column, key: key.to_owned(), problem }
    }

    /// The error for the dotted `key` (`server.listen`, `camera[1].id`,
    /// `failover.spares[0]`), at its value in the text; a key not written in
    /// the file (a missing one) points at the nearest enclosing table written.
    pub fn error_for_key(&self, key: &str, problem: String) -> ConfigError {
        self.error_at(locate(self.text, key).unwrap_or(0), key, problem)
    }
}

/// 1-based line and column (in characters) of byte `offset`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..]).chars().count() + 1;
    (line, column)
}

/// Best-effort dotted key name at a byte offset: the enclosing table
/// (`spare`, `nvr[1]`) and the key of the line (`check_interval_s`). Works on
/// text that is not valid TOML (it names the place of a syntax error).
pub fn key_at(text: &str, offset: usize) -> String {
    let offset = offset.min(text.len());
    let mut table = String::new();
    let mut arrays: std::collections::HashMap<String, usize> = Default::default();
    let mut pos = 0;
    let mut key = None;
    for line in text.split_inclusive('\n') {
        let span: Range<usize> = pos..pos + line.len();
        pos += line.len();
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_owned();
            let n = arrays.entry(name.clone()).or_insert(0);
            table = format!("{name}[{n}]");
            *n += 1;
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = name.trim().to_owned();
        }
        if span.contains(&offset) || (span.end == offset && pos == text.len()) {
            if !t.starts_with('[') && !t.starts_with('#') {
                key = t.split('=').next().map(|k| k.trim().trim_matches('"').to_owned()).filter(|k| !k.is_empty());
            }
            break;
        }
    }
    // Control characters are shown escaped, never raw in a message.
    let key = key.map(|k| if k.chars().any(char::is_control) { format!("{k:?}") } else { k });
    match (table.is_empty(), key) {
        (true, Some(k)) => k,
        (false, Some(k)) => format!("{table}.{k}"),
        (false, None) => table,
        (true, None) => "(file)".to_owned(),
    }
}

/// One step of a dotted key: `name` or `name[index]`.
fn steps(key: &str) -> impl Iterator<Item = (&str, Option<usize>)> {
    key.split('.').map(|step| match step.strip_suffix(']').and_then(|s| s.split_once('[')) {
        Some((name, i)) => (name, i.parse().ok()),
        None => (step, None),
    })
}

/// Byte offset of the value of dotted `key` in `text` (valid TOML), or of the
/// deepest part of it that is written; `None` if the text does not parse.
pub fn locate(text: &str, key: &str) -> Option<usize> {
    let doc = toml_edit::ImDocument::parse(text).ok()?;
    let mut place = Place::Table(doc.as_table());
    let mut at = None;
    for (name, index) in steps(key) {
        let Some(child) = place.child(name) else { break };
        at = child.start().or(at);
        place = child;
        let Some(i) = index else { continue };
        let Some(element) = place.element(i) else { break };
        at = element.start().or(at);
        place = element;
    }
    at
}

/// A place in a parsed TOML document, while following a dotted key.
#[derive(Clone, Copy)]
enum Place<'d> {
    Table(&'d toml_edit::Table),
    Item(&'d toml_edit::Item),
    Value(&'d toml_edit::Value),
}

impl<'d> Place<'d> {
    fn child(self, name: &str) -> Option<Place<'d>> {
        use toml_edit::Item;
        match self {
            Place::Table(t) => t.get(name).map(Place::Item),
            Place::Item(Item::Table(t)) => t.get(name).map(Place::Item),
            Place::Item(Item::Value(v)) | Place::Value(v) => v.as_inline_table()?.get(name).map(Place::Value),
            Place::Item(_) => None,
        }
    }

    fn element(self, i: usize) -> Option<Place<'d>> {
        use toml_edit::{Item, Value};
        match self {
            Place::Item(Item::ArrayOfTables(a)) => a.get(i).map(Place::Table),
            Place::Item(Item::Value(Value::Array(a))) | Place::Value(Value::Array(a)) => a.get(i).map(Place::Value),
            _ => None,
        }
    }

    fn start(self) -> Option<usize> {
        use toml_edit::Item;
        match self {
            Place::Table(t) | Place::Item(Item::Table(t)) => t.span(),
            Place::Item(Item::Value(v)) | Place::Value(v) => v.span(),
            Place::Item(Item::ArrayOfTables(a)) => a.span(),
            Place::Item(Item::None) => None,
        }
        .map(|s| s.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"[server]
listen = "nowhere"

[[camera]]
id = "a"

[[camera]]
id = "b"
action = { type = "mail" }

[failover]
spares = ["https://x", "http://y"]
"#;

    fn place(key: &str) -> (usize, usize) {
        line_col(TEXT, locate(TEXT, key).unwrap_or(0))
    }

    #[test]
    fn keys_are_located_at_their_values() {
        assert_eq!(place("server.listen"), (2, 10));
        assert_eq!(place("camera[1].id"), (8, 6));
        assert_eq!(place("camera[1].action.type"), (9, 19));
        assert_eq!(place("failover.spares[1]"), (12, 24));
    }

    #[test]
    fn a_missing_key_points_at_its_table() {
        assert_eq!(place("camera[0].url").0, 4);
        assert_eq!(place("server.colour").0, 1);
    }

    #[test]
    fn errors_name_file_line_column_key_and_expectation() {
        let src = ConfigText::new(Path::new("/etc/x.toml"), TEXT);
        let e = src.error_for_key("server.listen", "expected an address such as 127.0.0.1:8080".into());
        assert_eq!(e.to_string(), "/etc/x.toml:2:10: server.listen: expected an address such as 127.0.0.1:8080");
        assert!(src.deserialize::<toml::Table>().is_ok());
        match ConfigText::new(Path::new("y.toml"), "[a]\nb = \n").deserialize::<toml::Table>() {
            Err(ConfigError::Invalid { file, line, key, problem, .. }) => {
                assert_eq!((file.as_path(), line, key.as_str()), (Path::new("y.toml"), 2, "a.b"));
                assert!(!problem.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn an_unreadable_file_keeps_the_cause() {
        let e = read(Path::new("/nonexistent/x.toml")).unwrap_err();
        assert_eq!(e.to_string(), "/nonexistent/x.toml: cannot read");
        let cause = std::error::Error::source(&e).map(ToString::to_string).unwrap_or_default();
        assert!(cause.contains("No such file"), "{cause}");
    }
}
