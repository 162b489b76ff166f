//! The KIP-848 consumer group of the simulated cluster (`group.protocol=consumer`):
//! kafka-testkit's coordinator state machine (member epochs, server-side assignor,
//! revoke-before-assign reconciliation, session and rebalance timeouts) run on the
//! paused clock, with what each member holds recorded for invariant I4, ordered by the
//! run's event counter (one simulated instant holds many events; the counter orders
//! them as they happened on the runtime's one thread).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse};
use kafka_testkit::model::{ConsumerGroup, GroupTimes, Topics, beat_of, heartbeat_response};
use tokio::time::Instant;

use crate::cluster::{PARTITIONS, TOPIC, TOPICS, topic_id};

/// What a member held from an event on (the run's event counter): the partitions of
/// the `sim` topic (assigned or being revoked), or `None` once it left the group.
pub type Holding = (u64, Option<BTreeSet<i32>>);

/// The group, and its history.
#[derive(Debug)]
pub(crate) struct Kip848 {
    pub group: ConsumerGroup,
    times: GroupTimes,
    /// The run's event counter.
    events: u64,
    /// Per member, what it held from which event on.
    pub timeline: BTreeMap<String, Vec<Holding>>,
    /// Times the coordinator let two members hold one partition.
    pub overlaps: Vec<String>,
}

fn topics() -> Topics {
    TOPICS
        .iter()
        .map(|t| (t.to_string(), (topic_id(t), PARTITIONS)))
        .collect()
}

impl Default for Kip848 {
    fn default() -> Self {
        Kip848 {
            group: ConsumerGroup::default(),
            times: GroupTimes {
                heartbeat_interval: Duration::from_secs(1),
                session_timeout: Duration::from_secs(10),
                ..GroupTimes::default()
            },
            events: 0,
            timeline: BTreeMap::new(),
            overlaps: Vec::new(),
        }
    }
}

impl Kip848 {
    /// The next event number.
    pub fn ticket(&mut self) -> u64 {
        self.events += 1;
        self.events
    }

    /// Records what each member holds now, and any partition two members hold.
    fn observe(&mut self) {
        let at = self.ticket();
        let sim = topic_id(TOPIC);
        let holdings = self.group.holdings();
        let mut owner: BTreeMap<i32, &str> = BTreeMap::new();
        for (member, held) in &holdings {
            let mine: BTreeSet<i32> = held.get(&sim).cloned().unwrap_or_default();
            for &p in &mine {
                if let Some(other) = owner.insert(p, member) {
                    if self.overlaps.len() < 5 {
                        self.overlaps.push(format!(
                            "at event {at} the coordinator let {other} and {member} both hold {TOPIC}-{p}"
                        ));
                    }
                }
            }
            let line = self.timeline.entry(member.clone()).or_default();
            if line.last().map(|h| h.1.as_ref()) != Some(Some(&mine)) {
                line.push((at, Some(mine)));
            }
        }
        for (member, line) in &mut self.timeline {
            if !holdings.contains_key(member) && line.last().is_some_and(|h| h.1.is_some()) {
                line.push((at, None));
            }
        }
    }

    /// A ConsumerGroupHeartbeat's answer.
    pub fn heartbeat(
        &mut self,
        r: &ConsumerGroupHeartbeatRequest,
        version: i16,
        now: Instant,
    ) -> ConsumerGroupHeartbeatResponse {
        let answer = self
            .group
            .heartbeat(beat_of(r), version, &topics(), &self.times, now);
        self.observe();
        heartbeat_response(answer, &self.times)
    }

    /// Checks a member's OffsetCommit or OffsetFetch (UNKNOWN_MEMBER_ID,
    /// STALE_MEMBER_EPOCH).
    pub fn validate(&mut self, member: &str, epoch: i32, now: Instant) -> Result<(), i16> {
        let r = self.group.validate_member(member, epoch, now, &topics());
        self.observe();
        r
    }

    /// Removes members past their session or rebalance timeout.
    pub fn tick(&mut self, now: Instant) {
        self.group.expire(now, &topics());
        self.observe();
    }
}
