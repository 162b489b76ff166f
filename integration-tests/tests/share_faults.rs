//! Share groups (KIP-932) through a broker failure, on a 3-node Kafka 4.4 cluster: two of
//! our share consumers accept a 1-partition topic (replication factor 3) while its
//! leader is SIGKILLed mid-run. No record is lost; the records the dead leader had
//! handed out come back from the new leader (delivery count above 1), and the counts are
//! printed with the recovery time (from the kill to the first record delivered after
//! the longest pause) for the reliability matrix (`docs/reliability.md`). (A SIGKILLed
//! *member* is in `share_consumer.rs`.)
//!
//! Before the fix (2026-12-06) nothing more was delivered after the kill: a ShareFetch
//! that got no answer neither marked the routes stale nor backed off, so each member
//! kept asking the dead leader its cached routes named.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_client::share::{AcknowledgementMode, ShareConsumer};
use kafka_testbed::{ClusterConfig, KafkaCluster, StopSignal};

use common::share::{group_on, index, produce_to};
use common::{client, create_topic, unique_topic};

/// Delivery counts of each record (by index), in arrival order.
type Seen = BTreeMap<usize, Vec<i16>>;

/// When each non-empty poll returned.
type Arrivals = Vec<Instant>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_consumers_lose_nothing_when_the_partition_leader_is_killed() {
    const N: usize = 3_000;
    let cluster = KafkaCluster::start(
        ClusterConfig::new(3)
            .with_property("group.share.min.record.lock.duration.ms", "1000")
            .with_property("group.share.min.heartbeat.interval.ms", "500")
            .with_property("group.share.heartbeat.interval.ms", "1000"),
    )
    .expect("3-node cluster");
    let b = cluster.bootstrap_servers();
    let c = client(&b);
    let topic = unique_topic("share-leader-kill");
    create_topic(&c, &topic, 1, 3).await;
    produce_to(&b, &topic, 0..N, 100).await;
    let g = group_on(&b, &[("share.record.lock.duration.ms", "5000")]).await;

    let seen: Arc<Mutex<Seen>> = Arc::default();
    let arrivals: Arc<Mutex<Arrivals>> = Arc::default();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let members: Vec<_> = (0..2)
        .map(|_| {
            let m = ShareConsumer::builder()
                .bootstrap_servers([b.as_str()])
                .group_id(g.as_str())
                .acknowledgement_mode(AcknowledgementMode::Implicit)
                .max_poll_records(50)
                .fetch_max_wait(Duration::from_millis(200))
                .build()
                .expect("share consumer");
            m.subscribe([topic.as_str()]).unwrap();
            let (seen, errors, stop) = (seen.clone(), errors.clone(), stop.clone());
            let arrivals = arrivals.clone();
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    match m.poll(Duration::from_millis(300)).await {
                        Ok(batch) => {
                            if !batch.is_empty() {
                                arrivals.lock().unwrap().push(Instant::now());
                            }
                            let mut s = seen.lock().unwrap();
                            for r in &batch {
                                s.entry(index(r)).or_default().push(r.delivery_count);
                            }
                        }
                        Err(e) => {
                            errors.lock().unwrap().push(e.to_string());
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                    // Slow enough that the kill lands mid-run.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let _ = m.close().await;
            })
        })
        .collect();

    let deadline = Instant::now() + Duration::from_secs(60);
    while seen.lock().unwrap().len() < N / 4 {
        assert!(Instant::now() < deadline, "no progress before the kill");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let leader = c
        .refresh_topics(&[topic.as_str()])
        .await
        .expect("metadata")
        .topic(&topic)
        .and_then(|t| t.partitions[0].leader)
        .expect("a leader");
    cluster
        .stop_node(leader, StopSignal::Kill)
        .expect("SIGKILL");
    let kill = Instant::now();
    let killed_at = seen.lock().unwrap().len();

    let deadline = Instant::now() + Duration::from_secs(180);
    while seen.lock().unwrap().len() < N && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for m in members {
        m.await.expect("member");
    }
    let seen = Arc::try_unwrap(seen).unwrap().into_inner().unwrap();
    let errors = errors.lock().unwrap().clone();
    let lost: Vec<usize> = (0..N).filter(|i| !seen.contains_key(i)).collect();
    let delivered_again = seen.values().filter(|c| c.len() > 1).count();
    let redelivered = seen.values().filter(|c| c.iter().any(|d| *d > 1)).count();
    // Recovery: the longest pause between deliveries from the kill on, ended by the
    // first delivery after it (the new leader's).
    let mut after: Vec<Instant> = arrivals
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|t| *t >= kill)
        .collect();
    after.sort();
    let (mut recovery, mut from) = (Duration::ZERO, kill);
    for t in &after {
        recovery = recovery.max(*t - from);
        from = *t;
    }
    let all_in = after.last().map(|t| *t - kill);
    eprintln!(
        "leader {leader} killed after {killed_at} of {N}: lost {}, delivered more than once \
         {delivered_again}, with delivery count > 1 {redelivered}, recovery (longest pause \
         after the kill) {recovery:.1?}, last delivery {all_in:.1?} after the kill, poll \
         errors {}: {:?}",
        lost.len(),
        errors.len(),
        errors.iter().take(5).collect::<Vec<_>>()
    );
    assert!(
        lost.is_empty(),
        "lost {} records, from {:?}",
        lost.len(),
        lost.iter().take(10).collect::<Vec<_>>()
    );
}
