//! Fetch from a follower (KIP-392) on a real 3-node cluster whose nodes are in racks
//! r1, r2, r3 with the rack-aware replica selector: a consumer in rack r2 reads a
//! partition led by node 1 from node 2, all records in order; when node 2 stops it goes
//! back to the leader and reads on without skipping or repeating a record.

mod common;

use std::time::Duration;

use common::consumer_util::consumer;
use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_testbed::{ClusterConfig, KafkaCluster, StopSignal};

async fn send(p: &Producer, topic: &str, from: usize, n: usize) {
    let mut acks = Vec::new();
    for i in from..from + n {
        let r = ProducerRecord::new(topic)
            .with_partition(0)
            .with_value(format!("v-{i}"));
        acks.push(p.send(r).await.expect("queued"));
    }
    for a in acks {
        a.await.expect("delivered");
    }
}

/// Reads values `v-<from>` .. `v-<to - 1>`, in order, nothing else (poll errors while a
/// broker dies are tolerated, records are not).
async fn read_in_order(c: &Consumer, from: usize, to: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    let mut next = from;
    while next < to {
        assert!(
            tokio::time::Instant::now() < deadline,
            "read up to v-{next} of v-{to}"
        );
        let Ok(batch) = c.poll(Duration::from_millis(500)).await else {
            continue;
        };
        for r in batch.into_parts().0 {
            let v = String::from_utf8_lossy(r.value.as_deref().unwrap()).into_owned();
            assert_eq!(v, format!("v-{next}"), "skipped or repeated a record");
            next += 1;
        }
    }
}

fn fetches_from(c: &Consumer, node: i32) -> u64 {
    c.stats()
        .fetch_requests_by_broker
        .get(&node)
        .copied()
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follower_fetch_reads_from_the_rack_replica_and_falls_back_to_the_leader() {
    let cluster = tokio::task::spawn_blocking(|| {
        KafkaCluster::start(
            ClusterConfig::new(3)
                .with_property("broker.rack", "r{node_id}")
                .with_property(
                    "replica.selector.class",
                    "org.apache.kafka.common.replica.RackAwareReplicaSelector",
                )
                .with_property("auto.leader.rebalance.enable", "false"),
        )
    })
    .await
    .unwrap()
    .expect("3-node cluster");
    let b = cluster.bootstrap_servers();
    let topic = common::unique_topic("follower-fetch");
    let admin_client = common::client(&b);
    Admin::new(admin_client.clone())
        .create_topics(
            [NewTopic::new(&topic).assignment(0, [1, 2, 3])],
            CreateTopicsOptions::default(),
        )
        .await
        .expect("CreateTopics")[&topic]
        .as_ref()
        .expect("created");
    common::wait_for_leaders(&admin_client, &topic, 1).await;
    cluster
        .wait_fully_replicated(Duration::from_secs(30))
        .expect("in sync");

    let producer = Producer::builder()
        .bootstrap_servers([b.as_str()])
        .acks(Acks::All)
        .build()
        .unwrap();
    send(&producer, &topic, 0, 300).await;

    let c = consumer(&b)
        .client_rack("r2")
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .max_poll_records(50)
        .build()
        .unwrap();
    c.assign([TopicPartition::new(&topic, 0)]).unwrap();
    let leader = c.client().leader(&topic, 0).await.unwrap().0;
    assert_eq!(leader, 1, "the assignment's first replica leads");
    read_in_order(&c, 0, 300).await;
    let (from_leader, from_r2) = (fetches_from(&c, 1), fetches_from(&c, 2));
    println!("before the stop: {:?}", c.stats().fetch_requests_by_broker);
    assert!(from_r2 > 0, "no fetch went to the rack r2 replica");
    assert_eq!(fetches_from(&c, 3), 0, "node 3 is in another rack");
    // More records while fetching from r2: they come from there, not from the leader.
    send(&producer, &topic, 300, 100).await;
    read_in_order(&c, 300, 400).await;
    assert!(fetches_from(&c, 2) > from_r2);
    assert_eq!(
        fetches_from(&c, 1),
        from_leader,
        "fetches went to the leader while the r2 replica served"
    );

    // The r2 replica dies: back to the leader, no record skipped or repeated.
    cluster.stop_node(2, StopSignal::Kill).expect("stop node 2");
    send(&producer, &topic, 400, 200).await;
    read_in_order(&c, 400, 600).await;
    println!("after the stop: {:?}", c.stats().fetch_requests_by_broker);
    assert!(
        fetches_from(&c, 1) > from_leader,
        "the leader served after the replica died"
    );
    // While the leader still names the dead replica (until it is fenced) the consumer
    // waits out the replica's backoff instead of asking the leader in a loop (which
    // made thousands of Fetch requests in a few seconds).
    assert!(
        fetches_from(&c, 1) - from_leader < 1000,
        "Fetch requests spun: {:?}",
        c.stats().fetch_requests_by_broker
    );
    assert_eq!(fetches_from(&c, 3), 0, "node 3 is in another rack");
    // Nothing more than what was produced.
    let extra = c.poll(Duration::from_millis(500)).await.unwrap_or_default();
    assert!(extra.is_empty(), "records beyond v-599");

    producer.close(Duration::from_secs(10)).await.unwrap();
    c.close().await.unwrap();
}
