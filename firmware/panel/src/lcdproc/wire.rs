//! The LCDproc client protocol's text format, as pure code: [`Request`]s
//! rendered as LCDd reads them (one line each; text arguments in double
//! quotes with `\` and `"` escaped, control characters dropped, characters a
//! character display cannot show replaced by `?`), and the server's lines
//! parsed into [`Reply`] (`connect … wid N hgt M`, `success`, `huh? …`,
//! `key X`, `listen s`, `ignore s`). Reference: the LCDproc developer's guide,
//! "Client commands" (protocol 0.3/0.4 of LCDd 0.5).

use std::fmt;

/// A screen's priority (LCDd: which screens rotate and which one is on top).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// Never shown.
    Hidden,
    /// In the rotation.
    Info,
    /// In front of the `Info` screens.
    Foreground,
    /// In front of everything (a change of state).
    Alert,
    /// The client is waiting for the user (the menu).
    Input,
}

impl Priority {
    fn word(self) -> &'static str {
        match self {
            Priority::Hidden => "hidden",
            Priority::Info => "info",
            Priority::Foreground => "foreground",
            Priority::Alert => "alert",
            Priority::Input => "input",
        }
    }
}

/// The widget kinds the panel uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WidgetKind {
    String,
    Title,
    Scroller,
}

/// One client command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    Hello,
    ClientSet {
        name: String,
    },
    /// Reserve a key (`client_add_key -exclusively`): its presses come to this client.
    AddKey {
        key: String,
    },
    ScreenAdd {
        id: String,
    },
    /// `duration` in eighths of a second (LCDd's unit).
    ScreenSet {
        id: String,
        name: String,
        priority: Priority,
        duration: Option<u32>,
    },
    ScreenPriority {
        id: String,
        priority: Priority,
    },
    WidgetAdd {
        screen: String,
        id: String,
        kind: WidgetKind,
    },
    /// A string widget at column `x`, row `y` (1-based).
    StringAt {
        screen: String,
        id: String,
        x: u32,
        y: u32,
        text: String,
    },
    Title {
        screen: String,
        id: String,
        text: String,
    },
    /// A scroller over columns `left..=right` of row `y`, `h`orizontal at `speed`.
    Scroller {
        screen: String,
        id: String,
        left: u32,
        right: u32,
        y: u32,
        speed: u32,
        text: String,
    },
}

/// `text` as one quoted argument.
pub fn quote(text: &str) -> String {
    let mut q = String::with_capacity(text.len() + 2);
    q.push('"');
    for c in text.chars() {
        match c {
            '"' | '\\' => {
                q.push('\\');
                q.push(c);
            }
            c if c.is_control() => {}
            c if c.is_ascii() => q.push(c),
            '°' => q.push('C'),
            '…' => q.push('.'),
            _ => q.push('?'),
        }
    }
    q.push('"');
    q
}

/// A name used as a bare token (ids, keys): only `[A-Za-z0-9_-]`, others become `_`.
fn token(s: &str) -> String {
    let t: String =
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' }).collect();
    if t.is_empty() {
        "_".into()
    } else {
        t
    }
}

impl fmt::Display for Request {
    /// The command line without its newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Request::Hello => write!(f, "hello"),
            Request::ClientSet { name } => write!(f, "client_set -name {}", quote(name)),
            Request::AddKey { key } => write!(f, "client_add_key -exclusively {}", token(key)),
            Request::ScreenAdd { id } => write!(f, "screen_add {}", token(id)),
            Request::ScreenSet { id, name, priority, duration } => {
                write!(
                    f,
                    "screen_set {} -name {} -priority {} -heartbeat off",
                    token(id),
                    quote(name),
                    priority.word()
                )?;
                match duration {
                    Some(d) => write!(f, " -duration {d}"),
                    None => Ok(()),
                }
            }
            Request::ScreenPriority { id, priority } => {
                write!(f, "screen_set {} -priority {}", token(id), priority.word())
            }
            Request::WidgetAdd { screen, id, kind } => {
                let k = match kind {
                    WidgetKind::String => "string",
                    WidgetKind::Title => "title",
                    WidgetKind::Scroller => "scroller",
                };
                write!(f, "widget_add {} {} {k}", token(screen), token(id))
            }
            Request::StringAt { screen, id, x, y, text } => {
                write!(f, "widget_set {} {} {x} {y} {}", token(screen), token(id), quote(text))
            }
            Request::Title { screen, id, text } => {
                write!(f, "widget_set {} {} {}", token(screen), token(id), quote(text))
            }
            Request::Scroller { screen, id, left, right, y, speed, text } => {
                write!(f, "widget_set {} {} {left} {y} {right} {y} h {speed} {}", token(screen), token(id), quote(text))
            }
        }
    }
}

/// One line from LCDd.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// The answer to `hello`: the display's size in characters.
    Connect {
        wid: u32,
        hgt: u32,
    },
    Success,
    /// An error (`huh? …`), with LCDd's text.
    Huh(String),
    /// A reserved key was pressed (`Enter`, `Escape`, `Up`, …).
    Key(String),
    /// The screen is now shown.
    Listen(String),
    /// The screen is no longer shown.
    Ignore(String),
    /// The server closes the connection.
    Bye,
    /// Anything else (`menuevent …`, newer protocol lines): ignored by the panel.
    Other(String),
}

/// Why a `connect` line could not be used.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("connect line without a usable `{0}`: {1:?}")]
    Connect(&'static str, String),
}

/// Parses one line from LCDd (without its newline; a trailing `\r` is ignored).
pub fn parse(line: &str) -> Result<Reply, ParseError> {
    let line = line.trim_end_matches(['\r', '\n']);
    let mut words = line.split_ascii_whitespace();
    let first = words.next().unwrap_or("");
    let rest = || line.trim_start().get(first.len()..).unwrap_or("").trim().to_string();
    Ok(match first {
        "connect" => {
            let words: Vec<&str> = words.collect();
            let find = |name: &'static str| {
                words
                    .windows(2)
                    .find(|w| w[0] == name)
                    .and_then(|w| w[1].parse::<u32>().ok())
                    .filter(|&n| (1..=256).contains(&n))
                    .ok_or_else(|| ParseError::Connect(name, line.to_string()))
            };
            Reply::Connect { wid: find("wid")?, hgt: find("hgt")? }
        }
        "success" => Reply::Success,
        "huh?" => Reply::Huh(rest()),
        "key" => Reply::Key(rest()),
        "listen" => Reply::Listen(rest()),
        "ignore" => Reply::Ignore(rest()),
        "bye" => Reply::Bye,
        _ => Reply::Other(line.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_render_with_the_protocols_quoting() {
        let r = Request::StringAt {
            screen: "status".into(),
            id: "l1".into(),
            x: 1,
            y: 2,
            text: "say \"hi\" \\ 20°\n".into(),
        };
        assert_eq!(r.to_string(), r#"widget_set status l1 1 2 "say \"hi\" \\ 20C""#);
        let r = Request::ScreenSet { id: "ip".into(), name: "IP".into(), priority: Priority::Info, duration: Some(40) };
        assert_eq!(r.to_string(), r#"screen_set ip -name "IP" -priority info -heartbeat off -duration 40"#);
        assert_eq!(Request::AddKey { key: "Enter; x".into() }.to_string(), "client_add_key -exclusively Enter__x");
        let s = Request::Scroller {
            screen: "a".into(),
            id: "s".into(),
            left: 1,
            right: 16,
            y: 2,
            speed: 2,
            text: "é".into(),
        };
        assert_eq!(s.to_string(), r#"widget_set a s 1 2 16 2 h 2 "?""#);
    }

    #[test]
    fn server_lines_parse() {
        let c = "connect LCDproc 0.5.9 protocol 0.4 lcd wid 20 hgt 4 cellwid 5 cellhgt 8";
        assert_eq!(parse(c), Ok(Reply::Connect { wid: 20, hgt: 4 }));
        assert_eq!(parse("success\r\n"), Ok(Reply::Success));
        assert_eq!(parse("huh? Invalid command \"x\""), Ok(Reply::Huh("Invalid command \"x\"".into())));
        assert_eq!(parse("key Enter"), Ok(Reply::Key("Enter".into())));
        assert_eq!(parse("listen status"), Ok(Reply::Listen("status".into())));
        assert_eq!(parse("ignore ip"), Ok(Reply::Ignore("ip".into())));
        assert_eq!(parse("menuevent select x"), Ok(Reply::Other("menuevent select x".into())));
        assert!(parse("connect LCDproc wid 0 hgt 2").is_err());
        assert!(parse("connect LCDproc wid 16").is_err());
        assert_eq!(parse(""), Ok(Reply::Other(String::new())));
    }
}
