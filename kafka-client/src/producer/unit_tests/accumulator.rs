//! `accumulator.rs`: ready/drain, linger, force, routing, in-flight rules, retries,
//! backoff holds, expiry and per-partition sequences (Java's `RecordAccumulatorTest`).

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::{Instant, advance};

use super::*;
use crate::error::Error;
use crate::producer::accumulator::{NO_LEADER, Wake};
use crate::producer::batch::Stamp;
use crate::producer::delivery::BatchAck;

fn ack(base_offset: i64) -> crate::Result<BatchAck> {
    Ok(BatchAck {
        base_offset,
        log_append_time: None,
    })
}

#[tokio::test(start_paused = true)]
async fn not_ready_before_linger_and_wakes_at_its_end() {
    let (_t, p) = partition();
    let res = res(16384);
    let created = Instant::now();
    let _f = append(&p, &res, 10);
    advance(LINGER - Duration::from_millis(1)).await;
    let took = take(&p, &rules(1, Instant::now()));
    assert!(took.batch.is_none());
    assert_eq!(took.wake, Some(created + LINGER));
    assert!(p.has_unsent());
}

#[tokio::test(start_paused = true)]
async fn ready_at_exactly_linger() {
    let (_t, p) = partition();
    let res = res(16384);
    let _f = append(&p, &res, 10);
    advance(LINGER).await;
    let took = take(&p, &rules(1, Instant::now()));
    let b = took.batch.expect("lingered long enough");
    assert_eq!(b.records(), 1);
    assert_eq!(took.wake, None);
    assert!(!p.has_unsent());
}

#[tokio::test(start_paused = true)]
async fn force_makes_an_open_batch_ready_at_once() {
    let (_t, p) = partition();
    let res = res(16384);
    let _f = append(&p, &res, 10);
    let mut r = rules(1, Instant::now());
    r.force = true;
    assert!(take(&p, &r).batch.is_some());
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_is_ready_without_linger() {
    let (_t, p) = partition();
    let res = res(200);
    // Records of 60 bytes: the third does not fit a 200-byte batch.
    for _ in 0..3 {
        drop(append(&p, &res, 60));
    }
    let mut r = rules(1, Instant::now());
    r.linger = Duration::from_secs(3600);
    let b = take(&p, &r).batch.expect("the first batch is closed");
    assert_eq!(b.records(), 2);
    // The open batch with the third record still lingers.
    let took = take(&p, &r);
    assert!(took.batch.is_none());
    assert!(took.wake.is_some());
}

#[tokio::test(start_paused = true)]
async fn append_wakes_the_sender_on_open_and_on_full_only() {
    let (_t, p) = partition();
    let res = res(200);
    let w = |len: usize| {
        p.append(&res, 0, None, Some(&vec![0; len]), &[], 0)
            .unwrap()
            .1
    };
    assert_eq!(w(10), Wake::Sender, "a batch was opened");
    assert_eq!(w(10), Wake::No, "appended to the open batch");
    // 61 + 17 + 17 + 105 = exactly batch.size: it fits and fills the batch.
    assert_eq!(w(96), Wake::Sender, "the batch became full");
    assert_eq!(w(10), Wake::Sender, "a new batch was opened");
    let full = take_now(&p, 1, None).unwrap();
    assert_eq!((full.records(), full.size()), (3, 200));
}

#[tokio::test(start_paused = true)]
async fn a_record_larger_than_batch_size_gets_a_batch_of_its_own() {
    let (_t, p) = partition();
    let res = res(100);
    drop(append(&p, &res, 500));
    let b = take(&p, &rules(1, Instant::now()))
        .batch
        .expect("full at once");
    assert_eq!(b.records(), 1);
    assert!(b.size() > 500);
}

#[tokio::test(start_paused = true)]
async fn not_drained_for_a_broker_that_does_not_lead_it() {
    let (_t, p) = partition();
    let res = res(16384);
    let _f = append(&p, &res, 10);
    let mut r = rules(2, Instant::now());
    r.force = true;
    assert!(take(&p, &r).batch.is_none());
    assert!(p.has_unsent());
    p.leader.store(2, Ordering::Release);
    assert!(take(&p, &r).batch.is_some(), "broker 2 leads it now");
}

#[tokio::test(start_paused = true)]
async fn a_partition_in_flight_to_one_broker_is_not_drained_for_another() {
    let (_t, p) = partition();
    let res = res(16384);
    let _f1 = append(&p, &res, 10);
    let first = take_now(&p, 1, None).unwrap();
    let _f2 = append(&p, &res, 10);
    // The leader moves to broker 2 while the first batch is in flight to broker 1.
    p.leader.store(2, Ordering::Release);
    assert!(take_now(&p, 2, None).is_none());
    p.answered();
    let second = take_now(&p, 2, None).expect("the old leader answered");
    assert!(first.order < second.order);
}

#[tokio::test(start_paused = true)]
async fn several_batches_of_a_partition_may_be_in_flight_to_its_leader() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..4 {
        drop(append(&p, &res, 60));
    }
    let a = take_now(&p, 1, None).unwrap();
    let b = take_now(&p, 1, None).unwrap();
    assert!(a.order < b.order);
}

#[tokio::test(start_paused = true)]
async fn a_retried_batch_waits_until_nothing_of_its_partition_is_in_flight() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..6 {
        drop(append(&p, &res, 60));
    }
    let mut a = take_now(&p, 1, None).unwrap();
    let _b = take_now(&p, 1, None).unwrap();
    a.attempts += 1;
    p.requeue(a, None); // a answered, b still in flight
    assert!(take_now(&p, 1, None).is_none(), "b is in flight: a waits");
    p.answered(); // b answered
    let a = take_now(&p, 1, None).expect("a goes");
    assert!(a.is_retry());
    assert!(
        take_now(&p, 1, None).is_none(),
        "a retry goes alone: nothing follows it"
    );
    p.answered();
    let c = take_now(&p, 1, None).expect("after the retry's answer the partition goes on");
    assert!(!c.is_retry());
}

#[tokio::test(start_paused = true)]
async fn a_fresh_batch_does_not_wait_for_others_in_flight() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..4 {
        drop(append(&p, &res, 60));
    }
    let _a = take_now(&p, 1, None).unwrap();
    assert!(take_now(&p, 1, None).is_some());
}

#[tokio::test(start_paused = true)]
async fn requeued_batches_go_back_to_their_place() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..6 {
        drop(append(&p, &res, 60));
    }
    let a = take_now(&p, 1, None).unwrap();
    let b = take_now(&p, 1, None).unwrap();
    let (oa, ob) = (a.order, b.order);
    // Answers in reverse order: b is requeued first.
    p.requeue(b, None);
    p.requeue(a, None);
    assert_eq!(take_now(&p, 1, None).unwrap().order, oa);
    assert_eq!(take_now(&p, 1, None).unwrap().order, ob);
    let c = take_now(&p, 1, None).unwrap();
    assert!(c.order > ob);
}

#[tokio::test(start_paused = true)]
async fn a_backoff_holds_the_partition_until_it_ends() {
    let (_t, p) = partition();
    let res = res(16384);
    let _f = append(&p, &res, 10);
    let mut a = take_now(&p, 1, None).unwrap();
    a.attempts += 1;
    let hold = Instant::now() + Duration::from_millis(100);
    p.requeue(a, Some(hold));
    advance(Duration::from_millis(99)).await;
    let mut r = rules(1, Instant::now());
    r.force = true;
    let took = take(&p, &r);
    assert!(took.batch.is_none());
    assert_eq!(took.wake, Some(hold));
    advance(Duration::from_millis(1)).await;
    r.now = Instant::now();
    assert!(take(&p, &r).batch.is_some(), "held until exactly the end");
}

#[tokio::test(start_paused = true)]
async fn a_shorter_backoff_does_not_shorten_a_longer_hold() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..4 {
        drop(append(&p, &res, 60));
    }
    let a = take_now(&p, 1, None).unwrap();
    let b = take_now(&p, 1, None).unwrap();
    let now = Instant::now();
    p.requeue(a, Some(now + Duration::from_millis(100)));
    p.requeue(b, Some(now + Duration::from_millis(50)));
    advance(Duration::from_millis(60)).await;
    let mut r = rules(1, Instant::now());
    r.force = true;
    let took = take(&p, &r);
    assert!(took.batch.is_none());
    assert_eq!(took.wake, Some(now + Duration::from_millis(100)));
}

#[tokio::test(start_paused = true)]
async fn next_wake_keeps_the_earliest_time() {
    let (_t, p) = partition();
    let res = res(16384);
    let _f = append(&p, &res, 10);
    let mut expired = Vec::new();
    let sooner = Instant::now() + Duration::from_millis(1);
    let mut wake = Some(sooner);
    assert!(
        p.take_ready(
            &rules(1, Instant::now()),
            usize::MAX,
            true,
            &mut expired,
            &mut wake
        )
        .is_none()
    );
    assert_eq!(wake, Some(sooner));
    let later = Instant::now() + Duration::from_secs(1);
    let mut wake = Some(later);
    let _ = p.take_ready(
        &rules(1, Instant::now()),
        usize::MAX,
        true,
        &mut expired,
        &mut wake,
    );
    assert_eq!(wake, Some(Instant::now() + LINGER));
}

#[tokio::test(start_paused = true)]
async fn a_batch_expires_at_exactly_its_delivery_timeout() {
    let (_t, p) = partition();
    let res = res(16384);
    let f = append(&p, &res, 10);
    advance(TIMEOUT - Duration::from_millis(1)).await;
    let mut r = rules(1, Instant::now());
    r.linger = Duration::from_secs(3600);
    let took = take(&p, &r);
    assert!(took.expired.is_empty());
    assert!(took.batch.is_none());
    advance(Duration::from_millis(1)).await;
    r.now = Instant::now();
    let took = take(&p, &r);
    assert_eq!(took.expired.len(), 1);
    assert!(took.batch.is_none());
    assert!(!p.has_unsent());
    drop(took);
    // Dropped unsettled: its record fails, not hangs.
    assert!(matches!(f.now_or_never(), Some(Err(Error::Closed))));
}

#[tokio::test(start_paused = true)]
async fn expiry_stops_at_the_first_batch_still_in_time() {
    let (_t, p) = partition();
    let res = res(200);
    drop(append(&p, &res, 60));
    drop(append(&p, &res, 60));
    advance(Duration::from_millis(50)).await;
    drop(append(&p, &res, 60)); // closes the first batch, opens a second
    drop(append(&p, &res, 60));
    drop(append(&p, &res, 60)); // closes the second
    advance(TIMEOUT - Duration::from_millis(50)).await;
    let took = take(&p, &rules(1, Instant::now()));
    assert_eq!(took.expired.len(), 1);
    assert_eq!(took.expired[0].records(), 2);
    let b = took.batch.expect("the second batch is still in time");
    assert_eq!(b.records(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_partition_of_another_broker_is_not_expired_by_this_one() {
    let (_t, p) = partition();
    let res = res(16384);
    let _f = append(&p, &res, 10);
    advance(TIMEOUT * 2).await;
    let took = take(&p, &rules(2, Instant::now()));
    assert!(took.expired.is_empty());
    assert!(p.has_unsent());
}

#[tokio::test(start_paused = true)]
async fn leaderless_partitions_expire_through_expire_unsent() {
    let (_t, p) = partition();
    p.leader.store(NO_LEADER, Ordering::Release);
    let res = res(16384);
    let _f = append(&p, &res, 10);
    let mut out = Vec::new();
    assert!(p.expire_unsent(Instant::now(), TIMEOUT, &mut out));
    assert!(out.is_empty());
    advance(TIMEOUT).await;
    assert!(!p.expire_unsent(Instant::now(), TIMEOUT, &mut out));
    assert_eq!(out.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_byte_budget_limits_all_but_the_first_batch() {
    let (_t, p) = partition();
    let res = res(16384);
    let _f = append(&p, &res, 100);
    let mut r = rules(1, Instant::now());
    r.force = true;
    assert!(
        take_budget(&p, &r, 50, false).batch.is_none(),
        "over budget"
    );
    assert!(p.has_unsent());
    let b = take_budget(&p, &r, 50, true).expect_batch();
    let size = b.size();
    drop(b);
    let _f = append(&p, &res, 100);
    assert!(
        take_budget(&p, &r, size, false).batch.is_some(),
        "exactly fits"
    );
}

trait ExpectBatch {
    fn expect_batch(self) -> ProducerBatch;
}
impl ExpectBatch for Took {
    fn expect_batch(self) -> ProducerBatch {
        self.batch.expect("a batch")
    }
}

#[tokio::test(start_paused = true)]
async fn without_idempotence_batches_are_not_stamped() {
    let (_t, p) = partition();
    let res = res(16384);
    let _f = append(&p, &res, 10);
    assert_eq!(take_now(&p, 1, None).unwrap().stamp, None);
}

#[tokio::test(start_paused = true)]
async fn sequences_start_at_zero_and_advance_by_record_count() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..5 {
        drop(append(&p, &res, 60));
    }
    let a = take_now(&p, 1, Some(P0)).unwrap();
    let b = take_now(&p, 1, Some(P0)).unwrap();
    let c = take_now(&p, 1, Some(P0)).unwrap();
    let seqs: Vec<_> = [&a, &b, &c]
        .iter()
        .map(|x| x.stamp.map(|s| (s.producer, s.base_sequence)))
        .collect();
    assert_eq!(
        seqs,
        [Some((P0, 0)), Some((P0, 2)), Some((P0, 4))],
        "records: {} {} {}",
        a.records(),
        b.records(),
        c.records()
    );
}

#[tokio::test(start_paused = true)]
async fn a_retried_batch_keeps_its_sequence() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..6 {
        drop(append(&p, &res, 60));
    }
    let mut a = take_now(&p, 1, Some(P0)).unwrap();
    let _b = take_now(&p, 1, Some(P0)).unwrap();
    a.attempts += 1;
    p.requeue(a, None);
    p.answered();
    let a = take_now(&p, 1, Some(P0)).unwrap();
    assert_eq!(a.stamp.unwrap().base_sequence, 0);
    p.answered();
    let c = take_now(&p, 1, Some(P0)).unwrap();
    assert_eq!(
        c.stamp.unwrap().base_sequence,
        4,
        "not advanced by the retry"
    );
}

#[tokio::test(start_paused = true)]
async fn a_new_identity_restarts_sequences_only_once_nothing_is_in_flight() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..5 {
        drop(append(&p, &res, 60));
    }
    let _a = take_now(&p, 1, Some(P0)).unwrap();
    assert!(
        take_now(&p, 1, Some(P1)).is_none(),
        "a batch of P0 is in flight"
    );
    p.answered();
    let b = take_now(&p, 1, Some(P1)).unwrap();
    assert_eq!(
        b.stamp,
        Some(Stamp {
            producer: P1,
            base_sequence: 0
        })
    );
    let c = take_now(&p, 1, Some(P1)).unwrap();
    assert_eq!(c.stamp.unwrap().base_sequence, 2);
}

#[tokio::test(start_paused = true)]
async fn a_batch_stamped_under_an_old_identity_that_may_be_written_is_expired() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..4 {
        drop(append(&p, &res, 60));
    }
    let mut a = take_now(&p, 1, Some(P0)).unwrap();
    a.maybe_written = true;
    a.attempts += 1;
    p.requeue(a, None);
    let took = {
        let mut r = rules(1, Instant::now());
        r.force = true;
        r.producer = Some(P1);
        take(&p, &r)
    };
    assert_eq!(took.expired.len(), 1);
    assert_eq!(
        took.expired[0].stamp.unwrap().producer,
        P0,
        "not re-stamped"
    );
    assert!(took.batch.is_none());
    let b = take_now(&p, 1, Some(P1)).expect("the next batch goes under P1");
    assert_eq!(
        b.stamp,
        Some(Stamp {
            producer: P1,
            base_sequence: 0
        })
    );
}

#[tokio::test(start_paused = true)]
async fn a_batch_never_written_is_restamped_under_the_new_identity_bytes_included() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..3 {
        drop(append(&p, &res, 60));
    }
    let _first = take_now(&p, 1, Some(P0)).unwrap();
    let mut a = take_now(&p, 1, Some(P0)).unwrap(); // base 2
    a.encode_stamped().unwrap();
    assert_eq!(a.stamp.unwrap().base_sequence, 2);
    drop(_first);
    p.answered();
    a.attempts += 1;
    p.requeue(a, None);
    let a = take_now(&p, 1, Some(P1)).expect("re-stamped");
    assert_eq!(
        a.stamp,
        Some(Stamp {
            producer: P1,
            base_sequence: 0
        })
    );
    let bytes = a.bytes().unwrap().clone();
    let decoded = crate::records::decode_batches(bytes, Default::default())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(decoded.producer_id(), P1.id);
    assert_eq!(decoded.producer_epoch(), P1.epoch);
    assert_eq!(decoded.base_sequence(), 0);
    assert_eq!(decoded.records_vec().unwrap().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn acknowledgements_decide_which_batch_is_next() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..5 {
        drop(append(&p, &res, 60));
    }
    let a = take_now(&p, 1, Some(P0)).unwrap();
    let b = take_now(&p, 1, Some(P0)).unwrap();
    let (sa, sb) = (a.stamp.unwrap(), b.stamp.unwrap());
    assert!(
        p.is_next_to_ack(sa),
        "nothing acknowledged: sequence 0 is next"
    );
    assert!(!p.is_next_to_ack(sb));
    p.acked(a.stamp, a.records());
    assert!(!p.is_next_to_ack(sa));
    assert!(p.is_next_to_ack(sb));
    // Another identity's acknowledgement changes nothing.
    p.acked(
        Some(Stamp {
            producer: P1,
            base_sequence: 2,
        }),
        2,
    );
    assert!(p.is_next_to_ack(sb));
    assert!(!p.is_next_to_ack(Stamp {
        producer: P1,
        base_sequence: 2
    }));
    // An unstamped acknowledgement changes nothing.
    p.acked(None, 10);
    assert!(p.is_next_to_ack(sb));
}

#[tokio::test(start_paused = true)]
async fn a_new_identity_forgets_old_acknowledgements() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..5 {
        drop(append(&p, &res, 60));
    }
    let a = take_now(&p, 1, Some(P0)).unwrap();
    p.acked(a.stamp, a.records());
    p.answered();
    let b = take_now(&p, 1, Some(P1)).unwrap();
    assert!(p.is_next_to_ack(b.stamp.unwrap()), "sequence 0 under P1");
}

#[tokio::test(start_paused = true)]
async fn split_halves_go_back_before_later_batches() {
    let (_t, p) = partition();
    let res = res(400);
    for _ in 0..7 {
        drop(append(&p, &res, 60));
    }
    let mut a = take_now(&p, 1, Some(P0)).unwrap();
    let n = a.records();
    assert!(n >= 4, "{n}");
    let parts = a.split().unwrap();
    drop(a);
    p.requeue_split(parts);
    let first = take_now(&p, 1, Some(P0)).expect("first half");
    assert!(first.is_retry(), "split halves go alone");
    assert_eq!(first.stamp.unwrap().base_sequence, 0);
    assert!(take_now(&p, 1, Some(P0)).is_none());
    p.answered();
    let second = take_now(&p, 1, Some(P0)).expect("second half");
    assert_eq!(first.records() + second.records(), n);
    assert_eq!(second.stamp.unwrap().base_sequence, first.records() as i32);
    p.answered();
    let next = take_now(&p, 1, Some(P0)).unwrap();
    assert_eq!(next.stamp.unwrap().base_sequence, n as i32);
}

#[tokio::test(start_paused = true)]
async fn fail_unsent_fails_queued_and_open_batches() {
    let (_t, p) = partition();
    let res = res(200);
    let f1 = append(&p, &res, 60);
    drop(append(&p, &res, 60));
    let f3 = append(&p, &res, 60); // opens a second batch
    let err = Error::Config("aborted".into());
    assert!(!p.fail_unsent(&err), "nothing was stamped");
    assert!(!p.has_unsent());
    assert!(matches!(f1.now_or_never(), Some(Err(Error::Config(_)))));
    assert!(matches!(f3.now_or_never(), Some(Err(Error::Config(_)))));
    assert!(res.is_idle());
}

#[tokio::test(start_paused = true)]
async fn fail_unsent_reports_a_stamped_batch() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..4 {
        drop(append(&p, &res, 60));
    }
    let mut a = take_now(&p, 1, Some(P0)).unwrap();
    a.attempts += 1;
    p.requeue(a, None);
    assert!(p.fail_unsent(&Error::Closed));
}

#[tokio::test(start_paused = true)]
async fn clear_hands_back_every_unsent_batch() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..3 {
        drop(append(&p, &res, 60));
    }
    let all = p.clear();
    assert_eq!(all.iter().map(|b| b.records()).sum::<u32>(), 3);
    assert_eq!(all.len(), 2);
    assert!(!p.has_unsent());
}

#[tokio::test(start_paused = true)]
async fn a_completed_batch_settles_its_records_with_offsets() {
    let (_t, p) = partition();
    let res = res(16384);
    let f0 = append(&p, &res, 10);
    let f1 = append(&p, &res, 10);
    let b = take_now(&p, 1, None).unwrap();
    b.complete(ack(40));
    assert_eq!(f0.now_or_never().unwrap().unwrap().offset, 40);
    assert_eq!(f1.now_or_never().unwrap().unwrap().offset, 41);
}

#[test]
fn metadata_updates_report_changed_leaders_and_grow_partitions() {
    let t = TopicEntry::new(&topic_info("t", &[Some(1), Some(2)]));
    assert_eq!(t.partitions().len(), 2);
    assert_eq!(
        t.update(&topic_info("t", &[Some(1), Some(2)])),
        Vec::<i32>::new()
    );
    assert_eq!(t.update(&topic_info("t", &[Some(3), Some(2)])), vec![3]);
    assert_eq!(
        t.update(&topic_info("t", &[Some(3), None, Some(4)])),
        vec![NO_LEADER, 4]
    );
    let parts = t.partitions();
    assert_eq!(parts.len(), 3);
    assert_eq!(
        parts
            .iter()
            .map(|p| (p.partition, p.leader()))
            .collect::<Vec<_>>(),
        [(0, 3), (1, NO_LEADER), (2, 4)]
    );
}

#[test]
fn partitions_never_shrink_and_keep_their_state() {
    let t = TopicEntry::new(&topic_info("t", &[Some(1), Some(1)]));
    let before = t.partitions()[1].clone();
    t.update(&topic_info("t", &[Some(1)]));
    assert_eq!(t.partitions().len(), 2);
    assert!(Arc::ptr_eq(&before, &t.partitions()[1]));
    assert_eq!(t.partitions()[1].leader(), NO_LEADER, "no longer listed");
}

#[test]
fn a_vanished_topic_loses_its_leaders_once() {
    let t = TopicEntry::new(&topic_info("t", &[Some(1), None]));
    assert!(t.clear_leaders());
    assert!(t.partitions().iter().all(|p| p.leader() == NO_LEADER));
    assert!(!t.clear_leaders(), "nothing changed the second time");
}

#[test]
fn the_topic_id_follows_metadata() {
    let mut info = topic_info("t", &[Some(1)]);
    let t = TopicEntry::new(&info);
    assert!(t.meta.id().is_nil());
    info.id = uuid::Uuid::from_u128(42);
    t.update(&info);
    assert_eq!(t.meta.id(), uuid::Uuid::from_u128(42));
    assert_eq!(&*t.meta.name, "t");
}

#[tokio::test(start_paused = true)]
async fn a_late_acknowledgement_does_not_move_the_acknowledged_end_back() {
    let (_t, p) = partition();
    let res = res(200);
    for _ in 0..6 {
        drop(append(&p, &res, 60));
    }
    let a = take_now(&p, 1, Some(P0)).unwrap(); // 0..2
    let b = take_now(&p, 1, Some(P0)).unwrap(); // 2..4
    let c = take_now(&p, 1, Some(P0)).unwrap(); // 4..6
    // a failed with NOT_ENOUGH_REPLICAS_AFTER_APPEND (it is in the log), b was
    // acknowledged, then a's retry is answered DUPLICATE_SEQUENCE_NUMBER (a success).
    p.acked(b.stamp, b.records());
    p.acked(a.stamp, a.records());
    assert!(
        p.is_next_to_ack(c.stamp.unwrap()),
        "sequences 0..4 are acknowledged: 4 is next"
    );
}

#[tokio::test(start_paused = true)]
async fn load_counts_waiting_batches_and_skips_a_stuck_partition() {
    let (_t, p) = partition();
    let res = res(200);
    let timeout = Some(Duration::from_millis(500));
    assert_eq!(p.load(Instant::now(), timeout), Some(0), "empty");
    for _ in 0..5 {
        drop(append(&p, &res, 60));
    }
    // Two closed batches of two records and the open one.
    assert_eq!(p.load(Instant::now(), None), Some(3));
    // Its sender looks at it: it stays available while the look is recent.
    let mut r = rules(1, Instant::now());
    r.linger = Duration::from_secs(3600);
    assert!(take(&p, &r).batch.is_some());
    assert_eq!(p.load(Instant::now(), timeout), Some(2));
    advance(Duration::from_millis(500)).await;
    assert_eq!(
        p.load(Instant::now(), timeout),
        Some(2),
        "exactly the timeout"
    );
    advance(Duration::from_millis(1)).await;
    assert_eq!(
        p.load(Instant::now(), timeout),
        None,
        "no look for too long"
    );
    assert_eq!(p.load(Instant::now(), None), Some(2), "timeout off");
    // Another look makes it available again.
    assert!(take(&p, &rules(1, Instant::now())).batch.is_some());
    assert_eq!(p.load(Instant::now(), timeout), Some(1));
    // No leader: never available.
    p.leader.store(NO_LEADER, Ordering::Release);
    assert_eq!(p.load(Instant::now(), None), None);
}

#[tokio::test(start_paused = true)]
async fn an_idle_partition_stays_available_however_long_unvisited_and_broker_0_leads() {
    let t = TopicEntry::new(&topic_info("t", &[Some(0)]));
    let p = t.partitions()[0].clone();
    let timeout = Some(Duration::from_millis(500));
    advance(Duration::from_secs(60)).await;
    assert_eq!(
        p.load(Instant::now(), timeout),
        Some(0),
        "nothing waits, so nothing is stuck; node 0 is a leader like any other"
    );
}
