//! Create partitions: grow a topic's partition count (CreatePartitions, to the controller).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::Result;
use kafka_client::lowlevel::Target;
use kafka_protocol::messages::create_partitions_request::{
    CreatePartitionsAssignment, CreatePartitionsTopic,
};
use kafka_protocol::messages::{ApiKey, BrokerId, CreatePartitionsRequest, TopicName};

use crate::admin::{Admin, check_item, context, timeout_ms, wire_str};
use crate::driver::{Call, fixed, retry_controller_errors};

/// The new partition count for a topic, with optional replica assignments for the
/// partitions being added.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewPartitions {
    total_count: i32,
    assignments: Vec<Vec<i32>>,
}

impl NewPartitions {
    /// Grow the topic to `total_count` partitions in all (not "add this many"); the
    /// controller places the new replicas.
    pub fn increase_to(total_count: i32) -> Self {
        Self {
            total_count,
            assignments: Vec::new(),
        }
    }

    /// The replicas (broker ids, preferred leader first) of the next new partition. Call
    /// once per new partition, in order; when used, every new partition needs one.
    pub fn assignment(mut self, brokers: impl IntoIterator<Item = i32>) -> Self {
        self.assignments.push(brokers.into_iter().collect());
        self
    }

    /// The total partition count asked for.
    pub fn total_count(&self) -> i32 {
        self.total_count
    }

    fn to_wire(&self, topic: &str) -> CreatePartitionsTopic {
        let assignments = (!self.assignments.is_empty()).then(|| {
            self.assignments
                .iter()
                .map(|brokers| {
                    CreatePartitionsAssignment::default()
                        .with_broker_ids(brokers.iter().map(|b| BrokerId(*b)).collect())
                })
                .collect()
        });
        CreatePartitionsTopic::default()
            .with_name(TopicName(wire_str(topic)))
            .with_count(self.total_count)
            .with_assignments(assignments)
    }
}

/// Options for [`Admin::create_partitions`].
#[derive(Clone, Debug)]
pub struct CreatePartitionsOptions {
    timeout: Duration,
    validate_only: bool,
}

impl Default for CreatePartitionsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            validate_only: false,
        }
    }
}

impl CreatePartitionsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Only validate the request; change nothing.
    pub fn validate_only(mut self, v: bool) -> Self {
        self.validate_only = v;
        self
    }
}

impl Admin {
    /// Grows topics' partition counts, with a result per topic: INVALID_PARTITIONS when
    /// the count is not above the current one, UNKNOWN_TOPIC_OR_PARTITION for a missing
    /// topic, INVALID_REPLICA_ASSIGNMENT for a bad assignment, POLICY_VIOLATION, ...
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn create_partitions<S: Into<String>>(
        &self,
        topics: impl IntoIterator<Item = (S, NewPartitions)>,
        options: CreatePartitionsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let items: BTreeMap<String, NewPartitions> =
            topics.into_iter().map(|(t, n)| (t.into(), n)).collect();
        let names: Vec<String> = items.keys().cloned().collect();
        let call = Call::new(
            &self.client,
            "CreatePartitions",
            ApiKey::CreatePartitions,
            options.timeout,
        )
        .retry(retry_controller_errors);
        let results = call
            .run(
                items,
                |keys| fixed(Target::Controller, keys),
                |conn, batch| {
                    let req = CreatePartitionsRequest::default()
                        .with_topics(batch.iter().map(|(t, n)| n.to_wire(t)).collect())
                        .with_timeout_ms(timeout_ms(options.timeout))
                        .with_validate_only(options.validate_only);
                    async move {
                        let resp = conn.request(&req).await?;
                        Ok(resp
                            .results
                            .into_iter()
                            .map(|r| {
                                let name = r.name.0.to_string();
                                let ctx = || context(ApiKey::CreatePartitions, &name);
                                let result =
                                    check_item(r.error_code, ctx, r.error_message.as_ref());
                                (name, result)
                            })
                            .collect())
                    }
                },
            )
            .await;
        for name in &names {
            self.client.invalidate_topic(name);
        }
        Ok(results)
    }
}
