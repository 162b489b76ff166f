//! The consumer-protocol membership task's transitions that need no coordinator:
//! answers are fed to it as if a heartbeat brought them (the Java client's
//! `ConsumerMembershipManagerTest`, in part). A target assignment becomes incremental
//! `assigned` and `revoked` steps for `poll`, revocation before assignment, each
//! acknowledged in the next heartbeat; fencing loses the partitions; a duplicate
//! static member is a typed fatal error. A child of `task.rs` (the task is private).

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use uuid::Uuid;

use super::*;
use crate::cluster::{ClusterMetadata, PartitionInfo, TopicInfo};
use crate::consumer::GroupProtocol;
use crate::consumer::group::kip848::heartbeat_state::Answer;
use crate::consumer::state::AppEvent;
use crate::consumer::subscription::InitState;
use crate::consumer::unit_tests::{shared_with, tp};
use crate::error::ErrorCode;

pub(super) const T: Uuid = Uuid::from_u128(0x77);

pub(super) fn member() -> (Member, mpsc::UnboundedSender<GroupCommand>) {
    let sh = shared_with(|b| {
        b.group_id("g")
            .group_protocol(GroupProtocol::Consumer)
            .group_remote_assignor("uniform")
    });
    let mut meta = ClusterMetadata::empty();
    let partitions = (0..3)
        .map(|i| PartitionInfo {
            partition: i,
            leader: Some(1),
            leader_epoch: 0,
            replicas: Vec::new(),
            isr: Vec::new(),
            offline_replicas: Vec::new(),
            error: None,
        })
        .collect();
    meta.topics.insert(
        "t".into(),
        Arc::new(TopicInfo {
            name: "t".into(),
            id: T,
            is_internal: false,
            partitions,
        }),
    );
    sh.client.set_cached_metadata(meta);
    sh.lock()
        .fixture_subscription(Subscription::Topics(BTreeSet::from(["t".to_string()])));
    let link = Arc::new(CoordinatorLink::new(sh.client.clone(), "g".into()));
    let (tx, rx) = mpsc::unbounded_channel();
    let mut m = Member::new(sh, link, rx, "m-1".into());
    m.on_subscribe();
    (m, tx)
}

pub(super) fn target(epoch: i32, parts: &[i32]) -> Exchange {
    Exchange::Answer(Answer {
        member_id: None,
        epoch,
        interval_ms: 2_000,
        assignment: Some(ByTopicId::from([(T, parts.iter().copied().collect())])),
    })
}

pub(super) fn events(m: &Member) -> Vec<String> {
    crate::consumer::unit_tests::events(&m.shared)
}

/// Completes the queued steps as `poll` would (revocations drop their partitions).
pub(super) fn run_steps(m: &Member) {
    let mut st = m.shared.lock();
    while let Some(ev) = st.next_event() {
        match ev {
            AppEvent::Revoke { partitions, done } => {
                st.stop(&partitions);
                st.event_finished(&partitions);
                let _ = done.send(());
            }
            AppEvent::Assigned { partitions } => {
                st.release(&partitions);
                st.event_finished(&[]);
            }
            AppEvent::Lost { partitions } => {
                st.stop(&partitions);
                st.event_finished(&partitions);
            }
        }
    }
}

/// What the next heartbeat would report as owned (`None`: not sent, unchanged).
fn next_owned(m: &mut Member) -> Option<ByTopicId> {
    let owned = owned_by_id(&m.owned, &m.names);
    m.hb.beat(&m.wanted, &owned).owned
}

#[tokio::test(start_paused = true)]
async fn the_first_target_is_assigned_and_acknowledged_at_once() {
    let (mut m, _tx) = member();
    m.on_exchange(target(1, &[0, 1]));
    {
        let st = m.shared.lock();
        assert_eq!(st.group().generation, 1, "commits carry the member epoch");
        assert_eq!(st.group().member_id, "m-1");
        assert_eq!(*st.group().epochs.as_ref().expect("watched").borrow(), 1);
    }
    assert!(m.target_pending);
    m.reconcile().await;
    assert_eq!(events(&m), vec!["assigned [t-0, t-1]"]);
    assert!(!m.target_pending);
    {
        let st = m.shared.lock();
        assert!(st.partitions()[&tp("t", 0)].awaiting_callback);
        assert_eq!(st.partitions()[&tp("t", 0)].init, InitState::Committed);
    }
    assert_eq!(m.hb.next_beat(), Instant::now(), "the ack goes out at once");
    assert_eq!(
        next_owned(&mut m),
        Some(ByTopicId::from([(T, BTreeSet::from([0, 1]))]))
    );
}

#[tokio::test(start_paused = true)]
async fn an_empty_first_assignment_is_announced_once_later_ones_only_when_they_move() {
    let (mut m, _tx) = member();
    m.on_exchange(target(1, &[]));
    m.reconcile().await;
    assert_eq!(
        events(&m),
        vec!["assigned []"],
        "as Java: assigned with nothing"
    );
    run_steps(&m);
    m.on_exchange(target(2, &[]));
    m.reconcile().await;
    assert!(events(&m).is_empty(), "no movement, no call");
}

#[tokio::test(start_paused = true)]
async fn revocation_comes_first_and_is_acknowledged_before_anything_is_assigned() {
    let (mut m, _tx) = member();
    m.on_exchange(target(1, &[0, 1]));
    m.reconcile().await;
    run_steps(&m);
    m.on_exchange(Exchange::Answer(Answer {
        member_id: None,
        epoch: 1,
        interval_ms: 2_000,
        assignment: None,
    }));
    // The coordinator moves t-0 away and gives t-2.
    m.on_exchange(target(2, &[1, 2]));
    let shared = m.shared.clone();
    let poll = async {
        // `poll` runs the revocation once it is queued.
        loop {
            tokio::task::yield_now().await;
            if !shared.lock().queued_events().is_empty() {
                break;
            }
        }
        assert_eq!(
            shared
                .lock()
                .queued_events()
                .iter()
                .filter(|e| matches!(e, AppEvent::Assigned { .. }))
                .count(),
            0,
            "nothing assigned while revoking"
        );
    };
    let ((), ()) = tokio::join!(m.reconcile(), async {
        poll.await;
        let mut st = shared.lock();
        if let Some(AppEvent::Revoke { partitions, done }) = st.next_event() {
            assert_eq!(partitions, vec![tp("t", 0)]);
            st.stop(&partitions);
            st.event_finished(&partitions);
            let _ = done.send(());
        } else {
            panic!("expected a revocation first");
        }
    });
    assert_eq!(m.owned, BTreeSet::from([tp("t", 1)]));
    assert_eq!(
        next_owned(&mut m),
        Some(ByTopicId::from([(T, BTreeSet::from([1]))])),
        "the revocation is acknowledged"
    );
    assert!(m.target_pending, "t-2 is still to assign");
    m.reconcile().await;
    assert_eq!(events(&m), vec!["assigned [t-2]"], "incremental: only t-2");
    assert_eq!(m.owned, BTreeSet::from([tp("t", 1), tp("t", 2)]));
}

#[tokio::test(start_paused = true)]
async fn a_fenced_member_loses_its_partitions_and_rejoins_at_epoch_0() {
    for code in [ErrorCode::FENCED_MEMBER_EPOCH, ErrorCode::UNKNOWN_MEMBER_ID] {
        let (mut m, _tx) = member();
        m.on_exchange(target(3, &[0, 2]));
        m.reconcile().await;
        run_steps(&m);
        m.on_exchange(Exchange::Code(code, None));
        assert_eq!(events(&m), vec!["lost [t-0, t-2]"], "{code}");
        assert!(m.owned.is_empty());
        assert_eq!(m.hb.epoch(), 0);
        assert_eq!(m.hb.member_id(), "m-1", "the member id stays");
        assert_eq!(
            m.shared.lock().group().generation,
            -1,
            "no commits until rejoined"
        );
        assert!(m.shared.lock().fatal().is_none());
        assert!(!m.stopped);
    }
}

#[tokio::test(start_paused = true)]
async fn a_duplicate_static_member_ends_the_consumer_with_a_typed_error() {
    let (mut m, _tx) = member();
    m.on_exchange(target(1, &[0]));
    m.reconcile().await;
    run_steps(&m);
    m.on_exchange(Exchange::Code(
        ErrorCode::UNRELEASED_INSTANCE_ID,
        Some("instance i-1 is in use".into()),
    ));
    assert!(m.stopped);
    let st = m.shared.lock();
    let e = st.fatal().expect("fatal");
    assert_eq!(e.code(), Some(ErrorCode::UNRELEASED_INSTANCE_ID));
    assert!(e.to_string().contains("g"), "{e}");
    drop(st);
    assert_eq!(events(&m), vec!["lost [t-0]"]);
}

#[tokio::test(start_paused = true)]
async fn without_answers_for_a_session_timeout_the_partitions_are_lost() {
    let (mut m, _tx) = member();
    m.on_exchange(target(1, &[1]));
    m.reconcile().await;
    run_steps(&m);
    let timeout = m.cfg().session_timeout;
    tokio::time::advance(timeout / 2).await;
    m.on_exchange(Exchange::Failed(crate::error::Error::Connect {
        context: crate::error::ErrorContext::default(),
        reason: "refused".into(),
    }));
    assert!(events(&m).is_empty(), "within the session: kept");
    tokio::time::advance(timeout / 2).await;
    m.on_exchange(Exchange::Failed(crate::error::Error::Connect {
        context: crate::error::ErrorContext::default(),
        reason: "refused".into(),
    }));
    assert_eq!(events(&m), vec!["lost [t-1]"]);
    assert_eq!(m.hb.epoch(), 0);
    assert!(m.hb.next_beat() > Instant::now(), "rejoins after a backoff");
    assert!(m.hb.next_beat() <= Instant::now() + Duration::from_secs(2));
}
