//! Email against a real SMTP server: Debian's python3-aiosmtpd with its
//! Mailbox handler, which stores each message (with X-MailFrom / X-RcptTo
//! envelope headers) in a maildir; and aiosmtpd with TLS (STARTTLS required,
//! or implicit TLS) and a certificate from a test CA, recording the TLS
//! version each message arrived over.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, UNIX_EPOCH};

use hotspare_api::{EmailSettings, SmtpTls};
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

/// aiosmtpd serving over TLS (`mode`: `starttls`, required, or `implicit`) with a server
/// certificate for 127.0.0.1 signed by a fresh test CA; each message is stored in
/// `maildir/new` with an `X-Test-TLS:` line naming the TLS version it came over (or `none`).
const TLS_SERVER: &str = r#"
import os, ssl, sys, threading
from aiosmtpd.controller import Controller
port, maildir, cert, key, mode = sys.argv[1:]
os.makedirs(os.path.join(maildir, "new"), exist_ok=True)
class Store:
    n = 0
    async def handle_DATA(self, server, session, envelope):
        obj = server.transport.get_extra_info("ssl_object")
        Store.n += 1
        with open(os.path.join(maildir, "new", "%d.eml" % Store.n), "wb") as f:
            f.write(b"X-Test-TLS: " + (obj.version() if obj else "none").encode() + b"\r\n")
            f.write(envelope.original_content)
        return "250 OK"
ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
ctx.load_cert_chain(cert, key)
if mode == "starttls":
    c = Controller(Store(), hostname="127.0.0.1", port=int(port), tls_context=ctx, require_starttls=True)
else:
    c = Controller(Store(), hostname="127.0.0.1", port=int(port), ssl_context=ctx)
c.start()
print("READY", flush=True)
threading.Event().wait()
"#;

/// A test CA's certificate (PEM) and a server certificate + key for 127.0.0.1 it signed,
/// written to `dir`.
fn test_ca(dir: &Path) -> (String, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name.push(rcgen::DnType::CommonName, "Hotspare test mail CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&key, &ca_cert, &ca_key)
        .unwrap();
    let (c, k) = (dir.join("mail.crt"), dir.join("mail.key"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    (ca_cert.pem(), c, k)
}

/// Starts [`TLS_SERVER`]; returns the server and the CA certificate that signed its certificate.
fn start_tls_smtp(mode: &str) -> (SmtpServer, String) {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_ca(dir.path());
    let script = dir.path().join("server.py");
    std::fs::write(&script, TLS_SERVER).unwrap();
    let maildir = dir.path().join("maildir");
    let port = free_port();
    let mut child = Command::new(PYTHON)
        .arg(&script)
        .arg(port.to_string())
        .arg(&maildir)
        .arg(&cert)
        .arg(&key)
        .arg(mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {PYTHON} (apt install python3-aiosmtpd): {e}"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    assert_eq!(line.trim(), "READY", "the TLS SMTP server did not start (is python3-aiosmtpd installed?)");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    (SmtpServer { child, addr, maildir, _dir: dir }, ca)
}

async fn wait_messages(maildir: &Path) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while messages(maildir).is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    messages(maildir)
}

fn settings(addr: SocketAddr) -> EmailSettings {
    EmailSettings {
        smtp_host: addr.ip().to_string(),
        smtp_port: addr.port(),
        from: "Hotspare spare-1 <spare-1@example.com>".into(),
        to: vec!["ops@example.com".into(), "sec@example.com".into()],
        user: None,
        password: None,
        tls: None,
        ca_certificate: None,
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

#[tokio::test]
async fn starttls_and_implicit_tls_carry_the_mail() {
    for (mode, tls) in
        [("starttls", Some(SmtpTls::Starttls)), ("implicit", Some(SmtpTls::Implicit)), ("starttls", None)]
    {
        let (server, ca) = start_tls_smtp(mode);
        let mut s = settings(server.addr);
        s.tls = tls;
        s.ca_certificate = Some(ca);
        email::send(&s, "over TLS", "body").await.unwrap_or_else(|e| panic!("{mode} {tls:?}: {e}"));
        let msgs = wait_messages(&server.maildir).await;
        assert_eq!(msgs.len(), 1, "{mode} {tls:?}");
        let version = msgs[0].lines().next().unwrap_or_default();
        assert!(version.starts_with("X-Test-TLS: TLSv1."), "{mode} {tls:?}: not over TLS: {version}");
        assert!(msgs[0].contains("Subject: over TLS"), "{}", msgs[0]);
    }
}

#[tokio::test]
async fn required_starttls_never_falls_back_to_clear_text() {
    // A server that offers no STARTTLS (the plain aiosmtpd).
    let server = start_smtp();
    let mut s = settings(server.addr);
    s.tls = Some(SmtpTls::Starttls);
    let e = email::send(&s, "s", "b").await.expect_err("no STARTTLS offered").to_string();
    assert!(e.contains("does not offer STARTTLS") && e.contains(&server.addr.to_string()), "{e}");
    // Credentials without a tls setting mean STARTTLS required, too.
    let mut s = settings(server.addr);
    (s.user, s.password) = (Some("spare".into()), Some("mail-s3cret".into()));
    let e = email::send(&s, "s", "b").await.expect_err("credentials in clear text").to_string();
    assert!(e.contains("does not offer STARTTLS"), "{e}");
    assert!(messages(&server.maildir).is_empty(), "a message went out in clear text");
}

#[tokio::test]
async fn an_untrusted_mail_server_certificate_is_refused() {
    let (server, _ca) = start_tls_smtp("starttls");
    let mut s = settings(server.addr);
    s.tls = Some(SmtpTls::Starttls);
    // Public roots only: the test CA is unknown.
    let e = email::send(&s, "s", "b").await.expect_err("unknown CA").to_string();
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    // Another CA pinned: refused as well.
    let other = test_ca(tempfile::tempdir().unwrap().path()).0;
    s.ca_certificate = Some(other);
    let e = email::send(&s, "s", "b").await.expect_err("other CA").to_string();
    assert!(e.to_lowercase().contains("certificate"), "{e}");
    s.ca_certificate = Some("not a certificate".into());
    let e = email::send(&s, "s", "b").await.expect_err("bad PEM").to_string();
    assert!(e.contains("ca_certificate"), "{e}");
    assert!(messages(&server.maildir).is_empty());
}
