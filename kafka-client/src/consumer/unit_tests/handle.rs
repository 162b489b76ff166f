//! The handle's synchronous state changes (assign, seek, pause, the drain step of
//! `poll`, rebalance steps run at `poll`), on a consumer whose background tasks are
//! not started: nothing here reaches a broker.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::consumer::state::{AppEvent, Shared, State};
use crate::consumer::subscription::{InitState, ResetTarget, Subscription};
use crate::consumer::{Consumer, ConsumerBuilder, Handle, RebalanceListener, finish_event};
use crate::error::Error;
use crate::types::{BoxFuture, TopicPartition};

use super::{Spec, completed, offsets, shared_with, tp};

fn consumer_with(f: impl FnOnce(ConsumerBuilder) -> ConsumerBuilder) -> (Consumer, Arc<Shared>) {
    let sh = shared_with(f);
    let c = Consumer {
        inner: Arc::new(Handle {
            shared: sh.clone(),
            runtime: tokio::runtime::Handle::current(),
        }),
    };
    (c, sh)
}

fn consumer() -> (Consumer, Arc<Shared>) {
    consumer_with(|b| b)
}

/// Lets spawned rebalance steps run.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

fn buffer(sh: &Shared, t: &TopicPartition, specs: &[Spec], bytes: usize) {
    let mut st = sh.lock();
    let st = &mut *st;
    let epoch = st.partitions()[t].epoch;
    st.push_fetched(completed(t, epoch, specs, vec![], bytes));
}

fn position_at(sh: &Shared, t: &TopicPartition, at: i64) {
    sh.lock().partition_mut(t).unwrap().seek(at);
}

fn polled(c: &Consumer) -> Vec<(i32, i64)> {
    c.poll_now(500, None)
        .expect("open")
        .map(|r| offsets(r.records()))
        .unwrap_or_default()
}

#[tokio::test]
async fn assign_starts_new_partitions_at_their_committed_offset_and_keeps_the_others() {
    let (c, sh) = consumer();
    c.assign([("t", 0), ("t", 1)]).unwrap();
    assert_eq!(*sh.lock().subscription(), Subscription::Manual);
    position_at(&sh, &tp("t", 0), 5);
    let epoch = sh.lock().partitions()[&tp("t", 0)].epoch;
    c.assign([("t", 0), ("t", 2)]).unwrap();
    let st = sh.lock();
    assert_eq!(
        st.partitions().keys().cloned().collect::<Vec<_>>(),
        vec![tp("t", 0), tp("t", 2)]
    );
    let kept = &st.partitions()[&tp("t", 0)];
    assert_eq!(
        (kept.position, kept.init, kept.epoch),
        (5, InitState::Ready, epoch)
    );
    assert_eq!(st.partitions()[&tp("t", 2)].init, InitState::Committed);
}

#[tokio::test]
async fn assign_drops_the_buffered_data_of_partitions_it_removes() {
    let (c, sh) = consumer();
    c.assign([("t", 0), ("t", 1)]).unwrap();
    position_at(&sh, &tp("t", 0), 0);
    position_at(&sh, &tp("t", 1), 0);
    buffer(&sh, &tp("t", 0), &[Spec::data(0, 1)], 10);
    buffer(&sh, &tp("t", 1), &[Spec::data(0, 1)], 20);
    c.assign([("t", 0)]).unwrap();
    assert_eq!(sh.lock().buffered_bytes(), 10);
    assert_eq!(polled(&c), vec![(0, 0)]);
}

#[tokio::test]
async fn assigning_nothing_ends_the_manual_assignment() {
    let (c, sh) = consumer();
    c.assign([("t", 0)]).unwrap();
    c.assign(Vec::<TopicPartition>::new()).unwrap();
    let st = sh.lock();
    assert_eq!(*st.subscription(), Subscription::None);
    assert!(st.partitions().is_empty());
}

#[tokio::test]
async fn assign_and_subscribe_exclude_each_other() {
    let (c, sh) = consumer_with(|b| b.group_id("g"));
    c.assign([("t", 0)]).unwrap();
    let e = c.subscribe(["t"]).expect_err("manual");
    assert!(
        matches!(&e, Error::InvalidState(m) if m.contains("unsubscribe")),
        "{e}"
    );
    assert_eq!(*sh.lock().subscription(), Subscription::Manual);
    sh.lock()
        .fixture_subscription(Subscription::Topics(BTreeSet::from(["t".to_string()])));
    let e = c.assign([("t", 1)]).expect_err("subscribed");
    assert!(
        matches!(&e, Error::InvalidState(m) if m.contains("subscribed")),
        "{e}"
    );
    assert!(!sh.lock().partitions().contains_key(&tp("t", 1)));
}

#[tokio::test]
async fn subscribe_needs_a_group_and_real_topic_names() {
    let (c, _) = consumer();
    let e = c.subscribe(["t"]).expect_err("no group");
    assert!(
        matches!(&e, Error::InvalidState(m) if m.contains("group.id")),
        "{e}"
    );
    let (c, sh) = consumer_with(|b| b.group_id("g"));
    assert!(c.subscribe(Vec::<String>::new()).is_err());
    assert!(c.subscribe(["t", " "]).is_err());
    assert_eq!(*sh.lock().subscription(), Subscription::None);
}

#[tokio::test]
async fn a_closed_or_failed_consumer_refuses_work() {
    let (c, sh) = consumer();
    sh.lock().set_fatal(Error::InvalidState("fenced".into()));
    assert!(matches!(c.poll_now(10, None), Err(Error::InvalidState(m)) if m == "fenced"));
    assert!(matches!(c.assign([("t", 0)]), Err(Error::InvalidState(_))));
    sh.lock().close();
    assert!(matches!(c.poll_now(10, None), Err(Error::Closed)));
    assert!(matches!(c.assign([("t", 0)]), Err(Error::Closed)));
}

#[tokio::test]
async fn seek_needs_an_owned_partition_and_a_real_offset() {
    let (c, sh) = consumer();
    c.assign([("t", 0)]).unwrap();
    assert!(c.seek(("t", 0), -1).is_err());
    assert!(c.seek(("t", 9), 0).is_err(), "not assigned");
    sh.lock().partition_mut(&tp("t", 0)).unwrap().revoking = true;
    assert!(c.seek(("t", 0), 0).is_err(), "being revoked");
    assert!(
        c.assignment().is_empty(),
        "a revoking partition is not listed"
    );
}

#[tokio::test]
async fn seek_drops_buffered_data_of_that_partition_only() {
    let (c, sh) = consumer();
    c.assign([("t", 0), ("t", 1)]).unwrap();
    position_at(&sh, &tp("t", 0), 0);
    position_at(&sh, &tp("t", 1), 0);
    buffer(&sh, &tp("t", 0), &[Spec::data(0, 3)], 30);
    buffer(&sh, &tp("t", 1), &[Spec::data(0, 1)], 5);
    sh.lock().partition_mut(&tp("t", 0)).unwrap().init = InitState::Failed;
    c.seek(("t", 0), 2).unwrap();
    {
        let st = sh.lock();
        assert_eq!(st.buffered_bytes(), 5);
        let p = &st.partitions()[&tp("t", 0)];
        assert_eq!(
            (p.position, p.fetch_offset, p.init),
            (2, 2, InitState::Ready)
        );
        assert_eq!(p.buffered_bytes, 0);
    }
    assert_eq!(polled(&c), vec![(1, 0)]);
}

#[tokio::test]
async fn seek_to_beginning_and_end_ask_for_lookups() {
    let (c, sh) = consumer();
    c.assign([("t", 0), ("t", 1)]).unwrap();
    position_at(&sh, &tp("t", 0), 7);
    buffer(&sh, &tp("t", 0), &[Spec::data(7, 1)], 8);
    let epoch = sh.lock().partitions()[&tp("t", 0)].epoch;
    c.seek_to_beginning([("t", 0)]).unwrap();
    c.seek_to_end([("t", 1)]).unwrap();
    let st = sh.lock();
    let p0 = &st.partitions()[&tp("t", 0)];
    assert_eq!(p0.init, InitState::Reset(ResetTarget::Earliest));
    assert_ne!(p0.epoch, epoch);
    assert_eq!(st.buffered_bytes(), 0);
    assert_eq!(
        st.partitions()[&tp("t", 1)].init,
        InitState::Reset(ResetTarget::Latest)
    );
    drop(st);
    assert!(c.seek_to_end([("t", 5)]).is_err());
}

#[tokio::test]
async fn pause_and_resume_gate_delivery() {
    let (c, sh) = consumer();
    c.assign([("t", 0), ("t", 1)]).unwrap();
    position_at(&sh, &tp("t", 0), 0);
    position_at(&sh, &tp("t", 1), 0);
    buffer(&sh, &tp("t", 0), &[Spec::data(0, 2)], 10);
    buffer(&sh, &tp("t", 1), &[Spec::data(0, 1)], 10);
    c.pause([("t", 0)]).unwrap();
    assert_eq!(c.paused(), BTreeSet::from([tp("t", 0)]));
    assert!(c.pause([("t", 3)]).is_err());
    assert_eq!(polled(&c), vec![(1, 0)]);
    assert!(c.poll_now(500, None).unwrap().is_none(), "held, not lost");
    c.resume([("t", 0)]).unwrap();
    assert!(c.paused().is_empty());
    assert_eq!(polled(&c), vec![(0, 0), (0, 1)]);
}

#[tokio::test]
async fn poll_returns_errors_first_and_at_most_max_records() {
    let (c, sh) = consumer();
    c.assign([("t", 0)]).unwrap();
    position_at(&sh, &tp("t", 0), 0);
    buffer(&sh, &tp("t", 0), &[Spec::data(0, 5)], 10);
    sh.lock().push_error(crate::consumer::PartitionError {
        topic_partition: tp("t", 4),
        error: Error::InvalidState("x".into()),
    });
    let r = c.poll_now(3, None).unwrap().unwrap();
    assert_eq!(r.errors().len(), 1);
    assert_eq!(offsets(r.records()), vec![(0, 0), (0, 1), (0, 2)]);
    assert!(sh.lock().pending_errors().is_empty());
    let r = c.poll_now(3, None).unwrap().unwrap();
    assert!(r.errors().is_empty());
    assert_eq!(offsets(r.records()), vec![(0, 3), (0, 4)]);
    assert!(c.poll_now(3, None).unwrap().is_none());
    assert_eq!(sh.lock().partitions()[&tp("t", 0)].position, 5);
}

#[tokio::test(start_paused = true)]
async fn poll_records_when_the_application_last_polled() {
    let (c, sh) = consumer();
    let before = sh.lock().last_poll();
    tokio::time::advance(Duration::from_secs(3)).await;
    assert!(c.poll_now(10, None).unwrap().is_none());
    assert_eq!(sh.lock().last_poll() - before, Duration::from_secs(3));
}

#[tokio::test(start_paused = true)]
async fn position_waits_for_a_lookup_and_gives_up_at_the_api_timeout() {
    let (c, sh) = consumer();
    c.assign([("t", 0)]).unwrap();
    assert!(c.position(("t", 1)).await.is_err(), "not assigned");
    let e = c.position(("t", 0)).await.expect_err("never positioned");
    assert!(matches!(e, Error::Deadline { .. }), "{e}");
    let waiter = {
        let c = c.clone();
        tokio::spawn(async move { c.position(("t", 0)).await })
    };
    settle().await;
    position_at(&sh, &tp("t", 0), 12);
    sh.data_ready.notify_waiters();
    assert_eq!(waiter.await.unwrap().unwrap(), 12);
}

#[tokio::test]
async fn unsubscribe_of_a_manual_assignment_drops_everything() {
    let (c, sh) = consumer();
    c.assign([("t", 0)]).unwrap();
    position_at(&sh, &tp("t", 0), 0);
    buffer(&sh, &tp("t", 0), &[Spec::data(0, 1)], 10);
    c.unsubscribe().await.unwrap();
    let st = sh.lock();
    assert!(st.partitions().is_empty());
    assert_eq!(st.buffered_bytes(), 0);
    assert_eq!(*st.subscription(), Subscription::None);
}

#[tokio::test]
async fn an_assigned_step_lets_records_out_once_it_ran() {
    let (c, sh) = consumer();
    c.assign([("t", 0)]).unwrap();
    position_at(&sh, &tp("t", 0), 0);
    buffer(&sh, &tp("t", 0), &[Spec::data(0, 1)], 10);
    {
        let mut st = sh.lock();
        st.partition_mut(&tp("t", 0)).unwrap().awaiting_callback = true;
        st.post(AppEvent::Assigned {
            partitions: vec![tp("t", 0)],
        });
    }
    assert!(
        c.poll_now(10, None).unwrap().is_none(),
        "the step starts, no records yet"
    );
    assert!(sh.lock().event_running());
    settle().await;
    assert!(!sh.lock().event_running());
    assert!(!sh.lock().partitions()[&tp("t", 0)].awaiting_callback);
    assert_eq!(polled(&c), vec![(0, 0)]);
}

#[tokio::test]
async fn a_revoke_step_stops_drops_and_releases_the_group_task() {
    let (c, sh) = consumer();
    c.assign([("t", 0), ("t", 1)]).unwrap();
    position_at(&sh, &tp("t", 0), 0);
    position_at(&sh, &tp("t", 1), 0);
    buffer(&sh, &tp("t", 0), &[Spec::data(0, 1)], 10);
    buffer(&sh, &tp("t", 1), &[Spec::data(0, 1)], 20);
    let (done, mut released) = oneshot::channel();
    sh.lock().post(AppEvent::Revoke {
        partitions: vec![tp("t", 0)],
        done,
    });
    // The step starts in this poll: t-0's data is gone, t-1's still comes out.
    assert_eq!(polled(&c), vec![(1, 0)]);
    {
        let st = sh.lock();
        assert!(st.partitions()[&tp("t", 0)].revoking);
        assert_eq!(st.buffered_bytes(), 0);
    }
    assert_eq!(c.assignment(), BTreeSet::from([tp("t", 1)]));
    settle().await;
    assert!(released.try_recv().is_ok(), "the group task may rejoin");
    assert!(!sh.lock().partitions().contains_key(&tp("t", 0)));
    assert!(!sh.lock().event_running());
}

#[tokio::test]
async fn steps_run_one_at_a_time_in_order() {
    let (c, sh) = consumer();
    c.assign([("t", 0), ("t", 1)]).unwrap();
    {
        let mut st = sh.lock();
        st.partition_mut(&tp("t", 1)).unwrap().revoking = true;
        st.post(AppEvent::Lost {
            partitions: vec![tp("t", 1)],
        });
        st.post(AppEvent::Assigned {
            partitions: vec![tp("t", 0)],
        });
    }
    let _ = c.poll_now(10, None).unwrap();
    assert_eq!(sh.lock().queued_events().len(), 1, "the second waits");
    let _ = c.poll_now(10, None).unwrap();
    assert_eq!(sh.lock().queued_events().len(), 1, "still running");
    settle().await;
    assert!(
        !sh.lock().partitions().contains_key(&tp("t", 1)),
        "lost: removed"
    );
    let _ = c.poll_now(10, None).unwrap();
    assert!(sh.lock().queued_events().is_empty());
}

#[tokio::test]
async fn finishing_a_step_removes_only_its_revoking_partitions() {
    let (c, sh) = consumer();
    c.assign([("t", 0), ("t", 1), ("t", 2)]).unwrap();
    {
        let mut st = sh.lock();
        running_a_step(&mut st);
        st.partition_mut(&tp("t", 0)).unwrap().revoking = true;
        st.partition_mut(&tp("t", 2)).unwrap().revoking = true;
    }
    finish_event(&sh, &[tp("t", 0), tp("t", 1)]);
    {
        let st = sh.lock();
        assert_eq!(
            st.partitions().keys().cloned().collect::<Vec<_>>(),
            vec![tp("t", 1), tp("t", 2)]
        );
        assert!(!st.event_running());
    }
    running_a_step(&mut sh.lock());
    finish_event(&sh, &[]);
    assert!(
        sh.lock().partitions().contains_key(&tp("t", 2)),
        "not removing"
    );
    assert!(!sh.lock().event_running());
    drop(c);
}

#[derive(Default)]
struct Log(Mutex<Vec<String>>);

struct Recorder(Arc<Log>);

impl RebalanceListener for Recorder {
    fn assigned(&self, _c: Consumer, parts: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        self.0.0.lock().unwrap().push(format!("assigned {parts:?}"));
        Box::pin(async {})
    }
    fn revoked(&self, c: Consumer, parts: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        // Positions are still readable while `revoked` runs.
        let pos = c
            .shared()
            .lock()
            .partitions()
            .get(&parts[0])
            .map(|p| p.position);
        self.0
            .0
            .lock()
            .unwrap()
            .push(format!("revoked {parts:?} at {pos:?}"));
        Box::pin(async {})
    }
}

#[tokio::test]
async fn listener_calls_follow_the_steps_revoked_before_assigned_and_lost_as_revoked() {
    let log = Arc::new(Log::default());
    let l = log.clone();
    let (c, sh) = consumer_with(move |b| b.rebalance_listener(Arc::new(Recorder(l))));
    c.assign([("t", 0), ("t", 1), ("t", 2)]).unwrap();
    position_at(&sh, &tp("t", 0), 4);
    let (done, _rx) = oneshot::channel();
    {
        let mut st = sh.lock();
        st.partition_mut(&tp("t", 2)).unwrap().revoking = true;
        st.post(AppEvent::Revoke {
            partitions: vec![tp("t", 0)],
            done,
        });
        st.post(AppEvent::Assigned {
            partitions: vec![tp("t", 1)],
        });
        st.post(AppEvent::Lost {
            partitions: vec![tp("t", 2)],
        });
    }
    for _ in 0..3 {
        let _ = c.poll_now(10, None).unwrap();
        settle().await;
    }
    assert_eq!(
        *log.0.lock().unwrap(),
        vec![
            "revoked [t-0] at Some(4)".to_string(),
            "assigned [t-1]".to_string(),
            "revoked [t-2] at Some(-1)".to_string(),
        ]
    );
    assert_eq!(c.assignment(), BTreeSet::from([tp("t", 1)]));
}

/// Marks a rebalance step as running, as `poll` does when it takes one.
fn running_a_step(st: &mut State) {
    st.post(AppEvent::Assigned { partitions: vec![] });
    assert!(st.next_event().is_some());
    assert!(st.event_running());
}
