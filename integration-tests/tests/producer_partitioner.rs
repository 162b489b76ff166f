//! Partitioning: keyed records land where librdkafka's `murmur2_random` (and the Java
//! client) put them; keyless records stick to a partition for about a batch; round-robin
//! and custom partitioners; explicit partitions.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use common::produce::{kcat_consume, kcat_produce_keyed};
use kafka_client::producer::{
    Partitioner, Partitioning, Producer, ProducerBuilder, ProducerRecord, key_partition,
};

fn builder(bootstrap: &str) -> ProducerBuilder {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .linger(Duration::from_millis(5))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_land_where_kcat_murmur2_random_puts_them() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    const PARTITIONS: i32 = 7;
    let theirs = common::unique_topic("kcat-keys");
    let ours = common::unique_topic("our-keys");
    common::create_topic(&client, &theirs, PARTITIONS, 1).await;
    common::create_topic(&client, &ours, PARTITIONS, 1).await;

    let keys: Vec<String> = (0..1000).map(|i| format!("key-{i}-{}", i * 7919)).collect();
    let lines: Vec<String> = keys.iter().map(|k| format!("{k}:v")).collect();
    kcat_produce_keyed(bootstrap, &theirs, "murmur2_random", &lines).await;
    let kcat_choice: HashMap<String, i32> = kcat_consume(bootstrap, &theirs)
        .await
        .into_iter()
        .map(|m| (m.key.expect("keyed"), m.partition))
        .collect();
    assert_eq!(kcat_choice.len(), keys.len(), "kcat wrote every key");

    let p = builder(bootstrap).build().unwrap();
    let mut futures = Vec::new();
    for k in &keys {
        futures.push(
            p.send(
                ProducerRecord::new(ours.as_str())
                    .with_key(k.clone())
                    .with_value("v"),
            )
            .await
            .unwrap(),
        );
    }
    let mut per_partition = BTreeMap::new();
    for (k, f) in keys.iter().zip(futures) {
        let m = f.await.expect("delivered");
        assert_eq!(
            m.partition, kcat_choice[k],
            "key {k}: we chose {}, kcat {}",
            m.partition, kcat_choice[k]
        );
        assert_eq!(m.partition, key_partition(k.as_bytes(), PARTITIONS));
        *per_partition.entry(m.partition).or_insert(0) += 1;
    }
    assert_eq!(
        per_partition.len(),
        PARTITIONS as usize,
        "1000 keys reach every partition: {per_partition:?}"
    );
    p.close(Duration::from_secs(5)).await.unwrap();
}

#[tokio::test]
async fn keyless_records_stick_then_move() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("sticky");
    common::create_topic(&client, &topic, 6, 1).await;
    // 100-byte values, 2 KB batches: about 17 records per partition before moving on.
    let p = builder(bootstrap).batch_size(2048).build().unwrap();
    let mut futures = Vec::new();
    for _ in 0..600 {
        futures.push(
            p.send(ProducerRecord::new(topic.as_str()).with_value(vec![b'x'; 100]))
                .await
                .unwrap(),
        );
    }
    let mut partitions = Vec::new();
    for f in futures {
        partitions.push(f.await.expect("delivered").partition);
    }
    let runs = partitions.chunk_by(|a, b| a == b).count();
    let used: std::collections::BTreeSet<i32> = partitions.iter().copied().collect();
    assert!(
        used.len() >= 3,
        "keyless records spread over partitions: {used:?}"
    );
    // Sticky: long runs on one partition, not one record each.
    assert!(
        (20..=80).contains(&runs),
        "{runs} runs for 600 records: {partitions:?}"
    );
    p.close(Duration::from_secs(5)).await.unwrap();
}

#[derive(Debug)]
struct LastPartition;

impl Partitioner for LastPartition {
    fn partition(&self, _topic: &str, key: Option<&[u8]>, _value: Option<&[u8]>, n: i32) -> i32 {
        if key == Some(b"out-of-range") {
            n
        } else {
            n - 1
        }
    }
}

#[tokio::test]
async fn round_robin_custom_and_explicit_partitions() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("rr");
    common::create_topic(&client, &topic, 4, 1).await;

    let rr = builder(bootstrap)
        .partitioning(Partitioning::RoundRobin)
        .build()
        .unwrap();
    let mut counts = BTreeMap::new();
    for _ in 0..40 {
        // The key is ignored by round-robin.
        let m = rr
            .send_and_wait(
                ProducerRecord::new(topic.as_str())
                    .with_key("same")
                    .with_value("v"),
            )
            .await
            .unwrap();
        *counts.entry(m.partition).or_insert(0) += 1;
    }
    assert_eq!(counts, BTreeMap::from([(0, 10), (1, 10), (2, 10), (3, 10)]));

    let custom = builder(bootstrap)
        .partitioning(Partitioning::Custom(Arc::new(LastPartition)))
        .build()
        .unwrap();
    let m = custom
        .send_and_wait(
            ProducerRecord::new(topic.as_str())
                .with_key("k")
                .with_value("v"),
        )
        .await
        .unwrap();
    assert_eq!(m.partition, 3);
    let err = custom
        .send(
            ProducerRecord::new(topic.as_str())
                .with_key("out-of-range")
                .with_value("v"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, kafka_client::Error::UnknownTopicOrPartition(_)),
        "{err:?}"
    );
    // An explicit partition wins over the partitioner.
    let m = custom
        .send_and_wait(
            ProducerRecord::new(topic.as_str())
                .with_key("k")
                .with_partition(1),
        )
        .await
        .unwrap();
    assert_eq!(m.partition, 1);
}

/// A round-robin partitioner that counts its calls.
#[derive(Debug, Default)]
struct Counting(std::sync::atomic::AtomicU32);

impl Partitioner for Counting {
    fn partition(&self, _: &str, _: Option<&[u8]>, _: Option<&[u8]>, partitions: i32) -> i32 {
        let n = self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        (n % partitions as u32) as i32
    }
}

/// The partition is chosen once per record, also when `send` must wait (for metadata on
/// the first record, for buffer space on the rest): the partitioner runs exactly once per
/// record, so a round-robin spreads records exactly evenly. Before, a send that waited
/// asked the partitioner up to four times, and the partition checked was not always the
/// one used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_partitioner_runs_once_per_record_even_when_send_waits() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("choose-once");
    common::create_topic(&client, &topic, 4, 1).await;
    let counting = Arc::new(Counting::default());
    // A buffer of ~4 records: most sends wait for room.
    let producer = builder(bootstrap)
        .partitioner(Partitioning::Custom(counting.clone()))
        .buffer_memory(4 * 1100)
        .batch_size(1024)
        .build()
        .expect("producer");
    const N: usize = 400;
    let mut deliveries = Vec::new();
    for i in 0..N {
        let record = ProducerRecord::new(topic.as_str()).with_value(vec![i as u8; 1000]);
        deliveries.push(producer.send(record).await.expect("queued"));
    }
    let mut per_partition: BTreeMap<i32, usize> = BTreeMap::new();
    for d in deliveries {
        *per_partition
            .entry(d.await.expect("acknowledged").partition)
            .or_default() += 1;
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("closed");
    assert_eq!(
        counting.0.load(std::sync::atomic::Ordering::Relaxed) as usize,
        N,
        "partitioner calls"
    );
    assert_eq!(
        per_partition,
        (0..4).map(|p| (p, N / 4)).collect::<BTreeMap<_, _>>(),
        "round robin spreads evenly when each record asks once"
    );
}
