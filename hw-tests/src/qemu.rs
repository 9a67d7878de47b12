//! A `qemu-system-aarch64` process with its serial console on stdin/stdout: a
//! reader thread collects lines; [`Qemu::expect`] waits for a line containing
//! a pattern (with a timeout), [`Qemu::send`] types on the console and
//! [`Qemu::wait_exit`] waits for the process to end. The process is killed
//! when the value is dropped.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::timeout_factor;

pub struct Qemu {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    /// Every line seen so far (for error messages and after-the-fact checks).
    pub transcript: Vec<String>,
}

impl Qemu {
    /// Starts `qemu-system-aarch64 ARGS` with stdin and stdout piped.
    pub fn spawn(args: &[String], cwd: &Path) -> std::io::Result<Qemu> {
        let mut cmd = Command::new("qemu-system-aarch64");
        cmd.args(args).current_dir(cwd);
        Qemu::spawn_command(cmd)
    }

    /// Starts `cmd` (QEMU, or a script that `exec`s it) with stdin and stdout piped.
    pub fn spawn_command(mut cmd: Command) -> std::io::Result<Qemu> {
        let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn()?;
        let stdin = child.stdin.take();
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
        Ok(Qemu { child, stdin, lines: rx, transcript: Vec::new() })
    }

    /// The process id (QEMU's: the run script `exec`s it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Types `text` on the serial console.
    pub fn send(&mut self, text: &str) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the console's input is closed")?;
        stdin.write_all(text.as_bytes()).and_then(|()| stdin.flush()).map_err(|e| format!("typing on the console: {e}"))
    }

    /// Like [`Qemu::expect`], and also returns the lines seen before the match.
    pub fn expect_collect(&mut self, pattern: &str, timeout: Duration) -> Result<(Vec<String>, String), String> {
        let from = self.transcript.len();
        let matched = self.expect(pattern, timeout)?;
        let before = self.transcript[from..self.transcript.len() - 1].to_vec();
        Ok((before, matched))
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
