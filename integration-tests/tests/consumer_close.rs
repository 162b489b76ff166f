//! `Consumer::close` honours its timeout (invariant I10 of the reliability guide): with
//! the coordinator black-holed, the final commit and LeaveGroup cannot complete, and
//! `close_with_timeout` returns a typed `Error::Deadline` on time, the consumer closed;
//! with the coordinator reachable, `close` commits, leaves at once and returns `Ok`.

mod common;

use std::time::{Duration, Instant};

use common::consumer_util::{consumer, kcat_produce};
use kafka_client::Error;
use kafka_client::consumer::AutoOffsetReset;
use kafka_testbed::{ClusterConfig, KafkaCluster};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_returns_within_its_timeout_when_the_coordinator_is_black_holed() {
    let cluster = KafkaCluster::start(ClusterConfig::new(1).with_fault_proxy()).unwrap();
    let direct = common::client(&cluster.bootstrap_servers());
    let topic = common::unique_topic("close-timeout");
    common::create_topic(&direct, &topic, 2, 1).await;
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
