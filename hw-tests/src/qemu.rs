//! A `qemu-system-aarch64` process with its serial console on stdout: a
//! reader thread collects lines; [`Qemu::expect`] waits for a line containing
//! a pattern (with a timeout) and [`Qemu::wait_exit`] for the process to end.
//! The process is killed when the value is dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::timeout_factor;

pub struct Qemu {
    child: Child,
    lines: Receiver<String>,
    /// Every line seen so far (for error messages and after-the-fact checks).
    pub transcript: Vec<String>,
}

impl Qemu {
    /// Starts `qemu-system-aarch64 ARGS` with stdin closed and stdout piped.
    pub fn spawn(args: &[String], cwd: &Path) -> std::io::Result<Qemu> {
        let mut child = Command::new("qemu-system-aarch64")
            .args(args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let out = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).split(b'\n').map_while(Result::ok) {
                let text = String::from_utf8_lossy(&line).trim_end_matches('\r').to_string();
                if tx.send(text).is_err() {
                    break;
                }
            }
        });
        Ok(Qemu { child, lines: rx, transcript: Vec::new() })
    }

    /// Waits up to `timeout` (× `HW_TIMEOUT_FACTOR`) for a line containing
    /// `pattern`; returns it. An error says what was awaited and shows the tail.
    pub fn expect(&mut self, pattern: &str, timeout: Duration) -> Result<String, String> {
        let deadline = Instant::now() + timeout * timeout_factor();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.transcript.push(line.clone());
                    if line.contains(pattern) {
                        return Ok(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => return Err(self.failure(&format!("timeout waiting for {pattern:?}"))),
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.failure(&format!("QEMU's output ended before {pattern:?}")))
                }
            }
        }
    }

    /// Reads until the process exits (or `timeout`, then kills it and fails).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout * timeout_factor();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.transcript.push(line),
                Err(RecvTimeoutError::Disconnected) => {
                    let _ = self.child.wait();
                    return Ok(());
                }
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    return Err(self.failure("timeout waiting for QEMU to exit"));
                }
            }
        }
    }

    /// The lines seen that contain `pattern`.
    pub fn lines_with(&self, pattern: &str) -> Vec<&str> {
        self.transcript.iter().filter(|l| l.contains(pattern)).map(String::as_str).collect()
    }

    fn failure(&self, what: &str) -> String {
        let tail: Vec<&str> = self.transcript.iter().rev().take(25).rev().map(String::as_str).collect();
        format!("{what}; last serial lines:\n{}", tail.join("\n"))
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
