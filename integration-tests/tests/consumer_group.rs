//! Consumer groups against a real broker: three members joining and leaving
//! mid-stream (no loss, no duplicates, one owner per partition at a time),
//! cooperative-sticky stickiness, a group shared with `kcat -G` (librdkafka), static
//! membership, and commits refused after a rebalance.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::consumer_util::{
    Event, Recorder, consumer, drain, kcat_produce, value_index, wait_for,
};
use kafka_client::Error;
use kafka_client::consumer::{
    AssignmentStrategy, AutoOffsetReset, Consumer, OffsetAndMetadata, TopicPartition,
};

fn bootstrap() -> String {
    kafka_testbed::shared_cluster()
        .bootstrap_servers()
        .to_string()
}

/// The members of a test by name, with their listeners.
type Members = Arc<Mutex<Vec<(&'static str, Arc<Recorder>)>>>;

/// Everything the members of a test saw.
#[derive(Default)]
struct Ledger {
    /// value index → times consumed
    seen: Mutex<HashMap<usize, u32>>,
    violations: Mutex<Vec<String>>,
}

/// Runs a member's poll loop until `stop`, checking on every batch that this member
/// owns each record's partition and that no two members own a partition at once.
fn spawn_member(
    name: &'static str,
    c: Consumer,
    me: Arc<Recorder>,
    all: Members,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Consumer> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let batch = c.poll(Duration::from_millis(200)).await.expect("poll");
            let owned = me.owned();
            {
                let members = all.lock().unwrap();
                let mut owner: BTreeMap<TopicPartition, &str> = BTreeMap::new();
                for (n, r) in members.iter() {
                    for tp in r.owned() {
                        if let Some(prev) = owner.insert(tp.clone(), n) {
                            ledger
                                .violations
                                .lock()
                                .unwrap()
                                .push(format!("{tp} owned by {prev} and {n}"));
                        }
                    }
                }
            }
            {
                let mut seen = ledger.seen.lock().unwrap();
                for r in batch.records() {
                    if !owned.contains(&r.topic_partition()) {
                        ledger.violations.lock().unwrap().push(format!(
                            "{name} got {}@{} without owning it",
                            r.topic_partition(),
                            r.offset
                        ));
                    }
                    *seen.entry(value_index(r)).or_default() += 1;
                }
            }
            assert!(batch.errors().is_empty(), "{name}: {:?}", batch.errors());
            // Slow consumers, so membership changes happen mid-stream.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        c
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_members_join_and_leave_mid_stream() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("grp3");
    common::create_topic(&client, &topic, 12, 1).await;
    let group = common::unique_topic("g3");
    let first = 20_000;
    kcat_produce(&b, &topic, "lz4", first, 0, 50, None);

    let ledger = Arc::new(Ledger::default());
    let all: Members = Arc::default();
    let make = |name: &'static str| {
        let rec = Recorder::new();
        all.lock().unwrap().push((name, rec.clone()));
        let c = consumer(&b)
            .group_id(group.clone())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .assignment_strategies([AssignmentStrategy::Range])
            .max_poll_records(100)
            .rebalance_listener(rec.clone())
            .build()
            .unwrap();
        c.subscribe([topic.clone()]).unwrap();
        (c, rec)
    };
    let total = || ledger.seen.lock().unwrap().len();

    let (c1, r1) = make("c1");
    let stop1 = Arc::new(AtomicBool::new(false));
    let h1 = spawn_member(
        "c1",
        c1,
        r1.clone(),
        all.clone(),
        ledger.clone(),
        stop1.clone(),
    );
    wait_for("c1 to consume", Duration::from_secs(30), || total() > 2_000).await;

    let (c2, r2) = make("c2");
    let stop2 = Arc::new(AtomicBool::new(false));
    let h2 = spawn_member(
        "c2",
        c2,
        r2.clone(),
        all.clone(),
        ledger.clone(),
        stop2.clone(),
    );
    wait_for("c2 to get partitions", Duration::from_secs(30), || {
        !r2.owned().is_empty()
    })
    .await;
    kcat_produce(&b, &topic, "lz4", 10_000, first, 50, None);

    let (c3, r3) = make("c3");
    let stop3 = Arc::new(AtomicBool::new(false));
    let h3 = spawn_member(
        "c3",
        c3,
        r3.clone(),
        all.clone(),
        ledger.clone(),
        stop3.clone(),
    );
    wait_for("c3 to get partitions", Duration::from_secs(30), || {
        !r3.owned().is_empty()
    })
    .await;
    assert!(
        total() < first + 10_000,
        "the stream was still flowing when c3 joined"
    );

    // c1 leaves mid-stream: final commit, revoked, LeaveGroup.
    stop1.store(true, Ordering::Relaxed);
    let c1 = h1.await.unwrap();
    c1.close().await.unwrap();
    assert!(r1.owned().is_empty());
    kcat_produce(&b, &topic, "lz4", 10_000, first + 10_000, 50, None);
    let n = first + 20_000;
    wait_for("every record", Duration::from_secs(90), || total() >= n).await;

    for (stop, h) in [(stop2, h2), (stop3, h3)] {
        stop.store(true, Ordering::Relaxed);
        h.await.unwrap().close().await.unwrap();
    }
    let seen = ledger.seen.lock().unwrap();
    let lost = (0..n).filter(|i| !seen.contains_key(i)).count();
    let duplicates: u32 = seen.values().map(|c| c - 1).sum();
    println!(
        "consumed {} distinct, lost {lost}, duplicates {duplicates}",
        seen.len()
    );
    assert_eq!(lost, 0);
    assert_eq!(
        duplicates, 0,
        "revocation commits cleanly, so nothing is read twice"
    );
    let v = ledger.violations.lock().unwrap();
    assert!(v.is_empty(), "ownership violations: {v:?}");
    // Every member saw assignments; c1 saw its partitions revoked when others joined.
    assert!(
        r1.events()
            .iter()
            .any(|e| matches!(e, Event::Revoked(p) if p.len() == 12))
    );
    assert!(
        r3.events()
            .iter()
            .any(|e| matches!(e, Event::Assigned(p) if p.len() == 4))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cooperative_sticky_keeps_unaffected_partitions() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("coop");
    common::create_topic(&client, &topic, 12, 1).await;
    let group = common::unique_topic("g-coop");
    let make = || {
        let rec = Recorder::new();
        let c = consumer(&b)
            .group_id(group.clone())
            .assignment_strategies([AssignmentStrategy::CooperativeSticky])
            .rebalance_listener(rec.clone())
            .build()
            .unwrap();
        c.subscribe([topic.clone()]).unwrap();
        (c, rec)
    };
    let (c1, r1) = make();
    let poll_until = |c: Consumer, done: Arc<AtomicBool>| {
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                c.poll(Duration::from_millis(100)).await.unwrap();
            }
            c
        })
    };
    let d1 = Arc::new(AtomicBool::new(false));
    let h1 = poll_until(c1, d1.clone());
    wait_for("c1 to own all 12", Duration::from_secs(30), || {
        r1.owned().len() == 12
    })
    .await;
    let before = r1.owned();

    let (c2, r2) = make();
    let d2 = Arc::new(AtomicBool::new(false));
    let h2 = poll_until(c2, d2.clone());
    wait_for("c2 to own 6", Duration::from_secs(30), || {
        r2.owned().len() == 6
    })
    .await;
    wait_for("c1 to own 6", Duration::from_secs(30), || {
        r1.owned().len() == 6
    })
    .await;
    let kept = r1.owned();
    let moved: BTreeSet<_> = before.difference(&kept).cloned().collect();
    assert_eq!(
        moved,
        r2.owned(),
        "only the partitions that moved to c2 left c1"
    );
    let revoked: BTreeSet<TopicPartition> = r1
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Revoked(p) | Event::Lost(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        revoked,
        moved,
        "kept partitions were never revoked: {:?}",
        r1.events()
    );
    for (d, h) in [(d1, h1), (d2, h2)] {
        d.store(true, Ordering::Relaxed);
        h.await.unwrap().close().await.unwrap();
    }
}

/// One of our consumers and one `kcat -G` (librdkafka) consumer in one group with the
/// `roundrobin` assignor: disjoint partitions, every record consumed once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_a_group_with_kcat() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("mixed");
    common::create_topic(&client, &topic, 6, 1).await;
    let group = common::unique_topic("g-mixed");
    let mut kcat = Command::new("kcat")
        .args(["-b", &b, "-G", &group, "-f", "%p %o %s\\n", "-u"])
        .args(["-X", "partition.assignment.strategy=roundrobin"])
        .args([
            "-X",
            "auto.offset.reset=earliest",
            "-X",
            "session.timeout.ms=10000",
        ])
        .arg(&topic)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kcat");
    let kcat_lines: Arc<Mutex<Vec<(i32, i64, usize)>>> = Arc::default();
    let stdout = kcat.stdout.take().unwrap();
    let lines = kcat_lines.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(|l| l.ok()) {
            let mut it = line.split_whitespace();
            let (Some(p), Some(o), Some(v)) = (it.next(), it.next(), it.next()) else {
                continue;
            };
            let i = v
                .split('-')
                .nth(1)
                .and_then(|n| n.parse().ok())
                .unwrap_or(usize::MAX);
            lines
                .lock()
                .unwrap()
                .push((p.parse().unwrap(), o.parse().unwrap(), i));
        }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rec = Recorder::new();
    let c = consumer(&b)
        .group_id(group.clone())
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .assignment_strategies([AssignmentStrategy::RoundRobin])
        .rebalance_listener(rec.clone())
        .build()
        .unwrap();
    c.subscribe([topic.clone()]).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while rec.owned().len() != 3 {
        c.poll(Duration::from_millis(100)).await.unwrap();
        assert!(
            Instant::now() < deadline,
            "never got half the partitions: {:?}",
            rec.events()
        );
    }
    // Let the group settle before writing.
    let settle = Instant::now() + Duration::from_secs(2);
    while Instant::now() < settle {
        assert!(c.poll(Duration::from_millis(100)).await.unwrap().is_empty());
    }
    let n = 6_000;
    kcat_produce(&b, &topic, "none", n, 0, 30, None);
    let mut ours: Vec<(i32, i64, usize)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while ours.len() + kcat_lines.lock().unwrap().len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} + {} of {n}",
            ours.len(),
            kcat_lines.lock().unwrap().len()
        );
        for r in c.poll(Duration::from_millis(200)).await.unwrap().records() {
            ours.push((r.partition, r.offset, value_index(r)));
        }
    }
    let _ = c.poll(Duration::from_millis(500)).await.unwrap();
    let _ = kcat.kill();
    let _ = kcat.wait();
    let theirs = kcat_lines.lock().unwrap().clone();
    let our_parts: BTreeSet<i32> = ours.iter().map(|r| r.0).collect();
    let their_parts: BTreeSet<i32> = theirs.iter().map(|r| r.0).collect();
    println!(
        "ours {} records from {our_parts:?}; kcat {} from {their_parts:?}",
        ours.len(),
        theirs.len()
    );
    assert!(our_parts.is_disjoint(&their_parts));
    assert_eq!(our_parts.len() + their_parts.len(), 6);
    let mut all: Vec<usize> = ours.iter().chain(theirs.iter()).map(|r| r.2).collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>(), "every record exactly once");
    c.close().await.unwrap();
}

/// A static member (group.instance.id) that restarts within the session timeout gets its
/// partitions back without a rebalance: the generation stays and the other member is
/// not disturbed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn static_member_rejoins_without_rebalance() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("static");
    common::create_topic(&client, &topic, 4, 1).await;
    let group = common::unique_topic("g-static");
    let make = |id: &str| {
        let rec = Recorder::new();
        let c = consumer(&b)
            .group_id(group.clone())
            .group_instance_id(id)
            .assignment_strategies([AssignmentStrategy::Range])
            .rebalance_listener(rec.clone())
            .build()
            .unwrap();
        c.subscribe([topic.clone()]).unwrap();
        (c, rec)
    };
    let (a, ra) = make("member-a");
    let (bm, rb) = make("member-b");
    let deadline = Instant::now() + Duration::from_secs(60);
    while ra.owned().len() != 2 || rb.owned().len() != 2 {
        let _ = a.poll(Duration::from_millis(50)).await.unwrap();
        let _ = bm.poll(Duration::from_millis(50)).await.unwrap();
        assert!(
            Instant::now() < deadline,
            "no 2+2 split: {:?} {:?}",
            ra.events(),
            rb.events()
        );
    }
    let generation = a.group_metadata().unwrap().generation_id;
    assert_eq!(bm.group_metadata().unwrap().generation_id, generation);
    let a_parts = ra.owned();
    let b_events = rb.events().len();
    a.close().await.unwrap();

    let (a2, ra2) = make("member-a");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ra2.owned().is_empty() {
        let _ = a2.poll(Duration::from_millis(50)).await.unwrap();
        let _ = bm.poll(Duration::from_millis(50)).await.unwrap();
        assert!(
            Instant::now() < deadline,
            "restarted static member got nothing"
        );
    }
    assert_eq!(ra2.owned(), a_parts, "same partitions back");
    assert_eq!(
        a2.group_metadata().unwrap().generation_id,
        generation,
        "no new generation"
    );
    // b keeps heartbeating through a few intervals without any rebalance.
    let quiet = Instant::now() + Duration::from_secs(3);
    while Instant::now() < quiet {
        let _ = a2.poll(Duration::from_millis(50)).await.unwrap();
        let _ = bm.poll(Duration::from_millis(50)).await.unwrap();
    }
    assert_eq!(
        rb.events().len(),
        b_events,
        "b saw a rebalance: {:?}",
        rb.events()
    );
    assert_eq!(bm.group_metadata().unwrap().generation_id, generation);
    a2.close().await.unwrap();
    bm.close().await.unwrap();
}

/// After a rebalance took a partition away, committing it fails with a clear error
/// and stores nothing; partitions still owned commit fine.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_after_rebalance_is_refused_for_lost_partitions() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("commit-rb");
    common::create_topic(&client, &topic, 2, 1).await;
    kcat_produce(&b, &topic, "none", 100, 0, 10, None);
    let group = common::unique_topic("g-commit");
    let make = || {
        let rec = Recorder::new();
        let c = consumer(&b)
            .group_id(group.clone())
            .enable_auto_commit(false)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .assignment_strategies([AssignmentStrategy::Range])
            .rebalance_listener(rec.clone())
            .build()
            .unwrap();
        c.subscribe([topic.clone()]).unwrap();
        (c, rec)
    };
    let (a, ra) = make();
    let _ = drain(&a, 100, Duration::from_secs(30)).await;
    assert_eq!(ra.owned().len(), 2);
    let (bm, rb) = make();
    let deadline = Instant::now() + Duration::from_secs(30);
    while ra.owned().len() != 1 || rb.owned().len() != 1 {
        let _ = a.poll(Duration::from_millis(50)).await.unwrap();
        let _ = bm.poll(Duration::from_millis(50)).await.unwrap();
        assert!(Instant::now() < deadline, "no 1+1 split");
    }
    let kept = ra.owned().into_iter().next().unwrap();
    let lost = rb.owned().into_iter().next().unwrap();
    let err = a
        .commit_offsets(BTreeMap::from([
            (kept.clone(), OffsetAndMetadata::new(1)),
            (lost.clone(), OffsetAndMetadata::new(7)),
        ]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::CommitFailed { .. }), "{err}");
    assert!(err.to_string().contains(&lost.to_string()), "{err}");
    let committed = a.committed([kept.clone(), lost.clone()]).await.unwrap();
    assert_eq!(
        committed[&lost], None,
        "nothing stored for the lost partition"
    );
    assert_eq!(committed[&kept], None, "nothing stored at all");
    a.commit_offsets(BTreeMap::from([(
        kept.clone(),
        OffsetAndMetadata::new(3).with_metadata("m"),
    )]))
    .await
    .unwrap();
    let got = a.committed([kept.clone()]).await.unwrap()[&kept]
        .clone()
        .unwrap();
    assert_eq!((got.offset, got.metadata.as_deref()), (3, Some("m")));
    a.close().await.unwrap();
    bm.close().await.unwrap();
}
