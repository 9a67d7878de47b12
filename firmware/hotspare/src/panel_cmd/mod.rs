//! `hotspare panel`: the front panel's I/O around the pure `hotspare_panel::Panel`.
//! Connects to LCDd (LCDproc client protocol, TCP), reconnecting with backoff
//! for as long as it runs; reads the box's state (`status_view::gather`:
//! status.json, health.json) and the settings every second; carries out what
//! the panel asks: network changes saved as the `panel` channel with
//! confirm-or-revert (the unconfirmed change is kept in
//! `<settings>/pending-panel.toml`, `hotspare_settings::pending`, so a restart reverts it), NVR reachability
//! (a TCP connect to the URL's host and port), reboot, factory reset. Runs
//! until SIGTERM/SIGINT; the confirm window keeps running while LCDd is away.
//! Keys come from LCDd and, with `--keys-input` or the board profile's `keys`, from Linux
//! input devices ([`keys`]: gpio-keys, a keyboard), both into the same menu.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hotspare_base::{clock::now_us, Backoff};
use hotspare_panel::evdev::Repeater;
use hotspare_panel::lcdproc::wire::{self, Reply};
use hotspare_panel::menu::Key;
use hotspare_panel::{view, Input, Output, Panel};
use hotspare_settings::confirm::Pending;
use hotspare_settings::pending;
use hotspare_settings::{Settings, SettingsStore};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::CliError;

mod keys;

#[derive(clap::Args, Debug)]
pub struct PanelArgs {
    /// LCDd's address.
    #[arg(long, default_value = "127.0.0.1:13666")]
    pub lcdd: String,
    /// The settings directory.
    #[arg(long, default_value = "/data/settings")]
    pub settings: PathBuf,
    /// The supervisor's configuration (its state_dir holds status.json and health.json).
    #[arg(long, default_value = "/etc/hotspare/supervisor.toml")]
    pub supervisor_config: PathBuf,
    /// The spare's failover.toml: its state directory names the NVRs taken over (the status
    /// screen shows `COVERING nvr1`; without it, `COVERING 1 NVR`).
    #[arg(long)]
    pub failover_config: Option<PathBuf>,
    /// Run with `sh -c` after the network settings changed (saved, reverted, reset).
    #[arg(long)]
    pub apply_network: Option<String>,
    /// Run with `sh -c` to reboot the box (reboot, factory reset); without it, they are logged.
    #[arg(long)]
    pub reboot: Option<String>,
    /// How long a network change made on the panel waits for its confirmation there.
    #[arg(long, default_value = "120s", value_parser = humantime::parse_duration)]
    pub confirm_within: Duration,
    /// Read the panel's keys from the Linux input devices of these names (evdev, e.g. the
    /// board's gpio-keys); default: the board profile's `keys.input`.
    #[arg(long, value_delimiter = ',', value_name = "NAME[,NAME…]")]
    pub keys_input: Vec<String>,
    /// The board profile (board.toml): its `keys` table names the input device of the
    /// panel's keys and their codes.
    #[arg(long)]
    pub board: Option<PathBuf>,
}

type Conn = (Lines<BufReader<OwnedReadHalf>>, OwnedWriteHalf);

pub async fn run(a: PanelArgs) -> Result<(), CliError> {
    let store = SettingsStore::open(&a.settings).map_err(|e| CliError::new(e.to_string()))?;
    let mut panel = Panel::with_window(i64::try_from(a.confirm_within.as_micros()).unwrap_or(i64::MAX));
    let (probe_tx, mut probe_rx) = mpsc::unbounded_channel::<Result<u64, String>>();
    let mut io = Io { a: &a, store, conn: None, probe_tx };
    let (names, keymap) = keys::devices(&a.keys_input, a.board.as_deref()).map_err(CliError::new)?;
    let mut key_rx = (!names.is_empty()).then(|| keys::spawn(names, "/sys/class/input".into(), "/dev/input".into()));
    let mut repeater = Repeater::default();
    let mut inputs = vec![];
    if let Some(p) = pending::read(&a.settings, pending::PANEL).unwrap_or_else(|e| {
        log::warn!("{e}: ignored");
        None
    }) {
        inputs.push(Input::Restarted(p));
    }
    let mut backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(10));
    let mut reconnect_at = Instant::now();
    let mut refresh = tokio::time::interval(Duration::from_secs(1));
    let terminated = crate::record::terminated();
    tokio::pin!(terminated);
    let mut last_seq = None;
    let spare_state = crate::failover_cmd::spare_state_dir(a.failover_config.as_deref());
    // the presses of the input devices, with when they happened (a hold keeps its rhythm
    // however late this loop gets round to it)
    let mut keys_at = vec![];
    loop {
        for (at, k) in keys_at.drain(..) {
            let out = panel.handle(at, Input::Key(k));
            io.carry_out(out, &mut panel).await;
        }
        for i in inputs.drain(..) {
            let out = panel.handle(now_us(), i);
            io.carry_out(out, &mut panel).await;
        }
        let wake = [panel.poll_at(), repeater.poll_at()]
            .into_iter()
            .flatten()
            .min()
            .map_or(Duration::from_secs(3600), |t| Duration::from_micros(u64::try_from(t - now_us()).unwrap_or(0)));
        let connected = io.conn.is_some();
        tokio::select! {
            _ = &mut terminated => return Ok(()),
            line = next_line(&mut io.conn), if connected => match line {
                Ok(Some(l)) => match wire::parse(&l) {
                    Ok(Reply::Connect { wid, hgt }) => {
                        log::info!("LCDd {}: display {wid}x{hgt}", a.lcdd);
                        backoff.succeeded();
                        last_seq = None;
                        inputs.push(Input::Connected { wid, hgt });
                    }
                    Ok(Reply::Key(k)) => match Key::from_lcdd(&k) {
                        Some(k) => inputs.push(Input::Key(k)),
                        None => log::debug!("key {k} ignored"),
                    },
                    Ok(Reply::Huh(e)) => log::warn!("LCDd: huh? {e}"),
                    Ok(Reply::Bye) => io.lost(&mut panel, &mut reconnect_at, &mut backoff, "LCDd said bye"),
                    Ok(_) => {}
                    Err(e) => log::warn!("LCDd: {e}"),
                },
                Ok(None) => io.lost(&mut panel, &mut reconnect_at, &mut backoff, "LCDd closed the connection"),
                Err(e) => io.lost(&mut panel, &mut reconnect_at, &mut backoff, &format!("LCDd: {e}")),
            },
            _ = tokio::time::sleep_until(reconnect_at.into()), if !connected => {
                match TcpStream::connect(&a.lcdd).await {
                    Ok(s) => {
                        let (r, mut w) = s.into_split();
                        match w.write_all(b"hello\n").await {
                            Ok(()) => io.conn = Some((BufReader::new(r).lines(), w)),
                            Err(e) => io.lost(&mut panel, &mut reconnect_at, &mut backoff, &e.to_string()),
                        }
                    }
                    Err(e) => io.lost(&mut panel, &mut reconnect_at, &mut backoff, &format!("{}: {e}", a.lcdd)),
                }
            }
            _ = refresh.tick() => {
                let settings = match io.store.current() {
                    Ok(c) => {
                        if last_seq != Some(c.seq()) {
                            last_seq = Some(c.seq());
                            inputs.push(Input::Settings { settings: Box::new(c.settings.clone()), seq: c.seq() });
                        }
                        c.settings
                    }
                    Err(e) => {
                        log::warn!("settings: {e}");
                        Settings::default()
                    }
                };
                let report = hotspare_supervisor::status_view::gather(&a.supervisor_config, env!("CARGO_PKG_VERSION"));
                let names = spare_state.as_deref().map(hotspare_failover::state::taken_over).unwrap_or_default();
                let v = view::build(report.as_ref().map_err(String::as_str), &settings, address(&settings), &names);
                inputs.push(Input::View(v));
            }
            Some(r) = probe_rx.recv() => inputs.push(Input::Probed(r)),
            m = keys::next(&mut key_rx) => match m {
                keys::KeyMsg::Event(e, at) => {
                    for (at, k) in repeater.event(at, &keymap, e) {
                        log::debug!("key {k:?} (input device)");
                        keys_at.push((at, k));
                    }
                }
                keys::KeyMsg::Gone(node) => {
                    log::debug!("{}: its keys released", node.display());
                    repeater.release_all();
                }
            },
            _ = tokio::time::sleep(wake) => {
                keys_at.extend(repeater.tick(now_us()));
                inputs.push(Input::Tick);
            }
        }
    }
}

async fn next_line(conn: &mut Option<Conn>) -> std::io::Result<Option<String>> {
    match conn {
        Some((lines, _)) => lines.next_line().await,
        None => std::future::pending().await,
    }
}

struct Io<'a> {
    a: &'a PanelArgs,
    store: SettingsStore,
    conn: Option<Conn>,
    probe_tx: mpsc::UnboundedSender<Result<u64, String>>,
}

impl Io<'_> {
    fn lost(&mut self, panel: &mut Panel, at: &mut Instant, backoff: &mut Backoff, why: &str) {
        let delay = backoff.failed();
        if self.conn.take().is_some() {
            log::warn!("{why}; reconnecting in {delay:?}");
        } else {
            log::debug!("{why}; retrying in {delay:?}");
        }
        panel.handle(now_us(), Input::Disconnected);
        *at = Instant::now() + delay;
    }

    async fn carry_out(&mut self, out: Vec<Output>, panel: &mut Panel) {
        let mut more = Vec::new();
        let mut lines = String::new();
        for o in out {
            match o {
                Output::Send(r) => {
                    lines.push_str(&r.to_string());
                    lines.push('\n');
                }
                Output::SaveNetwork { network, edited } => more.push(self.save_network(network, edited)),
                Output::Revert { to, why } => {
                    log::warn!("network change reverted: {why}");
                    let r = if to == 0 {
                        let cur = self.store.current().map(|c| c.seq());
                        cur.and_then(|s| self.store.save(&Settings::default(), s, "panel", "revert to the defaults"))
                    } else {
                        self.store.restore(to, "panel")
                    };
                    match r {
                        Ok(seq) => log::info!("generation {seq}: generation {to} restored"),
                        Err(e) => log::error!("revert to generation {to}: {e}"),
                    }
                    self.command(self.a.apply_network.clone(), "apply-network").await;
                }
                Output::Confirmed { seq } => log::info!("network change (generation {seq}) confirmed on the panel"),
                Output::Persist(p) => persist(&self.a.settings, p.as_ref()),
                Output::Probe { nvr, url } => {
                    log::info!("testing {nvr} ({url})");
                    let tx = self.probe_tx.clone();
                    tokio::spawn(async move {
                        let _ = tx.send(probe(&url).await);
                    });
                }
                Output::Reboot => self.command(self.a.reboot.clone(), "reboot").await,
                Output::FactoryReset => {
                    match self.store.factory_reset("panel") {
                        Ok(seq) => log::warn!("factory reset from the panel: generation {seq}"),
                        Err(e) => log::error!("factory reset: {e}"),
                    }
                    persist(&self.a.settings, None);
                    self.command(self.a.apply_network.clone(), "apply-network").await;
                    self.command(self.a.reboot.clone(), "reboot").await;
                }
            }
        }
        if let Some((_, w)) = self.conn.as_mut() {
            if let Err(e) = w.write_all(lines.as_bytes()).await {
                log::warn!("LCDd: {e}");
            }
        }
        for i in more {
            let out = panel.handle(now_us(), i);
            Box::pin(self.carry_out(out, panel)).await;
        }
    }

    fn save_network(&mut self, network: hotspare_settings::model::Network, edited: u64) -> Input {
        let cur = match self.store.current() {
            Ok(c) => c,
            Err(e) => return Input::SaveFailed(e.to_string()),
        };
        let mut s = cur.settings.clone();
        s.network = network;
        let cuts = cur.settings.cuts_off(&s);
        match self.store.save(&s, edited, "panel", "network from the front panel") {
            Ok(seq) => {
                log::info!("generation {seq}: network from the front panel");
                let cmd = self.a.apply_network.clone();
                tokio::spawn(async move { run_command(cmd, "apply-network").await });
                Input::Saved { seq, revert_to: cuts.then_some(edited) }
            }
            Err(e) => Input::SaveFailed(e.to_string()),
        }
    }

    async fn command(&self, cmd: Option<String>, what: &'static str) {
        run_command(cmd, what).await
    }
}

async fn run_command(cmd: Option<String>, what: &str) {
    let Some(cmd) = cmd else {
        log::warn!("no --{what} command: not done");
        return;
    };
    match tokio::process::Command::new("sh").arg("-c").arg(&cmd).status().await {
        Ok(s) if s.success() => log::info!("{what}: `{cmd}` done"),
        Ok(s) => log::error!("{what}: `{cmd}` failed: {s}"),
        Err(e) => log::error!("{what}: `{cmd}`: {e}"),
    }
}

fn persist(dir: &Path, p: Option<&Pending>) {
    if let Err(e) = pending::write(dir, pending::PANEL, p) {
        log::error!("{e}");
    }
}

/// `host:port` of an NVR's URL (`http://host[:port]/…`; 80 or 443 by default).
fn host_port(url: &str) -> Result<String, String> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| format!("not a URL: {url}"))?;
    let auth = rest.split(['/', '?', '#']).next().unwrap_or("");
    let auth = auth.rsplit('@').next().unwrap_or(auth);
    if auth.is_empty() {
        return Err(format!("no host in {url}"));
    }
    let has_port = auth.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) && !auth.ends_with(']');
    if has_port {
        return Ok(auth.to_string());
    }
    let port = if scheme.eq_ignore_ascii_case("https") { 443 } else { 80 };
    Ok(format!("{auth}:{port}"))
}

/// Connects to the NVR: the time in ms, or why not (3 s at most).
async fn probe(url: &str) -> Result<u64, String> {
    let hp = host_port(url)?;
    let t = Instant::now();
    match tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(&hp)).await {
        Ok(Ok(_)) => Ok(u64::try_from(t.elapsed().as_millis()).unwrap_or(u64::MAX)),
        Ok(Err(e)) => Err(short_error(&e)),
        Err(_) => Err("timeout 3s".into()),
    }
}

fn short_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "refused".into(),
        std::io::ErrorKind::TimedOut => "timeout".into(),
        _ => e.to_string(),
    }
}

/// The box's address now: the source address of a route to the outside (a UDP socket's
/// `connect` sends nothing); else the static address of the settings.
fn address(s: &Settings) -> Option<String> {
    let routed = std::net::UdpSocket::bind("0.0.0.0:0")
        .and_then(|u| u.connect("192.0.2.1:9").and_then(|()| u.local_addr()))
        .ok()
        .map(|a| a.ip())
        .filter(|ip| !ip.is_unspecified());
    routed.map(|ip| ip.to_string()).or_else(|| s.network.address.map(|a| a.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_and_port_of_an_nvr_url() {
        assert_eq!(host_port("http://10.0.0.2:8080/api").unwrap(), "10.0.0.2:8080");
        assert_eq!(host_port("https://nvr.local/").unwrap(), "nvr.local:443");
        assert_eq!(host_port("http://u:p@[::1]").unwrap(), "[::1]:80");
        assert!(host_port("nvr.local").is_err() && host_port("http:///x").is_err());
    }
}
