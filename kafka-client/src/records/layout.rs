//! Byte layout of a v2 record batch header (`DefaultRecordBatch` in the Java client).
//!
//! ```text
//! offset  size  field
//!      0     8  baseOffset
//!      8     4  batchLength           (bytes after this field)
//!     12     4  partitionLeaderEpoch
//!     16     1  magic                 (2)
//!     17     4  crc                   (CRC-32C of bytes 21..end)
//!     21     2  attributes
//!     23     4  lastOffsetDelta
//!     27     8  baseTimestamp
//!     35     8  maxTimestamp
//!     43     8  producerId
//!     51     2  producerEpoch
//!     53     4  baseSequence
//!     57     4  records count
//!     61     …  records (compressed as a whole when attributes say so)
//! ```

pub(crate) const BASE_OFFSET: usize = 0;
pub(crate) const LENGTH: usize = 8;
pub(crate) const PARTITION_LEADER_EPOCH: usize = 12;
pub(crate) const MAGIC: usize = 16;
pub(crate) const CRC: usize = 17;
pub(crate) const ATTRIBUTES: usize = 21;
pub(crate) const LAST_OFFSET_DELTA: usize = 23;
pub(crate) const BASE_TIMESTAMP: usize = 27;
pub(crate) const MAX_TIMESTAMP: usize = 35;
pub(crate) const PRODUCER_ID: usize = 43;
pub(crate) const PRODUCER_EPOCH: usize = 51;
pub(crate) const BASE_SEQUENCE: usize = 53;
pub(crate) const RECORDS_COUNT: usize = 57;
/// First byte of the records section; also the size of an empty batch.
pub(crate) const RECORDS: usize = 61;

/// Bytes before the length-delimited part of a batch (baseOffset + batchLength).
pub(crate) const LOG_OVERHEAD: usize = 12;
/// Bytes needed to see a batch's magic byte.
pub(crate) const HEADER_UP_TO_MAGIC: usize = MAGIC + 1;
/// Smallest legal `batchLength`: a batch with no records.
pub(crate) const MIN_BATCH_LENGTH: i32 = (RECORDS - LOG_OVERHEAD) as i32;

/// The only record batch format this codec reads and writes.
pub(crate) const MAGIC_V2: i8 = 2;

/// Attribute bits 0-2: compression codec id.
pub(crate) const COMPRESSION_MASK: i16 = 0x07;
/// Attribute bit 3: timestamps are log-append time.
pub(crate) const TIMESTAMP_TYPE_BIT: i16 = 0x08;
/// Attribute bit 4: the batch belongs to a transaction.
pub(crate) const TRANSACTIONAL_BIT: i16 = 0x10;
/// Attribute bit 5: the batch holds a control record (transaction marker).
pub(crate) const CONTROL_BIT: i16 = 0x20;

/// Big-endian integer readers over a slice whose length the caller has checked.
/// They return 0 rather than panic if that check was ever wrong.
pub(crate) fn read_i64(buf: &[u8], at: usize) -> i64 {
    buf.get(at..at + 8)
        .and_then(|s| s.try_into().ok())
        .map_or(0, i64::from_be_bytes)
}

pub(crate) fn read_i32(buf: &[u8], at: usize) -> i32 {
    buf.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, i32::from_be_bytes)
}

pub(crate) fn read_u32(buf: &[u8], at: usize) -> u32 {
    buf.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_be_bytes)
}

pub(crate) fn read_i16(buf: &[u8], at: usize) -> i16 {
    buf.get(at..at + 2)
        .and_then(|s| s.try_into().ok())
        .map_or(0, i16::from_be_bytes)
}

/// Writes `bytes` at `at` if it fits (callers size the buffer first).
pub(crate) fn write_at(buf: &mut [u8], at: usize, bytes: &[u8]) {
    if let Some(dst) = buf.get_mut(at..at + bytes.len()) {
        dst.copy_from_slice(bytes);
    }
}

/// CRC-32C of everything from the attributes field to the end of the batch.
pub(crate) fn batch_crc(batch: &[u8]) -> u32 {
    crc32c::crc32c(batch.get(ATTRIBUTES..).unwrap_or(&[]))
}
