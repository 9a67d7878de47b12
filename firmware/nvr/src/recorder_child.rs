//! The API process's recorder child (`hotspare nvr-recorder --config FILE`),
//! supervised by [`hotspare_platform::process`]: restarted when it exits
//! (backoff 1 s doubling to 10 s, reset after a minute of running), stopped
//! at shutdown with SIGTERM (SIGKILL after 5 s).

use hotspare_platform::process::{self, ChildSpec, RestartPolicy};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How the recorder child is restarted and stopped.
pub const POLICY: RestartPolicy = RestartPolicy {
    backoff_min: Duration::from_secs(1),
    backoff_max: Duration::from_secs(10),
    stable_after: Duration::from_secs(60),
    stop_grace: Duration::from_secs(5),
};

/// Runs the recorder process (`exe nvr-recorder --config config`) until `shutdown` turns true.
pub fn supervise(exe: PathBuf, config: PathBuf, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    let spec = ChildSpec {
        name: "recorder".into(),
        program: exe,
        args: vec!["nvr-recorder".into(), "--config".into(), config.into_os_string()],
    };
    process::supervise(spec, POLICY, shutdown)
}
