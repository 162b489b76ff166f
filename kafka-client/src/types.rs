//! The shared vocabulary of the client: value types that the consumer, the producer's
//! transactions, observability and kafka-admin all speak. This module imports nothing
//! from the rest of the crate, so no module has to import "upwards" to name a partition.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

/// A topic and a partition index.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index.
    pub partition: i32,
}

impl TopicPartition {
    /// `topic`-`partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> Self {
        Self {
            topic: topic.into(),
            partition,
        }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

impl fmt::Debug for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl<S: Into<String>> From<(S, i32)> for TopicPartition {
    fn from((topic, partition): (S, i32)) -> Self {
        Self::new(topic, partition)
    }
}

/// An offset to commit (the offset of the *next* record to read), with optional metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OffsetAndMetadata {
    /// The next offset to consume.
    pub offset: i64,
    /// Free-form metadata stored with the commit.
    pub metadata: Option<String>,
    /// Leader epoch of the last consumed record, when known.
    pub leader_epoch: Option<i32>,
}

impl OffsetAndMetadata {
    /// An offset without metadata.
    pub fn new(offset: i64) -> Self {
        Self {
            offset,
            metadata: None,
            leader_epoch: None,
        }
    }

    /// This offset with `metadata`.
    pub fn with_metadata(mut self, metadata: impl Into<String>) -> Self {
        self.metadata = Some(metadata.into());
        self
    }

    /// This offset with the leader epoch of the record it follows (lets the broker
    /// detect log truncation, KIP-320).
    pub fn with_leader_epoch(mut self, epoch: i32) -> Self {
        self.leader_epoch = Some(epoch);
        self
    }
}

impl From<i64> for OffsetAndMetadata {
    fn from(offset: i64) -> Self {
        Self::new(offset)
    }
}

/// An offset found by timestamp ([`Consumer::offsets_for_times`](crate::consumer::Consumer::offsets_for_times)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OffsetAndTimestamp {
    /// The earliest offset whose timestamp is at or after the one asked for.
    pub offset: i64,
    /// That record's timestamp.
    pub timestamp: i64,
    /// Leader epoch, when the broker sent one.
    pub leader_epoch: Option<i32>,
}

/// The group membership a consumer holds now (Java's `ConsumerGroupMetadata`), e.g. for
/// a transactional producer's `send_offsets`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupMetadata {
    /// The group id.
    pub group_id: String,
    /// The generation, or -1 outside a generation.
    pub generation_id: i32,
    /// The member id the coordinator gave (empty before the first join).
    pub member_id: String,
    /// The static member id, if configured.
    pub group_instance_id: Option<String>,
}

/// A boxed, `Send` future: what plug-in callbacks return (rebalance listeners, token
/// providers). The same type as `futures::future::BoxFuture`, so implementing them needs
/// no extra dependency: return `Box::pin(async move { ... })`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A producer's identity: the producer id and epoch its batches are stamped with
/// (idempotence and transactions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ProducerIdent {
    /// The producer id.
    pub id: i64,
    /// The epoch.
    pub epoch: i16,
}
