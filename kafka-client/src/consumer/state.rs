//! The state the consumer's handle and its background tasks share: assignment and
//! positions, the fetch buffer, rebalance events waiting for `poll`, and the group view.
//!
//! One `std::sync::Mutex` guards it; nobody holds it across an `.await`, so every change
//! `poll` makes happens synchronously inside one `Future::poll` call (the basis of
//! `poll`'s cancellation safety).

use std::collections::btree_map::{self, Entry};
use std::collections::{BTreeSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use crate::client::Client;
use crate::error::Error;

use super::builder::{ConsumerConfig, IsolationLevel};
use super::coordinator::{AutoCommitTimer, ConsumerCoordinator};
use super::fetch_buffer::{CompletedFetch, FetchBuffer};
use super::group::GroupCommand;
use super::record::{ConsumerRecord, PartitionError};
use super::subscription::{Assignment, InitState, PartitionState, Subscription};
use crate::types::TopicPartition;

/// A rebalance step that runs at the application's next `poll`, as in the Java client,
/// so listener callbacks and commit-on-revoke happen between two batches, never while
/// the application is still working on one.
#[derive(Debug)]
pub(crate) enum AppEvent {
    /// Commit (when auto-commit is on), call `revoked`, then drop the partitions.
    Revoke {
        partitions: Vec<TopicPartition>,
        done: oneshot::Sender<()>,
    },
    /// Call `assigned`, then let the partitions' records out.
    Assigned { partitions: Vec<TopicPartition> },
    /// Call `lost` (no commit: another member may own them already).
    Lost { partitions: Vec<TopicPartition> },
}

/// The group membership as the handle sees it.
#[derive(Debug, Clone)]
pub(crate) struct GroupView {
    pub generation: i32,
    pub member_id: String,
    /// Between JoinGroup and the end of SyncGroup: application commits are refused.
    pub rebalancing: bool,
    /// Consumer protocol: the member epoch after every heartbeat answer, for commits
    /// that must wait for a fresh epoch (STALE_MEMBER_EPOCH).
    pub epochs: Option<tokio::sync::watch::Receiver<i32>>,
}

impl Default for GroupView {
    fn default() -> Self {
        Self {
            generation: -1,
            member_id: String::new(),
            rebalancing: false,
            epochs: None,
        }
    }
}

/// What the handle and the tasks share, behind [`Shared::lock`]. Its fields are private:
/// every change goes through a method that keeps these invariants:
/// - buffered data belongs to assigned partitions only, and each partition's
///   `buffered_bytes` is what the buffer holds of it (the assignment and the buffer
///   change together: a partition removed, revoked or sought loses its buffered data);
/// - partitions change only through `assign`/`unsubscribe` (manual), `add_assigned`,
///   `stop` and `event_finished` (group), and a partition being revoked is removed only
///   by the step that revoked it;
/// - one rebalance step runs at a time (`next_event` hands out the next only after
///   `event_finished`);
/// - once closed, the consumer stays closed; the first fatal error is the one every
///   later call returns;
/// - a manual assignment and a group subscription exclude each other.
#[derive(Debug)]
pub(crate) struct State {
    subscription: Subscription,
    partitions: Assignment,
    buffer: FetchBuffer,
    /// Errors found outside a fetch buffer entry (lookups, fetch error codes).
    pending_errors: Vec<PartitionError>,
    events: VecDeque<AppEvent>,
    /// A rebalance step started by `poll` is still running.
    event_running: bool,
    closed: bool,
    /// A group error that ends the consumer (fenced static member, authorization).
    fatal: Option<Error>,
    last_poll: Instant,
    /// When auto-commit next commits (`coordinator.rs`).
    auto_commit: AutoCommitTimer,
    group: GroupView,
    /// When `poll` last returned [`Error::BrokersUnreachable`].
    unreachable_reported: Option<Instant>,
}

impl State {
    /// A consumer's state before any subscription or assignment.
    pub(crate) fn new(config: &ConsumerConfig, now: Instant) -> Self {
        Self {
            subscription: Subscription::None,
            partitions: Assignment::new(),
            buffer: FetchBuffer::default(),
            pending_errors: Vec::new(),
            events: VecDeque::new(),
            event_running: false,
            closed: false,
            fatal: None,
            last_poll: now,
            auto_commit: AutoCommitTimer::new(
                config.enable_auto_commit,
                config.auto_commit_interval,
                now,
            ),
            group: GroupView::default(),
            unreachable_reported: None,
        }
    }

    // --- Lifecycle -------------------------------------------------------------------

    /// Whether the consumer was closed (or dropped).
    pub(crate) fn is_closed(&self) -> bool {
        self.closed
    }

    /// Closes the consumer for good. Returns whether it was open until now (the caller
    /// that closed it does the leaving).
    pub(crate) fn close(&mut self) -> bool {
        !std::mem::replace(&mut self.closed, true)
    }

    /// The group error that ended the consumer, if any.
    #[cfg(test)]
    pub(crate) fn fatal(&self) -> Option<&Error> {
        self.fatal.as_ref()
    }

    /// Ends the consumer with a group error. The first one stays: the application sees
    /// the same error on every call.
    pub(crate) fn set_fatal(&mut self, error: Error) {
        if self.fatal.is_none() {
            self.fatal = Some(error);
        }
    }

    /// [`Error::Closed`] once closed, else the fatal group error, else `Ok`.
    pub(crate) fn check_open(&self) -> Result<(), Error> {
        if self.closed {
            return Err(Error::Closed);
        }
        match &self.fatal {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    // --- Subscription and assignment --------------------------------------------------

    /// How partitions come to the consumer.
    pub(crate) fn subscription(&self) -> &Subscription {
        &self.subscription
    }

    /// The subscribed topic names (empty for a pattern, a manual assignment or none).
    pub(crate) fn subscribed_topics(&self) -> BTreeSet<String> {
        match &self.subscription {
            Subscription::Topics(t) => t.clone(),
            _ => BTreeSet::new(),
        }
    }

    /// Subscribes (`Topics` or `Pattern`), replacing an earlier subscription; refused
    /// while partitions are assigned manually.
    pub(crate) fn subscribe(&mut self, subscription: Subscription) -> Result<(), Error> {
        if self.subscription == Subscription::Manual {
            return Err(Error::InvalidState(
                "the consumer has manually assigned partitions: unsubscribe before subscribe"
                    .into(),
            ));
        }
        debug_assert!(
            subscription.is_group(),
            "subscribe takes topics or a pattern"
        );
        self.subscription = subscription;
        Ok(())
    }

    /// Assigns exactly `wanted` (an empty set: nothing, and no manual assignment):
    /// partitions kept keep their positions and buffered data, dropped ones lose both,
    /// new ones start from the committed offset. Refused while subscribed to a group.
    pub(crate) fn assign(&mut self, wanted: BTreeSet<TopicPartition>) -> Result<(), Error> {
        if self.subscription.is_group() {
            return Err(Error::InvalidState(
                "the consumer is subscribed to topics: unsubscribe before assign".into(),
            ));
        }
        self.subscription = if wanted.is_empty() {
            Subscription::None
        } else {
            Subscription::Manual
        };
        self.buffer
            .discard(&mut self.partitions, |tp| !wanted.contains(tp));
        self.partitions.retain(|tp, _| wanted.contains(tp));
        for tp in wanted {
            if let Entry::Vacant(slot) = self.partitions.entry(tp) {
                let topic: Arc<str> = Arc::from(slot.key().topic.as_str());
                slot.insert(PartitionState::new(topic, InitState::Committed));
            }
        }
        Ok(())
    }

    /// Drops the subscription or assignment, every partition and its buffered data.
    pub(crate) fn unsubscribe(&mut self) {
        self.subscription = Subscription::None;
        self.buffer.discard(&mut self.partitions, |_| true);
        self.partitions.clear();
    }

    /// Every assigned partition, including those being revoked.
    pub(crate) fn partitions(&self) -> &Assignment {
        &self.partitions
    }

    /// The partitions among `tps` that are not assigned to this member (being revoked
    /// counts as assigned), as `topic-partition` names for an error message.
    pub(crate) fn not_held<'a>(
        &self,
        tps: impl IntoIterator<Item = &'a TopicPartition>,
    ) -> Vec<String> {
        tps.into_iter()
            .filter(|tp| !self.partitions.contains_key(*tp))
            .map(ToString::to_string)
            .collect()
    }

    /// One partition's state, to change it in place (a partition is added or removed
    /// only by the methods above).
    pub(crate) fn partition_mut(&mut self, tp: &TopicPartition) -> Option<&mut PartitionState> {
        self.partitions.get_mut(tp)
    }

    /// Every partition's state, to change in place (the fetch driver's planning).
    pub(crate) fn partitions_mut(
        &mut self,
    ) -> btree_map::IterMut<'_, TopicPartition, PartitionState> {
        self.partitions.iter_mut()
    }

    /// A partition the application may act on: assigned and not being revoked.
    pub(crate) fn owned_mut(&mut self, tp: &TopicPartition) -> Option<&mut PartitionState> {
        self.partitions.get_mut(tp).filter(|p| !p.revoking)
    }

    /// The partitions assigned and not being revoked (`Consumer::assignment`).
    pub(crate) fn owned(&self) -> BTreeSet<TopicPartition> {
        self.partitions
            .iter()
            .filter(|(_, p)| !p.revoking)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// The paused partitions.
    pub(crate) fn paused(&self) -> BTreeSet<TopicPartition> {
        self.partitions
            .iter()
            .filter(|(_, p)| p.paused)
            .map(|(tp, _)| tp.clone())
            .collect()
    }

    /// Adds partitions the group assigned: each starts from its committed offset, and
    /// gives no records until the `assigned` step (queued by the caller) has run
    /// ([`release`](Self::release)). A partition already held is replaced by a fresh
    /// state (its buffered data dropped): the group gave it again, from the committed
    /// offset.
    pub(crate) fn add_assigned(&mut self, added: &[TopicPartition]) {
        self.buffer
            .discard(&mut self.partitions, |tp| added.contains(tp));
        for tp in added {
            let topic: Arc<str> = Arc::from(tp.topic.as_str());
            let mut p = PartitionState::new(topic, InitState::Committed);
            p.awaiting_callback = true;
            self.partitions.insert(tp.clone(), p);
        }
    }

    /// Lets the records of `parts` out: their `assigned` step has run.
    pub(crate) fn release(&mut self, parts: &[TopicPartition]) {
        for tp in parts {
            if let Some(p) = self.partitions.get_mut(tp) {
                p.awaiting_callback = false;
            }
        }
    }

    /// Stops `parts` (sorted) at once, for a revocation or a loss: no more fetching,
    /// no records out, their buffered data dropped. They stay assigned until the step
    /// that stopped them ends ([`event_finished`](Self::event_finished)).
    pub(crate) fn stop(&mut self, parts: &[TopicPartition]) {
        debug_assert!(parts.is_sorted(), "partitions to stop come sorted");
        for tp in parts {
            if let Some(p) = self.partitions.get_mut(tp) {
                p.revoking = true;
            }
        }
        self.buffer
            .discard(&mut self.partitions, |tp| parts.binary_search(tp).is_ok());
    }

    // --- Fetched data and errors ------------------------------------------------------

    /// Bytes of fetched data waiting for `poll`.
    pub(crate) fn buffered_bytes(&self) -> usize {
        self.buffer.bytes()
    }

    /// At most how many records `poll` could take now, counted up to `max`.
    pub(crate) fn records_bound(&self, max: usize) -> usize {
        self.buffer.records_bound(max)
    }

    /// Buffers a fetch answer for `poll`; dropped when its partition is no longer
    /// assigned (its data has nobody to go to).
    pub(crate) fn push_fetched(&mut self, fetch: CompletedFetch) {
        if self.partitions.contains_key(&fetch.tp) {
            self.buffer.push(fetch, &mut self.partitions);
        }
    }

    /// Drops the buffered data of the partitions `matching` selects (a seek, a reset).
    pub(crate) fn discard_buffered(&mut self, matching: impl FnMut(&TopicPartition) -> bool) {
        self.buffer.discard(&mut self.partitions, matching);
    }

    /// An error for the application's next `poll`.
    pub(crate) fn push_error(&mut self, error: PartitionError) {
        self.pending_errors.push(error);
    }

    /// Errors waiting for `poll`.
    #[cfg(test)]
    pub(crate) fn pending_errors(&self) -> &[PartitionError] {
        &self.pending_errors
    }

    /// What one `poll` takes: every waiting error, then up to `max` records (and the
    /// errors met among them) in buffer order, moving the positions past them.
    pub(crate) fn drain(
        &mut self,
        isolation: IsolationLevel,
        max: usize,
        records: &mut Vec<ConsumerRecord>,
        errors: &mut Vec<PartitionError>,
    ) {
        errors.append(&mut self.pending_errors);
        self.buffer
            .drain(&mut self.partitions, isolation, max, records, errors);
    }

    // --- Rebalance steps for poll -----------------------------------------------------

    /// Queues a rebalance step for the application's next `poll`.
    pub(crate) fn post(&mut self, event: AppEvent) {
        self.events.push_back(event);
    }

    /// The next rebalance step to run, unless one is running: it counts as running
    /// until [`event_finished`](Self::event_finished).
    pub(crate) fn next_event(&mut self) -> Option<AppEvent> {
        if self.event_running {
            return None;
        }
        let event = self.events.pop_front()?;
        self.event_running = true;
        Some(event)
    }

    /// The running step ended: of `remove` (sorted), the partitions it stopped are
    /// dropped, and the next step may run.
    pub(crate) fn event_finished(&mut self, remove: &[TopicPartition]) {
        debug_assert!(remove.is_sorted(), "partitions to remove come sorted");
        self.partitions
            .retain(|tp, p| !(p.revoking && remove.binary_search(tp).is_ok()));
        self.event_running = false;
    }

    /// Whether a rebalance step is running.
    #[cfg(test)]
    pub(crate) fn event_running(&self) -> bool {
        self.event_running
    }

    /// The rebalance steps waiting for `poll`.
    #[cfg(test)]
    pub(crate) fn queued_events(&self) -> &VecDeque<AppEvent> {
        &self.events
    }

    /// Takes the steps still waiting (leaving: they will not run).
    pub(crate) fn take_events(&mut self) -> Vec<AppEvent> {
        self.events.drain(..).collect()
    }

    // --- Poll timing --------------------------------------------------------------------

    /// The application polled at `now`.
    pub(crate) fn polled(&mut self, now: Instant) {
        self.last_poll = now;
    }

    /// When the application last polled.
    pub(crate) fn last_poll(&self) -> Instant {
        self.last_poll
    }

    /// When the application must poll next to stay in the group.
    pub(crate) fn poll_deadline(&self, max_poll_interval: std::time::Duration) -> Instant {
        self.last_poll + max_poll_interval
    }

    /// Whether an unreachable cluster is to be reported at `now`: at most once per
    /// `bound`.
    pub(crate) fn report_unreachable(&mut self, now: Instant, bound: std::time::Duration) -> bool {
        if self
            .unreachable_reported
            .is_some_and(|t| now.saturating_duration_since(t) < bound)
        {
            return false;
        }
        self.unreachable_reported = Some(now);
        true
    }

    /// Whether an auto-commit is due at `now` (never while rebalancing); when it is,
    /// the next one is an interval later.
    pub(crate) fn auto_commit_due(&mut self, now: Instant) -> bool {
        self.auto_commit.due(now, self.group.rebalancing)
    }

    // --- Group view ---------------------------------------------------------------------

    /// The group membership as the membership task last published it.
    pub(crate) fn group(&self) -> &GroupView {
        &self.group
    }

    /// Publishes the membership: generation (member epoch, -1 between them), member
    /// id, and whether a rebalance is under way (application commits are refused).
    pub(crate) fn publish_group(&mut self, generation: i32, member_id: &str, rebalancing: bool) {
        self.group.generation = generation;
        if self.group.member_id != member_id {
            self.group.member_id = member_id.to_string();
        }
        self.group.rebalancing = rebalancing;
    }

    /// The member epochs the consumer-protocol task publishes after each heartbeat.
    pub(crate) fn watch_epochs(&mut self, epochs: tokio::sync::watch::Receiver<i32>) {
        self.group.epochs = Some(epochs);
    }

    /// Out of the group: no generation, no member id, no epochs.
    pub(crate) fn forget_group(&mut self) {
        self.group = GroupView::default();
    }
}

/// Test fixtures: states the unit tests of other modules start from, which the
/// methods above would need a whole rebalance (or a broker) to reach.
#[cfg(test)]
impl State {
    /// Puts `p` in the assignment as is, replacing a state and its buffered data. The
    /// fetch planning's tests let `p.buffered_bytes` stand for data not in the buffer.
    pub(crate) fn fixture_partition(&mut self, tp: TopicPartition, p: PartitionState) {
        self.buffer.discard(&mut self.partitions, |t| *t == tp);
        self.partitions.insert(tp, p);
    }

    /// Sets the subscription as is, the assignment unchanged.
    pub(crate) fn fixture_subscription(&mut self, subscription: Subscription) {
        self.subscription = subscription;
    }
}

/// Everything the handle and the tasks share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub client: Client,
    pub config: ConsumerConfig,
    state: Mutex<State>,
    /// Wakes `poll`: data, errors or events arrived.
    pub data_ready: Notify,
    /// Wakes the fetch driver: assignment, positions or pause state changed.
    pub fetch_wake: Notify,
    /// Wakes the group task after a poll (a member that left on poll timeout rejoins).
    pub polled: Notify,
    /// The group policy: coordinator, membership task, commits (`coordinator.rs`).
    pub coordinator: ConsumerCoordinator,
    /// Record vectors of dropped poll results, reused by later polls.
    pub record_vecs: std::sync::Arc<super::record::RecordVecs>,
    /// Held by the task of an `unsubscribe` or `close` while it leaves: one at a time,
    /// and a call whose future was dropped finishes before the next one starts.
    pub leaving: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// Counts the changes to positions, pause state and ownership that the application
    /// or a rebalance made (a seek, a pause, an assignment, a revocation, a close), each
    /// counted while the state lock is held. A stream re-checks the records it holds
    /// whenever the count moved (`consumer/stream.rs`): one atomic load per record.
    pub moves: std::sync::atomic::AtomicU64,
}

impl Shared {
    pub(crate) fn new(client: Client, config: ConsumerConfig) -> Self {
        let coordinator = ConsumerCoordinator::new(&client, &config);
        Self {
            state: Mutex::new(State::new(&config, Instant::now())),
            client,
            config,
            data_ready: Notify::new(),
            fetch_wake: Notify::new(),
            polled: Notify::new(),
            coordinator,
            record_vecs: Default::default(),
            leaving: Default::default(),
            moves: Default::default(),
        }
    }

    /// Counts one change a stream must re-check its records against (see `moves`); call
    /// it with the state lock held, after the change.
    pub(crate) fn moved(&self) {
        self.moves
            .fetch_add(1, std::sync::atomic::Ordering::Release);
    }

    /// Locks the state (a poisoned lock is taken over: the state stays consistent since
    /// no code path panics while holding it).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wakes both `poll` and the fetch driver.
    pub(crate) fn wake_all(&self) {
        self.data_ready.notify_waiters();
        self.fetch_wake.notify_one();
    }

    /// Adds partitions the group assigned: each starts from its committed offset, and
    /// gives no records until the `assigned` step (queued by the caller) has run.
    pub(crate) fn add_assigned(&self, added: &[TopicPartition]) {
        self.lock().add_assigned(added);
    }

    /// Returns once the application polls, or at once if it polled within `quiet` (a
    /// member that left on a poll timeout rejoins at the next poll).
    pub(crate) async fn next_poll(&self, quiet: std::time::Duration) {
        let polled = self.polled.notified();
        tokio::pin!(polled);
        polled.as_mut().enable();
        if self.lock().last_poll().elapsed() >= quiet {
            polled.await;
        }
    }

    /// Queues a `lost` step for `parts` and stops them at once: they may be owned
    /// elsewhere already, so no commit and no more records (either group task).
    pub(crate) fn post_lost(&self, parts: Vec<TopicPartition>) {
        if parts.is_empty() {
            return;
        }
        {
            let mut st = self.lock();
            st.stop(&parts);
            st.post(AppEvent::Lost { partitions: parts });
            self.moved();
        }
        self.wake_all();
    }

    /// Sends a command to the group task, if there is one.
    pub(crate) fn group_command(&self, cmd: GroupCommand) -> bool {
        self.coordinator.command(cmd)
    }
}
