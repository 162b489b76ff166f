//! Cancel safety of `ShareConsumer` (KIP-932) on a real single-node broker: every call
//! dropped at every poll point k = 0..k_max, then the contract checked — a dropped
//! `poll` loses no record and causes no redelivery (every record once, delivery count
//! 1), a dropped `commit` loses no acknowledgement (nothing comes back after the
//! acquisition lock would have expired), and a dropped `close` still closes (accepting
//! the last poll, releasing the rest) with the next close returning `Ok`.
//!
//! Its own cluster, like `share_consumer.rs`: the broker allows short acquisition locks
//! so a lost acknowledgement shows as a redelivery within seconds.

mod cancel_safety_support;
mod common;

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use cancel_safety_support::{sweep, within};
use common::{client, create_topic, unique_topic};
use kafka_admin::{Admin, AlterConfigOp, AlterConfigsOptions, ConfigResource};
use kafka_client::share::{AcknowledgeType, AcknowledgementMode, ShareConsumer, ShareRecord};
use kafka_client::{Error, Producer, ProducerRecord};
use kafka_testbed::{ClusterConfig, KafkaCluster};

fn cluster() -> &'static KafkaCluster {
    static CLUSTER: OnceLock<KafkaCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        KafkaCluster::start(
            ClusterConfig::new(1)
                .with_property("group.share.min.record.lock.duration.ms", "1000")
                .with_property("group.share.min.heartbeat.interval.ms", "500")
                .with_property("group.share.heartbeat.interval.ms", "1000"),
        )
        .expect("share-group cluster")
    })
}

fn bootstrap() -> String {
    cluster().bootstrap_servers()
}

/// A 1-partition topic holding `n` records `v0`..`v{n-1}`, in batches of 5 (a share
/// group hands out whole batches).
async fn topic_with(n: usize) -> String {
    let topic = unique_topic("cs-share");
    create_topic(&client(&bootstrap()), &topic, 1, 1).await;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap()])
        .build()
        .expect("producer");
    for chunk in (0..n).collect::<Vec<_>>().chunks(5) {
        let mut futs = Vec::new();
        for i in chunk {
            let r = ProducerRecord::new(topic.as_str()).with_value(format!("v{i}"));
            futs.push(p.send(r).await.expect("queued"));
        }
        for f in futs {
            f.await.expect("delivered");
        }
    }
    p.close(Duration::from_secs(10)).await.expect("close");
    topic
}

/// A share group reading from the earliest offset, with a 2 s acquisition lock.
async fn group() -> String {
    let g = unique_topic("cs-share-g");
    let ops = vec![
        AlterConfigOp::set("share.auto.offset.reset", "earliest"),
        AlterConfigOp::set("share.record.lock.duration.ms", "2000"),
    ];
    let res = Admin::new(client(&bootstrap()))
        .incremental_alter_configs(
            [(ConfigResource::group(g.clone()), ops)],
            AlterConfigsOptions::default(),
        )
        .await
        .expect("IncrementalAlterConfigs");
    for (r, outcome) in res {
        outcome.unwrap_or_else(|e| panic!("group config {r}: {e}"));
    }
    g
}

fn member(group: &str, topic: &str, mode: AcknowledgementMode) -> ShareConsumer {
    let c = ShareConsumer::builder()
        .bootstrap_servers([bootstrap()])
        .group_id(group)
        .acknowledgement_mode(mode)
        .max_poll_records(5)
        .fetch_max_wait(Duration::from_millis(200))
        .build()
        .expect("share consumer");
    c.subscribe([topic]).expect("subscribe");
    c
}

fn index(r: &ShareRecord) -> usize {
    let v = r.value.as_ref().expect("value");
    std::str::from_utf8(&v[1..]).unwrap().parse().unwrap()
}

/// Polls (implicit mode) until nothing came for `quiet`: what is still there.
async fn leftovers(c: &ShareConsumer, quiet: Duration) -> Vec<ShareRecord> {
    let mut out = Vec::new();
    let mut last = Instant::now();
    while last.elapsed() < quiet {
        let got = c.poll(Duration::from_millis(300)).await.expect("poll");
        if !got.is_empty() {
            last = Instant::now();
        }
        out.extend(got);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_loses_nothing_and_redelivers_nothing() {
    const N: usize = 30;
    let topic = topic_with(N).await;
    let g = group().await;
    let c = member(&g, &topic, AcknowledgementMode::Implicit);
    let mut seen: BTreeMap<usize, Vec<i16>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while seen.len() < N {
        assert!(
            Instant::now() < deadline,
            "only {} of {N} records",
            seen.len()
        );
        let (got, _) = sweep(
            "ShareConsumer::poll",
            "implicit acknowledgement",
            async |k| within(k, c.poll(Duration::from_secs(5))).await,
            async |_| {},
        )
        .await;
        for r in got.expect("poll") {
            seen.entry(index(&r)).or_default().push(r.delivery_count);
        }
    }
    c.close().await.expect("close");
    for (i, deliveries) in &seen {
        assert_eq!(deliveries, &[1], "record {i}: once, first delivery");
    }
    // Nothing left for the group: every record was accepted.
    let late = member(&g, &topic, AcknowledgementMode::Implicit);
    let extra = leftovers(&late, Duration::from_secs(4)).await;
    assert!(
        extra.is_empty(),
        "redelivered: {:?}",
        extra.iter().map(index).collect::<Vec<_>>()
    );
    late.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_loses_no_acknowledgement() {
    const N: usize = 30;
    let topic = topic_with(N).await;
    let g = group().await;
    let c = member(&g, &topic, AcknowledgementMode::Explicit);
    let mut accepted = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    while accepted.len() < N {
        assert!(
            Instant::now() < deadline,
            "only {} of {N} records",
            accepted.len()
        );
        let got = c.poll(Duration::from_secs(2)).await.expect("poll");
        if got.is_empty() {
            continue;
        }
        for r in &got {
            c.acknowledge(r, AcknowledgeType::Accept)
                .expect("acknowledge");
            accepted.push(index(r));
        }
        sweep(
            "ShareConsumer::commit",
            "explicit acknowledgements pending",
            async |k| within(k, c.commit()).await,
            async |_| {},
        )
        .await
        .0
        .expect("commit");
    }
    accepted.sort_unstable();
    assert_eq!(accepted, (0..N).collect::<Vec<_>>());
    // A lost acknowledgement would bring its record back once the 2 s lock expired.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let late = member(&g, &topic, AcknowledgementMode::Implicit);
    let extra = leftovers(&late, Duration::from_secs(4)).await;
    assert!(
        extra.is_empty(),
        "redelivered: {:?}",
        extra.iter().map(index).collect::<Vec<_>>()
    );
    late.close().await.expect("close");
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_still_closes() {
    const N: usize = 100;
    let topic = topic_with(N).await;
    let g = group().await;
    // Each record a member returned before its close was accepted by that close; the
    // rest were released. Together with what a last member drains: each exactly once.
    let mut accepted: BTreeMap<usize, usize> = BTreeMap::new();
    for name in ["ShareConsumer::close_with_timeout", "ShareConsumer::close"] {
        sweep(
            name,
            "implicit mode, records held",
            async |k| {
                let c = member(&g, &topic, AcknowledgementMode::Implicit);
                let deadline = Instant::now() + Duration::from_secs(30);
                let got = loop {
                    let got = c.poll(Duration::from_secs(2)).await.expect("poll");
                    if !got.is_empty() {
                        break got;
                    }
                    assert!(Instant::now() < deadline, "try {k}: no records left");
                };
                for r in &got {
                    *accepted.entry(index(r)).or_default() += 1;
                }
                let done = if name == "ShareConsumer::close" {
                    within(k, c.close()).await
                } else {
                    within(k, c.close_with_timeout(Duration::from_secs(20))).await
                };
                if done.is_none() {
                    c.close().await.expect("the next close");
                }
                let after = c.poll(Duration::from_millis(10)).await;
                assert!(matches!(after, Err(Error::Closed)), "{after:?}");
                done.map(|r| r.expect("close"))
            },
            async |_| {},
        )
        .await;
    }
    let last = member(&g, &topic, AcknowledgementMode::Implicit);
    for r in leftovers(&last, Duration::from_secs(5)).await {
        *accepted.entry(index(&r)).or_default() += 1;
    }
    last.close().await.expect("close");
    assert_eq!(accepted.len(), N, "every record: {accepted:?}");
    assert!(
        accepted.values().all(|n| *n == 1),
        "once each: {accepted:?}"
    );
}
