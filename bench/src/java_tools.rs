//! Kafka's Java performance tools (`org.apache.kafka:kafka-tools`, the broker's
//! [`KAFKA_VERSION`](crate::broker::KAFKA_VERSION)): command lines with the benchmark's
//! settings, and parsers for what they print.
//!
//! The classpath is the test bed's (`kafka_testbed::jars::tools_classpath_for`, from
//! `integration-tests/testbed/tools-pom.xml`, cached as `tools-cp.txt`). The JVM gets the flags Kafka's own
//! `kafka-run-class.sh` gives the tools (`-Xmx256M`, G1 with 20 ms pauses).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::spec::{Percentiles, ProducerSettings};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The JVM flags of `kafka-run-class.sh` for the tools.
pub const JVM_FLAGS: &[&str] = &[
    "-Xmx256M",
    "-server",
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-Djava.awt.headless=true",
    "-Dlog4j2.level=WARN",
];

/// The tools' classpath for the broker's version, resolved and cached by the test bed
/// (`tools-cp.txt`).
pub fn classpath() -> Result<String, BoxError> {
    Ok(kafka_testbed::jars::tools_classpath_for(
        crate::broker::KAFKA_VERSION,
    )?)
}

/// A `java` command for `main_class` with the tools' classpath and flags.
pub fn java(cp: &str, main_class: &str) -> Result<Command, BoxError> {
    let mut c = Command::new(kafka_testbed::jars::java_binary()?);
    c.args(JVM_FLAGS).arg("-cp").arg(cp).arg(main_class);
    Ok(c)
}

/// The producer properties every Java run gets.
pub fn producer_props(bootstrap: &str, s: &ProducerSettings) -> Vec<String> {
    vec![
        format!("bootstrap.servers={bootstrap}"),
        "client.id=bench-java".into(),
        "acks=all".into(),
        format!("enable.idempotence={}", s.idempotence),
        format!("linger.ms={}", s.linger_ms),
        format!("batch.size={}", s.batch_bytes),
        format!("max.request.size={}", s.max_request_bytes),
        format!("max.in.flight.requests.per.connection={}", s.in_flight),
        format!("buffer.memory={}", s.buffer_bytes),
        format!("compression.type={}", s.codec.name()),
    ]
}

/// `ProducerPerformance` sending `records` values picked from `payload_file`.
pub fn producer_performance(
    cp: &str,
    bootstrap: &str,
    topic: &str,
    records: u64,
    payload_file: &Path,
    s: &ProducerSettings,
) -> Result<Command, BoxError> {
    let mut c = java(cp, "org.apache.kafka.tools.ProducerPerformance")?;
    c.args(["--topic", topic, "--num-records", &records.to_string()])
        .arg("--payload-file")
        .arg(payload_file)
        .args(["--throughput", "-1", "--producer-props"])
        .args(producer_props(bootstrap, s));
    Ok(c)
}

/// The consumer properties file for `ConsumerPerformance`: the same fetch sizes as the
/// other clients, CRC checks on (Java's default).
pub fn consumer_config_file(dir: &Path) -> Result<PathBuf, BoxError> {
    let path = dir.join("consumer.properties");
    std::fs::write(
        &path,
        "client.id=bench-java\ncheck.crcs=true\nmax.partition.fetch.bytes=1048576\n\
         fetch.max.bytes=52428800\nauto.offset.reset=earliest\nenable.auto.commit=false\n",
    )?;
    Ok(path)
}

/// `ConsumerPerformance` reading `records` records of `topic` (in a fresh group, from the
/// beginning).
pub fn consumer_performance(
    cp: &str,
    bootstrap: &str,
    topic: &str,
    records: u64,
    config: &Path,
) -> Result<Command, BoxError> {
    let mut c = java(cp, "org.apache.kafka.tools.ConsumerPerformance")?;
    c.args(["--bootstrap-server", bootstrap, "--topic", topic])
        .args(["--messages", &records.to_string(), "--timeout", "60000"])
        .arg("--consumer.config")
        .arg(config);
    Ok(c)
}

/// `EndToEndLatency`: one record at a time (linger 0, fetch.max.wait 0, as the tool sets).
pub fn end_to_end_latency(
    cp: &str,
    bootstrap: &str,
    topic: &str,
    records: u64,
    size: usize,
) -> Result<Command, BoxError> {
    let mut c = java(cp, "org.apache.kafka.tools.EndToEndLatency")?;
    c.args([
        bootstrap,
        topic,
        &records.to_string(),
        "all",
        &size.to_string(),
    ]);
    Ok(c)
}

/// From `ProducerPerformance`'s last line: (records, records/s).
///
/// `3000000 records sent, 612345.2 records/sec (58.40 MB/sec), 10.2 ms avg latency, ...`
pub fn parse_producer(out: &str) -> Option<(u64, f64)> {
    let line = out.lines().rev().find(|l| l.contains("records sent,"))?;
    let records = line.split_whitespace().next()?.parse().ok()?;
    let rate = line
        .split(',')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some((records, rate))
}

/// From `ConsumerPerformance`'s CSV line: (records, fetch seconds). The tool's fetch time
/// excludes the group join ("rebalance.time.ms").
///
/// `start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec,
/// rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec`
pub fn parse_consumer(out: &str) -> Option<(u64, f64)> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.split(',').count() >= 10 && !l.contains("start.time"))?;
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    let records = f.get(4)?.parse().ok()?;
    let fetch_ms: f64 = f.get(7)?.parse().ok()?;
    Some((records, fetch_ms / 1000.0))
}

/// From `EndToEndLatency`: the percentiles (the tool prints whole milliseconds, and the
/// average with decimals, which goes into `max_us`' place as `avg`... no: into a
/// separate value). Returns (percentiles, average µs).
pub fn parse_latency(out: &str) -> Option<(Percentiles, f64)> {
    let avg_ms: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("Avg latency:"))?
        .trim()
        .trim_end_matches("ms")
        .trim()
        .parse()
        .ok()?;
    let line = out.lines().find_map(|l| l.strip_prefix("Percentiles:"))?;
    let mut v = line.split(',').filter_map(|part| {
        part.split('=')
            .nth(1)
            .and_then(|x| x.trim().parse::<f64>().ok())
    });
    let (p50, p99, p999) = (v.next()?, v.next()?, v.next()?);
    Some((
        Percentiles {
            p50_us: p50 * 1000.0,
            p99_us: p99 * 1000.0,
            p999_us: p999 * 1000.0,
            max_us: 0.0, // not printed by the tool
            count: 0,
        },
        avg_ms * 1000.0,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_tools_output() {
        let p = "100 records sent, 50.0 records/sec\n3000000 records sent, 612345.2 records/sec (58.40 MB/sec), 10.2 ms avg latency, 300.0 ms max latency, 5 ms 50th, 20 ms 95th, 40 ms 99th, 60 ms 99.9th.\n";
        assert_eq!(parse_producer(p), Some((3_000_000, 612_345.2)));
        let c = "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec\n2025-01-01 00:00:00:000, 2025-01-01 00:00:05:000, 286.1, 57.2, 3000000, 600000.0, 3000, 2000, 143.0, 1500000.0\n";
        assert_eq!(parse_consumer(c), Some((3_000_000, 2.0)));
        let e = "0\t1.2\nAvg latency: 1.2345 ms\nPercentiles: 50th = 1, 99th = 3, 99.9th = 7\n";
        let (pc, avg) = parse_latency(e).unwrap();
        assert_eq!((pc.p50_us, pc.p99_us, pc.p999_us), (1000.0, 3000.0, 7000.0));
        assert!((avg - 1234.5).abs() < 1e-6);
    }
}
