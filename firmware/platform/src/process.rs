//! Supervision of one child process: start it, restart it whenever it
//! exits (capped exponential backoff, reset after a stable run), and on
//! shutdown stop it with SIGTERM, then SIGKILL after a deadline. The pieces ([`spawn`],
//! [`terminate`], [`kill`]) also serve the supervisor, whose core decides restarts itself.

use hotspare_base::Backoff;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What to run.
#[derive(Clone, Debug)]
pub struct ChildSpec {
    /// Name in log messages, e.g. `recorder`.
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<OsString>,
}

/// When to restart and how long a stop may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RestartPolicy {
    /// Wait before the first restart; doubled after each restart ...
    pub backoff_min: Duration,
    /// ... up to this.
    pub backoff_max: Duration,
    /// A child that ran this long before it exited restarts after `backoff_min` again.
    pub stable_after: Duration,
    /// Between SIGTERM and SIGKILL at shutdown.
    pub stop_grace: Duration,
}

/// The restart delays of a [`RestartPolicy`]: the shared [`Backoff`], started again from
/// `backoff_min` after a child that ran `stable_after` or longer.
#[derive(Debug)]
struct RestartDelays {
    backoff: Backoff,
    stable_after: Duration,
}

impl RestartDelays {
    fn new(policy: RestartPolicy) -> RestartDelays {
        RestartDelays {
            backoff: Backoff::new(policy.backoff_min, policy.backoff_max),
            stable_after: policy.stable_after,
        }
    }

    /// The wait before the next start, after a child that ran for `ran`.
    fn after_run(&mut self, ran: Duration) -> Duration {
        if ran >= self.stable_after {
            self.backoff.succeeded();
        }
        self.backoff.failed()
    }
}

fn start(spec: &ChildSpec) -> std::io::Result<Child> {
    spawn(spec, &[])
}

/// The environment variable in which [`spawn`] passes the parent's pid to the child: the
/// hotspare binary then ends with its parent ([`die_with_parent`]), so a supervisor (or NVR)
/// restarted after a crash never meets an orphaned recorder still holding the store.
pub const PARENT_PID_ENV: &str = "HOTSPARE_PARENT_PID";

/// Starts `spec` with `env` added to the environment (and [`PARENT_PID_ENV`]); stdin is
/// /dev/null and the process is killed if its [`Child`] is dropped. Call it from a thread
/// that lives as long as the child should (the death signal follows the starting thread).
pub fn spawn(spec: &ChildSpec, env: &[(&str, &std::ffi::OsStr)]) -> std::io::Result<Child> {
    let mut cmd = Command::new(&spec.program);
    cmd.args(&spec.args).stdin(Stdio::null()).kill_on_drop(true);
    cmd.env(PARENT_PID_ENV, std::process::id().to_string());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn()
}

fn raw_pid(pid: u32) -> std::io::Result<rustix::process::Pid> {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidInput, format!("not a process id: {pid}")))
}

/// Asks the kernel for SIGTERM to this process when the thread that started it dies (a
/// child started by [`spawn`] in process `parent`). Err when the parent is already gone.
pub fn die_with_parent(parent: u32) -> Result<(), String> {
    rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::TERM))
        .map_err(|e| format!("cannot ask for SIGTERM at the parent's death: {e}"))?;
    // The parent may have died before the request: then it is too late to be told.
    match rustix::process::getppid() {
        Some(p) if p.as_raw_nonzero().get() as u32 == parent => Ok(()),
        p => Err(format!("the parent process (pid {parent}) is gone (parent now {p:?})")),
    }
}

/// SIGTERM to `pid`, and SIGCONT (a frozen process cannot act on SIGTERM).
pub fn terminate(pid: u32) -> std::io::Result<()> {
    let p = raw_pid(pid)?;
    rustix::process::kill_process(p, rustix::process::Signal::TERM)?;
    let _ = rustix::process::kill_process(p, rustix::process::Signal::CONT);
    Ok(())
}

/// SIGKILL to `pid`.
pub fn kill(pid: u32) -> std::io::Result<()> {
    Ok(rustix::process::kill_process(raw_pid(pid)?, rustix::process::Signal::KILL)?)
}

/// SIGTERM (and SIGCONT: a frozen child cannot act on SIGTERM), then SIGKILL if the child has
/// not exited within `grace`.
async fn stop(child: &mut Child, name: &str, grace: Duration) {
    if let Some(pid) = child.id() {
        if let Err(e) = terminate(pid) {
            log::warn!("{name} {pid}: SIGTERM: {e}");
        }
    }
    match tokio::time::timeout(grace, child.wait()).await {
        Ok(Ok(status)) => log::info!("{name} stopped ({status})"),
        _ => {
            log::warn!("{name} did not stop within {grace:?}; killing it");
            let _ = child.kill().await;
        }
    }
}

/// Runs `spec` under `policy` until `shutdown` turns true (or its sender is dropped); the task
/// ends once the child is stopped.
pub fn supervise(spec: ChildSpec, policy: RestartPolicy, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let name = &spec.name;
        let mut backoff = RestartDelays::new(policy);
        loop {
            if *shutdown.borrow() {
                return;
            }
            let started = Instant::now();
            match start(&spec) {
                Ok(mut child) => {
                    log::info!("{name} process started, pid {}", child.id().unwrap_or(0));
                    tokio::select! {
                        r = child.wait() => match r {
                            Ok(status) => log::error!("{name} process exited ({status})"),
                            Err(e) => log::error!("{name} process: wait: {e}"),
                        },
                        _ = shutdown.changed() => {
                            stop(&mut child, name, policy.stop_grace).await;
                            return;
                        }
                    }
                }
                Err(e) => log::error!("cannot start the {name} process {}: {e}", spec.program.display()),
            }
            let wait = backoff.after_run(started.elapsed());
            log::info!("restarting the {name} process in {wait:?}");
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = shutdown.changed() => return,
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const S: Duration = Duration::from_secs(1);

    fn policy(backoff: Duration, stop_grace: Duration) -> RestartPolicy {
        RestartPolicy { backoff_min: backoff, backoff_max: 4 * backoff, stable_after: 60 * S, stop_grace }
    }

    fn shell(script: String) -> ChildSpec {
        ChildSpec { name: "test child".into(), program: "/bin/sh".into(), args: vec!["-c".into(), script.into()] }
    }

    /// Waits (up to 20 s, so a broken supervisor fails instead of hanging) until `done`.
    async fn until(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + 20 * S;
        while !done() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    fn lines(p: &Path) -> usize {
        std::fs::read_to_string(p).map_or(0, |s| s.lines().count())
    }

    fn pid_in(p: &Path) -> Option<u32> {
        std::fs::read_to_string(p).ok()?.trim().parse().ok()
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets_after_a_stable_run() {
        let p = RestartPolicy { backoff_min: S, backoff_max: 10 * S, stable_after: 60 * S, stop_grace: 5 * S };
        let mut b = RestartDelays::new(p);
        let short = Duration::from_millis(10);
        let waits: Vec<u64> = (0..6).map(|_| b.after_run(short).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.after_run(60 * S), S);
        assert_eq!(b.after_run(short), 2 * S);
    }

    #[tokio::test]
    async fn a_child_that_exits_is_restarted() {
        let d = tempfile::tempdir().unwrap();
        let runs = d.path().join("runs");
        let spec = shell(format!("echo run >> '{}'; exit 3", runs.display()));
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = supervise(spec, policy(Duration::from_millis(10), 5 * S), stop_rx);
        until("three runs", || lines(&runs) >= 3).await;
        stop_tx.send(true).unwrap();
        tokio::time::timeout(20 * S, task).await.expect("supervisor ends at shutdown").unwrap();
    }

    #[tokio::test]
    async fn shutdown_stops_the_child_with_sigterm() {
        let d = tempfile::tempdir().unwrap();
        let (pid, term) = (d.path().join("pid"), d.path().join("term"));
        let spec = shell(format!(
            "trap 'echo term > \"{}\"; exit 0' TERM; echo $$ > '{}'; while :; do sleep 0.05; done",
            term.display(),
            pid.display()
        ));
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = supervise(spec, policy(S, 20 * S), stop_rx);
        until("the child to start", || pid_in(&pid).is_some()).await;
        stop_tx.send(true).unwrap();
        tokio::time::timeout(20 * S, task).await.expect("supervisor ends at shutdown").unwrap();
        assert_eq!(std::fs::read_to_string(&term).unwrap().trim(), "term", "the child saw SIGTERM");
    }

    #[tokio::test]
    async fn a_child_ignoring_sigterm_is_killed_after_the_grace() {
        let d = tempfile::tempdir().unwrap();
        let pid = d.path().join("pid");
        let spec = shell(format!("trap '' TERM; echo $$ > '{}'; while :; do sleep 0.05; done", pid.display()));
        let (stop_tx, stop_rx) = watch::channel(false);
        let task = supervise(spec, policy(S, Duration::from_millis(200)), stop_rx);
        until("the child to start", || pid_in(&pid).is_some()).await;
        let child = pid_in(&pid).unwrap();
        stop_tx.send(true).unwrap();
        tokio::time::timeout(20 * S, task).await.expect("supervisor ends at shutdown").unwrap();
        assert!(!Path::new(&format!("/proc/{child}")).exists(), "child {child} was killed and reaped");
    }
}
