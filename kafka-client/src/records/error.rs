//! Errors of the record batch codec.

use super::Compression;

/// What went wrong while encoding or decoding a record batch.
///
/// Decoding errors carry the `base_offset` of the batch they were found in, so a consumer
/// can say which part of a partition is damaged.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordsError {
    /// The batch's stored CRC-32C does not match its contents.
    #[error(
        "record batch at offset {base_offset}: CRC mismatch (stored {expected:#010x}, computed {actual:#010x})"
    )]
    CrcMismatch {
        /// Base offset of the batch.
        base_offset: i64,
        /// CRC stored in the batch header.
        expected: u32,
        /// CRC computed over the batch.
        actual: u32,
    },

    /// The batch is not in the v2 format (magic 2), the only one this codec reads.
    #[error(
        "record batch at offset {base_offset}: unsupported magic {magic} (only v2 batches are supported)"
    )]
    UnsupportedMagic {
        /// Base offset of the batch.
        base_offset: i64,
        /// Magic byte found.
        magic: i8,
    },

    /// The `batchLength` field is smaller than a batch header, or disagrees with the bytes given.
    #[error("record batch at offset {base_offset}: invalid batch length {length}")]
    InvalidBatchLength {
        /// Base offset of the batch.
        base_offset: i64,
        /// Length found in the header.
        length: i64,
    },

    /// The compression bits name a codec that does not exist (5, 6 or 7).
    #[error("record batch at offset {base_offset}: unknown compression codec id {codec}")]
    UnknownCompression {
        /// Base offset of the batch.
        base_offset: i64,
        /// Codec id from the attributes.
        codec: u8,
    },

    /// A length or count field is negative where that is not allowed.
    #[error("record batch at offset {base_offset}: negative {field} {value}")]
    NegativeLength {
        /// Base offset of the batch.
        base_offset: i64,
        /// Field that held the value (e.g. "record length", "header count").
        field: &'static str,
        /// The value found.
        value: i64,
    },

    /// A varint has more groups than its type holds.
    #[error("record batch at offset {base_offset}: varint overflow in {field}")]
    VarintOverflow {
        /// Base offset of the batch.
        base_offset: i64,
        /// Field being read.
        field: &'static str,
    },

    /// A record ended (or the records section ended) before one of its fields did: the
    /// batch is complete but a record inside it is cut short or lies about its length.
    #[error(
        "record batch at offset {base_offset}: truncated record: {field} needs {needed} bytes, {available} left"
    )]
    TruncatedRecord {
        /// Base offset of the batch.
        base_offset: i64,
        /// Field being read.
        field: &'static str,
        /// Bytes the field needs (for a varint, at least one more than available).
        needed: usize,
        /// Bytes left in the record or records section.
        available: usize,
    },

    /// A record's declared length disagrees with the fields it holds.
    #[error(
        "record batch at offset {base_offset}: record declares {declared} bytes but its fields take {actual}"
    )]
    RecordSizeMismatch {
        /// Base offset of the batch.
        base_offset: i64,
        /// Record length from its length prefix.
        declared: usize,
        /// Bytes its fields used.
        actual: usize,
    },

    /// The records section ended after fewer records than the header declares.
    #[error(
        "record batch at offset {base_offset}: header declares {declared} records but only {actual} are present"
    )]
    RecordCountMismatch {
        /// Base offset of the batch.
        base_offset: i64,
        /// Records count from the header.
        declared: i32,
        /// Records found.
        actual: i32,
    },

    /// Bytes remain in the records section after the declared number of records.
    #[error(
        "record batch at offset {base_offset}: {extra} bytes left after the {declared} declared records"
    )]
    TrailingBytes {
        /// Base offset of the batch.
        base_offset: i64,
        /// Records count from the header.
        declared: i32,
        /// Bytes left over.
        extra: usize,
    },

    /// A header key is not valid UTF-8.
    #[error(
        "record batch at offset {base_offset}: header key of record at offset {offset} is not valid UTF-8"
    )]
    InvalidHeaderKey {
        /// Base offset of the batch.
        base_offset: i64,
        /// Offset of the record.
        offset: i64,
    },

    /// A control batch does not hold a well-formed control record.
    #[error("record batch at offset {base_offset}: invalid control record: {reason}")]
    InvalidControlRecord {
        /// Base offset of the batch.
        base_offset: i64,
        /// What is wrong.
        reason: &'static str,
    },

    /// The compressed records section could not be decompressed.
    #[error("record batch at offset {base_offset}: {codec} decompression failed: {source}")]
    Decompress {
        /// Base offset of the batch.
        base_offset: i64,
        /// Codec used.
        codec: Compression,
        /// The codec's error.
        #[source]
        source: std::io::Error,
    },

    /// Decompressing would exceed the configured limit (compression-bomb protection).
    #[error(
        "record batch at offset {base_offset}: {codec} data decompresses to more than the {limit}-byte limit"
    )]
    DecompressedTooLarge {
        /// Base offset of the batch.
        base_offset: i64,
        /// Codec used.
        codec: Compression,
        /// The limit in force ([`DecodeLimits::max_decompressed_bytes`](super::DecodeLimits)).
        limit: usize,
    },

    /// The records section could not be compressed.
    #[error("{codec} compression failed: {source}")]
    Compress {
        /// Codec used.
        codec: Compression,
        /// The codec's error.
        #[source]
        source: std::io::Error,
    },

    /// A key, value, header or record is too long to encode (over `i32::MAX` bytes), or a
    /// batch would hold more than `i32::MAX` records.
    #[error("{field} of {length} is too large to encode")]
    FieldTooLarge {
        /// What was too large.
        field: &'static str,
        /// Its length.
        length: usize,
    },
}

/// A compression name that is not one of `none`, `gzip`, `snappy`, `lz4`, `zstd`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown compression type {value:?}: expected one of none, gzip, snappy, lz4, zstd")]
pub struct ParseCompressionError {
    /// The value that was given.
    pub value: String,
}
