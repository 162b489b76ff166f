//! A KIP-848 consumer group (`group.protocol=consumer`), sans I/O, as the broker's
//! group coordinator runs it: members join with epoch 0 and leave with -1 (or -2); a
//! change of members, subscriptions or subscribed partitions bumps the group epoch
//! and computes a new target assignment with the server-side assignor; each member
//! reconciles towards its target over its heartbeats (partitions to give up are
//! revoked first, with the member's epoch held; then the epoch advances and the
//! partitions other members have released are added). A heartbeat with a stale epoch
//! is FENCED_MEMBER_EPOCH, an unknown member UNKNOWN_MEMBER_ID; a member silent for
//! the session timeout, or still holding revoked partitions after its rebalance
//! timeout, is removed. Time is passed in, so the machine runs on any clock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_client::Uuid;
use tokio::time::Instant;

use super::assignor::{ASSIGNORS, Assignment, Subscriber, Topics, assign};
use super::{GroupTimes, err, new_member_id};

pub(crate) const UNKNOWN_MEMBER_ID: i16 = 25;
pub(crate) const INVALID_REQUEST: i16 = 42;
pub(crate) const FENCED_MEMBER_EPOCH: i16 = 110;
pub(crate) const UNSUPPORTED_ASSIGNOR: i16 = 112;
pub(crate) const STALE_MEMBER_EPOCH: i16 = 113;

/// One ConsumerGroupHeartbeat's fields (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct Beat {
    /// MemberId.
    pub member_id: String,
    /// MemberEpoch (0 joins, -1 leaves, -2 leaves as a static member).
    pub epoch: i32,
    /// InstanceId.
    pub instance_id: Option<String>,
    /// -1: unchanged.
    pub rebalance_timeout_ms: i32,
    /// SubscribedTopicNames.
    pub topics: Option<Vec<String>>,
    /// SubscribedTopicRegex.
    pub regex: Option<String>,
    /// ServerAssignor.
    pub assignor: Option<String>,
    /// TopicPartitions the member owns.
    pub owned: Option<Assignment>,
}

/// A successful heartbeat's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// MemberId.
    pub member_id: String,
    /// MemberEpoch.
    pub epoch: i32,
    /// The member's assignment, when it changed (or the member joined or reported
    /// owning something else).
    pub assignment: Option<Assignment>,
}

#[derive(Debug, Clone)]
struct Member {
    epoch: i32,
    previous_epoch: i32,
    instance_id: Option<String>,
    topics: BTreeSet<String>,
    assignor: Option<String>,
    rebalance_timeout: Duration,
    session_deadline: Instant,
    /// Partitions the member may consume.
    assigned: Assignment,
    /// Partitions it must give up before its epoch advances.
    revoking: Assignment,
    revoke_deadline: Option<Instant>,
    /// The assignment last sent to it.
    sent: Option<Assignment>,
}

/// One consumer group.
#[derive(Debug, Clone, Default)]
pub struct ConsumerGroup {
    epoch: i32,
    members: BTreeMap<String, Member>,
    target: BTreeMap<String, Assignment>,
    /// The subscribed topics' (name, id, partitions) when the target was computed.
    shape: Vec<(String, Uuid, i32)>,
}

fn contains(a: &Assignment, id: &Uuid, p: i32) -> bool {
    a.get(id).is_some_and(|ps| ps.contains(&p))
}

fn minus(a: &Assignment, b: &Assignment) -> Assignment {
    let mut out = Assignment::new();
    for (id, ps) in a {
        let left: BTreeSet<i32> = ps
            .iter()
            .copied()
            .filter(|p| !contains(b, id, *p))
            .collect();
        if !left.is_empty() {
            out.insert(*id, left);
        }
    }
    out
}

fn intersect(a: &Assignment, b: &Assignment) -> Assignment {
    let mut out = Assignment::new();
    for (id, ps) in a {
        let both: BTreeSet<i32> = ps.iter().copied().filter(|p| contains(b, id, *p)).collect();
        if !both.is_empty() {
            out.insert(*id, both);
        }
    }
    out
}

fn is_subset(a: &Assignment, b: &Assignment) -> bool {
    a.iter()
        .all(|(id, ps)| ps.iter().all(|p| contains(b, id, *p)))
}

impl ConsumerGroup {
    /// The group epoch (0: never had a member).
    #[cfg(test)]
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    /// Whether `member` is in the group.
    #[cfg(test)]
    pub fn has_member(&self, member: &str) -> bool {
        self.members.contains_key(member)
    }

    /// Whether the group has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Whether every member holds exactly its target assignment and revokes nothing
    /// (the group is stable; no partition waits to move).
    pub fn is_reconciled(&self) -> bool {
        let empty = Assignment::new();
        self.members.iter().all(|(id, m)| {
            m.revoking.is_empty() && m.assigned == *self.target.get(id).unwrap_or(&empty)
        })
    }

    /// What each member holds now, as the coordinator sees it: the partitions it may
    /// consume and those it was told to revoke but has not reported released.
    pub fn holdings(&self) -> BTreeMap<String, Assignment> {
        self.members
            .iter()
            .map(|(id, m)| {
                let mut all = m.assigned.clone();
                for (tid, ps) in &m.revoking {
                    all.entry(*tid).or_default().extend(ps);
                }
                (id.clone(), all)
            })
            .collect()
    }

    /// What each member may consume now: member id → partitions.
    pub fn assignments(&self) -> BTreeMap<String, Assignment> {
        self.members
            .iter()
            .map(|(id, m)| (id.clone(), m.assigned.clone()))
            .collect()
    }

    /// Checks an OffsetCommit or OffsetFetch by a member: UNKNOWN_MEMBER_ID for an
    /// unknown one, STALE_MEMBER_EPOCH for an epoch other than its current one. An empty
    /// member id with a negative epoch is an administrator's, and passes.
    pub fn validate_member(
        &mut self,
        member: &str,
        epoch: i32,
        now: Instant,
        topics: &Topics,
    ) -> Result<(), i16> {
        self.expire(now, topics);
        if member.is_empty() && epoch < 0 {
            return Ok(());
        }
        match self.members.get(member) {
            None => Err(UNKNOWN_MEMBER_ID),
            Some(m) if m.epoch != epoch => Err(STALE_MEMBER_EPOCH),
            Some(_) => Ok(()),
        }
    }

    /// Handles one heartbeat at `now`. `version` is the request's (v0: the coordinator
    /// makes member ids; v1: the member brings its own). `Err`: the error code and
    /// message.
    pub fn heartbeat(
        &mut self,
        beat: Beat,
        version: i16,
        topics: &Topics,
        times: &GroupTimes,
        now: Instant,
    ) -> Result<Answer, (i16, String)> {
        self.expire(now, topics);
        if let Some(a) = &beat.assignor
            && !ASSIGNORS.contains(&a.as_str())
        {
            return Err(err(
                UNSUPPORTED_ASSIGNOR,
                format!("the assignor {a} is not one of {ASSIGNORS:?}"),
            ));
        }
        if beat.regex.as_deref().is_some_and(|r| !r.is_empty()) {
            return Err(err(
                INVALID_REQUEST,
                "kafka-testkit does not model regex subscriptions (SubscribedTopicRegex)",
            ));
        }
        let mut joined = None;
        match beat.epoch {
            -1 | -2 => {
                if self.members.remove(&beat.member_id).is_some() {
                    self.target.remove(&beat.member_id);
                    self.rebalance(topics);
                }
                return Ok(Answer {
                    member_id: beat.member_id,
                    epoch: beat.epoch,
                    assignment: None,
                });
            }
            0 => joined = Some(self.join(beat.clone(), version, times, now, topics)?),
            e if e > 0 => {
                let Some(m) = self.members.get(&beat.member_id) else {
                    return Err(err(
                        UNKNOWN_MEMBER_ID,
                        format!("member {} is not in the group", beat.member_id),
                    ));
                };
                let lost_answer = e == m.previous_epoch
                    && beat
                        .owned
                        .as_ref()
                        .is_some_and(|o| is_subset(o, &m.assigned));
                if e != m.epoch && !lost_answer {
                    return Err(err(
                        FENCED_MEMBER_EPOCH,
                        format!("member epoch {e} is not the member's epoch {}", m.epoch),
                    ));
                }
            }
            e => {
                return Err(err(
                    INVALID_REQUEST,
                    format!("member epoch {e} is not valid"),
                ));
            }
        }
        let id = joined.unwrap_or_else(|| beat.member_id.clone());
        let m = self.members.get_mut(&id).expect("member");
        m.session_deadline = now + times.session_timeout;
        if beat.rebalance_timeout_ms > 0 {
            m.rebalance_timeout = Duration::from_millis(beat.rebalance_timeout_ms as u64);
        }
        if beat.assignor.is_some() {
            m.assignor = beat.assignor.clone();
        }
        let mut changed = false;
        if beat.epoch != 0
            && let Some(t) = &beat.topics
        {
            let t: BTreeSet<String> = t.iter().cloned().collect();
            if t != m.topics {
                m.topics = t;
                changed = true;
            }
        }
        if changed || self.shape != self.shape_of(topics) {
            self.rebalance(topics);
        }
        self.reconcile(&id, beat.owned.as_ref(), now);
        let m = self.members.get_mut(&id).expect("member");
        let send = beat.epoch == 0
            || m.sent.as_ref() != Some(&m.assigned)
            || beat.owned.as_ref().is_some_and(|o| *o != m.assigned);
        if send {
            m.sent = Some(m.assigned.clone());
        }
        Ok(Answer {
            member_id: id,
            epoch: m.epoch,
            assignment: send.then(|| m.assigned.clone()),
        })
    }

    fn join(
        &mut self,
        beat: Beat,
        version: i16,
        times: &GroupTimes,
        now: Instant,
        topics: &Topics,
    ) -> Result<String, (i16, String)> {
        let id = if beat.member_id.is_empty() {
            if version >= 1 {
                return Err(err(
                    INVALID_REQUEST,
                    "MemberId can't be empty (ConsumerGroupHeartbeat v1)",
                ));
            }
            new_member_id()
        } else {
            beat.member_id.clone()
        };
        let Some(subscribed) = beat.topics.clone() else {
            return Err(err(
                INVALID_REQUEST,
                "SubscribedTopicNames must be set when joining",
            ));
        };
        // A static member replacing its earlier instance takes its place.
        if let Some(instance) = &beat.instance_id {
            let old: Vec<String> = self
                .members
                .iter()
                .filter(|(mid, m)| m.instance_id.as_ref() == Some(instance) && **mid != id)
                .map(|(mid, _)| mid.clone())
                .collect();
            for o in old {
                self.members.remove(&o);
                self.target.remove(&o);
            }
        }
        let rebalance_timeout = if beat.rebalance_timeout_ms > 0 {
            Duration::from_millis(beat.rebalance_timeout_ms as u64)
        } else {
            times.rebalance_timeout
        };
        self.members.insert(
            id.clone(),
            Member {
                epoch: 0,
                previous_epoch: -1,
                instance_id: beat.instance_id,
                topics: subscribed.into_iter().collect(),
                assignor: beat.assignor,
                rebalance_timeout,
                session_deadline: now + times.session_timeout,
                assigned: Assignment::new(),
                revoking: Assignment::new(),
                revoke_deadline: None,
                sent: None,
            },
        );
        self.rebalance(topics);
        Ok(id)
    }

    fn shape_of(&self, topics: &Topics) -> Vec<(String, Uuid, i32)> {
        let subscribed: BTreeSet<&String> = self.members.values().flat_map(|m| &m.topics).collect();
        topics
            .iter()
            .filter(|(n, _)| subscribed.contains(n))
            .map(|(n, &(id, c))| (n.clone(), id, c))
            .collect()
    }

    /// Bumps the group epoch and computes the target assignment.
    fn rebalance(&mut self, topics: &Topics) {
        self.epoch += 1;
        self.shape = self.shape_of(topics);
        // The assignor most members ask for; uniform by default.
        let mut votes: BTreeMap<&str, usize> = BTreeMap::new();
        for m in self.members.values() {
            *votes
                .entry(m.assignor.as_deref().unwrap_or("uniform"))
                .or_default() += 1;
        }
        let assignor = votes
            .iter()
            .max_by_key(|(name, n)| (**n, *name == &"uniform"))
            .map_or("uniform", |(name, _)| *name)
            .to_string();
        let empty = Assignment::new();
        let subs: BTreeMap<String, Subscriber<'_>> = self
            .members
            .iter()
            .map(|(id, m)| {
                (
                    id.clone(),
                    Subscriber {
                        topics: &m.topics,
                        previous: self.target.get(id).unwrap_or(&empty),
                    },
                )
            })
            .collect();
        let known: Topics = topics
            .iter()
            .filter(|(n, _)| self.members.values().any(|m| m.topics.contains(*n)))
            .map(|(n, v)| (n.clone(), *v))
            .collect();
        self.target = assign(&assignor, &subs, &known);
    }

    /// Moves `id` towards its target: revoke first (epoch held), then advance the epoch
    /// and take the target partitions no other member still holds.
    fn reconcile(&mut self, id: &str, owned: Option<&Assignment>, now: Instant) {
        let target = self.target.get(id).cloned().unwrap_or_default();
        let group_epoch = self.epoch;
        let m = self.members.get_mut(id).expect("member");
        // Revoked partitions the member no longer reports owning are released; those
        // back in its target are its again.
        if !m.revoking.is_empty() {
            let back = intersect(&m.revoking, &target);
            for (tid, ps) in &back {
                m.assigned.entry(*tid).or_default().extend(ps);
            }
            m.revoking = minus(&m.revoking, &back);
            if let Some(o) = owned {
                m.revoking = intersect(&m.revoking, o);
            }
            if !m.revoking.is_empty() {
                return;
            }
            m.revoke_deadline = None;
        }
        let to_revoke = minus(&m.assigned, &target);
        if !to_revoke.is_empty() {
            m.assigned = intersect(&m.assigned, &target);
            m.revoking = to_revoke;
            m.revoke_deadline = Some(now + m.rebalance_timeout);
            return;
        }
        if m.epoch != group_epoch {
            m.previous_epoch = m.epoch;
            m.epoch = group_epoch;
        }
        let wanted = minus(&target, &m.assigned);
        let mut taken = Assignment::new();
        for (tid, ps) in &wanted {
            for &p in ps {
                let held = self.members.iter().any(|(other, o)| {
                    other != id && (contains(&o.assigned, tid, p) || contains(&o.revoking, tid, p))
                });
                if !held {
                    taken.entry(*tid).or_default().insert(p);
                }
            }
        }
        let m = self.members.get_mut(id).expect("member");
        for (tid, ps) in taken {
            m.assigned.entry(tid).or_default().extend(ps);
        }
    }

    /// Removes members past their session timeout, or holding revoked partitions past
    /// their rebalance timeout.
    pub fn expire(&mut self, now: Instant, topics: &Topics) {
        let gone: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| {
                m.session_deadline <= now || m.revoke_deadline.is_some_and(|d| d <= now)
            })
            .map(|(id, _)| id.clone())
            .collect();
        if gone.is_empty() {
            return;
        }
        for id in gone {
            self.members.remove(&id);
            self.target.remove(&id);
        }
        self.rebalance(topics);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics() -> Topics {
        [("t".to_string(), (Uuid::from_u128(9), 6))].into()
    }

    fn times() -> GroupTimes {
        GroupTimes::default()
    }

    fn join(member: &str) -> Beat {
        Beat {
            member_id: member.into(),
            epoch: 0,
            rebalance_timeout_ms: 30_000,
            topics: Some(vec!["t".into()]),
            owned: Some(Assignment::new()),
            ..Beat::default()
        }
    }

    fn beat(member: &str, epoch: i32, owned: Option<&Assignment>) -> Beat {
        Beat {
            member_id: member.into(),
            epoch,
            rebalance_timeout_ms: -1,
            owned: owned.cloned(),
            ..Beat::default()
        }
    }

    fn count(a: &Assignment) -> usize {
        a.values().map(BTreeSet::len).sum()
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_member_gets_partitions_only_after_the_first_revokes_them() {
        let (mut g, t, times) = (ConsumerGroup::default(), topics(), times());
        let a = g
            .heartbeat(join("a"), 1, &t, &times, Instant::now())
            .unwrap();
        assert_eq!((a.epoch, count(a.assignment.as_ref().unwrap())), (1, 6));
        let a_owns = a.assignment.unwrap();
        assert!(g.is_reconciled(), "one member holding its whole target");

        let b = g
            .heartbeat(join("b"), 1, &t, &times, Instant::now())
            .unwrap();
        // b is at the new epoch but a still holds everything: b gets nothing yet.
        assert_eq!((b.epoch, count(b.assignment.as_ref().unwrap())), (2, 0));
        assert!(!g.is_reconciled(), "b waits for partitions a still holds");

        // a is told to give up 3 and stays at epoch 1 until it reports they are gone.
        let a2 = g
            .heartbeat(beat("a", 1, Some(&a_owns)), 1, &t, &times, Instant::now())
            .unwrap();
        let a_keeps = a2.assignment.expect("revocation");
        assert_eq!((a2.epoch, count(&a_keeps)), (1, 3));
        let a3 = g
            .heartbeat(beat("a", 1, Some(&a_keeps)), 1, &t, &times, Instant::now())
            .unwrap();
        assert_eq!((a3.epoch, a3.assignment), (2, None));

        let b2 = g
            .heartbeat(beat("b", 2, None), 1, &t, &times, Instant::now())
            .unwrap();
        let b_gets = b2.assignment.expect("released partitions");
        assert_eq!(count(&b_gets), 3);
        assert!(intersect(&b_gets, &a_keeps).is_empty(), "disjoint");
        assert!(g.is_reconciled(), "both hold their targets");
    }

    #[tokio::test(start_paused = true)]
    async fn stale_epochs_are_fenced_and_unknown_members_refused() {
        let (mut g, t, times) = (ConsumerGroup::default(), topics(), times());
        g.heartbeat(join("a"), 1, &t, &times, Instant::now())
            .unwrap();
        let e = g
            .heartbeat(beat("a", 7, None), 1, &t, &times, Instant::now())
            .unwrap_err();
        assert_eq!(e.0, FENCED_MEMBER_EPOCH);
        let e = g
            .heartbeat(beat("zz", 1, None), 1, &t, &times, Instant::now())
            .unwrap_err();
        assert_eq!(e.0, UNKNOWN_MEMBER_ID);
        let e = g
            .heartbeat(join(""), 1, &t, &times, Instant::now())
            .unwrap_err();
        assert_eq!(e.0, INVALID_REQUEST, "v1 needs a member id");
        // v0: the coordinator makes the id.
        let v0 = g
            .heartbeat(join(""), 0, &t, &times, Instant::now())
            .unwrap();
        assert!(!v0.member_id.is_empty() && g.has_member(&v0.member_id));
        assert_eq!(
            g.validate_member("a", 99, Instant::now(), &t),
            Err(STALE_MEMBER_EPOCH)
        );
        assert_eq!(g.validate_member("", -1, Instant::now(), &t), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_member_is_removed_after_the_session_timeout() {
        let (mut g, t, times) = (ConsumerGroup::default(), topics(), times());
        g.heartbeat(join("a"), 1, &t, &times, Instant::now())
            .unwrap();
        g.heartbeat(join("b"), 1, &t, &times, Instant::now())
            .unwrap();
        tokio::time::advance(times.session_timeout - Duration::from_millis(1)).await;
        g.heartbeat(beat("b", 2, None), 1, &t, &times, Instant::now())
            .unwrap();
        assert!(g.has_member("a"));
        tokio::time::advance(Duration::from_millis(2)).await;
        let b = g
            .heartbeat(beat("b", 2, None), 1, &t, &times, Instant::now())
            .unwrap();
        assert!(!g.has_member("a"), "a timed out");
        assert_eq!(b.epoch, g.epoch());
        let e = g
            .heartbeat(beat("a", 1, None), 1, &t, &times, Instant::now())
            .unwrap_err();
        assert_eq!(e.0, UNKNOWN_MEMBER_ID);
    }

    #[tokio::test(start_paused = true)]
    async fn a_member_that_does_not_revoke_in_time_is_removed() {
        let (mut g, t, times) = (ConsumerGroup::default(), topics(), times());
        let a = g
            .heartbeat(join("a"), 1, &t, &times, Instant::now())
            .unwrap();
        let owned = a.assignment.unwrap();
        g.heartbeat(join("b"), 1, &t, &times, Instant::now())
            .unwrap();
        g.heartbeat(beat("a", 1, Some(&owned)), 1, &t, &times, Instant::now())
            .unwrap();
        tokio::time::advance(Duration::from_secs(31)).await;
        // Still reporting the revoked partitions after the 30 s rebalance timeout.
        let e = g
            .heartbeat(beat("a", 1, Some(&owned)), 1, &t, &times, Instant::now())
            .unwrap_err();
        assert_eq!(e.0, UNKNOWN_MEMBER_ID);
        // b moves to the epoch of the removal and gets everything a held.
        let b = g
            .heartbeat(beat("b", 2, None), 1, &t, &times, Instant::now())
            .unwrap();
        assert_eq!(b.epoch, g.epoch());
        assert_eq!(count(b.assignment.as_ref().unwrap()), 6);
    }

    #[tokio::test(start_paused = true)]
    async fn leaving_hands_the_partitions_to_the_others() {
        let (mut g, t, times) = (ConsumerGroup::default(), topics(), times());
        let a = g
            .heartbeat(join("a"), 1, &t, &times, Instant::now())
            .unwrap();
        let left = g
            .heartbeat(beat("a", a.epoch, None), 1, &t, &times, Instant::now())
            .unwrap();
        assert_eq!(left.epoch, a.epoch);
        g.heartbeat(beat("a", -1, None), 1, &t, &times, Instant::now())
            .unwrap();
        assert!(g.is_empty());
        let b = g
            .heartbeat(join("b"), 1, &t, &times, Instant::now())
            .unwrap();
        assert_eq!(count(b.assignment.as_ref().unwrap()), 6);
    }
}
