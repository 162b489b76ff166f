//! The consumer: [`Consumer`] reads records from partitions it is assigned (`assign`)
//! or that its group gives it (`subscribe`), with committed offsets, rebalance
//! listeners and per-partition errors as data.
//!
//! # Shape
//! A thin handle over state shared with two background tasks (the Java 4.x consumer's
//! handle-plus-background-thread design):
//! - the **fetch driver** (`fetcher.rs`) keeps one Fetch per broker in flight on that
//!   broker's `Fetch` connection, looks up positions (committed offsets, ListOffsets
//!   resets) and fills the byte-bounded fetch buffer (`fetch_buffer.rs`), fetching
//!   ahead of `poll` up to `max_partition_buffered_bytes` per partition;
//! - the **group task** (`group/`) joins, syncs, heartbeats on its own timer, and turns
//!   partition movement into steps that the next `poll` carries out (commit on revoke,
//!   listener callbacks), so they never overlap the processing of a batch.
//!
//! `poll` drains the buffer synchronously under the state lock and awaits only while
//! it holds nothing: dropping a `poll` future (a `select!` timeout) loses no record.
//! Records are parsed lazily from the fetch buffer; keys and values are `Bytes` slices
//! of it.
//!
//! File map: `builder.rs` settings, `properties.rs` the Java-style adapter,
//! `record.rs` the public value types, `state.rs` what the handle and tasks share,
//! `subscription.rs` per-partition positions, `fetcher.rs` and `fetch_buffer.rs`
//! fetching, `offsets.rs` ListOffsets, `group/` the group protocol.

mod builder;
mod coordinator;
mod fetch_buffer;
mod fetch_session;
mod fetcher;
pub(crate) mod group;
mod offsets;
mod properties;
mod read_replica;
mod record;
mod state;
mod stats;
mod stream;
mod subscription;
#[cfg(test)]
mod unit_tests;

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use tokio::sync::oneshot;
use tokio::time::Instant;

pub use builder::{
    AssignmentStrategy, AutoOffsetReset, ConsumerBuilder, ConsumerConfig, GroupProtocol,
    IsolationLevel,
};
pub use group::RebalanceListener;
#[cfg(test)]
pub(crate) use properties::CONSUMER_OPTIONS;
pub use record::{ConsumerRecord, ConsumerRecords, PartitionError};

pub use crate::types::{
    BoxFuture, GroupMetadata, OffsetAndMetadata, OffsetAndTimestamp, TopicPartition,
};

use crate::client::Client;
use crate::error::{Error, Result};
use coordinator::{checked_committer, consumed_offsets, fetching_member};
use group::GroupCommand;
use group::commit::{commit as send_commit, fetch_committed};
use state::{AppEvent, Shared, State};
use stream::Holding;
use subscription::{InitState, PartitionState, ResetTarget, Subscription};

/// A Kafka consumer. Cheap to clone: clones share one consumer (its assignment,
/// positions and group membership). Dropping the last clone stops the background tasks
/// (a dynamic group member leaves the group); [`close`](Self::close) does that cleanly,
/// with a final commit first.
#[derive(Clone)]
pub struct Consumer {
    inner: Arc<Handle>,
}

struct Handle {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let closed_now = {
            let mut st = self.shared.lock();
            let now = st.close();
            self.shared.moved();
            now
        };
        if closed_now {
            let (done, _) = oneshot::channel();
            self.shared.group_command(GroupCommand::Leave { done });
        }
        self.shared.wake_all();
    }
}

impl std::fmt::Debug for Consumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Consumer")
            .field("group_id", &self.inner.shared.config.group_id)
            .field("assignment", &self.assignment())
            .finish_non_exhaustive()
    }
}

fn tp_list<I, T>(partitions: I) -> Vec<TopicPartition>
where
    I: IntoIterator<Item = T>,
    T: Into<TopicPartition>,
{
    partitions.into_iter().map(Into::into).collect()
}

impl Consumer {
    /// A builder with the Java client's defaults.
    pub fn builder() -> ConsumerBuilder {
        ConsumerBuilder::new()
    }

    pub(crate) fn start(
        client: Client,
        config: ConsumerConfig,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        let shared = Arc::new(Shared::new(client, config));
        runtime.spawn(fetcher::run(shared.clone()));
        Self {
            inner: Arc::new(Handle { shared, runtime }),
        }
    }

    fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The client the consumer runs on.
    pub fn client(&self) -> &Client {
        &self.shared().client
    }

    /// The validated settings.
    pub fn config(&self) -> &ConsumerConfig {
        &self.shared().config
    }

    /// Joins the group to read `topics`; the group decides which partitions this member
    /// gets. Needs `group.id`. Topics that do not exist yet are waited for (they are
    /// picked up when created). Replaces an earlier subscription.
    pub fn subscribe<I, S>(&self, topics: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let topics: BTreeSet<String> = topics.into_iter().map(Into::into).collect();
        let shared = self.shared();
        shared.coordinator.require_link("subscribe")?;
        if topics.is_empty() || topics.iter().any(|t| t.trim().is_empty()) {
            return Err(Error::InvalidState(
                "subscribe needs at least one non-empty topic name (use unsubscribe to stop)"
                    .into(),
            ));
        }
        self.set_subscription(Subscription::Topics(topics))
    }

    /// Joins the group to read every topic whose whole name the regular expression
    /// `regex` matches, as the broker evaluates it (RE2/J syntax, KIP-848): topics
    /// created later that match are assigned too. Needs `group.id` and
    /// `group.protocol=consumer` ([`GroupProtocol::Consumer`]); an invalid regex ends
    /// the membership with INVALID_REGULAR_EXPRESSION at the next `poll`. Replaces an
    /// earlier subscription.
    pub fn subscribe_pattern(&self, regex: &str) -> Result<()> {
        self.shared()
            .coordinator
            .require_link("subscribe_pattern")?;
        if self.config().group_protocol != GroupProtocol::Consumer {
            return Err(Error::InvalidState(
                "subscribe_pattern needs group.protocol=consumer (the broker evaluates the regex)"
                    .into(),
            ));
        }
        if regex.trim().is_empty() {
            return Err(Error::InvalidState(
                "subscribe_pattern needs a non-empty regular expression".into(),
            ));
        }
        self.set_subscription(Subscription::Pattern(regex.to_string()))
    }

    fn set_subscription(&self, subscription: Subscription) -> Result<()> {
        let shared = self.shared();
        {
            let mut st = shared.lock();
            st.check_open()?;
            st.subscribe(subscription)?;
            shared.moved();
        }
        shared
            .coordinator
            .start_membership(shared, &self.inner.runtime)
    }

    /// Reads exactly `partitions` (no group management). Positions come from the
    /// group's committed offsets when `group.id` is set, else from `auto.offset.reset`.
    /// Replaces an earlier assignment; partitions kept keep their positions.
    pub fn assign<I, T>(&self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicPartition>,
    {
        let wanted: BTreeSet<TopicPartition> = tp_list(partitions).into_iter().collect();
        {
            let mut st = self.shared().lock();
            st.check_open()?;
            st.assign(wanted)?;
            self.shared().moved();
        }
        self.shared().wake_all();
        Ok(())
    }

    /// Stops reading: a group member commits (with auto-commit), runs the listener's
    /// `revoked` and leaves the group; a manual assignment is dropped.
    ///
    /// # Cancel safety
    /// Cancel-safe: the leaving (final commit, `revoked`, LeaveGroup) runs as a task and
    /// completes in the background when this future is dropped; a later `unsubscribe`,
    /// `subscribe` or `close` call finds it done (`unsubscribe` and `close` wait for it).
    /// The listener's `revoked` runs once.
    pub async fn unsubscribe(&self) -> Result<()> {
        let me = self.clone();
        self.leave_exclusively(async move { me.unsubscribe_now().await })
            .await
    }

    /// Runs `work` (the leaving of `unsubscribe` or `close`) as a task, one at a time:
    /// dropping the caller's future does not stop it half-way (a final commit done but
    /// no LeaveGroup, `revoked` run twice), and a later call waits for it to finish.
    async fn leave_exclusively<F>(&self, work: F) -> Result<()>
    where
        F: Future<Output = Result<()>> + Send + 'static,
    {
        let gate = self.shared().leaving.clone();
        let task = self.inner.runtime.spawn(async move {
            let _one_at_a_time = gate.lock().await;
            work.await
        });
        task.await.unwrap_or_else(|e| {
            Err(Error::InvalidState(format!(
                "leaving the group did not finish: {e}"
            )))
        })
    }

    async fn unsubscribe_now(&self) -> Result<()> {
        let subscribed = {
            let st = self.shared().lock();
            st.check_open()?;
            st.subscription().is_group()
        };
        if subscribed {
            self.leave_group().await;
        }
        {
            let mut st = self.shared().lock();
            st.unsubscribe();
            self.shared().moved();
        }
        Ok(())
    }

    /// Final commit (auto-commit), `revoked`, LeaveGroup, and the group task's end.
    async fn leave_group(&self) {
        let shared = self.shared().clone();
        // Steps queued for poll will not run now: release the group task waiting on them.
        let pending: Vec<AppEvent> = shared.lock().take_events();
        for ev in pending {
            if let AppEvent::Revoke { done, .. } = ev {
                let _ = done.send(());
            }
        }
        let owned: Vec<TopicPartition> = shared.lock().owned().into_iter().collect();
        if shared.coordinator.commits_on_revoke() && !owned.is_empty() {
            if let Err(e) = self.commit().await {
                tracing::warn!(error = %e, "final commit failed");
            }
        }
        if let (Some(l), false) = (shared.config.listener.clone(), owned.is_empty()) {
            l.revoked(self.clone(), owned).await;
        }
        let (done, wait) = oneshot::channel();
        if shared.group_command(GroupCommand::Leave { done }) {
            let _ = tokio::time::timeout(shared.client.config().request_timeout(), wait).await;
        }
        shared.coordinator.stop_membership();
        shared.lock().forget_group();
    }

    /// The partitions assigned now (manually or by the group).
    pub fn assignment(&self) -> BTreeSet<TopicPartition> {
        self.shared().lock().owned()
    }

    /// The subscribed topics (empty without a subscription, or with a pattern).
    pub fn subscription(&self) -> BTreeSet<String> {
        self.shared().lock().subscribed_topics()
    }

    /// Returns up to `max.poll.records` records, waiting up to `timeout` when none are
    /// ready. Per-partition failures come back as [`ConsumerRecords::errors`]; `Err` is
    /// for the consumer as a whole (closed, fenced, unauthorized for the group).
    /// Also runs pending rebalance steps and, with auto-commit, commits what earlier
    /// polls returned.
    ///
    /// # Cancel safety
    /// Cancel-safe: records are taken out of the buffer only in the same step that returns
    /// them, so a poll dropped before it completes loses nothing, and the next poll returns
    /// the records in order. Rebalance steps and auto-commits it started run as tasks and
    /// finish regardless.
    pub async fn poll(&self, timeout: Duration) -> Result<ConsumerRecords> {
        self.poll_up_to(self.config().max_poll_records, timeout, None)
            .await
    }

    /// `poll` for up to `max` records; a stream's take passes what it holds (`hold`).
    async fn poll_up_to(
        &self,
        max: usize,
        timeout: Duration,
        mut hold: Option<&mut Holding>,
    ) -> Result<ConsumerRecords> {
        let shared = self.shared().clone();
        let deadline = Instant::now() + timeout;
        loop {
            let notified = shared.data_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if let Some(out) = self.poll_now(max, hold.as_deref_mut())? {
                return Ok(out);
            }
            self.check_reachable()?;
            let now = Instant::now();
            if now >= deadline {
                return Ok(ConsumerRecords::default());
            }
            tokio::select! {
                () = notified => {}
                // Looks at the brokers' reachability once a second meanwhile.
                () = tokio::time::sleep_until(deadline.min(now + Duration::from_secs(1))) => {}
            }
        }
    }

    /// [`Error::BrokersUnreachable`] when no broker has answered a Metadata request for
    /// `request.timeout`, at most once per `request.timeout`: a consumer pointed at the
    /// wrong address, or cut off from the cluster, says so instead of returning nothing
    /// forever. The client keeps trying; the next `poll` goes on as usual.
    fn check_reachable(&self) -> Result<()> {
        let shared = self.shared();
        let bound = shared.client.config().request_timeout();
        let Some(e) = shared.client.unreachable(bound) else {
            return Ok(());
        };
        if !shared.lock().report_unreachable(Instant::now(), bound) {
            return Ok(());
        }
        tracing::warn!(error = %e, "no broker reachable");
        Err(e)
    }

    /// The synchronous part of `poll`: events, auto-commit, drain; for a stream's take,
    /// also what it held is released and what it takes is held (`stream.rs`).
    fn poll_now(
        &self,
        max: usize,
        mut hold: Option<&mut Holding>,
    ) -> Result<Option<ConsumerRecords>> {
        let shared = self.shared();
        let mut guard = shared.lock();
        guard.check_open()?;
        let now = Instant::now();
        guard.polled(now);
        shared.polled.notify_waiters();
        self.run_events(&mut guard);
        shared.coordinator.maybe_auto_commit(
            &mut guard,
            &shared.config,
            now,
            &self.inner.runtime,
            || {
                let sh = shared.clone();
                move || sh.coordinator.auto_commit_done()
            },
            Some(Arc::downgrade(shared)),
        );
        let st = &mut *guard;
        if let Some(h) = hold.as_deref_mut() {
            h.release(st);
        }
        let mut out = ConsumerRecords::default();
        let bound = st.records_bound(max);
        if bound > 0 {
            // A vector a dropped poll result gave back, sized once for what is buffered.
            out.records = shared.record_vecs.take();
            out.records.reserve(bound);
            out.recycle = Some(shared.record_vecs.clone());
        }
        st.drain(
            shared.config.isolation_level,
            max,
            &mut out.records,
            &mut out.errors,
        );
        if let Some(h) = hold {
            h.hold(shared, st, &out.records);
        }
        if out.is_empty() {
            return Ok(None);
        }
        drop(guard);
        shared.client.telemetry().records_polled(out.records.len());
        shared.fetch_wake.notify_one();
        Ok(Some(out))
    }

    /// Starts the next rebalance step if none is running.
    fn run_events(&self, st: &mut State) {
        let Some(ev) = st.next_event() else {
            return;
        };
        let shared = self.shared().clone();
        let listener = shared.config.listener.clone();
        let consumer = self.clone();
        match ev {
            AppEvent::Revoke { partitions, done } => {
                st.stop(&partitions);
                shared.moved();
                let commit = shared
                    .coordinator
                    .revoke_commit(st, &shared.config, &partitions);
                let commit = commit.map(|(link, mut who, offsets)| {
                    who.held = Some(Arc::downgrade(&shared));
                    let ticket = link.commit_order.ticket();
                    (link, who, offsets, ticket)
                });
                self.inner.runtime.spawn(async move {
                    if let Some((link, who, offsets, ticket)) = commit {
                        if let Err(e) = send_commit(&link, &who, &offsets, ticket).await {
                            tracing::warn!(error = %e, "commit on revocation failed");
                        }
                    }
                    if let Some(l) = listener {
                        l.revoked(consumer, partitions.clone()).await;
                    }
                    finish_event(&shared, &partitions);
                    let _ = done.send(());
                });
            }
            AppEvent::Assigned { partitions } => {
                self.inner.runtime.spawn(async move {
                    if let Some(l) = listener {
                        l.assigned(consumer, partitions.clone()).await;
                    }
                    shared.lock().release(&partitions);
                    finish_event(&shared, &[]);
                });
            }
            AppEvent::Lost { partitions } => {
                self.inner.runtime.spawn(async move {
                    if let Some(l) = listener {
                        l.lost(consumer, partitions.clone()).await;
                    }
                    finish_event(&shared, &partitions);
                });
            }
        }
    }

    /// A stream of records (and per-partition errors as `Err(Error::Partition)`). Ends
    /// when the consumer is closed; a fatal error is yielded once, then the stream ends.
    ///
    /// The stream takes up to `max.poll.records` records at a time, as `poll` does, and
    /// yields them one by one, so it costs about what `poll` costs per record. What it
    /// holds and has not yielded yet is never lost:
    /// - while it yields a batch, commits of the position (auto-commit,
    ///   [`commit`](Self::commit), the commits on revocation and close) stop at the
    ///   batch's first record: after a crash the batch is read again, nothing skipped.
    ///   After the batch's last record they commit the position again;
    /// - a seek, pause, revocation or close takes effect before the next record: records
    ///   of a partition sought elsewhere, revoked or lost are dropped (its new position
    ///   or owner decides), those of a paused partition go back to the buffer;
    /// - dropping the stream gives its records back: the next poll or stream starts at
    ///   the first record not yielded, partition by partition.
    ///
    /// [`position`](Self::position) is past the records taken, as after `poll`. Use one
    /// stream (or `poll`) at a time per consumer.
    pub fn stream(&self) -> impl Stream<Item = Result<ConsumerRecord>> + Send + 'static {
        stream::RecordStream::new(self.clone())
    }

    fn with_partition<R>(
        &self,
        tp: &TopicPartition,
        f: impl FnOnce(&mut PartitionState) -> R,
    ) -> Result<R> {
        self.partition_op(tp, false, f)
    }

    /// [`with_partition`](Self::with_partition) for a change a stream must see (a seek,
    /// a reset, a pause): counted in `Shared::moves`.
    fn move_partition<R>(
        &self,
        tp: &TopicPartition,
        f: impl FnOnce(&mut PartitionState) -> R,
    ) -> Result<R> {
        self.partition_op(tp, true, f)
    }

    fn partition_op<R>(
        &self,
        tp: &TopicPartition,
        moves: bool,
        f: impl FnOnce(&mut PartitionState) -> R,
    ) -> Result<R> {
        let shared = self.shared();
        let mut st = shared.lock();
        st.check_open()?;
        match st.owned_mut(tp) {
            Some(p) => {
                let out = f(p);
                if moves {
                    shared.moved();
                }
                Ok(out)
            }
            None => Err(Error::InvalidState(format!(
                "{tp} is not assigned to this consumer"
            ))),
        }
    }

    /// Sets the next offset `poll` returns for `partition`. Buffered data is dropped and
    /// a failed partition (corrupt batch, out of range) resumes.
    pub fn seek(&self, partition: impl Into<TopicPartition>, offset: i64) -> Result<()> {
        let tp = partition.into();
        if offset < 0 {
            return Err(Error::InvalidState(format!(
                "cannot seek {tp} to negative offset {offset}"
            )));
        }
        self.move_partition(&tp, |p| p.seek(offset))?;
        self.discard_buffered(&[tp]);
        Ok(())
    }

    fn discard_buffered(&self, tps: &[TopicPartition]) {
        {
            self.shared().lock().discard_buffered(|tp| tps.contains(tp));
        }
        self.shared().wake_all();
    }

    fn reset_all(&self, tps: Vec<TopicPartition>, target: ResetTarget) -> Result<()> {
        for tp in &tps {
            self.move_partition(tp, |p| p.reset(InitState::Reset(target)))?;
        }
        self.discard_buffered(&tps);
        Ok(())
    }

    /// Moves `partitions` to their log start (looked up lazily, at the next fetch).
    pub fn seek_to_beginning<I, T>(&self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicPartition>,
    {
        self.reset_all(tp_list(partitions), ResetTarget::Earliest)
    }

    /// Moves each of `partitions` that is still assigned back to its committed offset
    /// (the log start when nothing is committed), dropping buffered records: after a
    /// transaction abort in consume-transform-produce, so the aborted batch is read again.
    /// Partitions no longer assigned are skipped (their new owner starts from the
    /// committed offset anyway).
    ///
    /// # Cancel safety
    /// Cancel-safe: the positions move only in the step that completes the future; dropped
    /// before that, no position changed.
    pub async fn seek_to_committed<I, T>(&self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicPartition>,
    {
        let assigned = self.assignment();
        let parts: Vec<TopicPartition> = tp_list(partitions)
            .into_iter()
            .filter(|tp| assigned.contains(tp))
            .collect();
        if parts.is_empty() {
            return Ok(());
        }
        let committed = self.committed(parts.clone()).await?;
        for tp in parts {
            match committed.get(&tp).and_then(|o| o.as_ref()) {
                Some(o) => self.seek(tp, o.offset)?,
                None => self.seek_to_beginning([tp])?,
            }
        }
        Ok(())
    }

    /// Moves `partitions` to their log end (looked up lazily, at the next fetch).
    pub fn seek_to_end<I, T>(&self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicPartition>,
    {
        self.reset_all(tp_list(partitions), ResetTarget::Latest)
    }

    /// Moves `partitions` to the first record with a timestamp at or after `timestamp`
    /// (milliseconds), or to the log end where there is none.
    ///
    /// # Cancel safety
    /// Cancel-safe: the positions move only in the step that completes the future; dropped
    /// before that, no position changed.
    pub async fn seek_to_timestamp<I, T>(&self, partitions: I, timestamp: i64) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicPartition>,
    {
        let tps = tp_list(partitions);
        let found = self
            .offsets_for_times(tps.iter().map(|tp| (tp.clone(), timestamp)))
            .await?;
        for tp in tps {
            match found.get(&tp).copied().flatten() {
                Some(o) => self.seek(tp, o.offset)?,
                None => self.seek_to_end([tp])?,
            }
        }
        Ok(())
    }

    async fn lookup(
        &self,
        queries: Vec<(TopicPartition, i64)>,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>> {
        let cfg = self.config();
        let listed = async {
            let res = offsets::list_offsets(self.client(), cfg.isolation_level, &queries).await;
            res.into_iter().map(|(tp, r)| r.map(|v| (tp, v))).collect()
        };
        self.within_api_timeout("ListOffsets", listed).await
    }

    /// Runs a lookup within `default.api.timeout.ms`: every wait it starts (bootstrap,
    /// Metadata, coordinator, connection, answer) ends by then.
    async fn within_api_timeout<T>(
        &self,
        operation: &'static str,
        f: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let timeout = self.client().config().api_timeout();
        crate::ops::RetryClock::new(self.client(), operation, timeout)
            .bound(f)
            .await
    }

    /// For each partition, the first offset whose timestamp is at or after the given one
    /// (`None` when every record is older). Partitions need not be assigned.
    ///
    /// # Cancel safety
    /// Cancel-safe: a read-only lookup. Dropping it changes no consumer state (an answer
    /// arriving later is discarded) and the next call works.
    pub async fn offsets_for_times<I, T>(
        &self,
        query: I,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndTimestamp>>>
    where
        I: IntoIterator<Item = (T, i64)>,
        T: Into<TopicPartition>,
    {
        let queries: Vec<(TopicPartition, i64)> =
            query.into_iter().map(|(t, ts)| (t.into(), ts)).collect();
        if let Some((tp, ts)) = queries.iter().find(|(_, ts)| *ts < 0) {
            return Err(Error::InvalidState(format!(
                "negative timestamp {ts} for {tp}"
            )));
        }
        self.lookup(queries).await
    }

    /// Log start offsets.
    ///
    /// # Cancel safety
    /// Cancel-safe: a read-only lookup. Dropping it changes no consumer state (an answer
    /// arriving later is discarded) and the next call works.
    pub async fn beginning_offsets<I, T>(
        &self,
        partitions: I,
    ) -> Result<BTreeMap<TopicPartition, i64>>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicPartition>,
    {
        self.edge_offsets(tp_list(partitions), -2).await
    }

    /// Log end offsets (the high watermark; the last stable offset under read_committed).
    ///
    /// # Cancel safety
    /// Cancel-safe: a read-only lookup. Dropping it changes no consumer state (an answer
    /// arriving later is discarded) and the next call works.
    pub async fn end_offsets<I, T>(&self, partitions: I) -> Result<BTreeMap<TopicPartition, i64>>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicPartition>,
    {
        self.edge_offsets(tp_list(partitions), -1).await
    }

    async fn edge_offsets(
        &self,
        tps: Vec<TopicPartition>,
        ts: i64,
    ) -> Result<BTreeMap<TopicPartition, i64>> {
        let found = self
            .lookup(tps.into_iter().map(|tp| (tp, ts)).collect())
            .await?;
        Ok(found
            .into_iter()
            .map(|(tp, v)| (tp, v.map_or(-1, |o| o.offset)))
            .collect())
    }

    /// Stops returning (and fetching) records of `partitions` until resumed; their
    /// positions and group ownership stay.
    pub fn pause<I, T>(&self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicPartition>,
    {
        for tp in tp_list(partitions) {
            self.move_partition(&tp, |p| p.paused = true)?;
        }
        Ok(())
    }

    /// Resumes paused partitions.
    pub fn resume<I, T>(&self, partitions: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicPartition>,
    {
        for tp in tp_list(partitions) {
            self.move_partition(&tp, |p| p.paused = false)?;
        }
        self.shared().wake_all();
        Ok(())
    }

    /// The paused partitions.
    pub fn paused(&self) -> BTreeSet<TopicPartition> {
        self.shared().lock().paused()
    }

    /// The offset of the next record `poll` returns for `partition`, waiting (up to the
    /// API timeout) for its committed offset or reset lookup when not known yet.
    ///
    /// # Cancel safety
    /// Cancel-safe: it only waits for the position to become known; dropping it changes
    /// nothing.
    pub async fn position(&self, partition: impl Into<TopicPartition>) -> Result<i64> {
        let tp = partition.into();
        let shared = self.shared().clone();
        let deadline = Instant::now() + shared.client.config().api_timeout();
        loop {
            let notified = shared.data_ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let known = self.with_partition(&tp, |p| {
                matches!(p.init, InitState::Ready | InitState::Failed).then_some(p.position)
            })?;
            if let Some(pos) = known {
                return Ok(pos);
            }
            if Instant::now() >= deadline {
                // The position waits on the fetcher's lookups; while the brokers do
                // not answer, their last real failure is the cause.
                return Err(Error::Deadline {
                    operation: format!("looking up the position of {tp}"),
                    timeout: shared.client.config().api_timeout(),
                    last_error: shared.client.last_metadata_error().map(Box::new),
                });
            }
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(deadline) => {}
            }
        }
    }

    /// The group's committed offsets for `partitions` (`None`: nothing committed).
    ///
    /// # Cancel safety
    /// Cancel-safe: a read-only lookup. Dropping it changes no consumer state (an answer
    /// arriving later is discarded) and the next call works.
    pub async fn committed<I, T>(
        &self,
        partitions: I,
    ) -> Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>>
    where
        I: IntoIterator<Item = T>,
        T: Into<TopicPartition>,
    {
        let link = self.link()?;
        let who = fetching_member(&self.shared().lock(), &self.shared().config);
        let tps = tp_list(partitions);
        let fetched = fetch_committed(&link, who.as_ref(), &tps);
        self.within_api_timeout("OffsetFetch", fetched).await
    }

    fn link(&self) -> Result<Arc<crate::ops::CoordinatorLink>> {
        self.shared()
            .coordinator
            .require_link("committing or reading committed offsets")
    }

    /// Commits what `poll` has returned so far, for every assigned partition.
    ///
    /// # Cancel safety
    /// The commit may or may not be applied: dropped after the request was sent, the
    /// coordinator may still store the offsets. The consumer's state does not change either
    /// way and the next commit (which stores the same or later offsets) works.
    pub async fn commit(&self) -> Result<()> {
        let offsets = consumed_offsets(&self.shared().lock());
        self.commit_offsets(offsets).await
    }

    /// Commits explicit offsets (each the offset of the *next* record to read), with
    /// optional metadata, and waits for the coordinator's answer. A group member may
    /// only commit partitions assigned to it now: after (or during) a rebalance that
    /// took one away, the call fails with [`Error::CommitFailed`] and stores nothing.
    ///
    /// # Cancel safety
    /// The commit may or may not be applied: dropped after the request was sent, the
    /// coordinator may still store the offsets. The consumer's state does not change either
    /// way and the next commit works. Use
    /// [`commit_offsets_async`](Self::commit_offsets_async) for a commit that completes
    /// however its future is treated.
    pub async fn commit_offsets(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<()> {
        let (link, who, ticket) = self.commit_request(&offsets)?;
        send_commit(&link, &who, &offsets, ticket).await
    }

    /// Checks a commit and takes its place in the group's commit order (at once: the
    /// order commits are asked in is the order they are sent in).
    fn commit_request(
        &self,
        offsets: &BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> Result<(
        Arc<crate::ops::CoordinatorLink>,
        group::commit::Committer,
        crate::ops::coordinator::CommitTicket,
    )> {
        let link = self.link()?;
        let who = {
            let st = self.shared().lock();
            st.check_open()?;
            let mut who = checked_committer(&st, &self.shared().config, offsets)?;
            who.held = Some(Arc::downgrade(self.shared()));
            who
        };
        let ticket = link.commit_order.ticket();
        Ok((link, who, ticket))
    }

    /// Commits explicit offsets without waiting: the commit runs in the background. The
    /// returned [`PendingCommit`] may be awaited for the outcome or dropped. Commits are
    /// sent in the order they were asked, this one before any commit asked after it
    /// returns.
    pub fn commit_offsets_async(
        &self,
        offsets: BTreeMap<TopicPartition, OffsetAndMetadata>,
    ) -> PendingCommit {
        let (tx, rx) = oneshot::channel();
        match self.commit_request(&offsets) {
            Err(e) => {
                let _ = tx.send(Err(e));
            }
            Ok((link, who, ticket)) => {
                self.inner.runtime.spawn(async move {
                    let _ = tx.send(send_commit(&link, &who, &offsets, ticket).await);
                });
            }
        }
        PendingCommit { rx }
    }

    /// The current group membership (`None` without `group.id`).
    pub fn group_metadata(&self) -> Option<GroupMetadata> {
        let cfg = self.config();
        let group_id = cfg.group_id.clone()?;
        let st = self.shared().lock();
        Some(GroupMetadata {
            group_id,
            generation_id: st.group().generation,
            member_id: st.group().member_id.clone(),
            group_instance_id: cfg.group_instance_id.clone(),
        })
    }

    /// Closes the consumer within [`DEFAULT_CLOSE_TIMEOUT`] (30 s, the Java client's
    /// default): see [`close_with_timeout`](Self::close_with_timeout).
    ///
    /// # Cancel safety
    /// Cancel-safe, as [`close_with_timeout`](Self::close_with_timeout).
    pub async fn close(&self) -> Result<()> {
        self.close_with_timeout(DEFAULT_CLOSE_TIMEOUT).await
    }

    /// Closes the consumer: with auto-commit, commits what `poll` returned; a group
    /// member runs `revoked` and leaves the group (a static member stays registered
    /// until its session times out, so a restart gets its partitions back without a
    /// rebalance). Later calls fail with [`Error::Closed`].
    ///
    /// All of it is bounded by `timeout`: when the coordinator cannot be reached in time
    /// the consumer closes anyway, without the final commit or LeaveGroup (the group
    /// then gives the partitions away when the session times out, from the last
    /// committed offsets), and the call returns [`Error::Deadline`]. A failed final
    /// commit is logged, not returned, as in the Java client.
    ///
    /// # Cancel safety
    /// Cancel-safe: the closing runs as a task and completes in the background (bounded by
    /// `timeout`) when this future is dropped; the consumer ends up closed. Calling `close`
    /// again waits for it and returns `Ok`.
    pub async fn close_with_timeout(&self, timeout: Duration) -> Result<()> {
        let me = self.clone();
        self.leave_exclusively(async move { me.close_now(timeout).await })
            .await
    }

    async fn close_now(&self, timeout: Duration) -> Result<()> {
        let (subscribed, manual_commit) = {
            let st = self.shared().lock();
            if st.is_closed() {
                return Ok(());
            }
            (
                st.subscription().is_group(),
                *st.subscription() == Subscription::Manual && self.config().enable_auto_commit,
            )
        };
        let goodbye = async {
            if subscribed {
                self.leave_group().await;
            } else if manual_commit && self.shared().coordinator.commits_on_close() {
                if let Err(e) = self.commit().await {
                    tracing::warn!(error = %e, "final commit failed");
                }
            }
        };
        let result = match tokio::time::timeout(timeout, goodbye).await {
            Ok(()) => Ok(()),
            Err(_) => {
                tracing::warn!(
                    ?timeout,
                    "close timed out: closed without the final commit or LeaveGroup"
                );
                // The group task ends when its command channel closes.
                self.shared().coordinator.stop_membership();
                Err(Error::Deadline {
                    operation: "closing the consumer (final commit and LeaveGroup)".into(),
                    timeout,
                    last_error: None,
                })
            }
        };
        {
            let mut st = self.shared().lock();
            st.close();
            self.shared().moved();
        }
        self.shared().wake_all();
        if self.config().owns_client {
            // The terminating telemetry push (KIP-714); the client stays usable.
            self.client()
                .end_metrics_push(timeout.min(Duration::from_secs(5)))
                .await;
        }
        result
    }
}

/// How long [`Consumer::close`] may take: the Java client's default close timeout.
pub const DEFAULT_CLOSE_TIMEOUT: Duration = Duration::from_secs(30);

/// Removes finished partitions (those of `remove` still marked revoking) and lets the
/// next step run.
fn finish_event(shared: &Shared, remove: &[TopicPartition]) {
    shared.lock().event_finished(remove);
    shared.wake_all();
}

/// A commit started by [`Consumer::commit_offsets_async`]: await it for the result, or
/// drop it (the commit still completes).
#[derive(Debug)]
pub struct PendingCommit {
    rx: oneshot::Receiver<Result<()>>,
}

impl Future for PendingCommit {
    type Output = Result<()>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx)
            .poll(cx)
            .map(|r| r.unwrap_or(Err(Error::Closed)))
    }
}
