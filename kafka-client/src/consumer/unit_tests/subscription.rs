//! `PartitionState` (Java's `SubscriptionStateTest`): positions, epochs and the gates
//! that decide fetching, lookups and delivery.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::ready;
use crate::consumer::subscription::{InitState, PartitionState, ResetTarget, Subscription};

const MAX: usize = 1 << 20;

fn fresh(init: InitState) -> PartitionState {
    PartitionState::new(Arc::from("t"), init)
}

#[test]
fn a_new_state_has_no_position_and_no_flags() {
    let p = fresh(InitState::Committed);
    assert_eq!((p.position, p.fetch_offset), (-1, -1));
    assert_eq!(
        (p.high_watermark, p.last_stable_offset, p.log_start_offset),
        (-1, -1, -1)
    );
    assert_eq!(p.leader_epoch, None);
    assert!(!p.paused && !p.revoking && !p.awaiting_callback);
    assert!(!p.fetch_in_flight && !p.lookup_in_flight);
    assert_eq!(p.buffered_bytes, 0);
    assert_eq!(p.backoff_until, None);
    assert_eq!(p.init, InitState::Committed);
}

#[test]
fn epochs_only_grow_across_states_of_the_process() {
    let a = fresh(InitState::Committed);
    let b = fresh(InitState::Committed);
    assert!(b.epoch > a.epoch, "{} then {}", a.epoch, b.epoch);
    let mut c = fresh(InitState::Committed);
    let first = c.epoch;
    c.seek(3);
    assert!(c.epoch > first);
    assert!(c.epoch > b.epoch);
}

#[test]
fn seek_positions_both_cursors_and_makes_the_partition_ready() {
    let mut p = fresh(InitState::Reset(ResetTarget::Latest));
    p.backoff_until = Some(Instant::now() + Duration::from_secs(5));
    p.paused = true;
    let before = p.epoch;
    p.seek(42);
    assert_eq!((p.position, p.fetch_offset), (42, 42));
    assert_eq!(p.init, InitState::Ready);
    assert_eq!(p.backoff_until, None, "a seek clears the backoff");
    assert_ne!(p.epoch, before);
    assert!(p.paused, "a seek does not resume");
}

#[test]
fn seek_restarts_a_failed_partition() {
    let mut p = ready("t", 5);
    p.init = InitState::Failed;
    p.seek(5);
    assert_eq!(p.init, InitState::Ready);
    assert!(p.fetchable(Instant::now(), MAX));
}

#[test]
fn reset_asks_for_a_lookup_and_invalidates_outstanding_answers() {
    let mut p = ready("t", 10);
    p.fetch_offset = 30;
    p.backoff_until = Some(Instant::now() + Duration::from_secs(1));
    let before = p.epoch;
    p.reset(InitState::Reset(ResetTarget::Earliest));
    assert_eq!(p.init, InitState::Reset(ResetTarget::Earliest));
    assert_ne!(p.epoch, before);
    assert_eq!(p.backoff_until, None);
    assert_eq!(
        p.position, 10,
        "the position stays until the lookup answers"
    );
    assert!(!p.fetchable(Instant::now(), MAX));
    assert!(p.needs_lookup(Instant::now()));
}

#[test]
fn only_a_ready_partition_is_fetchable() {
    let now = Instant::now();
    assert!(ready("t", 0).fetchable(now, MAX));
    for init in [
        InitState::Committed,
        InitState::Reset(ResetTarget::Earliest),
        InitState::Reset(ResetTarget::Latest),
        InitState::Failed,
    ] {
        let mut p = ready("t", 0);
        p.init = init;
        assert!(!p.fetchable(now, MAX), "{init:?}");
    }
}

#[test]
fn paused_revoking_and_in_flight_partitions_are_not_fetched() {
    let now = Instant::now();
    let mut p = ready("t", 0);
    p.paused = true;
    assert!(!p.fetchable(now, MAX), "paused");
    let mut p = ready("t", 0);
    p.revoking = true;
    assert!(!p.fetchable(now, MAX), "revoking");
    let mut p = ready("t", 0);
    p.fetch_in_flight = true;
    assert!(!p.fetchable(now, MAX), "a fetch is out");
}

#[test]
fn a_partition_awaiting_its_assigned_callback_is_fetched_but_not_delivered() {
    let mut p = ready("t", 0);
    p.awaiting_callback = true;
    assert!(
        p.fetchable(Instant::now(), MAX),
        "prefetch while the callback runs"
    );
    assert!(!p.deliverable());
}

#[tokio::test(start_paused = true)]
async fn backoff_holds_fetches_until_it_ends() {
    let mut p = ready("t", 0);
    p.backoff_until = Some(Instant::now() + Duration::from_millis(200));
    assert!(!p.fetchable(Instant::now(), MAX));
    tokio::time::advance(Duration::from_millis(199)).await;
    assert!(!p.fetchable(Instant::now(), MAX));
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(
        p.fetchable(Instant::now(), MAX),
        "fetchable at the end of the backoff"
    );
}

#[test]
fn buffered_bytes_bound_the_fetch_ahead() {
    let now = Instant::now();
    let mut p = ready("t", 0);
    p.buffered_bytes = 99;
    assert!(p.fetchable(now, 100));
    p.buffered_bytes = 100;
    assert!(!p.fetchable(now, 100), "at the bound: no more prefetch");
    p.buffered_bytes = 101;
    assert!(!p.fetchable(now, 100));
}

#[test]
fn lookups_are_needed_for_committed_and_reset_states_only() {
    let now = Instant::now();
    assert!(fresh(InitState::Committed).needs_lookup(now));
    assert!(fresh(InitState::Reset(ResetTarget::Latest)).needs_lookup(now));
    assert!(!fresh(InitState::Ready).needs_lookup(now));
    assert!(!fresh(InitState::Failed).needs_lookup(now));
}

#[tokio::test(start_paused = true)]
async fn lookups_wait_for_the_one_in_flight_revocation_and_backoff() {
    let now = Instant::now();
    let mut p = fresh(InitState::Committed);
    p.lookup_in_flight = true;
    assert!(!p.needs_lookup(now));
    let mut p = fresh(InitState::Committed);
    p.revoking = true;
    assert!(!p.needs_lookup(now));
    let mut p = fresh(InitState::Committed);
    p.paused = true;
    assert!(
        p.needs_lookup(now),
        "a paused partition still gets a position"
    );
    p.backoff_until = Some(now + Duration::from_millis(200));
    assert!(!p.needs_lookup(now));
    tokio::time::advance(Duration::from_millis(200)).await;
    assert!(p.needs_lookup(Instant::now()));
}

#[test]
fn delivery_needs_no_pause_no_pending_callback_and_no_revocation() {
    assert!(ready("t", 0).deliverable());
    let mut p = ready("t", 0);
    p.paused = true;
    assert!(!p.deliverable());
    let mut p = ready("t", 0);
    p.revoking = true;
    assert!(!p.deliverable());
    let mut p = ready("t", 0);
    p.init = InitState::Failed;
    assert!(
        p.deliverable(),
        "buffered records before an error still go out"
    );
}

#[test]
fn reset_targets_are_list_offsets_sentinels() {
    assert_eq!(ResetTarget::Earliest.timestamp(), -2);
    assert_eq!(ResetTarget::Latest.timestamp(), -1);
    assert_eq!(Subscription::default(), Subscription::None);
}
