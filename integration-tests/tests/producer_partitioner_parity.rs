//! Partitioner parity with librdkafka: for each of librdkafka's seven partitioners, on
//! topics of 1, 7, 12 and 100 partitions, confluent-kafka (librdkafka) produces 10,000
//! keyed records (text keys, binary keys, empty keys) and some keyless ones; the
//! partition each landed on is read back from the broker; our producer, configured with
//! the same `partitioner` name, sends the same keys; every record whose place the key
//! fixes must be on the same partition for both clients.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::produce::fetch_all;
use kafka_client::config::Properties;
use kafka_client::producer::{Partitioning, ProducerBuilder, ProducerRecord};

const PARTITIONERS: [&str; 7] = [
    "random",
    "consistent",
    "consistent_random",
    "murmur2",
    "murmur2_random",
    "fnv1a",
    "fnv1a_random",
];
const KEYED: usize = 10_000;
const KEYLESS: usize = 50;

const SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testbed/librdkafka/partitioner_parity.py"
);

/// The test's keys: index → key (`None`: null). Text keys, binary keys of 0..=32 bytes
/// (so some empty ones), from a fixed pseudo-random sequence; then keyless records.
fn keys() -> Vec<Option<Vec<u8>>> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut keys = Vec::with_capacity(KEYED + KEYLESS);
    for i in 0..KEYED {
        keys.push(Some(if i % 3 == 0 {
            format!("user-{i}").into_bytes()
        } else {
            let len = (next() % 33) as usize;
            (0..len).map(|_| next() as u8).collect()
        }));
    }
    keys.extend(std::iter::repeat_n(None, KEYLESS));
    keys
}

fn encode(key: &Option<Vec<u8>>) -> String {
    match key {
        None => "-".into(),
        Some(k) if k.is_empty() => "=".into(),
        Some(k) => k.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// Runs librdkafka's producer for every partitioner into `topic`; returns the
/// partitions its delivery reports gave, by (partitioner, index).
fn librdkafka_produce(
    bootstrap: &str,
    topic: &str,
    keys: &[Option<Vec<u8>>],
) -> HashMap<(String, usize), i32> {
    let python = kafka_testbed::confluent_python::confluent_python().expect("confluent-kafka venv");
    let mut child = Command::new(python)
        .args([SCRIPT, bootstrap, topic])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut input = String::new();
    for name in PARTITIONERS {
        for (i, k) in keys.iter().enumerate() {
            input.push_str(&format!("{name} {i} {}\n", encode(k)));
        }
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("python finished");
    writer.join().unwrap().expect("fed the script");
    assert!(
        out.status.success(),
        "partitioner_parity.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (
                (f[0].to_string(), f[1].parse().unwrap()),
                f[2].parse().unwrap(),
            )
        })
        .collect()
}

async fn parity(partitions: i32) {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let theirs = common::unique_topic(&format!("rdk-parity-{partitions}"));
    let ours = common::unique_topic(&format!("our-parity-{partitions}"));
    common::create_topic(&client, &theirs, partitions, 1).await;
    common::create_topic(&client, &ours, partitions, 1).await;
    let keys = keys();

    let (bs, topic, ks) = (bootstrap.clone(), theirs.clone(), keys.clone());
    let reported = tokio::task::spawn_blocking(move || librdkafka_produce(&bs, &topic, &ks))
        .await
        .unwrap();
    assert_eq!(
        reported.len(),
        PARTITIONERS.len() * keys.len(),
        "every record delivered"
    );
    // Where librdkafka's records are, read back from the broker.
    let mut placed: HashMap<(String, usize), i32> = HashMap::new();
    for p in 0..partitions {
        for r in fetch_all(&client, &theirs, p).await {
            let v = String::from_utf8(r.value.expect("value").to_vec()).unwrap();
            let (name, i) = v.split_once(':').unwrap();
            placed.insert((name.to_string(), i.parse().unwrap()), p);
        }
    }
    assert_eq!(placed, reported, "delivery reports agree with the log");

    let mut matrix = BTreeMap::new();
    for name in PARTITIONERS {
        let props: Properties = [
            ("bootstrap.servers", bootstrap.as_str()),
            ("partitioner", name),
            ("linger.ms", "20"),
        ]
        .into_iter()
        .collect();
        let producer = ProducerBuilder::from_properties(props)
            .unwrap()
            .build()
            .unwrap();
        let how: Partitioning = name.parse().unwrap();
        let mut futures = Vec::with_capacity(keys.len());
        for k in &keys {
            let mut rec = ProducerRecord::new(ours.as_str()).with_value(name);
            if let Some(k) = k {
                rec = rec.with_key(k.clone());
            }
            futures.push(producer.send(rec).await.expect("queued"));
        }
        let (mut fixed, mut free, mut theirs_used, mut ours_used) =
            (0, 0, BTreeSet::new(), BTreeSet::new());
        for (i, (k, f)) in keys.iter().zip(futures).enumerate() {
            let mine = f.await.expect("delivered").partition;
            let rdk = placed[&(name.to_string(), i)];
            assert!((0..partitions).contains(&mine) && (0..partitions).contains(&rdk));
            match how.partition_for_key(k.as_deref(), partitions) {
                Some(want) => {
                    assert_eq!(
                        (rdk, mine),
                        (want, want),
                        "{name} on {partitions} partitions, key {:?}: librdkafka put it on {rdk}, we on {mine}, expected {want}",
                        encode(k)
                    );
                    fixed += 1;
                }
                None => free += 1,
            }
            if k.is_some() {
                theirs_used.insert(rdk);
                ours_used.insert(mine);
            }
        }
        producer.close(Duration::from_secs(10)).await.unwrap();
        if name == "random" {
            assert_eq!(fixed, 0);
            if partitions > 1 {
                // Random for keys means random: both spread one key set over partitions.
                assert!(theirs_used.len() > 1 && ours_used.len() > 1);
            }
        } else {
            assert!(
                fixed >= KEYED - KEYED / 10,
                "{name}: only {fixed} records with a fixed place"
            );
        }
        matrix.insert(name, (fixed, free));
    }
    eprintln!(
        "partitioner parity on {partitions} partitions (same partition / no fixed place): {matrix:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioner_parity_with_librdkafka_on_1_partition() {
    parity(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioner_parity_with_librdkafka_on_7_partitions() {
    parity(7).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioner_parity_with_librdkafka_on_12_partitions() {
    parity(12).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitioner_parity_with_librdkafka_on_100_partitions() {
    parity(100).await;
}
