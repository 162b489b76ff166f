//! Regression test (found by the reliability matrix, W2 under a 30 s cut of the group
//! coordinator: 14k of 20k records delivered twice): a member whose heartbeats go
//! unanswered for `session.timeout` must treat its partitions as lost at once, as
//! librdkafka does, instead of consuming them as a zombie until the coordinator is
//! reachable again (by then the coordinator has expired it and given them away).

mod common;

use std::time::{Duration, Instant};

use common::consumer_util::{Event, Recorder};
use kafka_client::Client;
use kafka_client::consumer::Consumer;
use kafka_testbed::fault_proxy::{Target, api};
use kafka_testbed::{ClusterConfig, KafkaCluster};

/// Polls until `done`, failing after `bound`; returns how long it took.
async fn poll_until(
    consumer: &Consumer,
    what: &str,
    bound: Duration,
    done: impl Fn() -> bool,
) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < bound, "{what} within {bound:?}");
        consumer.poll(Duration::from_millis(100)).await.unwrap();
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unanswered_heartbeats_for_a_session_timeout_lose_the_partitions() {
    let cluster = KafkaCluster::start(ClusterConfig::new(1).with_fault_proxy()).unwrap();
    let direct = common::client(&cluster.bootstrap_servers());
    let topic = common::unique_topic("session-expiry");
    common::create_topic(&direct, &topic, 2, 1).await;

    let session = Duration::from_secs(6);
    let rec = Recorder::new();
    let consumer = Consumer::builder()
        .client(
            Client::builder()
                .bootstrap_servers([cluster.client_bootstrap_servers()])
                .request_timeout(Duration::from_secs(3))
                .build()
                .unwrap(),
        )
        .group_id(common::unique_topic("g-session"))
        // No commits on the coordinator connection: only heartbeats can tell.
        .enable_auto_commit(false)
        .session_timeout(session)
        .heartbeat_interval(Duration::from_millis(500))
        .fetch_max_wait(Duration::from_millis(100))
        .rebalance_listener(rec.clone())
        .build()
        .unwrap();
    consumer.subscribe([topic.clone()]).unwrap();
    poll_until(&consumer, "assignment", Duration::from_secs(30), || {
        rec.owned().len() == 2
    })
    .await;

    // Every heartbeat is reset half-way: the coordinator never sees one, and expires us.
    let proxy = cluster.proxy(1).unwrap();
    proxy.arm_reset_mid_request(Target::Api(api::HEARTBEAT), u32::MAX);
    let took = poll_until(
        &consumer,
        "partitions lost",
        session + Duration::from_secs(6),
        || rec.events().iter().any(|e| matches!(e, Event::Lost(_))),
    )
    .await;
    // The member may already have rejoined by the time `poll` returns (JoinGroup is not
    // blocked), so the check is on the callback itself: both partitions were lost at once,
    // with no revoke before (a revoke would mean a rebalance, not an expiry).
    let events = rec.events();
    let first_lost = events
        .iter()
        .position(|e| matches!(e, Event::Lost(_)))
        .unwrap();
    assert!(
        matches!(&events[first_lost], Event::Lost(parts) if parts.len() == 2),
        "both partitions lost at once: {events:?}"
    );
    assert!(
        !events[..first_lost]
            .iter()
            .any(|e| matches!(e, Event::Revoked(_))),
        "no revoke before the loss: {events:?}"
    );
    assert!(proxy.stats().requests_reset >= 3);
    println!("lost after {took:?} without a heartbeat answer");

    // Once heartbeats go through, the member rejoins and gets both partitions back.
    proxy.heal();
    poll_until(&consumer, "rejoin", Duration::from_secs(30), || {
        rec.owned().len() == 2
    })
    .await;
    consumer.close().await.unwrap();
}
