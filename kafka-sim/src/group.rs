//! The classic-protocol group coordinator of the simulated cluster: members, the join
//! barrier, generations, assignments from the leader's SyncGroup, heartbeats with
//! session expiry, and committed offsets with the generation checks Kafka makes. Every
//! accepted commit is recorded, for invariant I6.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

/// Error codes of the group APIs.
pub(crate) mod code {
    pub const ILLEGAL_GENERATION: i16 = 22;
    pub const UNKNOWN_MEMBER_ID: i16 = 25;
    pub const REBALANCE_IN_PROGRESS: i16 = 27;
    pub const MEMBER_ID_REQUIRED: i16 = 79;
}

/// One member.
#[derive(Debug, Clone)]
pub(crate) struct Member {
    pub protocols: Vec<(String, Bytes)>,
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub last_seen: Instant,
}

/// Where the group is in its rebalance cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for members to (re)join, until `deadline`.
    Joining {
        deadline: Instant,
    },
    /// Joined; waiting for the leader's assignment.
    Syncing,
    Stable,
}

/// A committed offset as the coordinator accepted it.
#[derive(Debug, Clone)]
pub struct Commit {
    /// The committing member ("" for a commit outside the group's generations).
    pub member: String,
    /// The generation it committed in.
    pub generation: i32,
    /// Partition.
    pub partition: i32,
    /// Offset committed.
    pub offset: i64,
}

/// The group's state.
#[derive(Debug)]
pub(crate) struct Group {
    pub members: BTreeMap<String, Member>,
    pub joined: BTreeSet<String>,
    pub phase: Phase,
    pub generation: i32,
    pub leader: String,
    pub protocol: String,
    pub assignments: BTreeMap<String, Bytes>,
    next_member: u32,
    /// Every accepted commit, in order.
    pub commits: Vec<Commit>,
    /// Every generation's assignment, as the leader's SyncGroup gave it.
    pub history: BTreeMap<i32, BTreeMap<String, Bytes>>,
    /// Committed offset per partition (of the one simulated topic).
    pub offsets: BTreeMap<i32, i64>,
}

impl Default for Group {
    fn default() -> Self {
        Group {
            members: BTreeMap::new(),
            joined: BTreeSet::new(),
            phase: Phase::Stable,
            generation: 0,
            leader: String::new(),
            protocol: String::new(),
            assignments: BTreeMap::new(),
            next_member: 0,
            commits: Vec::new(),
            history: BTreeMap::new(),
            // Offset 0 committed for every partition before the run (see the
            // consumers' `latest` reset policy in the workload).
            offsets: (0..crate::cluster::PARTITIONS).map(|p| (p, 0)).collect(),
        }
    }
}

/// What a JoinGroup gets right away.
pub(crate) enum JoinStart {
    /// MEMBER_ID_REQUIRED with the id to rejoin with.
    NeedId(String),
    /// The member joined the round; wait for [`Group::join_result`].
    Waiting,
    Error(i16),
}

impl Group {
    /// Starts a new rebalance round (members get until `now + the longest rebalance
    /// timeout` to rejoin).
    fn rebalance(&mut self, now: Instant) {
        let timeout = self
            .members
            .values()
            .map(|m| m.rebalance_timeout)
            .max()
            .unwrap_or(Duration::from_secs(1));
        if !matches!(self.phase, Phase::Joining { .. }) {
            self.joined.clear();
            self.phase = Phase::Joining {
                deadline: now + timeout,
            };
        }
    }

    pub fn join(
        &mut self,
        member_id: &str,
        protocols: Vec<(String, Bytes)>,
        session_timeout: Duration,
        rebalance_timeout: Duration,
        now: Instant,
    ) -> JoinStart {
        if member_id.is_empty() {
            self.next_member += 1;
            return JoinStart::NeedId(format!("member-{}", self.next_member));
        }
        if !member_id.starts_with("member-") {
            return JoinStart::Error(code::UNKNOWN_MEMBER_ID);
        }
        self.members.insert(
            member_id.to_string(),
            Member {
                protocols,
                session_timeout,
                rebalance_timeout,
                last_seen: now,
            },
        );
        self.rebalance(now);
        self.joined.insert(member_id.to_string());
        self.try_complete_join(now);
        JoinStart::Waiting
    }

    /// Completes the join round when every member rejoined or the deadline passed
    /// (members that did not rejoin are removed).
    pub fn try_complete_join(&mut self, now: Instant) {
        let Phase::Joining { deadline } = self.phase else {
            return;
        };
        let all = self.members.keys().all(|m| self.joined.contains(m));
        if !all && now < deadline {
            return;
        }
        self.members.retain(|m, _| self.joined.contains(m));
        if self.members.is_empty() {
            self.phase = Phase::Stable;
            return;
        }
        self.generation += 1;
        self.leader = self.members.keys().next().cloned().unwrap_or_default();
        self.protocol = self
            .members
            .values()
            .next()
            .and_then(|m| m.protocols.first())
            .map(|p| p.0.clone())
            .unwrap_or_default();
        self.assignments.clear();
        self.phase = Phase::Syncing;
        for m in self.members.values_mut() {
            m.last_seen = now;
        }
    }

    /// The JoinGroup answer of `member` once its round completed: (generation, leader,
    /// protocol, members with metadata for the leader), or an error.
    #[allow(clippy::type_complexity)]
    pub fn join_result(
        &self,
        member: &str,
    ) -> Option<Result<(i32, String, String, Vec<(String, Bytes)>), i16>> {
        if matches!(self.phase, Phase::Joining { .. }) {
            return None;
        }
        if !self.members.contains_key(member) {
            return Some(Err(code::UNKNOWN_MEMBER_ID));
        }
        let members = if member == self.leader {
            self.members
                .iter()
                .map(|(id, m)| {
                    let meta = m
                        .protocols
                        .iter()
                        .find(|p| p.0 == self.protocol)
                        .map(|p| p.1.clone())
                        .unwrap_or_default();
                    (id.clone(), meta)
                })
                .collect()
        } else {
            Vec::new()
        };
        Some(Ok((
            self.generation,
            self.leader.clone(),
            self.protocol.clone(),
            members,
        )))
    }

    /// Validates a member and generation (heartbeat, sync, commit).
    pub fn check(&self, member: &str, generation: i32) -> Result<(), i16> {
        if !self.members.contains_key(member) {
            return Err(code::UNKNOWN_MEMBER_ID);
        }
        if generation != self.generation {
            return Err(code::ILLEGAL_GENERATION);
        }
        if matches!(self.phase, Phase::Joining { .. }) {
            return Err(code::REBALANCE_IN_PROGRESS);
        }
        Ok(())
    }

    pub fn sync(
        &mut self,
        member: &str,
        generation: i32,
        assignments: Vec<(String, Bytes)>,
    ) -> Result<(), i16> {
        self.check(member, generation)?;
        if member == self.leader && self.phase == Phase::Syncing {
            self.assignments = assignments.into_iter().collect();
            self.history
                .insert(self.generation, self.assignments.clone());
            self.phase = Phase::Stable;
        }
        Ok(())
    }

    /// A member's assignment once the leader synced; `None` while waiting.
    pub fn sync_result(&self, member: &str, generation: i32) -> Option<Result<Bytes, i16>> {
        if let Err(code) = self.check(member, generation) {
            return Some(Err(code));
        }
        match self.phase {
            Phase::Stable => Some(Ok(self
                .assignments
                .get(member)
                .cloned()
                .unwrap_or_default())),
            _ => None,
        }
    }

    /// A member's Heartbeat. A heartbeat of the current generation keeps the member's
    /// session alive even while the group rebalances (answered REBALANCE_IN_PROGRESS),
    /// as Kafka's coordinator reschedules the member's heartbeat expiration before
    /// answering so: a member that only heartbeats and never rejoins holds the rebalance
    /// until its rebalance timeout, not just its session timeout.
    pub fn heartbeat(&mut self, member: &str, generation: i32, now: Instant) -> Result<(), i16> {
        let answer = self.check(member, generation);
        if matches!(answer, Ok(()) | Err(code::REBALANCE_IN_PROGRESS))
            && let Some(m) = self.members.get_mut(member)
        {
            m.last_seen = now;
        }
        answer
    }

    pub fn leave(&mut self, member: &str, now: Instant) {
        if self.members.remove(member).is_some() {
            self.joined.remove(member);
            self.rebalance(now);
            self.try_complete_join(now);
        }
    }

    /// Removes members whose session expired; completes a join round past its deadline.
    pub fn tick(&mut self, now: Instant) {
        let expired: Vec<String> = self
            .members
            .iter()
            .filter(|(id, m)| {
                now.duration_since(m.last_seen) > m.session_timeout
                    && !(matches!(self.phase, Phase::Joining { .. }) && self.joined.contains(*id))
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in expired {
            self.leave(&id, now);
        }
        self.try_complete_join(now);
    }

    /// An OffsetCommit of partition offsets (`generation` -1: outside the group).
    pub fn commit(
        &mut self,
        member: &str,
        generation: i32,
        offsets: &[(i32, i64)],
    ) -> Result<(), i16> {
        if generation >= 0 {
            self.check(member, generation)?;
        } else if !self.members.is_empty() {
            return Err(code::ILLEGAL_GENERATION);
        }
        self.store(member, generation, offsets);
        Ok(())
    }

    /// Stores offsets a member (of either protocol) committed, and records the commit.
    pub fn store(&mut self, member: &str, generation: i32, offsets: &[(i32, i64)]) {
        for &(partition, offset) in offsets {
            self.offsets.insert(partition, offset);
            self.commits.push(Commit {
                member: member.to_string(),
                generation,
                partition,
                offset,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: Duration = Duration::from_secs(6);
    const REBALANCE: Duration = Duration::from_secs(60);

    fn join(g: &mut Group, member: &str) {
        let joined = g.join(member, Vec::new(), SESSION, REBALANCE, Instant::now());
        assert!(matches!(joined, JoinStart::Waiting), "{member}");
    }

    /// A stable group of member-1 alone, and its generation.
    fn stable_group() -> (Group, i32) {
        let mut g = Group::default();
        join(&mut g, "member-1");
        let (generation, leader, _, _) = g.join_result("member-1").unwrap().unwrap();
        g.sync(&leader, generation, Vec::new()).unwrap();
        (g, generation)
    }

    #[tokio::test(start_paused = true)]
    async fn a_member_that_only_heartbeats_holds_the_rebalance_until_its_rebalance_timeout() {
        let (mut g, generation) = stable_group();
        assert_eq!(g.heartbeat("member-1", generation, Instant::now()), Ok(()));

        // A newcomer starts a rebalance; member-1 only heartbeats, past its session.
        join(&mut g, "member-2");
        for _ in 0..20 {
            tokio::time::advance(Duration::from_secs(1)).await;
            assert_eq!(
                g.heartbeat("member-1", generation, Instant::now()),
                Err(code::REBALANCE_IN_PROGRESS)
            );
            g.tick(Instant::now());
        }
        assert!(
            g.members.contains_key("member-1") && g.join_result("member-2").is_none(),
            "its heartbeats kept its session: the round still waits for it"
        );

        // Past the rebalance timeout the round completes without it.
        tokio::time::advance(REBALANCE).await;
        g.tick(Instant::now());
        assert!(!g.members.contains_key("member-1"));
        assert!(matches!(g.join_result("member-2"), Some(Ok(_))));
        assert_eq!(
            g.heartbeat("member-1", generation, Instant::now()),
            Err(code::UNKNOWN_MEMBER_ID)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_member_still_expires_after_its_session_timeout() {
        let (mut g, _) = stable_group();
        join(&mut g, "member-2");
        tokio::time::advance(SESSION + Duration::from_secs(1)).await;
        g.tick(Instant::now());
        assert!(!g.members.contains_key("member-1"));
        assert!(matches!(g.join_result("member-2"), Some(Ok(_))));
    }
}
