//! `txn/mod.rs`: the work a transactional producer does in the background — the outcome
//! of a commit, abort or re-initialization applied to the status when settled, `close`
//! (waits for that work, bounded, then closes), the guard that fails a transaction whose
//! `send_offsets` was cancelled, and the task that adds partitions to transactions
//! (protocol v1) until the producer closes. A child of `txn/mod.rs`, wired there by one
//! `#[cfg(test)]` line. No coordinator is reached.

use std::sync::atomic::{AtomicBool, Ordering};

use super::unit_tests::txp;
use super::*;

fn ended(result: Result<()>, reinit: bool) -> Ended {
    Ended {
        result,
        also: None,
        reinit,
    }
}

fn fatal(p: &TransactionalProducer) -> Error {
    p.ctx.txn.error(TransactionErrorKind::Fatal, "fenced", None)
}

#[tokio::test(start_paused = true)]
async fn a_finished_reinit_makes_the_producer_ready() {
    let mut p = txp(false);
    p.status = Status::NeedsReinit;
    p.start(async { ended(Ok(()), true) });
    assert!(matches!(p.settle().await, Some(Ok(()))));
    assert!(matches!(p.status, Status::Ready));
}

#[tokio::test(start_paused = true)]
async fn a_finished_commit_or_abort_leaves_the_status_as_it_was() {
    let mut p = txp(false);
    let e = fatal(&p);
    p.status = Status::Fatal(e);
    p.start(async { ended(Ok(()), false) });
    assert!(matches!(p.settle().await, Some(Ok(()))));
    assert!(
        matches!(p.status, Status::Fatal(_)),
        "only a re-initialization makes the producer ready"
    );
    p.status = Status::NeedsReinit;
    p.start(async { ended(Ok(()), false) });
    p.settle().await;
    assert!(matches!(p.status, Status::NeedsReinit));
}

#[tokio::test(start_paused = true)]
async fn a_failed_reinit_keeps_the_producer_waiting_for_one() {
    let mut p = txp(false);
    p.status = Status::NeedsReinit;
    let unknown = p
        .ctx
        .txn
        .error(TransactionErrorKind::OutcomeUnknown, "timed out", None);
    p.start(async move { ended(Err(unknown), true) });
    assert!(matches!(p.settle().await, Some(Err(_))));
    assert!(matches!(p.status, Status::NeedsReinit));
}

#[tokio::test(start_paused = true)]
async fn close_waits_for_the_background_work_then_closes_the_producer() {
    let mut p = txp(false);
    let sh = p.producer.shared().clone();
    let done = Arc::new(AtomicBool::new(false));
    let flag = done.clone();
    p.start(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        flag.store(true, Ordering::Release);
        ended(Ok(()), false)
    });
    p.close(Duration::from_secs(5)).await.unwrap();
    assert!(
        done.load(Ordering::Acquire),
        "the abort or commit finished first"
    );
    assert!(sh.is_closing(), "the producer is closed");
    assert!(sh.check_open().is_err());
}

#[tokio::test(start_paused = true)]
async fn close_gives_up_waiting_at_its_timeout() {
    let mut p = txp(false);
    let sh = p.producer.shared().clone();
    p.start(std::future::pending());
    let start = tokio::time::Instant::now();
    p.close(Duration::from_secs(2)).await.unwrap();
    assert!(sh.is_closing());
    assert!(tokio::time::Instant::now() - start >= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_send_offsets_guard_fails_the_transaction_unless_defused() {
    let p = txp(false);
    FailIfDropped(Some(p.ctx.clone())).defuse();
    assert!(p.ctx.txn.failure().is_none(), "defused: completed normally");
    drop(FailIfDropped(Some(p.ctx.clone())));
    let e = p.ctx.txn.failure().expect("dropped armed");
    assert_eq!(e.transaction_kind(), Some(TransactionErrorKind::Abortable));
    assert!(e.to_string().contains("cancelled"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn the_partition_adding_task_runs_until_the_producer_closes_idle() {
    let p = txp(false);
    let task = tokio::spawn(add_partitions_task(p.ctx.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !task.is_finished(),
        "an open producer keeps adding partitions"
    );
    p.ctx.sh.begin_close();
    p.ctx.txn.add_notify.notify_one();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("closing and idle: the task ends")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_partition_adding_task_outlives_a_close_with_records_left() {
    let p = txp(false);
    let (_topic, part) = crate::producer::unit_tests::partition();
    let _f = crate::producer::unit_tests::append(&part, &p.ctx.sh.res, 10);
    p.ctx.sh.begin_close();
    let task = tokio::spawn(add_partitions_task(p.ctx.clone()));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !task.is_finished(),
        "records left may still need their partition added"
    );
    p.ctx.sh.abort();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("aborted: the task ends")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_transaction_shows_its_id_and_number() {
    let mut p = txp(false);
    let t = p.begin().await.unwrap();
    let dbg = format!("{t:?}");
    assert!(
        dbg.contains("Transaction") && dbg.contains("tx-9") && dbg.contains("generation: 1"),
        "{dbg}"
    );
    t.abort().await.unwrap();
}
