//! The fetch session state machine (Java's `FetchSessionHandlerTest`): full and
//! incremental requests, forgotten partitions, and the way back after each error.

use super::*;

fn tp(p: i32) -> TopicPartition {
    TopicPartition::new("t", p)
}

const ID: uuid::Uuid = uuid::Uuid::from_u128(7);

/// The wanted list for `(partition, fetch_offset)` pairs.
fn wanted(tps: &[TopicPartition], offsets: &[i64]) -> Vec<Wanted<'static>> {
    let leaked: &'static [TopicPartition] = Box::leak(tps.to_vec().into_boxed_slice());
    leaked
        .iter()
        .zip(offsets)
        .map(|(tp, o)| Wanted {
            tp,
            topic_id: ID,
            fetch_offset: *o,
        })
        .collect()
}

/// A session opened with partitions 0-2 at offset 0, id 42, next epoch 1.
fn opened() -> FetchSession {
    let mut s = FetchSession::default();
    let r = s.build(&wanted(&[tp(0), tp(1), tp(2)], &[0, 0, 0]), true, true);
    assert_eq!((r.session_id, r.epoch, r.full), (0, 0, true));
    assert_eq!(r.send, vec![0, 1, 2]);
    s.on_outcome(SessionOutcome::Answered { session_id: 42 });
    assert_eq!(s.id(), 42);
    s
}

#[test]
fn an_unchanged_partition_is_left_out_of_an_incremental_request() {
    let mut s = opened();
    // Partition 1 got data (its offset moved); 0 and 2 did not.
    let r = s.build(&wanted(&[tp(0), tp(1), tp(2)], &[0, 5, 0]), true, true);
    assert_eq!((r.session_id, r.epoch, r.full), (42, 1, false));
    assert_eq!(r.send, vec![1]);
    assert!(r.forget.is_empty());
    s.on_outcome(SessionOutcome::Answered { session_id: 42 });
    let r = s.build(&wanted(&[tp(0), tp(1), tp(2)], &[0, 5, 0]), true, true);
    assert_eq!(r.epoch, 2, "the epoch moves on after every answer");
    assert!(
        r.send.is_empty(),
        "nothing changed: an empty incremental request"
    );
}

#[test]
fn a_partition_not_fetched_this_round_is_forgotten_and_added_again_later() {
    let mut s = opened();
    // Partition 2 paused (or unassigned, or moved to another leader).
    let r = s.build(&wanted(&[tp(0), tp(1)], &[0, 0]), true, true);
    assert!(r.send.is_empty());
    assert_eq!(r.forget, vec![(tp(2), ID)]);
    s.on_outcome(SessionOutcome::Answered { session_id: 42 });
    let r = s.build(&wanted(&[tp(0), tp(1), tp(2)], &[0, 0, 0]), true, true);
    assert_eq!(r.send, vec![2], "resumed: added again");
    assert!(r.forget.is_empty());
}

#[test]
fn a_session_the_broker_lost_starts_again_with_a_full_request() {
    let mut s = opened();
    s.build(&wanted(&[tp(0)], &[3]), true, true);
    s.on_outcome(SessionOutcome::Error(ErrorCode::FETCH_SESSION_ID_NOT_FOUND));
    assert_eq!(s.resets(), 1);
    let r = s.build(&wanted(&[tp(0), tp(1)], &[3, 0]), true, true);
    assert_eq!(
        (r.session_id, r.epoch, r.full),
        (0, 0, true),
        "a new session"
    );
    assert_eq!(r.send, vec![0, 1]);
    s.on_outcome(SessionOutcome::Answered { session_id: 43 });
    let r = s.build(&wanted(&[tp(0), tp(1)], &[3, 0]), true, true);
    assert_eq!((r.session_id, r.epoch, r.full), (43, 1, false));
    assert!(r.send.is_empty());
}

#[test]
fn an_epoch_mismatch_closes_the_old_session_and_opens_a_new_one() {
    let mut s = opened();
    s.build(&wanted(&[tp(0)], &[3]), true, true);
    s.on_outcome(SessionOutcome::Error(
        ErrorCode::INVALID_FETCH_SESSION_EPOCH,
    ));
    let r = s.build(&wanted(&[tp(0)], &[3]), true, true);
    assert_eq!(
        (r.session_id, r.epoch, r.full),
        (42, 0, true),
        "epoch 0 with the old id: close it, open another"
    );
    assert_eq!(r.send, vec![0]);
    assert_eq!(s.resets(), 1, "the lost session is counted");
    // The broker will not keep the new session (its cache is full): one more reset, and
    // the requests go on sessionless.
    s.on_outcome(SessionOutcome::Answered { session_id: 0 });
    assert_eq!((s.id(), s.resets()), (0, 2));
    let r = s.build(&wanted(&[tp(0)], &[3]), true, true);
    assert_eq!((r.session_id, r.epoch, r.full), (0, 0, true));
    // A sessionless broker answering 0 again is no new reset.
    s.on_outcome(SessionOutcome::Answered { session_id: 0 });
    assert_eq!(s.resets(), 2);
}

#[test]
fn a_request_without_an_answer_is_followed_by_a_full_one() {
    let mut s = opened();
    let r = s.build(&wanted(&[tp(0), tp(1), tp(2)], &[9, 0, 0]), true, true);
    assert_eq!(r.send, vec![0]);
    s.on_outcome(SessionOutcome::Failed);
    let r = s.build(&wanted(&[tp(0), tp(1), tp(2)], &[9, 0, 0]), true, true);
    assert_eq!((r.epoch, r.full), (0, true));
    assert_eq!(r.send, vec![0, 1, 2], "nothing assumed of the lost request");
}

#[test]
fn a_broker_that_keeps_no_session_gets_full_requests() {
    let mut s = FetchSession::default();
    s.build(&wanted(&[tp(0)], &[0]), true, true);
    s.on_outcome(SessionOutcome::Answered { session_id: 0 });
    assert_eq!(s.resets(), 0, "never had a session: nothing lost");
    let r = s.build(&wanted(&[tp(0)], &[4]), true, true);
    assert_eq!((r.session_id, r.epoch, r.full), (0, 0, true));
}

#[test]
fn old_fetch_versions_are_sessionless() {
    let mut s = FetchSession::default();
    let r = s.build(&wanted(&[tp(0), tp(1)], &[0, 0]), false, false);
    assert_eq!((r.session_id, r.epoch, r.full), (0, -1, true));
    assert_eq!(r.send, vec![0, 1]);
    s.on_outcome(SessionOutcome::Answered { session_id: 0 });
    assert_eq!(s.id(), 0);
}

#[test]
fn a_changed_topic_id_or_naming_opens_a_new_session() {
    let mut s = opened();
    let other = TopicPartition::new("t", 0);
    let w = [Wanted {
        tp: &other,
        topic_id: uuid::Uuid::from_u128(8),
        fetch_offset: 0,
    }];
    let r = s.build(&w, true, true);
    assert_eq!((r.session_id, r.epoch, r.full), (42, 0, true));
    s.on_outcome(SessionOutcome::Answered { session_id: 44 });
    let r = s.build(&w, true, false);
    assert_eq!((r.epoch, r.full), (0, true), "from ids to names");
}

#[test]
fn an_answer_with_an_error_never_changes_what_the_session_holds() {
    let mut s = opened();
    s.build(&wanted(&[tp(0)], &[0]), true, true);
    s.on_outcome(SessionOutcome::Error(ErrorCode::UNKNOWN_SERVER_ERROR));
    // Closed and reopened in full: partitions 1 and 2 are not assumed forgotten.
    let r = s.build(&wanted(&[tp(0), tp(1)], &[0, 0]), true, true);
    assert!(r.full);
    assert!(r.forget.is_empty());
}

#[test]
fn the_epoch_wraps_to_one() {
    assert_eq!(next_epoch(1), 2);
    assert_eq!(next_epoch(i32::MAX), 1);
}
