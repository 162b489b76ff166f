//! The producer on a 3-node cluster while brokers die: every record ends acknowledged or
//! failed with a typed error, and every acknowledged record is in the log (lost = 0).
//! A partition whose only replica is down is retried until the delivery timeout.
//!
//! The tests share one cluster (starting three JVMs is slow) and take turns.

mod common;

use std::collections::HashMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::produce::fetch_all;
use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::Error;
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_testbed::{ClusterConfig, KafkaCluster, StopSignal};

fn cluster() -> &'static KafkaCluster {
    static CLUSTER: OnceLock<KafkaCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| KafkaCluster::start(ClusterConfig::new(3)).expect("3-node cluster"))
}

/// One test at a time on the shared cluster.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leader_killed_mid_produce_loses_nothing() {
    let _turn = TURN.lock().await;
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let client = common::client(&bootstrap);
    let topic = common::unique_topic("failover");
    common::create_topic(&client, &topic, 6, 3).await;
    let victim = client.leader(&topic, 0).await.unwrap().0;

    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .acks(Acks::All)
        .linger(Duration::from_millis(5))
        .request_timeout(Duration::from_secs(10))
        .delivery_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    const N: usize = 20_000;
    let run =
        common::leader_kill::produce_through_kill(cluster, &p, &topic, N, 97, victim, false).await;
    let (acked, failed) = (&run.acked, &run.failed);
    println!(
        "{} acknowledged, {} failed {failed:?} in {:?} (killed node {victim})",
        acked.len(),
        N - acked.len(),
        run.elapsed
    );
    p.close(Duration::from_secs(10)).await.unwrap();
    assert!(
        acked.len() > N / 2,
        "most records survive a single broker failure"
    );

    // Every acknowledged record is in the log, at its acknowledged offset.
    let in_log: HashMap<(i32, i64), usize> =
        common::leader_kill::read_back(&client, &topic, 6, acked)
            .await
            .into_iter()
            .map(|(p, o, i)| ((p, o), i))
            .collect();
    let lost: Vec<_> = acked
        .iter()
        .filter(|(i, at)| in_log.get(at) != Some(i))
        .collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged records lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );

    cluster.restart_node(victim).expect("restart");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partition_without_leader_is_retried_until_delivery_timeout() {
    let _turn = TURN.lock().await;
    let cluster = cluster();
    let bootstrap = cluster.bootstrap_servers();
    let client = common::client(&bootstrap);
    let node = *cluster.node_ids().last().unwrap();
    let topic = common::unique_topic("no-leader");
    // Partition 0 lives only on `node`; partition 1 only on another node.
    let other = cluster.node_ids().into_iter().find(|n| *n != node).unwrap();
    let admin = Admin::new(client.clone());
    let res = admin
        .create_topics(
            [NewTopic::new(topic.as_str())
                .assignment(0, [node])
                .assignment(1, [other])],
            CreateTopicsOptions::default(),
        )
        .await
        .unwrap();
    res[topic.as_str()].as_ref().expect("created");
    common::wait_for_leaders(&client, &topic, 2).await;

    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .request_timeout(Duration::from_secs(3))
        .delivery_timeout(Duration::from_secs(8))
        .max_block(Duration::from_secs(1))
        .buffer_memory(64 * 1024)
        .build()
        .unwrap();
    // Load metadata while the partition still has its leader.
    p.send_and_wait(
        ProducerRecord::new(topic.as_str())
            .with_partition(0)
            .with_value("first"),
    )
    .await
    .unwrap();
    cluster.stop_node(node, StopSignal::Kill).expect("kill");

    let started = Instant::now();
    let stranded = p
        .send(
            ProducerRecord::new(topic.as_str())
                .with_partition(0)
                .with_value("stranded"),
        )
        .await
        .expect("queued: waiting for a leader is not an error yet");
    // The other partition is not held up.
    let m = p
        .send_and_wait(
            ProducerRecord::new(topic.as_str())
                .with_partition(1)
                .with_value("fine"),
        )
        .await
        .expect("other partition unaffected");
    assert_eq!(m.partition, 1);
    assert!(started.elapsed() < Duration::from_secs(5));

    // Records for the dead partition fill the buffer; send then waits max.block and fails.
    let mut queued = vec![stranded];
    let full = loop {
        match p
            .send(
                ProducerRecord::new(topic.as_str())
                    .with_partition(0)
                    .with_value(vec![0u8; 4000]),
            )
            .await
        {
            Ok(f) => queued.push(f),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(full, Error::BufferFull { waited, .. } if waited >= Duration::from_millis(900)),
        "{full:?}"
    );

    for f in queued {
        let err = f.await.unwrap_err();
        assert!(
            matches!(err, Error::DeliveryTimeout { partition: 0, .. }),
            "{err:?}"
        );
    }
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_secs(20),
        "failed after {waited:?}"
    );

    // With the node back, the partition takes records again.
    cluster.restart_node(node).expect("restart");
    common::wait_for_leaders(&client, &topic, 2).await;
    let m = p
        .send_and_wait(
            ProducerRecord::new(topic.as_str())
                .with_partition(0)
                .with_value("after"),
        )
        .await
        .expect("delivered after the leader came back");
    assert_eq!(m.partition, 0);
    p.close(Duration::from_secs(10)).await.unwrap();
    let values: Vec<Vec<u8>> = fetch_all(&client, &topic, 0)
        .await
        .into_iter()
        .map(|r| r.value.unwrap().to_vec())
        .collect();
    assert_eq!(
        values,
        [b"first".to_vec(), b"after".to_vec()],
        "nothing else reached partition 0"
    );
}
