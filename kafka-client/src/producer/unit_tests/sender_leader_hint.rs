//! `sender.rs`, `take_leader_hint` (KIP-951): a Produce error that names the new leader
//! moves the partition there at once, only for NOT_LEADER_OR_FOLLOWER and
//! FENCED_LEADER_EPOCH, only when the hint is news and names another broker the client
//! can reach. A child of `sender.rs`, wired there by one `#[cfg(test)]` line. The
//! client's metadata is set by hand; the new leader's sender task starts (and finds
//! nothing to send).

use futures::FutureExt;
use kafka_protocol::messages::produce_response::{
    LeaderIdAndEpoch, NodeEndpoint, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{BrokerId, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::time::{Instant, advance};

use super::unit_tests::{MAX_BACKOFF, Rig, rig};
use super::*;
use crate::cluster::{BrokerInfo, ClusterMetadata, TopicInfo};
use crate::producer::unit_tests::{P0, take_now};

/// Caches metadata in which `t`-0 is led by broker 1 at leader epoch 3.
fn cached(r: &Rig) {
    let mut m = ClusterMetadata::empty();
    let mut t = TopicInfo::led_by("t", &[Some(1)]);
    t.partitions[0].leader_epoch = 3;
    m.topics.insert("t".into(), Arc::new(t));
    r.sender.sh.client.set_cached_metadata(m);
}

/// Broker 2's address, as a response's node endpoints give it.
fn broker_2() -> Vec<BrokerInfo> {
    BrokerInfo::from_endpoints([(2, "127.0.0.1", 9, None)])
}

fn hint(leader: i32, epoch: i32) -> LeaderIdAndEpoch {
    LeaderIdAndEpoch::default()
        .with_leader_id(BrokerId(leader))
        .with_leader_epoch(epoch)
}

/// Hands the sender `t`-0's answer `code` with the hint `leader`/`epoch` and `brokers`,
/// and checks that the partition stayed with broker 1 and no sender re-lists.
fn hint_moves_nothing(r: &Rig, code: ErrorCode, leader: i32, epoch: i32, brokers: &[BrokerInfo]) {
    let routing = r.sender.sh.routing_epoch();
    r.sender
        .take_leader_hint(&r.part, code, &hint(leader, epoch), brokers);
    assert_eq!(r.part.leader(), 1, "{code:?}, hint {leader}@{epoch}");
    assert_eq!(r.sender.sh.routing_epoch(), routing, "no re-routing");
}

fn cached_leader(r: &Rig) -> (Option<i32>, i32) {
    let m = r.sender.sh.client.cached_metadata();
    let p = m.topic("t").unwrap().partition(0).unwrap().clone();
    (p.leader, p.leader_epoch)
}

#[tokio::test(start_paused = true)]
async fn a_not_leader_hint_moves_the_partition_to_the_named_broker() {
    for code in [
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ErrorCode::FENCED_LEADER_EPOCH,
    ] {
        let r = rig();
        cached(&r);
        let epoch = r.sender.sh.routing_epoch();
        r.sender
            .take_leader_hint(&r.part, code, &hint(2, 4), &broker_2());
        assert_eq!(r.part.leader(), 2, "{code:?}");
        assert_eq!(r.sender.sh.routing_epoch(), epoch + 1, "senders re-list");
        assert_eq!(cached_leader(&r), (Some(2), 4));
    }
}

#[tokio::test(start_paused = true)]
async fn a_hint_with_another_error_is_ignored() {
    let r = rig();
    cached(&r);
    hint_moves_nothing(&r, ErrorCode::REQUEST_TIMED_OUT, 2, 4, &broker_2());
    assert_eq!(cached_leader(&r), (Some(1), 3));
}

#[tokio::test(start_paused = true)]
async fn a_hint_naming_this_broker_moves_nothing() {
    let r = rig();
    cached(&r);
    let broker_1 = BrokerInfo::from_endpoints([(1, "127.0.0.1", 9, None)]);
    hint_moves_nothing(&r, ErrorCode::NOT_LEADER_OR_FOLLOWER, 1, 4, &broker_1);
    assert_eq!(cached_leader(&r), (Some(1), 4), "the newer epoch is kept");
}

#[tokio::test(start_paused = true)]
async fn a_hint_the_client_cannot_use_moves_nothing() {
    let r = rig();
    cached(&r);
    // Broker 3's address is nowhere: the client cannot take the hint.
    hint_moves_nothing(&r, ErrorCode::NOT_LEADER_OR_FOLLOWER, 3, 4, &broker_2());
    // An old epoch is no news either.
    hint_moves_nothing(&r, ErrorCode::NOT_LEADER_OR_FOLLOWER, 2, 2, &broker_2());
}

#[tokio::test(start_paused = true)]
async fn a_produce_answer_with_a_hint_retries_at_the_new_leader_without_a_refresh() {
    let mut r = rig();
    cached(&r);
    let (a, fa) = r.in_flight(1, Some(P0));
    let resp = ProduceResponse::default()
        .with_responses(vec![
            TopicProduceResponse::default()
                .with_name(TopicName(StrBytes::from_static_str("t")))
                .with_partition_responses(vec![
                    PartitionProduceResponse::default()
                        .with_index(0)
                        .with_error_code(ErrorCode::NOT_LEADER_OR_FOLLOWER.code())
                        .with_current_leader(hint(2, 4)),
                ]),
        ])
        .with_node_endpoints(vec![
            NodeEndpoint::default()
                .with_node_id(BrokerId(2))
                .with_host(StrBytes::from_static_str("127.0.0.1"))
                .with_port(9),
        ]);
    let part = r.part.clone();
    r.sender
        .handle_response(vec![(part, a)], resp, 12, Instant::now());
    assert!(fa.into_iter().next().unwrap().now_or_never().is_none());
    assert_eq!(r.part.leader(), 2);
    assert!(
        !r.sender.sh.refresh.topics.lock().unwrap().contains("t"),
        "the hint made a refresh needless"
    );
    advance(MAX_BACKOFF).await;
    let a = take_now(&r.part, 2, Some(P0)).expect("retried at broker 2");
    assert!(a.maybe_written);
}
