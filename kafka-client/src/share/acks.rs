//! The acknowledgement ledger (sans-I/O): which records this member holds (acquired by
//! a ShareFetch, not yet finally acknowledged), their delivery counts and lock
//! deadlines, which poll handed them out, and the acknowledgements waiting to be sent,
//! piggy-backed on the next ShareFetch to the partition's leader or in a
//! ShareAcknowledge (`commit`, `close`).
//!
//! Offsets inside an acquired range that carry no record for the application (control
//! records, compacted-away offsets) are acknowledged as gaps, so the broker does not
//! wait for their locks to expire. Acknowledgements go out in batches of consecutive
//! offsets: one type for the whole batch when they agree, one per offset otherwise.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use super::record::{AcknowledgeError, AcknowledgeType, NotHeldReason, PollToken, ShareRecord};
use crate::types::TopicPartition;

/// The wire code of a gap (an acquired offset without a record).
pub(crate) const GAP: i8 = 0;

/// One `AcknowledgementBatch` as ShareFetch and ShareAcknowledge carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AckBatch {
    pub first: i64,
    pub last: i64,
    /// One code for the whole range, or one per offset.
    pub types: Vec<i8>,
}

/// Groups `acks` (sorted by offset) into batches of consecutive offsets.
pub(crate) fn to_batches(acks: &BTreeMap<i64, i8>) -> Vec<AckBatch> {
    let mut out: Vec<AckBatch> = Vec::new();
    for (&offset, &code) in acks {
        match out.last_mut() {
            Some(b) if b.last + 1 == offset => {
                b.last = offset;
                b.types.push(code);
            }
            _ => out.push(AckBatch {
                first: offset,
                last: offset,
                types: vec![code],
            }),
        }
    }
    for b in &mut out {
        if b.types.iter().all(|t| *t == b.types[0]) {
            b.types.truncate(1);
        }
    }
    out
}

/// One partition's acknowledgements taken for a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TakenAcks {
    pub batches: Vec<AckBatch>,
    /// The record offsets among them (gaps excluded), for the results.
    pub offsets: BTreeSet<i64>,
    /// Whether some of them are renewals (the request's `IsRenewAck`).
    pub renew: bool,
}

/// A record this member holds.
#[derive(Clone, Debug)]
struct Held {
    /// The poll that handed it out; `None` while it waits in the buffer.
    poll: Option<u64>,
    /// When its acquisition lock ends at the latest (measured from when the response
    /// arrived, so never before the broker's own deadline).
    deadline: Instant,
    /// The final acknowledgement given by the application (or implicitly).
    acked: Option<AcknowledgeType>,
    /// Set once the record is known to be lost to this member.
    lost: Option<NotHeldReason>,
}

/// The ledger of held records and pending acknowledgements.
#[derive(Debug, Default)]
pub(crate) struct Ledger {
    held: BTreeMap<TopicPartition, BTreeMap<i64, Held>>,
    pending: BTreeMap<TopicPartition, BTreeMap<i64, i8>>,
}

impl Ledger {
    /// Records acquired by a fetch: `offsets` delivered later (buffered now), `gaps`
    /// acknowledged as gaps right away.
    pub(crate) fn acquired(
        &mut self,
        tp: &TopicPartition,
        records: impl IntoIterator<Item = (i64, i16)>,
        gaps: impl IntoIterator<Item = i64>,
        now: Instant,
        lock: Duration,
    ) {
        let held = self.held.entry(tp.clone()).or_default();
        for (offset, _delivery_count) in records {
            held.insert(
                offset,
                Held {
                    poll: None,
                    deadline: now + lock,
                    acked: None,
                    lost: None,
                },
            );
        }
        let mut gaps = gaps.into_iter().peekable();
        if gaps.peek().is_some() {
            let pending = self.pending.entry(tp.clone()).or_default();
            for g in gaps {
                pending.insert(g, GAP);
            }
        }
    }

    /// A buffered record handed out by poll `poll`.
    pub(crate) fn delivered(&mut self, tp: &TopicPartition, offset: i64, poll: u64) {
        if let Some(h) = self.held.get_mut(tp).and_then(|m| m.get_mut(&offset)) {
            h.poll = Some(poll);
        }
    }

    /// The application's acknowledgement of `record`. `latest` is the latest poll;
    /// `implicit` whether records of earlier polls were accepted implicitly.
    pub(crate) fn acknowledge(
        &mut self,
        record: &ShareRecord,
        kind: AcknowledgeType,
        consumer: u64,
        latest: u64,
        implicit: bool,
        now: Instant,
    ) -> Result<(), AcknowledgeError> {
        let tp = record.topic_partition();
        let offset = record.offset;
        let not_held = |reason| AcknowledgeError::NotHeld {
            topic: tp.topic.clone(),
            partition: tp.partition,
            offset,
            reason,
        };
        let PollToken {
            consumer: from,
            poll,
        } = record.token;
        if from != consumer {
            return Err(not_held(NotHeldReason::Unknown));
        }
        if implicit && poll != latest {
            return Err(AcknowledgeError::NotFromLatestPoll {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset,
            });
        }
        let Some(h) = self.held.get_mut(&tp).and_then(|m| m.get_mut(&offset)) else {
            return Err(not_held(NotHeldReason::Unknown));
        };
        if let Some(previous) = h.acked {
            return Err(AcknowledgeError::AlreadyAcknowledged {
                topic: tp.topic.clone(),
                partition: tp.partition,
                offset,
                previous,
            });
        }
        if let Some(reason) = h.lost {
            return Err(not_held(reason));
        }
        if h.poll != Some(poll) {
            return Err(not_held(NotHeldReason::Unknown));
        }
        if now >= h.deadline {
            h.lost = Some(NotHeldReason::LockExpired);
            return Err(not_held(NotHeldReason::LockExpired));
        }
        if kind != AcknowledgeType::Renew {
            h.acked = Some(kind);
        }
        self.pending
            .entry(tp)
            .or_default()
            .insert(offset, kind.wire());
        Ok(())
    }

    /// Implicit mode: every record of `poll` not yet acknowledged is accepted.
    pub(crate) fn accept_poll(&mut self, poll: u64) {
        for (tp, held) in &mut self.held {
            for (offset, h) in held.iter_mut() {
                if h.poll == Some(poll) && h.acked.is_none() && h.lost.is_none() {
                    h.acked = Some(AcknowledgeType::Accept);
                    self.pending
                        .entry(tp.clone())
                        .or_default()
                        .insert(*offset, AcknowledgeType::Accept.wire());
                }
            }
        }
    }

    /// Delivered records not acknowledged yet and still held (explicit mode refuses a
    /// new poll while there are some).
    pub(crate) fn unacknowledged(&self, now: Instant) -> usize {
        self.held
            .values()
            .flat_map(|m| m.values())
            .filter(|h| h.poll.is_some() && h.acked.is_none() && h.lost.is_none())
            .filter(|h| now < h.deadline)
            .count()
    }

    /// Forgets delivered records that are finished with (acknowledged, lost or past
    /// their lock) and were handed out before poll `keep_from`.
    pub(crate) fn prune(&mut self, keep_from: u64, now: Instant) {
        let pending = &self.pending;
        for (tp, held) in &mut self.held {
            let waiting = pending.get(tp);
            held.retain(|offset, h| match h.poll {
                None => true,
                Some(p) if p >= keep_from => true,
                Some(_) => {
                    let done = h.acked.is_some() || h.lost.is_some() || now >= h.deadline;
                    !done || waiting.is_some_and(|w| w.contains_key(offset))
                }
            });
        }
        self.held.retain(|_, m| !m.is_empty());
    }

    /// Every record still held and not finally acknowledged is released (close).
    pub(crate) fn release_all(&mut self) {
        for (tp, held) in &mut self.held {
            for (offset, h) in held.iter_mut() {
                if h.acked.is_none() && h.lost.is_none() {
                    h.acked = Some(AcknowledgeType::Release);
                    self.pending
                        .entry(tp.clone())
                        .or_default()
                        .insert(*offset, AcknowledgeType::Release.wire());
                }
            }
        }
    }

    /// Buffered (never delivered) records of `tp` released: the fetch that brought
    /// them back is not delivered (the partition went away, the consumer closes).
    pub(crate) fn release_buffered(&mut self, tp: &TopicPartition, offsets: &[i64]) {
        let Some(held) = self.held.get_mut(tp) else {
            return;
        };
        for o in offsets {
            if let Some(h) = held.get_mut(o)
                && h.poll.is_none()
                && h.acked.is_none()
            {
                h.acked = Some(AcknowledgeType::Release);
                self.pending
                    .entry(tp.clone())
                    .or_default()
                    .insert(*o, AcknowledgeType::Release.wire());
            }
        }
    }

    /// The member lost every record (fenced, or its share session is gone): nothing
    /// held, nothing pending. Returns the pending acknowledgements dropped, by
    /// partition, to be reported as failed.
    pub(crate) fn lose_all(
        &mut self,
        reason: NotHeldReason,
    ) -> BTreeMap<TopicPartition, BTreeSet<i64>> {
        for h in self.held.values_mut().flat_map(|m| m.values_mut()) {
            if h.lost.is_none() && h.acked.is_none() {
                h.lost = Some(reason);
            }
        }
        // Buffered records are gone with the rest.
        for m in self.held.values_mut() {
            m.retain(|_, h| h.poll.is_some());
        }
        std::mem::take(&mut self.pending)
            .into_iter()
            .map(|(tp, m)| {
                let offsets = m.into_iter().filter(|(_, t)| *t != GAP).map(|(o, _)| o);
                (tp, offsets.collect())
            })
            .filter(|(_, o): &(TopicPartition, BTreeSet<i64>)| !o.is_empty())
            .collect()
    }

    /// Whether acknowledgements wait for `tp`.
    #[cfg(test)]
    pub(crate) fn has_pending(&self, tp: &TopicPartition) -> bool {
        self.pending.get(tp).is_some_and(|m| !m.is_empty())
    }

    /// The partitions with acknowledgements waiting.
    pub(crate) fn pending_partitions(&self) -> impl Iterator<Item = &TopicPartition> {
        self.pending
            .iter()
            .filter(|(_, m)| !m.is_empty())
            .map(|(tp, _)| tp)
    }

    /// Takes the pending acknowledgements of `tp` for a request.
    pub(crate) fn take(&mut self, tp: &TopicPartition) -> Option<TakenAcks> {
        let acks = self.pending.remove(tp).filter(|m| !m.is_empty())?;
        Some(TakenAcks {
            batches: to_batches(&acks),
            offsets: acks
                .iter()
                .filter(|(_, t)| **t != GAP)
                .map(|(o, _)| *o)
                .collect(),
            renew: acks.values().any(|t| *t == AcknowledgeType::Renew.wire()),
        })
    }

    /// A request carrying `acks` of `tp` was answered. Renewed records get a new
    /// deadline on success; on failure (`ok == false`) the records are not held any
    /// more.
    pub(crate) fn answered(
        &mut self,
        tp: &TopicPartition,
        acks: &TakenAcks,
        ok: bool,
        now: Instant,
        lock: Duration,
    ) {
        let Some(held) = self.held.get_mut(tp) else {
            return;
        };
        for o in &acks.offsets {
            if let Some(h) = held.get_mut(o) {
                if !ok {
                    h.lost.get_or_insert(NotHeldReason::LockExpired);
                } else if h.acked.is_none() {
                    // A renewal: held for another lock duration.
                    h.deadline = now + lock;
                }
            }
        }
    }

    /// Whether `offset` of `tp` is held.
    #[cfg(test)]
    pub(crate) fn holds(&self, tp: &TopicPartition, offset: i64) -> bool {
        self.held.get(tp).is_some_and(|m| m.contains_key(&offset))
    }

    /// How many records are held (buffered or delivered, not pruned).
    #[cfg(test)]
    pub(crate) fn held_count(&self) -> usize {
        self.held.values().map(BTreeMap::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::consumer::ConsumerRecord;
    use crate::records::TimestampType;

    const LOCK: Duration = Duration::from_secs(30);

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    fn rec(offset: i64, poll: u64) -> ShareRecord {
        ShareRecord {
            record: ConsumerRecord {
                topic: Arc::from("t"),
                partition: 0,
                offset,
                timestamp: 0,
                timestamp_type: TimestampType::CreateTime,
                key: None,
                value: None,
                headers: Vec::new(),
                leader_epoch: None,
            },
            delivery_count: 1,
            token: PollToken { consumer: 7, poll },
        }
    }

    fn ledger_with(offsets: &[i64], poll: u64, now: Instant) -> Ledger {
        let mut l = Ledger::default();
        l.acquired(&tp(), offsets.iter().map(|o| (*o, 1)), [], now, LOCK);
        for o in offsets {
            l.delivered(&tp(), *o, poll);
        }
        l
    }

    #[test]
    fn batches_join_consecutive_offsets_and_share_one_type_when_uniform() {
        let acks: BTreeMap<i64, i8> = [(1, 1), (2, 1), (3, 1), (5, 2), (6, 3), (9, 0)]
            .into_iter()
            .collect();
        assert_eq!(
            to_batches(&acks),
            vec![
                AckBatch {
                    first: 1,
                    last: 3,
                    types: vec![1]
                },
                AckBatch {
                    first: 5,
                    last: 6,
                    types: vec![2, 3]
                },
                AckBatch {
                    first: 9,
                    last: 9,
                    types: vec![0]
                },
            ]
        );
        assert!(to_batches(&BTreeMap::new()).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn acknowledging_twice_is_refused_naming_the_first() {
        let now = Instant::now();
        let mut l = ledger_with(&[0, 1], 1, now);
        l.acknowledge(&rec(0, 1), AcknowledgeType::Release, 7, 1, false, now)
            .unwrap();
        let e = l
            .acknowledge(&rec(0, 1), AcknowledgeType::Accept, 7, 1, false, now)
            .unwrap_err();
        assert!(matches!(
            e,
            AcknowledgeError::AlreadyAcknowledged {
                offset: 0,
                previous: AcknowledgeType::Release,
                ..
            }
        ));
        let taken = l.take(&tp()).unwrap();
        assert_eq!(
            taken.batches,
            vec![AckBatch {
                first: 0,
                last: 0,
                types: vec![2]
            }]
        );
        assert_eq!(taken.offsets, BTreeSet::from([0]));
        assert!(l.take(&tp()).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn implicit_mode_refuses_records_of_an_earlier_poll() {
        let now = Instant::now();
        let mut l = ledger_with(&[0], 1, now);
        l.accept_poll(1);
        let e = l
            .acknowledge(&rec(0, 1), AcknowledgeType::Reject, 7, 2, true, now)
            .unwrap_err();
        assert!(
            matches!(e, AcknowledgeError::NotFromLatestPoll { offset: 0, .. }),
            "{e}"
        );
        // The implicit accept is what goes out.
        assert_eq!(l.take(&tp()).unwrap().batches[0].types, vec![1]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_record_past_its_lock_is_refused_as_expired() {
        let now = Instant::now();
        let mut l = ledger_with(&[4], 1, now);
        tokio::time::advance(LOCK + Duration::from_millis(1)).await;
        let e = l
            .acknowledge(
                &rec(4, 1),
                AcknowledgeType::Accept,
                7,
                1,
                false,
                Instant::now(),
            )
            .unwrap_err();
        assert!(
            matches!(
                e,
                AcknowledgeError::NotHeld {
                    reason: NotHeldReason::LockExpired,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(l.unacknowledged(Instant::now()), 0);
        assert!(l.take(&tp()).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn renewal_keeps_the_record_open_and_extends_its_lock() {
        let now = Instant::now();
        let mut l = ledger_with(&[3], 1, now);
        tokio::time::advance(LOCK - Duration::from_secs(1)).await;
        l.acknowledge(
            &rec(3, 1),
            AcknowledgeType::Renew,
            7,
            1,
            false,
            Instant::now(),
        )
        .unwrap();
        let taken = l.take(&tp()).unwrap();
        assert!(taken.renew);
        l.answered(&tp(), &taken, true, Instant::now(), LOCK);
        tokio::time::advance(Duration::from_secs(5)).await;
        // Past the first lock, inside the renewed one: still open, still unacknowledged.
        assert_eq!(l.unacknowledged(Instant::now()), 1);
        l.acknowledge(
            &rec(3, 1),
            AcknowledgeType::Accept,
            7,
            1,
            false,
            Instant::now(),
        )
        .unwrap();
        assert!(!l.take(&tp()).unwrap().renew);
    }

    #[tokio::test(start_paused = true)]
    async fn fenced_member_loses_everything_and_reports_pending() {
        let now = Instant::now();
        let mut l = ledger_with(&[0, 1, 2], 1, now);
        l.acquired(&tp(), [(3, 2)], [4], now, LOCK);
        l.acknowledge(&rec(0, 1), AcknowledgeType::Accept, 7, 1, false, now)
            .unwrap();
        let dropped = l.lose_all(NotHeldReason::Fenced);
        assert_eq!(dropped[&tp()], BTreeSet::from([0]));
        let e = l
            .acknowledge(&rec(1, 1), AcknowledgeType::Accept, 7, 1, false, now)
            .unwrap_err();
        assert!(matches!(
            e,
            AcknowledgeError::NotHeld {
                reason: NotHeldReason::Fenced,
                ..
            }
        ));
        assert!(!l.holds(&tp(), 3), "buffered records are gone");
        assert!(!l.has_pending(&tp()));
    }

    #[tokio::test(start_paused = true)]
    async fn gaps_go_out_with_acks_and_close_releases_the_rest() {
        let now = Instant::now();
        let mut l = Ledger::default();
        l.acquired(&tp(), [(10, 2), (12, 2)], [11], now, LOCK);
        assert!(l.holds(&tp(), 12));
        l.delivered(&tp(), 10, 1);
        l.acknowledge(&rec(10, 1), AcknowledgeType::Accept, 7, 1, false, now)
            .unwrap();
        l.release_all();
        let taken = l.take(&tp()).unwrap();
        assert_eq!(
            taken.batches,
            vec![AckBatch {
                first: 10,
                last: 12,
                types: vec![1, 0, 2]
            }]
        );
        assert_eq!(taken.offsets, BTreeSet::from([10, 12]));
    }

    #[tokio::test(start_paused = true)]
    async fn other_consumers_records_and_unknown_offsets_are_not_held() {
        let now = Instant::now();
        let mut l = ledger_with(&[0], 1, now);
        let mut foreign = rec(0, 1);
        foreign.token.consumer = 8;
        for r in [foreign, rec(99, 1)] {
            let e = l
                .acknowledge(&r, AcknowledgeType::Accept, 7, 1, false, now)
                .unwrap_err();
            assert!(matches!(
                e,
                AcknowledgeError::NotHeld {
                    reason: NotHeldReason::Unknown,
                    ..
                }
            ));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn prune_forgets_finished_records_of_earlier_polls_only() {
        let now = Instant::now();
        let mut l = ledger_with(&[0, 1], 1, now);
        l.acquired(&tp(), [(2, 1)], [], now, LOCK);
        l.acknowledge(&rec(0, 1), AcknowledgeType::Accept, 7, 1, false, now)
            .unwrap();
        let taken = l.take(&tp()).unwrap();
        l.answered(&tp(), &taken, true, now, LOCK);
        l.prune(2, now);
        // 0 is done, 1 is still open (explicit mode), 2 is buffered.
        assert_eq!(l.held_count(), 2);
        assert_eq!(l.unacknowledged(now), 1);
    }
}
