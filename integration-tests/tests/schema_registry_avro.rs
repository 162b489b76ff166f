//! Avro through the schema registry, against Confluent's own serializers
//! (confluent-kafka's `AvroSerializer` / `AvroDeserializer`, Python, from PyPI) and a real
//! registry (franz-go's srfake), both started by the test bed:
//!
//! - the bytes we write equal, byte for byte, the bytes Confluent writes for the same
//!   records (nested records, optional unions, enums, arrays, maps, bytes, decimals,
//!   timestamp-millis/micros, doubles, booleans), and each side decodes the other's;
//! - through the real broker: ours produce, confluent-kafka consumes, and back;
//! - reader-schema resolution, the subject name strategies, use-latest / fixed id /
//!   lookup, and per-record errors (bad magic byte, unknown id, bad payload) after which
//!   the later records still arrive.

mod common;
mod schema_registry_support;

use std::time::Duration;

use apache_avro::types::Value;
use kafka_client::producer::ProducerRecord;
use kafka_schema_registry::{RegistryConfig, Schema, SchemaRegistryClient};
use kafka_serde::schema_registry::{
    AvroDeserializer, AvroSerializer, AvroValueDeserializer, AvroValueSerializer,
    RegistrySerdeError, SchemaSelection, SerdeConfig, SubjectNameStrategy,
};
use kafka_serde::{
    Deserializer, Field, Nullable, Serializer, StringSerde, TypedConsumer, TypedProducer,
};
use kafka_testbed::SchemaRegistry;
use kafka_testbed::confluent_python::run_interop;
use schema_registry_support::{consumer, fixture, hex, producer, unhex};
use serde::{Deserialize, Serialize};

const ORDER_SCHEMA: &str = include_str!("../testbed/schema-registry/interop_order.avsc");

fn registry_client(registry: &SchemaRegistry) -> SchemaRegistryClient {
    RegistryConfig::new(registry.url())
        .build()
        .expect("registry client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_schema_registry_bytes_identical_with_confluent_serializer() {
    let registry = SchemaRegistry::start().expect("registry");
    let topic = "orders-interop";
    // Confluent serializes (and registers the schema) ...
    let theirs = run_interop(&["serialize", "avro", registry.url(), topic], "").expect("python");
    let theirs: Vec<Vec<u8>> = theirs.lines().map(unhex).collect();
    assert_eq!(theirs.len(), 3);

    // ... we serialize the same records with the same schema: the same bytes.
    let sr = registry_client(&registry);
    let ours = AvroValueSerializer::new(sr.clone(), ORDER_SCHEMA, SerdeConfig::value()).unwrap();
    let values = fixture();
    for (i, (value, want)) in values.iter().zip(&theirs).enumerate() {
        let got = ours.serialize_async(topic, value).await.expect("serialize");
        assert_eq!(
            hex(&got),
            hex(want),
            "record {i} differs from Confluent's bytes"
        );
        // The synchronous trait path writes the same bytes.
        let sync = tokio::task::block_in_place(|| ours.serialize(topic, &mut Vec::new(), value))
            .unwrap()
            .unwrap();
        assert_eq!(sync.as_ref(), want.as_slice());
    }

    // And we decode Confluent's bytes to the same values.
    let de = AvroValueDeserializer::new(registry_client(&registry));
    for (i, (bytes, want)) in theirs.iter().zip(&values).enumerate() {
        let got = de.deserialize_async(bytes).await.expect("deserialize");
        assert_eq!(&got, want, "record {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_schema_registry_confluent_deserializer_reads_ours() {
    let registry = SchemaRegistry::start().expect("registry");
    let topic = "orders-ours-first";
    // We register first; Confluent's deserializer fetches our schema by id.
    let ser = AvroValueSerializer::new(
        registry_client(&registry),
        ORDER_SCHEMA,
        SerdeConfig::value(),
    )
    .unwrap();
    let mut lines = String::new();
    for value in fixture() {
        lines += &hex(&ser.serialize_async(topic, &value).await.unwrap());
        lines.push('\n');
    }
    let out = run_interop(&["check", "avro", registry.url(), topic], &lines).expect("python");
    assert_eq!(out.trim(), "ok 3");
    // A record that differs is caught (the check can fail).
    let mut wrong = fixture();
    if let Value::Record(fields) = &mut wrong[0] {
        fields[0].1 = Value::Long(2);
    }
    let mut lines = String::new();
    for value in wrong {
        lines += &hex(&ser.serialize_async(topic, &value).await.unwrap());
        lines.push('\n');
    }
    let e = run_interop(&["check", "avro", registry.url(), topic], &lines).unwrap_err();
    assert!(e.message().contains("MISMATCH 0"), "{e}");
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct UserV1 {
    id: i64,
    name: String,
    email: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct UserV2 {
    id: i64,
    name: String,
    email: Option<String>,
    tier: String,
}

const USER_V1: &str = r#"{"type":"record","name":"User","namespace":"crm","fields":[
  {"name":"id","type":"long"},{"name":"name","type":"string"},
  {"name":"email","type":["null","string"],"default":null}]}"#;
const USER_V2: &str = r#"{"type":"record","name":"User","namespace":"crm","fields":[
  {"name":"id","type":"long"},{"name":"name","type":"string"},
  {"name":"email","type":["null","string"],"default":null},
  {"name":"tier","type":"string","default":"basic"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_schema_registry_serde_types_resolution_and_strategies() {
    let registry = SchemaRegistry::start().expect("registry");
    let sr = registry_client(&registry);
    let ada = UserV1 {
        id: 7,
        name: "Ada".into(),
        email: Some("ada@example.com".into()),
    };

    // Topic strategy, serde type, auto-register: round trip.
    let v1 = AvroSerializer::<UserV1>::new(sr.clone(), USER_V1, SerdeConfig::value()).unwrap();
    let bytes = v1.serialize_async("users", &ada).await.unwrap();
    let id1 = sr.latest("users-value").await.unwrap().id;
    assert_eq!(&bytes[..5], &[0, 0, 0, 0, id1 as u8]);
    let de = AvroDeserializer::<UserV1>::new(sr.clone());
    assert_eq!(de.deserialize_async(&bytes).await.unwrap(), ada);

    // A consumer on the newer compatible schema reads the old record: default filled in.
    let de2 = AvroDeserializer::<UserV2>::with_reader_schema(sr.clone(), USER_V2).unwrap();
    let read = de2.deserialize_async(&bytes).await.unwrap();
    assert_eq!(read.tier, "basic");
    assert_eq!((read.id, read.name.as_str()), (7, "Ada"));
    // A reader schema the writer's data cannot resolve to is a payload error.
    let strict = AvroDeserializer::<UserV2>::with_reader_schema(
        sr.clone(),
        r#"{"type":"record","name":"User","namespace":"crm","fields":[{"name":"tier","type":"string"}]}"#,
    )
    .unwrap();
    assert!(matches!(
        strict.deserialize_async(&bytes).await,
        Err(RegistrySerdeError::Payload(_))
    ));

    // Record and topic-record strategies register under the record's full name.
    let rec = AvroSerializer::<UserV1>::new(
        sr.clone(),
        USER_V1,
        SerdeConfig::value().strategy(SubjectNameStrategy::Record),
    )
    .unwrap();
    rec.prepare("users").await.unwrap();
    let key = AvroSerializer::<UserV1>::new(
        sr.clone(),
        USER_V1,
        SerdeConfig::key().strategy(SubjectNameStrategy::TopicRecord),
    )
    .unwrap();
    key.prepare("users").await.unwrap();
    let subjects = sr.subjects().await.unwrap();
    for s in ["users-value", "crm.User", "users-crm.User"] {
        assert!(subjects.contains(&s.to_owned()), "{s} not in {subjects:?}");
    }

    // Use-latest: a v1 writer encodes with the subject's latest (v2) schema and its id.
    let id2 = sr
        .register("users-value", &Schema::avro(USER_V2))
        .await
        .unwrap();
    let latest = AvroSerializer::<UserV2>::new(
        sr.clone(),
        USER_V1,
        SerdeConfig::value().selection(SchemaSelection::UseLatest),
    )
    .unwrap();
    let v2 = UserV2 {
        id: 8,
        name: "Bob".into(),
        email: None,
        tier: "gold".into(),
    };
    let bytes = latest.serialize_async("users", &v2).await.unwrap();
    assert_eq!(&bytes[1..5], &id2.to_be_bytes());
    let de2b = AvroDeserializer::<UserV2>::new(sr.clone());
    assert_eq!(de2b.deserialize_async(&bytes).await.unwrap(), v2);

    // A fixed id writes that id.
    let fixed = AvroSerializer::<UserV1>::new(
        sr.clone(),
        USER_V1,
        SerdeConfig::value().selection(SchemaSelection::SchemaId(id1)),
    )
    .unwrap();
    let bytes = fixed.serialize_async("anything", &ada).await.unwrap();
    assert_eq!(&bytes[1..5], &id1.to_be_bytes());

    // Lookup without registering: an error naming the subject when it is not there.
    let lookup = AvroSerializer::<UserV1>::new(
        sr.clone(),
        USER_V1,
        SerdeConfig::value().selection(SchemaSelection::Lookup),
    )
    .unwrap();
    assert_eq!(
        &lookup.serialize_async("users", &ada).await.unwrap()[1..5],
        &id1.to_be_bytes()
    );
    match lookup.serialize_async("unregistered", &ada).await {
        Err(RegistrySerdeError::Registry { subject, source }) => {
            assert_eq!(subject, "unregistered-value");
            assert!(source.is_not_found(), "{source}");
        }
        other => panic!("{other:?}"),
    }

    // A value that does not fit the schema is an encode error, nothing written.
    #[derive(Serialize)]
    struct Wrong {
        id: String,
    }
    let wrong = AvroSerializer::<Wrong>::new(sr.clone(), USER_V1, SerdeConfig::value()).unwrap();
    assert!(matches!(
        wrong
            .serialize_async("users", &Wrong { id: "x".into() })
            .await,
        Err(RegistrySerdeError::Encode(_))
    ));
}

#[test]
fn avro_schema_registry_sync_serdes_outside_a_runtime() {
    // The Serializer/Deserializer traits are synchronous: on a cache miss without a tokio
    // runtime the registry is asked on a helper thread.
    let registry = SchemaRegistry::start().expect("registry");
    let sr = registry_client(&registry);
    let ser = AvroSerializer::<UserV1>::new(sr.clone(), USER_V1, SerdeConfig::value()).unwrap();
    let ada = UserV1 {
        id: 1,
        name: "Ada".into(),
        email: None,
    };
    let bytes = ser.serialize("t", &mut Vec::new(), &ada).unwrap().unwrap();
    let de = AvroDeserializer::<UserV1>::new(sr);
    assert_eq!(de.deserialize("t", &[], Some(&bytes)).unwrap(), ada);
    // And on a current-thread runtime.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let fresh = AvroDeserializer::<UserV1>::new(registry_client(&registry));
    let got = rt
        .block_on(async { fresh.deserialize("t", &[], Some(&bytes)) })
        .unwrap();
    assert_eq!(got, ada);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_schema_registry_through_kafka_with_confluent_kafka_both_ways() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let registry = SchemaRegistry::start().expect("registry");
    let sr = registry_client(&registry);

    // Ours produce through the broker, confluent-kafka consumes and compares.
    let topic = common::unique_topic("sr-avro-ours");
    common::create_topic(&client, &topic, 1, 1).await;
    let ser = AvroValueSerializer::new(sr.clone(), ORDER_SCHEMA, SerdeConfig::value()).unwrap();
    ser.serialize_async(&topic, &fixture()[0]).await.unwrap(); // registers up front
    let p: TypedProducer<str, Value> = TypedProducer::new(producer(bootstrap), StringSerde, ser);
    let mut acks = Vec::new();
    for (i, value) in fixture().iter().enumerate() {
        let key = format!("order-{i}");
        acks.push(
            p.send_value(&topic, Some(key.as_str()), value)
                .await
                .unwrap(),
        );
    }
    for ack in acks {
        ack.await.expect("delivered");
    }
    let out = run_interop(
        &["consume", "avro", registry.url(), &topic, bootstrap, "3"],
        "",
    )
    .expect("confluent-kafka consumer");
    assert_eq!(out.trim(), "ok 3");

    // confluent-kafka produces, ours consume; poison records in between fail alone.
    let topic = common::unique_topic("sr-avro-theirs");
    common::create_topic(&client, &topic, 1, 1).await;
    let out = run_interop(&["produce", "avro", registry.url(), &topic, bootstrap], "")
        .expect("confluent-kafka producer");
    assert_eq!(out.trim(), "ok 3");
    let raw = producer(bootstrap);
    let poison: [&[u8]; 3] = [
        b"{\"not\":\"framed\"}",            // bad magic byte
        &[0, 0, 0, 0x7f, 0x7f, 2, 4],       // unknown schema id
        &[0, 0, 0, 0, 1, 0x80, 0x80, 0x80], // truncated payload for the real id
    ];
    for bytes in poison {
        raw.send(ProducerRecord::new(topic.as_str()).with_value(bytes.to_vec()))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let tail = AvroValueSerializer::new(sr.clone(), ORDER_SCHEMA, SerdeConfig::value()).unwrap();
    let last = tail.serialize_async(&topic, &fixture()[1]).await.unwrap();
    raw.send(ProducerRecord::new(topic.as_str()).with_value(last))
        .await
        .unwrap()
        .await
        .unwrap();

    let c: TypedConsumer<Option<String>, Value> = TypedConsumer::new(
        consumer(bootstrap, &topic),
        Nullable(StringSerde),
        AvroValueDeserializer::new(sr.clone()),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut results = Vec::new();
    while results.len() < 7 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of 7",
            results.len()
        );
        let batch = c.poll(Duration::from_millis(500)).await.expect("poll");
        results.extend(batch);
    }
    let want = fixture();
    for (i, result) in results[..3].iter().enumerate() {
        let r = result.as_ref().expect("confluent's record decodes");
        assert_eq!(r.value, want[i], "record {i}");
        assert_eq!(r.offset, i as i64);
    }
    let kinds: Vec<String> = results[3..6]
        .iter()
        .map(|r| {
            let e = r.as_ref().expect_err("a poison record");
            assert_eq!(e.field, Field::Value);
            assert_eq!(e.topic(), topic);
            assert_eq!(e.partition(), 0);
            let inner = RegistrySerdeError::of(&e.error).expect("a registry serde error");
            assert!(e.value_bytes().is_some());
            format!("{}:{}", e.offset(), inner)
        })
        .collect();
    assert!(
        kinds[0].starts_with("3:not schema-registry framed: magic byte 123"),
        "{kinds:?}"
    );
    assert!(kinds[1].starts_with("4:schema id 32639: "), "{kinds:?}");
    assert!(kinds[2].starts_with("5:payload"), "{kinds:?}");
    let last = results[6]
        .as_ref()
        .expect("the record after the poison ones");
    assert_eq!((last.offset, &last.value), (6, &want[1]));
}

#[test]
fn avro_schema_registry_avro_orders_example_runs() {
    let bootstrap = kafka_testbed::shared_cluster().bootstrap_servers();
    let registry = SchemaRegistry::start().expect("registry");
    let output = std::process::Command::new(common::example_bin::example_path("avro_orders"))
        .env("KAFKA_BOOTSTRAP_SERVERS", &bootstrap)
        .env("SCHEMA_REGISTRY_URL", registry.url())
        .output()
        .expect("run avro_orders");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("3 orders read back"), "{stdout}");
    assert_eq!(stdout.matches("currency EUR").count(), 3, "{stdout}");
}
