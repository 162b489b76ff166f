//! `sender.rs`, `obtain_identity`: when an idempotent sender asks for a producer id (or
//! an epoch bump), when it holds back (requests in flight, a retry not due, closing with
//! nothing to send, a transactional producer), the backoff after a failure, and the
//! expiry poll it sets meanwhile. A child of `sender.rs`, wired there by one
//! `#[cfg(test)]` line. The cluster (127.0.0.1:1) never answers, so an InitProducerId
//! that is really sent fails; one with the identity already current returns at once.

use std::time::Duration;

use tokio::time::{Instant, advance};

use super::unit_tests::{MAX_BACKOFF, MIN_BACKOFF, rig, rig_on, rig_with, settled};
use super::*;
use crate::producer::Producer;
use crate::producer::unit_tests::{append, txn_shared};

/// The expiry poll while no identity is there.
const POLL: Duration = Duration::from_millis(100);

/// A request that never ends.
fn stuck() -> BoxFuture<'static, Completed> {
    Box::pin(futures::future::pending())
}

/// The sender of an idempotent producer without an identity.
fn without_identity() -> super::unit_tests::Rig {
    rig_with(Producer::builder())
}

#[tokio::test(start_paused = true)]
async fn a_failed_init_is_retried_after_a_backoff_that_grows() {
    let mut r = without_identity();
    let start = Instant::now();
    let mut wake = None;
    r.sender.obtain_identity(&mut wake).await;
    assert_eq!(wake, Some(start + POLL), "looks again for expired batches");
    assert_eq!(r.sender.init_failures, 1);
    let at = r.sender.init_retry_at.expect("a retry time");
    let after = Instant::now();
    assert!(
        at >= after + MIN_BACKOFF && at <= after + MAX_BACKOFF,
        "first backoff: {:?}",
        at - after
    );
    assert_eq!(r.sender.sh.current_producer(), None);
    // Due: asked again, and failing again backs off longer (200 ms ± 20 %).
    advance(MAX_BACKOFF).await;
    let mut wake = None;
    r.sender.obtain_identity(&mut wake).await;
    assert_eq!(r.sender.init_failures, 2);
    let at = r.sender.init_retry_at.unwrap();
    let after = Instant::now();
    assert!(
        at >= after + Duration::from_millis(160) && at <= after + Duration::from_millis(240),
        "second backoff: {:?}",
        at - after
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_not_yet_due_asks_nothing() {
    let mut r = rig();
    r.sender.init_failures = 2;
    let due = Instant::now() + Duration::from_millis(50);
    r.sender.init_retry_at = Some(due);
    let mut wake = None;
    r.sender.obtain_identity(&mut wake).await;
    assert_eq!(r.sender.init_failures, 2, "not asked");
    assert_eq!(r.sender.init_retry_at, Some(due));
    assert_eq!(wake, Some(Instant::now() + POLL));
}

#[tokio::test(start_paused = true)]
async fn a_retry_due_now_asks_and_a_success_clears_the_backoff() {
    // The identity is current: InitProducerId returns at once without I/O (success).
    let mut r = rig();
    r.sender.init_failures = 2;
    r.sender.init_retry_at = Some(Instant::now());
    let mut wake = None;
    r.sender.obtain_identity(&mut wake).await;
    assert_eq!(r.sender.init_failures, 0);
    assert_eq!(r.sender.init_retry_at, None);
}

#[tokio::test(start_paused = true)]
async fn nothing_is_asked_while_requests_are_in_flight() {
    let mut r = rig();
    r.sender.init_failures = 2;
    r.sender.in_flight.push(stuck());
    let mut wake = None;
    r.sender.obtain_identity(&mut wake).await;
    assert_eq!(
        r.sender.init_failures, 2,
        "old-epoch batches are answered first"
    );
    assert_eq!(wake, Some(Instant::now() + POLL));
}

#[tokio::test(start_paused = true)]
async fn a_closing_producer_with_nothing_to_send_asks_nothing() {
    let mut r = rig();
    r.sender.init_failures = 2;
    r.sender.sh.begin_close();
    let mut wake = None;
    r.sender.obtain_identity(&mut wake).await;
    assert_eq!(r.sender.init_failures, 2);
}

#[tokio::test(start_paused = true)]
async fn a_closing_producer_with_records_left_still_asks() {
    let mut r = rig();
    r.sender.init_failures = 2;
    let _f = append(&r.part, &r.sender.sh.res, 10);
    r.sender.sh.begin_close();
    let mut wake = None;
    r.sender.obtain_identity(&mut wake).await;
    assert_eq!(
        r.sender.init_failures, 0,
        "asked (and the identity was there)"
    );
}

#[tokio::test(start_paused = true)]
async fn a_transactional_sender_leaves_the_identity_to_its_coordinator() {
    let mut r = rig_on(txn_shared(false), None);
    let start = Instant::now();
    let mut wake = None;
    r.sender.obtain_identity(&mut wake).await;
    assert_eq!(Instant::now(), start, "no request, no wait");
    assert_eq!(r.sender.init_failures, 0);
    assert_eq!(r.sender.init_retry_at, None);
    assert_eq!(wake, Some(start + POLL), "expiry is still watched");
}

#[tokio::test(start_paused = true)]
async fn the_expiry_poll_keeps_an_earlier_wake_and_replaces_a_later_one() {
    let mut r = rig();
    r.sender.in_flight.push(stuck());
    let now = Instant::now();
    let mut early = Some(now + Duration::from_millis(30));
    r.sender.obtain_identity(&mut early).await;
    assert_eq!(early, Some(now + Duration::from_millis(30)));
    let mut late = Some(now + Duration::from_secs(3));
    r.sender.obtain_identity(&mut late).await;
    assert_eq!(late, Some(now + POLL));
}

#[tokio::test(start_paused = true)]
async fn batches_waiting_for_an_identity_still_expire() {
    let mut r = without_identity();
    r.sender.in_flight.push(stuck()); // so that nothing is asked
    let f = append(&r.part, &r.sender.sh.res, 10);
    advance(r.sender.sh.config.delivery_timeout).await;
    let mut wake = None;
    r.sender.obtain_identity(&mut wake).await;
    assert_eq!(r.sender.expired.len(), 1);
    r.sender.fail_expired();
    assert!(r.sender.expired.is_empty());
    assert!(matches!(settled(f), Err(Error::DeliveryTimeout { .. })));
    assert!(!r.part.has_unsent());
}
