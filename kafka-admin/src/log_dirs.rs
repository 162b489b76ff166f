//! Log dirs: describe each broker's log directories (DescribeLogDirs, through the
//! generated message for Kafka 4.4's v5) and move replicas between a broker's
//! directories (AlterReplicaLogDirs), each sent to the broker itself.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use kafka_client::lowlevel::Target;
use kafka_client::lowlevel::protocol_gen::DescribeLogDirsRequest;
use kafka_client::{ClusterMetadata, Error, ErrorCode, ErrorContext, Result};
use kafka_protocol::messages::alter_replica_log_dirs_request::{
    AlterReplicaLogDir, AlterReplicaLogDirTopic,
};
use kafka_protocol::messages::{AlterReplicaLogDirsRequest, ApiKey, TopicName};

use crate::admin::{Admin, check_item, item_error, wire_str};
use crate::driver::{Call, Route, retry_transient_errors};
use crate::types::TopicPartition;

/// Options for the log dir calls.
#[derive(Clone, Debug)]
pub struct LogDirsOptions {
    timeout: Duration,
}

impl Default for LogDirsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl LogDirsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// One replica in a log dir.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplicaLogInfo {
    /// Size of the replica's log in bytes.
    pub size: i64,
    /// How far the replica's log end is behind the high watermark (or, for a future
    /// replica, behind the current replica).
    pub offset_lag: i64,
    /// Whether this is the future replica of a move between dirs.
    pub is_future: bool,
}

/// One log directory of a broker.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct LogDirDescription {
    /// The dir's error (KAFKA_STORAGE_ERROR for an offline dir), if any.
    pub error: Option<Error>,
    /// Capacity in bytes, when the broker reports it (v4+).
    pub total_bytes: Option<i64>,
    /// Free bytes, when the broker reports it (v4+).
    pub usable_bytes: Option<i64>,
    /// The replicas in it.
    pub replicas: BTreeMap<TopicPartition, ReplicaLogInfo>,
    /// Whether the dir is cordoned: the broker places no new replicas in it (KIP-1066,
    /// DescribeLogDirs v5; false from older brokers).
    pub is_cordoned: bool,
}

/// A replica: a partition on one broker.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartitionReplica {
    /// The partition.
    pub partition: TopicPartition,
    /// The broker holding the replica.
    pub broker: i32,
}

impl TopicPartitionReplica {
    /// The replica of `topic`-`partition` on `broker`.
    pub fn new(topic: impl Into<String>, partition: i32, broker: i32) -> Self {
        Self {
            partition: TopicPartition::new(topic, partition),
            broker,
        }
    }
}

impl fmt::Display for TopicPartitionReplica {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.partition, self.broker)
    }
}

/// BROKER_NOT_AVAILABLE (8).
fn broker_not_available() -> ErrorCode {
    ErrorCode::from_code(8).unwrap_or(ErrorCode::LEADER_NOT_AVAILABLE)
}

/// To the broker, or a final BROKER_NOT_AVAILABLE when the metadata does not list it
/// (an unknown id, or a broker that is down): not retried until the deadline.
fn broker_route(meta: &ClusterMetadata, api: ApiKey, broker: i32) -> Route {
    if meta.broker(broker).is_some() {
        Route::To(Target::Broker(broker))
    } else {
        Route::Fail(Error::broker(
            broker_not_available(),
            ErrorContext::default()
                .with_api(api)
                .with_resource(format!("broker {broker}")),
            Some(format!("broker {broker} is not in the cluster metadata")),
        ))
    }
}

/// A broker id as a driver key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct BrokerKey(i32);

impl fmt::Display for BrokerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "broker {}", self.0)
    }
}

impl Admin {
    /// Each broker's log dirs (dir path → description), with a result per broker:
    /// BROKER_NOT_AVAILABLE for a broker the metadata does not list.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_log_dirs(
        &self,
        brokers: impl IntoIterator<Item = i32>,
        options: LogDirsOptions,
    ) -> Result<BTreeMap<i32, Result<BTreeMap<String, LogDirDescription>>>> {
        let api = ApiKey::DescribeLogDirs;
        let items: BTreeMap<BrokerKey, ()> =
            brokers.into_iter().map(|b| (BrokerKey(b), ())).collect();
        let client = &self.client;
        let call = Call::new(client, "DescribeLogDirs", api, options.timeout)
            .retry(retry_transient_errors);
        let results = call
            .run(
                items,
                |keys| async move {
                    let meta = client.metadata().await?;
                    Ok(keys
                        .into_iter()
                        .map(|k| (k, broker_route(&meta, api, k.0)))
                        .collect())
                },
                |conn, batch| async move {
                    let mut out = Vec::new();
                    for (broker, ()) in batch {
                        let req = DescribeLogDirsRequest::default().with_topics(None);
                        let resp = conn.request(&req).await?;
                        let ctx = || ErrorContext::default().with_api(api);
                        if let Some(e) = item_error(resp.error_code, ctx, None) {
                            out.push((broker, Err(e)));
                            continue;
                        }
                        let mut dirs = BTreeMap::new();
                        for r in resp.results {
                            let dir = r.log_dir.to_string();
                            let ctx = || ErrorContext::default().with_api(api).with_resource(&dir);
                            let error = item_error(r.error_code, ctx, None);
                            let mut replicas = BTreeMap::new();
                            for t in r.topics {
                                for p in t.partitions {
                                    replicas.insert(
                                        TopicPartition::new(t.name.to_string(), p.partition_index),
                                        ReplicaLogInfo {
                                            size: p.partition_size,
                                            offset_lag: p.offset_lag,
                                            is_future: p.is_future_key,
                                        },
                                    );
                                }
                            }
                            dirs.insert(
                                dir,
                                LogDirDescription {
                                    error,
                                    total_bytes: (r.total_bytes >= 0).then_some(r.total_bytes),
                                    usable_bytes: (r.usable_bytes >= 0).then_some(r.usable_bytes),
                                    replicas,
                                    is_cordoned: r.is_cordoned,
                                },
                            );
                        }
                        out.push((broker, Ok(dirs)));
                    }
                    Ok(out)
                },
            )
            .await;
        Ok(results.into_iter().map(|(k, r)| (k.0, r)).collect())
    }

    /// Moves replicas to another log dir of their broker (an absolute path the broker
    /// has), with a result per replica: LOG_DIR_NOT_FOUND for a path the broker does not
    /// have, KAFKA_STORAGE_ERROR for an offline dir, REPLICA_NOT_AVAILABLE when the
    /// broker has no such replica, ...
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it — and where the
    /// call sends several requests (one per broker, leader or coordinator), some may have
    /// been applied and others not. Read the state back to know.
    pub async fn alter_replica_log_dirs(
        &self,
        moves: impl IntoIterator<Item = (TopicPartitionReplica, String)>,
        options: LogDirsOptions,
    ) -> Result<BTreeMap<TopicPartitionReplica, Result<()>>> {
        let api = ApiKey::AlterReplicaLogDirs;
        let items: BTreeMap<TopicPartitionReplica, String> = moves.into_iter().collect();
        let client = &self.client;
        let call = Call::new(client, "AlterReplicaLogDirs", api, options.timeout)
            .retry(retry_transient_errors);
        Ok(call
            .run(
                items,
                |keys| async move {
                    let meta = client.metadata().await?;
                    Ok(keys
                        .into_iter()
                        .map(|k| {
                            let to = broker_route(&meta, api, k.broker);
                            (k, to)
                        })
                        .collect())
                },
                |conn, batch| async move {
                    let broker = batch.first().map(|(k, _)| k.broker).unwrap_or(-1);
                    let mut by_dir: BTreeMap<&str, BTreeMap<&str, Vec<i32>>> = BTreeMap::new();
                    for (k, dir) in &batch {
                        by_dir
                            .entry(dir)
                            .or_default()
                            .entry(&k.partition.topic)
                            .or_default()
                            .push(k.partition.partition);
                    }
                    let dirs = by_dir
                        .into_iter()
                        .map(|(path, topics)| {
                            AlterReplicaLogDir::default()
                                .with_path(wire_str(path))
                                .with_topics(
                                    topics
                                        .into_iter()
                                        .map(|(t, ps)| {
                                            AlterReplicaLogDirTopic::default()
                                                .with_name(TopicName(wire_str(t)))
                                                .with_partitions(ps)
                                        })
                                        .collect(),
                                )
                        })
                        .collect();
                    let resp = conn
                        .request(&AlterReplicaLogDirsRequest::default().with_dirs(dirs))
                        .await?;
                    let mut out = Vec::new();
                    for t in resp.results {
                        let topic = t.topic_name.0.to_string();
                        for p in t.partitions {
                            let key = TopicPartitionReplica::new(
                                topic.clone(),
                                p.partition_index,
                                broker,
                            );
                            let ctx = || {
                                ErrorContext::default()
                                    .with_api(api)
                                    .with_resource(&topic)
                                    .with_partition(p.partition_index)
                            };
                            out.push((key, check_item(p.error_code, ctx, None)));
                        }
                    }
                    Ok(out)
                },
            )
            .await)
    }
}
