//! The coordinator's commit policy (Java's `ConsumerCoordinatorTest`, auto-commit
//! part): when auto-commit fires, what it commits, who commits, and the request path
//! that needs no broker.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::consumer::coordinator::{
    AutoCommitTimer, checked_committer, committer, consumed_offsets,
};
use crate::consumer::group::GroupCommand;
use crate::consumer::group::commit::{Committer, commit};
use crate::consumer::state::{Shared, State};
use crate::consumer::subscription::{InitState, PartitionState, ResetTarget, Subscription};
use crate::types::OffsetAndMetadata;

use super::{ready, shared_with, tp};

fn shared(group: bool, auto: bool) -> Arc<Shared> {
    shared_with(|b| {
        let b = b
            .enable_auto_commit(auto)
            .auto_commit_interval(Duration::from_secs(5));
        if group { b.group_id("g") } else { b }
    })
}

fn member(st: &mut State, generation: i32) {
    st.fixture_subscription(Subscription::Topics(BTreeSet::from(["t".to_string()])));
    st.publish_group(generation, "m", false);
}

#[tokio::test(start_paused = true)]
async fn a_late_poll_restarts_the_interval_from_itself() {
    let start = Instant::now();
    let mut t = AutoCommitTimer::new(true, Duration::from_secs(5), start);
    tokio::time::advance(Duration::from_secs(7)).await;
    assert!(t.due(Instant::now(), false));
    tokio::time::advance(Duration::from_secs(3)).await; // 10 s: 3 s after the commit
    assert!(
        !t.due(Instant::now(), false),
        "not on the original schedule"
    );
    tokio::time::advance(Duration::from_secs(2)).await; // 12 s
    assert!(t.due(Instant::now(), false));
}

#[tokio::test(start_paused = true)]
async fn a_deferred_commit_does_not_move_the_schedule() {
    let start = Instant::now();
    let mut t = AutoCommitTimer::new(true, Duration::from_secs(5), start);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(!t.due(Instant::now(), true));
    assert!(!t.due(Instant::now(), true));
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(
        t.due(Instant::now(), false),
        "still due after the rebalance"
    );
}

#[test]
fn failed_partitions_commit_their_position_and_unpositioned_ones_nothing() {
    let sh = shared(true, true);
    let mut st = sh.lock();
    let mut failed = ready("t", 8);
    failed.init = InitState::Failed;
    st.fixture_partition(tp("t", 0), failed);
    let mut reset = ready("t", 3);
    reset.reset(InitState::Reset(ResetTarget::Earliest));
    st.fixture_partition(tp("t", 1), reset);
    let mut unpositioned = PartitionState::new(Arc::from("t"), InitState::Ready);
    unpositioned.position = -1;
    st.fixture_partition(tp("t", 2), unpositioned);
    st.fixture_partition(tp("t", 3), ready("t", 0));
    let offsets = consumed_offsets(&st);
    assert_eq!(
        offsets.keys().cloned().collect::<Vec<_>>(),
        vec![tp("t", 0), tp("t", 3)]
    );
    assert_eq!(offsets[&tp("t", 0)].offset, 8);
    assert_eq!(offsets[&tp("t", 3)].offset, 0, "offset 0 is a position");
    assert_eq!(offsets[&tp("t", 0)].metadata, None);
}

#[test]
fn a_consumer_without_subscription_commits_outside_the_group_protocol() {
    let sh = shared(true, false);
    let st = sh.lock();
    let who = committer(&st, &sh.config).expect("commits as nobody");
    assert_eq!((who.generation, who.member_id.as_str()), (-1, ""));
    assert_eq!(who.instance_id, None);
}

#[test]
fn a_static_member_commits_with_its_instance_id() {
    let sh = shared_with(|b| b.group_id("g").group_instance_id("i-1"));
    let mut st = sh.lock();
    member(&mut st, 0);
    let who = committer(&st, &sh.config).expect("generation 0 is a generation");
    assert_eq!(who.generation, 0);
    assert_eq!(who.instance_id.as_deref(), Some("i-1"));
    st.fixture_subscription(Subscription::Manual);
    assert_eq!(committer(&st, &sh.config).unwrap().instance_id, None);
}

#[test]
fn manual_assignment_commits_skip_the_ownership_checks() {
    let sh = shared(true, false);
    let mut st = sh.lock();
    st.fixture_subscription(Subscription::Manual);
    st.publish_group(-1, "", true);
    let any = BTreeMap::from([(tp("elsewhere", 3), OffsetAndMetadata::new(1))]);
    let who = checked_committer(&st, &sh.config, &any).expect("no group checks");
    assert_eq!(who.generation, -1);
}

#[test]
fn a_member_commit_names_every_partition_it_lost() {
    let sh = shared(true, false);
    let mut st = sh.lock();
    member(&mut st, 4);
    st.fixture_partition(tp("t", 0), ready("t", 0));
    let offsets = BTreeMap::from([
        (tp("t", 0), OffsetAndMetadata::new(1)),
        (tp("t", 1), OffsetAndMetadata::new(1)),
        (tp("t", 2), OffsetAndMetadata::new(1)),
    ]);
    let e = checked_committer(&st, &sh.config, &offsets).expect_err("lost two");
    let msg = e.to_string();
    assert!(msg.contains("t-1") && msg.contains("t-2"), "{msg}");
    assert!(!msg.contains("t-0"), "{msg}");
}

#[test]
fn close_and_revocation_commits_follow_the_auto_commit_setting() {
    assert!(shared(true, true).coordinator.commits_on_close());
    assert!(!shared(true, false).coordinator.commits_on_close());
    assert!(!shared(false, true).coordinator.commits_on_close());
    assert!(shared(true, true).coordinator.commits_on_revoke());
    assert!(!shared(true, false).coordinator.commits_on_revoke());
}

#[test]
fn a_revocation_between_generations_commits_nothing() {
    let sh = shared(true, true);
    let mut st = sh.lock();
    member(&mut st, -1);
    st.fixture_partition(tp("t", 0), ready("t", 5));
    assert!(
        sh.coordinator
            .revoke_commit(&st, &sh.config, &[tp("t", 0)])
            .is_none()
    );
}

#[test]
fn a_revocation_commits_each_revoked_partition_it_has_a_position_for() {
    let sh = shared(true, true);
    let mut st = sh.lock();
    member(&mut st, 3);
    for p in 0..4 {
        st.fixture_partition(tp("t", p), ready("t", 10 + i64::from(p)));
    }
    let revoked = [tp("t", 0), tp("t", 2), tp("t", 3)];
    let (_, who, offsets) = sh
        .coordinator
        .revoke_commit(&st, &sh.config, &revoked)
        .unwrap();
    assert_eq!(who.member_id, "m");
    let got: Vec<(i32, i64)> = offsets
        .iter()
        .map(|(t, o)| (t.partition, o.offset))
        .collect();
    assert_eq!(got, vec![(0, 10), (2, 12), (3, 13)]);
}

#[tokio::test(start_paused = true)]
async fn auto_commit_starts_nothing_without_offsets_generation_or_group() {
    let rt = tokio::runtime::Handle::current();
    let attempt = |sh: &Arc<Shared>| {
        let mut st = sh.lock();
        sh.coordinator
            .maybe_auto_commit(&mut st, &sh.config, Instant::now(), &rt, || || {}, None)
    };
    // Nothing positioned.
    let sh = shared(true, true);
    member(&mut sh.lock(), 1);
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(!attempt(&sh));
    // Between generations.
    let sh = shared(true, true);
    {
        let mut st = sh.lock();
        member(&mut st, -1);
        st.fixture_partition(tp("t", 0), ready("t", 1));
    }
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(!attempt(&sh));
    // No group.
    let sh = shared(false, true);
    {
        let mut st = sh.lock();
        st.fixture_subscription(Subscription::Manual);
        st.fixture_partition(tp("t", 0), ready("t", 1));
    }
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(!attempt(&sh));
    // Rebalancing.
    let sh = shared(true, true);
    {
        let mut st = sh.lock();
        member(&mut st, 1);
        st.fixture_partition(tp("t", 0), ready("t", 1));
        st.publish_group(1, "m", true);
    }
    tokio::time::advance(Duration::from_secs(5)).await;
    assert!(!attempt(&sh));
    sh.lock().publish_group(1, "m", false);
    assert!(attempt(&sh), "due at the first poll after the rebalance");
}

#[tokio::test(start_paused = true)]
async fn auto_commit_waits_for_its_interval() {
    let rt = tokio::runtime::Handle::current();
    let sh = shared(true, true);
    {
        let mut st = sh.lock();
        member(&mut st, 1);
        st.fixture_partition(tp("t", 0), ready("t", 1));
    }
    let attempt = || {
        let mut st = sh.lock();
        sh.coordinator
            .maybe_auto_commit(&mut st, &sh.config, Instant::now(), &rt, || || {}, None)
    };
    tokio::time::advance(Duration::from_millis(4_999)).await;
    assert!(!attempt());
    tokio::time::advance(Duration::from_millis(1)).await;
    assert!(attempt());
}

#[tokio::test]
async fn commands_go_nowhere_once_membership_stopped() {
    let sh = shared(true, true);
    assert!(!sh.coordinator.command(GroupCommand::Subscribe));
    sh.coordinator.stop_membership();
    assert!(!sh.group_command(GroupCommand::Subscribe));
    assert!(sh.coordinator.link().is_some());
    assert_eq!(sh.coordinator.require_link("x").unwrap().group_id, "g");
}

#[tokio::test(start_paused = true)]
async fn committing_nothing_sends_nothing() {
    let sh = shared(true, true);
    let link = sh.coordinator.link().unwrap().clone();
    let who = Committer {
        generation: 1,
        member_id: "m".into(),
        instance_id: None,
        epochs: None,
        held: None,
    };
    let started = Instant::now();
    let ticket = link.commit_order.ticket();
    commit(&link, &who, &BTreeMap::new(), ticket)
        .await
        .expect("no-op");
    assert_eq!(started.elapsed(), Duration::ZERO, "no request, no retry");
}

/// Commits go in the order they were asked, not in the order their tasks first run:
/// a ticket taken later waits for every earlier one, and a dropped ticket (a commit
/// given up before its turn) does not block the ones behind it. Found by kafka-sim
/// (I6): a `commit_offsets` awaited right after a `commit_offsets_async` overtook it.
#[tokio::test(start_paused = true)]
async fn commit_tickets_keep_the_asked_order() {
    use std::sync::{Arc, Mutex};
    let order = Arc::new(crate::ops::coordinator::CommitOrder::default());
    let first = order.ticket();
    let dropped = order.ticket();
    let third = order.ticket();
    let ran = Arc::new(Mutex::new(Vec::new()));
    let log = ran.clone();
    // The third commit's task runs first, but waits for its turn.
    let late = tokio::spawn(async move {
        third.turn().await;
        log.lock().unwrap().push(3);
    });
    tokio::task::yield_now().await;
    assert!(
        ran.lock().unwrap().is_empty(),
        "the third commit went first"
    );
    first.turn().await;
    ran.lock().unwrap().push(1);
    drop(dropped);
    tokio::task::yield_now().await;
    assert_eq!(
        *ran.lock().unwrap(),
        vec![1],
        "the third went before the first was done"
    );
    drop(first);
    late.await.unwrap();
    assert_eq!(*ran.lock().unwrap(), vec![1, 3]);
}

/// A commit refused with STALE_MEMBER_EPOCH (consumer protocol) waits for the next
/// heartbeat answer and goes again with its epoch; a member fenced meanwhile, a member
/// of no consumer-protocol group, or no answer before the deadline fail it instead.
#[tokio::test(start_paused = true)]
async fn a_stale_member_epoch_waits_for_the_next_heartbeat_and_takes_its_epoch() {
    use crate::consumer::group::commit::next_epoch;
    use crate::error::{Error, ErrorCode, ErrorContext};
    let stale = Error::broker(ErrorCode::STALE_MEMBER_EPOCH, ErrorContext::default(), None);
    let (tx, rx) = tokio::sync::watch::channel(4);
    let mut who = Committer {
        generation: 4,
        member_id: "m".into(),
        instance_id: None,
        epochs: Some(rx),
        held: None,
    };
    let timeout = Duration::from_secs(10);
    let deadline = Instant::now() + timeout;
    let beat = tokio::spawn({
        let tx = tx.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            tx.send_replace(5);
        }
    });
    let started = Instant::now();
    let epoch = next_epoch(&mut who, deadline, timeout, &stale, "committing")
        .await
        .unwrap();
    assert_eq!(epoch, 5);
    assert_eq!(
        started.elapsed(),
        Duration::from_secs(2),
        "after the heartbeat answer"
    );
    beat.await.unwrap();
    who.generation = epoch;

    // A heartbeat answered while the request was out: its newer epoch at once.
    tx.send_replace(6);
    let started = Instant::now();
    let epoch = next_epoch(&mut who, deadline, timeout, &stale, "committing")
        .await
        .unwrap();
    assert_eq!((epoch, started.elapsed()), (6, Duration::ZERO));
    who.generation = epoch;

    // Fenced meanwhile: the next answer says epoch 0.
    let fence = tokio::spawn({
        let tx = tx.clone();
        async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            tx.send_replace(0);
        }
    });
    let e = next_epoch(
        &mut who,
        Instant::now() + timeout,
        timeout,
        &stale,
        "committing",
    )
    .await
    .expect_err("fenced");
    assert!(
        matches!(&e, Error::CommitFailed { reason } if reason.contains("fenced")),
        "{e}"
    );
    fence.await.unwrap();

    // No answer before the deadline: Deadline, with the broker's error as the cause.
    let e = next_epoch(
        &mut who,
        Instant::now() + timeout,
        timeout,
        &stale,
        "committing",
    )
    .await
    .expect_err("no heartbeat");
    assert!(matches!(&e, Error::Deadline { .. }), "{e}");
    assert!(e.to_string().contains("STALE_MEMBER_EPOCH"), "{e}");
    drop(tx);

    // A classic member has no epochs to wait for.
    let mut classic = Committer {
        generation: 4,
        member_id: "m".into(),
        instance_id: None,
        epochs: None,
        held: None,
    };
    let e = next_epoch(
        &mut classic,
        Instant::now() + timeout,
        timeout,
        &stale,
        "committing",
    )
    .await
    .expect_err("classic");
    assert!(matches!(e, Error::CommitFailed { .. }), "{e}");
}

/// A commit refused with STALE_MEMBER_EPOCH goes again with the next epoch only while
/// the member still holds every partition it names. Found by kafka-sim (seed 430, C1,
/// consumer protocol): a commit of `sim-2` at 94 was refused for its old epoch and sent
/// again with the new one after the revocation that moved `sim-2` to another member,
/// which had committed 100; the coordinator checks only the epoch, so it took 94, and
/// the group's position of `sim-2` went back and stayed there.
#[tokio::test(start_paused = true)]
async fn a_stale_epoch_commit_is_not_sent_again_for_a_partition_revoked_meanwhile() {
    use std::sync::Mutex;

    use crate::consumer::group::commit::retry_commit;
    use crate::error::{Error, ErrorCode, ErrorContext};

    let sh = shared(true, false);
    {
        let mut st = sh.lock();
        member(&mut st, 1);
        st.fixture_partition(tp("t", 0), ready("t", 0));
        st.fixture_partition(tp("t", 1), ready("t", 0));
    }
    let link = sh.coordinator.link().unwrap().clone();
    let (tx, rx) = tokio::sync::watch::channel(1);
    let mut who = Committer {
        generation: 1,
        member_id: "m".into(),
        instance_id: None,
        epochs: Some(rx),
        held: Some(Arc::downgrade(&sh)),
    };
    let offsets = BTreeMap::from([
        (tp("t", 0), OffsetAndMetadata::new(5)),
        (tp("t", 1), OffsetAndMetadata::new(7)),
    ]);
    let sent: Mutex<Vec<i32>> = Mutex::default();
    // The coordinator refuses `stale_at`; meanwhile a heartbeat answer brings the next
    // epoch, with `revoke` (if any) revoked and released by then.
    let coordinator = |stale_at: i32, revoke: Option<crate::types::TopicPartition>| {
        let (sent, tx, sh) = (&sent, &tx, &sh);
        move |who: Committer| {
            let revoke = revoke.clone();
            async move {
                sent.lock().unwrap().push(who.generation);
                if who.generation != stale_at {
                    return Ok(());
                }
                if let Some(tp) = revoke {
                    let mut st = sh.lock();
                    st.stop(std::slice::from_ref(&tp));
                    st.event_finished(std::slice::from_ref(&tp));
                }
                tx.send_replace(stale_at + 1);
                Err(Error::broker(
                    ErrorCode::STALE_MEMBER_EPOCH,
                    ErrorContext::default(),
                    None,
                ))
            }
        }
    };

    // The epoch moved, the member holds both: the commit goes again with epoch 2.
    retry_commit(&link, &who, &offsets, coordinator(1, None))
        .await
        .expect("both still held");
    assert_eq!(*sent.lock().unwrap(), vec![1, 2]);

    // The epoch moved because t-1 was revoked: the commit is not sent again.
    sent.lock().unwrap().clear();
    who.generation = 2;
    let e = retry_commit(&link, &who, &offsets, coordinator(2, Some(tp("t", 1))))
        .await
        .expect_err("t-1 was revoked");
    assert_eq!(*sent.lock().unwrap(), vec![2], "not sent with epoch 3");
    let msg = e.to_string();
    assert!(matches!(e, Error::CommitFailed { .. }), "{msg}");
    assert!(msg.contains("t-1") && !msg.contains("t-0"), "{msg}");
}
