//! Reassignment plans in Kafka's own JSON (what `kafka-reassign-partitions.sh` reads and
//! writes), and a generator that spreads replicas over brokers (and racks) with Kafka's
//! own placement algorithm (`AdminUtils.assignReplicasToBrokers`).
//!
//! ```
//! use kafka_admin::ReassignmentPlan;
//!
//! let json = r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[2,3],"log_dirs":["any","any"]}]}"#;
//! let plan = ReassignmentPlan::from_json(json).unwrap();
//! assert_eq!(plan.partitions[0].replicas, vec![2, 3]);
//! assert_eq!(ReassignmentPlan::from_json(&plan.to_json()).unwrap(), plan);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::reassignments::Reassignment;
use crate::types::TopicPartition;

/// The log dir value meaning "wherever the broker likes".
pub const ANY_LOG_DIR: &str = "any";

/// One partition's target replicas in a [`ReassignmentPlan`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
    /// Broker ids, the preferred leader first.
    pub replicas: Vec<i32>,
    /// One log dir per replica (absolute path or `any`); Kafka's tool always writes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_dirs: Option<Vec<String>>,
}

/// A reassignment in Kafka's JSON format (`{"version":1,"partitions":[...]}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReassignmentPlan {
    /// Format version; Kafka's tools write and read 1.
    pub version: i32,
    /// The partitions to move.
    pub partitions: Vec<PlannedPartition>,
}

/// Why a reassignment JSON or a plan request is not usable.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// The text is not the JSON of a plan; the message says where and why.
    Json(String),
    /// A format version other than 1.
    UnsupportedVersion(i32),
    /// The same partition appears twice.
    DuplicatePartition(TopicPartition),
    /// A partition with no replicas, or a broker named twice.
    InvalidReplicas {
        /// The partition.
        partition: TopicPartition,
        /// What is wrong.
        reason: String,
    },
    /// `log_dirs` does not have one entry per replica.
    LogDirsMismatch(TopicPartition),
    /// No brokers were given to place replicas on.
    NoBrokers,
    /// A broker that is not in the cluster.
    UnknownBroker(i32),
    /// A replication factor larger than the number of brokers, or below 1.
    InvalidReplicationFactor {
        /// The replication factor asked for.
        replication_factor: i32,
        /// How many brokers there are.
        brokers: usize,
    },
    /// Some brokers have a rack and some do not (Kafka refuses the rack-aware placement
    /// then too).
    PartialRacks,
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Json(m) => write!(f, "not a reassignment JSON: {m}"),
            Self::UnsupportedVersion(v) => {
                write!(f, "reassignment JSON version {v} is not supported (only 1)")
            }
            Self::DuplicatePartition(tp) => write!(f, "partition {tp} appears twice"),
            Self::InvalidReplicas { partition, reason } => {
                write!(f, "partition {partition}: {reason}")
            }
            Self::LogDirsMismatch(tp) => {
                write!(f, "partition {tp}: log_dirs needs one entry per replica")
            }
            Self::NoBrokers => write!(f, "no brokers to place replicas on"),
            Self::UnknownBroker(id) => write!(f, "broker {id} is not in the cluster"),
            Self::InvalidReplicationFactor {
                replication_factor,
                brokers,
            } => write!(
                f,
                "replication factor {replication_factor} is not possible with {brokers} broker(s)"
            ),
            Self::PartialRacks => write!(f, "some brokers have a rack and some do not"),
        }
    }
}

impl std::error::Error for PlanError {}

impl ReassignmentPlan {
    /// A version-1 plan of these partitions.
    pub fn new(partitions: Vec<PlannedPartition>) -> Self {
        Self {
            version: 1,
            partitions,
        }
    }

    /// Parses and checks Kafka's reassignment JSON: version 1, each partition once, no
    /// empty or repeated replica list, one log dir per replica when given.
    pub fn from_json(text: &str) -> Result<Self, PlanError> {
        let plan: Self = serde_json::from_str(text).map_err(|e| PlanError::Json(e.to_string()))?;
        plan.validate()?;
        Ok(plan)
    }

    /// The plan as Kafka's JSON, on one line (as the Java tool prints it).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Checks what [`ReassignmentPlan::from_json`] checks.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.version != 1 {
            return Err(PlanError::UnsupportedVersion(self.version));
        }
        let mut seen = BTreeSet::new();
        for p in &self.partitions {
            let tp = TopicPartition::new(p.topic.clone(), p.partition);
            if !seen.insert(tp.clone()) {
                return Err(PlanError::DuplicatePartition(tp));
            }
            if p.replicas.is_empty() {
                return Err(PlanError::InvalidReplicas {
                    partition: tp,
                    reason: "no replicas".into(),
                });
            }
            let distinct: BTreeSet<_> = p.replicas.iter().collect();
            if distinct.len() != p.replicas.len() {
                return Err(PlanError::InvalidReplicas {
                    partition: tp,
                    reason: format!("a broker is named twice in {:?}", p.replicas),
                });
            }
            if p.log_dirs
                .as_ref()
                .is_some_and(|d| d.len() != p.replicas.len())
            {
                return Err(PlanError::LogDirsMismatch(tp));
            }
        }
        Ok(())
    }

    /// The plan as the moves [`Admin::alter_partition_reassignments`](crate::Admin::alter_partition_reassignments) takes.
    pub fn moves(&self) -> Vec<(TopicPartition, Reassignment)> {
        self.partitions
            .iter()
            .map(|p| {
                (
                    TopicPartition::new(p.topic.clone(), p.partition),
                    Reassignment::MoveTo(p.replicas.clone()),
                )
            })
            .collect()
    }

    /// The same partitions as cancellations.
    pub fn cancellations(&self) -> Vec<(TopicPartition, Reassignment)> {
        self.partitions
            .iter()
            .map(|p| {
                (
                    TopicPartition::new(p.topic.clone(), p.partition),
                    Reassignment::Cancel,
                )
            })
            .collect()
    }

    /// A plan from `(partition, replicas)` pairs, with `any` log dirs as the Java tool
    /// writes them.
    pub fn from_assignment(assignment: &BTreeMap<TopicPartition, Vec<i32>>) -> Self {
        Self::new(
            assignment
                .iter()
                .map(|(tp, replicas)| PlannedPartition {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    replicas: replicas.clone(),
                    log_dirs: Some(vec![ANY_LOG_DIR.to_string(); replicas.len()]),
                })
                .collect(),
        )
    }
}

/// A broker replicas may be placed on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlacementBroker {
    /// Node id.
    pub id: i32,
    /// Rack, if the broker has one.
    pub rack: Option<String>,
}

/// Where Kafka's placement starts; random (as Kafka's tool) unless fixed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PlacementStart {
    /// A random first broker and replica shift, as `--generate` does.
    #[default]
    Random,
    /// This index into the broker list for the first broker and the shift: the same
    /// input then always gives the same plan.
    Fixed(usize),
}

/// Places `partitions` partitions of `replication_factor` replicas on `brokers` as
/// Kafka does: leaders round-robin over the brokers (alternating racks when every broker
/// has one), followers shifted so that load spreads, and with racks, each replica on a
/// rack without one until every rack has one.
pub fn assign_replicas(
    brokers: &[PlacementBroker],
    partitions: i32,
    replication_factor: i32,
    start: PlacementStart,
) -> Result<Vec<Vec<i32>>, PlanError> {
    if brokers.is_empty() {
        return Err(PlanError::NoBrokers);
    }
    if replication_factor < 1 || replication_factor as usize > brokers.len() {
        return Err(PlanError::InvalidReplicationFactor {
            replication_factor,
            brokers: brokers.len(),
        });
    }
    let with_rack = brokers.iter().filter(|b| b.rack.is_some()).count();
    if with_rack != 0 && with_rack != brokers.len() {
        return Err(PlanError::PartialRacks);
    }
    let n = brokers.len();
    let (start_index, mut shift) = match start {
        PlacementStart::Random => (fastrand::usize(..n), fastrand::usize(..n)),
        PlacementStart::Fixed(i) => (i % n, i % n),
    };
    let mut out = Vec::with_capacity(partitions.max(0) as usize);
    if with_rack == 0 {
        let mut ids: Vec<i32> = brokers.iter().map(|b| b.id).collect();
        ids.sort_unstable();
        for p in 0..partitions.max(0) as usize {
            if p > 0 && p % n == 0 {
                shift += 1;
            }
            let first = (p + start_index) % n;
            let mut replicas = vec![ids[first]];
            for j in 0..replication_factor as usize - 1 {
                replicas.push(ids[replica_index(first, shift, j, n)]);
            }
            out.push(replicas);
        }
        return Ok(out);
    }
    let rack_of: BTreeMap<i32, &str> = brokers
        .iter()
        .map(|b| (b.id, b.rack.as_deref().unwrap_or_default()))
        .collect();
    let arranged = rack_alternated(&rack_of);
    let racks = rack_of.values().collect::<BTreeSet<_>>().len();
    for p in 0..partitions.max(0) as usize {
        if p > 0 && p % n == 0 {
            shift += 1;
        }
        let first = (p + start_index) % n;
        let leader = arranged[first];
        let mut replicas = vec![leader];
        let mut used_racks = BTreeSet::from([rack_of[&leader]]);
        let mut used = BTreeSet::from([leader]);
        let mut k = 0;
        for _ in 0..replication_factor - 1 {
            loop {
                let broker = arranged[replica_index(first, shift * racks, k, n)];
                let rack = rack_of[&broker];
                k += 1;
                if (!used_racks.contains(rack) || used_racks.len() == racks)
                    && (!used.contains(&broker) || used.len() == n)
                {
                    replicas.push(broker);
                    used_racks.insert(rack);
                    used.insert(broker);
                    break;
                }
            }
        }
        out.push(replicas);
    }
    Ok(out)
}

fn replica_index(first: usize, shift: usize, j: usize, n: usize) -> usize {
    let step = 1 + (shift + j) % (n - 1).max(1);
    (first + step) % n
}

/// Brokers ordered so consecutive ones are on different racks: the first of each rack
/// (racks sorted), then the second of each, ...
fn rack_alternated(rack_of: &BTreeMap<i32, &str>) -> Vec<i32> {
    let mut by_rack: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for (id, rack) in rack_of {
        by_rack.entry(rack).or_default().push(*id);
    }
    let mut out = Vec::with_capacity(rack_of.len());
    let mut round = 0;
    while out.len() < rack_of.len() {
        for ids in by_rack.values() {
            if let Some(id) = ids.get(round) {
                out.push(*id);
            }
        }
        round += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brokers(ids: &[i32], racks: Option<&[&str]>) -> Vec<PlacementBroker> {
        ids.iter()
            .enumerate()
            .map(|(i, id)| PlacementBroker {
                id: *id,
                rack: racks.map(|r| r[i].to_string()),
            })
            .collect()
    }

    #[test]
    fn kafka_json_round_trips_and_bad_plans_are_named() {
        let json = r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any","any"]},{"topic":"t","partition":1,"replicas":[3]}]}"#;
        let plan = ReassignmentPlan::from_json(json).unwrap();
        assert_eq!(plan.partitions.len(), 2);
        assert_eq!(plan.partitions[1].log_dirs, None);
        assert_eq!(ReassignmentPlan::from_json(&plan.to_json()).unwrap(), plan);
        assert!(matches!(
            ReassignmentPlan::from_json("{"),
            Err(PlanError::Json(_))
        ));
        assert_eq!(
            ReassignmentPlan::from_json(r#"{"version":2,"partitions":[]}"#),
            Err(PlanError::UnsupportedVersion(2))
        );
        let dup = r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1]},{"topic":"t","partition":0,"replicas":[2]}]}"#;
        assert_eq!(
            ReassignmentPlan::from_json(dup),
            Err(PlanError::DuplicatePartition(TopicPartition::new("t", 0)))
        );
        let twice = r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,1]}]}"#;
        assert!(matches!(
            ReassignmentPlan::from_json(twice),
            Err(PlanError::InvalidReplicas { .. })
        ));
        let dirs = r#"{"version":1,"partitions":[{"topic":"t","partition":0,"replicas":[1,2],"log_dirs":["any"]}]}"#;
        assert!(matches!(
            ReassignmentPlan::from_json(dirs),
            Err(PlanError::LogDirsMismatch(_))
        ));
    }

    #[test]
    fn placement_matches_kafkas_for_a_fixed_start() {
        // AdminUtils.assignReplicasToBrokers(brokers 0..4, 10 partitions, rf 3, start 0):
        // the expected lists from Kafka's AdminRackAwareTest/ReplicationUtils tests.
        let b = brokers(&[0, 1, 2, 3, 4], None);
        let got = assign_replicas(&b, 10, 3, PlacementStart::Fixed(0)).unwrap();
        let expected = vec![
            vec![0, 1, 2],
            vec![1, 2, 3],
            vec![2, 3, 4],
            vec![3, 4, 0],
            vec![4, 0, 1],
            vec![0, 2, 3],
            vec![1, 3, 4],
            vec![2, 4, 0],
            vec![3, 0, 1],
            vec![4, 1, 2],
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn racks_get_one_replica_each_and_leaders_spread() {
        let b = brokers(&[1, 2, 3, 4, 5, 6], Some(&["a", "a", "b", "b", "c", "c"]));
        let got = assign_replicas(&b, 12, 3, PlacementStart::Random).unwrap();
        let rack = |id: i32| b.iter().find(|x| x.id == id).unwrap().rack.clone().unwrap();
        let mut leaders = BTreeMap::new();
        for replicas in &got {
            let racks: BTreeSet<_> = replicas.iter().map(|r| rack(*r)).collect();
            assert_eq!(racks.len(), 3, "{replicas:?} spans every rack");
            *leaders.entry(replicas[0]).or_insert(0) += 1;
        }
        assert!(leaders.values().all(|n| *n == 2), "{leaders:?}");
    }

    #[test]
    fn impossible_placements_are_typed_errors() {
        let b = brokers(&[1, 2], None);
        assert_eq!(
            assign_replicas(&b, 1, 3, PlacementStart::Random),
            Err(PlanError::InvalidReplicationFactor {
                replication_factor: 3,
                brokers: 2
            })
        );
        assert_eq!(
            assign_replicas(&[], 1, 1, PlacementStart::Random),
            Err(PlanError::NoBrokers)
        );
        let mut partial = brokers(&[1, 2], None);
        partial[0].rack = Some("a".into());
        assert_eq!(
            assign_replicas(&partial, 1, 1, PlacementStart::Random),
            Err(PlanError::PartialRacks)
        );
    }
}
