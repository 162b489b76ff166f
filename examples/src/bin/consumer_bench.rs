//! Consumer benchmark: drains a pre-filled topic of 100-byte records with direct
//! assignment and reports records/s, MB/s, client CPU-seconds per million records (user
//! and system time of this process from `/proc/self/stat`, during the drain only) and
//! peak RSS.
//!
//! `cargo run --release -p examples --bin consumer_bench -- [--records N] [--partitions P] [--codec none|lz4|zstd|...] [--runs R]`
//!
//! The topic is filled by `kcat` (a separate process, not counted) with unique
//! incompressible-ish 100-byte values. With `KAFKA_BOOTSTRAP_SERVERS` set it uses that
//! cluster; otherwise it starts a local single-node Kafka from the test bed.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::Client;
use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
        .unwrap_or_else(|| default.to_string())
}

/// (user + system CPU seconds) of this process.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 (index 11 and 12 after the name).
    (ticks(11) + ticks(12)) / clock_ticks()
}

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn fill(bootstrap: &str, topic: &str, codec: &str, records: usize, partitions: i32) {
    let mut child = Command::new("kcat")
        .args(["-b", bootstrap, "-P", "-t", topic, "-z", codec])
        .args(["-X", "linger.ms=50", "-X", "batch.num.messages=10000"])
        .args([
            "-X",
            "queue.buffering.max.messages=2000000",
            "-X",
            "partitioner=random",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("kcat (Debian package) fills the topic");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut buf = Vec::with_capacity(records * 101);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..records {
        let head = format!("{i:012}-");
        buf.extend_from_slice(head.as_bytes());
        for _ in head.len()..100 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            buf.push(b'a' + (x % 26) as u8);
        }
        buf.push(b'\n');
    }
    stdin.write_all(&buf).expect("write to kcat");
    drop(stdin);
    assert!(child.wait().expect("kcat").success(), "kcat failed");
    let _ = partitions;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let records: usize = arg("--records", "1000000").parse()?;
    let partitions: i32 = arg("--partitions", "1").parse()?;
    let codec = arg("--codec", "none");
    let runs: usize = arg("--runs", "3").parse()?;
    let (bootstrap, _cluster) = kafka_testbed::bootstrap_or_start(1)?;
    let client = Client::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .build()?;
    let topic = format!("consumer-bench-{}-{}", std::process::id(), partitions);
    Admin::new(client.clone())
        .create_topics(
            [NewTopic::new(&topic)
                .partitions(partitions)
                .replication_factor(1)],
            CreateTopicsOptions::default(),
        )
        .await?[&topic]
        .clone()?;
    while client
        .refresh_topics(&[&topic])
        .await?
        .topic(&topic)
        .is_none_or(|t| t.partitions.iter().any(|p| p.leader.is_none()))
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t = Instant::now();
    fill(&bootstrap, &topic, &codec, records, partitions);
    eprintln!(
        "filled {topic} with {records} x 100 B ({codec}) in {:.1} s",
        t.elapsed().as_secs_f64()
    );

    println!("run,records,seconds,records_per_s,MB_per_s,cpu_s,cpu_s_per_million,peak_rss_MiB");
    for run in 0..=runs {
        let consumer = Consumer::builder()
            .client(client.clone())
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .build()?;
        consumer.assign((0..partitions).map(|p| TopicPartition::new(topic.clone(), p)))?;
        let cpu0 = cpu_seconds();
        let t0 = Instant::now();
        let (mut n, mut bytes) = (0usize, 0usize);
        while n < records {
            let batch = consumer.poll(Duration::from_secs(10)).await?;
            if let Some(e) = batch.errors().first() {
                return Err(e.clone().into_error().into());
            }
            if batch.is_empty() {
                return Err(format!("stalled at {n} of {records}").into());
            }
            for r in batch.records() {
                bytes += r.value.as_ref().map_or(0, |v| v.len());
            }
            n += batch.len();
        }
        let secs = t0.elapsed().as_secs_f64();
        let cpu = cpu_seconds() - cpu0;
        consumer.close().await?;
        let label = if run == 0 {
            "warmup".to_string()
        } else {
            run.to_string()
        };
        println!(
            "{label},{n},{secs:.3},{:.0},{:.1},{cpu:.2},{:.3},{:.0}",
            n as f64 / secs,
            bytes as f64 / 1e6 / secs,
            cpu / (n as f64 / 1e6),
            peak_rss_mib()
        );
    }
    Ok(())
}
