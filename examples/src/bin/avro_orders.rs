//! Typed orders as Avro through a schema registry: `kafka-serde`'s `AvroSerializer` and
//! `AvroDeserializer` under `TypedProducer` / `TypedConsumer`, in the wire format
//! Confluent's serializers use (magic byte 0, the schema id, the Avro binary encoding).
//!
//! `cargo run -p examples --bin avro_orders`
//!
//! With `KAFKA_BOOTSTRAP_SERVERS` set it uses that cluster, otherwise it starts a local
//! single-node Kafka from the test bed; with `SCHEMA_REGISTRY_URL` set it uses that
//! registry, otherwise it starts the test bed's (franz-go's srfake, built with Go on
//! first use). It creates a fresh topic, sends three orders (the schema registered on
//! the first send), then reads them back with a consumer on a newer schema version that
//! added a field with a default (Avro schema resolution).

use std::time::Duration;

use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::Client;
use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::producer::Producer;
use kafka_schema_registry::RegistryConfig;
use kafka_serde::schema_registry::{AvroDeserializer, AvroSerializer, SerdeConfig};
use kafka_serde::{Nullable, StringSerde, TypedConsumer, TypedProducer};
use serde::{Deserialize, Serialize};

const ORDER_V1: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
  {"name":"id","type":"long"},
  {"name":"item","type":"string"},
  {"name":"qty","type":"int"},
  {"name":"note","type":["null","string"],"default":null}]}"#;

/// The consumer's newer version: `currency` added with a default.
const ORDER_V2: &str = r#"{"type":"record","name":"Order","namespace":"shop","fields":[
  {"name":"id","type":"long"},
  {"name":"item","type":"string"},
  {"name":"qty","type":"int"},
  {"name":"note","type":["null","string"],"default":null},
  {"name":"currency","type":"string","default":"EUR"}]}"#;

#[derive(Serialize, Deserialize, Debug, Clone)]
struct Order {
    id: i64,
    item: String,
    qty: i32,
    note: Option<String>,
}

#[derive(Deserialize, Debug)]
struct OrderV2 {
    id: i64,
    item: String,
    qty: i32,
    note: Option<String>,
    currency: String,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (bootstrap, _local_cluster) = kafka_testbed::bootstrap_or_start(1)?;
    let (registry_url, _local_registry) = match std::env::var("SCHEMA_REGISTRY_URL") {
        Ok(url) if !url.is_empty() => (url, None),
        _ => {
            let registry = kafka_testbed::SchemaRegistry::start()?;
            (registry.url().to_owned(), Some(registry))
        }
    };
    eprintln!("bootstrap servers: {bootstrap}, schema registry: {registry_url}");
    let registry = RegistryConfig::new(&registry_url).build()?;

    let client = Client::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .client_id("avro-orders-example")
        .build()?;
    let topic = format!(
        "avro-orders-{}",
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

    // Produce: the value serializer registers ORDER_V1 under "<topic>-value" (prepare
    // does it now rather than on the first send) and frames each order with its id.
    let serializer =
        AvroSerializer::<Order>::new(registry.clone(), ORDER_V1, SerdeConfig::value())?;
    let id = serializer.prepare(&topic).await?;
    println!("schema registered under {topic}-value with id {id}");
    let producer = Producer::builder().client(client.clone()).build()?;
    let typed: TypedProducer<str, Order> =
        TypedProducer::new(producer.clone(), StringSerde, serializer);
    let orders = [
        Order {
            id: 1,
            item: "tea".into(),
            qty: 2,
            note: None,
        },
        Order {
            id: 2,
            item: "cake".into(),
            qty: 1,
            note: Some("birthday".into()),
        },
        Order {
            id: 3,
            item: "coffee".into(),
            qty: 4,
            note: None,
        },
    ];
    for order in &orders {
        let key = format!("order-{}", order.id);
        let meta = typed
            .send_value(&topic, Some(key.as_str()), order)
            .await?
            .await?;
        println!(
            "sent {order:?} to partition {} offset {}",
            meta.partition, meta.offset
        );
    }
    producer.close(Duration::from_secs(10)).await?;

    // Consume with the newer schema: old records get the default currency.
    let consumer = Consumer::builder()
        .client(client)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()?;
    consumer.assign([TopicPartition::new(topic.as_str(), 0)])?;
    let typed: TypedConsumer<Option<String>, OrderV2> = TypedConsumer::new(
        consumer.clone(),
        Nullable(StringSerde),
        AvroDeserializer::with_reader_schema(registry, ORDER_V2)?,
    );
    let mut received = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while received < orders.len() && tokio::time::Instant::now() < deadline {
        for record in typed.poll(Duration::from_millis(500)).await? {
            let r = record?;
            received += 1;
            let o = &r.value;
            println!(
                "received offset {} key {:?}: #{} {} x{} note {:?} currency {}",
                r.offset, r.key, o.id, o.item, o.qty, o.note, o.currency
            );
        }
    }
    consumer.close().await?;
    if received != orders.len() {
        return Err(format!("expected {} orders, got {received}", orders.len()).into());
    }
    println!("{received} orders read back through the schema registry");
    Ok(())
}
