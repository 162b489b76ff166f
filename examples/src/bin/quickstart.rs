//! Quickstart: connect, create a topic, print the cluster's metadata, produce ten
//! records and consume them back.
//!
//! `cargo run -p examples --bin quickstart`. With `KAFKA_BOOTSTRAP_SERVERS` set it uses
//! that cluster; otherwise it starts a local single-node Kafka from the test bed (Apache
//! Kafka's jars from Maven Central, run with the JDK) and stops it on exit.

use std::time::Duration;

use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::consumer::TopicPartition;
use kafka_client::{Client, Consumer, ErrorCode, Producer, ProducerRecord};

const TOPIC: &str = "quickstart";

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (bootstrap, _local_cluster) = kafka_testbed::bootstrap_or_start(1)?;
    println!("bootstrap servers: {bootstrap}");

    let client = Client::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .client_id("quickstart")
        .api_timeout(Duration::from_secs(30))
        .build()?;
    let admin = Admin::new(client.clone());

    let created = admin
        .create_topics(
            [NewTopic::new(TOPIC).partitions(3).replication_factor(1)],
            CreateTopicsOptions::default(),
        )
        .await?;
    match &created[TOPIC] {
        Ok(t) => println!(
            "created topic {TOPIC:?} ({} partitions, id {})",
            t.partitions, t.id
        ),
        Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {
            println!("topic {TOPIC:?} already exists")
        }
        Err(e) => return Err(e.clone().into()),
    }

    // Leaders are elected just after creation: wait until every partition has one.
    let topic = loop {
        let t = client.refresh_topics(&[TOPIC]).await?.topic(TOPIC).cloned();
        if let Some(t) = t.filter(|t| t.partitions.iter().all(|p| p.leader.is_some())) {
            break t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };

    let m = client.metadata().await?;
    println!("cluster id: {}", m.cluster_id.as_deref().unwrap_or("?"));
    println!(
        "controller: {}",
        m.controller.map_or("none".into(), |c| c.to_string())
    );
    for b in m.brokers.values() {
        println!(
            "broker {} at {}{}",
            b.id,
            b.address,
            b.rack
                .as_ref()
                .map_or(String::new(), |r| format!(" rack {r}"))
        );
    }
    println!("topic {} (id {}):", topic.name, topic.id);
    for p in &topic.partitions {
        println!(
            "  partition {} leader {} epoch {} replicas {:?} isr {:?}",
            p.partition,
            p.leader.map_or("none".into(), |l| l.to_string()),
            p.leader_epoch,
            p.replicas,
            p.isr
        );
    }

    // Produce: `send` waits only for buffer space; its future resolves on acknowledgement.
    let producer = Producer::builder().client(client.clone()).build()?;
    let mut deliveries = Vec::new();
    for i in 0..10 {
        let record = ProducerRecord::new(TOPIC)
            .with_key(format!("user-{}", i % 3))
            .with_value(format!("hello #{i}"))
            .with_header("source", "quickstart");
        deliveries.push(producer.send(record).await?);
    }
    let mut written = Vec::new();
    for d in deliveries {
        let meta = d.await?;
        written.push((meta.partition, meta.offset));
    }
    producer.close(Duration::from_secs(10)).await?;
    println!("produced {} records", written.len());

    // Consume exactly what was just written: from each record's offset on its partition.
    let consumer = Consumer::builder().client(client.clone()).build()?;
    let partitions: Vec<TopicPartition> = topic
        .partitions
        .iter()
        .map(|p| TopicPartition::new(TOPIC, p.partition))
        .collect();
    consumer.assign(partitions.clone())?;
    for tp in &partitions {
        let first = written
            .iter()
            .filter(|(p, _)| *p == tp.partition)
            .map(|(_, o)| *o)
            .min();
        match first {
            Some(offset) => consumer.seek(tp.clone(), offset)?,
            None => consumer.pause([tp.clone()])?,
        }
    }
    let mut consumed = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while consumed < written.len() {
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "consumed only {consumed} of {} records in 30 s",
                written.len()
            )
            .into());
        }
        let batch = consumer.poll(Duration::from_millis(500)).await?;
        for e in batch.errors() {
            eprintln!("partition error: {e:?}");
        }
        for r in &batch {
            let text = |b: &Option<bytes::Bytes>| {
                b.as_ref()
                    .map_or("null".into(), |b| String::from_utf8_lossy(b).into_owned())
            };
            println!(
                "{}:{}:{} key={} value={}",
                r.topic,
                r.partition,
                r.offset,
                text(&r.key),
                text(&r.value)
            );
            consumed += 1;
        }
    }
    consumer.close().await?;
    println!("consumed {consumed} records");
    println!("quickstart ok");
    Ok(())
}
