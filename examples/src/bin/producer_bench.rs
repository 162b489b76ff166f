//! Producer throughput benchmark: records/s, MB/s and client CPU-seconds per million
//! records (user + system time of this process, from `/proc/self/stat`).
//!
//! ```text
//! cargo run --release -p examples --bin producer_bench -- [--count N] [--size B]
//!     [--partitions P] [--batch-size B] [--linger-ms L] [--compression C] [--acks A]
//!     [--in-flight N] [--buffer-memory B] [--idempotent true|false] [--runs R]
//! ```
//!
//! Defaults: 2,000,000 records of 100 bytes (random, incompressible), acks=all, linger
//! 5 ms, batch.size 1 MiB, 5 requests in flight, 32 MiB buffer memory (Java's default),
//! idempotent, 6 partitions, 3 runs after a warm-up,
//! each on a fresh topic. Uses `KAFKA_BOOTSTRAP_SERVERS` or starts a 1-node test-bed
//! cluster. The clock stops at the last acknowledgement.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::Client;
use kafka_client::producer::{Acks, DeliveryFuture, Producer, ProducerRecord};
use kafka_client::records::Compression;

#[derive(Clone, Debug)]
struct Opts {
    count: usize,
    size: usize,
    partitions: i32,
    batch_size: usize,
    linger: Duration,
    compression: Compression,
    acks: Acks,
    in_flight: usize,
    buffer_memory: usize,
    idempotent: bool,
    runs: usize,
}

fn parse() -> Result<Opts, String> {
    let mut o = Opts {
        count: 2_000_000,
        size: 100,
        partitions: 6,
        batch_size: 1 << 20,
        linger: Duration::from_millis(5),
        compression: Compression::None,
        acks: Acks::All,
        in_flight: 5,
        buffer_memory: 32 << 20,
        idempotent: true,
        runs: 3,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let num = |v: &str| {
            v.parse::<usize>()
                .map_err(|_| format!("{flag} {v:?}: not a number"))
        };
        match flag.as_str() {
            "--count" => o.count = num(&v)?,
            "--size" => o.size = num(&v)?,
            "--partitions" => o.partitions = num(&v)? as i32,
            "--batch-size" => o.batch_size = num(&v)?,
            "--linger-ms" => o.linger = Duration::from_millis(num(&v)? as u64),
            "--compression" => o.compression = v.parse().map_err(|_| format!("bad codec {v}"))?,
            "--acks" => {
                o.acks = match v.as_str() {
                    "0" => Acks::None,
                    "1" => Acks::Leader,
                    "all" | "-1" => Acks::All,
                    _ => return Err(format!("bad acks {v}")),
                }
            }
            "--in-flight" => o.in_flight = num(&v)?,
            "--buffer-memory" => o.buffer_memory = num(&v)?,
            "--idempotent" => {
                o.idempotent = v
                    .parse()
                    .map_err(|_| format!("--idempotent {v:?}: true or false"))?
            }
            "--runs" => o.runs = num(&v)?,
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    Ok(o)
}

/// User + system CPU time of this process so far.
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after ')'.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_secs_f64(ticks as f64 / clock_ticks() as f64))
}

/// Clock ticks per second (`AT_CLKTCK` from the auxiliary vector), 100 if unknown.
fn clock_ticks() -> u64 {
    const AT_CLKTCK: u64 = 17;
    let Ok(auxv) = std::fs::read("/proc/self/auxv") else {
        return 100;
    };
    auxv.chunks_exact(16)
        .map(|c| {
            let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().unwrap_or([0; 8]));
            (word(&c[..8]), word(&c[8..]))
        })
        .find(|(k, _)| *k == AT_CLKTCK)
        .map_or(100, |(_, v)| v.max(1))
}

/// Peak resident set size in MiB.
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

struct RunResult {
    secs: f64,
    cpu: f64,
}

async fn run_once(
    client: &Client,
    o: &Opts,
    payload: &Bytes,
    run: usize,
) -> Result<RunResult, Box<dyn std::error::Error>> {
    let topic = format!("bench-{}-{run}", std::process::id());
    let admin = Admin::new(client.clone());
    admin
        .create_topics(
            [NewTopic::new(topic.as_str())
                .partitions(o.partitions)
                .replication_factor(1)],
            CreateTopicsOptions::default(),
        )
        .await?[topic.as_str()]
    .clone()?;
    loop {
        let m = client.refresh_topics(&[topic.as_str()]).await?;
        if m.topic(&topic)
            .is_some_and(|t| t.partitions.iter().all(|p| p.leader.is_some()))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let producer = Producer::builder()
        .client(client.clone())
        .acks(o.acks)
        .linger(o.linger)
        .batch_size(o.batch_size)
        .max_request_size((o.batch_size * 2).max(1 << 20))
        .buffer_memory(o.buffer_memory)
        .enable_idempotence(o.idempotent)
        .max_in_flight(o.in_flight)
        .compression(o.compression)
        .build()?;
    let topic: Arc<str> = topic.as_str().into();
    // Warm the topic's metadata and connection outside the clock.
    producer
        .send_and_wait(ProducerRecord::new(topic.clone()).with_value(payload.clone()))
        .await?;

    let cpu0 = cpu_time().unwrap_or_default();
    let t0 = Instant::now();
    // Delivery results are awaited by a second task as they come, in send order, so the
    // program holds only the futures of records not yet acknowledged (bounded by the
    // producer's buffer memory), as a Java callback or librdkafka's delivery report
    // would, instead of one future per record of the run.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<DeliveryFuture>();
    let outcomes = tokio::spawn(async move {
        let mut failed = 0usize;
        while let Some(f) = rx.recv().await {
            if f.await.is_err() {
                failed += 1;
            }
        }
        failed
    });
    for _ in 0..o.count {
        let f = producer
            .send(ProducerRecord::new(topic.clone()).with_value(payload.clone()))
            .await?;
        tx.send(f).map_err(|_| "the delivery task stopped")?;
    }
    drop(tx);
    let failed = outcomes.await?;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = (cpu_time().unwrap_or_default() - cpu0).as_secs_f64();
    producer.close(Duration::from_secs(30)).await?;
    admin
        .delete_topics([topic.to_string()], Default::default())
        .await
        .ok();
    if failed > 0 {
        return Err(format!("{failed} records failed").into());
    }
    Ok(RunResult { secs, cpu })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let o = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let (bootstrap, _cluster) = kafka_testbed::bootstrap_or_start(1)?;
    let client = Client::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .client_id("producer-bench")
        .api_timeout(Duration::from_secs(30))
        .build()?;
    // Incompressible payload (xorshift bytes).
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let payload = Bytes::from(
        (0..o.size)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect::<Vec<u8>>(),
    );
    println!("{o:?}");
    let warm = Opts {
        count: (o.count / 5).max(1),
        ..o.clone()
    };
    run_once(&client, &warm, &payload, 0).await?;
    let mut results = Vec::new();
    for run in 1..=o.runs {
        let r = run_once(&client, &o, &payload, run).await?;
        let rate = o.count as f64 / r.secs;
        println!(
            "run {run}: {:.0} records/s, {:.1} MB/s, {:.2} s, client CPU {:.2} s = {:.3} CPU-s per million records",
            rate,
            rate * o.size as f64 / 1e6,
            r.secs,
            r.cpu,
            r.cpu / (o.count as f64 / 1e6)
        );
        results.push(r);
    }
    let mut rates: Vec<f64> = results.iter().map(|r| o.count as f64 / r.secs).collect();
    let mut cpus: Vec<f64> = results
        .iter()
        .map(|r| r.cpu / (o.count as f64 / 1e6))
        .collect();
    rates.sort_by(f64::total_cmp);
    cpus.sort_by(f64::total_cmp);
    let median = |v: &[f64]| v[v.len() / 2];
    println!(
        "median of {}: {:.0} records/s ({:.0}..{:.0}), {:.1} MB/s, {:.3} CPU-s per million records ({:.3}..{:.3}), peak RSS {:.0} MiB",
        results.len(),
        median(&rates),
        rates[0],
        rates[rates.len() - 1],
        median(&rates) * o.size as f64 / 1e6,
        median(&cpus),
        cpus[0],
        cpus[cpus.len() - 1],
        peak_rss_mib().unwrap_or(0.0)
    );
    Ok(())
}
