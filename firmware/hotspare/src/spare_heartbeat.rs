//! The spare's side of the supervisor IPC (when `HOTSPARE_SUPERVISOR_SOCKET` is set): the
//! heartbeat client runs on the spare's runtime (a wedged runtime stops the heartbeats), says
//! [`RoleState::Spare`] (armed: monitoring NVRs with a licence and takeovers allowed;
//! covering: NVRs taken over now) from the published status, and turns the supervisor's
//! [`Status::takeovers_allowed`] into the engine's takeover gate.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotspare_api::spare::SpareStatus;
use hotspare_base::LockExt;
use hotspare_ipc::client::{ClientConfig, HeartbeatClient};
use hotspare_ipc::{RoleState, Status};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Why takeovers are refused under this supervisor status; `None`: allowed.
pub fn blocked_reason(s: &Status) -> Option<String> {
    if s.takeovers_allowed {
        return None;
    }
    let mode = format!("{:?}", s.mode).to_lowercase();
    Some(if s.reason.is_empty() {
        format!("supervisor: {mode} mode")
    } else {
        format!("supervisor ({mode}): {}", s.reason)
    })
}

/// The role state the spare's status shows.
pub fn role(s: &SpareStatus) -> RoleState {
    let covering = s.nvrs.iter().filter(|n| n.phase == "taken_over").count() as u32;
    let armed = s.nvrs_licensed > 0 && !s.nvrs.is_empty() && s.takeovers_blocked.is_none();
    RoleState::Spare { armed, covering }
}

/// Starts the heartbeats when a supervisor runs the spare. Returns the takeover gate for the
/// engine (after waiting up to 2 s for the supervisor's first status) and the task.
pub async fn spawn(shared: Arc<Mutex<SpareStatus>>) -> Option<(watch::Receiver<Option<String>>, JoinHandle<()>)> {
    let cfg = ClientConfig::from_env()?;
    log::info!("heartbeats to the supervisor at {} as {:?}", cfg.socket.display(), cfg.service);
    let mut client = HeartbeatClient::spawn(cfg);
    let first =
        tokio::time::timeout(Duration::from_secs(2), client.status.wait_for(Option::is_some)).await.map(|r| r.is_ok());
    if first != Ok(true) {
        log::warn!("no status from the supervisor yet: takeovers allowed until it says otherwise");
    }
    let initial = client.status.borrow_and_update().as_ref().and_then(blocked_reason);
    let (gate_tx, gate) = watch::channel(initial);
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                r = client.status.changed() => {
                    if r.is_err() {
                        return;
                    }
                    let blocked = client.status.borrow_and_update().as_ref().and_then(blocked_reason);
                    gate_tx.send_if_modified(|g| if *g != blocked { *g = blocked; true } else { false });
                }
                _ = tick.tick() => {
                    let r = role(&shared.lock_or_recover());
                    client.role.send_replace(Some(r));
                }
            }
        }
    });
    Some((gate, task))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hotspare_api::spare::NvrView;
    use hotspare_ipc::{Level, Mode, ResetCause};

    #[test]
    fn reason_and_role() {
        let mut st = Status {
            mode: Mode::Rescue,
            healthy: true,
            takeovers_allowed: false,
            last_reset: ResetCause::Watchdog,
            hardware: Level::Ok,
            reason: String::new(),
        };
        assert_eq!(blocked_reason(&st).as_deref(), Some("supervisor: rescue mode"));
        st.reason = "3 resets in 30 min".into();
        assert_eq!(blocked_reason(&st).as_deref(), Some("supervisor (rescue): 3 resets in 30 min"));
        st.takeovers_allowed = true;
        assert_eq!(blocked_reason(&st), None);

        let view = |phase: &str| NvrView { phase: phase.into(), ..Default::default() };
        let mut s =
            SpareStatus { nvrs_licensed: 2, nvrs: vec![view("watching"), view("taken_over")], ..Default::default() };
        assert_eq!(role(&s), RoleState::Spare { armed: true, covering: 1 });
        s.takeovers_blocked = Some("x".into());
        assert_eq!(role(&s), RoleState::Spare { armed: false, covering: 1 });
        s.takeovers_blocked = None;
        s.nvrs_licensed = 0;
        assert_eq!(role(&s), RoleState::Spare { armed: false, covering: 1 });
    }
}
