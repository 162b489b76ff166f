//! `share`: share-group consumption (KIP-932, issue 18). Our `ShareConsumer` against
//! Kafka's Java `ShareConsumerPerformance` (`kafka-tools`, `KafkaShareConsumer`), 1 and 3
//! members, on the same pre-filled one-partition topic of 100 B records, each run in a
//! fresh share group that reads from the earliest offset (`share.auto.offset.reset`),
//! each run a child process pinned to the client core, alternating ours / Java.
//!
//! Measured as the Java tool measures: the clock starts before `subscribe` (the group
//! join and the first acquisition are inside it) and stops at the last record of the
//! `records` asked for; implicit acknowledgement (every record of a poll accepted on the
//! next poll); the members of one run share one process (Java: `--threads M`, ours: `M`
//! `ShareConsumer`s in one runtime). Equal settings: the tool forces `check.crcs=false`,
//! so ours gets `check_crcs(false)`; `fetch.max.bytes` 50 MiB for both (the tool's
//! `--fetch-size`, ours the default); `max.poll.records` 500 for both (defaults). CPU and
//! peak RSS come from the kernel (`wait4`, `VmHWM`); a one-record run of each client in a
//! fresh group gives its fixed cost (the JVM's start, the join), shown and taken out of
//! the CPU per record.
//!
//! Raw figures go to `bench/results/share.json`; `docs/benchmarks.md` shows them
//! (section "Share groups") whenever it is rendered.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kafka_client::share::{AcknowledgementMode, ShareConsumer};
use serde::{Deserialize, Serialize};

use crate::BoxError;
use crate::broker::{Broker, CLIENT_CORE, pin_process};
use crate::child;
use crate::java_tools;
use crate::spec::{ChildReport, ClientKind, Codec, Job, ProducerSettings};

/// Value size of the records.
const SIZE: usize = 100;
/// Member counts measured.
const MEMBERS: [usize; 2] = [1, 3];
/// Fetch bytes per request for both clients (Java's `fetch.max.bytes` default).
const FETCH_MAX_BYTES: i32 = 50 << 20;

/// Whose share consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Who {
    /// This SDK's `ShareConsumer`.
    Ours,
    /// Java's `KafkaShareConsumer` through `ShareConsumerPerformance`.
    Java,
}

impl Who {
    fn label(self) -> &'static str {
        match self {
            Who::Ours => "kafka-rs",
            Who::Java => "Java",
        }
    }
}

/// One measured run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// Whose consumer.
    pub who: Who,
    /// Members in the group (all in the one process).
    pub members: usize,
    /// Repeat (0-based).
    pub round: usize,
    /// Records consumed.
    pub records: u64,
    /// Seconds from before `subscribe` to the last record.
    pub secs: f64,
    /// User + system CPU seconds of the process.
    pub cpu_secs: f64,
    /// Peak RSS of the process, MiB.
    pub peak_rss_mib: f64,
}

/// What `share` saves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShareResults {
    /// When the run started.
    pub date: String,
    /// CPU.
    pub machine: String,
    /// `uptime` before.
    pub load_before: String,
    /// `uptime` after.
    pub load_after: String,
    /// Kafka version of the broker and the tool.
    pub kafka: String,
    /// Records per run.
    pub records: u64,
    /// Repeats per client and member count.
    pub repeats: usize,
    /// CPU seconds of a one-record run (fixed cost), per client.
    pub fixed_cpu_secs: Vec<(Who, f64)>,
    /// Every measured run.
    pub samples: Vec<Sample>,
    /// Runs that failed, with why.
    pub failures: Vec<String>,
}

/// `bench/results/share.json`.
pub fn results_path() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/share.json")
}

/// Our side, in a client child process: `members` share consumers in one runtime
/// consume until `records` records came (implicit acknowledgement), then close.
pub async fn ours(
    bootstrap: &str,
    topic: &str,
    group: &str,
    members: usize,
    records: u64,
) -> Result<ChildReport, BoxError> {
    let consumers: Vec<ShareConsumer> = (0..members)
        .map(|_| {
            ShareConsumer::builder()
                .bootstrap_servers([bootstrap])
                .group_id(group)
                .acknowledgement_mode(AcknowledgementMode::Implicit)
                .fetch_max_bytes(FETCH_MAX_BYTES)
                .check_crcs(false)
                .build()
        })
        .collect::<Result<_, _>>()?;
    let seen = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    for c in &consumers {
        c.subscribe([topic])?;
    }
    let tasks: Vec<_> = consumers
        .into_iter()
        .map(|c| tokio::spawn(member(c, seen.clone(), bytes.clone(), records)))
        .collect();
    let mut done = Vec::new();
    for t in tasks {
        done.push(t.await??);
    }
    // The clock stops at the last record, as the tool's does (its loop ends there).
    let end = done
        .iter()
        .map(|(_, at)| *at)
        .max()
        .unwrap_or_else(Instant::now);
    let secs = end.duration_since(t0).as_secs_f64();
    for (c, _) in done {
        c.close().await?;
    }
    Ok(ChildReport {
        records: seen.load(Ordering::Relaxed),
        bytes: bytes.load(Ordering::Relaxed),
        secs,
        ..ChildReport::default()
    })
}

/// One member's loop: polls (implicit acknowledgement) until the members together have
/// `records` records; gives back the consumer and the time of its last record.
async fn member(
    c: ShareConsumer,
    seen: Arc<AtomicU64>,
    bytes: Arc<AtomicU64>,
    records: u64,
) -> Result<(ShareConsumer, Instant), BoxError> {
    let mut last = Instant::now();
    while seen.load(Ordering::Relaxed) < records {
        let batch = c.poll(Duration::from_millis(100)).await?;
        if batch.is_empty() {
            if last.elapsed() > Duration::from_secs(30) {
                return Err("no record for 30 s".into());
            }
            continue;
        }
        last = Instant::now();
        let b: u64 = batch
            .iter()
            .map(|r| r.value.as_ref().map_or(0, |v| v.len() as u64))
            .sum();
        bytes.fetch_add(b, Ordering::Relaxed);
        seen.fetch_add(batch.len() as u64, Ordering::Relaxed);
    }
    Ok((c, last))
}

/// `ShareConsumerPerformance` with `members` threads in group `group`.
fn java_command(
    cp: &str,
    bootstrap: &str,
    topic: &str,
    group: &str,
    members: usize,
    records: u64,
) -> Result<std::process::Command, BoxError> {
    let mut c = java_tools::java(cp, "org.apache.kafka.tools.ShareConsumerPerformance")?;
    c.args([
        "--bootstrap-server",
        bootstrap,
        "--topic",
        topic,
        "--group",
        group,
    ])
    .args(["--num-records", &records.to_string()])
    .args(["--threads", &members.to_string()])
    .args(["--fetch-size", &FETCH_MAX_BYTES.to_string()])
    .args(["--timeout", "30000"]);
    Ok(c)
}

/// From `ShareConsumerPerformance`'s last line: (records, seconds).
///
/// `start.time, end.time, data.consumed.in.MB, MB.sec, nMsg.sec, data.consumed.in.nMsg,
/// fetch.time.ms`
pub fn parse_java(out: &str) -> Option<(u64, f64)> {
    let line = out
        .lines()
        .rev()
        .find(|l| l.split(',').count() == 7 && !l.contains("start.time"))?;
    let f: Vec<&str> = line.split(',').map(str::trim).collect();
    let records = f.get(5)?.parse().ok()?;
    let ms: f64 = f.get(6)?.parse().ok()?;
    Some((records, ms / 1000.0))
}

struct Bench {
    rt: tokio::runtime::Runtime,
    broker: Broker,
    cp: String,
    topic: String,
    seq: usize,
}

impl Bench {
    fn one(&mut self, who: Who, members: usize, records: u64) -> Result<Sample, BoxError> {
        self.seq += 1;
        let group = format!("bench-share-{}-{}", std::process::id(), self.seq);
        self.rt
            .block_on(self.broker.share_group_from_earliest(&group))?;
        let limit = Duration::from_secs(600);
        let (n, secs, f) = match who {
            Who::Java => {
                let cmd = java_command(
                    &self.cp,
                    &self.broker.bootstrap,
                    &self.topic,
                    &group,
                    members,
                    records,
                )?;
                let f = child::run_pinned(&cmd, limit)?;
                let (n, secs) = parse_java(&f.stdout).ok_or_else(|| {
                    format!(
                        "ShareConsumerPerformance printed no result: {}",
                        child::tail(&f.stderr, 15)
                    )
                })?;
                (n, secs, f)
            }
            Who::Ours => {
                let job = Job::ShareConsume {
                    bootstrap: self.broker.bootstrap.clone(),
                    topic: self.topic.clone(),
                    group,
                    members,
                    records,
                };
                let f = child::run_pinned(&child::client_command(ClientKind::Sdk, &job)?, limit)?;
                let r = child::parse_report(&f)?;
                (r.records, r.secs, f)
            }
        };
        if n < records {
            return Err(format!("only {n} of {records} records").into());
        }
        Ok(Sample {
            who,
            members,
            round: 0,
            records: n,
            secs,
            cpu_secs: f.usage.cpu_secs(),
            peak_rss_mib: f.usage.peak_rss_mib,
        })
    }
}

/// Runs the benchmark: a one-record run of each client (fixed cost), then `repeats`
/// rounds of (1 member, 3 members) × (ours, Java).
pub fn run(records: u64, repeats: usize) -> Result<ShareResults, BoxError> {
    pin_process(std::process::id(), CLIENT_CORE)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let load_before = crate::run::uptime();
    eprintln!("load before: {load_before}");
    let date = crate::run::date();
    let broker = rt.block_on(Broker::start())?;
    let cp = java_tools::classpath()?;
    let topic = format!("bench-share-{}", std::process::id());
    rt.block_on(broker.create_topic(&topic, 1))?;
    let t = Instant::now();
    // The fill is not measured: rdkafka from this process, as the report's consumer rows.
    crate::rdkafka_client::produce(
        &broker.bootstrap,
        &topic,
        records,
        SIZE,
        &ProducerSettings::standard(Codec::None, false),
    )?;
    eprintln!(
        "filled {topic} with {records} records of {SIZE} B in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let mut b = Bench {
        rt,
        broker,
        cp,
        topic,
        seq: 0,
    };
    let mut fixed = Vec::new();
    let mut failures = Vec::new();
    for who in [Who::Ours, Who::Java] {
        match b.one(who, 1, 1) {
            Ok(s) => {
                eprintln!("share fixed cost {}: {:.2} CPU-s", who.label(), s.cpu_secs);
                fixed.push((who, s.cpu_secs));
            }
            Err(e) => failures.push(format!("fixed cost {}: {e}", who.label())),
        }
    }
    let mut samples = Vec::new();
    for round in 0..repeats {
        for members in MEMBERS {
            for who in [Who::Ours, Who::Java] {
                let label = format!("share {} × {members} round {round}", who.label());
                match b.one(who, members, records) {
                    Ok(mut s) => {
                        s.round = round;
                        eprintln!(
                            "{label}: {:.0} rec/s, {:.2} CPU-s/M, {:.0} MiB",
                            s.records as f64 / s.secs,
                            s.cpu_secs / (s.records as f64 / 1e6),
                            s.peak_rss_mib
                        );
                        samples.push(s);
                    }
                    Err(e) => {
                        eprintln!("{label}: FAILED: {e}");
                        failures.push(format!("{label}: {e}"));
                    }
                }
            }
        }
    }
    let Bench {
        rt, broker, topic, ..
    } = b;
    rt.block_on(broker.delete_topics(&[topic]));
    Ok(ShareResults {
        date,
        machine: crate::run::machine(),
        load_before,
        load_after: crate::run::uptime(),
        kafka: crate::broker::KAFKA_VERSION.to_string(),
        records,
        repeats,
        fixed_cpu_secs: fixed,
        samples,
        failures,
    })
}

/// Median, min and max.
fn stats(mut xs: Vec<f64>) -> Option<(f64, f64, f64)> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let median = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    };
    Some((median, xs[0], xs[n - 1]))
}

/// The "Share groups" section of `docs/benchmarks.md`, from the saved figures (none if
/// the benchmark has not been run).
pub fn section() -> Option<String> {
    let text = std::fs::read_to_string(results_path()).ok()?;
    let r: ShareResults = serde_json::from_str(&text).ok()?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Share groups (KIP-932): ours vs Java's `ShareConsumerPerformance`\n"
    );
    let _ = writeln!(
        out,
        "Generated by `cargo run --release --manifest-path bench/Cargo.toml -- share` (raw \
         figures: `bench/results/share.json`) on {}: one Kafka {} node (pinned to core 0, the \
         benchmark's broker settings), a one-partition topic pre-filled with {} records of \
         {SIZE} B; each run a fresh share group from the earliest offset, its members in one \
         process pinned to core 1 (Java: `ShareConsumerPerformance --threads M`, \
         `KafkaShareConsumer` {}; ours: M `ShareConsumer`s in one tokio runtime); {} repeat{}, \
         ours and Java alternating. Machine: {}; load before `{}`, after `{}` (shared with \
         other helpers' builds and clusters: compare the ratios, not the absolute figures).\n",
        r.date,
        r.kafka,
        r.records,
        r.kafka,
        r.repeats,
        if r.repeats == 1 { "" } else { "s" },
        r.machine,
        r.load_before,
        r.load_after
    );
    let _ = writeln!(
        out,
        "Clock as the Java tool's: from before `subscribe` (group join and first acquisition \
         inside) to the last record; implicit acknowledgement; `check.crcs=false` for both (the \
         tool forces it), `fetch.max.bytes` 50 MiB and `max.poll.records` 500 for both. CPU per \
         record is net of each client's fixed cost (a one-record run in a fresh group: {}). \
         Median [min–max].\n",
        r.fixed_cpu_secs
            .iter()
            .map(|(w, c)| format!("{} {c:.2} CPU-s", w.label()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "| members | client | records/s | CPU-s per M records (net) | peak RSS MiB | kafka-rs ÷ Java, records/s | kafka-rs ÷ Java, CPU per record |\n|---|---|---|---|---|---|---|"
    );
    let fixed = |w: Who| {
        r.fixed_cpu_secs
            .iter()
            .find(|(x, _)| *x == w)
            .map_or(0.0, |(_, c)| *c)
    };
    let fmt = |x: Option<(f64, f64, f64)>, digits: usize| -> String {
        x.map_or_else(
            || "—".into(),
            |(m, lo, hi)| format!("{m:.digits$} [{lo:.digits$}–{hi:.digits$}]"),
        )
    };
    for members in MEMBERS {
        let mut med: Vec<(f64, f64)> = Vec::new();
        for who in [Who::Ours, Who::Java] {
            let s: Vec<&Sample> = r
                .samples
                .iter()
                .filter(|s| s.who == who && s.members == members)
                .collect();
            let rate = stats(s.iter().map(|x| x.records as f64 / x.secs).collect());
            let cpu = stats(
                s.iter()
                    .map(|x| (x.cpu_secs - fixed(who)).max(0.0) / (x.records as f64 / 1e6))
                    .collect(),
            );
            let rss = stats(s.iter().map(|x| x.peak_rss_mib).collect());
            med.push((
                rate.map_or(f64::NAN, |x| x.0),
                cpu.map_or(f64::NAN, |x| x.0),
            ));
            let ratios = if who == Who::Java && med.len() == 2 {
                format!("{:.2}× | {:.2}×", med[0].0 / med[1].0, med[0].1 / med[1].1)
            } else {
                " | ".into()
            };
            let _ = writeln!(
                out,
                "| {members} | {} | {} | {} | {} | {ratios} |",
                who.label(),
                fmt(rate, 0),
                fmt(cpu, 2),
                fmt(rss, 0),
            );
        }
    }
    if !r.failures.is_empty() {
        let _ = writeln!(out, "\nRuns that failed:\n");
        for f in &r.failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_tools_last_line() {
        let out = "start.time, end.time, data.consumed.in.MB, MB.sec, nMsg.sec, data.consumed.in.nMsg, fetch.time.ms\n\
                   2026-12-06 14:00:00:000, 2026-12-06 14:00:04:000, 95.3674, 23.8419, 250000.0000, 1000000, 4000\n";
        assert_eq!(parse_java(out), Some((1_000_000, 4.0)));
        assert_eq!(parse_java("nothing useful\n"), None);
    }
}
