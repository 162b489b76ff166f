//! `kafka-cli produce/consume --value-format protobuf`, against Confluent's own
//! `ProtobufSerializer` (confluent-kafka, Python) and a real registry (srfake):
//! - records Confluent wrote (an import registered as its own subject, a nested message
//!   with index path `[0, 0]`) are printed by `kafka-cli consume` as Protobuf's canonical
//!   JSON, the writer's schema and its reference fetched from the registry;
//! - the same values given to `kafka-cli produce` as JSON lines are written with the
//!   same message-index paths and payload bytes as Confluent's (only the schema id in
//!   the 5-byte header differs: ours registered our own `.proto` text);
//! - a line that is not the message, or an unknown message name, stops with exit 1/2.

mod common;

use std::process::Output;
use std::time::Duration;

use common::example_bin::show;
use kafka_client::consumer::{AutoOffsetReset, TopicPartition};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_testbed::SchemaRegistry;
use kafka_testbed::confluent_python::run_interop;

/// The message layout of Confluent's fixture (sr_interop.py), in one file: `Order`
/// first (index 0), its `Customer` defined after it instead of imported.
const ORDER_PROTO: &str = r#"syntax = "proto3";
package shop.v1;

message Order {
  message Line {
    string sku = 1;
    int32 qty = 2;
  }
  enum Status {
    NEW = 0;
    PAID = 1;
  }
  int64 id = 1;
  Customer customer = 2;
  repeated Line lines = 3;
  Status status = 4;
  bytes payload = 5;
  double total = 6;
}

message Customer {
  string name = 1;
  string email = 2;
}
"#;

/// Confluent's fixture as canonical Protobuf JSON: two orders, then an order line.
fn fixture_json() -> Vec<serde_json::Value> {
    vec![
        serde_json::json!({"id": "1", "customer": {"name": "Ada", "email": "ada@example.com"},
            "lines": [{"sku": "tea", "qty": 2}, {"sku": "cake", "qty": 1}],
            "status": "PAID", "payload": "AAH+/w==", "total": 12.34}),
        serde_json::json!({"id": "-9000000000", "customer": {"name": "Bob"}, "total": -0.5}),
        serde_json::json!({"sku": "gift", "qty": 3}),
    ]
}

fn run(bootstrap: &str, registry: &str, args: &[&str], stdin: &str) -> Output {
    let mut all = vec!["--bootstrap-server", bootstrap, "--timeout", "5"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--schema-registry", registry]);
    common::example_bin::run_example("kafka-cli", &all, stdin)
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

/// The raw values of the first `n` records of partition 0.
async fn raw_values(bootstrap: &str, topic: &str, n: usize) -> Vec<Vec<u8>> {
    let consumer = common::consumer_util::consumer(bootstrap)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    consumer.assign([TopicPartition::new(topic, 0)]).unwrap();
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while values.len() < n && tokio::time::Instant::now() < deadline {
        let batch = consumer.poll(Duration::from_millis(500)).await.unwrap();
        values.extend(
            batch
                .into_parts()
                .0
                .into_iter()
                .filter_map(|r| r.value.map(|v| v.to_vec())),
        );
    }
    assert_eq!(values.len(), n, "records on {topic}");
    values
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_registry_cli_protobuf_values_interoperate_with_confluent() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let registry = SchemaRegistry::start().expect("registry");

    // Confluent serializes its fixture (registering shop/customer.proto and the order
    // file referring to it); the bytes go on a topic as they are.
    let theirs_topic = common::unique_topic("sr-cli-proto-theirs");
    common::create_topic(&client, &theirs_topic, 1, 1).await;
    let theirs = run_interop(
        &["serialize", "protobuf", registry.url(), &theirs_topic],
        "",
    )
    .expect("python");
    let theirs: Vec<Vec<u8>> = theirs.lines().map(unhex).collect();
    assert_eq!(theirs.len(), 3);
    let p = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .build()
        .unwrap();
    for (i, v) in theirs.iter().enumerate() {
        p.send_and_wait(
            ProducerRecord::new(theirs_topic.as_str())
                .with_key(format!("k{i}"))
                .with_value(v.clone()),
        )
        .await
        .expect("produced");
    }
    p.close(Duration::from_secs(5)).await.unwrap();

    // kafka-cli prints them as canonical JSON.
    let args = [
        "consume",
        "--topic",
        &theirs_topic,
        "--from-beginning",
        "--count",
        "3",
        "--format",
        "{key} {value}",
        "--value-format",
        "protobuf",
    ];
    let o = run(bootstrap, registry.url(), &args, "");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let printed: Vec<(String, serde_json::Value)> = out
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').expect("key value");
            let v = serde_json::from_str(v).unwrap_or_else(|e| panic!("{e}: {}", show(&o)));
            (k.to_owned(), v)
        })
        .collect();
    let want: Vec<(String, serde_json::Value)> = fixture_json()
        .into_iter()
        .enumerate()
        .map(|(i, v)| (format!("k{i}"), v))
        .collect();
    assert_eq!(printed, want, "{}", show(&o));

    // kafka-cli writes the same values: same index paths and payload bytes.
    let dir = std::env::temp_dir().join(format!("sr-cli-proto-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let proto = dir.join("order.proto");
    std::fs::write(&proto, ORDER_PROTO).unwrap();
    let proto_arg = proto.to_str().unwrap();
    let ours_topic = common::unique_topic("sr-cli-proto-ours");
    common::create_topic(&client, &ours_topic, 1, 1).await;
    let json = fixture_json();
    let orders = format!("{}\n{}\n", json[0], json[1]);
    let base = [
        "produce",
        "--topic",
        &ours_topic,
        "--value-format",
        "protobuf",
        "--value-schema",
        proto_arg,
    ];
    let o = run(bootstrap, registry.url(), &base, &orders);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let mut line_args = base.to_vec();
    line_args.extend_from_slice(&["--value-message", "Order.Line"]);
    let o = run(
        bootstrap,
        registry.url(),
        &line_args,
        &format!("{}\n", json[2]),
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let ours = raw_values(bootstrap, &ours_topic, 3).await;
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(o[0], 0, "record {i}: magic byte");
        assert_eq!(
            o[5..],
            t[5..],
            "record {i}: index path and payload as Confluent's"
        );
    }
    // And kafka-cli reads its own records back to the same JSON.
    let args = [
        "consume",
        "--topic",
        &ours_topic,
        "--from-beginning",
        "--count",
        "3",
        "--value-format",
        "protobuf",
    ];
    let o = run(bootstrap, registry.url(), &args, "");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let back: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert_eq!(back, json);

    // Bad input: a line that is not an Order stops the produce with exit 1, naming the
    // line; an unknown message is a usage error (exit 2).
    let o = run(
        bootstrap,
        registry.url(),
        &base,
        "{\"id\":\"7\"}\n{\"id\":\"x\",\"nope\":1}\n",
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("line 2") && err.contains("shop.v1.Order"),
        "{}",
        show(&o)
    );
    let mut unknown = base.to_vec();
    unknown.extend_from_slice(&["--value-message", "shop.v1.Nope"]);
    let o = run(bootstrap, registry.url(), &unknown, "{}\n");
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("shop.v1.Nope"),
        "{}",
        show(&o)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
