use super::*;

const S: Duration = Duration::from_secs(1);

fn notice(i: usize) -> Notice {
    Notice {
        at_us: i as i64,
        severity: Severity::Critical,
        source: "raid".into(),
        kind: "Fail".into(),
        text: format!("event {i}"),
    }
}

#[test]
fn events_are_gathered_then_batched_one_mail_per_interval() {
    let mut o = Outbox::default();
    assert_eq!(o.due(), None);
    o.push(10 * S, notice(0));
    o.push(11 * S, notice(1));
    assert_eq!(o.due(), Some(12 * S), "the first event waits for its companions");
    assert!(o.take(11 * S).is_none());
    let (b, dropped) = o.take(12 * S).unwrap();
    assert_eq!((b.len(), dropped), (2, 0));
    assert_eq!(o.due(), None, "nothing while a send is in flight");
    o.push(13 * S, notice(2));
    o.sent(13 * S, true);
    // Next mail not before 30 s after the last one, with everything of meanwhile.
    o.push(20 * S, notice(3));
    assert_eq!(o.due(), Some(13 * S + MIN_INTERVAL));
    assert!(o.take(40 * S).is_none());
    let (b, _) = o.take(43 * S).unwrap();
    assert_eq!(b.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(), ["event 2", "event 3"]);
}

#[test]
fn a_failed_send_is_retried_with_backoff_and_the_queue_stays_bounded() {
    let mut o = Outbox::default();
    o.push(Duration::ZERO, notice(0));
    let _ = o.take(2 * S).unwrap();
    for i in 1..=MAX_QUEUED + 10 {
        o.push(3 * S, notice(i));
    }
    o.sent(4 * S, false);
    assert_eq!(o.queued(), MAX_QUEUED, "bounded");
    assert_eq!(o.due(), Some(4 * S + RETRY_MIN));
    let (b, dropped) = o.take(4 * S + RETRY_MIN).unwrap();
    assert_eq!(b[0].text, "event 0", "the failed batch comes first");
    assert_eq!(b.len() as u64 + dropped, MAX_QUEUED as u64 + 11, "every event listed or counted");
    // Failing again: the wait doubles.
    o.sent(40 * S, false);
    assert_eq!(o.due(), Some(40 * S + 2 * RETRY_MIN));
    let _ = o.take(40 * S + 2 * RETRY_MIN).unwrap();
    o.sent(100 * S, true);
    o.push(101 * S, notice(99));
    assert_eq!(o.due(), Some(100 * S + MIN_INTERVAL), "a success ends the backoff");
}

#[test]
fn the_mail_names_every_event() {
    let (subject, body) = message(&[notice(1), notice(2)], 3);
    assert!(subject.contains("5 critical events: event 1"), "{subject}");
    assert!(body.contains("raid Fail: event 1") && body.contains("raid Fail: event 2"), "{body}");
    assert!(body.contains("3 more not listed"), "{body}");
    let rescue = critical_event(&Event::Rescue { reason: "3 resets in 30 min".into() }, 5).unwrap();
    assert!(rescue.text.contains("3 resets in 30 min"), "{}", rescue.text);
    assert!(critical_event(&Event::PettingResumed, 5).is_none());
}

#[test]
fn the_reset_path_takes_everything_at_once() {
    let mut o = Outbox::default();
    assert!(o.take_now().is_none(), "nothing waits");
    o.push(S, notice(0));
    let _ = o.take(3 * S).unwrap();
    o.sent(3 * S, true);
    o.push(4 * S, notice(1));
    assert!(o.take(5 * S).is_none(), "not due for 30 s");
    let (b, _) = o.take_now().unwrap();
    assert_eq!(b[0].text, "event 1");
}
