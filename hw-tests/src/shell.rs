//! The two ports a test talks to on a booted [`Appliance`]: the maintenance port (hvc0, a
//! virtio console on a unix socket: busybox's `askfirst` shell, for commands:
//! [`Appliance::shell`], [`Appliance::fetch_file`]) and the serial port (ttyAMA0, QEMU's
//! stdio: the serial console's menu, [`Appliance::console_send`],
//! [`Appliance::console_expect`]).

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::appliance::{Appliance, UBOOT_BANNER};
use crate::stream::Stream;

/// busybox init's `askfirst` on the maintenance port.
const ASKFIRST: &str = "Please press Enter to activate this console";

/// The boot whose `askfirst` was answered: the index of its U-Boot banner in the serial
/// port's transcript.
pub(crate) type Activation = usize;

/// Connects to the maintenance port's socket (waiting up to `timeout` for QEMU to make it).
pub(crate) fn connect_maint(path: &Path, timeout: Duration) -> Result<Stream, String> {
    let deadline = Instant::now() + timeout;
    let stream = loop {
        match UnixStream::connect(path) {
            Ok(s) => break s,
            Err(e) if Instant::now() >= deadline => return Err(format!("maintenance port {}: {e}", path.display())),
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let writer = stream.try_clone().map_err(|e| format!("maintenance port: {e}"))?;
    Ok(Stream::new("maintenance port", stream, Some(Box::new(writer))))
}

impl Appliance {
    /// Runs `cmd` in the maintenance port's shell; its exit status and the lines it printed.
    pub fn shell(&mut self, cmd: &str, timeout: Duration) -> (i32, Vec<String>) {
        if self.activate_shell() {
            // the kernel's messages stay off the serial port's menu, and the shell's line
            // editing would wrap a long command's echo at 80 columns
            self.command("dmesg -n 1; stty columns 4000", timeout);
        }
        self.command(cmd, timeout)
    }

    fn command(&mut self, cmd: &str, timeout: Duration) -> (i32, Vec<String>) {
        self.commands += 1;
        let n = self.commands;
        // the echo of the typed line shows `"@@""done1`, the output `@@done1 <status>`
        let sep = if cmd.trim_end().ends_with('&') { " " } else { "; " };
        self.maint.send(&format!("{cmd}{sep}echo \"@@\"\"done{n} $?\"\n")).unwrap_or_else(|e| panic!("{e}"));
        let tag = format!("@@done{n} ");
        let (before, matched) = self.maint.expect_collect(&tag, timeout).unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
        let rc = matched.split(&tag).nth(1).and_then(|r| r.trim().parse().ok()).unwrap_or(-1);
        let out = before.into_iter().filter(|l| !l.contains("\"@@\"\"done")).collect();
        (rc, out)
    }

    /// [`Appliance::shell`], asserting exit status 0.
    pub fn shell_ok(&mut self, cmd: &str, timeout: Duration) -> Vec<String> {
        let (rc, out) = self.shell(cmd, timeout);
        assert_eq!(rc, 0, "{cmd:?} exited with {rc}:\n{}", out.join("\n"));
        out
    }

    /// The pid of the firmware process `hotspare ROLE …` (`supervisor`, `console`, …), if
    /// one runs (`ps` on the maintenance shell).
    pub fn pid_of(&mut self, role: &str) -> Option<u32> {
        let cmd = format!("ps -o pid,args | awk '/^ *[0-9]+ [^ ]*hotspare {role}/ {{ print $1 }}'");
        let out = self.shell_ok(&cmd, Duration::from_secs(60));
        out.iter().find_map(|l| l.trim().parse().ok())
    }

    /// Presses Enter on busybox's `askfirst` of the current boot (once per boot); true when
    /// it did now. The prompt ends without a new line: it is looked for in the text.
    fn activate_shell(&mut self) -> bool {
        let boot = self.current_boot();
        if self.activation == Some(boot) {
            return false;
        }
        // this boot's prompt: the last one received, or the next one
        if !self.maint.skip_past_last(ASKFIRST) {
            self.maint.expect_text(ASKFIRST, Duration::from_secs(120)).unwrap_or_else(|e| panic!("{e}"));
        }
        self.maint.send("\n").unwrap_or_else(|e| panic!("{e}"));
        // the banner came seconds before the prompt: it is in by now
        self.activation = Some(self.current_boot());
        true
    }

    /// The index of the last U-Boot banner the serial port sent (0: none yet).
    fn current_boot(&mut self) -> usize {
        self.qemu.drain();
        self.qemu.transcript.iter().rposition(|l| l.contains(UBOOT_BANNER)).unwrap_or(0)
    }

    /// Types `text` on the serial port (the console's menu); `"\r"` ends a line, `"\x03"`
    /// is Ctrl-C.
    pub fn console_send(&mut self, text: &str) {
        self.qemu.send(text).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Waits for `pattern` in the serial port's text after what the last `console_expect`
    /// matched (a prompt without its new line too); returns the text up to and with it.
    pub fn console_expect(&mut self, pattern: &str, timeout: Duration) -> String {
        self.qemu.expect_text(pattern, timeout).unwrap_or_else(|e| panic!("{e}"))
    }

    /// From now on [`Appliance::console_expect`] looks only at what the serial port sends
    /// later (a menu shown earlier does not answer for a new one).
    pub fn console_skip(&mut self) {
        self.qemu.skip_text();
    }

    /// The bytes of a file in the VM, sent by the guest's `nc` to a listener on the host
    /// (10.0.2.2 on QEMU's user network).
    pub fn fetch_file(&mut self, guest_path: &str) -> Vec<u8> {
        use std::io::Read;
        let size: usize = self
            .shell_ok(&format!("wc -c < {guest_path}"), Duration::from_secs(30))
            .iter()
            .find_map(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("no size of {guest_path}"));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("address").port();
        let reader = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("the guest's nc connects");
            conn.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
            let mut buf = vec![0u8; size];
            conn.read_exact(&mut buf).map(|()| buf)
        });
        // busybox nc keeps the connection until the host closes it: the host reads `size`
        self.shell_ok(&format!("nc 10.0.2.2 {port} < {guest_path}"), Duration::from_secs(120));
        reader.join().expect("reader thread").unwrap_or_else(|e| panic!("receiving {guest_path}: {e}"))
    }
}
