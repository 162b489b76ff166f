//! The consumer against a group coordinator behind the fault proxy:
//! - `close` honours its timeout (invariant I10 of the reliability guide): with the
//!   coordinator black-holed, the final commit and LeaveGroup cannot complete, and
//!   `close_with_timeout` returns a typed `Error::Deadline` on time, the consumer closed;
//!   with the coordinator reachable, `close` commits, leaves at once and returns `Ok`.
//! - commits land in the order they were made (regression test: the reliability matrix
//!   re-delivered 1,050-3,200 records with no session lost after a SIGKILL of the group
//!   coordinator, because an older commit retried across the failover landed after a
//!   newer one and moved the committed offsets back).

mod common;

use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use common::consumer_util::{consumer, kcat_produce};
use kafka_client::consumer::{AutoOffsetReset, Consumer, OffsetAndMetadata, TopicPartition};
use kafka_client::{Client, Error};
use kafka_testbed::fault_proxy::{Target, api};
use kafka_testbed::{ClusterConfig, KafkaCluster};

/// A 1-node cluster behind the fault proxy and a new topic of `partitions` on it.
async fn proxied_cluster(prefix: &str, partitions: i32) -> (KafkaCluster, String) {
    let cluster = KafkaCluster::start(ClusterConfig::new(1).with_fault_proxy()).unwrap();
    let direct = common::client(&cluster.bootstrap_servers());
    let topic = common::unique_topic(prefix);
    common::create_topic(&direct, &topic, partitions, 1).await;
    (cluster, topic)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_commit_retried_never_lands_after_a_newer_one() {
    let (cluster, topic) = proxied_cluster("commit-order", 1).await;
    let group = common::unique_topic("g-commit-order");
    let tp = TopicPartition::new(topic.as_str(), 0);
    let at = |offset| BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(offset))]);

    // Commits that fail are retried 0.5 s later.
    let proxied = Client::builder()
        .bootstrap_servers([cluster.client_bootstrap_servers()])
        .retry_backoff(Duration::from_millis(500), Duration::from_secs(1))
        .build()
        .unwrap();
    let c = Consumer::builder()
        .client(proxied)
        .group_id(group.clone())
        .enable_auto_commit(false)
        .build()
        .unwrap();
    c.assign([tp.clone()]).unwrap();
    c.committed([tp.clone()]).await.expect("coordinator found");

    // The broker stores commit A (offset 10), but its answer is swallowed and the
    // connection closed: A is retried 0.5 s later. Commit B (offset 20), asked for
    // 150 ms after A, would get through at once on a new connection; it must land
    // after A's retry, never before it.
    let proxy = cluster.proxy(1).unwrap();
    proxy.arm_drop_response(Target::Api(api::OFFSET_COMMIT), 1, Duration::ZERO);
    let a = c.commit_offsets_async(at(10));
    tokio::time::sleep(Duration::from_millis(150)).await;
    c.commit_offsets(at(20)).await.expect("commit B");
    a.await.expect("commit A, retried");
    assert_eq!(proxy.stats().responses_dropped, 1, "the fault fired");

    let reader = consumer(&cluster.bootstrap_servers())
        .group_id(group)
        .build()
        .unwrap();
    let stored = reader.committed([tp.clone()]).await.unwrap();
    let stored = stored.get(&tp).cloned().flatten().map(|o| o.offset);
    assert_eq!(
        stored,
        Some(20),
        "the newest commit is what the group keeps"
    );
    c.close().await.unwrap();
    reader.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_returns_within_its_timeout_when_the_coordinator_is_black_holed() {
    let (cluster, topic) = proxied_cluster("close-timeout", 2).await;
    kcat_produce(
        &cluster.bootstrap_servers(),
        &topic,
        "none",
        400,
        0,
        20,
        None,
    );
    let group = common::unique_topic("g-close");
    let proxied = cluster.client_bootstrap_servers();

    let member = || {
        consumer(&proxied)
            .group_id(group.clone())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_poll_records(50)
            .build()
            .unwrap()
    };
    let c = member();
    c.subscribe([topic.clone()]).unwrap();
    let got = common::consumer_util::drain(&c, 50, Duration::from_secs(30)).await;
    assert!(got.len() >= 50);

    let proxy = cluster.proxy(1).unwrap();
    let hole = tokio::spawn({
        let proxy = proxy.clone();
        async move { proxy.black_hole_for(Duration::from_secs(30)).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    let timeout = Duration::from_secs(3);
    let started = Instant::now();
    let res = c.close_with_timeout(timeout).await;
    let took = started.elapsed();
    println!("close with the coordinator black-holed: {res:?} after {took:?}");
    assert!(
        took < timeout + Duration::from_secs(1),
        "close took {took:?}, timeout {timeout:?}"
    );
    assert!(
        matches!(res, Err(Error::Deadline { .. })),
        "a close that could not finish says so: {res:?}"
    );
    assert!(matches!(
        c.poll(Duration::from_millis(10)).await,
        Err(Error::Closed)
    ));
    assert!(c.close().await.is_ok(), "closing twice is a no-op");
    hole.abort();
    proxy.heal();

    // Reachable coordinator: close commits and leaves promptly.
    let c = member();
    c.subscribe([topic.clone()]).unwrap();
    common::consumer_util::drain(&c, 50, Duration::from_secs(60)).await;
    let started = Instant::now();
    c.close().await.expect("close with a reachable coordinator");
    let took = started.elapsed();
    println!("close with the coordinator reachable: {took:?}");
    assert!(took < Duration::from_secs(5), "close took {took:?}");
}
