//! The consumer-protocol member leaving (what the leave heartbeat carries, for a
//! dynamic and a static member, and that a member never joined sends none), waiting
//! for a revocation (the consumer closes meanwhile, the poll deadline passes, the
//! member expires meanwhile), topic ids looked up again, and the task's entry point. A child of `task.rs`; fixtures from `kip848_task.rs`.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use uuid::Uuid;

use super::super::heartbeat_state::Answer;
use super::tests::{T, events, member, run_steps};
use super::*;
use crate::consumer::GroupProtocol;
use crate::consumer::unit_tests::{shared_with, tp};

fn connection_errors(m: &Member) -> u64 {
    m.link.client.stats().connection_errors
}

fn answer(epoch: i32, interval_ms: i32, parts: Option<&[i32]>) -> Exchange {
    Exchange::Answer(Answer {
        member_id: None,
        epoch,
        interval_ms,
        assignment: parts.map(|p| ByTopicId::from([(T, p.iter().copied().collect())])),
    })
}

#[tokio::test(start_paused = true)]
async fn a_dynamic_member_leaves_with_epoch_minus_1_and_nothing_else() {
    let (mut m, _tx) = member();
    m.on_exchange(answer(5, 2_000, None));
    assert_eq!(
        m.leave_beat(),
        Beat {
            member_id: "m-1".into(),
            epoch: -1,
            instance_id: None,
            rebalance_timeout_ms: -1,
            ..Beat::default()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn a_static_member_leaves_with_epoch_minus_2_and_its_instance_id() {
    let sh = shared_with(|b| {
        b.group_id("g")
            .group_protocol(GroupProtocol::Consumer)
            .group_instance_id("i-1")
    });
    let link = Arc::new(CoordinatorLink::new(sh.client.clone(), "g".into()));
    let (_tx, rx) = mpsc::unbounded_channel();
    let m = Member::new(sh, link, rx, "m-7".into());
    let beat = m.leave_beat();
    assert_eq!(beat.epoch, -2);
    assert_eq!(beat.instance_id.as_deref(), Some("i-1"));
    assert_eq!(beat.member_id, "m-7");
    assert_eq!(beat.rebalance_timeout_ms, -1);
}

#[tokio::test(start_paused = true)]
async fn only_a_joined_member_sends_a_leave() {
    let (mut m, _tx) = member();
    let before = connection_errors(&m);
    m.leave().await;
    assert_eq!(connection_errors(&m), before, "never joined: nothing sent");
    assert_eq!(m.hb.epoch(), 0);

    let (mut m, _tx) = member();
    m.on_exchange(answer(2, 2_000, None));
    let before = connection_errors(&m);
    tokio::time::timeout(Duration::from_secs(600), m.leave())
        .await
        .expect("best effort, ends");
    assert!(
        connection_errors(&m) > before,
        "joined: the leave was tried"
    );
    assert_eq!(m.hb.epoch(), 0, "left");
    assert_eq!(m.shared.lock().group().generation, -1);
    assert!(!m.target_pending);
    assert!(m.announce_empty, "the next join announces its first target");
}

#[tokio::test(start_paused = true)]
async fn the_entry_point_runs_the_task_to_its_end() {
    let (m, _tx) = member();
    let shared = m.shared.clone();
    let link = m.link.clone();
    drop(m);
    shared.lock().close();
    let (tx, rx) = mpsc::unbounded_channel();
    let (done, left) = oneshot::channel();
    tx.send(GroupCommand::Leave { done }).expect("open");
    tokio::time::timeout(Duration::from_secs(600), run(shared, link, rx))
        .await
        .expect("a closed consumer's task ends");
    tokio::time::timeout(std::time::Duration::from_secs(60), left)
        .await
        .expect("not left waiting")
        .expect("the queued leave is answered");
}

/// A member owning t-0 and t-1 (epoch 1, heartbeat every `interval_ms`), then told to
/// give up t-0: returns it with the revocation not yet reconciled.
async fn revoking(interval_ms: i32) -> (Member, mpsc::UnboundedSender<GroupCommand>) {
    let (mut m, tx) = member();
    m.on_exchange(answer(1, interval_ms, Some(&[0, 1])));
    m.reconcile().await;
    run_steps(&m);
    m.shared.lock().polled(Instant::now());
    m.on_exchange(answer(2, interval_ms, Some(&[1])));
    (m, tx)
}

#[tokio::test(start_paused = true)]
async fn a_member_expired_by_its_heartbeats_during_a_revocation_stops_waiting() {
    // Heartbeats every 2 s, to no coordinator: one attempt fails after a minute of
    // connection retries, longer than the session (45 s), so the member expires while
    // the revocation waits for `poll`.
    let (mut m, _tx) = revoking(2_000).await;
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(600), m.reconcile())
        .await
        .expect("ends");
    assert!(
        m.attempt >= 1,
        "a heartbeat was sent (and failed) meanwhile"
    );
    assert!(!m.hb.joined(), "expired");
    assert!(
        Instant::now() - start < m.cfg().max_poll_interval,
        "not ended by the poll deadline"
    );
    assert_eq!(events(&m), vec!["revoke [t-0]", "lost [t-0, t-1]"]);
    assert!(m.owned.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_revocation_not_polled_in_time_loses_the_partitions() {
    // Heartbeats every 10 minutes: none before the poll deadline (5 minutes).
    let (mut m, _tx) = revoking(600_000).await;
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(600), m.reconcile())
        .await
        .expect("ends at the poll deadline");
    assert_eq!(Instant::now() - start, m.cfg().max_poll_interval);
    assert_eq!(m.owned, BTreeSet::from([tp("t", 1)]));
    let evs = events(&m);
    assert_eq!(
        evs.last().map(String::as_str),
        Some("lost [t-0]"),
        "{evs:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn closing_during_a_revocation_ends_the_wait_at_the_next_wake_keeping_the_set() {
    let (mut m, _tx) = revoking(600_000).await;
    let shared = m.shared.clone();
    let closer = async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        shared.lock().close();
    };
    let ((), ()) = tokio::join!(
        async {
            tokio::time::timeout(Duration::from_secs(600), m.reconcile())
                .await
                .expect("ends")
        },
        closer
    );
    // The close is seen at the next wake (here the poll deadline): the wait ends
    // without declaring anything lost, and nothing counts as revoked.
    assert_eq!(events(&m), vec!["revoke [t-0]"]);
    assert_eq!(m.owned, BTreeSet::from([tp("t", 0), tp("t", 1)]));
}

#[tokio::test(start_paused = true)]
async fn unknown_topic_ids_are_looked_up_again_a_second_later() {
    let (mut m, _tx) = member();
    let unknown = Uuid::from_u128(0x99);
    m.on_exchange(Exchange::Answer(Answer {
        member_id: None,
        epoch: 1,
        interval_ms: 2_000,
        assignment: Some(ByTopicId::from([(unknown, BTreeSet::from([0]))])),
    }));
    let start = Instant::now();
    tokio::time::timeout(Duration::from_secs(600), m.reconcile())
        .await
        .expect("ends");
    assert!(m.target_pending, "still unresolved");
    assert_eq!(m.next_resolve, start + Duration::from_secs(1));
    assert!(m.owned.is_empty());
}

#[tokio::test(start_paused = true)]
async fn known_topic_ids_need_no_look_up() {
    let (mut m, _tx) = member();
    m.on_exchange(answer(1, 2_000, Some(&[0])));
    let start = Instant::now();
    let before = connection_errors(&m);
    m.reconcile().await;
    assert_eq!(Instant::now(), start, "no metadata request");
    assert_eq!(connection_errors(&m), before);
    assert_eq!(m.owned, BTreeSet::from([tp("t", 0)]));
    assert!(!m.target_pending);
}
