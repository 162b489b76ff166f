//! What the transaction calls report and take.

use std::collections::BTreeSet;

use crate::types::TopicPartition;

/// A transaction as [`Admin::list_transactions`](crate::Admin::list_transactions) lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionListing {
    /// The transactional id.
    pub transactional_id: String,
    /// The current producer id.
    pub producer_id: i64,
    /// The state as Kafka names it (`Ongoing`, `PrepareCommit`, `CompleteAbort`,
    /// `Empty`, ...).
    pub state: String,
    /// The coordinator that reported it.
    pub coordinator: i32,
}

/// A transaction as [`Admin::describe_transactions`](crate::Admin::describe_transactions)
/// reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionDescription {
    /// The coordinator.
    pub coordinator: i32,
    /// The state as Kafka names it.
    pub state: String,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// The transaction timeout in ms.
    pub timeout_ms: i32,
    /// When the ongoing transaction started (ms since the epoch), if one is.
    pub start_time_ms: Option<i64>,
    /// The partitions in the ongoing transaction.
    pub partitions: BTreeSet<TopicPartition>,
}

/// A producer writing to a partition, as
/// [`Admin::describe_producers`](crate::Admin::describe_producers) reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerState {
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i32,
    /// The last sequence number written.
    pub last_sequence: i32,
    /// The timestamp of its last write (ms since the epoch).
    pub last_timestamp: i64,
    /// The coordinator epoch of its last transaction marker, if any.
    pub coordinator_epoch: Option<i32>,
    /// The first offset of its open transaction on this partition, if one is open.
    pub current_txn_start_offset: Option<i64>,
}

/// A hanging transaction to abort on one partition (what `kafka-transactions.sh abort`
/// takes): the producer as [`ProducerState`] shows it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct AbortTransactionSpec {
    /// The partition with the open transaction.
    pub partition: TopicPartition,
    /// Producer id.
    pub producer_id: i64,
    /// Producer epoch.
    pub producer_epoch: i16,
    /// Coordinator epoch (from [`ProducerState::coordinator_epoch`], 0 when none).
    pub coordinator_epoch: i32,
}

impl AbortTransactionSpec {
    /// The spec that aborts `producer`'s open transaction on `partition`.
    pub fn for_producer(partition: TopicPartition, producer: &ProducerState) -> Self {
        Self {
            partition,
            producer_id: producer.producer_id,
            producer_epoch: producer.producer_epoch as i16,
            coordinator_epoch: producer.coordinator_epoch.unwrap_or(0).max(0),
        }
    }
}
