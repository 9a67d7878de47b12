//! Email notifications of the spare: sending one plain-text message over
//! SMTP with the settings taken over from an NVR (or the spare's own
//! `[email]` table), and the texts of the takeover and failback messages.
//!
//! Transport: plain SMTP (no TLS in this build) to `smtp_host:smtp_port`,
//! AUTH with `user`/`password` when both are given, 10 s timeout per SMTP
//! operation and 30 s for the whole exchange.

use std::time::{Duration, SystemTime};

use hotspare_api::EmailSettings;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
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

    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.smtp_host.trim())
        .port(settings.smtp_port)
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
        Ok(Err(source)) => Err(EmailError::Smtp { server, source }),
        Err(_) => Err(EmailError::Timeout { server }),
    }
}

/// Subject and body of the takeover notification.
pub fn takeover_message(nvr_name: &str, reason: &str, cameras: &[String], time: SystemTime) -> (String, String) {
    let subject = format!("[Hotspare] Takeover of {}: {}", one_line(nvr_name), one_line(reason));
    let mut body = format!(
        "The failover spare has taken over recording server {nvr_name}.\n\n\
         Reason:   {reason}\n\
         Time:     {}\n\
         Cameras:  {} now recorded by the spare\n",
        humantime::format_rfc3339_seconds(time),
        cameras.len()
    );
    for c in cameras {
        body.push_str(&format!("  - {c}\n"));
    }
    body.push_str(
        "\nThe site carries on; video recorded on the spare is re-inserted into the NVR when it is back\n\
         (shown in light blue on timelines). Please check the NVR.\n",
    );
    (subject, body)
}

/// Subject and body of the failback notification (`since`: when the
/// takeover began).
pub fn failback_message(
    nvr_name: &str,
    reason: &str,
    cameras: &[String],
    since: SystemTime,
    time: SystemTime,
) -> (String, String) {
    let subject = format!("[Hotspare] Failback of {}: {}", one_line(nvr_name), one_line(reason));
    let lasted = time.duration_since(since).unwrap_or_default();
    let body = format!(
        "Recording server {nvr_name} is back; the failover spare has handed its cameras back.\n\n\
         Reason:   {reason}\n\
         Time:     {}\n\
         Takeover: since {} ({})\n\
         Cameras:  {} handed back\n\n\
         The video the spare recorded meanwhile is being re-inserted into the NVR.\n",
        humantime::format_rfc3339_seconds(time),
        humantime::format_rfc3339_seconds(since),
        humantime::format_duration(Duration::from_secs(lasted.as_secs())),
        cameras.len()
    );
    (subject, body)
}

/// Control characters (line breaks) have no place in a header.
fn one_line(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}
