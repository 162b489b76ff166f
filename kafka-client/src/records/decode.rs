//! Reading record batches from a fetch response's records bytes.
//!
//! [`decode_batches`] walks the batches one at a time without copying: each
//! [`RecordBatch`] holds a `Bytes` slice of the input. Brokers cut the last batch short
//! when a fetch reaches its byte limit; that partial batch ends the iteration cleanly and
//! is reported by [`BatchDecoder::is_truncated`], never as an error. Records are parsed
//! (and decompressed) only when [`RecordBatch::records`] is called, so batches a consumer
//! skips (aborted transactions, control batches, offsets before its position) cost
//! nothing but a header read.

use std::fmt;
use std::iter::FusedIterator;

use bytes::Bytes;

use super::layout::{self, LOG_OVERHEAD, MAGIC_V2, MIN_BATCH_LENGTH, RECORDS};
use super::{Compression, ControlRecord, Record, Records, RecordsError, codec};

/// Default for [`DecodeLimits::max_decompressed_bytes`]: 64 MiB.
pub const DEFAULT_MAX_DECOMPRESSED_BYTES: usize = 64 * 1024 * 1024;

/// Safety limits for decoding untrusted batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Most bytes one batch's records section may decompress to; more is reported as
    /// [`RecordsError::DecompressedTooLarge`] without producing the excess.
    pub max_decompressed_bytes: usize,
    /// Whether to check each batch's CRC-32C (on by default; the Java consumer's
    /// `check.crcs`).
    pub verify_crc: bool,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_decompressed_bytes: DEFAULT_MAX_DECOMPRESSED_BYTES,
            verify_crc: true,
        }
    }
}

/// How a batch's timestamps are to be read (attributes bit 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimestampType {
    /// Timestamps set by the producer.
    CreateTime,
    /// The broker's append time, stored as the batch's max timestamp.
    LogAppendTime,
}

/// Iterates over the record batches in `data` (the `records` field of one partition in a
/// Fetch response). See [`BatchDecoder`].
pub fn decode_batches(data: Bytes, limits: DecodeLimits) -> BatchDecoder {
    BatchDecoder::new(data, limits)
}

/// Iterator over the complete record batches in a buffer.
///
/// Yields `Ok` for each well-formed batch. A batch whose bytes are all present but whose
/// header is corrupt (wrong CRC, unknown codec, negative count) yields `Err` and the
/// iteration goes on with the next batch, since the framing is intact. A framing error
/// (wrong magic, impossible length) yields `Err` and ends the iteration, as nothing after
/// it can be located. A partial batch at the end ends the iteration with
/// [`is_truncated`](Self::is_truncated) set.
#[derive(Clone)]
pub struct BatchDecoder {
    data: Bytes,
    pos: usize,
    limits: DecodeLimits,
    truncated: bool,
    done: bool,
}

// Debug output shows positions, not the (possibly megabytes of) data.
impl fmt::Debug for BatchDecoder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BatchDecoder")
            .field("len", &self.data.len())
            .field("pos", &self.pos)
            .field("limits", &self.limits)
            .field("truncated", &self.truncated)
            .field("done", &self.done)
            .finish()
    }
}

impl BatchDecoder {
    /// A decoder over `data`.
    pub fn new(data: Bytes, limits: DecodeLimits) -> Self {
        BatchDecoder {
            data,
            pos: 0,
            limits,
            truncated: false,
            done: false,
        }
    }

    /// Whether the iteration stopped at a partial batch (the broker's byte limit cut it).
    /// Meaningful once the iterator has returned `None`; if no batch came out at all the
    /// consumer's fetch size is smaller than the first batch.
    pub fn is_truncated(&self) -> bool {
        self.truncated
    }

    /// Bytes not consumed yet (including a partial trailing batch).
    pub fn remaining_bytes(&self) -> usize {
        self.data.len() - self.pos
    }

    fn stop(&mut self, truncated: bool) -> Option<Result<RecordBatch, RecordsError>> {
        self.done = true;
        self.truncated = truncated;
        None
    }

    fn fail(&mut self, err: RecordsError) -> Option<Result<RecordBatch, RecordsError>> {
        self.done = true;
        Some(Err(err))
    }
}

impl Iterator for BatchDecoder {
    type Item = Result<RecordBatch, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let rest = &self.data[self.pos..];
        if rest.is_empty() {
            return self.stop(false);
        }
        if rest.len() < layout::HEADER_UP_TO_MAGIC {
            return self.stop(true);
        }
        let base_offset = layout::read_i64(rest, layout::BASE_OFFSET);
        let length = layout::read_i32(rest, layout::LENGTH);
        let magic = rest[layout::MAGIC] as i8;
        if magic != MAGIC_V2 {
            return self.fail(RecordsError::UnsupportedMagic { base_offset, magic });
        }
        if length < MIN_BATCH_LENGTH {
            return self.fail(RecordsError::InvalidBatchLength {
                base_offset,
                length: i64::from(length),
            });
        }
        let size = LOG_OVERHEAD + length as usize;
        if rest.len() < size {
            return self.stop(true);
        }
        let batch = self.data.slice(self.pos..self.pos + size);
        self.pos += size;
        Some(RecordBatch::parse(batch, self.limits))
    }
}

impl FusedIterator for BatchDecoder {}

/// One v2 record batch: its header fields, read eagerly, and its records, parsed lazily.
#[derive(Clone)]
pub struct RecordBatch {
    /// The whole batch as it came off the wire.
    raw: Bytes,
    base_offset: i64,
    partition_leader_epoch: i32,
    crc: u32,
    attributes: i16,
    compression: Compression,
    last_offset_delta: i32,
    base_timestamp: i64,
    max_timestamp: i64,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    records_count: i32,
    max_decompressed_bytes: usize,
}

impl fmt::Debug for RecordBatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordBatch")
            .field("base_offset", &self.base_offset)
            .field("last_offset_delta", &self.last_offset_delta)
            .field("records_count", &self.records_count)
            .field("size_in_bytes", &self.raw.len())
            .field("compression", &self.compression)
            .field("attributes", &self.attributes)
            .field("partition_leader_epoch", &self.partition_leader_epoch)
            .field("base_timestamp", &self.base_timestamp)
            .field("max_timestamp", &self.max_timestamp)
            .field("producer_id", &self.producer_id)
            .field("producer_epoch", &self.producer_epoch)
            .field("base_sequence", &self.base_sequence)
            .field("crc", &self.crc)
            .finish()
    }
}

impl RecordBatch {
    /// Parses a single complete batch (e.g. one from
    /// [`BatchBuilder::finish`](super::BatchBuilder::finish)).
    ///
    /// # Errors
    /// Bad magic or length, CRC mismatch (when `limits.verify_crc`), unknown compression,
    /// negative records count.
    pub fn parse(raw: Bytes, limits: DecodeLimits) -> Result<Self, RecordsError> {
        let b = &raw[..];
        let base_offset = layout::read_i64(b, layout::BASE_OFFSET);
        if b.len() < RECORDS {
            return Err(RecordsError::InvalidBatchLength {
                base_offset,
                length: b.len() as i64,
            });
        }
        let magic = b[layout::MAGIC] as i8;
        if magic != MAGIC_V2 {
            return Err(RecordsError::UnsupportedMagic { base_offset, magic });
        }
        let length = layout::read_i32(b, layout::LENGTH);
        if i64::from(length) != (b.len() - LOG_OVERHEAD) as i64 {
            return Err(RecordsError::InvalidBatchLength {
                base_offset,
                length: i64::from(length),
            });
        }
        let crc = layout::read_u32(b, layout::CRC);
        if limits.verify_crc {
            let actual = layout::batch_crc(b);
            if actual != crc {
                return Err(RecordsError::CrcMismatch {
                    base_offset,
                    expected: crc,
                    actual,
                });
            }
        }
        let attributes = layout::read_i16(b, layout::ATTRIBUTES);
        let compression =
            Compression::from_attributes(attributes).ok_or(RecordsError::UnknownCompression {
                base_offset,
                codec: (attributes & layout::COMPRESSION_MASK) as u8,
            })?;
        let records_count = layout::read_i32(b, layout::RECORDS_COUNT);
        if records_count < 0 {
            return Err(RecordsError::NegativeLength {
                base_offset,
                field: "records count",
                value: i64::from(records_count),
            });
        }
        Ok(RecordBatch {
            base_offset,
            partition_leader_epoch: layout::read_i32(b, layout::PARTITION_LEADER_EPOCH),
            crc,
            attributes,
            compression,
            last_offset_delta: layout::read_i32(b, layout::LAST_OFFSET_DELTA),
            base_timestamp: layout::read_i64(b, layout::BASE_TIMESTAMP),
            max_timestamp: layout::read_i64(b, layout::MAX_TIMESTAMP),
            producer_id: layout::read_i64(b, layout::PRODUCER_ID),
            producer_epoch: layout::read_i16(b, layout::PRODUCER_EPOCH),
            base_sequence: layout::read_i32(b, layout::BASE_SEQUENCE),
            records_count,
            max_decompressed_bytes: limits.max_decompressed_bytes,
            raw,
        })
    }

    /// Offset of the first record.
    pub fn base_offset(&self) -> i64 {
        self.base_offset
    }

    /// Offset of the last record (base offset + last offset delta). Kept even when
    /// compaction removed that record, so it is where the next fetch starts after
    /// [`next_offset`](Self::next_offset).
    pub fn last_offset(&self) -> i64 {
        self.base_offset
            .wrapping_add(i64::from(self.last_offset_delta))
    }

    /// The offset after this batch.
    pub fn next_offset(&self) -> i64 {
        self.last_offset().wrapping_add(1)
    }

    /// The `lastOffsetDelta` header field.
    pub fn last_offset_delta(&self) -> i32 {
        self.last_offset_delta
    }

    /// Leader epoch of the partition when the batch was appended.
    pub fn partition_leader_epoch(&self) -> i32 {
        self.partition_leader_epoch
    }

    /// The stored CRC-32C.
    pub fn crc(&self) -> u32 {
        self.crc
    }

    /// The raw attributes field.
    pub fn attributes(&self) -> i16 {
        self.attributes
    }

    /// Compression of the records section.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Whether timestamps are create time or log-append time.
    pub fn timestamp_type(&self) -> TimestampType {
        if self.attributes & layout::TIMESTAMP_TYPE_BIT != 0 {
            TimestampType::LogAppendTime
        } else {
            TimestampType::CreateTime
        }
    }

    /// Whether the batch belongs to a transaction.
    pub fn is_transactional(&self) -> bool {
        self.attributes & layout::TRANSACTIONAL_BIT != 0
    }

    /// Whether the batch holds a control record (transaction marker) rather than data.
    pub fn is_control(&self) -> bool {
        self.attributes & layout::CONTROL_BIT != 0
    }

    /// Producer id, or -1.
    pub fn producer_id(&self) -> i64 {
        self.producer_id
    }

    /// Producer epoch, or -1.
    pub fn producer_epoch(&self) -> i16 {
        self.producer_epoch
    }

    /// Sequence number of the first record, or -1.
    pub fn base_sequence(&self) -> i32 {
        self.base_sequence
    }

    /// Timestamp the records' timestamp deltas are relative to.
    pub fn base_timestamp(&self) -> i64 {
        self.base_timestamp
    }

    /// Largest record timestamp (the append time for log-append-time batches).
    pub fn max_timestamp(&self) -> i64 {
        self.max_timestamp
    }

    /// Records count from the header.
    pub fn records_count(&self) -> i32 {
        self.records_count
    }

    /// Size of the batch on the wire.
    pub fn size_in_bytes(&self) -> usize {
        self.raw.len()
    }

    /// The batch's bytes exactly as received (shares the input buffer).
    pub fn as_bytes(&self) -> &Bytes {
        &self.raw
    }

    /// The records, parsed lazily as the iterator advances. Decompresses the records
    /// section first if the batch is compressed (each call decompresses again: call once).
    /// Uncompressed records share the input buffer; compressed ones share the one
    /// decompressed buffer.
    ///
    /// # Errors
    /// [`RecordsError::Decompress`] or [`RecordsError::DecompressedTooLarge`]. Errors in
    /// the records themselves come out of the iterator.
    pub fn records(&self) -> Result<Records, RecordsError> {
        let payload = self.raw.slice(RECORDS..);
        let data = match self.compression {
            Compression::None => payload,
            codec => codec::decompress(
                codec,
                &payload,
                self.max_decompressed_bytes,
                self.base_offset,
            )?,
        };
        let log_append_time =
            (self.timestamp_type() == TimestampType::LogAppendTime).then_some(self.max_timestamp);
        Ok(Records::new(
            data,
            self.records_count,
            self.base_offset,
            self.base_timestamp,
            log_append_time,
        ))
    }

    /// All records in a `Vec` (see [`records`](Self::records)).
    ///
    /// # Errors
    /// The first error met.
    pub fn records_vec(&self) -> Result<Vec<Record>, RecordsError> {
        let records = self.records()?;
        let mut out = Vec::with_capacity(records.capacity_bound());
        for record in records {
            out.push(record?);
        }
        Ok(out)
    }

    /// For a control batch, its control record (the key of its first record);
    /// `Ok(None)` for a data batch.
    ///
    /// # Errors
    /// [`RecordsError::InvalidControlRecord`] if a control batch has no record or a key
    /// shorter than four bytes, or any error from reading the record.
    pub fn control_record(&self) -> Result<Option<ControlRecord>, RecordsError> {
        if !self.is_control() {
            return Ok(None);
        }
        let invalid = |reason| RecordsError::InvalidControlRecord {
            base_offset: self.base_offset,
            reason,
        };
        let record = self
            .records()?
            .next()
            .ok_or_else(|| invalid("control batch has no record"))??;
        let key = record
            .key
            .ok_or_else(|| invalid("control record has a null key"))?;
        ControlRecord::from_key(&key)
            .map(Some)
            .ok_or_else(|| invalid("control record key is shorter than 4 bytes"))
    }
}
