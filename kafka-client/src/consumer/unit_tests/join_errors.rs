//! How JoinGroup/SyncGroup failures steer the membership task (Java's
//! `AbstractCoordinatorTest` error handling): rejoin at once with a member id, retry
//! after a backoff, or give up for good. A child of `join.rs` (the classifiers are
//! private); the requests themselves need a broker.

use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::consumer::unit_tests::shared_with;

fn link() -> Arc<CoordinatorLink> {
    let sh = shared_with(|b| b.group_id("g"));
    Arc::new(CoordinatorLink::new(sh.client.clone(), "g".into()))
}

fn code_of(j: &JoinError) -> Option<ErrorCode> {
    match j {
        JoinError::Retry(e) | JoinError::Fatal(e) => e.code(),
        JoinError::RetryWithMember(_) => None,
    }
}

#[tokio::test]
async fn coordinator_moves_and_rebalances_are_retried() {
    let l = link();
    for code in [
        ErrorCode::NOT_COORDINATOR,
        ErrorCode::COORDINATOR_NOT_AVAILABLE,
        ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::REBALANCE_IN_PROGRESS,
    ] {
        let j = classify(code, ErrorContext::default(), &l);
        assert!(matches!(j, JoinError::Retry(_)), "{code:?}: {j:?}");
        assert_eq!(code_of(&j), Some(code), "the cause is kept");
        assert_eq!(l.known(), None);
    }
}

#[tokio::test]
async fn an_unknown_server_error_is_retried_not_fatal() {
    let j = classify(
        ErrorCode::UNKNOWN_SERVER_ERROR,
        ErrorContext::default(),
        &link(),
    );
    assert!(matches!(j, JoinError::Retry(_)), "{j:?}");
    assert_eq!(code_of(&j), Some(ErrorCode::UNKNOWN_SERVER_ERROR));
}

#[tokio::test]
async fn an_unknown_member_rejoins_at_once_as_a_new_member() {
    let j = classify(
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorContext::default(),
        &link(),
    );
    assert!(
        matches!(&j, JoinError::RetryWithMember(id) if id.is_empty()),
        "{j:?}"
    );
}

#[tokio::test]
async fn fencing_and_authorization_failures_end_the_membership() {
    let l = link();
    for code in [
        ErrorCode::FENCED_INSTANCE_ID,
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
    ] {
        let j = classify(code, ErrorContext::default(), &l);
        assert!(matches!(j, JoinError::Fatal(_)), "{code:?}: {j:?}");
        assert_eq!(code_of(&j), Some(code));
    }
}

#[tokio::test]
async fn transport_failures_are_retried_and_internal_ones_are_not() {
    let l = link();
    let retriable = Error::broker(
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ErrorContext::default(),
        None,
    );
    assert!(matches!(
        transport_error(retriable, &l),
        JoinError::Retry(_)
    ));
    let deadline = Error::Deadline {
        operation: "join".into(),
        timeout: Duration::from_secs(1),
        last_error: None,
    };
    assert!(
        matches!(transport_error(deadline, &l), JoinError::Retry(_)),
        "a deadline is retried on the next round"
    );
    let internal = Error::InvalidState("x".into());
    assert!(matches!(transport_error(internal, &l), JoinError::Fatal(_)));
    let fenced = Error::broker(ErrorCode::FENCED_INSTANCE_ID, ErrorContext::default(), None);
    assert!(matches!(transport_error(fenced, &l), JoinError::Fatal(_)));
}
