//! The group task: one per subscribed consumer. It joins (JoinGroup, SyncGroup),
//! heartbeats on its own timer whatever the application's poll rhythm, notices
//! rebalances, coordinator moves, metadata changes and poll timeouts, and leaves.
//!
//! Partition movement goes through [`AppEvent`]s that the application's next `poll`
//! carries out (commit on revoke, listener callbacks), as the Java client runs them
//! inside `poll`. The task waits for a revocation to finish before rejoining (eager:
//! before JoinGroup; cooperative: before the follow-up rebalance), heartbeating
//! meanwhile; if the application does not poll within `max.poll.interval`, the
//! partitions are declared lost instead.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{Duration, Instant, sleep_until};

use crate::cluster::ClusterMetadata;
use crate::consumer::builder::AssignmentStrategy;
use crate::consumer::state::{AppEvent, Shared};
use crate::error::Error;
use crate::types::TopicPartition;

use super::heartbeat::{HeartbeatOutcome, heartbeat};
use super::join::{JoinError, Joined, join_group, leader_plan, leave_group, sync_group};
use crate::ops::CoordinatorLink;

/// What the handle tells the group task.
#[derive(Debug)]
pub(crate) enum GroupCommand {
    /// The subscription changed (already stored in the shared state).
    Subscribe,
    /// Leave the group (dynamic members send LeaveGroup) and stop.
    Leave { done: oneshot::Sender<()> },
}

struct Membership {
    shared: Arc<Shared>,
    link: Arc<CoordinatorLink>,
    rx: mpsc::UnboundedReceiver<GroupCommand>,
    member_id: String,
    generation: i32,
    protocol: Option<AssignmentStrategy>,
    topics: BTreeSet<String>,
    owned: BTreeSet<TopicPartition>,
    need_join: bool,
    /// Partition counts of the topics the assignment was computed from.
    counts: BTreeMap<String, i32>,
    leader: bool,
    next_heartbeat: Instant,
    /// When the coordinator last answered a heartbeat (or the member joined): after
    /// `session.timeout` without an answer the coordinator has expired the member, so
    /// its partitions are treated as lost at once (as librdkafka does) instead of being
    /// consumed by a zombie until the coordinator is reachable again.
    last_heartbeat_ok: Instant,
    next_metadata_check: Instant,
    attempt: u32,
}

/// Runs the group task until the consumer leaves or closes.
pub(crate) async fn run(
    shared: Arc<Shared>,
    link: Arc<CoordinatorLink>,
    rx: mpsc::UnboundedReceiver<GroupCommand>,
) {
    Membership::new(shared, link, rx, Instant::now())
        .run()
        .await;
}

/// What the task's loop does next ([`Membership::turn`]).
#[derive(Debug, PartialEq, Eq)]
enum Turn {
    /// The consumer is closed: answer any pending leave and stop.
    Stop,
    /// Join (or rejoin) the group.
    Rebalance,
    /// Nothing to do before this instant (a heartbeat, a metadata check), or a command.
    Wait(Instant),
}

/// What follows a rebalance attempt ([`Membership::after_rebalance`]).
#[derive(Debug, PartialEq, Eq)]
enum AfterRebalance {
    /// Joined: go on.
    Joined,
    /// The consumer cannot be a member: the task stops.
    Stop,
    /// Try again once this instant is reached.
    RetryAt(Instant),
}

impl Membership {
    /// A member not in the group yet (no member id, generation -1), subscribed to
    /// nothing; its first metadata check is due at `now`.
    fn new(
        shared: Arc<Shared>,
        link: Arc<CoordinatorLink>,
        rx: mpsc::UnboundedReceiver<GroupCommand>,
        now: Instant,
    ) -> Self {
        Membership {
            shared,
            link,
            rx,
            member_id: String::new(),
            generation: -1,
            protocol: None,
            topics: BTreeSet::new(),
            owned: BTreeSet::new(),
            need_join: false,
            counts: BTreeMap::new(),
            leader: false,
            next_heartbeat: now,
            last_heartbeat_ok: now,
            next_metadata_check: now,
            attempt: 0,
        }
    }

    fn cfg(&self) -> &crate::consumer::builder::ConsumerConfig {
        &self.shared.config
    }

    fn is_static(&self) -> bool {
        self.cfg().group_instance_id.is_some()
    }

    fn cooperative(&self) -> bool {
        match self.protocol {
            Some(p) => p.is_cooperative(),
            None => self.cfg().strategies.iter().all(|s| s.is_cooperative()),
        }
    }

    fn closed(&self) -> bool {
        self.shared.lock().is_closed()
    }

    async fn run(&mut self) {
        loop {
            match self.turn() {
                Turn::Stop => {
                    // Dropped without close(): still leave the group if asked to.
                    while let Ok(cmd) = self.rx.try_recv() {
                        if let GroupCommand::Leave { done } = cmd {
                            self.leave("the consumer was dropped").await;
                            let _ = done.send(());
                        }
                    }
                    return;
                }
                Turn::Rebalance => {
                    let result = self.rebalance().await;
                    match self.after_rebalance(result, Instant::now()) {
                        AfterRebalance::Joined => {}
                        AfterRebalance::Stop => return,
                        AfterRebalance::RetryAt(at) => {
                            if self.idle(at).await {
                                return;
                            }
                        }
                    }
                }
                Turn::Wait(wake) => {
                    if self.idle(wake).await {
                        return;
                    }
                    let now = Instant::now();
                    if self.heartbeat_due(now) {
                        self.beat().await;
                    }
                    if self.metadata_due(now) {
                        self.check_metadata().await;
                    }
                    self.check_poll_timeout().await;
                }
            }
        }
    }

    /// The loop's next step: stop when closed, join when a subscribed member must,
    /// otherwise wait for the next heartbeat (only in a generation) or metadata check.
    fn turn(&self) -> Turn {
        if self.closed() {
            Turn::Stop
        } else if self.need_join && !self.topics.is_empty() {
            Turn::Rebalance
        } else if self.generation >= 0 {
            Turn::Wait(self.next_heartbeat.min(self.next_metadata_check))
        } else {
            Turn::Wait(self.next_metadata_check)
        }
    }

    /// Whether a heartbeat is due at `now` (only a member of a generation beats).
    fn heartbeat_due(&self, now: Instant) -> bool {
        self.generation >= 0 && now >= self.next_heartbeat
    }

    /// Whether the metadata check is due at `now`.
    fn metadata_due(&self, now: Instant) -> bool {
        now >= self.next_metadata_check
    }

    /// Settles a rebalance attempt: a join resets the backoff; a fatal error loses the
    /// partitions, records the error for the application and stops the task; any other
    /// failure retries after the client's backoff, growing with each attempt.
    fn after_rebalance(
        &mut self,
        result: Result<(), Option<Error>>,
        now: Instant,
    ) -> AfterRebalance {
        match result {
            Ok(()) => {
                self.attempt = 0;
                AfterRebalance::Joined
            }
            Err(Some(fatal)) => {
                tracing::warn!(group = %self.link.group_id, error = %fatal, "consumer left the group for good");
                let parts: Vec<_> = std::mem::take(&mut self.owned).into_iter().collect();
                self.shared.post_lost(parts);
                self.shared.lock().set_fatal(fatal);
                self.shared.wake_all();
                AfterRebalance::Stop
            }
            Err(None) => {
                let wait = self.link.client.retry_backoff(self.attempt);
                self.attempt = self.attempt.saturating_add(1);
                AfterRebalance::RetryAt(now + wait)
            }
        }
    }

    /// Waits until `until` or a command; returns true when the task must stop.
    async fn idle(&mut self, until: Instant) -> bool {
        tokio::select! {
            cmd = self.rx.recv() => match cmd {
                None => true,
                Some(GroupCommand::Subscribe) => {
                    self.on_subscribe();
                    false
                }
                Some(GroupCommand::Leave { done }) => {
                    self.leave("the consumer is closing").await;
                    let _ = done.send(());
                    true
                }
            },
            () = sleep_until(until) => false,
        }
    }

    fn on_subscribe(&mut self) {
        let topics = self.shared.lock().subscribed_topics();
        if topics != self.topics {
            self.topics = topics;
            self.need_join = true;
            self.next_metadata_check = Instant::now();
        }
    }

    async fn leave(&mut self, reason: &str) {
        if self.sends_leave() {
            leave_group(&self.link, &self.member_id, reason).await;
        }
        self.generation = -1;
        self.member_id.clear();
        self.publish_view(false);
    }

    /// Whether leaving sends LeaveGroup: only a dynamic member that holds a member id
    /// in a generation. A static member's departure is left to its session timeout,
    /// so that a restart within it keeps the assignment (KIP-345, as Java does).
    fn sends_leave(&self) -> bool {
        !self.is_static() && !self.member_id.is_empty() && self.generation >= 0
    }

    fn publish_view(&self, rebalancing: bool) {
        self.shared
            .lock()
            .publish_group(self.generation, &self.member_id, rebalancing);
    }

    async fn beat(&mut self) {
        let outcome = heartbeat(
            &self.link,
            self.generation,
            &self.member_id,
            self.cfg().group_instance_id.as_deref(),
        )
        .await;
        self.on_heartbeat(outcome, Instant::now());
    }

    /// Acts on a heartbeat's outcome received at `now`: schedules the next heartbeat
    /// (sooner after a transient failure), rejoins on a rebalance, loses the partitions
    /// when the generation is gone or the session expired without an answer, and stops
    /// the member for good when its static instance id is fenced.
    fn on_heartbeat(&mut self, outcome: Result<HeartbeatOutcome, Error>, now: Instant) {
        let interval = self.cfg().heartbeat_interval;
        self.next_heartbeat = now + interval;
        if matches!(outcome, Ok(HeartbeatOutcome::Ok | HeartbeatOutcome::Rejoin)) {
            self.last_heartbeat_ok = now;
        }
        match outcome {
            Ok(HeartbeatOutcome::Ok) => {}
            Ok(HeartbeatOutcome::Rejoin) => {
                tracing::debug!(group = %self.link.group_id, "group is rebalancing");
                self.need_join = true;
            }
            Ok(HeartbeatOutcome::Lost { reset_member }) => {
                tracing::info!(group = %self.link.group_id, "generation lost: partitions lost");
                self.lose_all(reset_member);
            }
            Ok(HeartbeatOutcome::Retry) if self.session_expired(now) => {
                tracing::warn!(group = %self.link.group_id,
                    "no heartbeat answer within session.timeout: partitions lost");
                self.lose_all(!self.is_static());
            }
            Ok(HeartbeatOutcome::Retry) => {
                self.next_heartbeat = now + self.link.client.retry_backoff(0).min(interval);
            }
            Err(e) => {
                tracing::warn!(group = %self.link.group_id, error = %e, "heartbeat failed");
                if matches!(e.code(), Some(crate::error::ErrorCode::FENCED_INSTANCE_ID)) {
                    self.lose_all(true);
                    self.shared.lock().set_fatal(e);
                    self.shared.wake_all();
                }
            }
        }
    }

    /// Whether the coordinator has not answered a heartbeat for `session.timeout`.
    fn session_expired(&self, now: Instant) -> bool {
        self.generation >= 0
            && now.saturating_duration_since(self.last_heartbeat_ok) >= self.cfg().session_timeout
    }

    fn lose_all(&mut self, reset_member: bool) {
        let parts: Vec<_> = std::mem::take(&mut self.owned).into_iter().collect();
        self.shared.post_lost(parts);
        self.forget_generation(reset_member);
        self.need_join = true;
        self.publish_view(false);
    }

    /// Leaves the generation (and, with `reset_member`, the member id the coordinator
    /// no longer knows); what the member owns is the caller's concern.
    fn forget_generation(&mut self, reset_member: bool) {
        self.generation = -1;
        if reset_member {
            self.member_id.clear();
        }
    }

    /// Queues a revocation for `poll` and waits for it, heartbeating meanwhile. If the
    /// application does not poll in time, the partitions are lost instead.
    async fn revoke(&mut self, parts: Vec<TopicPartition>, then: Option<AppEvent>) {
        if parts.is_empty() {
            return;
        }
        let (done, mut wait) = oneshot::channel();
        {
            let mut st = self.shared.lock();
            st.post(AppEvent::Revoke {
                partitions: parts.clone(),
                done,
            });
            if let Some(then) = then {
                st.post(then);
            }
        }
        self.shared.wake_all();
        loop {
            let deadline = self
                .shared
                .lock()
                .poll_deadline(self.cfg().max_poll_interval);
            let beat_at = if self.generation >= 0 {
                self.next_heartbeat
            } else {
                deadline
            };
            tokio::select! {
                _ = &mut wait => return,
                () = sleep_until(beat_at.min(deadline)) => {}
            }
            if self.closed() {
                return;
            }
            // A poll during the wait moves the deadline: read it again.
            let deadline = self
                .shared
                .lock()
                .poll_deadline(self.cfg().max_poll_interval);
            if Instant::now() >= deadline {
                tracing::warn!(group = %self.link.group_id,
                    "no poll within max.poll.interval during a revocation: partitions lost");
                self.shared.post_lost(parts);
                return;
            }
            if self.generation >= 0 {
                // REBALANCE_IN_PROGRESS is expected here; a lost generation is not.
                if let Ok(HeartbeatOutcome::Lost { reset_member }) = heartbeat(
                    &self.link,
                    self.generation,
                    &self.member_id,
                    self.cfg().group_instance_id.as_deref(),
                )
                .await
                {
                    self.forget_generation(reset_member);
                }
                self.next_heartbeat = Instant::now() + self.cfg().heartbeat_interval;
            }
        }
    }

    /// One full rebalance: revoke (eager), join, assign (leader), sync, apply.
    /// `Err(None)` retries after a backoff; `Err(Some(e))` is fatal.
    async fn rebalance(&mut self) -> Result<(), Option<Error>> {
        if !self.cooperative() && !self.owned.is_empty() {
            let parts: Vec<_> = std::mem::take(&mut self.owned).into_iter().collect();
            self.revoke(parts, None).await;
        }
        if self.closed() {
            return Ok(());
        }
        self.publish_view(true);
        let owned: Vec<TopicPartition> = self.owned.iter().cloned().collect();
        let joined = loop {
            match join_group(
                &self.link,
                self.cfg(),
                &self.member_id,
                &self.topics,
                &owned,
                self.generation,
            )
            .await
            {
                Ok(j) => break j,
                Err(e) => self.on_join_error(e)?,
            }
        };
        self.member_id = joined.member_id.clone();
        self.leader = joined.leader_members.is_some();
        let plan = match &joined.leader_members {
            Some(members) => match leader_plan(&self.link.client, joined.protocol, members).await {
                Ok((plan, counts)) => {
                    self.counts = counts;
                    Some(plan)
                }
                Err(e) => {
                    tracing::debug!(group = %self.link.group_id, error = %e, "assignment failed");
                    return Err(None);
                }
            },
            None => None,
        };
        let assignment = match sync_group(&self.link, self.cfg(), &joined, plan.as_ref()).await {
            Ok(a) => a,
            Err(e) => return Err(self.on_sync_error(e)),
        };
        self.on_synced(&joined, assignment.len(), Instant::now());
        self.apply(assignment).await;
        Ok(())
    }

    /// Acts on a failed JoinGroup: `Ok` to send it again at once (with the member id
    /// the coordinator gave, or none when it forgot this member, whose partitions are
    /// then lost); `Err(None)` to retry after a backoff; `Err(Some)` when fatal.
    fn on_join_error(&mut self, e: JoinError) -> Result<(), Option<Error>> {
        match e {
            JoinError::RetryWithMember(id) => {
                if id.is_empty() {
                    // The coordinator forgot us: what we owned is gone.
                    self.lose_all(true);
                }
                self.member_id = id;
                Ok(())
            }
            JoinError::Retry(e) => {
                tracing::debug!(group = %self.link.group_id, error = %e, "JoinGroup failed; retrying");
                Err(None)
            }
            JoinError::Fatal(e) => Err(Some(e)),
        }
    }

    /// Acts on a failed SyncGroup, which always ends the attempt: an unknown member
    /// loses its partitions and id, an illegal generation its partitions only; `None`
    /// retries after a backoff, `Some` is fatal.
    fn on_sync_error(&mut self, e: JoinError) -> Option<Error> {
        match e {
            JoinError::RetryWithMember(_) => {
                self.lose_all(true);
                None
            }
            JoinError::Retry(e) => {
                tracing::debug!(group = %self.link.group_id, error = %e, "SyncGroup failed; rejoining");
                if matches!(e.code(), Some(crate::error::ErrorCode::ILLEGAL_GENERATION)) {
                    self.lose_all(false);
                }
                None
            }
            JoinError::Fatal(e) => Some(e),
        }
    }

    /// Enters the generation `joined` names at `now` (its assignment of `partitions`
    /// is applied next): the protocol is agreed, the heartbeat and session clocks
    /// start, the group view is published and the rebalance counted.
    fn on_synced(&mut self, joined: &Joined, partitions: usize, now: Instant) {
        self.generation = joined.generation;
        self.protocol = Some(joined.protocol);
        self.need_join = false;
        self.next_heartbeat = now + self.cfg().heartbeat_interval;
        self.last_heartbeat_ok = now;
        self.publish_view(false);
        tracing::info!(group = %self.link.group_id, generation = self.generation,
            member = %self.member_id, protocol = joined.protocol.name(),
            partitions, "joined group");
        self.link.client.telemetry().rebalanced();
    }

    /// Applies a new assignment: new partitions start (committed offsets first) and
    /// are announced; cooperative revocations run, then the member rejoins.
    async fn apply(&mut self, assignment: Vec<TopicPartition>) {
        let new: BTreeSet<TopicPartition> = assignment
            .into_iter()
            .filter(|tp| self.topics.contains(&tp.topic))
            .collect();
        let added: Vec<TopicPartition> = new.difference(&self.owned).cloned().collect();
        let revoked: Vec<TopicPartition> = self.owned.difference(&new).cloned().collect();
        tracing::debug!(group = %self.link.group_id, generation = self.generation,
            assigned = ?added, revoked = ?revoked, "rebalance: assignment applied");
        self.shared.add_assigned(&added);
        self.owned.extend(added.iter().cloned());
        let assigned = AppEvent::Assigned { partitions: added };
        if revoked.is_empty() {
            self.shared.lock().post(assigned);
            self.shared.wake_all();
        } else {
            for tp in &revoked {
                self.owned.remove(tp);
            }
            // `revoked` runs before `assigned`, as in Java; then a follow-up rebalance
            // hands the revoked partitions to their new owners.
            self.revoke(revoked, Some(assigned)).await;
            self.need_join = true;
        }
    }

    /// Rejoins when a subscribed topic's partition count changed (or a missing topic
    /// appeared). The leader watches every member's topics.
    async fn check_metadata(&mut self) {
        let Some(topics) = self.metadata_topics(Instant::now()) else {
            return;
        };
        let refs: Vec<&str> = topics.iter().map(String::as_str).collect();
        let meta = self.link.client.refresh_topics(&refs).await.ok();
        self.on_metadata(&topics, meta.as_deref(), Instant::now());
    }

    /// The topics whose partition counts to check: every member's for the leader, the
    /// subscription otherwise. `None` (and the next check in a second) outside a
    /// generation or without topics.
    fn metadata_topics(&mut self, now: Instant) -> Option<Vec<String>> {
        let topics: Vec<String> = if self.leader {
            self.counts
                .keys()
                .chain(self.topics.iter())
                .cloned()
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        } else {
            self.topics.iter().cloned().collect()
        };
        if topics.is_empty() || self.generation < 0 {
            self.next_metadata_check = now + Duration::from_secs(1);
            return None;
        }
        Some(topics)
    }

    /// Compares the partition counts in `meta` (`None` when the refresh failed) with
    /// those the assignment was computed from: a change, for a topic the leader
    /// assigned or a follower saw before, asks for a rejoin. The next check is in a
    /// second while a topic is missing, else after the metadata age (at most 30 s).
    fn on_metadata(&mut self, topics: &[String], meta: Option<&ClusterMetadata>, now: Instant) {
        let mut missing = false;
        if let Some(meta) = meta {
            for t in topics {
                let count = meta.topic(t).map(|i| i.partitions.len() as i32);
                missing |= count.is_none();
                let before = self.counts.get(t).copied();
                let known = self.leader || self.counts.contains_key(t);
                if known && count != before {
                    tracing::info!(group = %self.link.group_id, topic = %t, ?before, now = ?count,
                        "partition count changed: rejoining");
                    self.need_join = true;
                }
                if !self.leader {
                    if let Some(n) = count {
                        self.counts.insert(t.clone(), n);
                    }
                }
            }
        }
        let every = if missing {
            Duration::from_secs(1)
        } else {
            self.link
                .client
                .config()
                .metadata_max_age
                .min(Duration::from_secs(30))
        };
        self.next_metadata_check = now + every;
    }

    /// Leaves the group when the application stopped polling for longer than
    /// `max.poll.interval` (as Java does); rejoins at its next poll.
    async fn check_poll_timeout(&mut self) {
        let last = self.shared.lock().last_poll();
        if self.generation < 0 || last.elapsed() < self.cfg().max_poll_interval {
            return;
        }
        tracing::warn!(group = %self.link.group_id,
            "no poll within max.poll.interval: leaving the group until the next poll");
        let parts: Vec<_> = std::mem::take(&mut self.owned).into_iter().collect();
        self.shared.post_lost(parts);
        self.leave("consumer poll timeout has expired").await;
        let shared = self.shared.clone();
        tokio::select! {
            () = shared.next_poll(self.cfg().max_poll_interval) => {}
            cmd = self.rx.recv() => {
                if let Some(GroupCommand::Leave { done }) = cmd {
                    let _ = done.send(());
                    self.shared.lock().close();
                    return;
                }
            }
        }
        self.need_join = true;
    }
}

#[cfg(test)]
#[path = "../unit_tests/membership_task.rs"]
mod task_tests;

#[cfg(test)]
#[path = "../unit_tests/membership_turns.rs"]
mod turn_tests;
