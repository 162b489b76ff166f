//! A share group (KIP-932), sans I/O: membership by ShareGroupHeartbeat (epoch 0
//! joins, -1 leaves; a partition may go to several members; no revocation
//! handshake, so a member moves to the group epoch with each heartbeat), share
//! sessions (epoch 0 opens, then 1, 2, ...; -1 closes), and per partition the share
//! state the broker's SharePartition keeps: records acquired by a member under a lock
//! with a delivery count, accepted, released (available again) or rejected (archived);
//! a lock that times out or a member that leaves or times out makes its records
//! available again, and a record delivered `delivery_limit` times is archived.

use std::collections::{BTreeMap, BTreeSet};

use bytes::{Bytes, BytesMut};
use kafka_client::Uuid;
use tokio::time::Instant;

use super::assignor::{Assignment, Topics, share_assign};
use super::consumer::{FENCED_MEMBER_EPOCH, INVALID_REQUEST, UNKNOWN_MEMBER_ID};
use super::{GroupTimes, err};
use crate::log::PartitionLog;

pub(crate) const INVALID_RECORD_STATE: i16 = 121;
pub(crate) const SHARE_SESSION_NOT_FOUND: i16 = 122;
pub(crate) const INVALID_SHARE_SESSION_EPOCH: i16 = 123;

/// A partition as share requests name it.
pub(crate) type IdPartition = (Uuid, i32);

/// A heartbeat's answer: member id, epoch, the assignment when it changed.
pub(crate) type ShareAnswer = (String, i32, Option<Assignment>);

#[derive(Debug, Clone)]
struct Member {
    epoch: i32,
    topics: BTreeSet<String>,
    session_deadline: Instant,
    sent: Option<Assignment>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Available,
    Acquired(Instant),
    /// Accepted, rejected or archived: never delivered again.
    Done,
}

#[derive(Debug, Clone)]
struct InFlight {
    state: State,
    owner: String,
    delivery_count: i16,
}

/// One partition's share state in one group.
#[derive(Debug, Clone, Default)]
pub(crate) struct SharePartition {
    /// The share-partition start offset: everything before is done.
    start: i64,
    /// The next offset not yet acquired for the first time.
    next: i64,
    records: BTreeMap<i64, InFlight>,
}

/// What one acquisition handed out: the batches holding the records, and the
/// acquired ranges (first, last, delivery count).
#[derive(Debug, Default)]
pub(crate) struct Acquired {
    pub records: Bytes,
    pub ranges: Vec<(i64, i64, i16)>,
}

impl SharePartition {
    fn new(start: i64) -> Self {
        SharePartition {
            start,
            next: start,
            records: BTreeMap::new(),
        }
    }

    /// Locks that have run out make their records available again (or archive them
    /// at the delivery limit).
    fn expire(&mut self, now: Instant, limit: i16) {
        for r in self.records.values_mut() {
            if matches!(r.state, State::Acquired(deadline) if deadline <= now) {
                r.state = if r.delivery_count >= limit {
                    State::Done
                } else {
                    State::Available
                };
            }
        }
        self.advance();
    }

    fn advance(&mut self) {
        while self.start < self.next {
            match self.records.get(&self.start) {
                Some(r) if r.state != State::Done => break,
                _ => {
                    self.records.remove(&self.start);
                    self.start += 1;
                }
            }
        }
    }

    /// Acquires up to about `max_records` records for `member` (whole batches, as the
    /// broker's default acquire mode does): released ones first, then new ones.
    fn acquire(
        &mut self,
        member: &str,
        log: &PartitionLog,
        max_records: usize,
        deadline: Instant,
    ) -> Acquired {
        let mut got: Vec<(i64, i16)> = Vec::new();
        for (&off, r) in self.records.iter_mut() {
            if got.len() >= max_records {
                break;
            }
            if r.state == State::Available {
                r.state = State::Acquired(deadline);
                r.owner = member.to_string();
                r.delivery_count += 1;
                got.push((off, r.delivery_count));
            }
        }
        for (base, last, control, _) in log.batches_from(self.next) {
            if got.len() >= max_records {
                break;
            }
            if !control {
                for off in base.max(self.next)..=last {
                    self.records.insert(
                        off,
                        InFlight {
                            state: State::Acquired(deadline),
                            owner: member.to_string(),
                            delivery_count: 1,
                        },
                    );
                    got.push((off, 1));
                }
            }
            self.next = last + 1;
        }
        self.advance();
        got.sort_unstable();
        let mut ranges: Vec<(i64, i64, i16)> = Vec::new();
        for (off, count) in &got {
            match ranges.last_mut() {
                Some((_, last, c)) if *last + 1 == *off && c == count => *last = *off,
                _ => ranges.push((*off, *off, *count)),
            }
        }
        let mut records = BytesMut::new();
        if let (Some(first), Some(last)) = (got.first(), got.last()) {
            for (base, end, _, bytes) in log.batches_from(first.0) {
                if base > last.0 {
                    break;
                }
                if got.iter().any(|(o, _)| (base..=end).contains(o)) {
                    records.extend_from_slice(&bytes);
                }
            }
        }
        Acquired {
            records: records.freeze(),
            ranges,
        }
    }

    /// Applies one acknowledgement batch of `member`: type 1 accepts, 2 releases, 3
    /// rejects, 0 marks a gap; one type for the whole range or one per offset. Every
    /// offset acknowledged must be acquired by the member (INVALID_RECORD_STATE, and
    /// nothing changes, otherwise).
    fn acknowledge(
        &mut self,
        member: &str,
        first: i64,
        last: i64,
        types: &[i8],
        limit: i16,
    ) -> Result<(), i16> {
        let n = last - first + 1;
        if n <= 0
            || !(types.len() == 1 || types.len() as i64 == n)
            || types.iter().any(|t| !(0..=3).contains(t))
        {
            return Err(INVALID_REQUEST);
        }
        let kind = |off: i64| {
            if types.len() == 1 {
                types[0]
            } else {
                types[(off - first) as usize]
            }
        };
        for off in first..=last {
            let held = self
                .records
                .get(&off)
                .is_some_and(|r| matches!(r.state, State::Acquired(_)) && r.owner == member);
            if !held && kind(off) != 0 {
                return Err(INVALID_RECORD_STATE);
            }
        }
        for off in first..=last {
            if let Some(r) = self.records.get_mut(&off)
                && matches!(r.state, State::Acquired(_))
                && r.owner == member
            {
                r.state = match kind(off) {
                    2 if r.delivery_count < limit => State::Available,
                    _ => State::Done,
                };
            }
        }
        self.advance();
        Ok(())
    }

    /// Makes every record `member` holds available again.
    fn release_member(&mut self, member: &str, limit: i16) {
        for r in self.records.values_mut() {
            if matches!(r.state, State::Acquired(_)) && r.owner == member {
                r.state = if r.delivery_count >= limit {
                    State::Done
                } else {
                    State::Available
                };
            }
        }
        self.advance();
    }
}

#[derive(Debug, Clone)]
struct Session {
    partitions: BTreeSet<IdPartition>,
    next_epoch: i32,
}

/// One share group.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShareGroup {
    epoch: i32,
    members: BTreeMap<String, Member>,
    target: BTreeMap<String, Assignment>,
    shape: Vec<(String, Uuid, i32)>,
    partitions: BTreeMap<IdPartition, SharePartition>,
    sessions: BTreeMap<String, Session>,
    /// Where a partition's share state starts: at offset 0 (true) or the log end
    /// (`share.auto.offset.reset`, latest by default).
    pub earliest: bool,
}

impl ShareGroup {
    /// What each member is assigned now.
    pub fn assignments(&self) -> BTreeMap<String, Assignment> {
        self.target.clone()
    }

    /// Handles one ShareGroupHeartbeat at `now`.
    pub fn heartbeat(
        &mut self,
        member_id: &str,
        epoch: i32,
        topics_wanted: Option<Vec<String>>,
        topics: &Topics,
        times: &GroupTimes,
        now: Instant,
    ) -> Result<ShareAnswer, (i16, String)> {
        self.expire_members(now, topics, times);
        if member_id.is_empty() {
            return Err(err(INVALID_REQUEST, "MemberId can't be empty"));
        }
        match epoch {
            -1 => {
                if self.members.remove(member_id).is_some() {
                    self.drop_member(member_id, times);
                    self.rebalance(topics);
                }
                return Ok((member_id.to_string(), -1, None));
            }
            0 => {
                let Some(wanted) = topics_wanted.clone() else {
                    return Err(err(
                        INVALID_REQUEST,
                        "SubscribedTopicNames must be set when joining",
                    ));
                };
                if self.members.contains_key(member_id) {
                    self.drop_member(member_id, times);
                }
                self.members.insert(
                    member_id.to_string(),
                    Member {
                        epoch: 0,
                        topics: wanted.into_iter().collect(),
                        session_deadline: now,
                        sent: None,
                    },
                );
                self.rebalance(topics);
            }
            e if e > 0 => match self.members.get(member_id) {
                None => {
                    return Err(err(
                        UNKNOWN_MEMBER_ID,
                        format!("member {member_id} is not in the group"),
                    ));
                }
                Some(m) if m.epoch != e => {
                    return Err(err(
                        FENCED_MEMBER_EPOCH,
                        format!("member epoch {e} is not the member's epoch {}", m.epoch),
                    ));
                }
                Some(_) => {}
            },
            e => {
                return Err(err(
                    INVALID_REQUEST,
                    format!("member epoch {e} is not valid"),
                ));
            }
        }
        let m = self.members.get_mut(member_id).expect("member");
        m.session_deadline = now + times.session_timeout;
        let mut changed = false;
        if epoch > 0
            && let Some(t) = topics_wanted
        {
            let t: BTreeSet<String> = t.into_iter().collect();
            if t != m.topics {
                m.topics = t;
                changed = true;
            }
        }
        if changed || self.shape != self.shape_of(topics) {
            self.rebalance(topics);
        }
        let target = self.target.get(member_id).cloned().unwrap_or_default();
        let group_epoch = self.epoch;
        let m = self.members.get_mut(member_id).expect("member");
        m.epoch = group_epoch;
        let send = epoch == 0 || m.sent.as_ref() != Some(&target);
        if send {
            m.sent = Some(target.clone());
        }
        Ok((member_id.to_string(), group_epoch, send.then_some(target)))
    }

    fn shape_of(&self, topics: &Topics) -> Vec<(String, Uuid, i32)> {
        let subscribed: BTreeSet<&String> = self.members.values().flat_map(|m| &m.topics).collect();
        topics
            .iter()
            .filter(|(n, _)| subscribed.contains(n))
            .map(|(n, &(id, c))| (n.clone(), id, c))
            .collect()
    }

    fn rebalance(&mut self, topics: &Topics) {
        self.epoch += 1;
        self.shape = self.shape_of(topics);
        let subs: BTreeMap<String, BTreeSet<String>> = self
            .members
            .iter()
            .map(|(id, m)| (id.clone(), m.topics.clone()))
            .collect();
        self.target = share_assign(&subs, topics);
    }

    /// A member gone: its session closes and its records are available again.
    fn drop_member(&mut self, member: &str, times: &GroupTimes) {
        self.sessions.remove(member);
        for p in self.partitions.values_mut() {
            p.release_member(member, times.delivery_limit);
        }
    }

    fn expire_members(&mut self, now: Instant, topics: &Topics, times: &GroupTimes) {
        let gone: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| m.session_deadline <= now)
            .map(|(id, _)| id.clone())
            .collect();
        if gone.is_empty() {
            return;
        }
        for id in &gone {
            self.members.remove(id);
            self.drop_member(id, times);
        }
        self.rebalance(topics);
    }

    /// Checks and moves a share session on for a ShareFetch or ShareAcknowledge:
    /// epoch 0 opens one with `added`, -1 is the last request of one, others must be the
    /// session's next epoch. Returns the session's partitions.
    pub fn session(
        &mut self,
        member: &str,
        epoch: i32,
        added: &[IdPartition],
        forgotten: &[IdPartition],
    ) -> Result<BTreeSet<IdPartition>, i16> {
        match epoch {
            0 => {
                let s = Session {
                    partitions: added.iter().copied().collect(),
                    next_epoch: 1,
                };
                let out = s.partitions.clone();
                self.sessions.insert(member.to_string(), s);
                Ok(out)
            }
            -1 => self
                .sessions
                .get(member)
                .map(|s| s.partitions.clone())
                .ok_or(SHARE_SESSION_NOT_FOUND),
            e => {
                let s = self
                    .sessions
                    .get_mut(member)
                    .ok_or(SHARE_SESSION_NOT_FOUND)?;
                if s.next_epoch != e {
                    return Err(INVALID_SHARE_SESSION_EPOCH);
                }
                s.next_epoch = if e == i32::MAX { 1 } else { e + 1 };
                s.partitions.extend(added.iter().copied());
                for f in forgotten {
                    s.partitions.remove(f);
                }
                Ok(s.partitions.clone())
            }
        }
    }

    /// Closes `member`'s session (epoch -1): what it still holds is released.
    pub fn close_session(&mut self, member: &str, times: &GroupTimes) {
        if let Some(s) = self.sessions.remove(member) {
            for tp in s.partitions {
                if let Some(p) = self.partitions.get_mut(&tp) {
                    p.release_member(member, times.delivery_limit);
                }
            }
        }
    }

    fn partition(&mut self, tp: IdPartition, log: &PartitionLog) -> &mut SharePartition {
        let start = if self.earliest { 0 } else { log.end_offset() };
        self.partitions
            .entry(tp)
            .or_insert_with(|| SharePartition::new(start))
    }

    /// Applies acknowledgement batches (first, last, types) of `member` to a partition.
    pub fn acknowledge(
        &mut self,
        member: &str,
        tp: IdPartition,
        log: &PartitionLog,
        batches: &[(i64, i64, Vec<i8>)],
        times: &GroupTimes,
        now: Instant,
    ) -> Result<(), i16> {
        let p = self.partition(tp, log);
        p.expire(now, times.delivery_limit);
        for (first, last, types) in batches {
            p.acknowledge(member, *first, *last, types, times.delivery_limit)?;
        }
        Ok(())
    }

    /// Acquires records of a partition for `member`.
    pub fn acquire(
        &mut self,
        member: &str,
        tp: IdPartition,
        log: &PartitionLog,
        max_records: usize,
        times: &GroupTimes,
        now: Instant,
    ) -> Acquired {
        let p = self.partition(tp, log);
        p.expire(now, times.delivery_limit);
        p.acquire(member, log, max_records, now + times.lock_timeout)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use kafka_client::records::{BatchBuilder, BatchMeta, Compression};

    use super::*;

    fn log_with(n: usize) -> PartitionLog {
        let mut log = PartitionLog::default();
        for i in 0..n {
            let mut b = BatchBuilder::new(Compression::None, 1024);
            b.try_append(0, None, Some(format!("v{i}").as_bytes()), &[])
                .unwrap();
            log.append(b.finish(&BatchMeta::default()).unwrap())
                .unwrap();
        }
        log
    }

    const TP: IdPartition = (Uuid::from_u128(5), 0);

    fn topics() -> Topics {
        [("t".to_string(), (TP.0, 1))].into()
    }

    fn earliest() -> ShareGroup {
        ShareGroup {
            earliest: true,
            ..ShareGroup::default()
        }
    }

    #[tokio::test(start_paused = true)]
    async fn release_redelivers_with_a_higher_count_and_reject_is_final() {
        let (mut g, log, times) = (earliest(), log_with(4), GroupTimes::default());
        let got = g.acquire("a", TP, &log, 10, &times, Instant::now());
        assert_eq!(got.ranges, vec![(0, 3, 1)]);
        g.acknowledge(
            "a",
            TP,
            &log,
            &[(0, 1, vec![2]), (2, 3, vec![3])],
            &times,
            Instant::now(),
        )
        .unwrap();
        let again = g.acquire("b", TP, &log, 10, &times, Instant::now());
        assert_eq!(again.ranges, vec![(0, 1, 2)], "released ones only, count 2");
        // Another member cannot acknowledge what b holds.
        let e = g.acknowledge("a", TP, &log, &[(0, 0, vec![1])], &times, Instant::now());
        assert_eq!(e, Err(INVALID_RECORD_STATE));
        g.acknowledge("b", TP, &log, &[(0, 1, vec![1])], &times, Instant::now())
            .unwrap();
        assert!(
            g.acquire("a", TP, &log, 10, &times, Instant::now())
                .ranges
                .is_empty()
        );
        assert_eq!(g.partitions[&TP].start, 4, "everything done");
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_lock_makes_records_available_until_the_delivery_limit() {
        let (mut g, log, times) = (earliest(), log_with(1), GroupTimes::default());
        for count in 1..=times.delivery_limit {
            let got = g.acquire("a", TP, &log, 10, &times, Instant::now());
            assert_eq!(got.ranges, vec![(0, 0, count)]);
            assert!(!got.records.is_empty());
            tokio::time::advance(times.lock_timeout + Duration::from_millis(1)).await;
        }
        // Delivered delivery_limit times and timed out again: archived.
        assert!(
            g.acquire("a", TP, &log, 10, &times, Instant::now())
                .ranges
                .is_empty()
        );
        // The late acknowledgement is refused.
        let e = g.acknowledge("a", TP, &log, &[(0, 0, vec![1])], &times, Instant::now());
        assert_eq!(e, Err(INVALID_RECORD_STATE));
    }

    #[tokio::test(start_paused = true)]
    async fn latest_start_skips_what_was_there_before() {
        let (mut g, log, times) = (ShareGroup::default(), log_with(3), GroupTimes::default());
        assert!(
            g.acquire("a", TP, &log, 10, &times, Instant::now())
                .ranges
                .is_empty()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn members_share_a_partition_and_a_leaving_member_releases_its_records() {
        let (mut g, log, times, t) = (earliest(), log_with(2), GroupTimes::default(), topics());
        let (_, e1, a1) = g
            .heartbeat("a", 0, Some(vec!["t".into()]), &t, &times, Instant::now())
            .unwrap();
        let (_, _, b1) = g
            .heartbeat("b", 0, Some(vec!["t".into()]), &t, &times, Instant::now())
            .unwrap();
        assert_eq!(a1.unwrap()[&TP.0], [0].into());
        assert_eq!(b1.unwrap()[&TP.0], [0].into(), "one partition, shared");
        // a heartbeats with its old epoch: accepted, moved to the group epoch.
        let (_, e2, _) = g
            .heartbeat("a", e1, None, &t, &times, Instant::now())
            .unwrap();
        assert!(e2 > e1);
        let e = g
            .heartbeat("a", e1, None, &t, &times, Instant::now())
            .unwrap_err();
        assert_eq!(e.0, FENCED_MEMBER_EPOCH);
        g.session("a", 0, &[TP], &[]).unwrap();
        assert_eq!(
            g.acquire("a", TP, &log, 10, &times, Instant::now()).ranges,
            vec![(0, 1, 1)]
        );
        g.heartbeat("a", -1, None, &t, &times, Instant::now())
            .unwrap();
        assert_eq!(
            g.acquire("b", TP, &log, 10, &times, Instant::now()).ranges,
            vec![(0, 1, 2)]
        );
        // b goes silent: the session timeout removes it and frees its records.
        tokio::time::advance(times.session_timeout + Duration::from_millis(1)).await;
        let e = g
            .heartbeat("b", e2, None, &t, &times, Instant::now())
            .unwrap_err();
        assert_eq!(e.0, UNKNOWN_MEMBER_ID);
        assert_eq!(
            g.acquire("c", TP, &log, 10, &times, Instant::now()).ranges,
            vec![(0, 1, 3)]
        );
    }

    #[test]
    fn session_epochs_must_follow_on() {
        let mut g = ShareGroup::default();
        assert_eq!(g.session("a", 1, &[], &[]), Err(SHARE_SESSION_NOT_FOUND));
        g.session("a", 0, &[TP], &[]).unwrap();
        assert_eq!(
            g.session("a", 2, &[], &[]),
            Err(INVALID_SHARE_SESSION_EPOCH)
        );
        assert_eq!(g.session("a", 1, &[], &[TP]).unwrap(), BTreeSet::new());
        assert!(g.session("a", 2, &[TP], &[]).unwrap().contains(&TP));
    }
}
