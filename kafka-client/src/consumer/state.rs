//! The state the consumer's handle and its background tasks share: assignment and
//! positions, the fetch buffer, rebalance events waiting for `poll`, and the group view.
//!
//! One `std::sync::Mutex` guards it; nobody holds it across an `.await`, so every change
//! `poll` makes happens synchronously inside one `Future::poll` call (the basis of
//! `poll`'s cancellation safety).

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::{Notify, oneshot};
use tokio::time::Instant;

use crate::client::Client;
use crate::error::Error;

use super::builder::ConsumerConfig;
use super::coordinator::{AutoCommitTimer, ConsumerCoordinator};
use super::fetch_buffer::FetchBuffer;
use super::group::GroupCommand;
use super::record::PartitionError;
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

#[derive(Debug)]
pub(crate) struct State {
    pub subscription: Subscription,
    pub partitions: Assignment,
    pub buffer: FetchBuffer,
    /// Errors found outside a fetch buffer entry (lookups, fetch error codes).
    pub pending_errors: Vec<PartitionError>,
    pub events: VecDeque<AppEvent>,
    /// A rebalance step started by `poll` is still running.
    pub event_running: bool,
    pub closed: bool,
    /// A group error that ends the consumer (fenced static member, authorization).
    pub fatal: Option<Error>,
    pub last_poll: Instant,
    /// When auto-commit next commits (`coordinator.rs`).
    pub auto_commit: AutoCommitTimer,
    pub group: GroupView,
    /// When `poll` last returned [`Error::BrokersUnreachable`].
    pub unreachable_reported: Option<Instant>,
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
}

impl Shared {
    pub(crate) fn new(client: Client, config: ConsumerConfig) -> Self {
        let coordinator = ConsumerCoordinator::new(&client, &config);
        let now = Instant::now();
        Self {
            state: Mutex::new(State {
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
            }),
            client,
            config,
            data_ready: Notify::new(),
            fetch_wake: Notify::new(),
            polled: Notify::new(),
            coordinator,
            record_vecs: Default::default(),
            leaving: Default::default(),
        }
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
        let mut st = self.lock();
        for tp in added {
            let topic: std::sync::Arc<str> = std::sync::Arc::from(tp.topic.as_str());
            let mut p = PartitionState::new(topic, InitState::Committed);
            p.awaiting_callback = true;
            st.partitions.insert(tp.clone(), p);
        }
    }

    /// Returns once the application polls, or at once if it polled within `quiet` (a
    /// member that left on a poll timeout rejoins at the next poll).
    pub(crate) async fn next_poll(&self, quiet: std::time::Duration) {
        let polled = self.polled.notified();
        tokio::pin!(polled);
        polled.as_mut().enable();
        if self.lock().last_poll.elapsed() >= quiet {
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
            let mut guard = self.lock();
            let st = &mut *guard;
            for tp in &parts {
                if let Some(p) = st.partitions.get_mut(tp) {
                    p.revoking = true;
                }
            }
            st.buffer
                .discard(&mut st.partitions, |tp| parts.binary_search(tp).is_ok());
            st.events.push_back(AppEvent::Lost { partitions: parts });
        }
        self.wake_all();
    }

    /// Sends a command to the group task, if there is one.
    pub(crate) fn group_command(&self, cmd: GroupCommand) -> bool {
        self.coordinator.command(cmd)
    }
}
