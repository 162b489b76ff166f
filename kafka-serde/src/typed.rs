//! [`TypedProducer`] and [`TypedConsumer`]: the byte-level handles with a key and a
//! value serde on top.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use kafka_client::consumer::PartitionError;
use kafka_client::records::{Header, TimestampType};
use kafka_client::{Consumer, ConsumerRecord, DeliveryFuture, Producer, ProducerRecord};

use crate::{Deserializer, SerdeError, Serializer};

/// Which part of a record a conversion failed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// The record's key.
    Key,
    /// The record's value.
    Value,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::Key => "key",
            Field::Value => "value",
        })
    }
}

/// Why a [`TypedProducer`] could not queue a record.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProduceError {
    /// The key or value could not be serialized; nothing was sent.
    #[error("cannot serialize the {field} of a record for topic {topic}: {source}")]
    Serialize {
        /// The record's topic.
        topic: Arc<str>,
        /// Key or value.
        field: Field,
        /// The serializer's error.
        source: SerdeError,
    },
    /// The producer refused the record (closed, buffer full, record too large, ...).
    #[error(transparent)]
    Client(#[from] kafka_client::Error),
}

/// A record to send through a [`TypedProducer`]; borrows its key and value.
///
/// ```
/// use kafka_serde::TypedRecord;
/// let record = TypedRecord::<str, str>::new("orders", "tea")
///     .with_key("order-7")
///     .with_header("trace", "abc")
///     .with_partition(0);
/// assert_eq!(record.topic(), "orders");
/// ```
pub struct TypedRecord<'a, K: ?Sized, V: ?Sized> {
    topic: Arc<str>,
    key: Option<&'a K>,
    value: Option<&'a V>,
    headers: Vec<Header>,
    partition: Option<i32>,
    timestamp: Option<i64>,
}

impl<K: ?Sized, V: ?Sized> fmt::Debug for TypedRecord<'_, K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedRecord")
            .field("topic", &self.topic)
            .field("has_key", &self.key.is_some())
            .field("has_value", &self.value.is_some())
            .field("headers", &self.headers.len())
            .field("partition", &self.partition)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

impl<'a, K: ?Sized, V: ?Sized> TypedRecord<'a, K, V> {
    /// A record for `topic` with `value`, no key and no headers.
    pub fn new(topic: impl Into<Arc<str>>, value: &'a V) -> Self {
        TypedRecord {
            topic: topic.into(),
            key: None,
            value: Some(value),
            headers: Vec::new(),
            partition: None,
            timestamp: None,
        }
    }

    /// A record for `topic` with a null value (a tombstone, once keyed). The value
    /// serializer is not called.
    pub fn tombstone(topic: impl Into<Arc<str>>, key: &'a K) -> Self {
        TypedRecord {
            topic: topic.into(),
            key: Some(key),
            value: None,
            headers: Vec::new(),
            partition: None,
            timestamp: None,
        }
    }

    /// The record's topic.
    pub fn topic(&self) -> &str {
        &self.topic
    }

    /// Sets the key (without one the key is null and the serializer is not called).
    pub fn with_key(mut self, key: &'a K) -> Self {
        self.key = Some(key);
        self
    }

    /// Sets or clears the key.
    pub fn with_optional_key(mut self, key: Option<&'a K>) -> Self {
        self.key = key;
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

/// A [`Producer`] with a key and a value serializer. Cheap to clone.
///
/// Serialization happens on the caller's task, before the record is queued; a failure is
/// a [`ProduceError::Serialize`] naming the topic and the field, and nothing is sent.
pub struct TypedProducer<K: ?Sized, V: ?Sized> {
    producer: Producer,
    key: Arc<dyn Serializer<K>>,
    value: Arc<dyn Serializer<V>>,
}

impl<K: ?Sized, V: ?Sized> Clone for TypedProducer<K, V> {
    fn clone(&self) -> Self {
        TypedProducer {
            producer: self.producer.clone(),
            key: Arc::clone(&self.key),
            value: Arc::clone(&self.value),
        }
    }
}

impl<K: ?Sized, V: ?Sized> fmt::Debug for TypedProducer<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedProducer")
            .field("producer", &self.producer)
            .finish_non_exhaustive()
    }
}

impl<K: ?Sized, V: ?Sized> TypedProducer<K, V> {
    /// Wraps `producer` with serializers for keys and values.
    pub fn new(
        producer: Producer,
        key: impl Serializer<K> + 'static,
        value: impl Serializer<V> + 'static,
    ) -> Self {
        TypedProducer {
            producer,
            key: Arc::new(key),
            value: Arc::new(value),
        }
    }

    /// The byte-level producer underneath (for raw records, flush, close).
    pub fn producer(&self) -> &Producer {
        &self.producer
    }

    /// Serializes the record into a byte-level [`ProducerRecord`] without sending it.
    pub fn serialize(&self, record: TypedRecord<'_, K, V>) -> Result<ProducerRecord, ProduceError> {
        let TypedRecord {
            topic,
            key,
            value,
            mut headers,
            partition,
            timestamp,
        } = record;
        let serialized = (|| {
            let key = match key {
                Some(k) => self
                    .key
                    .serialize(&topic, &mut headers, k)
                    .map_err(|e| (Field::Key, e))?,
                None => None,
            };
            let value = match value {
                Some(v) => self
                    .value
                    .serialize(&topic, &mut headers, v)
                    .map_err(|e| (Field::Value, e))?,
                None => None,
            };
            Ok((key, value))
        })();
        let (key, value) = serialized.map_err(|(field, source)| ProduceError::Serialize {
            topic: Arc::clone(&topic),
            field,
            source,
        })?;
        // The topic moves into the record: no reference count traffic per record.
        let mut out = ProducerRecord::new(topic);
        out.key = key;
        out.value = value;
        out.headers = headers;
        out.partition = partition;
        out.timestamp = timestamp;
        Ok(out)
    }

    /// Serializes and queues a record; waits for buffer space like [`Producer::send`].
    /// Await the returned [`DeliveryFuture`] for the record's offset.
    ///
    /// # Cancel safety
    /// Cancel-safe, as [`Producer::send`]: serialization happens before the first wait, and
    /// a send dropped before it completes has not queued the record.
    pub async fn send(
        &self,
        record: TypedRecord<'_, K, V>,
    ) -> Result<DeliveryFuture, ProduceError> {
        let record = self.serialize(record)?;
        Ok(self.producer.send(record).await?)
    }

    /// Shorthand for [`send`](Self::send) with a topic, an optional key and a value.
    ///
    /// # Cancel safety
    /// Cancel-safe, as [`send`](Self::send).
    pub async fn send_value(
        &self,
        topic: &str,
        key: Option<&K>,
        value: &V,
    ) -> Result<DeliveryFuture, ProduceError> {
        self.send(TypedRecord::new(topic, value).with_optional_key(key))
            .await
    }

    /// Waits until every record queued so far is delivered or failed.
    ///
    /// # Cancel safety
    /// Cancel-safe, as [`Producer::flush`]: dropping it stops only the waiting.
    pub async fn flush(&self) {
        self.producer.flush().await;
    }

    /// Closes the producer underneath, as [`Producer::close`]: stops intake, delivers
    /// what is queued within `timeout`, and fails the rest with `Closed`.
    ///
    /// # Cancel safety
    /// As [`Producer::close`]: dropped before it completes, the producer is closed to new
    /// records and still delivers the pending ones in the background.
    pub async fn close(&self, timeout: Duration) -> kafka_client::Result<()> {
        self.producer.close(timeout).await
    }
}

/// A consumed record with its key and value deserialized.
#[derive(Clone, Debug, PartialEq)]
pub struct TypedConsumerRecord<K, V> {
    /// Topic.
    pub topic: Arc<str>,
    /// Partition index.
    pub partition: i32,
    /// Offset in the partition.
    pub offset: i64,
    /// Timestamp in milliseconds since the epoch.
    pub timestamp: i64,
    /// Create time or log-append time.
    pub timestamp_type: TimestampType,
    /// The deserialized key.
    pub key: K,
    /// The deserialized value.
    pub value: V,
    /// Headers in wire order.
    pub headers: Vec<Header>,
}

/// A record whose key or value could not be deserialized. Carries the raw record, so the
/// application can skip it, log it, or send it to a dead-letter topic; the consumer has
/// moved past it and the records after it are still delivered.
#[derive(Clone, Debug, thiserror::Error)]
#[error(
    "cannot deserialize the {field} of {}-{} at offset {}: {error}",
    record.topic,
    record.partition,
    record.offset
)]
pub struct DeserializeError {
    /// Key or value.
    pub field: Field,
    /// The deserializer's error.
    pub error: Arc<SerdeError>,
    /// The record as it came from the broker, raw bytes included.
    pub record: Box<ConsumerRecord>,
}

impl DeserializeError {
    /// The record's topic.
    pub fn topic(&self) -> &str {
        &self.record.topic
    }

    /// The record's partition.
    pub fn partition(&self) -> i32 {
        self.record.partition
    }

    /// The record's offset.
    pub fn offset(&self) -> i64 {
        self.record.offset
    }

    /// The raw key bytes (`None` for a null key).
    pub fn key_bytes(&self) -> Option<&Bytes> {
        self.record.key.as_ref()
    }

    /// The raw value bytes (`None` for a null value).
    pub fn value_bytes(&self) -> Option<&Bytes> {
        self.record.value.as_ref()
    }

    /// A byte-level record with the same key, value and headers for `topic`: ready for a
    /// dead-letter topic.
    pub fn to_dead_letter(&self, topic: impl Into<Arc<str>>) -> ProducerRecord {
        let mut out = ProducerRecord::new(topic);
        out.key = self.record.key.clone();
        out.value = self.record.value.clone();
        out.headers = self.record.headers.clone();
        out
    }
}

/// What a [`TypedConsumer`]'s stream yields on failure.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsumeError {
    /// One record could not be deserialized; the stream goes on.
    #[error(transparent)]
    Deserialize(#[from] DeserializeError),
    /// The consumer failed (a per-partition error, or a fatal one).
    #[error(transparent)]
    Client(#[from] kafka_client::Error),
}

/// One [`TypedConsumer::poll`]'s result: every record in order, each either
/// deserialized or a [`DeserializeError`] with its raw bytes, plus per-partition errors.
#[derive(Debug)]
pub struct TypedRecords<K, V> {
    records: Vec<Result<TypedConsumerRecord<K, V>, DeserializeError>>,
    errors: Vec<PartitionError>,
}

impl<K, V> TypedRecords<K, V> {
    /// The records in the order the consumer returned them, each deserialized or not
    /// (as [`ConsumerRecords::records`](kafka_client::ConsumerRecords::records)).
    pub fn records(&self) -> &[Result<TypedConsumerRecord<K, V>, DeserializeError>] {
        &self.records
    }

    /// Per-partition failures, as [`ConsumerRecords::errors`](kafka_client::ConsumerRecords::errors).
    pub fn errors(&self) -> &[PartitionError] {
        &self.errors
    }

    /// Iterates over the records.
    pub fn iter(
        &self,
    ) -> std::slice::Iter<'_, Result<TypedConsumerRecord<K, V>, DeserializeError>> {
        self.records.iter()
    }

    /// Splits into records and per-partition errors.
    #[allow(clippy::type_complexity)]
    pub fn into_parts(
        self,
    ) -> (
        Vec<Result<TypedConsumerRecord<K, V>, DeserializeError>>,
        Vec<PartitionError>,
    ) {
        (self.records, self.errors)
    }

    /// Number of records (deserialized or not).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The records that deserialized.
    pub fn ok(&self) -> impl Iterator<Item = &TypedConsumerRecord<K, V>> {
        self.records.iter().filter_map(|r| r.as_ref().ok())
    }

    /// The records that did not.
    pub fn failed(&self) -> impl Iterator<Item = &DeserializeError> {
        self.records.iter().filter_map(|r| r.as_ref().err())
    }
}

impl<K, V> IntoIterator for TypedRecords<K, V> {
    type Item = Result<TypedConsumerRecord<K, V>, DeserializeError>;
    type IntoIter = std::vec::IntoIter<Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.records.into_iter()
    }
}

/// A [`Consumer`] with a key and a value deserializer. Cheap to clone.
pub struct TypedConsumer<K, V> {
    consumer: Consumer,
    key: Arc<dyn Deserializer<K>>,
    value: Arc<dyn Deserializer<V>>,
}

impl<K, V> Clone for TypedConsumer<K, V> {
    fn clone(&self) -> Self {
        TypedConsumer {
            consumer: self.consumer.clone(),
            key: Arc::clone(&self.key),
            value: Arc::clone(&self.value),
        }
    }
}

impl<K, V> fmt::Debug for TypedConsumer<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TypedConsumer")
            .field("consumer", &self.consumer)
            .finish_non_exhaustive()
    }
}

impl<K: 'static, V: 'static> TypedConsumer<K, V> {
    /// Wraps `consumer` with deserializers for keys and values.
    pub fn new(
        consumer: Consumer,
        key: impl Deserializer<K> + 'static,
        value: impl Deserializer<V> + 'static,
    ) -> Self {
        TypedConsumer {
            consumer,
            key: Arc::new(key),
            value: Arc::new(value),
        }
    }

    /// The byte-level consumer underneath (subscribe, assign, seek, commit, close).
    pub fn consumer(&self) -> &Consumer {
        &self.consumer
    }

    /// Deserializes one byte-level record.
    pub fn deserialize(
        &self,
        record: ConsumerRecord,
    ) -> Result<TypedConsumerRecord<K, V>, DeserializeError> {
        convert(&*self.key, &*self.value, record)
    }

    /// Polls like [`Consumer::poll`]; a record that fails to deserialize is an `Err`
    /// in its place, and the records after it are returned as usual.
    ///
    /// # Cancel safety
    /// Cancel-safe, as [`Consumer::poll`]: records are deserialized in the step that
    /// returns them, and a poll dropped before it completes loses none.
    pub async fn poll(&self, timeout: Duration) -> kafka_client::Result<TypedRecords<K, V>> {
        let mut batch = self.consumer.poll(timeout).await?;
        // Drained, not split: the emptied vector goes back to the consumer for its next
        // poll. Errors are rare; cloning them costs nothing when there are none.
        let errors = batch.errors().to_vec();
        Ok(TypedRecords {
            records: batch.drain().map(|r| self.deserialize(r)).collect(),
            errors,
        })
    }

    /// A stream of typed records, as [`Consumer::stream`]; a record that fails to
    /// deserialize is one [`ConsumeError::Deserialize`] item and the stream goes on.
    pub fn stream(
        &self,
    ) -> impl Stream<Item = Result<TypedConsumerRecord<K, V>, ConsumeError>> + Send + 'static
    where
        K: Send,
        V: Send,
    {
        let key = Arc::clone(&self.key);
        let value = Arc::clone(&self.value);
        self.consumer.stream().map(move |item| match item {
            Ok(record) => convert(&*key, &*value, record).map_err(ConsumeError::from),
            Err(e) => Err(ConsumeError::Client(e)),
        })
    }
}

fn convert<K, V>(
    key: &dyn Deserializer<K>,
    value: &dyn Deserializer<V>,
    mut record: ConsumerRecord,
) -> Result<TypedConsumerRecord<K, V>, DeserializeError> {
    let fail = |field, error, record: ConsumerRecord| DeserializeError {
        field,
        error: Arc::new(error),
        record: Box::new(record),
    };
    // The key by reference (the record stays whole for a value error), the value by
    // value (no reference count increment for a deserializer that keeps the bytes).
    let k = match key.deserialize(&record.topic, &record.headers, record.key.as_ref()) {
        Ok(k) => k,
        Err(e) => return Err(fail(Field::Key, e, record)),
    };
    let data = record.value.take();
    let v = match value.deserialize_owned(&record.topic, &record.headers, data) {
        Ok(v) => v,
        Err((e, data)) => {
            record.value = data;
            return Err(fail(Field::Value, e, record));
        }
    };
    Ok(TypedConsumerRecord {
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        timestamp: record.timestamp,
        timestamp_type: record.timestamp_type,
        key: k,
        value: v,
        headers: record.headers,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BytesSerde, Nullable, StringSerde};

    fn record(key: Option<&'static [u8]>, value: &'static [u8]) -> ConsumerRecord {
        ConsumerRecord {
            topic: Arc::from("t"),
            partition: 2,
            offset: 7,
            timestamp: 1,
            timestamp_type: TimestampType::CreateTime,
            key: key.map(Bytes::from_static),
            value: Some(Bytes::from_static(value)),
            headers: vec![],
            leader_epoch: None,
        }
    }

    #[test]
    fn a_value_error_carries_the_record_whole() {
        let e = convert::<Option<Bytes>, String>(
            &Nullable(BytesSerde),
            &StringSerde,
            record(Some(b"k"), b"\xff"),
        )
        .unwrap_err();
        assert_eq!(e.field, Field::Value);
        assert_eq!(e.record.key.as_deref(), Some(&b"k"[..]));
        assert_eq!(e.record.value.as_deref(), Some(&b"\xff"[..]));
        assert_eq!((e.record.partition, e.record.offset), (2, 7));
    }

    #[test]
    fn a_key_error_carries_the_record_whole() {
        let e = convert::<String, Bytes>(&StringSerde, &BytesSerde, record(Some(b"\xfe"), b"v"))
            .unwrap_err();
        assert_eq!(e.field, Field::Key);
        assert_eq!(e.record.key.as_deref(), Some(&b"\xfe"[..]));
        assert_eq!(e.record.value.as_deref(), Some(&b"v"[..]));
    }

    #[test]
    fn a_good_record_keeps_its_fields_and_its_value_bytes() {
        let r = record(None, b"value");
        let at = r.value.as_ref().map(|v| v.as_ptr());
        let t = convert::<Option<Bytes>, Bytes>(&Nullable(BytesSerde), &BytesSerde, r).unwrap();
        assert_eq!(t.key, None);
        assert_eq!(Some(t.value.as_ptr()), at, "taken over, not copied");
        assert_eq!(
            (&*t.topic, t.partition, t.offset, t.timestamp),
            ("t", 2, 7, 1)
        );
    }
}
