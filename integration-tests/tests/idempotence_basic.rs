//! The idempotent producer on the 1-node cluster: on by default (InitProducerId ran,
//! every batch carries the producer id and contiguous sequence numbers), many batches in
//! flight with order kept and 0 duplicates, and the Java client's configuration rules.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use kafka_client::lowlevel::ConnectionKind;
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_client::records::{DecodeLimits, decode_batches};
use kafka_client::{Client, Error};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::{StrBytes, VersionRange};

/// One batch as read back: producer id, epoch, base sequence, record count, values.
#[derive(Debug)]
struct BatchInfo {
    producer_id: i64,
    epoch: i16,
    base_sequence: i32,
    count: i32,
}

/// Every data batch of `topic`-`partition`, read with raw Fetch requests.
async fn fetch_batches(client: &Client, topic: &str, partition: i32) -> Vec<BatchInfo> {
    let (leader, _) = client.leader(topic, partition).await.expect("leader");
    let conn = client
        .connection(leader, ConnectionKind::Fetch)
        .await
        .expect("connection");
    let version = conn
        .negotiate::<FetchRequest>(VersionRange { min: 4, max: 12 })
        .expect("fetch version");
    let mut out = Vec::new();
    let mut offset = 0i64;
    loop {
        let req = FetchRequest::default()
            .with_max_wait_ms(100)
            .with_min_bytes(1)
            .with_max_bytes(8 << 20)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(partition)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(4 << 20),
                    ]),
            ]);
        let resp = conn
            .request_at(&req, version, Duration::from_secs(10))
            .await
            .expect("fetch");
        let pd = &resp.responses[0].partitions[0];
        assert_eq!(pd.error_code, 0, "fetch error");
        let hw = pd.high_watermark;
        if let Some(bytes) = pd.records.clone() {
            for batch in decode_batches(bytes, DecodeLimits::default()) {
                let batch = batch.expect("batch decodes");
                if batch.next_offset() <= offset {
                    continue;
                }
                offset = batch.next_offset();
                if batch.is_control() {
                    continue;
                }
                out.push(BatchInfo {
                    producer_id: batch.producer_id(),
                    epoch: batch.producer_epoch(),
                    base_sequence: batch.base_sequence(),
                    count: batch.records_count(),
                });
            }
        }
        if offset >= hw {
            return out;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotence_is_on_by_default_with_contiguous_sequences() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("idem-default");
    common::create_topic(&client, &topic, 2, 1).await;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .linger(Duration::from_millis(1))
        .batch_size(2048)
        .build()
        .unwrap();
    let mut futs = Vec::new();
    for i in 0..3000 {
        let r = ProducerRecord::new(topic.as_str())
            .with_partition(i % 2)
            .with_value(format!("value-{i:06}-{}", "x".repeat(40)));
        futs.push(p.send(r).await.unwrap());
    }
    for f in futs {
        f.await.unwrap();
    }
    p.close(Duration::from_secs(10)).await.unwrap();
    for partition in 0..2 {
        let batches = fetch_batches(&client, &topic, partition).await;
        assert!(batches.len() > 5, "{} batches", batches.len());
        let pid = batches[0].producer_id;
        assert!(pid >= 0, "no producer id: InitProducerId did not run");
        let mut next = 0;
        for b in &batches {
            assert_eq!((b.producer_id, b.epoch), (pid, batches[0].epoch));
            assert_eq!(b.base_sequence, next, "sequence gap in {b:?}");
            next += b.count;
        }
        assert_eq!(next, 1500);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_in_flight_keep_order_without_duplicates() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("idem-inflight");
    common::create_topic(&client, &topic, 3, 1).await;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .enable_idempotence(true)
        .max_in_flight(5)
        .linger(Duration::ZERO)
        .batch_size(1024)
        .build()
        .unwrap();
    const N: usize = 30_000;
    let mut futs = Vec::with_capacity(N);
    for i in 0..N {
        let r = ProducerRecord::new(topic.as_str())
            .with_partition((i % 3) as i32)
            .with_key(format!("{}", i % 3))
            .with_value(format!("{i}"));
        futs.push(p.send(r).await.unwrap());
    }
    let mut acked: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    for f in futs {
        let m = f.await.unwrap();
        acked.entry(m.partition).or_default().push(m.offset);
    }
    p.close(Duration::from_secs(10)).await.unwrap();
    let mut duplicates = 0;
    let mut total = 0;
    for partition in 0..3 {
        // Offsets acknowledged in send order are strictly increasing.
        let offs = &acked[&partition];
        assert!(offs.windows(2).all(|w| w[0] < w[1]), "acks out of order");
        let records = common::produce::fetch_all(&client, &topic, partition).await;
        let values: Vec<usize> = records
            .iter()
            .map(|r| {
                std::str::from_utf8(r.value.as_deref().unwrap())
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect();
        let mut seen = HashSet::new();
        for v in &values {
            if !seen.insert(*v) {
                duplicates += 1;
            }
        }
        assert!(
            values.windows(2).all(|w| w[0] < w[1]),
            "order broken in partition {partition}"
        );
        total += seen.len();
    }
    println!("in-flight test: {total} of {N} read back, {duplicates} duplicates");
    assert_eq!(duplicates, 0);
    assert_eq!(total, N);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotence_config_rules_follow_java() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    // Explicitly on with acks=1 or more than 5 in flight: a configuration error.
    for b in [
        Producer::builder()
            .enable_idempotence(true)
            .acks(Acks::Leader),
        Producer::builder()
            .enable_idempotence(true)
            .max_in_flight(6),
    ] {
        let err = b
            .bootstrap_servers([bootstrap.as_str()])
            .build()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
        assert!(err.to_string().contains("enable.idempotence"), "{err}");
    }
    // Not set, acks=1: silently off (batches carry no producer id).
    let client = common::client(bootstrap);
    let topic = common::unique_topic("idem-off");
    common::create_topic(&client, &topic, 1, 1).await;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .acks(Acks::Leader)
        .build()
        .unwrap();
    p.send(ProducerRecord::new(topic.as_str()).with_value("v"))
        .await
        .unwrap()
        .await
        .unwrap();
    p.close(Duration::from_secs(10)).await.unwrap();
    let batches = fetch_batches(&client, &topic, 0).await;
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].producer_id, -1);
}
