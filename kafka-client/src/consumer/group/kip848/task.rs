//! The consumer-protocol membership task: one per subscribed consumer with
//! `group.protocol=consumer`. It heartbeats on the interval the coordinator gives,
//! reconciles each new target assignment (revoke first, then assign, then acknowledge
//! the owned set in the next heartbeat), rejoins after being fenced, leaves and
//! rejoins when the application stops polling for `max.poll.interval`, and leaves
//! (epoch -1, or -2 for a static member) on close.
//!
//! Partition movement reaches the application as the same [`AppEvent`]s the classic
//! task posts; `poll` runs them (commit on revoke, listener callbacks).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::{Duration, Instant, sleep_until};
use uuid::Uuid;

use super::heartbeat_state::{Beat, ByTopicId, HeartbeatState, Reaction, Wanted, new_member_id};
use super::reconcile::{self, owned_by_id};
use super::request::{self, Exchange};
use crate::consumer::group::GroupCommand;
use crate::consumer::state::{AppEvent, Shared};
use crate::consumer::subscription::Subscription;
use crate::error::Error;
use crate::ops::CoordinatorLink;
use crate::types::TopicPartition;

/// How often unresolved topic ids of a target are looked up again.
const RESOLVE_EVERY: Duration = Duration::from_secs(1);

pub(crate) struct Member {
    pub(super) shared: Arc<Shared>,
    pub(super) link: Arc<CoordinatorLink>,
    pub(super) rx: mpsc::UnboundedReceiver<GroupCommand>,
    pub(super) hb: HeartbeatState,
    pub(super) wanted: Wanted,
    pub(super) owned: BTreeSet<TopicPartition>,
    /// Topic names by id, of every target seen.
    pub(super) names: BTreeMap<Uuid, String>,
    /// The latest target assignment and whether it still needs reconciling.
    pub(super) target: ByTopicId,
    pub(super) target_pending: bool,
    /// The first target after a (re)join is announced even when empty, as in Java.
    pub(super) announce_empty: bool,
    pub(super) next_resolve: Instant,
    /// When the coordinator last answered: after `session.timeout` without an answer
    /// the member counts as expired and its partitions as lost.
    pub(super) last_answer: Instant,
    pub(super) attempt: u32,
    /// Tells commits waiting on STALE_MEMBER_EPOCH that a heartbeat answered.
    pub(super) epochs: watch::Sender<i32>,
    pub(super) stopped: bool,
}

/// One turn of the task's loop, as [`Member::turn`] decides it.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Turn {
    /// The consumer is closed: answer the leaves still queued, then stop.
    Closed,
    /// Nothing subscribed: wait for a command (or until this instant), then decide
    /// again.
    Unsubscribed(Instant),
    /// A target is pending and its topic ids are due for a look: reconcile now.
    Reconcile,
    /// Wait for a command or until this instant; then heartbeat if one is due and check
    /// for a poll timeout.
    Wait(Instant),
}

/// Runs the task until the consumer leaves or closes.
pub(crate) async fn run(
    shared: Arc<Shared>,
    link: Arc<CoordinatorLink>,
    rx: mpsc::UnboundedReceiver<GroupCommand>,
) {
    let mut m = Member::new(shared, link, rx, new_member_id());
    m.run().await;
}

impl Member {
    pub(super) fn new(
        shared: Arc<Shared>,
        link: Arc<CoordinatorLink>,
        rx: mpsc::UnboundedReceiver<GroupCommand>,
        member_id: String,
    ) -> Self {
        let now = Instant::now();
        let cfg = &shared.config;
        let wanted = Wanted {
            topics: BTreeSet::new(),
            regex: None,
            assignor: cfg.group_remote_assignor.clone(),
            rack: cfg.client_rack.clone(),
            instance_id: cfg.group_instance_id.clone(),
            rebalance_timeout_ms: cfg.max_poll_interval.as_millis() as i32,
        };
        let hb = HeartbeatState::new(member_id, cfg.heartbeat_interval, now);
        let (epochs, rx_epochs) = watch::channel(-1);
        shared.lock().watch_epochs(rx_epochs);
        Self {
            shared,
            link,
            rx,
            hb,
            wanted,
            owned: BTreeSet::new(),
            names: BTreeMap::new(),
            target: ByTopicId::new(),
            target_pending: false,
            announce_empty: true,
            next_resolve: now,
            last_answer: now,
            attempt: 0,
            epochs,
            stopped: false,
        }
    }

    fn cfg(&self) -> &crate::consumer::builder::ConsumerConfig {
        &self.shared.config
    }

    fn is_static(&self) -> bool {
        self.cfg().group_instance_id.is_some()
    }

    fn closed(&self) -> bool {
        self.shared.lock().is_closed()
    }

    fn subscribed(&self) -> bool {
        !self.wanted.topics.is_empty() || self.wanted.regex.is_some()
    }

    async fn run(&mut self) {
        while !self.stopped {
            match self.turn(Instant::now()) {
                Turn::Closed => {
                    // Dropped without close(): still leave the group if asked to.
                    while let Ok(cmd) = self.rx.try_recv() {
                        if let GroupCommand::Leave { done } = cmd {
                            self.leave().await;
                            let _ = done.send(());
                        }
                    }
                    return;
                }
                Turn::Unsubscribed(until) => {
                    if self.idle(until).await {
                        return;
                    }
                }
                Turn::Reconcile => self.reconcile().await,
                Turn::Wait(wake) => {
                    if self.idle(wake).await {
                        return;
                    }
                    if self.beat_due(Instant::now()) {
                        self.beat().await;
                    }
                    self.check_poll_timeout().await;
                }
            }
        }
    }

    /// What the loop does next at `now` (a pure decision: the loop acts on it).
    pub(super) fn turn(&self, now: Instant) -> Turn {
        if self.closed() {
            return Turn::Closed;
        }
        if !self.subscribed() {
            return Turn::Unsubscribed(now + Duration::from_secs(3600));
        }
        if self.target_pending && now >= self.next_resolve {
            return Turn::Reconcile;
        }
        let mut wake = self.hb.next_beat();
        if self.target_pending {
            wake = wake.min(self.next_resolve);
        }
        if self.hb.joined() {
            let poll_deadline = self
                .shared
                .lock()
                .poll_deadline(self.cfg().max_poll_interval);
            wake = wake.min(poll_deadline);
        }
        Turn::Wait(wake)
    }

    /// Whether the heartbeat is due at `now`.
    pub(super) fn beat_due(&self, now: Instant) -> bool {
        now >= self.hb.next_beat()
    }

    /// Waits until `until` or a command; returns true when the task must stop.
    async fn idle(&mut self, until: Instant) -> bool {
        tokio::select! {
            cmd = self.rx.recv() => self.on_command(cmd).await,
            () = sleep_until(until) => false,
        }
    }

    async fn on_command(&mut self, cmd: Option<GroupCommand>) -> bool {
        match cmd {
            None => true,
            Some(GroupCommand::Subscribe) => {
                self.on_subscribe();
                false
            }
            Some(GroupCommand::Leave { done }) => {
                self.leave().await;
                let _ = done.send(());
                self.stopped = true;
                true
            }
        }
    }

    pub(super) fn on_subscribe(&mut self) {
        let (topics, regex) = match self.shared.lock().subscription() {
            Subscription::Topics(t) => (t.clone(), None),
            Subscription::Pattern(p) => (BTreeSet::new(), Some(p.clone())),
            _ => (BTreeSet::new(), None),
        };
        if topics != self.wanted.topics || regex != self.wanted.regex {
            self.wanted.topics = topics;
            self.wanted.regex = regex;
            // The new subscription goes out at once (a delta when joined).
            self.hb.beat_now(Instant::now());
        }
    }

    /// Publishes the member's epoch and id for commits (`GroupView`).
    fn publish_view(&self) {
        let epoch = self.hb.epoch();
        {
            let generation = if epoch > 0 { epoch } else { -1 };
            self.shared
                .lock()
                .publish_group(generation, self.hb.member_id(), false);
        }
        self.epochs.send_replace(epoch);
    }

    /// Sends one heartbeat and acts on its answer.
    pub(super) async fn beat(&mut self) {
        let owned = owned_by_id(&self.owned, &self.names);
        let beat = self.hb.beat(&self.wanted, &owned);
        let exchange = request::send(&self.link, &beat).await;
        self.on_exchange(exchange);
    }

    pub(super) fn on_exchange(&mut self, exchange: Exchange) {
        let now = Instant::now();
        let backoff = self.link.client.retry_backoff(self.attempt);
        match exchange {
            Exchange::Answer(answer) => {
                self.attempt = 0;
                self.last_answer = now;
                let was_joined = self.hb.joined();
                let reaction = self.hb.on_answer(answer, now);
                if !was_joined && self.hb.joined() {
                    tracing::info!(group = %self.link.group_id, member = %self.hb.member_id(),
                        epoch = self.hb.epoch(), "joined group (consumer protocol)");
                    self.link.client.telemetry().rebalanced();
                }
                self.publish_view();
                if let Reaction::Target(target) = reaction {
                    self.target = target;
                    self.target_pending = true;
                    self.next_resolve = now;
                }
            }
            Exchange::Code(code, message) => {
                self.attempt = self.attempt.saturating_add(1);
                match self.hb.on_error(code, now, backoff) {
                    Reaction::Fenced => {
                        tracing::warn!(group = %self.link.group_id, %code,
                            "member fenced: partitions lost, rejoining");
                        self.lose_all();
                    }
                    Reaction::Fatal(code) => {
                        let e = request::fatal_error(&self.link, code, message);
                        self.fail(e);
                    }
                    _ => {
                        tracing::debug!(group = %self.link.group_id, %code, "heartbeat retry");
                        self.expire_if_silent(now);
                    }
                }
            }
            Exchange::Failed(e) => {
                self.attempt = self.attempt.saturating_add(1);
                if e.is_retriable()
                    || matches!(e, Error::Deadline { .. })
                    || CoordinatorLink::is_coordinator_error(&e)
                {
                    tracing::debug!(group = %self.link.group_id, error = %e, "heartbeat failed; retrying");
                    self.hb.on_failure(now, backoff.min(self.hb.interval()));
                    self.expire_if_silent(now);
                } else {
                    self.fail(e);
                }
            }
        }
    }

    /// No answer for `session.timeout`: the coordinator has expired the member, so its
    /// partitions are lost (another member may own them) and it joins again.
    fn expire_if_silent(&mut self, now: Instant) {
        if (self.hb.joined() || !self.owned.is_empty())
            && now.duration_since(self.last_answer) >= self.cfg().session_timeout
        {
            tracing::warn!(group = %self.link.group_id,
                "no heartbeat answer within session.timeout: partitions lost");
            // Epoch 0 first, so that `lose_all` publishes "no epoch" for commits (as
            // after fencing), not the expired one.
            self.hb
                .rejoin(now + self.link.client.retry_backoff(self.attempt));
            self.lose_all();
        }
    }

    /// Ends the membership with `e`: the partitions are lost and the consumer's calls
    /// return `e`.
    fn fail(&mut self, e: Error) {
        tracing::warn!(group = %self.link.group_id, error = %e, "consumer left the group for good");
        self.lose_all();
        self.shared.lock().set_fatal(e);
        self.shared.wake_all();
        self.stopped = true;
    }

    /// Every owned partition is lost (listener `lost`, no commit); the member rejoins
    /// at epoch 0 (the heartbeat state already says so).
    pub(super) fn lose_all(&mut self) {
        let parts: Vec<_> = std::mem::take(&mut self.owned).into_iter().collect();
        self.shared.post_lost(parts);
        self.target.clear();
        self.target_pending = false;
        self.announce_empty = true;
        self.publish_view();
    }

    /// Brings the owned set towards the target: resolves topic ids, revokes (and waits
    /// for `poll` to commit and call `revoked`), assigns, and acknowledges.
    pub(super) async fn reconcile(&mut self) {
        let now = Instant::now();
        let missing = |m: &Self| m.target.keys().any(|id| !m.names.contains_key(id));
        if missing(self) {
            reconcile::resolve(
                &self.target,
                &self.link.client.cached_metadata(),
                &mut self.names,
            );
        }
        if missing(self) {
            let refreshed = if self.wanted.regex.is_some() {
                self.link.client.metadata().await
            } else {
                let topics: Vec<&str> = self.wanted.topics.iter().map(String::as_str).collect();
                self.link.client.refresh_topics(&topics).await
            };
            if let Ok(meta) = refreshed {
                reconcile::resolve(&self.target, &meta, &mut self.names);
            }
        }
        let plan = reconcile::plan(&self.target, &self.names, &self.owned);
        tracing::debug!(group = %self.link.group_id, epoch = self.hb.epoch(),
            revoke = ?plan.revoke, assign = ?plan.assign, unresolved = ?plan.unresolved,
            "reconciling");
        if !plan.revoke.is_empty() {
            let revoked = self.revoke(plan.revoke).await;
            for tp in &revoked {
                self.owned.remove(tp);
            }
            // Acknowledge the revocation; the next pass assigns from the latest target.
            self.hb.acknowledge(Instant::now());
            return;
        }
        if !plan.assign.is_empty() || self.announce_empty {
            self.assign(plan.assign);
            self.hb.acknowledge(Instant::now());
        }
        self.announce_empty = false;
        if plan.unresolved.is_empty() {
            self.target_pending = false;
        } else {
            self.next_resolve = now + RESOLVE_EVERY;
        }
    }

    fn assign(&mut self, added: Vec<TopicPartition>) {
        self.shared.add_assigned(&added);
        self.owned.extend(added.iter().cloned());
        self.shared
            .lock()
            .post(AppEvent::Assigned { partitions: added });
        self.shared.wake_all();
    }

    /// Queues a revocation for `poll` and waits for it, heartbeating meanwhile.
    /// Returns the partitions no longer owned: the revoked ones, or, when the
    /// application does not poll within `max.poll.interval`, the same ones declared
    /// lost. When the member is fenced meanwhile (`lose_all` took everything) or leaves,
    /// none.
    async fn revoke(&mut self, parts: Vec<TopicPartition>) -> Vec<TopicPartition> {
        let (done, mut wait) = oneshot::channel();
        self.shared.lock().post(AppEvent::Revoke {
            partitions: parts.clone(),
            done,
        });
        self.shared.wake_all();
        loop {
            let deadline = self
                .shared
                .lock()
                .poll_deadline(self.cfg().max_poll_interval);
            tokio::select! {
                _ = &mut wait => return parts,
                () = sleep_until(self.hb.next_beat().min(deadline)) => {}
                cmd = self.rx.recv() => {
                    if self.on_command(cmd).await {
                        return Vec::new();
                    }
                }
            }
            if self.closed() || self.stopped {
                return Vec::new();
            }
            let deadline = self
                .shared
                .lock()
                .poll_deadline(self.cfg().max_poll_interval);
            if Instant::now() >= deadline {
                // As the classic task: the partitions are lost instead (no commit), the
                // coordinator is told they are released, and the poll timeout check
                // then leaves the group until the application polls again.
                tracing::warn!(group = %self.link.group_id,
                    "no poll within max.poll.interval during a revocation: partitions lost");
                self.shared.post_lost(parts.clone());
                return parts;
            }
            if self.beat_due(Instant::now()) {
                self.beat().await;
                if !self.hb.joined() {
                    // Fenced meanwhile: `lose_all` declared everything lost.
                    return Vec::new();
                }
            }
        }
    }

    /// Leaves the group when the application stopped polling for longer than
    /// `max.poll.interval` (as Java does): partitions lost, leave heartbeat; joins again
    /// at its next poll.
    async fn check_poll_timeout(&mut self) {
        let last = self.shared.lock().last_poll();
        if !self.hb.joined() || last.elapsed() < self.cfg().max_poll_interval {
            return;
        }
        tracing::warn!(group = %self.link.group_id,
            "no poll within max.poll.interval: leaving the group until the next poll");
        let parts: Vec<_> = std::mem::take(&mut self.owned).into_iter().collect();
        self.shared.post_lost(parts);
        self.leave().await;
        let shared = self.shared.clone();
        tokio::select! {
            () = shared.next_poll(self.cfg().max_poll_interval) => {}
            cmd = self.rx.recv() => {
                if self.on_command(cmd).await {
                    return;
                }
            }
        }
        self.hb.rejoin(Instant::now());
    }

    /// The heartbeat that leaves the group: the member id, the leave epoch (-1; -2 for a
    /// static member), the instance id, and nothing else.
    pub(super) fn leave_beat(&self) -> Beat {
        Beat {
            member_id: self.hb.member_id().to_string(),
            epoch: HeartbeatState::leave_epoch(self.is_static()),
            instance_id: self.wanted.instance_id.clone(),
            rebalance_timeout_ms: -1,
            ..Beat::default()
        }
    }

    /// Leaves the group (epoch -1; -2 for a static member, which keeps its assignment
    /// until the session times out). Owned partitions are dropped without a listener
    /// call here (`close` and `unsubscribe` have run `revoked` already; a poll timeout
    /// posts `lost` first). Best effort: errors are only logged.
    pub(super) async fn leave(&mut self) {
        self.owned.clear();
        let joined = self.hb.joined();
        let beat = self.leave_beat();
        let epoch = beat.epoch;
        self.hb.left();
        self.target.clear();
        self.target_pending = false;
        self.announce_empty = true;
        self.publish_view();
        if !joined {
            return;
        }
        match request::send(&self.link, &beat).await {
            Exchange::Answer(_) => {
                tracing::info!(group = %self.link.group_id, member = %beat.member_id, epoch,
                    "left the group (consumer protocol)");
            }
            Exchange::Code(code, _) => {
                tracing::debug!(group = %self.link.group_id, %code, "leave heartbeat refused");
            }
            Exchange::Failed(e) => {
                tracing::debug!(group = %self.link.group_id, error = %e, "leave heartbeat failed");
            }
        }
    }
}

#[cfg(test)]
#[path = "../../unit_tests/kip848_task.rs"]
mod tests;

#[cfg(test)]
#[path = "../../unit_tests/kip848_subscribe.rs"]
mod subscribe_tests;

#[cfg(test)]
#[path = "../../unit_tests/kip848_exchange.rs"]
mod exchange_tests;

#[cfg(test)]
#[path = "../../unit_tests/kip848_loop.rs"]
mod loop_tests;

#[cfg(test)]
#[path = "../../unit_tests/kip848_leave_and_revoke.rs"]
mod leave_and_revoke_tests;
