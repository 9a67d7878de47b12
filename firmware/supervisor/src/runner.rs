//! The supervisor's runtime: performs the core's effects and feeds it what happens. It
//! starts the services as child processes (the hotspare binary's roles, told the IPC socket
//! and their name in `HOTSPARE_SUPERVISOR_SOCKET` / `HOTSPARE_SERVICE`), waits for their
//! exits, accepts their IPC connections (a hello whose pid is not the connection's peer pid
//! is refused), pets the watchdog, writes the status file (`status.json` in the state
//! directory, [`crate::status_file`]), marks the booted slot good the first time the box is
//! ready ([`crate::boot_slot`], off the async workers) and, at the end, either performs the
//! reset path (marker, sync, reset command; the watchdog stays armed and unpetted, so the
//! hardware resets the box if the command does not) or the deliberate shutdown (marker,
//! sync, magic close). It drives the front-panel LEDs ([`Leds`]) from the statuses,
//! heartbeats' role states and bay reports.

use std::collections::VecDeque;
use std::ffi::OsStr;
use std::future::Future;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::time::Duration;

use hotspare_ipc::client::{read_message, write_message, INTERVAL_ENV, SERVICE_ENV, SOCKET_ENV};
use hotspare_ipc::{FrameBuf, Message, Status};
use hotspare_platform::process::{self, ChildSpec};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::boot::{BootFiles, Marker};
use crate::boot_slot::{self, Marked};
use crate::config::SupervisorConfig;
use crate::core::{Core, Effect, Event, ExitHow, Input};
use crate::leds::Leds;
use crate::monitor::{self, HealthBook, Report};
use crate::status_file::{FilesOut, StatusWriter};
use crate::watchdog::{self, Watchdog, WatchdogError};

/// What stops the supervisor from running at all.
#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("IPC socket {}: {source}", path.display())]
    Socket { path: PathBuf, source: std::io::Error },
    /// The magic close failed: the watchdog may still reset the box.
    #[error(transparent)]
    Watchdog(#[from] WatchdogError),
}

/// How the run ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ending {
    /// Deliberate shutdown: services stopped, watchdog disarmed.
    Shutdown,
    /// The reset path ran (`Ok`: the reset command's exit status was success).
    Reset { reason: String, command_ok: bool },
}

/// Logs what the watchdog accepted at open: the timeout set through the ioctl, or (a file,
/// a driver that cannot set it) the driver's sysfs `timeout` if it differs from the
/// configuration.
fn log_opened(w: &crate::config::WatchdogConfig, opened: &watchdog::Opened) {
    let name = opened.identity.as_deref().unwrap_or("watchdog");
    match opened.timeout {
        Some(t) if t == w.timeout => log::info!("{name} {}: timeout {t:?}", w.device.display()),
        Some(t) => log::warn!(
            "{name} {}: asked for a timeout of {:?}, the driver accepted {t:?}",
            w.device.display(),
            w.timeout
        ),
        None => {
            if let Some(e) = &opened.timeout_error {
                log::error!("{name} {}: {e}", w.device.display());
            }
            if let Some(t) = w.bootstatus.as_deref().and_then(watchdog::driver_timeout).filter(|&t| t != w.timeout) {
                log::error!(
                    "watchdog timeout is {t:?}, supervisor.toml says {:?}: fix the board's driver parameter",
                    w.timeout
                );
            }
        }
    }
}

/// The reset path waits at most this long for the critical-events mail to leave.
const MAIL_BEFORE_RESET: Duration = Duration::from_secs(5);

/// Runs the supervisor until `shutdown` resolves (a deliberate shutdown) or the reset path
/// is taken. `exe` is the hotspare binary (the program of services without `program`).
pub async fn run(
    cfg: SupervisorConfig,
    exe: PathBuf,
    shutdown: impl Future<Output = ()>,
) -> Result<Ending, RunnerError> {
    // A state directory or watchdog that fails is logged, never a reason not to start the
    // services (the console and API must come up to repair the box).
    if let Err(e) = std::fs::create_dir_all(&cfg.state_dir) {
        log::error!("state directory {}: {e}", cfg.state_dir.display());
    }
    let files = BootFiles { dir: cfg.state_dir.clone() };
    let mut limits = cfg.limits;
    let (mut wd, ioctl_fired) = match &cfg.watchdog {
        Some(w) => match Watchdog::open(&w.device, w.timeout) {
            Ok((wd, opened)) => {
                log_opened(w, &opened);
                // A driver that clamped the timeout below the configured one: pet every
                // quarter of what it accepted, or it would reset a healthy box.
                if let Some(t) = opened.timeout.filter(|&t| t < w.timeout && !t.is_zero()) {
                    limits.pet_interval = t / 4;
                }
                (Some(wd), opened.fired)
            }
            Err(e) => {
                log::error!("{e}: running without the hardware watchdog");
                (None, None)
            }
        },
        None => (None, None),
    };
    // The boot status through the ioctl; the driver's sysfs `bootstatus` as the fallback.
    let fired =
        ioctl_fired.or_else(|| cfg.watchdog.as_ref().and_then(|w| w.bootstatus.as_deref()).and_then(watchdog::fired));
    let (verdict, written) = files.boot(hotspare_base::clock::now_us(), fired, cfg.rescue_resets, cfg.rescue_window);
    if let Err(e) = written {
        log::error!("boot history: {e}");
    }
    let booted = boot_slot::booted(cfg.boot.as_ref(), verdict.rescue.is_some());
    let _ = std::fs::remove_file(&cfg.socket);
    let listener =
        UnixListener::bind(&cfg.socket).map_err(|source| RunnerError::Socket { path: cfg.socket.clone(), source })?;
    // Only the supervisor's own user (its children) may connect.
    if let Err(e) = std::fs::set_permissions(&cfg.socket, std::os::unix::fs::PermissionsExt::from_mode(0o600)) {
        log::error!("IPC socket {}: chmod 0600: {e}", cfg.socket.display());
    }

    let (tx, mut rx) = mpsc::unbounded_channel::<Input>();
    let (status_tx, _) = watch::channel::<Option<Status>>(None);
    let (report_tx, mut report_rx) = mpsc::unbounded_channel::<Report>();
    let (marked_tx, mut marked_rx) = mpsc::unbounded_channel::<Marked>();
    let mut files_out = FilesOut {
        status: StatusWriter::new(&cfg.state_dir),
        published: None,
        marked: None,
        roles: Default::default(),
    };
    let mut book = HealthBook::new(cfg.state_dir.join("health.json")).with_email(cfg.email.clone());
    monitor::spawn_all(&cfg, &report_tx);
    let mut leds = Leds::new(cfg.leds.as_ref());
    let specs = cfg.services.iter().map(|s| s.spec.clone()).collect();
    let started = Instant::now();
    let mut core = Core::new(Duration::ZERO, specs, limits, verdict);
    let mut queue = VecDeque::from([Input::Tick]);
    let mut reset: Option<String> = None;
    tokio::pin!(shutdown);
    let mut shutdown_asked = false;
    loop {
        while let Some(input) = queue.pop_front() {
            leds.input(&input);
            files_out.input(&input);
            for effect in core.handle(started.elapsed(), input) {
                match effect {
                    Effect::Start { service } => queue.push_back(start(&cfg, &exe, &service, &tx)),
                    Effect::Terminate { service, pid } => {
                        if let Err(e) = process::terminate(pid) {
                            log::warn!("{service} {pid}: SIGTERM: {e}");
                        }
                    }
                    Effect::Kill { service, pid } => {
                        log::warn!("{service} {pid} did not stop within {:?}: SIGKILL", cfg.limits.stop_grace);
                        if let Err(e) = process::kill(pid) {
                            log::warn!("{service} {pid}: SIGKILL: {e}");
                        }
                    }
                    Effect::PetWatchdog => {
                        if let Some(w) = wd.as_mut() {
                            if let Err(e) = w.pet() {
                                log::error!("{e}");
                            }
                        }
                    }
                    Effect::Reset { reason } => {
                        log::error!("reset path: {reason}");
                        book.critical(monitor::supervisor_notice("ResetPath", format!("reset path: {reason}")));
                        if let Err(e) = files.mark(&Marker::Reset(reason.clone())) {
                            log::error!("shutdown marker: {e}");
                        }
                        reset = Some(reason);
                        queue.push_back(Input::Shutdown);
                    }
                    Effect::Publish(status) => {
                        leds.status(&status);
                        files_out.published = Some(status.clone());
                        status_tx.send_replace(Some(status));
                    }
                    Effect::Ready => match (booted, &cfg.boot) {
                        (Some(slot), Some(b)) => {
                            let (dir, tx) = (b.state_dir.clone(), marked_tx.clone());
                            tokio::task::spawn_blocking(move || {
                                let _ = tx.send(boot_slot::mark_at_ready(&dir, slot));
                            });
                        }
                        _ => log::info!("{}", boot_slot::ready_line(None)),
                    },
                    Effect::Report(event) => {
                        report(&event);
                        book.event(&event);
                    }
                    Effect::AllStopped => {
                        files_out.write(&core, booted, &mut book);
                        rustix::fs::sync();
                        return Ok(match reset {
                            Some(reason) => {
                                book.flush_mail(MAIL_BEFORE_RESET).await;
                                // The watchdog stays armed and unpetted (dropped without the magic close).
                                let command_ok = reset_command(&cfg.reset_command);
                                Ending::Reset { reason, command_ok }
                            }
                            None => {
                                if let Err(e) = files.mark(&Marker::Deliberate) {
                                    log::error!("shutdown marker: {e}");
                                }
                                rustix::fs::sync();
                                if let Some(w) = wd.take() {
                                    w.magic_close()?;
                                }
                                log::info!("all services stopped; watchdog disarmed");
                                Ending::Shutdown
                            }
                        });
                    }
                }
            }
        }
        files_out.write(&core, booted, &mut book);
        let wake = started + core.poll_at();
        tokio::select! {
            Some(input) = rx.recv() => queue.push_back(input),
            Some(m) = marked_rx.recv() => {
                if let Some(slot) = booted {
                    let line = boot_slot::ready_line(Some((slot, &m)));
                    files_out.marked = Some(m.is_ok());
                    match &m {
                        Ok(_) => log::info!("{line}"),
                        Err(e) => {
                            log::warn!("{line}");
                            let n = boot_slot::failure_notice(slot, e, hotspare_base::clock::now_us());
                            queue.extend(book.apply(Report::Notice(n)));
                            book.write();
                        }
                    }
                }
            }
            Some(r) = report_rx.recv() => {
                leds.report(&r);
                queue.extend(book.apply(r));
                book.write();
            }
            conn = listener.accept() => match conn {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, tx.clone(), status_tx.subscribe()));
                }
                Err(e) => log::warn!("IPC accept: {e}"),
            },
            _ = tokio::time::sleep_until(wake) => queue.push_back(Input::Tick),
            _ = &mut shutdown, if !shutdown_asked => {
                shutdown_asked = true;
                log::info!("shutdown: stopping the services");
                queue.push_back(Input::Shutdown);
            }
        }
    }
}

/// Starts a service's process; the returned input says whether it runs.
fn start(cfg: &SupervisorConfig, exe: &std::path::Path, name: &str, tx: &mpsc::UnboundedSender<Input>) -> Input {
    let Some(svc) = cfg.services.iter().find(|s| s.spec.name == name) else {
        return Input::StartFailed { service: name.into(), error: "not configured".into() };
    };
    let spec = ChildSpec {
        name: name.into(),
        program: svc.program.clone().unwrap_or_else(|| exe.to_owned()),
        args: svc.args.iter().map(Into::into).collect(),
    };
    let interval = svc.spec.heartbeat_deadline.map_or(String::new(), |d| (d.as_millis() / 3).max(1).to_string());
    let env =
        [(SOCKET_ENV, cfg.socket.as_os_str()), (SERVICE_ENV, OsStr::new(name)), (INTERVAL_ENV, OsStr::new(&interval))];
    match process::spawn(&spec, &env) {
        Ok(mut child) => {
            let Some(pid) = child.id() else {
                return Input::StartFailed { service: name.into(), error: "exited at once".into() };
            };
            log::info!("{name} started, pid {pid}");
            let (tx, service) = (tx.clone(), name.to_owned());
            tokio::spawn(async move {
                let how = match child.wait().await {
                    Ok(st) => {
                        st.code().map(ExitHow::Code).or(st.signal().map(ExitHow::Signal)).unwrap_or(ExitHow::Code(-1))
                    }
                    Err(e) => {
                        log::error!("{service} {pid}: wait: {e}");
                        ExitHow::Code(-1)
                    }
                };
                let _ = tx.send(Input::Exited { service, pid, how });
            });
            Input::Started { service: name.into(), pid }
        }
        Err(e) => Input::StartFailed { service: name.into(), error: format!("{}: {e}", spec.program.display()) },
    }
}

fn report(e: &Event) {
    match e {
        Event::Restarting { .. } | Event::PettingResumed | Event::LastReset(_) => log::info!("{e}"),
        Event::Exited { .. } | Event::StartFailed { .. } | Event::Hung { .. } => log::warn!("{e}"),
        _ => log::error!("{e}"),
    }
}

/// Runs the configured reset command (blocking: nothing else is left to do).
fn reset_command(argv: &[String]) -> bool {
    let Some((program, args)) = argv.split_first() else { return false };
    match std::process::Command::new(program).args(args).status() {
        Ok(s) if s.success() => true,
        Ok(s) => {
            log::error!("reset command {argv:?}: {s}; the watchdog will reset the box");
            false
        }
        Err(e) => {
            log::error!("reset command {argv:?}: {e}; the watchdog will reset the box");
            false
        }
    }
}

/// One service's IPC connection: a hello (from the process it names), then heartbeats in,
/// status out.
async fn connection(stream: UnixStream, tx: mpsc::UnboundedSender<Input>, mut status: watch::Receiver<Option<Status>>) {
    let peer = stream.peer_cred().ok().and_then(|c| c.pid()).and_then(|p| u32::try_from(p).ok());
    let (mut rd, mut wr) = stream.into_split();
    let mut fb = FrameBuf::new();
    let hello = match tokio::time::timeout(Duration::from_secs(5), read_message(&mut rd, &mut fb)).await {
        Ok(Ok(Some(Message::Hello(h)))) => h,
        Ok(Err(e)) => return log::warn!("IPC: {e}"),
        _ => return log::warn!("IPC: no hello"),
    };
    if peer.is_some_and(|p| p != hello.pid) {
        return log::warn!("IPC: {} says pid {}, the socket says {peer:?}: refused", hello.service, hello.pid);
    }
    let writer = async {
        loop {
            let current = status.borrow_and_update().clone();
            if let Some(s) = current {
                write_message(&mut wr, &Message::Status(s)).await?;
            }
            if status.changed().await.is_err() {
                return Ok::<(), std::io::Error>(());
            }
        }
    };
    let reader = async {
        while let Some(m) = read_message(&mut rd, &mut fb).await? {
            if let Message::Heartbeat(b) = m {
                if b.service == hello.service {
                    let _ = tx.send(Input::Heartbeat {
                        service: b.service,
                        pid: hello.pid,
                        progress: b.progress,
                        role: b.role,
                    });
                }
            }
        }
        Ok::<(), std::io::Error>(())
    };
    let r = tokio::select! { r = writer => r, r = reader => r };
    if let Err(e) = r {
        log::warn!("IPC {}: {e}", hello.service);
    }
}
