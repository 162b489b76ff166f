//! Incremental fetch sessions (KIP-227) against the real broker: the consumer opens a
//! session and then sends incremental requests, records keep flowing across assignment
//! changes, and sessions the broker evicts from its cache are recovered without a
//! record skipped or repeated; with sessions switched off (`fetch_sessions(false)`)
//! every Fetch is full and the records are the same.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::consumer_util::{consumer, drain};
use kafka_client::consumer::{AutoOffsetReset, Consumer, ConsumerRecord, TopicPartition};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_testbed::{ClusterConfig, KafkaCluster};

fn producer(bootstrap: &str) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .linger(Duration::from_millis(5))
        .build()
        .expect("producer config")
}

/// Writes `n` records to each of `partitions`, values `p<partition>-<i>` from `from`.
async fn produce(p: &Producer, topic: &str, partitions: &[i32], from: usize, n: usize) {
    let mut acks = Vec::new();
    for i in from..from + n {
        for part in partitions {
            let r = ProducerRecord::new(topic)
                .with_partition(*part)
                .with_value(format!("p{part}-{i}"));
            acks.push(p.send(r).await.expect("queued"));
        }
    }
    for a in acks {
        a.await.expect("delivered");
    }
}

/// Checks that `records` are, per partition, exactly offsets `0..count[p]` once each
/// with values `p<partition>-<offset>`.
fn exactly_once(records: &[ConsumerRecord], count: &BTreeMap<i32, i64>) {
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    for r in records {
        let n = next.entry(r.partition).or_insert(0);
        assert_eq!(
            r.offset, *n,
            "partition {}: skipped or repeated",
            r.partition
        );
        let v = String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap();
        assert_eq!(v, format!("p{}-{}", r.partition, r.offset));
        *n += 1;
    }
    assert_eq!(&next, count);
}

fn assign(c: &Consumer, topic: &str, partitions: &[i32]) {
    c.assign(partitions.iter().map(|p| TopicPartition::new(topic, *p)))
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_session_opens_and_records_flow_across_assignment_changes() {
    let b = kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(&b);
    let topic = common::unique_topic("fetch_session");
    common::create_topic(&client, &topic, 4, 1).await;
    let p = producer(&b);
    let c = consumer(&b)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    let mut records = Vec::new();
    assign(&c, &topic, &[0, 1]);
    produce(&p, &topic, &[0, 1, 2, 3], 0, 50).await;
    records.extend(drain(&c, 100, Duration::from_secs(60)).await);
    // Idle partitions: the session's incremental requests carry nothing new.
    for _ in 0..3 {
        assert!(c.poll(Duration::from_millis(300)).await.unwrap().is_empty());
    }
    let s = c.stats();
    assert!(
        s.fetch_requests_full >= 1 && s.fetch_requests_incremental >= 1,
        "a session was opened (non-zero id) and used: {s:?}"
    );
    assert_eq!(s.fetch_session_resets, 0, "{s:?}");
    // Two more partitions join the session: read from their start.
    assign(&c, &topic, &[0, 1, 2, 3]);
    produce(&p, &topic, &[0, 1], 50, 20).await;
    records.extend(drain(&c, 140, Duration::from_secs(60)).await);
    // Partitions leave (forgotten), one is paused (forgotten), then resumed (added).
    assign(&c, &topic, &[1, 3]);
    c.pause([TopicPartition::new(topic.as_str(), 1)]).unwrap();
    produce(&p, &topic, &[1], 70, 10).await;
    produce(&p, &topic, &[3], 50, 10).await;
    let got = drain(&c, 10, Duration::from_secs(60)).await;
    assert!(
        got.iter().all(|r| r.partition == 3),
        "partition 1 is paused"
    );
    records.extend(got);
    c.resume([TopicPartition::new(topic.as_str(), 1)]).unwrap();
    records.extend(drain(&c, 10, Duration::from_secs(60)).await);
    let extra = c.poll(Duration::from_millis(500)).await.unwrap();
    assert!(extra.is_empty(), "nothing more");
    // Per partition, in the order read.
    let mut by_partition: BTreeMap<i32, Vec<ConsumerRecord>> = BTreeMap::new();
    for r in records {
        by_partition.entry(r.partition).or_default().push(r);
    }
    let all: Vec<ConsumerRecord> = by_partition.into_values().flatten().collect();
    exactly_once(&all, &BTreeMap::from([(0, 70), (1, 80), (2, 50), (3, 60)]));
    let s = c.stats();
    assert!(
        s.fetch_requests_incremental > s.fetch_requests_full,
        "{s:?}"
    );
    c.close().await.unwrap();
    p.close(Duration::from_secs(10)).await.unwrap();
}

/// `fetch_sessions(false)`: every Fetch is full and sessionless (no incremental request,
/// no session to lose), across an assignment change, and every record arrives once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_session_switched_off_sends_only_full_requests() {
    let b = kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(&b);
    let topic = common::unique_topic("fetch_session_off");
    common::create_topic(&client, &topic, 3, 1).await;
    let p = producer(&b);
    let c = consumer(&b)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .fetch_sessions(false)
        .build()
        .unwrap();
    let mut records = Vec::new();
    assign(&c, &topic, &[0, 1]);
    produce(&p, &topic, &[0, 1, 2], 0, 30).await;
    records.extend(drain(&c, 60, Duration::from_secs(60)).await);
    for _ in 0..3 {
        assert!(c.poll(Duration::from_millis(300)).await.unwrap().is_empty());
    }
    assign(&c, &topic, &[0, 1, 2]);
    records.extend(drain(&c, 30, Duration::from_secs(60)).await);
    let extra = c.poll(Duration::from_millis(500)).await.unwrap();
    assert!(extra.is_empty(), "nothing more");
    let mut by_partition: BTreeMap<i32, Vec<ConsumerRecord>> = BTreeMap::new();
    for r in records {
        by_partition.entry(r.partition).or_default().push(r);
    }
    let all: Vec<ConsumerRecord> = by_partition.into_values().flatten().collect();
    exactly_once(&all, &BTreeMap::from([(0, 30), (1, 30), (2, 30)]));
    let s = c.stats();
    assert_eq!(
        s.fetch_requests_incremental, 0,
        "no session was used: {s:?}"
    );
    assert!(s.fetch_requests_full >= 4, "every Fetch was full: {s:?}");
    assert_eq!(s.fetch_session_resets, 0, "{s:?}");
    c.close().await.unwrap();
    p.close(Duration::from_secs(10)).await.unwrap();
}

/// A broker with 8 session slots (`max.incremental.fetch.session.cache.slots`) and nine
/// consumers: eight of one partition each take the slots, and a ninth with three
/// partitions comes later. The broker refuses a session (a full request answered with
/// session id 0: the client goes on with full requests) or evicts a smaller one for the
/// larger (FETCH_SESSION_ID_NOT_FOUND at the evicted consumer, which re-syncs with a
/// full request); which one Kafka does depends on its cache shards. Either way every
/// record arrives exactly once at every consumer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_session_refused_or_evicted_is_recovered_without_skipping_or_repeating() {
    let cluster = tokio::task::spawn_blocking(|| {
        KafkaCluster::start(
            ClusterConfig::new(1).with_property("max.incremental.fetch.session.cache.slots", "8"),
        )
    })
    .await
    .unwrap()
    .expect("cluster with one fetch session slot");
    let b = cluster.bootstrap_servers();
    let client = common::client(&b);
    let topic = common::unique_topic("fetch_session_evict");
    common::create_topic(&client, &topic, 3, 1).await;
    let p = producer(&b);
    // Consumer i reads partition i % 3.
    let consumers: Vec<Consumer> = (0..8)
        .map(|i| {
            let c = consumer(&b)
                .auto_offset_reset(AutoOffsetReset::Earliest)
                .build()
                .unwrap();
            assign(&c, &topic, &[i % 3]);
            c
        })
        .collect();
    let rounds = 10;
    let per_round = 20;
    let mut read: Vec<Vec<ConsumerRecord>> = vec![Vec::new(); consumers.len()];
    let big = consumer(&b)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    for round in 0..rounds {
        produce(&p, &topic, &[0, 1, 2], round * per_round, per_round).await;
        for (i, c) in consumers.iter().enumerate() {
            read[i].extend(drain(c, per_round, Duration::from_secs(60)).await);
        }
        if round == 0 {
            // Every small consumer opens its session (its first incremental request).
            for c in &consumers {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
                while c.stats().fetch_requests_incremental == 0 {
                    assert!(tokio::time::Instant::now() < deadline, "{:?}", c.stats());
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            assign(&big, &topic, &[0, 1, 2]);
        }
    }
    let total = (rounds * per_round) as i64;
    let all = drain(&big, 3 * rounds * per_round, Duration::from_secs(60)).await;
    let mut by_partition: BTreeMap<i32, Vec<ConsumerRecord>> = BTreeMap::new();
    for r in all {
        by_partition.entry(r.partition).or_default().push(r);
    }
    let all: Vec<ConsumerRecord> = by_partition.into_values().flatten().collect();
    exactly_once(&all, &BTreeMap::from([(0, total), (1, total), (2, total)]));
    let big_stats = big.stats();
    println!("consumer of 3: {big_stats:?}");
    // Sessions the broker evicted, and full requests past the first (refused sessions).
    let mut lost = big_stats.fetch_session_resets + big_stats.fetch_requests_full - 1;
    for (i, c) in consumers.iter().enumerate() {
        let extra = c.poll(Duration::from_millis(300)).await.unwrap();
        assert!(extra.is_empty(), "consumer {i}: nothing more");
        let mut by_partition: BTreeMap<i32, Vec<ConsumerRecord>> = BTreeMap::new();
        for r in std::mem::take(&mut read[i]) {
            by_partition.entry(r.partition).or_default().push(r);
        }
        let all: Vec<ConsumerRecord> = by_partition.into_values().flatten().collect();
        let want = BTreeMap::from([(i as i32 % 3, (rounds * per_round) as i64)]);
        exactly_once(&all, &want);
        let s = c.stats();
        println!("consumer {i}: {s:?}");
        lost += s.fetch_session_resets + s.fetch_requests_full.saturating_sub(1);
    }
    assert!(
        lost > 0,
        "nine consumers, eight slots: a session was refused or evicted"
    );
    big.close().await.unwrap();
    for c in consumers {
        c.close().await.unwrap();
    }
    p.close(Duration::from_secs(10)).await.unwrap();
}
