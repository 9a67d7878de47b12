//! E-mail of critical events (`[email]` in supervisor.toml): every critical
//! [`Notice`] (from the monitors, and the core's rescue mode, crash loops and reset path),
//! batched into one mail per [`MIN_INTERVAL`] at most, listing what happened.
//!
//! [`Outbox`] is the pure part (what to send when, in simulated time); [`Mailer`] is the
//! runner's handle: [`Mailer::notify`] never blocks (a bounded channel; a full one drops
//! and counts), and one task sends with `hotspare-email`, retrying a failed send with a
//! capped doubling backoff. The queue is bounded ([`MAX_QUEUED`]); what does not fit is
//! counted and said in the next mail.

use std::collections::VecDeque;
use std::time::Duration;

use hotspare_api::health::{Notice, Severity};
use hotspare_api::EmailSettings;
use hotspare_base::Backoff;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::core::Event;

/// At most one mail per this long.
pub const MIN_INTERVAL: Duration = Duration::from_secs(30);
/// After the first event of a quiet period, wait this long for the events that come with it.
pub const GATHER: Duration = Duration::from_secs(2);
/// Events kept for the next mail; more are counted, not kept.
pub const MAX_QUEUED: usize = 50;
/// A failed send is retried after this, doubling up to [`RETRY_MAX`].
pub const RETRY_MIN: Duration = Duration::from_secs(30);
pub const RETRY_MAX: Duration = Duration::from_secs(15 * 60);

/// What to send and when. Times are offsets from any fixed start.
#[derive(Debug)]
pub struct Outbox {
    queue: VecDeque<Notice>,
    /// Events dropped because the queue was full, since the last mail.
    dropped: u64,
    first_queued: Option<Duration>,
    last_sent: Option<Duration>,
    retry_at: Option<Duration>,
    backoff: Backoff,
    /// A batch being sent (taken, not yet confirmed).
    in_flight: Option<(Vec<Notice>, u64)>,
}

impl Default for Outbox {
    fn default() -> Self {
        Outbox {
            queue: VecDeque::new(),
            dropped: 0,
            first_queued: None,
            last_sent: None,
            retry_at: None,
            backoff: Backoff::new(RETRY_MIN, RETRY_MAX),
            in_flight: None,
        }
    }
}

impl Outbox {
    /// Queues an event (dropped and counted when [`MAX_QUEUED`] are waiting).
    pub fn push(&mut self, now: Duration, n: Notice) {
        if self.queue.len() >= MAX_QUEUED {
            self.dropped += 1;
            return;
        }
        self.first_queued.get_or_insert(now);
        self.queue.push_back(n);
    }

    /// When a batch may go next (`None`: nothing to send, or a send in flight).
    pub fn due(&self) -> Option<Duration> {
        if self.in_flight.is_some() {
            return None;
        }
        let first = self.first_queued?;
        let mut at = first + GATHER;
        if let Some(last) = self.last_sent {
            at = at.max(last + MIN_INTERVAL);
        }
        if let Some(r) = self.retry_at {
            at = at.max(r);
        }
        Some(at)
    }

    /// The batch to send now, if one is due: the events and how many were dropped.
    pub fn take(&mut self, now: Duration) -> Option<(Vec<Notice>, u64)> {
        if self.due().is_none_or(|at| at > now) {
            return None;
        }
        self.take_now()
    }

    /// Everything waiting, whatever the timing (the reset path's last chance); `None` when
    /// nothing waits or a send is in flight.
    pub fn take_now(&mut self) -> Option<(Vec<Notice>, u64)> {
        if self.in_flight.is_some() || (self.queue.is_empty() && self.dropped == 0) {
            return None;
        }
        let batch = (self.queue.drain(..).collect::<Vec<_>>(), std::mem::take(&mut self.dropped));
        self.first_queued = None;
        self.in_flight = Some(batch.clone());
        Some(batch)
    }

    /// The send of the batch taken ended; a failed one goes back to the front of the queue
    /// (bounded: the oldest are kept) and is retried after the backoff.
    pub fn sent(&mut self, now: Duration, ok: bool) {
        let Some((batch, dropped)) = self.in_flight.take() else { return };
        self.last_sent = Some(now);
        if ok {
            self.retry_at = None;
            self.backoff.succeeded();
            return;
        }
        self.retry_at = Some(now + self.backoff.failed());
        let newer: Vec<Notice> = self.queue.drain(..).collect();
        let total = batch.len() + newer.len();
        self.queue.extend(batch.into_iter().chain(newer).take(MAX_QUEUED));
        self.dropped += dropped + (total - self.queue.len()) as u64;
        self.first_queued = Some(now);
    }

    pub fn queued(&self) -> usize {
        self.queue.len()
    }
}

/// The mail of one batch: subject and body, naming every event.
pub fn message(events: &[Notice], dropped: u64) -> (String, String) {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map_or_else(|_| "hotspare".into(), |h| h.trim().to_string());
    let first = events.first().map(|n| n.text.as_str()).unwrap_or("events were dropped");
    let count = events.len() as u64 + dropped;
    let subject = if count == 1 {
        format!("[Hotspare] {host}: {first}")
    } else {
        format!("[Hotspare] {host}: {count} critical events: {first}")
    };
    let mut body = format!("Critical events on {host}, oldest first:\n\n");
    for n in events {
        let at = std::time::UNIX_EPOCH + Duration::from_micros(n.at_us.max(0) as u64);
        body.push_str(&format!("{}  {} {}: {}\n", humantime::format_rfc3339_seconds(at), n.source, n.kind, n.text));
    }
    if dropped > 0 {
        body.push_str(&format!("\n{dropped} more not listed (too many at once).\n"));
    }
    body.push_str("\nDetails: GET /api/v1/health on the box, or health.json in the supervisor's state directory.\n");
    (subject, body)
}

/// The critical notice of a core event, for the mail (`None`: not critical).
pub fn critical_event(e: &Event, at_us: i64) -> Option<Notice> {
    let kind = match e {
        Event::Rescue { .. } => "RescueMode",
        Event::CrashLoop { .. } => "CrashLoop",
        _ => return None,
    };
    Some(Notice {
        at_us,
        severity: Severity::Critical,
        source: "supervisor".into(),
        kind: kind.into(),
        text: e.to_string(),
    })
}

/// What the runner tells the mail task.
#[derive(Debug)]
enum Msg {
    Notice(Notice),
    /// Send what waits now and say when done (before the reset command).
    Flush(oneshot::Sender<()>),
}

/// The runner's handle on the mail task.
#[derive(Clone, Debug)]
pub struct Mailer {
    tx: mpsc::Sender<Msg>,
}

impl Mailer {
    /// Starts the mail task (on the current runtime).
    pub fn spawn(settings: EmailSettings) -> Mailer {
        let (tx, rx) = mpsc::channel(MAX_QUEUED);
        tokio::spawn(run(settings, rx));
        Mailer { tx }
    }

    /// Queues a critical notice for the next mail; never blocks (dropped when the channel is
    /// full). Other severities are not mailed.
    pub fn notify(&self, n: &Notice) {
        if n.severity != Severity::Critical {
            return;
        }
        if self.tx.try_send(Msg::Notice(n.clone())).is_err() {
            log::warn!("e-mail queue full: not mailing {}: {}", n.source, n.text);
        }
    }

    /// Sends what waits now, waiting at most `limit` (the reset path: the box goes down next).
    pub async fn flush(&self, limit: Duration) {
        let (done, wait) = oneshot::channel();
        let flushed = async {
            self.tx.send(Msg::Flush(done)).await.ok()?;
            wait.await.ok()
        };
        if tokio::time::timeout(limit, flushed).await.is_err() {
            log::warn!("critical events e-mail: not sent within {limit:?} before the reset");
        }
    }
}

async fn run(settings: EmailSettings, mut rx: mpsc::Receiver<Msg>) {
    let start = Instant::now();
    let mut outbox = Outbox::default();
    loop {
        let wake = outbox.due().map(|d| start + d);
        let mut flushed = Vec::new();
        let mut take = |m: Msg, outbox: &mut Outbox| match m {
            Msg::Notice(n) => outbox.push(start.elapsed(), n),
            Msg::Flush(done) => flushed.push(done),
        };
        tokio::select! {
            m = rx.recv() => match m {
                Some(m) => take(m, &mut outbox),
                None => return,
            },
            _ = tokio::time::sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {}
        }
        // What else is in the channel (the notices sent just before a flush) goes too.
        while let Ok(m) = rx.try_recv() {
            take(m, &mut outbox);
        }
        let batch = if flushed.is_empty() { outbox.take(start.elapsed()) } else { outbox.take_now() };
        if let Some((events, dropped)) = batch {
            let (subject, body) = message(&events, dropped);
            let r = hotspare_email::send(&settings, &subject, &body).await;
            if let Err(e) = &r {
                log::error!("critical events e-mail not sent ({} events; retrying later): {e}", events.len());
            }
            outbox.sent(start.elapsed(), r.is_ok());
        }
        for done in flushed {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
#[path = "email_tests.rs"]
mod tests;
