//! The replicated partitions of the simulated cluster: one log per broker, a leader with
//! its leader epoch, the in-sync replicas, the high watermark, and the idempotent
//! producers' sequence checks (as Kafka's `ProducerAppendInfo` makes them).
//!
//! Producer state is not kept beside the log: it is read from the leader's log itself
//! (the last batches of each producer id), so it moves with leadership exactly as the
//! log does, as Kafka's producer-state snapshots do.

use std::collections::BTreeSet;

use bytes::{Bytes, BytesMut};
use kafka_client::records::{DecodeLimits, decode_batches};

/// Error codes the partitions answer with.
pub(crate) mod code {
    pub const NOT_LEADER_OR_FOLLOWER: i16 = 6;
    pub const UNKNOWN_TOPIC_OR_PARTITION: i16 = 3;
    pub const CORRUPT_MESSAGE: i16 = 2;
    pub const NOT_ENOUGH_REPLICAS: i16 = 19;
    pub const OUT_OF_ORDER_SEQUENCE: i16 = 45;
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const FENCED_LEADER_EPOCH: i16 = 74;
    pub const UNKNOWN_LEADER_EPOCH: i16 = 76;
    pub const OFFSET_OUT_OF_RANGE: i16 = 1;
    pub const LEADER_NOT_AVAILABLE: i16 = 5;
    pub const REQUEST_TIMED_OUT: i16 = 7;
}

/// Brokers in the cluster (ids 1..=BROKERS); every partition has a replica on each.
pub const BROKERS: i32 = 3;
/// `min.insync.replicas`.
const MIN_ISR: usize = 2;
/// Batches per producer id the broker remembers to detect retried duplicates.
const DEDUP_WINDOW: usize = 5;

/// One stored batch.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    pub base: i64,
    pub count: i64,
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub base_sequence: i32,
    /// The leader epoch it was written in (identifies the write across replicas).
    pub leader_epoch: i32,
    /// Written in a transaction.
    pub transactional: bool,
    /// A transaction marker: `Some(true)` commit, `Some(false)` abort.
    pub marker: Option<bool>,
    /// The batch as stored: base offset and leader epoch stamped.
    pub bytes: Bytes,
}

impl Batch {
    fn end(&self) -> i64 {
        self.base + self.count
    }
    fn last_sequence(&self) -> i32 {
        self.base_sequence.wrapping_add(self.count as i32 - 1)
    }
    fn same_write(&self, other: &Batch) -> bool {
        self.base == other.base && self.leader_epoch == other.leader_epoch
    }
}

/// A partition: a log per broker (index `broker - 1`), its leader, epoch, ISR and high
/// watermark.
#[derive(Debug)]
pub(crate) struct Partition {
    pub logs: Vec<Vec<Batch>>,
    /// Leader broker, -1 when offline.
    pub leader: i32,
    pub epoch: i32,
    pub isr: BTreeSet<i32>,
    pub hw: i64,
}

/// A transaction ended in a partition's log: producer id, first offset, marker offset,
/// committed.
type Ended = (i64, i64, i64, bool);

/// Why an append was refused, or where it landed.
pub(crate) enum Appended {
    /// Written (or a retried duplicate of a batch already written): its base offset,
    /// the offset the high watermark must pass for the write to be acknowledged, and
    /// the leader epoch it was written in.
    At { base: i64, end: i64, epoch: i32 },
    /// Refused with this error code; nothing written.
    Refused(i16),
}

fn leo(log: &[Batch]) -> i64 {
    log.last().map_or(0, Batch::end)
}

impl Partition {
    pub fn new(leader: i32) -> Self {
        Partition {
            logs: (0..BROKERS).map(|_| Vec::new()).collect(),
            leader,
            epoch: 0,
            isr: (1..=BROKERS).collect(),
            hw: 0,
        }
    }

    fn log(&self, broker: i32) -> &Vec<Batch> {
        &self.logs[(broker - 1) as usize]
    }

    /// The committed batches (below the high watermark) of the leader, or of the
    /// longest log when offline.
    pub fn committed(&self) -> Vec<Batch> {
        let source = if self.leader > 0 {
            self.log(self.leader)
        } else {
            self.logs.iter().max_by_key(|l| leo(l)).expect("3 logs")
        };
        source
            .iter()
            .filter(|b| b.end() <= self.hw)
            .cloned()
            .collect()
    }

    /// Appends a Produce request's data for this partition on `broker`. A transactional
    /// batch is first checked with the transaction coordinator (`txn_check(producer id,
    /// epoch)`, KIP-890's verification; protocol v2 adds the partition there).
    pub fn append(
        &mut self,
        broker: i32,
        data: Bytes,
        txn_check: impl FnOnce(i64, i16) -> Result<(), i16>,
    ) -> Appended {
        if self.leader != broker {
            return Appended::Refused(code::NOT_LEADER_OR_FOLLOWER);
        }
        if self.isr.len() < MIN_ISR {
            return Appended::Refused(code::NOT_ENOUGH_REPLICAS);
        }
        let mut decoder = decode_batches(data, DecodeLimits::default());
        let mut parsed = Vec::new();
        for b in &mut decoder {
            match b {
                Ok(b) => parsed.push(b),
                Err(_) => return Appended::Refused(code::CORRUPT_MESSAGE),
            }
        }
        if parsed.len() != 1 || decoder.remaining_bytes() > 0 {
            return Appended::Refused(code::CORRUPT_MESSAGE);
        }
        let batch = &parsed[0];
        let (pid, epoch, seq) = (
            batch.producer_id(),
            batch.producer_epoch(),
            batch.base_sequence(),
        );
        let count = i64::from(batch.last_offset_delta()) + 1;
        let transactional = batch.is_transactional();
        if batch.is_control() {
            return Appended::Refused(code::CORRUPT_MESSAGE);
        }
        if pid >= 0 {
            match self.check_sequence(broker, pid, epoch, seq, count) {
                Ok(Some(dup)) => {
                    return Appended::At {
                        base: dup.base,
                        end: dup.end(),
                        epoch: self.epoch,
                    };
                }
                Ok(None) => {}
                Err(code) => return Appended::Refused(code),
            }
        }
        if transactional && let Err(code) = txn_check(pid, epoch) {
            return Appended::Refused(code);
        }
        let log = &mut self.logs[(broker - 1) as usize];
        let base = leo(log);
        let mut bytes = BytesMut::from(&batch.as_bytes()[..]);
        bytes[..8].copy_from_slice(&base.to_be_bytes());
        bytes[12..16].copy_from_slice(&self.epoch.to_be_bytes());
        log.push(Batch {
            base,
            count,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: seq,
            leader_epoch: self.epoch,
            transactional,
            marker: None,
            bytes: bytes.freeze(),
        });
        self.advance_hw();
        Appended::At {
            base,
            end: base + count,
            epoch: self.epoch,
        }
    }

    /// Kafka's sequence check for producer `pid`: a duplicate of one of its last
    /// batches (`Ok(Some)`), in sequence (`Ok(None)`), or the error.
    fn check_sequence(
        &self,
        broker: i32,
        pid: i64,
        epoch: i16,
        seq: i32,
        count: i64,
    ) -> Result<Option<Batch>, i16> {
        let log = self.log(broker);
        // A marker written with a bumped epoch (protocol v2, or a coordinator's abort)
        // fences the older epoch's batches.
        if log
            .iter()
            .any(|b| b.producer_id == pid && b.marker.is_some() && epoch < b.producer_epoch)
        {
            return Err(code::INVALID_PRODUCER_EPOCH);
        }
        let mine: Vec<&Batch> = log
            .iter()
            .filter(|b| b.producer_id == pid && b.marker.is_none())
            .collect();
        let Some(last) = mine.last() else {
            // No state for this producer id: any sequence is accepted (KIP-360).
            return Ok(None);
        };
        if epoch < last.producer_epoch {
            return Err(code::INVALID_PRODUCER_EPOCH);
        }
        if epoch > last.producer_epoch {
            return if seq == 0 {
                Ok(None)
            } else {
                Err(code::OUT_OF_ORDER_SEQUENCE)
            };
        }
        let last_seq = seq.wrapping_add(count as i32 - 1);
        if let Some(dup) = mine
            .iter()
            .rev()
            .take(DEDUP_WINDOW)
            .find(|b| b.producer_epoch == epoch && b.base_sequence == seq)
        {
            if dup.last_sequence() == last_seq {
                return Ok(Some((*dup).clone()));
            }
        }
        if seq == last.last_sequence().wrapping_add(1) {
            Ok(None)
        } else {
            Err(code::OUT_OF_ORDER_SEQUENCE)
        }
    }

    /// Copies the leader's log to every live follower not `lagging` (truncating a
    /// diverged follower to the common prefix first), then recomputes the ISR and the
    /// high watermark.
    pub fn replicate(&mut self, alive: &[bool], lagging: &[bool]) {
        if self.leader <= 0 {
            return;
        }
        let leader_log = self.log(self.leader).clone();
        for b in 1..=BROKERS {
            let i = (b - 1) as usize;
            if b == self.leader || !alive[i] {
                continue;
            }
            if !lagging[i] {
                let log = &mut self.logs[i];
                let common = log
                    .iter()
                    .zip(&leader_log)
                    .take_while(|(a, l)| a.same_write(l))
                    .count();
                log.truncate(common);
                log.extend_from_slice(&leader_log[common..]);
            }
            if leo(&self.logs[i]) == leo(&leader_log) && self.logs[i].len() == leader_log.len() {
                self.isr.insert(b);
            } else if lagging[i] {
                self.isr.remove(&b);
            }
        }
        self.advance_hw();
    }

    fn advance_hw(&mut self) {
        if self.leader <= 0 {
            return;
        }
        let min = self
            .isr
            .iter()
            .map(|&b| leo(self.log(b)))
            .min()
            .unwrap_or(0);
        self.hw = self.hw.max(min.min(leo(self.log(self.leader))));
    }

    /// `broker` stopped: it leaves the ISR and, if it led, the first other ISR member
    /// (from `pick`) leads in a new epoch, or the partition goes offline.
    pub fn broker_down(&mut self, broker: i32, pick: usize) {
        if self.isr.len() > 1 {
            self.isr.remove(&broker);
        }
        if self.leader == broker {
            let candidates: Vec<i32> = self.isr.iter().copied().filter(|&b| b != broker).collect();
            if candidates.is_empty() {
                self.leader = -1;
            } else {
                self.leader = candidates[pick % candidates.len()];
                self.epoch += 1;
            }
        }
    }

    /// `broker` is back: it leads an offline partition whose last ISR member it was.
    pub fn broker_up(&mut self, broker: i32) {
        if self.leader < 0 && self.isr.contains(&broker) {
            self.leader = broker;
            self.epoch += 1;
        }
    }

    /// A controlled leader change to another in-sync, live broker.
    pub fn move_leader(&mut self, alive: &[bool], pick: usize) -> bool {
        let candidates: Vec<i32> = self
            .isr
            .iter()
            .copied()
            .filter(|&b| b != self.leader && alive[(b - 1) as usize])
            .collect();
        if self.leader <= 0 || candidates.is_empty() {
            return false;
        }
        self.leader = candidates[pick % candidates.len()];
        self.epoch += 1;
        self.advance_hw();
        true
    }

    /// The stored batches of the leader from the one holding `offset`, below `limit`
    /// (the high watermark, or the last stable offset for read_committed), up to
    /// `max_bytes` (at least one batch).
    pub fn read(&self, offset: i64, limit: i64, max_bytes: usize) -> Bytes {
        let mut out = BytesMut::new();
        for b in self.log(self.leader) {
            if b.end() <= offset {
                continue;
            }
            if b.end() > limit || (!out.is_empty() && out.len() + b.bytes.len() > max_bytes) {
                break;
            }
            out.extend_from_slice(&b.bytes);
        }
        out.freeze()
    }

    /// Writes a transaction marker of producer `pid` (epoch `epoch`) on the leader, if
    /// the partition has one and enough in-sync replicas; where it was written (its
    /// offset and leader epoch: see [`Partition::marker_state`]).
    pub fn append_marker(&mut self, pid: i64, epoch: i16, commit: bool) -> Option<(i64, i32)> {
        if self.leader <= 0 || self.isr.len() < MIN_ISR {
            return None;
        }
        let leader_epoch = self.epoch;
        let log = &mut self.logs[(self.leader - 1) as usize];
        let base = leo(log);
        log.push(Batch {
            base,
            count: 1,
            producer_id: pid,
            producer_epoch: epoch,
            base_sequence: -1,
            leader_epoch,
            transactional: true,
            marker: Some(commit),
            bytes: kafka_testkit::raw::marker_batch(pid, epoch, commit, base, leader_epoch),
        });
        self.advance_hw();
        Some((base, leader_epoch))
    }

    /// A marker written at `(offset, leader epoch)`: `Some(true)` once committed (below
    /// the high watermark), `Some(false)` while still on the leader's log above it,
    /// `None` when it was lost with a truncated leader (written again, as the
    /// coordinator retries a marker whose write failed).
    pub fn marker_state(&self, (base, leader_epoch): (i64, i32)) -> Option<bool> {
        if self.leader <= 0 {
            return Some(false);
        }
        let log = self.log(self.leader);
        let kept = log
            .iter()
            .any(|b| b.base == base && b.leader_epoch == leader_epoch && b.marker.is_some());
        kept.then_some(base < self.hw)
    }

    /// The transactions of the leader's log below the high watermark: per producer id,
    /// where its open transaction (no marker below the high watermark yet) starts, and
    /// every ended one as (producer id, first offset, marker offset, committed).
    fn transactions(&self) -> (Vec<(i64, i64)>, Vec<Ended>) {
        let mut open: std::collections::BTreeMap<i64, i64> = Default::default();
        let mut ended = Vec::new();
        if self.leader <= 0 {
            return (Vec::new(), ended);
        }
        for b in self.log(self.leader) {
            if b.end() > self.hw {
                break;
            }
            match b.marker {
                Some(commit) => {
                    if let Some(first) = open.remove(&b.producer_id) {
                        ended.push((b.producer_id, first, b.base, commit));
                    }
                }
                None if b.transactional => {
                    open.entry(b.producer_id).or_insert(b.base);
                }
                None => {}
            }
        }
        (open.into_iter().collect(), ended)
    }

    /// The last stable offset: where the oldest open transaction starts, or the high
    /// watermark.
    pub fn last_stable(&self) -> i64 {
        let (open, _) = self.transactions();
        open.iter()
            .map(|o| o.1)
            .min()
            .unwrap_or(self.hw)
            .min(self.hw)
    }

    /// The aborted transactions a read_committed fetch from `offset` up to `limit` is
    /// told about: (producer id, first offset).
    pub fn aborted_between(&self, offset: i64, limit: i64) -> Vec<(i64, i64)> {
        let (_, ended) = self.transactions();
        ended
            .into_iter()
            .filter(|&(_, first, marker, commit)| !commit && marker >= offset && first < limit)
            .map(|(pid, first, _, _)| (pid, first))
            .collect()
    }

    /// The leader's log end offset.
    pub fn log_end(&self) -> i64 {
        if self.leader > 0 {
            leo(self.log(self.leader))
        } else {
            0
        }
    }
}
