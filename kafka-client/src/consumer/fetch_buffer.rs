//! Fetched data waiting for `poll`: one [`CompletedFetch`] per partition per response,
//! holding the response's complete batches (already CRC-checked, records not yet
//! parsed). `poll` drains them in order: records are parsed lazily, control batches and
//! aborted transactions are skipped, and the partition's position advances past
//! everything handed out or skipped.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use crate::error::Error;
use crate::records::{ControlRecord, ControlRecordType, RecordBatch, Records, TimestampType};

use super::builder::IsolationLevel;
use super::record::{ConsumerRecord, PartitionError};
use super::subscription::{Assignment, PartitionState};
use crate::types::TopicPartition;

/// One partition's data from one Fetch response.
#[derive(Debug)]
pub(crate) struct CompletedFetch {
    pub tp: TopicPartition,
    pub topic: Arc<str>,
    /// The partition's epoch when the fetch was sent: stale after a seek.
    pub epoch: u64,
    pub batches: VecDeque<RecordBatch>,
    /// Aborted transactions `(producer id, first offset)`, by first offset.
    pub aborted: VecDeque<(i64, i64)>,
    /// Producers whose current transaction is aborted (read_committed).
    aborted_pids: HashSet<i64>,
    /// An error met after `batches` (a corrupt batch): delivered once they are drained.
    pub error: Option<Error>,
    /// Bytes of fetch response this holds (for the prefetch bound).
    pub bytes: usize,
    current: Option<CurrentBatch>,
}

#[derive(Debug)]
struct CurrentBatch {
    records: Records,
    next_offset: i64,
    timestamp_type: TimestampType,
    leader_epoch: Option<i32>,
}

impl CompletedFetch {
    pub(crate) fn new(
        tp: TopicPartition,
        topic: Arc<str>,
        epoch: u64,
        batches: Vec<RecordBatch>,
        mut aborted: Vec<(i64, i64)>,
        error: Option<Error>,
        bytes: usize,
    ) -> Self {
        aborted.sort_by_key(|&(_, first)| first);
        Self {
            tp,
            topic,
            epoch,
            batches: batches.into(),
            aborted: aborted.into(),
            aborted_pids: HashSet::new(),
            error,
            bytes,
            current: None,
        }
    }

    /// At most how many records it still holds (control and skipped records included).
    fn records_bound(&self) -> usize {
        let current = self.current.as_ref().map_or(0, |c| c.records.remaining());
        self.batches.iter().fold(current, |n, b| {
            n.saturating_add(b.records_count().max(0) as usize)
        })
    }

    /// Whether everything in it has been handed out.
    pub(crate) fn is_drained(&self) -> bool {
        self.current.is_none() && self.batches.is_empty() && self.error.is_none()
    }

    /// Moves records at or after the partition's position into `out`, up to `max`
    /// records in total. Returns a partition error when one is met (the partition is
    /// then marked failed and the rest of this fetch dropped).
    pub(crate) fn drain(
        &mut self,
        part: &mut PartitionState,
        isolation: IsolationLevel,
        max: usize,
        out: &mut Vec<ConsumerRecord>,
    ) -> Option<PartitionError> {
        while out.len() < max {
            if let Some(cur) = &mut self.current {
                match cur.records.next() {
                    Some(Ok(r)) => {
                        if r.offset < part.position {
                            continue;
                        }
                        part.position = r.offset + 1;
                        part.leader_epoch = cur.leader_epoch;
                        out.push(ConsumerRecord {
                            topic: self.topic.clone(),
                            partition: self.tp.partition,
                            offset: r.offset,
                            timestamp: r.timestamp,
                            timestamp_type: cur.timestamp_type,
                            key: r.key,
                            value: r.value,
                            headers: r.headers,
                            leader_epoch: cur.leader_epoch,
                        });
                    }
                    Some(Err(e)) => return Some(self.fail(part, e.into())),
                    None => {
                        part.position = part.position.max(cur.next_offset);
                        self.current = None;
                    }
                }
                continue;
            }
            let Some(batch) = self.batches.pop_front() else {
                return self.error.take().map(|e| self.fail(part, e));
            };
            if batch.next_offset() <= part.position {
                continue;
            }
            if self.skip(&batch, isolation) {
                part.position = part.position.max(batch.next_offset());
                continue;
            }
            match batch.records() {
                Ok(records) => {
                    let epoch = batch.partition_leader_epoch();
                    self.current = Some(CurrentBatch {
                        records,
                        next_offset: batch.next_offset(),
                        timestamp_type: batch.timestamp_type(),
                        leader_epoch: (epoch >= 0).then_some(epoch),
                    });
                }
                Err(e) => return Some(self.fail(part, e.into())),
            }
        }
        None
    }

    /// Whether a batch is skipped: control batches always; under read_committed, data
    /// batches of a transaction the response lists as aborted (the Java consumer's
    /// algorithm: a producer id becomes aborted at its first aborted offset and stops
    /// being so at its abort marker).
    fn skip(&mut self, batch: &RecordBatch, isolation: IsolationLevel) -> bool {
        if isolation == IsolationLevel::ReadCommitted && batch.producer_id() >= 0 {
            while let Some(&(pid, first)) = self.aborted.front() {
                if first > batch.last_offset() {
                    break;
                }
                self.aborted_pids.insert(pid);
                self.aborted.pop_front();
            }
            if batch.is_control() {
                if is_abort_marker(batch) {
                    self.aborted_pids.remove(&batch.producer_id());
                }
            } else if batch.is_transactional() && self.aborted_pids.contains(&batch.producer_id()) {
                return true;
            }
        }
        batch.is_control()
    }

    fn fail(&mut self, part: &mut PartitionState, error: Error) -> PartitionError {
        self.batches.clear();
        self.current = None;
        self.error = None;
        part.fail();
        PartitionError {
            topic_partition: self.tp.clone(),
            error,
        }
    }
}

fn is_abort_marker(batch: &RecordBatch) -> bool {
    let Ok(mut records) = batch.records() else {
        return false;
    };
    match records.next() {
        Some(Ok(r)) => r
            .key
            .as_deref()
            .and_then(ControlRecord::from_key)
            .is_some_and(|c| c.kind == ControlRecordType::Abort),
        _ => false,
    }
}

/// The queue of completed fetches, with its byte count.
#[derive(Debug, Default)]
pub(crate) struct FetchBuffer {
    queue: VecDeque<CompletedFetch>,
    bytes: usize,
}

impl FetchBuffer {
    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn push(&mut self, fetch: CompletedFetch, parts: &mut Assignment) {
        if let Some(p) = parts.get_mut(&fetch.tp) {
            p.buffered_bytes += fetch.bytes;
        }
        self.bytes += fetch.bytes;
        self.queue.push_back(fetch);
    }

    /// At most how many records the buffer holds, counted up to `max`.
    pub(crate) fn records_bound(&self, max: usize) -> usize {
        let mut n = 0usize;
        for f in &self.queue {
            n = n.saturating_add(f.records_bound());
            if n >= max {
                return max;
            }
        }
        n
    }

    /// Drops the buffered data of partitions `matching` says to drop.
    pub(crate) fn discard(
        &mut self,
        parts: &mut Assignment,
        mut matching: impl FnMut(&TopicPartition) -> bool,
    ) {
        let mut freed = 0;
        self.queue.retain(|f| {
            let keep = !matching(&f.tp);
            if !keep {
                freed += f.bytes;
                if let Some(p) = parts.get_mut(&f.tp) {
                    p.buffered_bytes = p.buffered_bytes.saturating_sub(f.bytes);
                }
            }
            keep
        });
        self.bytes = self.bytes.saturating_sub(freed);
    }

    /// Moves up to `max` records (and any partition errors met) out of the buffer.
    pub(crate) fn drain(
        &mut self,
        parts: &mut Assignment,
        isolation: IsolationLevel,
        max: usize,
        records: &mut Vec<ConsumerRecord>,
        errors: &mut Vec<PartitionError>,
    ) {
        let mut i = 0;
        while i < self.queue.len() && records.len() < max {
            let fetch = &mut self.queue[i];
            let state = parts.get_mut(&fetch.tp);
            let stale = state.as_ref().is_none_or(|p| p.epoch != fetch.epoch);
            if !stale {
                let Some(part) = state else { break };
                if !part.deliverable() {
                    i += 1;
                    continue;
                }
                if let Some(err) = fetch.drain(part, isolation, max, records) {
                    errors.push(err);
                }
                if !fetch.is_drained() {
                    break; // `max` reached inside this fetch
                }
            }
            if let Some(done) = self.queue.remove(i) {
                self.bytes = self.bytes.saturating_sub(done.bytes);
                if let Some(p) = parts.get_mut(&done.tp) {
                    p.buffered_bytes = p.buffered_bytes.saturating_sub(done.bytes);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::subscription::InitState;
    use crate::records::{BatchBuilder, BatchMeta, Compression, DecodeLimits, decode_batches};
    use bytes::{Bytes, BytesMut};

    fn batch(base: i64, pid: i64, txn: bool, control: Option<ControlRecordType>) -> Bytes {
        let mut b = BatchBuilder::new(Compression::None, 1 << 16);
        match control {
            Some(kind) => {
                let key = ControlRecord::new(kind).to_key();
                b.append(0, Some(&key), Some(&[0, 0, 0, 0, 0, 0]), &[])
                    .unwrap();
            }
            None => {
                for i in 0..2 {
                    let v = format!("v{}", base + i);
                    b.append(0, None, Some(v.as_bytes()), &[]).unwrap();
                }
            }
        }
        let meta = BatchMeta {
            producer_id: pid,
            producer_epoch: if pid >= 0 { 0 } else { -1 },
            base_sequence: if pid >= 0 { 0 } else { -1 },
            transactional: txn,
            is_control: control.is_some(),
            ..BatchMeta::default()
        };
        let bytes = b.finish(&meta).unwrap();
        // Rewrite the base offset (and so the CRC does not cover it: it is outside).
        let mut m = BytesMut::from(&bytes[..]);
        m[..8].copy_from_slice(&base.to_be_bytes());
        m.freeze()
    }

    fn fetch(parts: &[Bytes], aborted: Vec<(i64, i64)>) -> CompletedFetch {
        let mut all = BytesMut::new();
        for p in parts {
            all.extend_from_slice(p);
        }
        let batches: Vec<_> = decode_batches(all.freeze(), DecodeLimits::default())
            .map(|b| b.unwrap())
            .collect();
        CompletedFetch::new(
            TopicPartition::new("t", 0),
            Arc::from("t"),
            0,
            batches,
            aborted,
            None,
            100,
        )
    }

    fn state() -> PartitionState {
        let mut p = PartitionState::new(Arc::from("t"), InitState::Ready);
        p.seek(0);
        p.epoch = 0;
        p
    }

    fn drain_all(f: &mut CompletedFetch, iso: IsolationLevel) -> (Vec<i64>, i64) {
        let mut p = state();
        let mut out = Vec::new();
        assert!(f.drain(&mut p, iso, 1000, &mut out).is_none());
        (out.iter().map(|r| r.offset).collect(), p.position)
    }

    /// Offsets 0-1 plain, 2-3 txn A (aborted), 4 abort marker, 5-6 txn B, 7 commit
    /// marker, 8-9 txn A again (a new, committed transaction), 10 commit marker.
    fn txn_log() -> Vec<Bytes> {
        use ControlRecordType::{Abort, Commit};
        vec![
            batch(0, -1, false, None),
            batch(2, 7, true, None),
            batch(4, 7, true, Some(Abort)),
            batch(5, 8, true, None),
            batch(7, 8, true, Some(Commit)),
            batch(8, 7, true, None),
            batch(10, 7, true, Some(Commit)),
        ]
    }

    #[test]
    fn read_committed_drops_aborted_and_control() {
        let mut f = fetch(&txn_log(), vec![(7, 2)]);
        let (offsets, position) = drain_all(&mut f, IsolationLevel::ReadCommitted);
        assert_eq!(offsets, vec![0, 1, 5, 6, 8, 9]);
        assert_eq!(position, 11, "control batches advance the position");
    }

    #[test]
    fn read_uncommitted_keeps_aborted_skips_control() {
        let mut f = fetch(&txn_log(), vec![(7, 2)]);
        let (offsets, position) = drain_all(&mut f, IsolationLevel::ReadUncommitted);
        assert_eq!(offsets, vec![0, 1, 2, 3, 5, 6, 8, 9]);
        assert_eq!(position, 11);
    }

    #[test]
    fn drains_in_steps_and_skips_before_position() {
        let mut f = fetch(
            &[batch(0, -1, false, None), batch(2, -1, false, None)],
            vec![],
        );
        let mut p = state();
        p.position = 1;
        let mut out = Vec::new();
        assert!(
            f.drain(&mut p, IsolationLevel::ReadUncommitted, 2, &mut out)
                .is_none()
        );
        assert_eq!(out.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![1, 2]);
        assert!(!f.is_drained());
        out.clear();
        assert!(
            f.drain(&mut p, IsolationLevel::ReadUncommitted, 5, &mut out)
                .is_none()
        );
        assert_eq!(out.iter().map(|r| r.offset).collect::<Vec<_>>(), vec![3]);
        assert_eq!(p.position, 4);
        assert!(f.is_drained());
        assert_eq!(out[0].value.as_deref(), Some(&b"v3"[..]));
    }

    #[test]
    fn trailing_error_is_delivered_after_good_batches() {
        let mut f = fetch(&[batch(0, -1, false, None)], vec![]);
        f.error = Some(Error::InvalidState("boom".into()));
        let mut p = state();
        let mut out = Vec::new();
        let err = f.drain(&mut p, IsolationLevel::ReadUncommitted, 100, &mut out);
        assert_eq!(out.len(), 2);
        assert!(err.is_some());
        assert_eq!(p.init, InitState::Failed);
        assert_eq!(p.position, 2);
    }
}
