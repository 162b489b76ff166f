//! The producer's shared state (`shared.rs`): the topic table and its hash, the routing
//! of partitions to senders, topic registration (senders started, refreshes asked),
//! wake-ups, loading marks and closing. A child of `shared.rs` (its registries are
//! private).

use std::hash::Hasher;
use std::sync::Arc;

use futures::FutureExt;

use super::*;
use crate::producer::unit_tests::{producer, topic_info};

fn fnv(bytes: &[u8]) -> u64 {
    let mut h = Fnv::default();
    h.write(bytes);
    h.finish()
}

/// A fresh shared state over an unreachable cluster, with no task started.
fn fresh() -> Arc<Shared> {
    let p = producer(true);
    let sh = p.shared();
    Arc::new(Shared::new(sh.client.clone(), false, sh.config.clone()))
}

fn woken(h: &SenderHandle) -> bool {
    h.notify.notified().now_or_never().is_some()
}

fn refresh_asked(sh: &Shared) -> Vec<String> {
    let mut v: Vec<String> = sh
        .refresh
        .topics
        .lock()
        .unwrap()
        .iter()
        .map(|t| t.to_string())
        .collect();
    v.sort();
    v
}

fn names(parts: &[Arc<PartitionState>]) -> Vec<String> {
    parts
        .iter()
        .map(|p| format!("{}-{}", p.topic.name, p.partition))
        .collect()
}

#[test]
fn the_topic_hash_is_fnv_1a_64() {
    // The published FNV-1a test vectors (offset basis, "a", "foobar").
    assert_eq!(fnv(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv(b"foobar"), 0x8594_4171_f739_67e8);
}

#[tokio::test(start_paused = true)]
async fn a_new_topic_wakes_its_leaders_senders_and_asks_metadata_for_the_leaderless() {
    let sh = fresh();
    let one = sh.register_idle_sender(1);
    let epoch = sh.routing_epoch();
    let t = sh
        .register_topic(&topic_info("t", &[Some(1), None]))
        .unwrap();
    assert!(Arc::ptr_eq(&t, &sh.topic("t").expect("registered")));
    assert!(sh.topic("u").is_none());
    assert!(
        sh.routing_epoch() > epoch,
        "senders re-list their partitions"
    );
    assert!(woken(&one));
    assert_eq!(refresh_asked(&sh), ["t"], "t-1 has no leader");
    assert!(
        !sh.senders.read().unwrap().contains_key(&-1),
        "no sender for no leader"
    );
}

#[tokio::test(start_paused = true)]
async fn metadata_that_changes_nothing_wakes_no_one() {
    let sh = fresh();
    let one = sh.register_idle_sender(1);
    sh.register_topic(&topic_info("t", &[Some(1)])).unwrap();
    assert!(
        refresh_asked(&sh).is_empty(),
        "every partition has a leader"
    );
    assert!(woken(&one));
    let epoch = sh.routing_epoch();
    sh.register_topic(&topic_info("t", &[Some(1)])).unwrap();
    assert_eq!(sh.routing_epoch(), epoch);
    assert!(!woken(&one));
}

#[tokio::test(start_paused = true)]
async fn a_leader_without_a_sender_gets_one_started() {
    let sh = fresh();
    sh.register_idle_sender(1);
    sh.register_topic(&topic_info("t", &[Some(1), Some(2)]))
        .unwrap();
    let senders = sh.senders.read().unwrap();
    let mut brokers: Vec<i32> = senders.keys().copied().collect();
    brokers.sort();
    assert_eq!(brokers, [1, 2]);
    assert!(sh.refresh.started.load(Ordering::Acquire), "metadata task");
    drop(senders);
    sh.abort(); // the started tasks stop
}

#[test]
fn outside_a_tokio_runtime_registration_and_senders_fail_with_a_config_error() {
    let sh = fresh();
    let err = sh.register_topic(&topic_info("t", &[None])).unwrap_err();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(
        !sh.refresh.started.load(Ordering::Acquire),
        "not marked started when it could not start"
    );
    assert!(matches!(sh.ensure_sender(3), Err(Error::Config(_))));
    assert!(sh.senders.read().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn partitions_are_listed_by_leader_and_without_one() {
    let sh = fresh();
    for b in [0, 1, 2] {
        sh.register_idle_sender(b);
    }
    sh.register_topic(&topic_info("t", &[Some(1), Some(2), Some(1)]))
        .unwrap();
    sh.register_topic(&topic_info("u", &[Some(0), None]))
        .unwrap();
    let mut out = vec![sh.topic("u").unwrap().partitions()[0].clone()];
    sh.partitions_led_by(1, &mut out);
    assert_eq!(names(&out), ["t-0", "t-2"], "the list is cleared first");
    sh.partitions_led_by(0, &mut out);
    assert_eq!(names(&out), ["u-0"]);
    assert_eq!(names(&sh.leaderless()), ["u-1"], "node 0 is a leader");
}

#[tokio::test(start_paused = true)]
async fn a_vanished_topic_waits_for_a_leader_and_senders_re_list() {
    let sh = fresh();
    sh.register_idle_sender(1);
    sh.register_topic(&topic_info("t", &[Some(1)])).unwrap();
    let epoch = sh.routing_epoch();
    sh.topic_missing("nope");
    assert_eq!(
        sh.routing_epoch(),
        epoch,
        "an unknown topic changes nothing"
    );
    sh.topic_missing("t");
    assert_eq!(names(&sh.leaderless()), ["t-0"]);
    assert!(sh.routing_epoch() > epoch);
}

#[test]
fn one_load_per_topic_at_a_time() {
    let sh = fresh();
    let t: Arc<str> = Arc::from("t");
    assert!(sh.start_loading(&t));
    assert!(!sh.start_loading(&t), "under way");
    assert!(sh.start_loading(&Arc::from("u")), "another topic");
    sh.done_loading("t");
    assert!(sh.start_loading(&t), "done: may load again");
}

#[test]
fn wake_ups_reach_every_sender_and_the_metadata_task() {
    let sh = fresh();
    let (one, two) = (sh.register_idle_sender(1), sh.register_idle_sender(2));
    sh.wake_senders();
    assert!(woken(&one) && woken(&two));
    assert!(sh.refresh.notify.notified().now_or_never().is_none());
    sh.wake_all();
    assert!(woken(&one) && woken(&two));
    assert!(sh.refresh.notify.notified().now_or_never().is_some());
}

#[test]
fn closing_refuses_new_reservations_at_once() {
    let sh = fresh();
    assert!(sh.res.memory.try_reserve(1).is_ok());
    sh.begin_close();
    assert!(sh.is_closing());
    assert!(matches!(sh.res.memory.try_reserve(1), Err(Error::Closed)));
}

/// A v1 (or v2) transactional producer's state with `t-0` led by broker 1 holding a
/// batch already sent once (stamped) and requeued, when `stamped`, else an unsent one.
async fn txn_with_batch(v2: bool, stamped: bool) -> Arc<Shared> {
    use crate::producer::unit_tests::{P0, append, take_now, txn_shared};
    let sh = txn_shared(v2);
    sh.register_idle_sender(1);
    sh.register_topic(&topic_info("t", &[Some(1)])).unwrap();
    let p = sh.topic("t").unwrap().partitions()[0].clone();
    for _ in 0..2 {
        drop(append(&p, &sh.res, 60));
    }
    if stamped {
        let mut b = take_now(&p, 1, Some(P0)).unwrap();
        b.attempts += 1;
        p.requeue(b, None);
    }
    sh
}

#[tokio::test(start_paused = true)]
async fn failing_a_stamped_batch_of_a_v1_transaction_asks_for_an_epoch_bump() {
    let sh = txn_with_batch(false, true).await;
    sh.fail_unsent(&Error::Closed);
    let t = sh.topic("t").unwrap();
    assert!(!t.partitions()[0].has_unsent());
    assert!(
        sh.txn.as_ref().unwrap().take_bump(),
        "its sequences are spent"
    );
}

#[tokio::test(start_paused = true)]
async fn failing_unstamped_batches_or_under_v2_asks_for_no_bump() {
    let sh = txn_with_batch(false, false).await;
    sh.fail_unsent(&Error::Closed);
    assert!(!sh.topic("t").unwrap().partitions()[0].has_unsent());
    assert!(
        !sh.txn.as_ref().unwrap().take_bump(),
        "no sequence was used"
    );
    let sh = txn_with_batch(true, true).await;
    sh.fail_unsent(&Error::Closed);
    assert!(
        !sh.txn.as_ref().unwrap().take_bump(),
        "v2 bumps every transaction anyway"
    );
}

#[tokio::test(start_paused = true)]
async fn a_topic_led_by_node_0_needs_no_refresh() {
    let sh = fresh();
    let zero = sh.register_idle_sender(0);
    sh.register_topic(&topic_info("t", &[Some(0)])).unwrap();
    assert!(refresh_asked(&sh).is_empty());
    assert!(woken(&zero));
}
