//! A snapshot of cluster metadata: brokers, controller, topics, partitions, leaders.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use kafka_protocol::messages::MetadataResponse;

use crate::config::BrokerAddress;
use crate::error::ErrorCode;

/// One broker as the cluster describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub id: i32,
    /// Advertised address.
    pub address: BrokerAddress,
    /// Rack, when configured.
    pub rack: Option<String>,
}

/// One partition: leader, epoch, replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    /// Partition index.
    pub partition: i32,
    /// Leader node id, or `None` while there is no leader.
    pub leader: Option<i32>,
    /// Leader epoch (-1 when unknown).
    pub leader_epoch: i32,
    /// Replica node ids.
    pub replicas: Vec<i32>,
    /// In-sync replica node ids.
    pub isr: Vec<i32>,
    /// Offline replica node ids.
    pub offline_replicas: Vec<i32>,
    /// A partition-level error (LEADER_NOT_AVAILABLE, ...), if any.
    pub error: Option<ErrorCode>,
}

/// One topic and its partitions (ordered by index).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicInfo {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub id: uuid::Uuid,
    /// Whether it is internal (`__consumer_offsets`, ...).
    pub is_internal: bool,
    /// Partitions, ordered by index.
    pub partitions: Vec<PartitionInfo>,
}

impl TopicInfo {
    /// The partition with index `p`.
    pub fn partition(&self, p: i32) -> Option<&PartitionInfo> {
        usize::try_from(p)
            .ok()
            .and_then(|i| self.partitions.get(i))
            .filter(|x| x.partition == p)
    }
}

/// A point-in-time view of the cluster. Cheap to share (`Arc`).
#[derive(Clone, Debug)]
pub struct ClusterMetadata {
    /// Cluster id.
    pub cluster_id: Option<String>,
    /// The node id the cluster names as controller (in KRaft, a broker that forwards to
    /// the controller quorum).
    pub controller: Option<i32>,
    /// Brokers by node id.
    pub brokers: BTreeMap<i32, BrokerInfo>,
    /// Topics by name.
    pub topics: BTreeMap<String, Arc<TopicInfo>>,
    /// Topic-level errors from the last refresh that asked for them (for example
    /// UNKNOWN_TOPIC_OR_PARTITION, TOPIC_AUTHORIZATION_FAILED).
    pub topic_errors: BTreeMap<String, ErrorCode>,
    /// When this snapshot was fetched (`None` before the first fetch).
    pub fetched_at: Option<Instant>,
}

impl ClusterMetadata {
    pub(crate) fn empty() -> Self {
        Self {
            cluster_id: None,
            controller: None,
            brokers: BTreeMap::new(),
            topics: BTreeMap::new(),
            topic_errors: BTreeMap::new(),
            fetched_at: None,
        }
    }

    /// The topic named `name`.
    pub fn topic(&self, name: &str) -> Option<&Arc<TopicInfo>> {
        self.topics.get(name)
    }

    /// The broker with node id `id`.
    pub fn broker(&self, id: i32) -> Option<&BrokerInfo> {
        self.brokers.get(&id)
    }

    /// Merges a Metadata response into a new snapshot. With `all_topics`, topics absent
    /// from the response are dropped; otherwise only the topics in it are replaced.
    pub(crate) fn merged(&self, resp: &MetadataResponse, all_topics: bool) -> Self {
        let brokers = resp
            .brokers
            .iter()
            .filter_map(|b| {
                let port = u16::try_from(b.port).ok()?;
                Some((
                    b.node_id.0,
                    BrokerInfo {
                        id: b.node_id.0,
                        address: BrokerAddress::new(b.host.as_str(), port),
                        rack: b.rack.as_ref().map(|r| r.to_string()),
                    },
                ))
            })
            .collect();
        let mut topics = if all_topics {
            BTreeMap::new()
        } else {
            self.topics.clone()
        };
        let mut topic_errors = if all_topics {
            BTreeMap::new()
        } else {
            self.topic_errors.clone()
        };
        for t in &resp.topics {
            let Some(name) = t.name.as_ref().map(|n| n.0.to_string()) else {
                continue;
            };
            if let Some(code) = ErrorCode::from_code(t.error_code) {
                topics.remove(&name);
                topic_errors.insert(name, code);
                continue;
            }
            topic_errors.remove(&name);
            let mut partitions: Vec<PartitionInfo> = t
                .partitions
                .iter()
                .map(|p| PartitionInfo {
                    partition: p.partition_index,
                    leader: (p.leader_id.0 >= 0).then_some(p.leader_id.0),
                    leader_epoch: p.leader_epoch,
                    replicas: p.replica_nodes.iter().map(|b| b.0).collect(),
                    isr: p.isr_nodes.iter().map(|b| b.0).collect(),
                    offline_replicas: p.offline_replicas.iter().map(|b| b.0).collect(),
                    error: ErrorCode::from_code(p.error_code),
                })
                .collect();
            partitions.sort_by_key(|p| p.partition);
            topics.insert(
                name.clone(),
                Arc::new(TopicInfo {
                    name,
                    id: t.topic_id,
                    is_internal: t.is_internal,
                    partitions,
                }),
            );
        }
        Self {
            cluster_id: resp.cluster_id.as_ref().map(|c| c.to_string()),
            controller: (resp.controller_id.0 >= 0).then_some(resp.controller_id.0),
            brokers,
            topics,
            topic_errors,
            fetched_at: Some(Instant::now()),
        }
    }
}
