//! Share-group (KIP-932) test helpers: the share tests' own 1-node cluster, whose
//! broker allows short acquisition locks (`group.share.min.record.lock.duration.ms=1000`)
//! and heartbeats (`group.share.min.heartbeat.interval.ms=500`); topics of numbered
//! records; groups reading from the earliest offset (`share.auto.offset.reset=earliest`,
//! a group config); share consumers.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use kafka_admin::{Admin, AlterConfigOp, AlterConfigsOptions, ConfigResource};
use kafka_client::share::{AcknowledgementMode, ShareConsumer, ShareRecord};
use kafka_client::{Producer, ProducerRecord};
use kafka_testbed::{ClusterConfig, KafkaCluster};

use super::{client, create_topic, unique_topic};

/// The share tests' 1-node cluster, started on first use.
pub fn cluster() -> &'static KafkaCluster {
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

/// Its bootstrap servers.
pub fn bootstrap() -> String {
    cluster().bootstrap_servers()
}

/// A 1-partition topic holding `n` records with values `v0`..`v{n-1}`.
pub async fn topic_with(n: usize) -> String {
    let topic = unique_topic("share");
    create_topic(&client(&bootstrap()), &topic, 1, 1).await;
    produce(&topic, 0..n, n).await;
    topic
}

/// Writes records `v{i}` for `range`, waiting for each `chunk` to be acknowledged (small
/// chunks make small batches, which a share group hands out one by one).
pub async fn produce(topic: &str, range: std::ops::Range<usize>, chunk: usize) {
    produce_to(&bootstrap(), topic, range, chunk).await;
}

/// [`produce`] to the cluster at `bootstrap`.
pub async fn produce_to(bootstrap: &str, topic: &str, range: std::ops::Range<usize>, chunk: usize) {
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap])
        .build()
        .expect("producer");
    let all: Vec<usize> = range.collect();
    for part in all.chunks(chunk.max(1)) {
        let mut pending = Vec::with_capacity(part.len());
        for i in part {
            let r = ProducerRecord::new(topic).with_value(format!("v{i}"));
            pending.push(producer.send(r).await.expect("send"));
        }
        for p in pending {
            p.await.expect("delivered");
        }
    }
    producer
        .close(Duration::from_secs(30))
        .await
        .expect("close producer");
}

/// A new share group reading from the earliest offset (`extra`: more group configs).
pub async fn group(extra: &[(&str, &str)]) -> String {
    group_on(&bootstrap(), extra).await
}

/// [`group`] on the cluster at `bootstrap`.
pub async fn group_on(bootstrap: &str, extra: &[(&str, &str)]) -> String {
    let g = unique_topic("share-group");
    let mut ops = vec![AlterConfigOp::set("share.auto.offset.reset", "earliest")];
    ops.extend(extra.iter().map(|(k, v)| AlterConfigOp::set(*k, *v)));
    let admin = Admin::new(client(bootstrap));
    let res = admin
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

/// One of our share consumers in `group` on the share cluster.
pub fn member(group: &str, mode: AcknowledgementMode, max: usize) -> ShareConsumer {
    ShareConsumer::builder()
        .bootstrap_servers([bootstrap()])
        .group_id(group)
        .acknowledgement_mode(mode)
        .max_poll_records(max)
        .fetch_max_wait(Duration::from_millis(200))
        .build()
        .expect("share consumer")
}

/// Polls until `want` records came (or `limit` passed).
pub async fn poll_n(c: &ShareConsumer, want: usize, limit: Duration) -> Vec<ShareRecord> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    while out.len() < want && Instant::now() < deadline {
        out.extend(c.poll(Duration::from_millis(500)).await.expect("poll"));
    }
    out
}

/// The `i` of a record `v{i}`.
pub fn index(r: &ShareRecord) -> usize {
    let v = r.value.as_ref().expect("value");
    std::str::from_utf8(&v[1..]).unwrap().parse().unwrap()
}
