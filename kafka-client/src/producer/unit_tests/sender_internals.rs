//! `sender.rs`: what a sender does with a finished request — settle, retry with
//! backoff, split, re-stamp after a bump, or fail with a verdict — and how it drains
//! (Java's `SenderTest`). A child of `sender.rs` (its state is private), wired there by
//! one `#[cfg(test)]` line. No request is sent: `retry_or_fail`, `handle` and
//! `handle_response` are called with the outcome a broker would give.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::FutureExt;
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::protocol::StrBytes;
use tokio::sync::Notify;
use tokio::time::{Instant, advance};

use super::*;
use crate::producer::Producer;
use crate::producer::accumulator::{NO_LEADER, TopicEntry};
use crate::producer::batch::{ProducerIdent, Stamp};
use crate::producer::delivery::DeliveryFuture;
use crate::producer::unit_tests::{P0, P1, append, take_now, topic_info, txn_shared};

/// Backoff of a first retry: 100 ms ± 20 % jitter (the client's default).
pub(super) const MIN_BACKOFF: Duration = Duration::from_millis(80);
pub(super) const MAX_BACKOFF: Duration = Duration::from_millis(120);

pub(super) struct Rig {
    _producer: Option<Producer>,
    pub(super) sender: Sender,
    _topic: TopicEntry,
    pub(super) part: Arc<PartitionState>,
}

pub(super) fn rig_with(builder: crate::producer::ProducerBuilder) -> Rig {
    let producer = builder.bootstrap_servers(["127.0.0.1:1"]).build().unwrap();
    let sh = producer.shared().clone();
    rig_on(sh, Some(producer))
}

pub(super) fn rig_on(sh: Arc<Shared>, producer: Option<Producer>) -> Rig {
    let topic = TopicEntry::new(&topic_info("t", &[Some(1)]));
    let part = topic.partitions()[0].clone();
    let mut sender = Sender::new(
        sh,
        Arc::new(SenderHandle {
            broker: 1,
            notify: Notify::new(),
        }),
    );
    sender.parts = vec![part.clone()];
    Rig {
        _producer: producer,
        sender,
        _topic: topic,
        part,
    }
}

/// An idempotent producer with identity P0.
pub(super) fn rig() -> Rig {
    let r = rig_with(Producer::builder());
    r.sender.sh.set_producer(P0);
    r
}

impl Rig {
    /// Appends `n` records of 60 bytes (one 16 KiB batch) and drains that batch,
    /// stamped with `producer`.
    pub(super) fn in_flight(
        &self,
        n: usize,
        producer: Option<ProducerIdent>,
    ) -> (ProducerBatch, Vec<DeliveryFuture>) {
        let futs = (0..n)
            .map(|_| append(&self.part, &self.sender.sh.res, 60))
            .collect();
        (take_now(&self.part, 1, producer).expect("drained"), futs)
    }

    /// Ends the request carrying `b` with `err` (no answer decoded), as the connection
    /// task reports it.
    pub(super) fn request_failed(&mut self, b: ProducerBatch, err: Error) {
        let part = self.part.clone();
        self.sender.handle(Completed {
            batches: vec![(part, b)],
            result: Err(err),
            version: 9,
            conn: None,
        });
    }

    pub(super) fn fail(&mut self, b: ProducerBatch, code: ErrorCode) {
        let err = Error::broker(code, ErrorContext::default(), None);
        let part = self.part.clone();
        self.sender.retry_or_fail(&part, b, err, Instant::now());
    }

    pub(super) fn next(&self, producer: Option<ProducerIdent>) -> Option<ProducerBatch> {
        take_now(&self.part, 1, producer)
    }

    pub(super) fn bump_pending(&self) -> bool {
        self.sender.sh.drain_identity().is_err()
    }
}

pub(super) fn settled(f: DeliveryFuture) -> crate::Result<crate::producer::RecordMetadata> {
    f.now_or_never().expect("settled")
}

fn response(parts: Vec<PartitionProduceResponse>) -> ProduceResponse {
    ProduceResponse::default().with_responses(vec![
        TopicProduceResponse::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_partition_responses(parts),
    ])
}

fn answer(code: ErrorCode, base_offset: i64) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(0)
        .with_error_code(code.code())
        .with_base_offset(base_offset)
        .with_log_append_time_ms(-1)
}

fn ok(base_offset: i64) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(0)
        .with_base_offset(base_offset)
        .with_log_append_time_ms(-1)
}

#[tokio::test(start_paused = true)]
async fn a_retriable_error_requeues_the_batch_behind_a_backoff() {
    let mut r = rig();
    let (b, futs) = r.in_flight(2, Some(P0));
    r.fail(b, ErrorCode::NOT_ENOUGH_REPLICAS);
    let mut futs = futs.into_iter();
    assert!(futs.next().unwrap().now_or_never().is_none(), "not settled");
    advance(MIN_BACKOFF - Duration::from_millis(1)).await;
    assert!(r.next(Some(P0)).is_none(), "held by the backoff");
    advance(MAX_BACKOFF - MIN_BACKOFF + Duration::from_millis(1)).await;
    let b = r.next(Some(P0)).expect("retried after the backoff");
    assert_eq!(b.attempts, 1);
    assert!(
        !b.maybe_written,
        "NOT_ENOUGH_REPLICAS: rejected before the append"
    );
    assert_eq!(b.stamp.unwrap().base_sequence, 0, "same sequence");
    assert!(matches!(
        b.last_error.as_ref().and_then(Error::code),
        Some(ErrorCode::NOT_ENOUGH_REPLICAS)
    ));
    assert!(!r.bump_pending());
}

#[tokio::test(start_paused = true)]
async fn a_leader_error_marks_the_batch_written_and_the_partition_leaderless() {
    let mut r = rig();
    let (b, _f) = r.in_flight(1, Some(P0));
    let epoch = r.sender.sh.routing_epoch();
    r.fail(b, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    assert_eq!(
        r.part.leader(),
        NO_LEADER,
        "no sending here until metadata says"
    );
    assert_eq!(r.sender.sh.routing_epoch(), epoch + 1);
    assert!(
        r.sender.sh.refresh.topics.lock().unwrap().contains("t"),
        "a refresh was asked"
    );
    r.part.leader.store(1, Ordering::Release);
    advance(MAX_BACKOFF).await;
    let b = r.next(Some(P0)).unwrap();
    assert!(b.maybe_written);
}

#[tokio::test(start_paused = true)]
async fn a_request_timeout_marks_the_batch_written_without_losing_the_leader() {
    let mut r = rig();
    let (b, _f) = r.in_flight(1, Some(P0));
    r.fail(b, ErrorCode::REQUEST_TIMED_OUT);
    assert_eq!(r.part.leader(), 1);
    assert!(r.sender.sh.refresh.topics.lock().unwrap().is_empty());
    advance(MAX_BACKOFF).await;
    assert!(r.next(Some(P0)).unwrap().maybe_written);
}

#[tokio::test(start_paused = true)]
async fn a_non_retriable_error_fails_the_batch_and_frees_the_partition() {
    let mut r = rig();
    let (b, futs) = r.in_flight(1, Some(P0));
    let _more = append(&r.part, &r.sender.sh.res, 10);
    r.fail(b, ErrorCode::TOPIC_AUTHORIZATION_FAILED);
    let err = settled(futs.into_iter().next().unwrap()).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED));
    assert!(
        r.bump_pending(),
        "a stamped batch failed: its sequence is a gap"
    );
    r.sender.sh.set_producer(P1);
    let next = r.next(Some(P1)).expect("nothing in flight any more");
    assert_eq!(next.stamp.unwrap().base_sequence, 0);
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_the_configured_count() {
    let mut r = rig_with(Producer::builder().retries(1).enable_idempotence(false));
    let (b, futs) = r.in_flight(1, None);
    r.fail(b, ErrorCode::NOT_ENOUGH_REPLICAS);
    advance(MAX_BACKOFF).await;
    let b = r.next(None).unwrap();
    assert_eq!(b.attempts, 1);
    r.fail(b, ErrorCode::NOT_ENOUGH_REPLICAS);
    let err = settled(futs.into_iter().next().unwrap()).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::NOT_ENOUGH_REPLICAS));
    assert!(!r.part.has_unsent());
}

#[tokio::test(start_paused = true)]
async fn a_retriable_error_past_the_delivery_timeout_fails_as_a_timeout() {
    let mut r = rig_with(Producer::builder().enable_idempotence(false));
    let (b, futs) = r.in_flight(1, None);
    let timeout = r.sender.sh.config.delivery_timeout;
    advance(timeout).await;
    r.fail(b, ErrorCode::NOT_ENOUGH_REPLICAS);
    match settled(futs.into_iter().next().unwrap()).unwrap_err() {
        Error::DeliveryTimeout {
            timeout: t,
            last_error,
            ..
        } => {
            assert_eq!(t, timeout);
            assert_eq!(
                last_error.and_then(|e| e.code()),
                Some(ErrorCode::NOT_ENOUGH_REPLICAS)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn one_moment_before_the_delivery_timeout_it_is_still_retried() {
    let mut r = rig_with(Producer::builder().enable_idempotence(false));
    let (b, futs) = r.in_flight(1, None);
    advance(r.sender.sh.config.delivery_timeout - Duration::from_millis(1)).await;
    r.fail(b, ErrorCode::NOT_ENOUGH_REPLICAS);
    assert!(futs.into_iter().next().unwrap().now_or_never().is_none());
    assert!(r.part.has_unsent());
}

#[tokio::test(start_paused = true)]
async fn message_too_large_splits_a_batch_of_several_records() {
    let mut r = rig();
    let (b, futs) = r.in_flight(4, Some(P0));
    r.fail(b, ErrorCode::MESSAGE_TOO_LARGE);
    assert!(!r.bump_pending());
    let first = r.next(Some(P0)).expect("first half at once, no backoff");
    assert_eq!(first.records(), 2);
    assert_eq!(first.stamp.unwrap().base_sequence, 0);
    assert!(r.next(Some(P0)).is_none(), "a split half goes alone");
    r.part.answered();
    let second = r.next(Some(P0)).unwrap();
    assert_eq!(second.stamp.unwrap().base_sequence, 2);
    first.complete(Ok(BatchAck {
        base_offset: 10,
        log_append_time: None,
    }));
    second.complete(Ok(BatchAck {
        base_offset: 20,
        log_append_time: None,
    }));
    let offsets: Vec<i64> = futs
        .into_iter()
        .map(|f| settled(f).unwrap().offset)
        .collect();
    assert_eq!(offsets, [10, 11, 20, 21]);
}

#[tokio::test(start_paused = true)]
async fn message_too_large_for_one_record_fails_it() {
    let mut r = rig_with(Producer::builder().enable_idempotence(false));
    let (b, futs) = r.in_flight(1, None);
    r.fail(b, ErrorCode::MESSAGE_TOO_LARGE);
    let err = settled(futs.into_iter().next().unwrap()).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::MESSAGE_TOO_LARGE));
}

#[tokio::test(start_paused = true)]
async fn out_of_order_behind_an_unacknowledged_batch_is_retried_behind_it() {
    let mut r = rig();
    let (a, _fa) = r.in_flight(1, Some(P0));
    let (b, fb) = r.in_flight(1, Some(P0));
    assert_eq!(b.stamp.unwrap().base_sequence, 1);
    r.fail(b, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert!(!r.bump_pending());
    assert!(fb.into_iter().next().unwrap().now_or_never().is_none());
    drop(a);
    r.part.answered();
    advance(MAX_BACKOFF).await;
    let b = r.next(Some(P0)).expect("retried");
    assert_eq!(b.stamp.unwrap().base_sequence, 1);
}

#[tokio::test(start_paused = true)]
async fn out_of_order_for_the_next_batch_to_acknowledge_is_a_real_gap() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    r.fail(a, ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER);
    let err = settled(fa.into_iter().next().unwrap()).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER));
    assert!(r.bump_pending());
}

#[tokio::test(start_paused = true)]
async fn unknown_producer_id_bumps_and_resends_under_the_new_epoch() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    r.fail(a, ErrorCode::UNKNOWN_PRODUCER_ID);
    assert!(r.bump_pending());
    assert!(
        fa.into_iter().next().unwrap().now_or_never().is_none(),
        "re-sent"
    );
    r.sender.sh.set_producer(P1);
    advance(MAX_BACKOFF).await;
    let a = r.next(Some(P1)).unwrap();
    assert_eq!(
        a.stamp,
        Some(Stamp {
            producer: P1,
            base_sequence: 0
        })
    );
}

#[tokio::test(start_paused = true)]
async fn an_epoch_error_for_a_batch_of_a_replaced_identity_requeues_it() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    r.sender.sh.set_producer(P1); // bumped meanwhile
    r.fail(a, ErrorCode::INVALID_PRODUCER_EPOCH);
    assert!(fa.into_iter().next().unwrap().now_or_never().is_none());
    advance(MAX_BACKOFF).await;
    assert_eq!(r.next(Some(P1)).unwrap().stamp.unwrap().producer, P1);
}

#[tokio::test(start_paused = true)]
async fn an_epoch_error_for_the_current_identity_fails_the_batch() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    r.fail(a, ErrorCode::PRODUCER_FENCED);
    assert!(settled(fa.into_iter().next().unwrap()).is_err());
}

#[tokio::test(start_paused = true)]
async fn after_abort_an_answer_fails_the_batch_closed() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    r.sender.sh.abort();
    r.fail(a, ErrorCode::NOT_ENOUGH_REPLICAS);
    assert!(matches!(
        settled(fa.into_iter().next().unwrap()),
        Err(Error::Closed)
    ));
}

#[tokio::test(start_paused = true)]
async fn a_success_settles_offsets_and_acknowledges_the_sequence() {
    let mut r = rig();
    let (a, fa) = r.in_flight(2, Some(P0));
    let _more = append(&r.part, &r.sender.sh.res, 10);
    let part = r.part.clone();
    r.sender
        .handle_response(vec![(part, a)], response(vec![ok(500)]), 9, Instant::now());
    let offsets: Vec<i64> = fa.into_iter().map(|f| settled(f).unwrap().offset).collect();
    assert_eq!(offsets, [500, 501]);
    let next = r
        .next(Some(P0))
        .expect("the partition has nothing in flight");
    assert!(r.part.is_next_to_ack(next.stamp.unwrap()));
    assert_eq!(next.stamp.unwrap().base_sequence, 2);
}

#[tokio::test(start_paused = true)]
async fn the_log_append_time_replaces_the_create_time() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    let part = r.part.clone();
    r.sender.handle_response(
        vec![(part, a)],
        response(vec![ok(0).with_log_append_time_ms(4242)]),
        9,
        Instant::now(),
    );
    assert_eq!(
        settled(fa.into_iter().next().unwrap()).unwrap().timestamp,
        4242
    );
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_of_a_stamped_batch_is_a_success() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    let part = r.part.clone();
    r.sender.handle_response(
        vec![(part, a)],
        response(vec![answer(ErrorCode::DUPLICATE_SEQUENCE_NUMBER, 77)]),
        9,
        Instant::now(),
    );
    assert_eq!(settled(fa.into_iter().next().unwrap()).unwrap().offset, 77);
    assert!(!r.bump_pending());
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_of_an_unstamped_batch_is_an_error() {
    let mut r = rig_with(Producer::builder().enable_idempotence(false));
    let (a, fa) = r.in_flight(1, None);
    let part = r.part.clone();
    r.sender.handle_response(
        vec![(part, a)],
        response(vec![answer(ErrorCode::DUPLICATE_SEQUENCE_NUMBER, 77)]),
        9,
        Instant::now(),
    );
    let err = settled(fa.into_iter().next().unwrap()).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::DUPLICATE_SEQUENCE_NUMBER));
}

#[tokio::test(start_paused = true)]
async fn record_errors_reach_the_error_message() {
    let mut r = rig_with(Producer::builder().enable_idempotence(false));
    let (a, fa) = r.in_flight(1, None);
    let part = r.part.clone();
    let pr = answer(ErrorCode::INVALID_REQUEST, -1).with_record_errors(vec![
        BatchIndexAndErrorMessage::default()
            .with_batch_index(0)
            .with_batch_index_error_message(Some(StrBytes::from_static_str("no key"))),
    ]);
    r.sender
        .handle_response(vec![(part, a)], response(vec![pr]), 9, Instant::now());
    let err = settled(fa.into_iter().next().unwrap()).unwrap_err();
    assert!(err.to_string().contains("record 0: no key"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn a_partition_missing_from_the_response_fails_as_a_protocol_error() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    let part = r.part.clone();
    r.sender.handle_response(
        vec![(part, a)],
        response(vec![ok(0).with_index(5)]),
        9,
        Instant::now(),
    );
    assert!(matches!(
        settled(fa.into_iter().next().unwrap()),
        Err(Error::Protocol { .. })
    ));
    assert!(!r.part.has_unsent());
}

#[tokio::test(start_paused = true)]
async fn from_v13_partitions_are_matched_by_topic_id() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    let part = r.part.clone();
    // The topic's id is nil; a v13 answer naming the topic by name only does not match.
    let resp = ProduceResponse::default().with_responses(vec![
        TopicProduceResponse::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_topic_id(uuid::Uuid::from_u128(9))
            .with_partition_responses(vec![ok(3)]),
    ]);
    r.sender
        .handle_response(vec![(part, a)], resp, 13, Instant::now());
    assert!(matches!(
        settled(fa.into_iter().next().unwrap()),
        Err(Error::Protocol { .. })
    ));
}

#[tokio::test(start_paused = true)]
async fn a_lost_connection_retries_every_batch_of_the_request_as_maybe_written() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    r.request_failed(
        a,
        Error::ConnectionLost {
            context: ErrorContext::default(),
            reason: "reset".into(),
        },
    );
    assert!(fa.into_iter().next().unwrap().now_or_never().is_none());
    assert!(r.sender.sh.refresh.topics.lock().unwrap().contains("t"));
    advance(MAX_BACKOFF).await;
    let a = r.next(Some(P0)).unwrap();
    assert!(a.maybe_written);
    assert_eq!(a.stamp.unwrap().base_sequence, 0);
}

/// Found by the 10,000-seed kafka-sim run (seeds 895, 1068, 2379, …): a request lost
/// after the batch's delivery deadline had passed failed the batch as a plain
/// DeliveryTimeout, although the broker had appended it.
#[tokio::test(start_paused = true)]
async fn a_connection_lost_past_the_delivery_deadline_fails_as_possibly_persisted() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    advance(r.sender.sh.config.delivery_timeout).await;
    r.request_failed(
        a,
        Error::ConnectionLost {
            context: ErrorContext::default(),
            reason: "reset".into(),
        },
    );
    let e = settled(fa.into_iter().next().unwrap()).expect_err("past its deadline");
    match e {
        Error::PossiblyPersisted { cause, .. } => {
            assert!(matches!(*cause, Error::DeliveryTimeout { .. }), "{cause:?}")
        }
        other => panic!("a lost request past the deadline is possibly persisted: {other:?}"),
    }
}

/// Found by kafka-sim (a duplicated response frame): the written request's batch failed
/// as a plain protocol error although the broker had appended it.
#[tokio::test(start_paused = true)]
async fn a_protocol_error_after_the_write_fails_the_batch_as_possibly_persisted() {
    let mut r = rig();
    let (a, fa) = r.in_flight(1, Some(P0));
    r.request_failed(
        a,
        Error::Protocol {
            context: ErrorContext::default(),
            message: "correlation id mismatch: expected 8 for Produce, got 7".into(),
        },
    );
    let e = settled(fa.into_iter().next().unwrap()).expect_err("a protocol error is not retried");
    assert!(e.is_indeterminate(), "{e:?}");
    assert!(matches!(e, Error::PossiblyPersisted { .. }), "{e:?}");
}

#[tokio::test(start_paused = true)]
async fn acks_zero_settles_without_offsets() {
    let mut r = rig_with(
        Producer::builder()
            .acks(crate::producer::Acks::None)
            .enable_idempotence(false),
    );
    let (a, fa) = r.in_flight(2, None);
    let part = r.part.clone();
    r.sender.handle(Completed {
        batches: vec![(part, a)],
        result: Ok(None),
        version: 9,
        conn: None,
    });
    for f in fa {
        assert_eq!(settled(f).unwrap().offset, -1);
    }
    assert!(r.next(None).is_none(), "nothing left");
}

#[tokio::test(start_paused = true)]
async fn drain_takes_a_ready_partition_once() {
    let mut r = rig();
    let _f = append(&r.part, &r.sender.sh.res, 10);
    let sh = r.sender.sh.clone();
    let _g = sh.flush_guard();
    let mut wake = None;
    assert!(r.sender.drain(Some(P0), &mut wake).is_some());
    assert!(!r.part.has_unsent());
    assert!(r.sender.drain(Some(P0), &mut wake).is_none());
}

#[tokio::test(start_paused = true)]
async fn drain_before_linger_returns_nothing_and_the_wake_time() {
    let mut r = rig();
    let _f = append(&r.part, &r.sender.sh.res, 10);
    let mut wake = None;
    assert!(r.sender.drain(Some(P0), &mut wake).is_none());
    assert_eq!(wake, Some(Instant::now() + r.sender.sh.config.linger));
}

#[tokio::test(start_paused = true)]
async fn a_v1_transaction_drains_a_partition_only_once_it_was_added() {
    let mut r = rig_on(txn_shared(false), None);
    r.sender.sh.set_producer(P0);
    let txn = r.sender.sh.txn.clone().unwrap();
    let generation = txn.begin();
    let _f = append(&r.part, &r.sender.sh.res, 10);
    let sh = r.sender.sh.clone();
    let _g = sh.flush_guard();
    let mut wake = None;
    assert!(r.sender.drain(Some(P0), &mut wake).is_none());
    let pending = txn.take_pending_add();
    assert_eq!(pending.len(), 1, "AddPartitionsToTxn asked");
    assert!(Arc::ptr_eq(&pending[0], &r.part));
    assert!(r.part.has_unsent());
    r.part.txn_added.store(generation, Ordering::Release);
    assert!(r.sender.drain(Some(P0), &mut wake).is_some());
    assert!(!r.part.has_unsent());
}

#[tokio::test(start_paused = true)]
async fn a_partition_added_to_an_earlier_transaction_waits_again() {
    let mut r = rig_on(txn_shared(false), None);
    r.sender.sh.set_producer(P0);
    let txn = r.sender.sh.txn.clone().unwrap();
    let first = txn.begin();
    r.part.txn_added.store(first, Ordering::Release);
    txn.end();
    txn.begin();
    let _f = append(&r.part, &r.sender.sh.res, 10);
    let sh = r.sender.sh.clone();
    let _g = sh.flush_guard();
    let mut wake = None;
    assert!(r.sender.drain(Some(P0), &mut wake).is_none());
    assert_eq!(txn.take_pending_add().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_v2_transaction_drains_without_adding() {
    let mut r = rig_on(txn_shared(true), None);
    r.sender.sh.set_producer(P0);
    let txn = r.sender.sh.txn.clone().unwrap();
    txn.begin();
    let _f = append(&r.part, &r.sender.sh.res, 10);
    let sh = r.sender.sh.clone();
    let _g = sh.flush_guard();
    let mut wake = None;
    assert!(r.sender.drain(Some(P0), &mut wake).is_some());
    assert!(txn.take_pending_add().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_transactional_producer_fails_a_batch_on_unknown_producer_id() {
    let mut r = rig_on(txn_shared(false), None);
    r.sender.sh.set_producer(P0);
    let txn = r.sender.sh.txn.clone().unwrap();
    txn.begin();
    let (a, fa) = r.in_flight(1, Some(P0));
    r.fail(a, ErrorCode::UNKNOWN_PRODUCER_ID);
    let err = settled(fa.into_iter().next().unwrap()).unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UNKNOWN_PRODUCER_ID));
    assert!(txn.failure().is_some(), "the transaction must abort");
    assert!(txn.take_bump(), "bumped after the abort");
    assert_eq!(r.sender.sh.drain_identity(), Ok(Some(P0)));
}
