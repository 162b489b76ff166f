//! The fetch driver's planning and answer handling (Java's `FetcherTest`,
//! `OffsetFetcherTest`), without I/O: a child of `fetcher.rs` (its handlers are
//! private), fed with answers as the fetch and lookup tasks return them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::*;
use crate::consumer::builder::{AutoOffsetReset, ConsumerBuilder};
use crate::consumer::state::Shared;
use crate::consumer::subscription::{InitState, PartitionState, ResetTarget};
use crate::consumer::unit_tests::{Spec, assert_within, batches, led_by, ready, shared_with, tp};
use crate::records::RecordsError;
use crate::types::{OffsetAndMetadata, OffsetAndTimestamp, TopicPartition};

fn shared(reset: AutoOffsetReset) -> Arc<Shared> {
    shared_with(move |b: ConsumerBuilder| b.auto_offset_reset(reset))
}

/// `t-0` positioned at `at` with a fetch out; returns what was sent for it.
fn in_flight(sh: &Shared, at: i64) -> Sent {
    let mut st = sh.lock();
    let mut p = ready("t", at);
    p.fetch_in_flight = true;
    let s = sent_for(&tp("t", 0), &p);
    st.fixture_partition(tp("t", 0), p);
    s
}

fn sent_for(t: &TopicPartition, p: &PartitionState) -> Sent {
    Sent {
        tp: t.clone(),
        wire: WireNames::default().get(&t.topic),
        topic_id: uuid::Uuid::nil(),
        epoch: p.epoch,
        fetch_offset: p.fetch_offset,
        leader: 1,
        leader_epoch: 0,
        from_replica: false,
    }
}

fn answer(specs: &[Spec], bytes: usize) -> PartData {
    PartData {
        error: None,
        high_watermark: 10,
        last_stable_offset: 8,
        log_start_offset: 1,
        aborted: Vec::new(),
        batches: batches(specs),
        decode_error: None,
        truncated_only: false,
        bytes,
        leader_moved: false,
        preferred_read_replica: -1,
    }
}

fn error_answer(code: ErrorCode) -> PartData {
    PartData {
        error: Some(code),
        ..answer(&[], 0)
    }
}

fn with<R>(sh: &Shared, f: impl FnOnce(&mut PartitionState) -> R) -> R {
    f(sh.lock().partition_mut(&tp("t", 0)).unwrap())
}

fn looking_up(sh: &Shared, init: InitState) -> Sent {
    let mut p = PartitionState::new(Arc::from("t"), init);
    p.lookup_in_flight = true;
    let s = sent_for(&tp("t", 0), &p);
    sh.lock().fixture_partition(tp("t", 0), p);
    s
}

#[tokio::test]
async fn an_answer_is_buffered_and_moves_the_fetch_offset_not_the_position() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = in_flight(&sh, 0);
    on_fetch(
        &sh,
        vec![s],
        Ok(vec![Some(answer(&[Spec::data(0, 3)], 50))]),
    );
    let st = sh.lock();
    let p = &st.partitions()[&tp("t", 0)];
    assert!(!p.fetch_in_flight);
    assert_eq!((p.position, p.fetch_offset), (0, 3));
    assert_eq!(
        (p.high_watermark, p.last_stable_offset, p.log_start_offset),
        (10, 8, 1)
    );
    assert_eq!(p.buffered_bytes, 50);
    assert_eq!(st.buffered_bytes(), 50);
    assert_eq!(st.records_bound(100), 3);
}

#[tokio::test]
async fn the_fetch_offset_never_moves_back() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = in_flight(&sh, 0);
    with(&sh, |p| p.fetch_offset = 20);
    on_fetch(&sh, vec![s], Ok(vec![Some(answer(&[Spec::data(0, 3)], 5))]));
    assert_eq!(with(&sh, |p| p.fetch_offset), 20);
}

#[tokio::test]
async fn an_answer_sent_before_a_seek_is_dropped() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = in_flight(&sh, 0);
    with(&sh, |p| p.seek(100));
    on_fetch(
        &sh,
        vec![s],
        Ok(vec![Some(answer(&[Spec::data(0, 3)], 50))]),
    );
    let st = sh.lock();
    let p = &st.partitions()[&tp("t", 0)];
    assert!(!p.fetch_in_flight, "the partition may be fetched again");
    assert_eq!(p.fetch_offset, 100);
    assert_eq!(p.high_watermark, -1, "nothing of the stale answer is taken");
    assert_eq!(st.buffered_bytes(), 0);
}

#[tokio::test]
async fn an_answer_for_a_partition_no_longer_assigned_is_ignored() {
    let sh = shared(AutoOffsetReset::Latest);
    let gone = Sent {
        tp: tp("gone", 0),
        wire: WireNames::default().get("gone"),
        topic_id: uuid::Uuid::nil(),
        epoch: 1,
        fetch_offset: 0,
        leader: 1,
        leader_epoch: 0,
        from_replica: false,
    };
    let s = in_flight(&sh, 0);
    on_fetch(
        &sh,
        vec![gone, s],
        Ok(vec![
            Some(answer(&[Spec::data(0, 1)], 9)),
            Some(answer(&[Spec::data(0, 2)], 7)),
        ]),
    );
    assert_eq!(sh.lock().buffered_bytes(), 7);
}

#[tokio::test]
async fn a_partition_missing_from_the_answer_is_just_fetched_again() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = in_flight(&sh, 4);
    on_fetch(&sh, vec![s], Ok(vec![None]));
    let st = sh.lock();
    let p = &st.partitions()[&tp("t", 0)];
    assert!(!p.fetch_in_flight);
    assert_eq!(
        (p.init, p.fetch_offset, p.high_watermark),
        (InitState::Ready, 4, -1)
    );
}

#[tokio::test]
async fn a_failed_request_only_frees_its_partitions() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = in_flight(&sh, 4);
    on_fetch(&sh, vec![s], Err(Error::InvalidState("gone".into())));
    let st = sh.lock();
    let p = &st.partitions()[&tp("t", 0)];
    assert!(!p.fetch_in_flight);
    assert_eq!((p.init, p.backoff_until), (InitState::Ready, None));
    assert!(st.pending_errors().is_empty());
}

#[tokio::test]
async fn an_empty_answer_updates_the_watermarks_only() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = in_flight(&sh, 4);
    on_fetch(&sh, vec![s], Ok(vec![Some(answer(&[], 0))]));
    let st = sh.lock();
    let p = &st.partitions()[&tp("t", 0)];
    assert_eq!(
        (p.init, p.fetch_offset, p.high_watermark),
        (InitState::Ready, 4, 10)
    );
    assert_eq!(st.buffered_bytes(), 0);
}

#[tokio::test]
async fn a_batch_larger_than_the_partition_limit_fails_the_partition() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = in_flight(&sh, 4);
    let mut d = answer(&[], 700);
    d.truncated_only = true;
    on_fetch(&sh, vec![s], Ok(vec![Some(d)]));
    let st = sh.lock();
    assert_eq!(st.partitions()[&tp("t", 0)].init, InitState::Failed);
    assert_eq!(st.pending_errors().len(), 1);
    match &st.pending_errors()[0].error {
        Error::TooLarge { size, limit, .. } => {
            assert_eq!(*size, 700);
            assert_eq!(*limit, sh.config.max_partition_fetch_bytes as usize);
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(st.buffered_bytes(), 0);
}

#[tokio::test]
async fn a_corrupt_batch_stops_fetching_and_arrives_after_the_good_ones() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = in_flight(&sh, 0);
    let mut d = answer(&[Spec::data(0, 2)], 40);
    d.decode_error = Some(RecordsError::UnsupportedMagic {
        base_offset: 2,
        magic: 1,
    });
    on_fetch(&sh, vec![s], Ok(vec![Some(d)]));
    let mut guard = sh.lock();
    let st = &mut *guard;
    assert_eq!(st.partitions()[&tp("t", 0)].init, InitState::Failed);
    assert_eq!(st.partitions()[&tp("t", 0)].fetch_offset, 2);
    let mut records = Vec::new();
    let mut errors = Vec::new();
    st.drain(sh.config.isolation_level, 10, &mut records, &mut errors);
    assert_eq!(records.len(), 2);
    assert_eq!(errors.len(), 1);
    assert_eq!(st.partitions()[&tp("t", 0)].position, 2);
}

#[tokio::test]
async fn out_of_range_resets_by_policy() {
    for (policy, target) in [
        (AutoOffsetReset::Earliest, ResetTarget::Earliest),
        (AutoOffsetReset::Latest, ResetTarget::Latest),
    ] {
        let sh = shared(policy);
        let s = in_flight(&sh, 4);
        let epoch = s.epoch;
        on_fetch(
            &sh,
            vec![s],
            Ok(vec![Some(error_answer(ErrorCode::OFFSET_OUT_OF_RANGE))]),
        );
        let st = sh.lock();
        let p = &st.partitions()[&tp("t", 0)];
        assert_eq!(p.init, InitState::Reset(target));
        assert_ne!(p.epoch, epoch, "buffered data of the old position is stale");
        assert!(st.pending_errors().is_empty());
    }
}

#[tokio::test]
async fn out_of_range_without_a_policy_is_the_applications_error() {
    let sh = shared(AutoOffsetReset::None);
    let s = in_flight(&sh, 4);
    on_fetch(
        &sh,
        vec![s],
        Ok(vec![Some(error_answer(ErrorCode::OFFSET_OUT_OF_RANGE))]),
    );
    let st = sh.lock();
    assert_eq!(st.partitions()[&tp("t", 0)].init, InitState::Failed);
    assert!(matches!(
        st.pending_errors()[0].error,
        Error::OffsetOutOfRange {
            offset: 4,
            partition: 0,
            ..
        }
    ));
}

#[tokio::test]
async fn out_of_range_for_an_offset_already_left_is_ignored() {
    let sh = shared(AutoOffsetReset::Earliest);
    let s = in_flight(&sh, 4);
    let epoch = s.epoch;
    with(&sh, |p| p.fetch_offset = 9);
    on_fetch(
        &sh,
        vec![s],
        Ok(vec![Some(error_answer(ErrorCode::OFFSET_OUT_OF_RANGE))]),
    );
    let st = sh.lock();
    let p = &st.partitions()[&tp("t", 0)];
    assert_eq!((p.init, p.epoch), (InitState::Ready, epoch));
}

/// A retriable code, and UNKNOWN_SERVER_ERROR (the broker's own failure, which Java logs
/// and fetches again), back the partition off with no error for the application.
#[tokio::test(start_paused = true)]
async fn a_retriable_partition_error_or_an_unknown_server_error_backs_the_partition_off() {
    for code in [
        ErrorCode::NOT_LEADER_OR_FOLLOWER,
        ErrorCode::UNKNOWN_SERVER_ERROR,
    ] {
        let sh = shared(AutoOffsetReset::Latest);
        let s = in_flight(&sh, 4);
        let now = Instant::now();
        on_fetch(&sh, vec![s], Ok(vec![Some(error_answer(code))]));
        let st = sh.lock();
        let p = &st.partitions()[&tp("t", 0)];
        assert_eq!((p.init, p.fetch_offset), (InitState::Ready, 4), "{code}");
        assert_eq!(p.backoff_until, Some(now + PARTITION_BACKOFF));
        assert!(!p.fetchable(now + Duration::from_millis(199), usize::MAX));
        assert!(p.fetchable(now + PARTITION_BACKOFF, usize::MAX));
        assert!(st.pending_errors().is_empty(), "{code}");
    }
}

#[tokio::test]
async fn a_fatal_partition_error_fails_the_partition() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = in_flight(&sh, 4);
    on_fetch(
        &sh,
        vec![s],
        Ok(vec![Some(error_answer(
            ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        ))]),
    );
    let st = sh.lock();
    assert_eq!(st.partitions()[&tp("t", 0)].init, InitState::Failed);
    assert_eq!(st.pending_errors().len(), 1);
    assert_eq!(
        st.pending_errors()[0].error.code(),
        Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED)
    );
}

#[tokio::test]
async fn a_committed_offset_positions_the_partition() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = looking_up(&sh, InitState::Committed);
    let om = OffsetAndMetadata {
        offset: 17,
        metadata: None,
        leader_epoch: Some(3),
    };
    on_committed(&sh, vec![s], Ok(BTreeMap::from([(tp("t", 0), Some(om))])));
    with(&sh, |p| {
        assert!(!p.lookup_in_flight);
        assert_eq!(
            (p.init, p.position, p.fetch_offset),
            (InitState::Ready, 17, 17)
        );
        assert_eq!(p.leader_epoch, Some(3));
    });
}

#[tokio::test]
async fn no_committed_offset_falls_back_to_the_reset_policy() {
    for (policy, init) in [
        (
            AutoOffsetReset::Earliest,
            InitState::Reset(ResetTarget::Earliest),
        ),
        (
            AutoOffsetReset::Latest,
            InitState::Reset(ResetTarget::Latest),
        ),
    ] {
        let sh = shared(policy);
        let s = looking_up(&sh, InitState::Committed);
        on_committed(&sh, vec![s], Ok(BTreeMap::from([(tp("t", 0), None)])));
        assert_eq!(with(&sh, |p| p.init), init);
        assert!(sh.lock().pending_errors().is_empty());
    }
    let sh = shared(AutoOffsetReset::None);
    let s = looking_up(&sh, InitState::Committed);
    // Absent from the answer counts as nothing committed.
    on_committed(&sh, vec![s], Ok(BTreeMap::new()));
    assert_eq!(with(&sh, |p| p.init), InitState::Failed);
    assert!(matches!(
        sh.lock().pending_errors()[0].error,
        Error::NoOffsetForPartition { partition: 0, .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn a_failed_committed_lookup_is_retried_after_a_backoff() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = looking_up(&sh, InitState::Committed);
    let now = Instant::now();
    on_committed(&sh, vec![s], Err(Error::InvalidState("x".into())));
    with(&sh, |p| {
        assert_eq!(p.init, InitState::Committed);
        assert_eq!(p.backoff_until, Some(now + PARTITION_BACKOFF));
        assert!(!p.needs_lookup(now));
        assert!(p.needs_lookup(now + PARTITION_BACKOFF));
    });
}

#[tokio::test]
async fn a_committed_answer_for_an_old_state_is_dropped() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = looking_up(&sh, InitState::Committed);
    with(&sh, |p| p.seek(50));
    let om = OffsetAndMetadata::new(3);
    on_committed(
        &sh,
        vec![s],
        Ok(BTreeMap::from([(tp("t", 0), Some(om.clone()))])),
    );
    with(&sh, |p| {
        assert!(!p.lookup_in_flight);
        assert_eq!(p.position, 50, "the seek wins");
    });
    // Same epoch, but no longer waiting for a committed offset.
    let s = looking_up(&sh, InitState::Committed);
    with(&sh, |p| p.init = InitState::Reset(ResetTarget::Earliest));
    on_committed(
        &sh,
        vec![s],
        Ok(BTreeMap::from([(tp("t", 0), Some(om.clone()))])),
    );
    assert_eq!(
        with(&sh, |p| p.init),
        InitState::Reset(ResetTarget::Earliest)
    );
    // Still waiting for a committed offset, but asked again since (a new epoch).
    let s = looking_up(&sh, InitState::Committed);
    with(&sh, |p| p.reset(InitState::Committed));
    on_committed(&sh, vec![s], Ok(BTreeMap::from([(tp("t", 0), Some(om))])));
    with(&sh, |p| {
        assert_eq!(
            p.init,
            InitState::Committed,
            "the answer to the old question"
        );
        assert_eq!(p.position, -1);
    });
}

fn found(offset: i64) -> crate::consumer::offsets::Lookup {
    Ok(Some(OffsetAndTimestamp {
        offset,
        timestamp: -1,
        leader_epoch: None,
    }))
}

#[tokio::test]
async fn a_reset_answer_positions_the_partition() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = looking_up(&sh, InitState::Reset(ResetTarget::Latest));
    on_reset(&sh, vec![s], BTreeMap::from([(tp("t", 0), found(99))]));
    with(&sh, |p| {
        assert!(!p.lookup_in_flight);
        assert_eq!(
            (p.init, p.position, p.fetch_offset),
            (InitState::Ready, 99, 99)
        );
    });
}

#[tokio::test(start_paused = true)]
async fn reset_lookups_retry_unless_the_error_is_final() {
    let now = Instant::now();
    let retried: Vec<Option<crate::consumer::offsets::Lookup>> = vec![
        None,
        Some(Ok(None)),
        Some(Err(Error::broker(
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            ErrorContext::default(),
            None,
        ))),
        Some(Err(Error::Deadline {
            operation: "x".into(),
            timeout: Duration::from_secs(1),
            last_error: None,
        })),
    ];
    for (i, answer) in retried.into_iter().enumerate() {
        let sh = shared(AutoOffsetReset::Latest);
        let s = looking_up(&sh, InitState::Reset(ResetTarget::Earliest));
        let result = answer.map(|a| (tp("t", 0), a)).into_iter().collect();
        on_reset(&sh, vec![s], result);
        with(&sh, |p| {
            assert_eq!(p.init, InitState::Reset(ResetTarget::Earliest), "case {i}");
            assert_eq!(p.backoff_until, Some(now + PARTITION_BACKOFF), "case {i}");
        });
        assert!(sh.lock().pending_errors().is_empty(), "case {i}");
    }
    let sh = shared(AutoOffsetReset::Latest);
    let s = looking_up(&sh, InitState::Reset(ResetTarget::Earliest));
    let fatal = Err(Error::broker(
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        ErrorContext::default(),
        None,
    ));
    on_reset(&sh, vec![s], BTreeMap::from([(tp("t", 0), fatal)]));
    assert_eq!(with(&sh, |p| p.init), InitState::Failed);
    assert_eq!(sh.lock().pending_errors().len(), 1);
}

#[tokio::test]
async fn a_reset_answer_for_an_old_state_is_dropped() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = looking_up(&sh, InitState::Reset(ResetTarget::Latest));
    with(&sh, |p| p.reset(InitState::Reset(ResetTarget::Earliest)));
    on_reset(&sh, vec![s], BTreeMap::from([(tp("t", 0), found(99))]));
    with(&sh, |p| {
        assert!(!p.lookup_in_flight);
        assert_eq!(p.init, InitState::Reset(ResetTarget::Earliest));
    });
    let s = looking_up(&sh, InitState::Reset(ResetTarget::Latest));
    with(&sh, |p| p.init = InitState::Committed);
    on_reset(&sh, vec![s], BTreeMap::from([(tp("t", 0), found(99))]));
    assert_eq!(with(&sh, |p| p.init), InitState::Committed);
}

type Tasks = FuturesUnordered<JoinHandle<Outcome>>;

fn plan(sh: &Arc<Shared>, busy: &mut HashSet<i32>) -> (bool, Tasks) {
    let mut tasks = Tasks::new();
    let missing = start_fetches(
        sh,
        &mut tasks,
        busy,
        &HashMap::new(),
        &mut WireNames::default(),
        &mut Sessions::new(),
        Instant::now(),
    );
    (missing, tasks)
}

#[tokio::test]
async fn a_fetchable_partition_without_a_known_leader_asks_for_metadata() {
    let sh = shared(AutoOffsetReset::Latest);
    sh.lock().fixture_partition(tp("t", 0), ready("t", 0));
    let (missing, tasks) = plan(&sh, &mut HashSet::new());
    assert!(missing);
    assert!(tasks.is_empty());
    assert!(!with(&sh, |p| p.fetch_in_flight), "nothing was sent");
}

#[tokio::test]
async fn partitions_that_may_not_be_fetched_need_no_leader() {
    let sh = shared(AutoOffsetReset::Latest);
    let mut paused = ready("t", 0);
    paused.paused = true;
    sh.lock().fixture_partition(tp("t", 0), paused);
    let mut lookup = PartitionState::new(Arc::from("t"), InitState::Committed);
    lookup.lookup_in_flight = true;
    sh.lock().fixture_partition(tp("t", 1), lookup);
    let mut full = ready("t", 0);
    full.buffered_bytes = sh.config.max_partition_buffered_bytes;
    sh.lock().fixture_partition(tp("t", 2), full);
    let (missing, tasks) = plan(&sh, &mut HashSet::new());
    assert!(!missing);
    assert!(tasks.is_empty());
}

#[tokio::test]
async fn a_full_buffer_stops_all_fetching() {
    let sh = shared_with(|b| b.max_buffered_bytes(1_000));
    sh.lock().fixture_partition(tp("t", 0), ready("t", 0));
    sh.lock().fixture_partition(tp("t", 1), ready("t", 0));
    {
        let mut st = sh.lock();
        let st = &mut *st;
        let epoch = st.partitions()[&tp("t", 1)].epoch;
        st.push_fetched(crate::consumer::unit_tests::completed(
            &tp("t", 1),
            epoch,
            &[Spec::data(0, 1)],
            vec![],
            1_000,
        ));
    }
    let (missing, tasks) = plan(&sh, &mut HashSet::new());
    assert!(!missing, "not even planned");
    assert!(tasks.is_empty());
    // One byte under the bound: planned again (and the leader is looked for).
    {
        let mut st = sh.lock();
        let st = &mut *st;
        st.discard_buffered(|_| true);
    }
    let (missing, _) = plan(&sh, &mut HashSet::new());
    assert!(missing);
}

#[tokio::test]
async fn lookups_start_once_per_partition_and_only_for_those_needing_one() {
    let sh = shared(AutoOffsetReset::Earliest);
    {
        let mut st = sh.lock();
        st.fixture_partition(
            tp("t", 0),
            PartitionState::new(Arc::from("t"), InitState::Committed),
        );
        st.fixture_partition(tp("t", 1), ready("t", 3));
    }
    let mut tasks = Tasks::new();
    let mut names = WireNames::default();
    start_lookups(&sh, &mut tasks, &mut names, Instant::now());
    assert_eq!(tasks.len(), 1, "one committed-offsets lookup");
    assert!(with(&sh, |p| p.lookup_in_flight));
    assert!(!sh.lock().partitions()[&tp("t", 1)].lookup_in_flight);
    start_lookups(&sh, &mut tasks, &mut names, Instant::now());
    assert_eq!(tasks.len(), 1, "not asked twice");
    // Without a group nothing is committed: the reset policy takes over.
    let Some(Ok(Outcome::Committed { sent, result })) = tasks.next().await else {
        panic!("a committed lookup");
    };
    assert_eq!(sent.len(), 1);
    on_committed(&sh, sent, result);
    with(&sh, |p| {
        assert!(!p.lookup_in_flight);
        assert_eq!(p.init, InitState::Reset(ResetTarget::Earliest));
    });
}

#[tokio::test(start_paused = true)]
async fn the_driver_wakes_for_the_earliest_backoff_still_ahead() {
    let sh = shared(AutoOffsetReset::Latest);
    let now = Instant::now();
    assert_eq!(next_timer(&sh, &HashMap::new()), None);
    for (p, ms) in [(0, 300u64), (1, 100), (2, 500)] {
        let mut s = ready("t", 0);
        s.backoff_until = Some(now + Duration::from_millis(ms));
        sh.lock().fixture_partition(tp("t", p), s);
    }
    let mut past = ready("t", 0);
    past.backoff_until = Some(now);
    sh.lock().fixture_partition(tp("t", 3), past);
    assert_eq!(
        next_timer(&sh, &HashMap::new()),
        Some(now + Duration::from_millis(100))
    );
    let brokers = HashMap::from([(1, (now + Duration::from_millis(50), 1u32))]);
    assert_eq!(
        next_timer(&sh, &brokers),
        Some(now + Duration::from_millis(50))
    );
    tokio::time::advance(Duration::from_millis(100)).await;
    assert_eq!(
        next_timer(&sh, &brokers),
        Some(now + Duration::from_millis(300)),
        "past timers are not waited for"
    );
}

#[test]
fn answers_are_matched_to_what_was_sent() {
    let mut names = WireNames::default();
    let mk = |t: &str, p: i32, names: &mut WireNames| Sent {
        tp: tp(t, p),
        wire: names.get(t),
        topic_id: uuid::Uuid::nil(),
        epoch: 0,
        fetch_offset: 0,
        leader: 1,
        leader_epoch: 0,
        from_replica: false,
    };
    let sorted = vec![
        mk("a", 0, &mut names),
        mk("a", 2, &mut names),
        mk("b", 1, &mut names),
    ];
    assert_eq!(sent_index(&sorted, "a", 2), Some(1));
    assert_eq!(sent_index(&sorted, "b", 1), Some(2));
    assert_eq!(sent_index(&sorted, "a", 1), None);
    assert_eq!(sent_index(&sorted, "c", 0), None);
    let unsorted = vec![mk("b", 1, &mut names), mk("a", 0, &mut names)];
    assert_eq!(sent_index(&unsorted, "a", 0), Some(1));
}

#[test]
fn wire_names_are_built_once_and_bounded() {
    let mut names = WireNames::default();
    let a = names.get("orders");
    let b = names.get("orders");
    assert_eq!(a, b);
    assert_eq!(&*a.0, "orders");
    assert_eq!(names.0.len(), 1);
    for i in 0..4095 {
        names.get(&format!("t{i}"));
    }
    assert_eq!(names.0.len(), 4096);
    names.get("one-more");
    assert_eq!(names.0.len(), 1, "starts afresh past the bound");
    names.get("orders");
    assert_eq!(names.0.len(), 2);
}

/// Plans one round and cancels the fetches before they run (no I/O): the brokers that
/// got a fetch and the partitions sent.
fn planned(
    sh: &Arc<Shared>,
    busy: &mut HashSet<i32>,
    backoff: &HashMap<i32, (Instant, u32)>,
) -> (bool, Vec<i32>, Vec<i32>) {
    let before: HashSet<i32> = busy.clone();
    let mut tasks = Tasks::new();
    let missing = start_fetches(
        sh,
        &mut tasks,
        busy,
        backoff,
        &mut WireNames::default(),
        &mut Sessions::new(),
        Instant::now(),
    );
    for t in &tasks {
        t.abort();
    }
    let mut brokers: Vec<i32> = busy.difference(&before).copied().collect();
    brokers.sort_unstable();
    assert_eq!(tasks.len(), brokers.len(), "one fetch per broker");
    let sent = sh
        .lock()
        .partitions()
        .iter()
        .filter(|(_, p)| p.fetch_in_flight)
        .map(|(t, _)| t.partition)
        .collect();
    (missing, brokers, sent)
}

fn fetchable_partitions(sh: &Shared, n: i32) {
    let mut st = sh.lock();
    for p in 0..n {
        st.fixture_partition(tp("t", p), ready("t", 0));
    }
}

#[tokio::test]
async fn one_fetch_per_leader_carries_all_its_partitions() {
    let sh = shared(AutoOffsetReset::Latest);
    led_by(&sh, &[Some(1), Some(2), Some(1)]);
    fetchable_partitions(&sh, 3);
    let (missing, brokers, sent) = planned(&sh, &mut HashSet::new(), &HashMap::new());
    assert!(!missing);
    assert_eq!(brokers, vec![1, 2]);
    assert_eq!(sent, vec![0, 1, 2]);
}

#[tokio::test]
async fn a_broker_with_a_fetch_out_gets_no_second_one() {
    let sh = shared(AutoOffsetReset::Latest);
    led_by(&sh, &[Some(1), Some(2), Some(1)]);
    fetchable_partitions(&sh, 3);
    let mut busy = HashSet::from([1]);
    let (_, brokers, sent) = planned(&sh, &mut busy, &HashMap::new());
    assert_eq!(brokers, vec![2]);
    assert_eq!(sent, vec![1]);
}

#[tokio::test(start_paused = true)]
async fn a_broker_backing_off_is_skipped_until_its_backoff_ends() {
    let sh = shared(AutoOffsetReset::Latest);
    led_by(&sh, &[Some(1), Some(2)]);
    fetchable_partitions(&sh, 2);
    let backoff = HashMap::from([(1, (Instant::now() + Duration::from_millis(100), 1u32))]);
    let (_, brokers, sent) = planned(&sh, &mut HashSet::new(), &backoff);
    assert_eq!((brokers, sent), (vec![2], vec![1]));
    tokio::time::advance(Duration::from_millis(100)).await;
    let (_, brokers, sent) = planned(&sh, &mut HashSet::new(), &backoff);
    assert_eq!(brokers, vec![1], "the backoff is over");
    assert_eq!(sent, vec![0, 1]);
}

#[tokio::test]
async fn some_leaders_unknown_the_others_are_still_fetched() {
    let sh = shared(AutoOffsetReset::Latest);
    led_by(&sh, &[None, Some(3)]);
    fetchable_partitions(&sh, 3); // t-2 is not even in the metadata
    let (missing, brokers, sent) = planned(&sh, &mut HashSet::new(), &HashMap::new());
    assert!(missing);
    assert_eq!((brokers, sent), (vec![3], vec![1]));
}

/// t-0 caught up (fetch offset at the end) and t-1, same leader, waiting for `poll`
/// to drain its buffered data.
fn caught_up_beside_a_full_partition(sh: &Shared) {
    led_by(sh, &[Some(1), Some(1)]);
    let limit = sh.config.max_partition_buffered_bytes;
    let mut st = sh.lock();
    let mut caught_up = ready("t", 5);
    caught_up.high_watermark = 5;
    caught_up.last_stable_offset = 5;
    st.fixture_partition(tp("t", 0), caught_up);
    let mut full = ready("t", 0);
    full.buffered_bytes = limit;
    st.fixture_partition(tp("t", 1), full);
}

#[tokio::test]
async fn a_caught_up_fetch_does_not_hold_a_broker_others_wait_on() {
    let sh = shared(AutoOffsetReset::Latest);
    caught_up_beside_a_full_partition(&sh);
    let (missing, brokers, sent) = planned(&sh, &mut HashSet::new(), &HashMap::new());
    assert!(!missing);
    assert!(brokers.is_empty(), "no long poll while t-1 waits for poll");
    assert!(sent.is_empty());
}

#[tokio::test]
async fn a_caught_up_partition_long_polls_when_nothing_waits_to_be_drained() {
    for block in ["paused", "none"] {
        let sh = shared(AutoOffsetReset::Latest);
        caught_up_beside_a_full_partition(&sh);
        {
            let mut st = sh.lock();
            let p = st.partition_mut(&tp("t", 1)).unwrap();
            match block {
                // A paused partition's data is not drained: nothing to wait for.
                "paused" => p.paused = true,
                _ => p.buffered_bytes = 0,
            }
        }
        let (_, brokers, sent) = planned(&sh, &mut HashSet::new(), &HashMap::new());
        assert_eq!(brokers, vec![1], "{block}");
        assert!(sent.contains(&0), "{block}");
    }
}

#[tokio::test]
async fn fetching_up_to_the_high_watermark_or_the_stable_offset_by_isolation() {
    use crate::consumer::builder::IsolationLevel;
    for (iso, fetched) in [
        (IsolationLevel::ReadUncommitted, true),
        (IsolationLevel::ReadCommitted, false),
    ] {
        let sh = shared_with(move |b| b.isolation_level(iso));
        caught_up_beside_a_full_partition(&sh);
        // Records up to 10 exist, stable only up to 5.
        sh.lock().partition_mut(&tp("t", 0)).unwrap().high_watermark = 10;
        let (_, brokers, _) = planned(&sh, &mut HashSet::new(), &HashMap::new());
        assert_eq!(!brokers.is_empty(), fetched, "{iso:?}");
    }
}

#[tokio::test]
async fn an_unknown_end_counts_as_data_to_fetch() {
    let sh = shared(AutoOffsetReset::Latest);
    caught_up_beside_a_full_partition(&sh);
    {
        let mut st = sh.lock();
        let p = st.partition_mut(&tp("t", 0)).unwrap();
        p.high_watermark = -1;
        p.last_stable_offset = -1;
    }
    let (_, brokers, sent) = planned(&sh, &mut HashSet::new(), &HashMap::new());
    assert_eq!((brokers, sent), (vec![1], vec![0]));
}

/// Gives topic `t` in the cached metadata the id `id` (as after a re-creation).
fn topic_id_is(sh: &Shared, id: uuid::Uuid) {
    let mut m = (*sh.client.cached_metadata()).clone();
    let mut t = (*m.topics["t"]).clone();
    t.id = id;
    m.topics.insert("t".into(), Arc::new(t));
    sh.client.set_cached_metadata(m);
}

#[tokio::test]
async fn topic_id_is_bound_at_the_first_fetch_and_a_new_id_resets_the_position() {
    let sh = shared(AutoOffsetReset::Earliest);
    led_by(&sh, &[Some(1)]);
    let old = uuid::Uuid::from_u128(1);
    topic_id_is(&sh, old);
    sh.lock().fixture_partition(tp("t", 0), ready("t", 500));
    let (_, brokers, sent) = planned(&sh, &mut HashSet::new(), &HashMap::new());
    assert_eq!((brokers, sent), (vec![1], vec![0]));
    assert_eq!(with(&sh, |p| p.topic_id), Some(old));
    // The topic is deleted and re-created: position 500 belonged to the old one.
    with(&sh, |p| p.fetch_in_flight = false);
    topic_id_is(&sh, uuid::Uuid::from_u128(2));
    let (_, brokers, sent) = planned(&sh, &mut HashSet::new(), &HashMap::new());
    assert!(
        brokers.is_empty() && sent.is_empty(),
        "never fetched at 500"
    );
    with(&sh, |p| {
        assert_eq!(p.init, InitState::Reset(ResetTarget::Earliest));
        assert_eq!(p.topic_id, None, "the new id is bound after the lookup");
    });
    assert!(sh.lock().pending_errors().is_empty());
}

#[tokio::test]
async fn topic_id_change_with_no_reset_policy_stops_the_partition_with_a_typed_error() {
    let sh = shared(AutoOffsetReset::None);
    led_by(&sh, &[Some(1)]);
    topic_id_is(&sh, uuid::Uuid::from_u128(2));
    let mut p = ready("t", 500);
    p.topic_id = Some(uuid::Uuid::from_u128(1));
    sh.lock().fixture_partition(tp("t", 0), p);
    let (_, brokers, _) = planned(&sh, &mut HashSet::new(), &HashMap::new());
    assert!(brokers.is_empty());
    assert_eq!(with(&sh, |p| p.init), InitState::Failed);
    let st = sh.lock();
    assert_eq!(st.pending_errors().len(), 1);
    let e = &st.pending_errors()[0].error;
    assert_eq!(e.code(), Some(ErrorCode::INCONSISTENT_TOPIC_ID));
    assert!(e.to_string().contains("re-created"), "{e}");
}

#[tokio::test]
async fn a_topic_without_an_id_is_fetched_by_name_and_binds_nothing() {
    let sh = shared(AutoOffsetReset::Earliest);
    led_by(&sh, &[Some(1)]);
    sh.lock().fixture_partition(tp("t", 0), ready("t", 5));
    let (_, brokers, _) = planned(&sh, &mut HashSet::new(), &HashMap::new());
    assert_eq!(brokers, vec![1]);
    assert_eq!(with(&sh, |p| p.topic_id), None);
}

#[tokio::test(start_paused = true)]
async fn a_named_read_replica_is_kept_and_a_replica_error_goes_back_to_the_leader() {
    let sh = shared(AutoOffsetReset::Earliest);
    // The leader answers with no records and names replica 2 (KIP-392).
    let s = in_flight(&sh, 5);
    let named = PartData {
        preferred_read_replica: 2,
        ..answer(&[], 0)
    };
    on_fetch(&sh, vec![s], Ok(vec![Some(named)]));
    let replica = with(&sh, |p| p.read_replica).expect("replica taken");
    assert_eq!((replica.node, replica.leader), (2, 1));
    // The replica answers OFFSET_OUT_OF_RANGE (it lags): back to the leader, no reset.
    let mut s = in_flight(&sh, 5);
    with(&sh, |p| p.read_replica = Some(replica));
    s.from_replica = true;
    on_fetch(
        &sh,
        vec![s],
        Ok(vec![Some(error_answer(ErrorCode::OFFSET_OUT_OF_RANGE))]),
    );
    with(&sh, |p| {
        assert_eq!(p.read_replica, None);
        assert_eq!(p.init, InitState::Ready, "no offset reset");
        assert_eq!(p.fetch_offset, 5);
    });
    // A failed fetch from the replica sends it back to the leader too.
    let mut s = in_flight(&sh, 5);
    with(&sh, |p| p.read_replica = Some(replica));
    s.from_replica = true;
    on_fetch(&sh, vec![s], Err(Error::Closed));
    assert_eq!(with(&sh, |p| p.read_replica), None);
}

#[tokio::test(start_paused = true)]
async fn a_failed_fetch_backs_its_broker_off_longer_each_time_an_answer_lifts_it() {
    use crate::config::ClientBuilder;
    let sh = shared_with(|b| {
        b.client_builder(
            ClientBuilder::new()
                .bootstrap_servers(["127.0.0.1:1"])
                .retry_backoff(Duration::from_millis(100), Duration::from_secs(60)),
        )
    });
    let mut backoff = HashMap::new();
    let now = Instant::now();
    broker_done(&sh, &mut backoff, 1, false, now);
    let (until, failures) = backoff[&1];
    assert_eq!(failures, 1);
    assert_within(until - now, 80, 120);
    broker_done(&sh, &mut backoff, 1, false, now);
    broker_done(&sh, &mut backoff, 2, false, now);
    let (until, failures) = backoff[&1];
    assert_eq!(failures, 2);
    assert_within(until - now, 160, 240);
    broker_done(&sh, &mut backoff, 1, true, now);
    assert!(!backoff.contains_key(&1), "answered");
    assert_eq!(backoff[&2].1, 1, "the other broker still backs off");
}

// --- the driver's turns -----------------------------------------------------------------

fn stop(d: &Driver) {
    for t in &d.tasks {
        t.abort();
    }
}

#[tokio::test(start_paused = true)]
async fn with_nothing_to_do_the_driver_looks_again_in_a_second() {
    let sh = shared(AutoOffsetReset::Latest);
    let mut d = Driver::new(sh);
    let now = Instant::now();
    assert_eq!(d.turn(now), Some(now + Duration::from_secs(1)));
    assert!(d.tasks.is_empty());
    let soon = now + Duration::from_millis(300);
    d.broker_backoff.insert(4, (soon, 1));
    assert_eq!(d.turn(now), Some(soon), "a backoff ends sooner");
}

#[tokio::test(start_paused = true)]
async fn a_partition_without_a_leader_starts_one_refresh_at_a_time() {
    let sh = shared(AutoOffsetReset::Latest);
    fetchable_partitions(&sh, 1); // no metadata: no leader known
    let mut d = Driver::new(sh);
    d.turn(Instant::now()).unwrap();
    assert!(d.refreshing);
    assert_eq!(d.tasks.len(), 1, "the refresh");
    d.turn(Instant::now()).unwrap();
    assert_eq!(d.tasks.len(), 1, "still one refresh out");
    d.on_outcome(Outcome::Refreshed, Instant::now());
    assert!(!d.refreshing, "the next refresh may start");
    stop(&d);
}

#[tokio::test(start_paused = true)]
async fn a_partition_with_a_leader_starts_a_fetch_and_no_refresh() {
    let sh = shared(AutoOffsetReset::Latest);
    led_by(&sh, &[Some(1)]);
    fetchable_partitions(&sh, 1);
    let mut d = Driver::new(sh);
    d.turn(Instant::now()).unwrap();
    assert!(!d.refreshing);
    assert_eq!(d.busy, HashSet::from([1]));
    assert_eq!(d.tasks.len(), 1, "the fetch");
    stop(&d);
}

#[tokio::test(start_paused = true)]
async fn a_fetch_outcome_frees_its_broker_and_backs_it_off_when_it_failed() {
    let sh = shared(AutoOffsetReset::Latest);
    let s = in_flight(&sh, 0);
    let mut d = Driver::new(sh.clone());
    d.busy.insert(1);
    let failed = Err(Error::Connect {
        context: ErrorContext::default(),
        reason: "refused".into(),
    });
    let now = Instant::now();
    d.on_outcome(
        Outcome::Fetch {
            broker: 1,
            sent: vec![s],
            result: failed,
        },
        now,
    );
    assert!(d.busy.is_empty());
    assert!(d.broker_backoff[&1].0 > now, "backs off");
    assert!(
        !sh.lock().partitions()[&tp("t", 0)].fetch_in_flight,
        "the answer reached the partition"
    );
    let s = in_flight(&sh, 0);
    d.busy.insert(1);
    d.on_outcome(
        Outcome::Fetch {
            broker: 1,
            sent: vec![s],
            result: Ok(vec![None]),
        },
        now,
    );
    assert!(d.busy.is_empty() && d.broker_backoff.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_closed_consumer_stops_the_driver_and_its_tasks() {
    let sh = shared(AutoOffsetReset::Latest);
    led_by(&sh, &[Some(1)]);
    fetchable_partitions(&sh, 1);
    let mut d = Driver::new(sh.clone());
    d.turn(Instant::now()).unwrap();
    sh.lock().close();
    assert_eq!(d.turn(Instant::now()), None);
    tokio::task::yield_now().await;
    let t = d.tasks.next().await.expect("the fetch task");
    assert!(t.is_err_and(|e| e.is_cancelled()), "aborted");
}

#[tokio::test(start_paused = true)]
async fn the_driver_task_runs_until_the_consumer_closes() {
    let sh = shared(AutoOffsetReset::Latest);
    let task = tokio::spawn(run(sh.clone()));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(!task.is_finished());
    sh.lock().close();
    sh.fetch_wake.notify_one();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("stopped")
        .unwrap();
}

#[tokio::test]
async fn a_bound_topic_id_that_still_matches_is_fetched_again() {
    let sh = shared(AutoOffsetReset::Earliest);
    led_by(&sh, &[Some(1)]);
    let id = uuid::Uuid::from_u128(1);
    topic_id_is(&sh, id);
    sh.lock().fixture_partition(tp("t", 0), ready("t", 500));
    planned(&sh, &mut HashSet::new(), &HashMap::new());
    with(&sh, |p| p.fetch_in_flight = false);
    let (_, brokers, sent) = planned(&sh, &mut HashSet::new(), &HashMap::new());
    assert_eq!((brokers, sent), (vec![1], vec![0]), "same topic, same id");
    with(&sh, |p| {
        assert_eq!((p.init, p.fetch_offset), (InitState::Ready, 500));
    });
}

#[tokio::test]
async fn an_empty_partition_at_offset_0_is_caught_up_not_unknown() {
    let sh = shared(AutoOffsetReset::Latest);
    caught_up_beside_a_full_partition(&sh);
    {
        let mut st = sh.lock();
        let p = st.partition_mut(&tp("t", 0)).unwrap();
        p.fetch_offset = 0;
        p.high_watermark = 0;
        p.last_stable_offset = 0;
    }
    let (_, brokers, sent) = planned(&sh, &mut HashSet::new(), &HashMap::new());
    assert!(
        brokers.is_empty() && sent.is_empty(),
        "an end of 0 is known: nothing to fetch, so no long poll while t-1 waits"
    );
}

#[tokio::test(start_paused = true)]
async fn a_partition_is_fetched_from_its_read_replica_while_that_is_good() {
    use crate::cluster::BrokerInfo;
    use crate::config::BrokerAddress;
    use crate::consumer::read_replica::ReadReplica;
    let sh = shared(AutoOffsetReset::Latest);
    led_by(&sh, &[Some(1)]);
    let mut m = (*sh.client.cached_metadata()).clone();
    for id in [1, 2] {
        m.brokers.insert(
            id,
            BrokerInfo {
                id,
                address: BrokerAddress::new("127.0.0.1", 1), // nothing listens
                rack: None,
            },
        );
    }
    sh.client.set_cached_metadata(m);
    // Without a replica the leader is fetched, and the request says so.
    sh.lock().fixture_partition(tp("t", 0), ready("t", 0));
    assert_eq!(fetched_from(&sh).await, [(1, false)]);
    let mut p = ready("t", 0);
    p.read_replica = ReadReplica::named(2, 1, 0, Instant::now(), Duration::from_secs(300));
    sh.lock().fixture_partition(tp("t", 0), p);
    assert_eq!(fetched_from(&sh).await, [(2, true)], "from the replica");
    // While the replica backs off, the partition waits (it is not sent to the leader).
    with(&sh, |p| p.fetch_in_flight = false);
    let backoff = HashMap::from([(2, (Instant::now() + Duration::from_secs(1), 1u32))]);
    let (_, brokers, sent) = planned(&sh, &mut HashSet::new(), &backoff);
    assert!(brokers.is_empty() && sent.is_empty());
}

/// Runs one planning round and lets its fetches fail (nothing listens): the broker each
/// went to and whether it was sent as a read-replica fetch, per partition.
async fn fetched_from(sh: &Arc<Shared>) -> Vec<(i32, bool)> {
    let mut tasks = Tasks::new();
    start_fetches(
        sh,
        &mut tasks,
        &mut HashSet::new(),
        &HashMap::new(),
        &mut WireNames::default(),
        &mut Sessions::new(),
        Instant::now(),
    );
    let mut out = Vec::new();
    while let Some(done) = tasks.next().await {
        if let Ok(Outcome::Fetch {
            broker,
            sent,
            result,
        }) = done
        {
            assert!(
                matches!(result, Err(Error::Connect { .. })),
                "nothing listens: {:?}",
                result.map(|r| r.len())
            );
            out.extend(sent.iter().map(|s| (broker, s.from_replica)));
        }
    }
    for (_, p) in sh.lock().partitions_mut() {
        p.fetch_in_flight = false;
    }
    out
}

#[tokio::test(start_paused = true)]
async fn a_transient_fetch_failure_drops_the_cached_leaders_a_final_one_does_not() {
    let sh = shared(AutoOffsetReset::Latest);
    led_by(&sh, &[Some(1)]);
    let s = in_flight(&sh, 0);
    on_fetch(&sh, vec![s], Err(Error::Closed));
    assert!(
        sh.client.cached_metadata().topic("t").is_some(),
        "closing says nothing about leaders"
    );
    let s = in_flight(&sh, 0);
    let lost = Error::Connect {
        context: ErrorContext::default(),
        reason: "reset".into(),
    };
    on_fetch(&sh, vec![s], Err(lost));
    assert!(
        sh.client.cached_metadata().topic("t").is_none(),
        "looked up again before the next fetch"
    );
}

#[tokio::test(start_paused = true)]
async fn a_retriable_partition_error_backs_off_and_looks_the_leader_up_again() {
    let sh = shared(AutoOffsetReset::Latest);
    led_by(&sh, &[Some(1)]);
    let s = in_flight(&sh, 0);
    on_fetch(
        &sh,
        vec![s],
        Ok(vec![Some(error_answer(ErrorCode::NOT_ENOUGH_REPLICAS))]),
    );
    with(&sh, |p| {
        assert_eq!(p.init, InitState::Ready, "not the end of the partition");
        assert!(p.backoff_until.is_some());
    });
    assert!(sh.lock().pending_errors().is_empty());
    assert!(sh.client.cached_metadata().topic("t").is_none());
}
