//! [`Consumer::stream`]: records one at a time, taken out of the buffer a poll's worth at
//! a time.
//!
//! A stream takes up to `max.poll.records` records in one step, as `poll` does, and
//! yields them one by one: one lock and one round of poll bookkeeping (rebalance steps,
//! auto-commit, the poll-interval clock) per batch, not per record. Taking moves the
//! positions past the batch, as `poll` does; the records the stream still holds are kept
//! safe three ways:
//! - **commits** of the position (auto-commit, `commit`, the commits on revocation and
//!   close) commit the first record of the batch the stream is yielding instead
//!   ([`PartitionState::held`](super::subscription::PartitionState::held)), so a record
//!   in the stream's hands is never committed past (a crash re-reads the batch from its
//!   start: at least once, never lost). Once the batch's last record is yielded, commits
//!   commit the positions again. Keeping the exact record would cost a shared write per
//!   record;
//! - **a seek, pause, assignment change, revocation, loss or close** (counted in
//!   `Shared::moves`) makes the stream re-check before its next record: the records of a
//!   partition sought, reset, revoked, lost or no longer assigned are dropped (its new
//!   position or owner decides what comes next), those of a paused partition are given
//!   back;
//! - **dropping the stream** gives back every record it still holds: each partition
//!   goes back to its first record not yielded, so the next poll or stream returns it.
//!
//! Giving back is a seek: the partition's buffered data is dropped and fetched again.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use futures::Stream;

use super::record::ConsumerRecord;
use super::state::{Shared, State};
use super::{Consumer, ConsumerRecords};
use crate::error::{Error, Result};
use crate::types::{BoxFuture, TopicPartition};

/// A partition a stream took records of, and its state epoch then: a different epoch
/// later means it was sought or reset since.
#[derive(Debug)]
pub(crate) struct Taken {
    tp: TopicPartition,
    epoch: u64,
}

/// What a stream's take reads under the state lock besides the records.
#[derive(Debug, Default)]
pub(crate) struct Holding {
    /// The partitions of the records taken, each once.
    pub taken: Vec<Taken>,
    /// `Shared::moves` when they were taken.
    pub moves: u64,
}

impl Holding {
    /// Before a new take (the last one's records are all yielded): the partitions held
    /// since the last take commit their positions again.
    pub(crate) fn release(&mut self, st: &mut State) {
        for t in self.taken.drain(..) {
            if let Some(p) = st.partition_mut(&t.tp).filter(|p| p.epoch == t.epoch) {
                p.held = None;
            }
        }
    }

    /// After a take of `records`: notes each partition and holds its first record
    /// (commits stop there until it is yielded).
    pub(crate) fn hold(&mut self, shared: &Shared, st: &mut State, records: &[ConsumerRecord]) {
        self.moves = shared.moves.load(Ordering::Acquire);
        let mut last: Option<(&Arc<str>, i32)> = None;
        for r in records {
            if last.is_some_and(|(t, p)| Arc::ptr_eq(t, &r.topic) && p == r.partition) {
                continue;
            }
            last = Some((&r.topic, r.partition));
            if self.taken.iter().any(|t| is(&t.tp, r)) {
                continue;
            }
            let tp = TopicPartition::new(&*r.topic, r.partition);
            if let Some(p) = st.partition_mut(&tp) {
                p.held = Some((r.offset, r.leader_epoch));
                self.taken.push(Taken { tp, epoch: p.epoch });
            }
        }
    }
}

fn is(tp: &TopicPartition, r: &ConsumerRecord) -> bool {
    tp.partition == r.partition && *tp.topic == *r.topic
}

/// What becomes of a partition's held records after a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    /// Still the stream's to yield.
    Keep,
    /// Back to the buffer's owner: the partition is sought to its first record not
    /// yielded.
    GiveBack,
    /// Dropped: the partition was sought, reset, revoked, lost or closed; its records
    /// are no longer the stream's to yield.
    Drop,
}

fn fate(st: &State, t: &Taken, dropping_stream: bool) -> Fate {
    if st.is_closed() {
        return Fate::Drop;
    }
    match st.partitions().get(&t.tp) {
        Some(p) if p.epoch == t.epoch && !p.revoking => {
            if dropping_stream || !p.deliverable() {
                Fate::GiveBack
            } else {
                Fate::Keep
            }
        }
        _ => Fate::Drop,
    }
}

type NextBatch = BoxFuture<'static, (Result<ConsumerRecords>, Holding)>;

/// The stream [`Consumer::stream`] returns.
pub(crate) struct RecordStream {
    consumer: Consumer,
    errors: VecDeque<Error>,
    records: VecDeque<ConsumerRecord>,
    holding: Holding,
    next: Option<NextBatch>,
    ended: bool,
}

impl RecordStream {
    pub(crate) fn new(consumer: Consumer) -> Self {
        RecordStream {
            consumer,
            errors: VecDeque::new(),
            records: VecDeque::new(),
            holding: Holding::default(),
            next: None,
            ended: false,
        }
    }

    /// The next record, unless none is held.
    fn pop(&mut self) -> Option<ConsumerRecord> {
        if self.records.is_empty() {
            return None;
        }
        if self.consumer.shared().moves.load(Ordering::Acquire) != self.holding.moves {
            self.settle(false);
        }
        let r = self.records.pop_front()?;
        if self.records.is_empty() {
            // The batch's last record: commits commit the positions again.
            self.holding.release(&mut self.consumer.shared().lock());
            self.recycle();
        }
        Some(r)
    }

    /// Decides the fate of every partition held (all given back when the stream is being
    /// dropped), and drops the records that are no longer the stream's.
    fn settle(&mut self, dropping_stream: bool) {
        let shared = Arc::clone(self.consumer.shared());
        let mut st = shared.lock();
        let mut gone: Vec<TopicPartition> = Vec::new();
        let mut given: Vec<TopicPartition> = Vec::new();
        for t in std::mem::take(&mut self.holding.taken) {
            match fate(&st, &t, dropping_stream) {
                Fate::Keep => self.holding.taken.push(t),
                Fate::GiveBack => {
                    if let Some(first) = self.records.iter().find(|r| is(&t.tp, r)) {
                        let offset = first.offset;
                        if let Some(p) = st.partition_mut(&t.tp) {
                            p.seek(offset);
                        }
                        given.push(t.tp.clone());
                    } else if let Some(p) = st.partition_mut(&t.tp) {
                        p.held = None;
                    }
                    gone.push(t.tp);
                }
                Fate::Drop => gone.push(t.tp),
            }
        }
        if !given.is_empty() {
            st.discard_buffered(|tp| given.contains(tp));
            shared.moved();
        }
        self.holding.moves = shared.moves.load(Ordering::Acquire);
        if !gone.is_empty() {
            self.records.retain(|r| !gone.iter().any(|tp| is(tp, r)));
        }
        if self.records.is_empty() {
            self.holding.release(&mut st);
        }
        drop(st);
        if self.records.is_empty() {
            self.recycle();
        }
        if !given.is_empty() {
            shared.wake_all();
        }
    }

    /// Hands the emptied queue's vector back for the next take.
    fn recycle(&mut self) {
        let v = Vec::from(std::mem::take(&mut self.records));
        self.consumer.shared().record_vecs.give_back(v);
    }

    fn next_batch(&mut self) -> NextBatch {
        let consumer = self.consumer.clone();
        let mut holding = std::mem::take(&mut self.holding);
        let max = consumer.config().max_poll_records;
        Box::pin(async move {
            let got = consumer
                .poll_up_to(max, Duration::from_secs(3600), Some(&mut holding))
                .await;
            (got, holding)
        })
    }
}

impl Stream for RecordStream {
    type Item = Result<ConsumerRecord>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(e) = this.errors.pop_front() {
                return Poll::Ready(Some(Err(e)));
            }
            if let Some(r) = this.pop() {
                return Poll::Ready(Some(Ok(r)));
            }
            if this.ended {
                return Poll::Ready(None);
            }
            if this.next.is_none() {
                this.next = Some(this.next_batch());
            }
            let Some(next) = this.next.as_mut() else {
                continue;
            };
            let (got, holding) = ready!(next.as_mut().poll(cx));
            this.next = None;
            this.holding = holding;
            match got {
                Ok(batch) => {
                    let (records, errors) = batch.into_parts();
                    this.errors
                        .extend(errors.into_iter().map(|e| e.into_error()));
                    this.records = VecDeque::from(records);
                }
                Err(Error::Closed) => this.ended = true,
                Err(e) => {
                    this.ended = true;
                    return Poll::Ready(Some(Err(e)));
                }
            }
        }
    }
}

impl Drop for RecordStream {
    fn drop(&mut self) {
        if self.holding.taken.is_empty() {
            return;
        }
        self.settle(true);
    }
}
