//! Client telemetry (KIP-714) against a real broker: a `client-metrics` subscription set
//! through the admin API, and a broker-side receiver (`telemetry_java/
//! TelemetryRecorder.java`, compiled here with `javac` against the broker's classpath
//! and listed in `metric.reporters`) that decodes every push with the broker's own OTLP
//! classes and writes down what arrived. The producer's pushes carry exactly the
//! subscribed metrics, with the right values (the per-node Produce latency as the Java
//! client names and labels it: `org.apache.kafka.producer.node.request.latency.avg` with
//! `node_id=node-<id>`), and a terminating push on close (as does
//! an admin client on `Admin::close`); a client with `enable.metrics.push=false` pushes
//! nothing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kafka_admin::{AlterConfigOp, AlterConfigsOptions, ConfigResource, ConfigResourceType};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_testbed::{ClusterConfig, KafkaCluster};

const SUBSCRIBED: [&str; 4] = [
    "org.apache.kafka.client.requests",
    "org.apache.kafka.producer.records",
    "org.apache.kafka.producer.node.request.latency",
    "org.apache.kafka.producer.record.queue.time",
];

/// Compiles the recorder into a fresh directory; returns the directory.
fn compile_recorder() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kafka-rs-telemetry-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let source =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/telemetry_java/TelemetryRecorder.java");
    let cp = kafka_testbed::jars::classpath().expect("broker classpath");
    let out = Command::new("javac")
        .args(["-nowarn", "-cp", &cp, "-d"])
        .arg(&dir)
        .arg(&source)
        .output()
        .expect("javac (JDK 17) on PATH");
    assert!(
        out.status.success(),
        "javac failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// One `metric` line of the recorder's file (one data point).
#[derive(Debug)]
struct Seen {
    client: String,
    name: String,
    value: f64,
    temporality: String,
    /// `key:value` pairs, comma-separated, or `-`.
    attrs: String,
}

fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

fn read(file: &Path) -> (Vec<String>, Vec<Seen>) {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    assert!(!text.contains("undecodable"), "{text}");
    let pushes = text
        .lines()
        .filter(|l| l.starts_with("push "))
        .map(str::to_owned)
        .collect();
    let metrics = text
        .lines()
        .filter(|l| l.starts_with("metric "))
        .map(|l| Seen {
            client: field(l, "client").into(),
            name: field(l, "name").into(),
            value: field(l, "value").parse().unwrap(),
            temporality: field(l, "temporality").into(),
            attrs: field(l, "attrs").into(),
        })
        .collect();
    (pushes, metrics)
}

/// The records a client reported sent: the sum of delta points, or the last cumulative.
fn records_sent(metrics: &[Seen], client: &str) -> f64 {
    let points: Vec<&Seen> = metrics
        .iter()
        .filter(|m| m.client == client && m.name == "org.apache.kafka.producer.records.sent")
        .collect();
    match points.first().map(|m| m.temporality.as_str()) {
        Some(t) if t.ends_with("_DELTA") => points.iter().map(|m| m.value).sum(),
        _ => points.last().map_or(0.0, |m| m.value),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_pushes_the_subscribed_metrics_to_the_broker() {
    let dir = compile_recorder();
    let file = dir.join("pushes.txt");
    let file_prop = file.to_string_lossy().into_owned();
    let cluster = tokio::task::spawn_blocking(move || {
        KafkaCluster::start(
            ClusterConfig::new(1)
                .with_classpath(&dir)
                .with_property("metric.reporters", "TelemetryRecorder")
                .with_property("telemetry.recorder.file", file_prop),
        )
    })
    .await
    .unwrap()
    .expect("cluster");
    let b = cluster.bootstrap_servers();
    let admin_client = common::client(&b);
    let admin = kafka_admin::Admin::new(admin_client.clone());
    let res = admin
        .incremental_alter_configs(
            [(
                ConfigResource::new(ConfigResourceType::ClientMetrics, "kafka-rs-test"),
                vec![
                    AlterConfigOp::set("metrics", SUBSCRIBED.join(",")),
                    AlterConfigOp::set("interval.ms", "1000"),
                ],
            )],
            AlterConfigsOptions::default(),
        )
        .await
        .expect("IncrementalAlterConfigs");
    for (r, outcome) in res {
        outcome.unwrap_or_else(|e| panic!("{r:?}: {e}"));
    }
    let topic = common::unique_topic("telemetry");
    common::create_topic(&admin_client, &topic, 1, 1).await;

    let producer = |id: &str, push: bool| {
        let client = kafka_client::Client::builder()
            .bootstrap_servers([b.as_str()])
            .client_id(id)
            .enable_metrics_push(push);
        Producer::builder().client_config(client).build().unwrap()
    };
    let pushing = producer("pushing", true);
    let silent = producer("silent", false);
    // An admin client that built its own client pushes too, and ends with a
    // terminating push on `Admin::close`.
    let own_admin = kafka_admin::Admin::from_client_config(
        kafka_client::Client::builder()
            .bootstrap_servers([b.as_str()])
            .client_id("admin-pushing"),
    )
    .unwrap();
    own_admin
        .list_topics(kafka_admin::ListTopicsOptions::default())
        .await
        .unwrap();
    for p in [&pushing, &silent] {
        let mut acks = Vec::new();
        for i in 0..10 {
            let r = ProducerRecord::new(topic.as_str()).with_value(format!("v-{i}"));
            acks.push(p.send(r).await.unwrap());
        }
        for a in acks {
            a.await.unwrap();
        }
    }

    // The pushes arrive every second; wait until they account for the 10 records.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (_, metrics) = read(&file);
        let latency = metrics.iter().any(|m| {
            m.client == "pushing" && m.name == "org.apache.kafka.producer.node.request.latency.avg"
        });
        if records_sent(&metrics, "pushing") == 10.0 && latency {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "pushes never showed 10 records sent and a node latency: {metrics:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    pushing.close(Duration::from_secs(10)).await.unwrap();
    silent.close(Duration::from_secs(10)).await.unwrap();
    own_admin.close(Duration::from_secs(10)).await;
    assert!(
        matches!(
            own_admin
                .list_topics(kafka_admin::ListTopicsOptions::default())
                .await,
            Err(kafka_client::Error::Closed)
        ),
        "Admin::close closes the client it built"
    );

    let (pushes, metrics) = read(&file);
    println!("{} pushes, e.g. {:?}", pushes.len(), pushes.first());
    let ours: Vec<&String> = pushes
        .iter()
        .filter(|p| p.contains("client=pushing "))
        .collect();
    assert!(ours.len() >= 2, "{pushes:?}");
    assert!(
        ours.last().unwrap().contains("terminating=true"),
        "the last push on close is terminating: {ours:?}"
    );
    assert_eq!(
        ours.iter()
            .filter(|p| p.contains("terminating=true"))
            .count(),
        1
    );
    let admin_pushes: Vec<&String> = pushes
        .iter()
        .filter(|p| p.contains("client=admin-pushing "))
        .collect();
    assert!(
        admin_pushes
            .last()
            .is_some_and(|p| p.contains("terminating=true")),
        "the admin client's last push on close is terminating: {admin_pushes:?}"
    );
    let instance = field(ours[0], "instance");
    assert!(
        ours.iter().all(|p| field(p, "instance") == instance),
        "one client instance id: {ours:?}"
    );
    assert!(
        !pushes.iter().any(|p| p.contains("client=silent ")),
        "enable.metrics.push=false pushed: {pushes:?}"
    );
    let names: std::collections::BTreeSet<&str> = metrics
        .iter()
        .filter(|m| m.client == "pushing")
        .map(|m| m.name.as_str())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| SUBSCRIBED.iter().any(|s| n.starts_with(s))),
        "only subscribed metrics: {names:?}"
    );
    for want in [
        "org.apache.kafka.client.requests",
        "org.apache.kafka.producer.records.sent",
        "org.apache.kafka.producer.records.acked",
    ] {
        assert!(names.contains(want), "{want} not pushed: {names:?}");
    }
    assert_eq!(records_sent(&metrics, "pushing"), 10.0);

    // The per-node Produce latency, as Java pushes it: a gauge per node, labelled
    // `node_id=node-<id>` with the id of the broker that answered, in ms.
    let node_label = format!("node_id:node-{}", cluster.node_ids()[0]);
    let gauge = |name: &str| -> Vec<&Seen> {
        metrics
            .iter()
            .filter(|m| m.client == "pushing" && m.name == name)
            .collect()
    };
    let avg = gauge("org.apache.kafka.producer.node.request.latency.avg");
    let max = gauge("org.apache.kafka.producer.node.request.latency.max");
    assert!(!avg.is_empty() && avg.len() == max.len(), "{avg:?} {max:?}");
    for (a, m) in avg.iter().zip(&max) {
        assert_eq!(a.temporality, "GAUGE");
        assert_eq!(a.attrs, node_label, "{a:?}");
        assert_eq!(m.attrs, node_label, "{m:?}");
        // Ten acknowledged Produce requests on a local broker: more than nothing, less
        // than the 30 s request timeout; the maximum at least the average.
        assert!(a.value > 0.0 && a.value < 30_000.0, "{a:?}");
        assert!(m.value >= a.value && m.value < 30_000.0, "{m:?} < {a:?}");
    }
    let queue = gauge("org.apache.kafka.producer.record.queue.time.max");
    assert!(
        queue
            .iter()
            .all(|q| q.attrs == "-" && q.value >= 0.0 && q.value < 30_000.0),
        "{queue:?}"
    );
    assert!(!queue.is_empty(), "record queue time not pushed");
    admin_client.close();
    drop(cluster);
    let _ = std::fs::remove_dir_all(file.parent().unwrap());
}
