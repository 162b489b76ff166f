//! `State`'s methods and the invariants they keep (Java's `SubscriptionStateTest` for
//! assign/subscribe exclusion and what a partition keeps): the assignment and the fetch
//! buffer change together, one rebalance step runs at a time, closed stays closed and
//! the first fatal error stays.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::consumer::builder::IsolationLevel;
use crate::consumer::state::{AppEvent, State};
use crate::consumer::subscription::{InitState, Subscription};
use crate::consumer::{ConsumerBuilder, PartitionError};
use crate::error::Error;
use crate::types::TopicPartition;

use super::{Spec, completed, ready, tp};

fn state_with(f: impl FnOnce(ConsumerBuilder) -> ConsumerBuilder) -> State {
    let b = f(crate::consumer::Consumer::builder().bootstrap_servers(["127.0.0.1:1"]));
    let (_client, config) = b.into_parts().expect("valid settings");
    State::new(&config, Instant::now())
}

fn state() -> State {
    state_with(|b| b)
}

fn topics(names: &[&str]) -> Subscription {
    Subscription::Topics(names.iter().map(|s| s.to_string()).collect())
}

fn set(parts: &[TopicPartition]) -> BTreeSet<TopicPartition> {
    parts.iter().cloned().collect()
}

/// Buffers `count` records at offset `base` of `t` (positioned at `base`), `bytes` long.
fn buffered(st: &mut State, t: &TopicPartition, base: i64, count: i64, bytes: usize) {
    let p = st.partition_mut(t).expect("assigned");
    p.seek(base);
    let epoch = p.epoch;
    st.push_fetched(completed(
        t,
        epoch,
        &[Spec::data(base, count)],
        vec![],
        bytes,
    ));
}

fn err(t: &TopicPartition) -> PartitionError {
    PartitionError {
        topic_partition: t.clone(),
        error: Error::InvalidState("x".into()),
    }
}

#[test]
fn closing_is_final_and_only_the_first_close_says_it_closed() {
    let mut st = state();
    assert!(st.check_open().is_ok());
    assert!(st.close(), "the first close closes");
    assert!(!st.close(), "a second one finds it closed");
    assert!(st.is_closed());
    assert!(matches!(st.check_open(), Err(Error::Closed)));
}

#[test]
fn the_first_fatal_error_stays_and_closed_wins_over_it() {
    let mut st = state();
    st.set_fatal(Error::InvalidState("fenced".into()));
    st.set_fatal(Error::InvalidState("later".into()));
    assert!(matches!(st.fatal(), Some(Error::InvalidState(m)) if m == "fenced"));
    assert!(matches!(st.check_open(), Err(Error::InvalidState(m)) if m == "fenced"));
    st.close();
    assert!(matches!(st.check_open(), Err(Error::Closed)));
}

#[test]
fn a_manual_assignment_and_a_subscription_exclude_each_other() {
    let mut st = state();
    st.assign(set(&[tp("t", 0)])).unwrap();
    assert_eq!(*st.subscription(), Subscription::Manual);
    let e = st.subscribe(topics(&["t"])).unwrap_err();
    assert!(matches!(&e, Error::InvalidState(m) if m.contains("unsubscribe before subscribe")));
    assert_eq!(*st.subscription(), Subscription::Manual, "unchanged");
    // Assigning nothing ends the manual assignment: a subscription may follow.
    st.assign(BTreeSet::new()).unwrap();
    assert_eq!(*st.subscription(), Subscription::None);
    assert!(st.partitions().is_empty());
    st.subscribe(topics(&["t", "u"])).unwrap();
    assert_eq!(
        st.subscribed_topics(),
        BTreeSet::from(["t".to_string(), "u".to_string()])
    );
    let e = st.assign(set(&[tp("t", 0)])).unwrap_err();
    assert!(matches!(&e, Error::InvalidState(m) if m.contains("unsubscribe before assign")));
    assert!(st.partitions().is_empty(), "nothing assigned");
    // A pattern subscription names no topics.
    st.subscribe(Subscription::Pattern("t.*".into())).unwrap();
    assert!(st.subscribed_topics().is_empty());
}

#[test]
fn assign_keeps_what_stays_and_drops_the_rest_with_its_buffered_data() {
    let mut st = state();
    st.assign(set(&[tp("t", 0), tp("t", 1)])).unwrap();
    buffered(&mut st, &tp("t", 0), 5, 2, 10);
    buffered(&mut st, &tp("t", 1), 7, 2, 20);
    assert_eq!(st.buffered_bytes(), 30);
    let epoch = st.partitions()[&tp("t", 0)].epoch;
    st.assign(set(&[tp("t", 0), tp("t", 2)])).unwrap();
    assert_eq!(
        st.partitions().keys().cloned().collect::<Vec<_>>(),
        vec![tp("t", 0), tp("t", 2)]
    );
    let kept = &st.partitions()[&tp("t", 0)];
    assert_eq!((kept.position, kept.epoch), (5, epoch), "kept as it was");
    assert_eq!(kept.buffered_bytes, 10);
    assert_eq!(st.partitions()[&tp("t", 2)].init, InitState::Committed);
    assert_eq!(st.buffered_bytes(), 10, "t-1's data went with it");
}

#[test]
fn unsubscribe_drops_every_partition_and_all_buffered_data() {
    let mut st = state();
    st.assign(set(&[tp("t", 0), tp("t", 1)])).unwrap();
    buffered(&mut st, &tp("t", 0), 0, 3, 10);
    st.unsubscribe();
    assert_eq!(*st.subscription(), Subscription::None);
    assert!(st.partitions().is_empty());
    assert_eq!(st.buffered_bytes(), 0);
    assert_eq!(st.records_bound(100), 0);
    st.subscribe(topics(&["t"]))
        .expect("free to subscribe again");
}

#[test]
fn stopped_partitions_lose_their_data_and_leave_the_application_view() {
    let mut st = state();
    st.assign(set(&[tp("t", 0), tp("t", 1), tp("t", 2)]))
        .unwrap();
    buffered(&mut st, &tp("t", 0), 0, 2, 10);
    buffered(&mut st, &tp("t", 1), 0, 2, 20);
    st.partition_mut(&tp("t", 2)).unwrap().paused = true;
    st.stop(&[tp("t", 1), tp("t", 2)]);
    assert_eq!(st.buffered_bytes(), 10, "only t-0's data stays");
    assert_eq!(st.partitions()[&tp("t", 1)].buffered_bytes, 0);
    assert!(st.partitions()[&tp("t", 1)].revoking);
    assert!(!st.partitions()[&tp("t", 0)].revoking);
    assert_eq!(st.owned(), set(&[tp("t", 0)]));
    assert!(st.owned_mut(&tp("t", 1)).is_none(), "not the application's");
    assert!(st.owned_mut(&tp("t", 0)).is_some());
    assert!(st.partition_mut(&tp("t", 1)).is_some(), "still assigned");
    assert_eq!(st.paused(), set(&[tp("t", 2)]));
}

#[test]
fn rebalance_steps_run_one_at_a_time_in_order() {
    let mut st = state();
    st.assign(set(&[tp("t", 0), tp("t", 1)])).unwrap();
    let (done, _wait) = oneshot::channel();
    st.post(AppEvent::Revoke {
        partitions: vec![tp("t", 0)],
        done,
    });
    st.post(AppEvent::Assigned {
        partitions: vec![tp("t", 1)],
    });
    let Some(AppEvent::Revoke { partitions, .. }) = st.next_event() else {
        panic!("the revocation first");
    };
    assert!(st.event_running());
    assert!(st.next_event().is_none(), "the second waits for the first");
    assert_eq!(st.queued_events().len(), 1);
    st.stop(&partitions);
    st.event_finished(&partitions);
    assert!(!st.event_running());
    assert!(
        !st.partitions().contains_key(&tp("t", 0)),
        "revoked and gone"
    );
    assert!(matches!(st.next_event(), Some(AppEvent::Assigned { .. })));
    st.event_finished(&[]);
    assert!(st.next_event().is_none(), "nothing left");
    assert!(!st.event_running());
}

#[test]
fn a_finished_step_removes_only_the_partitions_it_stopped() {
    let mut st = state();
    st.assign(set(&[tp("t", 0), tp("t", 1), tp("t", 2)]))
        .unwrap();
    st.post(AppEvent::Lost {
        partitions: vec![tp("t", 0), tp("t", 1)],
    });
    st.next_event().expect("taken");
    st.stop(&[tp("t", 0), tp("t", 2)]);
    // t-1 is named but was never stopped; t-2 was stopped but is not named.
    st.event_finished(&[tp("t", 0), tp("t", 1)]);
    assert_eq!(
        st.partitions().keys().cloned().collect::<Vec<_>>(),
        vec![tp("t", 1), tp("t", 2)]
    );
}

#[test]
fn leaving_takes_the_waiting_steps() {
    let mut st = state();
    st.post(AppEvent::Lost { partitions: vec![] });
    st.post(AppEvent::Assigned { partitions: vec![] });
    assert_eq!(st.take_events().len(), 2);
    assert!(st.queued_events().is_empty());
    assert!(st.next_event().is_none());
}

#[test]
fn group_partitions_wait_for_their_assigned_step_and_start_from_the_commit() {
    let mut st = state();
    st.subscribe(topics(&["t"])).unwrap();
    st.add_assigned(&[tp("t", 0), tp("t", 1)]);
    for p in st.partitions().values() {
        assert!(p.awaiting_callback);
        assert!(!p.deliverable(), "no records before `assigned` ran");
        assert_eq!(p.init, InitState::Committed);
    }
    st.release(&[tp("t", 0)]);
    assert!(st.partitions()[&tp("t", 0)].deliverable());
    assert!(!st.partitions()[&tp("t", 1)].deliverable());
}

#[test]
fn a_partition_given_again_starts_over_without_its_old_data() {
    let mut st = state();
    st.subscribe(topics(&["t"])).unwrap();
    st.add_assigned(&[tp("t", 0)]);
    st.release(&[tp("t", 0)]);
    buffered(&mut st, &tp("t", 0), 9, 2, 10);
    // Lost, and given back before the `lost` step ran.
    st.stop(&[tp("t", 0)]);
    st.add_assigned(&[tp("t", 0)]);
    let p = &st.partitions()[&tp("t", 0)];
    assert!(!p.revoking && p.awaiting_callback);
    assert_eq!((p.init, p.buffered_bytes), (InitState::Committed, 0));
    assert_eq!(st.buffered_bytes(), 0);
    // The `lost` step's end leaves the new state alone (it is not being revoked).
    st.post(AppEvent::Lost {
        partitions: vec![tp("t", 0)],
    });
    st.next_event().unwrap();
    st.event_finished(&[tp("t", 0)]);
    assert!(st.partitions().contains_key(&tp("t", 0)));
}

#[test]
fn data_for_a_partition_no_longer_assigned_is_dropped() {
    let mut st = state();
    st.assign(set(&[tp("t", 0)])).unwrap();
    st.push_fetched(completed(&tp("t", 9), 1, &[Spec::data(0, 3)], vec![], 40));
    assert_eq!(st.buffered_bytes(), 0);
    assert_eq!(st.records_bound(10), 0);
    buffered(&mut st, &tp("t", 0), 0, 3, 40);
    assert_eq!(st.buffered_bytes(), 40);
    assert_eq!(st.partitions()[&tp("t", 0)].buffered_bytes, 40);
    st.discard_buffered(|t| *t == tp("t", 0));
    assert_eq!(st.buffered_bytes(), 0);
    assert_eq!(st.partitions()[&tp("t", 0)].buffered_bytes, 0);
}

#[test]
fn a_drain_takes_waiting_errors_first_then_up_to_max_records() {
    let mut st = state();
    st.assign(set(&[tp("t", 0)])).unwrap();
    buffered(&mut st, &tp("t", 0), 0, 5, 10);
    st.push_error(err(&tp("t", 3)));
    st.push_error(err(&tp("t", 4)));
    let (mut records, mut errors) = (Vec::new(), Vec::new());
    st.drain(
        IsolationLevel::ReadUncommitted,
        3,
        &mut records,
        &mut errors,
    );
    let failed: Vec<i32> = errors.iter().map(|e| e.topic_partition.partition).collect();
    assert_eq!(failed, vec![3, 4], "in the order they came");
    assert_eq!(records.len(), 3);
    assert!(st.pending_errors().is_empty());
    assert_eq!(st.partitions()[&tp("t", 0)].position, 3);
    let (mut records, mut errors) = (Vec::new(), Vec::new());
    st.drain(
        IsolationLevel::ReadUncommitted,
        3,
        &mut records,
        &mut errors,
    );
    assert_eq!((records.len(), errors.len()), (2, 0));
    assert_eq!(st.buffered_bytes(), 0);
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_cluster_is_reported_at_most_once_per_bound() {
    let mut st = state();
    let bound = Duration::from_secs(30);
    assert!(st.report_unreachable(Instant::now(), bound));
    assert!(!st.report_unreachable(Instant::now(), bound));
    tokio::time::advance(bound - Duration::from_millis(1)).await;
    assert!(!st.report_unreachable(Instant::now(), bound));
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(
        st.report_unreachable(Instant::now(), bound),
        "a bound later"
    );
    assert!(!st.report_unreachable(Instant::now(), bound));
}

#[tokio::test(start_paused = true)]
async fn auto_commit_waits_out_a_rebalance_the_group_view_announces() {
    let mut st = state_with(|b| {
        b.group_id("g")
            .enable_auto_commit(true)
            .auto_commit_interval(Duration::from_secs(5))
    });
    st.publish_group(1, "m", true);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(!st.auto_commit_due(Instant::now()), "rebalancing");
    st.publish_group(2, "m", false);
    assert!(
        st.auto_commit_due(Instant::now()),
        "the first poll after it"
    );
    assert!(
        !st.auto_commit_due(Instant::now()),
        "then an interval later"
    );
    let mut off = state_with(|b| b.group_id("g").enable_auto_commit(false));
    tokio::time::advance(Duration::from_secs(60)).await;
    assert!(!off.auto_commit_due(Instant::now()));
}

#[tokio::test(start_paused = true)]
async fn the_poll_deadline_moves_with_each_poll() {
    let mut st = state();
    let interval = Duration::from_secs(300);
    let first = st.last_poll();
    assert_eq!(st.poll_deadline(interval), first + interval);
    tokio::time::advance(Duration::from_secs(7)).await;
    st.polled(Instant::now());
    assert_eq!(st.last_poll(), first + Duration::from_secs(7));
    assert_eq!(
        st.poll_deadline(interval),
        first + Duration::from_secs(7) + interval
    );
}

#[test]
fn the_group_view_is_what_was_published_until_the_member_leaves() {
    let mut st = state();
    assert_eq!(st.group().generation, -1);
    st.publish_group(4, "m-1", true);
    let g = st.group();
    assert_eq!(
        (g.generation, g.member_id.as_str(), g.rebalancing),
        (4, "m-1", true)
    );
    let (_tx, rx) = tokio::sync::watch::channel(4);
    st.watch_epochs(rx);
    assert!(st.group().epochs.is_some());
    st.publish_group(5, "m-2", false);
    let g = st.group();
    assert_eq!(
        (g.generation, g.member_id.as_str(), g.rebalancing),
        (5, "m-2", false)
    );
    assert!(g.epochs.is_some(), "publishing keeps the epoch watch");
    st.forget_group();
    let g = st.group();
    assert_eq!((g.generation, g.member_id.as_str()), (-1, ""));
    assert!(!g.rebalancing && g.epochs.is_none());
}

#[test]
fn fixture_partitions_replace_a_state_with_its_data() {
    let mut st = state();
    st.assign(set(&[tp("t", 0)])).unwrap();
    buffered(&mut st, &tp("t", 0), 0, 2, 10);
    st.fixture_partition(tp("t", 0), ready("t", 4));
    assert_eq!(st.buffered_bytes(), 0);
    assert_eq!(st.partitions()[&tp("t", 0)].position, 4);
}
