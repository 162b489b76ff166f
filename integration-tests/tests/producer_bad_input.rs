//! Bad input fails only the record concerned, with a typed error, and nothing else:
//! records over `max.request.size`, records the broker finds too large, unknown topics,
//! partitions out of range, sends after close.

mod common;

use std::time::{Duration, Instant};

use common::produce::fetch_all;
use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Error, ErrorCode};

fn producer(bootstrap: &str) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .max_block(Duration::from_secs(2))
        .build()
        .unwrap()
}

fn values(records: &[kafka_client::records::Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect()
}

#[tokio::test]
async fn record_over_max_request_size_fails_at_once_alone() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("too-large");
    common::create_topic(&client, &topic, 1, 1).await;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .max_request_size(10_000)
        .build()
        .unwrap();
    let before = p
        .send(ProducerRecord::new(topic.as_str()).with_value("before"))
        .await
        .unwrap();
    let started = Instant::now();
    let err = p
        .send(ProducerRecord::new(topic.as_str()).with_value(vec![0u8; 10_000]))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "failed at once"
    );
    assert!(
        matches!(err, Error::TooLarge { limit: 10_000, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("max.request.size"), "{err}");
    // try_send checks the same.
    let err = p
        .try_send(ProducerRecord::new(topic.as_str()).with_key(vec![0u8; 20_000]))
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    let after = p
        .send(ProducerRecord::new(topic.as_str()).with_value("after"))
        .await
        .unwrap();
    assert_eq!(before.await.unwrap().offset, 0);
    assert_eq!(after.await.unwrap().offset, 1);
    p.close(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        values(&fetch_all(&client, &topic, 0).await),
        ["before", "after"]
    );
}

#[tokio::test]
async fn broker_message_too_large_fails_only_that_record() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("broker-too-large");
    let admin = Admin::new(client.clone());
    let created = admin
        .create_topics(
            [NewTopic::new(topic.as_str())
                .partitions(1)
                .replication_factor(1)
                .config("max.message.bytes", "2000")],
            CreateTopicsOptions::default(),
        )
        .await
        .unwrap();
    created[topic.as_str()].as_ref().expect("created");
    common::wait_for_leaders(&client, &topic, 1).await;

    // Batches far larger than the topic allows: the broker refuses them, the producer
    // splits them until each fits, and only the record that can never fit fails.
    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .batch_size(64 * 1024)
        .linger(Duration::from_millis(50))
        .build()
        .unwrap();
    let mut futures = Vec::new();
    for i in 0..20 {
        let value = if i == 13 {
            vec![b'X'; 3000]
        } else {
            format!("{i:03}").repeat(150).into_bytes()
        };
        futures.push(
            p.send(ProducerRecord::new(topic.as_str()).with_value(value))
                .await
                .unwrap(),
        );
    }
    let mut delivered = Vec::new();
    for (i, f) in futures.into_iter().enumerate() {
        match f.await {
            Ok(m) => delivered.push((i, m.offset)),
            Err(e) => {
                assert_eq!(i, 13, "only the oversized record fails, not #{i}: {e}");
                assert_eq!(e.code(), Some(ErrorCode::MESSAGE_TOO_LARGE), "{e:?}");
            }
        }
    }
    assert_eq!(delivered.len(), 19);
    // Order is kept through the splits.
    let offsets: Vec<i64> = delivered.iter().map(|(_, o)| *o).collect();
    assert_eq!(offsets, (0..19).collect::<Vec<i64>>());
    p.close(Duration::from_secs(5)).await.unwrap();
    assert_eq!(fetch_all(&client, &topic, 0).await.len(), 19);
}

#[tokio::test]
async fn unknown_topic_fails_after_max_block() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let p = producer(bootstrap);
    let topic = common::unique_topic("never-created");
    let started = Instant::now();
    let err = p
        .send(ProducerRecord::new(topic.as_str()).with_value("v"))
        .await
        .unwrap_err();
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(6),
        "waited {waited:?}"
    );
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err:?}"
    );
    assert!(err.to_string().contains(&topic), "{err}");
    // try_send never waits: it reports the metadata as pending.
    let err = p
        .try_send(ProducerRecord::new(topic.as_str()).with_value("v"))
        .unwrap_err();
    assert!(matches!(err, Error::MetadataPending { .. }), "{err:?}");
}

#[tokio::test]
async fn partition_out_of_range_fails_alone() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("range");
    common::create_topic(&client, &topic, 3, 1).await;
    let p = producer(bootstrap);
    let ok = p
        .send(
            ProducerRecord::new(topic.as_str())
                .with_value("a")
                .with_partition(2),
        )
        .await
        .unwrap();
    for bad in [3, 100, -1] {
        let err = p
            .send(
                ProducerRecord::new(topic.as_str())
                    .with_value("x")
                    .with_partition(bad),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::UnknownTopicOrPartition(ref m) if m.contains("3 partitions")),
            "{err:?}"
        );
        let err = p
            .try_send(
                ProducerRecord::new(topic.as_str())
                    .with_value("x")
                    .with_partition(bad),
            )
            .unwrap_err();
        assert!(matches!(err, Error::UnknownTopicOrPartition(_)), "{err:?}");
    }
    assert_eq!(ok.await.unwrap().partition, 2);
    p.close(Duration::from_secs(5)).await.unwrap();
    assert_eq!(values(&fetch_all(&client, &topic, 2).await), ["a"]);
}

#[tokio::test]
async fn close_resolves_everything_and_refuses_later_sends() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("close");
    common::create_topic(&client, &topic, 2, 1).await;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .linger(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut futures = Vec::new();
    for i in 0..500 {
        futures.push(
            p.send(ProducerRecord::new(topic.as_str()).with_value(format!("{i}")))
                .await
                .unwrap(),
        );
    }
    // close sends what lingers without waiting for linger.
    let clone = p.clone();
    let started = Instant::now();
    clone
        .close(Duration::from_secs(10))
        .await
        .expect("closed cleanly");
    assert!(started.elapsed() < Duration::from_secs(5));
    for f in futures {
        f.await.expect("delivered before close returned");
    }
    let err = p
        .send(ProducerRecord::new(topic.as_str()).with_value("late"))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Closed), "{err:?}");
    assert!(matches!(
        p.try_send(ProducerRecord::new(topic.as_str())),
        Err(Error::Closed)
    ));
    let total =
        fetch_all(&client, &topic, 0).await.len() + fetch_all(&client, &topic, 1).await.len();
    assert_eq!(total, 500);
}

#[tokio::test]
async fn dropping_the_producer_still_delivers() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("drop");
    common::create_topic(&client, &topic, 1, 1).await;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .linger(Duration::from_secs(30))
        .build()
        .unwrap();
    let f = p
        .send(ProducerRecord::new(topic.as_str()).with_value("orphan"))
        .await
        .unwrap();
    drop(p);
    let m = tokio::time::timeout(Duration::from_secs(10), f)
        .await
        .expect("no linger wait")
        .unwrap();
    assert_eq!(m.offset, 0);
}
