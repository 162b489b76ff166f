//! The ConsumerGroupHeartbeat state machine, sans I/O: the member's id (made once by
//! the client, KIP-1082) and epoch, when the next heartbeat is due, which fields it
//! carries (everything when joining or after an error, only what changed otherwise),
//! and what an answer means for the member. The task (`task.rs`) sends what this
//! says and feeds the answers back.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use crate::error::ErrorCode;

/// Epoch a member joins with.
pub(crate) const JOIN_EPOCH: i32 = 0;
/// Epoch of a dynamic member leaving the group.
pub(crate) const LEAVE_EPOCH: i32 = -1;
/// Epoch of a static member leaving for now (it keeps its assignment until the
/// session times out, so a restart with the same `group.instance.id` gets it back).
pub(crate) const STATIC_LEAVE_EPOCH: i32 = -2;

/// Owned or assigned partitions by topic id.
pub(crate) type ByTopicId = BTreeMap<Uuid, BTreeSet<i32>>;

/// A new member id: a random (version 4) UUID, as the Java client makes one.
pub(crate) fn new_member_id() -> String {
    let bytes = fastrand::u128(..).to_le_bytes();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

/// What the member wants, as the next heartbeat would say it in full.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Wanted {
    pub topics: BTreeSet<String>,
    /// A broker-evaluated subscription regex (RE2J, full-name match), instead of names.
    pub regex: Option<String>,
    pub assignor: Option<String>,
    pub rack: Option<String>,
    pub instance_id: Option<String>,
    pub rebalance_timeout_ms: i32,
}

/// The fields of one ConsumerGroupHeartbeat request (`None`: unchanged, not sent).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Beat {
    pub member_id: String,
    pub epoch: i32,
    pub instance_id: Option<String>,
    pub rack: Option<String>,
    /// -1: unchanged.
    pub rebalance_timeout_ms: i32,
    pub topics: Option<Vec<String>>,
    pub regex: Option<String>,
    pub assignor: Option<String>,
    pub owned: Option<ByTopicId>,
}

/// The fields of a successful answer the state machine needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Answer {
    pub member_id: Option<String>,
    pub epoch: i32,
    pub interval_ms: i32,
    /// The target assignment, when it changed.
    pub assignment: Option<ByTopicId>,
}

/// What an answer asks of the member.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Reaction {
    /// Nothing to do.
    Steady,
    /// A new target assignment to reconcile.
    Target(ByTopicId),
    /// The member was fenced (FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID): its partitions
    /// are lost; it rejoins at epoch 0 with the same member id.
    Fenced,
    /// The coordinator moved or is loading: find it again and retry after a backoff.
    Rediscover,
    /// Try again after a backoff.
    Retry,
    /// The member cannot stay in the group (UNRELEASED_INSTANCE_ID, an unsupported
    /// assignor, authorization, a bad regex, ...).
    Fatal(ErrorCode),
}

/// The heartbeat state of one member.
#[derive(Debug)]
pub(crate) struct HeartbeatState {
    member_id: String,
    epoch: i32,
    interval: Duration,
    next_beat: Instant,
    /// What the coordinator has acknowledged (`None`: send everything).
    acked: Option<Sent>,
    /// What the request in flight carries, acknowledged when it succeeds.
    pending: Option<Sent>,
    /// The owned set to report in the next heartbeat even if unchanged (an
    /// acknowledgement of a reconciliation).
    ack_owned: bool,
    /// A regex has been sent since the member joined: dropping it must be said
    /// (an empty regex), even after an error reset what is acknowledged.
    regex_sent: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Sent {
    wanted: Wanted,
    owned: ByTopicId,
}

impl HeartbeatState {
    /// A member that has not joined: it joins (epoch 0) at once.
    pub(crate) fn new(member_id: String, interval: Duration, now: Instant) -> Self {
        Self {
            member_id,
            epoch: JOIN_EPOCH,
            interval,
            next_beat: now,
            acked: None,
            pending: None,
            ack_owned: false,
            regex_sent: false,
        }
    }

    pub(crate) fn member_id(&self) -> &str {
        &self.member_id
    }

    pub(crate) fn epoch(&self) -> i32 {
        self.epoch
    }

    /// Whether the member is in the group (has an epoch from the coordinator).
    pub(crate) fn joined(&self) -> bool {
        self.epoch > 0
    }

    pub(crate) fn next_beat(&self) -> Instant {
        self.next_beat
    }

    pub(crate) fn interval(&self) -> Duration {
        self.interval
    }

    /// Sends the next heartbeat at once (a reconciliation finished, the subscription
    /// changed).
    pub(crate) fn beat_now(&mut self, now: Instant) {
        self.next_beat = now;
    }

    /// The owned partitions go into the next heartbeat even if unchanged.
    pub(crate) fn acknowledge(&mut self, now: Instant) {
        self.ack_owned = true;
        self.next_beat = now;
    }

    /// Joins again at epoch 0 with everything sent (after fencing, or after leaving on
    /// a poll timeout). The member id stays.
    pub(crate) fn rejoin(&mut self, now: Instant) {
        self.epoch = JOIN_EPOCH;
        self.acked = None;
        self.pending = None;
        self.next_beat = now;
    }

    /// The next request's fields: everything when joining or when nothing is
    /// acknowledged, else only what changed.
    pub(crate) fn beat(&mut self, wanted: &Wanted, owned: &ByTopicId) -> Beat {
        let full = self.epoch == JOIN_EPOCH || self.acked.is_none();
        let acked = if full { None } else { self.acked.as_ref() };
        let changed = |f: &dyn Fn(&Wanted) -> bool| acked.is_none_or(|a| f(&a.wanted));
        let topics_changed = changed(&|a| a.topics != wanted.topics || a.regex != wanted.regex);
        let had_regex = self.regex_sent && self.epoch != JOIN_EPOCH;
        let owned_changed = self.ack_owned || acked.is_none_or(|a| &a.owned != owned);
        let beat = Beat {
            member_id: self.member_id.clone(),
            epoch: self.epoch,
            // The instance id is sent whenever there is one (the coordinator checks it).
            instance_id: wanted.instance_id.clone(),
            rack: if changed(&|a| a.rack != wanted.rack) {
                wanted.rack.clone()
            } else {
                None
            },
            rebalance_timeout_ms: if changed(&|a| {
                a.rebalance_timeout_ms != wanted.rebalance_timeout_ms
            }) {
                wanted.rebalance_timeout_ms
            } else {
                -1
            },
            // A regex member sends an empty name list; a member that drops its regex
            // clears it with an empty one (null would mean "unchanged").
            topics: topics_changed.then(|| wanted.topics.iter().cloned().collect()),
            regex: match (&wanted.regex, topics_changed) {
                (Some(r), true) => Some(r.clone()),
                (None, true) if had_regex => Some(String::new()),
                _ => None,
            },
            assignor: if changed(&|a| a.assignor != wanted.assignor) {
                wanted.assignor.clone()
            } else {
                None
            },
            owned: owned_changed.then(|| owned.clone()),
        };
        if let Some(r) = &beat.regex {
            self.regex_sent = !r.is_empty();
        }
        self.pending = Some(Sent {
            wanted: wanted.clone(),
            owned: owned.clone(),
        });
        self.ack_owned = false;
        beat
    }

    /// A successful answer.
    pub(crate) fn on_answer(&mut self, answer: Answer, now: Instant) -> Reaction {
        if let Some(id) = answer.member_id.filter(|id| !id.is_empty()) {
            self.member_id = id;
        }
        self.epoch = answer.epoch;
        if answer.interval_ms > 0 {
            self.interval = Duration::from_millis(answer.interval_ms as u64);
        }
        self.acked = self.pending.take();
        self.next_beat = now + self.interval;
        match answer.assignment {
            Some(target) => Reaction::Target(target),
            None => Reaction::Steady,
        }
    }

    /// An answer with an error code; `backoff` is the wait before a retry.
    pub(crate) fn on_error(
        &mut self,
        code: ErrorCode,
        now: Instant,
        backoff: Duration,
    ) -> Reaction {
        self.pending = None;
        self.acked = None;
        match code {
            ErrorCode::FENCED_MEMBER_EPOCH | ErrorCode::UNKNOWN_MEMBER_ID => {
                self.rejoin(now);
                Reaction::Fenced
            }
            ErrorCode::NOT_COORDINATOR
            | ErrorCode::COORDINATOR_NOT_AVAILABLE
            | ErrorCode::COORDINATOR_LOAD_IN_PROGRESS => {
                self.next_beat = now + backoff;
                Reaction::Rediscover
            }
            ErrorCode::UNRELEASED_INSTANCE_ID
            | ErrorCode::UNSUPPORTED_ASSIGNOR
            | ErrorCode::GROUP_MAX_SIZE_REACHED
            | ErrorCode::UNSUPPORTED_VERSION
            | ErrorCode::INVALID_REQUEST
            | ErrorCode::INVALID_REGULAR_EXPRESSION
            | ErrorCode::GROUP_AUTHORIZATION_FAILED
            | ErrorCode::TOPIC_AUTHORIZATION_FAILED
            | ErrorCode::FENCED_INSTANCE_ID => Reaction::Fatal(code),
            c if c.is_retriable_for_membership() => {
                self.next_beat = now + backoff;
                Reaction::Retry
            }
            c => Reaction::Fatal(c),
        }
    }

    /// The request failed on the way (connection lost, timed out): everything is sent
    /// again after `backoff`.
    pub(crate) fn on_failure(&mut self, now: Instant, backoff: Duration) {
        self.pending = None;
        self.acked = None;
        self.next_beat = now + backoff;
    }

    /// The epoch a leave request carries.
    pub(crate) fn leave_epoch(is_static: bool) -> i32 {
        if is_static {
            STATIC_LEAVE_EPOCH
        } else {
            LEAVE_EPOCH
        }
    }

    /// After leaving: not in the group until it joins again.
    pub(crate) fn left(&mut self) {
        self.epoch = JOIN_EPOCH;
        self.acked = None;
        self.pending = None;
    }
}

#[cfg(test)]
#[path = "../../unit_tests/kip848_heartbeat_state.rs"]
mod tests;
