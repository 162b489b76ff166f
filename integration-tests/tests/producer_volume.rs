//! Volume and back-pressure: 100,000 records over 6 partitions all resolve with unique,
//! contiguous offsets; a tiny `buffer.memory` makes `send` wait and `try_send` fail fast.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::produce::{assert_contiguous, fetch_all};
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_client::Error;
use kafka_client::producer::{Producer, ProducerRecord};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_thousand_records_over_six_partitions() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("volume");
    common::create_topic(&client, &topic, 6, 1).await;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .linger(Duration::from_millis(5))
        .batch_size(64 * 1024)
        .build()
        .unwrap();
    const N: usize = 100_000;
    let topic_name: std::sync::Arc<str> = topic.as_str().into();
    let started = Instant::now();
    let mut pending = FuturesUnordered::new();
    for i in 0..N {
        // Half keyed (hashed), half keyless (sticky).
        let mut r = ProducerRecord::new(topic_name.clone()).with_value(format!("{i:08}"));
        if i.is_multiple_of(2) {
            r = r.with_key(format!("k{}", i % 1000));
        }
        let f = p.send(r).await.expect("queued");
        pending.push(async move { (i, f.await) });
    }
    let mut offsets: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    let mut where_: Vec<(i32, i64)> = vec![(0, 0); N];
    let mut resolved = 0;
    while let Some((i, res)) = pending.next().await {
        let m = res.unwrap_or_else(|e| panic!("record {i}: {e}"));
        offsets.entry(m.partition).or_default().push(m.offset);
        where_[i] = (m.partition, m.offset);
        resolved += 1;
    }
    let elapsed = started.elapsed();
    assert_eq!(resolved, N, "every delivery future resolved");
    assert_eq!(offsets.len(), 6, "every partition used");
    assert_contiguous(&offsets);
    println!("{N} records in {elapsed:?}");
    p.close(Duration::from_secs(10)).await.unwrap();

    // The log holds exactly what was acknowledged, where it was acknowledged.
    for (partition, offs) in &offsets {
        let back = fetch_all(&client, &topic, *partition).await;
        assert_eq!(back.len(), offs.len(), "partition {partition}");
        for r in back {
            let i: usize = std::str::from_utf8(r.value.as_deref().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(where_[i], (*partition, r.offset), "record {i}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_buffer_memory_makes_send_wait_and_try_send_fail() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("backpressure");
    common::create_topic(&client, &topic, 1, 1).await;
    const BUFFER: usize = 4096;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .buffer_memory(BUFFER)
        // Records would linger for a minute unless something pushes them out.
        .linger(Duration::from_secs(60))
        .delivery_timeout(Duration::from_secs(120))
        .batch_size(1 << 20)
        .build()
        .unwrap();
    let value = vec![7u8; 500];
    let record = || ProducerRecord::new(topic.as_str()).with_value(value.clone());
    // The first try_send loads metadata in the background.
    let mut queued = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let full = loop {
        match p.try_send(record()) {
            Ok(f) => queued.push(f),
            Err(Error::MetadataPending { .. }) => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            Err(e) => break e,
        }
        assert!(
            Instant::now() < deadline,
            "try_send never filled the buffer"
        );
    };
    assert!(
        matches!(
            full,
            Error::BufferFull {
                capacity: BUFFER,
                waited: Duration::ZERO,
                ..
            }
        ),
        "{full:?}"
    );
    // About buffer.memory / record size fit, never more.
    assert!(
        (5..=8).contains(&queued.len()),
        "{} records fit in {BUFFER} bytes",
        queued.len()
    );
    // Nothing waits, so linger still holds them: none is delivered yet.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(matches!(
        p.try_send(record()),
        Err(Error::BufferFull { .. })
    ));

    let burst = queued.len();
    // send waits for room; while it waits, batches go out without linger, so it gets in.
    let started = Instant::now();
    let mut futures = Vec::new();
    for _ in 0..100 {
        futures.push(
            p.send(record())
                .await
                .expect("send waits for room, then queues"),
        );
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "waited {:?}",
        started.elapsed()
    );
    // The last records fitted without waiting, so linger holds them: flush sends them.
    p.flush().await;
    for f in queued.into_iter().chain(futures) {
        f.await.expect("delivered");
    }
    // Once delivered, the buffer is free again.
    let last = p.try_send(record()).expect("room again after delivery");
    p.close(Duration::from_secs(10)).await.unwrap();
    last.await.expect("close delivered the last record");
    // The try_send burst, the 100 sends and the last try_send: all in the log.
    assert_eq!(fetch_all(&client, &topic, 0).await.len(), burst + 100 + 1);
}
