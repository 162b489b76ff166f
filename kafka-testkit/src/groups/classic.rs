//! A classic consumer group (JoinGroup/SyncGroup/Heartbeat/LeaveGroup), sans I/O, as
//! the broker's group coordinator runs it: a join (or a leave, or a member timing
//! out) starts a rebalance; the rebalance completes when every member has joined
//! again, or at the rebalance timeout without those that did not (they are removed);
//! the completed round has a new generation, a chosen protocol and a leader, which
//! alone is told the members; SyncGroup hands out the leader's assignment. Members
//! that miss the rebalance learn of it on their heartbeat (REBALANCE_IN_PROGRESS);
//! stale generations get ILLEGAL_GENERATION, unknown members UNKNOWN_MEMBER_ID. A
//! member joining without an id (v4+) is given one with MEMBER_ID_REQUIRED first.
//! The cluster waits (JoinGroup, SyncGroup) by polling these answers as time passes.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use super::consumer::UNKNOWN_MEMBER_ID;

pub(crate) const ILLEGAL_GENERATION: i16 = 22;
pub(crate) const INCONSISTENT_GROUP_PROTOCOL: i16 = 23;
pub(crate) const REBALANCE_IN_PROGRESS: i16 = 27;
pub(crate) const MEMBER_ID_REQUIRED: i16 = 79;

/// One JoinGroup's fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct Join {
    pub member_id: String,
    pub instance_id: Option<String>,
    pub client_id: String,
    pub protocol_type: String,
    /// (name, metadata) in the member's order of preference.
    pub protocols: Vec<(String, Bytes)>,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    /// Whether the request may be told MEMBER_ID_REQUIRED (v4+).
    pub id_required: bool,
}

/// A completed JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Joined {
    pub generation: i32,
    pub protocol_type: String,
    pub protocol: String,
    pub leader: String,
    pub member_id: String,
    /// For the leader: every member with its instance id and metadata.
    pub members: Vec<(String, Option<String>, Bytes)>,
}

/// What a JoinGroup gets now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JoinStep {
    /// The round completed.
    Done(Joined),
    /// The member (its id) still waits for others (until the deadline at the latest).
    Wait(String, Instant),
    /// An error: code, and the member id to tell (MEMBER_ID_REQUIRED).
    Fail(i16, String),
}

/// What a SyncGroup gets now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SyncStep {
    Done(Bytes),
    /// The leader has not sent the assignment yet.
    Wait,
    Fail(i16),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Empty,
    Preparing(Instant),
    Completing,
    Stable,
}

#[derive(Debug, Clone)]
struct Member {
    instance_id: Option<String>,
    protocols: Vec<(String, Bytes)>,
    session_timeout: Duration,
    rebalance_timeout: Duration,
    last_seen: Instant,
    /// Joined in the rebalance under way.
    rejoined: bool,
    /// The completed join waiting to be read by its JoinGroup.
    result: Option<Joined>,
}

/// One classic group.
#[derive(Debug, Clone)]
pub(crate) struct ClassicGroup {
    generation: i32,
    phase: Phase,
    protocol_type: String,
    protocol: String,
    leader: String,
    members: BTreeMap<String, Member>,
    /// Ids handed out with MEMBER_ID_REQUIRED, not yet joined.
    pending: BTreeSet<String>,
    assignments: BTreeMap<String, Bytes>,
    next_id: u64,
}

impl Default for ClassicGroup {
    fn default() -> Self {
        ClassicGroup {
            generation: 0,
            phase: Phase::Empty,
            protocol_type: String::new(),
            protocol: String::new(),
            leader: String::new(),
            members: BTreeMap::new(),
            pending: BTreeSet::new(),
            assignments: BTreeMap::new(),
            next_id: 0,
        }
    }
}

impl ClassicGroup {
    /// Whether the last rebalance completed (the leader's assignment was synced).
    pub fn is_stable(&self) -> bool {
        self.phase == Phase::Stable
    }

    /// Whether the group has no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Each member's assignment as the leader sent it (empty before it did).
    pub fn assignments(&self) -> BTreeMap<String, Bytes> {
        self.members
            .keys()
            .map(|m| {
                (
                    m.clone(),
                    self.assignments.get(m).cloned().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// A JoinGroup arrives.
    pub fn join(&mut self, j: Join, now: Instant) -> JoinStep {
        self.expire(now);
        if !self.members.is_empty() && j.protocol_type != self.protocol_type {
            return JoinStep::Fail(INCONSISTENT_GROUP_PROTOCOL, String::new());
        }
        let mut id = j.member_id.clone();
        if id.is_empty() {
            self.next_id += 1;
            let client = if j.client_id.is_empty() {
                "member"
            } else {
                &j.client_id
            };
            id = format!("{client}-testkit-{}", self.next_id);
            if j.id_required {
                self.pending.insert(id.clone());
                return JoinStep::Fail(MEMBER_ID_REQUIRED, id);
            }
        } else if !self.members.contains_key(&id) && !self.pending.remove(&id) {
            return JoinStep::Fail(UNKNOWN_MEMBER_ID, id);
        }
        // A static member coming back under a new id replaces its old self.
        if let Some(instance) = &j.instance_id {
            let old: Vec<String> = self
                .members
                .iter()
                .filter(|(m, x)| x.instance_id.as_ref() == Some(instance) && **m != id)
                .map(|(m, _)| m.clone())
                .collect();
            for o in old {
                self.members.remove(&o);
            }
        }
        if self.members.is_empty() {
            self.protocol_type = j.protocol_type.clone();
        }
        let known = self.members.get(&id).map(|m| m.protocols.clone());
        self.members.insert(
            id.clone(),
            Member {
                instance_id: j.instance_id,
                protocols: j.protocols.clone(),
                session_timeout: j.session_timeout,
                rebalance_timeout: j.rebalance_timeout,
                last_seen: now,
                rejoined: true,
                result: None,
            },
        );
        let follower_rejoin = self.phase == Phase::Stable
            && known.as_ref() == Some(&j.protocols)
            && id != self.leader;
        if follower_rejoin {
            // A follower rejoining with the same metadata while the group is stable:
            // the broker answers with the current generation, no rebalance.
            let joined = self.joined(&id);
            return JoinStep::Done(joined);
        }
        if !matches!(self.phase, Phase::Preparing(_)) {
            self.start_rebalance(now, Some(&id));
        }
        self.poll_join(&id, now)
    }

    /// Where the JoinGroup of `member` stands at `now` (completing the round when
    /// everyone has joined or the deadline passed).
    pub fn poll_join(&mut self, member: &str, now: Instant) -> JoinStep {
        if let Phase::Preparing(deadline) = self.phase {
            let all = self.members.values().all(|m| m.rejoined);
            if all || deadline <= now {
                self.complete(now);
            }
        }
        match self.members.get_mut(member) {
            None => JoinStep::Fail(UNKNOWN_MEMBER_ID, member.to_string()),
            Some(m) => match m.result.take() {
                Some(r) => {
                    m.last_seen = now;
                    JoinStep::Done(r)
                }
                None => match self.phase {
                    Phase::Preparing(deadline) => JoinStep::Wait(member.to_string(), deadline),
                    // Removed from the round it was waiting for.
                    _ => JoinStep::Fail(UNKNOWN_MEMBER_ID, member.to_string()),
                },
            },
        }
    }

    fn start_rebalance(&mut self, now: Instant, joined: Option<&str>) {
        if self.members.is_empty() {
            self.phase = Phase::Empty;
            self.generation += 1;
            self.assignments.clear();
            return;
        }
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or_default();
        self.phase = Phase::Preparing(now + timeout);
        self.assignments.clear();
        for (id, m) in &mut self.members {
            m.rejoined = Some(id.as_str()) == joined;
            m.result = None;
        }
    }

    fn complete(&mut self, now: Instant) {
        self.members.retain(|_, m| m.rejoined);
        self.generation += 1;
        if self.members.is_empty() {
            self.phase = Phase::Empty;
            return;
        }
        // The leader's first protocol every member supports.
        if !self.members.contains_key(&self.leader) {
            self.leader = self.members.keys().next().cloned().unwrap_or_default();
        }
        let leader_protocols = self.members[&self.leader].protocols.clone();
        self.protocol = leader_protocols
            .iter()
            .map(|(n, _)| n.clone())
            .find(|n| {
                self.members
                    .values()
                    .all(|m| m.protocols.iter().any(|(x, _)| x == n))
            })
            .unwrap_or_default();
        self.phase = Phase::Completing;
        let ids: Vec<String> = self.members.keys().cloned().collect();
        for id in ids {
            let joined = self.joined(&id);
            let m = self.members.get_mut(&id).expect("member");
            m.result = Some(joined);
            m.last_seen = now;
        }
    }

    fn joined(&self, id: &str) -> Joined {
        let members = if id == self.leader {
            self.members
                .iter()
                .map(|(mid, m)| {
                    let meta = m
                        .protocols
                        .iter()
                        .find(|(n, _)| *n == self.protocol)
                        .map(|(_, b)| b.clone())
                        .unwrap_or_default();
                    (mid.clone(), m.instance_id.clone(), meta)
                })
                .collect()
        } else {
            Vec::new()
        };
        Joined {
            generation: self.generation,
            protocol_type: self.protocol_type.clone(),
            protocol: self.protocol.clone(),
            leader: self.leader.clone(),
            member_id: id.to_string(),
            members,
        }
    }

    fn check(&mut self, member: &str, generation: i32, now: Instant) -> Result<(), i16> {
        self.expire(now);
        let Some(m) = self.members.get_mut(member) else {
            return Err(UNKNOWN_MEMBER_ID);
        };
        m.last_seen = now;
        if generation != self.generation {
            return Err(ILLEGAL_GENERATION);
        }
        Ok(())
    }

    /// A SyncGroup (the leader's carries the assignment of every member).
    pub fn sync(
        &mut self,
        member: &str,
        generation: i32,
        assignments: Option<BTreeMap<String, Bytes>>,
        now: Instant,
    ) -> SyncStep {
        if let Err(code) = self.check(member, generation, now) {
            return SyncStep::Fail(code);
        }
        match self.phase {
            Phase::Preparing(_) | Phase::Empty => return SyncStep::Fail(REBALANCE_IN_PROGRESS),
            Phase::Completing if member == self.leader => {
                self.assignments = assignments.unwrap_or_default();
                self.phase = Phase::Stable;
            }
            Phase::Completing => return SyncStep::Wait,
            Phase::Stable => {}
        }
        SyncStep::Done(self.assignments.get(member).cloned().unwrap_or_default())
    }

    /// A Heartbeat: 0, or REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID.
    pub fn heartbeat(&mut self, member: &str, generation: i32, now: Instant) -> i16 {
        if let Err(code) = self.check(member, generation, now) {
            return code;
        }
        if matches!(self.phase, Phase::Preparing(_)) {
            REBALANCE_IN_PROGRESS
        } else {
            0
        }
    }

    /// A LeaveGroup of `member`: 0 or UNKNOWN_MEMBER_ID.
    pub fn leave(&mut self, member: &str, now: Instant) -> i16 {
        if self.members.remove(member).is_none() {
            return UNKNOWN_MEMBER_ID;
        }
        if self.leader == member {
            self.leader.clear();
        }
        self.rebalance_after_removal(now);
        0
    }

    /// An OffsetCommit's member check: an administrator's (empty member id, negative
    /// generation) passes; otherwise the member must be known, at the current
    /// generation, and not in the middle of a rebalance.
    pub fn validate_commit(
        &mut self,
        member: &str,
        generation: i32,
        now: Instant,
    ) -> Result<(), i16> {
        if member.is_empty() && generation < 0 {
            return Ok(());
        }
        self.check(member, generation, now)?;
        if self.phase == Phase::Completing {
            return Err(REBALANCE_IN_PROGRESS);
        }
        Ok(())
    }

    fn rebalance_after_removal(&mut self, now: Instant) {
        match self.phase {
            Phase::Preparing(_) => {}
            _ => self.start_rebalance(now, None),
        }
    }

    /// Removes members silent for longer than their session timeout (a member waiting
    /// in a rebalance round counts as alive).
    fn expire(&mut self, now: Instant) {
        let preparing = matches!(self.phase, Phase::Preparing(_));
        let gone: Vec<String> = self
            .members
            .iter()
            .filter(|(_, m)| !(preparing && m.rejoined) && m.last_seen + m.session_timeout <= now)
            .map(|(id, _)| id.clone())
            .collect();
        if gone.is_empty() {
            return;
        }
        for id in &gone {
            self.members.remove(id);
            if *id == self.leader {
                self.leader.clear();
            }
        }
        self.rebalance_after_removal(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn join(member: &str) -> Join {
        Join {
            member_id: member.into(),
            client_id: "c".into(),
            protocol_type: "consumer".into(),
            protocols: vec![("range".into(), Bytes::from_static(b"m"))],
            session_timeout: Duration::from_secs(10),
            rebalance_timeout: Duration::from_secs(30),
            id_required: true,
            ..Join::default()
        }
    }

    fn done(step: JoinStep) -> Joined {
        match step {
            JoinStep::Done(j) => j,
            other => panic!("not done: {other:?}"),
        }
    }

    /// Joins a new member through the MEMBER_ID_REQUIRED round trip.
    fn first_join(g: &mut ClassicGroup, now: Instant) -> (String, JoinStep) {
        let JoinStep::Fail(MEMBER_ID_REQUIRED, id) = g.join(join(""), now) else {
            panic!("member id required first");
        };
        let step = g.join(join(&id), now);
        (id, step)
    }

    #[tokio::test(start_paused = true)]
    async fn a_second_member_makes_a_rebalance_that_waits_for_the_first_to_rejoin() {
        let mut g = ClassicGroup::default();
        let now = Instant::now();
        let (a, step) = first_join(&mut g, now);
        let ja = done(step);
        assert_eq!(
            (ja.generation, ja.leader.as_str(), ja.members.len()),
            (1, a.as_str(), 1)
        );
        let mut assignment = BTreeMap::new();
        assignment.insert(a.clone(), Bytes::from_static(b"all"));
        assert_eq!(
            g.sync(&a, 1, Some(assignment), now),
            SyncStep::Done(Bytes::from_static(b"all"))
        );

        let (b, step) = first_join(&mut g, now);
        assert!(matches!(step, JoinStep::Wait(..)), "b waits for a");
        assert_eq!(g.heartbeat(&a, 1, now), REBALANCE_IN_PROGRESS);
        let ja = done(g.join(join(&a), now));
        let jb = done(g.poll_join(&b, now));
        assert_eq!((ja.generation, jb.generation), (2, 2));
        assert_eq!(ja.leader, a, "the leader stays");
        assert_eq!(
            (ja.members.len(), jb.members.len()),
            (2, 0),
            "only the leader sees members"
        );
        // b syncs before the leader: it waits; then both get their part.
        assert_eq!(g.sync(&b, 2, None, now), SyncStep::Wait);
        let parts: BTreeMap<String, Bytes> = [
            (a.clone(), Bytes::from_static(b"A")),
            (b.clone(), Bytes::from_static(b"B")),
        ]
        .into();
        assert_eq!(
            g.sync(&a, 2, Some(parts), now),
            SyncStep::Done(Bytes::from_static(b"A"))
        );
        assert_eq!(
            g.sync(&b, 2, None, now),
            SyncStep::Done(Bytes::from_static(b"B"))
        );
        assert_eq!(g.heartbeat(&a, 1, now), ILLEGAL_GENERATION);
        assert_eq!(g.heartbeat(&b, 2, now), 0);
        assert_eq!(g.heartbeat("nobody", 2, now), UNKNOWN_MEMBER_ID);
        assert_eq!(g.validate_commit(&b, 1, now), Err(ILLEGAL_GENERATION));
        assert_eq!(g.validate_commit("", -1, now), Ok(()));
    }

    #[tokio::test(start_paused = true)]
    async fn a_member_that_does_not_rejoin_is_dropped_at_the_rebalance_timeout() {
        let mut g = ClassicGroup::default();
        let (a, step) = first_join(&mut g, Instant::now());
        done(step);
        g.sync(&a, 1, Some(BTreeMap::new()), Instant::now());
        let (b, step) = first_join(&mut g, Instant::now());
        let JoinStep::Wait(_, deadline) = step else {
            panic!("b waits");
        };
        tokio::time::advance(Duration::from_secs(29)).await;
        assert!(matches!(
            g.poll_join(&b, Instant::now()),
            JoinStep::Wait(..)
        ));
        tokio::time::advance(deadline - Instant::now()).await;
        let jb = done(g.poll_join(&b, Instant::now()));
        assert_eq!(
            (jb.leader, jb.members.len()),
            (b.clone(), 1),
            "a is gone, b leads"
        );
        assert_eq!(g.heartbeat(&a, 1, Instant::now()), UNKNOWN_MEMBER_ID);
    }

    #[tokio::test(start_paused = true)]
    async fn leaving_and_timing_out_start_a_rebalance() {
        let mut g = ClassicGroup::default();
        let (a, s) = first_join(&mut g, Instant::now());
        done(s);
        let (b, s) = first_join(&mut g, Instant::now());
        assert!(matches!(s, JoinStep::Wait(..)));
        done(g.join(join(&a), Instant::now()));
        done(g.poll_join(&b, Instant::now()));
        g.sync(&a, 2, Some(BTreeMap::new()), Instant::now());
        assert_eq!(g.leave(&b, Instant::now()), 0);
        assert_eq!(g.heartbeat(&a, 2, Instant::now()), REBALANCE_IN_PROGRESS);
        let ja = done(g.join(join(&a), Instant::now()));
        assert_eq!((ja.generation, ja.members.len()), (3, 1));
        g.sync(&a, 3, Some(BTreeMap::new()), Instant::now());
        // a goes silent past its 10 s session: removed, the group is empty.
        tokio::time::advance(Duration::from_secs(11)).await;
        assert_eq!(g.heartbeat(&a, 3, Instant::now()), UNKNOWN_MEMBER_ID);
        assert!(g.is_empty());
    }
}
