//! A text stream of a VM, typed on and read with expect-style waits: QEMU's stdio (the serial
//! port: firmware, kernel and service messages, the console's menu) or the maintenance
//! port's unix socket (a shell). A reader thread hands over bytes as they arrive; [`Stream`]
//! keeps the complete lines ([`Stream::transcript`], for [`Stream::expect`]) and the raw text
//! (for [`Stream::expect_text`]: prompts end without a new line). The two waits have their
//! own positions, so a test can follow the boot messages and the menu on the same port.

use std::io::{Read, Write};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::timeout_factor;

pub struct Stream {
    /// What the stream is, for error messages ("serial port", "maintenance port").
    name: &'static str,
    input: Option<Box<dyn Write + Send>>,
    chunks: Receiver<Vec<u8>>,
    /// Every complete line seen so far (for error messages and after-the-fact checks).
    pub transcript: Vec<String>,
    /// The line being received (no new line yet).
    partial: String,
    /// Lines of the transcript [`Stream::expect`] has looked at.
    seen: usize,
    /// Everything received, as text, and where [`Stream::expect_text`] looks from.
    text: String,
    text_at: usize,
    ended: bool,
}

/// Why a wait ended without its pattern.
enum Stop {
    Timeout,
    Ended,
}

impl Stream {
    /// A stream reading `output` (on a thread of its own) and typing on `input`.
    pub fn new(
        name: &'static str,
        mut output: impl Read + Send + 'static,
        input: Option<Box<dyn Write + Send>>,
    ) -> Stream {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 8192];
            loop {
                match output.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if tx.send(buf[..n].to_vec()).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        Stream {
            name,
            input,
            chunks: rx,
            transcript: Vec::new(),
            partial: String::new(),
            seen: 0,
            text: String::new(),
            text_at: 0,
            ended: false,
        }
    }

    /// Types `text`.
    pub fn send(&mut self, text: &str) -> Result<(), String> {
        let name = self.name;
        let input = self.input.as_mut().ok_or_else(|| format!("the {name}'s input is closed"))?;
        input.write_all(text.as_bytes()).and_then(|()| input.flush()).map_err(|e| format!("typing on the {name}: {e}"))
    }

    /// Receives what arrives before `deadline` (one chunk).
    fn pump(&mut self, deadline: Instant) -> Result<(), Stop> {
        if self.ended {
            return Err(Stop::Ended);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        match self.chunks.recv_timeout(left) {
            Ok(bytes) => {
                let s = String::from_utf8_lossy(&bytes);
                self.text.push_str(&s);
                for c in s.chars() {
                    if c == '\n' {
                        let line = std::mem::take(&mut self.partial);
                        self.transcript.push(line.trim_end_matches('\r').to_string());
                    } else {
                        self.partial.push(c);
                    }
                }
                Ok(())
            }
            Err(RecvTimeoutError::Timeout) => Err(Stop::Timeout),
            Err(RecvTimeoutError::Disconnected) => {
                self.ended = true;
                Err(Stop::Ended)
            }
        }
    }

    fn deadline(timeout: Duration) -> Instant {
        Instant::now() + timeout * timeout_factor()
    }

    fn stopped(&self, stop: Stop, pattern: &str) -> String {
        match stop {
            Stop::Timeout => self.failure(&format!("timeout waiting for {pattern:?}")),
            Stop::Ended => self.failure(&format!("the {}'s output ended before {pattern:?}", self.name)),
        }
    }

    /// Waits up to `timeout` (× `HW_TIMEOUT_FACTOR`) for a line containing `pattern`, among
    /// the lines no earlier `expect` looked at; returns it. An error says what was awaited
    /// and shows the tail.
    pub fn expect(&mut self, pattern: &str, timeout: Duration) -> Result<String, String> {
        self.expect_collect(pattern, timeout).map(|(_, line)| line)
    }

    /// Like [`Stream::expect`], and also returns the lines seen before the match.
    pub fn expect_collect(&mut self, pattern: &str, timeout: Duration) -> Result<(Vec<String>, String), String> {
        let from = self.seen;
        let deadline = Stream::deadline(timeout);
        loop {
            while self.seen < self.transcript.len() {
                self.seen += 1;
                if self.transcript[self.seen - 1].contains(pattern) {
                    let before = self.transcript[from..self.seen - 1].to_vec();
                    return Ok((before, self.transcript[self.seen - 1].clone()));
                }
            }
            if let Err(stop) = self.pump(deadline) {
                return Err(self.stopped(stop, pattern));
            }
        }
    }

    /// Waits for `pattern` anywhere in the text after what the last `expect_text` matched
    /// (a prompt without its new line too); returns the text up to and with it.
    pub fn expect_text(&mut self, pattern: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Stream::deadline(timeout);
        loop {
            if let Some(i) = self.text[self.text_at..].find(pattern) {
                let end = self.text_at + i + pattern.len();
                let out = self.text[self.text_at..end].to_string();
                self.text_at = end;
                return Ok(out);
            }
            if let Err(stop) = self.pump(deadline) {
                return Err(self.stopped(stop, pattern));
            }
        }
    }

    /// Moves `expect_text`'s position past the last `pattern` received so far; false when
    /// there is none after it.
    pub fn skip_past_last(&mut self, pattern: &str) -> bool {
        self.drain();
        match self.text[self.text_at..].rfind(pattern) {
            Some(i) => {
                self.text_at += i + pattern.len();
                true
            }
            None => false,
        }
    }

    /// Takes in what has arrived so far, without waiting.
    pub fn drain(&mut self) {
        while self.pump(Instant::now()).is_ok() {}
    }

    /// From now on `expect_text` only looks at what arrives later.
    pub fn skip_text(&mut self) {
        self.drain();
        self.text_at = self.text.len();
    }

    /// Reads until the stream ends, up to `timeout`; false on the timeout.
    pub fn wait_end(&mut self, timeout: Duration) -> bool {
        let deadline = Stream::deadline(timeout);
        loop {
            match self.pump(deadline) {
                Ok(()) => {}
                Err(Stop::Ended) => return true,
                Err(Stop::Timeout) => return false,
            }
        }
    }

    /// The lines seen that contain `pattern`.
    pub fn lines_with(&self, pattern: &str) -> Vec<&str> {
        self.transcript.iter().filter(|l| l.contains(pattern)).map(String::as_str).collect()
    }

    /// `what`, and the last 25 lines (and the line being received).
    pub fn failure(&self, what: &str) -> String {
        let mut tail: Vec<&str> = self.transcript.iter().rev().take(25).rev().map(String::as_str).collect();
        tail.push(&self.partial);
        format!("{what}; last lines of the {}:\n{}", self.name, tail.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(text: &str) -> Stream {
        Stream::new("test port", std::io::Cursor::new(text.as_bytes().to_vec()), None)
    }

    #[test]
    fn lines_and_text_are_waited_for_each_from_its_own_position() {
        let mut s = stream("U-Boot\r\nsupervisor: ready\n=== menu ===\nChoice (1-11): ");
        let t = Duration::from_secs(5);
        assert_eq!(
            s.expect_text("Choice (1-11): ", t).unwrap(),
            "U-Boot\r\nsupervisor: ready\n=== menu ===\nChoice (1-11): "
        );
        // the line wait still sees every line, without the CR
        let (before, line) = s.expect_collect("ready", t).unwrap();
        assert_eq!((before, line.as_str()), (vec!["U-Boot".to_string()], "supervisor: ready"));
        // a prompt is not a line: the stream ends first
        let e = s.expect("Choice", t).unwrap_err();
        assert!(e.contains("the test port's output ended before \"Choice\"") && e.contains("Choice (1-11): "), "{e}");
        assert!(s.expect_text("menu", t).is_err(), "matched text is not matched twice");
        assert!(s.wait_end(t));
        assert!(s.send("1\r").unwrap_err().contains("input is closed"));
    }

    #[test]
    fn skip_past_last_takes_the_newest_prompt() {
        let mut s = stream("Please press Enter\nPlease press Enter\nsh# ");
        let t = Duration::from_secs(5);
        assert!(s.wait_end(t));
        assert!(s.skip_past_last("Please press Enter"));
        assert!(!s.skip_past_last("Please press Enter"));
        assert_eq!(s.expect_text("# ", t).unwrap(), "\nsh# ");
    }
}
