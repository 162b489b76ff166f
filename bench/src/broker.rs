//! The shared broker: one Kafka [`KAFKA_VERSION`] node from the test bed, pinned to its own core, and
//! the topic chores around each run (create, wait for leaders, check end offsets,
//! delete), done with our admin client from the harness process (outside any clock).

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use kafka_admin::{
    Admin, AlterConfigOp, AlterConfigsOptions, ConfigResource, CreatePartitionsOptions,
    CreateTopicsOptions, NewPartitions, NewTopic, OffsetSpec, TopicPartition,
};
use kafka_client::Client;
use kafka_testbed::{ClusterConfig, KafkaCluster, KafkaVersion};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The Kafka release of the broker and of the Java peers (`kafka-tools`,
/// `kafka-clients`), whatever `KAFKA_VERSION` says for the test suite: every figure of
/// one report comes from one version.
pub const KAFKA_VERSION: KafkaVersion = KafkaVersion::new(4, 4, 0);

/// The core the broker runs on; clients run on [`CLIENT_CORE`].
pub const BROKER_CORE: usize = 0;
/// The core every client process runs on.
pub const CLIENT_CORE: usize = 1;

/// Broker settings that differ from Kafka's defaults.
pub const BROKER_PROPERTIES: &[(&str, &str)] = &[
    // Room for a full 1 MiB batch plus its framing (the default is 1 MiB + 12 bytes).
    ("message.max.bytes", "2097152"),
    // Deleted topics' files go soon, between runs, rather than a minute later.
    ("file.delete.delay.ms", "1000"),
];

/// The broker JVM heap.
pub const BROKER_HEAP: &str = "1g";
/// Partitions per topic-creation step: KRaft refuses an operation of more than 10,000
/// records, and each new partition is one record or more.
pub const CREATE_STEP: i32 = 4_000;

/// The running broker and an admin client on it.
#[derive(Debug)]
pub struct Broker {
    /// The test-bed cluster, held only to keep the JVM alive (dropping it kills the JVM).
    _cluster: KafkaCluster,
    /// Its bootstrap servers.
    pub bootstrap: String,
    /// The broker JVM's pid.
    pub pid: u32,
    admin: Admin,
}

/// Pins every thread of process `pid` (and the threads it starts later) to `core`.
pub fn pin_process(pid: u32, core: usize) -> Result<(), BoxError> {
    let ok = Command::new("taskset")
        .args(["-a", "-p", "-c", &core.to_string(), &pid.to_string()])
        .stdout(std::process::Stdio::null())
        .status()?
        .success();
    if ok {
        Ok(())
    } else {
        Err(format!("taskset could not pin pid {pid}").into())
    }
}

impl Broker {
    /// Starts a one-node cluster and pins it to [`BROKER_CORE`].
    pub async fn start() -> Result<Self, BoxError> {
        Self::start_with(&[]).await
    }

    /// [`Broker::start`] with `extra` broker settings beside [`BROKER_PROPERTIES`].
    pub async fn start_with(extra: &[(&str, &str)]) -> Result<Self, BoxError> {
        Self::start_sized(extra, BROKER_HEAP).await
    }

    /// [`Broker::start_with`] with a JVM heap of `heap` (`-Xmx`, e.g. `"3g"`).
    pub async fn start_sized(extra: &[(&str, &str)], heap: &str) -> Result<Self, BoxError> {
        let mut config = ClusterConfig::new(1)
            .with_kafka_version(KAFKA_VERSION)
            .with_heap(heap);
        for (k, v) in BROKER_PROPERTIES.iter().chain(extra) {
            config = config.with_property(*k, *v);
        }
        let cluster = tokio::task::spawn_blocking(move || KafkaCluster::start(config)).await??;
        let pid = *cluster.pids().first().ok_or("the broker has no pid")?;
        pin_process(pid, BROKER_CORE)?;
        let bootstrap = cluster.bootstrap_servers();
        let client = Client::builder()
            .bootstrap_servers([bootstrap.as_str()])
            .client_id("bench-harness")
            .api_timeout(Duration::from_secs(60))
            .build()?;
        Ok(Broker {
            _cluster: cluster,
            bootstrap,
            pid,
            admin: Admin::new(client),
        })
    }

    /// Creates `topic` with `partitions` partitions and waits until each has a leader.
    pub async fn create_topic(&self, topic: &str, partitions: i32) -> Result<(), BoxError> {
        self.create_topic_within(topic, partitions, Duration::from_secs(30))
            .await
    }

    /// [`Broker::create_topic`], waiting up to `wait` for the leaders (thousands of
    /// partitions on one loaded broker take longer than 30 s). More than [`CREATE_STEP`]
    /// partitions are created in steps of that many.
    pub async fn create_topic_within(
        &self,
        topic: &str,
        partitions: i32,
        wait: Duration,
    ) -> Result<(), BoxError> {
        let timeout = wait.max(Duration::from_secs(60));
        self.admin
            .create_topics(
                [NewTopic::new(topic)
                    .partitions(partitions.min(CREATE_STEP))
                    .replication_factor(1)],
                CreateTopicsOptions::default().timeout(timeout),
            )
            .await?
            .remove(topic)
            .ok_or("no answer for the topic")??;
        // KRaft refuses one operation of more than 10,000 records (POLICY_VIOLATION,
        // "excessively large batch operation"): grow the rest in steps.
        let mut count = partitions.min(CREATE_STEP);
        while count < partitions {
            count = (count + CREATE_STEP).min(partitions);
            self.admin
                .create_partitions(
                    [(topic, NewPartitions::increase_to(count))],
                    CreatePartitionsOptions::default().timeout(timeout),
                )
                .await?
                .remove(topic)
                .ok_or("no answer for the topic")??;
        }
        let deadline = Instant::now() + wait;
        loop {
            let m = self.admin.client().refresh_topics(&[topic]).await?;
            if m.topic(topic).is_some_and(|t| {
                t.partitions.len() == partitions as usize
                    && t.partitions.iter().all(|p| p.leader.is_some())
            }) {
                // Leaders are known; give the log a moment to be ready on the broker.
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!("topic {topic} has no leaders after {wait:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The sum of the partitions' end offsets: the records the topic holds.
    pub async fn records_in(&self, topic: &str, partitions: i32) -> Result<u64, BoxError> {
        let answer: BTreeMap<_, _> = self
            .admin
            .list_offsets(
                (0..partitions).map(|p| (TopicPartition::new(topic, p), OffsetSpec::Latest)),
                Default::default(),
            )
            .await?;
        let mut total = 0u64;
        for (_, r) in answer {
            total += r?.offset.unwrap_or(0).max(0) as u64;
        }
        Ok(total)
    }

    /// Makes share group `group` read from the earliest offset (the group config
    /// `share.auto.offset.reset=earliest`; a new share group starts at the end).
    pub async fn share_group_from_earliest(&self, group: &str) -> Result<(), BoxError> {
        let answer = self
            .admin
            .incremental_alter_configs(
                [(
                    ConfigResource::group(group.to_string()),
                    vec![AlterConfigOp::set("share.auto.offset.reset", "earliest")],
                )],
                AlterConfigsOptions::default(),
            )
            .await?;
        for (_, outcome) in answer {
            outcome?;
        }
        Ok(())
    }

    /// Deletes topics (errors ignored: a leftover topic only costs disk).
    pub async fn delete_topics(&self, topics: &[String]) {
        if topics.is_empty() {
            return;
        }
        let _ = self
            .admin
            .delete_topics(topics.to_vec(), Default::default())
            .await;
    }
}
