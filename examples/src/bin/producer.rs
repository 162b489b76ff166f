//! Produces records and reports how many were delivered and how fast.
//!
//! ```text
//! cargo run -p examples --bin producer -- --topic T --count N [--size B] [--key K]
//!     [--compression none|gzip|snappy|lz4|zstd] [--acks 0|1|all] [--partitions P]
//!     [--format raw|json]
//! ```
//!
//! `--format json` sends each value as a JSON object, `{"seq": i, "payload": "abc..."}`
//! (the payload `--size` characters long), serialized by a `kafka_serde::TypedProducer`
//! with `JsonSerde`; the consumer example's `--format json` parses them back.
//!
//! With `KAFKA_BOOTSTRAP_SERVERS` set it uses that cluster; otherwise it starts a local
//! single-node Kafka from the test bed and stops it on exit. The topic is created (with
//! `--partitions`, default 3) when it does not exist.

use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_client::records::Compression;
use kafka_client::{Client, ErrorCode};
use kafka_serde::{JsonSerde, StringSerde, TypedProducer, TypedRecord};

struct Args {
    topic: String,
    count: usize,
    size: usize,
    key: Option<String>,
    compression: Compression,
    acks: Acks,
    partitions: i32,
    json: bool,
}

const USAGE: &str = "usage: producer --topic T --count N [--size B] [--key K] \
[--compression none|gzip|snappy|lz4|zstd] [--acks 0|1|all] [--partitions P] [--format raw|json]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        topic: String::new(),
        count: 0,
        size: 100,
        key: None,
        compression: Compression::None,
        acks: Acks::All,
        partitions: 3,
        json: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--help" || flag == "-h" {
            return Err(USAGE.into());
        }
        let value = it
            .next()
            .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))?;
        let bad = |what: &str| format!("{flag} {value:?}: expected {what}\n{USAGE}");
        match flag.as_str() {
            "--topic" => args.topic = value,
            "--count" => args.count = value.parse().map_err(|_| bad("a count"))?,
            "--size" => args.size = value.parse().map_err(|_| bad("a size in bytes"))?,
            "--key" => args.key = Some(value),
            "--compression" => args.compression = value.parse().map_err(|_| bad("a codec name"))?,
            "--acks" => {
                args.acks = match value.as_str() {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "all" | "-1" => Acks::All,
                    _ => return Err(bad("0, 1 or all")),
                }
            }
            "--partitions" => {
                args.partitions = value.parse().map_err(|_| bad("a partition count"))?
            }
            "--format" => {
                args.json = match value.as_str() {
                    "raw" => false,
                    "json" => true,
                    _ => return Err(bad("raw or json")),
                }
            }
            _ => return Err(format!("unknown option {flag}\n{USAGE}")),
        }
    }
    if args.topic.is_empty() || args.count == 0 {
        return Err(format!("--topic and --count are required\n{USAGE}"));
    }
    Ok(args)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = match parse_args() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            std::process::exit(2);
        }
    };
    let (bootstrap, _local_cluster) = kafka_testbed::bootstrap_or_start(1)?;
    println!("bootstrap servers: {bootstrap}");

    let client = Client::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .client_id("producer-example")
        .api_timeout(Duration::from_secs(30))
        .build()?;
    ensure_topic(&client, &args.topic, args.partitions).await?;

    let producer = Producer::builder()
        .client(client)
        .acks(args.acks)
        .compression(args.compression)
        .build()?;
    let value = Bytes::from(
        (0..args.size)
            .map(|i| b'a' + (i % 26) as u8)
            .collect::<Vec<u8>>(),
    );
    let typed: TypedProducer<str, serde_json::Value> =
        TypedProducer::new(producer.clone(), StringSerde, JsonSerde::new());
    let payload = String::from_utf8_lossy(&value).into_owned();
    let key = args.key.map(Bytes::from);
    let topic: std::sync::Arc<str> = args.topic.as_str().into();

    let started = Instant::now();
    let mut deliveries = Vec::with_capacity(args.count);
    let mut refused = 0usize;
    for seq in 0..args.count {
        let record = if args.json {
            let doc = serde_json::json!({"seq": seq, "payload": payload});
            let mut record = typed.serialize(TypedRecord::new(topic.clone(), &doc))?;
            record.key = key.clone();
            record
        } else {
            let mut record = ProducerRecord::new(topic.clone()).with_value(value.clone());
            record.key = key.clone();
            record
        };
        match producer.send(record).await {
            Ok(f) => deliveries.push(f),
            Err(e) => {
                refused += 1;
                eprintln!("not sent: {e}");
            }
        }
    }
    let mut delivered = 0usize;
    let mut failed = 0usize;
    for f in deliveries {
        match f.await {
            Ok(_) => delivered += 1,
            Err(e) => {
                if failed == 0 {
                    eprintln!("delivery failed: {e}");
                }
                failed += 1;
            }
        }
    }
    let elapsed = started.elapsed();
    producer.close(Duration::from_secs(30)).await?;

    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "records delivered: {delivered} of {} ({failed} failed, {refused} refused) to {} in {:.3} s",
        args.count, args.topic, secs
    );
    println!(
        "{:.0} records/s, {:.2} MB/s ({}-byte payloads{}, compression {}, acks {:?})",
        delivered as f64 / secs,
        delivered as f64 * args.size as f64 / secs / 1e6,
        args.size,
        if args.json { " in JSON" } else { "" },
        args.compression,
        args.acks
    );
    if failed + refused > 0 {
        std::process::exit(1);
    }
    Ok(())
}

/// Creates `topic` unless it exists, then waits until every partition has a leader.
async fn ensure_topic(
    client: &Client,
    topic: &str,
    partitions: i32,
) -> Result<(), Box<dyn std::error::Error>> {
    let admin = Admin::new(client.clone());
    let created = admin
        .create_topics(
            [NewTopic::new(topic).partitions(partitions)],
            CreateTopicsOptions::default(),
        )
        .await?;
    match &created[topic] {
        Ok(_) => println!("created topic {topic:?} with {partitions} partitions"),
        Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
        Err(e) => return Err(e.clone().into()),
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let m = client.refresh_topics(&[topic]).await?;
        if m.topic(topic)
            .is_some_and(|t| t.partitions.iter().all(|p| p.leader.is_some()))
        {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!("topic {topic} has no leaders after 30 s").into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
