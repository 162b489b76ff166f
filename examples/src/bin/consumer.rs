//! Reads a topic and prints each record, then a throughput summary.
//!
//! `cargo run -p examples --bin consumer -- --topic T [--group G] [--count N] [--from-beginning]
//!     [--format raw|json] [--group-protocol classic|consumer] [--group-remote-assignor A]`
//!
//! `--format json` parses each value as JSON through a `kafka_serde::TypedConsumer`
//! (`JsonSerde<serde_json::Value>`) and prints it compactly; a record whose value is not
//! JSON (a poison record) is reported on stderr with its partition, offset and raw
//! bytes, and consumption goes on.
//!
//! Without `--group` it assigns itself every partition of the topic; with it, it joins
//! the group (committing as it goes), with the classic group protocol or, with
//! `--group-protocol consumer`, KIP-848's (the coordinator assigns, with
//! `--group-remote-assignor uniform|range`). It stops after `--count` records, or after 5 s
//! without any. With `KAFKA_BOOTSTRAP_SERVERS` set it uses that cluster; otherwise it
//! starts a local single-node Kafka from the test bed.

use std::time::{Duration, Instant};

use kafka_client::consumer::{AutoOffsetReset, Consumer, GroupProtocol, TopicPartition};
use kafka_serde::{JsonSerde, Nullable, StringSerde, TypedConsumer};

struct Args {
    topic: String,
    group: Option<String>,
    count: Option<u64>,
    from_beginning: bool,
    json: bool,
    group_protocol: GroupProtocol,
    remote_assignor: Option<String>,
}

fn usage() -> ! {
    eprintln!(
        "usage: consumer --topic T [--group G] [--count N] [--from-beginning] [--format raw|json] \
         [--group-protocol classic|consumer] [--group-remote-assignor uniform|range]"
    );
    std::process::exit(2)
}

fn parse() -> Args {
    let mut args = std::env::args().skip(1);
    let (mut topic, mut group, mut count, mut from_beginning) = (None, None, None, false);
    let mut json = false;
    let (mut group_protocol, mut remote_assignor) = (GroupProtocol::Classic, None);
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
            "--from-beginning" => from_beginning = true,
            "--format" => match args.next().as_deref() {
                Some("raw") => json = false,
                Some("json") => json = true,
                _ => usage(),
            },
            "--group-protocol" => {
                group_protocol = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--group-remote-assignor" => {
                remote_assignor = Some(args.next().unwrap_or_else(|| usage()))
            }
            _ => usage(),
        }
    }
    Args {
        topic: topic.unwrap_or_else(|| usage()),
        group,
        count,
        from_beginning,
        json,
        group_protocol,
        remote_assignor,
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
    let mut builder = Consumer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .auto_offset_reset(if args.from_beginning {
            AutoOffsetReset::Earliest
        } else {
            AutoOffsetReset::Latest
        });
    if let Some(g) = &args.group {
        builder = builder
            .group_id(g.clone())
            .group_protocol(args.group_protocol);
    }
    if let Some(a) = &args.remote_assignor {
        builder = builder.group_remote_assignor(a.clone());
    }
    let consumer = builder.build()?;
    match &args.group {
        Some(_) => consumer.subscribe([args.topic.clone()])?,
        None => {
            let t = consumer.client().topic(&args.topic).await?;
            consumer.assign(
                t.partitions
                    .iter()
                    .map(|p| TopicPartition::new(args.topic.clone(), p.partition)),
            )?;
        }
    }
    let typed: TypedConsumer<Option<String>, serde_json::Value> =
        TypedConsumer::new(consumer.clone(), Nullable(StringSerde), JsonSerde::new());
    let started = Instant::now();
    let (mut records, mut bytes, mut poison) = (0u64, 0u64, 0u64);
    let mut last = Instant::now();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    'outer: loop {
        let batch = consumer.poll(Duration::from_millis(500)).await?;
        for e in batch.errors() {
            eprintln!("error on {}: {}", e.topic_partition, e.error);
        }
        if !batch.is_empty() {
            last = Instant::now();
        } else if last.elapsed() > Duration::from_secs(5) {
            break;
        }
        for r in batch.records() {
            use std::io::Write;
            records += 1;
            bytes += r.value.as_ref().map_or(0, |v| v.len() as u64);
            if args.json {
                match typed.deserialize(r.clone()) {
                    Ok(t) => writeln!(
                        out,
                        "{}:{}:{} key={} value={}",
                        t.topic,
                        t.partition,
                        t.offset,
                        t.key.as_deref().unwrap_or("null"),
                        t.value
                    )?,
                    Err(e) => {
                        poison += 1;
                        eprintln!(
                            "poison record {}:{}:{} ({}): raw value {:?}",
                            e.topic(),
                            e.partition(),
                            e.offset(),
                            e.error,
                            show(e.value_bytes().map(|b| &b[..]))
                        );
                    }
                }
                if args.count.is_some_and(|n| records >= n) {
                    break 'outer;
                }
                continue;
            }
            writeln!(
                out,
                "{}:{}:{} key={} value={}",
                r.topic,
                r.partition,
                r.offset,
                show(r.key.as_deref()),
                show(r.value.as_deref())
            )?;
            if args.count.is_some_and(|n| records >= n) {
                break 'outer;
            }
        }
    }
    drop(out);
    let secs = started.elapsed().as_secs_f64();
    consumer.close().await?;
    if args.json {
        eprintln!("{poison} poison record(s) (not JSON) reported and skipped");
    }
    eprintln!(
        "consumed {records} records ({:.2} MB of values) in {secs:.2} s: {:.0} records/s, {:.2} MB/s",
        bytes as f64 / 1e6,
        records as f64 / secs,
        bytes as f64 / 1e6 / secs
    );
    Ok(())
}
