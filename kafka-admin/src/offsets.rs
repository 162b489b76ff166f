//! List offsets: earliest, latest, by timestamp or of the max timestamp, with one
//! ListOffsets request per partition leader.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_client::{ErrorContext, Result};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::{ApiKey, BrokerId, ListOffsetsRequest, TopicName};

use crate::admin::{Admin, item_error, timeout_ms, version, wire_str};
use crate::driver::{Call, leaders};
use crate::types::TopicPartition;

/// Which offset [`Admin::list_offsets`] looks up for a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OffsetSpec {
    /// The log start offset.
    Earliest,
    /// The log end offset (the high watermark, or the last stable offset with
    /// `read_committed`).
    Latest,
    /// The offset of the record with the highest timestamp (ListOffsets v7+).
    MaxTimestamp,
    /// The earliest offset whose timestamp is at or after this many milliseconds since
    /// the Unix epoch.
    Timestamp(i64),
}

impl OffsetSpec {
    /// The earliest offset whose timestamp is at or after `time`.
    pub fn at(time: SystemTime) -> Self {
        let ms = match time.duration_since(UNIX_EPOCH) {
            Ok(d) => d.as_millis().min(i64::MAX as u128) as i64,
            Err(e) => -(e.duration().as_millis().min(i64::MAX as u128) as i64),
        };
        Self::Timestamp(ms)
    }

    fn wire(self) -> i64 {
        match self {
            Self::Latest => -1,
            Self::Earliest => -2,
            Self::MaxTimestamp => -3,
            Self::Timestamp(ms) => ms,
        }
    }
}

/// Options for [`Admin::list_offsets`].
#[derive(Clone, Debug)]
pub struct ListOffsetsOptions {
    timeout: Duration,
    read_committed: bool,
}

impl Default for ListOffsetsOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            read_committed: false,
        }
    }
}

impl ListOffsetsOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }

    /// Look up offsets as a `read_committed` consumer sees them: `Latest` is then the
    /// last stable offset. Default false (read uncommitted: the high watermark).
    pub fn read_committed(mut self, v: bool) -> Self {
        self.read_committed = v;
        self
    }
}

/// An offset found by [`Admin::list_offsets`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedOffset {
    /// The offset; `None` when a timestamp lookup found no record at or after it.
    pub offset: Option<i64>,
    /// The timestamp of the record found, for timestamp lookups.
    pub timestamp: Option<i64>,
    /// The leader epoch of that offset, when the broker sent one.
    pub leader_epoch: Option<i32>,
}

impl Admin {
    /// Looks up offsets per partition, one request per partition leader (refreshing
    /// metadata and retrying when a leader moved). A missing topic or partition gets
    /// UNKNOWN_TOPIC_OR_PARTITION.
    pub async fn list_offsets(
        &self,
        specs: impl IntoIterator<Item = (TopicPartition, OffsetSpec)>,
        options: ListOffsetsOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<ListedOffset>>> {
        let items: BTreeMap<TopicPartition, OffsetSpec> = specs.into_iter().collect();
        let client = &self.client;
        let call = Call::new(client, "ListOffsets", ApiKey::ListOffsets, options.timeout);
        let options = &options;
        Ok(call
            .run(
                items,
                |keys| leaders(client, keys),
                |conn, batch| async move {
                    let v = version::<ListOffsetsRequest>(&conn)?;
                    let mut req = ListOffsetsRequest::default()
                        .with_replica_id(BrokerId(-1))
                        .with_topics(by_topic(&batch));
                    if v >= 2 {
                        req = req.with_isolation_level(i8::from(options.read_committed));
                    }
                    if v >= 10 {
                        req = req.with_timeout_ms(timeout_ms(options.timeout));
                    }
                    let resp = conn.request(&req).await?;
                    let mut out = Vec::new();
                    for t in resp.topics {
                        let topic = t.name.0.to_string();
                        for p in t.partitions {
                            let tp = TopicPartition::new(topic.clone(), p.partition_index);
                            let ctx = || {
                                ErrorContext::default()
                                    .with_api(ApiKey::ListOffsets)
                                    .with_resource(&topic)
                                    .with_partition(p.partition_index)
                            };
                            let result = match item_error(p.error_code, ctx, None) {
                                Some(e) => Err(e),
                                None => Ok(ListedOffset {
                                    offset: (p.offset >= 0).then_some(p.offset),
                                    timestamp: (p.timestamp >= 0).then_some(p.timestamp),
                                    leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                                }),
                            };
                            out.push((tp, result));
                        }
                    }
                    Ok(out)
                },
            )
            .await)
    }
}

fn by_topic(batch: &[(TopicPartition, OffsetSpec)]) -> Vec<ListOffsetsTopic> {
    let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
    for (tp, spec) in batch {
        topics.entry(&tp.topic).or_default().push(
            ListOffsetsPartition::default()
                .with_partition_index(tp.partition)
                .with_timestamp(spec.wire()),
        );
    }
    topics
        .into_iter()
        .map(|(name, partitions)| {
            ListOffsetsTopic::default()
                .with_name(TopicName(wire_str(name)))
                .with_partitions(partitions)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_use_kafkas_sentinel_timestamps() {
        assert_eq!(OffsetSpec::Latest.wire(), -1);
        assert_eq!(OffsetSpec::Earliest.wire(), -2);
        assert_eq!(OffsetSpec::MaxTimestamp.wire(), -3);
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(OffsetSpec::at(t), OffsetSpec::Timestamp(1_700_000_000_123));
    }
}
