//! Issue 19: "a cache hit allocates nothing beyond the encoded record". A warm Avro
//! serializer (serde type and generic `Value`) and a warm Protobuf serializer, with their
//! schema registered in a real registry (franz-go's srfake, started by the test bed),
//! make exactly one heap allocation per record: the record's own buffer. Counted by a
//! global allocator that counts the calling thread's allocations only, so the tokio
//! runtime's threads (connections, timers) do not enter the count. JSON Schema without
//! validation is bound the same way; with validation (the default) it builds the
//! `serde_json::Value` the validator reads, one allocation per node, and is only printed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use apache_avro::types::Value;
use kafka_schema_registry::{RegistryConfig, SchemaRegistryClient};
use kafka_serde::Serializer;
use kafka_serde::schema_registry::{
    AvroSerializer, AvroValueSerializer, JsonSchemaSerializer, ProtobufSerializer, SerdeConfig,
};
use kafka_testbed::SchemaRegistry;
use serde::Serialize;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

/// The system allocator, counting each allocation (and reallocation) of the thread that
/// makes it.
struct ThreadCounting;

fn count_one() {
    // `try_with`: a thread being torn down has no counter any more; it is not counted.
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY (the workspace denies `unsafe_code`; a `GlobalAlloc` can only be implemented in
// an `unsafe impl`): every method passes its arguments unchanged to `System`, which
// upholds the `GlobalAlloc` contract; the counter is a `const`-initialised thread-local
// `Cell`, which allocates nothing itself.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for ThreadCounting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract for `alloc` is `System::alloc`'s.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: as `alloc`.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with `layout` (every method above forwards).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: as `dealloc`; `new_size` is the caller's, unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: ThreadCounting = ThreadCounting;

const AVRO_SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"alloc","fields":[
 {"name":"id","type":"long"},
 {"name":"customer","type":"string"},
 {"name":"amount","type":"double"},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"attributes","type":{"type":"map","values":"long"}},
 {"name":"body","type":"string"}]}"#;

const PROTO: &str = r#"syntax = "proto3";
package alloc;

message Order {
  int64 id = 1;
  string customer = 2;
  double amount = 3;
  optional string note = 4;
  repeated string tags = 5;
  string body = 6;
}
"#;

const JSON_SCHEMA: &str = r#"{"$schema":"http://json-schema.org/draft-07/schema#","title":"Order","type":"object",
 "properties":{"id":{"type":"integer"},"customer":{"type":"string"},"amount":{"type":"number"},
 "note":{"type":["string","null"]},"tags":{"type":"array","items":{"type":"string"}},"body":{"type":"string"}},
 "required":["id","customer","amount","tags","body"]}"#;

#[derive(Serialize, Clone)]
struct Order {
    id: i64,
    customer: String,
    amount: f64,
    note: Option<String>,
    tags: Vec<String>,
    attributes: std::collections::BTreeMap<String, i64>,
    body: String,
}

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

fn order() -> Order {
    Order {
        id: 1000,
        customer: "customer-0001".into(),
        amount: 500.5,
        note: Some("fragile".into()),
        tags: vec!["a".into(), "b".into(), "c".into()],
        attributes: [("weight".to_string(), 12), ("items".to_string(), 3)].into(),
        body: "lorem ipsum dolor sit amet ".repeat(30),
    }
}

const CALLS: u64 = 10_000;

/// Allocations per `serialize` on this thread over [`CALLS`] calls of a warm `ser`
/// (after a few warm-up calls, so the output buffer has grown to the record's size).
fn per_call<T: ?Sized>(ser: &dyn Serializer<T>, topic: &str, value: &T) -> f64 {
    let mut headers = Vec::new();
    for _ in 0..10 {
        ser.serialize(topic, &mut headers, value).expect("warm-up");
    }
    let before = ALLOCATIONS.with(Cell::get);
    for _ in 0..CALLS {
        std::hint::black_box(
            ser.serialize(topic, &mut headers, value)
                .expect("serialize"),
        );
    }
    (ALLOCATIONS.with(Cell::get) - before) as f64 / CALLS as f64
}

fn registry_client(registry: &SchemaRegistry) -> SchemaRegistryClient {
    RegistryConfig::new(registry.url())
        .build()
        .expect("registry client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_registry_cache_hits_allocate_only_the_encoded_record() {
    let registry = SchemaRegistry::start().expect("registry");
    let sr = registry_client(&registry);

    let avro = AvroSerializer::<Order>::new(sr.clone(), AVRO_SCHEMA, SerdeConfig::value())
        .expect("avro serializer");
    avro.prepare("alloc-avro").await.expect("register");
    let avro_serde = per_call(&avro, "alloc-avro", &order());

    let schema = apache_avro::Schema::parse_str(AVRO_SCHEMA).unwrap();
    let value: Value = apache_avro::to_value(order())
        .unwrap()
        .resolve(&schema)
        .unwrap();
    let avro_value = AvroValueSerializer::new(sr.clone(), AVRO_SCHEMA, SerdeConfig::value())
        .expect("avro value serializer");
    avro_value
        .prepare("alloc-avro-value")
        .await
        .expect("register");
    let avro_generic = per_call(&avro_value, "alloc-avro-value", &value);

    let proto = ProtobufSerializer::<ProtoOrder>::new(
        sr.clone(),
        PROTO,
        "alloc.Order",
        SerdeConfig::value(),
    )
    .expect("protobuf serializer");
    proto.prepare("alloc-proto").await.expect("register");
    let o = order();
    let message = ProtoOrder {
        id: o.id,
        customer: o.customer.clone(),
        amount: o.amount,
        note: o.note.clone(),
        tags: o.tags.clone(),
        body: o.body.clone(),
    };
    let protobuf = per_call(&proto, "alloc-proto", &message);

    let json = JsonSchemaSerializer::<Order>::new(sr.clone(), JSON_SCHEMA, SerdeConfig::value())
        .expect("json schema serializer");
    json.prepare("alloc-json").await.expect("register");
    let json_validated = per_call(&json, "alloc-json", &o);
    let json = JsonSchemaSerializer::<Order>::new(sr.clone(), JSON_SCHEMA, SerdeConfig::value())
        .expect("json schema serializer")
        .validate(false);
    json.prepare("alloc-json").await.expect("register");
    let json_unvalidated = per_call(&json, "alloc-json", &o);

    println!(
        "allocations per cache hit: Avro serde {avro_serde:.3}, Avro Value {avro_generic:.3}, \
         Protobuf {protobuf:.3}, JSON Schema validated {json_validated:.3}, \
         JSON Schema unvalidated {json_unvalidated:.3}"
    );
    assert_eq!(
        avro_serde, 1.0,
        "Avro (serde type): only the record's buffer"
    );
    assert_eq!(
        avro_generic, 1.0,
        "Avro (generic Value): only the record's buffer"
    );
    assert_eq!(protobuf, 1.0, "Protobuf: only the record's buffer");
    assert_eq!(
        json_unvalidated, 1.0,
        "JSON Schema without validation: only the record's buffer"
    );
    assert!(
        json_validated > 1.0,
        "JSON Schema with validation builds the validator's serde_json::Value"
    );
}
