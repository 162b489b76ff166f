//! Topics: create, delete, list, describe.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_client::lowlevel::Target;
use kafka_client::{Error, ErrorCode, ErrorContext, PartitionInfo, Result, Uuid};
use kafka_protocol::messages::create_topics_request::{
    CreatableReplicaAssignment, CreatableTopic, CreatableTopicConfig,
};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::{
    ApiKey, BrokerId, CreateTopicsRequest, DeleteTopicsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use kafka_client::lowlevel::RetryClock;

use crate::admin::Admin;

/// A topic to create. Unset partitions and replication factor take the broker defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewTopic {
    name: String,
    partitions: Option<i32>,
    replication_factor: Option<i16>,
    assignments: BTreeMap<i32, Vec<i32>>,
    configs: BTreeMap<String, String>,
}

impl NewTopic {
    /// A topic named `name`, with the broker's default partitions and replication.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            partitions: None,
            replication_factor: None,
            assignments: BTreeMap::new(),
            configs: BTreeMap::new(),
        }
    }

    /// Number of partitions.
    pub fn partitions(mut self, n: i32) -> Self {
        self.partitions = Some(n);
        self
    }

    /// Replication factor.
    pub fn replication_factor(mut self, rf: i16) -> Self {
        self.replication_factor = Some(rf);
        self
    }

    /// Explicit replica assignment for one partition (replaces partitions and replication
    /// factor: Kafka takes one or the other).
    pub fn assignment(mut self, partition: i32, brokers: impl IntoIterator<Item = i32>) -> Self {
        self.assignments
            .insert(partition, brokers.into_iter().collect());
        self
    }

    /// A topic config, e.g. `("cleanup.policy", "compact")`.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.configs.insert(key.into(), value.into());
        self
    }

    /// The topic name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn to_wire(&self) -> CreatableTopic {
        let explicit = !self.assignments.is_empty();
        CreatableTopic::default()
            .with_name(TopicName(StrBytes::from_string(self.name.clone())))
            .with_num_partitions(if explicit {
                -1
            } else {
                self.partitions.unwrap_or(-1)
            })
            .with_replication_factor(if explicit {
                -1
            } else {
                self.replication_factor.unwrap_or(-1)
            })
            .with_assignments(
                self.assignments
                    .iter()
                    .map(|(p, b)| {
                        CreatableReplicaAssignment::default()
                            .with_partition_index(*p)
                            .with_broker_ids(b.iter().map(|id| BrokerId(*id)).collect())
                    })
                    .collect(),
            )
            .with_configs(
                self.configs
                    .iter()
                    .map(|(k, v)| {
                        CreatableTopicConfig::default()
                            .with_name(StrBytes::from_string(k.clone()))
                            .with_value(Some(StrBytes::from_string(v.clone())))
                    })
                    .collect(),
            )
    }
}

/// Options for [`Admin::create_topics`].
#[derive(Clone, Debug)]
pub struct CreateTopicsOptions {
    timeout: Duration,
    validate_only: bool,
}

impl Default for CreateTopicsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            validate_only: false,
        }
    }
}

impl CreateTopicsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Only validate the request; create nothing.
    pub fn validate_only(mut self, v: bool) -> Self {
        self.validate_only = v;
        self
    }
}

/// What the controller reports for a created (or validated) topic.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct CreatedTopic {
    /// Topic id (nil for validate-only).
    pub id: Uuid,
    /// Number of partitions.
    pub partitions: i32,
    /// Replication factor.
    pub replication_factor: i16,
}

/// Options for [`Admin::delete_topics`].
#[derive(Clone, Debug)]
pub struct DeleteTopicsOptions {
    timeout: Duration,
}

impl Default for DeleteTopicsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl DeleteTopicsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// Options for [`Admin::list_topics`].
#[derive(Clone, Debug, Default)]
pub struct ListTopicsOptions {
    include_internal: bool,
}

impl ListTopicsOptions {
    /// Also list internal topics (`__consumer_offsets`, ...). Default false.
    pub fn include_internal(mut self, v: bool) -> Self {
        self.include_internal = v;
        self
    }
}

/// A topic as listed by [`Admin::list_topics`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicListing {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub id: Uuid,
    /// Number of partitions.
    pub partitions: usize,
    /// Whether the topic is internal.
    pub is_internal: bool,
}

fn wire_name(n: &str) -> TopicName {
    TopicName(StrBytes::from_string(n.to_string()))
}

fn topic_error(code: i16, api: ApiKey, topic: &str, message: Option<&StrBytes>) -> Option<Error> {
    ErrorCode::from_code(code).map(|code| {
        Error::broker(
            code,
            ErrorContext::default().with_api(api).with_resource(topic),
            message.map(|m| m.to_string()),
        )
    })
}

/// Whether a per-topic error means "ask again (at the right controller)".
fn retry_item(e: &Error) -> bool {
    e.code() == Some(ErrorCode::NOT_CONTROLLER) || (e.is_retriable() && !e.is_stale_metadata())
}

impl Admin {
    /// Creates topics. The outer `Result` fails only when the request as a whole fails
    /// (for example, no broker reachable before the timeout); each topic gets its own
    /// result, e.g. `TOPIC_ALREADY_EXISTS` or `INVALID_REPLICATION_FACTOR`.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn create_topics(
        &self,
        topics: impl IntoIterator<Item = NewTopic>,
        options: CreateTopicsOptions,
    ) -> Result<BTreeMap<String, Result<CreatedTopic>>> {
        let mut pending: BTreeMap<String, NewTopic> =
            topics.into_iter().map(|t| (t.name.clone(), t)).collect();
        let mut results = BTreeMap::new();
        let mut clock = RetryClock::new(&self.client, "CreateTopics", options.timeout);
        while !pending.is_empty() {
            let timeout_ms = clock.remaining().as_millis().min(i32::MAX as u128) as i32;
            let req = CreateTopicsRequest::default()
                .with_topics(pending.values().map(NewTopic::to_wire).collect())
                .with_timeout_ms(timeout_ms)
                .with_validate_only(options.validate_only);
            let resp = match clock
                .bound(self.client.send(Target::Controller, &req))
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    clock.retry_after(e).await?;
                    continue;
                }
            };
            let mut retry: Option<Error> = None;
            for t in resp.topics {
                let name = t.name.0.to_string();
                if pending.remove(&name).is_none() {
                    continue; // a topic we did not ask for: ignore it
                }
                let result = match topic_error(
                    t.error_code,
                    ApiKey::CreateTopics,
                    &name,
                    t.error_message.as_ref(),
                ) {
                    Some(e) if retry_item(&e) => {
                        pending.insert(name.clone(), NewTopic::new(&name));
                        retry = Some(e);
                        continue;
                    }
                    Some(e) => Err(e),
                    None => Ok(CreatedTopic {
                        id: t.topic_id,
                        partitions: t.num_partitions,
                        replication_factor: t.replication_factor,
                    }),
                };
                results.insert(name, result);
            }
            if let Some(e) = retry {
                clock.retry_after(e).await?;
            } else {
                // Topics the broker did not mention: report rather than drop them.
                for name in std::mem::take(&mut pending).into_keys() {
                    let e = Error::Protocol {
                        context: ErrorContext::default()
                            .with_api(ApiKey::CreateTopics)
                            .with_resource(&name),
                        message: "the response did not mention this topic".into(),
                    };
                    results.insert(name, Err(e));
                }
            }
        }
        Ok(results)
    }

    /// Deletes topics by name, with a result per topic (UNKNOWN_TOPIC_OR_PARTITION for a
    /// topic that does not exist).
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn delete_topics<S: AsRef<str>>(
        &self,
        names: impl IntoIterator<Item = S>,
        options: DeleteTopicsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let mut pending: BTreeSet<String> =
            names.into_iter().map(|n| n.as_ref().to_string()).collect();
        let mut results = BTreeMap::new();
        let mut clock = RetryClock::new(&self.client, "DeleteTopics", options.timeout);
        while !pending.is_empty() {
            let timeout_ms = clock.remaining().as_millis().min(i32::MAX as u128) as i32;
            // v6 takes `topics`, earlier versions `topic_names`: set both, the encoder keeps
            // the one valid for the negotiated version.
            let req = DeleteTopicsRequest::default()
                .with_topics(
                    pending
                        .iter()
                        .map(|n| DeleteTopicState::default().with_name(Some(wire_name(n))))
                        .collect(),
                )
                .with_topic_names(pending.iter().map(|n| wire_name(n)).collect())
                .with_timeout_ms(timeout_ms);
            let resp = match clock
                .bound(self.client.send(Target::Controller, &req))
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    clock.retry_after(e).await?;
                    continue;
                }
            };
            let mut retry: Option<Error> = None;
            for t in resp.responses {
                let Some(name) = t.name.map(|n| n.0.to_string()) else {
                    continue;
                };
                if !pending.remove(&name) {
                    continue;
                }
                match topic_error(
                    t.error_code,
                    ApiKey::DeleteTopics,
                    &name,
                    t.error_message.as_ref(),
                ) {
                    Some(e) if retry_item(&e) => {
                        pending.insert(name);
                        retry = Some(e);
                    }
                    Some(e) => {
                        results.insert(name, Err(e));
                    }
                    None => {
                        results.insert(name, Ok(()));
                    }
                }
            }
            if let Some(e) = retry {
                clock.retry_after(e).await?;
            } else {
                for name in std::mem::take(&mut pending) {
                    let e = Error::Protocol {
                        context: ErrorContext::default()
                            .with_api(ApiKey::DeleteTopics)
                            .with_resource(&name),
                        message: "the response did not mention this topic".into(),
                    };
                    results.insert(name, Err(e));
                }
            }
        }
        for name in results.keys() {
            self.client.invalidate_topic(name);
        }
        Ok(results)
    }

    /// Lists the cluster's topics (from a fresh metadata request). Through
    /// `bootstrap.controllers` this is an [`kafka_client::Error::InvalidState`].
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn list_topics(
        &self,
        options: ListTopicsOptions,
    ) -> Result<BTreeMap<String, TopicListing>> {
        if self.client.config().via_controllers() {
            // Their "metadata" lists the controllers only: no topics, not an empty list.
            return Err(kafka_client::Error::InvalidState(
                "listing topics needs bootstrap.servers: the controllers \
                 (bootstrap.controllers, KIP-919) hold no topic metadata"
                    .into(),
            ));
        }
        let m = self.client.metadata().await?;
        Ok(m.topics
            .values()
            .filter(|t| options.include_internal || !t.is_internal)
            .map(|t| {
                (
                    t.name.clone(),
                    TopicListing {
                        name: t.name.clone(),
                        id: t.id,
                        partitions: t.partitions.len(),
                        is_internal: t.is_internal,
                    },
                )
            })
            .collect())
    }
}

/// Options for [`Admin::describe_topics`].
#[derive(Clone, Debug)]
pub struct DescribeTopicsOptions {
    timeout: Duration,
}

impl Default for DescribeTopicsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl DescribeTopicsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// A topic as described by [`Admin::describe_topics`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TopicDescription {
    /// Topic name.
    pub name: String,
    /// Topic id.
    pub id: Uuid,
    /// Whether the topic is internal (`__consumer_offsets`, ...).
    pub is_internal: bool,
    /// Partitions ordered by index: leader, leader epoch, replicas, in-sync replicas,
    /// offline replicas.
    pub partitions: Vec<PartitionInfo>,
}

impl Admin {
    /// Describes topics (from a fresh Metadata request): partitions with their leader,
    /// replicas and in-sync replicas. A topic the cluster does not know gets
    /// UNKNOWN_TOPIC_OR_PARTITION; a topic whose leaders are still being elected is
    /// asked for again until the timeout.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn describe_topics<S: AsRef<str>>(
        &self,
        names: impl IntoIterator<Item = S>,
        options: DescribeTopicsOptions,
    ) -> Result<BTreeMap<String, Result<TopicDescription>>> {
        let mut pending: BTreeSet<String> =
            names.into_iter().map(|n| n.as_ref().to_string()).collect();
        let mut results = BTreeMap::new();
        let mut clock = RetryClock::new(&self.client, "DescribeTopics", options.timeout);
        while !pending.is_empty() {
            let names: Vec<&str> = pending.iter().map(String::as_str).collect();
            let meta = match clock.bound(self.client.refresh_topics(&names)).await {
                Ok(m) => m,
                Err(e) => {
                    clock.retry_after(e).await?;
                    continue;
                }
            };
            let mut retry: Option<Error> = None;
            for name in std::mem::take(&mut pending) {
                if let Some(t) = meta.topic(&name) {
                    let description = TopicDescription {
                        name: t.name.clone(),
                        id: t.id,
                        is_internal: t.is_internal,
                        partitions: t.partitions.clone(),
                    };
                    results.insert(name, Ok(description));
                    continue;
                }
                let code = meta
                    .topic_errors
                    .get(&name)
                    .copied()
                    .unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
                let e = Error::broker(
                    code,
                    ErrorContext::default()
                        .with_api(ApiKey::Metadata)
                        .with_resource(&name),
                    None,
                );
                if code.is_retriable() && code != ErrorCode::UNKNOWN_TOPIC_OR_PARTITION {
                    pending.insert(name);
                    retry = Some(e);
                } else {
                    results.insert(name, Err(e));
                }
            }
            if let Some(e) = retry {
                if let Err(e) = clock.retry_after(e).await {
                    for name in std::mem::take(&mut pending) {
                        results.insert(name, Err(e.clone()));
                    }
                }
            }
        }
        Ok(results)
    }
}
