//! Printing an error with its causes: the message of each error in the
//! `source()` chain, outermost first. Library errors say what failed in their
//! own message and keep what caused it as their `#[source]`; whoever shows the
//! error to a person (the CLI, a status field) walks the chain here.

use std::error::Error;

/// The messages of `err` and of each of its causes, outermost first. A cause
/// whose message the previous one already ends with (an error that also
/// prints its source) is left out, so no text appears twice.
pub fn messages(err: &(dyn Error + 'static)) -> Vec<String> {
    let mut out: Vec<String> = vec![err.to_string()];
    let mut cause = err.source();
    while let Some(e) = cause {
        let text = e.to_string();
        let repeated = out.last().is_some_and(|prev| prev.ends_with(&text));
        if !repeated && !text.is_empty() {
            out.push(text);
        }
        cause = e.source();
    }
    out
}

/// `err` and its causes on one line, joined by `separator` (`": "` for a
/// status field, `": caused by "` for the CLI).
pub fn join(err: &(dyn Error + 'static), separator: &str) -> String {
    messages(err).join(separator)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cannot open the store")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("reading the index: {0}")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn every_cause_once_outermost_first() {
        let e = Outer(Middle(std::io::Error::other("disk on fire")));
        assert_eq!(messages(&e), ["cannot open the store", "reading the index: disk on fire"]);
        assert_eq!(join(&e, ": caused by "), "cannot open the store: caused by reading the index: disk on fire");
    }

    #[test]
    fn an_error_without_causes_is_its_message() {
        let e = std::io::Error::other("alone");
        assert_eq!(join(&e, ": "), "alone");
    }
}
