//! Delete records: move partitions' log start offsets forward (DeleteRecords, one request
//! per partition leader).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::{ErrorContext, Result};
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::{ApiKey, DeleteRecordsRequest, TopicName};

use crate::admin::{Admin, check_item, timeout_ms, wire_str};
use crate::driver::{Call, leaders};
use crate::types::TopicPartition;

/// Which records of a partition [`Admin::delete_records`] deletes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordsToDelete {
    /// Every record before this offset (it becomes the log start offset).
    BeforeOffset(i64),
    /// Every record up to the high watermark.
    All,
}

impl RecordsToDelete {
    fn wire(self) -> i64 {
        match self {
            Self::BeforeOffset(o) => o,
            Self::All => -1,
        }
    }
}

/// Options for [`Admin::delete_records`].
#[derive(Clone, Debug)]
pub struct DeleteRecordsOptions {
    timeout: Duration,
}

impl Default for DeleteRecordsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl DeleteRecordsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// What a partition looks like after [`Admin::delete_records`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeletedRecords {
    /// The partition's new low watermark (log start offset).
    pub low_watermark: i64,
}

impl Admin {
    /// Deletes records from the start of partitions, with a result per partition:
    /// OFFSET_OUT_OF_RANGE for an offset above the high watermark,
    /// UNKNOWN_TOPIC_OR_PARTITION for a missing partition, POLICY_VIOLATION for a
    /// compacted topic, ...
    ///
    /// # Cancel safety
    /// The admin client holds no state a dropped call could leave behind, and the next call
    /// works. The change may or may not have been applied: dropped after a request was
    /// sent, the broker (or controller, or coordinator) may still apply it — and where the
    /// call sends several requests (one per broker, leader or coordinator), some may have
    /// been applied and others not. Read the state back to know.
    pub async fn delete_records(
        &self,
        records: impl IntoIterator<Item = (TopicPartition, RecordsToDelete)>,
        options: DeleteRecordsOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<DeletedRecords>>> {
        let items: BTreeMap<TopicPartition, RecordsToDelete> = records.into_iter().collect();
        let client = &self.client;
        let call = Call::new(
            client,
            "DeleteRecords",
            ApiKey::DeleteRecords,
            options.timeout,
        );
        let timeout = options.timeout;
        Ok(call
            .run(
                items,
                |keys| leaders(client, keys),
                |conn, batch| async move {
                    let req = DeleteRecordsRequest::default()
                        .with_topics(by_topic(&batch))
                        .with_timeout_ms(timeout_ms(timeout));
                    let resp = conn.request(&req).await?;
                    let mut out = Vec::new();
                    for t in resp.topics {
                        let topic = t.name.0.to_string();
                        for p in t.partitions {
                            let ctx = || {
                                ErrorContext::default()
                                    .with_api(ApiKey::DeleteRecords)
                                    .with_resource(&topic)
                                    .with_partition(p.partition_index)
                            };
                            let result =
                                check_item(p.error_code, ctx, None).map(|()| DeletedRecords {
                                    low_watermark: p.low_watermark,
                                });
                            out.push((
                                TopicPartition::new(topic.clone(), p.partition_index),
                                result,
                            ));
                        }
                    }
                    Ok(out)
                },
            )
            .await)
    }
}

fn by_topic(batch: &[(TopicPartition, RecordsToDelete)]) -> Vec<DeleteRecordsTopic> {
    let mut topics: BTreeMap<&str, Vec<DeleteRecordsPartition>> = BTreeMap::new();
    for (tp, what) in batch {
        topics.entry(&tp.topic).or_default().push(
            DeleteRecordsPartition::default()
                .with_partition_index(tp.partition)
                .with_offset(what.wire()),
        );
    }
    topics
        .into_iter()
        .map(|(name, partitions)| {
            DeleteRecordsTopic::default()
                .with_name(TopicName(wire_str(name)))
                .with_partitions(partitions)
        })
        .collect()
}
