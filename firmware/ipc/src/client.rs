//! The heartbeat client a service runs: connects to the supervisor's socket, says
//! [`Hello`], then sends a [`Heartbeat`] every interval with the latest [`Progress`] the
//! service published, and keeps the supervisor's latest [`Status`]. A lost connection is
//! retried with the shared capped backoff; the service itself never blocks on the IPC.
//! [`read_message`] and [`write_message`] are the stream halves the supervisor uses too.

use std::path::PathBuf;
use std::time::Duration;

use hotspare_base::Backoff;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::messages::{Heartbeat, Hello, Message, Progress, RoleState, Status};
use crate::wire::{encode, FrameBuf};

/// Reads the next message; `Ok(None)` at a clean end of stream.
pub async fn read_message<R: AsyncRead + Unpin>(r: &mut R, fb: &mut FrameBuf) -> std::io::Result<Option<Message>> {
    let mut chunk = [0u8; 256];
    loop {
        if let Some(m) = fb.next_message().map_err(std::io::Error::other)? {
            return Ok(Some(m));
        }
        let n = r.read(&mut chunk).await?;
        if n == 0 {
            return Ok(None);
        }
        fb.push(&chunk[..n]);
    }
}

/// Writes one message.
pub async fn write_message<W: AsyncWrite + Unpin>(w: &mut W, msg: &Message) -> std::io::Result<()> {
    let frame = encode(msg).map_err(std::io::Error::other)?;
    w.write_all(&frame).await
}

/// What a service tells the client.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The supervisor's socket (passed to services in `HOTSPARE_SUPERVISOR_SOCKET`).
    pub socket: PathBuf,
    /// The service's name in the supervisor's configuration.
    pub service: String,
    /// Between heartbeats: at most a third of the service's heartbeat deadline.
    pub interval: Duration,
}

/// The environment variable in which the supervisor passes its socket to the services.
pub const SOCKET_ENV: &str = "HOTSPARE_SUPERVISOR_SOCKET";
/// The environment variable in which the supervisor passes each service its name.
pub const SERVICE_ENV: &str = "HOTSPARE_SERVICE";
/// The environment variable in which the supervisor passes the heartbeat interval in
/// milliseconds (a third of the service's `heartbeat_deadline_ms`); absent: [`DEFAULT_INTERVAL`].
pub const INTERVAL_ENV: &str = "HOTSPARE_HEARTBEAT_MS";
/// Between heartbeats when the supervisor does not say.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);

impl ClientConfig {
    /// The configuration the supervisor passed in the environment ([`SOCKET_ENV`],
    /// [`SERVICE_ENV`], [`INTERVAL_ENV`]); `None` when not started by a supervisor.
    pub fn from_env() -> Option<ClientConfig> {
        ClientConfig::from_vars(|k| std::env::var(k).ok())
    }

    /// [`ClientConfig::from_env`] over any variable lookup.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<ClientConfig> {
        let socket = PathBuf::from(var(SOCKET_ENV).filter(|s| !s.is_empty())?);
        let service = var(SERVICE_ENV).filter(|s| !s.is_empty())?;
        let interval = var(INTERVAL_ENV)
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&ms| ms > 0)
            .map_or(DEFAULT_INTERVAL, Duration::from_millis);
        Some(ClientConfig { socket, service, interval })
    }
}

/// A running heartbeat client.
#[derive(Debug)]
pub struct HeartbeatClient {
    /// Publish recording progress here; each heartbeat carries the latest value.
    pub progress: watch::Sender<Option<Progress>>,
    /// Publish the role's state here (the failover spare); each heartbeat carries the latest.
    pub role: watch::Sender<Option<RoleState>>,
    /// The supervisor's latest verdict (`None` until it sent one).
    pub status: watch::Receiver<Option<Status>>,
    pub task: JoinHandle<()>,
}

impl HeartbeatClient {
    /// Starts the client (on the current tokio runtime); it runs until `task` is aborted.
    pub fn spawn(cfg: ClientConfig) -> HeartbeatClient {
        let (progress, progress_rx) = watch::channel(None);
        let (role, role_rx) = watch::channel(None);
        let (status_tx, status) = watch::channel(None);
        let task = tokio::spawn(async move {
            let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
            loop {
                match session(&cfg, &progress_rx, &role_rx, &status_tx).await {
                    Ok(()) => log::warn!("supervisor closed the IPC connection"),
                    Err(e) => log::warn!("supervisor IPC {}: {e}", cfg.socket.display()),
                }
                tokio::time::sleep(backoff.failed()).await;
            }
        });
        HeartbeatClient { progress, role, status, task }
    }
}

/// One connection: hello, then heartbeats until the connection fails.
async fn session(
    cfg: &ClientConfig,
    progress: &watch::Receiver<Option<Progress>>,
    role: &watch::Receiver<Option<RoleState>>,
    status: &watch::Sender<Option<Status>>,
) -> std::io::Result<()> {
    let stream = UnixStream::connect(&cfg.socket).await?;
    let (mut rd, mut wr) = stream.into_split();
    let hello =
        Hello { service: cfg.service.clone(), pid: std::process::id(), version: env!("CARGO_PKG_VERSION").into() };
    write_message(&mut wr, &Message::Hello(hello)).await?;
    let reader = async {
        let mut fb = FrameBuf::new();
        while let Some(m) = read_message(&mut rd, &mut fb).await? {
            if let Message::Status(s) = m {
                status.send_replace(Some(s));
            }
        }
        Ok::<(), std::io::Error>(())
    };
    let writer = async {
        let mut ticks = tokio::time::interval(cfg.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        for seq in 0u64.. {
            ticks.tick().await;
            let beat =
                Heartbeat { service: cfg.service.clone(), seq, progress: *progress.borrow(), role: *role.borrow() };
            write_message(&mut wr, &Message::Heartbeat(beat)).await?;
        }
        Ok::<(), std::io::Error>(())
    };
    tokio::select! {
        r = reader => r,
        r = writer => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{Level, Mode, ResetCause};
    use std::path::Path;
    use tokio::net::UnixListener;

    #[test]
    fn config_from_the_environment() {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert!(ClientConfig::from_vars(vars(&[])).is_none());
        assert!(ClientConfig::from_vars(vars(&[(SOCKET_ENV, "/s")])).is_none());
        let c = ClientConfig::from_vars(vars(&[(SOCKET_ENV, "/s"), (SERVICE_ENV, "nvr")])).unwrap();
        assert_eq!((c.socket.as_path(), c.service.as_str(), c.interval), (Path::new("/s"), "nvr", DEFAULT_INTERVAL));
        let c = ClientConfig::from_vars(vars(&[(SOCKET_ENV, "/s"), (SERVICE_ENV, "nvr"), (INTERVAL_ENV, "250")]));
        assert_eq!(c.unwrap().interval, Duration::from_millis(250));
        let c = ClientConfig::from_vars(vars(&[(SOCKET_ENV, "/s"), (SERVICE_ENV, "nvr"), (INTERVAL_ENV, "x")]));
        assert_eq!(c.unwrap().interval, DEFAULT_INTERVAL);
    }

    /// A client started before the supervisor listens connects once it does, says hello with
    /// its pid, sends numbered heartbeats carrying the published progress, and keeps the
    /// status it is sent; after the supervisor drops it, it reconnects with a new hello.
    #[tokio::test]
    async fn client_says_hello_beats_with_progress_and_reconnects() {
        let d = tempfile::tempdir().unwrap();
        let socket = d.path().join("sup.sock");
        let cfg =
            ClientConfig { socket: socket.clone(), service: "recorder".into(), interval: Duration::from_millis(20) };
        let mut client = HeartbeatClient::spawn(cfg);
        client.progress.send_replace(Some(Progress { bytes_fsynced: 10, cameras_expected: 2 }));
        tokio::time::sleep(Duration::from_millis(150)).await;
        let listener = UnixListener::bind(&socket).unwrap();
        for _connection in 0..2 {
            let (mut s, _) = tokio::time::timeout(Duration::from_secs(20), listener.accept()).await.unwrap().unwrap();
            let mut fb = FrameBuf::new();
            let first = read_message(&mut s, &mut fb).await.unwrap().unwrap();
            let Message::Hello(h) = first else { panic!("first message {first:?}") };
            assert_eq!((h.service.as_str(), h.pid), ("recorder", std::process::id()));
            for want in 0..3 {
                let Some(Message::Heartbeat(b)) = read_message(&mut s, &mut fb).await.unwrap() else { panic!() };
                assert_eq!(b.seq, want);
                assert_eq!(b.progress, Some(Progress { bytes_fsynced: 10, cameras_expected: 2 }));
            }
            let st = Status {
                mode: Mode::Normal,
                healthy: true,
                takeovers_allowed: true,
                last_reset: ResetCause::Deliberate,
                hardware: Level::Ok,
                reason: String::new(),
            };
            write_message(&mut s, &Message::Status(st.clone())).await.unwrap();
            tokio::time::timeout(Duration::from_secs(20), client.status.wait_for(|s| s.is_some()))
                .await
                .unwrap()
                .unwrap();
            assert_eq!(client.status.borrow().as_ref(), Some(&st));
        }
        client.task.abort();
    }
}
