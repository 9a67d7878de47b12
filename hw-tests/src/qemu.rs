//! A `qemu-system-aarch64` process with its serial port on stdin/stdout: a [`Stream`]
//! (reachable through `Deref`: [`Stream::expect`] waits for a line containing a pattern,
//! [`Stream::expect_text`] for text such as a prompt, [`Stream::send`] types on the port) and
//! [`Qemu::wait_exit`], which waits for the process to end. The process is killed when the
//! value is dropped.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::stream::Stream;

pub struct Qemu {
    child: Child,
    serial: Stream,
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
        let stdin = child.stdin.take().map(|s| Box::new(s) as Box<dyn std::io::Write + Send>);
        let out = child.stdout.take().ok_or_else(|| std::io::Error::other("no stdout"))?;
        Ok(Qemu { child, serial: Stream::new("serial port", out, stdin) })
    }

    /// The process id (QEMU's: the run script `exec`s it).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Reads until the process exits (or `timeout`, then kills it and fails).
    pub fn wait_exit(&mut self, timeout: Duration) -> Result<(), String> {
        if self.serial.wait_end(timeout) {
            let _ = self.child.wait();
            return Ok(());
        }
        let _ = self.child.kill();
        Err(self.serial.failure("timeout waiting for QEMU to exit"))
    }
}

impl Deref for Qemu {
    type Target = Stream;
    fn deref(&self) -> &Stream {
        &self.serial
    }
}

impl DerefMut for Qemu {
    fn deref_mut(&mut self) -> &mut Stream {
        &mut self.serial
    }
}

impl Drop for Qemu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
