//! One partition's in-memory log: record batches stored as the producer sent them, with
//! the base offset stamped (as a broker does), plus the transaction state that decides
//! the last stable offset and the aborted ranges read_committed consumers skip.

use std::collections::{BTreeMap, HashMap, VecDeque};

use bytes::{Bytes, BytesMut};
use kafka_client::records::{DecodeLimits, Record, decode_batches};

/// A transaction that ended with an abort: its producer and first offset, and the
/// offset of its abort marker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Aborted {
    pub producer_id: i64,
    pub first_offset: i64,
    pub marker_offset: i64,
}

#[derive(Debug, Default)]
pub(crate) struct PartitionLog {
    /// (base offset, batch bytes with the base offset stamped).
    batches: Vec<(i64, Bytes)>,
    end: i64,
    /// Open transactions: producer id → first offset written in it.
    open: BTreeMap<i64, i64>,
    aborted: Vec<Aborted>,
    /// The last batches of each idempotent producer: (epoch, base sequence) → base
    /// offset, so that a retried batch is acknowledged, not written twice.
    recent: HashMap<i64, VecDeque<(BatchId, i64)>>,
}

/// An idempotent batch's (producer epoch, base sequence).
type BatchId = (i16, i32);

/// Batches per producer remembered for duplicate detection (the broker keeps 5).
const RECENT_BATCHES: usize = 5;

impl PartitionLog {
    /// The log end offset (high watermark: every write is fully replicated here).
    pub fn end_offset(&self) -> i64 {
        self.end
    }

    /// The last stable offset: the first offset of the oldest open transaction, or the
    /// end offset.
    pub fn last_stable_offset(&self) -> i64 {
        self.open.values().copied().min().unwrap_or(self.end)
    }

    /// Appends the batches of a Produce request's partition; returns the base offset of
    /// the first. `None` (nothing appended) when a batch is corrupt or truncated.
    pub fn append(&mut self, data: Bytes) -> Option<i64> {
        let mut parsed = Vec::new();
        let mut decoder = decode_batches(data, DecodeLimits::default());
        for batch in &mut decoder {
            parsed.push(batch.ok()?);
        }
        if decoder.is_truncated() || decoder.remaining_bytes() > 0 || parsed.is_empty() {
            return None;
        }
        // A retry of a batch already written (same producer, epoch and sequence): the
        // broker acknowledges it with the offset it got the first time.
        if let [batch] = parsed.as_slice() {
            let (id, epoch) = (batch.producer_id(), batch.producer_epoch());
            if let Some(offset) = self.duplicate_of(id, epoch, batch.base_sequence()) {
                return Some(offset);
            }
        }
        let first = self.end;
        for batch in parsed {
            let mut bytes = BytesMut::from(&batch.as_bytes()[..]);
            bytes[..8].copy_from_slice(&self.end.to_be_bytes());
            if batch.is_transactional() && !batch.is_control() {
                self.open.entry(batch.producer_id()).or_insert(self.end);
            }
            if batch.producer_id() >= 0 && batch.base_sequence() >= 0 {
                let recent = self.recent.entry(batch.producer_id()).or_default();
                if recent.len() == RECENT_BATCHES {
                    recent.pop_front();
                }
                recent.push_back(((batch.producer_epoch(), batch.base_sequence()), self.end));
            }
            self.batches.push((self.end, bytes.freeze()));
            self.end += i64::from(batch.last_offset_delta()) + 1;
        }
        Some(first)
    }

    fn duplicate_of(&self, producer_id: i64, epoch: i16, sequence: i32) -> Option<i64> {
        if producer_id < 0 || sequence < 0 {
            return None;
        }
        self.recent
            .get(&producer_id)?
            .iter()
            .find(|(key, _)| *key == (epoch, sequence))
            .map(|(_, offset)| *offset)
    }

    /// Whether `producer_id` has an open transaction here.
    pub fn has_open(&self, producer_id: i64) -> bool {
        self.open.contains_key(&producer_id)
    }

    /// Ends `producer_id`'s open transaction with a commit or abort marker.
    pub fn end_transaction(&mut self, producer_id: i64, epoch: i16, commit: bool) {
        let Some(first_offset) = self.open.remove(&producer_id) else {
            return;
        };
        let marker_offset = self.end;
        if !commit {
            self.aborted.push(Aborted {
                producer_id,
                first_offset,
                marker_offset,
            });
        }
        let bytes = crate::raw::marker_batch(producer_id, epoch, commit, marker_offset, 0);
        self.batches.push((marker_offset, bytes));
        self.end += 1;
    }

    /// Batches from the one holding `offset`, up to `max_bytes` (at least one batch),
    /// and not past `limit` (the end offset or, for read_committed, the last stable one).
    pub fn read(&self, offset: i64, limit: i64, max_bytes: usize) -> Bytes {
        let start = self
            .batches
            .partition_point(|(base, b)| base + last_delta(b) < offset);
        let mut out = BytesMut::new();
        for (base, bytes) in &self.batches[start..] {
            if *base >= limit || (!out.is_empty() && out.len() + bytes.len() > max_bytes) {
                break;
            }
            out.extend_from_slice(bytes);
        }
        out.freeze()
    }

    /// The batches from the one holding `offset` on: (base offset, last offset, whether
    /// it is a control batch, its bytes).
    pub fn batches_from(&self, offset: i64) -> impl Iterator<Item = (i64, i64, bool, Bytes)> + '_ {
        let start = self
            .batches
            .partition_point(|(base, b)| base + last_delta(b) < offset);
        self.batches[start..].iter().map(|(base, bytes)| {
            // Attributes bit 5: a control batch.
            let control = bytes[22] & 0x20 != 0;
            (*base, base + last_delta(bytes), control, bytes.clone())
        })
    }

    /// The aborted transactions a read_committed fetch from `offset` up to `limit`
    /// must be told about.
    pub fn aborted_between(&self, offset: i64, limit: i64) -> Vec<Aborted> {
        self.aborted
            .iter()
            .filter(|a| a.marker_offset >= offset && a.first_offset < limit)
            .copied()
            .collect()
    }

    /// The first offset whose batch's largest timestamp is at least `timestamp` (batch
    /// granularity), or the end offset.
    pub fn offset_for_time(&self, timestamp: i64) -> i64 {
        self.batches
            .iter()
            .find(|(_, b)| max_timestamp(b) >= timestamp)
            .map_or(self.end, |(base, _)| *base)
    }

    /// Every data record, decoded (control records left out).
    pub fn records(&self) -> Vec<Record> {
        let mut out = Vec::new();
        for (_, bytes) in &self.batches {
            for batch in decode_batches(bytes.clone(), DecodeLimits::default()).flatten() {
                if !batch.is_control() {
                    out.extend(batch.records_vec().unwrap_or_default());
                }
            }
        }
        out
    }
}

fn last_delta(batch: &Bytes) -> i64 {
    i64::from(i32::from_be_bytes([
        batch[23], batch[24], batch[25], batch[26],
    ]))
}

fn max_timestamp(batch: &Bytes) -> i64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&batch[35..43]);
    i64::from_be_bytes(b)
}
