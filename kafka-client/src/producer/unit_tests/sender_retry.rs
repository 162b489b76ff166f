//! `sender.rs`, `retry_or_fail`, beyond `sender_internals.rs`: an idempotent re-send
//! (re-stamp, retry behind an earlier batch) is bounded by the delivery deadline and
//! waits out its backoff; after a retriable error, which failures ask for fresh
//! metadata and which stop sending to this broker. A child of `sender.rs`, wired there
//! by one `#[cfg(test)]` line.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::{Instant, advance};

use super::unit_tests::{MAX_BACKOFF, MIN_BACKOFF, rig, settled};
use super::*;
use crate::producer::accumulator::NO_LEADER;
use crate::producer::unit_tests::{P0, P1};

fn asked_refresh(sh: &Shared) -> bool {
    sh.refresh.topics.lock().unwrap().contains("t")
}

#[tokio::test(start_paused = true)]
async fn a_restamp_after_a_bump_waits_out_its_backoff_and_counts_the_attempt() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    r.sender.sh.set_producer(P1);
    r.fail(a, ErrorCode::INVALID_PRODUCER_EPOCH);
    advance(MIN_BACKOFF - Duration::from_millis(1)).await;
    assert!(r.next(Some(P1)).is_none(), "held by the backoff");
    advance(MAX_BACKOFF - MIN_BACKOFF + Duration::from_millis(1)).await;
    let a = r.next(Some(P1)).expect("re-sent");
    assert_eq!(a.attempts, 1);
    assert!(matches!(
        a.last_error.as_ref().and_then(Error::code),
        Some(ErrorCode::INVALID_PRODUCER_EPOCH)
    ));
    assert!(fa.into_iter().next().unwrap().now_or_never().is_none());
}

#[tokio::test(start_paused = true)]
async fn an_idempotent_resend_past_the_delivery_deadline_fails_instead() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    advance(r.sender.sh.config.delivery_timeout).await;
    r.sender.sh.set_producer(P1);
    r.fail(a, ErrorCode::INVALID_PRODUCER_EPOCH);
    assert!(
        settled(fa.into_iter().next().unwrap()).is_err(),
        "not re-sent past its deadline"
    );
    assert!(!r.part.has_unsent());
}

#[tokio::test(start_paused = true)]
async fn an_out_of_order_retry_past_the_delivery_deadline_fails_instead() {
    let mut r = rig();
    let (_a, _fa) = r.in_flight(1, Some(P0));
    let (b, fb) = r.in_flight(1, Some(P0));
    advance(r.sender.sh.config.delivery_timeout).await;
    r.fail(b, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert!(settled(fb.into_iter().next().unwrap()).is_err());
}

#[tokio::test(start_paused = true)]
async fn a_stale_leader_error_for_a_partition_already_moved_asks_no_refresh() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    // A leader hint moved it to broker 0 meanwhile.
    r.part.leader.store(0, Ordering::Release);
    let epoch = r.sender.sh.routing_epoch();
    r.fail(a, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(r.part.leader(), 0, "stays with the new leader");
    assert_eq!(r.sender.sh.routing_epoch(), epoch, "no re-routing");
    assert!(!asked_refresh(&r.sender.sh), "the new leader is known");
    assert!(fa.into_iter().next().unwrap().now_or_never().is_none());
    advance(MAX_BACKOFF).await;
    assert!(take_from(&r, 0).is_some(), "retried at the new leader");
}

fn take_from(r: &super::unit_tests::Rig, broker: i32) -> Option<ProducerBatch> {
    crate::producer::unit_tests::take_now(&r.part, broker, Some(P0))
}

#[tokio::test(start_paused = true)]
async fn a_stale_leader_error_for_a_leaderless_partition_asks_a_refresh_only() {
    let mut r = rig();
    let (a, _fa) = r.in_flight(1, Some(P0));
    r.part.leader.store(NO_LEADER, Ordering::Release);
    let epoch = r.sender.sh.routing_epoch();
    r.fail(a, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(r.part.leader(), NO_LEADER);
    assert_eq!(r.sender.sh.routing_epoch(), epoch, "nothing to re-route");
    assert!(asked_refresh(&r.sender.sh));
}

#[tokio::test(start_paused = true)]
async fn a_retriable_error_of_a_healthy_leader_asks_no_refresh() {
    let mut r = rig();
    let (a, _fa) = r.in_flight(1, Some(P0));
    let epoch = r.sender.sh.routing_epoch();
    r.fail(a, ErrorCode::NOT_ENOUGH_REPLICAS);
    assert!(!asked_refresh(&r.sender.sh));
    assert_eq!(r.part.leader(), 1);
    assert_eq!(r.sender.sh.routing_epoch(), epoch);
}

#[tokio::test(start_paused = true)]
async fn a_timeout_or_a_failed_connect_asks_a_refresh_and_keeps_the_leader() {
    let failures = [
        Error::Timeout {
            context: ErrorContext::default(),
            timeout: Duration::from_secs(30),
        },
        Error::Connect {
            context: ErrorContext::default(),
            reason: "refused".into(),
        },
    ];
    for err in failures {
        let mut r = rig();
        let (a, _fa) = r.in_flight(1, Some(P0));
        let part = r.part.clone();
        r.sender
            .retry_or_fail(&part, a, err.clone(), Instant::now());
        assert!(asked_refresh(&r.sender.sh), "{err}");
        assert_eq!(r.part.leader(), 1, "{err}");
        advance(MAX_BACKOFF).await;
        let a = r.next(Some(P0)).expect("retried");
        assert_eq!(a.attempts, 1);
    }
}

#[tokio::test(start_paused = true)]
async fn not_enough_replicas_after_append_marks_the_batch_written() {
    let mut r = rig();
    let (a, _fa) = r.in_flight(1, Some(P0));
    r.fail(a, ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    advance(MAX_BACKOFF).await;
    assert!(r.next(Some(P0)).unwrap().maybe_written);
}

#[tokio::test(start_paused = true)]
async fn a_lost_connection_asks_a_refresh_even_for_a_partition_already_moved() {
    // Only a stale-leader error is answered by the move; a lost connection may mean the
    // broker is gone, which fresh metadata tells.
    let mut r = rig();
    let (a, _fa) = r.in_flight(1, Some(P0));
    r.part.leader.store(0, Ordering::Release);
    r.request_failed(
        a,
        Error::ConnectionLost {
            context: ErrorContext::default(),
            reason: "reset".into(),
        },
    );
    assert!(asked_refresh(&r.sender.sh));
    assert_eq!(r.part.leader(), 0);
}
