//! Records and headers as the consumer sees them, and the lazy parser over a batch's
//! (decompressed) records section.
//!
//! Each record on the wire:
//! ```text
//! length varint | attributes i8 | timestampDelta varlong | offsetDelta varint |
//! keyLength varint (-1 null) | key | valueLength varint (-1 null) | value |
//! headerCount varint | headers...
//! header: keyLength varint | key (UTF-8) | valueLength varint (-1 null) | value
//! ```

use std::fmt;
use std::iter::FusedIterator;

use bytes::Bytes;

use super::RecordsError;
use super::varint::{self, VarintError};

/// A record header. Kafka allows several headers with the same key; their order and
/// duplicates are kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// Header key (UTF-8).
    pub key: String,
    /// Header value; `None` is a null value (distinct from an empty one).
    pub value: Option<Bytes>,
}

impl Header {
    /// A header with the given key and value.
    pub fn new(key: impl Into<String>, value: Option<Bytes>) -> Self {
        Header {
            key: key.into(),
            value,
        }
    }
}

/// One decoded record. `key` and `value` share the fetched (or decompressed) buffer:
/// no bytes are copied for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Absolute offset (batch base offset + offset delta).
    pub offset: i64,
    /// Timestamp in milliseconds: create time, or the batch's log-append time when the
    /// batch uses log-append timestamps.
    pub timestamp: i64,
    /// Key; `None` is a null key.
    pub key: Option<Bytes>,
    /// Value; `None` is a null value (a tombstone on compacted topics).
    pub value: Option<Bytes>,
    /// Headers in wire order.
    pub headers: Vec<Header>,
}

/// Smallest possible encoded record: a one-byte length and six one-byte fields.
pub(crate) const MIN_RECORD_SIZE: usize = 7;

/// Lazy iterator over the records of one batch, from
/// [`RecordBatch::records`](super::RecordBatch::records).
///
/// Yields `Err` once and then stops if the records section is malformed: a record cut
/// short, fewer or more records than the batch header declares, a bad length or varint.
#[derive(Clone)]
pub struct Records {
    data: Bytes,
    pos: usize,
    declared: i32,
    remaining: i32,
    base_offset: i64,
    base_timestamp: i64,
    /// `Some(max_timestamp)` when the batch uses log-append time.
    log_append_time: Option<i64>,
    failed: bool,
}

impl fmt::Debug for Records {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Records")
            .field("base_offset", &self.base_offset)
            .field("declared", &self.declared)
            .field("remaining", &self.remaining)
            .field("pos", &self.pos)
            .field("len", &self.data.len())
            .field("failed", &self.failed)
            .finish()
    }
}

impl Records {
    pub(crate) fn new(
        data: Bytes,
        declared: i32,
        base_offset: i64,
        base_timestamp: i64,
        log_append_time: Option<i64>,
    ) -> Self {
        Records {
            data,
            pos: 0,
            declared,
            remaining: declared.max(0),
            base_offset,
            base_timestamp,
            log_append_time,
            failed: false,
        }
    }

    /// Records still to be yielded according to the batch header.
    pub fn remaining(&self) -> usize {
        if self.failed {
            0
        } else {
            self.remaining as usize
        }
    }

    /// How many records to reserve room for: the header's count is untrusted, so never
    /// more than the bytes left could hold.
    pub(crate) fn capacity_bound(&self) -> usize {
        self.remaining()
            .min((self.data.len() - self.pos) / MIN_RECORD_SIZE + 1)
    }

    /// Parses the record at `self.pos`.
    fn parse_next(&mut self) -> Result<Record, RecordsError> {
        let data = &self.data[..];
        let mut cur = Cursor {
            buf: data,
            pos: self.pos,
            end: data.len(),
            base_offset: self.base_offset,
        };
        let length = cur.varint("record length")?;
        let length = cur.non_negative(length, "record length")?;
        let start = cur.pos;
        if length > cur.end - start {
            return Err(RecordsError::TruncatedRecord {
                base_offset: self.base_offset,
                field: "record",
                needed: length,
                available: cur.end - start,
            });
        }
        // From here on nothing may be read past this record.
        cur.end = start + length;

        let _attributes = cur.byte("record attributes")?;
        let timestamp_delta = cur.varlong("timestamp delta")?;
        let offset_delta = cur.varint("offset delta")?;
        let offset = self.base_offset.wrapping_add(i64::from(offset_delta));
        let timestamp = self
            .log_append_time
            .unwrap_or_else(|| self.base_timestamp.wrapping_add(timestamp_delta));

        let key = cur.nullable_bytes("key length", "key")?;
        let value = cur.nullable_bytes("value length", "value")?;

        let header_count = cur.varint("header count")?;
        let header_count = cur.non_negative(header_count, "header count")?;
        // Each header takes at least two bytes: never reserve more than the record can hold.
        let mut headers = Vec::with_capacity(header_count.min((cur.end - cur.pos) / 2));
        for _ in 0..header_count {
            let key_len = cur.varint("header key length")?;
            let key_len = cur.non_negative(key_len, "header key length")?;
            let key_range = cur.take(key_len, "header key")?;
            let key = std::str::from_utf8(&data[key_range])
                .map_err(|_| RecordsError::InvalidHeaderKey {
                    base_offset: self.base_offset,
                    offset,
                })?
                .to_owned();
            let value = cur.nullable_bytes("header value length", "header value")?;
            headers.push(Header {
                key,
                value: value.map(|r| self.data.slice(r)),
            });
        }

        if cur.pos != cur.end {
            return Err(RecordsError::RecordSizeMismatch {
                base_offset: self.base_offset,
                declared: length,
                actual: cur.pos - start,
            });
        }
        self.pos = cur.end;
        Ok(Record {
            offset,
            timestamp,
            key: key.map(|r| self.data.slice(r)),
            value: value.map(|r| self.data.slice(r)),
            headers,
        })
    }

    /// Error for a records section that ran out or ran over, if the count is reached or
    /// the data ended.
    fn check_end(&self) -> Option<RecordsError> {
        let left = self.data.len() - self.pos;
        if self.remaining == 0 && left > 0 {
            Some(RecordsError::TrailingBytes {
                base_offset: self.base_offset,
                declared: self.declared,
                extra: left,
            })
        } else if self.remaining > 0 && left == 0 {
            Some(RecordsError::RecordCountMismatch {
                base_offset: self.base_offset,
                declared: self.declared,
                actual: self.declared - self.remaining,
            })
        } else {
            None
        }
    }
}

impl Iterator for Records {
    type Item = Result<Record, RecordsError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if let Some(err) = self.check_end() {
            self.failed = true;
            return Some(Err(err));
        }
        if self.remaining == 0 {
            return None;
        }
        match self.parse_next() {
            Ok(record) => {
                self.remaining -= 1;
                Some(Ok(record))
            }
            Err(err) => {
                self.failed = true;
                Some(Err(err))
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.failed {
            (0, Some(0))
        } else {
            // One more item may be an error about the section's end.
            (0, Some(self.remaining as usize + 1))
        }
    }
}

impl FusedIterator for Records {}

/// Bounds-checked reader over one record. Returns byte ranges rather than slices so the
/// caller can turn them into `Bytes` sharing the batch buffer.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
    base_offset: i64,
}

impl Cursor<'_> {
    fn window(&self) -> &[u8] {
        &self.buf[..self.end]
    }

    fn varint_error(&self, e: VarintError, field: &'static str) -> RecordsError {
        match e {
            VarintError::Overflow => RecordsError::VarintOverflow {
                base_offset: self.base_offset,
                field,
            },
            VarintError::Truncated => RecordsError::TruncatedRecord {
                base_offset: self.base_offset,
                field,
                needed: self.end - self.pos + 1,
                available: self.end - self.pos,
            },
        }
    }

    fn varint(&mut self, field: &'static str) -> Result<i32, RecordsError> {
        let mut pos = self.pos;
        let v = varint::read_varint(self.window(), &mut pos)
            .map_err(|e| self.varint_error(e, field))?;
        self.pos = pos;
        Ok(v)
    }

    fn varlong(&mut self, field: &'static str) -> Result<i64, RecordsError> {
        let mut pos = self.pos;
        let v = varint::read_varlong(self.window(), &mut pos)
            .map_err(|e| self.varint_error(e, field))?;
        self.pos = pos;
        Ok(v)
    }

    fn byte(&mut self, field: &'static str) -> Result<u8, RecordsError> {
        let range = self.take(1, field)?;
        Ok(self.buf[range.start])
    }

    fn non_negative(&self, value: i32, field: &'static str) -> Result<usize, RecordsError> {
        usize::try_from(value).map_err(|_| RecordsError::NegativeLength {
            base_offset: self.base_offset,
            field,
            value: i64::from(value),
        })
    }

    fn take(
        &mut self,
        len: usize,
        field: &'static str,
    ) -> Result<std::ops::Range<usize>, RecordsError> {
        let available = self.end - self.pos;
        if len > available {
            return Err(RecordsError::TruncatedRecord {
                base_offset: self.base_offset,
                field,
                needed: len,
                available,
            });
        }
        let start = self.pos;
        self.pos += len;
        Ok(start..self.pos)
    }

    /// A length-prefixed byte string where -1 means null.
    fn nullable_bytes(
        &mut self,
        length_field: &'static str,
        field: &'static str,
    ) -> Result<Option<std::ops::Range<usize>>, RecordsError> {
        let len = self.varint(length_field)?;
        if len == -1 {
            return Ok(None);
        }
        let len = self.non_negative(len, length_field)?;
        self.take(len, field).map(Some)
    }
}
