//! The group coordinator's state machines, sans I/O: classic groups ([`classic`]),
//! KIP-848 consumer groups ([`consumer`]), share groups ([`share`]) and the server-side assignors
//! ([`assignor`]). The cluster (`cluster.rs`) decodes requests, passes the time in and
//! encodes the answers.

pub(crate) mod assignor;
pub(crate) mod classic;
pub(crate) mod consumer;
pub(crate) mod share;

use std::time::Duration;

/// The coordinator's timings (the broker's `group.consumer.*` and `group.share.*`
/// settings).
#[derive(Debug, Clone)]
pub struct GroupTimes {
    /// How often members are asked to heartbeat.
    pub heartbeat_interval: Duration,
    /// How long a silent member stays in its group.
    pub session_timeout: Duration,
    /// A consumer-group member's rebalance timeout when it names none.
    pub rebalance_timeout: Duration,
    /// How long a share-group member holds acquired records.
    pub lock_timeout: Duration,
    /// How many times a share group delivers a record before archiving it.
    pub delivery_limit: i16,
}

impl Default for GroupTimes {
    fn default() -> Self {
        GroupTimes {
            heartbeat_interval: Duration::from_secs(1),
            session_timeout: Duration::from_secs(45),
            rebalance_timeout: Duration::from_secs(300),
            lock_timeout: Duration::from_secs(30),
            delivery_limit: 5,
        }
    }
}

/// An error answer: code and message.
pub(crate) fn err(code: i16, message: impl Into<String>) -> (i16, String) {
    (code, message.into())
}

/// A member id the coordinator makes (ConsumerGroupHeartbeat v0), unique in the process.
pub(crate) fn new_member_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    format!("testkit-member-{n:07}")
}
