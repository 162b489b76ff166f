//! `kafka-bench avro`: 1 KiB Avro records through the schema registry (issue 19), ours
//! (`kafka-serde`'s `AvroSerializer` / `AvroDeserializer` with `TypedProducer` /
//! `TypedConsumer`) against confluent-kafka Python's `AvroSerializer` /
//! `AvroDeserializer` and against fastavro (schemaless writer/reader with the 5-byte
//! prefix by hand), both producing and consuming with confluent-kafka (librdkafka): the
//! same broker, the same registry (srfake), the same run, in turns.
//!
//! The broker is pinned to core 0 and every client to core 1 (ours: this process's
//! client thread; Python: `taskset -c 1`). Records/s are medians over the repeats; the
//! machine is shared, so the figures to compare are the ratios.
//!
//! It also counts the allocations of a serializer cache hit with the counting global
//! allocator: `serialize` on a warm serializer, many times, allocations per record.

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::producer::{Acks, Producer};
use kafka_schema_registry::SchemaRegistryClient;
use kafka_serde::schema_registry::{
    AvroDeserializer, AvroSerializer, AvroValueSerializer, SerdeConfig,
};
use kafka_serde::{Serializer, TypedConsumer, TypedProducer};
use serde::{Deserialize, Serialize};

use crate::BoxError;
use crate::alloc_count::Snapshot;
use crate::broker::{Broker, CLIENT_CORE};

/// The benchmark's record schema (1 KiB encoded with the body length chosen below).
pub const SCHEMA: &str = r#"{"type":"record","name":"Order","namespace":"bench","fields":[
 {"name":"id","type":"long"},
 {"name":"customer","type":"string"},
 {"name":"amount","type":"double"},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"tags","type":{"type":"array","items":"string"}},
 {"name":"body","type":"string"}]}"#;

/// The encoded size the records are tuned to (the Avro payload, without the prefix).
const RECORD_BYTES: usize = 1024;

const WORDS: &str = "lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ";

/// One record, as `record()` in bench/avro_peer.py builds it.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
struct Order {
    id: i64,
    customer: String,
    amount: f64,
    note: Option<String>,
    tags: Vec<String>,
    body: String,
}

fn record(i: u64, body_len: usize) -> Order {
    let body: String = WORDS.chars().cycle().take(body_len).collect();
    Order {
        id: i as i64,
        customer: format!("customer-{:04}", i % 1000),
        amount: i as f64 * 0.5,
        note: if i % 2 == 1 {
            None
        } else {
            Some("fragile".into())
        },
        tags: vec!["a".into(), "b".into(), "c".into()],
        body,
    }
}

/// The body length that makes record 1000's Avro encoding [`RECORD_BYTES`] long.
fn body_len() -> Result<usize, BoxError> {
    let schema = apache_avro_schema()?;
    let mut out = Vec::new();
    apache_avro::write_avro_datum_ref(&schema, &record(1000, 0), &mut out)?;
    // The body's length prefix grows from 1 byte to 2 past 63 bytes.
    Ok(RECORD_BYTES - out.len() - 1)
}

fn apache_avro_schema() -> Result<apache_avro::Schema, BoxError> {
    Ok(apache_avro::Schema::parse_str(SCHEMA)?)
}

/// One client's figures over the repeats.
#[derive(Debug, Default)]
struct Samples {
    produce: Vec<f64>,
    consume: Vec<f64>,
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Runs ours on a thread pinned to the client core with a runtime of its own.
fn on_client_core<T: Send + 'static>(
    job: impl FnOnce() -> Result<T, BoxError> + Send + 'static,
) -> Result<T, BoxError> {
    std::thread::spawn(move || {
        if !core_affinity::set_for_current(core_affinity::CoreId { id: CLIENT_CORE }) {
            return Err::<T, BoxError>("could not pin the client thread".into());
        }
        job()
    })
    .join()
    .map_err(|_| "the client thread panicked")?
}

fn runtime() -> Result<tokio::runtime::Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

fn producer(bootstrap: &str) -> Result<Producer, BoxError> {
    Ok(Producer::builder()
        .bootstrap_servers([bootstrap])
        .client_id("bench-avro")
        .acks(Acks::All)
        .linger(Duration::from_millis(5))
        .batch_size(1 << 20)
        .max_request_size(2 << 20)
        .buffer_memory(32 << 20)
        .max_in_flight(5)
        .enable_idempotence(false)
        .build()?)
}

/// Ours: serialize + produce `records` records; records/s from the first send to the
/// last acknowledgement (one record first, outside the clock).
fn ours_produce(
    url: String,
    bootstrap: String,
    topic: String,
    records: u64,
    body_len: usize,
) -> Result<f64, BoxError> {
    on_client_core(move || {
        let values: Vec<Order> = (0..records).map(|i| record(i, body_len)).collect();
        runtime()?.block_on(async move {
            let registry = SchemaRegistryClient::from_url(&url)?;
            let ser = AvroSerializer::<Order>::new(registry, SCHEMA, SerdeConfig::value())?;
            let p: TypedProducer<str, Order> =
                TypedProducer::new(producer(&bootstrap)?, kafka_serde::StringSerde, ser);
            p.send_value(&topic, None, &values[0]).await?.await?;
            let t0 = Instant::now();
            let mut last = None;
            for value in &values {
                last = Some(p.send_value(&topic, None, value).await?);
            }
            if let Some(ack) = last {
                ack.await?;
            }
            Ok::<f64, BoxError>(records as f64 / t0.elapsed().as_secs_f64())
        })
    })
}

/// Ours: consume + deserialize `records` records from offset 0; records/s from
/// `assign` to the last record.
fn ours_consume(
    url: String,
    bootstrap: String,
    topic: String,
    records: u64,
) -> Result<f64, BoxError> {
    on_client_core(move || {
        runtime()?.block_on(async move {
            let registry = SchemaRegistryClient::from_url(&url)?;
            let consumer = Consumer::builder()
                .bootstrap_servers([bootstrap.as_str()])
                .auto_offset_reset(AutoOffsetReset::Earliest)
                .enable_auto_commit(false)
                .max_buffered_bytes(32 << 20)
                .build()?;
            let c: TypedConsumer<Option<String>, Order> = TypedConsumer::new(
                consumer,
                kafka_serde::Nullable(kafka_serde::StringSerde),
                AvroDeserializer::new(registry),
            );
            let t0 = Instant::now();
            c.consumer()
                .assign([TopicPartition::new(topic.as_str(), 0)])?;
            c.consumer()
                .seek(TopicPartition::new(topic.as_str(), 0), 0)?;
            let mut n = 0u64;
            while n < records {
                for r in c.poll(Duration::from_secs(10)).await? {
                    let r = r.map_err(|e| format!("record {}: {}", e.offset(), e.error))?;
                    std::hint::black_box(&r.value);
                    n += 1;
                }
            }
            Ok::<f64, BoxError>(records as f64 / t0.elapsed().as_secs_f64())
        })
    })
}

#[derive(Deserialize)]
struct PeerReport {
    records: u64,
    secs: f64,
}

/// The Python peer (`bench/avro_peer.py`) pinned to the client core.
fn peer(python: &Path, mode: &str, args: [&str; 5], schema_file: &Path) -> Result<f64, BoxError> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("avro_peer.py");
    let out = Command::new("taskset")
        .args(["-c", &CLIENT_CORE.to_string()])
        .arg(python)
        .arg(script)
        .arg(mode)
        .args(args)
        .arg(schema_file)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "avro_peer.py {mode} failed: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let line = String::from_utf8_lossy(&out.stdout);
    let r: PeerReport = serde_json::from_str(line.trim().lines().last().unwrap_or(""))?;
    Ok(r.records as f64 / r.secs)
}

/// Allocations per `serialize` on a warm serializer (a cache hit), and the encoded size.
fn cache_hit_allocations(url: &str, body_len: usize) -> Result<(f64, f64, usize), BoxError> {
    let registry = SchemaRegistryClient::from_url(url)?;
    let ser = Arc::new(AvroSerializer::<Order>::new(
        registry,
        SCHEMA,
        SerdeConfig::value(),
    )?);
    runtime()?.block_on(ser.prepare("bench-avro-alloc"))?;
    let value = record(1000, body_len);
    let mut headers = Vec::new();
    let mut size = 0;
    for _ in 0..1000 {
        size = ser
            .serialize("bench-avro-alloc", &mut headers, &value)?
            .map_or(0, |b| b.len());
    }
    let calls = 100_000u64;
    let mark = Snapshot::now();
    for _ in 0..calls {
        let bytes = ser.serialize("bench-avro-alloc", &mut headers, &value)?;
        std::hint::black_box(bytes);
    }
    let (allocs, bytes) = mark.per_record_since(calls);
    Ok((allocs, bytes, size))
}

/// Allocations per `serialize` of the same record as a generic `Value` on a warm
/// `AvroValueSerializer`.
fn value_cache_hit_allocations(url: &str, body_len: usize) -> Result<(f64, f64), BoxError> {
    let registry = SchemaRegistryClient::from_url(url)?;
    let ser = AvroValueSerializer::new(registry, SCHEMA, SerdeConfig::value())?;
    runtime()?.block_on(ser.prepare("bench-avro-alloc-value"))?;
    let schema = apache_avro_schema()?;
    let value = apache_avro::to_value(record(1000, body_len))?.resolve(&schema)?;
    let mut headers = Vec::new();
    for _ in 0..1000 {
        ser.serialize("bench-avro-alloc-value", &mut headers, &value)?;
    }
    let calls = 100_000u64;
    let mark = Snapshot::now();
    for _ in 0..calls {
        let bytes = ser.serialize("bench-avro-alloc-value", &mut headers, &value)?;
        std::hint::black_box(bytes);
    }
    Ok(mark.per_record_since(calls))
}

/// `kafka-bench avro [--records N] [--repeats R]`: prints the rows for docs/benchmarks.md.
pub fn run(args: &[String]) -> Result<(), BoxError> {
    let records: u64 = crate::flag_value(args, "--records")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(100_000);
    let repeats: usize = crate::flag_value(args, "--repeats")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(3);
    let python = kafka_testbed::confluent_python::confluent_python()?;
    let registry = kafka_testbed::SchemaRegistry::start()?;
    let url = registry.url().to_owned();
    let body_len = body_len()?;
    let schema_file = std::env::temp_dir().join(format!("bench-avro-{}.avsc", std::process::id()));
    std::fs::write(&schema_file, SCHEMA)?;

    let (allocs, alloc_bytes, size) = cache_hit_allocations(&url, body_len)?;
    let (value_allocs, value_bytes) = value_cache_hit_allocations(&url, body_len)?;
    let load_before = load();
    let rt = runtime()?;
    let broker = rt.block_on(Broker::start())?;
    let bootstrap = broker.bootstrap.clone();
    let clients = ["kafka-rs", "confluent-kafka AvroSerializer", "fastavro"];
    let mut samples: Vec<Samples> = clients.iter().map(|_| Samples::default()).collect();
    let mut topics = Vec::new();
    for repeat in 0..=repeats {
        // Repeat 0 is a discarded warm-up.
        for (c, client) in clients.iter().enumerate() {
            let topic = format!("bench-avro-{repeat}-{c}");
            rt.block_on(broker.create_topic(&topic, 1))?;
            topics.push(topic.clone());
            let n = records.to_string();
            let len = body_len.to_string();
            let peer_args = [
                url.as_str(),
                bootstrap.as_str(),
                topic.as_str(),
                n.as_str(),
                len.as_str(),
            ];
            let produced = match c {
                0 => ours_produce(
                    url.clone(),
                    bootstrap.clone(),
                    topic.clone(),
                    records,
                    body_len,
                )?,
                1 => peer(&python, "produce-confluent", peer_args, &schema_file)?,
                _ => peer(&python, "produce-fastavro", peer_args, &schema_file)?,
            };
            let consumed = match c {
                0 => ours_consume(url.clone(), bootstrap.clone(), topic.clone(), records)?,
                1 => peer(&python, "consume-confluent", peer_args, &schema_file)?,
                _ => peer(&python, "consume-fastavro", peer_args, &schema_file)?,
            };
            eprintln!("repeat {repeat} {client}: produce {produced:.0}/s, consume {consumed:.0}/s");
            if repeat > 0 {
                samples[c].produce.push(produced);
                samples[c].consume.push(consumed);
            }
        }
    }
    rt.block_on(broker.delete_topics(&topics));
    let load_after = load();
    let _ = std::fs::remove_file(&schema_file);

    let ours = &samples[0];
    println!(
        "Avro, {size} B framed records ({RECORD_BYTES} B Avro payload + 5 B prefix), {records} records per run, {repeats} repeats (medians), broker on core 0, each client on core 1; load before `{load_before}`, after `{load_after}`.\n"
    );
    println!(
        "| client | serialize + produce records/s | vs ours | consume + deserialize records/s | vs ours |"
    );
    println!("|---|---|---|---|---|");
    for (c, client) in clients.iter().enumerate() {
        let (p, q) = (median(&samples[c].produce), median(&samples[c].consume));
        println!(
            "| {client} | {p:.0} | {:.2}× | {q:.0} | {:.2}× |",
            p / median(&ours.produce),
            q / median(&ours.consume)
        );
    }
    println!(
        "\nSerializer cache hit (`AvroSerializer::serialize` on a warm serializer, 100000 calls): {allocs:.3} allocations, {alloc_bytes:.0} bytes per record (the encoded record is {size} B)."
    );
    println!(
        "Generic `Value` cache hit (`AvroValueSerializer::serialize`, 100000 calls): {value_allocs:.3} allocations, {value_bytes:.0} bytes per record."
    );
    crate::registry_cache_hits::print(&url, &rt, 1000, &record(1000, body_len).body)?;
    Ok(())
}

fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
