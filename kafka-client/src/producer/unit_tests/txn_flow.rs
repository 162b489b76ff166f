//! `txn/mod.rs`: the transactional producer's status between transactions — Ready,
//! NeedsReinit, Fatal — and what begin/send/commit/abort/drop do to it, for the paths
//! that need no coordinator (nothing was added to the transaction, so no EndTxn is
//! sent). A child of `txn/mod.rs` (its state is private), wired there by one
//! `#[cfg(test)]` line.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::FutureExt;

use super::*;
use crate::error::{ErrorCode, ErrorContext};
use crate::producer::builder::TxnConfig;
use crate::producer::unit_tests::P0;

pub(super) fn txp(v2: bool) -> TransactionalProducer {
    let base = Producer::builder()
        .bootstrap_servers(["127.0.0.1:1"])
        .build()
        .unwrap();
    let mut config = base.shared().config.clone();
    config.transactional = Some(TxnConfig {
        id: "tx-9".into(),
        timeout: Duration::from_secs(60),
    });
    let producer = Producer::new(base.shared().client.clone(), false, config);
    let sh = producer.shared().clone();
    let txn = sh.txn.clone().unwrap();
    txn.set_v2(v2);
    sh.set_producer(P0);
    let ctx = Arc::new(TxnCtx {
        coordinator: CoordinatorLink::for_transaction(sh.client.clone(), txn.id.clone()),
        sh,
        txn,
        groups: Mutex::new(BTreeMap::new()),
    });
    TransactionalProducer {
        producer,
        ctx,
        status: Status::Ready,
        pending: Arc::new(Mutex::new(None)),
    }
}

fn broker(code: ErrorCode, api: kafka_protocol::messages::ApiKey) -> Error {
    Error::broker(code, ErrorContext::default().with_api(api), None)
}

fn group() -> GroupMetadata {
    GroupMetadata {
        group_id: "g".into(),
        generation_id: 1,
        member_id: "m".into(),
        group_instance_id: None,
    }
}

fn kind(e: &Error) -> Option<TransactionErrorKind> {
    e.transaction_kind()
}

#[tokio::test]
async fn begin_opens_numbered_transactions_and_an_empty_commit_needs_no_coordinator() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    assert!(p_txn_open(&t));
    t.commit().await.unwrap();
    assert!(!p.ctx.txn.is_open());
    assert_eq!(p.ctx.txn.generation(), 1);
    let t = p.begin().await.unwrap();
    t.abort().await.unwrap();
    assert_eq!(p.ctx.txn.generation(), 2);
    assert!(matches!(p.status, Status::Ready));
}

fn p_txn_open(t: &Transaction<'_>) -> bool {
    t.producer.ctx.txn.is_open()
}

#[tokio::test]
async fn a_fatal_producer_refuses_every_begin() {
    let mut p = txp(false);
    let fenced = p.ctx.txn.error(TransactionErrorKind::Fatal, "fenced", None);
    p.note(&fenced);
    for _ in 0..2 {
        let err = p.begin().await.unwrap_err();
        assert_eq!(kind(&err), Some(TransactionErrorKind::Fatal));
    }
    assert_eq!(p.ctx.txn.generation(), 0, "no transaction was opened");
    assert!(!p.ctx.txn.is_open());
}

#[tokio::test]
async fn send_after_a_failure_is_refused_as_abortable_without_queueing() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    let cause = broker(
        ErrorCode::NOT_ENOUGH_REPLICAS,
        kafka_protocol::messages::ApiKey::Produce,
    );
    t.producer.ctx.txn.fail(&cause);
    let err = t
        .send(ProducerRecord::new("t").with_value("v"))
        .await
        .unwrap_err();
    assert_eq!(kind(&err), Some(TransactionErrorKind::Abortable));
    assert_eq!(
        err.code(),
        Some(ErrorCode::NOT_ENOUGH_REPLICAS),
        "cause kept"
    );
    assert!(t.producer.ctx.sh.res.is_idle(), "nothing was queued");
    let err = t.send_offsets(Vec::new(), &group()).await.unwrap_err();
    assert_eq!(kind(&err), Some(TransactionErrorKind::Abortable));
    t.abort().await.unwrap();
}

#[tokio::test]
async fn sending_no_offsets_is_a_no_op() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    t.send_offsets(Vec::new(), &group()).await.unwrap();
    assert!(t.producer.ctx.txn.failure().is_none());
    assert!(!t.producer.ctx.txn.is_started());
    t.commit().await.unwrap();
}

#[tokio::test]
async fn a_commit_after_a_failure_aborts_and_says_abortable() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    t.producer.ctx.txn.fail(&broker(
        ErrorCode::NOT_ENOUGH_REPLICAS,
        kafka_protocol::messages::ApiKey::Produce,
    ));
    let err = t.commit().await.unwrap_err();
    assert_eq!(kind(&err), Some(TransactionErrorKind::Abortable));
    assert!(err.to_string().contains("was aborted"), "{err}");
    assert!(!p.ctx.txn.is_open());
    assert!(matches!(p.status, Status::Ready), "abortable: begin again");
    let t = p.begin().await.unwrap();
    assert!(t.producer.ctx.txn.failure().is_none(), "a new transaction");
    t.abort().await.unwrap();
}

#[tokio::test]
async fn a_commit_after_fencing_makes_the_producer_fatal() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    t.producer.ctx.txn.fail(&broker(
        ErrorCode::PRODUCER_FENCED,
        kafka_protocol::messages::ApiKey::Produce,
    ));
    let err = t.commit().await.unwrap_err();
    assert_eq!(kind(&err), Some(TransactionErrorKind::Fatal));
    assert!(matches!(p.status, Status::Fatal(_)));
    let again = p.begin().await.unwrap_err();
    assert_eq!(kind(&again), Some(TransactionErrorKind::Fatal));
}

#[tokio::test]
async fn an_invalid_epoch_on_produce_leaves_the_producer_usable() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    t.producer.ctx.txn.fail(&broker(
        ErrorCode::INVALID_PRODUCER_EPOCH,
        kafka_protocol::messages::ApiKey::Produce,
    ));
    let err = t.commit().await.unwrap_err();
    assert_eq!(kind(&err), Some(TransactionErrorKind::Abortable));
    assert!(matches!(p.status, Status::Ready));
}

#[tokio::test]
async fn a_sequence_gap_makes_the_next_begin_reinitialize() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    t.producer.ctx.txn.fail(&Error::Closed);
    t.producer.ctx.txn.request_bump();
    let _ = t.commit().await.unwrap_err();
    assert!(matches!(p.status, Status::NeedsReinit));
    assert!(!p.ctx.txn.take_bump(), "the flag was taken");
}

#[tokio::test]
async fn an_abort_after_a_sequence_gap_makes_the_next_begin_reinitialize() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    t.producer.ctx.txn.request_bump();
    t.abort().await.unwrap();
    assert!(matches!(p.status, Status::NeedsReinit));
}

#[tokio::test]
async fn a_fatal_producer_stays_fatal_after_a_bump_request() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    t.producer.ctx.txn.fail(&broker(
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        kafka_protocol::messages::ApiKey::AddPartitionsToTxn,
    ));
    t.producer.ctx.txn.request_bump();
    let _ = t.commit().await.unwrap_err();
    assert!(matches!(p.status, Status::Fatal(_)));
}

#[tokio::test]
async fn an_abort_fails_the_transactions_later_sends() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    let ctx = t.producer.ctx.clone();
    t.abort().await.unwrap();
    // The abort recorded its own error: the transaction is closed for sends.
    assert_eq!(
        ctx.txn.failure().as_ref().and_then(kind),
        Some(TransactionErrorKind::Abortable)
    );
    assert!(!ctx.txn.is_open());
}

#[test]
fn outcome_unknown_needs_a_reinit_and_abortable_changes_nothing() {
    let mut p = txp(false);
    let abortable = p.ctx.txn.error(TransactionErrorKind::Abortable, "a", None);
    p.note(&abortable);
    assert!(matches!(p.status, Status::Ready));
    p.note(&Error::Closed);
    assert!(
        matches!(p.status, Status::Ready),
        "untyped errors change nothing"
    );
    let unknown = p
        .ctx
        .txn
        .error(TransactionErrorKind::OutcomeUnknown, "u", None);
    p.note(&unknown);
    assert!(matches!(p.status, Status::NeedsReinit));
    let fatal = p.ctx.txn.error(TransactionErrorKind::Fatal, "f", None);
    p.note(&fatal);
    assert!(matches!(p.status, Status::Fatal(_)));
}

#[tokio::test]
async fn a_dropped_transaction_is_aborted_before_the_next_begin() {
    let mut p = txp(false);
    {
        let t = p.begin().await.unwrap();
        t.producer.ctx.txn.fail(&Error::Closed);
    }
    assert!(p.pending.lock().unwrap().is_some());
    let t = p.begin().await.unwrap();
    assert!(p_txn_open(&t));
    assert_eq!(t.producer.ctx.txn.generation(), 2);
    assert!(t.producer.ctx.txn.failure().is_none());
    assert!(t.producer.pending.lock().unwrap().is_none());
    t.abort().await.unwrap();
}

#[test]
fn a_transaction_dropped_without_a_runtime_needs_a_reinit() {
    let mut p = txp(false);
    let t = p.begin().now_or_never().unwrap().unwrap();
    drop(t);
    assert!(matches!(p.status, Status::NeedsReinit));
    assert!(p.pending.lock().unwrap().is_none());
}

#[test]
fn identity_and_protocol_are_reported() {
    let p = txp(true);
    assert_eq!(p.transactional_id(), "tx-9");
    assert!(p.uses_transaction_v2());
    assert!(!txp(false).uses_transaction_v2());
    let dbg = format!("{p:?}");
    assert!(dbg.contains("tx-9") && dbg.contains("Ready"), "{dbg}");
}

/// Polls `fut` once (it must still be pending), then drops it: a `select!` that lost.
async fn drop_after_one_poll<F: std::future::Future>(fut: F) {
    let mut fut = Box::pin(fut);
    assert!(
        futures::poll!(&mut fut).is_pending(),
        "the call needs the coordinator"
    );
}

fn slot_busy(p: &TransactionalProducer) -> bool {
    p.pending.lock().unwrap().is_some()
}

#[tokio::test(start_paused = true)]
async fn a_dropped_commit_finishes_in_the_background_before_the_next_begin() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    t.producer.ctx.txn.mark_started();
    drop_after_one_poll(t.commit()).await;
    // The commit (EndTxn to an unreachable coordinator) still runs: the transaction is
    // neither left open for the next begin to reuse nor silently forgotten.
    assert!(
        slot_busy(&p),
        "the commit keeps running after its future was dropped"
    );
    assert!(p.ctx.txn.is_open(), "not finished yet");
    p.settle().await;
    assert!(!slot_busy(&p));
    assert!(
        !p.ctx.txn.is_open(),
        "the commit task ended the transaction"
    );
    assert_eq!(
        p.ctx.txn.generation(),
        1,
        "no second transaction was opened"
    );
    if let Ok(t) = p.begin().await {
        assert_eq!(t.producer.ctx.txn.generation(), 2);
        t.abort().await.unwrap();
    }
}

#[tokio::test(start_paused = true)]
async fn a_dropped_abort_finishes_in_the_background_before_the_next_begin() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    t.producer.ctx.txn.mark_started();
    drop_after_one_poll(t.abort()).await;
    assert!(
        slot_busy(&p),
        "the abort keeps running after its future was dropped"
    );
    assert!(p.ctx.txn.is_open(), "not finished yet");
    p.settle().await;
    assert!(!p.ctx.txn.is_open(), "the abort task ended the transaction");
    assert_eq!(p.ctx.txn.generation(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_begin_leaves_the_pending_abort_for_the_next_begin() {
    let mut p = txp(false);
    {
        let t = p.begin().await.unwrap();
        t.producer.ctx.txn.mark_started();
    } // dropped open: aborts in the background (EndTxn, unreachable coordinator)
    drop_after_one_poll(p.begin()).await;
    assert!(
        slot_busy(&p),
        "a cancelled begin must not forget the abort it was waiting for"
    );
    assert!(p.ctx.txn.is_open(), "the abort has not finished yet");
    p.settle().await;
    assert!(!p.ctx.txn.is_open(), "the abort ended the transaction");
    assert_eq!(
        p.ctx.txn.generation(),
        1,
        "no transaction began on top of it"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_send_offsets_makes_the_transaction_abortable() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    let offsets = [(TopicPartition::new("t", 0), OffsetAndMetadata::new(5))];
    drop_after_one_poll(t.send_offsets(offsets, &group())).await;
    let failure = t
        .producer
        .ctx
        .txn
        .failure()
        .expect("the transaction failed");
    assert!(failure.to_string().contains("cancelled"), "{failure}");
    let again = t
        .send(crate::producer::ProducerRecord::new("t").with_value("x"))
        .await
        .unwrap_err();
    assert_eq!(kind(&again), Some(TransactionErrorKind::Abortable));
    t.abort().await.unwrap();
    assert!(!p.ctx.txn.is_open());
}
