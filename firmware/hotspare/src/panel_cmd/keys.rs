//! `hotspare panel`'s keys from Linux input events: the evdev devices (`/dev/input/eventN`)
//! whose name (`/sys/class/input/eventN/device/name`) is one the board profile or
//! `--keys-input` gives, read each on a thread of its own; devices that appear later
//! (hot-plug, a module loaded late) are found by a rescan every [`RESCAN`]. The bytes are
//! decoded by `hotspare_panel::evdev`; what a key means is the menu's.
//!
//! No crate for evdev: the records are fixed 24-byte structs read with `std::fs::File` and
//! sysfs names the device, so no ioctl (and no `unsafe`) is needed; the device is not
//! grabbed (nothing else reads the panel's keys).

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hotspare_base::{clock::now_us, LockExt};
use hotspare_panel::evdev::{Decoder, Event, KeyMap, RECORD};
use tokio::sync::mpsc;

/// How often the input devices are looked for again.
pub const RESCAN: Duration = Duration::from_secs(2);

#[derive(Debug)]
pub enum KeyMsg {
    /// An event and when it was read (µs, [`now_us`]): on the reader's own thread, so a busy
    /// panel loop does not make a held key look shorter or broken.
    Event(Event, i64),
    /// The device was removed (or cannot be read any more): its keys are released.
    Gone(PathBuf),
}

/// The input device names (`keys_input`, else the board profile's `keys.input`) and the key
/// map (the board's codes over a keyboard's).
pub fn devices(keys_input: &[String], board: Option<&Path>) -> Result<(Vec<String>, KeyMap), String> {
    let (names, map) = match board {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
            KeyMap::from_board(&text).map_err(|e| format!("{}: {e}", f.display()))?
        }
        None => (Vec::new(), KeyMap::default()),
    };
    Ok((if keys_input.is_empty() { names } else { keys_input.to_vec() }, map))
}

/// The next message of the key devices (never, without any).
pub async fn next(rx: &mut Option<mpsc::UnboundedReceiver<KeyMsg>>) -> KeyMsg {
    match rx {
        Some(rx) => match rx.recv().await {
            Some(m) => m,
            None => std::future::pending().await,
        },
        None => std::future::pending().await,
    }
}

/// The device nodes (`<dev>/eventN`) of the input devices under `sys` (`/sys/class/input`)
/// named one of `names`, in order.
pub fn matching(sys: &Path, dev: &Path, names: &[String]) -> Vec<(PathBuf, String)> {
    let Ok(dir) = std::fs::read_dir(sys) else { return Vec::new() };
    let mut found: Vec<(PathBuf, String)> = dir
        .filter_map(Result::ok)
        .filter_map(|e| {
            let node = e.file_name().to_str().filter(|n| n.starts_with("event"))?.to_string();
            let name = std::fs::read_to_string(e.path().join("device/name")).ok()?;
            let name = name.trim_end_matches('\n');
            names.iter().any(|n| n == name).then(|| (dev.join(&node), name.to_string()))
        })
        .collect();
    found.sort();
    found
}

/// Starts looking for the devices named `names` (each found one read on its own thread) and
/// returns their events.
pub fn spawn(names: Vec<String>, sys: PathBuf, dev: PathBuf) -> mpsc::UnboundedReceiver<KeyMsg> {
    let (tx, rx) = mpsc::unbounded_channel();
    log::info!("panel keys: input devices named {names:?}");
    let open = Arc::new(Mutex::new(HashSet::new()));
    std::thread::spawn(move || {
        let mut warned = HashSet::new();
        while !tx.is_closed() {
            for (node, name) in matching(&sys, &dev, &names) {
                if lock(&open).contains(&node) {
                    continue;
                }
                match std::fs::File::open(&node) {
                    Ok(f) => {
                        log::info!("panel keys: {} ({name})", node.display());
                        warned.remove(&node);
                        lock(&open).insert(node.clone());
                        let (tx, open) = (tx.clone(), open.clone());
                        std::thread::spawn(move || read_device(f, node, &tx, &open));
                    }
                    Err(e) => {
                        if warned.insert(node.clone()) {
                            log::warn!("panel keys: {} ({name}): {e}", node.display());
                        }
                    }
                }
            }
            std::thread::sleep(RESCAN);
        }
    });
    rx
}

fn lock(open: &Mutex<HashSet<PathBuf>>) -> std::sync::MutexGuard<'_, HashSet<PathBuf>> {
    open.lock_or_recover()
}

fn read_device(
    mut f: std::fs::File,
    node: PathBuf,
    tx: &mpsc::UnboundedSender<KeyMsg>,
    open: &Mutex<HashSet<PathBuf>>,
) {
    let mut decoder = Decoder::default();
    let mut buf = [0u8; RECORD * 64];
    let why = loop {
        match f.read(&mut buf) {
            Ok(0) => break "end of file".to_string(),
            Ok(n) => {
                let at = now_us();
                for e in decoder.feed(&buf[..n]) {
                    if tx.send(KeyMsg::Event(e, at)).is_err() {
                        return;
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => break e.to_string(),
        }
    };
    log::warn!("panel keys: {}: {why}; looking for it again", node.display());
    lock(open).remove(&node);
    let _ = tx.send(KeyMsg::Gone(node));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake `/sys/class/input` (the real one's layout: `eventN/device/name`, and `inputN`,
    /// `mouseN` entries that are not event devices).
    #[test]
    fn devices_are_found_by_their_sysfs_name() {
        let sys = tempfile::tempdir().unwrap();
        for (entry, name) in [
            ("event0", "gpio-keys"),
            ("event1", "hotspare front panel"),
            ("event2", "QEMU Virtio Keyboard"),
            ("input1", "hotspare front panel"),
        ] {
            std::fs::create_dir_all(sys.path().join(entry).join("device")).unwrap();
            std::fs::write(sys.path().join(entry).join("device/name"), format!("{name}\n")).unwrap();
        }
        std::fs::create_dir_all(sys.path().join("mouse0")).unwrap();
        let names = vec!["hotspare front panel".to_string(), "QEMU Virtio Keyboard".to_string()];
        let found = matching(sys.path(), Path::new("/dev/input"), &names);
        assert_eq!(
            found,
            vec![
                (PathBuf::from("/dev/input/event1"), names[0].clone()),
                (PathBuf::from("/dev/input/event2"), names[1].clone())
            ]
        );
        assert!(matching(&sys.path().join("none"), Path::new("/dev/input"), &names).is_empty());
    }

    #[test]
    fn the_devices_come_from_the_flag_or_the_board_profile() {
        let board = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../board/qemu-virt/board.toml");
        let (names, map) = devices(&[], Some(&board)).unwrap();
        assert_eq!(
            (names, map.key(1)),
            (vec!["hotspare front panel".to_string()], Some(hotspare_panel::menu::Key::Escape))
        );
        let flag = vec!["a".to_string(), "b".to_string()];
        assert_eq!(devices(&flag, Some(&board)).unwrap().0, flag);
        assert_eq!(devices(&[], None).unwrap(), (vec![], KeyMap::default()));
        let e = devices(&[], Some(Path::new("/nonexistent/board.toml"))).unwrap_err();
        assert!(e.starts_with("/nonexistent/board.toml: "), "{e}");
    }

    async fn next(rx: &mut mpsc::UnboundedReceiver<KeyMsg>) -> KeyMsg {
        let r = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
        r.expect("a message in 10 s").expect("channel open")
    }

    /// A device file that ends (a removed device) releases its keys; a rescan finds it again.
    #[tokio::test]
    async fn events_are_read_and_a_vanished_device_is_reported_and_found_again() {
        let sys = tempfile::tempdir().unwrap();
        let dev = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(sys.path().join("event3/device")).unwrap();
        std::fs::write(sys.path().join("event3/device/name"), "panel\n").unwrap();
        let mut press = vec![0u8; 16];
        press.extend_from_slice(&1u16.to_le_bytes());
        press.extend_from_slice(&28u16.to_le_bytes());
        press.extend_from_slice(&1i32.to_le_bytes());
        std::fs::write(dev.path().join("event3"), &press).unwrap();
        let mut rx = spawn(vec!["panel".into()], sys.path().to_path_buf(), dev.path().to_path_buf());
        assert!(matches!(next(&mut rx).await, KeyMsg::Event(Event::Key { code: 28, value: 1 }, _)));
        assert!(matches!(next(&mut rx).await, KeyMsg::Gone(p) if p == dev.path().join("event3")));
        // the rescan opens it again
        assert!(matches!(next(&mut rx).await, KeyMsg::Event(Event::Key { code: 28, value: 1 }, _)));
    }
}
