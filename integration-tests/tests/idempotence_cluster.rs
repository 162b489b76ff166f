//! The idempotent producer on a 3-node cluster: the leader is killed mid-stream and
//! restarted; every acknowledged record is read back exactly once (lost = 0,
//! duplicates = 0), and no record at all appears twice.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::produce::fetch_until;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_client::Error;
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_testbed::{ClusterConfig, KafkaCluster, StopSignal};

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
    let mut pending = FuturesUnordered::new();
    let started = Instant::now();
    for i in 0..N {
        if i == N / 4 {
            cluster
                .stop_node(victim, StopSignal::Kill)
                .expect("kill leader");
        }
        if i == N / 2 {
            cluster.restart_node(victim).expect("restart");
        }
        let r = ProducerRecord::new(topic.as_str())
            .with_key(format!("k{}", i % 101))
            .with_value(format!("{i}"));
        let f = p.send(r).await.expect("queued");
        pending.push(async move { (i, f.await) });
        if i.is_multiple_of(500) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut acked: HashMap<usize, (i32, i64)> = HashMap::new();
    let mut failed: BTreeMap<String, usize> = BTreeMap::new();
    while let Some((i, res)) = pending.next().await {
        match res {
            Ok(m) => {
                acked.insert(i, (m.partition, m.offset));
            }
            Err(e) => {
                assert!(
                    matches!(
                        e,
                        Error::DeliveryTimeout { .. }
                            | Error::Broker { .. }
                            | Error::PossiblyPersisted { .. }
                    ),
                    "record {i}: {e:?}"
                );
                *failed
                    .entry(format!("{e}").chars().take(70).collect())
                    .or_default() += 1;
            }
        }
    }
    p.close(Duration::from_secs(10)).await.unwrap();

    let mut count: HashMap<usize, usize> = HashMap::new();
    let mut at: HashMap<(i32, i64), usize> = HashMap::new();
    for partition in 0..PARTITIONS {
        // Read at least up to the last acknowledged offset (a new leader's high
        // watermark can lag for a moment).
        let end = acked
            .values()
            .filter(|(p, _)| *p == partition)
            .map(|(_, o)| o + 1)
            .max()
            .unwrap_or(0);
        for r in fetch_until(&client, &topic, partition, end).await.0 {
            let i: usize = std::str::from_utf8(r.value.as_deref().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            *count.entry(i).or_default() += 1;
            at.insert((partition, r.offset), i);
        }
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
    let lost = acked
        .iter()
        .filter(|(i, pos)| at.get(pos) != Some(i) || count.get(i) != Some(&1))
        .count();
    println!(
        "idempotent failover: {} acknowledged, {} failed {failed:?}, {} in log, {duplicates} duplicates, {lost} lost, in {:?} (killed node {victim})",
        acked.len(),
        N - acked.len(),
        count.len(),
        started.elapsed()
    );
    assert_eq!(duplicates, 0, "duplicates");
    assert_eq!(lost, 0, "lost");
    assert!(acked.len() > N / 2);
}
