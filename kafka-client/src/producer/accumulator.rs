//! The record accumulator: per-topic, per-partition queues of batches.
//!
//! Each partition has its own mutex (no global lock on the send path) guarding an open
//! batch that records are appended to, and a queue of closed batches waiting for its
//! leader's sender. A partition's batches keep their order through retries: a retried
//! batch goes back into the queue at its place, and the partition is held until its
//! backoff ends. The leader is an atomic, so senders and the metadata task never lock
//! a partition just to route it.
//!
//! Idempotence: each partition numbers its batches (the base sequence) when a batch is
//! first drained, for the producer identity current then; a retried batch keeps its
//! stamp and bytes. When the identity changes (epoch bump), the partition waits for its
//! in-flight batches, restarts at sequence 0, and re-stamps queued batches as they are
//! drained; a batch that may already be in the log is never re-stamped (it fails as
//! possibly persisted instead).

use std::collections::VecDeque;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use kafka_protocol::messages::TopicName;
use kafka_protocol::protocol::StrBytes;
use tokio::time::Instant;
use uuid::Uuid;

use super::batch::{Order, ProducerBatch, ProducerIdent, Resources, Stamp, seq_add, seq_after};
use super::delivery::DeliveryFuture;
use super::partitioner::TopicPartitioner;
use crate::cluster::TopicInfo;
use crate::error::Result;
use crate::records::Header;

/// No known leader.
pub(crate) const NO_LEADER: i32 = -1;

/// A topic's identity as Produce requests name it.
#[derive(Debug)]
pub(crate) struct TopicMeta {
    pub name: Arc<str>,
    pub wire_name: TopicName,
    id: Mutex<Uuid>,
}

impl TopicMeta {
    pub(crate) fn id(&self) -> Uuid {
        *self.id.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A topic the producer has sent to.
#[derive(Debug)]
pub(crate) struct TopicEntry {
    pub meta: Arc<TopicMeta>,
    partitions: RwLock<Vec<Arc<PartitionState>>>,
    pub partitioner: TopicPartitioner,
}

impl TopicEntry {
    pub(crate) fn new(info: &TopicInfo) -> Self {
        let meta = Arc::new(TopicMeta {
            name: Arc::from(info.name.as_str()),
            wire_name: TopicName(StrBytes::from_string(info.name.clone())),
            id: Mutex::new(info.id),
        });
        let entry = TopicEntry {
            meta,
            partitions: RwLock::new(Vec::new()),
            partitioner: TopicPartitioner::new(),
        };
        entry.update(info);
        entry
    }

    /// The partitions, in index order.
    pub(crate) fn partitions(&self) -> std::sync::RwLockReadGuard<'_, Vec<Arc<PartitionState>>> {
        self.partitions.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies fresh metadata: new partitions, topic id and leaders. Returns the leaders
    /// that changed (new leader ids, -1 included) if any changed.
    pub(crate) fn update(&self, info: &TopicInfo) -> Vec<i32> {
        *self.meta.id.lock().unwrap_or_else(|e| e.into_inner()) = info.id;
        let mut changed = Vec::new();
        let mut parts = self.partitions.write().unwrap_or_else(|e| e.into_inner());
        // Partitions only ever grow in Kafka; the list is indexed by partition number.
        while parts.len() < info.partitions.len() {
            let index = parts.len() as i32;
            parts.push(Arc::new(PartitionState::new(self.meta.clone(), index)));
        }
        for p in parts.iter() {
            let leader = info
                .partition(p.partition)
                .and_then(|i| i.leader)
                .unwrap_or(NO_LEADER);
            if p.leader.swap(leader, Ordering::AcqRel) != leader {
                changed.push(leader);
            }
        }
        changed
    }

    /// Marks every partition leaderless (the topic vanished from the metadata).
    pub(crate) fn clear_leaders(&self) -> bool {
        let mut changed = false;
        for p in self.partitions().iter() {
            changed |= p.leader.swap(NO_LEADER, Ordering::AcqRel) != NO_LEADER;
        }
        changed
    }
}

/// Settings the drain and expiry rules need.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DrainRules {
    /// The draining sender's broker.
    pub broker: i32,
    pub now: Instant,
    /// Send open batches without waiting for linger (flush, close, memory pressure).
    pub force: bool,
    pub linger: Duration,
    pub delivery_timeout: Duration,
    /// Idempotence: the producer identity to stamp batches with.
    pub producer: Option<ProducerIdent>,
}

/// One partition's batches.
#[derive(Debug)]
pub(crate) struct PartitionState {
    pub topic: Arc<TopicMeta>,
    pub partition: i32,
    pub leader: AtomicI32,
    /// Transactional producer, protocol v1: the transaction this partition was last
    /// added to (AddPartitionsToTxn).
    pub txn_added: AtomicU64,
    queue: Mutex<PartitionQueue>,
    /// Batches waiting (queued, plus the open one), as of the last unlock: the load the
    /// adaptive partitioner weighs (KIP-794), read without the lock.
    waiting: AtomicU32,
    /// When this partition's leader's sender last looked at it (ms after `created`):
    /// a partition with batches and no look for `partitioner.availability.timeout.ms`
    /// is skipped by the adaptive partitioner.
    visited_ms: AtomicU64,
    created: Instant,
}

/// The partition queue, locked. Dropping it publishes the number of waiting batches
/// to [`PartitionState::waiting`], so every path that changes the queue keeps the load
/// figure true.
struct QueueGuard<'a> {
    q: MutexGuard<'a, PartitionQueue>,
    waiting: &'a AtomicU32,
}

impl Deref for QueueGuard<'_> {
    type Target = PartitionQueue;
    fn deref(&self) -> &PartitionQueue {
        &self.q
    }
}

impl DerefMut for QueueGuard<'_> {
    fn deref_mut(&mut self) -> &mut PartitionQueue {
        &mut self.q
    }
}

impl Drop for QueueGuard<'_> {
    fn drop(&mut self) {
        let n = self.q.queued.len() + usize::from(self.q.open.is_some());
        self.waiting
            .store(u32::try_from(n).unwrap_or(u32::MAX), Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct PartitionQueue {
    /// The batch records are appended to.
    open: Option<ProducerBatch>,
    /// Closed batches, in partition order, waiting to be sent.
    queued: VecDeque<ProducerBatch>,
    /// Batches in flight, and the broker they went to.
    in_flight: u32,
    in_flight_to: i32,
    /// A retried (or split) batch is in flight: it goes alone, and nothing of the
    /// partition follows it until it is answered, so retries keep the order.
    retry_in_flight: bool,
    /// After a retriable error, nothing is sent before this.
    hold_until: Option<Instant>,
    next_seq: u64,
    /// Idempotence: the identity the sequence numbers below belong to.
    seq_owner: Option<ProducerIdent>,
    /// The next batch's base sequence.
    next_sequence: i32,
    /// The sequence after the last acknowledged batch, if any was acknowledged.
    acked_end: Option<i32>,
}

/// What an append asks of the caller once the partition lock is released.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wake {
    /// Nothing new for the sender.
    No,
    /// A batch was opened (the sender learns its linger deadline) or became full.
    Sender,
}

impl PartitionState {
    fn new(topic: Arc<TopicMeta>, partition: i32) -> Self {
        PartitionState {
            topic,
            partition,
            leader: AtomicI32::new(NO_LEADER),
            txn_added: AtomicU64::new(0),
            queue: Mutex::new(PartitionQueue::default()),
            waiting: AtomicU32::new(0),
            visited_ms: AtomicU64::new(0),
            created: Instant::now(),
        }
    }

    fn lock(&self) -> QueueGuard<'_> {
        QueueGuard {
            q: self.queue.lock().unwrap_or_else(|e| e.into_inner()),
            waiting: &self.waiting,
        }
    }

    /// The partition's load for the adaptive partitioner: `None` when it should get no
    /// new sticky batch (no leader, or batches waiting while its sender has not looked
    /// at it for `availability_timeout`), else the number of batches waiting.
    pub(crate) fn load(&self, now: Instant, availability_timeout: Option<Duration>) -> Option<u32> {
        if self.leader() < 0 {
            return None;
        }
        let waiting = self.waiting.load(Ordering::Relaxed);
        if let Some(timeout) = availability_timeout {
            let visited =
                self.created + Duration::from_millis(self.visited_ms.load(Ordering::Relaxed));
            if waiting > 0 && now.saturating_duration_since(visited) > timeout {
                return None;
            }
        }
        Some(waiting)
    }

    pub(crate) fn leader(&self) -> i32 {
        self.leader.load(Ordering::Acquire)
    }

    /// Appends a record to the open batch, opening a new one when there is none or the
    /// record does not fit.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn append(
        &self,
        res: &Arc<Resources>,
        timestamp: i64,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        headers: &[Header],
        charge: usize,
    ) -> Result<(DeliveryFuture, Wake)> {
        let mut q = self.lock();
        let mut wake = Wake::No;
        if let Some(open) = q.open.as_mut() {
            if let Some(fut) = open.try_append(timestamp, key, value, headers, charge)? {
                if open.is_full() {
                    q.close_open();
                    wake = Wake::Sender;
                }
                return Ok((fut, wake));
            }
            q.close_open();
        }
        let order = Order::new(q.next_seq);
        q.next_seq += 1;
        let mut batch = ProducerBatch::open(
            res,
            self.topic.name.clone(),
            self.partition,
            order,
            Instant::now(),
        );
        // An empty batch accepts any record, so this always appends.
        let fut = batch.try_append(timestamp, key, value, headers, charge)?;
        let Some(fut) = fut else {
            return Err(crate::error::Error::Protocol {
                context: Default::default(),
                message: "an empty batch refused a record".into(),
            });
        };
        q.open = Some(batch);
        if q.open.as_ref().is_some_and(ProducerBatch::is_full) {
            q.close_open();
        }
        Ok((fut, Wake::Sender))
    }

    /// Takes the partition's next batch for a request to `rules.broker`, if one is
    /// ready and fits in `budget` bytes (`first` = the request is empty, so anything
    /// fits). Expired batches go to `expired`; the time this partition next needs
    /// attention lowers `next_wake`.
    pub(crate) fn take_ready(
        &self,
        rules: &DrainRules,
        budget: usize,
        first: bool,
        expired: &mut Vec<ProducerBatch>,
        next_wake: &mut Option<Instant>,
    ) -> Option<ProducerBatch> {
        let mut q = self.lock();
        if self.leader() != rules.broker {
            return None;
        }
        let since = rules.now.saturating_duration_since(self.created);
        self.visited_ms.store(
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        q.expire(rules.now, rules.delivery_timeout, expired);
        if let Some(t) = q.hold_until {
            if t > rules.now {
                earliest(next_wake, t);
                return None;
            }
            q.hold_until = None;
        }
        // Never have batches of one partition in flight to two brokers: a moved
        // partition waits for the old leader's answers first.
        if q.in_flight > 0 && q.in_flight_to != rules.broker || q.retry_in_flight {
            return None;
        }
        if q.queued.is_empty() {
            let open = q.open.as_ref()?;
            let due = open.created + rules.linger;
            if !rules.force && due > rules.now {
                earliest(next_wake, due);
                return None;
            }
            q.close_open();
        }
        if let Some(pid) = rules.producer {
            if q.seq_owner != Some(pid) {
                // A new identity: sequences restart at 0 once nothing is in flight.
                if q.in_flight > 0 {
                    return None;
                }
                q.seq_owner = Some(pid);
                q.next_sequence = 0;
                q.acked_end = None;
            }
        }
        let batch = loop {
            let front = q.queued.front()?;
            if front.is_retry() && q.in_flight > 0 {
                return None;
            }
            if !first && front.size() > budget {
                return None;
            }
            let mut batch = q.queued.pop_front()?;
            let Some(pid) = rules.producer else {
                break batch;
            };
            match batch.stamp {
                Some(s) if s.producer == pid => break batch,
                // Written under an older identity, maybe in the log: re-sending it
                // under the new one could duplicate it.
                Some(_) if batch.maybe_written => expired.push(batch),
                _ => {
                    let stamp = Stamp {
                        producer: pid,
                        base_sequence: q.next_sequence,
                    };
                    match batch.restamp(stamp) {
                        Ok(()) => {
                            q.next_sequence = seq_add(q.next_sequence, batch.records());
                            break batch;
                        }
                        Err(e) => {
                            batch.last_error = Some(e);
                            expired.push(batch);
                        }
                    }
                }
            }
        };
        q.retry_in_flight = batch.is_retry();
        q.in_flight += 1;
        q.in_flight_to = rules.broker;
        Some(batch)
    }

    /// Puts a batch that will be retried back at its place in the queue, holding the
    /// partition until `hold_until`, and counts its request as answered.
    pub(crate) fn requeue(&self, batch: ProducerBatch, hold_until: Option<Instant>) {
        let mut q = self.lock();
        q.answered();
        if let Some(t) = hold_until {
            q.hold_until = Some(q.hold_until.map_or(t, |h| h.max(t)));
        }
        q.insert_ordered(batch);
    }

    /// Like [`requeue`](Self::requeue) for the two halves of a split batch.
    pub(crate) fn requeue_split(&self, parts: [ProducerBatch; 2]) {
        let mut q = self.lock();
        q.answered();
        for p in parts {
            q.insert_ordered(p);
        }
    }

    /// Counts one in-flight batch as answered.
    pub(crate) fn answered(&self) {
        self.lock().answered();
    }

    /// Idempotence: records that the batch stamped `stamp` with `records` records was
    /// acknowledged.
    pub(crate) fn acked(&self, stamp: Option<Stamp>, records: u32) {
        if let Some(s) = stamp {
            let mut q = self.lock();
            if q.seq_owner == Some(s.producer) {
                // Only forward: a late answer for an earlier batch (a retry answered
                // DUPLICATE_SEQUENCE_NUMBER after a later batch was acknowledged) must
                // not move it back, as Java only ever raises the last acked sequence.
                let end = seq_add(s.base_sequence, records);
                if q.acked_end.is_none_or(|current| seq_after(end, current)) {
                    q.acked_end = Some(end);
                }
            }
        }
    }

    /// Idempotence: whether the batch stamped `stamp` is the first one not yet
    /// acknowledged (so an OUT_OF_ORDER_SEQUENCE_NUMBER for it is a real gap, not the
    /// echo of an earlier batch's failure).
    pub(crate) fn is_next_to_ack(&self, stamp: Stamp) -> bool {
        let q = self.lock();
        // Nothing acknowledged yet under this identity: sequence 0 is next (as in Java,
        // where the last acknowledged sequence starts at -1).
        q.seq_owner == Some(stamp.producer) && q.acked_end.unwrap_or(0) == stamp.base_sequence
    }

    /// Moves expired batches (queued or open) to `out`, for a partition nobody sends
    /// (no leader). Returns whether the partition still holds batches.
    pub(crate) fn expire_unsent(
        &self,
        now: Instant,
        delivery_timeout: Duration,
        out: &mut Vec<ProducerBatch>,
    ) -> bool {
        let mut q = self.lock();
        q.expire(now, delivery_timeout, out);
        q.open.is_some() || !q.queued.is_empty()
    }

    /// Whether the partition holds batches not yet sent.
    pub(crate) fn has_unsent(&self) -> bool {
        let q = self.lock();
        q.open.is_some() || !q.queued.is_empty()
    }

    /// Fails every batch not yet sent (queued or open) with `err` (a transaction abort).
    /// Returns whether one of them had a sequence number (then the sequence has a gap).
    pub(crate) fn fail_unsent(&self, err: &crate::error::Error) -> bool {
        let unsent = {
            let mut q = self.lock();
            let mut out: Vec<ProducerBatch> = q.queued.drain(..).collect();
            out.extend(q.open.take());
            out
        };
        let stamped = unsent.iter().any(|b| b.stamp.is_some());
        for b in unsent {
            b.complete(Err(err.clone()));
        }
        stamped
    }

    /// Drops every queued batch (forced close: they were failed already).
    pub(crate) fn clear(&self) -> Vec<ProducerBatch> {
        let mut q = self.lock();
        let mut out: Vec<ProducerBatch> = q.queued.drain(..).collect();
        out.extend(q.open.take());
        out
    }
}

impl PartitionQueue {
    fn answered(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
        // A retry goes alone, so whatever was answered, no retry is in flight now.
        self.retry_in_flight = false;
    }

    fn close_open(&mut self) {
        if let Some(b) = self.open.take() {
            self.queued.push_back(b);
        }
    }

    fn insert_ordered(&mut self, batch: ProducerBatch) {
        let at = self
            .queued
            .iter()
            .position(|b| b.order > batch.order)
            .unwrap_or(self.queued.len());
        self.queued.insert(at, batch);
    }

    /// Moves batches past their delivery deadline to `out`, front first (the Java
    /// client's rule: stop at the first batch still in time).
    fn expire(&mut self, now: Instant, delivery_timeout: Duration, out: &mut Vec<ProducerBatch>) {
        while self
            .queued
            .front()
            .is_some_and(|b| b.deadline(delivery_timeout) <= now)
        {
            out.extend(self.queued.pop_front());
        }
        if self.queued.is_empty()
            && self
                .open
                .as_ref()
                .is_some_and(|b| b.deadline(delivery_timeout) <= now)
        {
            out.extend(self.open.take());
        }
    }
}

fn earliest(slot: &mut Option<Instant>, t: Instant) {
    *slot = Some(slot.map_or(t, |s| s.min(t)));
}
