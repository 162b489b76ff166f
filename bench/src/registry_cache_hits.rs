//! Allocations of a serializer cache hit for the Protobuf and JSON Schema serdes, beside
//! the Avro one in `avro_serde.rs` (issue 19: "a cache hit allocates nothing beyond the
//! encoded record"): the same record (the Avro benchmark's `Order`) as a `prost` message
//! and as a JSON Schema-validated `serde` value, serialized many times on a warm
//! serializer, counted by the counting global allocator.

use kafka_schema_registry::SchemaRegistryClient;
use kafka_serde::Serializer;
use kafka_serde::schema_registry::{JsonSchemaSerializer, ProtobufSerializer, SerdeConfig};
use serde::Serialize;

use crate::BoxError;
use crate::alloc_count::Snapshot;

const PROTO: &str = r#"syntax = "proto3";
package bench;

message Order {
  int64 id = 1;
  string customer = 2;
  double amount = 3;
  optional string note = 4;
  repeated string tags = 5;
  string body = 6;
}
"#;

#[derive(Clone, PartialEq, prost::Message)]
struct ProtoOrder {
    #[prost(int64, tag = "1")]
    id: i64,
    #[prost(string, tag = "2")]
    customer: String,
    #[prost(double, tag = "3")]
    amount: f64,
    #[prost(string, optional, tag = "4")]
    note: Option<String>,
    #[prost(string, repeated, tag = "5")]
    tags: Vec<String>,
    #[prost(string, tag = "6")]
    body: String,
}

const JSON_SCHEMA: &str = r#"{"$schema":"http://json-schema.org/draft-07/schema#","title":"Order","type":"object",
 "properties":{"id":{"type":"integer"},"customer":{"type":"string"},"amount":{"type":"number"},
 "note":{"type":["string","null"]},"tags":{"type":"array","items":{"type":"string"}},"body":{"type":"string"}},
 "required":["id","customer","amount","tags","body"]}"#;

#[derive(Serialize)]
struct JsonOrder<'a> {
    id: i64,
    customer: &'a str,
    amount: f64,
    note: Option<&'a str>,
    tags: &'a [String],
    body: &'a str,
}

/// Allocations and bytes per `serialize` on a warm `ser`, and the record's size.
fn count<T: ?Sized>(
    ser: &dyn Serializer<T>,
    topic: &str,
    value: &T,
) -> Result<(f64, f64, usize), BoxError> {
    let mut headers = Vec::new();
    let mut size = 0;
    for _ in 0..1000 {
        size = ser
            .serialize(topic, &mut headers, value)?
            .map_or(0, |b| b.len());
    }
    let calls = 100_000u64;
    let mark = Snapshot::now();
    for _ in 0..calls {
        std::hint::black_box(ser.serialize(topic, &mut headers, value)?);
    }
    let (allocs, bytes) = mark.per_record_since(calls);
    Ok((allocs, bytes, size))
}

/// Prints one line per serde: allocations and bytes per cache hit.
pub fn print(url: &str, rt: &tokio::runtime::Runtime, id: i64, body: &str) -> Result<(), BoxError> {
    let tags = vec!["a".to_owned(), "b".to_owned(), "c".to_owned()];
    let registry = SchemaRegistryClient::from_url(url)?;

    let proto = ProtobufSerializer::<ProtoOrder>::new(
        registry.clone(),
        PROTO,
        "bench.Order",
        SerdeConfig::value(),
    )?;
    let topic = "bench-cache-hits-proto";
    rt.block_on(proto.prepare(topic))?;
    let message = ProtoOrder {
        id,
        customer: format!("customer-{:04}", id % 1000),
        amount: id as f64 * 0.5,
        note: Some("fragile".into()),
        tags: tags.clone(),
        body: body.to_owned(),
    };
    let (a, b, size) = count(&proto, topic, &message)?;
    println!(
        "Protobuf serializer cache hit (`ProtobufSerializer::serialize`, 100000 calls): {a:.3} allocations, {b:.0} bytes per record (the encoded record is {size} B)."
    );

    let customer = format!("customer-{:04}", id % 1000);
    let value = JsonOrder {
        id,
        customer: &customer,
        amount: id as f64 * 0.5,
        note: Some("fragile"),
        tags: &tags,
        body,
    };
    let topic = "bench-cache-hits-json";
    for validate in [true, false] {
        let json = JsonSchemaSerializer::<JsonOrder<'_>>::new(
            registry.clone(),
            JSON_SCHEMA,
            SerdeConfig::value(),
        )?
        .validate(validate);
        rt.block_on(json.prepare(topic))?;
        let (a, b, size) = count(&json, topic, &value)?;
        println!(
            "JSON Schema serializer cache hit (`JsonSchemaSerializer::serialize`, validate({validate}), 100000 calls): {a:.3} allocations, {b:.0} bytes per record (the encoded record is {size} B)."
        );
    }
    Ok(())
}
