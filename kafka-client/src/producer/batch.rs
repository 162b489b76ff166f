//! One partition's batch from its first record to its settlement: records are appended
//! straight into a pooled buffer ([`BatchBuilder`]), encoded (compressed, checksummed)
//! once when it is first drained, and the same bytes are re-sent on retries.
//!
//! A batch settles exactly once. Dropping an unsettled batch (producer aborted, runtime
//! gone) fails its records with [`Error::Closed`]; dropping any batch returns its bytes
//! to `buffer.memory` and its buffer to the pool.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::delivery::{BatchAck, BatchCompletion, DeliveryFuture};
use super::memory::Memory;
use crate::error::{Error, Result};
use crate::records::{BatchBuilder, BatchMeta, Compression, DecodeLimits, Header, decode_batches};

/// What every batch shares: the byte budget, the buffer pool, and the registry of
/// unsettled batches that `flush` and `close` wait on.
#[derive(Debug)]
pub(crate) struct Resources {
    pub memory: Memory,
    /// Batches are marked transactional (a transactional producer's).
    pub transactional: bool,
    pub compression: Compression,
    pub batch_size: usize,
    pool: Mutex<Vec<Vec<u8>>>,
    pool_max: usize,
    incomplete: Mutex<HashMap<u64, Arc<BatchCompletion>>>,
    next_id: AtomicU64,
}

impl Resources {
    pub(crate) fn new(buffer_memory: usize, batch_size: usize, compression: Compression) -> Self {
        Resources {
            memory: Memory::new(buffer_memory),
            transactional: false,
            compression,
            batch_size,
            pool: Mutex::new(Vec::new()),
            pool_max: (buffer_memory / batch_size.max(1)).clamp(1, 64),
            incomplete: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
        }
    }

    fn buffer(&self) -> Vec<u8> {
        let reused = self.pool.lock().unwrap_or_else(|e| e.into_inner()).pop();
        // Room for a full batch plus one typical record, capped like BatchBuilder's own.
        reused.unwrap_or_else(|| Vec::with_capacity(self.batch_size.min(1 << 20) + 512))
    }

    fn recycle(&self, bytes: Bytes) {
        // Only a buffer no one else reads; emptied before it becomes a `Vec` again, which
        // would otherwise move the batch's bytes to the buffer's start (a copy of the
        // whole batch per recycled buffer, only to be cleared).
        let Ok(mut buf) = bytes.try_into_mut() else {
            return; // someone still reads it: never copy just to pool
        };
        buf.clear();
        let buf = Vec::from(buf);
        if buf.capacity() < self.batch_size.min(1 << 20) {
            return;
        }
        let mut pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
        if pool.len() < self.pool_max {
            pool.push(buf);
        }
    }

    fn register(&self, completion: &Arc<BatchCompletion>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.incomplete
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, completion.clone());
        id
    }

    fn unregister(&self, id: u64) {
        self.incomplete
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&id);
    }

    /// Every unsettled batch now.
    pub(crate) fn snapshot(&self) -> Vec<Arc<BatchCompletion>> {
        self.incomplete
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .filter(|c| !c.is_settled())
            .cloned()
            .collect()
    }

    /// Whether every batch is settled and gone.
    pub(crate) fn is_idle(&self) -> bool {
        self.incomplete
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_empty()
    }

    /// Fails every unsettled batch with `error` (forced close).
    pub(crate) fn fail_all(&self, error: &Error) {
        let all: Vec<_> = self
            .incomplete
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain()
            .collect();
        for (_, c) in all {
            c.complete(Err(error.clone()));
        }
    }
}

enum Content {
    Building(BatchBuilder),
    Encoded(Bytes),
    Empty,
}

/// Position of a batch in its partition's order: the partition's batch counter, then,
/// for the parts of a split batch, a path of halves (first half before second).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Order {
    seq: u64,
    path: u64,
    depth: u8,
}

impl Order {
    pub(crate) fn new(seq: u64) -> Self {
        Order {
            seq,
            path: 0,
            depth: 0,
        }
    }

    fn child(self, second: bool) -> Option<Self> {
        if self.depth >= 63 {
            return None;
        }
        Some(Order {
            seq: self.seq,
            path: self.path | (u64::from(second) << (63 - self.depth)),
            depth: self.depth + 1,
        })
    }
}

pub(crate) use crate::types::ProducerIdent;

/// The producer identity and base sequence a batch was (or will be) written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub producer: ProducerIdent,
    pub base_sequence: i32,
}

/// Whether sequence `a` comes after `b` in Kafka's wrapping sequence space (less than
/// half the space ahead).
pub(crate) fn seq_after(a: i32, b: i32) -> bool {
    let space = i64::from(i32::MAX) + 1;
    let ahead = (i64::from(a) - i64::from(b)).rem_euclid(space);
    ahead > 0 && ahead < space / 2
}

/// `seq + n` in Kafka's sequence space (wraps from `i32::MAX` to 0).
pub(crate) fn seq_add(seq: i32, n: u32) -> i32 {
    ((i64::from(seq) + i64::from(n)) % (i64::from(i32::MAX) + 1)) as i32
}

/// One batch of one partition.
pub(crate) struct ProducerBatch {
    res: Arc<Resources>,
    id: u64,
    pub order: Order,
    completion: Arc<BatchCompletion>,
    content: Content,
    records: u32,
    /// Bytes reserved from `buffer.memory` for its records.
    charge: usize,
    pub created: Instant,
    /// Failed attempts so far.
    pub attempts: u32,
    pub last_error: Option<Error>,
    /// Idempotence: the identity and sequence it is sent with, from its first drain.
    pub stamp: Option<Stamp>,
    /// A request carrying it was written and never answered: it may be in the log.
    pub maybe_written: bool,
}

impl std::fmt::Debug for ProducerBatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProducerBatch")
            .field("topic", self.completion.topic())
            .field("partition", &self.completion.partition())
            .field("records", &self.records)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

impl ProducerBatch {
    /// An empty batch for `topic`-`partition`, registered as unsettled.
    pub(crate) fn open(
        res: &Arc<Resources>,
        topic: Arc<str>,
        partition: i32,
        order: Order,
        now: Instant,
    ) -> Self {
        let builder = BatchBuilder::with_buffer(res.compression, res.batch_size, res.buffer());
        Self::with_content(
            res,
            topic,
            partition,
            order,
            now,
            Content::Building(builder),
        )
    }

    fn with_content(
        res: &Arc<Resources>,
        topic: Arc<str>,
        partition: i32,
        order: Order,
        created: Instant,
        content: Content,
    ) -> Self {
        let completion = BatchCompletion::new(topic, partition);
        let id = res.register(&completion);
        ProducerBatch {
            res: res.clone(),
            id,
            order,
            completion,
            content,
            records: 0,
            charge: 0,
            created,
            attempts: 0,
            last_error: None,
            stamp: None,
            maybe_written: false,
        }
    }

    pub(crate) fn topic(&self) -> &Arc<str> {
        self.completion.topic()
    }

    pub(crate) fn partition(&self) -> i32 {
        self.completion.partition()
    }

    pub(crate) fn records(&self) -> u32 {
        self.records
    }

    /// Whether the batch failed before (or is part of a split batch): it then goes
    /// alone to keep its partition's order.
    pub(crate) fn is_retry(&self) -> bool {
        self.attempts > 0 || self.order.depth > 0
    }

    /// Appends a record if it fits (an empty batch takes any record); `charge` bytes of
    /// `buffer.memory` become the batch's to give back. Returns the record's future.
    pub(crate) fn try_append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        charge: usize,
    ) -> Result<Option<DeliveryFuture>> {
        let Content::Building(b) = &mut self.content else {
            return Ok(None);
        };
        if !b.try_append(timestamp, key, value, headers)? {
            return Ok(None);
        }
        let index = self.records;
        self.records += 1;
        self.charge += charge;
        Ok(Some(DeliveryFuture::new(
            self.completion.clone(),
            index,
            timestamp,
        )))
    }

    /// Whether the batch reached `batch.size`.
    pub(crate) fn is_full(&self) -> bool {
        match &self.content {
            Content::Building(b) => b.estimated_size() >= self.res.batch_size,
            _ => true,
        }
    }

    /// Size in bytes: uncompressed estimate until encoded, then exact.
    pub(crate) fn size(&self) -> usize {
        match &self.content {
            Content::Building(b) => b.estimated_size(),
            Content::Encoded(bytes) => bytes.len(),
            Content::Empty => 0,
        }
    }

    /// Encodes the batch with its stamp (if any), once; later calls do nothing.
    pub(crate) fn encode_stamped(&mut self) -> Result<()> {
        let mut meta = BatchMeta {
            transactional: self.res.transactional,
            ..BatchMeta::default()
        };
        if let Some(s) = self.stamp {
            meta.producer_id = s.producer.id;
            meta.producer_epoch = s.producer.epoch;
            meta.base_sequence = s.base_sequence;
        }
        self.encode(&meta)
    }

    /// Gives the batch a new stamp; already-encoded bytes are re-stamped in place (a
    /// new CRC, the records untouched).
    pub(crate) fn restamp(&mut self, stamp: Stamp) -> Result<()> {
        self.stamp = Some(stamp);
        if !matches!(self.content, Content::Encoded(_)) {
            return Ok(());
        }
        if let Content::Encoded(bytes) = std::mem::replace(&mut self.content, Content::Empty) {
            let mut buf = bytes::BytesMut::from(&bytes[..]);
            drop(bytes);
            crate::records::restamp_producer(
                &mut buf,
                stamp.producer.id,
                stamp.producer.epoch,
                stamp.base_sequence,
            )
            .map_err(|e| Error::Protocol {
                context: Default::default(),
                message: format!("cannot re-stamp a batch: {e}"),
            })?;
            self.content = Content::Encoded(buf.freeze());
        }
        Ok(())
    }

    /// Encodes the batch (compression and CRC), once; later calls do nothing.
    pub(crate) fn encode(&mut self, meta: &BatchMeta) -> Result<()> {
        if let Content::Building(_) = self.content {
            let Content::Building(b) = std::mem::replace(&mut self.content, Content::Empty) else {
                return Ok(());
            };
            self.content = Content::Encoded(b.finish(meta)?);
        }
        Ok(())
    }

    /// The encoded bytes (after [`encode`](Self::encode)).
    pub(crate) fn bytes(&self) -> Option<&Bytes> {
        match &self.content {
            Content::Encoded(b) => Some(b),
            _ => None,
        }
    }

    /// The time after which the batch fails with [`Error::DeliveryTimeout`].
    pub(crate) fn deadline(&self, delivery_timeout: Duration) -> Instant {
        self.created + delivery_timeout
    }

    /// The delivery-timeout error for this batch.
    pub(crate) fn timeout_error(&mut self, delivery_timeout: Duration) -> Error {
        Error::DeliveryTimeout {
            topic: self.topic().to_string(),
            partition: self.partition(),
            timeout: delivery_timeout,
            last_error: self.last_error.take().map(Box::new),
        }
    }

    /// Settles the batch: every record's future resolves from `result`.
    pub(crate) fn complete(self, result: Result<BatchAck>) {
        self.completion.complete(result);
    }

    /// Splits the batch into two halves (by record count), each a new batch in this
    /// one's place; this batch's futures follow their records, and it is left settled
    /// and empty, to be dropped. For a broker's MESSAGE_TOO_LARGE on a batch of several
    /// records. On error this batch is unchanged.
    pub(crate) fn split(&mut self) -> Result<[ProducerBatch; 2]> {
        let split_error = |message: &str| Error::Protocol {
            context: Default::default(),
            message: message.into(),
        };
        let records = self.decode()?;
        if records.len() < 2 {
            return Err(split_error("cannot split a batch of one record"));
        }
        let (Some(first_order), Some(second_order)) =
            (self.order.child(false), self.order.child(true))
        else {
            return Err(split_error("batch split too many times"));
        };
        let half = records.len() / 2;
        let mut first = self.part(&records[..half], first_order)?;
        let mut second = self.part(&records[half..], second_order)?;
        // Idempotence: the halves keep the sequence numbers their records had.
        if let Some(s) = self.stamp {
            first.stamp = Some(s);
            second.stamp = Some(Stamp {
                producer: s.producer,
                base_sequence: seq_add(s.base_sequence, u32::try_from(half).unwrap_or(0)),
            });
        }
        // The reserved bytes are now the parts' to give back.
        first.charge = self.charge / 2;
        second.charge = self.charge - first.charge;
        self.charge = 0;
        self.completion.split(vec![
            (0, first.completion.clone()),
            (
                u32::try_from(half).unwrap_or(u32::MAX),
                second.completion.clone(),
            ),
        ]);
        Ok([first, second])
    }

    /// A new batch holding `records`, in this batch's place.
    fn part(&self, records: &[crate::records::Record], order: Order) -> Result<ProducerBatch> {
        let mut b = BatchBuilder::new(self.res.compression, usize::MAX);
        for r in records {
            b.append(
                r.timestamp,
                r.key.as_deref(),
                r.value.as_deref(),
                &r.headers,
            )?;
        }
        let mut part = Self::with_content(
            &self.res,
            self.topic().clone(),
            self.partition(),
            order,
            self.created,
            Content::Building(b),
        );
        part.records = u32::try_from(records.len()).unwrap_or(u32::MAX);
        part.attempts = self.attempts;
        part.last_error = self.last_error.clone();
        part.maybe_written = self.maybe_written;
        Ok(part)
    }

    fn decode(&mut self) -> Result<Vec<crate::records::Record>> {
        self.encode_stamped()?;
        let bytes = self.bytes().cloned().unwrap_or_default();
        let mut batches = decode_batches(bytes, DecodeLimits::default());
        let batch = batches.next().ok_or_else(|| Error::Protocol {
            context: Default::default(),
            message: "encoded batch did not decode".into(),
        })??;
        Ok(batch.records_vec()?)
    }
}

impl Drop for ProducerBatch {
    fn drop(&mut self) {
        // A batch dropped unsettled (forced close, runtime shut down) fails its records.
        self.completion.complete(Err(Error::Closed));
        self.res.unregister(self.id);
        self.res.memory.release(self.charge);
        if let Content::Encoded(bytes) = std::mem::replace(&mut self.content, Content::Empty) {
            self.res.recycle(bytes);
        }
    }
}

#[cfg(test)]
mod recycle_tests {
    use super::*;

    #[test]
    fn a_finished_batch_buffer_comes_back_empty_without_a_copy() {
        let res = Resources::new(1 << 20, 4096, Compression::None);
        let mut v = res.buffer();
        let (at, cap) = (v.as_ptr(), v.capacity());
        v.extend_from_slice(&[7u8; 3000]);
        let mut frozen = Bytes::from(v);
        let _header = frozen.split_to(61); // what the frame takes apart; dropped
        drop(_header);
        res.recycle(frozen);
        let again = res.buffer();
        assert_eq!(
            (again.as_ptr(), again.capacity(), again.len()),
            (at, cap, 0)
        );
    }

    #[test]
    fn a_buffer_still_read_elsewhere_is_not_pooled() {
        let res = Resources::new(1 << 20, 4096, Compression::None);
        let mut v = res.buffer();
        v.extend_from_slice(&[1u8; 100]);
        let frozen = Bytes::from(v);
        let reader = frozen.clone();
        res.recycle(frozen);
        let fresh = res.buffer();
        assert_ne!(fresh.as_ptr(), reader.as_ptr(), "not handed out while read");
        assert_eq!(&reader[..], &[1u8; 100][..]);
    }
}
