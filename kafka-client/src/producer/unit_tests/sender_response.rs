//! `sender.rs`, `handle` and `handle_response`, beyond `sender_internals.rs`: each
//! partition's answer reaches its own batch whatever the order of the answers, a failed
//! batch's error names the API, broker, topic and partition, and an acknowledged batch
//! is reported to the client's hooks. A child of `sender.rs`, wired there by one
//! `#[cfg(test)]` line.

use std::sync::Mutex;

use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::unit_tests::{rig_with, settled};
use super::*;
use crate::producer::Producer;
use crate::producer::accumulator::TopicEntry;
use crate::producer::unit_tests::{append, take_now, topic_info};

fn answer(index: i32, code: Option<ErrorCode>, base_offset: i64) -> PartitionProduceResponse {
    PartitionProduceResponse::default()
        .with_index(index)
        .with_error_code(code.map_or(0, |c| c.code()))
        .with_base_offset(base_offset)
        .with_log_append_time_ms(-1)
}

fn response(name: &'static str, parts: Vec<PartitionProduceResponse>) -> ProduceResponse {
    ProduceResponse::default().with_responses(vec![
        TopicProduceResponse::default()
            .with_name(TopicName(StrBytes::from_static_str(name)))
            .with_partition_responses(parts),
    ])
}

/// One batch of one record in each of `topic`'s `n` partitions (all led by broker 1),
/// answered with `answers`: the offset each record got, in partition order.
fn answered_offsets(
    topic: &'static str,
    n: usize,
    answers: Vec<PartitionProduceResponse>,
) -> Vec<i64> {
    let mut r = rig_with(Producer::builder().enable_idempotence(false));
    let t = TopicEntry::new(&topic_info(topic, &vec![Some(1); n]));
    let mut futs = Vec::new();
    let mut batches = Vec::new();
    for p in t.partitions().iter() {
        futs.push(append(p, &r.sender.sh.res, 10));
        batches.push((p.clone(), take_now(p, 1, None).unwrap()));
    }
    r.sender
        .handle_response(batches, response(topic, answers), 9, Instant::now());
    futs.into_iter()
        .map(|f| settled(f).unwrap().offset)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn answers_reach_their_partitions_in_any_order() {
    let offsets = answered_offsets("two", 2, vec![answer(1, None, 700), answer(0, None, 300)]);
    assert_eq!(offsets, [300, 700]);
}

/// The search for an answer's batch starts after the last one found (answers come in
/// the request's order); answers out of that order, for a partition not asked for, or
/// twice for one partition still land right or are ignored.
#[tokio::test(start_paused = true)]
async fn answers_out_of_order_unknown_or_repeated_still_land_right() {
    let offsets = answered_offsets(
        "four",
        4,
        vec![
            answer(2, None, 200),
            answer(3, None, 300),
            answer(9, None, 900),
            answer(0, None, 0),
            answer(2, None, 222),
            answer(1, None, 100),
        ],
    );
    assert_eq!(offsets, [0, 100, 200, 300]);
}

#[tokio::test(start_paused = true)]
async fn a_failed_batch_names_the_api_broker_topic_and_partition() {
    let mut r = rig_with(Producer::builder().enable_idempotence(false));
    let f = append(&r.part, &r.sender.sh.res, 10);
    let b = take_now(&r.part, 1, None).unwrap();
    let part = r.part.clone();
    let resp = response(
        "t",
        vec![answer(0, Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED), -1)],
    );
    r.sender
        .handle_response(vec![(part, b)], resp, 9, Instant::now());
    let err = settled(f).unwrap_err();
    let ctx = err.context().expect("a broker error has a context");
    assert_eq!(ctx.api, Some(ApiKey::Produce));
    assert_eq!(ctx.broker, Some(1));
    assert_eq!(ctx.resource.as_deref(), Some("t"));
    assert_eq!(ctx.partition, Some(0));
}

/// What the hooks hear of a batch: broker, topic, partition, records, base offset.
type Heard = (i32, String, i32, u32, i64);

/// Records the batches the hooks hear of.
#[derive(Default)]
struct Acked(Mutex<Vec<Heard>>);

impl crate::observe::Hooks for Acked {
    fn on_batch_produced(&self, e: &crate::observe::BatchProduced<'_>) {
        self.0.lock().unwrap().push((
            e.broker,
            e.topic.to_string(),
            e.partition,
            e.records,
            e.base_offset,
        ));
    }
}

#[tokio::test(start_paused = true)]
async fn hooks_hear_of_acknowledged_batches_with_acks_zero_as_offset_minus_one() {
    let hooks = Arc::new(Acked::default());
    let mut r = rig_with(
        Producer::builder()
            .client_config(crate::Client::builder().hooks(hooks.clone()))
            .acks(crate::producer::Acks::None)
            .enable_idempotence(false),
    );
    let _f: Vec<_> = (0..2)
        .map(|_| append(&r.part, &r.sender.sh.res, 10))
        .collect();
    let b = take_now(&r.part, 1, None).unwrap();
    let part = r.part.clone();
    r.sender.handle(Completed {
        batches: vec![(part, b)],
        result: Ok(None),
        version: 9,
        conn: None,
    });
    assert_eq!(*hooks.0.lock().unwrap(), [(1, "t".to_string(), 0, 2, -1)]);
}
