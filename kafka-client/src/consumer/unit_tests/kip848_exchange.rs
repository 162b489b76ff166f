//! How a heartbeat's outcome changes the consumer-protocol member: an answer (join,
//! epoch, target, the retry count reset), an error code (retry, expiry after a silent
//! session), a failed request (retried when transient, fatal otherwise), a heartbeat
//! sent to no coordinator, and the poll timeout that makes the member leave. A child
//! of `task.rs`; fixtures from `kip848_task.rs`.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::time::Instant;

use super::super::heartbeat_state::Answer;
use super::tests::{events, member, run_steps, target};
use super::*;
use crate::error::{ErrorCode, ErrorContext};

fn steady(epoch: i32) -> Exchange {
    Exchange::Answer(Answer {
        member_id: None,
        epoch,
        interval_ms: 2_000,
        assignment: None,
    })
}

fn rebalances(m: &Member) -> u64 {
    m.link.client.telemetry().consumer.rebalances.load(Relaxed)
}

fn connect_failed() -> Error {
    Error::Connect {
        context: ErrorContext::default(),
        reason: "refused".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn joining_counts_one_rebalance_later_answers_none() {
    let (mut m, _tx) = member();
    let before = rebalances(&m);
    m.on_exchange(steady(0));
    assert_eq!(rebalances(&m), before, "epoch 0: not joined yet");
    m.on_exchange(steady(1));
    assert_eq!(rebalances(&m), before + 1, "joined");
    m.on_exchange(steady(2));
    assert_eq!(rebalances(&m), before + 1, "already joined");
}

#[tokio::test(start_paused = true)]
async fn an_answer_publishes_the_epoch_and_resets_the_retries() {
    let (mut m, _tx) = member();
    m.on_exchange(Exchange::Code(ErrorCode::COORDINATOR_NOT_AVAILABLE, None));
    m.on_exchange(Exchange::Failed(connect_failed()));
    assert_eq!(m.attempt, 2, "each failure counts");
    tokio::time::advance(Duration::from_secs(5)).await;
    m.on_exchange(steady(4));
    assert_eq!(m.attempt, 0);
    assert_eq!(m.last_answer, Instant::now());
    assert_eq!(m.shared.lock().group().generation, 4);
    assert!(!m.target_pending, "no assignment in the answer");
    assert_eq!(m.hb.next_beat(), Instant::now() + Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_target_is_due_for_reconciling_at_once() {
    let (mut m, _tx) = member();
    m.next_resolve = Instant::now() + Duration::from_secs(60);
    tokio::time::advance(Duration::from_secs(1)).await;
    m.on_exchange(target(1, &[2]));
    assert!(m.target_pending);
    assert_eq!(m.next_resolve, Instant::now());
    assert_eq!(m.target.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retriable_code_keeps_the_partitions_within_the_session() {
    let (mut m, _tx) = member();
    m.on_exchange(target(1, &[0]));
    m.reconcile().await;
    run_steps(&m);
    tokio::time::advance(Duration::from_secs(10)).await;
    m.on_exchange(Exchange::Code(ErrorCode::COORDINATOR_NOT_AVAILABLE, None));
    assert!(events(&m).is_empty());
    assert_eq!(m.owned.len(), 1);
    assert_eq!(m.attempt, 1);
    assert!(!m.stopped);
    assert!(m.shared.lock().fatal().is_none());
    let left = m.cfg().session_timeout - Duration::from_secs(10);
    tokio::time::advance(left).await;
    m.on_exchange(Exchange::Code(ErrorCode::COORDINATOR_NOT_AVAILABLE, None));
    assert_eq!(events(&m), vec!["lost [t-0]"], "silent for a whole session");
    assert_eq!(m.hb.epoch(), 0);
    assert!(!m.stopped, "it joins again");
}

#[tokio::test(start_paused = true)]
async fn a_joined_member_owning_nothing_also_expires() {
    let (mut m, _tx) = member();
    m.on_exchange(steady(3));
    assert!(m.owned.is_empty());
    tokio::time::advance(m.cfg().session_timeout).await;
    m.on_exchange(Exchange::Failed(connect_failed()));
    assert_eq!(m.hb.epoch(), 0, "expired: joins again at epoch 0");
    assert_eq!(m.shared.lock().group().generation, -1);
}

#[tokio::test(start_paused = true)]
async fn a_member_that_never_joined_does_not_expire() {
    let (mut m, _tx) = member();
    tokio::time::advance(m.cfg().session_timeout * 2).await;
    m.on_exchange(Exchange::Failed(connect_failed()));
    // Only the failure's own backoff (attempt 0: at most 120 ms of 100 ms), no
    // rejoin backoff (attempt 1: at least 160 ms).
    let wait = m.hb.next_beat() - Instant::now();
    assert!(wait <= Duration::from_millis(120), "{wait:?}");
    assert!(events(&m).is_empty());
    assert!(m.announce_empty, "untouched");
}

#[tokio::test(start_paused = true)]
async fn transient_failures_are_retried_after_a_backoff_within_the_interval() {
    let deadline = Error::Deadline {
        operation: "heartbeat".into(),
        timeout: Duration::from_secs(30),
        last_error: None,
    };
    assert!(!deadline.is_retriable());
    let unreachable = Error::BrokersUnreachable {
        unreachable_for: Duration::from_secs(5),
        last_error: Box::new(connect_failed()),
    };
    assert!(!CoordinatorLink::is_coordinator_error(&unreachable));
    let not_coordinator = Error::Broker {
        code: ErrorCode::NOT_COORDINATOR,
        context: ErrorContext::default(),
        message: None,
    };
    for e in [deadline, unreachable, not_coordinator, connect_failed()] {
        let (mut m, _tx) = member();
        let shown = e.to_string();
        m.on_exchange(Exchange::Failed(e));
        assert!(!m.stopped, "{shown}");
        assert!(m.shared.lock().fatal().is_none(), "{shown}");
        assert_eq!(m.attempt, 1);
        let wait = m.hb.next_beat() - Instant::now();
        assert!(
            wait >= Duration::from_millis(80) && wait <= Duration::from_millis(120),
            "{shown}: {wait:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_retry_backoff_is_capped_by_the_heartbeat_interval() {
    let (mut m, _tx) = member();
    m.attempt = 12; // backoff at its cap (1 s by default) or more
    m.on_exchange(steady(1));
    m.attempt = 12;
    m.hb = HeartbeatState::new("m-1".into(), Duration::from_millis(50), Instant::now());
    m.on_exchange(Exchange::Failed(connect_failed()));
    assert_eq!(m.hb.next_beat(), Instant::now() + Duration::from_millis(50));
}

#[tokio::test(start_paused = true)]
async fn a_failure_that_is_not_transient_ends_the_member() {
    let (mut m, _tx) = member();
    m.on_exchange(target(1, &[1]));
    m.reconcile().await;
    run_steps(&m);
    m.on_exchange(Exchange::Failed(Error::Protocol {
        context: ErrorContext::default(),
        message: "garbage".into(),
    }));
    assert!(m.stopped);
    assert!(m.shared.lock().fatal().is_some());
    assert_eq!(events(&m), vec!["lost [t-1]"]);
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_to_no_coordinator_is_a_failure_retried_later() {
    let (mut m, _tx) = member();
    tokio::time::timeout(Duration::from_secs(600), m.beat())
        .await
        .expect("the heartbeat ends");
    assert_eq!(m.attempt, 1, "the failure counted");
    assert!(m.hb.next_beat() > Instant::now(), "retried after a backoff");
    assert!(!m.stopped);
}

#[tokio::test(start_paused = true)]
async fn without_polls_a_joined_member_loses_its_partitions_and_leaves() {
    let (mut m, tx) = member();
    m.on_exchange(Exchange::Answer(Answer {
        member_id: None,
        epoch: 1,
        interval_ms: 600_000,
        assignment: Some(ByTopicId::from([(
            super::tests::T,
            std::collections::BTreeSet::from([0]),
        )])),
    }));
    m.reconcile().await;
    run_steps(&m);
    m.shared.lock().polled(Instant::now());
    let max_poll = m.cfg().max_poll_interval;
    tokio::time::advance(max_poll - Duration::from_millis(1)).await;
    m.check_poll_timeout().await;
    assert!(events(&m).is_empty(), "polled in time");
    assert!(m.hb.joined());
    tokio::time::advance(Duration::from_millis(1)).await;
    // The member leaves, then waits for the next poll or a command.
    tx.send(GroupCommand::Subscribe).expect("open");
    tokio::time::timeout(Duration::from_secs(600), m.check_poll_timeout())
        .await
        .expect("ends");
    assert_eq!(events(&m), vec!["lost [t-0]"]);
    assert!(m.owned.is_empty());
    assert_eq!(m.hb.epoch(), 0, "left");
    assert_eq!(m.hb.next_beat(), Instant::now(), "joins again at once");
}

#[tokio::test(start_paused = true)]
async fn a_member_not_joined_has_no_poll_timeout() {
    let (mut m, _tx) = member();
    m.owned.insert(crate::consumer::unit_tests::tp("t", 0));
    tokio::time::advance(m.cfg().max_poll_interval * 2).await;
    let before = m.hb.next_beat();
    m.check_poll_timeout().await;
    assert!(events(&m).is_empty());
    assert_eq!(m.owned.len(), 1);
    assert_eq!(m.hb.next_beat(), before);
}
