//! What the consumer reads and where it is: the subscription (manual or by topic), and
//! per assigned partition its position, fetch cursor, pause flag and readiness (Java's
//! `SubscriptionState`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::time::Instant;

use crate::types::TopicPartition;

/// How partitions come to the consumer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) enum Subscription {
    /// Nothing yet.
    #[default]
    None,
    /// `assign`: the application names partitions.
    Manual,
    /// `subscribe`: the group assigns partitions of these topics.
    Topics(BTreeSet<String>),
    /// `subscribe_pattern`: the group assigns partitions of the topics whose names the
    /// regex matches (evaluated by the broker; consumer protocol only).
    Pattern(String),
}

impl Subscription {
    /// Whether the group decides the assignment (`subscribe` or `subscribe_pattern`).
    pub(crate) fn is_group(&self) -> bool {
        matches!(self, Self::Topics(_) | Self::Pattern(_))
    }
}

/// Where a position lookup must start from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResetTarget {
    Earliest,
    Latest,
}

impl ResetTarget {
    /// The ListOffsets timestamp that means this target.
    pub(crate) fn timestamp(self) -> i64 {
        match self {
            Self::Earliest => -2,
            Self::Latest => -1,
        }
    }
}

/// Whether a partition has a position to fetch from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InitState {
    /// Needs the group's committed offset (or the reset policy when there is none).
    Committed,
    /// Needs a ListOffsets lookup.
    Reset(ResetTarget),
    /// Has a position.
    Ready,
    /// Stopped after an error delivered to the application; a seek restarts it.
    Failed,
}

/// One assigned partition.
#[derive(Debug)]
pub(crate) struct PartitionState {
    pub topic: Arc<str>,
    /// The next offset to hand to the application (valid when `Ready` or `Failed`).
    pub position: i64,
    /// The next offset to fetch (at or after `position`: data in between is buffered).
    pub fetch_offset: i64,
    /// Leader epoch of the last record handed out.
    pub leader_epoch: Option<i32>,
    pub init: InitState,
    pub paused: bool,
    /// New on every seek or reset, and for every new state (see [`next_epoch`]): fetch and
    /// lookup answers sent under another epoch are dropped.
    pub epoch: u64,
    /// A Fetch request for the partition is outstanding.
    pub fetch_in_flight: bool,
    /// A position lookup (OffsetFetch or ListOffsets) is outstanding.
    pub lookup_in_flight: bool,
    /// Don't retry fetching or lookups before this.
    pub backoff_until: Option<Instant>,
    /// Assigned by the group but the listener's `assigned` has not run yet: no records out.
    pub awaiting_callback: bool,
    /// Being revoked or lost: no fetching, no records out.
    pub revoking: bool,
    /// Fetched bytes waiting in the fetch buffer.
    pub buffered_bytes: usize,
    pub high_watermark: i64,
    pub last_stable_offset: i64,
    pub log_start_offset: i64,
    /// The topic id (KIP-516) the position belongs to, bound at the first fetch after
    /// the position was set: a topic deleted and re-created under the same name has a
    /// new id, and the old position means nothing there (`fetcher.rs`).
    pub topic_id: Option<uuid::Uuid>,
    /// The replica the leader named for this consumer's rack (KIP-392), fetched from
    /// instead of the leader while it stays good (`read_replica.rs`).
    pub read_replica: Option<super::read_replica::ReadReplica>,
    /// The first record (offset, leader epoch) of the batch a [`Consumer::stream`] took
    /// out of the buffer and is yielding: commits of the position commit this instead, so
    /// a record in a stream's hands is never committed past (`consumer/stream.rs`).
    ///
    /// [`Consumer::stream`]: super::Consumer::stream
    pub held: Option<(i64, Option<i32>)>,
}

/// A state epoch never used before in this process. Epochs are not counted per state: a
/// partition revoked (its state dropped) and assigned again gets a new state, and a
/// Fetch sent under the old state can still come back. Counted per state from 0, the
/// new state reached the old one's epoch after the same number of seeks, and the old
/// response, read from further ahead, was taken: the records between the new position
/// and that response were skipped.
fn next_epoch() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl PartitionState {
    pub(crate) fn new(topic: Arc<str>, init: InitState) -> Self {
        Self {
            topic,
            position: -1,
            fetch_offset: -1,
            leader_epoch: None,
            init,
            paused: false,
            epoch: next_epoch(),
            fetch_in_flight: false,
            lookup_in_flight: false,
            backoff_until: None,
            awaiting_callback: false,
            revoking: false,
            buffered_bytes: 0,
            high_watermark: -1,
            last_stable_offset: -1,
            log_start_offset: -1,
            topic_id: None,
            read_replica: None,
            held: None,
        }
    }

    /// Moves the partition to `offset`: clears errors and invalidates outstanding fetches.
    pub(crate) fn seek(&mut self, offset: i64) {
        self.position = offset;
        self.fetch_offset = offset;
        self.init = InitState::Ready;
        self.epoch = next_epoch();
        self.backoff_until = None;
        self.topic_id = None;
        self.held = None;
    }

    /// Stops the partition at an error met while draining its buffered data: no more
    /// fetches or deliveries until it is sought. A new epoch, so data buffered after the
    /// failed fetch under the old one is dropped, never delivered after the error (that
    /// skipped the records between the error and that data). Errors the fetcher meets
    /// before buffering set `InitState::Failed` alone: the data buffered before them is
    /// good and is still delivered.
    pub(crate) fn fail(&mut self) {
        self.init = InitState::Failed;
        self.epoch = next_epoch();
    }

    /// Asks for a new position lookup.
    pub(crate) fn reset(&mut self, init: InitState) {
        self.init = init;
        self.epoch = next_epoch();
        self.backoff_until = None;
        self.topic_id = None;
        self.held = None;
    }

    /// The offset (and leader epoch) a commit of the position commits: the first record a
    /// stream holds, else the position.
    pub(crate) fn committable(&self) -> (i64, Option<i32>) {
        self.held
            .filter(|&(offset, _)| offset < self.position)
            .unwrap_or((self.position, self.leader_epoch))
    }

    fn backed_off(&self, now: Instant) -> bool {
        self.backoff_until.is_some_and(|t| t > now)
    }

    /// Whether a fetch may be sent for the partition now.
    pub(crate) fn fetchable(&self, now: Instant, max_buffered_bytes: usize) -> bool {
        self.init == InitState::Ready
            && !self.paused
            && !self.revoking
            && !self.fetch_in_flight
            && !self.backed_off(now)
            && self.buffered_bytes < max_buffered_bytes
    }

    /// Whether the partition waits for a position lookup that may start now.
    pub(crate) fn needs_lookup(&self, now: Instant) -> bool {
        matches!(self.init, InitState::Committed | InitState::Reset(_))
            && !self.lookup_in_flight
            && !self.revoking
            && !self.backed_off(now)
    }

    /// Whether buffered records of the partition may go to the application.
    pub(crate) fn deliverable(&self) -> bool {
        !self.paused && !self.awaiting_callback && !self.revoking
    }
}

/// The assignment: partitions by name, in order.
pub(crate) type Assignment = BTreeMap<TopicPartition, PartitionState>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression (flake of `consumer_group::three_members_join_and_leave_mid_stream`,
    /// records never delivered): a partition assigned again must not take an answer sent
    /// for its previous state.
    #[test]
    fn a_state_made_again_never_reuses_an_epoch() {
        let mut old = PartitionState::new(Arc::from("t"), InitState::Committed);
        old.seek(5);
        let mut again = PartitionState::new(Arc::from("t"), InitState::Committed);
        assert_ne!(again.epoch, old.epoch);
        again.seek(5);
        assert_ne!(
            again.epoch, old.epoch,
            "after as many seeks as the old state"
        );
        let before = again.epoch;
        again.reset(InitState::Reset(ResetTarget::Earliest));
        assert_ne!(again.epoch, before);
        assert_ne!(again.epoch, old.epoch);
    }
}
