//! Offsets for leader epoch (OffsetForLeaderEpoch, each partition's leader): the end
//! offset of an epoch, as consumers use it to detect log truncation (KIP-320).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::{ErrorContext, Result};
use kafka_protocol::messages::offset_for_leader_epoch_request::{
    OffsetForLeaderPartition, OffsetForLeaderTopic,
};
use kafka_protocol::messages::{ApiKey, BrokerId, OffsetForLeaderEpochRequest, TopicName};

use crate::admin::{Admin, item_error, wire_str};
use crate::driver::{Call, leaders};
use crate::types::TopicPartition;

/// Options for [`Admin::offsets_for_leader_epoch`].
#[derive(Clone, Debug)]
pub struct LeaderEpochOptions {
    timeout: Duration,
}

impl Default for LeaderEpochOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
        }
    }
}

impl LeaderEpochOptions {
    /// How long the whole call may take, retries included. Default 60 s.
    pub fn timeout(mut self, t: Duration) -> Self {
        self.timeout = t;
        self
    }
}

/// The end of a leader epoch, as the leader reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct EpochEndOffset {
    /// The largest epoch at or below the one asked for that the log has.
    pub leader_epoch: i32,
    /// The end offset of that epoch (the first offset of the next epoch, or the log end).
    pub end_offset: i64,
}

impl Admin {
    /// The end offset of `epoch` for each partition, at its leader, with a result per
    /// partition (UNKNOWN_TOPIC_OR_PARTITION, FENCED_LEADER_EPOCH, ...).
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
    pub async fn offsets_for_leader_epoch(
        &self,
        epochs: impl IntoIterator<Item = (TopicPartition, i32)>,
        options: LeaderEpochOptions,
    ) -> Result<BTreeMap<TopicPartition, Result<EpochEndOffset>>> {
        let api = ApiKey::OffsetForLeaderEpoch;
        let items: BTreeMap<TopicPartition, i32> = epochs.into_iter().collect();
        let client = &self.client;
        let call = Call::new(client, "OffsetForLeaderEpoch", api, options.timeout);
        Ok(call
            .run(
                items,
                |keys| leaders(client, keys),
                |conn, batch| async move {
                    let mut by_topic: BTreeMap<&str, Vec<OffsetForLeaderPartition>> =
                        BTreeMap::new();
                    for (tp, epoch) in &batch {
                        by_topic.entry(&tp.topic).or_default().push(
                            OffsetForLeaderPartition::default()
                                .with_partition(tp.partition)
                                .with_current_leader_epoch(-1)
                                .with_leader_epoch(*epoch),
                        );
                    }
                    let req = OffsetForLeaderEpochRequest::default()
                        .with_replica_id(BrokerId(-1))
                        .with_topics(
                            by_topic
                                .into_iter()
                                .map(|(t, ps)| {
                                    OffsetForLeaderTopic::default()
                                        .with_topic(TopicName(wire_str(t)))
                                        .with_partitions(ps)
                                })
                                .collect(),
                        );
                    let resp = conn.request(&req).await?;
                    let mut out = Vec::new();
                    for t in resp.topics {
                        for p in t.partitions {
                            let tp = TopicPartition::new(t.topic.0.to_string(), p.partition);
                            let ctx = || {
                                ErrorContext::default()
                                    .with_api(api)
                                    .with_resource(&tp.topic)
                                    .with_partition(tp.partition)
                            };
                            let result = match item_error(p.error_code, ctx, None) {
                                Some(e) => Err(e),
                                None => Ok(EpochEndOffset {
                                    leader_epoch: p.leader_epoch,
                                    end_offset: p.end_offset,
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
