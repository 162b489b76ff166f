//! A dict serialized on send and parsed on receive, through `kafka-serde`'s typed
//! wrappers: the Rust counterpart of the Python example
//!
//! ```python
//! producer.send("orders", json.dumps({"id": 1, "item": "tea"}).encode())
//! order = json.loads(message.value)
//! ```
//!
//! `cargo run -p examples --bin typed_json`
//!
//! With `KAFKA_BOOTSTRAP_SERVERS` set it uses that cluster; otherwise it starts a local
//! single-node Kafka from the test bed and stops it on exit. It creates a fresh topic,
//! sends three dicts (`serde_json::Value` objects) and one record that is not JSON,
//! then reads them back: the dicts parsed, the poison record reported with its offset
//! and raw bytes, without stopping.

use std::time::Duration;

use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::Client;
use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_serde::{JsonSerde, Nullable, StringSerde, TypedConsumer, TypedProducer, TypedRecord};
use serde_json::{Value, json};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (bootstrap, _local_cluster) = kafka_testbed::bootstrap_or_start(1)?;
    eprintln!("bootstrap servers: {bootstrap}");
    let client = Client::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .client_id("typed-json-example")
        .build()?;
    let topic = format!(
        "typed-json-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_millis()
    );
    let created = Admin::new(client.clone())
        .create_topics(
            [NewTopic::new(&topic).partitions(1)],
            CreateTopicsOptions::default(),
        )
        .await?;
    created[topic.as_str()].clone()?;
    for _ in 0..100 {
        let m = client.refresh_topics(&[topic.as_str()]).await?;
        if m.topic(&topic)
            .is_some_and(|t| t.partitions.iter().all(|p| p.leader.is_some()))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Send: keys as strings, values as dicts serialized to JSON (json.dumps).
    let producer = Producer::builder().client(client.clone()).build()?;
    let typed: TypedProducer<str, Value> =
        TypedProducer::new(producer.clone(), StringSerde, JsonSerde::new());
    let orders = [
        json!({"id": 1, "item": "tea", "qty": 2}),
        json!({"id": 2, "item": "cake", "tags": ["sweet", "fresh"]}),
        json!({"id": 3, "item": "coffee", "extra": {"milk": true, "sugar": null}}),
    ];
    for (i, order) in orders.iter().enumerate() {
        let key = format!("order-{}", i + 1);
        let meta = typed
            .send(TypedRecord::new(topic.as_str(), order).with_key(&key))
            .await?
            .await?;
        println!(
            "sent {order} to partition {} offset {}",
            meta.partition, meta.offset
        );
        if i == 1 {
            // Someone writes bytes that are not JSON into the topic.
            let meta = producer
                .send_and_wait(ProducerRecord::new(topic.as_str()).with_value("not json {"))
                .await?;
            println!("sent a poison record at offset {}", meta.offset);
        }
    }
    producer.close(Duration::from_secs(10)).await?;

    // Receive: values parsed back into dicts (json.loads).
    let consumer = Consumer::builder()
        .client(client)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()?;
    consumer.assign([TopicPartition::new(topic.as_str(), 0)])?;
    let typed: TypedConsumer<Option<String>, Value> =
        TypedConsumer::new(consumer.clone(), Nullable(StringSerde), JsonSerde::new());
    let (mut seen, mut parsed) = (0, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen < orders.len() + 1 && tokio::time::Instant::now() < deadline {
        for record in typed.poll(Duration::from_millis(500)).await? {
            seen += 1;
            match record {
                Ok(r) => {
                    parsed += 1;
                    let item = r.value["item"].as_str().unwrap_or("?");
                    println!(
                        "received offset {} key {:?}: item {item}, dict {}",
                        r.offset, r.key, r.value
                    );
                }
                Err(e) => println!(
                    "poison record at {}-{} offset {}: {} (raw value {:?})",
                    e.topic(),
                    e.partition(),
                    e.offset(),
                    e.error,
                    e.value_bytes()
                ),
            }
        }
    }
    consumer.close().await?;
    println!(
        "{parsed} dicts parsed, {} poison record(s) skipped",
        seen - parsed
    );
    if parsed != orders.len() {
        return Err(format!("expected {} dicts, got {parsed}", orders.len()).into());
    }
    Ok(())
}
