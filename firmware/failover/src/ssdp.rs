//! UPnP/SSDP announcement of taken-over NVRs: while the spare stands in for
//! an NVR it announces that NVR's server name, so clients that browse the
//! network still find it.
//!
//! One [`Announcer`] owns one UDP socket (normally `0.0.0.0:1900`, joined to
//! the SSDP group 239.255.255.250) and announces any number of [`Device`]s
//! (one per taken-over NVR; [`Announcer::add`] / [`Announcer::remove`]):
//!
//! - `NOTIFY * HTTP/1.1` with `NTS: ssdp:alive` for each device when it is
//!   added and every [`NOTIFY_INTERVAL`], and `ssdp:byebye` when it is
//!   removed or the announcer stops (dropped or [`Announcer::stop`]). NOTIFYs
//!   go to the group on the bound port, only when `multicast` is on.
//! - A unicast `HTTP/1.1 200 OK` to each `M-SEARCH` whose `ST` is
//!   `ssdp:all`, `upnp:rootdevice`, [`DEVICE_TYPE`] or a device's
//!   `uuid:…`; after a random delay up to `MX` seconds (at most 5) when the
//!   search carries `MX`, at once otherwise (unicast search).
//!
//! Each device announces three notification types: `upnp:rootdevice`,
//! `uuid:<uuid>` and [`DEVICE_TYPE`]. The uuid is derived from the spare's
//! serial and the announced name ([`device_uuid`]): stable across restarts,
//! distinct per taken-over NVR. Headers carry `SERVER`, `USN`, `ST`/`NT`,
//! `LOCATION` (the spare's API; the device description there is served by
//! the API, not here), `CACHE-CONTROL` and the name in `X-HOTSPARE-NAME`.
//!
//! Datagrams are network input: [`parse_msearch`] is a pure function that
//! rejects anything malformed with a [`ParseError`]; rejected datagrams are
//! logged at debug level and otherwise ignored.

use hotspare_base::LockExt;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher as _, Hasher as _};
use std::net::{SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub use hotspare_api::ssdp::*;

/// Most delayed search responses outstanding at once (more are dropped).
const MAX_PENDING_RESPONSES: usize = 64;
/// Longest response delay (UDA: MX is capped at 5).
const MAX_MX_S: u32 = 5;

#[derive(Debug, thiserror::Error)]
pub enum SsdpError {
    #[error("SSDP: cannot bind UDP {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("SSDP: cannot join multicast group {SSDP_GROUP} on {addr}: {source}")]
    Multicast { addr: SocketAddr, source: std::io::Error },
    #[error("SSDP: multicast needs an IPv4 bind address, not {0}")]
    Ipv6Multicast(SocketAddr),
    #[error("SSDP: {field} {value:?}: {problem}")]
    Invalid { field: &'static str, value: String, problem: &'static str },
}
fn check_device(d: &Device) -> Result<(), SsdpError> {
    let invalid = |field, value: &str, problem| SsdpError::Invalid { field, value: value.to_owned(), problem };
    if d.name.trim().is_empty() || d.name.len() > 256 || d.name.chars().any(char::is_control) {
        return Err(invalid("name", &d.name, "1 to 256 characters, no control characters"));
    }
    if d.serial.is_empty() || d.serial.len() > 128 || d.serial.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(invalid("serial", &d.serial, "1 to 128 characters, no spaces"));
    }
    let loc = &d.location;
    if !(loc.starts_with("http://") || loc.starts_with("https://"))
        || loc.len() > 1024
        || loc.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(invalid("location", loc, "an http:// URL without spaces"));
    }
    Ok(())
}

enum Command {
    Alive(Device),
    ByeBye(Device),
    Stop,
}

/// A running SSDP responder/announcer. Dropping it (or [`Announcer::stop`])
/// sends `ssdp:byebye` for every device and ends its task.
pub struct Announcer {
    devices: Arc<Mutex<Vec<Device>>>,
    tx: mpsc::UnboundedSender<Command>,
    task: Option<JoinHandle<()>>,
    local_addr: SocketAddr,
}

impl Announcer {
    /// Binds and announces the one device of `cfg`. Needs a tokio runtime.
    pub async fn start(cfg: AnnounceConfig) -> Result<Announcer, SsdpError> {
        let device = Device { name: cfg.name, serial: cfg.serial, location: cfg.location };
        check_device(&device)?;
        let a = Announcer::bind(cfg.bind, cfg.multicast).await?;
        a.add(device)?;
        Ok(a)
    }

    /// Binds with nothing announced yet ([`Announcer::add`] devices later).
    /// With `multicast`, bind `0.0.0.0:<port>` to receive the group's
    /// searches; NOTIFYs go to 239.255.255.250 on the same port.
    pub async fn bind(bind: SocketAddr, multicast: bool) -> Result<Announcer, SsdpError> {
        let std_socket = open_socket(bind, multicast)?;
        let socket = UdpSocket::from_std(std_socket).map_err(|source| SsdpError::Bind { addr: bind, source })?;
        let local_addr = socket.local_addr().map_err(|source| SsdpError::Bind { addr: bind, source })?;
        let group = multicast.then(|| SocketAddr::V4(SocketAddrV4::new(SSDP_GROUP, local_addr.port())));
        let devices = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(Arc::new(socket), devices.clone(), rx, group));
        log::info!("SSDP responder on {local_addr} (multicast {})", if multicast { "on" } else { "off" });
        Ok(Announcer { devices, tx, task: Some(task), local_addr })
    }

    /// Announces another device; a device of the same name is replaced.
    pub fn add(&self, device: Device) -> Result<(), SsdpError> {
        check_device(&device)?;
        let mut devices = self.devices.lock_or_recover();
        devices.retain(|d| d.name != device.name);
        devices.push(device.clone());
        let _ = self.tx.send(Command::Alive(device));
        Ok(())
    }

    /// Stops announcing `name` (sends byebye). False when it was not announced.
    pub fn remove(&self, name: &str) -> bool {
        let mut devices = self.devices.lock_or_recover();
        let Some(i) = devices.iter().position(|d| d.name == name) else { return false };
        let d = devices.remove(i);
        let _ = self.tx.send(Command::ByeBye(d));
        true
    }

    /// Names announced now.
    pub fn names(&self) -> Vec<String> {
        self.devices.lock_or_recover().iter().map(|d| d.name.clone()).collect()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Sends byebye for every device and waits for the task to end.
    pub async fn stop(mut self) {
        let _ = self.tx.send(Command::Stop);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        // The task sends the byebyes and ends (stop() already did it).
        let _ = self.tx.send(Command::Stop);
    }
}

fn open_socket(bind: SocketAddr, multicast: bool) -> Result<std::net::UdpSocket, SsdpError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let bind_err = |source| SsdpError::Bind { addr: bind, source };
    let s = Socket::new(Domain::for_address(bind), Type::DGRAM, Some(Protocol::UDP)).map_err(bind_err)?;
    s.set_reuse_address(true).map_err(bind_err)?;
    s.set_nonblocking(true).map_err(bind_err)?;
    s.bind(&bind.into()).map_err(bind_err)?;
    if multicast {
        let SocketAddr::V4(v4) = bind else { return Err(SsdpError::Ipv6Multicast(bind)) };
        let mc_err = |source| SsdpError::Multicast { addr: bind, source };
        let iface = *v4.ip();
        s.join_multicast_v4(&SSDP_GROUP, &iface).map_err(mc_err)?;
        if !iface.is_unspecified() {
            s.set_multicast_if_v4(&iface).map_err(mc_err)?;
        }
        // UDA 1.1: TTL of 2 by default; loop so local control points see us.
        s.set_multicast_ttl_v4(2).map_err(mc_err)?;
        s.set_multicast_loop_v4(true).map_err(mc_err)?;
    }
    Ok(s.into())
}

async fn run(
    socket: Arc<UdpSocket>,
    devices: Arc<Mutex<Vec<Device>>>,
    mut rx: mpsc::UnboundedReceiver<Command>,
    group: Option<SocketAddr>,
) {
    let pending = Arc::new(AtomicUsize::new(0));
    let mut tick = tokio::time::interval(NOTIFY_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // The first tick is immediate; add() announces.
    let mut buf = vec![0u8; MAX_DATAGRAM + 1];
    let snapshot = |devices: &Arc<Mutex<Vec<Device>>>| devices.lock_or_recover().clone();
    loop {
        tokio::select! {
            r = socket.recv_from(&mut buf) => match r {
                Ok((n, peer)) => {
                    let data = buf.get(..n).unwrap_or_default();
                    match parse_msearch(data) {
                        Ok(search) => answer(&socket, &snapshot(&devices), search, peer, &pending),
                        Err(ParseError::NotMSearch(_)) => log::trace!("SSDP: ignoring non-search datagram from {peer}"),
                        Err(e) => log::debug!("SSDP: ignoring datagram from {peer}: {e}"),
                    }
                }
                Err(e) => {
                    log::debug!("SSDP: receive error: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = tick.tick() => {
                if let Some(group) = group {
                    for d in snapshot(&devices) {
                        notify(&socket, &d, "ssdp:alive", group).await;
                    }
                }
            }
            cmd = rx.recv() => match cmd {
                Some(Command::Alive(d)) => {
                    if let Some(group) = group {
                        notify(&socket, &d, "ssdp:alive", group).await;
                    }
                }
                Some(Command::ByeBye(d)) => {
                    if let Some(group) = group {
                        notify(&socket, &d, "ssdp:byebye", group).await;
                    }
                }
                Some(Command::Stop) | None => {
                    if let Some(group) = group {
                        let all = std::mem::take(&mut *devices.lock_or_recover());
                        for d in all {
                            notify(&socket, &d, "ssdp:byebye", group).await;
                        }
                    }
                    log::debug!("SSDP responder stopped");
                    return;
                }
            },
        }
    }
}

async fn notify(socket: &UdpSocket, d: &Device, nts: &str, group: SocketAddr) {
    for (nt, usn) in notification_types(d) {
        let msg = notify_message(d, &nt, &usn, nts, group);
        if let Err(e) = socket.send_to(msg.as_bytes(), group).await {
            log::debug!("SSDP: cannot send {nts} for {:?} to {group}: {e}", d.name);
        }
    }
}

fn answer(socket: &Arc<UdpSocket>, devices: &[Device], search: MSearch, peer: SocketAddr, pending: &Arc<AtomicUsize>) {
    let replies: Vec<(Device, String, String)> = devices
        .iter()
        .flat_map(|d| matches(d, &search.st).into_iter().map(move |(st, usn)| (d.clone(), st, usn)))
        .collect();
    if replies.is_empty() {
        log::trace!("SSDP: search for {:?} from {peer}: nothing matches", search.st);
        return;
    }
    log::debug!("SSDP: search for {:?} from {peer}: {} answers", search.st, replies.len());
    let delay = search.mx.map(|mx| jitter(Duration::from_secs(mx.min(MAX_MX_S).into()))).unwrap_or_default();
    if pending.fetch_add(1, Ordering::SeqCst) >= MAX_PENDING_RESPONSES {
        pending.fetch_sub(1, Ordering::SeqCst);
        log::debug!("SSDP: too many searches pending; dropping the one from {peer}");
        return;
    }
    let socket = socket.clone();
    let pending = pending.clone();
    tokio::spawn(async move {
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        for (d, st, usn) in replies {
            let msg = search_response(&d, &st, &usn, SystemTime::now());
            if let Err(e) = socket.send_to(msg.as_bytes(), peer).await {
                log::debug!("SSDP: cannot answer {peer}: {e}");
            }
        }
        pending.fetch_sub(1, Ordering::SeqCst);
    });
}

/// A random duration in `0..=max` (spreads answers as UDA asks).
fn jitter(max: Duration) -> Duration {
    let mut h = RandomState::new().build_hasher();
    h.write_u128(SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    let ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    Duration::from_millis(h.finish() % ms.saturating_add(1))
}
