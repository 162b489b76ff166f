//! Building record batches for the producer.
//!
//! [`BatchBuilder`] writes each record's varints and bytes straight into one reusable
//! buffer behind a reserved 61-byte header: no allocation per record (beyond the
//! buffer's own growth), and for uncompressed batches no copy at the end either: the
//! header is filled in place and the buffer becomes the `Bytes`. Compressed batches
//! compress the records section once into the output buffer. The CRC is computed once,
//! at `finish`.
//!
//! The buffer is a `Vec<u8>` rather than a `BytesMut`: `Vec`'s push and extend inline
//! into the record writer (about twice as fast per record as `BytesMut`'s `BufMut` calls
//! here), and `Bytes::from(Vec)` hands the allocation over without copying.

use std::fmt;

use bytes::Bytes;

use super::layout::{self, CONTROL_BIT, RECORDS, TRANSACTIONAL_BIT};
use super::varint::{put_varint, varint_len, varlong_len, write_varint, write_varlong};
use super::{Compression, Header, RecordsError, codec};

/// Size of a batch with no records: the v2 batch header.
pub(crate) const BATCH_HEADER_SIZE: usize = RECORDS;

/// Buffer capacity allocated up front at most; larger batches grow into their size.
const MAX_INITIAL_CAPACITY: usize = 1 << 20;

/// Producer state and flags written into a batch header by [`BatchBuilder::finish`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchMeta {
    /// Producer id, or -1 when the producer is not idempotent.
    pub producer_id: i64,
    /// Producer epoch, or -1.
    pub producer_epoch: i16,
    /// Sequence number of the first record, or -1.
    pub base_sequence: i32,
    /// Whether the batch belongs to a transaction.
    pub transactional: bool,
    /// Partition leader epoch; producers send -1 (the broker stamps it).
    pub partition_leader_epoch: i32,
    /// Whether the batch holds control records (brokers write these; clients do not).
    pub is_control: bool,
}

impl Default for BatchMeta {
    /// A non-idempotent, non-transactional data batch.
    fn default() -> Self {
        BatchMeta {
            producer_id: -1,
            producer_epoch: -1,
            base_sequence: -1,
            transactional: false,
            partition_leader_epoch: -1,
            is_control: false,
        }
    }
}

/// Accumulates records into one v2 record batch.
///
/// ```
/// use kafka_client::records::{BatchBuilder, BatchMeta, Compression, Header};
///
/// let mut batch = BatchBuilder::new(Compression::Lz4, 16 * 1024);
/// let headers = [Header::new("trace", Some("abc".into()))];
/// assert!(batch.try_append(1_700_000_000_000, Some(b"key"), Some(b"value"), &headers).unwrap());
/// assert!(batch.try_append(1_700_000_000_001, None, Some(b"v2"), &[]).unwrap());
/// let bytes = batch.finish(&BatchMeta::default()).unwrap();
/// assert_eq!(bytes[16], 2); // magic
/// ```
pub struct BatchBuilder {
    compression: Compression,
    max_bytes: usize,
    /// Header placeholder followed by the uncompressed records.
    buf: Vec<u8>,
    base_timestamp: Option<i64>,
    max_timestamp: i64,
    count: i32,
}

impl fmt::Debug for BatchBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchBuilder")
            .field("compression", &self.compression)
            .field("max_bytes", &self.max_bytes)
            .field("records", &self.count)
            .field("estimated_size", &self.buf.len())
            .field("base_timestamp", &self.base_timestamp)
            .field("max_timestamp", &self.max_timestamp)
            .finish()
    }
}

impl BatchBuilder {
    /// A builder for a batch of at most `max_bytes` (the producer's `batch.size`) as
    /// counted by [`estimated_size`](Self::estimated_size). The first record is always
    /// accepted, however large, so an oversized record still gets a batch of its own.
    pub fn new(compression: Compression, max_bytes: usize) -> Self {
        let capacity = max_bytes.clamp(RECORDS, MAX_INITIAL_CAPACITY);
        Self::with_buffer(compression, max_bytes, Vec::with_capacity(capacity))
    }

    /// Like [`new`](Self::new) but writing into `buf` (cleared first), so buffers can be
    /// pooled and reused across batches. A finished batch's allocation comes back with
    /// `Vec::from(bytes)` once its last `Bytes` handle is the only one (no copy then), and
    /// a `BytesMut` converts with `Vec::from(bytes_mut)`.
    pub fn with_buffer(compression: Compression, max_bytes: usize, mut buf: Vec<u8>) -> Self {
        buf.clear();
        buf.resize(RECORDS, 0);
        BatchBuilder {
            compression,
            max_bytes,
            buf,
            base_timestamp: None,
            max_timestamp: -1,
            count: 0,
        }
    }

    /// Sets the batch's base timestamp, from which record timestamps are stored as deltas.
    /// Without it the first record's timestamp is used. Ignored once records are appended.
    pub fn with_base_timestamp(mut self, timestamp: i64) -> Self {
        if self.count == 0 {
            self.base_timestamp = Some(timestamp);
        }
        self
    }

    /// The codec the batch will be compressed with.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// The size limit given at construction.
    pub fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    /// Number of records appended.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether no record has been appended.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Uncompressed size of the batch so far, header included: an upper bound for the
    /// finished size of an uncompressed batch (exact), and for compressed ones, which
    /// are usually much smaller.
    pub fn estimated_size(&self) -> usize {
        self.buf.len()
    }

    /// Bytes the record would add to the batch (its length prefix included).
    pub fn record_size(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> usize {
        let base = self.base_timestamp.unwrap_or(timestamp);
        let body = body_size(
            timestamp.wrapping_sub(base),
            self.count,
            key,
            value,
            headers,
        );
        varint_len(saturate_i32(body)) + body
    }

    /// Whether [`try_append`](Self::try_append) would accept the record: the batch is
    /// empty, or the record fits within `max_bytes`.
    pub fn would_fit(
        &self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> bool {
        self.fits(self.record_size(timestamp, key, value, headers))
    }

    fn fits(&self, record_size: usize) -> bool {
        self.count == 0 || self.buf.len().saturating_add(record_size) <= self.max_bytes
    }

    /// Appends the record if it fits (see [`would_fit`](Self::would_fit)); returns
    /// `Ok(false)`, writing nothing, when it does not.
    ///
    /// # Errors
    /// [`RecordsError::FieldTooLarge`] if a key, value, header or the record is over
    /// `i32::MAX` bytes, or the batch already holds `i32::MAX` records.
    pub fn try_append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<bool, RecordsError> {
        self.append_inner(timestamp, key, value, headers, true)
    }

    /// Appends the record whatever the size limit says.
    ///
    /// # Errors
    /// As for [`try_append`](Self::try_append).
    pub fn append(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
    ) -> Result<(), RecordsError> {
        self.append_inner(timestamp, key, value, headers, false)
            .map(|_| ())
    }

    fn append_inner(
        &mut self,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        check_fit: bool,
    ) -> Result<bool, RecordsError> {
        if self.count == i32::MAX {
            return Err(RecordsError::FieldTooLarge {
                field: "record count",
                length: self.count as usize,
            });
        }
        let key_len = nullable_len(key, "key")?;
        let value_len = nullable_len(value, "value")?;
        let header_count = checked_i32(headers.len(), "header count")?;
        let mut headers_size = varint_len(header_count);
        for h in headers {
            let k = checked_i32(h.key.len(), "header key")?;
            let value = h.value.as_deref();
            let v = nullable_len(value, "header value")?;
            headers_size = headers_size
                .saturating_add(varint_len(k) + h.key.len())
                .saturating_add(varint_len(v) + value.map_or(0, <[u8]>::len));
        }

        let base = *self.base_timestamp.get_or_insert(timestamp);
        let timestamp_delta = timestamp.wrapping_sub(base);
        let offset_delta = self.count;
        // Everything up to the key's bytes is encoded once into `head`, after room for
        // the record's length prefix (whose width depends on the rest): attributes (1),
        // timestamp delta (<= 10), offset delta (<= 5), key length (<= 5). The record's
        // size is then counted from what was written, not computed a second time.
        let mut head = [0u8; 5 + 21];
        let mut n = 5 + 1; // attributes: unused (0)
        n += write_varlong(&mut head[n..], timestamp_delta);
        n += write_varint(&mut head[n..], offset_delta);
        n += write_varint(&mut head[n..], key_len);
        let mut value_head = [0u8; 5];
        let value_head_len = write_varint(&mut value_head, value_len);
        let body = (n - 5)
            .saturating_add(key.map_or(0, <[u8]>::len))
            .saturating_add(value_head_len)
            .saturating_add(value.map_or(0, <[u8]>::len))
            .saturating_add(headers_size);
        let body_len = checked_i32(body, "record")?;
        let mut length = [0u8; 5];
        let length_len = write_varint(&mut length, body_len);
        let total = length_len + body;
        // An empty batch always fits, so a refused record never set the base timestamp.
        if check_fit && !self.fits(total) {
            return Ok(false);
        }
        let start = 5 - length_len;
        head[start..5].copy_from_slice(&length[..length_len]);

        let buf = &mut self.buf;
        buf.reserve(total);
        buf.extend_from_slice(&head[start..n]);
        if let Some(k) = key {
            buf.extend_from_slice(k);
        }
        buf.extend_from_slice(&value_head[..value_head_len]);
        if let Some(v) = value {
            buf.extend_from_slice(v);
        }
        if headers.is_empty() {
            buf.push(0); // header count 0
        } else {
            put_varint(buf, header_count);
            for h in headers {
                put_varint(buf, h.key.len() as i32);
                buf.extend_from_slice(h.key.as_bytes());
                let value = h.value.as_deref();
                put_nullable(buf, value.map_or(-1, |v| v.len() as i32), value);
            }
        }
        debug_assert_eq!(
            total,
            varint_len(body_len) + body_size(timestamp_delta, offset_delta, key, value, headers)
        );

        self.count += 1;
        if self.count == 1 || timestamp > self.max_timestamp {
            self.max_timestamp = timestamp;
        }
        Ok(true)
    }

    /// Completes the batch: compresses the records section if asked, writes the header
    /// (base offset 0; the broker assigns offsets) and the CRC, and returns the batch bytes
    /// ready to go into a Produce request.
    ///
    /// # Errors
    /// [`RecordsError::Compress`] if the codec fails (not expected with in-memory buffers),
    /// [`RecordsError::FieldTooLarge`] if the batch is over `i32::MAX` bytes.
    pub fn finish(self, meta: &BatchMeta) -> Result<Bytes, RecordsError> {
        let mut out = if self.compression == Compression::None {
            self.buf
        } else {
            let records = &self.buf[RECORDS..];
            let mut out = Vec::with_capacity(RECORDS + codec::compress_bound(records.len()));
            out.resize(RECORDS, 0);
            codec::compress(self.compression, records, &mut out)?;
            out
        };
        let length = checked_i32(out.len() - layout::LOG_OVERHEAD, "record batch")?;

        let mut attributes = i16::from(self.compression.id());
        if meta.transactional {
            attributes |= TRANSACTIONAL_BIT;
        }
        if meta.is_control {
            attributes |= CONTROL_BIT;
        }
        let base_timestamp = self.base_timestamp.unwrap_or(-1);
        let max_timestamp = if self.count > 0 {
            self.max_timestamp
        } else {
            -1
        };

        let header = &mut out[..RECORDS];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            header[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&0i64.to_be_bytes()); // base offset
        put(&length.to_be_bytes());
        put(&meta.partition_leader_epoch.to_be_bytes());
        put(&[layout::MAGIC_V2 as u8]);
        put(&0u32.to_be_bytes()); // crc, filled below
        put(&attributes.to_be_bytes());
        put(&(self.count - 1).to_be_bytes()); // last offset delta (-1 when empty)
        put(&base_timestamp.to_be_bytes());
        put(&max_timestamp.to_be_bytes());
        put(&meta.producer_id.to_be_bytes());
        put(&meta.producer_epoch.to_be_bytes());
        put(&meta.base_sequence.to_be_bytes());
        put(&self.count.to_be_bytes());
        debug_assert_eq!(at, RECORDS);

        let crc = layout::batch_crc(&out);
        layout::write_at(&mut out, layout::CRC, &crc.to_be_bytes());
        Ok(Bytes::from(out))
    }
}

/// Rewrites the producer id, epoch and base sequence of a finished batch in place and
/// recomputes its CRC: what an idempotent producer needs when it retries batches after
/// its epoch was bumped. Nothing else in the batch changes, and nothing is re-encoded or
/// re-compressed.
///
/// # Errors
/// [`RecordsError::UnsupportedMagic`] or [`RecordsError::InvalidBatchLength`] if `batch`
/// is not exactly one v2 batch.
pub(crate) fn restamp_producer(
    batch: &mut [u8],
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
) -> Result<(), RecordsError> {
    let base_offset = layout::read_i64(batch, layout::BASE_OFFSET);
    if batch.len() < RECORDS {
        return Err(RecordsError::InvalidBatchLength {
            base_offset,
            length: batch.len() as i64,
        });
    }
    let magic = batch[layout::MAGIC] as i8;
    if magic != layout::MAGIC_V2 {
        return Err(RecordsError::UnsupportedMagic { base_offset, magic });
    }
    let length = layout::read_i32(batch, layout::LENGTH);
    if i64::from(length) != (batch.len() - layout::LOG_OVERHEAD) as i64 {
        return Err(RecordsError::InvalidBatchLength {
            base_offset,
            length: i64::from(length),
        });
    }
    layout::write_at(batch, layout::PRODUCER_ID, &producer_id.to_be_bytes());
    layout::write_at(batch, layout::PRODUCER_EPOCH, &producer_epoch.to_be_bytes());
    layout::write_at(batch, layout::BASE_SEQUENCE, &base_sequence.to_be_bytes());
    let crc = layout::batch_crc(batch);
    layout::write_at(batch, layout::CRC, &crc.to_be_bytes());
    Ok(())
}

/// An upper bound on the size of a batch holding just this record, whatever its
/// timestamp and position: for rejecting records larger than `max.request.size` before
/// they are queued.
pub(crate) fn batch_size_upper_bound(
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) -> usize {
    // Widest timestamp delta (10 bytes) and offset delta (5 bytes).
    let body = body_size(i64::MIN, i32::MIN, key, value, headers);
    RECORDS + 5 + body
}

/// Size of a record without its length prefix.
fn body_size(
    timestamp_delta: i64,
    offset_delta: i32,
    key: Option<&[u8]>,
    value: Option<&[u8]>,
    headers: &[Header],
) -> usize {
    let mut size = 1 // attributes
        + varlong_len(timestamp_delta)
        + varint_len(offset_delta)
        + nullable_size(key)
        + nullable_size(value)
        + varint_len(saturate_i32(headers.len()));
    for h in headers {
        size = size
            .saturating_add(varint_len(saturate_i32(h.key.len())))
            .saturating_add(h.key.len())
            .saturating_add(nullable_size(h.value.as_deref()));
    }
    size
}

fn nullable_size(bytes: Option<&[u8]>) -> usize {
    match bytes {
        None => 1,
        Some(b) => varint_len(saturate_i32(b.len())).saturating_add(b.len()),
    }
}

fn saturate_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn checked_i32(n: usize, field: &'static str) -> Result<i32, RecordsError> {
    i32::try_from(n).map_err(|_| RecordsError::FieldTooLarge { field, length: n })
}

fn nullable_len(bytes: Option<&[u8]>, field: &'static str) -> Result<i32, RecordsError> {
    bytes.map_or(Ok(-1), |b| checked_i32(b.len(), field))
}

#[inline]
fn put_nullable(buf: &mut Vec<u8>, len: i32, bytes: Option<&[u8]>) {
    put_varint(buf, len);
    if let Some(b) = bytes {
        buf.extend_from_slice(b);
    }
}
