//! `hotspare console --tty /dev/ttyAMA0 --settings /data/settings --supervisor-config
//! /etc/hotspare/supervisor.toml [--apply-network CMD] [--reboot CMD]`: the serial console's
//! I/O around the pure menus of `hotspare-console`. It opens the tty, sets it up (canonical
//! input, ISIG off so that Ctrl-C and Ctrl-\ are plain keys that also end the line (VEOL,
//! VEOL2), no echo while a password is typed), and performs the menus' effects: saves
//! through the settings store, the network and reboot commands (run as programs with the
//! settings directory as argument: never a shell, never anything typed), the pending
//! network change in `<settings>/pending-console.toml` (`hotspare_settings::pending`). It never exits on what is typed
//! nor on a hang-up (it reopens the tty): only SIGTERM ends it (the supervisor's stop).

use std::io::Write;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hotspare_console::{Console, Effect, Input, Options, Outcome, Output};
use hotspare_settings::confirm::DEFAULT_WINDOW_US;
use hotspare_settings::pending;
use hotspare_settings::store::SaveError;
use hotspare_settings::SettingsStore;
use rustix::termios::{self, LocalModes, OptionalActions, SpecialCodeIndex};

const CTRL_C: u8 = 0x03;
const CTRL_BACKSLASH: u8 = 0x1c;

#[derive(clap::Args, Debug)]
pub struct ConsoleArgs {
    /// The serial port (the board profile names it; a pty slave in tests).
    #[arg(long)]
    pub tty: PathBuf,
    /// The settings directory (generations settings.<seq>.toml).
    #[arg(long, default_value = "/data/settings")]
    pub settings: PathBuf,
    /// The supervisor's configuration (where its status and health files are).
    #[arg(long, default_value = "/etc/hotspare/supervisor.toml")]
    pub supervisor_config: PathBuf,
    /// Program run with the settings directory as its argument to apply the network.
    #[arg(long)]
    pub apply_network: Option<PathBuf>,
    /// Program run (no arguments) to restart the box.
    #[arg(long)]
    pub reboot: Option<PathBuf>,
    /// How long a network change waits for its confirmation on this console.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub confirm_window: Duration,
    /// This box's licence identity (default: `hotspare licence box-id`'s; none: not checked).
    #[arg(long)]
    pub box_id: Option<String>,
    /// The spare's failover.toml: its state directory names the NVRs taken over (the status
    /// at a glance says `COVERING nvr1`; without it, `COVERING 1 NVR(s)`).
    #[arg(long)]
    pub failover_config: Option<PathBuf>,
    /// After this long without a key the session ends: back to the console password, or,
    /// without one, to the main menu (a half-typed form is dropped). `0s`: never.
    #[arg(long, default_value = "10min", value_parser = humantime::parse_duration)]
    pub idle_logout: Duration,
}

pub fn run(a: ConsoleArgs) -> ExitCode {
    let stop = Arc::new(AtomicBool::new(false));
    if let Err(e) = signals(stop.clone()) {
        eprintln!("error: signals: {e}");
        return ExitCode::from(2);
    }
    let store = match SettingsStore::open(&a.settings) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let pending = pending::read(&a.settings, pending::CONSOLE).unwrap_or_else(|e| {
        log::error!("{e}: ignored");
        None
    });
    let box_id = a.box_id.clone().or_else(|| hotspare_failover::licence::box_id().ok());
    let window_us = i64::try_from(a.confirm_window.as_micros()).unwrap_or(DEFAULT_WINDOW_US);
    let idle_logout_us = i64::try_from(a.idle_logout.as_micros()).unwrap_or(i64::MAX);
    let idle_logout_us = (idle_logout_us > 0).then_some(idle_logout_us);
    let mut console = Console::new(Options { confirm_window_us: window_us, pending, box_id, idle_logout_us });
    let spare_state = crate::failover_cmd::spare_state_dir(a.failover_config.as_deref());
    let mut side = Side { a: &a, store, spare_state };
    let mut start = true;
    // said once per kind of trouble, not every half second
    let mut last_problem = String::new();
    while !stop.load(Ordering::SeqCst) {
        let problem = match Tty::open(&a.tty) {
            Ok(mut tty) => {
                let first = if start { Input::Start } else { Input::Interrupt };
                start = false;
                match session(&mut tty, &mut console, &mut side, &stop, first) {
                    Ok(()) => String::new(),
                    Err(e) => format!("{}: {e}; reopening", a.tty.display()),
                }
            }
            Err(e) => format!("{}: {e}", a.tty.display()),
        };
        if !problem.is_empty() && problem != last_problem {
            log::warn!("{problem}");
        }
        last_problem = problem;
        std::thread::sleep(Duration::from_millis(500));
    }
    ExitCode::SUCCESS
}

/// SIGTERM sets `stop`; SIGINT, SIGQUIT, SIGHUP and SIGTSTP are ignored (a console that
/// a key or a hang-up could end would leave the installer without one).
fn signals(stop: Arc<AtomicBool>) -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let mut streams = Vec::new();
    let mut term = None;
    rt.block_on(async {
        term = Some(signal(SignalKind::terminate())?);
        for k in [SignalKind::interrupt(), SignalKind::quit(), SignalKind::hangup(), SignalKind::from_raw(20)] {
            streams.push(signal(k)?);
        }
        Ok::<_, std::io::Error>(())
    })?;
    std::thread::spawn(move || {
        let _ignored = streams;
        if let Some(mut t) = term {
            rt.block_on(t.recv());
        }
        stop.store(true, Ordering::SeqCst);
    });
    Ok(())
}

/// The console on one opened tty, until an I/O error (hang-up) or SIGTERM.
fn session(tty: &mut Tty, c: &mut Console, side: &mut Side, stop: &AtomicBool, first: Input) -> std::io::Result<()> {
    let mut input = Some(first);
    let mut hidden = false;
    let mut last_tick = hotspare_base::clock::now_us();
    loop {
        if let Some(i) = input.take() {
            let outs = c.drive(hotspare_base::clock::now_us(), i, &mut |e| side.perform(e));
            for o in outs {
                match o {
                    Output::Text(t) => tty.write(&t)?,
                    Output::Prompt { text, hidden: h } => {
                        if h != hidden {
                            tty.echo(!h)?;
                            hidden = h;
                        }
                        tty.write(&text)?
                    }
                    Output::Effect(_) => {}
                }
            }
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        input = tty.read_line(Duration::from_millis(250))?;
        if hidden && input.is_some() {
            tty.echo(true)?;
            hidden = false;
        }
        let now = hotspare_base::clock::now_us();
        if input.is_none() && now - last_tick >= 1_000_000 {
            last_tick = now;
            input = Some(Input::Tick);
        }
    }
}

/// The effects, performed.
struct Side<'a> {
    a: &'a ConsoleArgs,
    store: SettingsStore,
    /// The spare's state directory (which NVRs are taken over), when known.
    spare_state: Option<PathBuf>,
}

impl Side<'_> {
    fn perform(&mut self, e: &Effect) -> Option<Outcome> {
        const CH: &str = hotspare_console::machine::CHANNEL;
        let st = &self.store;
        Some(match e {
            Effect::Save { settings, edited, summary } => saved(st.save(settings, *edited, CH, summary), st),
            Effect::Restore { seq } => saved(st.restore(*seq, CH), st),
            Effect::FactoryReset => saved(st.factory_reset(CH), st),
            Effect::ApplyNetwork => Outcome::Applied(match &self.a.apply_network {
                Some(cmd) => run_program(cmd, Some(&self.a.settings)),
                None => {
                    log::info!("no --apply-network: the network settings are saved, not applied");
                    Ok(())
                }
            }),
            Effect::PersistPending(p) => {
                if let Err(e) = pending::write(&self.a.settings, pending::CONSOLE, p.as_ref()) {
                    log::error!("cannot store the pending network change: {e}");
                }
                return None;
            }
            Effect::Gather => self.gather(),
            Effect::History => Outcome::History(match st.history() {
                Ok(h) => h
                    .into_iter()
                    .map(|g| {
                        let line = match g.meta {
                            Ok(m) => format!("{}  {:<8} {}", crate::times::format_us(m.saved_us), m.channel, m.summary),
                            Err(why) => format!("unreadable: {why}"),
                        };
                        (g.seq, line)
                    })
                    .collect(),
                Err(e) => vec![(0, format!("cannot read the history: {e}"))],
            }),
            Effect::Reboot => {
                match &self.a.reboot {
                    Some(cmd) => {
                        if let Err(e) = run_program(cmd, None) {
                            log::error!("reboot: {e}");
                        }
                    }
                    None => log::warn!("no --reboot command: not rebooting"),
                }
                return None;
            }
        })
    }

    fn gather(&self) -> Outcome {
        let (seq, settings) = match self.store.current() {
            Ok(c) => (c.seq(), c.settings),
            Err(e) => return Outcome::Failed { why: e.to_string() },
        };
        let (glance, details) =
            match hotspare_supervisor::status_view::gather(&self.a.supervisor_config, env!("CARGO_PKG_VERSION")) {
                Ok(r) => {
                    let configured: Vec<String> = settings.nvrs.iter().map(|n| n.id.clone()).collect();
                    let taken =
                        self.spare_state.as_deref().map(hotspare_failover::state::taken_over).unwrap_or_default();
                    let mut glance = hotspare_console::screens::glance(&r);
                    glance.push(hotspare_console::screens::coverage(&r, &configured, &taken));
                    (glance, hotspare_supervisor::status_view::render(&r))
                }
                Err(e) => {
                    let line = format!("firmware {}; status cannot be read: {e}", env!("CARGO_PKG_VERSION"));
                    (vec![hotspare_console::screens::fit(&line)], format!("{line}\n"))
                }
            };
        Outcome::Status { seq, settings: Box::new(settings), glance, details }
    }
}

fn saved(r: Result<u64, SaveError>, st: &SettingsStore) -> Outcome {
    match r.and_then(|seq| Ok((seq, st.current()?.settings))) {
        Ok((seq, settings)) => Outcome::Saved { seq, settings: Box::new(settings) },
        Err(e) => Outcome::Failed { why: e.to_string() },
    }
}

/// Runs a configured program (no shell), with the settings directory as its argument.
fn run_program(cmd: &Path, arg: Option<&Path>) -> Result<(), String> {
    let mut c = std::process::Command::new(cmd);
    c.args(arg).stdin(std::process::Stdio::null());
    let out = c.output().map_err(|e| format!("{}: {e}", cmd.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        Err(format!("{} {}: {}", cmd.display(), out.status, err.lines().last().unwrap_or("")))
    }
}

/// The serial port, set up for the menus.
struct Tty {
    file: std::fs::File,
    buf: Vec<u8>,
}

impl Tty {
    fn open(path: &Path) -> std::io::Result<Tty> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOCTTY.bits() as i32)
            .open(path)?;
        let mut t = termios::tcgetattr(file.as_fd())?;
        t.local_modes |= LocalModes::ICANON | LocalModes::ECHO | LocalModes::ECHOE | LocalModes::ECHONL;
        t.local_modes -= LocalModes::ISIG;
        // Ctrl-C and Ctrl-\ end the line, so they are seen at once (ISIG off: no signal)
        t.special_codes[SpecialCodeIndex::VEOL] = CTRL_C;
        t.special_codes[SpecialCodeIndex::VEOL2] = CTRL_BACKSLASH;
        t.input_modes |= termios::InputModes::ICRNL;
        t.output_modes |= termios::OutputModes::OPOST | termios::OutputModes::ONLCR;
        // a pty has no line speed; a serial port runs at 115200
        let _ = t.set_speed(115_200);
        termios::tcsetattr(file.as_fd(), OptionalActions::Now, &t)?;
        Ok(Tty { file, buf: Vec::new() })
    }

    fn write(&mut self, text: &str) -> std::io::Result<()> {
        self.file.write_all(text.as_bytes())?;
        self.file.flush()
    }

    fn echo(&mut self, on: bool) -> std::io::Result<()> {
        let mut t = termios::tcgetattr(self.file.as_fd())?;
        if on {
            t.local_modes |= LocalModes::ECHO;
        } else {
            t.local_modes -= LocalModes::ECHO;
        }
        Ok(termios::tcsetattr(self.file.as_fd(), OptionalActions::Now, &t)?)
    }

    /// The next line or key, waiting at most `wait`; `Err` on hang-up.
    fn read_line(&mut self, wait: Duration) -> std::io::Result<Option<Input>> {
        use rustix::event::{poll, PollFd, PollFlags, Timespec};
        if let Some(i) = self.take() {
            return Ok(Some(i));
        }
        let ts = Timespec { tv_sec: wait.as_secs() as i64, tv_nsec: i64::from(wait.subsec_nanos()) };
        let mut fds = [PollFd::new(&self.file, PollFlags::IN)];
        match poll(&mut fds, Some(&ts)) {
            Ok(0) | Err(rustix::io::Errno::INTR) => return Ok(None),
            Ok(_) => {}
            Err(e) => return Err(e.into()),
        }
        let mut b = [0u8; 512];
        let n = std::io::Read::read(&mut self.file, &mut b)?;
        if n == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "hang-up"));
        }
        self.buf.extend_from_slice(&b[..n]);
        Ok(self.take())
    }

    /// A complete line or key from the buffer.
    fn take(&mut self) -> Option<Input> {
        let end = self.buf.iter().position(|&b| matches!(b, b'\n' | CTRL_C | CTRL_BACKSLASH))?;
        let line: Vec<u8> = self.buf.drain(..=end).collect();
        Some(match line[end] {
            CTRL_C => Input::Interrupt,
            CTRL_BACKSLASH => Input::Quit,
            _ => Input::Line(String::from_utf8_lossy(&line[..end]).trim_end_matches('\r').to_string()),
        })
    }
}
