//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod consumer_util;
pub mod example_bin;
pub mod leader_kill;
pub mod produce;
pub mod share;
pub mod txn;

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::Client;
use kafka_client::lowlevel::Target;

/// A client for `bootstrap` with test-friendly timeouts.
pub fn client(bootstrap: &str) -> Client {
    Client::builder()
        .bootstrap_servers([bootstrap])
        .client_id("integration-tests")
        .request_timeout(Duration::from_secs(15))
        .api_timeout(Duration::from_secs(30))
        .build()
        .expect("valid test config")
}

/// A topic name no other test (or earlier run against the same cluster) uses.
pub fn unique_topic(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a topic and waits until every partition has a leader in the metadata.
pub async fn create_topic(client: &Client, name: &str, partitions: i32, rf: i16) {
    let admin = Admin::new(client.clone());
    let res = admin
        .create_topics(
            [NewTopic::new(name)
                .partitions(partitions)
                .replication_factor(rf)],
            CreateTopicsOptions::default(),
        )
        .await
        .expect("CreateTopics request");
    res[name].as_ref().expect("topic created");
    wait_for_leaders(client, name, partitions).await;
}

/// Polls metadata until `topic` shows `partitions` partitions, each with a leader, in
/// the client's view **and in every broker's own answer**: a broker applies a new topic
/// from the metadata log a moment after the controller, and until then answers requests
/// about it with UNKNOWN_TOPIC_OR_PARTITION. Then probes each leader with a ListOffsets
/// for its partitions: a broker named leader in the metadata may not have taken up the
/// leadership yet (NOT_LEADER_OR_FOLLOWER). Tests then need no retries of their own.
pub async fn wait_for_leaders(client: &Client, topic: &str, partitions: i32) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let view = client.refresh_topics(&[topic]).await.ok();
        let ready = match view.as_ref().filter(|m| {
            m.topic(topic).is_some_and(|t| {
                t.partitions.len() == partitions as usize
                    && t.partitions.iter().all(|p| p.leader.is_some())
            })
        }) {
            Some(m) => {
                every_broker_knows(client, m, topic, partitions).await
                    && leaders_answer(client, m, topic).await
            }
            None => false,
        };
        if ready {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "topic {topic} has no leaders on every broker after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Whether each partition's leader in `meta` answers a ListOffsets (latest) for it
/// without an error: it has taken up the leadership, so a Produce or Fetch sent next
/// meets no NOT_LEADER_OR_FOLLOWER.
async fn leaders_answer(
    client: &Client,
    meta: &kafka_client::ClusterMetadata,
    topic: &str,
) -> bool {
    use kafka_client::lowlevel::{ConnectionKind, LATEST_TIMESTAMP, list_offsets_on};
    let Some(t) = meta.topic(topic) else {
        return false;
    };
    let mut by_leader: std::collections::BTreeMap<i32, Vec<_>> = Default::default();
    for p in &t.partitions {
        let Some(leader) = p.leader else {
            return false;
        };
        let tp = kafka_client::TopicPartition::new(topic, p.partition);
        by_leader
            .entry(leader)
            .or_default()
            .push((tp, LATEST_TIMESTAMP));
    }
    for (leader, queries) in by_leader {
        let Ok(conn) = client.connection(leader, ConnectionKind::General).await else {
            return false;
        };
        let answered = list_offsets_on(&conn, &queries, false, Duration::from_secs(5)).await;
        let Ok(answers) = answered else {
            return false;
        };
        if answers.len() != queries.len() || answers.iter().any(|(_, a)| a.is_err()) {
            return false;
        }
    }
    true
}

/// Whether each broker of `meta`, asked directly, names a leader for all `partitions`
/// partitions of `topic`.
async fn every_broker_knows(
    client: &Client,
    meta: &kafka_client::ClusterMetadata,
    topic: &str,
    partitions: i32,
) -> bool {
    use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
    use kafka_protocol::messages::{MetadataRequest, TopicName};
    use kafka_protocol::protocol::StrBytes;
    let req = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
            TopicName(StrBytes::from_string(topic.to_string())),
        ))]));
    for id in meta.brokers.keys() {
        let Ok(resp) = client.send(Target::Broker(*id), &req).await else {
            return false;
        };
        let known = resp.topics.iter().any(|t| {
            t.error_code == 0
                && t.partitions.len() == partitions as usize
                && t.partitions
                    .iter()
                    .all(|p| p.error_code == 0 && p.leader_id.0 >= 0)
        });
        if !known {
            return false;
        }
    }
    true
}
