//! Email notifications of the spare: the texts of the takeover and failback messages. The
//! transport (settings validation, TLS modes, sending) is `hotspare-email`, shared with the
//! supervisor; it is re-exported here.

use std::time::{Duration, SystemTime};

use hotspare_email::one_line;
pub use hotspare_email::{check_settings, send, tls_mode, EmailError, SEND_TIMEOUT, SMTP_TIMEOUT};

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
