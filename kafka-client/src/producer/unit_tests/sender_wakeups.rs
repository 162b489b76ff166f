//! `sender.rs`: which sender a settled or retried batch wakes. A partition that moved to
//! another broker (a leader hint) waits for this sender's answers before it goes out
//! there: when the answer comes, or its retry is queued, the new leader's sender is
//! woken, which may be waiting for nothing else. A partition still led here wakes no
//! one (this sender looks again by itself). A child of `sender.rs`, wired there by one
//! `#[cfg(test)]` line; senders are registered without their tasks.

use std::sync::atomic::Ordering;

use futures::FutureExt;
use kafka_protocol::messages::TopicName;
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;

use super::unit_tests::rig;
use super::*;
use crate::producer::unit_tests::P0;

fn woken(h: &SenderHandle) -> bool {
    h.notify.notified().now_or_never().is_some()
}

fn ok() -> ProduceResponse {
    ProduceResponse::default().with_responses(vec![
        TopicProduceResponse::default()
            .with_name(TopicName(StrBytes::from_static_str("t")))
            .with_partition_responses(vec![
                PartitionProduceResponse::default()
                    .with_index(0)
                    .with_base_offset(5)
                    .with_log_append_time_ms(-1),
            ]),
    ])
}

#[tokio::test(start_paused = true)]
async fn an_answer_for_a_moved_partition_wakes_its_new_leaders_sender() {
    let mut r = rig();
    let (here, there) = (
        r.sender.sh.register_idle_sender(1),
        r.sender.sh.register_idle_sender(0),
    );
    let (a, fa) = r.in_flight(1, Some(P0));
    r.part.leader.store(0, Ordering::Release);
    let part = r.part.clone();
    r.sender
        .handle_response(vec![(part, a)], ok(), 9, Instant::now());
    assert_eq!(
        super::unit_tests::settled(fa.into_iter().next().unwrap())
            .unwrap()
            .offset,
        5
    );
    assert!(
        woken(&there),
        "broker 0's sender may send the partition now"
    );
    assert!(!woken(&here));
}

#[tokio::test(start_paused = true)]
async fn an_answer_for_a_partition_led_here_wakes_no_one() {
    let mut r = rig();
    let (here, there) = (
        r.sender.sh.register_idle_sender(1),
        r.sender.sh.register_idle_sender(0),
    );
    let (a, _fa) = r.in_flight(1, Some(P0));
    let part = r.part.clone();
    r.sender
        .handle_response(vec![(part, a)], ok(), 9, Instant::now());
    assert!(!woken(&here) && !woken(&there));
}

#[tokio::test(start_paused = true)]
async fn a_retry_of_a_moved_partition_wakes_its_new_leaders_sender() {
    let mut r = rig();
    let (here, there) = (
        r.sender.sh.register_idle_sender(1),
        r.sender.sh.register_idle_sender(0),
    );
    let (a, _fa) = r.in_flight(1, Some(P0));
    r.part.leader.store(0, Ordering::Release);
    r.fail(a, ErrorCode::NOT_LEADER_OR_FOLLOWER);
    assert!(woken(&there));
    assert!(!woken(&here));
}

#[tokio::test(start_paused = true)]
async fn a_retry_of_a_partition_led_here_wakes_no_one() {
    let mut r = rig();
    let (here, there) = (
        r.sender.sh.register_idle_sender(1),
        r.sender.sh.register_idle_sender(0),
    );
    let (a, _fa) = r.in_flight(1, Some(P0));
    r.fail(a, ErrorCode::NOT_ENOUGH_REPLICAS);
    assert!(!woken(&here) && !woken(&there));
}
