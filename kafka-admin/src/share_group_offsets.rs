//! A share group's start offsets (KIP-932): list (DescribeShareGroupOffsets, v1 with
//! lag), alter (AlterShareGroupOffsets: the group must have no members) and delete
//! (DeleteShareGroupOffsets, by topic), at the group's coordinator, with Kafka 4.4's
//! message versions from kafka-client's generated messages. The start offset of a
//! share-partition is where the group's in-flight window begins: records before it are
//! done with (acknowledged or archived).
//!
//! Group-level errors (GROUP_ID_NOT_FOUND, GROUP_NOT_EMPTY, ...) fail the call;
//! partition- and topic-level ones are that item's result.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_client::lowlevel::Connection;
use kafka_client::lowlevel::protocol_gen::alter_share_group_offsets_request::{
    AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsRequestPartition,
    AlterShareGroupOffsetsRequestTopic,
};
use kafka_client::lowlevel::protocol_gen::delete_share_group_offsets_request::{
    DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsRequestTopic,
};
use kafka_client::lowlevel::protocol_gen::describe_share_group_offsets_request::{
    DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsRequestGroup,
    DescribeShareGroupOffsetsRequestTopic,
};
use kafka_client::{Error, ErrorContext, Result};
use kafka_protocol::messages::ApiKey;

use crate::admin::{Admin, check_item, context, wire_str};
use crate::group_offsets::{
    GroupOffsetsOptions, PartitionResults, by_topic, fill_unmentioned, lift_coordinator_error,
    partition_result,
};
use crate::types::TopicPartition;

/// One share-partition's start offset as the group's coordinator has it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharePartitionOffset {
    /// The start offset: records before it are finished with. `None` while the
    /// share-partition is not initialized (no member has read from it yet).
    pub start_offset: Option<i64>,
    /// The leader epoch of the start offset, when known.
    pub leader_epoch: Option<i32>,
    /// Records from the start offset to the partition's end not yet finished with
    /// (DescribeShareGroupOffsets v1, KIP-1226), when the broker computed it.
    pub lag: Option<i64>,
}

/// Options for [`Admin::list_share_group_offsets`].
#[derive(Clone, Debug)]
pub struct ListShareGroupOffsetsOptions {
    timeout: Duration,
    partitions: Option<Vec<TopicPartition>>,
}

impl Default for ListShareGroupOffsetsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            partitions: None,
        }
    }
}

impl ListShareGroupOffsetsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Only these partitions. Default: every partition the group has offsets for.
    pub fn partitions(mut self, partitions: impl IntoIterator<Item = TopicPartition>) -> Self {
        self.partitions = Some(partitions.into_iter().collect());
        self
    }
}

fn unmentioned(api: ApiKey, resource: ErrorContext) -> Error {
    Error::Protocol {
        context: resource.with_api(api),
        message: "the response did not mention it".into(),
    }
}

impl Admin {
    /// Lists a share group's start offsets, per partition (Java's
    /// `Admin.listShareGroupOffsets`). A partition the group has no offsets for is
    /// absent, or `start_offset: None` when asked for by name.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn list_share_group_offsets(
        &self,
        group: &str,
        options: ListShareGroupOffsetsOptions,
    ) -> Result<PartitionResults<SharePartitionOffset>> {
        let options = &options;
        self.at_coordinator(
            group,
            "DescribeShareGroupOffsets",
            ApiKey::DescribeShareGroupOffsets,
            options.timeout,
            |conn, g| async move {
                let r = describe_offsets(&conn, &g, options.partitions.as_deref()).await?;
                lift_coordinator_error(&r)?;
                Ok(r)
            },
        )
        .await
    }

    /// Sets a share group's start offsets (Java's `Admin.alterShareGroupOffsets`, what
    /// `kafka-share-groups.sh --reset-offsets` does). The group must have no members:
    /// GROUP_NOT_EMPTY otherwise. Records before the new start offset are not delivered;
    /// records from it on are delivered again, with fresh delivery counts.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the group coordinator may still apply it. Read the state back to know.
    pub async fn alter_share_group_offsets(
        &self,
        group: &str,
        offsets: impl IntoIterator<Item = (TopicPartition, i64)>,
        options: GroupOffsetsOptions,
    ) -> Result<PartitionResults<()>> {
        let offsets: BTreeMap<TopicPartition, i64> = offsets.into_iter().collect();
        let offsets = &offsets;
        self.at_coordinator(
            group,
            "AlterShareGroupOffsets",
            ApiKey::AlterShareGroupOffsets,
            options.timeout_value(),
            |conn, g| async move {
                let r = alter_offsets(&conn, &g, offsets).await?;
                lift_coordinator_error(&r)?;
                Ok(r)
            },
        )
        .await
    }

    /// Deletes a share group's offsets for whole topics (Java's
    /// `Admin.deleteShareGroupOffsets`): the group forgets its progress on them, so a
    /// member subscribing again starts from `share.auto.offset.reset`. The group must
    /// have no members (GROUP_NOT_EMPTY); a result per topic.
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the group coordinator may still apply it. Read the state back to know.
    pub async fn delete_share_group_offsets<S: AsRef<str>>(
        &self,
        group: &str,
        topics: impl IntoIterator<Item = S>,
        options: GroupOffsetsOptions,
    ) -> Result<BTreeMap<String, Result<()>>> {
        let topics: BTreeSet<String> = topics.into_iter().map(|t| t.as_ref().to_string()).collect();
        let topics = &topics;
        self.at_coordinator(
            group,
            "DeleteShareGroupOffsets",
            ApiKey::DeleteShareGroupOffsets,
            options.timeout_value(),
            |conn, g| async move {
                let r = delete_offsets(&conn, &g, topics).await?;
                lift_coordinator_error(&r)?;
                Ok(r)
            },
        )
        .await
    }
}

async fn describe_offsets(
    conn: &Connection,
    group: &str,
    partitions: Option<&[TopicPartition]>,
) -> Result<PartitionResults<SharePartitionOffset>> {
    let api = ApiKey::DescribeShareGroupOffsets;
    let topics = partitions.map(|ps| {
        by_topic(ps)
            .into_iter()
            .map(|(t, ps)| {
                DescribeShareGroupOffsetsRequestTopic::default()
                    .with_topic_name(wire_str(t))
                    .with_partitions(ps)
            })
            .collect()
    });
    let req = DescribeShareGroupOffsetsRequest::default().with_groups(vec![
        DescribeShareGroupOffsetsRequestGroup::default()
            .with_group_id(wire_str(group))
            .with_topics(topics),
    ]);
    let resp = conn.request(&req).await?;
    let Some(g) = resp.groups.into_iter().find(|g| &*g.group_id == group) else {
        return Err(unmentioned(
            api,
            ErrorContext::default().with_resource(group),
        ));
    };
    check_item(
        g.error_code,
        || context(api, group),
        g.error_message.as_ref(),
    )?;
    let mut out = BTreeMap::new();
    for t in g.topics {
        for p in t.partitions {
            let (tp, r) = partition_result(
                api,
                &t.topic_name,
                p.partition_index,
                p.error_code,
                p.error_message.as_ref(),
            );
            let r = r.map(|()| SharePartitionOffset {
                start_offset: (p.start_offset >= 0).then_some(p.start_offset),
                leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                lag: (p.lag >= 0).then_some(p.lag),
            });
            out.insert(tp, r);
        }
    }
    for tp in partitions.unwrap_or_default() {
        out.entry(tp.clone()).or_insert(Ok(SharePartitionOffset {
            start_offset: None,
            leader_epoch: None,
            lag: None,
        }));
    }
    Ok(out)
}

async fn alter_offsets(
    conn: &Connection,
    group: &str,
    offsets: &BTreeMap<TopicPartition, i64>,
) -> Result<PartitionResults<()>> {
    let api = ApiKey::AlterShareGroupOffsets;
    let mut topics: BTreeMap<&str, Vec<AlterShareGroupOffsetsRequestPartition>> = BTreeMap::new();
    for (tp, o) in offsets {
        topics.entry(&tp.topic).or_default().push(
            AlterShareGroupOffsetsRequestPartition::default()
                .with_partition_index(tp.partition)
                .with_start_offset(*o),
        );
    }
    let req = AlterShareGroupOffsetsRequest::default()
        .with_group_id(wire_str(group))
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    AlterShareGroupOffsetsRequestTopic::default()
                        .with_topic_name(wire_str(t))
                        .with_partitions(ps)
                })
                .collect(),
        );
    let resp = conn.request(&req).await?;
    check_item(
        resp.error_code,
        || context(api, group),
        resp.error_message.as_ref(),
    )?;
    let mut out = BTreeMap::new();
    for t in resp.responses {
        for p in t.partitions {
            let (tp, r) = partition_result(
                api,
                &t.topic_name,
                p.partition_index,
                p.error_code,
                p.error_message.as_ref(),
            );
            out.insert(tp, r);
        }
    }
    fill_unmentioned(&mut out, offsets.keys(), api);
    Ok(out)
}

async fn delete_offsets(
    conn: &Connection,
    group: &str,
    topics: &BTreeSet<String>,
) -> Result<BTreeMap<String, Result<()>>> {
    let api = ApiKey::DeleteShareGroupOffsets;
    let req = DeleteShareGroupOffsetsRequest::default()
        .with_group_id(wire_str(group))
        .with_topics(
            topics
                .iter()
                .map(|t| {
                    DeleteShareGroupOffsetsRequestTopic::default().with_topic_name(wire_str(t))
                })
                .collect(),
        );
    let resp = conn.request(&req).await?;
    check_item(
        resp.error_code,
        || context(api, group),
        resp.error_message.as_ref(),
    )?;
    let mut out = BTreeMap::new();
    for t in resp.responses {
        let topic = t.topic_name.to_string();
        let r = check_item(
            t.error_code,
            || context(api, &topic),
            t.error_message.as_ref(),
        );
        out.insert(topic, r);
    }
    for t in topics {
        out.entry(t.clone())
            .or_insert_with(|| Err(unmentioned(api, ErrorContext::default().with_resource(t))));
    }
    Ok(out)
}
