//! The testkit differential: each scenario runs, with the same assertions, against the
//! real broker and against `kafka_testkit::Cluster`, so what the testkit claims to model
//! is checked against Kafka itself: produce, consume and commit with a classic group,
//! transactions and read_committed, admin basics, a KIP-848 group of three members, a
//! share group of two consumers; and librdkafka (confluent-kafka) producing, consuming
//! and joining a KIP-848 group against the testkit. (The testkit is for users' unit tests; this
//! project's feature proofs run against real brokers.)

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::consumer::{
    AutoOffsetReset, Consumer, ConsumerRecord, GroupProtocol, IsolationLevel,
};
use kafka_client::producer::{Producer, ProducerRecord, Transaction, key_partition};
use kafka_client::share::{AcknowledgeType, AcknowledgementMode, ShareConsumer};
use kafka_client::{OffsetAndMetadata, TopicPartition};
use kafka_testkit::Cluster;

/// Where a scenario runs.
enum Target {
    Real(String),
    Kit(Cluster),
}

impl Target {
    async fn both() -> [Target; 2] {
        let real = kafka_testbed::shared_cluster().bootstrap_servers();
        let kit = Cluster::builder().start().await.expect("testkit starts");
        [Target::Real(real), Target::Kit(kit)]
    }

    fn name(&self) -> &'static str {
        match self {
            Target::Real(_) => "real broker",
            Target::Kit(_) => "testkit",
        }
    }

    fn bootstrap(&self) -> String {
        match self {
            Target::Real(b) => b.clone(),
            Target::Kit(c) => c.bootstrap_servers(),
        }
    }

    async fn topic(&self, prefix: &str, partitions: i32) -> String {
        let name = common::unique_topic(prefix);
        match self {
            Target::Real(b) => common::create_topic(&common::client(b), &name, partitions, 1).await,
            Target::Kit(c) => c.create_topic(&name, partitions),
        }
        name
    }
}

fn consumer(t: &Target, group: Option<&str>, isolation: IsolationLevel) -> Consumer {
    let mut b = Consumer::builder()
        .bootstrap_servers([t.bootstrap()])
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .isolation_level(isolation)
        .fetch_max_wait(Duration::from_millis(100));
    if let Some(g) = group {
        b = b.group_id(g);
    }
    b.build().expect("consumer")
}

async fn drain(c: &Consumer, count: usize, t: &Target) -> Vec<ConsumerRecord> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    while out.len() < count && tokio::time::Instant::now() < deadline {
        let (records, errors) = c
            .poll(Duration::from_millis(200))
            .await
            .expect("poll")
            .into_parts();
        assert!(errors.is_empty(), "{}: {errors:?}", t.name());
        out.extend(records);
    }
    // Nothing more arrives.
    let (extra, _) = c
        .poll(Duration::from_millis(300))
        .await
        .expect("poll")
        .into_parts();
    out.extend(extra);
    out
}

/// Commits or aborts `txn`.
async fn end(txn: Transaction<'_>, commit: bool) {
    if commit {
        txn.commit().await.unwrap();
    } else {
        txn.abort().await.unwrap();
    }
}

fn values(records: &[ConsumerRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8(r.value.clone().unwrap_or_default().to_vec()).unwrap())
        .collect()
}

/// Keyed records land on their key's partition in order, a group reads them all,
/// commits, and reads its committed offsets and the partitions' offsets back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testkit_differential_produce_consume_commit() {
    for t in Target::both().await {
        let topic = t.topic("tk-diff-rt", 3).await;
        let p = Producer::builder()
            .bootstrap_servers([t.bootstrap()])
            .linger(Duration::from_millis(2))
            .build()
            .unwrap();
        let mut per_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
        for i in 0..60 {
            let key = format!("key-{}", i % 9);
            let m = p
                .send_and_wait(
                    ProducerRecord::new(topic.as_str())
                        .with_key(key.clone())
                        .with_value(format!("{i}")),
                )
                .await
                .unwrap();
            assert_eq!(
                m.partition,
                key_partition(key.as_bytes(), 3),
                "{}",
                t.name()
            );
            per_partition.entry(m.partition).or_default().push(m.offset);
        }
        for offsets in per_partition.values() {
            assert_eq!(
                *offsets,
                (0..offsets.len() as i64).collect::<Vec<_>>(),
                "{}",
                t.name()
            );
        }
        p.close(Duration::from_secs(5)).await.unwrap();

        let group = common::unique_topic("tk-diff-group");
        let c = consumer(&t, Some(&group), IsolationLevel::ReadUncommitted);
        c.subscribe([topic.as_str()]).unwrap();
        let got = drain(&c, 60, &t).await;
        assert_eq!(got.len(), 60, "{}", t.name());
        for r in &got {
            let i: usize = String::from_utf8(r.value.clone().unwrap().to_vec())
                .unwrap()
                .parse()
                .unwrap();
            assert_eq!(
                r.key.as_deref(),
                Some(format!("key-{}", i % 9).as_bytes()),
                "{}",
                t.name()
            );
        }
        c.commit().await.unwrap();
        let tps: Vec<TopicPartition> = (0..3)
            .map(|p| TopicPartition::new(topic.as_str(), p))
            .collect();
        let committed = c.committed(tps.clone()).await.unwrap();
        let ends = c.end_offsets(tps.clone()).await.unwrap();
        let begins = c.beginning_offsets(tps.clone()).await.unwrap();
        for tp in &tps {
            let n = per_partition.get(&tp.partition).map_or(0, Vec::len) as i64;
            assert_eq!(ends[tp], n, "{}: end of {tp:?}", t.name());
            assert_eq!(begins[tp], 0, "{}", t.name());
            if n > 0 {
                assert_eq!(
                    committed[tp].as_ref().map(|o| o.offset),
                    Some(n),
                    "{}",
                    t.name()
                );
            }
        }
        c.close().await.unwrap();
    }
}

/// Committed transactions are visible to read_committed consumers, aborted ones are
/// not (but are to read_uncommitted ones), each transaction end writes one marker, and
/// transactional offsets commit with their transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testkit_differential_transactions_and_read_committed() {
    for t in Target::both().await {
        let topic = t.topic("tk-diff-txn", 1).await;
        let group = common::unique_topic("tk-diff-txn-group");
        let mut p = Producer::builder()
            .bootstrap_servers([t.bootstrap()])
            .transactional_id(common::unique_topic("tk-diff-txn-id"))
            .build_transactional()
            .await
            .unwrap();
        let tp = TopicPartition::new(topic.as_str(), 0);
        for (batch, commit) in [(0..5, true), (5..8, false), (8..10, true)] {
            let txn = p.begin().await.unwrap();
            for i in batch.clone() {
                // Written before the transaction ends (an abort fails unsent records).
                txn.send(
                    ProducerRecord::new(topic.as_str())
                        .with_partition(0)
                        .with_value(format!("{i}")),
                )
                .await
                .unwrap()
                .await
                .unwrap();
            }
            end(txn, commit).await;
        }
        p.close(Duration::from_secs(5)).await.unwrap();

        let committed_reader = consumer(&t, Some(&group), IsolationLevel::ReadCommitted);
        committed_reader.assign([tp.clone()]).unwrap();
        let got = drain(&committed_reader, 7, &t).await;
        assert_eq!(
            values(&got),
            ["0", "1", "2", "3", "4", "8", "9"],
            "{}",
            t.name()
        );
        // 10 records and 3 markers.
        let ends = committed_reader.end_offsets([tp.clone()]).await.unwrap();
        assert_eq!(ends[&tp], 13, "{}", t.name());
        committed_reader.close().await.unwrap();

        let everything = consumer(&t, None, IsolationLevel::ReadUncommitted);
        everything.assign([tp.clone()]).unwrap();
        let got = drain(&everything, 10, &t).await;
        assert_eq!(
            values(&got),
            (0..10).map(|i| i.to_string()).collect::<Vec<_>>(),
            "{}",
            t.name()
        );

        // Offsets sent in a transaction commit with it, and not when it aborts.
        let member = consumer(&t, Some(&group), IsolationLevel::ReadCommitted);
        member.subscribe([topic.as_str()]).unwrap();
        drain(&member, 7, &t).await;
        let meta = member.group_metadata().expect("group member");
        let mut p = Producer::builder()
            .bootstrap_servers([t.bootstrap()])
            .transactional_id(common::unique_topic("tk-diff-txn-offsets"))
            .build_transactional()
            .await
            .unwrap();
        for (offset, commit) in [(4, false), (6, true)] {
            let txn = p.begin().await.unwrap();
            txn.send_offsets([(tp.clone(), OffsetAndMetadata::new(offset))], &meta)
                .await
                .unwrap();
            end(txn, commit).await;
        }
        p.close(Duration::from_secs(5)).await.unwrap();
        let committed = member.committed([tp.clone()]).await.unwrap();
        assert_eq!(
            committed[&tp].as_ref().map(|o| o.offset),
            Some(6),
            "{}",
            t.name()
        );
        member.close().await.unwrap();
    }
}

/// librdkafka (confluent-kafka) produces to the testkit and consumes back what it wrote,
/// and what kafka-client produced: the testkit speaks Kafka to another client too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testkit_serves_librdkafka() {
    let kit = Cluster::builder().topic("t", 2).start().await.unwrap();
    let p = Producer::builder()
        .bootstrap_servers([kit.bootstrap_servers()])
        .build()
        .unwrap();
    p.send_and_wait(
        ProducerRecord::new("t")
            .with_partition(0)
            .with_value("from-rust"),
    )
    .await
    .unwrap();
    let bootstrap = kit.bootstrap_servers();
    let out = tokio::task::spawn_blocking(move || {
        let python = kafka_testbed::confluent_python::confluent_python().expect("venv");
        std::process::Command::new(python)
            .args(["-c", LIBRDKAFKA_ROUND_TRIP, &bootstrap])
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines.sort();
    let mut want = vec!["0 from-rust".to_string()];
    want.extend((0..10).map(|i| format!("{} rdk-{i}", i % 2)));
    want.sort();
    assert_eq!(lines, want);
    // The testkit stored librdkafka's records as sent.
    assert_eq!(kit.records("t", 0).len() + kit.records("t", 1).len(), 11);
}

/// Produces `rdk-0..9` to partitions 0 and 1 of `t`, then reads both partitions from
/// the beginning and prints `<partition> <value>` per record.
const LIBRDKAFKA_ROUND_TRIP: &str = r#"
import sys
from confluent_kafka import Consumer, Producer, TopicPartition
bootstrap = sys.argv[1]
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
for i in range(10):
    p.produce("t", value=f"rdk-{i}".encode(), partition=i % 2)
assert p.flush(30) == 0, "not all delivered"
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rdk", "enable.auto.commit": False})
c.assign([TopicPartition("t", 0, 0), TopicPartition("t", 1, 0)])
seen = []
for _ in range(100):
    m = c.poll(0.2)
    if m is None:
        if len(seen) >= 11:
            break
        continue
    if m.error():
        raise SystemExit(str(m.error()))
    seen.append(f"{m.partition()} {m.value().decode()}")
c.close()
print("\n".join(seen))
"#;

/// Admin basics: creating a topic, creating it again, a replication factor above the
/// broker count, deleting it twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testkit_differential_admin_create_and_delete_topics() {
    use kafka_admin::{Admin, CreateTopicsOptions, DeleteTopicsOptions, NewTopic};
    use kafka_client::ErrorCode;
    for t in Target::both().await {
        let admin = Admin::new(common::client(&t.bootstrap()));
        let create = |name: &str, partitions: i32, rf: i16| {
            let topic = NewTopic::new(name)
                .partitions(partitions)
                .replication_factor(rf);
            let (admin, name) = (&admin, name.to_string());
            async move {
                let mut results = admin
                    .create_topics([topic], CreateTopicsOptions::default())
                    .await
                    .unwrap();
                results.remove(&name).expect("a result for the topic")
            }
        };
        let name = common::unique_topic("tk-diff-admin");
        let topic = create(&name, 4, 1)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", t.name()));
        let shape = (topic.partitions, topic.replication_factor);
        assert_eq!(shape, (4, 1), "{}", t.name());
        for (topic, rf, code) in [
            (name.clone(), 1, ErrorCode::TOPIC_ALREADY_EXISTS),
            (
                common::unique_topic("tk-diff-rf"),
                9,
                ErrorCode::INVALID_REPLICATION_FACTOR,
            ),
        ] {
            let err = create(&topic, 1, rf).await.unwrap_err();
            assert_eq!(err.code(), Some(code), "{}: {err}", t.name());
        }
        common::wait_for_leaders(&common::client(&t.bootstrap()), &name, 4).await;

        let deleted = admin
            .delete_topics([&name], DeleteTopicsOptions::default())
            .await
            .unwrap();
        assert!(deleted[&name].is_ok(), "{}: {:?}", t.name(), deleted[&name]);
        let again = admin
            .delete_topics([&name], DeleteTopicsOptions::default())
            .await
            .unwrap();
        let err = again[&name].as_ref().unwrap_err();
        assert_eq!(
            err.code(),
            Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
            "{}: {err}",
            t.name()
        );
    }
}

/// Polls every member until their assignments are disjoint, all non-empty, balanced
/// (sizes differ by at most one, as the uniform assignor's target for one topic is) and
/// cover the topic's `partitions` together; returns them. Balance matters: while
/// partitions move, a complete but unbalanced assignment (3/2/1) can show for a moment.
async fn settle(
    members: &[&Consumer],
    partitions: usize,
    t: &Target,
) -> Vec<std::collections::BTreeSet<TopicPartition>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        for c in members {
            let (records, errors) = c
                .poll(Duration::from_millis(50))
                .await
                .expect("poll")
                .into_parts();
            assert!(errors.is_empty(), "{}: {errors:?}", t.name());
            assert!(records.is_empty(), "{}: nothing produced yet", t.name());
        }
        let each: Vec<_> = members.iter().map(|c| c.assignment()).collect();
        let total: usize = each.iter().map(|a| a.len()).sum();
        let union: std::collections::BTreeSet<&TopicPartition> = each.iter().flatten().collect();
        let sizes = each.iter().map(|a| a.len());
        let balanced = sizes.clone().max().unwrap_or(0) - sizes.min().unwrap_or(0) <= 1;
        if total == partitions
            && union.len() == total
            && each.iter().all(|a| !a.is_empty())
            && balanced
        {
            return each;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{}: no settled assignment: {each:?}",
            t.name()
        );
    }
}

fn kip848_member(t: &Target, group: &str, topic: &str) -> Consumer {
    let c = Consumer::builder()
        .bootstrap_servers([t.bootstrap()])
        .group_id(group)
        .group_protocol(GroupProtocol::Consumer)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .fetch_max_wait(Duration::from_millis(100))
        .build()
        .expect("consumer");
    c.subscribe([topic]).unwrap();
    c
}

/// A KIP-848 group of three members on a 6-partition topic: the coordinator's
/// (uniform) assignor gives each two partitions, disjoint and complete; every record is
/// read once, by the member owning its partition; commits (with the member epoch) are
/// stored; when a member leaves, the other two take over all six partitions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testkit_differential_kip848_three_members() {
    for t in Target::both().await {
        let topic = t.topic("tk-diff-848", 6).await;
        let group = common::unique_topic("tk-diff-848-group");
        let members: Vec<Consumer> = (0..3).map(|_| kip848_member(&t, &group, &topic)).collect();
        let refs: Vec<&Consumer> = members.iter().collect();
        let each = settle(&refs, 6, &t).await;
        assert!(each.iter().all(|a| a.len() == 2), "{}: {each:?}", t.name());

        let p = Producer::builder()
            .bootstrap_servers([t.bootstrap()])
            .build()
            .unwrap();
        for i in 0..60 {
            p.send_and_wait(
                ProducerRecord::new(topic.as_str())
                    .with_partition(i % 6)
                    .with_value(format!("{i}")),
            )
            .await
            .unwrap();
        }
        p.close(Duration::from_secs(5)).await.unwrap();

        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while seen.len() < 60 && tokio::time::Instant::now() < deadline {
            for (m, c) in members.iter().enumerate() {
                let owned = c.assignment();
                for r in c.poll(Duration::from_millis(50)).await.unwrap().records() {
                    assert!(
                        owned.contains(&r.topic_partition()),
                        "{}: member {m} got a record of {:?}, not its own",
                        t.name(),
                        r.topic_partition()
                    );
                    *seen
                        .entry(values(std::slice::from_ref(r))[0].clone())
                        .or_default() += 1;
                }
            }
        }
        assert_eq!(seen.len(), 60, "{}: records lost", t.name());
        assert!(
            seen.values().all(|n| *n == 1),
            "{}: duplicates {seen:?}",
            t.name()
        );
        for c in &members {
            c.commit().await.unwrap();
        }
        let tps: Vec<TopicPartition> = (0..6)
            .map(|p| TopicPartition::new(topic.as_str(), p))
            .collect();
        let committed = members[0].committed(tps.clone()).await.unwrap();
        for tp in &tps {
            assert_eq!(
                committed[tp].as_ref().map(|o| o.offset),
                Some(10),
                "{}: {tp:?}",
                t.name()
            );
        }

        members[1].close().await.unwrap();
        let two = settle(&[&members[0], &members[2]], 6, &t).await;
        assert_eq!(
            (two[0].len(), two[1].len()),
            (3, 3),
            "{}: {two:?}",
            t.name()
        );
        members[0].close().await.unwrap();
        members[2].close().await.unwrap();
    }
}

fn share_member(t: &Target, group: &str, topic: &str) -> ShareConsumer {
    let c = ShareConsumer::builder()
        .bootstrap_servers([t.bootstrap()])
        .group_id(group)
        .acknowledgement_mode(AcknowledgementMode::Explicit)
        .max_poll_records(5)
        .fetch_max_wait(Duration::from_millis(200))
        .build()
        .expect("share consumer");
    c.subscribe([topic]).unwrap();
    c
}

/// A share group of two consumers on one partition: every record is delivered (first
/// with delivery count 1); records released on their first delivery come back once
/// more with count 2, rejected and accepted ones never come back; a third member that
/// joins afterwards gets nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testkit_differential_share_group_two_consumers() {
    for t in Target::both().await {
        let topic = t.topic("tk-diff-share", 1).await;
        common::share::produce_to(&t.bootstrap(), &topic, 0..30, 3).await;
        let group = match &t {
            Target::Real(b) => common::share::group_on(b, &[]).await,
            Target::Kit(c) => {
                let g = common::unique_topic("tk-diff-share-group");
                c.share_group_from_earliest(&g);
                g
            }
        };
        let members = [
            share_member(&t, &group, &topic),
            share_member(&t, &group, &topic),
        ];
        // record index → delivery counts seen, in order
        let mut deliveries: BTreeMap<usize, Vec<i16>> = BTreeMap::new();
        let finished = |d: &BTreeMap<usize, Vec<i16>>| {
            d.len() == 30
                && d.iter()
                    .all(|(i, c)| c.len() == if i % 3 == 0 { 2 } else { 1 })
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !finished(&deliveries) && tokio::time::Instant::now() < deadline {
            for c in &members {
                for r in c.poll(Duration::from_millis(200)).await.unwrap() {
                    let i = common::share::index(&r);
                    deliveries.entry(i).or_default().push(r.delivery_count);
                    let kind = match (i % 3, r.delivery_count) {
                        (0, 1) => AcknowledgeType::Release,
                        (1, _) => AcknowledgeType::Reject,
                        _ => AcknowledgeType::Accept,
                    };
                    c.acknowledge(&r, kind).unwrap();
                }
                c.commit().await.unwrap();
            }
        }
        assert!(finished(&deliveries), "{}: {deliveries:?}", t.name());
        for (i, counts) in &deliveries {
            let want: Vec<i16> = if i % 3 == 0 { vec![1, 2] } else { vec![1] };
            assert_eq!(*counts, want, "{}: record {i}", t.name());
        }
        // Nothing is left for a newcomer, and nothing more for the members.
        let late = share_member(&t, &group, &topic);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while tokio::time::Instant::now() < deadline {
            for c in members.iter().chain([&late]) {
                let got = c.poll(Duration::from_millis(200)).await.unwrap();
                assert!(
                    got.is_empty(),
                    "{}: redelivered {:?}",
                    t.name(),
                    got.first()
                );
            }
        }
        for c in members.iter().chain([&late]) {
            c.close().await.unwrap();
        }
    }
}

/// librdkafka (confluent-kafka) as a KIP-848 member (`group.protocol=consumer`) of a
/// testkit group: it is assigned every partition, reads every record and commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn testkit_serves_librdkafka_kip848_group() {
    let kit = Cluster::builder().topic("t848", 3).start().await.unwrap();
    let p = Producer::builder()
        .bootstrap_servers([kit.bootstrap_servers()])
        .build()
        .unwrap();
    for i in 0..30 {
        p.send_and_wait(
            ProducerRecord::new("t848")
                .with_partition(i % 3)
                .with_value(format!("r{i}")),
        )
        .await
        .unwrap();
    }
    p.close(Duration::from_secs(5)).await.unwrap();
    let bootstrap = kit.bootstrap_servers();
    let out = tokio::task::spawn_blocking(move || {
        let python = kafka_testbed::confluent_python::confluent_python().expect("venv");
        std::process::Command::new(python)
            .args(["-c", LIBRDKAFKA_KIP848, &bootstrap, "t848", "30"])
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.first().copied(), Some("ASSIGNED 0,1,2"), "{stdout}");
    lines.remove(0);
    lines.sort();
    let mut want: Vec<String> = (0..30).map(|i| format!("{} r{i}", i % 3)).collect();
    want.sort();
    assert_eq!(lines, want);
    for p in 0..3 {
        assert_eq!(
            kit.committed_offset("rdk-848", "t848", p),
            Some(10),
            "partition {p}"
        );
    }
    assert!(
        kit.group_assignment("rdk-848").is_empty(),
        "the member left"
    );
}

/// Joins group `rdk-848` with `group.protocol=consumer`, reads `n` records of the topic,
/// commits, closes; prints the partitions it was assigned, then `<partition> <value>`
/// per record.
const LIBRDKAFKA_KIP848: &str = r#"
import sys
from confluent_kafka import Consumer
bootstrap, topic, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "rdk-848", "group.protocol": "consumer",
              "auto.offset.reset": "earliest", "enable.auto.commit": False})
assigned = set()
c.subscribe([topic], on_assign=lambda _c, ps: assigned.update(p.partition for p in ps))
seen = []
for _ in range(300):
    m = c.poll(0.2)
    if m is None:
        if len(seen) >= n:
            break
        continue
    if m.error():
        raise SystemExit(str(m.error()))
    seen.append(f"{m.partition()} {m.value().decode()}")
c.commit(asynchronous=False)
c.close()
print("ASSIGNED " + ",".join(str(p) for p in sorted(assigned)))
print("\n".join(seen))
"#;
