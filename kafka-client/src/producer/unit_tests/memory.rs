//! `memory.rs`: the `buffer.memory` byte budget.

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use tokio::time::{Instant, advance};

use crate::error::Error;
use crate::producer::memory::Memory;

#[test]
fn try_reserve_takes_up_to_capacity_and_no_more() {
    let m = Memory::new(100);
    m.try_reserve(100).unwrap();
    assert_eq!(m.available(), 0);
    assert!(matches!(
        m.try_reserve(1),
        Err(Error::BufferFull {
            requested: 1,
            capacity: 100,
            ..
        })
    ));
    m.release(1);
    m.try_reserve(1).unwrap();
}

#[test]
fn releasing_nothing_changes_nothing() {
    let m = Memory::new(10);
    m.release(0);
    assert_eq!(m.available(), 10);
    m.try_reserve(4).unwrap();
    m.release(4);
    assert_eq!(m.available(), 10);
    assert_eq!(m.capacity(), 10);
}

#[test]
fn a_request_beyond_u32_is_refused_not_truncated() {
    let m = Memory::new(100);
    let huge = u32::MAX as usize + 1;
    assert!(matches!(m.try_reserve(huge), Err(Error::BufferFull { .. })));
    assert_eq!(m.available(), 100);
}

#[tokio::test(start_paused = true)]
async fn reserve_waits_for_released_bytes() {
    let m = Arc::new(Memory::new(100));
    m.try_reserve(100).unwrap();
    let waiting = m.clone();
    let task = tokio::spawn(async move {
        waiting
            .reserve(40, Instant::now() + Duration::from_secs(5), || {})
            .await
    });
    tokio::task::yield_now().await;
    assert!(m.has_waiters());
    m.release(39);
    tokio::task::yield_now().await;
    assert!(!task.is_finished(), "39 bytes are not 40");
    m.release(1);
    task.await.unwrap().unwrap();
    assert!(!m.has_waiters());
    assert_eq!(m.available(), 0);
}

#[tokio::test(start_paused = true)]
async fn reserve_times_out_at_its_deadline_and_says_how_long_it_waited() {
    let m = Memory::new(10);
    m.try_reserve(10).unwrap();
    let mut called = 0;
    let err = m
        .reserve(5, Instant::now() + Duration::from_millis(250), || {
            called += 1
        })
        .await
        .unwrap_err();
    assert_eq!(called, 1, "on_wait runs once when waiting starts");
    match err {
        Error::BufferFull {
            requested, waited, ..
        } => {
            assert_eq!(requested, 5);
            assert_eq!(waited, Duration::from_millis(250));
        }
        other => panic!("{other:?}"),
    }
    assert!(!m.has_waiters());
}

#[tokio::test(start_paused = true)]
async fn a_cancelled_wait_is_no_longer_counted() {
    let m = Memory::new(10);
    m.try_reserve(10).unwrap();
    let mut fut = Box::pin(m.reserve(5, Instant::now() + Duration::from_secs(1), || {}));
    assert!((&mut fut).now_or_never().is_none());
    assert!(m.has_waiters());
    drop(fut);
    assert!(!m.has_waiters());
}

#[tokio::test(start_paused = true)]
async fn waiters_are_served_first_come_first_served() {
    let m = Arc::new(Memory::new(10));
    m.try_reserve(10).unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    let big = {
        let m = m.clone();
        tokio::spawn(async move { m.reserve(8, deadline, || {}).await })
    };
    tokio::task::yield_now().await;
    let small = {
        let m = m.clone();
        tokio::spawn(async move { m.reserve(2, deadline, || {}).await })
    };
    tokio::task::yield_now().await;
    m.release(3);
    tokio::task::yield_now().await;
    assert!(!big.is_finished());
    assert!(
        !small.is_finished(),
        "the small request waits behind the big one"
    );
    m.release(5);
    big.await.unwrap().unwrap();
    m.release(8);
    small.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn close_fails_waiting_and_later_reservations() {
    let m = Arc::new(Memory::new(10));
    m.try_reserve(10).unwrap();
    let waiting = {
        let m = m.clone();
        tokio::spawn(async move {
            m.reserve(1, Instant::now() + Duration::from_secs(5), || {})
                .await
        })
    };
    tokio::task::yield_now().await;
    m.close();
    assert!(matches!(waiting.await.unwrap(), Err(Error::Closed)));
    m.release(10);
    assert!(matches!(m.try_reserve(1), Err(Error::Closed)));
    advance(Duration::from_millis(1)).await;
    assert!(matches!(
        m.reserve(1, Instant::now() + Duration::from_secs(1), || {})
            .await,
        Err(Error::Closed)
    ));
}

#[tokio::test(start_paused = true)]
async fn no_wait_when_room_is_free() {
    let m = Memory::new(10);
    let mut called = false;
    m.reserve(10, Instant::now(), || called = true)
        .await
        .unwrap();
    assert!(!called);
    assert_eq!(m.available(), 0);
}
