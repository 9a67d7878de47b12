//! The settings' network, host name and time applied to the booted image by
//! `/etc/hotspare/board/apply-network` (board/qemu-virt/apply-network): a fresh
//! box comes up on DHCP through it; static 10.0.2.15/24 via 10.0.2.2, DNS
//! 10.0.2.3 (QEMU's user network, so the API's port forward keeps working) set
//! with `hotspare settings set` and the script shows in `ip addr`, `ip route`,
//! resolv.conf and the host name, no udhcpc left, ntpd running with the servers;
//! a second run changes nothing; a run on a missing interface fails naming it;
//! back to DHCP gives one udhcpc and a lease, again after a second run; static
//! saved and the power cut: the next boot applies it. One VM.
//! Needs the image (`scripts/build-image`; `scripts/test` builds it).

use std::time::{Duration, Instant};

use hotspare_hw_tests::appliance::{skip_reason, Appliance, Options};
use hotspare_hw_tests::timeout_factor;

/// Power-on to ready (as in tests/appliance.rs); × HW_TIMEOUT_FACTOR.
const BOOT: Duration = Duration::from_secs(180);
const CMD: Duration = Duration::from_secs(60);
const APPLY: &str = "/etc/hotspare/board/apply-network /data/settings";
const STATIC: &str = "hotspare settings set hostname=spare-7 network.mode=static network.address=10.0.2.15 \
    network.prefix=24 network.gateway=10.0.2.2 network.dns=10.0.2.3 time.ntp=10.0.2.2 time.timezone=Europe/Paris";
/// DHCP: the static fields go (the settings refuse them with mode = "dhcp").
const DHCP: &str =
    "hotspare settings set network.mode=dhcp network.address= network.prefix= network.gateway= network.dns=";
/// Prints the state of eth0, DNS, host name and the daemons as `net <what> <value>` lines.
const SNAPSHOT: &str = "echo \"net host $(hostname)\"; \
    ip -4 -o addr show dev eth0 | awk '{ print \"net addr\", $4 }'; \
    ip -4 route show default | sed 's/^/net route /'; \
    sed 's/^/net resolv /' /etc/resolv.conf; \
    echo \"net udhcpc $(pidof udhcpc | wc -w)\"; \
    echo \"net ntpd $(pidof ntpd | wc -w)\"; \
    sed -n 's/^servers /net ntp /p' /run/openntpd/ntpd.conf 2>/dev/null";

/// What [`SNAPSHOT`] printed.
#[derive(Debug, Default, PartialEq)]
struct Net {
    host: String,
    addrs: Vec<String>,
    routes: Vec<String>,
    resolv: Vec<String>,
    udhcpc: usize,
    /// ntpd processes (OpenNTPD: its privileged parent and engines).
    ntpd: usize,
    ntp: Vec<String>,
}

impl Net {
    fn parse(lines: &[String]) -> Net {
        let mut n = Net::default();
        for l in lines {
            let Some(rest) = l.trim_end().strip_prefix("net ") else { continue };
            let (what, value) = rest.split_once(' ').unwrap_or((rest, ""));
            let value = value.to_string();
            match what {
                "host" => n.host = value,
                "addr" => n.addrs.push(value),
                "route" => n.routes.push(value),
                "resolv" => n.resolv.push(value),
                "udhcpc" => n.udhcpc = value.trim().parse().unwrap_or(usize::MAX),
                "ntpd" => n.ntpd = value.trim().parse().unwrap_or(usize::MAX),
                "ntp" => n.ntp.push(value),
                _ => {}
            }
        }
        n
    }

    /// eth0 has 10.0.2.15/24, the default route is QEMU's gateway, its DNS is in resolv.conf.
    fn has_qemu_address(&self) -> bool {
        self.addrs == ["10.0.2.15/24"]
            && self.routes.iter().any(|r| r.starts_with("default via 10.0.2.2 dev eth0"))
            && self.resolv.iter().any(|l| l == "nameserver 10.0.2.3")
    }

    fn is_static(&self) -> bool {
        self.has_qemu_address()
            && self.udhcpc == 0
            && self.resolv.first().is_some_and(|l| l == "# static (settings, apply-network)")
    }

    fn is_dhcp(&self) -> bool {
        self.has_qemu_address()
            && self.udhcpc == 1
            && self.resolv.first().is_some_and(|l| l.starts_with("# DHCP on eth0 (udhcpc)"))
    }
}

/// Waits for rcS's run of apply-network (in the background) to finish; its log.
fn boot_apply_finished(vm: &mut Appliance) -> String {
    let wait = "i=0; until grep -q finished /var/log/apply-network.log 2>/dev/null || [ $i -ge 120 ]; do \
        sleep 1; i=$((i + 1)); done; cat /var/log/apply-network.log";
    let log = vm.shell_ok(wait, CMD * 3).join("\n");
    let took = log.lines().rev().find_map(|l| l.split("finished (").nth(1)).unwrap_or("?");
    eprintln!("apply-network at boot: finished ({took}");
    log
}

fn snapshot(vm: &mut Appliance) -> Net {
    Net::parse(&vm.shell_ok(SNAPSHOT, CMD))
}

/// The spare's API answers through the host's port forward (within 30 s).
fn api_answers(vm: &Appliance) {
    let deadline = Instant::now() + Duration::from_secs(30) * timeout_factor();
    loop {
        match vm.api_get("/api/v1/health") {
            Ok(_) => return,
            Err(e) if Instant::now() >= deadline => panic!("the API does not answer: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(500)),
        }
    }
}

#[test]
fn network_host_name_and_time_of_the_settings_are_applied_now_and_at_boot() {
    if let Some(r) = skip_reason() {
        eprintln!("SKIPPED: {r}");
        return;
    }
    let t0 = Instant::now();
    let mut vm = Appliance::boot(&Options::default());
    let (_, took) = vm.wait_ready(BOOT);
    eprintln!("ready {:.1} s after power-on", took.as_secs_f64());

    // a fresh box: the defaults (DHCP, host name hotspare, pool.ntp.org) applied by rcS
    let log = boot_apply_finished(&mut vm);
    assert!(log.contains("eth0: DHCP") && log.contains("finished ("), "{log}");
    let n = snapshot(&mut vm);
    assert!(n.is_dhcp(), "{n:#?}");
    assert_eq!((n.host.as_str(), n.ntp.as_slice()), ("hotspare", ["pool.ntp.org".to_string()].as_slice()), "{n:#?}");

    // static, as the console or the panel would save it, then the script
    vm.shell_ok(STATIC, CMD);
    let start = Instant::now();
    let out = vm.shell_ok(APPLY, CMD).join("\n");
    eprintln!("static applied in {:.1} s:\n{out}", start.elapsed().as_secs_f64());
    let st = snapshot(&mut vm);
    assert!(st.is_static(), "{st:#?}");
    assert_eq!(st.host, "spare-7");
    assert_eq!(st.ntp, ["10.0.2.2"], "{st:#?}");
    assert!(st.ntpd >= 1, "no ntpd: {st:#?}");
    assert!(out.contains("time zone: Europe/Paris"), "{out}");
    api_answers(&vm);

    // idempotent: the same state after a second run (OpenNTPD's count of processes varies
    // while its engines start: running is what counts)
    vm.shell_ok(APPLY, CMD);
    let again = snapshot(&mut vm);
    assert!(again.ntpd >= 1, "no ntpd after a second run: {again:#?}");
    assert_eq!(Net { ntpd: st.ntpd, ..again }, st);

    // a static address that cannot be set: exit 1, the last line naming the interface
    let (rc, out) = vm.shell(&format!("APPLY_NETWORK_IF=eth9 {APPLY} 2>&1 >/dev/null | tail -n 1"), CMD);
    let text = out.join("\n");
    assert_eq!(rc, 0, "{text}");
    assert!(
        out.iter().any(|l| l.contains("apply-network: failed:")
            && l.contains("static address 10.0.2.15/24")
            && l.contains("eth9")),
        "{text}"
    );
    let (rc, _) = vm.shell(&format!("APPLY_NETWORK_IF=eth9 {APPLY} >/dev/null 2>&1"), CMD);
    assert_eq!(rc, 1, "exit status of a failed apply");
    assert!(snapshot(&mut vm).is_static(), "eth0 untouched");

    // back to DHCP: one udhcpc and a lease, also after a second run
    vm.shell_ok(DHCP, CMD);
    // through a pipe, as the console runs it (it reads the output to the end): udhcpc, left
    // running, must not keep the pipe open
    vm.shell_ok(&format!("{APPLY} 2>&1 | cat"), CMD);
    let n = snapshot(&mut vm);
    assert!(n.is_dhcp(), "{n:#?}");
    assert_eq!(n.resolv[0], "# DHCP on eth0 (udhcpc)", "the lease's DNS");
    // run again, with DNS servers of the settings (they replace the lease's): still one udhcpc
    vm.shell_ok("hotspare settings set network.dns=10.0.2.3,10.0.2.4", CMD);
    vm.shell_ok(APPLY, CMD);
    let n = snapshot(&mut vm);
    assert!(n.is_dhcp(), "no second udhcpc: {n:#?}");
    assert_eq!(
        n.resolv,
        ["# DHCP on eth0 (udhcpc), DNS of the settings", "nameserver 10.0.2.3", "nameserver 10.0.2.4"],
        "{n:#?}"
    );
    api_answers(&vm);

    // static saved (not applied now), power cut: the next boot applies it
    vm.shell_ok(STATIC, CMD);
    vm.shell_ok("sync", CMD);
    vm.power_cut();
    vm.power_on();
    let (_, took) = vm.wait_ready(BOOT);
    eprintln!("ready again {:.1} s after power-on", took.as_secs_f64());
    let log = boot_apply_finished(&mut vm);
    assert!(log.contains("eth0: static 10.0.2.15/24"), "{log}");
    let n = snapshot(&mut vm);
    assert!(n.is_static(), "{n:#?}");
    assert_eq!(n.host, "spare-7");
    api_answers(&vm);
    eprintln!("network test: {:.0} s in all", t0.elapsed().as_secs_f64());
}

#[test]
fn snapshot_lines_are_parsed_and_judged() {
    let lines: Vec<String> = [
        "net host spare-7",
        "net addr 10.0.2.15/24",
        "[   12.3] a kernel line in between",
        "net route default via 10.0.2.2 dev eth0 ",
        "net resolv # static (settings, apply-network)",
        "net resolv nameserver 10.0.2.3",
        "net udhcpc 0",
        "net ntpd 3",
        "net ntp 10.0.2.2",
    ]
    .map(String::from)
    .to_vec();
    let n = Net::parse(&lines);
    assert_eq!(n.host, "spare-7");
    assert_eq!((n.udhcpc, n.ntpd, n.ntp.as_slice()), (0, 3, ["10.0.2.2".to_string()].as_slice()));
    assert!(n.is_static() && !n.is_dhcp(), "{n:#?}");
    // a udhcpc still running, or a DHCP resolv.conf, is not static
    let mut dhcp = lines.clone();
    dhcp[6] = "net udhcpc 1".into();
    assert!(!Net::parse(&dhcp).is_static());
    dhcp[4] = "net resolv # DHCP on eth0 (udhcpc)".into();
    assert!(Net::parse(&dhcp).is_dhcp());
    dhcp[1] = "net addr 10.0.2.16/24".into();
    assert!(!Net::parse(&dhcp).is_dhcp(), "another address");
    assert_eq!(Net::parse(&["net udhcpc x".to_string()]).udhcpc, usize::MAX);
}
