//! List offsets: earliest, latest, by timestamp or of the max timestamp, with one
//! ListOffsets request per partition leader (kafka-client's `lowlevel::list_offsets_on`,
//! the request the consumer sends too).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use kafka_client::Result;
use kafka_client::lowlevel::{
    EARLIEST_LOCAL_TIMESTAMP, EARLIEST_TIMESTAMP, LATEST_TIERED_TIMESTAMP, LATEST_TIMESTAMP,
    MAX_TIMESTAMP, list_offsets_on,
};
use kafka_protocol::messages::ApiKey;

use crate::admin::Admin;
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
    /// The first offset still on the leader's local disk: past the log start when
    /// tiered storage moved older segments away, the log start otherwise (KIP-405;
    /// ListOffsets v8+, Kafka 3.5+).
    EarliestLocal,
    /// The highest offset copied to tiered storage; no offset when the topic has no
    /// tiered storage (KIP-1005; ListOffsets v9+, Kafka 3.8+).
    LatestTiered,
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
            Self::Latest => LATEST_TIMESTAMP,
            Self::Earliest => EARLIEST_TIMESTAMP,
            Self::MaxTimestamp => MAX_TIMESTAMP,
            Self::EarliestLocal => EARLIEST_LOCAL_TIMESTAMP,
            Self::LatestTiered => LATEST_TIERED_TIMESTAMP,
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

/// An offset found by [`Admin::list_offsets`] (kafka-client's ListOffsets answer).
pub use kafka_client::lowlevel::ListedOffset;

impl Admin {
    /// Looks up offsets per partition, one request per partition leader (refreshing
    /// metadata and retrying when a leader moved). A missing topic or partition gets
    /// UNKNOWN_TOPIC_OR_PARTITION.
    ///
    /// # Cancel safety
    /// Cancel-safe: read-only, and the admin client holds no state a dropped call could
    /// leave behind. Dropping it changes nothing; the next call works.
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
                    let queries: Vec<(TopicPartition, i64)> = batch
                        .into_iter()
                        .map(|(tp, spec)| (tp, spec.wire()))
                        .collect();
                    list_offsets_on(&conn, &queries, options.read_committed, options.timeout).await
                },
            )
            .await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_use_kafkas_sentinel_timestamps() {
        assert_eq!(OffsetSpec::Latest.wire(), -1);
        assert_eq!(OffsetSpec::Earliest.wire(), -2);
        assert_eq!(OffsetSpec::MaxTimestamp.wire(), -3);
        assert_eq!(OffsetSpec::EarliestLocal.wire(), -4);
        assert_eq!(OffsetSpec::LatestTiered.wire(), -5);
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(OffsetSpec::at(t), OffsetSpec::Timestamp(1_700_000_000_123));
    }
}
