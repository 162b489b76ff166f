//! `kafka-cli log-dirs alter` on a 2-node cluster whose brokers have two log dirs each:
//! a replica moves to the other dir (checked with `log-dirs describe`), bad dirs are
//! refused. The progress display of long operations: `partitions reassign --verify
//! --wait` and `dump-log` report progress on stderr with `--progress` (stderr is not a
//! terminal here, so nothing without it), and never on stdout.

mod common;

use std::process::Output;
use std::sync::OnceLock;
use std::time::Duration;

use common::example_bin::show;
use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::Client;
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::records::{BatchBuilder, BatchMeta, Compression};
use kafka_testbed::{ClusterConfig, KafkaCluster};

fn cluster() -> &'static KafkaCluster {
    static CLUSTER: OnceLock<KafkaCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        kafka_testbed::install_panic_hook();
        let config = ClusterConfig::new(2)
            .with_property("log.dirs", "{node_dir}/data,{node_dir}/data-b")
            .with_property("auto.leader.rebalance.enable", "false");
        KafkaCluster::start(config).expect("2-node cluster")
    })
}

fn cli(args: &[&str]) -> Output {
    let b = cluster().bootstrap_servers();
    let mut all = vec!["--bootstrap-server", b.as_str()];
    all.extend_from_slice(args);
    common::example_bin::run_example("kafka-cli", &all, "")
}

/// Writes `n` records to each of `partitions` partitions of `topic`.
async fn produce(topic: &str, partitions: i32, n: usize) {
    let p = Producer::builder()
        .bootstrap_servers([cluster().bootstrap_servers()])
        .build()
        .unwrap();
    for i in 0..n {
        for partition in 0..partitions {
            p.send_and_wait(
                ProducerRecord::new(topic.to_string())
                    .with_partition(partition)
                    .with_value(format!("v{i}")),
            )
            .await
            .expect("produced");
        }
    }
    p.close(Duration::from_secs(10)).await.unwrap();
}

/// `log-dirs alter` of `topic`-0's replica on broker 1 to `dir`, with `extra` flags.
fn alter(topic: &str, dir: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "log-dirs",
        "alter",
        "--topic",
        topic,
        "--partition",
        "0",
        "--broker",
        "1",
        "--log-dir",
        dir,
    ];
    args.extend_from_slice(extra);
    cli(&args)
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

async fn create_on(topic: &str, replicas: &[Vec<i32>]) -> Client {
    let client = common::client(&cluster().bootstrap_servers());
    let mut t = NewTopic::new(topic);
    for (p, r) in replicas.iter().enumerate() {
        t = t.assignment(p as i32, r.clone());
    }
    let r = Admin::new(client.clone())
        .create_topics([t], CreateTopicsOptions::default())
        .await
        .unwrap();
    r[topic].as_ref().expect("created");
    common::wait_for_leaders(&client, topic, replicas.len() as i32).await;
    client
}

/// The log dirs of broker 1 (`log-dirs describe`), each with whether it holds
/// `topic`-0 and whether that copy is a future replica.
fn dirs_of_broker_1(topic: &str) -> Vec<(String, Option<bool>)> {
    let o = cli(&[
        "log-dirs",
        "describe",
        "--broker-list",
        "1",
        "--topic-list",
        topic,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("JSON");
    v["brokers"][0]["logDirs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            let holds = d["partitions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["partition"] == format!("{topic}-0"))
                .map(|p| p["isFuture"].as_bool().unwrap());
            (d["logDir"].as_str().unwrap().to_string(), holds)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_ops_log_dirs_alter_moves_a_replica_to_the_other_dir() {
    let topic = common::unique_topic("move-dir");
    let client = create_on(&topic, &[vec![1]]).await;
    produce(&topic, 1, 50).await;
    drop(client);
    let dirs = dirs_of_broker_1(&topic);
    assert_eq!(dirs.len(), 2, "{dirs:?}");
    let from = dirs
        .iter()
        .find(|(_, h)| *h == Some(false))
        .expect("current dir");
    let to = dirs
        .iter()
        .find(|(_, h)| h.is_none())
        .expect("other dir")
        .0
        .clone();
    let from = from.0.clone();

    let o = alter(&topic, &to, &["--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let line: serde_json::Value = serde_json::from_str(stdout(&o).trim()).expect("JSON");
    assert_eq!(line["error"], serde_json::Value::Null, "{}", show(&o));
    assert_eq!(line["logDir"], to.as_str());

    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let now = dirs_of_broker_1(&topic);
        let at = |dir: &str| now.iter().find(|(d, _)| d == dir).and_then(|(_, h)| *h);
        if at(&to) == Some(false) && at(&from).is_none() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not moved: {now:?}");
        std::thread::sleep(Duration::from_millis(300));
    }
    // Moving back in text mode.
    let o = alter(&topic, &from, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(stdout(&o).contains(&format!("Moving replica {topic}-0 on broker 1 to {from}")));

    // Bad input: a dir the broker does not have (the broker refuses: exit 1), a relative
    // path (usage: exit 2).
    let o = alter(&topic, "/no/such/log/dir", &[]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(stderr(&o).contains("LOG_DIR_NOT_FOUND"), "{}", show(&o));
    let o = alter(&topic, "data-b", &[]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_ops_progress_of_reassign_verify_on_stderr_only() {
    let topic = common::unique_topic("progress");
    let client = create_on(&topic, &[vec![1], vec![1]]).await;
    produce(&topic, 2, 20).await;
    drop(client);
    let plan = format!(
        r#"{{"version":1,"partitions":[{{"topic":"{topic}","partition":0,"replicas":[2]}},{{"topic":"{topic}","partition":1,"replicas":[2]}}]}}"#
    );
    let file = std::env::temp_dir().join(format!("progress-{}.json", std::process::id()));
    std::fs::write(&file, plan).unwrap();
    let file = file.to_str().unwrap();
    let o = cli(&[
        "partitions",
        "reassign",
        "--execute",
        "--reassignment-json-file",
        file,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = cli(&[
        "partitions",
        "reassign",
        "--verify",
        "--wait",
        "--progress",
        "--reassignment-json-file",
        file,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        stderr(&o).contains("reassignment: 2 of 2 partition(s) complete"),
        "{}",
        show(&o)
    );
    assert!(!stdout(&o).contains("reassignment:"), "{}", show(&o));
    // Without --progress and with stderr not a terminal: no progress.
    let o = cli(&[
        "partitions",
        "reassign",
        "--verify",
        "--wait",
        "--reassignment-json-file",
        file,
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!stderr(&o).contains("reassignment:"), "{}", show(&o));
    // --progress without --wait is bad usage.
    let o = cli(&[
        "partitions",
        "reassign",
        "--verify",
        "--progress",
        "--reassignment-json-file",
        file,
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}

#[test]
fn cli_ops_progress_of_dump_log_on_stderr_only() {
    // A segment of 300 batches, written with the SDK's batch encoder.
    let dir = std::env::temp_dir().join(format!("progress-seg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let segment = dir.join("00000000000000000000.log");
    let mut data = Vec::new();
    for b in 0..300i64 {
        let mut batch = BatchBuilder::new(Compression::None, 1 << 20);
        for r in 0..10 {
            batch
                .append(
                    1_700_000_000_000 + b,
                    None,
                    Some(format!("v{b}-{r}").as_bytes()),
                    &[],
                )
                .unwrap();
        }
        let mut bytes = batch.finish(&BatchMeta::default()).unwrap().to_vec();
        bytes[..8].copy_from_slice(&(b * 10).to_be_bytes()); // base offset
        data.extend_from_slice(&bytes);
    }
    std::fs::write(&segment, &data).unwrap();
    let path = segment.to_str().unwrap();

    let o = common::example_bin::run_example(
        "kafka-cli",
        &["dump-log", "--json", "--progress", path],
        "",
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let batches: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(batches.len(), 300);
    assert!(!stdout(&o).contains("decoded"), "{}", show(&o));
    assert!(stderr(&o).contains("decoded 0 B of"), "{}", show(&o));
    assert!(stderr(&o).contains("(100%)"), "{}", show(&o));
    let o = common::example_bin::run_example("kafka-cli", &["dump-log", path], "");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(!stderr(&o).contains("decoded"), "{}", show(&o));
    let _ = std::fs::remove_dir_all(&dir);
}
