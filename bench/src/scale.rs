//! `scale`: cost as the partition count grows (issue 24), with and without incremental
//! fetch sessions (issue 16). One broker; for each partition count (1, 100, 1,000,
//! 10,000 by default) one topic, created outside any clock, then:
//!
//! - **producer**: keyed records (an 8-byte counter as the key, spread uniformly by
//!   murmur2), the report's producer settings, idempotence on: records/s, CPU per
//!   record, peak RSS;
//! - **idle consumer**: one group member subscribes at the end of the topic (no record
//!   comes), waits for the whole assignment and polls the idle partitions for a few
//!   seconds; its resident memory then gives the **memory per idle partition**,
//!   (RSS at P − RSS at 1) ÷ (P − 1);
//! - **consumer**: one group member of a fresh group reads `records` records from the
//!   earliest offset: **time to first record** after `subscribe` (join, assignment,
//!   offset reset, first Fetch), records/s from the first record to the last, CPU per
//!   record, peak RSS, and the **Fetch requests and their bytes** as the broker counts
//!   them (JMX `RequestBytes` of `FetchConsumer`: the request bodies, so sessions show).
//!
//! Clients: ours (consumer with fetch sessions, and without: `fetch_sessions(false)`),
//! rust-rdkafka (librdkafka, which never uses fetch sessions) and krafka (the other
//! pure-Rust client, which always uses them), each run a child process pinned to the
//! client core, alternating. The broker gets a bigger heap and small
//! index files for 10,000 partitions (see [`SCALE_BROKER_PROPERTIES`]).
//!
//! Raw figures go to `bench/results/scale.json`; `docs/benchmarks.md` shows them (section
//! "Partition scaling") and `docs/benchmarks/scale.png` charts them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::BoxError;
use crate::broker::{BROKER_CORE, Broker, CLIENT_CORE, pin_process};
use crate::charts::{self, Line, Panel};
use crate::child;
use crate::java_tools;
use crate::jmx::RequestCounter;
use crate::spec::{ClientKind, Codec, Job, ProducerSettings};

/// Value size of the records.
pub(crate) const SIZE: usize = 100;
/// The broker's heap for `scale` (10,000 partitions' logs, indexes and fetch sessions).
pub const SCALE_HEAP: &str = "3g";
/// Broker settings of `scale`, beside [`crate::broker::BROKER_PROPERTIES`]: index files
/// of 1 MiB instead of 10 MiB (each partition maps two of them; 10,000 partitions would
/// map 200 GB of address space for nothing).
pub const SCALE_BROKER_PROPERTIES: &[(&str, &str)] = &[("log.index.size.max.bytes", "1048576")];

/// The clients of the scaling runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Who {
    /// This SDK (consumer with fetch sessions, the default).
    Ours,
    /// This SDK's consumer with `fetch_sessions(false)` (every Fetch full).
    OursNoSessions,
    /// rust-rdkafka (librdkafka).
    Rdkafka,
    /// krafka, the other pure-Rust client (always with fetch sessions).
    Krafka,
}

impl Who {
    /// The peers this SDK is compared with (issue 24: ahead of every peer at each point).
    pub(crate) const PEERS: [Who; 2] = [Who::Rdkafka, Who::Krafka];

    /// The label of tables and charts.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Who::Ours => "kafka-rs",
            Who::OursNoSessions => "kafka-rs, no fetch sessions",
            Who::Rdkafka => "rdkafka",
            Who::Krafka => "krafka",
        }
    }

    /// Whose client runs.
    pub(crate) fn kind(self) -> ClientKind {
        match self {
            Who::Ours | Who::OursNoSessions => ClientKind::Sdk,
            Who::Rdkafka => ClientKind::Rdkafka,
            Who::Krafka => ClientKind::Krafka,
        }
    }

    fn color(self) -> plotters::style::RGBColor {
        charts::scale_color(self.kind(), self == Who::OursNoSessions)
    }
}

/// Consumers measured (ours both ways, rdkafka, krafka).
pub(crate) const CONSUMERS: [Who; 4] = [Who::Ours, Who::OursNoSessions, Who::Rdkafka, Who::Krafka];
/// Producers measured (sessions are a consumer matter).
pub(crate) const PRODUCERS: [Who; 3] = [Who::Ours, Who::Rdkafka, Who::Krafka];

/// The workloads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Workload {
    /// Keyed producer.
    Produce,
    /// Group member at the end of the topic, idle.
    Idle,
    /// Group member reading from the earliest offset.
    Consume,
}

/// One measured run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// What ran.
    pub workload: Workload,
    /// Partitions of the topic.
    pub partitions: i32,
    /// Whose client.
    pub who: Who,
    /// Repeat (0-based).
    pub round: usize,
    /// Records produced or consumed (0 for idle runs).
    pub records: u64,
    /// Producer: first send to last acknowledgement; consumer: first record to last;
    /// idle: `subscribe` to the whole assignment.
    pub secs: f64,
    /// Consumer: `subscribe` to the first record.
    pub first_record_secs: Option<f64>,
    /// User + system CPU seconds of the process.
    pub cpu_secs: f64,
    /// Peak RSS of the process, MiB.
    pub peak_rss_mib: f64,
    /// Idle runs: resident memory at the end, MiB.
    pub rss_now_mib: Option<f64>,
    /// Consumer and idle runs: Fetch requests the broker answered.
    pub fetch_requests: Option<u64>,
    /// Consumer and idle runs: bytes of those requests (bodies, as the broker counts them).
    pub fetch_request_bytes: Option<f64>,
}

/// What `scale` saves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScaleResults {
    /// When the run started.
    pub date: String,
    /// CPU.
    pub machine: String,
    /// `uptime` before.
    pub load_before: String,
    /// `uptime` after.
    pub load_after: String,
    /// Kafka version of the broker.
    pub kafka: String,
    /// Records per producer and consumer run.
    pub records: u64,
    /// Repeats.
    pub repeats: usize,
    /// Seconds of idle polling in the idle runs.
    pub idle_secs: u64,
    /// Partition counts measured.
    pub partitions: Vec<i32>,
    /// Seconds to create each topic (with its leaders), by partition count.
    pub create_secs: Vec<(i32, f64)>,
    /// Every measured run.
    pub samples: Vec<Sample>,
    /// Runs that failed, with why (and partition counts not reached).
    pub failures: Vec<String>,
}

/// `bench/results/scale.json`.
pub fn results_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results/scale.json")
}

/// The command-line knobs.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Partition counts.
    pub partitions: Vec<i32>,
    /// Records per producer and consumer run.
    pub records: u64,
    /// Repeats.
    pub repeats: usize,
    /// Idle polling seconds.
    pub idle_secs: u64,
}

struct Bench {
    rt: tokio::runtime::Runtime,
    broker: Broker,
    jmx: RequestCounter,
    seq: usize,
    samples: Vec<Sample>,
    failures: Vec<String>,
}

impl Bench {
    fn group(&mut self) -> String {
        self.seq += 1;
        format!("bench-scale-{}-{}", std::process::id(), self.seq)
    }

    fn record(&mut self, label: String, outcome: Result<Sample, BoxError>) {
        match outcome {
            Ok(s) => {
                eprintln!(
                    "{label}: {:.0} rec/s, {:.2} CPU-s/M, peak {:.0} MiB{}{}{}",
                    s.records as f64 / s.secs.max(1e-9),
                    s.cpu_secs / (s.records.max(1) as f64 / 1e6),
                    s.peak_rss_mib,
                    s.first_record_secs
                        .map_or(String::new(), |x| format!(", first record {x:.2} s")),
                    s.rss_now_mib
                        .map_or(String::new(), |x| format!(", idle RSS {x:.1} MiB")),
                    s.fetch_request_bytes.zip(s.fetch_requests).map_or(
                        String::new(),
                        |(b, n)| format!(", {n} Fetch requests, {:.0} B each", b / n.max(1) as f64)
                    )
                );
                self.samples.push(s);
            }
            Err(e) => {
                eprintln!("{label}: FAILED: {e}");
                self.failures.push(format!("{label}: {e}"));
            }
        }
    }

    fn produce(&mut self, topic: &str, partitions: i32, who: Who, round: usize, records: u64) {
        let job = Job::ScaleProduce {
            bootstrap: self.broker.bootstrap.clone(),
            topic: topic.to_string(),
            records,
            size: SIZE,
            settings: ProducerSettings::standard(Codec::None, true),
        };
        let outcome = (|| -> Result<Sample, BoxError> {
            let f = child::run_pinned(
                &child::client_command(who.kind(), &job)?,
                Duration::from_secs(900),
            )?;
            let r = child::parse_report(&f)?;
            Ok(Sample {
                workload: Workload::Produce,
                partitions,
                who,
                round,
                records: r.records,
                secs: r.secs,
                first_record_secs: None,
                cpu_secs: f.usage.cpu_secs(),
                peak_rss_mib: f.usage.peak_rss_mib,
                rss_now_mib: None,
                fetch_requests: None,
                fetch_request_bytes: None,
            })
        })();
        self.record(
            format!("scale produce {partitions}p {} round {round}", who.label()),
            outcome,
        );
    }

    fn consume(
        &mut self,
        topic: &str,
        partitions: i32,
        who: Who,
        round: usize,
        records: u64,
        idle_secs: u64,
    ) {
        let job = Job::ScaleConsume {
            bootstrap: self.broker.bootstrap.clone(),
            topic: topic.to_string(),
            partitions,
            group: self.group(),
            records,
            sessions: who != Who::OursNoSessions,
            idle_secs,
        };
        let workload = if records == 0 {
            Workload::Idle
        } else {
            Workload::Consume
        };
        let outcome = (|| -> Result<Sample, BoxError> {
            let before = self.jmx.counts()?;
            let f = child::run_pinned(
                &child::client_command(who.kind(), &job)?,
                Duration::from_secs(900),
            )?;
            let after = self.jmx.counts()?;
            let r = child::parse_report(&f)?;
            Ok(Sample {
                workload,
                partitions,
                who,
                round,
                records: r.records,
                secs: r.secs,
                first_record_secs: r.first_record_secs,
                cpu_secs: f.usage.cpu_secs(),
                peak_rss_mib: f.usage.peak_rss_mib,
                rss_now_mib: r.rss_now_mib,
                fetch_requests: Some(after.fetch.saturating_sub(before.fetch)),
                fetch_request_bytes: Some(
                    (after.fetch_request_bytes - before.fetch_request_bytes).max(0.0),
                ),
            })
        })();
        self.record(
            format!(
                "scale {} {partitions}p {} round {round}",
                if records == 0 { "idle" } else { "consume" },
                who.label()
            ),
            outcome,
        );
    }
}

/// Runs the plan.
pub fn run(plan: &Plan) -> Result<ScaleResults, BoxError> {
    pin_process(std::process::id(), CLIENT_CORE)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let load_before = crate::run::uptime();
    eprintln!("load before: {load_before}");
    let date = crate::run::date();
    let broker = rt.block_on(Broker::start_sized(SCALE_BROKER_PROPERTIES, SCALE_HEAP))?;
    let cp = java_tools::classpath()?;
    let jmx = RequestCounter::start(broker.pid, &cp, BROKER_CORE)?;
    let mut b = Bench {
        rt,
        broker,
        jmx,
        seq: 0,
        samples: Vec::new(),
        failures: Vec::new(),
    };
    // One discarded producer run per client on a topic of its own first, so the broker's
    // JIT is warm before the first measured run (as the report's warm-up does): a cold
    // broker made the first client's first run up to 2× slower.
    let warm = format!("bench-scale-warmup-{}", std::process::id());
    if b.rt.block_on(b.broker.create_topic(&warm, 1)).is_ok() {
        for who in PRODUCERS {
            b.produce(&warm, 1, who, 0, plan.records);
        }
        b.rt.block_on(b.broker.delete_topics(&[warm]));
        b.samples.clear();
    }
    let mut create_secs = Vec::new();
    let mut reached = Vec::new();
    for &partitions in &plan.partitions {
        let topic = format!("bench-scale-{partitions}p-{}", std::process::id());
        let t = Instant::now();
        let created = b.rt.block_on(b.broker.create_topic_within(
            &topic,
            partitions,
            Duration::from_secs(600),
        ));
        if let Err(e) = created {
            eprintln!("scale {partitions}p: topic not created: {e}");
            b.failures
                .push(format!("{partitions} partitions: topic not created: {e}"));
            b.rt.block_on(b.broker.delete_topics(&[topic]));
            break;
        }
        let secs = t.elapsed().as_secs_f64();
        eprintln!("scale: created {topic} ({partitions} partitions) in {secs:.1} s");
        create_secs.push((partitions, secs));
        reached.push(partitions);
        // Idle members first, on the empty topic's end; then producers (which fill the
        // topic); then consumers from the earliest offset.
        for round in 0..plan.repeats {
            for who in CONSUMERS {
                b.consume(&topic, partitions, who, round, 0, plan.idle_secs);
            }
        }
        for round in 0..plan.repeats {
            for who in PRODUCERS {
                b.produce(&topic, partitions, who, round, plan.records);
            }
        }
        for round in 0..plan.repeats {
            for who in CONSUMERS {
                b.consume(&topic, partitions, who, round, plan.records, 0);
            }
        }
        b.rt.block_on(b.broker.delete_topics(&[topic]));
    }
    for p in plan.partitions.iter().filter(|p| !reached.contains(p)) {
        b.failures
            .push(format!("{p} partitions: not reached (see above)"));
    }
    let Bench {
        jmx,
        samples,
        failures,
        ..
    } = b;
    jmx.stop();
    Ok(ScaleResults {
        date,
        machine: crate::run::machine(),
        load_before,
        load_after: crate::run::uptime(),
        kafka: crate::broker::KAFKA_VERSION.to_string(),
        records: plan.records,
        repeats: plan.repeats,
        idle_secs: plan.idle_secs,
        partitions: reached,
        create_secs,
        samples,
        failures,
    })
}

/// Median of `xs` (NaN when empty).
fn median(mut xs: Vec<f64>) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// The medians of one (workload, partitions, client); NaN where there is no figure.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Point {
    /// Records/s (producer and consumer runs).
    pub(crate) rate: f64,
    /// CPU seconds per million records (producer and consumer runs).
    pub(crate) cpu_per_m: f64,
    /// Peak RSS, MiB.
    pub(crate) peak_rss: f64,
    /// Idle runs: resident memory at the end, MiB.
    pub(crate) idle_rss: f64,
    /// Consumer runs: `subscribe` to the first record, seconds.
    pub(crate) first_record: f64,
    /// Consumer and idle runs: Fetch requests the broker answered.
    pub(crate) fetches: f64,
    /// Consumer and idle runs: bytes of those requests.
    pub(crate) fetch_bytes: f64,
    /// Runs behind the medians (0: none, every figure NaN).
    pub(crate) runs: usize,
}

/// The medians of `who`'s `workload` runs at `partitions`.
pub(crate) fn point(r: &ScaleResults, workload: Workload, partitions: i32, who: Who) -> Point {
    let s: Vec<&Sample> = r
        .samples
        .iter()
        .filter(|s| s.workload == workload && s.partitions == partitions && s.who == who)
        .collect();
    let m = |f: &dyn Fn(&Sample) -> Option<f64>| median(s.iter().filter_map(|x| f(x)).collect());
    Point {
        rate: m(&|x| (x.records > 0).then(|| x.records as f64 / x.secs.max(1e-9))),
        cpu_per_m: m(&|x| (x.records > 0).then(|| x.cpu_secs / (x.records as f64 / 1e6))),
        peak_rss: m(&|x| Some(x.peak_rss_mib)),
        idle_rss: m(&|x| x.rss_now_mib),
        first_record: m(&|x| x.first_record_secs),
        fetches: m(&|x| x.fetch_requests.map(|n| n as f64)),
        fetch_bytes: m(&|x| x.fetch_request_bytes),
        runs: s.len(),
    }
}

/// KiB of resident memory per idle partition: (RSS at `partitions` − RSS at the smallest
/// count) ÷ the partitions added.
pub(crate) fn per_idle_partition_kib(r: &ScaleResults, partitions: i32, who: Who) -> f64 {
    let Some(&base) = r.partitions.iter().min() else {
        return f64::NAN;
    };
    if partitions <= base {
        return f64::NAN;
    }
    let a = point(r, Workload::Idle, base, who).idle_rss;
    let b = point(r, Workload::Idle, partitions, who).idle_rss;
    (b - a) * 1024.0 / f64::from(partitions - base)
}

fn cell(x: f64, digits: usize) -> String {
    if x.is_finite() {
        format!("{x:.digits$}")
    } else {
        "—".into()
    }
}

fn si(x: f64) -> String {
    if !x.is_finite() {
        "—".into()
    } else if x >= 1e6 {
        format!("{:.2} M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.0} k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

/// The saved figures (`bench/results/scale.json`), none if the benchmark has not been
/// run or the file does not parse.
pub(crate) fn load() -> Option<ScaleResults> {
    let text = std::fs::read_to_string(results_path()).ok()?;
    serde_json::from_str(&text).ok()
}

/// The best of [`Who::PEERS`] at `partitions` by `f` (higher is better), with its figure;
/// none if no peer has one.
fn best_peer(
    r: &ScaleResults,
    workload: Workload,
    partitions: i32,
    f: &dyn Fn(&Point) -> f64,
) -> Option<(Who, f64)> {
    Who::PEERS
        .iter()
        .map(|&w| (w, f(&point(r, workload, partitions, w))))
        .filter(|(_, x)| x.is_finite())
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

/// The "kafka-rs ÷ this client, records/s" cell: on a peer's row, our rate (with fetch
/// sessions) over the peer's; on our row, over the best peer's (named); empty on ours
/// without sessions.
fn versus(r: &ScaleResults, workload: Workload, partitions: i32, who: Who) -> String {
    let ours = point(r, workload, partitions, Who::Ours).rate;
    match who {
        Who::OursNoSessions => String::new(),
        Who::Ours => best_peer(r, workload, partitions, &|x| x.rate)
            .map_or(String::new(), |(w, best)| {
                format!("{}× (÷ {}, the best peer)", cell(ours / best, 2), w.label())
            }),
        _ => {
            let x = point(r, workload, partitions, who).rate;
            if (ours / x).is_finite() {
                format!("{:.2}×", ours / x)
            } else {
                "—".into()
            }
        }
    }
}

/// The "Partition scaling" section of `docs/benchmarks.md`, from the saved figures (none
/// if the benchmark has not been run).
pub fn section() -> Option<String> {
    let r = load()?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Partition scaling, with and without fetch sessions (issues 24 and 16)\n"
    );
    let _ = writeln!(
        out,
        "Generated by `cargo run --release --manifest-path bench/Cargo.toml -- scale` (raw \
         figures: `bench/results/scale.json`, chart `docs/benchmarks/scale.png`) on {}: one \
         Kafka {} node pinned to core 0 (heap {SCALE_HEAP}, the benchmark's broker settings \
         plus {}), each client run a child process pinned to core 1; {} records of {SIZE} B \
         per producer and consumer run, {} repeat{}, clients alternating, after one discarded producer run per client on a 1-partition topic (the broker warm). Machine: {}; load \
         before `{}`, after `{}` (a machine shared with other helpers' builds and clusters: \
         read the ratios between clients of one partition count, not the absolute figures). \
         Topic creation (outside every clock): {}.\n",
        r.date,
        r.kafka,
        SCALE_BROKER_PROPERTIES
            .iter()
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect::<Vec<_>>()
            .join(", "),
        r.records,
        r.repeats,
        if r.repeats == 1 { "" } else { "s" },
        r.machine,
        r.load_before,
        r.load_after,
        r.create_secs
            .iter()
            .map(|(p, s)| format!("{p} partitions {s:.1} s"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let _ = writeln!(
        out,
        "Clients: kafka-rs (this SDK) with fetch sessions and without them \
         (`fetch_sessions(false)`), rdkafka (librdkafka) and krafka 0.28.1 (the other \
         pure-Rust client). **Producer**: keyed records (an 8-byte counter as the key, murmur2 \
         for every client: rdkafka with `partitioner=murmur2_random`, krafka with its default \
         partitioner, which is Java's: murmur2 of the key, made positive, modulo the \
         partitions), the report's producer settings with idempotence on. **Consumer**: one \
         member of a fresh classic group subscribes and reads from the earliest offset; *first record* is the time from `subscribe` to the \
         first record (join, assignment, offset reset, first Fetch), records/s runs from the \
         first record to the last; CPU per record is the whole process's (join and offset \
         reset included). *Fetch requests* and *bytes per Fetch request* are the \
         broker's (JMX `RequestBytes` of `FetchConsumer`, request bodies) over the consumer \
         run. **Idle**: a member of a fresh group subscribes at the end of the topic, waits \
         for the whole assignment and polls for {} s; *KiB per idle partition* is (its RSS at \
         P − its RSS at {} partition{}) ÷ the partitions added; *CPU-s* is the whole run's; \
         its Fetch requests (the broker's count over the whole run, join included) are the steady state of fetch \
         sessions: long polls on partitions where nothing changes. librdkafka never uses fetch \
         sessions (every Fetch it sends is full, session epoch −1), so the like-for-like \
         row for it is ours without sessions. *kafka-rs ÷ this client* is our records/s \
         (with sessions) over the row's; on our row, over the best peer's. Medians.\n\n\
         krafka: it always uses fetch sessions (KIP-227; no setting turns them off), so its \
         like-for-like row is ours with sessions. Its group member is a classic one (its \
         default protocol; assignors range and cooperative-sticky, as Java's), and the idle \
         run waits until `Consumer::assignment()` holds every partition, as the others do. Its \
         consumer's prefetch bound counts records, not bytes: it gets as many records as 32 \
         MiB of {SIZE}-byte values (`max_buffered_records`), with `fetch_max_wait` 500 ms, 1 \
         MiB per partition and 50 MiB per Fetch, as in the report. Its producer keeps at most \
         one batch in flight per partition (no setting changes it): with 1 partition it has \
         one Produce request out at a time where the others have up to five.\n",
        r.idle_secs,
        r.partitions.iter().min().copied().unwrap_or(1),
        if r.partitions.iter().min() == Some(&1) {
            ""
        } else {
            "s"
        }
    );
    let base = r.partitions.iter().min().copied().unwrap_or(1);
    let _ = writeln!(
        out,
        "### Producer\n\n| partitions | client | records/s | ÷ own rate at {base} p | CPU-s per M records | peak RSS MiB | kafka-rs ÷ this client, records/s |\n|---|---|---|---|---|---|---|"
    );
    for &p in &r.partitions {
        for who in PRODUCERS {
            let x = point(&r, Workload::Produce, p, who);
            if x.runs == 0 {
                continue;
            }
            let own_base = point(&r, Workload::Produce, base, who).rate;
            let vs = versus(&r, Workload::Produce, p, who);
            let _ = writeln!(
                out,
                "| {p} | {} | {} | {} | {} | {} | {vs} |",
                who.label(),
                si(x.rate),
                cell(x.rate / own_base, 2),
                cell(x.cpu_per_m, 2),
                cell(x.peak_rss, 0),
            );
        }
    }
    let _ = writeln!(
        out,
        "\n### Consumer\n\n| partitions | client | first record s | records/s | ÷ own rate at {base} p | kafka-rs ÷ this client, records/s | CPU-s per M records | peak RSS MiB | Fetch requests | bytes per Fetch request | Fetch request bytes per 1,000 records |\n|---|---|---|---|---|---|---|---|---|---|---|"
    );
    for &p in &r.partitions {
        for who in CONSUMERS {
            let x = point(&r, Workload::Consume, p, who);
            if x.runs == 0 {
                continue;
            }
            let own_base = point(&r, Workload::Consume, base, who).rate;
            let _ = writeln!(
                out,
                "| {p} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                who.label(),
                cell(x.first_record, 2),
                si(x.rate),
                cell(x.rate / own_base, 2),
                versus(&r, Workload::Consume, p, who),
                cell(x.cpu_per_m, 2),
                cell(x.peak_rss, 0),
                cell(x.fetches, 0),
                si(x.fetch_bytes / x.fetches),
                si(x.fetch_bytes / (r.records as f64 / 1000.0)),
            );
        }
    }
    let _ = writeln!(
        out,
        "\n### Idle member\n\n| partitions | client | time to whole assignment s | RSS MiB | KiB per idle partition | CPU-s | Fetch requests | bytes per Fetch request |\n|---|---|---|---|---|---|---|---|"
    );
    for &p in &r.partitions {
        for who in CONSUMERS {
            let s: Vec<&Sample> = r
                .samples
                .iter()
                .filter(|s| s.workload == Workload::Idle && s.partitions == p && s.who == who)
                .collect();
            if s.is_empty() {
                continue;
            }
            let x = point(&r, Workload::Idle, p, who);
            let _ = writeln!(
                out,
                "| {p} | {} | {} | {} | {} | {} | {} | {} |",
                who.label(),
                cell(median(s.iter().map(|x| x.secs).collect()), 2),
                cell(x.idle_rss, 1),
                cell(per_idle_partition_kib(&r, p, who), 2),
                cell(median(s.iter().map(|x| x.cpu_secs).collect()), 2),
                cell(x.fetches, 0),
                si(x.fetch_bytes / x.fetches),
            );
        }
    }
    let _ = writeln!(out, "\n![partition scaling](benchmarks/scale.png)");
    if !r.failures.is_empty() {
        let _ = writeln!(out, "\nRuns that failed or were not reached:\n");
        for f in &r.failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    Some(out)
}

/// `docs/benchmarks/scale.png`: each figure against the partition count, every client a
/// line.
pub fn chart(r: &ScaleResults, dir: &Path) -> Result<(), BoxError> {
    let lines = |workload: Workload, whos: &[Who], f: &dyn Fn(i32, Who) -> f64| -> Vec<Line> {
        whos.iter()
            .map(|&who| {
                let pts = r
                    .partitions
                    .iter()
                    .map(|&p| (f64::from(p), f(p, who)))
                    .filter(|(_, y)| y.is_finite())
                    .collect();
                let label = match (workload, who) {
                    (Workload::Produce, Who::Ours) => "kafka-rs".to_string(),
                    _ => who.label().to_string(),
                };
                (label, who.color(), pts)
            })
            .collect()
    };
    let panels: Vec<Panel> = vec![
        (
            "producer records/s".into(),
            "records/s".into(),
            lines(Workload::Produce, &PRODUCERS, &|p, w| {
                point(r, Workload::Produce, p, w).rate
            }),
        ),
        (
            "consumer records/s (first record to last)".into(),
            "records/s".into(),
            lines(Workload::Consume, &CONSUMERS, &|p, w| {
                point(r, Workload::Consume, p, w).rate
            }),
        ),
        (
            "producer CPU-s per M records".into(),
            "CPU-s".into(),
            lines(Workload::Produce, &PRODUCERS, &|p, w| {
                point(r, Workload::Produce, p, w).cpu_per_m
            }),
        ),
        (
            "consumer CPU-s per M records".into(),
            "CPU-s".into(),
            lines(Workload::Consume, &CONSUMERS, &|p, w| {
                point(r, Workload::Consume, p, w).cpu_per_m
            }),
        ),
        (
            "producer peak RSS".into(),
            "MiB".into(),
            lines(Workload::Produce, &PRODUCERS, &|p, w| {
                point(r, Workload::Produce, p, w).peak_rss
            }),
        ),
        (
            "idle member RSS".into(),
            "MiB".into(),
            lines(Workload::Idle, &CONSUMERS, &|p, w| {
                point(r, Workload::Idle, p, w).idle_rss
            }),
        ),
        (
            "consumer: time to first record after subscribe".into(),
            "seconds".into(),
            lines(Workload::Consume, &CONSUMERS, &|p, w| {
                point(r, Workload::Consume, p, w).first_record
            }),
        ),
        (
            "consumer: bytes per Fetch request (broker's count)".into(),
            "bytes".into(),
            lines(Workload::Consume, &CONSUMERS, &|p, w| {
                let x = point(r, Workload::Consume, p, w);
                x.fetch_bytes / x.fetches
            }),
        ),
    ];
    charts::partition_lines(&dir.join("scale.png"), &panels)
}
