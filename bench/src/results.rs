//! The measurements of one report run (saved as JSON in `bench/results/latest.json`), and
//! their summaries: medians with min..max spread per (workload, configuration, client).

use serde::{Deserialize, Serialize};

use crate::spec::{ClientKind, Codec, Percentiles};

/// The kinds of run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// Producer throughput on the shared broker.
    Produce,
    /// Consumer draining a pre-filled topic.
    Consume,
    /// End-to-end latency at a fixed rate.
    LatencyFixed,
    /// End-to-end latency one record at a time (the Java `EndToEndLatency` method).
    LatencySequential,
    /// Our producer against the in-process null broker.
    NullBroker,
}

/// A workload configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Config {
    /// Value size in bytes.
    pub size: usize,
    /// Partitions.
    pub partitions: i32,
    /// Compression.
    pub codec: Codec,
    /// Idempotence requested (the SDK has none yet: see `Sample::idempotence`).
    pub idempotence: bool,
}

impl Config {
    /// "100 B · 1 p · none · idem".
    pub fn label(&self) -> String {
        let size = if self.size >= 1024 && self.size.is_multiple_of(1024) {
            format!("{} KiB", self.size / 1024)
        } else {
            format!("{} B", self.size)
        };
        format!(
            "{size} · {}p · {}{}",
            self.partitions,
            self.codec.name(),
            if self.idempotence { " · idem" } else { "" }
        )
    }

    /// A short form for chart axes: "100B/1p/none/i".
    pub fn short(&self) -> String {
        let size = if self.size >= 1024 {
            format!("{}K", self.size / 1024)
        } else {
            format!("{}B", self.size)
        };
        format!(
            "{size}/{}p/{}{}",
            self.partitions,
            self.codec.name(),
            if self.idempotence { "/i" } else { "" }
        )
    }
}

/// One measured run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sample {
    /// The workload.
    pub kind: Kind,
    /// Its configuration.
    pub config: Config,
    /// The client.
    pub client: ClientKind,
    /// Repeat number (0-based).
    pub round: usize,
    /// Whether the client really ran idempotent.
    pub idempotence: bool,
    /// Records measured.
    pub records: u64,
    /// Seconds on the client's clock.
    pub secs: f64,
    /// User + system CPU seconds of the client process (whole process).
    pub cpu_secs: f64,
    /// Peak RSS of the client process, MiB.
    pub peak_rss_mib: f64,
    /// Produce (or consumer Fetch) requests the broker answered during the run.
    pub requests: Option<u64>,
    /// Heap allocations per record, steady state (Rust allocations only).
    pub allocs_per_record: Option<f64>,
    /// Heap bytes allocated per record, same window.
    pub alloc_bytes_per_record: Option<f64>,
    /// Latency percentiles (latency kinds).
    pub latency: Option<Percentiles>,
    /// Mean latency in µs (Java's `EndToEndLatency` prints it).
    pub latency_avg_us: Option<f64>,
    /// Records that failed or did not land.
    pub errors: u64,
    /// Producer runs: bytes of the run's Produce requests as the broker counted them
    /// (absent in results saved before it was measured).
    #[serde(default)]
    pub request_bytes: Option<f64>,
}

impl Sample {
    /// Records per second.
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.secs.max(1e-9)
    }

    /// Payload MB (10^6 bytes) per second.
    pub fn mb_per_s(&self) -> f64 {
        self.rate() * self.config.size as f64 / 1e6
    }

    /// Value bytes sent ÷ Produce request bytes: the compression ratio the broker saw
    /// (a little below the codec's own ratio: record and request framing count too).
    pub fn wire_ratio(&self) -> Option<f64> {
        self.request_bytes
            .filter(|b| *b > 0.0)
            .map(|b| (self.records * self.config.size as u64) as f64 / b)
    }

    /// Records per request.
    pub fn records_per_request(&self) -> Option<f64> {
        self.requests
            .filter(|r| *r > 0)
            .map(|r| self.records as f64 / r as f64)
    }
}

/// The JVM's fixed cost, measured once: a 1-record run of the same tool.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
pub struct JavaStartup {
    /// `ProducerPerformance --num-records 1`: CPU seconds.
    pub produce_cpu_secs: f64,
    /// `ConsumerPerformance --messages 1`: CPU seconds.
    pub consume_cpu_secs: f64,
}

/// Everything one `report` run measured.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Results {
    /// When (UTC, `date -u`).
    pub date: String,
    /// Quick (smoke) mode.
    pub quick: bool,
    /// Repeats per configuration and client.
    pub repeats: usize,
    /// `uptime` before and after, and other notes on the machine.
    pub load_before: String,
    /// `uptime` after.
    pub load_after: String,
    /// CPU model and count.
    pub machine: String,
    /// Wall-clock minutes of the whole run.
    pub minutes: f64,
    /// Records per producer run by value size.
    pub produce_records: Vec<(usize, u64)>,
    /// The fixed rate of the latency runs (records/s).
    pub latency_rate: u64,
    /// Records per fixed-rate latency run, and warm-up records.
    pub latency_records: (u64, u64),
    /// Records per sequential latency run.
    pub sequential_records: u64,
    /// Repeats of the latency runs (0 in runs saved before the field: `repeats` then).
    #[serde(default)]
    pub latency_repeats: usize,
    /// The JVM's fixed cost.
    pub java_startup: JavaStartup,
    /// lz4 compression ratio of the payloads (raw / compressed) per size, measured with
    /// the SDK's codec on a 1 MiB batch.
    pub lz4_ratio: Vec<(usize, f64)>,
    /// Every run.
    pub samples: Vec<Sample>,
    /// Runs that failed, with the reason.
    pub failures: Vec<String>,
    /// Rows measured again later (`report --codec`), one line each.
    #[serde(default)]
    pub reruns: Vec<String>,
    /// The broker's (and the Java tools') Kafka version; runs saved before the field
    /// existed were on 4.1.1.
    #[serde(default = "kafka_before_the_field")]
    pub kafka: String,
}

fn kafka_before_the_field() -> String {
    "4.1.1".into()
}

/// Median and spread of one figure.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stat {
    /// Median.
    pub median: f64,
    /// Smallest.
    pub min: f64,
    /// Largest.
    pub max: f64,
    /// Samples.
    pub n: usize,
}

impl Stat {
    /// Of the values (`None` when there are none).
    pub fn of(mut v: Vec<f64>) -> Option<Stat> {
        v.retain(|x| x.is_finite());
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Stat {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        })
    }
}

/// Summary of one (kind, config, client).
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Records/s.
    pub rate: Option<Stat>,
    /// MB/s.
    pub mb_s: Option<Stat>,
    /// CPU seconds per million records (Java: net of the JVM's fixed cost).
    pub cpu_per_m: Option<Stat>,
    /// CPU seconds per million records, whole process (Java: JVM start included).
    pub cpu_per_m_gross: Option<Stat>,
    /// Peak RSS MiB.
    pub rss: Option<Stat>,
    /// Records per request.
    pub per_request: Option<Stat>,
    /// Value bytes ÷ Produce request bytes.
    pub wire_ratio: Option<Stat>,
    /// Allocations per record.
    pub allocs: Option<Stat>,
    /// Allocated bytes per record.
    pub alloc_bytes: Option<Stat>,
    /// p50 / p99 / p99.9 in µs.
    pub p50: Option<Stat>,
    /// p99.
    pub p99: Option<Stat>,
    /// p99.9.
    pub p999: Option<Stat>,
    /// Mean latency µs.
    pub avg: Option<Stat>,
    /// Whether the client ran idempotent.
    pub idempotence: bool,
    /// Errors over all runs.
    pub errors: u64,
}

impl Results {
    /// Repeats of the latency runs (`repeats` in runs saved before the field).
    pub fn latency_repeats(&self) -> usize {
        if self.latency_repeats == 0 {
            self.repeats
        } else {
            self.latency_repeats
        }
    }

    /// The samples of one (kind, config, client).
    pub fn samples_of(&self, kind: Kind, config: Config, client: ClientKind) -> Vec<&Sample> {
        self.samples
            .iter()
            .filter(|s| s.kind == kind && s.config == config && s.client == client)
            .collect()
    }

    /// The configurations measured for `kind`, in the order they ran.
    pub fn configs(&self, kind: Kind) -> Vec<Config> {
        let mut out: Vec<Config> = Vec::new();
        for s in self.samples.iter().filter(|s| s.kind == kind) {
            if !out.contains(&s.config) {
                out.push(s.config);
            }
        }
        out
    }

    /// The summary of one (kind, config, client).
    pub fn summary(&self, kind: Kind, config: Config, client: ClientKind) -> Summary {
        let s = self.samples_of(kind, config, client);
        let stat =
            |f: &dyn Fn(&Sample) -> Option<f64>| Stat::of(s.iter().filter_map(|x| f(x)).collect());
        let startup = match (client, kind) {
            (ClientKind::Java, Kind::Produce) => self.java_startup.produce_cpu_secs,
            (ClientKind::Java, Kind::Consume) => self.java_startup.consume_cpu_secs,
            _ => 0.0,
        };
        let per_m = |cpu: f64, x: &Sample| cpu / (x.records as f64 / 1e6);
        Summary {
            rate: stat(&|x| Some(x.rate())),
            mb_s: stat(&|x| Some(x.mb_per_s())),
            cpu_per_m: stat(&|x| Some(per_m((x.cpu_secs - startup).max(0.0), x))),
            cpu_per_m_gross: stat(&|x| Some(per_m(x.cpu_secs, x))),
            rss: stat(&|x| Some(x.peak_rss_mib)),
            per_request: stat(&|x| x.records_per_request()),
            wire_ratio: stat(&|x| x.wire_ratio()),
            allocs: stat(&|x| x.allocs_per_record),
            alloc_bytes: stat(&|x| x.alloc_bytes_per_record),
            p50: stat(&|x| x.latency.map(|l| l.p50_us)),
            p99: stat(&|x| x.latency.map(|l| l.p99_us)),
            p999: stat(&|x| x.latency.map(|l| l.p999_us)),
            avg: stat(&|x| x.latency_avg_us),
            idempotence: s.iter().any(|x| x.idempotence),
            errors: s.iter().map(|x| x.errors).sum(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let s = Stat::of(vec![3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        assert_eq!(Stat::of(vec![1.0, 2.0]).unwrap().median, 1.5);
        assert!(Stat::of(vec![]).is_none());
    }
}
