//! The classic membership task's transitions that need no coordinator (Java's
//! `ConsumerCoordinatorTest`, rebalance part): applying an assignment (eager and
//! cooperative), revocations the application does not complete in time, losing the
//! generation, subscription changes, poll timeouts and leaving. A child of
//! `membership.rs` (the task is private). Paths that send JoinGroup, SyncGroup or
//! Heartbeat need a broker and are covered by the integration suites.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::*;
use crate::consumer::builder::{AssignmentStrategy, ConsumerBuilder};
use crate::consumer::state::AppEvent;
use crate::consumer::subscription::{InitState, Subscription};
use crate::consumer::unit_tests::{Spec, completed, events, ready, shared_with, tp};
use crate::ops::CoordinatorLink;
use crate::types::TopicPartition;

pub(super) fn task_with(
    f: impl FnOnce(ConsumerBuilder) -> ConsumerBuilder,
) -> (Membership, mpsc::UnboundedSender<GroupCommand>) {
    let sh = shared_with(|b| f(b.group_id("g")));
    let link = Arc::new(CoordinatorLink::new(sh.client.clone(), "g".into()));
    let (tx, rx) = mpsc::unbounded_channel();
    let mut m = Membership::new(sh, link, rx, Instant::now());
    m.topics = BTreeSet::from(["t".to_string()]);
    (m, tx)
}

pub(super) fn task() -> (Membership, mpsc::UnboundedSender<GroupCommand>) {
    task_with(|b| b)
}

/// A member owning `parts` of `t`, each positioned at 0 with 10 bytes buffered.
pub(super) fn owning(m: &mut Membership, parts: &[i32]) {
    let mut st = m.shared.lock();
    let st = &mut *st;
    for &p in parts {
        let t = tp("t", p);
        let state = ready("t", 0);
        let epoch = state.epoch;
        st.fixture_partition(t.clone(), state);
        st.push_fetched(completed(&t, epoch, &[Spec::data(0, 1)], vec![], 10));
        m.owned.insert(t);
    }
}

async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_first_assignment_starts_partitions_from_committed_offsets_held_for_the_callback() {
    let (mut m, _tx) = task();
    m.apply(vec![tp("t", 1), tp("t", 0), tp("other", 0)]).await;
    assert_eq!(
        m.owned,
        BTreeSet::from([tp("t", 0), tp("t", 1)]),
        "unsubscribed topic dropped"
    );
    assert!(!m.need_join);
    let st = m.shared.lock();
    assert_eq!(st.partitions().len(), 2);
    for p in st.partitions().values() {
        assert_eq!(p.init, InitState::Committed);
        assert!(p.awaiting_callback);
        assert!(!p.deliverable());
    }
    drop(st);
    assert_eq!(events(&m.shared), ["assigned [t-0, t-1]"]);
}

#[tokio::test]
async fn a_partition_kept_keeps_its_position_and_is_not_announced_again() {
    let (mut m, _tx) = task();
    owning(&mut m, &[0]);
    m.shared.lock().partition_mut(&tp("t", 0)).unwrap().seek(5);
    m.apply(vec![tp("t", 0), tp("t", 1)]).await;
    let st = m.shared.lock();
    let kept = &st.partitions()[&tp("t", 0)];
    assert_eq!((kept.position, kept.init), (5, InitState::Ready));
    assert!(!kept.awaiting_callback);
    drop(st);
    assert_eq!(events(&m.shared), ["assigned [t-1]"]);
}

#[tokio::test]
async fn an_unchanged_assignment_still_announces_an_empty_assigned() {
    let (mut m, _tx) = task();
    owning(&mut m, &[0]);
    m.apply(vec![tp("t", 0)]).await;
    assert_eq!(events(&m.shared), ["assigned []"]);
    assert!(!m.need_join);
}

#[tokio::test]
async fn a_cooperative_revocation_runs_before_assigned_then_rejoins() {
    let (mut m, _tx) = task();
    owning(&mut m, &[0, 1]);
    let sh = m.shared.clone();
    let running = tokio::spawn(async move {
        m.apply(vec![tp("t", 1), tp("t", 2)]).await;
        m
    });
    settle().await;
    assert_eq!(events(&sh), ["revoke [t-0]", "assigned [t-2]"]);
    assert!(!running.is_finished(), "waits for the application's poll");
    let Some(AppEvent::Revoke { done, .. }) = sh.lock().next_event() else {
        panic!("revoke first");
    };
    done.send(()).unwrap();
    let m = running.await.unwrap();
    assert!(m.need_join, "the follow-up rebalance hands t-0 over");
    assert_eq!(m.owned, BTreeSet::from([tp("t", 1), tp("t", 2)]));
}

#[tokio::test(start_paused = true)]
async fn a_revocation_not_polled_within_max_poll_interval_becomes_lost() {
    let (mut m, _tx) = task_with(|b| b.max_poll_interval(Duration::from_secs(30)));
    owning(&mut m, &[0, 1]);
    let sh = m.shared.clone();
    let started = Instant::now();
    m.apply(vec![tp("t", 1)]).await;
    assert!(started.elapsed() >= Duration::from_secs(30));
    assert!(started.elapsed() < Duration::from_secs(31));
    assert_eq!(events(&sh), ["revoke [t-0]", "assigned []", "lost [t-0]"]);
    let st = sh.lock();
    assert!(st.partitions()[&tp("t", 0)].revoking);
    assert_eq!(st.partitions()[&tp("t", 0)].buffered_bytes, 0);
    assert_eq!(st.buffered_bytes(), 10, "t-1's data stays");
    drop(st);
    assert!(m.need_join);
}

/// The revocation wait computes its deadline from `last_poll` before sleeping and
/// compares `now` with that same deadline after waking: a poll made while it slept is
/// not seen, and the partitions are declared lost at the old deadline although the
/// application polled within `max.poll.interval`.
#[tokio::test(start_paused = true)]
async fn a_recent_poll_extends_the_revocation_deadline() {
    let (mut m, _tx) = task_with(|b| b.max_poll_interval(Duration::from_secs(30)));
    owning(&mut m, &[0]);
    let sh = m.shared.clone();
    let started = Instant::now();
    let running = tokio::spawn(async move {
        m.apply(vec![]).await;
        m
    });
    tokio::time::sleep(Duration::from_secs(20)).await;
    sh.lock().polled(Instant::now());
    let m = running.await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(50),
        "{:?}",
        started.elapsed()
    );
    assert!(events(&m.shared).contains(&"lost [t-0]".to_string()));
}

#[tokio::test]
async fn losing_the_generation_stops_its_partitions_at_once() {
    let (mut m, _tx) = task();
    owning(&mut m, &[0, 1]);
    m.generation = 5;
    m.member_id = "m-1".into();
    m.lose_all(true);
    assert_eq!(events(&m.shared), ["lost [t-0, t-1]"]);
    assert!(m.owned.is_empty());
    assert_eq!((m.generation, m.member_id.as_str()), (-1, ""));
    assert!(m.need_join);
    let st = m.shared.lock();
    assert!(
        st.partitions()
            .values()
            .all(|p| p.revoking && !p.deliverable())
    );
    assert_eq!(st.buffered_bytes(), 0, "no more records of lost partitions");
    assert_eq!(st.group().generation, -1);
    assert!(!st.group().rebalancing);
}

#[tokio::test]
async fn an_illegal_generation_keeps_the_member_id() {
    let (mut m, _tx) = task();
    owning(&mut m, &[0]);
    m.generation = 5;
    m.member_id = "m-1".into();
    m.lose_all(false);
    assert_eq!((m.generation, m.member_id.as_str()), (-1, "m-1"));
    assert_eq!(m.shared.lock().group().member_id, "m-1");
}

#[tokio::test]
async fn losing_nothing_queues_no_step() {
    let (mut m, _tx) = task();
    m.generation = 2;
    m.lose_all(true);
    assert!(events(&m.shared).is_empty());
    assert!(m.need_join);
    assert_eq!(m.generation, -1);
}

#[tokio::test]
async fn a_new_subscription_asks_for_a_rejoin_and_the_same_one_does_not() {
    let (mut m, _tx) = task();
    m.shared
        .lock()
        .fixture_subscription(Subscription::Topics(BTreeSet::from([
            "a".to_string(),
            "b".to_string(),
        ])));
    m.on_subscribe();
    assert!(m.need_join);
    assert_eq!(m.topics, BTreeSet::from(["a".to_string(), "b".to_string()]));
    m.need_join = false;
    m.on_subscribe();
    assert!(!m.need_join, "unchanged");
    m.shared.lock().fixture_subscription(Subscription::None);
    m.on_subscribe();
    assert!(m.topics.is_empty());
    assert!(m.need_join);
}

#[tokio::test]
async fn cooperative_follows_the_agreed_protocol_then_the_configured_strategies() {
    use AssignmentStrategy::{CooperativeSticky, Range};
    let (mut m, _tx) = task_with(|b| b.assignment_strategies([CooperativeSticky]));
    assert!(m.cooperative());
    m.protocol = Some(Range);
    assert!(!m.cooperative(), "the group chose an eager protocol");
    let (mut m, _tx) = task_with(|b| b.assignment_strategies([Range, CooperativeSticky]));
    assert!(!m.cooperative(), "eager until the group agrees");
    m.protocol = Some(CooperativeSticky);
    assert!(m.cooperative());
}

#[tokio::test(start_paused = true)]
async fn the_session_expires_only_in_a_generation_and_after_session_timeout() {
    let (mut m, _tx) = task_with(|b| b.session_timeout(Duration::from_secs(10)));
    m.last_heartbeat_ok = Instant::now();
    tokio::time::advance(Duration::from_secs(20)).await;
    assert!(
        !m.session_expired(Instant::now()),
        "no generation, nothing to expire"
    );
    m.generation = 1;
    m.last_heartbeat_ok = Instant::now();
    tokio::time::advance(Duration::from_millis(9_999)).await;
    assert!(!m.session_expired(Instant::now()));
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(m.session_expired(Instant::now()));
}

#[tokio::test(start_paused = true)]
async fn idle_takes_commands_until_its_deadline() {
    let (mut m, tx) = task();
    let started = Instant::now();
    assert!(!m.idle(started + Duration::from_secs(2)).await, "timed out");
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    m.shared
        .lock()
        .fixture_subscription(Subscription::Topics(BTreeSet::from(["u".to_string()])));
    tx.send(GroupCommand::Subscribe).unwrap();
    assert!(!m.idle(Instant::now() + Duration::from_secs(60)).await);
    assert!(m.need_join);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(2),
        "woken by the command"
    );
    let (done, left) = oneshot::channel();
    tx.send(GroupCommand::Leave { done }).unwrap();
    assert!(
        m.idle(Instant::now() + Duration::from_secs(60)).await,
        "stops"
    );
    assert!(left.await.is_ok());
    drop(tx);
    assert!(
        m.idle(Instant::now() + Duration::from_secs(60)).await,
        "handle gone"
    );
}

#[tokio::test]
async fn leaving_forgets_the_member_and_publishes_it() {
    let (mut m, _tx) = task_with(|b| b.group_instance_id("static-1"));
    m.generation = 4;
    m.member_id = "m-4".into();
    m.publish_view(true);
    {
        let st = m.shared.lock();
        assert_eq!(
            (st.group().generation, st.group().member_id.as_str()),
            (4, "m-4")
        );
        assert!(st.group().rebalancing);
    }
    assert!(m.is_static());
    m.leave("test").await; // a static member sends no LeaveGroup
    assert_eq!((m.generation, m.member_id.as_str()), (-1, ""));
    let st = m.shared.lock();
    assert_eq!(
        (st.group().generation, st.group().member_id.as_str()),
        (-1, "")
    );
    assert!(!st.group().rebalancing);
}

#[tokio::test(start_paused = true)]
async fn a_poll_timeout_loses_the_partitions_and_rejoins_at_the_next_poll() {
    let (mut m, _tx) = task_with(|b| {
        b.group_instance_id("s")
            .max_poll_interval(Duration::from_secs(30))
    });
    owning(&mut m, &[0]);
    m.generation = 3;
    m.member_id = "m".into();
    // Within the interval: nothing happens.
    tokio::time::advance(Duration::from_secs(29)).await;
    m.check_poll_timeout().await;
    assert_eq!(m.generation, 3);
    assert!(events(&m.shared).is_empty());
    tokio::time::advance(Duration::from_secs(1)).await;
    let sh = m.shared.clone();
    let running = tokio::spawn(async move {
        m.check_poll_timeout().await;
        m
    });
    settle().await;
    assert_eq!(events(&sh), ["lost [t-0]"]);
    assert_eq!(sh.lock().group().generation, -1, "left the group");
    assert!(!running.is_finished(), "rejoins only at the next poll");
    sh.lock().polled(Instant::now());
    sh.polled.notify_waiters();
    let m = running.await.unwrap();
    assert!(m.need_join);
    assert!(m.owned.is_empty());
    assert!(!sh.lock().is_closed());
}

#[tokio::test(start_paused = true)]
async fn closing_while_waiting_for_a_poll_after_a_poll_timeout_stops_the_task() {
    let (mut m, tx) = task_with(|b| {
        b.group_instance_id("s")
            .max_poll_interval(Duration::from_secs(30))
    });
    m.generation = 3;
    tokio::time::advance(Duration::from_secs(31)).await;
    let sh = m.shared.clone();
    let running = tokio::spawn(async move {
        m.check_poll_timeout().await;
        m
    });
    settle().await;
    let (done, left) = oneshot::channel();
    tx.send(GroupCommand::Leave { done }).unwrap();
    let m = running.await.unwrap();
    assert!(left.await.is_ok());
    assert!(sh.lock().is_closed());
    assert!(!m.need_join);
}

#[tokio::test]
async fn lost_partitions_drop_only_their_own_buffered_data() {
    let (mut m, _tx) = task();
    owning(&mut m, &[0, 1, 2]);
    m.shared.post_lost(vec![tp("t", 0), tp("t", 2)]);
    let st = m.shared.lock();
    assert_eq!(st.buffered_bytes(), 10);
    assert_eq!(st.partitions()[&tp("t", 1)].buffered_bytes, 10);
    assert!(!st.partitions()[&tp("t", 1)].revoking);
    assert!(st.partitions()[&tp("t", 2)].revoking);
    drop(st);
    m.shared.post_lost(Vec::<TopicPartition>::new());
    assert_eq!(events(&m.shared), ["lost [t-0, t-2]"]);
}
