//! The API process's supervision of the recorder process: start it, restart
//! it when it exits (backoff 1 s doubling to 10 s, reset after a minute of
//! running), and on shutdown stop it with SIGTERM (SIGKILL after 5 s).

use hotspare_base::Backoff;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

const BACKOFF_MIN: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(10);
const STABLE_AFTER: Duration = Duration::from_secs(60);
const STOP_GRACE: Duration = Duration::from_secs(5);

fn start(exe: &PathBuf, config: &PathBuf) -> std::io::Result<Child> {
    Command::new(exe).arg("nvr-recorder").arg("--config").arg(config).stdin(Stdio::null()).kill_on_drop(true).spawn()
}

/// SIGTERM, then SIGKILL if the child has not exited within [`STOP_GRACE`].
async fn stop(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| rustix::process::Pid::from_raw(p as i32)) {
        if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
            log::warn!("recorder {}: SIGTERM: {e}", pid.as_raw_pid());
        }
        // A frozen (SIGSTOPped) child cannot act on SIGTERM.
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::CONT);
    }
    match tokio::time::timeout(STOP_GRACE, child.wait()).await {
        Ok(Ok(status)) => log::info!("recorder stopped ({status})"),
        _ => {
            log::warn!("recorder did not stop within {STOP_GRACE:?}; killing it");
            let _ = child.kill().await;
        }
    }
}

/// Runs the recorder process until `shutdown` turns true.
pub fn spawn(exe: PathBuf, config: PathBuf, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut backoff = Backoff::new(BACKOFF_MIN, BACKOFF_MAX);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let started = Instant::now();
            match start(&exe, &config) {
                Ok(mut child) => {
                    log::info!("recorder process started, pid {}", child.id().unwrap_or(0));
                    tokio::select! {
                        r = child.wait() => match r {
                            Ok(status) => log::error!("recorder process exited ({status})"),
                            Err(e) => log::error!("recorder process: wait: {e}"),
                        },
                        _ = shutdown.changed() => {
                            stop(&mut child).await;
                            return;
                        }
                    }
                }
                Err(e) => log::error!("cannot start the recorder process {}: {e}", exe.display()),
            }
            if started.elapsed() >= STABLE_AFTER {
                backoff.succeeded();
            }
            let delay = backoff.failed();
            log::info!("restarting the recorder process in {delay:?}");
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}
