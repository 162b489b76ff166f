//! Metrics on a local HTTP endpoint: installs the Prometheus exporter
//! (`metrics-exporter-prometheus`, pure Rust) as the `metrics` recorder, produces and
//! consumes some records, prints the producer's and consumer's `stats()`, then serves
//! `http://LISTEN/metrics` for `--hold-secs` seconds.
//!
//! ```text
//! cargo run -p examples --bin metrics -- --records 1000 --hold-secs 60
//! curl -s http://127.0.0.1:9464/metrics | grep kafka_
//! ```
//!
//! With `KAFKA_BOOTSTRAP_SERVERS` set it uses that cluster; otherwise it starts a local
//! single-node Kafka from the test bed. Metric names: `docs/metrics.md`.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::consumer::TopicPartition;
use kafka_client::{Client, Consumer, ErrorCode, Producer, ProducerRecord};
use metrics_exporter_prometheus::PrometheusBuilder;

#[derive(Parser, Debug)]
#[command(about = "Produce and consume with metrics exposed for Prometheus")]
struct Args {
    /// Address of the metrics HTTP listener.
    #[arg(long, default_value = "127.0.0.1:9464")]
    listen: SocketAddr,
    /// Records to produce, then consume.
    #[arg(long, default_value_t = 1000)]
    records: usize,
    /// Topic (created with one partition when missing).
    #[arg(long, default_value = "metrics-example")]
    topic: String,
    /// Keep serving metrics this long after the run.
    #[arg(long, default_value_t = 0)]
    hold_secs: u64,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    // Install the recorder before building any client.
    PrometheusBuilder::new()
        .with_http_listener(args.listen)
        .install()?;
    let (bootstrap, _local_cluster) = kafka_testbed::bootstrap_or_start(1)?;

    let client = Client::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .client_id("metrics-example")
        .build()?;
    let admin = Admin::new(client.clone());
    let created = admin
        .create_topics(
            [NewTopic::new(&args.topic)
                .partitions(1)
                .replication_factor(1)],
            CreateTopicsOptions::default(),
        )
        .await?;
    match &created[args.topic.as_str()] {
        Ok(_) => {}
        Err(e) if e.code() == Some(ErrorCode::TOPIC_ALREADY_EXISTS) => {}
        Err(e) => return Err(e.clone().into()),
    }
    loop {
        let meta = client.refresh_topics(&[args.topic.as_str()]).await?;
        let ready = meta
            .topic(&args.topic)
            .is_some_and(|t| t.partitions.iter().all(|p| p.leader.is_some()));
        if ready {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let producer = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .linger(Duration::from_millis(5))
        .build()?;
    let mut deliveries = Vec::with_capacity(args.records);
    for i in 0..args.records {
        let record = ProducerRecord::new(args.topic.as_str()).with_value(format!("record {i}"));
        deliveries.push(producer.send(record).await?);
    }
    let mut first_offset = i64::MAX;
    for d in deliveries {
        first_offset = first_offset.min(d.await?.offset);
    }
    println!("producer: {:?}", producer.stats());
    producer.close(Duration::from_secs(10)).await?;

    let consumer = Consumer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .build()?;
    let tp = TopicPartition::new(args.topic.as_str(), 0);
    consumer.assign([tp.clone()])?;
    consumer.seek(tp, first_offset)?;
    let mut consumed = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while consumed < args.records {
        if tokio::time::Instant::now() > deadline {
            return Err(format!("consumed only {consumed} of {} records", args.records).into());
        }
        consumed += consumer.poll(Duration::from_millis(500)).await?.len();
    }
    println!("consumer: {:?}", consumer.stats());
    consumer.close().await?;

    println!(
        "produced {} and consumed {consumed} records; metrics at http://{}/metrics",
        args.records, args.listen
    );
    tokio::time::sleep(Duration::from_secs(args.hold_secs)).await;
    Ok(())
}
