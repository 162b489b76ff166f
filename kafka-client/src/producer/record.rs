//! What the application sends ([`ProducerRecord`]) and what it gets back
//! ([`RecordMetadata`]).

use std::sync::Arc;

use bytes::Bytes;

use crate::records::Header;

/// One record to send.
///
/// The topic is an `Arc<str>` so that a hot loop can reuse one allocation for every
/// record (`ProducerRecord::new(topic.clone())`); `&str` and `String` convert too.
///
/// ```
/// use kafka_client::producer::ProducerRecord;
///
/// let record = ProducerRecord::new("orders")
///     .with_key("order-17")
///     .with_value("{\"total\": 12}")
///     .with_header("trace", "abc")
///     .with_header("trace", "def") // duplicate keys are kept, in order
///     .with_null_header("retry"); // a header with a null value
/// assert_eq!(record.headers.len(), 3);
/// assert_eq!(record.headers[2].value, None);
/// let tombstone = ProducerRecord::new("orders").with_key("order-17"); // null value
/// assert!(tombstone.value.is_none());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerRecord {
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition; `None` lets the partitioner choose.
    pub partition: Option<i32>,
    /// Key; `None` is a null key (keyless records are spread by the partitioner).
    pub key: Option<Bytes>,
    /// Value; `None` is a null value: a tombstone on compacted topics.
    pub value: Option<Bytes>,
    /// Headers, sent in this order; duplicate keys are allowed and kept.
    pub headers: Vec<Header>,
    /// Create time in milliseconds since the Unix epoch; `None` means now.
    pub timestamp: Option<i64>,
}

impl ProducerRecord {
    /// A record for `topic` with no key, no value and no headers.
    pub fn new(topic: impl Into<Arc<str>>) -> Self {
        ProducerRecord {
            topic: topic.into(),
            partition: None,
            key: None,
            value: None,
            headers: Vec::new(),
            timestamp: None,
        }
    }

    /// Sets the key.
    pub fn with_key(mut self, key: impl Into<Bytes>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// Sets the value.
    pub fn with_value(mut self, value: impl Into<Bytes>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// Appends a header with a value (duplicate keys are kept, in order).
    pub fn with_header(mut self, key: impl Into<String>, value: impl Into<Bytes>) -> Self {
        self.headers.push(Header::new(key, Some(value.into())));
        self
    }

    /// Appends a header whose value is null.
    pub fn with_null_header(mut self, key: impl Into<String>) -> Self {
        self.headers.push(Header::new(key, None));
        self
    }

    /// Appends headers as they are (e.g. copied from a consumed record).
    pub fn with_headers(mut self, headers: impl IntoIterator<Item = Header>) -> Self {
        self.headers.extend(headers);
        self
    }

    /// Sends to this partition instead of asking the partitioner.
    pub fn with_partition(mut self, partition: i32) -> Self {
        self.partition = Some(partition);
        self
    }

    /// Sets the create timestamp (milliseconds since the Unix epoch).
    pub fn with_timestamp(mut self, timestamp_ms: i64) -> Self {
        self.timestamp = Some(timestamp_ms);
        self
    }
}

/// Where a record was written.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RecordMetadata {
    /// Topic name.
    pub topic: Arc<str>,
    /// Partition.
    pub partition: i32,
    /// The record's offset in the partition; `-1` with `acks=0`, when the broker does not
    /// answer (as in the Java client).
    pub offset: i64,
    /// The record's timestamp: its create time, or the broker's log-append time when the
    /// topic uses `message.timestamp.type=LogAppendTime`.
    pub timestamp: i64,
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    // Seconds and milliseconds apart: no 128-bit `as_millis` on the send path.
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| {
            i64::try_from(d.as_secs())
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000)
                .saturating_add(i64::from(d.subsec_millis()))
        })
}
