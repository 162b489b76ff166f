//! Copies a topic exactly once: consume, transform (here: copy), produce, with the
//! consumer's offsets committed inside the same transaction.
//!
//! `cargo run -p examples --bin transactional_copy -- --input A --output B --group G
//!     [--transactional-id ID] [--transaction-timeout-ms MS] [--idle-exit-secs S]
//!     [--group-protocol classic|consumer]`
//!
//! Run several instances with the same `--group` (each with its own stable
//! `--transactional-id`, default `<group>-copier-<pid>`): the group spreads the input
//! partitions over them. Kill one and restart it with the same id: InitProducerId
//! aborts the transaction it left open, the group hands its partitions out again from
//! the last committed offsets, and a `read_committed` reader of the output sees every
//! input record exactly once. A member whose partitions moved while it was in a
//! transaction is refused by the group coordinator (its generation is stale): the
//! transaction aborts and it rewinds to the committed offsets. With
//! `--group-protocol consumer` (KIP-848) the group metadata sent with the offsets
//! carries the member epoch instead of a generation; the coordinator checks it the same
//! way.
//!
//! It stops after `--idle-exit-secs` without input (default: never). With
//! `KAFKA_BOOTSTRAP_SERVERS` set it uses that cluster; otherwise it starts a local
//! single-node Kafka from the test bed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kafka_client::consumer::{
    AutoOffsetReset, Consumer, GroupProtocol, IsolationLevel, OffsetAndMetadata, TopicPartition,
};
use kafka_client::producer::{Producer, ProducerRecord, TransactionalProducer};
use kafka_client::{Error, TransactionErrorKind};

struct Args {
    input: String,
    output: String,
    group: String,
    transactional_id: Option<String>,
    transaction_timeout: Duration,
    idle_exit: Option<Duration>,
    group_protocol: GroupProtocol,
}

fn usage() -> ! {
    eprintln!(
        "usage: transactional_copy --input A --output B --group G [--transactional-id ID] \
         [--transaction-timeout-ms MS] [--idle-exit-secs S] [--group-protocol classic|consumer]"
    );
    std::process::exit(2)
}

fn number(v: Option<String>) -> u64 {
    v.and_then(|n| n.parse().ok()).unwrap_or_else(|| usage())
}

fn parse() -> Args {
    let mut args = std::env::args().skip(1);
    let (mut input, mut output, mut group, mut id) = (None, None, None, None);
    let mut timeout = Duration::from_secs(60);
    let mut idle = None;
    let mut group_protocol = GroupProtocol::Classic;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--input" => input = args.next(),
            "--output" => output = args.next(),
            "--group" => group = args.next(),
            "--transactional-id" => id = args.next(),
            "--transaction-timeout-ms" => timeout = Duration::from_millis(number(args.next())),
            "--idle-exit-secs" => idle = Some(Duration::from_secs(number(args.next()))),
            "--group-protocol" => {
                group_protocol = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            _ => usage(),
        }
    }
    match (input, output, group) {
        (Some(input), Some(output), Some(group)) => Args {
            input,
            output,
            group,
            transactional_id: id,
            transaction_timeout: timeout,
            idle_exit: idle,
            group_protocol,
        },
        _ => usage(),
    }
}

#[tokio::main]
async fn main() {
    match run(parse()).await {
        Ok(()) => {}
        Err(e) => {
            eprintln!("transactional_copy: {e}");
            std::process::exit(1);
        }
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let (bootstrap, _local_cluster) = kafka_testbed::bootstrap_or_start(1)?;
    let id = args
        .transactional_id
        .clone()
        .unwrap_or_else(|| format!("{}-copier-{}", args.group, std::process::id()));
    let consumer = Consumer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .group_id(args.group.clone())
        .group_protocol(args.group_protocol)
        .enable_auto_commit(false)
        .isolation_level(IsolationLevel::ReadCommitted)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_secs(1))
        .build()?;
    consumer.subscribe([args.input.as_str()])?;
    let mut producer = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .transactional_id(id.clone())
        .transaction_timeout(args.transaction_timeout)
        .linger(Duration::from_millis(5))
        .build_transactional()
        .await?;
    eprintln!(
        "transactional_copy: {} -> {} as {id} in group {} ({} protocol, transaction protocol v{})",
        args.input,
        args.output,
        args.group,
        args.group_protocol.name(),
        if producer.uses_transaction_v2() { 2 } else { 1 }
    );

    let started = Instant::now();
    let (mut copied, mut transactions, mut aborted) = (0u64, 0u64, 0u64);
    let mut last_input = Instant::now();
    loop {
        let batch = consumer.poll(Duration::from_millis(500)).await?;
        let (records, errors) = batch.into_parts();
        if let Some(e) = errors.first() {
            return Err(format!("input partition error: {e:?}").into());
        }
        if records.is_empty() {
            if args.idle_exit.is_some_and(|d| last_input.elapsed() >= d) {
                break;
            }
            continue;
        }
        last_input = Instant::now();
        let Some(group) = consumer.group_metadata() else {
            return Err("the consumer is not in a group".into());
        };
        match copy_in_transaction(&mut producer, &args.output, &records, &group).await {
            Ok(()) => {
                copied += records.len() as u64;
                transactions += 1;
            }
            Err(e) if e.transaction_kind() == Some(TransactionErrorKind::Fatal) => {
                return Err(e.into());
            }
            Err(e) => {
                // Abortable (e.g. the group rebalanced: a stale generation) or outcome
                // unknown: the records of this batch go again from the committed offsets.
                aborted += 1;
                eprintln!("transactional_copy: transaction aborted ({e}); rewinding");
                consumer
                    .seek_to_committed(
                        records
                            .iter()
                            .map(|r| TopicPartition::new(r.topic.to_string(), r.partition)),
                    )
                    .await?;
            }
        }
    }
    eprintln!(
        "transactional_copy: copied {copied} records in {transactions} transactions ({aborted} aborted) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    consumer.close().await?;
    producer.close(Duration::from_secs(10)).await?;
    Ok(())
}

/// One transaction: the records, transformed, and the offsets after them.
async fn copy_in_transaction(
    producer: &mut TransactionalProducer,
    output: &str,
    records: &[kafka_client::consumer::ConsumerRecord],
    group: &kafka_client::consumer::GroupMetadata,
) -> Result<(), Error> {
    let txn = producer.begin().await?;
    let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for r in records {
        let mut out = ProducerRecord::new(output.to_string());
        if let Some(k) = &r.key {
            out = out.with_key(k.clone());
        }
        if let Some(v) = &r.value {
            out = out.with_value(v.clone());
        }
        out = out.with_headers(r.headers.iter().cloned());
        // The delivery futures are settled by the commit (it flushes first); a failed
        // record makes the commit abort.
        let _delivery = txn.send(out).await?;
        next.insert(
            TopicPartition::new(r.topic.to_string(), r.partition),
            r.offset + 1,
        );
    }
    let offsets = next
        .into_iter()
        .map(|(tp, o)| (tp, OffsetAndMetadata::new(o)));
    txn.send_offsets(offsets, group).await?;
    txn.commit().await
}
