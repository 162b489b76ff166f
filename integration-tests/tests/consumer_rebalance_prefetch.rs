//! Regression test (the `consumer_group` three-members flake: records never delivered):
//! a prefetching Fetch that is still out when an eager rebalance revokes a partition and
//! hands it straight back must not be taken by the partition's new state. Its records
//! start ahead of the committed position (the discarded prefetch lies in between), so
//! taking it skipped those records for good.
//!
//! To hold that Fetch out across the rebalance, every Fetch long-polls: `fetch_min_bytes`
//! is above what a response can hold (two partitions of 1 MiB), so the broker answers
//! each one only after `fetch_max_wait`, while the rebalance and the committed-offset
//! lookup take well under that. The group has committed offsets from the start, so the
//! states before and after the rebalance go through the same steps (one lookup, one
//! seek).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::consumer_util::{consumer, kcat_produce};
use kafka_admin::{Admin, GroupOffsetsOptions, OffsetAndMetadata, TopicPartition};
use kafka_client::consumer::{AssignmentStrategy, AutoOffsetReset, Consumer};

/// 1.5 MiB a partition: the first Fetch brings 1 MiB, the prefetch the rest.
const PER_PARTITION: usize = 1_500;

fn member(bootstrap: &str, group: &str, topic: &str) -> Consumer {
    let c = consumer(bootstrap)
        .group_id(group)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .assignment_strategies([AssignmentStrategy::Range])
        // Commits happen on revocation only (the interval never elapses in the test).
        .auto_commit_interval(Duration::from_secs(600))
        .max_poll_records(10)
        .fetch_min_bytes(16 * 1024 * 1024)
        .fetch_max_wait(Duration::from_secs(2))
        .heartbeat_interval(Duration::from_millis(100))
        .build()
        .unwrap();
    c.subscribe([topic.to_string()]).unwrap();
    c
}

/// Polls `c` once and records what it got as (partition, offset) → times seen.
async fn poll_into(c: &Consumer, seen: &mut BTreeMap<(i32, i64), u32>) {
    let batch = c.poll(Duration::from_millis(100)).await.expect("poll");
    assert!(batch.errors().is_empty(), "{:?}", batch.errors());
    for r in batch.records() {
        *seen.entry((r.partition, r.offset)).or_default() += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fetch_sent_before_an_eager_rebalance_is_not_taken_after_it() {
    let b = kafka_testbed::shared_cluster()
        .bootstrap_servers()
        .to_string();
    let client = common::client(&b);
    let topic = common::unique_topic("rebalance-prefetch");
    common::create_topic(&client, &topic, 2, 1).await;
    for p in 0..2 {
        let start = p as usize * PER_PARTITION;
        kcat_produce(&b, &topic, "none", PER_PARTITION, start, 1000, Some(p));
    }
    let group = common::unique_topic("g-rebalance-prefetch");
    // Committed offsets before c1 starts: its first partition states start from them
    // exactly as the states made after the rebalance do (one lookup, one seek), the
    // case where epochs counted per state from 0 came out equal.
    let altered = Admin::new(client.clone())
        .alter_consumer_group_offsets(
            &group,
            (0..2).map(|p| {
                (
                    TopicPartition::new(topic.as_str(), p),
                    OffsetAndMetadata::new(0),
                )
            }),
            GroupOffsetsOptions::default(),
        )
        .await
        .unwrap();
    assert!(altered.values().all(Result::is_ok), "{altered:?}");
    let mut seen: BTreeMap<(i32, i64), u32> = BTreeMap::new();

    // c1 owns both partitions; its first records arrive with the first Fetch, and the
    // next Fetch (prefetch: 1 MiB buffered per partition is under the 4 MiB bound) is out.
    let c1 = member(&b, &group, &topic);
    let started = Instant::now();
    while seen.is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "c1's first records"
        );
        poll_into(&c1, &mut seen).await;
    }

    // c2 joins: c1 revokes both (eager), commits its position, rejoins and gets one back
    // while the prefetch it sent before is still long-polling.
    let c2 = member(&b, &group, &topic);
    let started = Instant::now();
    let total = 2 * PER_PARTITION;
    while seen.len() < total && started.elapsed() < Duration::from_secs(45) {
        poll_into(&c1, &mut seen).await;
        poll_into(&c2, &mut seen).await;
    }
    let missing: Vec<(i32, i64)> = (0..2)
        .flat_map(|p| (0..PER_PARTITION as i64).map(move |o| (p, o)))
        .filter(|k| !seen.contains_key(k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {total} records never delivered, first {:?}, last {:?}",
        missing.len(),
        missing.first(),
        missing.last()
    );
    let twice = seen.values().filter(|&&n| n > 1).count();
    assert_eq!(twice, 0, "records delivered twice (the revocation commits)");
    for c in [c1, c2] {
        c.close().await.unwrap();
    }
}
