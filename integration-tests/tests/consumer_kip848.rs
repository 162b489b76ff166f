//! The KIP-848 consumer group protocol (`group.protocol=consumer`) against a real Kafka
//! 4.4 broker: three of our members on a 12-partition topic (disjoint, complete
//! assignments; every record once; joins and leaves move only the partitions that
//! move), and groups shared with Apache Kafka's Java `KafkaConsumer` and with
//! confluent-kafka's librdkafka consumer (both with `group.protocol=consumer`).
//!
//! The cluster is this file's own, with the coordinator's heartbeat interval at 1 s
//! (the broker default is 5 s) so that partitions move within seconds.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::consumer_util::{Event, Recorder, consumer, kcat_produce, value_index, wait_for};
use kafka_admin::{Admin, GroupType, GroupsOptions, ListGroupsOptions};
use kafka_client::consumer::{AutoOffsetReset, Consumer, GroupProtocol, TopicPartition};
use kafka_testbed::{ClusterConfig, KafkaCluster};

/// This file's cluster: one node, consumer-protocol heartbeats every second.
fn bootstrap() -> String {
    static CLUSTER: OnceLock<KafkaCluster> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            KafkaCluster::start(
                ClusterConfig::new(1)
                    .with_property("group.consumer.heartbeat.interval.ms", "1000")
                    .with_property("group.consumer.min.heartbeat.interval.ms", "500")
                    .with_property("group.consumer.session.timeout.ms", "10000")
                    .with_property("group.consumer.min.session.timeout.ms", "6000"),
            )
            .expect("cluster")
        })
        .bootstrap_servers()
}

/// Who consumed which record, and ownership violations seen while consuming.
#[derive(Default)]
struct Ledger {
    /// value index → the members that got it
    seen: Mutex<HashMap<usize, Vec<String>>>,
    violations: Mutex<Vec<String>>,
}

impl Ledger {
    fn record(&self, who: &str, index: usize) {
        self.seen
            .lock()
            .unwrap()
            .entry(index)
            .or_default()
            .push(who.to_string());
    }

    fn distinct(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    /// (lost, duplicates) of records `0..n`.
    fn tally(&self, n: usize) -> (usize, usize) {
        let seen = self.seen.lock().unwrap();
        let lost = (0..n).filter(|i| !seen.contains_key(i)).count();
        let dup = seen.values().map(|w| w.len() - 1).sum();
        (lost, dup)
    }
}

fn our_member(b: &str, group: &str, topic: &str) -> (Consumer, Arc<Recorder>) {
    let rec = Recorder::new();
    let c = consumer(b)
        .group_id(group)
        .group_protocol(GroupProtocol::Consumer)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .max_poll_records(100)
        .rebalance_listener(rec.clone())
        .build()
        .unwrap();
    c.subscribe([topic.to_string()]).unwrap();
    (c, rec)
}

/// Polls until `stop`, checking that every record's partition is owned by this member.
fn spawn_polling(
    name: &'static str,
    c: Consumer,
    me: Arc<Recorder>,
    ledger: Arc<Ledger>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<Consumer> {
    tokio::spawn(async move {
        while !stop.load(Ordering::Relaxed) {
            let batch = c.poll(Duration::from_millis(200)).await.expect("poll");
            assert!(batch.errors().is_empty(), "{name}: {:?}", batch.errors());
            let owned = me.owned();
            for r in batch.records() {
                if !owned.contains(&r.topic_partition()) {
                    ledger.violations.lock().unwrap().push(format!(
                        "{name} got {}@{} without owning it",
                        r.topic_partition(),
                        r.offset
                    ));
                }
                ledger.record(name, value_index(r));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        c
    })
}

fn partitions(n: i32, topic: &str) -> BTreeSet<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

/// The partitions revoked and assigned in `events[from..]`, and whether any was lost.
fn moved_since(
    events: &[Event],
    from: usize,
) -> (BTreeSet<TopicPartition>, BTreeSet<TopicPartition>, bool) {
    let (mut revoked, mut assigned, mut lost) = (BTreeSet::new(), BTreeSet::new(), false);
    for e in &events[from..] {
        match e {
            Event::Revoked(p) => revoked.extend(p.iter().cloned()),
            Event::Assigned(p) => assigned.extend(p.iter().cloned()),
            Event::Lost(p) => lost |= !p.is_empty(),
        }
    }
    (revoked, assigned, lost)
}

fn assert_disjoint_complete(
    sets: &[(&str, BTreeSet<TopicPartition>)],
    all: &BTreeSet<TopicPartition>,
) {
    let mut owner: BTreeMap<&TopicPartition, &str> = BTreeMap::new();
    for (name, set) in sets {
        for tp in set {
            if let Some(prev) = owner.insert(tp, name) {
                panic!("{tp} owned by {prev} and {name}");
            }
        }
    }
    let union: BTreeSet<TopicPartition> = owner.keys().map(|tp| (*tp).clone()).collect();
    assert_eq!(&union, all, "the assignment covers every partition");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_three_members_share_12_partitions_and_only_moved_partitions_move() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("kip848-3");
    common::create_topic(&client, &topic, 12, 1).await;
    let all = partitions(12, &topic);
    let group = common::unique_topic("g-kip848-3");
    kcat_produce(&b, &topic, "lz4", 20_000, 0, 50, None);
    let ledger = Arc::new(Ledger::default());

    let (c1, r1) = our_member(&b, &group, &topic);
    let stop1 = Arc::new(AtomicBool::new(false));
    let h1 = spawn_polling("c1", c1, r1.clone(), ledger.clone(), stop1.clone());
    wait_for("c1 to own all 12", Duration::from_secs(60), || {
        r1.owned().len() == 12
    })
    .await;
    wait_for("c1 to consume", Duration::from_secs(30), || {
        ledger.distinct() > 2_000
    })
    .await;

    // c2 joins: exactly the partitions c1 gives up move to c2.
    let before1 = r1.owned();
    let mark1 = r1.events().len();
    let (c2, r2) = our_member(&b, &group, &topic);
    let stop2 = Arc::new(AtomicBool::new(false));
    let h2 = spawn_polling("c2", c2, r2.clone(), ledger.clone(), stop2.clone());
    wait_for("c1 and c2 to own 6 each", Duration::from_secs(60), || {
        r1.owned().len() == 6 && r2.owned().len() == 6
    })
    .await;
    assert_disjoint_complete(&[("c1", r1.owned()), ("c2", r2.owned())], &all);
    let (revoked, assigned, lost) = moved_since(&r1.events(), mark1);
    assert!(!lost && assigned.is_empty(), "c1 only gave up partitions");
    assert_eq!(
        revoked,
        &before1 - &r1.owned(),
        "c1 revoked exactly what moved"
    );
    let (revoked2, assigned2, _) = moved_since(&r2.events(), 0);
    assert!(revoked2.is_empty());
    assert_eq!(assigned2, revoked, "c2 got exactly what c1 gave up");
    kcat_produce(&b, &topic, "lz4", 10_000, 20_000, 50, None);

    // c3 joins: 4 each; c1 and c2 give up only what c3 gets.
    let (before1, before2) = (r1.owned(), r2.owned());
    let (mark1, mark2) = (r1.events().len(), r2.events().len());
    let (c3, r3) = our_member(&b, &group, &topic);
    let stop3 = Arc::new(AtomicBool::new(false));
    let h3 = spawn_polling("c3", c3, r3.clone(), ledger.clone(), stop3.clone());
    wait_for("4 partitions each", Duration::from_secs(60), || {
        [&r1, &r2, &r3].iter().all(|r| r.owned().len() == 4)
    })
    .await;
    assert_disjoint_complete(
        &[("c1", r1.owned()), ("c2", r2.owned()), ("c3", r3.owned())],
        &all,
    );
    let (rv1, as1, l1) = moved_since(&r1.events(), mark1);
    let (rv2, as2, l2) = moved_since(&r2.events(), mark2);
    assert!(!l1 && !l2 && as1.is_empty() && as2.is_empty());
    assert_eq!(rv1, &before1 - &r1.owned());
    assert_eq!(rv2, &before2 - &r2.owned());
    let (_, as3, _) = moved_since(&r3.events(), 0);
    assert_eq!(as3, &rv1 | &rv2, "c3 got exactly what the others gave up");

    // The admin API sees a consumer-protocol group: three members with epochs, their
    // assignments equal to their targets, and the ListGroups type filter finds it.
    describe_stable_group(&client, &group, &all, 3).await;

    // c1 leaves (commit, revoked, leave heartbeat): only its partitions move.
    let gone = r1.owned();
    let (mark2, mark3) = (r2.events().len(), r3.events().len());
    stop1.store(true, Ordering::Relaxed);
    let c1 = h1.await.unwrap();
    c1.close().await.unwrap();
    wait_for("c2 and c3 to own 6 each", Duration::from_secs(60), || {
        r2.owned().len() == 6 && r3.owned().len() == 6
    })
    .await;
    assert_disjoint_complete(&[("c2", r2.owned()), ("c3", r3.owned())], &all);
    let (rv2, as2, _) = moved_since(&r2.events(), mark2);
    let (rv3, as3, _) = moved_since(&r3.events(), mark3);
    assert!(rv2.is_empty() && rv3.is_empty(), "nothing else moved");
    assert_eq!(&as2 | &as3, gone, "c1's partitions went to the others");

    kcat_produce(&b, &topic, "lz4", 10_000, 30_000, 50, None);
    let n = 40_000;
    wait_for("every record", Duration::from_secs(90), || {
        ledger.distinct() >= n
    })
    .await;
    for (stop, h) in [(stop2, h2), (stop3, h3)] {
        stop.store(true, Ordering::Relaxed);
        h.await.unwrap().close().await.unwrap();
    }
    let (lost, duplicates) = ledger.tally(n);
    println!("kip848 three members: lost {lost}, duplicates {duplicates}");
    assert_eq!(lost, 0);
    assert_eq!(
        duplicates, 0,
        "revocations commit first, so nothing is read twice"
    );
    let v = ledger.violations.lock().unwrap();
    assert!(v.is_empty(), "ownership violations: {v:?}");
}

/// Describes `group` (ConsumerGroupDescribe) until the coordinator reports `members`
/// reconciled members, and checks what it says.
async fn describe_stable_group(
    client: &kafka_client::Client,
    group: &str,
    all: &BTreeSet<TopicPartition>,
    members: usize,
) {
    let admin = Admin::new(client.clone());
    let deadline = Instant::now() + Duration::from_secs(30);
    let d = loop {
        let mut described = admin
            .describe_consumer_groups([group], GroupsOptions::default())
            .await
            .unwrap();
        let d = described.remove(group).unwrap().unwrap();
        let settled = d.members.len() == members
            && d.members
                .iter()
                .all(|m| m.target_assignment.as_ref() == Some(&m.assignment));
        if settled {
            break d;
        }
        assert!(Instant::now() < deadline, "the group did not settle: {d:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(d.group_type, GroupType::Consumer);
    assert_eq!(d.assignor, "uniform", "the broker's default assignor");
    let (ge, ae) = (d.group_epoch.unwrap(), d.assignment_epoch.unwrap());
    assert!(
        ge >= ae && ae > 0,
        "group epoch {ge}, assignment epoch {ae}"
    );
    let mut seen = BTreeSet::new();
    for m in &d.members {
        assert!(m.member_epoch.unwrap() > 0, "{m:?}");
        assert_eq!(m.classic_member, Some(false), "{m:?}");
        for tp in &m.assignment.partitions {
            assert!(seen.insert(tp.clone()), "{tp} assigned twice");
        }
    }
    assert_eq!(&seen, all);
    let listed = admin
        .list_groups(ListGroupsOptions::default().types([GroupType::Consumer]))
        .await
        .unwrap();
    assert_eq!(listed[group].group_type, Some(GroupType::Consumer));
    let classic = admin
        .list_groups(ListGroupsOptions::default().types([GroupType::Classic]))
        .await
        .unwrap();
    assert!(!classic.contains_key(group), "the type filter excludes it");

    // `kafka-cli groups describe` shows the protocol and the epochs.
    let args: Vec<String> = [
        "--bootstrap-server",
        &bootstrap(),
        "groups",
        "describe",
        "--group",
        group,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    let o = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        common::example_bin::run_example("kafka-cli", &args, "")
    })
    .await
    .unwrap();
    let shown = common::example_bin::show(&o);
    assert!(o.status.success(), "{shown}");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("Protocol: consumer"), "{shown}");
    assert!(
        out.contains("Group epoch: ") && out.contains("Assignment epoch: "),
        "{shown}"
    );
    assert_eq!(out.matches("\tEpoch: ").count(), members, "{shown}");
}

/// A member of another client with `group.protocol=consumer`: the Java `KafkaConsumer`
/// (`java/Kip848Member.java`, run as a single-file program) or confluent-kafka's
/// librdkafka consumer (`testbed/kip848_member.py`). Its listener calls and records are
/// read from its stdout (the same lines from both).
struct PeerMember {
    child: Child,
    stdin: ChildStdin,
    owned: Arc<Mutex<BTreeSet<i32>>>,
    events: Arc<Mutex<Vec<String>>>,
    closed: Arc<AtomicBool>,
}

impl PeerMember {
    fn java(b: &str, topic: &str, group: &str, ledger: Arc<Ledger>) -> Self {
        let cp = kafka_testbed::jars::classpath().expect("broker classpath");
        let java = kafka_testbed::jars::java_binary().expect("java");
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/java/Kip848Member.java");
        let mut cmd = Command::new(java);
        cmd.arg("-cp")
            .arg(cp)
            .arg("-Dlog4j2.level=WARN")
            .arg(src)
            .args([b, topic, group]);
        Self::start("java", cmd, ledger)
    }

    fn librdkafka(b: &str, topic: &str, group: &str, ledger: Arc<Ledger>) -> Self {
        let python = kafka_testbed::confluent_python::confluent_python().expect("confluent-kafka");
        let src = concat!(env!("CARGO_MANIFEST_DIR"), "/testbed/kip848_member.py");
        let mut cmd = Command::new(python);
        cmd.arg(src).args([b, topic, group]);
        Self::start("librdkafka", cmd, ledger)
    }

    fn start(name: &'static str, mut cmd: Command, ledger: Arc<Ledger>) -> Self {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("run the peer member");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let owned: Arc<Mutex<BTreeSet<i32>>> = Arc::default();
        let events: Arc<Mutex<Vec<String>>> = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let (o, e, c) = (owned.clone(), events.clone(), closed.clone());
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let f: Vec<&str> = line.split('\t').collect();
                let parts = || -> Vec<i32> {
                    f.get(1)
                        .map(|s| s.split(',').filter_map(|p| p.parse().ok()).collect())
                        .unwrap_or_default()
                };
                match f[0] {
                    "REC" => ledger.record(name, value_index_of(f[3])),
                    "ASSIGNED" => {
                        o.lock().unwrap().extend(parts());
                        e.lock().unwrap().push(line.clone());
                    }
                    "REVOKED" | "LOST" => {
                        let mut owned = o.lock().unwrap();
                        for p in parts() {
                            owned.remove(&p);
                        }
                        e.lock().unwrap().push(line.clone());
                    }
                    "CLOSED" => c.store(true, Ordering::Relaxed),
                    _ => {}
                }
            }
        });
        Self {
            child,
            stdin,
            owned,
            events,
            closed,
        }
    }

    fn owned(&self, topic: &str) -> BTreeSet<TopicPartition> {
        self.owned
            .lock()
            .unwrap()
            .iter()
            .map(|p| TopicPartition::new(topic, *p))
            .collect()
    }

    /// Asks the member to close (commit, leave) and waits for the process to end.
    async fn stop(mut self) {
        let _ = writeln!(self.stdin, "stop");
        let _ = self.stdin.flush();
        let closed = self.closed.clone();
        wait_for("the peer member to close", Duration::from_secs(60), || {
            closed.load(Ordering::Relaxed)
        })
        .await;
        let status = self.child.wait().expect("the peer's exit");
        assert!(status.success(), "the peer member failed: {status}");
    }
}

impl Drop for PeerMember {
    fn drop(&mut self) {
        if !self.closed.load(Ordering::Relaxed) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `v-<i>-xxx` → `i`.
fn value_index_of(v: &str) -> usize {
    v.split('-')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("v-<i>- value")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_mixed_group_with_the_java_consumer() {
    mixed_group("java", PeerMember::java).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_mixed_group_with_librdkafka() {
    mixed_group("librdkafka", PeerMember::librdkafka).await;
}

/// Our member and a peer of another client in one group: disjoint, complete
/// assignments; every record once; the peer leaving hands its partitions to ours, and
/// a new peer takes half back.
async fn mixed_group(peer: &str, start: fn(&str, &str, &str, Arc<Ledger>) -> PeerMember) {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic(&format!("kip848-{peer}"));
    common::create_topic(&client, &topic, 12, 1).await;
    let all = partitions(12, &topic);
    let group = common::unique_topic(&format!("g-kip848-{peer}"));
    kcat_produce(&b, &topic, "lz4", 10_000, 0, 50, None);
    let ledger = Arc::new(Ledger::default());

    let (ours, rec) = our_member(&b, &group, &topic);
    let stop = Arc::new(AtomicBool::new(false));
    let h = spawn_polling("ours", ours, rec.clone(), ledger.clone(), stop.clone());
    wait_for("our member to own all 12", Duration::from_secs(60), || {
        rec.owned().len() == 12
    })
    .await;

    // The peer joins: the coordinator splits the partitions between the two.
    let other = start(&b, &topic, &group, ledger.clone());
    wait_for("6 partitions each", Duration::from_secs(120), || {
        rec.owned().len() == 6 && other.owned(&topic).len() == 6
    })
    .await;
    assert_disjoint_complete(&[("ours", rec.owned()), (peer, other.owned(&topic))], &all);
    kcat_produce(&b, &topic, "lz4", 10_000, 10_000, 50, None);
    wait_for(
        "every record of the stable group",
        Duration::from_secs(90),
        || ledger.distinct() >= 20_000,
    )
    .await;
    let peer_got = ledger
        .seen
        .lock()
        .unwrap()
        .values()
        .filter(|w| w.iter().any(|n| n == peer))
        .count();
    assert!(peer_got > 0, "the {peer} member consumed its share");

    assert!(
        other
            .events
            .lock()
            .unwrap()
            .iter()
            .all(|e| !e.starts_with("LOST")),
        "the {peer} member lost nothing: {:?}",
        other.events.lock().unwrap()
    );

    // The peer leaves: its partitions come to ours, nothing else moves.
    let mark = rec.events().len();
    let peer_had = other.owned(&topic);
    other.stop().await;
    wait_for("ours to own all 12 again", Duration::from_secs(60), || {
        rec.owned().len() == 12
    })
    .await;
    let (revoked, assigned, lost) = moved_since(&rec.events(), mark);
    assert!(revoked.is_empty() && !lost, "ours kept its partitions");
    assert_eq!(
        assigned, peer_had,
        "ours got exactly the {peer} member's partitions"
    );

    // And back: a new peer joins again and takes half.
    let other = start(&b, &topic, &group, ledger.clone());
    wait_for("6 partitions each again", Duration::from_secs(120), || {
        rec.owned().len() == 6 && other.owned(&topic).len() == 6
    })
    .await;
    assert_disjoint_complete(&[("ours", rec.owned()), (peer, other.owned(&topic))], &all);
    kcat_produce(&b, &topic, "lz4", 10_000, 20_000, 50, None);
    let n = 30_000;
    wait_for("every record", Duration::from_secs(90), || {
        ledger.distinct() >= n
    })
    .await;
    other.stop().await;
    stop.store(true, Ordering::Relaxed);
    h.await.unwrap().close().await.unwrap();

    let (lost, duplicates) = ledger.tally(n);
    println!("kip848 mixed with {peer}: lost {lost}, duplicates {duplicates}");
    assert_eq!(lost, 0);
    assert_eq!(duplicates, 0, "each record went to exactly one member");
    let v = ledger.violations.lock().unwrap();
    assert!(v.is_empty(), "ownership violations: {v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_regex_subscription_picks_up_a_matching_topic_created_later() {
    let b = bootstrap();
    let client = common::client(&b);
    let prefix = common::unique_topic("kip848re");
    let first = format!("{prefix}-a");
    common::create_topic(&client, &first, 2, 1).await;
    let group = common::unique_topic("g-kip848-re");
    let rec = Recorder::new();
    let c = consumer(&b)
        .group_id(group)
        .group_protocol(GroupProtocol::Consumer)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .rebalance_listener(rec.clone())
        .build()
        .unwrap();
    // Full-name match (RE2/J): `<prefix>-.*` matches `<prefix>-a`, not `x<prefix>-b`.
    c.subscribe_pattern(&format!("{}-.*", regex_escape(&prefix)))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while rec.owned().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the first topic"
        );
        c.poll(Duration::from_millis(100)).await.unwrap();
    }

    let later = format!("{prefix}-b");
    let other = format!("x{prefix}-b");
    common::create_topic(&client, &other, 1, 1).await;
    common::create_topic(&client, &later, 3, 1).await;
    kcat_produce(&b, &later, "none", 30, 0, 10, None);
    // Assigned, and its records read from the start (auto.offset.reset=earliest).
    let mut got = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while rec.owned().len() < 5 || got < 30 {
        assert!(
            Instant::now() < deadline,
            "the later topic: owned {:?}, {got} of 30 records",
            rec.owned()
        );
        got += c
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .records()
            .iter()
            .filter(|r| *r.topic == *later)
            .count();
    }
    let owned = rec.owned();
    assert!(
        owned
            .iter()
            .all(|tp| tp.topic == first || tp.topic == later),
        "the non-matching topic is not assigned: {owned:?}"
    );
    assert!(
        c.subscription().is_empty(),
        "a pattern subscription names no topics"
    );
    c.close().await.unwrap();
}

/// Escapes the regex metacharacters a generated topic name can hold (`.`, `-` is fine).
fn regex_escape(s: &str) -> String {
    s.replace('.', "\\.")
}

fn static_member(b: &str, group: &str, topic: &str, instance: &str) -> (Consumer, Arc<Recorder>) {
    let rec = Recorder::new();
    let c = consumer(b)
        .group_id(group)
        .group_instance_id(instance)
        .group_protocol(GroupProtocol::Consumer)
        .rebalance_listener(rec.clone())
        .build()
        .unwrap();
    c.subscribe([topic.to_string()]).unwrap();
    (c, rec)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_static_members_keep_their_assignment_across_a_restart_and_a_duplicate_is_refused() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("kip848-static");
    common::create_topic(&client, &topic, 4, 1).await;
    let group = common::unique_topic("g-kip848-static");
    let (a, ra) = static_member(&b, &group, &topic, "i-a");
    let (bm, rb) = static_member(&b, &group, &topic, "i-b");
    let poll_both = |a: Consumer, bm: Consumer| async move {
        a.poll(Duration::from_millis(50)).await.unwrap();
        bm.poll(Duration::from_millis(50)).await.unwrap();
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while ra.owned().len() != 2 || rb.owned().len() != 2 {
        assert!(Instant::now() < deadline, "2 partitions each");
        poll_both(a.clone(), bm.clone()).await;
    }

    // A second member with i-a while the first is live: UNRELEASED_INSTANCE_ID, a
    // typed error from poll.
    let (dup, _) = static_member(&b, &group, &topic, "i-a");
    let deadline = Instant::now() + Duration::from_secs(30);
    let err = loop {
        assert!(Instant::now() < deadline, "the duplicate was not refused");
        poll_both(a.clone(), bm.clone()).await;
        if let Err(e) = dup.poll(Duration::from_millis(50)).await {
            break e;
        }
    };
    assert_eq!(
        err.code(),
        Some(kafka_client::ErrorCode::UNRELEASED_INSTANCE_ID),
        "{err}"
    );
    assert!(err.to_string().contains(&group), "{err}");
    let _ = dup.close().await;

    // i-a leaves for now (epoch -2) and comes back: the same partitions, and b sees no
    // movement at all.
    let had = ra.owned();
    let mark = rb.events().len();
    a.close().await.unwrap();
    let (a2, ra2) = static_member(&b, &group, &topic, "i-a");
    let deadline = Instant::now() + Duration::from_secs(30);
    while ra2.owned().len() != 2 {
        assert!(
            Instant::now() < deadline,
            "the restarted member's partitions"
        );
        poll_both(a2.clone(), bm.clone()).await;
    }
    assert_eq!(
        ra2.owned(),
        had,
        "the restarted static member got its partitions back"
    );
    assert_eq!(
        rb.events().len(),
        mark,
        "b saw no movement: {:?}",
        rb.events()
    );
    a2.close().await.unwrap();
    bm.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_a_member_that_stops_polling_leaves_and_rejoins_at_its_next_poll() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("kip848-poll");
    common::create_topic(&client, &topic, 4, 1).await;
    let all = partitions(4, &topic);
    let group = common::unique_topic("g-kip848-poll");
    let make = |max_poll: Duration| {
        let rec = Recorder::new();
        let c = consumer(&b)
            .group_id(group.clone())
            .group_protocol(GroupProtocol::Consumer)
            .max_poll_interval(max_poll)
            .rebalance_listener(rec.clone())
            .build()
            .unwrap();
        c.subscribe([topic.clone()]).unwrap();
        (c, rec)
    };
    let (slow, rs) = make(Duration::from_secs(4));
    let (busy, rb) = make(Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(60);
    while rs.owned().len() != 2 || rb.owned().len() != 2 {
        assert!(Instant::now() < deadline, "2 partitions each");
        slow.poll(Duration::from_millis(50)).await.unwrap();
        busy.poll(Duration::from_millis(50)).await.unwrap();
    }
    let slow_had = rs.owned();

    // `slow` stops polling past max.poll.interval: it leaves, and `busy` gets everything.
    let deadline = Instant::now() + Duration::from_secs(30);
    while rb.owned() != all {
        assert!(Instant::now() < deadline, "busy to own all 4");
        busy.poll(Duration::from_millis(100)).await.unwrap();
    }
    // Its next poll runs `lost` for what it had, and it joins again.
    let deadline = Instant::now() + Duration::from_secs(60);
    while rs.owned().len() != 2 || rb.owned().len() != 2 {
        assert!(
            Instant::now() < deadline,
            "slow to rejoin: {:?}",
            rs.events()
        );
        slow.poll(Duration::from_millis(50)).await.unwrap();
        busy.poll(Duration::from_millis(50)).await.unwrap();
    }
    let lost: BTreeSet<TopicPartition> = rs
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Lost(p) => Some(p.clone()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        lost, slow_had,
        "the partitions it held were lost, not revoked"
    );
    assert_disjoint_complete(&[("slow", rs.owned()), ("busy", rb.owned())], &all);
    slow.close().await.unwrap();
    busy.close().await.unwrap();
}

/// The group's type as the admin API describes it.
async fn group_type(client: &kafka_client::Client, group: &str) -> GroupType {
    let admin = Admin::new(client.clone());
    let mut d = admin
        .describe_consumer_groups([group], GroupsOptions::default())
        .await
        .unwrap();
    d.remove(group).unwrap().unwrap().group_type
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_online_migration_from_classic_members_and_back_loses_nothing() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("kip848-migrate");
    common::create_topic(&client, &topic, 6, 1).await;
    let group = common::unique_topic("g-kip848-migrate");
    let ledger = Arc::new(Ledger::default());
    let member = |name: &'static str, protocol: GroupProtocol| {
        let rec = Recorder::new();
        let c = consumer(&b)
            .group_id(group.clone())
            .group_protocol(protocol)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_poll_records(100)
            .rebalance_listener(rec.clone())
            .build()
            .unwrap();
        c.subscribe([topic.clone()]).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let h = spawn_polling(name, c, rec.clone(), ledger.clone(), stop.clone());
        (rec, stop, h)
    };
    let mut produced = 0;
    let mut produce = |n: usize| {
        kcat_produce(&b, &topic, "none", n, produced, 20, None);
        produced += n;
        produced
    };
    let stop_member = |(_, stop, h): (
        Arc<Recorder>,
        Arc<AtomicBool>,
        tokio::task::JoinHandle<Consumer>,
    )| async move {
        stop.store(true, Ordering::Relaxed);
        h.await.unwrap().close().await.unwrap();
    };
    let all_in = |n: usize| {
        let ledger = ledger.clone();
        move || ledger.distinct() >= n
    };
    let both_own = |x: &Arc<Recorder>, y: &Arc<Recorder>| {
        let (x, y) = (x.clone(), y.clone());
        move || {
            x.owned().len() + y.owned().len() == 6 && !x.owned().is_empty() && !y.owned().is_empty()
        }
    };

    // Two classic members.
    let c1 = member("c1", GroupProtocol::Classic);
    let c2 = member("c2", GroupProtocol::Classic);
    wait_for(
        "the classic group",
        Duration::from_secs(60),
        both_own(&c1.0, &c2.0),
    )
    .await;
    let n = produce(5_000);
    wait_for("records (classic)", Duration::from_secs(60), all_in(n)).await;
    assert_eq!(group_type(&client, &group).await, GroupType::Classic);

    // Upgrade member by member: the group becomes a consumer-protocol group.
    let k1 = member("k1", GroupProtocol::Consumer);
    stop_member(c1).await;
    wait_for("c2 and k1", Duration::from_secs(60), both_own(&c2.0, &k1.0)).await;
    assert_eq!(group_type(&client, &group).await, GroupType::Consumer);
    let n = produce(5_000);
    wait_for("records (mixed)", Duration::from_secs(60), all_in(n)).await;
    let k2 = member("k2", GroupProtocol::Consumer);
    stop_member(c2).await;
    wait_for("k1 and k2", Duration::from_secs(60), both_own(&k1.0, &k2.0)).await;
    let n = produce(5_000);
    wait_for("records (upgraded)", Duration::from_secs(60), all_in(n)).await;

    // And back: classic members replace them; the group is classic again once the
    // last consumer-protocol member left.
    let c3 = member("c3", GroupProtocol::Classic);
    stop_member(k1).await;
    wait_for("k2 and c3", Duration::from_secs(60), both_own(&k2.0, &c3.0)).await;
    let c4 = member("c4", GroupProtocol::Classic);
    stop_member(k2).await;
    wait_for("c3 and c4", Duration::from_secs(60), both_own(&c3.0, &c4.0)).await;
    let n = produce(5_000);
    wait_for("records (downgraded)", Duration::from_secs(60), all_in(n)).await;
    assert_eq!(group_type(&client, &group).await, GroupType::Classic);
    stop_member(c3).await;
    stop_member(c4).await;

    let (lost, duplicates) = ledger.tally(n);
    println!("kip848 online migration: lost {lost}, duplicates {duplicates}");
    assert_eq!(lost, 0);
    let v = ledger.violations.lock().unwrap();
    assert!(v.is_empty(), "ownership violations: {v:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_a_revocation_the_application_never_polls_for_ends_in_loss_not_a_stall() {
    let b = bootstrap();
    let client = common::client(&b);
    let topic = common::unique_topic("kip848-stall");
    common::create_topic(&client, &topic, 4, 1).await;
    let all = partitions(4, &topic);
    let group = common::unique_topic("g-kip848-stall");
    let make = |max_poll: Duration| {
        let rec = Recorder::new();
        let c = consumer(&b)
            .group_id(group.clone())
            .group_protocol(GroupProtocol::Consumer)
            .max_poll_interval(max_poll)
            .rebalance_listener(rec.clone())
            .build()
            .unwrap();
        c.subscribe([topic.clone()]).unwrap();
        (c, rec)
    };
    let (idle, ri) = make(Duration::from_secs(4));
    let deadline = Instant::now() + Duration::from_secs(60);
    while ri.owned() != all {
        assert!(Instant::now() < deadline, "idle to own all 4");
        idle.poll(Duration::from_millis(50)).await.unwrap();
    }
    // `idle` stops polling; `busy` joins, so the coordinator asks `idle` to revoke two.
    // `idle` never runs the revocation: after max.poll.interval it gives them up (lost)
    // and leaves, and `busy` gets everything.
    let (busy, rb) = make(Duration::from_secs(30));
    let deadline = Instant::now() + Duration::from_secs(40);
    while rb.owned() != all {
        assert!(
            Instant::now() < deadline,
            "busy to own all 4: {:?}",
            rb.owned()
        );
        busy.poll(Duration::from_millis(100)).await.unwrap();
    }
    // At its next poll `idle` learns what happened and joins again.
    let deadline = Instant::now() + Duration::from_secs(60);
    while ri.owned().len() != 2 || rb.owned().len() != 2 {
        assert!(
            Instant::now() < deadline,
            "idle to rejoin: {:?}",
            ri.events()
        );
        idle.poll(Duration::from_millis(50)).await.unwrap();
        busy.poll(Duration::from_millis(50)).await.unwrap();
    }
    assert!(
        ri.events().iter().any(|e| matches!(e, Event::Lost(_))),
        "{:?}",
        ri.events()
    );
    assert_disjoint_complete(&[("idle", ri.owned()), ("busy", rb.owned())], &all);
    idle.close().await.unwrap();
    busy.close().await.unwrap();
}
