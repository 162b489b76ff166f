//! Partition reassignment: move replicas or cancel a move (AlterPartitionReassignments),
//! and list the moves under way (ListPartitionReassignments), both at the controller.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::lowlevel::Target;
use kafka_client::{Error, ErrorContext, Result};
use kafka_protocol::messages::alter_partition_reassignments_request::{
    ReassignablePartition, ReassignableTopic,
};
use kafka_protocol::messages::list_partition_reassignments_request::ListPartitionReassignmentsTopics;
use kafka_protocol::messages::{
    AlterPartitionReassignmentsRequest, ApiKey, BrokerId, ListPartitionReassignmentsRequest,
    TopicName,
};

use crate::admin::{Admin, check_item, item_error, timeout_ms, wire_str};
use crate::codes;
use crate::driver::{Call, fixed, retry_controller_errors};
use crate::group_offsets::{partition_context, partition_result};
use crate::one_request::OneRequest;
use crate::types::TopicPartition;

/// What to do with a partition's replicas in [`Admin::alter_partition_reassignments`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reassignment {
    /// Move the partition to these brokers (the first is the preferred leader).
    MoveTo(Vec<i32>),
    /// Cancel the reassignment under way (the replica set goes back to what it was).
    Cancel,
}

/// Options for the reassignment calls.
#[derive(Clone, Debug)]
pub struct ReassignmentOptions {
    timeout: Duration,
}

impl Default for ReassignmentOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl ReassignmentOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// A reassignment under way, as [`Admin::list_partition_reassignments`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct OngoingReassignment {
    /// The current replica set (old and new replicas while the move runs).
    pub replicas: Vec<i32>,
    /// Replicas being added.
    pub adding: Vec<i32>,
    /// Replicas being removed.
    pub removing: Vec<i32>,
}

fn reassignable_topics(batch: &[(TopicPartition, Reassignment)]) -> Vec<ReassignableTopic> {
    let mut topics: BTreeMap<&str, Vec<ReassignablePartition>> = BTreeMap::new();
    for (tp, r) in batch {
        let replicas = match r {
            Reassignment::MoveTo(brokers) => Some(brokers.iter().map(|b| BrokerId(*b)).collect()),
            Reassignment::Cancel => None,
        };
        topics.entry(&tp.topic).or_default().push(
            ReassignablePartition::default()
                .with_partition_index(tp.partition)
                .with_replicas(replicas),
        );
    }
    topics
        .into_iter()
        .map(|(name, partitions)| {
            ReassignableTopic::default()
                .with_name(TopicName(wire_str(name)))
                .with_partitions(partitions)
        })
        .collect()
}

/// Checks a move before sending it: an empty replica list or a broker named twice is
/// INVALID_REPLICA_ASSIGNMENT without asking the controller.
fn invalid_move(tp: &TopicPartition, r: &Reassignment) -> Option<Error> {
    let Reassignment::MoveTo(brokers) = r else {
        return None;
    };
    let why = if brokers.is_empty() {
        "an empty replica list".to_string()
    } else if let Some(b) = brokers
        .iter()
        .enumerate()
        .find_map(|(i, b)| brokers[..i].contains(b).then_some(b))
    {
        format!("broker {b} named twice")
    } else {
        return None;
    };
    Some(Error::broker(
        codes::invalid_replica_assignment(),
        partition_context(ApiKey::AlterPartitionReassignments, tp),
        Some(format!("a reassignment cannot have {why}")),
    ))
}

impl Admin {
    /// Starts (or cancels) partition reassignments at the controller, with a result per
    /// partition: INVALID_REPLICA_ASSIGNMENT for a broker that does not exist or a
    /// replica named twice, UNKNOWN_TOPIC_OR_PARTITION, NO_REASSIGNMENT_IN_PROGRESS when
    /// cancelling a partition that is not moving, ... A started move runs in the
    /// background: watch it with [`Admin::list_partition_reassignments`].
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn alter_partition_reassignments(
        &self,
        reassignments: impl IntoIterator<Item = (TopicPartition, Reassignment)>,
        options: ReassignmentOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<()>>> {
        let mut invalid = BTreeMap::new();
        let mut items = BTreeMap::new();
        for (tp, r) in reassignments {
            match invalid_move(&tp, &r) {
                Some(e) => {
                    invalid.insert(tp, Err(e));
                }
                None => {
                    items.insert(tp, r);
                }
            }
        }
        let api = ApiKey::AlterPartitionReassignments;
        let call = Call::new(
            &self.client,
            "AlterPartitionReassignments",
            api,
            options.timeout,
        )
        .retry(retry_controller_errors);
        let timeout = options.timeout;
        let mut results = call
            .run(
                items,
                |keys| fixed(Target::Controller, keys),
                |conn, batch| async move {
                    let req = AlterPartitionReassignmentsRequest::default()
                        .with_timeout_ms(timeout_ms(timeout))
                        .with_topics(reassignable_topics(&batch));
                    let resp = conn.request(&req).await?;
                    let ctx = || ErrorContext::default().with_api(api);
                    check_item(resp.error_code, ctx, resp.error_message.as_ref())?;
                    let mut out = Vec::new();
                    for t in resp.responses {
                        for p in t.partitions {
                            out.push(partition_result(
                                api,
                                &t.name.0,
                                p.partition_index,
                                p.error_code,
                                p.error_message.as_ref(),
                            ));
                        }
                    }
                    Ok(out)
                },
            )
            .await;
        results.append(&mut invalid);
        Ok(results)
    }

    /// The reassignments under way: of the given partitions, or of every partition when
    /// `partitions` is `None`. A partition not moving is not in the map.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn list_partition_reassignments(
        &self,
        partitions: Option<Vec<TopicPartition>>,
        options: ReassignmentOptions,
    ) -> Result<BTreeMap<TopicPartition, OngoingReassignment>> {
        let api = ApiKey::ListPartitionReassignments;
        let topics = partitions.map(|ps| {
            let mut by_topic: BTreeMap<String, Vec<i32>> = BTreeMap::new();
            for tp in ps {
                by_topic.entry(tp.topic).or_default().push(tp.partition);
            }
            by_topic
                .into_iter()
                .map(|(name, partition_indexes)| {
                    ListPartitionReassignmentsTopics::default()
                        .with_name(TopicName(wire_str(&name)))
                        .with_partition_indexes(partition_indexes)
                })
                .collect::<Vec<_>>()
        });
        let req = ListPartitionReassignmentsRequest::default()
            .with_timeout_ms(timeout_ms(options.timeout))
            .with_topics(topics);
        let one = OneRequest {
            client: &self.client,
            operation: "ListPartitionReassignments",
            api,
            timeout: options.timeout,
            target: Target::Controller,
            retry: retry_controller_errors,
        };
        one.run(|conn| {
            let req = &req;
            async move {
                let resp = conn.request(req).await?;
                let ctx = || ErrorContext::default().with_api(api);
                if let Some(e) = item_error(resp.error_code, ctx, resp.error_message.as_ref()) {
                    return Err(e);
                }
                let mut out = BTreeMap::new();
                for t in resp.topics {
                    let topic = t.name.0.to_string();
                    for p in t.partitions {
                        let ids = |v: Vec<BrokerId>| v.into_iter().map(|b| b.0).collect();
                        out.insert(
                            TopicPartition::new(topic.clone(), p.partition_index),
                            OngoingReassignment {
                                replicas: ids(p.replicas),
                                adding: ids(p.adding_replicas),
                                removing: ids(p.removing_replicas),
                            },
                        );
                    }
                }
                Ok(out)
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_or_repeated_replicas_are_rejected_before_sending() {
        let tp = TopicPartition::new("t", 0);
        let code = |r| invalid_move(&tp, &r).and_then(|e| e.code());
        assert_eq!(
            code(Reassignment::MoveTo(vec![])),
            Some(codes::invalid_replica_assignment())
        );
        assert_eq!(
            code(Reassignment::MoveTo(vec![1, 2, 1])),
            Some(codes::invalid_replica_assignment())
        );
        assert_eq!(code(Reassignment::MoveTo(vec![1, 2])), None);
        assert_eq!(code(Reassignment::Cancel), None);
    }

    #[test]
    fn moves_are_grouped_by_topic() {
        let batch = vec![
            (
                TopicPartition::new("a", 0),
                Reassignment::MoveTo(vec![2, 3]),
            ),
            (TopicPartition::new("a", 1), Reassignment::Cancel),
            (TopicPartition::new("b", 0), Reassignment::MoveTo(vec![1])),
        ];
        let topics = reassignable_topics(&batch);
        assert_eq!(topics.len(), 2);
        assert_eq!(topics[0].partitions.len(), 2);
        assert_eq!(topics[0].partitions[1].replicas, None);
        assert_eq!(topics[1].partitions[0].replicas, Some(vec![BrokerId(1)]));
    }
}
