//! Topic ids (KIP-516) against the real broker: the consumer fetches by topic id, and a
//! topic deleted and re-created under the same name while a consumer and a producer run
//! is never read with the old topic's position.

mod common;

use std::time::Duration;

use common::consumer_util::{consumer, drain};
use kafka_admin::{Admin, CreateTopicsOptions, DeleteTopicsOptions, NewTopic};
use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Client, ErrorCode};

fn producer(bootstrap: &str) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .linger(Duration::from_millis(5))
        .delivery_timeout(Duration::from_secs(60))
        .build()
        .expect("producer config")
}

/// Sends `values` to partition 0 of `topic` one at a time; the offsets they got.
async fn send_all(p: &Producer, topic: &str, values: &[String]) -> Vec<i64> {
    let mut offsets = Vec::new();
    for v in values {
        let m = p
            .send(
                ProducerRecord::new(topic)
                    .with_partition(0)
                    .with_value(v.clone()),
            )
            .await
            .expect("queued")
            .await
            .unwrap_or_else(|e| panic!("{v}: {e}"));
        offsets.push(m.offset);
    }
    offsets
}

/// Deletes `topic` and creates it again (one partition), waiting out the deletion.
async fn recreate(client: &Client, topic: &str) {
    let admin = Admin::new(client.clone());
    let old = client.topic(topic).await.expect("topic before").id;
    admin
        .delete_topics([topic], DeleteTopicsOptions::default())
        .await
        .expect("DeleteTopics")[topic]
        .as_ref()
        .expect("deleted");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let res = admin
            .create_topics(
                [NewTopic::new(topic).partitions(1).replication_factor(1)],
                CreateTopicsOptions::default(),
            )
            .await
            .expect("CreateTopics");
        match &res[topic] {
            Ok(_) => break,
            Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "deletion never ended"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("re-create: {e}"),
        }
    }
    common::wait_for_leaders(client, topic, 1).await;
    client.invalidate_topic(topic);
    let new = client.topic(topic).await.expect("topic after").id;
    assert_ne!(old, new, "a re-created topic has a new id");
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// Reads the old topic's 5 records, then (paused, so the consumer's position stays at
/// 5 with the old topic's id) the topic is re-created and the same producer writes 20.
/// Fetched at the old position the new topic would lose its first 5 records; the
/// consumer sees the new id and starts the new topic by `auto.offset.reset`.
async fn read_old_then_recreate(reset: AutoOffsetReset) -> (Consumer, String, Producer) {
    let b = kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(&b);
    let topic = common::unique_topic("topic_id");
    common::create_topic(&client, &topic, 1, 1).await;
    let p = producer(&b);
    assert_eq!(
        send_all(&p, &topic, &values("old", 5)).await,
        vec![0, 1, 2, 3, 4]
    );
    let c = consumer(&b).auto_offset_reset(reset).build().unwrap();
    let tp = TopicPartition::new(topic.clone(), 0);
    c.assign([tp.clone()]).unwrap();
    c.seek(tp.clone(), 0).unwrap();
    // Found here, not fixed (outside this change): with `auto.offset.reset=none`, a
    // seek right after `assign` sometimes still meets NoOffsetForPartition from the
    // committed-offset lookup `assign` started; seek again then.
    let mut old = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while old.len() < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "old records not read"
        );
        let (records, errors) = c
            .poll(Duration::from_millis(500))
            .await
            .unwrap()
            .into_parts();
        for e in &errors {
            assert!(
                matches!(e.error, kafka_client::Error::NoOffsetForPartition { .. }),
                "{e:?}"
            );
            c.seek(tp.clone(), old.len() as i64).unwrap();
        }
        old.extend(records);
    }
    let got: Vec<String> = old
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap())
        .collect();
    assert_eq!(got, values("old", 5));
    c.pause([tp.clone()]).unwrap();
    recreate(&client, &topic).await;
    // The producer keeps running: its records land in the new topic from offset 0.
    let offsets = send_all(&p, &topic, &values("new", 20)).await;
    assert_eq!(offsets, (0..20).collect::<Vec<i64>>());
    c.resume([tp]).unwrap();
    (c, topic, p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_id_recreated_topic_is_read_from_its_start_not_the_old_position() {
    let (c, _topic, p) = read_old_then_recreate(AutoOffsetReset::Earliest).await;
    let new = drain(&c, 20, Duration::from_secs(60)).await;
    let got: Vec<(i64, String)> = new
        .iter()
        .map(|r| {
            let v = String::from_utf8(r.value.clone().unwrap().to_vec()).unwrap();
            (r.offset, v)
        })
        .collect();
    let want: Vec<(i64, String)> = values("new", 20)
        .into_iter()
        .enumerate()
        .map(|(i, v)| (i as i64, v))
        .collect();
    assert_eq!(
        got, want,
        "every record of the new topic, once, from offset 0"
    );
    let extra = c.poll(Duration::from_millis(500)).await.unwrap();
    assert!(extra.is_empty(), "nothing more: {:?}", extra.into_parts());
    c.close().await.unwrap();
    p.close(Duration::from_secs(10)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_id_change_without_a_reset_policy_is_a_typed_error() {
    let (c, topic, p) = read_old_then_recreate(AutoOffsetReset::None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let error = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no error within 60 s"
        );
        let (records, errors) = c
            .poll(Duration::from_millis(500))
            .await
            .unwrap()
            .into_parts();
        assert!(
            records.is_empty(),
            "read the new topic at the old position: {records:?}"
        );
        if let Some(e) = errors.into_iter().next() {
            break e;
        }
    };
    assert_eq!(error.topic_partition, TopicPartition::new(topic.clone(), 0));
    assert_eq!(error.error.code(), Some(ErrorCode::INCONSISTENT_TOPIC_ID));
    assert!(
        error.error.to_string().contains("re-created"),
        "{}",
        error.error
    );
    // A seek starts the new topic.
    c.seek(TopicPartition::new(topic, 0), 0).unwrap();
    let new = drain(&c, 20, Duration::from_secs(60)).await;
    assert_eq!(new.first().map(|r| r.offset), Some(0));
    c.close().await.unwrap();
    p.close(Duration::from_secs(10)).await.unwrap();
}
