//! The testkit's own behaviour: start-up, the stored log, offsets, and each fault
//! control, driven by kafka-client as a user would drive it.

use std::time::{Duration, Instant};

use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Error, ErrorCode};
use kafka_testkit::{Api, Cluster};

fn producer(cluster: &Cluster) -> Producer {
    Producer::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .linger(Duration::from_millis(1))
        .build()
        .unwrap()
}

/// A cluster with topic `t` of `partitions` partitions.
async fn with_topic(partitions: i32) -> Cluster {
    Cluster::builder()
        .topic("t", partitions)
        .start()
        .await
        .unwrap()
}

/// Sends one record `v` to topic `t` with a fresh producer and waits for the outcome.
async fn send_one(
    cluster: &Cluster,
) -> kafka_client::Result<kafka_client::producer::RecordMetadata> {
    producer(cluster)
        .send_and_wait(ProducerRecord::new("t").with_value("v"))
        .await
}

#[tokio::test]
async fn starts_and_stores_what_is_produced_in_order() {
    let started = Instant::now();
    let cluster = with_topic(3).await;
    eprintln!("kafka-testkit cluster started in {:?}", started.elapsed());
    assert_eq!(cluster.partitions("t"), Some(3));
    let p = producer(&cluster);
    for i in 0..10 {
        let m = p
            .send_and_wait(
                ProducerRecord::new("t")
                    .with_partition(1)
                    .with_key(format!("k{i}"))
                    .with_value(format!("v{i}")),
            )
            .await
            .unwrap();
        assert_eq!((m.partition, m.offset), (1, i));
    }
    let records = cluster.records("t", 1);
    let values: Vec<_> = records.iter().map(|r| r.value.clone().unwrap()).collect();
    assert_eq!(values, (0..10).map(|i| format!("v{i}")).collect::<Vec<_>>());
    assert_eq!(cluster.end_offset("t", 1), Some(10));
    assert_eq!(cluster.end_offset("t", 0), Some(0));
    assert_eq!(cluster.end_offset("t", 3), None);
}

#[tokio::test]
async fn unknown_topics_fail_unless_auto_created() {
    let cluster = Cluster::builder().start().await.unwrap();
    let p = Producer::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .max_block(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = p
        .send(ProducerRecord::new("nope").with_value("v"))
        .await
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err:?}"
    );

    let auto = Cluster::builder()
        .auto_create_topics(2)
        .start()
        .await
        .unwrap();
    let m = producer(&auto)
        .send_and_wait(ProducerRecord::new("fresh").with_value("v"))
        .await
        .unwrap();
    assert!(m.partition < 2);
    assert_eq!(auto.partitions("fresh"), Some(2));
}

#[tokio::test]
async fn injected_retriable_errors_are_retried_and_counted() {
    let cluster = with_topic(1).await;
    cluster.fail_next(Api::Produce, ErrorCode::NOT_LEADER_OR_FOLLOWER, 2);
    let m = send_one(&cluster).await.unwrap();
    assert_eq!(m.offset, 0);
    assert_eq!(
        cluster.requests(Api::Produce),
        3,
        "two failed, the third stored"
    );
    assert_eq!(
        cluster.records("t", 0).len(),
        1,
        "failed attempts stored nothing"
    );
}

#[tokio::test]
async fn injected_fatal_errors_fail_the_record_with_that_code() {
    let cluster = with_topic(1).await;
    cluster.fail_next(Api::Produce, ErrorCode::TOPIC_AUTHORIZATION_FAILED, 1);
    let err = send_one(&cluster).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
        "{err:?}"
    );
    assert!(cluster.records("t", 0).is_empty());
}

#[tokio::test]
async fn a_dropped_connection_is_reconnected() {
    let cluster = with_topic(1).await;
    let p = Producer::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .enable_idempotence(false)
        .build()
        .unwrap();
    cluster.drop_next(Api::Produce, 1);
    let m = p
        .send_and_wait(ProducerRecord::new("t").with_value("v"))
        .await
        .unwrap();
    assert_eq!(m.offset, 0);
    assert_eq!(cluster.requests(Api::Produce), 2);
}

#[tokio::test]
async fn a_delayed_answer_runs_into_the_clients_request_timeout() {
    let cluster = with_topic(1).await;
    cluster.delay_next(Api::Metadata, Duration::from_secs(30), 1);
    let client = kafka_client::Client::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .request_timeout(Duration::from_millis(200))
        .api_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let err = client.metadata().await.unwrap_err();
    // The only broker timed out on the bootstrap Metadata request.
    assert!(
        matches!(err, Error::Bootstrap { .. }) && err.to_string().contains("timed out"),
        "{err:?}"
    );
    // The next Metadata is answered at once.
    assert!(client.metadata().await.unwrap().topic("t").is_some());
}

#[tokio::test]
async fn consumers_read_and_commit_and_list_offsets() {
    let cluster = with_topic(2).await;
    let p = producer(&cluster);
    for i in 0..6 {
        p.send_and_wait(
            ProducerRecord::new("t")
                .with_partition(i % 2)
                .with_value(format!("{i}")),
        )
        .await
        .unwrap();
    }
    let c = Consumer::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .group_id("g")
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .unwrap();
    c.subscribe(["t"]).unwrap();
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < 6 && Instant::now() < deadline {
        got.extend(
            c.poll(Duration::from_millis(100))
                .await
                .unwrap()
                .into_parts()
                .0,
        );
    }
    assert_eq!(got.len(), 6);
    c.commit().await.unwrap();
    assert_eq!(cluster.committed_offset("g", "t", 0), Some(3));
    assert_eq!(cluster.committed_offset("g", "t", 1), Some(3));
    let tp0 = TopicPartition::new("t", 0);
    assert_eq!(c.end_offsets([tp0.clone()]).await.unwrap()[&tp0], 3);
    assert_eq!(c.beginning_offsets([tp0.clone()]).await.unwrap()[&tp0], 0);
    c.close().await.unwrap();
}

/// On tokio's paused clock (the runtime jumps to the next timer whenever it is idle) a
/// produce, a delayed answer and a consume still work: the broker's own waits are
/// timers too, so they advance with the clock.
#[tokio::test(start_paused = true)]
async fn runs_on_the_paused_clock() {
    let cluster = with_topic(1).await;
    let p = producer(&cluster);
    let m = p
        .send_and_wait(ProducerRecord::new("t").with_value("v"))
        .await
        .unwrap();
    assert_eq!(m.offset, 0);
    let c = Consumer::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    c.assign([TopicPartition::new("t", 0)]).unwrap();
    let mut got = Vec::new();
    for _ in 0..50 {
        got.extend(
            c.poll(Duration::from_millis(100))
                .await
                .unwrap()
                .into_parts()
                .0,
        );
        if !got.is_empty() {
            break;
        }
    }
    assert_eq!(got.len(), 1);
}

#[tokio::test]
async fn three_brokers_spread_leaders_and_fail_over_when_one_is_killed() {
    let cluster = Cluster::builder()
        .brokers(3)
        .topic("t", 6)
        .start()
        .await
        .unwrap();
    assert_eq!(cluster.bootstrap_servers().split(',').count(), 3);
    let leaders: std::collections::BTreeSet<i32> =
        (0..6).map(|p| cluster.leader("t", p).unwrap()).collect();
    assert_eq!(leaders, [1, 2, 3].into());
    let p = producer(&cluster);
    for part in 0..6 {
        p.send_and_wait(
            ProducerRecord::new("t")
                .with_partition(part)
                .with_value("before"),
        )
        .await
        .unwrap();
    }
    let victim = cluster.leader("t", 0).unwrap();
    cluster.kill(victim);
    let new_leader = cluster.leader("t", 0).unwrap();
    assert_ne!(new_leader, victim);
    for part in 0..6 {
        let m = p
            .send_and_wait(
                ProducerRecord::new("t")
                    .with_partition(part)
                    .with_value("after"),
            )
            .await
            .unwrap();
        assert_eq!(
            m.offset, 1,
            "partition {part} kept its log across the fail-over"
        );
    }
    // A client bootstrapping now is not told about the dead broker.
    let md = kafka_client::Client::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .build()
        .unwrap()
        .metadata()
        .await
        .unwrap();
    assert!(!md.brokers.contains_key(&victim), "{:?}", md.brokers);
    cluster.restart(victim);
    cluster.move_leader("t", 0, victim);
    let m = p
        .send_and_wait(
            ProducerRecord::new("t")
                .with_partition(0)
                .with_value("back"),
        )
        .await
        .unwrap();
    assert_eq!(m.offset, 2);
    assert_eq!(cluster.leader("t", 0), Some(victim));
}

#[tokio::test]
async fn a_consumer_follows_a_moved_leader() {
    let cluster = Cluster::builder()
        .brokers(2)
        .topic("t", 1)
        .start()
        .await
        .unwrap();
    let p = producer(&cluster);
    let c = Consumer::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    c.assign([TopicPartition::new("t", 0)]).unwrap();
    let mut got = Vec::new();
    for round in 0..2 {
        p.send_and_wait(ProducerRecord::new("t").with_value(format!("{round}")))
            .await
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while got.len() <= round && Instant::now() < deadline {
            got.extend(
                c.poll(Duration::from_millis(100))
                    .await
                    .unwrap()
                    .into_parts()
                    .0,
            );
        }
        let other = 3 - cluster.leader("t", 0).unwrap();
        cluster.move_leader("t", 0, other);
    }
    let values: Vec<_> = got.iter().map(|r| r.value.clone().unwrap()).collect();
    assert_eq!(values, ["0", "1"]);
}

/// A Produce answered too late is retried by the client; the broker recognises the
/// idempotent producer's retry (same producer, epoch, sequence) and stores it once, as
/// Kafka does.
#[tokio::test]
async fn an_idempotent_retry_after_a_timeout_is_stored_once() {
    let cluster = with_topic(1).await;
    let client = kafka_client::Client::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .request_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let p = Producer::builder()
        .client(client)
        .delivery_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    // Written at once, answered after the client gave up on the request.
    cluster.delay_next(Api::Produce, Duration::from_secs(1), 1);
    let m = p
        .send_and_wait(ProducerRecord::new("t").with_value("once"))
        .await
        .unwrap();
    assert_eq!(m.offset, 0);
    assert!(cluster.requests(Api::Produce) >= 2, "the client retried");
    assert_eq!(
        cluster.records("t", 0).len(),
        1,
        "the retry was not stored again"
    );
}
