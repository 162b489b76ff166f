//! The idempotent producer on a 3-node cluster: the leader is killed mid-stream and
//! restarted; every acknowledged record is read back exactly once (lost = 0,
//! duplicates = 0), and no record at all appears twice.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use kafka_client::producer::Producer;
use kafka_testbed::{ClusterConfig, KafkaCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_survives_leader_kill_and_restart() {
    let cluster = KafkaCluster::start(ClusterConfig::new(3)).expect("3-node cluster");
    let bootstrap = cluster.bootstrap_servers();
    let client = common::client(&bootstrap);
    let topic = common::unique_topic("idem-failover");
    const PARTITIONS: i32 = 3;
    common::create_topic(&client, &topic, PARTITIONS, 3).await;
    let victim = client.leader(&topic, 0).await.unwrap().0;

    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .linger(Duration::from_millis(5))
        .batch_size(4096)
        .request_timeout(Duration::from_secs(10))
        .delivery_timeout(Duration::from_secs(90))
        .build()
        .unwrap();
    const N: usize = 20_000;
    let run =
        common::leader_kill::produce_through_kill(&cluster, &p, &topic, N, 101, victim, true).await;
    let (acked, failed) = (&run.acked, &run.failed);
    p.close(Duration::from_secs(10)).await.unwrap();

    let mut count: HashMap<usize, usize> = HashMap::new();
    let mut at: HashMap<(i32, i64), usize> = HashMap::new();
    for (partition, offset, i) in
        common::leader_kill::read_back(&client, &topic, PARTITIONS, acked).await
    {
        *count.entry(i).or_default() += 1;
        at.insert((partition, offset), i);
    }
    let mut lost_list: Vec<_> = acked
        .iter()
        .filter(|(i, pos)| at.get(pos) != Some(i) || count.get(i) != Some(&1))
        .map(|(i, pos)| {
            (
                pos.0,
                pos.1,
                *i,
                at.get(pos).copied(),
                count.get(i).copied(),
            )
        })
        .collect();
    lost_list.sort();
    for l in lost_list.iter().take(20) {
        eprintln!(
            "LOST partition {} offset {} value {} at-offset {:?} count {:?}",
            l.0, l.1, l.2, l.3, l.4
        );
    }
    let duplicates: usize = count.values().map(|c| c - 1).sum();
    let lost = lost_list.len();
    println!(
        "idempotent failover: {} acknowledged, {} failed {failed:?}, {} in log, {duplicates} duplicates, {lost} lost, in {:?} (killed node {victim})",
        acked.len(),
        N - acked.len(),
        count.len(),
        run.elapsed
    );
    assert_eq!(duplicates, 0, "duplicates");
    assert_eq!(lost, 0, "lost");
    assert!(acked.len() > N / 2);
}
