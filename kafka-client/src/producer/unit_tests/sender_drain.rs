//! `sender.rs`, `drain` and `produce_request`: which ready batches one Produce request
//! takes (every partition its turn first, up to `max.request.size`, at least one
//! batch), and the request built from them (topics grouped, versions by topic ids and
//! transaction protocol, acks, timeout, transactional id). A child of `sender.rs`,
//! wired there by one `#[cfg(test)]` line. Nothing is sent.

use std::time::Duration;

use kafka_protocol::protocol::StrBytes;

use super::unit_tests::{Rig, rig_on, rig_with};
use super::*;
use crate::cluster::TopicInfo;
use crate::producer::Producer;
use crate::producer::accumulator::TopicEntry;
use crate::producer::batch::ProducerIdent;
use crate::producer::delivery::DeliveryFuture;
use crate::producer::unit_tests::{P0, take_now, topic_info, txn_shared};

/// A sender for broker 1 whose partitions are those of `topics` (all led by it).
fn sender_over(r: &mut Rig, topics: &[&TopicEntry]) {
    r.sender.parts = topics
        .iter()
        .flat_map(|t| t.partitions().to_vec())
        .collect();
    r.sender.seen_epoch = Some(r.sender.sh.routing_epoch());
}

fn topic(name: &str, partitions: usize) -> TopicEntry {
    TopicEntry::new(&topic_info(name, &vec![Some(1); partitions]))
}

fn topic_with_id(name: &str, id: u128) -> TopicEntry {
    TopicEntry::new(&TopicInfo {
        id: uuid::Uuid::from_u128(id),
        ..topic_info(name, &[Some(1), Some(1)])
    })
}

/// The size `drain` counts for a batch of one `len`-byte record.
fn batch_size_of(r: &Rig, len: usize) -> usize {
    let probe = topic("probe", 1);
    let p = &probe.partitions()[0];
    let _f = append(p, &r.sender.sh.res, len);
    take_now(p, 1, None).unwrap().size()
}

/// Appends a `len`-byte record, its memory reserved first as `send` does (a request's
/// statistics read the memory in use).
fn append(
    p: &PartitionState,
    res: &Arc<crate::producer::batch::Resources>,
    len: usize,
) -> DeliveryFuture {
    res.memory.try_reserve(len).unwrap();
    crate::producer::unit_tests::append(p, res, len)
}

fn unsent(parts: &[Arc<PartitionState>]) -> Vec<bool> {
    parts.iter().map(|p| p.has_unsent()).collect()
}

#[tokio::test(start_paused = true)]
async fn each_drain_starts_at_the_next_partition() {
    // One batch of 600 bytes fills a request of 1024: a request takes one partition,
    // the first one it looks at that is ready.
    let mut r = rig_with(
        Producer::builder()
            .enable_idempotence(false)
            .batch_size(700)
            .max_request_size(1024),
    );
    let t = topic("d", 3);
    sender_over(&mut r, &[&t]);
    let parts = t.partitions().to_vec();
    let mut futs = Vec::new();
    for p in &parts {
        for _ in 0..2 {
            futs.push(append(p, &r.sender.sh.res, 600));
        }
    }
    let sh = r.sender.sh.clone();
    let _g = sh.flush_guard();
    let mut wake = None;
    for _ in 0..3 {
        assert!(r.sender.drain(None, &mut wake).is_some());
    }
    assert_eq!(
        unsent(&parts),
        [true, true, true],
        "one batch from each partition, in turn"
    );
    for _ in 0..3 {
        assert!(r.sender.drain(None, &mut wake).is_some());
    }
    assert_eq!(unsent(&parts), [false, false, false]);
    assert!(r.sender.drain(None, &mut wake).is_none());
}

#[tokio::test(start_paused = true)]
async fn a_request_takes_batches_up_to_the_size_limit() {
    let mut r = rig_with(
        Producer::builder()
            .enable_idempotence(false)
            .max_request_size(1024),
    );
    let one = batch_size_of(&r, 300);
    assert!(
        2 * one <= 1024 && 3 * one > 1024,
        "two batches fit, three do not: {one}"
    );
    let t = topic("d", 3);
    sender_over(&mut r, &[&t]);
    let parts = t.partitions().to_vec();
    let _f: Vec<_> = parts
        .iter()
        .map(|p| append(p, &r.sender.sh.res, 300))
        .collect();
    let sh = r.sender.sh.clone();
    let _g = sh.flush_guard();
    let mut wake = None;
    assert!(r.sender.drain(None, &mut wake).is_some());
    assert_eq!(unsent(&parts), [false, false, true]);
    assert!(
        r.sender.drain(None, &mut wake).is_some(),
        "the third goes next"
    );
    assert_eq!(unsent(&parts), [false, false, false]);
}

#[tokio::test(start_paused = true)]
async fn the_next_request_goes_on_after_the_last_partition_taken() {
    // Two batches fill a request: four partitions take two requests, and new records
    // on the partitions taken first wait for the second round, not jump ahead of the
    // partitions not taken yet.
    let mut r = rig_with(
        Producer::builder()
            .enable_idempotence(false)
            .max_request_size(1024),
    );
    let t = topic("d", 4);
    sender_over(&mut r, &[&t]);
    let parts = t.partitions().to_vec();
    let res = r.sender.sh.res.clone();
    let mut futs: Vec<_> = parts.iter().map(|p| append(p, &res, 300)).collect();
    let sh = r.sender.sh.clone();
    let _g = sh.flush_guard();
    let mut wake = None;
    assert!(r.sender.drain(None, &mut wake).is_some());
    assert_eq!(unsent(&parts), [false, false, true, true]);
    futs.push(append(&parts[0], &res, 300));
    futs.push(append(&parts[1], &res, 300));
    assert!(r.sender.drain(None, &mut wake).is_some());
    assert_eq!(
        unsent(&parts),
        [true, true, false, false],
        "the second request takes the two partitions the first could not"
    );
    assert_eq!(r.sender.start, 0, "and the next starts over at the first");
    assert!(r.sender.drain(None, &mut wake).is_some());
    assert_eq!(unsent(&parts), [false, false, false, false]);
}

#[tokio::test(start_paused = true)]
async fn an_oversized_first_batch_still_goes_alone() {
    let mut r = rig_with(
        Producer::builder()
            .enable_idempotence(false)
            .max_request_size(1024),
    );
    let t = topic("d", 2);
    sender_over(&mut r, &[&t]);
    let parts = t.partitions().to_vec();
    let _a = append(&parts[0], &r.sender.sh.res, 2000);
    let _b = append(&parts[1], &r.sender.sh.res, 10);
    let sh = r.sender.sh.clone();
    let _g = sh.flush_guard();
    let mut wake = None;
    assert!(r.sender.drain(None, &mut wake).is_some());
    assert_eq!(unsent(&parts), [false, true], "nothing fits beside it");
}

#[tokio::test(start_paused = true)]
async fn a_sender_without_partitions_drains_nothing() {
    let mut r = rig_with(Producer::builder().enable_idempotence(false));
    r.sender.parts.clear();
    let mut wake = None;
    assert!(r.sender.drain(None, &mut wake).is_none());
    assert_eq!(r.sender.start, 0);
    assert_eq!(wake, None);
}

fn sent(r: &mut Rig, topics: &[&TopicEntry], producer: Option<ProducerIdent>) -> Sent {
    let mut out = Vec::new();
    for t in topics {
        for p in t.partitions().iter() {
            let _f = append(p, &r.sender.sh.res, 10);
            let mut b = take_now(p, 1, producer).unwrap();
            b.encode_stamped().unwrap();
            out.push((p.clone(), b));
        }
    }
    out
}

#[tokio::test(start_paused = true)]
async fn a_request_groups_partitions_by_topic() {
    let mut r = rig_with(
        Producer::builder()
            .enable_idempotence(false)
            .request_timeout(Duration::from_millis(7_500)),
    );
    let (a, b) = (topic("a", 2), topic("b", 1));
    let batches = sent(&mut r, &[&a, &b], None);
    let (req, versions) = r.sender.produce_request(&batches);
    let names: Vec<&str> = req.topic_data.iter().map(|t| t.name.0.as_str()).collect();
    assert_eq!(names, ["a", "b"]);
    let indexes: Vec<Vec<i32>> = req
        .topic_data
        .iter()
        .map(|t| t.partition_data.iter().map(|p| p.index).collect())
        .collect();
    assert_eq!(indexes, [vec![0, 1], vec![0]]);
    assert!(
        req.topic_data
            .iter()
            .flat_map(|t| &t.partition_data)
            .all(|p| p.records.is_some())
    );
    assert_eq!(req.acks, -1, "acks=all by default");
    assert_eq!(req.timeout_ms, 7_500);
    assert_eq!(req.transactional_id, None);
    assert_eq!(
        (versions.min, versions.max),
        (3, 12),
        "topics without ids: by name"
    );
}

#[tokio::test(start_paused = true)]
async fn topic_ids_are_used_only_when_every_topic_has_one() {
    let mut r = rig_with(Producer::builder().enable_idempotence(false));
    let (x, y, nil) = (topic_with_id("x", 5), topic_with_id("y", 6), topic("n", 1));
    let with_ids = sent(&mut r, &[&x, &y], None);
    let (req, versions) = r.sender.produce_request(&with_ids);
    assert_eq!(versions.max, 13);
    assert_eq!(req.topic_data[1].topic_id, uuid::Uuid::from_u128(6));
    assert_eq!(req.topic_data[0].partition_data.len(), 2);
    let mixed = sent(&mut r, &[&x, &nil], None);
    assert_eq!(r.sender.produce_request(&mixed).1.max, 12);
}

#[tokio::test(start_paused = true)]
async fn acks_zero_and_one_reach_the_request() {
    for (acks, wire) in [
        (crate::producer::Acks::None, 0),
        (crate::producer::Acks::Leader, 1),
    ] {
        let mut r = rig_with(Producer::builder().acks(acks).enable_idempotence(false));
        let t = topic("a", 1);
        let batches = sent(&mut r, &[&t], None);
        assert_eq!(r.sender.produce_request(&batches).0.acks, wire);
    }
}

#[tokio::test(start_paused = true)]
async fn a_transactional_request_names_its_id_and_v2_needs_produce_v12() {
    for (v2, min) in [(false, 3), (true, 12)] {
        let mut r = rig_on(txn_shared(v2), None);
        r.sender.sh.set_producer(P0);
        let t = topic("a", 1);
        let batches = sent(&mut r, &[&t], Some(P0));
        let (req, versions) = r.sender.produce_request(&batches);
        assert_eq!(
            req.transactional_id,
            Some(kafka_protocol::messages::TransactionalId(
                StrBytes::from_static_str("tx")
            ))
        );
        assert_eq!(versions.min, min, "v2: {v2}");
    }
}
