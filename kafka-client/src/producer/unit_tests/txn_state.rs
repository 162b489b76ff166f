//! `txn/state.rs`: the transaction numbers, the first failure, the bump flag, the
//! partitions waiting for AddPartitionsToTxn, and how errors are classified (Java's
//! `TransactionManagerTest`, the parts without a coordinator).

use std::time::Duration;

use kafka_protocol::messages::ApiKey;

use super::*;
use crate::error::{Error, ErrorCode, ErrorContext, TransactionErrorKind};
use crate::producer::txn::state::TxnShared;

fn txn() -> TxnShared {
    TxnShared::new("tx-1".into(), Duration::from_secs(60))
}

fn broker(code: ErrorCode, api: ApiKey) -> Error {
    Error::broker(code, ErrorContext::default().with_api(api), None)
}

#[test]
fn begin_numbers_transactions_from_one_and_opens() {
    let t = txn();
    assert_eq!(t.generation(), 0);
    assert!(!t.is_open());
    assert_eq!(t.begin(), 1);
    assert!(t.is_open());
    assert_eq!(t.generation(), 1);
    t.end();
    assert!(!t.is_open());
    assert_eq!(t.generation(), 1, "ending does not renumber");
    assert_eq!(t.begin(), 2);
}

#[test]
fn begin_forgets_the_last_transactions_failure_started_flag_and_pending_adds() {
    let t = txn();
    let (_e, p) = partition();
    t.begin();
    t.fail(&Error::Closed);
    t.mark_started();
    t.need_add(&p);
    t.begin();
    assert!(t.failure().is_none());
    assert!(!t.is_started());
    assert!(t.take_pending_add().is_empty());
}

#[test]
fn the_first_failure_is_kept() {
    let t = txn();
    t.begin();
    assert!(t.failure().is_none());
    t.fail(&Error::Config("first".into()));
    t.fail(&Error::Closed);
    assert!(matches!(t.failure(), Some(Error::Config(m)) if m == "first"));
    // Reading it does not clear it.
    assert!(t.failure().is_some());
}

#[test]
fn started_is_set_only_when_marked() {
    let t = txn();
    t.begin();
    assert!(!t.is_started());
    t.mark_started();
    assert!(t.is_started());
}

#[test]
fn the_bump_flag_is_taken_once() {
    let t = txn();
    assert!(!t.take_bump());
    t.request_bump();
    t.request_bump();
    assert!(t.take_bump());
    assert!(!t.take_bump());
}

#[test]
fn a_partition_waits_for_adding_once() {
    let t = txn();
    let e = TopicEntry::new(&topic_info("t", &[Some(1), Some(1)]));
    let (p0, p1) = (e.partitions()[0].clone(), e.partitions()[1].clone());
    t.need_add(&p0);
    t.need_add(&p1);
    t.need_add(&p0);
    let got = t.take_pending_add();
    assert_eq!(got.len(), 2);
    assert!(Arc::ptr_eq(&got[0], &p0) && Arc::ptr_eq(&got[1], &p1));
    assert!(t.take_pending_add().is_empty(), "taken");
}

#[test]
fn ending_drops_pending_adds() {
    let t = txn();
    let (_e, p) = partition();
    t.begin();
    t.need_add(&p);
    t.end();
    assert!(t.take_pending_add().is_empty());
}

#[tokio::test]
async fn need_add_wakes_the_adding_task() {
    let t = txn();
    let (_e, p) = partition();
    t.need_add(&p);
    // The permit is stored: a later wait returns at once.
    tokio::time::timeout(Duration::from_secs(1), t.add_notify.notified())
        .await
        .expect("notified");
}

#[test]
fn protocol_version_flag() {
    let t = txn();
    assert!(!t.is_v2());
    t.set_v2(true);
    assert!(t.is_v2());
    t.set_v2(false);
    assert!(!t.is_v2());
}

#[test]
fn errors_are_typed_with_the_id_kind_and_cause() {
    let t = txn();
    match t.error(TransactionErrorKind::Abortable, "oops", Some(Error::Closed)) {
        Error::Transaction {
            transactional_id,
            kind,
            message,
            cause,
        } => {
            assert_eq!(transactional_id, "tx-1");
            assert_eq!(kind, TransactionErrorKind::Abortable);
            assert_eq!(message, "oops");
            assert!(matches!(cause.as_deref(), Some(Error::Closed)));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        t.error(TransactionErrorKind::Fatal, "x", None),
        Error::Transaction { cause: None, .. }
    ));
}

#[test]
fn a_typed_transaction_error_keeps_its_kind() {
    let t = txn();
    for kind in [
        TransactionErrorKind::Abortable,
        TransactionErrorKind::Fatal,
        TransactionErrorKind::OutcomeUnknown,
    ] {
        // Even with a fencing cause, the kind given wins.
        let e = t.error(
            kind,
            "m",
            Some(broker(ErrorCode::PRODUCER_FENCED, ApiKey::EndTxn)),
        );
        assert_eq!(TxnShared::classify(&e), kind);
    }
}

#[test]
fn authorization_version_and_timeout_errors_are_fatal_on_any_api() {
    for code in [
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ErrorCode::CLUSTER_AUTHORIZATION_FAILED,
        ErrorCode::UNSUPPORTED_VERSION,
        ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT,
        ErrorCode::INVALID_TRANSACTION_TIMEOUT,
    ] {
        for api in [ApiKey::Produce, ApiKey::EndTxn, ApiKey::AddPartitionsToTxn] {
            assert_eq!(
                TxnShared::classify(&broker(code, api)),
                TransactionErrorKind::Fatal,
                "{code} on {api:?}"
            );
        }
    }
}

#[test]
fn fencing_without_an_api_is_fatal() {
    let e = Error::broker(
        ErrorCode::INVALID_PRODUCER_EPOCH,
        ErrorContext::default(),
        None,
    );
    assert_eq!(TxnShared::classify(&e), TransactionErrorKind::Fatal);
}

#[test]
fn other_failures_are_abortable() {
    let lost = Error::ConnectionLost {
        context: ErrorContext::default(),
        reason: "gone".into(),
    };
    for e in [
        lost,
        Error::Closed,
        broker(ErrorCode::NOT_LEADER_OR_FOLLOWER, ApiKey::Produce),
        broker(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER, ApiKey::Produce),
        broker(
            ErrorCode::CONCURRENT_TRANSACTIONS,
            ApiKey::AddPartitionsToTxn,
        ),
    ] {
        assert_eq!(
            TxnShared::classify(&e),
            TransactionErrorKind::Abortable,
            "{e:?}"
        );
    }
}

#[test]
fn authentication_failures_are_fatal() {
    let e = Error::Authentication {
        context: ErrorContext::default(),
        code: None,
        message: "bad password".into(),
    };
    assert_eq!(TxnShared::classify(&e), TransactionErrorKind::Fatal);
}
