//! Email against a real SMTP server: Debian's python3-aiosmtpd with its
//! Mailbox handler, which stores each message (with X-MailFrom / X-RcptTo
//! envelope headers) in a maildir.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use hotspare_api::EmailSettings;
use hotspare_failover::email;

const PYTHON: &str = "/usr/bin/python3";

struct SmtpServer {
    child: Child,
    addr: SocketAddr,
    maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_smtp() -> SmtpServer {
    let dir = tempfile::tempdir().unwrap();
    let maildir = dir.path().join("maildir");
    let port = free_port();
    let child = Command::new(PYTHON)
        .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
        .arg(&maildir)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {PYTHON} -m aiosmtpd (apt install python3-aiosmtpd): {e}"));
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let mut server = SmtpServer { child, addr, maildir, _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!("aiosmtpd exited: {status} (is python3-aiosmtpd installed?)");
        }
        assert!(Instant::now() < deadline, "aiosmtpd did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

fn settings(addr: SocketAddr) -> EmailSettings {
    EmailSettings {
        smtp_host: addr.ip().to_string(),
        smtp_port: addr.port(),
        from: "Hotspare spare-1 <spare-1@example.com>".into(),
        to: vec!["ops@example.com".into(), "sec@example.com".into()],
        user: None,
        password: None,
    }
}

fn messages(maildir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(maildir.join("new")) else { return Vec::new() };
    entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect()
}

#[tokio::test]
async fn takeover_email_arrives() {
    let server = start_smtp();
    let cameras = vec!["Entrance".to_owned(), "Car park".to_owned()];
    let at = UNIX_EPOCH + Duration::from_secs(1_740_821_400);
    let (subject, body) = email::takeover_message("NVR-Hall-2", "no answer to 3 checks", &cameras, at);
    assert_eq!(subject, "[Hotspare] Takeover of NVR-Hall-2: no answer to 3 checks");
    email::send(&settings(server.addr), &subject, &body).await.expect("sent");

    let deadline = Instant::now() + Duration::from_secs(10);
    let msgs = loop {
        let m = messages(&server.maildir);
        if !m.is_empty() || Instant::now() > deadline {
            break m;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(msgs.len(), 1, "one message in the maildir");
    let m = &msgs[0];
    assert!(m.contains(&format!("Subject: {subject}")), "{m}");
    assert!(m.contains("X-MailFrom: spare-1@example.com"), "{m}");
    assert!(m.contains("X-RcptTo: ops@example.com, sec@example.com"), "{m}");
    assert!(m.contains("To: ops@example.com, sec@example.com"), "{m}");
    assert!(m.contains("The failover spare has taken over recording server NVR-Hall-2."), "{m}");
    assert!(m.contains("2025-03-01T09:30:00Z"), "{m}");
    assert!(m.contains("  - Car park"), "{m}");
}

#[tokio::test]
async fn failback_email_arrives() {
    let server = start_smtp();
    let since = UNIX_EPOCH + Duration::from_secs(1_740_821_400);
    let at = since + Duration::from_secs(3723);
    let (subject, body) = email::failback_message("NVR-Hall-2", "answers again", &["Entrance".to_owned()], since, at);
    assert!(body.contains("1h 2m 3s"), "{body}");
    email::send(&settings(server.addr), &subject, &body).await.expect("sent");
    let deadline = Instant::now() + Duration::from_secs(10);
    while messages(&server.maildir).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let msgs = messages(&server.maildir);
    assert_eq!(msgs.len(), 1);
    assert!(msgs[0].contains("Subject: [Hotspare] Failback of NVR-Hall-2: answers again"), "{}", msgs[0]);
}

#[tokio::test]
async fn refused_connection_names_host_and_port() {
    let port = free_port();
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let e = email::send(&settings(addr), "s", "b").await.expect_err("refused").to_string();
    assert!(e.contains(&format!("127.0.0.1:{port}")), "{e}");
    assert!(e.to_lowercase().contains("refused"), "{e}");
}

#[tokio::test]
async fn bad_settings_are_refused_before_connecting() {
    let mut s = settings("127.0.0.1:1".parse().unwrap());
    s.to = vec!["not an address".into()];
    let e = email::send(&s, "s", "b").await.expect_err("bad to").to_string();
    assert!(e.contains("to") && e.contains("not an address"), "{e}");
    let mut s = settings("127.0.0.1:1".parse().unwrap());
    s.user = Some("u".into());
    assert!(email::send(&s, "s", "b").await.unwrap_err().to_string().contains("password"));
}

#[test]
fn subject_has_no_line_breaks() {
    let (subject, _) = email::takeover_message("a\r\nBcc: x@y", "r\n", &[], UNIX_EPOCH);
    assert!(!subject.contains('\n') && !subject.contains('\r'), "{subject}");
}
