//! JSON Schema through the schema registry against Confluent's own `JSONSerializer` /
//! `JSONDeserializer` (confluent-kafka, Python) and a real registry (srfake): the same
//! bytes for the same records, each side decodes the other's, validation on write and
//! (optionally) on read, and the record strategy naming the subject after `title`.

use kafka_schema_registry::{RegistryConfig, SchemaRegistryClient};
use kafka_serde::schema_registry::{
    JsonSchemaDeserializer, JsonSchemaSerializer, RegistrySerdeError, SerdeConfig,
    SubjectNameStrategy,
};
use kafka_serde::{Deserializer, Serializer};
use kafka_testbed::SchemaRegistry;
use kafka_testbed::confluent_python::run_interop;
use serde::{Deserialize, Serialize};

const SCHEMA: &str = include_str!("../testbed/schema-registry/interop_order.schema.json");

/// The records of `json_fixture()` in sr_interop.py, fields in the same order.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Order {
    id: i64,
    item: String,
    qty: i64,
    tags: Vec<String>,
    note: Option<String>,
}

fn fixture() -> Vec<Order> {
    vec![
        Order {
            id: 1,
            item: "tea".into(),
            qty: 2,
            tags: vec!["hot".into(), "green".into()],
            note: None,
        },
        Order {
            id: 2,
            item: "café ☕ \"quoted\"".into(),
            qty: 1,
            tags: vec![],
            note: Some("x".into()),
        },
    ]
}

fn client(registry: &SchemaRegistry) -> SchemaRegistryClient {
    RegistryConfig::new(registry.url()).build().expect("client")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_schema_schema_registry_bytes_identical_and_decoded_both_ways() {
    let registry = SchemaRegistry::start().expect("registry");
    let topic = "orders-json";
    let theirs = run_interop(&["serialize", "json", registry.url(), topic], "").expect("python");
    let theirs: Vec<Vec<u8>> = theirs.lines().map(unhex).collect();
    assert_eq!(theirs.len(), 2);

    let ser = JsonSchemaSerializer::<Order>::new(client(&registry), SCHEMA, SerdeConfig::value())
        .unwrap();
    let de = JsonSchemaDeserializer::<Order>::new(client(&registry)).validate(true);
    let mut ours = String::new();
    for (i, (order, want)) in fixture().iter().zip(&theirs).enumerate() {
        let got = ser.serialize_async(topic, order).await.unwrap();
        assert_eq!(
            hex(&got),
            hex(want),
            "record {i} differs from Confluent's bytes"
        );
        assert_eq!(
            &de.deserialize_async(want).await.unwrap(),
            order,
            "record {i}"
        );
        ours += &hex(&got);
        ours.push('\n');
    }
    let out = run_interop(&["check", "json", registry.url(), topic], &ours).expect("python");
    assert_eq!(out.trim(), "ok 2");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_schema_schema_registry_validates_on_write_and_read() {
    let registry = SchemaRegistry::start().expect("registry");
    let sr = client(&registry);
    let ser = JsonSchemaSerializer::<Order>::new(
        sr.clone(),
        SCHEMA,
        SerdeConfig::value().strategy(SubjectNameStrategy::Record),
    )
    .unwrap();
    let mut bad = fixture()[0].clone();
    bad.qty = 0;
    match ser.serialize_async("orders", &bad).await {
        Err(RegistrySerdeError::Validation(msg)) => assert!(msg.contains("qty"), "{msg}"),
        other => panic!("{other:?}"),
    }
    // The record strategy uses the schema's title.
    let good =
        tokio::task::block_in_place(|| ser.serialize("orders", &mut Vec::new(), &fixture()[0]))
            .unwrap()
            .unwrap();
    let id = sr.latest("shop.Order").await.unwrap().id;
    assert_eq!(&good[1..5], &id.to_be_bytes());

    // A writer that skips validation; a validating reader refuses its record, a plain
    // one reads it.
    let lax = JsonSchemaSerializer::<Order>::new(sr.clone(), SCHEMA, SerdeConfig::value())
        .unwrap()
        .validate(false);
    let bytes = lax.serialize_async("orders", &bad).await.unwrap();
    let strict = JsonSchemaDeserializer::<Order>::new(sr.clone()).validate(true);
    assert!(matches!(
        strict.deserialize_async(&bytes).await,
        Err(RegistrySerdeError::Validation(_))
    ));
    let plain = JsonSchemaDeserializer::<Order>::new(sr.clone());
    assert_eq!(plain.deserialize_async(&bytes).await.unwrap(), bad);

    // Framing errors through the synchronous trait, as a typed consumer sees them.
    let e = tokio::task::block_in_place(|| {
        strict.deserialize(
            "orders",
            &[],
            Some(&bytes::Bytes::from_static(b"{\"id\":1}")),
        )
    })
    .unwrap_err();
    assert!(matches!(
        RegistrySerdeError::of(&e),
        Some(RegistrySerdeError::BadMagicByte { found: b'{' })
    ));
    let e = strict
        .deserialize_async(&[0, 0, 0, 0x10, 0, b'{', b'}'])
        .await
        .unwrap_err();
    assert!(
        matches!(e, RegistrySerdeError::UnknownSchema { id: 4096, .. }),
        "{e}"
    );
    let e = plain
        .deserialize_async(&[0, 0, 0, 0, 1, b'{'])
        .await
        .unwrap_err();
    assert!(matches!(e, RegistrySerdeError::Payload(_)), "{e}");
}
