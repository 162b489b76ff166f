//! The report run: one broker, every workload, every client, alternating A B C D A B C D and
//! repeating; each run in its own child process pinned to the client core.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use kafka_client::records::{BatchBuilder, BatchMeta, Compression};

use crate::broker::{BROKER_CORE, Broker, CLIENT_CORE, pin_process};
use crate::child::{self, Finished};
use crate::java_tools;
use crate::jmx::{Counts, RequestCounter};
use crate::payload;
use crate::rdkafka_client;
use crate::results::{Config, Kind, Results, Sample};
use crate::spec::{ClientKind, Codec, Job, ProducerSettings};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How big and how often.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Smoke-test sizes.
    pub quick: bool,
    /// Repeats per configuration and client.
    pub repeats: usize,
    /// Repeats of the latency runs (issue 24 asks for the p99's spread over 5).
    pub latency_repeats: usize,
    /// Producer (and consumer) records per run for 100 B values; 1 KiB gets the same bytes.
    pub records_100b: u64,
    /// Fixed-rate latency: seconds measured, seconds of warm-up.
    pub latency_secs: (u64, u64),
    /// Sequential latency: records per run.
    pub sequential_records: u64,
    /// Null broker: records per run.
    pub null_records: u64,
    /// Only the consumer rows (after the warm-up): for before/after runs by hand.
    pub consumers_only: bool,
    /// Only the producer and consumer rows of this codec, every client (no latency or
    /// null-broker rows): to measure one codec again after a change (`report --codec`).
    pub only_codec: Option<Codec>,
}

impl Plan {
    /// The full run (5 repeats, about 27 minutes on 2 cores) or the quick smoke test.
    pub fn new(quick: bool, repeats: Option<usize>) -> Self {
        if quick {
            Plan {
                quick,
                repeats: repeats.unwrap_or(1),
                latency_repeats: repeats.unwrap_or(1),
                records_100b: 200_000,
                latency_secs: (3, 1),
                sequential_records: 300,
                null_records: 1_000_000,
                consumers_only: false,
                only_codec: None,
            }
        } else {
            Plan {
                quick,
                repeats: repeats.unwrap_or(5),
                latency_repeats: repeats.unwrap_or(5).max(5),
                records_100b: 3_000_000,
                latency_secs: (10, 2),
                sequential_records: 3_000,
                null_records: 10_000_000,
                consumers_only: false,
                only_codec: None,
            }
        }
    }

    /// Records per run for values of `size` bytes (equal bytes across sizes).
    pub fn records(&self, size: usize) -> u64 {
        (self.records_100b * 100 / size as u64).max(1000)
    }

    /// The producer configurations: the matrix with idempotence on (where the
    /// client has it), then the like-for-like rows with idempotence off for everyone.
    pub fn produce_configs(&self) -> Vec<Config> {
        let mut v = Vec::new();
        for size in [100, 1024] {
            for partitions in [1, 6] {
                for codec in [Codec::None, Codec::Lz4] {
                    v.push(Config {
                        size,
                        partitions,
                        codec,
                        idempotence: true,
                    });
                }
            }
            // zstd and gzip (issue 24): one partition, for the price of each codec.
            for codec in [Codec::Zstd, Codec::Gzip] {
                v.push(Config {
                    size,
                    partitions: 1,
                    codec,
                    idempotence: true,
                });
            }
        }
        for partitions in [1, 6] {
            v.push(Config {
                size: 100,
                partitions,
                codec: Codec::None,
                idempotence: false,
            });
        }
        if let Some(only) = self.only_codec {
            v.retain(|c| c.codec == only);
        }
        v
    }

    /// The consumer configurations (idempotence does not apply: always false).
    pub fn consume_configs(&self) -> Vec<Config> {
        self.produce_configs()
            .into_iter()
            .filter(|c| c.idempotence)
            .map(|c| Config {
                idempotence: false,
                ..c
            })
            .collect()
    }
}

/// The configuration of the headline comparisons and the latency runs: the issue's
/// settings (idempotence on for every client).
pub const HEADLINE: Config = Config {
    size: 100,
    partitions: 1,
    codec: Codec::None,
    idempotence: true,
};

struct Harness {
    rt: tokio::runtime::Runtime,
    broker: Broker,
    jmx: RequestCounter,
    cp: String,
    dir: PathBuf,
    seq: usize,
    results: Results,
}

pub(crate) fn uptime() -> String {
    Command::new("uptime")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

pub(crate) fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_else(|| "unknown CPU".into());
    // Not `available_parallelism`: the harness has pinned itself to one core by now.
    let cores = cpuinfo
        .lines()
        .filter(|l| l.starts_with("processor"))
        .count();
    format!("{cores} × {model}")
}

pub(crate) fn date() -> String {
    Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

/// lz4 ratio of the payload pool, with the SDK's codec, on a 1 MiB batch.
fn lz4_ratio(size: usize) -> f64 {
    let pool = payload::pool(size);
    let build = |c: Compression| -> usize {
        let mut b = BatchBuilder::new(c, 1 << 20);
        for (i, v) in pool.iter().cycle().enumerate() {
            if !b.try_append(i as i64, None, Some(v), &[]).unwrap_or(false) {
                break;
            }
        }
        b.finish(&BatchMeta::default()).map_or(1, |x| x.len())
    };
    build(Compression::None) as f64 / build(Compression::Lz4).max(1) as f64
}

/// Runs everything and returns the results.
pub fn run(plan: &Plan) -> Result<Results, BoxError> {
    let started = Instant::now();
    // The harness itself stays off the broker's core (its children are pinned anyway).
    pin_process(std::process::id(), CLIENT_CORE)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let load_before = uptime();
    eprintln!("load before: {load_before}");
    eprintln!("starting the broker (pinned to core {BROKER_CORE}) ...");
    let broker = rt.block_on(Broker::start())?;
    let cp = java_tools::classpath()?;
    let jmx = RequestCounter::start(broker.pid, &cp, BROKER_CORE)?;
    let dir = std::env::temp_dir().join(format!("kafka-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    for size in [100, 1024] {
        std::fs::write(payload_path(&dir, size), payload::payload_file_text(size))?;
    }
    java_tools::consumer_config_file(&dir)?;
    let mut h = Harness {
        rt,
        broker,
        jmx,
        cp,
        dir,
        seq: 0,
        results: Results {
            date: date(),
            quick: plan.quick,
            repeats: plan.repeats,
            load_before,
            machine: machine(),
            produce_records: vec![(100, plan.records(100)), (1024, plan.records(1024))],
            lz4_ratio: vec![(100, lz4_ratio(100)), (1024, lz4_ratio(1024))],
            kafka: crate::broker::KAFKA_VERSION.to_string(),
            ..Results::default()
        },
    };
    let outcome = h.all(plan);
    if let Err(e) = &outcome {
        h.results.failures.push(format!("run aborted: {e}"));
    }
    h.results.load_after = uptime();
    h.results.minutes = started.elapsed().as_secs_f64() / 60.0;
    let Harness {
        results, jmx, dir, ..
    } = h;
    jmx.stop();
    let _ = std::fs::remove_dir_all(dir);
    outcome.map(|()| results)
}

fn payload_path(dir: &Path, size: usize) -> PathBuf {
    dir.join(format!("payload-{size}.txt"))
}

impl Harness {
    fn all(&mut self, plan: &Plan) -> Result<(), BoxError> {
        self.java_startup()?;
        self.warm_up(plan)?;
        if plan.consumers_only {
            let t = Instant::now();
            self.consumers(plan)?;
            eprintln!(
                "consumers done in {:.1} min",
                t.elapsed().as_secs_f64() / 60.0
            );
            return Ok(());
        }
        let t = Instant::now();
        for round in 0..plan.repeats {
            for config in plan.produce_configs() {
                for client in ClientKind::ALL {
                    self.produce(plan, config, client, round, Kind::Produce);
                }
            }
        }
        eprintln!(
            "producers done in {:.1} min",
            t.elapsed().as_secs_f64() / 60.0
        );
        if plan.only_codec.is_some() {
            return self.consumers(plan);
        }
        for round in 0..plan.repeats {
            self.null_broker(plan, round);
        }
        let t = Instant::now();
        self.consumers(plan)?;
        eprintln!(
            "consumers done in {:.1} min",
            t.elapsed().as_secs_f64() / 60.0
        );
        let t = Instant::now();
        self.latency(plan)?;
        eprintln!(
            "latency done in {:.1} min",
            t.elapsed().as_secs_f64() / 60.0
        );
        Ok(())
    }

    fn topic(&mut self, what: &str) -> String {
        self.seq += 1;
        format!("bench-{what}-{}", self.seq)
    }

    fn counts(&self) -> Counts {
        self.jmx.counts().unwrap_or_default()
    }

    /// The JVM's fixed cost: each tool with one record.
    fn java_startup(&mut self) -> Result<(), BoxError> {
        let topic = self.topic("jvm");
        self.rt.block_on(self.broker.create_topic(&topic, 1))?;
        let s = ProducerSettings::standard(Codec::None, true);
        let cmd = java_tools::producer_performance(
            &self.cp,
            &self.broker.bootstrap,
            &topic,
            1,
            &payload_path(&self.dir, 100),
            &s,
        )?;
        let p = child::run_pinned(&cmd, Duration::from_secs(120))?;
        let cfg = self.dir.join("consumer.properties");
        let cmd =
            java_tools::consumer_performance(&self.cp, &self.broker.bootstrap, &topic, 1, &cfg)?;
        let c = child::run_pinned(&cmd, Duration::from_secs(120))?;
        self.results.java_startup.produce_cpu_secs = p.usage.cpu_secs();
        self.results.java_startup.consume_cpu_secs = c.usage.cpu_secs();
        eprintln!(
            "JVM fixed cost: ProducerPerformance {:.2} CPU-s, ConsumerPerformance {:.2} CPU-s",
            p.usage.cpu_secs(),
            c.usage.cpu_secs()
        );
        self.rt.block_on(self.broker.delete_topics(&[topic]));
        Ok(())
    }

    /// One short run per client, discarded: warms the broker's JIT and page cache.
    fn warm_up(&mut self, plan: &Plan) -> Result<(), BoxError> {
        let warm = Plan {
            records_100b: plan.records_100b / 4,
            ..plan.clone()
        };
        for client in ClientKind::ALL {
            self.produce(&warm, HEADLINE, client, usize::MAX, Kind::Produce);
        }
        self.results.samples.retain(|s| s.round != usize::MAX);
        self.results.failures.clear();
        Ok(())
    }

    /// One producer run on a fresh topic.
    fn produce(
        &mut self,
        plan: &Plan,
        config: Config,
        client: ClientKind,
        round: usize,
        kind: Kind,
    ) {
        let records = plan.records(config.size);
        let topic = self.topic("produce");
        let label = format!(
            "produce {} {} round {round}",
            config.label(),
            client.label()
        );
        match self.produce_inner(&topic, records, config, client, round, kind) {
            Ok(sample) => {
                eprintln!(
                    "{label}: {:.0} rec/s, {:.2} CPU-s/M, {:.0} MiB, {:.0} rec/req",
                    sample.rate(),
                    sample.cpu_secs / (sample.records as f64 / 1e6),
                    sample.peak_rss_mib,
                    sample.records_per_request().unwrap_or(f64::NAN)
                );
                self.results.samples.push(sample);
            }
            Err(e) => {
                eprintln!("{label}: FAILED: {e}");
                self.results.failures.push(format!("{label}: {e}"));
            }
        }
        self.rt.block_on(self.broker.delete_topics(&[topic]));
    }

    fn produce_inner(
        &mut self,
        topic: &str,
        records: u64,
        config: Config,
        client: ClientKind,
        round: usize,
        kind: Kind,
    ) -> Result<Sample, BoxError> {
        self.rt
            .block_on(self.broker.create_topic(topic, config.partitions))?;
        let idempotence = config.idempotence;
        let settings = ProducerSettings::standard(config.codec, idempotence);
        let before = self.counts();
        let limit = Duration::from_secs(300);
        let (records, secs, finished, report) = match client {
            ClientKind::Java => {
                let cmd = java_tools::producer_performance(
                    &self.cp,
                    &self.broker.bootstrap,
                    topic,
                    records,
                    &payload_path(&self.dir, config.size),
                    &settings,
                )?;
                let f = child::run_pinned(&cmd, limit)?;
                let (n, rate) = java_tools::parse_producer(&f.stdout).ok_or_else(|| {
                    format!(
                        "ProducerPerformance printed no total: {}",
                        child::tail(&f.stderr, 15)
                    )
                })?;
                (n, n as f64 / rate, f, None)
            }
            _ => {
                let job = Job::Produce {
                    bootstrap: self.broker.bootstrap.clone(),
                    topic: topic.to_string(),
                    records,
                    size: config.size,
                    settings,
                };
                let f = child::run_pinned(&child::client_command(client, &job)?, limit)?;
                let r = child::parse_report(&f)?;
                (r.records, r.secs, f, Some(r))
            }
        };
        let after = self.counts();
        // The Rust clients send one record before the clock starts.
        let expected = records + u64::from(client != ClientKind::Java);
        let landed = self
            .rt
            .block_on(self.broker.records_in(topic, config.partitions))?;
        let errors = expected.saturating_sub(landed) + report.as_ref().map_or(0, |r| r.errors);
        let mut s = sample(
            kind,
            config,
            client,
            round,
            idempotence,
            records,
            secs,
            &finished,
            report,
            Some(after.produce.saturating_sub(before.produce)),
            errors,
        );
        s.request_bytes =
            Some((after.produce_request_bytes - before.produce_request_bytes).max(0.0));
        Ok(s)
    }

    fn null_broker(&mut self, plan: &Plan, round: usize) {
        let config = HEADLINE;
        let job = Job::NullBroker {
            records: plan.null_records,
            size: config.size,
            partitions: config.partitions,
            handle: crate::spec::Handle::Bytes,
            keyed: false,
            codec: config.codec,
        };
        let run = || -> Result<Sample, BoxError> {
            let f = child::run_pinned(
                &child::client_command(ClientKind::Sdk, &job)?,
                Duration::from_secs(300),
            )?;
            let r = child::parse_report(&f)?;
            let requests = r.requests;
            let mut s = sample(
                Kind::NullBroker,
                config,
                ClientKind::Sdk,
                round,
                false,
                r.records,
                r.secs,
                &f,
                Some(r.clone()),
                requests,
                r.errors,
            );
            // The sink's thread is in the same process: count the client's threads only.
            s.cpu_secs = r.client_cpu_secs.unwrap_or(s.cpu_secs);
            Ok(s)
        };
        match run() {
            Ok(s) => {
                eprintln!(
                    "null broker round {round}: {:.0} rec/s, {:.3} allocs/record",
                    s.rate(),
                    s.allocs_per_record.unwrap_or(f64::NAN)
                );
                self.results.samples.push(s);
            }
            Err(e) => {
                eprintln!("null broker round {round}: FAILED: {e}");
                self.results
                    .failures
                    .push(format!("null broker round {round}: {e}"));
            }
        }
    }

    /// Fills one topic per consumer configuration (with rdkafka, from this process, not
    /// measured), then drains each with every client in turn.
    fn consumers(&mut self, plan: &Plan) -> Result<(), BoxError> {
        let mut topics = Vec::new();
        for config in plan.consume_configs() {
            let topic = self.topic("consume");
            self.rt
                .block_on(self.broker.create_topic(&topic, config.partitions))?;
            let records = plan.records(config.size);
            let t = Instant::now();
            let settings = ProducerSettings::standard(config.codec, false);
            rdkafka_client::produce(
                &self.broker.bootstrap,
                &topic,
                records,
                config.size,
                &settings,
            )?;
            eprintln!(
                "filled {topic} ({}) with {records} records in {:.1} s",
                config.label(),
                t.elapsed().as_secs_f64()
            );
            topics.push((config, topic, records));
        }
        for round in 0..plan.repeats {
            for (config, topic, records) in &topics {
                for client in ClientKind::ALL {
                    let label = format!(
                        "consume {} {} round {round}",
                        config.label(),
                        client.label()
                    );
                    match self.consume(topic, *records, *config, client, round) {
                        Ok(s) => {
                            eprintln!(
                                "{label}: {:.0} rec/s, {:.2} CPU-s/M, {:.0} MiB",
                                s.rate(),
                                s.cpu_secs / (s.records as f64 / 1e6),
                                s.peak_rss_mib
                            );
                            self.results.samples.push(s);
                        }
                        Err(e) => {
                            eprintln!("{label}: FAILED: {e}");
                            self.results.failures.push(format!("{label}: {e}"));
                        }
                    }
                }
            }
        }
        let names: Vec<String> = topics.into_iter().map(|(_, t, _)| t).collect();
        self.rt.block_on(self.broker.delete_topics(&names));
        Ok(())
    }

    fn consume(
        &mut self,
        topic: &str,
        records: u64,
        config: Config,
        client: ClientKind,
        round: usize,
    ) -> Result<Sample, BoxError> {
        let before = self.counts();
        let limit = Duration::from_secs(300);
        let (n, secs, f, report) = match client {
            ClientKind::Java => {
                let cfg = self.dir.join("consumer.properties");
                let cmd = java_tools::consumer_performance(
                    &self.cp,
                    &self.broker.bootstrap,
                    topic,
                    records,
                    &cfg,
                )?;
                let f = child::run_pinned(&cmd, limit)?;
                let (n, secs) = java_tools::parse_consumer(&f.stdout).ok_or_else(|| {
                    format!(
                        "ConsumerPerformance printed no result: {}",
                        child::tail(&f.stderr, 15)
                    )
                })?;
                (n, secs, f, None)
            }
            _ => {
                let job = Job::Consume {
                    bootstrap: self.broker.bootstrap.clone(),
                    topic: topic.to_string(),
                    partitions: config.partitions,
                    records,
                    size: config.size,
                };
                let f = child::run_pinned(&child::client_command(client, &job)?, limit)?;
                let r = child::parse_report(&f)?;
                (r.records, r.secs, f, Some(r))
            }
        };
        let after = self.counts();
        let errors = records.saturating_sub(n);
        Ok(sample(
            Kind::Consume,
            config,
            client,
            round,
            false,
            n,
            secs,
            &f,
            report,
            Some(after.fetch.saturating_sub(before.fetch)),
            errors,
        ))
    }

    /// Fixed-rate end-to-end latency (ours and rdkafka: Java's tool has no fixed-rate
    /// mode) at half the slowest client's producer rate, then the one-at-a-time method
    /// for all three.
    fn latency(&mut self, plan: &Plan) -> Result<(), BoxError> {
        // The rate of the earlier reports: krafka, which has no latency job, stays out.
        let slowest = [ClientKind::Sdk, ClientKind::Rdkafka, ClientKind::Java]
            .iter()
            .filter_map(|c| {
                self.results
                    .summary(Kind::Produce, HEADLINE, *c)
                    .rate
                    .map(|s| s.median)
            })
            .fold(f64::INFINITY, f64::min);
        let rate = if slowest.is_finite() {
            (slowest / 2.0).round() as u64
        } else {
            100_000
        };
        let (secs, warm) = plan.latency_secs;
        self.results.latency_rate = rate;
        self.results.latency_records = (rate * secs, rate * warm);
        self.results.sequential_records = plan.sequential_records;
        self.results.latency_repeats = plan.latency_repeats;
        eprintln!("fixed rate for latency: {rate} records/s");
        for round in 0..plan.latency_repeats {
            for client in [ClientKind::Sdk, ClientKind::Rdkafka] {
                self.latency_run(client, round, rate, rate * secs, rate * warm);
            }
        }
        // krafka has no latency job (its producer and consumer rows only).
        for round in 0..plan.latency_repeats {
            for client in [ClientKind::Sdk, ClientKind::Rdkafka, ClientKind::Java] {
                let warm = plan.sequential_records / 10;
                self.latency_run(client, round, 0, plan.sequential_records, warm);
            }
        }
        Ok(())
    }

    fn latency_run(
        &mut self,
        client: ClientKind,
        round: usize,
        rate: u64,
        records: u64,
        warmup: u64,
    ) {
        let kind = if rate == 0 {
            Kind::LatencySequential
        } else {
            Kind::LatencyFixed
        };
        let config = HEADLINE;
        let topic = self.topic("latency");
        let label = format!("{kind:?} {} round {round}", client.label());
        let bootstrap = self.broker.bootstrap.clone();
        let run = |h: &mut Harness| -> Result<Sample, BoxError> {
            h.rt.block_on(h.broker.create_topic(&topic, 1))?;
            let mut settings = ProducerSettings::standard(config.codec, config.idempotence);
            if rate == 0 {
                // As EndToEndLatency sets it.
                settings.linger_ms = 0;
            }
            let limit = Duration::from_secs(300);
            match client {
                ClientKind::Java => {
                    let cmd = java_tools::end_to_end_latency(
                        &h.cp,
                        &bootstrap,
                        &topic,
                        records,
                        config.size,
                    )?;
                    let f = child::run_pinned(&cmd, limit)?;
                    let (p, avg) = java_tools::parse_latency(&f.stdout).ok_or_else(|| {
                        format!(
                            "EndToEndLatency printed no percentiles: {}",
                            child::tail(&f.stderr, 15)
                        )
                    })?;
                    let mut s = sample(
                        kind,
                        config,
                        client,
                        round,
                        false,
                        records,
                        f.usage.wall_secs,
                        &f,
                        None,
                        None,
                        0,
                    );
                    s.latency = Some(p);
                    s.latency_avg_us = Some(avg);
                    Ok(s)
                }
                _ => {
                    let job = Job::Latency {
                        bootstrap: bootstrap.clone(),
                        topic: topic.clone(),
                        rate,
                        records,
                        warmup,
                        size: config.size,
                        settings,
                    };
                    let f = child::run_pinned(&child::client_command(client, &job)?, limit)?;
                    let r = child::parse_report(&f)?;
                    Ok(sample(
                        kind,
                        config,
                        client,
                        round,
                        false,
                        r.records,
                        r.secs,
                        &f,
                        Some(r),
                        None,
                        0,
                    ))
                }
            }
        };
        match run(self) {
            Ok(s) => {
                let l = s.latency.unwrap_or_default();
                eprintln!(
                    "{label}: p50 {:.0} µs, p99 {:.0} µs, p99.9 {:.0} µs",
                    l.p50_us, l.p99_us, l.p999_us
                );
                self.results.samples.push(s);
            }
            Err(e) => {
                eprintln!("{label}: FAILED: {e}");
                self.results.failures.push(format!("{label}: {e}"));
            }
        }
        self.rt.block_on(self.broker.delete_topics(&[topic]));
    }
}

#[allow(clippy::too_many_arguments)]
fn sample(
    kind: Kind,
    config: Config,
    client: ClientKind,
    round: usize,
    idempotence: bool,
    records: u64,
    secs: f64,
    f: &Finished,
    report: Option<crate::spec::ChildReport>,
    requests: Option<u64>,
    errors: u64,
) -> Sample {
    Sample {
        kind,
        config,
        client,
        round,
        idempotence,
        records,
        secs,
        cpu_secs: f.usage.cpu_secs(),
        peak_rss_mib: f.usage.peak_rss_mib,
        requests,
        allocs_per_record: report.as_ref().and_then(|r| r.allocs_per_record),
        alloc_bytes_per_record: report.as_ref().and_then(|r| r.alloc_bytes_per_record),
        latency: report.as_ref().and_then(|r| r.latency),
        latency_avg_us: None,
        errors,
        request_bytes: None,
    }
}
