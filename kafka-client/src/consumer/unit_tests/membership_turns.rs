//! The classic membership task's decisions around its requests (Java's
//! `ConsumerCoordinatorTest`, heartbeat and join part): the loop's next step, what a
//! heartbeat's outcome, a failed JoinGroup or SyncGroup and a completed sync change, the
//! metadata check's rejoin on a partition-count change, and the task's start and stop.
//! The requests themselves need a coordinator and are covered by the integration
//! suites; here their outcomes are handed to the handlers. A child of `membership.rs`;
//! fixtures from `membership_task.rs`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::task_tests::{owning, task, task_with};
use super::*;
use crate::config::ClientBuilder;
use crate::consumer::builder::AssignmentStrategy::{CooperativeSticky, Range};
use crate::consumer::builder::ConsumerBuilder;
use crate::consumer::unit_tests::{assert_within, events, metadata_led_by, shared_with, tp};
use crate::error::{ErrorCode, ErrorContext};

fn broker_error(code: ErrorCode) -> Error {
    Error::broker(code, ErrorContext::default(), None)
}

/// A member of generation 3 as `m-1`, its session clock started `Instant::now()`.
fn in_generation(m: &mut Membership) {
    m.generation = 3;
    m.member_id = "m-1".into();
    m.last_heartbeat_ok = Instant::now();
}

/// A member of generation 3 owning `t-0`.
fn joined_owning_t0() -> (Membership, mpsc::UnboundedSender<GroupCommand>) {
    let (mut m, tx) = task();
    in_generation(&mut m);
    owning(&mut m, &[0]);
    (m, tx)
}

/// Settings with a known retry backoff (100 ms doubling, jittered ±20%) and heartbeat.
fn timed(b: ConsumerBuilder) -> ConsumerBuilder {
    b.client_builder(
        ClientBuilder::new()
            .bootstrap_servers(["127.0.0.1:1"])
            .retry_backoff(Duration::from_millis(100), Duration::from_secs(60))
            .metadata_max_age(Duration::from_secs(12)),
    )
    .heartbeat_interval(Duration::from_secs(3))
    .session_timeout(Duration::from_secs(10))
}

fn rebalances(m: &Membership) -> u64 {
    m.link.client.telemetry().consumer.rebalances.load(Relaxed)
}

// --- the loop's next step -------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn a_new_member_is_outside_any_generation_and_checks_metadata_first() {
    let sh = shared_with(|b| b.group_id("g"));
    let link = Arc::new(CoordinatorLink::new(sh.client.clone(), "g".into()));
    let (_tx, rx) = mpsc::unbounded_channel();
    let now = Instant::now();
    let m = Membership::new(sh, link, rx, now);
    assert_eq!((m.generation, m.member_id.as_str()), (-1, ""));
    assert!(m.topics.is_empty() && m.owned.is_empty() && !m.need_join);
    assert_eq!(m.turn(), Turn::Wait(now));
    assert!(!m.heartbeat_due(now), "no generation, no heartbeat");
    assert!(m.metadata_due(now));
}

#[tokio::test(start_paused = true)]
async fn a_closed_consumer_stops_the_loop_whatever_else_is_pending() {
    let (mut m, _tx) = task();
    m.need_join = true;
    m.shared.lock().close();
    assert_eq!(m.turn(), Turn::Stop);
}

#[tokio::test(start_paused = true)]
async fn a_rejoin_needs_a_subscription() {
    let (mut m, _tx) = task();
    m.need_join = true;
    assert_eq!(m.turn(), Turn::Rebalance);
    m.topics.clear();
    m.next_metadata_check = Instant::now() + Duration::from_secs(4);
    assert_eq!(
        m.turn(),
        Turn::Wait(m.next_metadata_check),
        "nothing to join with"
    );
}

#[tokio::test(start_paused = true)]
async fn only_a_member_of_a_generation_waits_for_its_heartbeat() {
    let (mut m, _tx) = task();
    let now = Instant::now();
    m.next_heartbeat = now + Duration::from_secs(1);
    m.next_metadata_check = now + Duration::from_secs(5);
    assert_eq!(m.turn(), Turn::Wait(now + Duration::from_secs(5)));
    m.generation = 0;
    assert_eq!(m.turn(), Turn::Wait(now + Duration::from_secs(1)));
    m.next_metadata_check = now + Duration::from_millis(500);
    assert_eq!(m.turn(), Turn::Wait(now + Duration::from_millis(500)));
}

#[tokio::test(start_paused = true)]
async fn heartbeats_and_metadata_checks_fall_due_at_their_instant() {
    let (mut m, _tx) = task();
    let now = Instant::now();
    m.generation = 0;
    m.next_heartbeat = now + Duration::from_secs(1);
    m.next_metadata_check = now + Duration::from_secs(2);
    assert!(!m.heartbeat_due(now));
    assert!(m.heartbeat_due(now + Duration::from_secs(1)));
    assert!(!m.metadata_due(now + Duration::from_millis(1_999)));
    assert!(m.metadata_due(now + Duration::from_secs(2)));
    m.generation = -1;
    assert!(!m.heartbeat_due(now + Duration::from_secs(9)));
}

// --- after a rebalance attempt ---------------------------------------------------

#[tokio::test(start_paused = true)]
async fn failed_rebalances_back_off_longer_each_time_and_a_join_resets_it() {
    let (mut m, _tx) = task_with(timed);
    let now = Instant::now();
    let AfterRebalance::RetryAt(first) = m.after_rebalance(Err(None), now) else {
        panic!("a retryable failure retries");
    };
    assert_within(first - now, 80, 120);
    m.after_rebalance(Err(None), now);
    let AfterRebalance::RetryAt(third) = m.after_rebalance(Err(None), now) else {
        panic!("still retrying");
    };
    assert_within(third - now, 320, 480);
    assert_eq!(m.attempt, 3);
    assert_eq!(m.after_rebalance(Ok(()), now), AfterRebalance::Joined);
    assert_eq!(m.attempt, 0);
    assert!(m.shared.lock().fatal().is_none());
}

#[tokio::test(start_paused = true)]
async fn a_fatal_rebalance_loses_the_partitions_and_hands_the_error_to_the_application() {
    let (mut m, _tx) = task();
    owning(&mut m, &[0, 1]);
    let fatal = broker_error(ErrorCode::GROUP_AUTHORIZATION_FAILED);
    assert_eq!(
        m.after_rebalance(Err(Some(fatal)), Instant::now()),
        AfterRebalance::Stop
    );
    assert_eq!(events(&m.shared), ["lost [t-0, t-1]"]);
    assert!(m.owned.is_empty());
    let st = m.shared.lock();
    assert_eq!(
        st.fatal().and_then(Error::code),
        Some(ErrorCode::GROUP_AUTHORIZATION_FAILED)
    );
}

// --- a heartbeat's outcome --------------------------------------------------------

#[tokio::test(start_paused = true)]
async fn an_answered_heartbeat_schedules_the_next_and_restarts_the_session() {
    let (mut m, _tx) = task_with(timed);
    in_generation(&mut m);
    tokio::time::advance(Duration::from_secs(4)).await;
    let now = Instant::now();
    m.on_heartbeat(Ok(HeartbeatOutcome::Ok), now);
    assert_eq!(m.next_heartbeat, now + Duration::from_secs(3));
    assert_eq!(m.last_heartbeat_ok, now);
    assert!(!m.need_join);
    assert_eq!(m.generation, 3);
}

#[tokio::test(start_paused = true)]
async fn a_rebalancing_group_asks_for_a_rejoin_and_counts_as_an_answer() {
    let (mut m, _tx) = task_with(timed);
    in_generation(&mut m);
    owning(&mut m, &[0]);
    tokio::time::advance(Duration::from_secs(4)).await;
    let now = Instant::now();
    m.on_heartbeat(Ok(HeartbeatOutcome::Rejoin), now);
    assert!(m.need_join);
    assert_eq!(m.last_heartbeat_ok, now);
    assert_eq!(m.generation, 3, "the generation holds until the rejoin");
    assert!(events(&m.shared).is_empty(), "nothing is lost");
}

#[tokio::test(start_paused = true)]
async fn a_lost_generation_loses_the_partitions_and_the_member_id_only_when_told() {
    let (mut m, _tx) = task_with(timed);
    in_generation(&mut m);
    owning(&mut m, &[0]);
    let before = m.last_heartbeat_ok;
    tokio::time::advance(Duration::from_secs(1)).await;
    m.on_heartbeat(
        Ok(HeartbeatOutcome::Lost {
            reset_member: false,
        }),
        Instant::now(),
    );
    assert_eq!(events(&m.shared), ["lost [t-0]"]);
    assert_eq!((m.generation, m.member_id.as_str()), (-1, "m-1"));
    assert!(m.need_join);
    assert_eq!(m.last_heartbeat_ok, before, "not an answer");

    let (mut m, _tx) = task_with(timed);
    in_generation(&mut m);
    m.on_heartbeat(
        Ok(HeartbeatOutcome::Lost { reset_member: true }),
        Instant::now(),
    );
    assert_eq!((m.generation, m.member_id.as_str()), (-1, ""));
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_heartbeat_is_retried_soon_within_the_session() {
    let (mut m, _tx) = task_with(timed);
    in_generation(&mut m);
    owning(&mut m, &[0]);
    let answered = m.last_heartbeat_ok;
    tokio::time::advance(Duration::from_millis(9_999)).await;
    let now = Instant::now();
    m.on_heartbeat(Ok(HeartbeatOutcome::Retry), now);
    assert_within(m.next_heartbeat - now, 80, 120);
    assert_eq!(m.last_heartbeat_ok, answered);
    assert_eq!(m.generation, 3);
    assert!(events(&m.shared).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_session_without_answers_loses_a_dynamic_members_partitions_and_id() {
    let (mut m, _tx) = task_with(timed);
    in_generation(&mut m);
    owning(&mut m, &[0]);
    tokio::time::advance(Duration::from_secs(10)).await;
    let now = Instant::now();
    m.on_heartbeat(Ok(HeartbeatOutcome::Retry), now);
    assert_eq!(events(&m.shared), ["lost [t-0]"]);
    assert_eq!((m.generation, m.member_id.as_str()), (-1, ""));
    assert_eq!(m.next_heartbeat, now + Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn a_static_member_keeps_its_id_when_its_session_expires() {
    let (mut m, _tx) = task_with(|b| timed(b).group_instance_id("i-1"));
    in_generation(&mut m);
    tokio::time::advance(Duration::from_secs(10)).await;
    m.on_heartbeat(Ok(HeartbeatOutcome::Retry), Instant::now());
    assert_eq!((m.generation, m.member_id.as_str()), (-1, "m-1"));
}

#[tokio::test(start_paused = true)]
async fn a_fenced_static_member_stops_for_good_other_errors_wait_for_the_next_beat() {
    let (mut m, _tx) = task_with(|b| timed(b).group_instance_id("i-1"));
    in_generation(&mut m);
    owning(&mut m, &[0]);
    let now = Instant::now();
    m.on_heartbeat(
        Err(broker_error(ErrorCode::GROUP_AUTHORIZATION_FAILED)),
        now,
    );
    assert_eq!(m.generation, 3, "kept");
    assert!(events(&m.shared).is_empty());
    assert!(m.shared.lock().fatal().is_none());
    assert_eq!(m.next_heartbeat, now + Duration::from_secs(3));

    m.on_heartbeat(Err(broker_error(ErrorCode::FENCED_INSTANCE_ID)), now);
    assert_eq!(events(&m.shared), ["lost [t-0]"]);
    assert_eq!((m.generation, m.member_id.as_str()), (-1, ""));
    assert_eq!(
        m.shared.lock().fatal().and_then(Error::code),
        Some(ErrorCode::FENCED_INSTANCE_ID)
    );
}

#[tokio::test]
async fn only_a_dynamic_member_in_a_generation_sends_leave_group() {
    let (mut m, _tx) = task();
    assert!(!m.sends_leave(), "never joined");
    in_generation(&mut m);
    assert!(m.sends_leave());
    m.generation = -1;
    assert!(!m.sends_leave(), "its generation is gone");
    m.generation = 0;
    m.member_id.clear();
    assert!(!m.sends_leave(), "no member id");
    let (mut m, _tx) = task_with(|b| b.group_instance_id("i-1"));
    in_generation(&mut m);
    assert!(
        !m.sends_leave(),
        "a static member stays until its session expires"
    );
}

// --- JoinGroup and SyncGroup -------------------------------------------------------

#[tokio::test]
async fn a_join_answered_with_a_member_id_is_sent_again_with_it() {
    let (mut m, _tx) = task();
    owning(&mut m, &[0]);
    assert!(
        m.on_join_error(JoinError::RetryWithMember("m-7".into()))
            .is_ok()
    );
    assert_eq!(m.member_id, "m-7");
    assert_eq!(m.owned.len(), 1, "MEMBER_ID_REQUIRED loses nothing");
    assert!(events(&m.shared).is_empty());
}

#[tokio::test]
async fn a_join_by_a_forgotten_member_loses_its_partitions_and_starts_afresh() {
    let (mut m, _tx) = joined_owning_t0();
    assert!(
        m.on_join_error(JoinError::RetryWithMember(String::new()))
            .is_ok()
    );
    assert_eq!(events(&m.shared), ["lost [t-0]"]);
    assert_eq!((m.generation, m.member_id.as_str()), (-1, ""));
}

#[tokio::test]
async fn other_join_failures_back_off_or_are_fatal() {
    let (mut m, _tx) = joined_owning_t0();
    let retry = m.on_join_error(JoinError::Retry(broker_error(
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
    )));
    assert!(matches!(retry, Err(None)));
    let fatal = m.on_join_error(JoinError::Fatal(broker_error(
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
    )));
    assert_eq!(
        fatal.err().flatten().as_ref().and_then(Error::code),
        Some(ErrorCode::GROUP_AUTHORIZATION_FAILED)
    );
    assert_eq!(m.member_id, "m-1");
    assert!(events(&m.shared).is_empty());
}

#[tokio::test]
async fn a_sync_by_an_unknown_member_loses_everything_an_illegal_generation_keeps_the_id() {
    let (mut m, _tx) = joined_owning_t0();
    assert!(
        m.on_sync_error(JoinError::RetryWithMember(String::new()))
            .is_none()
    );
    assert_eq!(events(&m.shared), ["lost [t-0]"]);
    assert_eq!((m.generation, m.member_id.as_str()), (-1, ""));

    let (mut m, _tx) = joined_owning_t0();
    let illegal = JoinError::Retry(broker_error(ErrorCode::ILLEGAL_GENERATION));
    assert!(m.on_sync_error(illegal).is_none());
    assert_eq!(events(&m.shared), ["lost [t-0]"]);
    assert_eq!((m.generation, m.member_id.as_str()), (-1, "m-1"));
}

#[tokio::test]
async fn a_sync_that_must_be_retried_keeps_the_partitions_a_fatal_one_is_returned() {
    let (mut m, _tx) = joined_owning_t0();
    let busy = JoinError::Retry(broker_error(ErrorCode::REBALANCE_IN_PROGRESS));
    assert!(m.on_sync_error(busy).is_none());
    assert!(events(&m.shared).is_empty());
    assert_eq!((m.generation, m.owned.len()), (3, 1));
    let fatal = JoinError::Fatal(broker_error(ErrorCode::GROUP_AUTHORIZATION_FAILED));
    assert_eq!(
        m.on_sync_error(fatal).as_ref().and_then(Error::code),
        Some(ErrorCode::GROUP_AUTHORIZATION_FAILED)
    );
}

#[tokio::test(start_paused = true)]
async fn a_completed_sync_enters_the_generation_and_starts_its_clocks() {
    let (mut m, _tx) = task_with(timed);
    m.need_join = true;
    m.member_id = "m-2".into();
    m.shared.lock().publish_group(-1, "m-2", true);
    let before = rebalances(&m);
    tokio::time::advance(Duration::from_secs(7)).await;
    let now = Instant::now();
    let joined = Joined {
        generation: 9,
        member_id: "m-2".into(),
        protocol: CooperativeSticky,
        leader_members: None,
    };
    m.on_synced(&joined, 2, now);
    assert_eq!(m.generation, 9);
    assert_eq!(m.protocol, Some(CooperativeSticky));
    assert!(!m.need_join);
    assert_eq!(m.next_heartbeat, now + Duration::from_secs(3));
    assert_eq!(m.last_heartbeat_ok, now);
    assert_eq!(rebalances(&m), before + 1);
    let st = m.shared.lock();
    assert_eq!(
        (st.group().generation, st.group().member_id.as_str()),
        (9, "m-2")
    );
    assert!(!st.group().rebalancing, "commits allowed again");
}

// --- the metadata check -------------------------------------------------------------

fn metadata(counts: &[(&str, usize)]) -> ClusterMetadata {
    let leaders: Vec<(&str, Vec<Option<i32>>)> =
        counts.iter().map(|&(t, n)| (t, vec![Some(1); n])).collect();
    let topics: Vec<(&str, &[Option<i32>])> =
        leaders.iter().map(|(t, l)| (*t, l.as_slice())).collect();
    metadata_led_by(&topics)
}

#[tokio::test(start_paused = true)]
async fn the_metadata_check_waits_for_a_generation_and_a_subscription() {
    let (mut m, _tx) = task();
    let now = Instant::now();
    assert_eq!(m.metadata_topics(now), None, "no generation");
    assert_eq!(m.next_metadata_check, now + Duration::from_secs(1));
    m.generation = 0;
    m.topics.clear();
    assert_eq!(m.metadata_topics(now), None, "no topics");
    m.topics = BTreeSet::from(["t".to_string(), "a".to_string()]);
    m.next_metadata_check = now;
    assert_eq!(
        m.metadata_topics(now),
        Some(vec!["a".to_string(), "t".to_string()])
    );
    assert_eq!(m.next_metadata_check, now, "left for the check to set");
}

#[tokio::test(start_paused = true)]
async fn the_leader_watches_every_members_topics() {
    let (mut m, _tx) = task();
    m.generation = 1;
    m.leader = true;
    m.counts = BTreeMap::from([("b".to_string(), 2), ("t".to_string(), 1)]);
    assert_eq!(
        m.metadata_topics(Instant::now()),
        Some(vec!["b".to_string(), "t".to_string()])
    );
    m.leader = false;
    assert_eq!(
        m.metadata_topics(Instant::now()),
        Some(vec!["t".to_string()])
    );
}

#[tokio::test(start_paused = true)]
async fn a_follower_learns_counts_then_rejoins_when_one_changes() {
    let (mut m, _tx) = task_with(timed);
    m.generation = 1;
    let topics = ["t".to_string()];
    let now = Instant::now();
    m.on_metadata(&topics, Some(&metadata(&[("t", 2)])), now);
    assert!(!m.need_join, "first sight is no change");
    assert_eq!(m.counts.get("t"), Some(&2));
    assert_eq!(m.next_metadata_check, now + Duration::from_secs(12));
    m.on_metadata(&topics, Some(&metadata(&[("t", 2)])), now);
    assert!(!m.need_join);
    m.on_metadata(&topics, Some(&metadata(&[("t", 3)])), now);
    assert!(m.need_join);
    assert_eq!(m.counts.get("t"), Some(&3));
}

#[tokio::test(start_paused = true)]
async fn the_leader_rejoins_for_a_topic_it_did_not_assign_and_keeps_its_counts() {
    let (mut m, _tx) = task_with(timed);
    m.generation = 1;
    m.leader = true;
    m.counts = BTreeMap::from([("t".to_string(), 2)]);
    let now = Instant::now();
    let topics = ["t".to_string(), "u".to_string()];
    m.on_metadata(&topics, Some(&metadata(&[("t", 2), ("u", 1)])), now);
    assert!(m.need_join, "u appeared since the assignment");
    assert_eq!(m.counts.get("u"), None, "the next assignment records it");
}

#[tokio::test(start_paused = true)]
async fn a_missing_topic_is_checked_again_in_a_second_a_failed_refresh_changes_nothing() {
    let (mut m, _tx) = task_with(timed);
    m.generation = 1;
    m.counts = BTreeMap::from([("t".to_string(), 2)]);
    let now = Instant::now();
    let topics = ["t".to_string()];
    m.on_metadata(&topics, None, now);
    assert!(!m.need_join);
    assert_eq!(m.counts.get("t"), Some(&2));
    assert_eq!(m.next_metadata_check, now + Duration::from_secs(12));
    m.on_metadata(&topics, Some(&metadata(&[])), now);
    assert_eq!(m.next_metadata_check, now + Duration::from_secs(1));
    assert!(m.need_join, "a topic that was there and is gone");
}

#[tokio::test(start_paused = true)]
async fn the_metadata_check_is_at_most_every_thirty_seconds() {
    let (mut m, _tx) = task_with(|b| {
        b.client_builder(
            ClientBuilder::new()
                .bootstrap_servers(["127.0.0.1:1"])
                .metadata_max_age(Duration::from_secs(300)),
        )
    });
    let now = Instant::now();
    m.on_metadata(&["t".to_string()], Some(&metadata(&[("t", 1)])), now);
    assert_eq!(m.next_metadata_check, now + Duration::from_secs(30));
}

// --- the task -------------------------------------------------------------------------

fn spawned() -> (
    Arc<Shared>,
    mpsc::UnboundedSender<GroupCommand>,
    tokio::task::JoinHandle<()>,
) {
    let sh = shared_with(|b| b.group_id("g").assignment_strategies([Range]));
    let link = Arc::new(CoordinatorLink::new(sh.client.clone(), "g".into()));
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(run(sh.clone(), link, rx));
    (sh, tx, task)
}

#[tokio::test(start_paused = true)]
async fn the_task_answers_a_leave_and_stops() {
    let (_sh, tx, task) = spawned();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(!task.is_finished(), "a member without a subscription waits");
    let (done, left) = oneshot::channel();
    tx.send(GroupCommand::Leave { done }).unwrap();
    tokio::time::timeout(Duration::from_secs(1), left)
        .await
        .expect("answered in time")
        .expect("answered, not dropped");
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("the task stopped")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_task_of_a_dropped_consumer_stops() {
    let (sh, _tx, task) = spawned();
    sh.lock().close();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the task stopped")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_task_of_a_dropped_consumer_answers_a_pending_leave() {
    let (sh, tx, task) = spawned();
    let (done, left) = oneshot::channel();
    sh.lock().close();
    tx.send(GroupCommand::Leave { done }).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .expect("the task stopped")
        .unwrap();
    assert!(left.await.is_ok(), "the leave was answered");
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_to_an_unreachable_coordinator_is_settled_and_rescheduled() {
    let (mut m, _tx) = task_with(|b| timed(b).session_timeout(Duration::from_secs(3_600)));
    in_generation(&mut m);
    let start = Instant::now();
    m.next_heartbeat = start;
    tokio::time::timeout(Duration::from_secs(120), m.beat())
        .await
        .expect("a heartbeat ends");
    assert!(m.next_heartbeat > start, "the next one is scheduled");
    assert_eq!(
        m.generation, 3,
        "no answer within the session is not a lost generation"
    );
}

#[tokio::test(start_paused = true)]
async fn an_eager_rebalance_revokes_everything_before_joining() {
    let (mut m, _tx) = task_with(|b| {
        b.assignment_strategies([Range])
            .max_poll_interval(Duration::from_secs(30))
    });
    owning(&mut m, &[0, 1]);
    // Closed during the revocation wait: the rebalance stops before JoinGroup.
    m.shared.lock().close();
    assert!(m.rebalance().await.is_ok());
    assert_eq!(events(&m.shared), ["revoke [t-0, t-1]"]);
    assert!(m.owned.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_cooperative_rebalance_keeps_the_partitions_while_joining() {
    let (mut m, _tx) = task_with(|b| b.assignment_strategies([CooperativeSticky]));
    owning(&mut m, &[0, 1]);
    m.shared.lock().close();
    assert!(m.rebalance().await.is_ok());
    assert!(events(&m.shared).is_empty());
    assert_eq!(m.owned.len(), 2);
    let (mut m, _tx) = task_with(|b| b.assignment_strategies([Range]));
    m.shared.lock().close();
    assert!(m.rebalance().await.is_ok());
    assert!(events(&m.shared).is_empty(), "eager, but nothing to revoke");
}

#[tokio::test(start_paused = true)]
async fn a_member_keeps_heartbeating_while_a_revocation_waits_for_poll() {
    let (mut m, _tx) = task_with(|b| {
        timed(b)
            .session_timeout(Duration::from_secs(3_600))
            .max_poll_interval(Duration::from_secs(30))
    });
    in_generation(&mut m);
    owning(&mut m, &[0, 1]);
    let started = Instant::now();
    m.next_heartbeat = started + Duration::from_secs(3);
    m.apply(vec![tp("t", 1)]).await;
    assert!(started.elapsed() >= Duration::from_secs(30));
    assert_eq!(
        events(&m.shared),
        ["revoke [t-0]", "assigned []", "lost [t-0]"]
    );
    assert_eq!(m.generation, 3, "unanswered heartbeats lose no generation");
    assert!(
        m.next_heartbeat > Instant::now(),
        "the next heartbeat is an interval after the last: {:?} after the start",
        m.next_heartbeat - started
    );
}

#[tokio::test]
async fn forgetting_the_generation_keeps_the_member_id_unless_told() {
    let (mut m, _tx) = joined_owning_t0();
    m.forget_generation(false);
    assert_eq!((m.generation, m.member_id.as_str()), (-1, "m-1"));
    assert_eq!(
        m.owned.len(),
        1,
        "owned partitions are the caller's concern"
    );
    in_generation(&mut m);
    m.forget_generation(true);
    assert_eq!((m.generation, m.member_id.as_str()), (-1, ""));
}

#[tokio::test(start_paused = true)]
async fn the_poll_timeout_applies_from_generation_0_and_not_outside_a_generation() {
    let (mut m, _tx) = task_with(|b| b.max_poll_interval(Duration::from_secs(30)));
    owning(&mut m, &[0]);
    tokio::time::advance(Duration::from_secs(31)).await;
    m.check_poll_timeout().await;
    assert!(
        events(&m.shared).is_empty(),
        "not in a generation: nothing to leave"
    );
    assert_eq!(m.owned.len(), 1);

    let (mut m, _tx) = task_with(|b| b.max_poll_interval(Duration::from_secs(30)));
    owning(&mut m, &[0]);
    m.generation = 0;
    tokio::time::advance(Duration::from_secs(31)).await;
    let sh = m.shared.clone();
    let running = tokio::spawn(async move {
        m.check_poll_timeout().await;
    });
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
    assert_eq!(events(&sh), ["lost [t-0]"], "generation 0 is a generation");
    running.abort();
}
