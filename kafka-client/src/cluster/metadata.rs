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

impl BrokerInfo {
    /// The brokers of a response's `node_endpoints` (KIP-951), as `(node id, host,
    /// port, rack)`; one with a port out of range is left out.
    pub(crate) fn from_endpoints<'a>(
        endpoints: impl IntoIterator<Item = (i32, &'a str, i32, Option<&'a str>)>,
    ) -> Vec<Self> {
        endpoints
            .into_iter()
            .filter_map(|(id, host, port, rack)| {
                Some(Self {
                    id,
                    address: BrokerAddress::new(host, u16::try_from(port).ok()?),
                    rack: rack.map(str::to_string),
                })
            })
            .collect()
    }
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
    /// Tests: topic `name` (nil id, not internal) whose partition `i` is led by
    /// `leaders[i]` at leader epoch 0, with no replica lists.
    #[cfg(test)]
    pub(crate) fn led_by(name: &str, leaders: &[Option<i32>]) -> TopicInfo {
        TopicInfo {
            name: name.to_string(),
            id: uuid::Uuid::nil(),
            is_internal: false,
            partitions: leaders
                .iter()
                .enumerate()
                .map(|(i, l)| PartitionInfo {
                    partition: i as i32,
                    leader: *l,
                    leader_epoch: 0,
                    replicas: Vec::new(),
                    isr: Vec::new(),
                    offline_replicas: Vec::new(),
                    error: None,
                })
                .collect(),
        }
    }

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

    /// This snapshot with `topic`-`partition` led by `leader` at `epoch` (a KIP-951
    /// leader hint), and the brokers of `endpoints` it did not know added. `None` when
    /// the hint is no news (the cached epoch is as new) or unusable (no leader, a
    /// partition or leader broker not known).
    pub(crate) fn with_leader_hint(
        &self,
        topic: &str,
        partition: i32,
        leader: i32,
        epoch: i32,
        endpoints: &[BrokerInfo],
    ) -> Option<Self> {
        if leader < 0 || epoch < 0 {
            return None;
        }
        let t = self.topic(topic)?;
        let at = t.partitions.iter().position(|p| p.partition == partition)?;
        if t.partitions[at].leader_epoch >= epoch {
            return None;
        }
        if !self.brokers.contains_key(&leader) && !endpoints.iter().any(|b| b.id == leader) {
            return None;
        }
        let mut next = self.clone();
        for b in endpoints {
            next.brokers.entry(b.id).or_insert_with(|| b.clone());
        }
        let mut t = (**t).clone();
        let p = &mut t.partitions[at];
        p.leader = Some(leader);
        p.leader_epoch = epoch;
        p.error = None;
        next.topics.insert(topic.to_string(), Arc::new(t));
        Some(next)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn one_partition(leader: i32, epoch: i32) -> ClusterMetadata {
        let mut m = ClusterMetadata::empty();
        for id in [1, 2] {
            m.brokers.insert(
                id,
                BrokerInfo {
                    id,
                    address: BrokerAddress::new("127.0.0.1", 9000 + id as u16),
                    rack: None,
                },
            );
        }
        let mut t = TopicInfo::led_by("t", &[Some(leader)]);
        t.partitions[0].leader_epoch = epoch;
        t.partitions[0].replicas = vec![1, 2, 3];
        t.partitions[0].isr = vec![1, 2, 3];
        m.topics.insert("t".into(), Arc::new(t));
        m
    }

    fn leader(m: &ClusterMetadata) -> (Option<i32>, i32) {
        let p = m.topic("t").unwrap().partition(0).unwrap();
        (p.leader, p.leader_epoch)
    }

    /// `lowlevel::ignore_leader_hints` (the matrix's "before KIP-951" measurement): the
    /// same hint moves nothing, so the caller refreshes as before.
    #[tokio::test]
    async fn a_client_that_ignores_leader_hints_keeps_its_metadata() {
        for ignore in [false, true] {
            let mut b = crate::Client::builder().bootstrap_servers(["127.0.0.1:1"]);
            if ignore {
                b = crate::lowlevel::ignore_leader_hints(b);
            }
            let c = b.build().unwrap();
            c.set_cached_metadata(one_partition(1, 5));
            assert_eq!(c.apply_leader_hint("t", 0, 2, 6, &[]), !ignore);
            let want = if ignore { (Some(1), 5) } else { (Some(2), 6) };
            assert_eq!(leader(&c.cached_metadata()), want, "ignore {ignore}");
        }
    }

    #[test]
    fn a_newer_leader_hint_moves_the_partition() {
        let m = one_partition(1, 5);
        let next = m.with_leader_hint("t", 0, 2, 6, &[]).expect("taken");
        assert_eq!(leader(&next), (Some(2), 6));
        assert_eq!(leader(&m), (Some(1), 5), "the old snapshot is untouched");
    }

    #[test]
    fn an_old_or_unusable_leader_hint_changes_nothing() {
        let m = one_partition(1, 5);
        assert!(
            m.with_leader_hint("t", 0, 2, 5, &[]).is_none(),
            "same epoch"
        );
        assert!(
            m.with_leader_hint("t", 0, 2, 4, &[]).is_none(),
            "older epoch"
        );
        assert!(
            m.with_leader_hint("t", 0, -1, 9, &[]).is_none(),
            "no leader"
        );
        assert!(m.with_leader_hint("t", 0, 2, -1, &[]).is_none(), "no epoch");
        assert!(
            m.with_leader_hint("t", 7, 2, 9, &[]).is_none(),
            "no partition"
        );
        assert!(m.with_leader_hint("u", 0, 2, 9, &[]).is_none(), "no topic");
        assert!(
            m.with_leader_hint("t", 0, 3, 9, &[]).is_none(),
            "a broker with no known address"
        );
    }

    #[test]
    fn a_leader_hint_brings_the_new_brokers_address() {
        let m = one_partition(1, 5);
        let three = BrokerInfo {
            id: 3,
            address: BrokerAddress::new("127.0.0.1", 9003),
            rack: Some("r3".into()),
        };
        let next = m
            .with_leader_hint("t", 0, 3, 6, std::slice::from_ref(&three))
            .expect("taken");
        assert_eq!(leader(&next), (Some(3), 6));
        assert_eq!(next.broker(3), Some(&three));
    }
}
