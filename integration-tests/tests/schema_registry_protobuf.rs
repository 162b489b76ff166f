//! Protobuf through the schema registry against Confluent's own `ProtobufSerializer` /
//! `ProtobufDeserializer` (confluent-kafka, Python) and a real registry (srfake):
//! `prost` messages, a nested message (message-index path `[0, 0]`) and an import
//! registered as its own subject (a reference).
//!
//! Confluent's Python deserializer reads the writer's schema as a serialized
//! `FileDescriptorProto`, which Confluent's registry derives from `.proto` text and
//! srfake does not; so for its reads, ours write with the schema id Python registered
//! (`SchemaSelection::UseLatest`), and our own auto-registered `.proto` text (with its
//! reference) is checked with our deserializer.

mod common;
mod schema_registry_support;

use kafka_schema_registry::{RegistryConfig, Schema, SchemaReference, SchemaRegistryClient};
use kafka_serde::schema_registry::{
    ProtobufDeserializer, ProtobufSerializer, RegistrySerdeError, SchemaSelection, SerdeConfig,
};
use kafka_serde::{Deserializer, Serializer};
use kafka_testbed::SchemaRegistry;
use kafka_testbed::confluent_python::run_interop;
use schema_registry_support::protobuf::{CUSTOMER_PROTO, Line, ORDER_PROTO, Order, gift, orders};
use schema_registry_support::{hex, unhex};

fn client(registry: &SchemaRegistry) -> SchemaRegistryClient {
    RegistryConfig::new(registry.url()).build().expect("client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_schema_registry_bytes_identical_and_decoded_both_ways() {
    let registry = SchemaRegistry::start().expect("registry");
    let sr = client(&registry);
    let topic = "orders-proto";
    // Confluent serializes: registers shop/customer.proto and the order file with a
    // reference to it.
    let theirs =
        run_interop(&["serialize", "protobuf", registry.url(), topic], "").expect("python");
    let theirs: Vec<Vec<u8>> = theirs.lines().map(unhex).collect();
    assert_eq!(theirs.len(), 3);
    let latest = sr.latest("orders-proto-value").await.unwrap();
    assert_eq!(
        latest.schema.references,
        vec![SchemaReference::new(
            "shop/customer.proto",
            "shop/customer.proto",
            1
        )]
    );

    // Ours, with the id Confluent registered: byte for byte the same.
    let use_latest = SerdeConfig::value().selection(SchemaSelection::UseLatest);
    let order_ser =
        ProtobufSerializer::<Order>::new(sr.clone(), ORDER_PROTO, "shop.v1.Order", use_latest)
            .unwrap();
    let line_ser =
        ProtobufSerializer::<Line>::new(sr.clone(), ORDER_PROTO, "shop.v1.Order.Line", use_latest)
            .unwrap();
    assert_eq!(order_ser.indexes(), [0]);
    assert_eq!(line_ser.indexes(), [0, 0]);
    let mut ours = Vec::new();
    for order in orders() {
        ours.push(order_ser.serialize_async(topic, &order).await.unwrap());
    }
    ours.push(
        tokio::task::block_in_place(|| line_ser.serialize(topic, &mut Vec::new(), &gift()))
            .unwrap()
            .unwrap()
            .to_vec(),
    );
    for (i, (o, t)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(hex(o), hex(t), "record {i} differs from Confluent's bytes");
    }

    // Ours decode theirs.
    let order_de = ProtobufDeserializer::<Order>::new(sr.clone());
    for (i, want) in orders().iter().enumerate() {
        let (indexes, got) = order_de.deserialize_async(&theirs[i]).await.unwrap();
        assert_eq!((indexes, &got), (vec![0], want), "record {i}");
    }
    let (indexes, line) = ProtobufDeserializer::<Line>::new(sr.clone())
        .deserialize_async(&theirs[2])
        .await
        .unwrap();
    assert_eq!((indexes, line), (vec![0, 0], gift()));

    // Theirs decode ours.
    let lines: String = ours.iter().map(|b| hex(b) + "\n").collect();
    let out = run_interop(&["check", "protobuf", registry.url(), topic], &lines).expect("python");
    assert_eq!(out.trim(), "ok 3");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protobuf_schema_registry_references_nested_messages_and_errors() {
    let registry = SchemaRegistry::start().expect("registry");
    let sr = client(&registry);
    // The import is registered under its own subject; the order schema refers to it.
    sr.register("shop/customer.proto", &Schema::protobuf(CUSTOMER_PROTO))
        .await
        .unwrap();
    let schema = Schema::protobuf(ORDER_PROTO).reference(SchemaReference::new(
        "shop/customer.proto",
        "shop/customer.proto",
        1,
    ));
    let ser = ProtobufSerializer::<Line>::with_schema(
        sr.clone(),
        schema.clone(),
        "shop.v1.Order.Line",
        SerdeConfig::value(),
    )
    .unwrap();
    let bytes = ser.serialize_async("lines", &gift()).await.unwrap();
    let registered = sr.latest("lines-value").await.unwrap();
    assert_eq!(registered.schema, schema);
    assert_eq!(&bytes[1..5], &registered.id.to_be_bytes());
    assert_eq!(&bytes[5..8], &[4, 0, 0], "index path [0, 0]");
    assert_eq!(
        sr.referenced_by("shop/customer.proto", 1).await.unwrap(),
        vec![registered.id]
    );

    let de = ProtobufDeserializer::<Line>::new(sr.clone());
    let got =
        tokio::task::block_in_place(|| de.deserialize("lines", &[], Some(&bytes.clone().into())))
            .unwrap();
    assert_eq!(got, gift());

    // Unknown id, truncated index path, bad payload: typed errors.
    let e = de
        .deserialize_async(&[0, 0, 0, 0, 99, 0])
        .await
        .unwrap_err();
    assert!(
        matches!(e, RegistrySerdeError::UnknownSchema { id: 99, .. }),
        "{e}"
    );
    let mut truncated = bytes[..5].to_vec();
    truncated.push(0x80);
    let e = de.deserialize_async(&truncated).await.unwrap_err();
    assert!(matches!(e, RegistrySerdeError::Payload(_)), "{e}");
    let mut garbage = bytes[..5].to_vec();
    garbage.extend_from_slice(&[0, 0x0a, 0x05, b'x']);
    let e = de.deserialize_async(&garbage).await.unwrap_err();
    assert!(matches!(e, RegistrySerdeError::Payload(_)), "{e}");
    // A message the .proto does not have is refused up front.
    assert!(matches!(
        ProtobufSerializer::<Line>::new(sr, ORDER_PROTO, "shop.v1.Nope", SerdeConfig::value()),
        Err(RegistrySerdeError::Schema(_))
    ));
}
