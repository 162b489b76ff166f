//! The consumer-protocol member task's loop: what `Member::turn` decides (stop when
//! closed, wait when unsubscribed, reconcile a pending target, otherwise wait for the
//! heartbeat, the next topic-id look-up or the poll deadline, whichever comes first),
//! when a heartbeat is due, and `Member::run` driven without a coordinator (commands,
//! the handle dropped, a closed consumer). A child of `task.rs`.

use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use super::tests::{member, target};
use super::*;

const HOUR: Duration = Duration::from_secs(3600);

/// An answer that joins the member (epoch 1) with no target and a long interval.
fn join(m: &mut Member, interval_ms: i32) {
    m.on_exchange(Exchange::Answer(super::super::heartbeat_state::Answer {
        member_id: None,
        epoch: 1,
        interval_ms,
        assignment: None,
    }));
    assert!(m.hb.joined());
}

#[tokio::test(start_paused = true)]
async fn a_closed_consumer_stops_the_loop_first() {
    let (mut m, _tx) = member();
    m.on_exchange(target(1, &[0]));
    assert!(m.target_pending);
    m.shared.lock().close();
    assert_eq!(m.turn(Instant::now()), Turn::Closed);
}

#[tokio::test(start_paused = true)]
async fn an_unsubscribed_member_only_waits_for_commands() {
    let (mut m, _tx) = member();
    m.shared.lock().fixture_subscription(Subscription::None);
    m.on_subscribe();
    let now = Instant::now();
    assert_eq!(m.turn(now), Turn::Unsubscribed(now + HOUR));
}

#[tokio::test(start_paused = true)]
async fn a_new_member_beats_at_once() {
    let (m, _tx) = member();
    let now = Instant::now();
    assert_eq!(m.turn(now), Turn::Wait(now), "joins at once");
    assert!(m.beat_due(now));
}

#[tokio::test(start_paused = true)]
async fn a_heartbeat_is_due_at_its_time_not_before() {
    let (mut m, _tx) = member();
    let now = Instant::now();
    m.hb.on_failure(now, Duration::from_secs(2));
    let at = now + Duration::from_secs(2);
    assert!(!m.beat_due(at - Duration::from_millis(1)));
    assert!(m.beat_due(at));
    assert!(m.beat_due(at + Duration::from_millis(1)));
    assert_eq!(m.turn(now), Turn::Wait(at), "not joined: no poll deadline");
}

#[tokio::test(start_paused = true)]
async fn a_pending_target_is_reconciled_when_its_look_up_is_due() {
    let (mut m, _tx) = member();
    m.on_exchange(target(1, &[0]));
    let now = Instant::now();
    assert_eq!(m.turn(now), Turn::Reconcile);
    m.next_resolve = now + Duration::from_millis(500);
    assert_eq!(
        m.turn(now),
        Turn::Wait(now + Duration::from_millis(500)),
        "the look-up comes before the heartbeat (2 s)"
    );
    assert_eq!(
        m.turn(now + Duration::from_millis(500)),
        Turn::Reconcile,
        "due at its time"
    );
    m.target_pending = false;
    assert_eq!(
        m.turn(now),
        Turn::Wait(now + Duration::from_secs(2)),
        "nothing pending: the look-up time does not count"
    );
}

#[tokio::test(start_paused = true)]
async fn a_joined_member_wakes_for_the_poll_deadline() {
    let (mut m, _tx) = member();
    // The coordinator asks for a heartbeat every 10 minutes, after max.poll.interval.
    join(&mut m, 600_000);
    let now = Instant::now();
    let deadline = m.shared.lock().poll_deadline(m.cfg().max_poll_interval);
    assert!(deadline < now + Duration::from_secs(600));
    assert_eq!(m.turn(now), Turn::Wait(deadline));
    // A sooner heartbeat still wins.
    m.hb.beat_now(now + Duration::from_secs(1));
    assert_eq!(m.turn(now), Turn::Wait(now + Duration::from_secs(1)));
}

#[tokio::test(start_paused = true)]
async fn a_member_not_joined_ignores_the_poll_deadline() {
    let (mut m, _tx) = member();
    let now = Instant::now();
    m.hb.on_failure(now, Duration::from_secs(600));
    assert_eq!(m.turn(now), Turn::Wait(now + Duration::from_secs(600)));
}

/// Runs the task until it returns, on the paused clock; panics after a simulated hour.
async fn run_to_end(m: &mut Member) {
    tokio::time::timeout(HOUR * 2, m.run())
        .await
        .expect("the task ends");
}

#[tokio::test(start_paused = true)]
async fn the_task_ends_when_the_handle_is_dropped() {
    let (mut m, tx) = member();
    m.shared.lock().fixture_subscription(Subscription::None);
    m.on_subscribe();
    drop(tx);
    run_to_end(&mut m).await;
}

#[tokio::test(start_paused = true)]
async fn an_unsubscribed_task_waits_for_a_leave_and_answers_it() {
    let (mut m, tx) = member();
    m.shared.lock().fixture_subscription(Subscription::None);
    m.on_subscribe();
    let (done, left) = oneshot::channel();
    let sender = async {
        tokio::time::sleep(HOUR / 2).await;
        tx.send(GroupCommand::Leave { done }).expect("task alive");
    };
    let ((), ()) = tokio::join!(run_to_end(&mut m), sender);
    assert!(m.stopped);
    tokio::time::timeout(std::time::Duration::from_secs(60), left)
        .await
        .expect("not left waiting")
        .expect("the leave is answered");
}

#[tokio::test(start_paused = true)]
async fn a_subscribe_command_reaches_an_idle_task() {
    let (mut m, tx) = member();
    m.shared.lock().fixture_subscription(Subscription::None);
    m.on_subscribe();
    tx.send(GroupCommand::Subscribe).expect("open");
    drop(tx);
    // The subscription is still none: the task stays idle until the handle is gone.
    run_to_end(&mut m).await;
    assert!(!m.subscribed());
    assert!(!m.stopped, "ended by the handle, not by a leave");
}

#[tokio::test(start_paused = true)]
async fn a_closed_consumer_answers_the_queued_leave_and_stops() {
    let (mut m, tx) = member();
    m.owned.insert(crate::consumer::unit_tests::tp("t", 1));
    m.shared.lock().close();
    let (done, left) = oneshot::channel();
    tx.send(GroupCommand::Subscribe).expect("open");
    tx.send(GroupCommand::Leave { done }).expect("open");
    run_to_end(&mut m).await;
    tokio::time::timeout(std::time::Duration::from_secs(60), left)
        .await
        .expect("not left waiting")
        .expect("the leave is answered");
    assert!(m.owned.is_empty(), "left");
    // The handle is still there: the task stopped because the consumer is closed.
    drop(tx);
}
