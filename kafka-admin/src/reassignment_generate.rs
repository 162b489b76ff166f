//! `kafka-reassign-partitions --generate`: the current assignment of some topics and a
//! proposal that spreads them over a given set of brokers.

use std::collections::BTreeMap;

use kafka_client::{Error, ErrorCode, ErrorContext};

use crate::admin::Admin;
use crate::reassignment_plan::{
    PlacementBroker, PlacementStart, PlanError, ReassignmentPlan, assign_replicas,
};
use crate::types::TopicPartition;

/// Options for [`Admin::generate_reassignment`].
#[derive(Clone, Debug, Default)]
pub struct GenerateReassignmentOptions {
    rack_aware: bool,
    start: PlacementStart,
}

impl GenerateReassignmentOptions {
    /// Keep replicas of a partition on different racks, using the racks the brokers
    /// advertise. Default false (the Java tool is rack aware unless
    /// `--disable-rack-aware`; the CLI follows it).
    pub fn rack_aware(mut self, v: bool) -> Self {
        self.rack_aware = v;
        self
    }

    /// Where placement starts (random by default, as in Kafka's tool).
    pub fn start(mut self, start: PlacementStart) -> Self {
        self.start = start;
        self
    }
}

/// What [`Admin::generate_reassignment`] proposes.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct GeneratedReassignment {
    /// The topics' replica sets now (save it to roll back).
    pub current: ReassignmentPlan,
    /// The proposed replica sets.
    pub proposed: ReassignmentPlan,
}

/// Why [`Admin::generate_reassignment`] failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum GenerateError {
    /// The cluster could not tell us the topics' assignment.
    Cluster(Error),
    /// The placement is impossible.
    Plan(PlanError),
}

impl std::fmt::Display for GenerateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Cluster(e) => write!(f, "{e}"),
            Self::Plan(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for GenerateError {}

impl Admin {
    /// The current assignment of `topics` and a proposal placing each topic's partitions
    /// (same count, same replication factor) on `brokers` with Kafka's algorithm. Fails
    /// with UNKNOWN_TOPIC_OR_PARTITION for a missing topic, and a [`PlanError`] for a
    /// broker that is not in the cluster (`UnknownBroker`) or a replication factor
    /// above the broker count.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn generate_reassignment(
        &self,
        topics: &[&str],
        brokers: &[i32],
        options: GenerateReassignmentOptions,
    ) -> Result<GeneratedReassignment, GenerateError> {
        let meta = self
            .client
            .refresh_topics(topics)
            .await
            .map_err(GenerateError::Cluster)?;
        let mut placement = Vec::new();
        for id in brokers {
            let Some(info) = meta.broker(*id) else {
                return Err(GenerateError::Plan(PlanError::UnknownBroker(*id)));
            };
            placement.push(PlacementBroker {
                id: *id,
                rack: options.rack_aware.then(|| info.rack.clone()).flatten(),
            });
        }
        let mut current = BTreeMap::new();
        let mut proposed = BTreeMap::new();
        for name in topics {
            let Some(topic) = meta.topic(name) else {
                let code = meta
                    .topic_errors
                    .get(*name)
                    .copied()
                    .unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
                let ctx = ErrorContext::default().with_resource(*name);
                return Err(GenerateError::Cluster(Error::broker(code, ctx, None)));
            };
            let rf = topic
                .partitions
                .iter()
                .map(|p| p.replicas.len())
                .max()
                .unwrap_or(1) as i32;
            let placed =
                assign_replicas(&placement, topic.partitions.len() as i32, rf, options.start)
                    .map_err(GenerateError::Plan)?;
            for (p, replicas) in topic.partitions.iter().zip(placed) {
                let tp = TopicPartition::new(name.to_string(), p.partition);
                current.insert(tp.clone(), p.replicas.clone());
                proposed.insert(tp, replicas);
            }
        }
        Ok(GeneratedReassignment {
            current: ReassignmentPlan::from_assignment(&current),
            proposed: ReassignmentPlan::from_assignment(&proposed),
        })
    }
}
