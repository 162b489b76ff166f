//! `kafka-cli produce/consume --value-format avro|json-schema --schema-registry URL`:
//! JSON lines in, registry-framed Avro / JSON Schema on the topic (decoded here with the
//! library's deserializers), JSON lines out; a line that does not fit the schema stops
//! the produce with exit 1.

mod common;

use std::process::Output;

use common::example_bin::show;

use kafka_schema_registry::RegistryConfig;
use kafka_serde::schema_registry::AvroValueDeserializer;
use kafka_testbed::SchemaRegistry;

const ORDER_AVSC: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
  {"name":"id","type":"long"},{"name":"item","type":"string"},
  {"name":"note","type":["null","string"],"default":null}]}"#;

const ORDER_JSON_SCHEMA: &str = r#"{"type":"object","title":"shop.Order",
  "properties":{"id":{"type":"integer"},"item":{"type":"string"}},
  "required":["id","item"]}"#;

fn run(bootstrap: &str, registry: &str, args: &[&str], stdin: &str) -> Output {
    let mut all = vec!["--bootstrap-server", bootstrap, "--timeout", "5"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--schema-registry", registry]);
    common::example_bin::run_example("kafka-cli", &all, stdin)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_registry_cli_avro_and_json_schema_values() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let registry = SchemaRegistry::start().expect("registry");
    let dir = std::env::temp_dir().join(format!("sr-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let avsc = dir.join("order.avsc");
    std::fs::write(&avsc, ORDER_AVSC).unwrap();
    let json_schema = dir.join("order.schema.json");
    std::fs::write(&json_schema, ORDER_JSON_SCHEMA).unwrap();

    // Avro.
    let topic = common::unique_topic("sr-cli-avro");
    common::create_topic(&client, &topic, 1, 1).await;
    let lines = "k1\t{\"id\":1,\"item\":\"tea\",\"note\":null}\nk2\t{\"id\":2,\"item\":\"cake\",\"note\":\"x\"}\n";
    let avsc_arg = avsc.to_str().unwrap();
    let args = [
        "produce",
        "--topic",
        &topic,
        "--key-separator",
        "\t",
        "--value-format",
        "avro",
        "--value-schema",
        avsc_arg,
    ];
    let o = run(bootstrap, registry.url(), &args, lines);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let sr = RegistryConfig::new(registry.url()).build().unwrap();
    let id = sr.latest(&format!("{topic}-value")).await.unwrap().id;

    let args = [
        "consume",
        "--topic",
        &topic,
        "--from-beginning",
        "--count",
        "2",
        "--format",
        "{key} {value}",
    ];
    let raw = run(bootstrap, registry.url(), &args, "");
    assert_eq!(raw.status.code(), Some(0), "{}", show(&raw));
    let args = [
        "consume",
        "--topic",
        &topic,
        "--from-beginning",
        "--count",
        "2",
        "--format",
        "{key} {value}",
        "--value-format",
        "avro",
    ];
    let o = run(bootstrap, registry.url(), &args, "");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    let printed: Vec<(&str, serde_json::Value)> = out
        .lines()
        .map(|l| {
            let (k, v) = l.split_once(' ').expect("key value");
            (k, serde_json::from_str(v).expect("JSON value"))
        })
        .collect();
    assert_eq!(
        printed,
        vec![
            (
                "k1",
                serde_json::json!({"id": 1, "item": "tea", "note": null})
            ),
            (
                "k2",
                serde_json::json!({"id": 2, "item": "cake", "note": "x"})
            ),
        ],
        "{}",
        show(&o)
    );

    // The bytes on the topic are registry-framed Avro with the registered id.
    let consumer = common::consumer_util::consumer(bootstrap)
        .auto_offset_reset(kafka_client::consumer::AutoOffsetReset::Earliest)
        .build()
        .unwrap();
    consumer
        .assign([kafka_client::consumer::TopicPartition::new(
            topic.as_str(),
            0,
        )])
        .unwrap();
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while values.len() < 2 && tokio::time::Instant::now() < deadline {
        let batch = consumer
            .poll(std::time::Duration::from_millis(500))
            .await
            .unwrap();
        values.extend(batch.into_parts().0.into_iter().filter_map(|r| r.value));
    }
    assert_eq!(values.len(), 2);
    assert_eq!(&values[0][..5], &[0, 0, 0, 0, id as u8]);
    let de = AvroValueDeserializer::new(sr.clone());
    assert!(de.deserialize_async(&values[1]).await.is_ok());

    // A line that does not fit the schema: exit 1, naming the line.
    let args = [
        "produce",
        "--topic",
        &topic,
        "--value-format",
        "avro",
        "--value-schema",
        avsc_arg,
    ];
    let o = run(
        bootstrap,
        registry.url(),
        &args,
        "{\"id\":\"not a number\",\"item\":\"x\"}\n",
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("line 1"),
        "{}",
        show(&o)
    );

    // JSON Schema.
    let topic = common::unique_topic("sr-cli-json");
    common::create_topic(&client, &topic, 1, 1).await;
    let js_arg = json_schema.to_str().unwrap();
    let args = [
        "produce",
        "--topic",
        &topic,
        "--value-format",
        "json-schema",
        "--value-schema",
        js_arg,
    ];
    let o = run(
        bootstrap,
        registry.url(),
        &args,
        "{\"id\":1,\"item\":\"tea\"}\n",
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let o = run(bootstrap, registry.url(), &args, "{\"id\":2}\n");
    assert_eq!(
        o.status.code(),
        Some(1),
        "missing a required field: {}",
        show(&o)
    );
    let args = [
        "consume",
        "--topic",
        &topic,
        "--from-beginning",
        "--count",
        "1",
        "--value-format",
        "json-schema",
    ];
    let o = run(bootstrap, registry.url(), &args, "");
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim())
        .unwrap_or_else(|e| panic!("{e}: {}", show(&o)));
    assert_eq!(v, serde_json::json!({"id": 1, "item": "tea"}));
    let _ = std::fs::remove_dir_all(&dir);
}
