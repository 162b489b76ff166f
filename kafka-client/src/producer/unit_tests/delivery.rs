//! `delivery.rs`: one completion cell per batch, settled once, futures following splits.

use std::task::{Context, Poll, Waker};

use futures::FutureExt;

use super::*;
use crate::error::Error;
use crate::producer::delivery::{BatchAck, BatchCompletion, wait_settled};

fn ok(base_offset: i64) -> crate::Result<BatchAck> {
    Ok(BatchAck {
        base_offset,
        log_append_time: None,
    })
}

fn cell() -> Arc<BatchCompletion> {
    BatchCompletion::new("t".into(), 2)
}

#[test]
fn a_cell_settles_once_and_keeps_its_first_result() {
    let c = cell();
    let f = DeliveryFuture::new(c.clone(), 0, 1);
    assert!(!c.is_settled());
    assert!(c.complete(ok(7)));
    assert!(c.is_settled());
    assert!(!c.complete(Err(Error::Closed)));
    assert!(!c.split(vec![(0, cell())]));
    assert_eq!(f.now_or_never().unwrap().unwrap().offset, 7);
}

#[test]
fn offsets_are_base_plus_index_with_topic_partition_and_create_time() {
    let c = cell();
    let f = DeliveryFuture::new(c.clone(), 3, 555);
    assert_eq!((f.partition(), f.timestamp()), (2, 555));
    c.complete(ok(100));
    let m = f.now_or_never().unwrap().unwrap();
    assert_eq!(
        (&*m.topic, m.partition, m.offset, m.timestamp),
        ("t", 2, 103, 555)
    );
}

#[test]
fn an_error_reaches_every_record() {
    let c = cell();
    let futs: Vec<_> = (0..3)
        .map(|i| DeliveryFuture::new(c.clone(), i, 0))
        .collect();
    c.complete(Err(Error::Config("x".into())));
    for f in futs {
        assert!(matches!(f.now_or_never(), Some(Err(Error::Config(_)))));
    }
}

#[test]
fn a_pending_future_stays_pending() {
    let c = cell();
    let mut f = DeliveryFuture::new(c.clone(), 0, 0);
    let cx = &mut Context::from_waker(Waker::noop());
    assert!(f.poll_unpin(cx).is_pending());
    assert!(f.poll_unpin(cx).is_pending());
    c.complete(ok(1));
    assert!(matches!(f.poll_unpin(cx), Poll::Ready(Ok(_))));
}

#[tokio::test]
async fn completion_wakes_a_waiting_task() {
    let c = cell();
    let f = DeliveryFuture::new(c.clone(), 1, 0);
    let task = tokio::spawn(f);
    tokio::task::yield_now().await;
    assert!(!task.is_finished());
    c.complete(ok(10));
    assert_eq!(task.await.unwrap().unwrap().offset, 11);
}

#[test]
fn futures_follow_nested_splits() {
    let whole = cell();
    let futs: Vec<_> = (0..6)
        .map(|i| DeliveryFuture::new(whole.clone(), i, 0))
        .collect();
    let (a, b) = (cell(), cell());
    whole.split(vec![(0, a.clone()), (3, b.clone())]);
    let (b1, b2) = (cell(), cell());
    b.split(vec![(0, b1.clone()), (1, b2.clone())]);
    a.complete(ok(0));
    b1.complete(ok(50));
    b2.complete(ok(70));
    let offsets: Vec<i64> = futs
        .into_iter()
        .map(|f| f.now_or_never().unwrap().unwrap().offset)
        .collect();
    assert_eq!(offsets, [0, 1, 2, 50, 70, 71]);
}

#[tokio::test(start_paused = true)]
async fn wait_settled_waits_for_every_part_of_a_split_batch() {
    let whole = cell();
    let (a, b) = (cell(), cell());
    let mut wait = Box::pin(wait_settled(vec![whole.clone()]));
    let cx = &mut Context::from_waker(Waker::noop());
    assert!(wait.poll_unpin(cx).is_pending());
    whole.split(vec![(0, a.clone()), (1, b.clone())]);
    assert!(wait.poll_unpin(cx).is_pending(), "the parts are pending");
    a.complete(ok(0));
    assert!(wait.poll_unpin(cx).is_pending(), "b is pending");
    b.complete(Err(Error::Closed));
    assert!(wait.poll_unpin(cx).is_ready());
}

#[tokio::test]
async fn wait_settled_of_nothing_is_immediate() {
    assert!(wait_settled(Vec::new()).now_or_never().is_some());
    let c = cell();
    c.complete(ok(0));
    assert!(wait_settled(vec![c]).now_or_never().is_some());
}
