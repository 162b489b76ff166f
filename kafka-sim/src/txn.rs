//! The transaction coordinator of the simulated cluster, sans I/O: transactional ids
//! with their producer id and epoch, the transaction states (Empty, Ongoing,
//! PrepareCommit/PrepareAbort while markers are written, CompleteCommit/CompleteAbort),
//! the partitions and group offsets of the open transaction, transaction markers
//! written to each partition's leader as the replication ticks (a partition without a
//! leader or enough in-sync replicas waits), transaction timeouts, and protocol v2
//! (KIP-890: Produce adds partitions, EndTxn bumps the epoch). The checks and error
//! codes are Kafka's `TransactionCoordinator`'s.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;

use crate::replication::Partition;

/// Error codes of the transaction APIs.
pub(crate) mod code {
    pub const INVALID_PRODUCER_EPOCH: i16 = 47;
    pub const INVALID_TXN_STATE: i16 = 48;
    pub const INVALID_PRODUCER_ID_MAPPING: i16 = 49;
    pub const CONCURRENT_TRANSACTIONS: i16 = 51;
    pub const TRANSACTIONAL_ID_NOT_FOUND: i16 = 105;
    pub const PRODUCER_FENCED: i16 = 90;
}

/// Where a transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Empty,
    Ongoing,
    /// EndTxn accepted; markers being written.
    Prepare {
        commit: bool,
    },
    Complete {
        commit: bool,
    },
}

/// One transactional id.
#[derive(Debug, Clone)]
pub(crate) struct Txn {
    pub producer_id: i64,
    pub epoch: i16,
    /// The epoch before the last bump (to recognise a retried request).
    prev_epoch: i16,
    pub phase: Phase,
    timeout: Duration,
    started: Instant,
    /// Partitions (slots) in the open transaction.
    partitions: BTreeSet<usize>,
    /// Group offsets in the open transaction: (group, topic, partition) → offset.
    offsets: BTreeMap<(String, String, i32), i64>,
    /// Partitions still waiting for the marker to be committed (replicated), with where
    /// it was written (`None`: not yet), and the epoch to write it with.
    markers: BTreeMap<usize, Option<(i64, i32)>>,
    marker_epoch: i16,
}

/// Every transactional id, and the transactional group offsets committed so far.
#[derive(Debug, Default)]
pub(crate) struct Txns {
    pub by_id: BTreeMap<String, Txn>,
    /// Offsets committed by transactions: (group, topic, partition) → offset.
    pub committed: BTreeMap<(String, String, i32), i64>,
    /// Every transaction ended, in order: (transactional id, producer id, commit).
    pub ended: Vec<(String, i64, bool)>,
    /// The coordinator speaks transaction protocol v2 (its own aborts bump twice).
    pub v2: bool,
}

impl Txn {
    /// Checks a request's producer id and epoch against the current ones.
    fn check(&self, producer_id: i64, epoch: i16) -> Result<(), i16> {
        if producer_id != self.producer_id {
            Err(code::INVALID_PRODUCER_ID_MAPPING)
        } else if epoch < self.epoch {
            Err(code::PRODUCER_FENCED)
        } else if epoch > self.epoch {
            Err(code::INVALID_PRODUCER_EPOCH)
        } else {
            Ok(())
        }
    }

    /// Moves an Empty or Complete transaction to Ongoing (a new transaction), or refuses
    /// while markers are being written.
    fn open(&mut self, now: Instant) -> Result<(), i16> {
        match self.phase {
            Phase::Prepare { .. } => Err(code::CONCURRENT_TRANSACTIONS),
            Phase::Ongoing => Ok(()),
            Phase::Empty | Phase::Complete { .. } => {
                self.phase = Phase::Ongoing;
                self.started = now;
                self.partitions.clear();
                self.offsets.clear();
                Ok(())
            }
        }
    }

    /// Ends the open transaction: markers go to every partition in it, written with
    /// `marker_epoch`.
    fn prepare(&mut self, commit: bool, marker_epoch: i16) {
        self.phase = Phase::Prepare { commit };
        self.markers = std::mem::take(&mut self.partitions)
            .into_iter()
            .map(|p| (p, None))
            .collect();
        self.marker_epoch = marker_epoch;
    }

    /// Bumps the epoch (remembering the previous one).
    fn bump(&mut self) {
        self.prev_epoch = self.epoch;
        self.epoch += 1;
    }

    /// The coordinator's own abort of an Ongoing transaction past its timeout, as
    /// Kafka's `abortTimedOutTransactions` does it: the epoch is fenced (bumped, with no
    /// previous epoch a producer could claim), and under protocol v2 the abort bumps it
    /// once more (the previous epoch is then the fencing one, which no producer ever
    /// held). The markers carry the final epoch, so the partition leaders refuse the old
    /// one (INVALID_PRODUCER_EPOCH), and the producer's own EndTxn with its old epoch is
    /// no retry: PRODUCER_FENCED, under either protocol.
    fn abort_timed_out(&mut self, v2: bool) {
        self.epoch += 1;
        self.prev_epoch = -1;
        if v2 {
            self.bump();
        }
        let epoch = self.epoch;
        self.prepare(false, epoch);
    }
}

impl Txns {
    fn get(&mut self, id: &str) -> Result<&mut Txn, i16> {
        self.by_id
            .get_mut(id)
            .ok_or(code::TRANSACTIONAL_ID_NOT_FOUND)
    }

    /// InitProducerId for `id`: a new id gets a fresh producer id (`fresh`); an
    /// existing one has its epoch bumped, after aborting what it left open (answered
    /// CONCURRENT_TRANSACTIONS until the abort's markers are written, as Kafka does; the
    /// abort fences the open transaction's epoch as a timeout does, so a KIP-360 bump
    /// from that epoch is then PRODUCER_FENCED). `given`: the producer id and epoch of a
    /// KIP-360 bump; a retry of a bump whose answer was lost gets the current epoch
    /// again.
    pub fn init(
        &mut self,
        id: &str,
        given: Option<(i64, i16)>,
        timeout: Duration,
        fresh: impl FnOnce() -> i64,
        now: Instant,
    ) -> Result<(i64, i16), i16> {
        let v2 = self.v2;
        let Some(t) = self.by_id.get_mut(id) else {
            let producer_id = fresh();
            self.by_id.insert(
                id.to_string(),
                Txn {
                    producer_id,
                    epoch: 0,
                    prev_epoch: -1,
                    phase: Phase::Empty,
                    timeout,
                    started: now,
                    partitions: BTreeSet::new(),
                    offsets: BTreeMap::new(),
                    markers: BTreeMap::new(),
                    marker_epoch: 0,
                },
            );
            return Ok((producer_id, 0));
        };
        t.timeout = timeout;
        if let Some((pid, epoch)) = given {
            if pid != t.producer_id {
                return Err(code::INVALID_PRODUCER_ID_MAPPING);
            }
            if epoch == t.prev_epoch && !matches!(t.phase, Phase::Ongoing) {
                // The retry of a bump already made.
                return match t.phase {
                    Phase::Prepare { .. } => Err(code::CONCURRENT_TRANSACTIONS),
                    _ => Ok((t.producer_id, t.epoch)),
                };
            }
            if epoch != t.epoch {
                return Err(code::PRODUCER_FENCED);
            }
        }
        match t.phase {
            Phase::Prepare { .. } => Err(code::CONCURRENT_TRANSACTIONS),
            Phase::Ongoing => {
                // Fence and abort, as on a timeout (Kafka's `prepareFenceProducerEpoch`
                // then its own EndTxn); the client retries.
                t.abort_timed_out(v2);
                Err(code::CONCURRENT_TRANSACTIONS)
            }
            Phase::Empty | Phase::Complete { .. } => {
                t.bump();
                Ok((t.producer_id, t.epoch))
            }
        }
    }

    /// AddPartitionsToTxn (protocol v1): the partitions join the open transaction.
    pub fn add_partitions(
        &mut self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        slots: &[usize],
        now: Instant,
    ) -> Result<(), i16> {
        let t = self.get(id)?;
        t.check(producer_id, epoch)?;
        t.open(now)?;
        t.partitions.extend(slots);
        Ok(())
    }

    /// AddOffsetsToTxn (protocol v1): the group's offsets partition joins the
    /// transaction (its offsets come with TxnOffsetCommit).
    pub fn add_offsets(
        &mut self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        now: Instant,
    ) -> Result<(), i16> {
        let t = self.get(id)?;
        t.check(producer_id, epoch)?;
        t.open(now)
    }

    /// TxnOffsetCommit, at the group coordinator: the offsets wait for the transaction's
    /// end. Protocol v2 (`implicit`) adds the group to the transaction; v1 needs
    /// AddOffsetsToTxn first.
    pub fn offset_commit(
        &mut self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        offsets: Vec<((String, String, i32), i64)>,
        implicit: bool,
        now: Instant,
    ) -> Result<(), i16> {
        let t = self.get(id)?;
        t.check(producer_id, epoch)
            .map_err(|_| code::INVALID_PRODUCER_EPOCH)?;
        if implicit {
            t.open(now)?;
        } else if t.phase != Phase::Ongoing {
            return Err(code::INVALID_TXN_STATE);
        }
        t.offsets.extend(offsets);
        Ok(())
    }

    /// EndTxn. Protocol v1: the epoch stays; a retry after the transaction ended the
    /// same way succeeds. Protocol v2: the epoch is bumped and returned; a retry with
    /// the previous epoch gets the current one.
    pub fn end(
        &mut self,
        id: &str,
        producer_id: i64,
        epoch: i16,
        commit: bool,
        v2: bool,
    ) -> Result<(i64, i16), i16> {
        let t = self.get(id)?;
        let retry = v2 && epoch == t.prev_epoch && producer_id == t.producer_id;
        if retry {
            return match t.phase {
                Phase::Prepare { commit: c } | Phase::Complete { commit: c } if c == commit => {
                    Ok((t.producer_id, t.epoch))
                }
                _ => Err(code::PRODUCER_FENCED),
            };
        }
        t.check(producer_id, epoch)?;
        match t.phase {
            Phase::Ongoing => {
                if v2 {
                    t.bump();
                }
                let epoch = t.epoch;
                t.prepare(commit, epoch);
                Ok((t.producer_id, t.epoch))
            }
            Phase::Prepare { commit: c } if c == commit => Err(code::CONCURRENT_TRANSACTIONS),
            Phase::Complete { commit: c } if c == commit && !v2 => Ok((t.producer_id, t.epoch)),
            Phase::Empty | Phase::Complete { .. } if v2 && !commit => {
                // v2 may abort an empty transaction: the epoch is bumped.
                t.bump();
                t.phase = Phase::Complete { commit: false };
                Ok((t.producer_id, t.epoch))
            }
            _ => Err(code::INVALID_TXN_STATE),
        }
    }

    /// A Produce of a transactional batch on a partition leader (KIP-890's
    /// verification): the transaction must be open with the partition in it (protocol v2,
    /// `implicit`: the partition is added).
    pub fn verify(
        &mut self,
        id: Option<&str>,
        producer_id: i64,
        epoch: i16,
        slot: usize,
        implicit: bool,
    ) -> Result<(), i16> {
        let Some(id) = id else {
            return Err(code::INVALID_TXN_STATE);
        };
        let t = self.get(id).map_err(|_| code::INVALID_TXN_STATE)?;
        if producer_id != t.producer_id {
            return Err(code::INVALID_PRODUCER_ID_MAPPING);
        }
        if epoch < t.epoch {
            return Err(code::INVALID_PRODUCER_EPOCH);
        }
        if epoch > t.epoch {
            return Err(code::INVALID_TXN_STATE);
        }
        if implicit {
            t.open(Instant::now())?;
            t.partitions.insert(slot);
            return Ok(());
        }
        if t.phase == Phase::Ongoing && t.partitions.contains(&slot) {
            Ok(())
        } else {
            Err(code::INVALID_TXN_STATE)
        }
    }

    /// Writes the markers it can; completes transactions whose markers are all
    /// committed (replicated; a marker lost with a truncated leader is written again),
    /// and a commit makes its offsets committed; aborts transactions past their timeout
    /// (fencing the epoch, as the coordinator does: [`Txn::abort_timed_out`]).
    pub fn tick(&mut self, partitions: &mut [Partition], now: Instant) {
        for (id, t) in &mut self.by_id {
            if t.phase == Phase::Ongoing && now.duration_since(t.started) > t.timeout {
                t.abort_timed_out(self.v2);
            }
            let Phase::Prepare { commit } = t.phase else {
                continue;
            };
            let (pid, epoch) = (t.producer_id, t.marker_epoch);
            t.markers.retain(|&slot, at| {
                let p = &mut partitions[slot];
                let state = at.and_then(|w| p.marker_state(w));
                if state.is_none() {
                    *at = p.append_marker(pid, epoch, commit);
                }
                state != Some(true)
            });
            if t.markers.is_empty() {
                t.phase = Phase::Complete { commit };
                let offsets = std::mem::take(&mut t.offsets);
                if commit {
                    self.committed.extend(offsets);
                }
                self.ended.push((id.clone(), pid, commit));
            }
        }
    }

    /// Whether no transaction is open or ending.
    pub fn settled(&self) -> bool {
        self.by_id
            .values()
            .all(|t| matches!(t.phase, Phase::Empty | Phase::Complete { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(60);

    fn parts() -> Vec<Partition> {
        (0..3).map(|_| Partition::new(1)).collect()
    }

    /// Writes the markers, replicates them (a marker counts once committed), and
    /// completes what it can.
    fn settle(txns: &mut Txns, ps: &mut [Partition], now: Instant) {
        txns.tick(ps, now);
        for p in ps.iter_mut() {
            p.replicate(&[true; 3], &[false; 3]);
        }
        txns.tick(ps, now);
    }

    #[tokio::test(start_paused = true)]
    async fn a_v1_commit_writes_markers_then_applies_its_offsets_and_a_retry_succeeds() {
        let (mut txns, mut ps, now) = (Txns::default(), parts(), Instant::now());
        let (pid, epoch) = txns.init("t", None, T, || 7, now).unwrap();
        assert_eq!((pid, epoch), (7, 0));
        txns.add_partitions("t", pid, epoch, &[0, 2], now).unwrap();
        assert_eq!(txns.verify(Some("t"), pid, epoch, 0, false), Ok(()));
        assert_eq!(
            txns.verify(Some("t"), pid, epoch, 1, false),
            Err(code::INVALID_TXN_STATE),
            "partition 1 was never added"
        );
        txns.add_offsets("t", pid, epoch, now).unwrap();
        let key = ("g".to_string(), "src".to_string(), 0);
        txns.offset_commit("t", pid, epoch, vec![(key.clone(), 5)], false, now)
            .unwrap();
        assert_eq!(txns.end("t", pid, epoch, true, false), Ok((7, 0)));
        assert_eq!(
            txns.end("t", pid, epoch, true, false),
            Err(code::CONCURRENT_TRANSACTIONS),
            "markers pending"
        );
        assert!(txns.committed.is_empty() && !txns.settled());
        txns.tick(&mut ps, now);
        assert!(!txns.settled(), "the marker is written, not yet replicated");
        settle(&mut txns, &mut ps, now);
        assert!(txns.settled());
        assert_eq!(txns.committed.get(&key), Some(&5));
        assert_eq!(ps[0].log_end(), 1, "one commit marker");
        assert_eq!(ps[1].log_end(), 0, "no marker where nothing was added");
        assert_eq!(
            txns.end("t", pid, epoch, true, false),
            Ok((7, 0)),
            "a retry"
        );
        assert_eq!(
            txns.end("t", pid, epoch, false, false),
            Err(code::INVALID_TXN_STATE)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn v2_bumps_the_epoch_at_every_end_and_fences_the_old_one() {
        let (mut txns, mut ps, now) = (Txns::default(), parts(), Instant::now());
        let (pid, e0) = txns.init("t", None, T, || 7, now).unwrap();
        assert_eq!(
            txns.verify(Some("t"), pid, e0, 1, true),
            Ok(()),
            "implicit add"
        );
        let (_, e1) = txns.end("t", pid, e0, false, true).unwrap();
        assert_eq!(e1, e0 + 1);
        assert_eq!(
            txns.end("t", pid, e0, false, true),
            Ok((pid, e1)),
            "a retry with the old epoch gets the new one"
        );
        settle(&mut txns, &mut ps, now);
        assert_eq!(
            txns.verify(Some("t"), pid, e0, 1, true),
            Err(code::INVALID_PRODUCER_EPOCH),
            "a zombie batch of the old epoch"
        );
        assert_eq!(
            txns.add_partitions("t", pid, e0, &[0], now),
            Err(code::PRODUCER_FENCED)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn init_aborts_an_open_transaction_with_a_bumped_epoch_and_timeouts_abort_too() {
        let (mut txns, mut ps, now) = (Txns::default(), parts(), Instant::now());
        let (pid, e0) = txns.init("t", None, T, || 7, now).unwrap();
        txns.add_partitions("t", pid, e0, &[0], now).unwrap();
        assert_eq!(
            txns.init("t", Some((pid, e0)), T, || 8, now),
            Err(code::CONCURRENT_TRANSACTIONS)
        );
        settle(&mut txns, &mut ps, now);
        assert_eq!(txns.ended, vec![("t".to_string(), 7, false)]);
        assert_eq!(
            txns.init("t", Some((pid, e0)), T, || 8, now),
            Err(code::PRODUCER_FENCED),
            "the abort fenced e0 (Kafka forgets the previous epoch when it fences)"
        );
        let (_, e2) = txns.init("t", None, T, || 8, now).unwrap();
        assert_eq!(e2, e0 + 2, "a new producer: the fence, then its own bump");
        txns.add_partitions("t", pid, e2, &[1], now).unwrap();
        tokio::time::advance(T + Duration::from_secs(1)).await;
        settle(&mut txns, &mut ps, Instant::now());
        assert_eq!(txns.ended.len(), 2, "the timed-out transaction was aborted");
        assert_eq!(
            txns.end("t", pid, e2, true, false),
            Err(code::PRODUCER_FENCED),
            "the timed-out producer is fenced"
        );
    }

    /// A transaction past its timeout, as Kafka 4.x's coordinator aborts it: returns
    /// the coordinator and the stale epoch the producer still holds.
    async fn timed_out(v2: bool, ps: &mut [Partition]) -> (Txns, i64, i16) {
        let mut txns = Txns {
            v2,
            ..Txns::default()
        };
        let now = Instant::now();
        let (pid, e0) = txns.init("t", None, T, || 7, now).unwrap();
        if v2 {
            txns.verify(Some("t"), pid, e0, 0, true).unwrap();
        } else {
            txns.add_partitions("t", pid, e0, &[0], now).unwrap();
        }
        tokio::time::advance(T + Duration::from_secs(1)).await;
        settle(&mut txns, ps, Instant::now());
        assert_eq!(txns.ended, vec![("t".to_string(), 7, false)], "aborted");
        (txns, pid, e0)
    }

    #[tokio::test(start_paused = true)]
    async fn a_v2_timeout_fences_the_epoch_then_bumps_it_again_and_the_old_producer_cannot_abort() {
        let mut ps = parts();
        let (mut txns, pid, e0) = timed_out(true, &mut ps).await;
        assert_eq!(
            txns.by_id["t"].epoch,
            e0 + 2,
            "fence, then the abort's bump"
        );
        assert_eq!(ps[0].log_end(), 1, "an abort marker where the batch went");
        assert_eq!(
            txns.verify(Some("t"), pid, e0, 0, true),
            Err(code::INVALID_PRODUCER_EPOCH),
            "the old epoch's next Produce"
        );
        assert_eq!(
            txns.end("t", pid, e0, false, true),
            Err(code::PRODUCER_FENCED),
            "no retry of an abort: the epoch before the last is the fencing one"
        );
        assert_eq!(
            txns.end("t", pid, e0, true, true),
            Err(code::PRODUCER_FENCED)
        );
        assert_eq!(
            txns.init("t", Some((pid, e0)), T, || 8, Instant::now()),
            Err(code::PRODUCER_FENCED),
            "a KIP-360 bump from the old epoch"
        );
        let (_, e3) = txns.init("t", None, T, || 8, Instant::now()).unwrap();
        assert_eq!(e3, e0 + 3, "a new producer carries on");
        assert_eq!(txns.verify(Some("t"), pid, e3, 1, true), Ok(()));
        assert_eq!(txns.end("t", pid, e3, true, true), Ok((pid, e3 + 1)));
    }

    #[tokio::test(start_paused = true)]
    async fn a_v1_timeout_fences_the_epoch_once_and_forgets_the_old_one() {
        let mut ps = parts();
        let (mut txns, pid, e0) = timed_out(false, &mut ps).await;
        assert_eq!(txns.by_id["t"].epoch, e0 + 1);
        assert_eq!(
            txns.verify(Some("t"), pid, e0, 0, false),
            Err(code::INVALID_PRODUCER_EPOCH)
        );
        assert_eq!(
            txns.end("t", pid, e0, false, false),
            Err(code::PRODUCER_FENCED)
        );
        assert_eq!(
            txns.init("t", Some((pid, e0)), T, || 8, Instant::now()),
            Err(code::PRODUCER_FENCED),
            "the fence leaves no previous epoch to claim"
        );
        assert_eq!(
            txns.init("t", None, T, || 8, Instant::now()),
            Ok((pid, e0 + 2))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn under_v2_a_new_producer_fences_an_open_transaction_twice_then_gets_the_next_epoch() {
        let (mut ps, now) = (parts(), Instant::now());
        let mut txns = Txns {
            v2: true,
            ..Txns::default()
        };
        let (pid, e0) = txns.init("t", None, T, || 7, now).unwrap();
        txns.verify(Some("t"), pid, e0, 0, true).unwrap();
        assert_eq!(
            txns.init("t", None, T, || 8, now),
            Err(code::CONCURRENT_TRANSACTIONS),
            "the open transaction is aborted first"
        );
        settle(&mut txns, &mut ps, now);
        assert_eq!(txns.ended, vec![("t".to_string(), 7, false)]);
        assert_eq!(
            txns.verify(Some("t"), pid, e0, 0, true),
            Err(code::INVALID_PRODUCER_EPOCH)
        );
        assert_eq!(txns.init("t", None, T, || 8, now), Ok((pid, e0 + 3)));
    }
}
