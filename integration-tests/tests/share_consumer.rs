//! Share groups (KIP-932) against a real Kafka 4.4 broker: three of our share consumers
//! splitting a 1-partition topic (each record accepted exactly once, none lost),
//! release and redelivery (delivery count 2), reject (never redelivered), acquisition
//! lock expiry (redelivered to another member, the late acknowledgement refused with a
//! typed error), an acknowledgement sent after the broker's lock expired (refused by the
//! broker: INVALID_RECORD_STATE), a SIGKILLed member's records redelivered to another,
//! bad input, and a share group shared with Apache Kafka's Java `KafkaShareConsumer`.
//!
//! The tests run on their own 1-node cluster (`common::share`): its broker allows short
//! acquisition locks and heartbeats; each group reads from the earliest offset.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_admin::Admin;
use kafka_client::share::{
    AcknowledgeError, AcknowledgeType, AcknowledgementMode, NotHeldReason, ShareConsumer,
};
use kafka_client::{Error, ErrorCode};

use common::share::{bootstrap, group, index, member, poll_n, produce, topic_with};
use common::{client, create_topic, unique_topic};

/// Which member (by index) got a record, with its delivery count, by record index.
type Seen = BTreeMap<usize, Vec<(usize, i16)>>;

/// Each member polls (implicit mode) into `seen` until every one of `n` records came
/// or `limit` passed, then closes (accepting its last poll).
async fn run_members(members: Vec<ShareConsumer>, n: usize, limit: Duration) -> Seen {
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let deadline = Instant::now() + limit;
    let tasks: Vec<_> = members
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let seen = seen.clone();
            tokio::spawn(async move {
                while seen.lock().unwrap().len() < n && Instant::now() < deadline {
                    let batch = c.poll(Duration::from_millis(300)).await.expect("poll");
                    let mut s = seen.lock().unwrap();
                    for r in &batch {
                        s.entry(index(r)).or_default().push((i, r.delivery_count));
                    }
                }
                c.close().await.expect("close");
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("member");
    }
    Arc::try_unwrap(seen).unwrap().into_inner().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_three_members_split_a_partition_each_record_accepted_once() {
    const N: usize = 30_000;
    let topic = topic_with(N).await;
    let g = group(&[]).await;
    let members: Vec<ShareConsumer> = (0..3)
        .map(|_| {
            let c = member(&g, AcknowledgementMode::Implicit, 500);
            c.subscribe([topic.as_str()]).unwrap();
            c
        })
        .collect();
    let started = Instant::now();
    let seen = run_members(members, N, Duration::from_secs(180)).await;
    let took = started.elapsed();
    assert_eq!(seen.len(), N, "records lost: {} of {N} seen", seen.len());
    let dup: Vec<_> = seen.iter().filter(|(_, v)| v.len() != 1).take(5).collect();
    assert!(dup.is_empty(), "delivered more than once: {dup:?}");
    let mut per_member = [0usize; 3];
    for v in seen.values() {
        per_member[v[0].0] += 1;
        assert_eq!(v[0].1, 1, "first delivery counts 1");
    }
    eprintln!("3 share members: {N} records in {took:?}, split {per_member:?}");
    let c = member(&g, AcknowledgementMode::Implicit, 500);
    c.subscribe([topic.as_str()]).unwrap();
    let again = poll_n(&c, 1, Duration::from_secs(5)).await;
    assert!(
        again.is_empty(),
        "an accepted record came back: {:?}",
        again.first()
    );
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_release_redelivers_with_count_two_and_reject_is_final() {
    let topic = topic_with(10).await;
    let g = group(&[]).await;
    let a = member(&g, AcknowledgementMode::Explicit, 10);
    a.subscribe([topic.as_str()]).unwrap();
    let got = poll_n(&a, 10, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 10);
    for r in &got {
        assert_eq!(r.delivery_count, 1);
        let kind = if index(r).is_multiple_of(2) {
            AcknowledgeType::Release
        } else {
            AcknowledgeType::Reject
        };
        a.acknowledge(r, kind).unwrap();
    }
    let results = a.commit().await.expect("commit");
    assert_eq!(results.len(), 1, "{results:?}");
    let (tp, outcome) = results.iter().next().unwrap();
    assert_eq!(tp.partition, 0);
    assert_eq!(outcome.offsets.len(), 10);
    assert!(outcome.error.is_none(), "{:?}", outcome.error);
    a.close().await.unwrap();

    let b = member(&g, AcknowledgementMode::Explicit, 10);
    b.subscribe([topic.as_str()]).unwrap();
    let again = poll_n(&b, 5, Duration::from_secs(30)).await;
    let mut idx: Vec<(usize, i16)> = again.iter().map(|r| (index(r), r.delivery_count)).collect();
    idx.sort();
    assert_eq!(
        idx,
        [(0, 2), (2, 2), (4, 2), (6, 2), (8, 2)],
        "released ones only, counted twice"
    );
    for r in &again {
        b.acknowledge(r, AcknowledgeType::Accept).unwrap();
    }
    let more = b.poll(Duration::from_secs(3)).await.unwrap();
    assert!(more.is_empty(), "rejected records came back: {more:?}");
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_release_past_the_delivery_limit_archives_the_record() {
    // The broker's group.share.delivery.count.limit is 5 (the default).
    let topic = topic_with(1).await;
    let g = group(&[]).await;
    let c = member(&g, AcknowledgementMode::Explicit, 1);
    c.subscribe([topic.as_str()]).unwrap();
    let mut counts = Vec::new();
    for _ in 0..5 {
        let got = poll_n(&c, 1, Duration::from_secs(30)).await;
        assert_eq!(got.len(), 1, "delivered again after {counts:?}");
        counts.push(got[0].delivery_count);
        c.acknowledge(&got[0], AcknowledgeType::Release).unwrap();
        let r = c.commit().await.unwrap();
        assert!(r.values().all(|o| o.error.is_none()), "{r:?}");
    }
    assert_eq!(counts, [1, 2, 3, 4, 5]);
    let after = c.poll(Duration::from_secs(3)).await.unwrap();
    assert!(
        after.is_empty(),
        "released past the limit yet delivered: {after:?}"
    );
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_lock_timeout_redelivers_to_another_member_and_late_ack_is_refused() {
    let topic = topic_with(5).await;
    let g = group(&[("share.record.lock.duration.ms", "3000")]).await;
    let slow = member(&g, AcknowledgementMode::Explicit, 5);
    slow.subscribe([topic.as_str()]).unwrap();
    let held = poll_n(&slow, 5, Duration::from_secs(30)).await;
    assert_eq!(held.len(), 5);
    // The slow member stops acknowledging; its locks run out.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let other = member(&g, AcknowledgementMode::Explicit, 5);
    other.subscribe([topic.as_str()]).unwrap();
    let again = poll_n(&other, 5, Duration::from_secs(30)).await;
    assert_eq!(again.len(), 5, "redelivered to the other member");
    assert!(again.iter().all(|r| r.delivery_count == 2), "{again:?}");
    for r in &again {
        other.acknowledge(r, AcknowledgeType::Accept).unwrap();
    }
    let e = slow
        .acknowledge(&held[0], AcknowledgeType::Accept)
        .unwrap_err();
    assert!(
        matches!(
            e,
            AcknowledgeError::NotHeld {
                reason: NotHeldReason::LockExpired,
                offset: 0,
                ..
            }
        ),
        "{e}"
    );
    let r = other.commit().await.unwrap();
    assert!(r.values().all(|c| c.error.is_none()), "{r:?}");
    other.close().await.unwrap();
    slow.close().await.unwrap();
}

/// An acknowledgement recorded while the lock held but sent after the broker's lock
/// ran out reaches the broker, which refuses it: the commit reports INVALID_RECORD_STATE
/// for those offsets (typed, per partition), and the records go to another member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_ack_sent_after_the_lock_expired_is_refused_by_the_broker_invalid_record_state() {
    let topic = topic_with(3).await;
    let g = group(&[("share.record.lock.duration.ms", "2000")]).await;
    let slow = member(&g, AcknowledgementMode::Explicit, 3);
    slow.subscribe([topic.as_str()]).unwrap();
    let held = poll_n(&slow, 3, Duration::from_secs(30)).await;
    assert_eq!(held.len(), 3);
    // Acknowledged in time (the client holds the locks), sent too late: nothing goes
    // out until the commit, after the broker's locks expired.
    for r in &held {
        slow.acknowledge(r, AcknowledgeType::Accept).unwrap();
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let results = slow.commit().await.expect("commit");
    let tp = kafka_client::TopicPartition::new(topic.clone(), 0);
    let outcome = results.get(&tp).unwrap_or_else(|| panic!("{results:?}"));
    assert_eq!(
        outcome.offsets.iter().copied().collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    let e = outcome.error.as_ref().expect("the broker refused them");
    assert_eq!(e.code(), Some(ErrorCode::INVALID_RECORD_STATE), "{e}");
    // Not accepted, so delivered again.
    let other = member(&g, AcknowledgementMode::Explicit, 3);
    other.subscribe([topic.as_str()]).unwrap();
    let again = poll_n(&other, 3, Duration::from_secs(30)).await;
    assert_eq!(again.iter().map(index).collect::<Vec<_>>(), vec![0, 1, 2]);
    assert!(again.iter().all(|r| r.delivery_count == 2), "{again:?}");
    for r in &again {
        other.acknowledge(r, AcknowledgeType::Accept).unwrap();
    }
    let r = other.commit().await.unwrap();
    assert!(r.values().all(|c| c.error.is_none()), "{r:?}");
    other.close().await.unwrap();
    slow.close().await.unwrap();
}

const CHILD_ENV: &str = "SHARE_TEST_CHILD";

/// Not a test of its own: the process that
/// `share_sigkilled_member_records_are_redelivered_to_another_member` starts. It joins
/// the group named in its environment, acquires records without acknowledging them,
/// prints `HELD <offsets>` and waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a child process of share_sigkilled_member_records_are_redelivered_to_another_member"]
async fn share_child_holds_records_until_killed() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let f: Vec<&str> = spec.split(' ').collect();
    let [bootstrap, group, topic] = f.as_slice() else {
        panic!("{CHILD_ENV}={spec}");
    };
    let c = ShareConsumer::builder()
        .bootstrap_servers([*bootstrap])
        .group_id(*group)
        .acknowledgement_mode(AcknowledgementMode::Explicit)
        .max_poll_records(5)
        .fetch_max_wait(Duration::from_millis(200))
        .build()
        .expect("share consumer");
    c.subscribe([*topic]).unwrap();
    let held = poll_n(&c, 1, Duration::from_secs(60)).await;
    let offsets: Vec<String> = held.iter().map(|r| r.offset.to_string()).collect();
    println!("HELD {}", offsets.join(","));
    tokio::time::sleep(Duration::from_secs(600)).await;
}

/// SIGKILL of a process holding records (acquired, not acknowledged): no record lost;
/// after the acquisition lock the killed member's records go to another member with
/// delivery count 2, and every record is accepted exactly once. The child is this test
/// binary again, running `share_child_holds_records_until_killed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_sigkilled_member_records_are_redelivered_to_another_member() {
    const N: usize = 20;
    let topic = unique_topic("share-kill");
    create_topic(&client(&bootstrap()), &topic, 1, 1).await;
    // Batches of 5: the child acquires one batch.
    produce(&topic, 0..N, 5).await;
    let g = group(&[("share.record.lock.duration.ms", "3000")]).await;
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "share_child_holds_records_until_killed",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_ENV, format!("{} {g} {topic}", bootstrap()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child process");
    let stdout = child.stdout.take().unwrap();
    let held: Vec<usize> = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.expect("child output");
            if let Some(list) = line.strip_prefix("HELD ") {
                return list.split(',').map(|o| o.parse().unwrap()).collect();
            }
        }
        panic!("the child exited without holding records");
    })
    .await
    .unwrap();
    assert!(!held.is_empty(), "the child holds records");
    child.kill().expect("SIGKILL");
    let killed = Instant::now();
    let status = child.wait().expect("reaped");
    assert!(!status.success(), "killed, not exited: {status}");

    let other = member(&g, AcknowledgementMode::Implicit, 50);
    other.subscribe([topic.as_str()]).unwrap();
    let mut seen: BTreeMap<usize, Vec<i16>> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    // Recovery: from the kill until every record the killed member held is delivered
    // again (bounded below by the 3 s acquisition lock).
    let mut recovered = None;
    while seen.len() < N && Instant::now() < deadline {
        for r in other.poll(Duration::from_millis(500)).await.unwrap() {
            seen.entry(index(&r)).or_default().push(r.delivery_count);
        }
        if recovered.is_none() && held.iter().all(|h| seen.contains_key(h)) {
            recovered = Some(killed.elapsed());
        }
    }
    other.close().await.unwrap();
    let lost: Vec<usize> = (0..N).filter(|i| !seen.contains_key(i)).collect();
    assert!(lost.is_empty(), "lost {lost:?}");
    let twice: Vec<_> = seen.iter().filter(|(_, c)| c.len() > 1).collect();
    assert!(twice.is_empty(), "accepted more than once: {twice:?}");
    let redelivered: Vec<usize> = seen
        .iter()
        .filter(|(_, c)| c[0] == 2)
        .map(|(i, _)| *i)
        .collect();
    eprintln!(
        "killed member held {held:?}; {N} records, lost {}, redelivered with count 2: \
         {redelivered:?}; held records back {recovered:.1?} after the kill",
        lost.len()
    );
    // The child may have acquired more than it polled (a fetch fills its buffer):
    // those come back too.
    assert!(
        held.iter().all(|h| redelivered.contains(h)),
        "the killed member's records came back with delivery count 2"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_renew_keeps_the_lock_past_its_duration() {
    let topic = topic_with(1).await;
    let g = group(&[("share.record.lock.duration.ms", "3000")]).await;
    let a = member(&g, AcknowledgementMode::Explicit, 1);
    a.subscribe([topic.as_str()]).unwrap();
    let got = poll_n(&a, 1, Duration::from_secs(30)).await;
    assert_eq!(got.len(), 1);
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(2)).await;
        a.acknowledge(&got[0], AcknowledgeType::Renew).unwrap();
        let r = a.commit().await.unwrap();
        assert!(
            r.values().all(|o| o.error.is_none()),
            "renewal refused: {r:?}"
        );
    }
    // 6 s after it was acquired, twice the lock: still held, so not redelivered.
    let b = member(&g, AcknowledgementMode::Explicit, 1);
    b.subscribe([topic.as_str()]).unwrap();
    let stolen = b.poll(Duration::from_secs(2)).await.unwrap();
    assert!(
        stolen.is_empty(),
        "a renewed record was redelivered: {stolen:?}"
    );
    a.acknowledge(&got[0], AcknowledgeType::Accept).unwrap();
    let r = a.commit().await.unwrap();
    assert!(r.values().all(|o| o.error.is_none()), "{r:?}");
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_bad_input_is_refused_typed() {
    let topic = topic_with(4).await;
    let g = group(&[]).await;
    assert!(matches!(
        ShareConsumer::builder().bootstrap_servers([bootstrap()]).build(),
        Err(Error::Config(m)) if m.contains("group.id")
    ));
    let c = member(&g, AcknowledgementMode::Implicit, 2);
    assert!(c.subscribe(Vec::<String>::new()).is_err());
    assert!(c.subscribe([""]).is_err());
    c.subscribe([topic.as_str()]).unwrap();
    let first = poll_n(&c, 1, Duration::from_secs(30)).await;
    assert!(!first.is_empty());
    c.acknowledge(&first[0], AcknowledgeType::Release).unwrap();
    let e = c
        .acknowledge(&first[0], AcknowledgeType::Accept)
        .unwrap_err();
    assert!(
        matches!(
            e,
            AcknowledgeError::AlreadyAcknowledged {
                previous: AcknowledgeType::Release,
                ..
            }
        ),
        "{e}"
    );
    let _second = c.poll(Duration::from_secs(5)).await.unwrap();
    let e = c
        .acknowledge(&first[0], AcknowledgeType::Accept)
        .unwrap_err();
    assert!(
        matches!(e, AcknowledgeError::NotFromLatestPoll { .. }),
        "{e}"
    );
    c.close().await.unwrap();
    let e = c
        .acknowledge(&first[0], AcknowledgeType::Accept)
        .unwrap_err();
    assert_eq!(e, AcknowledgeError::Closed);
    assert!(matches!(
        c.poll(Duration::from_millis(10)).await,
        Err(Error::Closed)
    ));
    assert!(matches!(c.commit().await, Err(Error::Closed)));
    // Another consumer's record is not ours to acknowledge.
    let d = member(&g, AcknowledgementMode::Explicit, 1);
    d.subscribe([topic.as_str()]).unwrap();
    let e = d
        .acknowledge(&first[0], AcknowledgeType::Accept)
        .unwrap_err();
    assert!(
        matches!(
            e,
            AcknowledgeError::NotHeld {
                reason: NotHeldReason::Unknown,
                ..
            }
        ),
        "{e}"
    );
    d.close().await.unwrap();
}

/// Apache Kafka's Java `KafkaShareConsumer` in the group, printing what it got
/// (`progress` counts its records as they come).
fn java_member(
    group: &str,
    topic: &str,
    progress: Arc<std::sync::atomic::AtomicUsize>,
) -> std::thread::JoinHandle<Vec<(usize, i16)>> {
    let java = kafka_testbed::jars::java_binary().expect("java");
    let cp = kafka_testbed::jars::classpath().expect("classpath");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/java/ShareConsume.java");
    let args = [
        bootstrap(),
        group.to_string(),
        topic.to_string(),
        "4000".into(),
        "120000".into(),
    ];
    std::thread::spawn(move || {
        let mut child = Command::new(java)
            .args([
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-cp",
            ])
            .arg(cp)
            .arg(src)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("java runs");
        let mut got = Vec::new();
        let mut done = false;
        for line in BufReader::new(child.stdout.take().unwrap()).lines() {
            let line = line.unwrap();
            let f: Vec<&str> = line.split(' ').collect();
            match f.as_slice() {
                ["R", _offset, value, count] => {
                    got.push((value[1..].parse().unwrap(), count.parse().unwrap_or(-1)));
                    progress.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                ["DONE"] => done = true,
                _ => {}
            }
        }
        let status = child.wait().expect("java exit");
        assert!(
            status.success() && done,
            "Java share consumer failed: {status}"
        );
        got
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_group_shared_with_java_accepts_every_record_once() {
    const N: usize = 10_000;
    let topic = topic_with(100).await;
    let g = group(&[]).await;
    let progress = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let java = java_member(&g, &topic, progress.clone());
    // Ours join once the Java member reads (a JVM takes seconds to start); the rest of
    // the records are written while all three read, in small batches.
    let joined = Instant::now();
    while progress.load(std::sync::atomic::Ordering::Relaxed) == 0 {
        assert!(
            joined.elapsed() < Duration::from_secs(90),
            "the Java share consumer got nothing"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let writer = {
        let topic = topic.clone();
        tokio::spawn(async move { produce(&topic, 100..N, 20).await })
    };
    let ours: Vec<ShareConsumer> = (0..2)
        .map(|_| {
            let c = member(&g, AcknowledgementMode::Implicit, 100);
            c.subscribe([topic.as_str()]).unwrap();
            c
        })
        .collect();
    // Ours stop once they have seen everything they will: the Java member idles out.
    let seen = Arc::new(Mutex::new(BTreeMap::<usize, Vec<(String, i16)>>::new()));
    let deadline = Instant::now() + Duration::from_secs(120);
    let tasks: Vec<_> = ours
        .into_iter()
        .enumerate()
        .map(|(i, c)| {
            let seen = seen.clone();
            tokio::spawn(async move {
                let mut idle_since = Instant::now();
                while Instant::now() < deadline && idle_since.elapsed() < Duration::from_secs(6) {
                    let batch = c.poll(Duration::from_millis(300)).await.expect("poll");
                    if !batch.is_empty() {
                        idle_since = Instant::now();
                    }
                    let mut s = seen.lock().unwrap();
                    for r in &batch {
                        s.entry(index(r))
                            .or_default()
                            .push((format!("rust{i}"), r.delivery_count));
                    }
                }
                c.close().await.expect("close");
            })
        })
        .collect();
    writer.await.expect("producer");
    for t in tasks {
        t.await.unwrap();
    }
    let from_java = tokio::task::spawn_blocking(move || java.join().expect("java thread"))
        .await
        .unwrap();
    let mut seen = Arc::try_unwrap(seen).unwrap().into_inner().unwrap();
    let java_count = from_java.len();
    for (i, count) in from_java {
        seen.entry(i).or_default().push(("java".into(), count));
    }
    let ours_count: usize = seen.values().flatten().filter(|(w, _)| w != "java").count();
    eprintln!("share group with Java: ours {ours_count}, Java {java_count} of {N}");
    assert_eq!(seen.len(), N, "records lost: {} of {N}", seen.len());
    let dup: Vec<_> = seen.iter().filter(|(_, v)| v.len() != 1).take(5).collect();
    assert!(dup.is_empty(), "delivered more than once: {dup:?}");
    assert!(
        java_count > 0 && ours_count > 0,
        "both kinds took part: ours {ours_count}, Java {java_count}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_group_describe_lists_members_and_their_assignment() {
    let topic = topic_with(10).await;
    let g = group(&[]).await;
    let members: Vec<ShareConsumer> = (0..2)
        .map(|_| {
            let c = member(&g, AcknowledgementMode::Implicit, 5);
            c.subscribe([topic.as_str()]).unwrap();
            c
        })
        .collect();
    let admin = Admin::new(client(&bootstrap()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let described = loop {
        for m in &members {
            m.poll(Duration::from_millis(200)).await.unwrap();
        }
        let d = admin
            .describe_share_groups([g.as_str()], Default::default())
            .await
            .expect("ShareGroupDescribe");
        let d = match d[&g].clone() {
            Ok(d) => d,
            // The members' first heartbeats create the group.
            Err(e) if e.code() == Some(kafka_client::ErrorCode::GROUP_ID_NOT_FOUND) => {
                assert!(Instant::now() < deadline, "the group never appeared: {e}");
                continue;
            }
            Err(e) => panic!("described: {e}"),
        };
        let assigned = d
            .members
            .iter()
            .filter(|m| !m.assignment.is_empty())
            .count();
        if d.members.len() == 2 && assigned == 2 {
            break d;
        }
        assert!(Instant::now() < deadline, "group never settled: {d:?}");
    };
    let mut ids: Vec<String> = described
        .members
        .iter()
        .map(|m| m.member_id.clone())
        .collect();
    ids.sort();
    let mut ours: Vec<String> = members.iter().map(|m| m.member_id()).collect();
    ours.sort();
    assert_eq!(ids, ours, "the members are ours, by the ids they generated");
    for m in &described.members {
        assert_eq!(m.subscribed_topics, std::slice::from_ref(&topic));
        assert_eq!(
            m.assignment,
            [kafka_client::TopicPartition::new(topic.clone(), 0)]
        );
        assert!(m.member_epoch > 0);
    }
    assert_eq!(described.state, kafka_admin::GroupState::Stable);
    // kafka-cli shows the same group.
    let b = bootstrap();
    let out = tokio::task::spawn_blocking({
        let g = g.clone();
        move || {
            common::example_bin::run_example(
                "kafka-cli",
                &["-b", &b, "share-groups", "describe", "--group", &g],
                "",
            )
        }
    })
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{}", common::example_bin::show(&out));
    assert!(text.contains("State: Stable"), "{text}");
    for id in &ours {
        assert!(text.contains(id.as_str()), "{id} missing: {text}");
    }
    for m in &members {
        m.close().await.unwrap();
    }
    let missing = admin
        .describe_share_groups(["no-such-share-group"], Default::default())
        .await
        .expect("ShareGroupDescribe");
    let e = missing["no-such-share-group"].clone().unwrap_err();
    assert_eq!(
        e.code(),
        Some(kafka_client::ErrorCode::GROUP_ID_NOT_FOUND),
        "{e}"
    );
}
