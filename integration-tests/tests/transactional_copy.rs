//! Exactly-once copy with the `transactional_copy` example: 50,000 keyed records copied
//! by two copier processes in one group while one of them is killed (SIGKILL) mid-run
//! and restarted with the same transactional id. A read_committed reader of the output
//! (ours, and Apache Kafka's own Java consumer as an independent reader) must see every
//! input record exactly once, in order per key. Runs on a 3-node cluster with
//! transaction.version=2 and on a 1-node cluster with transaction.version=1, and with
//! the KIP-848 consumer group protocol (`--group-protocol consumer`: the offsets go
//! with the member epoch as their generation).

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::txn::read_all;
use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_client::consumer::IsolationLevel;
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_testbed::{ClusterConfig, KafkaCluster};

const KEYS: usize = 500;

/// How the copiers run: their group protocol and how long they wait without input
/// before exiting.
#[derive(Clone, Copy)]
struct Copiers {
    group_protocol: &'static str,
    idle_exit_secs: u32,
}

const CLASSIC: Copiers = Copiers {
    group_protocol: "classic",
    idle_exit_secs: 12,
};

fn copier(
    bin: &std::path::Path,
    bootstrap: &str,
    input: &str,
    output: &str,
    group: &str,
    id: &str,
    how: Copiers,
) -> Child {
    Command::new(bin)
        .args([
            "--input",
            input,
            "--output",
            output,
            "--group",
            group,
            "--transactional-id",
            id,
            "--transaction-timeout-ms",
            "15000",
            "--idle-exit-secs",
            &how.idle_exit_secs.to_string(),
            "--group-protocol",
            how.group_protocol,
        ])
        .env("KAFKA_BOOTSTRAP_SERVERS", bootstrap)
        .stdin(Stdio::null())
        .spawn()
        .expect("start transactional_copy")
}

/// Output records parsed as (key, per-key sequence), in the order read per partition.
fn parse(key: &str, value: &str) -> (usize, usize) {
    let k: usize = key.trim_start_matches('k').parse().expect("key k<n>");
    let (vk, seq) = value.split_once(':').expect("value k<n>:<seq>");
    assert_eq!(vk, key, "value belongs to its key");
    (k, seq.parse().expect("sequence"))
}

/// Counts duplicates, missing records and per-key order violations.
fn verify(n: usize, records: &[(i32, i64, String, String)], who: &str) -> (usize, usize, usize) {
    let mut seen: HashMap<(usize, usize), usize> = HashMap::new();
    let mut last: HashMap<usize, usize> = HashMap::new();
    let mut order_violations = 0;
    let mut sorted = records.to_vec();
    sorted.sort_by_key(|r| (r.0, r.1));
    for (_, _, key, value) in &sorted {
        let (k, seq) = parse(key, value);
        *seen.entry((k, seq)).or_default() += 1;
        if last.insert(k, seq).is_some_and(|prev| seq <= prev) {
            order_violations += 1;
        }
    }
    let duplicates: usize = seen.values().map(|c| c - 1).sum();
    let per_key = n / KEYS;
    let missing = (0..KEYS)
        .flat_map(|k| (0..per_key).map(move |s| (k, s)))
        .filter(|ks| !seen.contains_key(ks))
        .count();
    println!(
        "{who}: {} records read, {} distinct, duplicates {duplicates}, missing {missing}, order violations {order_violations}",
        records.len(),
        seen.len()
    );
    (duplicates, missing, order_violations)
}

/// Apache Kafka's Java consumer (read_committed), run as a single-file program.
fn java_read_committed(bootstrap: &str, topic: &str) -> Vec<(i32, i64, String, String)> {
    let cp = kafka_testbed::jars::classpath().expect("broker classpath");
    let java = kafka_testbed::jars::java_binary().expect("java");
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/java/ReadCommitted.java");
    let out = Command::new(java)
        .arg("-cp")
        .arg(cp)
        .arg("-Dlog4j2.level=WARN")
        .arg(src)
        .args([bootstrap, topic])
        .stdin(Stdio::null())
        .output()
        .expect("run java");
    assert!(
        out.status.success(),
        "java reader failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.splitn(4, '\t').collect();
            assert_eq!(f.len(), 4, "java line: {l}");
            (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].to_string(),
                f[3].to_string(),
            )
        })
        .collect()
}

async fn copy_with_a_copier_killed(cluster: ClusterConfig, tv: u8, n: usize, how: Copiers) {
    let nodes = cluster.nodes;
    let cluster = KafkaCluster::start(cluster.with_transaction_version(tv)).expect("cluster");
    let b = cluster.bootstrap_servers();
    let client = common::client(&b);
    let rf = nodes.min(3) as i16;
    let input = common::unique_topic("copy-in");
    let output = common::unique_topic("copy-out");
    common::create_topic(&client, &input, 6, rf).await;
    common::create_topic(&client, &output, 6, rf).await;
    let bin = common::example_bin::example_path("transactional_copy");

    // The input: n keyed records, value "<key>:<per-key sequence>".
    let p = Producer::builder()
        .bootstrap_servers([b.as_str()])
        .build()
        .unwrap();
    let mut acks = FuturesUnordered::new();
    for i in 0..n {
        let key = format!("k{}", i % KEYS);
        let r = ProducerRecord::new(input.as_str())
            .with_key(key.clone())
            .with_value(format!("{key}:{}", i / KEYS));
        acks.push(p.send(r).await.expect("queued"));
    }
    while let Some(a) = acks.next().await {
        a.expect("input acknowledged");
    }
    p.close(Duration::from_secs(10)).await.unwrap();

    let group = common::unique_topic("copy-group");
    let started = Instant::now();
    let mut a = copier(
        &bin,
        &b,
        &input,
        &output,
        &group,
        &format!("{group}-a"),
        how,
    );
    let mut bb = copier(
        &bin,
        &b,
        &input,
        &output,
        &group,
        &format!("{group}-b"),
        how,
    );
    // Kill copier A once part of the output is committed, then restart it.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        assert!(Instant::now() < deadline, "no output within 120 s");
        let end = common::txn::end_offsets(&client, &output, 6).await;
        if end >= (n / 5) as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    a.kill().expect("SIGKILL copier a");
    let _ = a.wait();
    println!("killed copier a after {:?}", started.elapsed());
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut a2 = copier(
        &bin,
        &b,
        &input,
        &output,
        &group,
        &format!("{group}-a"),
        how,
    );
    for (name, c) in [("a (restarted)", &mut a2), ("b", &mut bb)] {
        let status = c.wait().expect("copier exits");
        assert!(status.success(), "copier {name} failed: {status}");
    }
    println!("copy finished in {:?}", started.elapsed());

    let ours: Vec<(i32, i64, String, String)> = read_all(
        &b,
        &output,
        6,
        IsolationLevel::ReadCommitted,
        Duration::from_secs(3),
    )
    .await
    .into_iter()
    .map(|r| {
        (
            r.partition,
            r.offset,
            String::from_utf8_lossy(r.key.as_deref().unwrap_or_default()).into_owned(),
            String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
        )
    })
    .collect();
    let who = format!("tv{tv}, {nodes} nodes, {} protocol", how.group_protocol);
    let (dup, missing, order) = verify(n, &ours, &format!("ours ({who})"));
    assert_eq!(
        (dup, missing, order),
        (0, 0, 0),
        "exactly once, in order per key"
    );

    let java = java_read_committed(&b, &output);
    let (jdup, jmissing, jorder) = verify(n, &java, &format!("java ({who})"));
    assert_eq!(
        (jdup, jmissing, jorder),
        (0, 0, 0),
        "the Java reader agrees"
    );
    let key = |v: &[(i32, i64, String, String)]| {
        let mut m: BTreeMap<(i32, i64), (String, String)> = BTreeMap::new();
        for (p, o, k, val) in v {
            m.insert((*p, *o), (k.clone(), val.clone()));
        }
        m
    };
    assert!(key(&ours) == key(&java), "same records at the same offsets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_copy_on_3_nodes_transaction_v2() {
    if !kafka_testbed::kafka_at_least("4.0.0", "transaction.version=2 (KIP-890 part 2)") {
        return;
    }
    copy_with_a_copier_killed(ClusterConfig::new(3), 2, 50_000, CLASSIC).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_copy_on_1_node_transaction_v1() {
    copy_with_a_copier_killed(ClusterConfig::new(1), 1, 50_000, CLASSIC).await;
}

/// The copiers as KIP-848 consumer-protocol members: the killed copier's partitions
/// stay with its dead member until the group's session timeout (10 s here), so the
/// others wait longer for input before they exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_copy_with_the_consumer_protocol_kip848() {
    if !kafka_testbed::kafka_at_least("4.0.0", "the KIP-848 consumer group protocol") {
        return;
    }
    let cluster = ClusterConfig::new(1)
        .with_property("group.consumer.heartbeat.interval.ms", "1000")
        .with_property("group.consumer.min.heartbeat.interval.ms", "500")
        .with_property("group.consumer.session.timeout.ms", "10000")
        .with_property("group.consumer.min.session.timeout.ms", "6000");
    let how = Copiers {
        group_protocol: "consumer",
        idle_exit_secs: 25,
    };
    copy_with_a_copier_killed(cluster, 2, 20_000, how).await;
}
