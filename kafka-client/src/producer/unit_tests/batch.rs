//! `batch.rs`: sequence arithmetic, splitting, re-stamping, settlement and the bytes a
//! batch gives back to `buffer.memory`.

use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;

use super::*;
use crate::error::Error;
use crate::producer::batch::{Stamp, seq_add};
use crate::producer::delivery::BatchAck;
use crate::records::{BatchMeta, Header, decode_batches};

fn ack(base_offset: i64) -> crate::Result<BatchAck> {
    Ok(BatchAck {
        base_offset,
        log_append_time: None,
    })
}

/// A batch of `n` records "r0".."r{n-1}" (each charging 10 bytes, reserved first).
fn batch_of(res: &Arc<Resources>, n: u32) -> (ProducerBatch, Vec<DeliveryFuture>) {
    let mut b = ProducerBatch::open(res, "t".into(), 3, order(0), Instant::now());
    let mut futs = Vec::new();
    for i in 0..n {
        res.memory.try_reserve(10).unwrap();
        let v = format!("r{i}");
        let h = [Header::new("i", Some(bytes::Bytes::from(i.to_string())))];
        futs.push(
            b.try_append(100 + i64::from(i), Some(b"k"), Some(v.as_bytes()), &h, 10)
                .unwrap()
                .unwrap(),
        );
    }
    (b, futs)
}

fn values(b: &ProducerBatch) -> Vec<String> {
    let bytes = b.bytes().expect("encoded").clone();
    let batch = decode_batches(bytes, Default::default())
        .next()
        .unwrap()
        .unwrap();
    batch
        .records_vec()
        .unwrap()
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap())
        .collect()
}

#[test]
fn seq_add_adds_within_range() {
    assert_eq!(seq_add(0, 0), 0);
    assert_eq!(seq_add(0, 5), 5);
    assert_eq!(seq_add(10, 1), 11);
    assert_eq!(seq_add(i32::MAX - 5, 5), i32::MAX);
}

#[test]
fn seq_add_wraps_at_i32_max_to_zero() {
    assert_eq!(seq_add(i32::MAX, 1), 0);
    assert_eq!(seq_add(i32::MAX, 0), i32::MAX);
    assert_eq!(seq_add(i32::MAX - 1, 3), 1);
    assert_eq!(seq_add(i32::MAX, 2), 1);
}

#[test]
fn seq_add_takes_any_u32() {
    // 5 + (2^32 - 1) = 2^32 + 4, and 2^32 is twice the sequence space.
    assert_eq!(seq_add(5, u32::MAX), 4);
    assert_eq!(seq_add(0, 1 << 31), 0);
    assert_eq!(seq_add(1, (1 << 31) - 1), 0);
}

#[tokio::test(start_paused = true)]
async fn a_new_batch_is_not_a_retry_until_it_fails() {
    let r = res(16384);
    let (mut b, _f) = batch_of(&r, 1);
    assert!(!b.is_retry());
    b.attempts = 1;
    assert!(b.is_retry());
}

#[tokio::test(start_paused = true)]
async fn the_deadline_is_creation_plus_delivery_timeout() {
    let r = res(16384);
    let (b, _f) = batch_of(&r, 1);
    assert_eq!(
        b.deadline(Duration::from_secs(3)),
        Instant::now() + Duration::from_secs(3)
    );
}

#[tokio::test(start_paused = true)]
async fn the_timeout_error_carries_and_takes_the_last_error() {
    let r = res(16384);
    let (mut b, _f) = batch_of(&r, 1);
    b.last_error = Some(Error::Config("boom".into()));
    match b.timeout_error(Duration::from_secs(9)) {
        Error::DeliveryTimeout {
            topic,
            partition,
            timeout,
            last_error,
        } => {
            assert_eq!((topic.as_str(), partition), ("t", 3));
            assert_eq!(timeout, Duration::from_secs(9));
            assert!(matches!(last_error.as_deref(), Some(Error::Config(_))));
        }
        other => panic!("{other:?}"),
    }
    assert!(b.last_error.is_none());
}

#[tokio::test(start_paused = true)]
async fn encoding_writes_the_stamp_and_the_transactional_flag() {
    let mut r = Resources::new(1 << 20, 16384, Compression::None);
    r.transactional = true;
    let r = Arc::new(r);
    let (mut b, _f) = batch_of(&r, 2);
    b.stamp = Some(Stamp {
        producer: P1,
        base_sequence: 41,
    });
    b.encode_stamped().unwrap();
    let d = decode_batches(b.bytes().unwrap().clone(), Default::default())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(
        (d.producer_id(), d.producer_epoch(), d.base_sequence()),
        (7, 1, 41)
    );
    assert!(d.is_transactional());
    // Encoding twice does nothing: the bytes stay the same.
    let before = b.bytes().unwrap().clone();
    b.encode(&BatchMeta::default()).unwrap();
    assert_eq!(b.bytes().unwrap(), &before);
}

#[tokio::test(start_paused = true)]
async fn an_unstamped_batch_is_encoded_without_producer() {
    let r = res(16384);
    let (mut b, _f) = batch_of(&r, 1);
    b.encode_stamped().unwrap();
    let d = decode_batches(b.bytes().unwrap().clone(), Default::default())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!((d.producer_id(), d.base_sequence()), (-1, -1));
    assert!(!d.is_transactional());
}

#[tokio::test(start_paused = true)]
async fn restamping_encoded_bytes_keeps_the_records() {
    let r = res(16384);
    let (mut b, _f) = batch_of(&r, 3);
    b.stamp = Some(Stamp {
        producer: P0,
        base_sequence: 9,
    });
    b.encode_stamped().unwrap();
    b.restamp(Stamp {
        producer: P1,
        base_sequence: 0,
    })
    .unwrap();
    assert_eq!(b.stamp.unwrap().producer, P1);
    let d = decode_batches(b.bytes().unwrap().clone(), Default::default())
        .next()
        .unwrap()
        .expect("a valid CRC after re-stamping");
    assert_eq!((d.producer_epoch(), d.base_sequence()), (1, 0));
    assert_eq!(values(&b), ["r0", "r1", "r2"]);
}

#[tokio::test(start_paused = true)]
async fn restamping_before_encoding_only_sets_the_stamp() {
    let r = res(16384);
    let (mut b, _f) = batch_of(&r, 1);
    b.restamp(Stamp {
        producer: P1,
        base_sequence: 5,
    })
    .unwrap();
    assert!(b.bytes().is_none(), "not encoded yet");
    b.encode_stamped().unwrap();
    let d = decode_batches(b.bytes().unwrap().clone(), Default::default())
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(d.base_sequence(), 5);
}

#[tokio::test(start_paused = true)]
async fn splitting_keeps_record_order_and_every_records_future() {
    let r = res(16384);
    let (mut b, futs) = batch_of(&r, 5);
    let [mut first, mut second] = b.split().unwrap();
    assert_eq!((first.records(), second.records()), (2, 3));
    first.encode_stamped().unwrap();
    second.encode_stamped().unwrap();
    assert_eq!(values(&first), ["r0", "r1"]);
    assert_eq!(values(&second), ["r2", "r3", "r4"]);
    drop(b);
    first.complete(ack(100));
    second.complete(ack(200));
    let offsets: Vec<i64> = futs
        .into_iter()
        .map(|f| f.now_or_never().unwrap().unwrap().offset)
        .collect();
    assert_eq!(offsets, [100, 101, 200, 201, 202]);
}

#[tokio::test(start_paused = true)]
async fn split_parts_keep_timestamps_keys_and_headers() {
    let r = res(16384);
    let (mut b, _f) = batch_of(&r, 2);
    let [mut first, mut second] = b.split().unwrap();
    first.encode_stamped().unwrap();
    second.encode_stamped().unwrap();
    let rec = |x: &ProducerBatch| {
        decode_batches(x.bytes().unwrap().clone(), Default::default())
            .next()
            .unwrap()
            .unwrap()
            .records_vec()
            .unwrap()
            .remove(0)
    };
    let (a, c) = (rec(&first), rec(&second));
    assert_eq!((a.timestamp, c.timestamp), (100, 101));
    assert_eq!(c.key.as_deref(), Some(&b"k"[..]));
    assert_eq!(c.headers[0].value.as_deref(), Some(&b"1"[..]));
}

#[tokio::test(start_paused = true)]
async fn a_split_failure_of_one_half_fails_only_its_records() {
    let r = res(16384);
    let (mut b, futs) = batch_of(&r, 4);
    let [first, second] = b.split().unwrap();
    first.complete(ack(0));
    second.complete(Err(Error::Closed));
    let got: Vec<bool> = futs
        .into_iter()
        .map(|f| f.now_or_never().unwrap().is_ok())
        .collect();
    assert_eq!(got, [true, true, false, false]);
}

#[tokio::test(start_paused = true)]
async fn split_halves_keep_their_sequences_across_the_wrap() {
    let r = res(16384);
    let (mut b, _f) = batch_of(&r, 5);
    b.stamp = Some(Stamp {
        producer: P0,
        base_sequence: i32::MAX - 1,
    });
    let [first, second] = b.split().unwrap();
    assert_eq!(first.stamp.unwrap().base_sequence, i32::MAX - 1);
    assert_eq!(
        second.stamp,
        Some(Stamp {
            producer: P0,
            base_sequence: 0
        })
    );
}

#[tokio::test(start_paused = true)]
async fn split_halves_inherit_attempts_and_the_written_mark_and_go_in_order() {
    let r = res(16384);
    let (mut b, _f) = batch_of(&r, 3);
    b.order = order(4);
    b.attempts = 2;
    b.maybe_written = true;
    b.last_error = Some(Error::Closed);
    let created = b.created;
    let [first, second] = b.split().unwrap();
    for p in [&first, &second] {
        assert_eq!(p.attempts, 2);
        assert!(p.maybe_written);
        assert!(matches!(p.last_error, Some(Error::Closed)));
        assert_eq!(p.created, created, "the delivery deadline does not restart");
        assert!(p.is_retry());
        assert_eq!((&**p.topic(), p.partition()), ("t", 3));
    }
    assert!(order(4) < first.order);
    assert!(first.order < second.order);
    assert!(second.order < order(5));
}

#[tokio::test(start_paused = true)]
async fn a_fresh_split_half_is_a_retry_by_its_place() {
    let r = res(16384);
    let (mut b, _f) = batch_of(&r, 2);
    let [first, _second] = b.split().unwrap();
    assert_eq!(first.attempts, 0);
    assert!(first.is_retry());
}

#[tokio::test(start_paused = true)]
async fn halves_split_again_stay_ordered() {
    let r = res(16384);
    let (mut b, futs) = batch_of(&r, 8);
    let [mut first, mut second] = b.split().unwrap();
    let [f1, f2] = first.split().unwrap();
    let [s1, s2] = second.split().unwrap();
    let orders = [f1.order, f2.order, s1.order, s2.order];
    assert!(orders.windows(2).all(|w| w[0] < w[1]), "{orders:?}");
    for (i, p) in [f1, f2, s1, s2].into_iter().enumerate() {
        p.complete(ack(10 * i as i64));
    }
    let offsets: Vec<i64> = futs
        .into_iter()
        .map(|f| f.now_or_never().unwrap().unwrap().offset)
        .collect();
    assert_eq!(offsets, [0, 1, 10, 11, 20, 21, 30, 31]);
}

#[tokio::test(start_paused = true)]
async fn a_batch_of_one_record_cannot_be_split_and_is_left_unchanged() {
    let r = res(16384);
    let (mut b, f) = batch_of(&r, 1);
    assert!(b.split().is_err());
    assert_eq!(b.records(), 1);
    b.complete(ack(5));
    assert_eq!(
        f.into_iter()
            .next()
            .unwrap()
            .now_or_never()
            .unwrap()
            .unwrap()
            .offset,
        5
    );
}

#[tokio::test(start_paused = true)]
async fn memory_is_released_exactly_once_on_completion() {
    let r = res(16384);
    let cap = r.memory.capacity();
    let (b, futs) = batch_of(&r, 3);
    assert_eq!(r.memory.available(), cap - 30);
    b.complete(ack(0));
    assert_eq!(r.memory.available(), cap);
    drop(futs);
    assert_eq!(r.memory.available(), cap, "not twice");
}

#[tokio::test(start_paused = true)]
async fn memory_is_released_exactly_once_on_failure() {
    let r = res(16384);
    let cap = r.memory.capacity();
    let (b, _f) = batch_of(&r, 2);
    b.complete(Err(Error::Closed));
    assert_eq!(r.memory.available(), cap);
}

#[tokio::test(start_paused = true)]
async fn split_moves_the_charge_to_the_halves() {
    let r = res(16384);
    let cap = r.memory.capacity();
    let mut b = ProducerBatch::open(&r, "t".into(), 3, order(0), Instant::now());
    for charge in [10, 10, 11] {
        r.memory.try_reserve(charge).unwrap();
        let _f = b
            .try_append(0, None, Some(b"v"), &[], charge)
            .unwrap()
            .unwrap();
    }
    let [first, second] = b.split().unwrap();
    drop(b);
    assert_eq!(
        r.memory.available(),
        cap - 31,
        "the split batch charges nothing"
    );
    first.complete(ack(0));
    assert_eq!(
        r.memory.available(),
        cap - 16,
        "the first half gave back 31 / 2"
    );
    second.complete(ack(0));
    assert_eq!(r.memory.available(), cap);
}

#[tokio::test(start_paused = true)]
async fn an_unsettled_batch_dropped_fails_its_records_and_unregisters() {
    let r = res(16384);
    let (b, futs) = batch_of(&r, 2);
    assert!(!r.is_idle());
    assert_eq!(r.snapshot().len(), 1);
    drop(b);
    assert!(r.is_idle());
    for f in futs {
        assert!(matches!(f.now_or_never(), Some(Err(Error::Closed))));
    }
}

#[tokio::test(start_paused = true)]
async fn fail_all_fails_every_unsettled_batch() {
    let r = res(16384);
    let (b1, f1) = batch_of(&r, 1);
    let (b2, f2) = batch_of(&r, 1);
    r.fail_all(&Error::Config("forced".into()));
    assert!(r.snapshot().is_empty());
    assert!(matches!(
        f1.into_iter().next().unwrap().now_or_never(),
        Some(Err(Error::Config(_)))
    ));
    // A later completion changes nothing.
    b2.complete(ack(1));
    assert!(matches!(
        f2.into_iter().next().unwrap().now_or_never(),
        Some(Err(Error::Config(_)))
    ));
    drop(b1);
}

#[tokio::test(start_paused = true)]
async fn the_snapshot_lists_only_unsettled_batches() {
    let r = res(16384);
    let (b1, _f1) = batch_of(&r, 1);
    let (_b2, _f2) = batch_of(&r, 1);
    assert_eq!(r.snapshot().len(), 2);
    b1.complete(ack(0));
    assert_eq!(r.snapshot().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn full_and_size_follow_batch_size() {
    let r = res(100);
    let mut b = ProducerBatch::open(&r, "t".into(), 0, order(0), Instant::now());
    assert_eq!(b.size(), crate::records::BATCH_HEADER_SIZE);
    assert!(!b.is_full());
    let _f = b
        .try_append(0, None, Some(&[0; 20]), &[], 0)
        .unwrap()
        .unwrap();
    assert!(!b.is_full());
    assert!(
        b.try_append(0, None, Some(&[0; 40]), &[], 0)
            .unwrap()
            .is_none()
    );
    assert_eq!(b.records(), 1);
    b.encode_stamped().unwrap();
    assert!(b.is_full(), "an encoded batch takes nothing more");
    assert!(b.try_append(0, None, Some(b"x"), &[], 0).unwrap().is_none());
    assert_eq!(b.size(), b.bytes().unwrap().len());
}

#[test]
fn sequence_order_survives_the_wrap() {
    use crate::producer::batch::seq_after;
    assert!(seq_after(5, 4));
    assert!(!seq_after(4, 5));
    assert!(!seq_after(7, 7));
    assert!(seq_after(0, i32::MAX), "0 follows i32::MAX");
    assert!(seq_after(3, i32::MAX - 2));
    assert!(!seq_after(i32::MAX, 0));
}
