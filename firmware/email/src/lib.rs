//! Plain-text e-mail over SMTP: the settings' validation and sending one message. Used by
//! the spare (takeover and failback notices, with an NVR's settings or its own `[email]`)
//! and the supervisor (critical events, its `[email]`); the texts belong to them.
//!
//! Transport: SMTP to `smtp_host:smtp_port` secured as `tls` says
//! ([`SmtpTls`]): `starttls` requires the server to offer STARTTLS (no
//! silent downgrade to clear text), `implicit` is TLS from the first byte
//! (port 465), `none` is clear text (trusted local relay). Unset: STARTTLS
//! when offered, required when credentials are configured. The server
//! certificate is verified against the public (webpki) roots, or only
//! against `ca_certificate` (PEM) when given (a site CA or the mail
//! server's self-signed certificate). rustls with the ring provider. AUTH
//! with `user`/`password` when both are given, 10 s timeout per SMTP
//! operation and 30 s for the whole exchange.

use std::time::Duration;

use hotspare_api::{EmailSettings, SmtpTls};
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Timeout of each SMTP operation (connect, command, data).
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Timeout of the whole exchange.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Why an email was not sent.
#[derive(Debug, thiserror::Error)]
pub enum EmailError {
    #[error("email settings: {field}: {problem}")]
    Settings { field: &'static str, problem: String },
    #[error("cannot build the email: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("cannot send email via SMTP server {server}: {source}")]
    Smtp { server: String, source: lettre::transport::smtp::Error },
    #[error("cannot send email via SMTP server {server}: no answer within {}s", SEND_TIMEOUT.as_secs())]
    Timeout { server: String },
    #[error(
        "cannot send email via SMTP server {server}: it does not offer STARTTLS, and tls = \"starttls\" (or \
         configured credentials) forbids sending in clear text; use tls = \"implicit\" for a TLS port such as \
         465, or tls = \"none\" only for a trusted local relay"
    )]
    NoStarttls { server: String },
    #[error("cannot set up TLS to SMTP server {server}: {source}")]
    Tls { server: String, source: lettre::transport::smtp::Error },
}

/// The TLS mode in effect: `settings.tls`, or when unset STARTTLS, required when credentials
/// are configured (`None` in the result: opportunistic STARTTLS).
pub fn tls_mode(settings: &EmailSettings) -> Option<SmtpTls> {
    match settings.tls {
        Some(t) => Some(t),
        None if settings.user.is_some() || settings.password.is_some() => Some(SmtpTls::Starttls),
        None => None,
    }
}

fn ca_certificate(pem: &str) -> Result<Certificate, String> {
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err("no PEM certificate (-----BEGIN CERTIFICATE-----) in it".to_owned());
    }
    Certificate::from_pem(pem.as_bytes()).map_err(|e| format!("not a PEM certificate: {e}"))
}

/// Checks settings without sending: `Err((field, problem))`.
pub fn check_settings(s: &EmailSettings) -> Result<(), (&'static str, String)> {
    if s.smtp_host.trim().is_empty() || s.smtp_host.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(("smtp_host", format!("{:?} is not a host name or address", s.smtp_host)));
    }
    if s.smtp_port == 0 {
        return Err(("smtp_port", "0 is not a port".to_owned()));
    }
    s.from.parse::<Mailbox>().map_err(|e| ("from", format!("{:?} is not an email address ({e})", s.from)))?;
    if s.to.is_empty() {
        return Err(("to", "no recipients".to_owned()));
    }
    for t in &s.to {
        t.parse::<Mailbox>().map_err(|e| ("to", format!("{t:?} is not an email address ({e})")))?;
    }
    if s.user.is_some() != s.password.is_some() {
        return Err(("user", "user and password go together".to_owned()));
    }
    if let Some(pem) = &s.ca_certificate {
        ca_certificate(pem).map_err(|problem| ("ca_certificate", problem))?;
    }
    Ok(())
}

/// Sends one plain-text (UTF-8) email to all recipients of `settings`.
pub async fn send(settings: &EmailSettings, subject: &str, body: &str) -> Result<(), EmailError> {
    check_settings(settings).map_err(|(field, problem)| EmailError::Settings { field, problem })?;
    let server = format!("{}:{}", settings.smtp_host, settings.smtp_port);
    let bad = |field, e: lettre::address::AddressError| EmailError::Settings { field, problem: e.to_string() };
    let mut builder =
        Message::builder().from(settings.from.parse().map_err(|e| bad("from", e))?).subject(one_line(subject));
    for to in &settings.to {
        builder = builder.to(to.parse().map_err(|e| bad("to", e))?);
    }
    let message = builder.header(ContentType::TEXT_PLAIN).body(body.to_owned())?;

    let host = settings.smtp_host.trim();
    let mode = tls_mode(settings);
    let params = || {
        let mut b = TlsParameters::builder(host.to_owned());
        if let Some(pem) = &settings.ca_certificate {
            let cert =
                ca_certificate(pem).map_err(|problem| EmailError::Settings { field: "ca_certificate", problem })?;
            b = b.certificate_store(CertificateStore::None).add_root_certificate(cert);
        }
        b.build_rustls().map_err(|source| EmailError::Tls { server: server.clone(), source })
    };
    let tls = match mode {
        Some(SmtpTls::Starttls) => Tls::Required(params()?),
        Some(SmtpTls::Implicit) => Tls::Wrapper(params()?),
        Some(SmtpTls::None) => Tls::None,
        None => Tls::Opportunistic(params()?),
    };
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(settings.smtp_port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if let (Some(user), Some(password)) = (&settings.user, &settings.password) {
        transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
    }
    let transport = transport.build();
    match tokio::time::timeout(SEND_TIMEOUT, transport.send(message)).await {
        Ok(Ok(response)) => {
            log::info!("email {subject:?} sent via {server} to {}: {}", settings.to.join(", "), response.code());
            Ok(())
        }
        Ok(Err(source))
            if mode == Some(SmtpTls::Starttls) && source.to_string().contains("STARTTLS is not supported") =>
        {
            Err(EmailError::NoStarttls { server })
        }
        Ok(Err(source)) => Err(EmailError::Smtp { server, source }),
        Err(_) => Err(EmailError::Timeout { server }),
    }
}

/// Control characters (line breaks) have no place in a header.
pub fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}
