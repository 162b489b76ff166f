//! Fetch from a follower (KIP-392): a partition's preferred read replica.
//!
//! The consumer sends its `client.rack` as the Fetch `rack_id`; a leader whose
//! `replica.selector.class` picks another replica for that rack answers with
//! `preferred_read_replica`, and the partition is then fetched from that replica, as the
//! Java client does, until one of these sends it back to the leader:
//! - `metadata.max.age.ms` passed since the leader named it (the leader is asked again),
//! - the partition's leader or leader epoch changed in the metadata,
//! - the replica is gone from the metadata,
//! - a fetch from the replica failed, or answered the partition with an error
//!   (OFFSET_OUT_OF_RANGE included: a lagging follower is no reason to reset).
//!
//! While the replica's broker backs off after a failed fetch the partition waits (as
//! Java skips a node in reconnect backoff) rather than going to the leader: a leader
//! that still counts the dead replica in sync names it again at once, with no records,
//! and asking it in a loop would only spin.

use std::time::Duration;

use tokio::time::Instant;

/// The replica a partition's leader told the consumer to read from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ReadReplica {
    /// The replica's node id.
    pub node: i32,
    /// The leader and its epoch when the replica was named.
    pub leader: i32,
    pub leader_epoch: i32,
    /// Asked again from the leader after this.
    pub expires: Instant,
}

impl ReadReplica {
    /// The replica `node` named by `leader` at `leader_epoch` at `now`, kept for `ttl`
    /// (`metadata.max.age.ms`). `None` when the answer names no replica (-1) or the
    /// leader itself.
    pub(crate) fn named(
        node: i32,
        leader: i32,
        leader_epoch: i32,
        now: Instant,
        ttl: Duration,
    ) -> Option<Self> {
        (node >= 0 && node != leader).then(|| Self {
            node,
            leader,
            leader_epoch,
            expires: now + ttl,
        })
    }
}

/// Where a partition with `leader` at `leader_epoch` is fetched from now: its read
/// replica while that is still good (see the module docs), else the leader; `None`
/// while the replica backs off (the partition waits). A replica no longer good is
/// dropped from `replica`. `known` says whether a node is in the metadata, `available`
/// whether it is not backing off.
pub(crate) fn fetch_target(
    replica: &mut Option<ReadReplica>,
    leader: i32,
    leader_epoch: i32,
    now: Instant,
    known: impl Fn(i32) -> bool,
    available: impl Fn(i32) -> bool,
) -> Option<i32> {
    if let Some(r) = *replica {
        let good = r.leader == leader
            && r.leader_epoch == leader_epoch
            && now < r.expires
            && known(r.node);
        if good {
            return available(r.node).then_some(r.node);
        }
        tracing::debug!(
            replica = r.node,
            leader,
            "preferred read replica dropped: back to the leader"
        );
        *replica = None;
    }
    Some(leader)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TTL: Duration = Duration::from_secs(300);

    fn target(r: &mut Option<ReadReplica>, leader: i32, epoch: i32) -> i32 {
        fetch_target(r, leader, epoch, Instant::now(), |n| n <= 3, |_| true).unwrap()
    }

    #[tokio::test(start_paused = true)]
    async fn a_named_replica_is_fetched_from_until_it_expires() {
        let mut r = ReadReplica::named(2, 1, 7, Instant::now(), TTL);
        assert_eq!(target(&mut r, 1, 7), 2);
        tokio::time::advance(TTL - Duration::from_millis(1)).await;
        assert_eq!(target(&mut r, 1, 7), 2);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(
            target(&mut r, 1, 7),
            1,
            "expired: the leader is asked again"
        );
        assert_eq!(r, None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_change_sends_the_partition_back_to_the_leader() {
        let mut r = ReadReplica::named(2, 1, 7, Instant::now(), TTL);
        assert_eq!(target(&mut r, 1, 8), 1, "new epoch");
        let mut r = ReadReplica::named(2, 1, 7, Instant::now(), TTL);
        assert_eq!(target(&mut r, 3, 7), 3, "new leader");
        assert_eq!(r, None);
    }

    #[tokio::test(start_paused = true)]
    async fn an_unknown_replica_is_dropped_and_a_backing_off_one_waited_for() {
        let mut r = ReadReplica::named(9, 1, 7, Instant::now(), TTL);
        assert_eq!(target(&mut r, 1, 7), 1, "not in the metadata");
        assert_eq!(r, None);
        let mut r = ReadReplica::named(2, 1, 7, Instant::now(), TTL);
        let t = fetch_target(&mut r, 1, 7, Instant::now(), |_| true, |n| n != 2);
        assert_eq!(t, None, "backing off: the partition waits");
        assert!(r.is_some(), "kept for when the backoff ends");
        assert_eq!(target(&mut r, 1, 7), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn no_replica_or_the_leader_itself_is_no_read_replica() {
        assert_eq!(ReadReplica::named(-1, 1, 7, Instant::now(), TTL), None);
        assert_eq!(ReadReplica::named(1, 1, 7, Instant::now(), TTL), None);
        let mut none = None;
        assert_eq!(target(&mut none, 1, 7), 1);
    }
}
