//! End to end: while the spare stands in for a failed NVR it acts as that
//! NVR towards the site: it sends the NVR's takeover and failback emails
//! (to a real SMTP server, Debian's aiosmtpd), announces the NVR's server
//! name over SSDP with a UPnP description, and accepts the NVR's admin
//! credentials — and stops doing so after failback.

use crate::common::{maildir_messages, Smtp};
use crate::failover_common::*;
use std::path::Path;
use std::time::{Duration, Instant};

fn wait_messages(site: &Site, maildir: &Path, n: usize) -> Vec<String> {
    let end = Instant::now() + Duration::from_secs(15);
    loop {
        let m = maildir_messages(maildir);
        if m.len() >= n {
            return m;
        }
        assert!(Instant::now() < end, "{} of {n} emails arrived: {m:#?}\n{}", m.len(), site.dump());
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn subject(msg: &str) -> &str {
    header(msg.split("\n\n").next().unwrap(), "Subject").unwrap_or("")
}

#[test]
fn takeover_and_failback_emails_follow_the_nvr_rules() {
    let mut site = Site::prepare(1, 2);
    let smtp = Smtp::start(site.dir());
    site.nvrs[0].extra = format!(
        "[email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nfrom = \"nvr1@example.com\"\nto = [\"ops@example.com\", \
         \"guard@example.com\"]\n\n[[event]]\non = \"takeover\"\naction = {{ type = \"email\" }}\n\n\
         [[event]]\non = \"failback\"\naction = {{ type = \"email\" }}\n",
        smtp.port
    );
    site.start();
    site.wait_healthy();
    assert!(smtp.messages().is_empty());

    site.kill_nvr(0);
    let v = site.wait_takeover(0, Duration::from_secs(20));
    let reason = v.reason.unwrap();
    let m = wait_messages(&site, &smtp.maildir, 1);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert_eq!(subject(&m[0]), format!("[Hotspare] Takeover of NVR Hall 1: {reason}"), "{}", m[0]);
    assert!(m[0].contains("X-RcptTo: ops@example.com, guard@example.com"), "{}", m[0]);
    assert!(m[0].contains("X-MailFrom: nvr1@example.com"), "{}", m[0]);
    assert!(m[0].contains("  - cam0") && m[0].contains("  - cam1"), "{}", m[0]);
    assert!(site.spare_log().contains("nvr1: email sent to ops@example.com, guard@example.com"), "{}", site.dump());

    site.restart_nvr(0);
    site.wait_failback(0, Duration::from_secs(40));
    let m = wait_messages(&site, &smtp.maildir, 2);
    assert_eq!(m.len(), 2, "{m:#?}");
    let s = subject(&m[1]);
    assert!(s.starts_with("[Hotspare] Failback of NVR Hall 1: "), "{}", m[1]);
    assert!(m[1].contains("Cameras:  2 handed back"), "{}", m[1]);
    eprintln!("emails: {:?} / {s:?}", subject(&m[0]));
}

#[test]
fn ssdp_and_admin_credentials_only_during_the_takeover() {
    let mut site = Site::prepare(1, 2);
    let ssdp = free_udp_port();
    site.ssdp = Some(ssdp);
    site.start();
    site.wait_healthy();
    let (user, password) = (site.nvrs[0].admin_user.clone(), site.nvrs[0].admin_password.clone());
    let spare_port = site.spare_port;
    let description = "/api/v1/upnp/description.xml";

    // Nothing announced and nothing accepted while the NVR is fine.
    assert!(msearch(ssdp, Duration::from_millis(700)).is_empty());
    assert_eq!(site.whoami(&user, &password).status, 401);

    site.kill_nvr(0);
    site.wait_takeover(0, Duration::from_secs(20));
    let answers = msearch(ssdp, Duration::from_millis(1000));
    assert!(!answers.is_empty(), "no answer to M-SEARCH during the takeover\n{}", site.dump());
    let mut sts = Vec::new();
    for a in &answers {
        assert!(a.starts_with("HTTP/1.1 200 OK\r\n"), "{a}");
        assert_eq!(header(a, "X-HOTSPARE-NAME"), Some("NVR Hall 1"), "{a}");
        let loc = header(a, "LOCATION").unwrap();
        assert_eq!(loc, format!("https://127.0.0.1:{spare_port}{description}"), "{a}");
        sts.push(header(a, "ST").unwrap().to_string());
    }
    sts.sort();
    assert!(sts.contains(&"upnp:rootdevice".to_string()), "{sts:?}");
    let r = try_get(spare_port, description, &[]).unwrap();
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<friendlyName>NVR Hall 1</friendlyName>"), "{}", r.text());

    let r = site.whoami(&user, &password);
    assert_eq!(r.status, 200, "{}", r.text());
    let j: serde_json::Value = r.json();
    assert_eq!(
        (j["user"].as_str(), j["acting_as"].as_str(), j["nvr"].as_str()),
        (Some("admin"), Some("NVR Hall 1"), Some("nvr1"))
    );
    let r = site.whoami(&user, "wrong-password");
    assert_eq!(r.status, 401);
    assert_eq!(r.header("WWW-Authenticate"), Some("Basic realm=\"hotspare\""));
    assert_eq!(site.whoami("root", &password).status, 401);
    eprintln!("ssdp answers during the takeover: {sts:?}");

    site.restart_nvr(0);
    site.wait_failback(0, Duration::from_secs(40));
    assert!(msearch(ssdp, Duration::from_millis(1000)).is_empty(), "still announced after failback");
    assert_eq!(try_get(spare_port, description, &[]).unwrap().status, 404);
    assert_eq!(site.whoami(&user, &password).status, 401);
}
