//! The appliance image (`scripts/build-image`'s output) booted the way the box
//! boots: through `scripts/run-image` (U-Boot from pflash, the system disk with
//! the A/B slots, two bay disks: AHCI, or hot-pluggable scsi-hd on virtio-scsi
//! ([`BayKind`]), the i6300esb watchdog, user networking),
//! one VM per test in its own directory (fresh bay disks, its own API port), with
//! QMP for the hardware events (power cut, disks), the serial port (ttyAMA0: boot
//! messages, [`Appliance::expect`], and the console's menu) and the maintenance port
//! (hvc0: a shell for commands, [`Appliance::shell`]; both in [`crate::shell`]). The
//! spare's HTTP API is reached through the forwarded port ([`Appliance::api_get`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hotspare_api::health::HealthReport;
use serde_json::Value;

use crate::qemu::Qemu;
use crate::qmp::Qmp;
use crate::shell::{connect_maint, Activation};
use crate::stream::Stream;
use crate::timeout_factor;

/// The board the hw-tests boot.
pub const BOARD: &str = "qemu-virt";
/// The supervisor's line once the box is ready (services up, slot marked good).
pub const READY: &str = "supervisor: ready";
/// The first line of every power-on and reset.
pub const UBOOT_BANNER: &str = "U-Boot 20";

/// The repository (hw-tests/..).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The image's directory: `HOTSPARE_IMAGE_DIR`, or `.cache/image/out/qemu-virt`.
pub fn image_dir() -> PathBuf {
    match std::env::var_os("HOTSPARE_IMAGE_DIR") {
        Some(d) => PathBuf::from(d),
        None => repo_root().join(".cache/image/out").join(BOARD),
    }
}

/// `Some(reason)` when the image tests cannot run here: QEMU is missing, or there is no
/// image and `HW_TESTS_REQUIRE_IMAGE` is unset (`scripts/test` builds the image and sets it,
/// so there a missing image fails instead of skipping).
pub fn skip_reason() -> Option<String> {
    if let Some(r) = crate::skip_reason() {
        return Some(r);
    }
    let disk = image_dir().join("disk.img");
    if disk.is_file() {
        return None;
    }
    let msg = format!("no appliance image {} (scripts/build-image makes it)", disk.display());
    if std::env::var_os("HW_TESTS_REQUIRE_IMAGE").is_some() {
        panic!("{msg}; HW_TESTS_REQUIRE_IMAGE is set");
    }
    Some(msg)
}

/// What a test's VM has besides the board's standard devices.
#[derive(Default)]
pub struct Options {
    /// An NVMe disk (serial `HSNVME0001`) behind a PCIe root port, QOM path
    /// `/machine/peripheral/nvme0`.
    pub nvme: bool,
    /// A system disk image to boot instead of the build's `disk.img`.
    pub disk: Option<PathBuf>,
    /// How the two bay disks are attached.
    pub bays: BayKind,
    /// A box as it leaves the factory: no settings saved, so the console shows the first-boot
    /// wizard and the API lets nobody in. Otherwise [`Appliance::wait_ready`] gives the box
    /// the test site ([`TEST_SITE_ADMIN`]) over the maintenance shell.
    pub fresh: bool,
}

/// The admin account (user, password) of the test site: what [`Appliance::api_get`] logs in
/// with. The spare takes its accounts from the box's settings (`failover --settings`).
pub const TEST_SITE_ADMIN: (&str, &str) = ("admin", "admin");

/// The bay disks of a test's VM (`BAYS=` of `scripts/run-image`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BayKind {
    /// The board's AHCI ports (SMART answered; QEMU cannot unplug them).
    #[default]
    Ahci,
    /// `scsi-hd` devices `bay1`, `bay2` (serials `HSBAY0001`, `HSBAY0002`) on the virtio-scsi
    /// controller `scsi0`, targets 0 and 1: hot-pluggable ([`Appliance::unplug_bay`],
    /// [`Appliance::plug_bay`]). The image's `bays.toml` names AHCI ports: boot a slot with
    /// [`VIRTIO_SCSI_BAYS_TOML`] ([`disk_with_changed_slot`]).
    VirtioScsi,
}

/// `bays.toml` for [`BayKind::VirtioScsi`]: bay1 is SCSI target 0, bay2 target 1, e.g.
/// `/devices/platform/4010000000.pcie/pci0000:00/0000:00:02.0/virtio1/host0/target0:0:1/0:0:1:0/block/sdb`.
pub const VIRTIO_SCSI_BAYS_TOML: &str = "\
# The hw-tests' hot-pluggable bays: scsi-hd on virtio-scsi (BAYS=virtio-scsi of scripts/run-image)
[[bay]]
name = \"bay1\"
path = \"/devices/*/virtio*/host*/target*:0:0/*/block/*\"

[[bay]]
name = \"bay2\"
path = \"/devices/*/virtio*/host*/target*:0:1/*/block/*\"
";

pub struct Appliance {
    pub qemu: Qemu,
    pub qmp: Qmp,
    pub api_port: u16,
    pub started: Instant,
    /// The VM's disks, flash and QMP socket.
    pub dir: tempfile::TempDir,
    /// The maintenance port (hvc0: busybox's `askfirst` shell).
    pub maint: Stream,
    launch: Launch,
    /// No test site ([`Options::fresh`]).
    fresh: bool,
    /// Which `askfirst` of the maintenance port was answered last.
    pub(crate) activation: Option<Activation>,
    pub(crate) commands: u32,
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local address").port()
}

/// How a test's VM is started (again after a power cut).
struct Launch {
    api_port: u16,
    /// QEMU arguments beyond the board's.
    extra: Vec<String>,
    disk: Option<PathBuf>,
    bays: BayKind,
}

impl Launch {
    /// `scripts/run-image` with the VM's directory (`RUN_DIR`: disks kept between power-ons).
    fn start(&self, dir: &Path) -> (Qemu, Qmp, Stream) {
        let qmp_path = dir.join("qmp.sock");
        let maint_path = dir.join("maint.sock");
        let _ = std::fs::remove_file(&qmp_path);
        let _ = std::fs::remove_file(&maint_path);
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("scripts/run-image"))
            .args(["--board", BOARD, "--", "-qmp"])
            .arg(format!("unix:{},server=on,wait=off", qmp_path.display()))
            .args(&self.extra)
            .current_dir(repo_root())
            .env("RUN_DIR", dir)
            .env("MAINT_SOCKET", &maint_path)
            .env("HOST_API_PORT", self.api_port.to_string());
        if let Some(disk) = &self.disk {
            cmd.env("IMAGE_DISK", disk);
        }
        if self.bays == BayKind::VirtioScsi {
            cmd.env("BAYS", "virtio-scsi");
        }
        let qemu = Qemu::spawn_command(cmd).expect("start scripts/run-image");
        let qmp = Qmp::connect(&qmp_path, Duration::from_secs(60)).expect("QMP");
        let maint = connect_maint(&maint_path, Duration::from_secs(60)).unwrap_or_else(|e| panic!("{e}"));
        (qemu, qmp, maint)
    }
}

impl Appliance {
    /// Powers on a VM of the image.
    pub fn boot(opts: &Options) -> Appliance {
        let dir = tempfile::Builder::new().prefix("hw-appliance").tempdir().expect("temp dir");
        let api_port = free_port();
        let mut extra = Vec::new();
        if opts.nvme {
            let nvme = dir.path().join("nvme.qcow2");
            run_tool(Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&nvme).arg("1G"));
            extra.extend([
                "-drive".into(),
                format!("if=none,id=nvm,file={},format=qcow2", nvme.display()),
                "-device".into(),
                "pcie-root-port,id=rp1,chassis=1".into(),
                "-device".into(),
                "nvme,id=nvme0,serial=HSNVME0001,drive=nvm,bus=rp1".into(),
            ]);
        }
        let launch = Launch { api_port, extra, disk: opts.disk.clone(), bays: opts.bays };
        let (qemu, qmp, maint) = launch.start(dir.path());
        let fresh = opts.fresh;
        Appliance {
            qemu,
            qmp,
            api_port,
            started: Instant::now(),
            dir,
            maint,
            launch,
            fresh,
            activation: None,
            commands: 0,
        }
    }

    /// Pulls the plug (QMP `quit`: QEMU stops at once, nothing the guest had not written
    /// to its disks survives) and waits for QEMU to end.
    pub fn power_cut(&mut self) {
        // QEMU may close the socket before it answers
        let _ = self.qmp.execute("quit", serde_json::json!({}));
        self.qemu.wait_exit(Duration::from_secs(30)).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Powers the same VM on again (its disks and flash as they were).
    pub fn power_on(&mut self) {
        let (qemu, qmp, maint) = self.launch.start(self.dir.path());
        (self.qemu, self.qmp, self.maint, self.started, self.activation) = (qemu, qmp, maint, Instant::now(), None);
    }

    /// Waits for a line of the serial port containing `pattern`; panics with the port's tail.
    pub fn expect(&mut self, pattern: &str, timeout: Duration) -> String {
        self.qemu.expect(pattern, timeout).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Waits for [`READY`]; returns the line and the time since power-on.
    /// Waits for the supervisor's "ready"; then, unless [`Options::fresh`], gives a box with
    /// no settings saved yet the test site.
    pub fn wait_ready(&mut self, timeout: Duration) -> (String, Duration) {
        let line = self.expect(READY, timeout);
        let took = self.started.elapsed();
        if !self.fresh {
            self.provision();
        }
        (line, took)
    }

    /// The test site, imported as the box's settings with `hotspare settings import` (one
    /// generation, channel `hw-tests`) when none are saved yet: the defaults plus the admin account
    /// [`TEST_SITE_ADMIN`] and the NVR `nvr1` on the host; then waits until the spare has reloaded with it (it reads its
    /// settings every second; a login before that would count as a failed one).
    fn provision(&mut self) {
        static SITE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
        let site = SITE.get_or_init(|| {
            let mut s = hotspare_settings::Settings::default();
            s.set_account(TEST_SITE_ADMIN.0, hotspare_http::Role::Admin, TEST_SITE_ADMIN.1);
            // an NVR to protect, so the spare is armed (the LEDs, the panel's status): the
            // host (10.0.2.2), where no test runs one
            s.nvrs.push(hotspare_settings::model::Nvr {
                id: "nvr1".into(),
                url: "http://10.0.2.2:8081".into(),
                admin_user: "admin".into(),
                admin_password: "admin".into(),
                priority: 1,
                fingerprint: None,
            });
            let text = toml::to_string(&s).expect("the test site as TOML");
            // one line over the maintenance shell (the guest's busybox `base64 -d` reads it)
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, text.as_bytes())
        });
        // only on a box with no settings saved yet: a test's own changes (and a box powered on
        // again) keep theirs
        let import = format!(
            "if ls /data/settings/settings.*.toml >/dev/null 2>&1; then echo 'settings kept'; else \
             echo {site} | base64 -d > /tmp/site.toml && \
             hotspare settings --dir /data/settings --channel hw-tests import /tmp/site.toml; fi"
        );
        let out = self.shell_ok(&import, Duration::from_secs(60)).join("\n");
        // a new generation: the spare (polling its settings every second) reloads with it and
        // says so in its log, which the supervisor's services write to the serial port
        if let Some(seq) = out.split("saved generation ").nth(1).and_then(|r| r.lines().next()).map(str::trim) {
            self.expect(&format!("settings generation {seq}: reloading"), Duration::from_secs(60));
            self.expect("NVRs, licence allows", Duration::from_secs(60));
        } else {
            assert!(out.contains("settings kept") || out.contains("nothing changed"), "importing the test site: {out}");
        }
    }

    /// `GET path` on the spare's API as the test site's admin ([`TEST_SITE_ADMIN`]).
    pub fn api_get(&self, path: &str) -> Result<Value, String> {
        let url = format!("http://127.0.0.1:{}{path}", self.api_port);
        let who = format!("{}:{}", TEST_SITE_ADMIN.0, TEST_SITE_ADMIN.1);
        let out = Command::new("curl")
            .args(["-sS", "-m", "10", "--fail-with-body", "-u", &who, &url])
            .output()
            .map_err(|e| format!("curl: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "GET {url}: {} {}",
                String::from_utf8_lossy(&out.stderr).trim(),
                String::from_utf8_lossy(&out.stdout).trim()
            ));
        }
        serde_json::from_slice(&out.stdout).map_err(|e| format!("GET {url}: not JSON: {e}"))
    }

    /// Polls `GET /api/v1/health` until `pred` holds; panics after `timeout` with the last
    /// report (or error).
    pub fn wait_health(&self, what: &str, timeout: Duration, pred: impl Fn(&HealthReport) -> bool) -> HealthReport {
        let deadline = Instant::now() + timeout * timeout_factor();
        loop {
            let last = match self
                .api_get("/api/v1/health")
                .and_then(|v| serde_json::from_value::<HealthReport>(v).map_err(|e| e.to_string()))
            {
                Ok(h) if pred(&h) => return h,
                Ok(h) => format!("{h:#?}"),
                Err(e) => e,
            };
            if Instant::now() >= deadline {
                panic!("timeout waiting for the health report to show {what}; last: {last}");
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

impl Appliance {
    /// Pulls bay `bay` (`"bay1"`, `"bay2"`) of a [`BayKind::VirtioScsi`] VM: QMP `device_del`
    /// of its scsi-hd (the guest sees the disk go at once; its drive goes with it).
    pub fn unplug_bay(&mut self, bay: &str) {
        self.qmp.execute("device_del", serde_json::json!({ "id": bay })).unwrap_or_else(|e| panic!("{e}"));
        self.wait_qmp_event("DEVICE_DELETED", bay);
    }

    /// Puts the disk image `file` (qcow2) with serial `serial` into the empty bay `bay` of a
    /// [`BayKind::VirtioScsi`] VM: QMP `blockdev-add` + `device_add` of a scsi-hd at the bay's
    /// target. `node` names the block node (one per plug: QEMU keeps names until removed).
    pub fn plug_bay(&mut self, bay: &str, file: &Path, serial: &str, node: &str) {
        let target: u32 = match bay {
            "bay1" => 0,
            "bay2" => 1,
            _ => panic!("no bay {bay:?} on the virtio-scsi controller"),
        };
        let blockdev = serde_json::json!({
            "node-name": node,
            "driver": "qcow2",
            "file": { "driver": "file", "filename": file.display().to_string() },
        });
        self.qmp.execute("blockdev-add", blockdev).unwrap_or_else(|e| panic!("{e}"));
        let device = serde_json::json!({
            "driver": "scsi-hd", "id": bay, "drive": node, "bus": "scsi0.0",
            "channel": 0, "scsi-id": target, "lun": 0, "serial": serial,
        });
        self.qmp.execute("device_add", device).unwrap_or_else(|e| panic!("{e}"));
    }

    /// Waits (up to 30 s) for QMP event `name` about device `id`.
    fn wait_qmp_event(&mut self, name: &str, id: &str) {
        let deadline = Instant::now() + Duration::from_secs(30) * timeout_factor();
        let is_it = |e: &Value| e["event"] == name && e["data"]["device"] == id;
        while !self.qmp.events.iter().any(is_it) {
            if Instant::now() >= deadline {
                panic!("no QMP {name} of {id}; events: {:?}", self.qmp.events);
            }
            // a harmless command: the events that came meanwhile are collected
            let _ = self.qmp.execute("query-status", serde_json::json!({}));
            std::thread::sleep(Duration::from_millis(200));
        }
        self.qmp.events.retain(|e| !is_it(e));
    }
}

/// Runs a host tool; panics with its stderr when it fails.
pub fn run_tool(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A copy of the image's system disk whose slot `slot` (`"root-a"`, `"root-b"`) holds the
/// same root filesystem changed by `change` (run on the unpacked tree), e.g. a test build
/// whose supervisor exits at once. The copy is sparse; `dir` keeps it.
pub fn disk_with_changed_slot(dir: &Path, slot: &str, change: impl FnOnce(&Path)) -> PathBuf {
    let image = image_dir();
    let tree = dir.join("rootfs");
    run_tool(Command::new("unsquashfs").args(["-q", "-n", "-d"]).arg(&tree).arg(image.join("rootfs.squashfs")));
    change(&tree);
    let squashfs = dir.join("rootfs-changed.squashfs");
    run_tool(Command::new("mksquashfs").arg(&tree).arg(&squashfs).args([
        "-comp",
        "gzip",
        "-all-root",
        "-no-xattrs",
        "-no-progress",
        "-quiet",
        "-noappend",
    ]));
    let disk = dir.join("disk.img");
    run_tool(Command::new("cp").arg("--sparse=always").arg(image.join("disk.img")).arg(&disk));
    let (start, size) = partition(&image.join("disk-layout.sfdisk"), slot);
    let bytes = std::fs::read(&squashfs).expect("read the squashfs");
    assert!(bytes.len() as u64 <= size, "the changed root does not fit {slot}");
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new().write(true).open(&disk).expect("open the disk copy");
    f.seek(SeekFrom::Start(start)).and_then(|_| f.write_all(&bytes)).expect("write the slot");
    disk
}

/// Byte offset and size of the GPT partition named `name` in an `sfdisk -d` dump.
fn partition(dump: &Path, name: &str) -> (u64, u64) {
    let text = std::fs::read_to_string(dump).unwrap_or_else(|e| panic!("{}: {e}", dump.display()));
    let line = text
        .lines()
        .find(|l| l.contains(&format!("name=\"{name}\"")))
        .unwrap_or_else(|| panic!("no partition {name} in {}", dump.display()));
    let field = |key: &str| -> u64 {
        line.split(',')
            .find_map(|f| f.split_once('=').filter(|(k, _)| k.trim().ends_with(key)).map(|(_, v)| v.trim()))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {line:?}"))
    };
    (field("start") * 512, field("size") * 512)
}
