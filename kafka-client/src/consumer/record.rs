//! What the consumer hands out: [`ConsumerRecord`]s (owned, `'static`, `Send`; keys and
//! values are `Bytes` slices of the fetch buffer) and per-partition errors as data. The
//! small value types (`TopicPartition`, `OffsetAndMetadata`, ...) live in `crate::types`.

use std::fmt;
use std::sync::{Arc, Mutex};

use bytes::Bytes;

use crate::error::Error;
use crate::records::{Header, TimestampType};
use crate::types::TopicPartition;

/// One record as consumed. Owned and `'static`: key, value and header values are `Bytes`
/// slices sharing the fetch response's buffer (no copy).
#[derive(Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// Topic (shared between the records of a partition).
    pub topic: Arc<str>,
    /// Partition index.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Timestamp in milliseconds since the epoch.
    pub timestamp: i64,
    /// Whether `timestamp` is the producer's create time or the broker's append time.
    pub timestamp_type: TimestampType,
    /// Key, if any.
    pub key: Option<Bytes>,
    /// Value, if any (`None` is a tombstone).
    pub value: Option<Bytes>,
    /// Headers in wire order (duplicate keys kept).
    pub headers: Vec<Header>,
    /// Leader epoch of the batch the record came in.
    pub leader_epoch: Option<i32>,
}

impl ConsumerRecord {
    /// The record's topic and partition.
    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition::new(&*self.topic, self.partition)
    }
}

impl fmt::Debug for ConsumerRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerRecord")
            .field("topic", &self.topic)
            .field("partition", &self.partition)
            .field("offset", &self.offset)
            .field("timestamp", &self.timestamp)
            .field("key_len", &self.key.as_ref().map(Bytes::len))
            .field("value_len", &self.value.as_ref().map(Bytes::len))
            .field("headers", &self.headers.len())
            .finish()
    }
}

/// A failure that concerns one partition (corrupt batch, offset out of range with
/// `auto.offset.reset=none`, authorization, ...). The consumer's other partitions go on;
/// this one stops fetching until the application seeks it.
#[derive(Clone, Debug)]
pub struct PartitionError {
    /// The partition.
    pub topic_partition: TopicPartition,
    /// What went wrong.
    pub error: Error,
}

impl PartitionError {
    /// The error as one [`Error::Partition`] naming the partition.
    pub fn into_error(self) -> Error {
        Error::Partition {
            topic: self.topic_partition.topic,
            partition: self.topic_partition.partition,
            error: Arc::new(self.error),
        }
    }
}

/// Record vectors given back by dropped [`ConsumerRecords`], for later polls to fill
/// again: in steady state a `poll` allocates nothing for the records it returns.
#[derive(Debug, Default)]
pub(crate) struct RecordVecs(Mutex<Vec<Vec<ConsumerRecord>>>);

impl RecordVecs {
    /// Vectors kept at most.
    const KEEP: usize = 4;

    /// An empty vector, reused when one was given back.
    pub(crate) fn take(&self) -> Vec<ConsumerRecord> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop()
            .unwrap_or_default()
    }

    pub(crate) fn give_back(&self, mut v: Vec<ConsumerRecord>) {
        v.clear();
        if v.capacity() == 0 {
            return;
        }
        let mut kept = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() < Self::KEEP {
            kept.push(v);
        }
    }
}

/// What one [`poll`](crate::consumer::Consumer::poll) returns: records in offset order per
/// partition, and per-partition errors as data.
///
/// When it is dropped with its records still inside, their vector goes back to the
/// consumer for the next poll (no allocation per poll).
#[derive(Clone, Debug, Default)]
pub struct ConsumerRecords {
    pub(crate) records: Vec<ConsumerRecord>,
    pub(crate) errors: Vec<PartitionError>,
    pub(crate) recycle: Option<Arc<RecordVecs>>,
}

impl Drop for ConsumerRecords {
    fn drop(&mut self) {
        if let Some(r) = self.recycle.take() {
            r.give_back(std::mem::take(&mut self.records));
        }
    }
}

impl ConsumerRecords {
    /// The records.
    pub fn records(&self) -> &[ConsumerRecord] {
        &self.records
    }

    /// The per-partition errors.
    pub fn errors(&self) -> &[PartitionError] {
        &self.errors
    }

    /// Number of records (errors not counted).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are neither records nor errors.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.errors.is_empty()
    }

    /// Iterates over the records.
    pub fn iter(&self) -> std::slice::Iter<'_, ConsumerRecord> {
        self.records.iter()
    }

    /// Takes the records out by value, in order. Unlike `into_iter` or `into_parts`, the
    /// emptied vector still goes back to the consumer when this is dropped, so the next
    /// poll allocates none.
    pub fn drain(&mut self) -> std::vec::Drain<'_, ConsumerRecord> {
        self.records.drain(..)
    }

    /// Splits into records and errors.
    pub fn into_parts(mut self) -> (Vec<ConsumerRecord>, Vec<PartitionError>) {
        (
            std::mem::take(&mut self.records),
            std::mem::take(&mut self.errors),
        )
    }
}

impl IntoIterator for ConsumerRecords {
    type Item = ConsumerRecord;
    type IntoIter = std::vec::IntoIter<ConsumerRecord>;
    fn into_iter(mut self) -> Self::IntoIter {
        std::mem::take(&mut self.records).into_iter()
    }
}

impl<'a> IntoIterator for &'a ConsumerRecords {
    type Item = &'a ConsumerRecord;
    type IntoIter = std::slice::Iter<'a, ConsumerRecord>;
    fn into_iter(self) -> Self::IntoIter {
        self.records.iter()
    }
}
