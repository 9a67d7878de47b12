//! The NVR's heartbeats to the supervisor (when `HOTSPARE_SUPERVISOR_SOCKET` is set): the API
//! process (the service the supervisor started) runs the [`HeartbeatClient`] on its own
//! runtime, says [`RoleState::Nvr`], and relays the recorder child's progress from its status
//! file ([`crate::status_file`]). The child does not connect itself: the supervisor counts
//! heartbeats only from the pid it started. A frozen or dead recorder stops rewriting the
//! file, so the relayed bytes stop growing and the supervisor's progress deadline sees it.

use std::path::PathBuf;
use std::time::Duration;

use hotspare_ipc::client::{ClientConfig, HeartbeatClient};
use hotspare_ipc::{Progress, RoleState};
use tokio::task::JoinHandle;

use crate::status_file;

/// How often the status file is read for progress.
const RELAY_EVERY: Duration = Duration::from_millis(500);

/// Bytes fsynced across recorder restarts: each recorder process counts from zero, the
/// supervisor wants a count that never decreases.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relay {
    /// The recorder process and its count last seen.
    last: Option<(u32, u64)>,
    total: u64,
}

impl Relay {
    /// The total after the recorder `pid` says `bytes`.
    pub fn update(&mut self, pid: u32, bytes: u64) -> u64 {
        let grown = match self.last {
            Some((p, b)) if p == pid => bytes.saturating_sub(b),
            // A new recorder process: everything it synced is new.
            _ => bytes,
        };
        self.total = self.total.saturating_add(grown);
        if self.last.is_none_or(|(p, b)| p != pid || bytes >= b) {
            self.last = Some((pid, bytes));
        }
        self.total
    }
}

/// Starts the heartbeats when a supervisor runs this NVR; the task runs until aborted.
pub fn spawn(storage: PathBuf) -> Option<JoinHandle<()>> {
    let cfg = ClientConfig::from_env()?;
    log::info!("heartbeats to the supervisor at {} as {:?}", cfg.socket.display(), cfg.service);
    let client = HeartbeatClient::spawn(cfg);
    client.role.send_replace(Some(RoleState::Nvr));
    Some(tokio::spawn(async move {
        let mut relay = Relay::default();
        loop {
            let dir = storage.clone();
            if let Ok(Some(s)) = tokio::task::spawn_blocking(move || status_file::read(&dir)).await {
                let bytes_fsynced = relay.update(s.pid, s.bytes_fsynced);
                client.progress.send_replace(Some(Progress { bytes_fsynced, cameras_expected: s.cameras_expected }));
            }
            if client.task.is_finished() {
                return;
            }
            tokio::time::sleep(RELAY_EVERY).await;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_bytes_never_decrease_across_recorder_restarts() {
        let mut r = Relay::default();
        assert_eq!(r.update(10, 100), 100);
        assert_eq!(r.update(10, 150), 150);
        assert_eq!(r.update(10, 150), 150);
        // The recorder restarted (new pid): its count starts again from zero.
        assert_eq!(r.update(11, 20), 170);
        assert_eq!(r.update(11, 50), 200);
        // A stale read of a lower count from the same process never takes bytes away.
        assert_eq!(r.update(11, 40), 200);
        assert_eq!(r.update(11, 60), 210);
    }
}
