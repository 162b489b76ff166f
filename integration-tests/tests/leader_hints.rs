//! Leader discovery (KIP-951) against a real 3-node cluster: a preferred-leader election,
//! then a reassignment that drops the old leader, move a partition while a producer and
//! a consumer use it; the brokers' answers (NOT_LEADER_OR_FOLLOWER with
//! `current_leader` and `node_endpoints`) move both clients to the new leader with no
//! Metadata request, and no record is lost, skipped or repeated.

mod common;

use std::time::Duration;

use common::consumer_util::{consumer, drain};
use kafka_admin::{
    Admin, CreateTopicsOptions, ElectLeadersOptions, ElectionType, NewTopic, Reassignment,
    ReassignmentOptions,
};
use kafka_client::consumer::{AutoOffsetReset, TopicPartition};
use kafka_client::observe::NetworkStats;
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_testbed::{ClusterConfig, KafkaCluster};

async fn send(p: &Producer, topic: &str, from: usize, n: usize) -> Vec<i64> {
    let mut acks = Vec::new();
    for i in from..from + n {
        let r = ProducerRecord::new(topic)
            .with_partition(0)
            .with_value(format!("v-{i}"));
        acks.push(p.send(r).await.expect("queued"));
    }
    let mut offsets = Vec::new();
    for a in acks {
        offsets.push(a.await.expect("delivered").offset);
    }
    offsets
}

/// Waits until `client`'s fresh metadata shows partition 0 of `topic` as `want`.
async fn wait_for(
    client: &kafka_client::Client,
    topic: &str,
    what: &str,
    want: impl Fn(&kafka_client::PartitionInfo) -> bool,
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        client.invalidate_topic(topic);
        if let Ok(t) = client.topic(topic).await
            && t.partition(0).is_some_and(&want)
        {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `who` took a leader hint between `before` and `after`, and sent no Metadata request.
fn moved_by_hint(who: &str, before: &NetworkStats, after: &NetworkStats) {
    println!("{who}: {before:?} -> {after:?}");
    assert!(
        after.leader_hints > before.leader_hints,
        "{who} took a hint"
    );
    assert_eq!(
        after.metadata_requests, before.metadata_requests,
        "{who} moved without a Metadata request"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_hint_moves_producer_and_consumer_without_a_metadata_request() {
    let cluster = tokio::task::spawn_blocking(|| {
        KafkaCluster::start(
            ClusterConfig::new(3).with_property("auto.leader.rebalance.enable", "false"),
        )
    })
    .await
    .unwrap()
    .expect("3-node cluster");
    let b = cluster.bootstrap_servers();
    // The admin side has its own client: its Metadata requests are not counted below.
    let admin_client = common::client(&b);
    let admin = Admin::new(admin_client.clone());
    let topic = common::unique_topic("leader_hint");
    admin
        .create_topics(
            [NewTopic::new(&topic).assignment(0, [1, 2, 3])],
            CreateTopicsOptions::default(),
        )
        .await
        .expect("CreateTopics")[&topic]
        .as_ref()
        .expect("created");
    wait_for(&admin_client, &topic, "led by 1, 3 in sync", |p| {
        p.leader == Some(1) && p.isr.len() == 3
    })
    .await;

    let p = Producer::builder()
        .bootstrap_servers([b.as_str()])
        .acks(Acks::All)
        .linger(Duration::from_millis(5))
        .build()
        .unwrap();
    let c = consumer(&b)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    c.assign([TopicPartition::new(topic.as_str(), 0)]).unwrap();
    assert_eq!(send(&p, &topic, 0, 50).await, (0..50).collect::<Vec<i64>>());
    let mut read = drain(&c, 50, Duration::from_secs(60)).await;
    let before_p = p.stats().network;
    let before_c = c.stats().network;

    // Broker 2 becomes the preferred replica, then the leader.
    let tp = TopicPartition::new(topic.as_str(), 0);
    let moved = admin
        .alter_partition_reassignments(
            [(tp.clone(), Reassignment::MoveTo(vec![2, 1, 3]))],
            ReassignmentOptions::default(),
        )
        .await
        .unwrap();
    moved[&tp].as_ref().expect("reordered");
    wait_for(&admin_client, &topic, "replicas 2, 1, 3", |p| {
        p.replicas == [2, 1, 3] && p.isr.len() == 3
    })
    .await;
    let elected = admin
        .elect_leaders(
            ElectionType::Preferred,
            Some(vec![tp.clone()]),
            ElectLeadersOptions::default(),
        )
        .await
        .unwrap();
    elected[&tp].as_ref().expect("broker 2 elected");
    wait_for(&admin_client, &topic, "led by 2", |p| p.leader == Some(2)).await;

    // Both clients still think broker 1 leads. The producer's Produce there answers
    // NOT_LEADER_OR_FOLLOWER with the hint. The consumer's Fetch (v11+) is served by
    // broker 1 as a follower (KIP-392: consumers may read from any replica up to the
    // high watermark), so it reads on from there with no error.
    assert_eq!(
        send(&p, &topic, 50, 50).await,
        (50..100).collect::<Vec<i64>>()
    );
    read.extend(drain(&c, 50, Duration::from_secs(60)).await);
    moved_by_hint("producer", &before_p, &p.stats().network);
    // Broker 1 leaves the replicas: now its answer to the consumer is
    // NOT_LEADER_OR_FOLLOWER with the hint.
    let moved = admin
        .alter_partition_reassignments(
            [(tp.clone(), Reassignment::MoveTo(vec![2, 3]))],
            ReassignmentOptions::default(),
        )
        .await
        .unwrap();
    moved[&tp].as_ref().expect("broker 1 removed");
    wait_for(&admin_client, &topic, "replicas 2, 3", |p| {
        p.replicas == [2, 3]
    })
    .await;
    assert_eq!(
        send(&p, &topic, 100, 50).await,
        (100..150).collect::<Vec<i64>>()
    );
    read.extend(drain(&c, 50, Duration::from_secs(60)).await);
    let offsets: Vec<i64> = read.iter().map(|r| r.offset).collect();
    assert_eq!(
        offsets,
        (0..150).collect::<Vec<i64>>(),
        "none lost or repeated"
    );
    let extra = c.poll(Duration::from_millis(300)).await.unwrap();
    assert!(extra.is_empty());

    moved_by_hint("consumer", &before_c, &c.stats().network);
    c.close().await.unwrap();
    p.close(Duration::from_secs(10)).await.unwrap();
}
