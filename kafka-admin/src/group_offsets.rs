//! A consumer group's committed offsets: list (OffsetFetch), alter (OffsetCommit as an
//! admin: generation -1, no member) and delete (OffsetDelete), at the group's coordinator.
//!
//! Group-level errors (GROUP_ID_NOT_FOUND, GROUP_AUTHORIZATION_FAILED, ...) fail the call;
//! partition-level ones are that partition's result.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use kafka_client::lowlevel::Connection;
use kafka_client::lowlevel::offset_fetch_on;
use kafka_client::{Error, ErrorContext, Result};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_delete_request::{
    OffsetDeleteRequestPartition, OffsetDeleteRequestTopic,
};
use kafka_protocol::messages::{
    ApiKey, GroupId, OffsetCommitRequest, OffsetDeleteRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use crate::admin::{Admin, check_item, context, wire_str};
use crate::driver::{Call, is_coordinator_error};
use crate::types::{OffsetAndMetadata, TopicPartition};

/// Per-partition results of a group offsets call.
pub type PartitionResults<T> = BTreeMap<TopicPartition, Result<T>>;

/// Options for [`Admin::list_consumer_group_offsets`].
#[derive(Clone, Debug)]
pub struct ListGroupOffsetsOptions {
    timeout: Duration,
    partitions: Option<Vec<TopicPartition>>,
    require_stable: bool,
}

impl Default for ListGroupOffsetsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            partitions: None,
            require_stable: false,
        }
    }
}

impl ListGroupOffsetsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Only these partitions (each gets a result, `None` when nothing is committed).
    /// Default: every partition with a committed offset.
    pub fn partitions(mut self, partitions: impl IntoIterator<Item = TopicPartition>) -> Self {
        self.partitions = Some(partitions.into_iter().collect());
        self
    }

    /// Fail partitions with pending transactional commits (UNSTABLE_OFFSET_COMMIT)
    /// instead of returning their last stable offset (OffsetFetch v7+). Default false.
    pub fn require_stable(mut self, v: bool) -> Self {
        self.require_stable = v;
        self
    }
}

/// Options for [`Admin::alter_consumer_group_offsets`] and
/// [`Admin::delete_consumer_group_offsets`].
#[derive(Clone, Debug)]
pub struct GroupOffsetsOptions {
    timeout: Duration,
}

impl Default for GroupOffsetsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl GroupOffsetsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    pub(crate) fn timeout_value(&self) -> Duration {
        self.timeout
    }
}

/// Partitions grouped by topic, in order.
pub(crate) fn by_topic<'a>(
    partitions: impl IntoIterator<Item = &'a TopicPartition>,
) -> BTreeMap<&'a str, Vec<i32>> {
    let mut topics: BTreeMap<&str, Vec<i32>> = BTreeMap::new();
    for tp in partitions {
        topics.entry(&tp.topic).or_default().push(tp.partition);
    }
    topics
}

pub(crate) fn partition_context(api: ApiKey, tp: &TopicPartition) -> ErrorContext {
    ErrorContext::default()
        .with_api(api)
        .with_resource(&tp.topic)
        .with_partition(tp.partition)
}

/// One partition of a response: its key, and `Ok` or the typed error its code names
/// (with the broker's message when it sent one).
pub(crate) fn partition_result(
    api: ApiKey,
    topic: &str,
    partition: i32,
    code: i16,
    message: Option<&StrBytes>,
) -> (TopicPartition, Result<()>) {
    let tp = TopicPartition::new(topic.to_string(), partition);
    let r = check_item(code, || partition_context(api, &tp), message);
    (tp, r)
}

/// A partition- (or topic-) level error that is really the group's: ask the
/// coordinator again.
pub(crate) fn lift_coordinator_error<K, T>(results: &BTreeMap<K, Result<T>>) -> Result<()> {
    for r in results.values() {
        if let Err(e) = r {
            if e.code().is_some_and(is_coordinator_error) {
                return Err(e.clone());
            }
        }
    }
    Ok(())
}

impl Admin {
    /// Runs `f` at `group`'s coordinator, finding it (again) and retrying coordinator
    /// errors until the timeout.
    pub(crate) async fn at_coordinator<R, F, Fut>(
        &self,
        group: &str,
        operation: &'static str,
        api: ApiKey,
        timeout: Duration,
        f: F,
    ) -> Result<R>
    where
        F: Fn(Connection, String) -> Fut,
        Fut: Future<Output = Result<R>>,
    {
        let client = &self.client;
        let call = Call::at_group_coordinators(client, operation, api, timeout);
        let items = BTreeMap::from([(group.to_string(), ())]);
        let f = &f;
        let mut results = call
            .run_for_groups(items, |conn, batch| async move {
                let mut out = Vec::new();
                for (group, ()) in batch {
                    let r = f(conn.clone(), group.clone()).await;
                    out.push((group, r));
                }
                Ok(out)
            })
            .await;
        results.remove(group).unwrap_or_else(|| {
            Err(Error::Protocol {
                context: context(api, group),
                message: "no result for the group".into(),
            })
        })
    }

    /// Lists a group's committed offsets: per partition, `Some` offset (with metadata and
    /// leader epoch) or `None` when nothing is committed. A group that does not exist has
    /// no offsets (an empty map).
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn list_consumer_group_offsets(
        &self,
        group: &str,
        options: ListGroupOffsetsOptions,
    ) -> Result<PartitionResults<Option<OffsetAndMetadata>>> {
        let options = &options;
        self.at_coordinator(
            group,
            "OffsetFetch",
            ApiKey::OffsetFetch,
            options.timeout,
            |conn, g| async move {
                let r = offset_fetch(&conn, &g, options).await?;
                lift_coordinator_error(&r)?;
                Ok(r)
            },
        )
        .await
    }

    /// Sets a group's committed offsets, as an administrator (generation -1, no member id):
    /// the group must have no active members, else its partitions fail (typically with
    /// UNKNOWN_MEMBER_ID). Creates the group's offsets when it does not exist.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn alter_consumer_group_offsets(
        &self,
        group: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
        options: GroupOffsetsOptions,
    ) -> Result<PartitionResults<()>> {
        let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> = offsets.into_iter().collect();
        let offsets = &offsets;
        self.at_coordinator(
            group,
            "OffsetCommit",
            ApiKey::OffsetCommit,
            options.timeout,
            |conn, g| async move {
                let r = offset_commit(&conn, &g, offsets).await?;
                lift_coordinator_error(&r)?;
                Ok(r)
            },
        )
        .await
    }

    /// Deletes a group's committed offsets for partitions. GROUP_ID_NOT_FOUND fails the
    /// call; a partition of a topic the group's members still subscribe to fails with
    /// GROUP_SUBSCRIBED_TO_TOPIC.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it. Read the state
    /// back to know.
    pub async fn delete_consumer_group_offsets(
        &self,
        group: &str,
        partitions: impl IntoIterator<Item = TopicPartition>,
        options: GroupOffsetsOptions,
    ) -> Result<PartitionResults<()>> {
        let partitions: Vec<TopicPartition> = partitions.into_iter().collect();
        let partitions = &partitions;
        self.at_coordinator(
            group,
            "OffsetDelete",
            ApiKey::OffsetDelete,
            options.timeout,
            |conn, g| async move { offset_delete(&conn, &g, partitions).await },
        )
        .await
    }
}

async fn offset_fetch(
    conn: &Connection,
    group: &str,
    options: &ListGroupOffsetsOptions,
) -> Result<PartitionResults<Option<OffsetAndMetadata>>> {
    let rows = offset_fetch_on(
        conn,
        group,
        options.partitions.as_deref(),
        options.require_stable,
        None,
        options.timeout,
    )
    .await?;
    Ok(rows.into_iter().collect())
}

async fn offset_commit(
    conn: &Connection,
    group: &str,
    offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
) -> Result<PartitionResults<()>> {
    let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
    for (tp, o) in offsets {
        topics.entry(&tp.topic).or_default().push(
            OffsetCommitRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_committed_offset(o.offset)
                .with_committed_leader_epoch(o.leader_epoch.unwrap_or(-1))
                .with_committed_metadata(Some(wire_str(o.metadata.as_deref().unwrap_or("")))),
        );
    }
    let req = OffsetCommitRequest::default()
        .with_group_id(GroupId(wire_str(group)))
        .with_generation_id_or_member_epoch(-1)
        .with_member_id(wire_str(""))
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    OffsetCommitRequestTopic::default()
                        .with_name(TopicName(wire_str(t)))
                        .with_partitions(ps)
                })
                .collect(),
        );
    let resp = conn.request(&req).await?;
    let mut out = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            let tp = TopicPartition::new(t.name.0.to_string(), p.partition_index);
            let r = check_item(
                p.error_code,
                || partition_context(ApiKey::OffsetCommit, &tp),
                None,
            );
            out.insert(tp, r);
        }
    }
    fill_unmentioned(&mut out, offsets.keys(), ApiKey::OffsetCommit);
    Ok(out)
}

async fn offset_delete(
    conn: &Connection,
    group: &str,
    partitions: &[TopicPartition],
) -> Result<PartitionResults<()>> {
    let api = ApiKey::OffsetDelete;
    let req = OffsetDeleteRequest::default()
        .with_group_id(GroupId(wire_str(group)))
        .with_topics(
            by_topic(partitions)
                .into_iter()
                .map(|(t, ps)| {
                    OffsetDeleteRequestTopic::default()
                        .with_name(TopicName(wire_str(t)))
                        .with_partitions(
                            ps.into_iter()
                                .map(|p| {
                                    OffsetDeleteRequestPartition::default().with_partition_index(p)
                                })
                                .collect(),
                        )
                })
                .collect(),
        );
    let resp = conn.request(&req).await?;
    check_item(resp.error_code, || context(api, group), None)?;
    let mut out = BTreeMap::new();
    for t in resp.topics {
        for p in t.partitions {
            let (tp, r) = partition_result(api, &t.name.0, p.partition_index, p.error_code, None);
            out.insert(tp, r);
        }
    }
    fill_unmentioned(&mut out, partitions, api);
    lift_coordinator_error(&out)?;
    Ok(out)
}

/// Gives every asked-for partition the response did not mention a protocol error.
pub(crate) fn fill_unmentioned<'a>(
    out: &mut PartitionResults<()>,
    asked: impl IntoIterator<Item = &'a TopicPartition>,
    api: ApiKey,
) {
    for tp in asked {
        out.entry(tp.clone()).or_insert_with(|| {
            Err(Error::Protocol {
                context: partition_context(api, tp),
                message: "the response did not mention this partition".into(),
            })
        });
    }
}
