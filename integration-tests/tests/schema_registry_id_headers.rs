//! Schema ids in record headers (`__value_schema_id`, as newer Confluent clients write
//! them) against confluent-kafka's serializers (Python, from PyPI) and franz-go's srfake,
//! which gives GUIDs in lookup and version answers and serves `GET /schemas/guids/{guid}`
//! (its register answer has the id only):
//!
//! - Confluent's `header_schema_id_serializer` (magic byte 1 + GUID) is read by ours, and
//!   ours writes the same header and payload bytes;
//! - Confluent's `dual_schema_id_deserializer` reads ours, in the id form (magic byte 0)
//!   and the GUID form, for Avro, JSON Schema and Protobuf (whose header carries the
//!   message-index path after the id);
//! - through the broker both ways, with records whose header is bad (wrong magic byte,
//!   wrong length, null, unknown GUID, unknown id) failing alone as typed errors.

mod common;
mod schema_registry_support;

use std::time::Duration;

use apache_avro::types::Value;
use bytes::Bytes;
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::records::Header;
use kafka_schema_registry::{RegistryConfig, Schema, SchemaRegistryClient};
use kafka_serde::schema_registry::{
    AvroValueDeserializer, AvroValueSerializer, JsonSchemaDeserializer, JsonSchemaSerializer,
    ProtobufDeserializer, ProtobufSerializer, RegistrySerdeError, SchemaIdPlacement,
    SchemaSelection, SerdeConfig, VALUE_SCHEMA_ID_HEADER,
};
use kafka_serde::{Deserializer, Field, Nullable, Serializer, StringSerde, TypedConsumer};
use kafka_testbed::SchemaRegistry;
use kafka_testbed::confluent_python::run_interop;
use schema_registry_support::protobuf::{Line, ORDER_PROTO, Order, gift, orders};
use schema_registry_support::{consumer, fixture, hex, producer, unhex};
use serde::{Deserialize, Serialize};

const ORDER_SCHEMA: &str = include_str!("../testbed/schema-registry/interop_order.avsc");
const JSON_SCHEMA: &str = include_str!("../testbed/schema-registry/interop_order.schema.json");

fn registry_client(registry: &SchemaRegistry) -> SchemaRegistryClient {
    RegistryConfig::new(registry.url())
        .build()
        .expect("registry client")
}

fn in_header(placement: SchemaIdPlacement) -> SerdeConfig {
    SerdeConfig::value().schema_id_placement(placement)
}

/// "HEADERHEX PAYLOADHEX" lines from `serialize-header` into (header, payload) pairs.
fn header_lines(out: &str) -> Vec<(Vec<u8>, Vec<u8>)> {
    out.lines()
        .map(|line| {
            let (h, p) = line.split_once(' ').expect("header and payload");
            (unhex(h), unhex(p))
        })
        .collect()
}

/// Confluent serializes `format`'s fixture with its header serializer: its output
/// ("HEADERHEX PAYLOADHEX" lines), the (header, payload) pairs, and the subject's GUID.
async fn confluent_header_records(
    registry: &SchemaRegistry,
    sr: &SchemaRegistryClient,
    format: &str,
    topic: &str,
    records: usize,
) -> (
    String,
    Vec<(Vec<u8>, Vec<u8>)>,
    kafka_schema_registry::SchemaGuid,
) {
    let out =
        run_interop(&["serialize-header", format, registry.url(), topic], "").expect("python");
    let theirs = header_lines(&out);
    assert_eq!(theirs.len(), records);
    let guid = sr
        .latest(&format!("{topic}-value"))
        .await
        .unwrap()
        .guid
        .expect("srfake gives GUIDs in version answers");
    (out, theirs, guid)
}

fn value_header(value: &[u8]) -> Vec<Header> {
    vec![Header {
        key: VALUE_SCHEMA_ID_HEADER.into(),
        value: Some(Bytes::copy_from_slice(value)),
    }]
}

/// Serializes `values` with `ser` through the synchronous trait, as "HEADER PAYLOAD"
/// lines for `check`, and returns the lines and the headers written.
fn header_records<T>(ser: &dyn Serializer<T>, topic: &str, values: &[T]) -> (String, Vec<Vec<u8>>) {
    let mut lines = String::new();
    let mut written = Vec::new();
    for value in values {
        let mut headers = Vec::new();
        let payload = tokio::task::block_in_place(|| ser.serialize(topic, &mut headers, value))
            .expect("serialize")
            .expect("not null");
        assert_eq!(headers.len(), 1, "one schema-id header");
        assert_eq!(headers[0].key, VALUE_SCHEMA_ID_HEADER);
        let header = headers[0].value.clone().expect("a header value").to_vec();
        lines += &format!("{} {}\n", hex(&header), hex(&payload));
        written.push(header);
    }
    (lines, written)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_schema_registry_id_header_interop_with_confluent() {
    let registry = SchemaRegistry::start().expect("registry");
    let sr = registry_client(&registry);

    // Confluent writes the GUID header (magic byte 1, 16 bytes) and a bare payload ...
    let topic = "orders-header-theirs";
    let (_, theirs, guid) = confluent_header_records(&registry, &sr, "avro", topic, 3).await;
    for (header, payload) in &theirs {
        assert_eq!(header[0], 1, "GUID magic byte");
        assert_eq!(&header[1..], guid.as_bytes());
        assert_ne!(payload[0], 0, "no 5-byte prefix in the payload");
    }

    // ... ours reads it (asking the registry by GUID), async and through the trait ...
    let de = AvroValueDeserializer::new(registry_client(&registry));
    let want = fixture();
    for (i, (header, payload)) in theirs.iter().enumerate() {
        let headers = value_header(header);
        let got = de
            .deserialize_with_headers_async(&headers, payload)
            .await
            .expect("ours reads Confluent's GUID header");
        assert_eq!(got, want[i], "record {i}");
        let bytes = Bytes::copy_from_slice(payload);
        let sync = tokio::task::block_in_place(|| de.deserialize(topic, &headers, Some(&bytes)));
        assert_eq!(sync.unwrap(), want[i]);
    }

    // ... and ours writes the same header and the same payload bytes.
    let ours = AvroValueSerializer::new(
        sr.clone(),
        ORDER_SCHEMA,
        in_header(SchemaIdPlacement::HeaderGuid),
    )
    .unwrap();
    let (_, written) = header_records(&ours, topic, &want);
    for (i, value) in want.iter().enumerate() {
        assert_eq!(hex(&written[i]), hex(&theirs[i].0), "header {i}");
        let mut headers = Vec::new();
        let payload = ours
            .serialize_with_headers_async(topic, &mut headers, value)
            .await
            .unwrap();
        assert_eq!(hex(&payload), hex(&theirs[i].1), "payload {i}");
    }
    // The payload-only method refuses a header placement instead of dropping the id.
    assert!(matches!(
        ours.serialize_async(topic, &want[0]).await,
        Err(RegistrySerdeError::NeedsHeaders)
    ));

    // Confluent's dual deserializer reads our id header (magic byte 0, 4-byte id) ...
    for (placement, topic) in [
        (SchemaIdPlacement::HeaderId, "orders-header-id"),
        (SchemaIdPlacement::HeaderGuid, "orders-header-guid"),
    ] {
        let ser = AvroValueSerializer::new(sr.clone(), ORDER_SCHEMA, in_header(placement)).unwrap();
        let (lines, written) = header_records(&ser, topic, &want);
        let id = sr.latest(&format!("{topic}-value")).await.unwrap().id;
        match placement {
            SchemaIdPlacement::HeaderId => {
                assert_eq!(written[0], [&[0][..], &id.to_be_bytes()].concat())
            }
            _ => assert_eq!(written[0].len(), 17),
        }
        let out = run_interop(&["check", "avro", registry.url(), topic], &lines)
            .unwrap_or_else(|e| panic!("{placement:?}: {e}"));
        assert_eq!(out.trim(), "ok 3", "{placement:?}");
    }
    // ... and the check can fail: a header naming another subject's schema is refused
    // (Confluent's reader asks for the id within the topic's subject: 40403).
    let other = sr
        .register(
            "other-value",
            &Schema::avro(r#"{"type":"record","name":"O","fields":[{"name":"id","type":"long"}]}"#),
        )
        .await
        .unwrap();
    let mut header = vec![0];
    header.extend_from_slice(&other.to_be_bytes());
    let payload = &theirs[0].1;
    let line = format!("{} {}\n", hex(&header), hex(payload));
    let e = run_interop(
        &["check", "avro", registry.url(), "orders-header-id"],
        &line,
    )
    .unwrap_err();
    assert!(e.message().contains("40403"), "{e}");
}

/// The records of `json_fixture()` in sr_interop.py, fields in the same order.
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct JsonOrder {
    id: i64,
    item: String,
    qty: i64,
    tags: Vec<String>,
    note: Option<String>,
}

fn json_fixture() -> Vec<JsonOrder> {
    vec![
        JsonOrder {
            id: 1,
            item: "tea".into(),
            qty: 2,
            tags: vec!["hot".into(), "green".into()],
            note: None,
        },
        JsonOrder {
            id: 2,
            item: "café ☕ \"quoted\"".into(),
            qty: 1,
            tags: vec![],
            note: Some("x".into()),
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_schema_schema_registry_id_header_interop_with_confluent() {
    let registry = SchemaRegistry::start().expect("registry");
    let sr = registry_client(&registry);
    let want = json_fixture();

    // Confluent's GUID header: ours reads it and validates against the schema it names.
    let topic = "json-header-theirs";
    let out =
        run_interop(&["serialize-header", "json", registry.url(), topic], "").expect("python");
    let theirs = header_lines(&out);
    assert_eq!(theirs.len(), 2);
    let de = JsonSchemaDeserializer::<JsonOrder>::new(sr.clone()).validate(true);
    for (i, (header, payload)) in theirs.iter().enumerate() {
        assert_eq!(header.len(), 17);
        let got = de
            .deserialize_with_headers_async(&value_header(header), payload)
            .await
            .expect("ours reads Confluent's GUID header");
        assert_eq!(got, want[i]);
    }
    let ours = JsonSchemaSerializer::<JsonOrder>::new(
        sr.clone(),
        JSON_SCHEMA,
        in_header(SchemaIdPlacement::HeaderGuid),
    )
    .unwrap();
    let (_, written) = header_records(&ours, topic, &want);
    assert_eq!(written[0], theirs[0].0, "the same GUID header");

    // Confluent reads ours, both forms.
    for (placement, topic) in [
        (SchemaIdPlacement::HeaderId, "json-header-id"),
        (SchemaIdPlacement::HeaderGuid, "json-header-guid"),
    ] {
        let ser =
            JsonSchemaSerializer::<JsonOrder>::new(sr.clone(), JSON_SCHEMA, in_header(placement))
                .unwrap();
        let (lines, _) = header_records(&ser, topic, &want);
        let out = run_interop(&["check", "json", registry.url(), topic], &lines)
            .unwrap_or_else(|e| panic!("{placement:?}: {e}"));
        assert_eq!(out.trim(), "ok 2", "{placement:?}");
    }
}

/// Ours for the Protobuf fixture (two `Order`s, then a nested `Line`), with the schema
/// Confluent registered (`UseLatest`: Confluent's Python reader needs its serialized
/// `FileDescriptorProto`, which srfake does not derive from `.proto` text).
fn protobuf_serializers(
    sr: &SchemaRegistryClient,
    placement: SchemaIdPlacement,
) -> (ProtobufSerializer<Order>, ProtobufSerializer<Line>) {
    let config = in_header(placement).selection(SchemaSelection::UseLatest);
    (
        ProtobufSerializer::new(sr.clone(), ORDER_PROTO, "shop.v1.Order", config).unwrap(),
        ProtobufSerializer::new(sr.clone(), ORDER_PROTO, "shop.v1.Order.Line", config).unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_schema_registry_id_header_interop_with_confluent() {
    let registry = SchemaRegistry::start().expect("registry");
    let sr = registry_client(&registry);

    // Confluent's ProtobufSerializer with header_schema_id_serializer: magic byte 1, the
    // GUID, then the message-index path ([0] as the single byte 0, [0, 0] as 4 0 0) ...
    let topic = "orders-proto-header";
    let (out, theirs, guid) = confluent_header_records(&registry, &sr, "protobuf", topic, 3).await;
    for (i, (header, _)) in theirs.iter().enumerate() {
        assert_eq!(header[0], 1, "GUID magic byte");
        assert_eq!(&header[1..17], guid.as_bytes());
        let path: &[u8] = if i < 2 { &[0] } else { &[4, 0, 0] };
        assert_eq!(&header[17..], path, "record {i}'s message-index path");
    }

    // ... ours reads it (GUID and index path from the header, the bare message from the
    // payload) ...
    let order_de = ProtobufDeserializer::<Order>::new(sr.clone());
    for (i, want) in orders().iter().enumerate() {
        let (header, payload) = &theirs[i];
        let (indexes, got) = order_de
            .deserialize_with_headers_async(&value_header(header), payload)
            .await
            .expect("ours reads Confluent's Protobuf GUID header");
        assert_eq!((indexes, &got), (vec![0], want), "record {i}");
        let bytes = Bytes::copy_from_slice(payload);
        let sync = tokio::task::block_in_place(|| {
            order_de.deserialize(topic, &value_header(header), Some(&bytes))
        });
        assert_eq!(&sync.unwrap(), want);
    }
    let (header, payload) = &theirs[2];
    let (indexes, line) = ProtobufDeserializer::<Line>::new(sr.clone())
        .deserialize_with_headers_async(&value_header(header), payload)
        .await
        .unwrap();
    assert_eq!((indexes, line), (vec![0, 0], gift()));

    // ... and ours writes the same header and payload bytes, line for line.
    let (order_ser, line_ser) = protobuf_serializers(&sr, SchemaIdPlacement::HeaderGuid);
    let (order_lines, _) = header_records(&order_ser, topic, &orders());
    let (line_lines, _) = header_records(&line_ser, topic, &[gift()]);
    assert_eq!(order_lines + &line_lines, out, "header and payload bytes");

    // Confluent's dual deserializer reads ours, the id form (magic byte 0, the id, the
    // index path) and the GUID form.
    let id = sr.latest(&format!("{topic}-value")).await.unwrap().id;
    for placement in [SchemaIdPlacement::HeaderId, SchemaIdPlacement::HeaderGuid] {
        let (order_ser, line_ser) = protobuf_serializers(&sr, placement);
        let (order_lines, written) = header_records(&order_ser, topic, &orders());
        let (line_lines, line_written) = header_records(&line_ser, topic, &[gift()]);
        if placement == SchemaIdPlacement::HeaderId {
            assert_eq!(written[0], [&[0][..], &id.to_be_bytes(), &[0]].concat());
            assert_eq!(
                line_written[0],
                [&[0][..], &id.to_be_bytes(), &[4, 0, 0]].concat()
            );
        }
        let out = run_interop(
            &["check", "protobuf", registry.url(), topic],
            &(order_lines + &line_lines),
        )
        .unwrap_or_else(|e| panic!("{placement:?}: {e}"));
        assert_eq!(out.trim(), "ok 3", "{placement:?}");
    }
    // The check can fail: a GUID the registry does not know is refused (40403).
    let mut unknown = theirs[2].0.clone();
    unknown[1..17].fill(0);
    let lines: String = theirs
        .iter()
        .take(2)
        .map(|(h, p)| (h, p))
        .chain([(&unknown, &theirs[2].1)])
        .map(|(h, p)| format!("{} {}\n", hex(h), hex(p)))
        .collect();
    let e = run_interop(&["check", "protobuf", registry.url(), topic], &lines).unwrap_err();
    assert!(e.message().contains("40403"), "{e}");
}

async fn send(raw: &Producer, record: ProducerRecord) {
    raw.send(record).await.unwrap().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn avro_schema_registry_id_header_through_kafka_with_bad_headers() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let registry = SchemaRegistry::start().expect("registry");
    let sr = registry_client(&registry);
    let want = fixture();

    // Ours produce with the id in the header; confluent-kafka consumes and compares.
    let topic = common::unique_topic("sr-hdr-ours");
    common::create_topic(&client, &topic, 1, 1).await;
    let ser = kafka_serde::TypedProducer::<str, Value>::new(
        producer(bootstrap),
        StringSerde,
        AvroValueSerializer::new(
            sr.clone(),
            ORDER_SCHEMA,
            in_header(SchemaIdPlacement::HeaderGuid),
        )
        .unwrap(),
    );
    let mut acks = Vec::new();
    for value in &want {
        acks.push(ser.send_value(&topic, Some("k"), value).await.unwrap());
    }
    for ack in acks {
        ack.await.expect("delivered");
    }
    let out = run_interop(
        &["consume", "avro", registry.url(), &topic, bootstrap, "3"],
        "",
    )
    .expect("confluent-kafka consumer reads our header records");
    assert_eq!(out.trim(), "ok 3");

    // confluent-kafka produces with its GUID header; then records with bad headers, then
    // a good one with the id form: the bad ones fail alone, each with a typed error.
    let topic = common::unique_topic("sr-hdr-theirs");
    common::create_topic(&client, &topic, 1, 1).await;
    let out = run_interop(
        &["produce-header", "avro", registry.url(), &topic, bootstrap],
        "",
    )
    .expect("confluent-kafka producer");
    assert_eq!(out.trim(), "ok 3");
    let good_id = sr.latest(&format!("{topic}-value")).await.unwrap().id;
    let mut good_payload = Vec::new();
    {
        let plain =
            AvroValueSerializer::new(sr.clone(), ORDER_SCHEMA, SerdeConfig::value()).unwrap();
        let framed = plain.serialize_async(&topic, &want[1]).await.unwrap();
        good_payload.extend_from_slice(&framed[5..]);
    }
    let id_header = |id: u32| [&[0u8][..], &id.to_be_bytes()].concat();
    let bad: [(Option<Vec<u8>>, &str); 5] = [
        (Some(vec![2; 17]), "magic byte 2"),
        (Some(vec![0, 0, 1]), "needs a 4-byte id"),
        (
            Some([id_header(good_id), vec![9]].concat()),
            "6 byte(s), expected 5",
        ),
        (None, "null value"),
        (Some([vec![1], vec![0xab; 16]].concat()), "unknown GUID"),
    ];
    let raw = producer(bootstrap);
    for (value, _) in &bad {
        let header = Header {
            key: VALUE_SCHEMA_ID_HEADER.into(),
            value: value.clone().map(Bytes::from),
        };
        send(
            &raw,
            ProducerRecord::new(topic.as_str())
                .with_value(good_payload.clone())
                .with_headers([header]),
        )
        .await;
    }
    // An unknown id in the header, then the good one.
    send(
        &raw,
        ProducerRecord::new(topic.as_str())
            .with_value(good_payload.clone())
            .with_header(VALUE_SCHEMA_ID_HEADER, id_header(0x7f7f)),
    )
    .await;
    send(
        &raw,
        ProducerRecord::new(topic.as_str())
            .with_value(good_payload.clone())
            .with_header(VALUE_SCHEMA_ID_HEADER, id_header(good_id)),
    )
    .await;

    let c: TypedConsumer<Option<String>, Value> = TypedConsumer::new(
        consumer(bootstrap, &topic),
        Nullable(StringSerde),
        AvroValueDeserializer::new(sr.clone()),
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut results = Vec::new();
    while results.len() < 10 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of 10",
            results.len()
        );
        results.extend(c.poll(Duration::from_millis(500)).await.expect("poll"));
    }
    for (i, result) in results[..3].iter().enumerate() {
        let r = result.as_ref().expect("confluent's header record decodes");
        assert_eq!(r.value, want[i], "record {i}");
    }
    for (i, (_, expected)) in bad.iter().enumerate() {
        let e = results[3 + i].as_ref().expect_err("a bad header");
        assert_eq!((e.field, e.offset()), (Field::Value, 3 + i as i64));
        assert_eq!(e.topic(), topic);
        match RegistrySerdeError::of(&e.error).expect("a registry serde error") {
            RegistrySerdeError::BadSchemaIdHeader { header, reason } => {
                assert_eq!(*header, VALUE_SCHEMA_ID_HEADER);
                assert!(reason.contains(expected), "{i}: {reason}");
            }
            RegistrySerdeError::UnknownGuid { source, .. } => {
                assert_eq!(*expected, "unknown GUID");
                assert!(source.is_not_found(), "{source}");
            }
            other => panic!("record {}: {other}", 3 + i),
        }
    }
    let e = results[8].as_ref().expect_err("an unknown id");
    assert!(matches!(
        RegistrySerdeError::of(&e.error),
        Some(RegistrySerdeError::UnknownSchema { id: 0x7f7f, .. })
    ));
    let last = results[9].as_ref().expect("the record after the bad ones");
    assert_eq!((last.offset, &last.value), (9, &want[1]));
}
