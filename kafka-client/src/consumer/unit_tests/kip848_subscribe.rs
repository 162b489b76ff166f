//! The consumer-protocol member's subscription handling: what `subscribe`,
//! `subscribe_pattern` and `unsubscribe` change in what the member asks for, when that
//! sends a heartbeat at once, and the commands the task takes (`Subscribe`, `Leave`,
//! the handle dropped). A child of `task.rs`; fixtures from `kip848_task.rs`.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::tests::member;
use super::*;

/// Pushes the next heartbeat later, so that a `beat_now` shows.
fn beat_later(m: &mut Member) -> Instant {
    let later = Instant::now() + Duration::from_secs(30);
    m.hb.on_failure(Instant::now(), Duration::from_secs(30));
    assert_eq!(m.hb.next_beat(), later);
    later
}

fn set_subscription(m: &Member, s: Subscription) {
    m.shared.lock().fixture_subscription(s);
}

#[tokio::test(start_paused = true)]
async fn a_topic_subscription_is_asked_for_and_sent_at_once() {
    let (mut m, _tx) = member();
    assert_eq!(m.wanted.topics, BTreeSet::from(["t".to_string()]));
    assert_eq!(m.wanted.regex, None);
    assert!(m.subscribed());
    beat_later(&mut m);
    set_subscription(
        &m,
        Subscription::Topics(BTreeSet::from(["t".to_string(), "u".to_string()])),
    );
    m.on_subscribe();
    assert_eq!(
        m.wanted.topics,
        BTreeSet::from(["t".to_string(), "u".to_string()])
    );
    assert_eq!(m.wanted.regex, None);
    assert_eq!(
        m.hb.next_beat(),
        Instant::now(),
        "the change goes out at once"
    );
}

#[tokio::test(start_paused = true)]
async fn the_same_subscription_again_sends_nothing_early() {
    let (mut m, _tx) = member();
    let later = beat_later(&mut m);
    m.on_subscribe();
    assert_eq!(m.wanted.topics, BTreeSet::from(["t".to_string()]));
    assert_eq!(
        m.hb.next_beat(),
        later,
        "unchanged: the beat keeps its time"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pattern_replaces_the_topics_and_is_sent_at_once() {
    let (mut m, _tx) = member();
    beat_later(&mut m);
    set_subscription(&m, Subscription::Pattern("t.*".into()));
    m.on_subscribe();
    assert!(m.wanted.topics.is_empty(), "a regex member names no topics");
    assert_eq!(m.wanted.regex.as_deref(), Some("t.*"));
    assert!(m.subscribed(), "a regex alone is a subscription");
    assert_eq!(m.hb.next_beat(), Instant::now());
}

#[tokio::test(start_paused = true)]
async fn only_the_regex_changing_is_a_change() {
    let (mut m, _tx) = member();
    set_subscription(&m, Subscription::Pattern("a.*".into()));
    m.on_subscribe();
    let later = beat_later(&mut m);
    m.on_subscribe();
    assert_eq!(m.hb.next_beat(), later, "same regex: nothing sent early");
    set_subscription(&m, Subscription::Pattern("b.*".into()));
    m.on_subscribe();
    assert_eq!(m.wanted.regex.as_deref(), Some("b.*"));
    assert!(m.wanted.topics.is_empty());
    assert_eq!(
        m.hb.next_beat(),
        Instant::now(),
        "new regex, same (no) topics"
    );
}

#[tokio::test(start_paused = true)]
async fn unsubscribing_clears_both_and_the_member_is_no_longer_subscribed() {
    for gone in [Subscription::None, Subscription::Manual] {
        let (mut m, _tx) = member();
        beat_later(&mut m);
        set_subscription(&m, gone);
        m.on_subscribe();
        assert!(m.wanted.topics.is_empty());
        assert_eq!(m.wanted.regex, None);
        assert!(!m.subscribed());
        assert_eq!(m.hb.next_beat(), Instant::now());
    }
}

#[tokio::test(start_paused = true)]
async fn a_subscribe_command_takes_the_new_subscription_and_keeps_the_task() {
    let (mut m, _tx) = member();
    set_subscription(&m, Subscription::Pattern("p.*".into()));
    assert!(!m.on_command(Some(GroupCommand::Subscribe)).await);
    assert_eq!(m.wanted.regex.as_deref(), Some("p.*"));
    assert!(!m.stopped);
}

#[tokio::test(start_paused = true)]
async fn the_handle_gone_stops_the_task() {
    let (mut m, _tx) = member();
    assert!(m.on_command(None).await);
}

#[tokio::test(start_paused = true)]
async fn a_leave_command_before_joining_answers_and_stops_without_a_request() {
    let (mut m, _tx) = member();
    m.owned.insert(crate::consumer::unit_tests::tp("t", 0));
    let (done, left) = oneshot::channel();
    assert!(m.on_command(Some(GroupCommand::Leave { done })).await);
    assert!(m.stopped);
    assert!(m.owned.is_empty(), "leaving drops the owned set");
    tokio::time::timeout(std::time::Duration::from_secs(60), left)
        .await
        .expect("not left waiting")
        .expect("the leave is answered");
}
