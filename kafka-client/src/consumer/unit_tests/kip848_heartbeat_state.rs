//! The consumer protocol's heartbeat state machine on tokio's paused clock (the Java
//! client's `ConsumerHeartbeatRequestManagerTest`, state part): what a join, a steady
//! heartbeat and a heartbeat after an error carry; the interval the coordinator sets;
//! fencing, retries and fatal codes; leave epochs.

use std::collections::BTreeSet;
use std::time::Duration;

use tokio::time::Instant;
use uuid::Uuid;

use super::*;

fn wanted() -> Wanted {
    Wanted {
        topics: BTreeSet::from(["a".to_string(), "b".to_string()]),
        regex: None,
        assignor: Some("range".into()),
        rack: Some("r1".into()),
        instance_id: None,
        rebalance_timeout_ms: 300_000,
    }
}

fn owned(parts: &[i32]) -> ByTopicId {
    ByTopicId::from([(Uuid::from_u128(1), parts.iter().copied().collect())])
}

fn answer(epoch: i32, interval_ms: i32, assignment: Option<ByTopicId>) -> Answer {
    Answer {
        member_id: None,
        epoch,
        interval_ms,
        assignment,
    }
}

/// A member that joined at epoch 3 with a 2 s interval, owning `a`'s partition 0.
fn joined() -> HeartbeatState {
    let mut hb = HeartbeatState::new(new_member_id(), Duration::from_secs(3), Instant::now());
    hb.beat(&wanted(), &owned(&[]));
    hb.on_answer(answer(3, 2_000, None), Instant::now());
    hb.beat(&wanted(), &owned(&[0]));
    hb.on_answer(answer(3, 2_000, None), Instant::now());
    hb
}

#[test]
fn member_ids_are_random_uuids_made_by_the_client() {
    let a = new_member_id();
    let b = new_member_id();
    assert_ne!(a, b);
    let parsed = Uuid::parse_str(&a).expect("a UUID");
    assert_eq!(parsed.get_version_num(), 4);
}

#[tokio::test(start_paused = true)]
async fn the_join_carries_everything_at_epoch_0_at_once() {
    let now = Instant::now();
    let mut hb = HeartbeatState::new("m-1".into(), Duration::from_secs(3), now);
    assert_eq!(hb.next_beat(), now, "joins at once");
    assert!(!hb.joined());
    let b = hb.beat(&wanted(), &owned(&[]));
    assert_eq!((b.member_id.as_str(), b.epoch), ("m-1", JOIN_EPOCH));
    assert_eq!(b.topics, Some(vec!["a".to_string(), "b".to_string()]));
    assert_eq!(b.assignor.as_deref(), Some("range"));
    assert_eq!(b.rack.as_deref(), Some("r1"));
    assert_eq!(b.rebalance_timeout_ms, 300_000);
    assert_eq!(b.owned, Some(owned(&[])), "an empty owned list, not null");
}

#[tokio::test(start_paused = true)]
async fn steady_heartbeats_carry_only_what_changed_at_the_coordinators_interval() {
    let mut hb = HeartbeatState::new("m-1".into(), Duration::from_secs(3), Instant::now());
    hb.beat(&wanted(), &owned(&[]));
    let r = hb.on_answer(answer(5, 2_500, None), Instant::now());
    assert_eq!(r, Reaction::Steady);
    assert!(hb.joined());
    assert_eq!(hb.epoch(), 5);
    assert_eq!(
        hb.next_beat(),
        Instant::now() + Duration::from_millis(2_500)
    );
    tokio::time::advance(Duration::from_millis(2_500)).await;
    let b = hb.beat(&wanted(), &owned(&[]));
    assert_eq!(b.epoch, 5);
    assert_eq!(
        (
            b.topics,
            b.assignor,
            b.rack,
            b.rebalance_timeout_ms,
            b.owned
        ),
        (None, None, None, -1, None),
        "nothing changed: a delta with every field null"
    );
    hb.on_answer(answer(5, 2_500, None), Instant::now());
    // A new subscription goes out by itself.
    let mut w = wanted();
    w.topics.insert("c".into());
    let b = hb.beat(&w, &owned(&[]));
    assert_eq!(b.topics.map(|t| t.len()), Some(3));
    assert_eq!(b.owned, None);
}

#[tokio::test(start_paused = true)]
async fn a_target_is_handed_over_and_the_reconciled_set_acknowledged() {
    let mut hb = joined();
    let target = owned(&[0, 1]);
    let r = hb.on_answer(answer(4, 2_000, Some(target.clone())), Instant::now());
    assert_eq!(r, Reaction::Target(target));
    // Reconciled: the owned set changed, and the ack goes out at once.
    hb.acknowledge(Instant::now());
    assert_eq!(hb.next_beat(), Instant::now());
    let b = hb.beat(&wanted(), &owned(&[0, 1]));
    assert_eq!((b.epoch, b.owned), (4, Some(owned(&[0, 1]))));
    hb.on_answer(answer(4, 2_000, None), Instant::now());
    // An acknowledgement repeats the owned set even when it did not change.
    hb.acknowledge(Instant::now());
    let b = hb.beat(&wanted(), &owned(&[0, 1]));
    assert_eq!(b.owned, Some(owned(&[0, 1])));
    hb.on_answer(answer(4, 2_000, None), Instant::now());
    let b = hb.beat(&wanted(), &owned(&[0, 1]));
    assert_eq!(b.owned, None, "then deltas again");
}

#[tokio::test(start_paused = true)]
async fn fencing_rejoins_at_epoch_0_with_the_same_member_id_and_full_state() {
    for code in [ErrorCode::FENCED_MEMBER_EPOCH, ErrorCode::UNKNOWN_MEMBER_ID] {
        let mut hb = joined();
        let id = hb.member_id().to_string();
        hb.beat(&wanted(), &owned(&[0]));
        tokio::time::advance(Duration::from_secs(1)).await;
        let r = hb.on_error(code, Instant::now(), Duration::from_millis(100));
        assert_eq!(r, Reaction::Fenced, "{code}");
        assert!(!hb.joined());
        assert_eq!(hb.next_beat(), Instant::now(), "rejoins at once");
        let b = hb.beat(&wanted(), &owned(&[]));
        assert_eq!((b.epoch, b.member_id.as_str()), (JOIN_EPOCH, id.as_str()));
        assert!(b.topics.is_some() && b.assignor.is_some() && b.rack.is_some());
    }
}

#[tokio::test(start_paused = true)]
async fn retriable_errors_and_lost_requests_back_off_and_resend_everything() {
    let mut hb = joined();
    hb.beat(&wanted(), &owned(&[0]));
    let r = hb.on_error(
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        Instant::now(),
        Duration::from_millis(200),
    );
    assert_eq!(r, Reaction::Rediscover);
    assert_eq!(hb.next_beat(), Instant::now() + Duration::from_millis(200));
    assert_eq!(hb.epoch(), 3, "the epoch stays");
    let b = hb.beat(&wanted(), &owned(&[0]));
    assert_eq!(b.epoch, 3);
    assert!(
        b.topics.is_some() && b.owned.is_some(),
        "full state after an error"
    );
    hb.on_answer(answer(3, 2_000, None), Instant::now());

    hb.beat(&wanted(), &owned(&[0]));
    let r = hb.on_error(
        ErrorCode::REQUEST_TIMED_OUT,
        Instant::now(),
        Duration::from_millis(50),
    );
    assert_eq!(r, Reaction::Retry);

    hb.beat(&wanted(), &owned(&[0]));
    hb.on_failure(Instant::now(), Duration::from_millis(75));
    assert_eq!(hb.next_beat(), Instant::now() + Duration::from_millis(75));
    let b = hb.beat(&wanted(), &owned(&[0]));
    assert!(b.topics.is_some() && b.owned.is_some());
}

#[tokio::test(start_paused = true)]
async fn an_unknown_server_error_is_retried_after_the_backoff_not_fatal() {
    let mut hb = joined();
    hb.beat(&wanted(), &owned(&[0]));
    let r = hb.on_error(
        ErrorCode::UNKNOWN_SERVER_ERROR,
        Instant::now(),
        Duration::from_millis(300),
    );
    assert_eq!(r, Reaction::Retry);
    assert!(hb.joined(), "still a member");
    assert_eq!(hb.epoch(), 3, "the epoch stays");
    assert_eq!(hb.next_beat(), Instant::now() + Duration::from_millis(300));
    let b = hb.beat(&wanted(), &owned(&[0]));
    assert!(b.topics.is_some() && b.owned.is_some(), "full state again");
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_static_member_and_other_final_codes_are_fatal() {
    for code in [
        ErrorCode::UNRELEASED_INSTANCE_ID,
        ErrorCode::UNSUPPORTED_ASSIGNOR,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
        ErrorCode::INVALID_REGULAR_EXPRESSION,
        ErrorCode::GROUP_MAX_SIZE_REACHED,
    ] {
        let mut hb = joined();
        assert_eq!(
            hb.on_error(code, Instant::now(), Duration::ZERO),
            Reaction::Fatal(code)
        );
    }
}

#[tokio::test(start_paused = true)]
async fn the_instance_id_goes_in_every_heartbeat_and_leaving_uses_the_static_epoch() {
    let mut w = wanted();
    w.instance_id = Some("i-1".into());
    let mut hb = HeartbeatState::new("m".into(), Duration::from_secs(3), Instant::now());
    hb.beat(&w, &owned(&[]));
    hb.on_answer(answer(1, 1_000, None), Instant::now());
    let b = hb.beat(&w, &owned(&[]));
    assert_eq!(b.instance_id.as_deref(), Some("i-1"));
    assert_eq!(HeartbeatState::leave_epoch(true), STATIC_LEAVE_EPOCH);
    assert_eq!(HeartbeatState::leave_epoch(false), LEAVE_EPOCH);
    hb.left();
    assert!(!hb.joined());
}

#[tokio::test(start_paused = true)]
async fn a_member_id_from_the_coordinator_replaces_the_own_one_version_0() {
    let mut hb = HeartbeatState::new(String::new(), Duration::from_secs(3), Instant::now());
    hb.beat(&wanted(), &owned(&[]));
    let mut a = answer(1, 1_000, None);
    a.member_id = Some("server-made".into());
    hb.on_answer(a, Instant::now());
    assert_eq!(hb.member_id(), "server-made");
    let mut a = answer(1, 1_000, None);
    a.member_id = Some(String::new());
    hb.on_answer(a, Instant::now());
    assert_eq!(hb.member_id(), "server-made", "an empty id changes nothing");
}

#[tokio::test(start_paused = true)]
async fn a_regex_goes_with_an_empty_name_list_and_dropping_it_is_said() {
    let mut w = wanted();
    w.topics.clear();
    w.regex = Some("orders-.*".into());
    let mut hb = HeartbeatState::new("m".into(), Duration::from_secs(3), Instant::now());
    let b = hb.beat(&w, &owned(&[]));
    assert_eq!(b.regex.as_deref(), Some("orders-.*"));
    assert_eq!(b.topics, Some(Vec::new()));
    hb.on_answer(answer(1, 1_000, None), Instant::now());
    let b = hb.beat(&w, &owned(&[]));
    assert_eq!((b.regex, b.topics), (None, None), "unchanged: null");
    // An error resets what is acknowledged; switching back to names still clears it.
    hb.on_error(ErrorCode::REQUEST_TIMED_OUT, Instant::now(), Duration::ZERO);
    let b = hb.beat(&wanted(), &owned(&[]));
    assert_eq!(b.regex.as_deref(), Some(""), "an empty regex drops it");
    assert_eq!(b.topics.map(|t| t.len()), Some(2));
    hb.on_answer(answer(1, 1_000, None), Instant::now());
    hb.on_error(ErrorCode::REQUEST_TIMED_OUT, Instant::now(), Duration::ZERO);
    let b = hb.beat(&wanted(), &owned(&[]));
    assert_eq!(b.regex, None, "dropped already");
}
