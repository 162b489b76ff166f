//! Record batch v2 codec: the bytes inside Produce requests and Fetch responses.
//!
//! Kafka stores and ships records in batches (magic 2, `DefaultRecordBatch` in the Java
//! client): a 61-byte header with offsets, timestamps, producer state and a CRC-32C,
//! followed by the records, compressed as a whole when the batch says so. We own this
//! codec rather than use kafka-protocol's, which merges duplicate header keys, fails a
//! whole fetch on the partial last batch brokers send, copies each batch once more and
//! builds C compression libraries. All codecs here are pure Rust.
//!
//! - Producing: [`BatchBuilder`] appends records into one buffer and
//!   [`finish`](BatchBuilder::finish)es into the batch bytes; `restamp_producer` (crate-private) rewrites
//!   producer id/epoch/sequence of a finished batch for retries after an epoch bump.
//! - Consuming: [`decode_batches`] iterates [`RecordBatch`]es over a fetch buffer without
//!   copying; [`RecordBatch::records`] parses [`Record`]s lazily, with keys and values as
//!   `Bytes` slices of the (decompressed) buffer.
//!
//! File map: `layout.rs` header offsets and attribute bits, `varint.rs` zig-zag varints,
//! `compression.rs` the [`Compression`] enum, `codec.rs` compress/decompress with a size
//! bound, `xerial.rs` snappy framing, `encode.rs` building, `decode.rs` batches,
//! `record.rs` records and headers, `control.rs` transaction markers, `error.rs` errors.
//!
//! ```
//! use kafka_client::records::{
//!     decode_batches, BatchBuilder, BatchMeta, Compression, DecodeLimits, Header,
//! };
//!
//! let mut builder = BatchBuilder::new(Compression::Zstd, 1 << 20);
//! let headers = [Header::new("h", Some("1".into())), Header::new("h", None)];
//! builder.append(1_700_000_000_000, Some(b"k"), Some(b"v"), &headers).unwrap();
//! builder.append(1_700_000_000_005, None, None, &[]).unwrap();
//! let bytes = builder.finish(&BatchMeta::default()).unwrap();
//!
//! let mut batches = decode_batches(bytes, DecodeLimits::default());
//! let batch = batches.next().unwrap().unwrap();
//! assert_eq!(batch.records_count(), 2);
//! let records = batch.records_vec().unwrap();
//! assert_eq!(records[0].headers, headers);
//! assert_eq!(records[1].offset, 1);
//! assert_eq!(records[1].value, None);
//! assert!(batches.next().is_none() && !batches.is_truncated());
//! ```

pub(crate) mod codec;
mod compression;
mod control;
mod decode;
mod encode;
mod error;
mod layout;
mod record;
mod varint;
mod xerial;

pub use compression::Compression;
pub use control::{ControlRecord, ControlRecordType};
pub use decode::{
    BatchDecoder, DEFAULT_MAX_DECOMPRESSED_BYTES, DecodeLimits, RecordBatch, TimestampType,
    decode_batches,
};
pub(crate) use encode::{BATCH_HEADER_SIZE, batch_size_upper_bound, restamp_producer};
pub use encode::{BatchBuilder, BatchMeta};

#[cfg(test)]
mod codec_tests;
pub use error::{ParseCompressionError, RecordsError};
pub use record::{Header, Record, Records};

/// CRC-32C (Castagnoli), the checksum v2 batches use over attributes..end.
pub fn crc32c(data: &[u8]) -> u32 {
    crc32c::crc32c(data)
}
