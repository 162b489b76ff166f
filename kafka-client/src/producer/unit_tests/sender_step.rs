//! `sender.rs`, the task's loop: one `step` (follow leader changes, fill the in-flight
//! window, fail expired batches, decide whether to stop and when to look again) and
//! `run` around it (handles answers, ends when closing and idle). A child of
//! `sender.rs`, wired there by one `#[cfg(test)]` line. No request is sent: requests
//! are counted in the window unpolled, or replaced by futures that end at once.

use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{Instant, advance};

use super::unit_tests::{Rig, rig, rig_with, settled};
use super::*;
use crate::producer::Producer;
use crate::producer::unit_tests::{P0, append, take_now};

/// A request that never ends.
fn stuck() -> BoxFuture<'static, Completed> {
    Box::pin(futures::future::pending())
}

/// A sender whose partition list is up to date (so `step` keeps the rig's partition).
fn listed(r: Rig) -> Rig {
    let mut r = r;
    r.sender.seen_epoch = Some(r.sender.sh.routing_epoch());
    r
}

/// `n` records of 60 bytes, each in a batch of its own (batch.size 100).
fn batches(r: &Rig, n: usize) -> Vec<crate::producer::delivery::DeliveryFuture> {
    (0..n)
        .map(|_| append(&r.part, &r.sender.sh.res, 60))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn step_relists_partitions_only_when_the_routing_changed() {
    let mut r = rig();
    // The producer's registry is empty: re-listing finds no partition for broker 1.
    assert_eq!(r.sender.step().await, Some(None));
    assert!(r.sender.parts.is_empty(), "listed on the first step");
    assert_eq!(r.sender.seen_epoch, Some(r.sender.sh.routing_epoch()));
    r.sender.parts.push(r.part.clone());
    r.sender.step().await;
    assert_eq!(r.sender.parts.len(), 1, "same epoch: the list is kept");
    r.sender.sh.rerouted();
    r.sender.step().await;
    assert!(r.sender.parts.is_empty(), "a new epoch: listed again");
    assert_eq!(r.sender.seen_epoch, Some(r.sender.sh.routing_epoch()));
}

#[tokio::test(start_paused = true)]
async fn an_idempotent_sender_without_a_connection_sends_one_request_at_a_time() {
    let mut r = listed(rig_with(Producer::builder().batch_size(100)));
    r.sender.sh.set_producer(P0);
    let _f = batches(&r, 4);
    assert_eq!(r.sender.step().await, Some(None));
    assert_eq!(r.sender.in_flight.len(), 1);
    assert!(r.part.has_unsent());
    r.sender.step().await;
    assert_eq!(r.sender.in_flight.len(), 1, "still one: no connection yet");
}

#[tokio::test(start_paused = true)]
async fn a_sender_fills_the_in_flight_window_and_no_more() {
    let mut r = listed(rig_with(
        Producer::builder()
            .batch_size(100)
            .enable_idempotence(false)
            .max_in_flight(3),
    ));
    let _f = batches(&r, 6);
    r.sender.step().await;
    assert_eq!(r.sender.in_flight.len(), 3);
    assert!(r.part.has_unsent(), "the rest waits for an answer");
}

#[tokio::test(start_paused = true)]
async fn a_sender_stops_filling_when_nothing_is_ready() {
    let mut r = listed(rig_with(
        Producer::builder()
            .batch_size(100)
            .linger(Duration::from_millis(10))
            .enable_idempotence(false)
            .max_in_flight(5),
    ));
    let _f = batches(&r, 2); // two full batches
    let _open = append(&r.part, &r.sender.sh.res, 5); // and an open one, lingering
    let next = r.sender.step().await;
    assert_eq!(r.sender.in_flight.len(), 2);
    let linger = r.sender.sh.config.linger;
    assert_eq!(
        next,
        Some(Some(Instant::now() + linger)),
        "the open batch's due time"
    );
}

#[tokio::test(start_paused = true)]
async fn step_fails_batches_that_expired_while_queued() {
    let mut r = listed(rig_with(Producer::builder().enable_idempotence(false)));
    let f = append(&r.part, &r.sender.sh.res, 10);
    advance(r.sender.sh.config.delivery_timeout).await;
    r.sender.step().await;
    assert!(r.sender.in_flight.is_empty());
    assert!(matches!(settled(f), Err(Error::DeliveryTimeout { .. })));
}

#[tokio::test(start_paused = true)]
async fn an_aborted_sender_stops_at_once() {
    let mut r = listed(rig());
    r.sender.in_flight.push(stuck());
    r.sender.sh.abort();
    assert_eq!(r.sender.step().await, None);
}

#[tokio::test(start_paused = true)]
async fn a_closing_sender_with_a_request_in_flight_polls_until_it_is_answered() {
    let mut r = listed(rig());
    r.sender.in_flight.push(stuck());
    r.sender.sh.begin_close();
    assert_eq!(
        r.sender.step().await,
        Some(Some(Instant::now() + Shared::STOP_POLL))
    );
}

#[tokio::test(start_paused = true)]
async fn a_closing_sender_with_records_left_polls_until_they_are_delivered() {
    let mut r = listed(rig());
    let _f = append(&r.part, &r.sender.sh.res, 10);
    // Taken and answered with a retriable error: it waits out its backoff, unsent.
    let b = take_now(&r.part, 1, Some(P0)).unwrap();
    r.fail(b, ErrorCode::NOT_ENOUGH_REPLICAS);
    r.sender.sh.begin_close();
    let next = r.sender.step().await;
    assert!(r.sender.in_flight.is_empty(), "held by the backoff");
    assert_eq!(next, Some(Some(Instant::now() + Shared::STOP_POLL)));
}

#[tokio::test(start_paused = true)]
async fn a_closing_sender_with_nothing_left_stops() {
    let mut r = listed(rig());
    r.sender.sh.begin_close();
    assert_eq!(r.sender.step().await, None);
}

#[tokio::test(start_paused = true)]
async fn the_sender_task_runs_until_the_producer_closes_and_is_idle() {
    let r = rig();
    let sh = r.sender.sh.clone();
    let me = Arc::new(SenderHandle {
        broker: 1,
        notify: Notify::new(),
    });
    let task = tokio::spawn(run(sh.clone(), me.clone()));
    advance(Duration::from_secs(5)).await;
    tokio::task::yield_now().await;
    assert!(
        !task.is_finished(),
        "an open producer's sender keeps running"
    );
    sh.begin_close();
    me.notify.notify_one();
    tokio::time::timeout(Duration::from_secs(1), task)
        .await
        .expect("closing and idle: the task ends")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn the_sender_task_settles_batches_from_the_answers_it_gets() {
    let mut r = listed(rig_with(
        Producer::builder()
            .acks(crate::producer::Acks::None)
            .enable_idempotence(false),
    ));
    let f = append(&r.part, &r.sender.sh.res, 10);
    let b = take_now(&r.part, 1, None).unwrap();
    let part = r.part.clone();
    r.sender.in_flight.push(Box::pin(async move {
        Completed {
            batches: vec![(part, b)],
            result: Ok(None),
            version: 9,
            conn: None,
        }
    }));
    let sh = r.sender.sh.clone();
    let me = r.sender.me.clone();
    let sender = std::mem::replace(&mut r.sender, Sender::new(sh, me));
    let task = tokio::spawn(sender.run());
    let ack = tokio::time::timeout(Duration::from_secs(1), f)
        .await
        .expect("the answer was handled");
    assert_eq!(ack.unwrap().offset, -1);
    assert!(!task.is_finished());
    task.abort();
}
