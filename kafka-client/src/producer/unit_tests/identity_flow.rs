//! `identity.rs` and its use through `shared.rs`: who asks for an epoch bump, when
//! batches may be stamped, the failure verdict applied to a batch, and the flags that
//! make senders drain without linger or stop. A `Shared` is built from a producer that
//! never connects (bootstrap 127.0.0.1:1; no topic is registered, so no task starts).

use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;

use super::*;
use crate::error::{Error, ErrorCode, ErrorContext};
use crate::producer::batch::Stamp;
use crate::producer::identity::{Identity, NotReady};
use crate::producer::shared::Shared;
use crate::producer::txn::state::TxnShared;

fn stamped_batch(sh: &Shared, producer: ProducerIdent) -> (ProducerBatch, DeliveryFuture) {
    let mut b = ProducerBatch::open(&sh.res, "t".into(), 0, order(0), Instant::now());
    let f = b.try_append(0, None, Some(b"v"), &[], 0).unwrap().unwrap();
    b.stamp = Some(Stamp {
        producer,
        base_sequence: 0,
    });
    (b, f)
}

fn broker(code: ErrorCode) -> Error {
    Error::broker(code, ErrorContext::default(), None)
}

#[test]
fn setting_an_identity_ends_a_pending_bump_even_with_the_same_epoch() {
    let i = Identity::default();
    i.set(P0);
    assert!(i.request_bump(P0));
    i.set(P0);
    assert_eq!(i.for_stamping(), Ok(P0));
    assert!(i.request_bump(P0), "a new bump may be asked");
}

#[test]
fn without_identity_everything_is_stale() {
    let i = Identity::default();
    assert!(i.is_stale(P0));
    assert_eq!(i.for_stamping(), Err(NotReady::NoIdentity));
}

#[test]
fn a_bump_away_from_a_foreign_identity_is_refused() {
    let i = Identity::default();
    i.set(P1);
    assert!(!i.request_bump(P0), "P0 is not current");
    assert_eq!(i.for_stamping(), Ok(P1));
}

#[tokio::test]
async fn obtain_does_nothing_while_the_identity_is_current() {
    let p = producer(true);
    let i = Identity::default();
    i.set(P0);
    // No I/O: returns before asking any broker.
    let got = i
        .obtain(&p.shared().client, Duration::from_millis(1))
        .now_or_never()
        .expect("no wait")
        .unwrap();
    assert_eq!(got, None);
}

#[tokio::test]
async fn obtain_asks_the_cluster_without_an_identity_or_with_a_bump_pending() {
    let p = producer(true);
    let client = &p.shared().client;
    let none = Identity::default();
    let bumping = Identity::default();
    bumping.set(P0);
    assert!(bumping.request_bump(P0));
    for (what, i) in [("no identity", &none), ("a bump pending", &bumping)] {
        // The cluster (127.0.0.1:1) never answers: the call waits or fails, and never
        // claims an identity it did not get.
        let got = i.obtain(client, Duration::from_millis(1)).now_or_never();
        assert!(!matches!(got, Some(Ok(_))), "{what}: {got:?}");
    }
    assert_eq!(none.current(), None);
    assert_eq!(bumping.for_stamping(), Err(NotReady::Bumping));
}

#[test]
fn a_producer_without_idempotence_stamps_nothing() {
    let p = producer(false);
    assert_eq!(p.shared().drain_identity(), Ok(None));
}

#[test]
fn an_idempotent_producer_drains_only_with_an_identity() {
    let p = producer(true);
    let sh = p.shared();
    assert_eq!(sh.drain_identity(), Err(()));
    sh.set_producer(P0);
    assert_eq!(sh.drain_identity(), Ok(Some(P0)));
    assert_eq!(sh.current_producer(), Some(P0));
}

#[test]
fn an_idempotent_bump_stops_draining_until_the_new_epoch() {
    let p = producer(true);
    let sh = p.shared();
    sh.set_producer(P0);
    sh.request_bump(P0);
    assert_eq!(sh.drain_identity(), Err(()));
    sh.request_bump(P0);
    sh.set_producer(P1);
    assert_eq!(sh.drain_identity(), Ok(Some(P1)));
    // A late failure of P0 asks nothing more.
    sh.request_bump(P0);
    assert_eq!(sh.drain_identity(), Ok(Some(P1)));
}

#[tokio::test]
async fn a_failed_stamped_batch_bumps_the_epoch_and_fails_definitely_if_never_written() {
    let p = producer(true);
    let sh = p.shared();
    sh.set_producer(P0);
    let (b, f) = stamped_batch(sh, P0);
    sh.fail_batch(b, broker(ErrorCode::MESSAGE_TOO_LARGE));
    assert_eq!(sh.drain_identity(), Err(()), "a sequence gap: bump first");
    let err = f.now_or_never().unwrap().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::MESSAGE_TOO_LARGE));
    assert!(!matches!(err, Error::PossiblyPersisted { .. }));
}

#[tokio::test]
async fn a_failed_batch_that_may_be_written_fails_as_possibly_persisted() {
    let p = producer(true);
    let sh = p.shared();
    sh.set_producer(P0);
    let (mut b, f) = stamped_batch(sh, P0);
    b.maybe_written = true;
    sh.fail_batch(b, broker(ErrorCode::NOT_LEADER_OR_FOLLOWER));
    let err = f.now_or_never().unwrap().unwrap_err();
    assert!(
        matches!(err, Error::PossiblyPersisted { partition: 0, .. }),
        "{err:?}"
    );
    assert!(err.is_indeterminate());
}

#[tokio::test]
async fn an_unstamped_failure_asks_no_bump() {
    let p = producer(true);
    let sh = p.shared();
    sh.set_producer(P0);
    let mut b = ProducerBatch::open(&sh.res, "t".into(), 0, order(0), Instant::now());
    let _f = b.try_append(0, None, None, &[], 0).unwrap().unwrap();
    sh.fail_batch(b, broker(ErrorCode::MESSAGE_TOO_LARGE));
    assert_eq!(sh.drain_identity(), Ok(Some(P0)));
}

#[tokio::test]
async fn without_idempotence_a_written_batch_fails_with_the_plain_error() {
    let p = producer(false);
    let sh = p.shared();
    let mut b = ProducerBatch::open(&sh.res, "t".into(), 0, order(0), Instant::now());
    let f = b.try_append(0, None, None, &[], 0).unwrap().unwrap();
    b.maybe_written = true;
    sh.fail_batch(b, broker(ErrorCode::REQUEST_TIMED_OUT));
    let err = f.now_or_never().unwrap().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::REQUEST_TIMED_OUT));
}

#[test]
fn a_transactional_v1_producer_bumps_between_transactions_only() {
    let sh = txn_shared(false);
    sh.set_producer(P0);
    sh.request_bump(P0);
    assert_eq!(
        sh.drain_identity(),
        Ok(Some(P0)),
        "the open transaction goes on"
    );
    assert!(
        sh.txn.as_ref().unwrap().take_bump(),
        "bumped after the abort"
    );
}

#[test]
fn a_transactional_v2_producer_never_asks_a_bump() {
    let sh = txn_shared(true);
    sh.set_producer(P0);
    sh.request_bump(P0);
    assert_eq!(sh.drain_identity(), Ok(Some(P0)));
    assert!(
        !sh.txn.as_ref().unwrap().take_bump(),
        "EndTxn bumps the epoch"
    );
}

#[tokio::test]
async fn a_failed_batch_dooms_the_open_transaction() {
    let sh = txn_shared(false);
    let txn: &TxnShared = sh.txn.as_ref().unwrap();
    txn.begin();
    sh.set_producer(P0);
    let (b, _f) = stamped_batch(&sh, P0);
    sh.fail_batch(b, broker(ErrorCode::NOT_ENOUGH_REPLICAS));
    assert_eq!(
        txn.failure().and_then(|e| e.code()),
        Some(ErrorCode::NOT_ENOUGH_REPLICAS)
    );
    assert!(txn.take_bump());
}

#[test]
fn the_v1_gate_is_the_open_transaction_number() {
    let plain = producer(true);
    assert_eq!(plain.shared().txn_gate(), None);
    assert!(!plain.shared().needs_produce_v12());
    let v1 = txn_shared(false);
    assert_eq!(v1.txn_gate(), Some(0));
    v1.txn.as_ref().unwrap().begin();
    assert_eq!(v1.txn_gate(), Some(1));
    assert!(!v1.needs_produce_v12());
    let v2 = txn_shared(true);
    assert_eq!(v2.txn_gate(), None, "v2: Produce adds partitions");
    assert!(v2.needs_produce_v12());
    assert!(v2.res.transactional, "batches are marked transactional");
    assert!(!plain.shared().res.transactional);
}

#[tokio::test(start_paused = true)]
async fn flush_close_and_memory_waiters_force_batches_out() {
    let p = producer(true);
    let sh = p.shared();
    assert!(!sh.force_ready());
    {
        let _g = sh.flush_guard();
        assert!(sh.force_ready());
        let _g2 = sh.flush_guard();
        drop(_g);
        assert!(sh.force_ready(), "one flush still runs");
    }
    assert!(!sh.force_ready());
    let cap = sh.res.memory.capacity();
    sh.res.memory.try_reserve(cap).unwrap();
    let mut wait = Box::pin(sh.res.memory.reserve(
        1,
        Instant::now() + Duration::from_secs(1),
        || {},
    ));
    assert!((&mut wait).now_or_never().is_none());
    assert!(sh.force_ready(), "a send waits for memory");
    drop(wait);
    assert!(!sh.force_ready());
    sh.res.memory.release(cap);
    sh.begin_close();
    assert!(sh.force_ready());
}

#[tokio::test]
async fn tasks_may_stop_only_when_closing_and_idle_or_aborted() {
    let p = producer(true);
    let sh = p.shared();
    assert!(!sh.may_stop(), "open");
    let mut b = ProducerBatch::open(&sh.res, "t".into(), 0, order(0), Instant::now());
    let f = b.try_append(0, None, None, &[], 0).unwrap().unwrap();
    sh.begin_close();
    assert!(sh.is_closing());
    assert!(sh.check_open().is_err());
    assert!(!sh.may_stop(), "a batch is unsettled");
    sh.abort();
    assert!(sh.is_aborted());
    assert!(sh.may_stop());
    assert!(matches!(f.now_or_never(), Some(Err(Error::Closed))));
    drop(b);
    assert!(sh.res.is_idle());
}

#[tokio::test]
async fn a_closing_idle_producer_may_stop() {
    let p = producer(true);
    let sh = p.shared().clone();
    drop(p); // the last handle: closing starts
    assert!(sh.is_closing());
    assert!(sh.may_stop());
}
