//! A member of a share group (KIP-932, "queues for Kafka"): prints each record it gets
//! with its delivery count and acknowledges it as told, then a summary.
//!
//! `cargo run -p examples --bin share_consumer -- --topic T --group G [--count N]
//!     [--ack accept|release|reject] [--from-beginning]`
//!
//! Run several at once with the same `--group`: they share the topic's partitions and
//! each record goes to one of them at a time. `--ack release` hands every record back
//! (it is delivered again, its delivery count one higher, until the broker's
//! `group.share.delivery.count.limit` archives it); `--ack reject` archives it at once.
//! `--from-beginning` sets the group's `share.auto.offset.reset` to `earliest` (a
//! share group starts at the end of the log by default). It stops after `--count`
//! records, or after 5 s without any. With `KAFKA_BOOTSTRAP_SERVERS` set it uses that
//! cluster; otherwise it starts a local single-node Kafka from the test bed.

use std::time::{Duration, Instant};

use kafka_admin::{Admin, AlterConfigOp, AlterConfigsOptions, ConfigResource};
use kafka_client::Client;
use kafka_client::share::{AcknowledgeType, AcknowledgementMode, ShareConsumer};

struct Args {
    topic: String,
    group: String,
    count: Option<u64>,
    ack: AcknowledgeType,
    from_beginning: bool,
}

fn usage() -> ! {
    eprintln!(
        "usage: share_consumer --topic T --group G [--count N] [--ack accept|release|reject] [--from-beginning]"
    );
    std::process::exit(2)
}

fn parse() -> Args {
    let mut args = std::env::args().skip(1);
    let (mut topic, mut group, mut count) = (None, None, None);
    let (mut ack, mut from_beginning) = (AcknowledgeType::Accept, false);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--topic" => topic = args.next(),
            "--group" => group = args.next(),
            "--count" => {
                count = Some(
                    args.next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or_else(|| usage()),
                )
            }
            "--ack" => {
                ack = match args.next().map(|a| a.parse::<AcknowledgeType>()) {
                    Some(Ok(k)) if k != AcknowledgeType::Renew => k,
                    _ => usage(),
                }
            }
            "--from-beginning" => from_beginning = true,
            _ => usage(),
        }
    }
    Args {
        topic: topic.unwrap_or_else(|| usage()),
        group: group.unwrap_or_else(|| usage()),
        count,
        ack,
        from_beginning,
    }
}

fn show(b: Option<&[u8]>) -> String {
    match b {
        None => "null".into(),
        Some(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse();
    let (bootstrap, _local_cluster) = kafka_testbed::bootstrap_or_start(1)?;
    eprintln!("bootstrap servers: {bootstrap}");
    let client = Client::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .build()?;
    if args.from_beginning {
        let set = AlterConfigOp::set("share.auto.offset.reset", "earliest");
        let res = Admin::new(client.clone())
            .incremental_alter_configs(
                [(ConfigResource::group(args.group.clone()), vec![set])],
                AlterConfigsOptions::default(),
            )
            .await?;
        for (_, outcome) in res {
            outcome?;
        }
    }
    let consumer = ShareConsumer::builder()
        .client(client)
        .group_id(args.group.clone())
        .acknowledgement_mode(AcknowledgementMode::Explicit)
        .build()?;
    consumer.subscribe([args.topic.clone()])?;
    let started = Instant::now();
    let mut last = Instant::now();
    let (mut records, mut redelivered) = (0u64, 0u64);
    'outer: loop {
        let batch = consumer.poll(Duration::from_millis(500)).await?;
        if !batch.is_empty() {
            last = Instant::now();
        } else if last.elapsed() > Duration::from_secs(5) {
            break;
        }
        for r in &batch {
            records += 1;
            if r.delivery_count > 1 {
                redelivered += 1;
            }
            println!(
                "{}:{}:{} delivery={} key={} value={}",
                r.topic,
                r.partition,
                r.offset,
                r.delivery_count,
                show(r.key.as_deref()),
                show(r.value.as_deref())
            );
            consumer.acknowledge(r, args.ack)?;
            if args.count.is_some_and(|n| records >= n) {
                break 'outer;
            }
        }
        for (tp, outcome) in consumer.commit().await? {
            if let Some(e) = outcome.error {
                eprintln!(
                    "acknowledgement of {} record(s) of {tp} failed: {e}",
                    outcome.offsets.len()
                );
            }
        }
    }
    consumer.close().await?;
    eprintln!(
        "{records} records ({redelivered} redeliveries) acknowledged as {:?} in {:.2} s",
        args.ack,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
