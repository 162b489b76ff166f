//! `kafka-bench handles`: the cost of the handles users reach for beside the byte-level
//! ones, on the null broker (issue 24, "the Stream API"): `Consumer::stream` beside
//! `Consumer::poll`, and kafka-serde's `TypedConsumer` / `TypedProducer` with the no-op
//! bytes serde beside the byte-level consumer and producer.
//!
//! The null broker (`null_broker.rs`) takes the JVM out, so the difference between two
//! rows is the handle's own cost. Each round runs every handle once, in turn, each in
//! its own client process pinned to the client core; figures are medians over the
//! rounds with their range.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::child;
use crate::spec::{ClientKind, Codec, Handle, Job};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Within this much of the byte-level handle is the target.
pub const TARGET: f64 = 0.10;

/// One measured run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// Consumer (`true`) or producer.
    pub consumer: bool,
    /// Which handle.
    pub handle: Handle,
    /// Repeat (0-based).
    pub round: usize,
    /// Records per second.
    pub records_per_sec: f64,
    /// Client CPU-seconds per million records (the null broker's own CPU taken out).
    pub cpu_per_m: f64,
    /// Allocations per record in the second half of the run.
    pub allocs_per_record: f64,
}

/// What `handles` saves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandleResults {
    /// When the run started.
    pub date: String,
    /// CPU.
    pub machine: String,
    /// `uptime` before.
    pub load_before: String,
    /// `uptime` after.
    pub load_after: String,
    /// Records per run (100 B values, one partition).
    pub records: u64,
    /// Rounds.
    pub repeats: usize,
    /// Every measured run.
    pub samples: Vec<Sample>,
    /// Runs that failed, with why.
    pub failures: Vec<String>,
}

/// `bench/results/handles.json`.
pub fn results_path() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/handles.json")
}

fn job(consumer: bool, handle: Handle, records: u64) -> Job {
    if consumer {
        Job::NullConsume {
            records,
            size: 100,
            partitions: 1,
            batch_records: 1000,
            codec: Codec::None,
            handle,
        }
    } else {
        Job::NullBroker {
            records,
            size: 100,
            partitions: 1,
            handle,
            keyed: false,
            codec: Codec::None,
        }
    }
}

fn measure(consumer: bool, handle: Handle, records: u64, round: usize) -> Result<Sample, BoxError> {
    let f = child::run_pinned(
        &child::client_command(ClientKind::Sdk, &job(consumer, handle, records))?,
        Duration::from_secs(300),
    )?;
    let r = child::parse_report(&f)?;
    let cpu = r.client_cpu_secs.unwrap_or(f.usage.cpu_secs());
    Ok(Sample {
        consumer,
        handle,
        round,
        records_per_sec: r.records as f64 / r.secs,
        cpu_per_m: cpu / (r.records as f64 / 1e6),
        allocs_per_record: r.allocs_per_record.unwrap_or(f64::NAN),
    })
}

/// Every handle, `repeats` rounds of `records` records each.
pub fn run(records: u64, repeats: usize) -> Result<HandleResults, BoxError> {
    let load_before = crate::run::uptime();
    let date = crate::run::date();
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    let plan: Vec<(bool, Handle)> = Handle::CONSUMER
        .iter()
        .map(|&h| (true, h))
        .chain(Handle::PRODUCER.iter().map(|&h| (false, h)))
        .collect();
    for round in 0..repeats {
        for &(consumer, handle) in &plan {
            let label = handle.label(consumer);
            match measure(consumer, handle, records, round) {
                Ok(s) => {
                    eprintln!(
                        "handles round {round}: {label}: {:.0} records/s, {:.3} CPU-s per M",
                        s.records_per_sec, s.cpu_per_m
                    );
                    samples.push(s);
                }
                Err(e) => {
                    eprintln!("handles round {round}: {label}: FAILED: {e}");
                    failures.push(format!("{label} round {round}: {e}"));
                }
            }
        }
    }
    Ok(HandleResults {
        date,
        machine: crate::run::machine(),
        load_before,
        load_after: crate::run::uptime(),
        records,
        repeats,
        samples,
        failures,
    })
}

/// The saved figures, if a run saved any.
pub fn load() -> Option<HandleResults> {
    serde_json::from_str(&std::fs::read_to_string(results_path()).ok()?).ok()
}

/// Median, min and max of `f` over the samples of one handle.
pub fn stat(
    r: &HandleResults,
    consumer: bool,
    handle: Handle,
    f: fn(&Sample) -> f64,
) -> Option<(f64, f64, f64)> {
    let mut v: Vec<f64> = r
        .samples
        .iter()
        .filter(|s| s.consumer == consumer && s.handle == handle)
        .map(f)
        .collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let mid = if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    };
    Some((mid, v[0], v[v.len() - 1]))
}

/// The section of `docs/benchmarks.md`, from the saved figures (none before a run).
pub fn section() -> Option<String> {
    let r = load()?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Handles: the stream and the typed layer beside the byte-level handles (issue 24)\n"
    );
    let _ = writeln!(
        out,
        "Generated by `cargo run --release --manifest-path bench/Cargo.toml -- handles` (raw \
         figures: `bench/results/handles.json`) on {}: our client against the null broker \
         (no JVM; the broker's thread on core 0, the client on core 1, the broker's CPU taken \
         out), {} records of 100 B on one partition per run, {} round{} of every handle in \
         turn. The typed rows use kafka-serde's no-op `BytesSerde` (`Nullable` for the \
         absent keys), so they show the typed layer's own cost. Machine: {}; load before \
         `{}`, after `{}`. Median [min–max]; the ratio is the handle's median against the \
         byte-level handle's in the same run; target: within {:.0}% (issue 24).\n",
        r.date,
        crate::markdown::si(r.records as f64),
        r.repeats,
        if r.repeats == 1 { "" } else { "s" },
        r.machine,
        r.load_before,
        r.load_after,
        TARGET * 100.0
    );
    let _ = writeln!(
        out,
        "| handle | records/s | vs byte-level | CPU-s per M records | vs byte-level | allocations per record | within {:.0}% |\n|---|---|---|---|---|---|---|",
        TARGET * 100.0
    );
    for (consumer, handles) in [
        (true, &Handle::CONSUMER[..]),
        (false, &Handle::PRODUCER[..]),
    ] {
        let base_rate = stat(&r, consumer, Handle::Bytes, |s| s.records_per_sec);
        let base_cpu = stat(&r, consumer, Handle::Bytes, |s| s.cpu_per_m);
        for &h in handles {
            let (Some(rate), Some(cpu), Some(allocs)) = (
                stat(&r, consumer, h, |s| s.records_per_sec),
                stat(&r, consumer, h, |s| s.cpu_per_m),
                stat(&r, consumer, h, |s| s.allocs_per_record),
            ) else {
                continue;
            };
            let rate_x = base_rate.map_or(f64::NAN, |b| rate.0 / b.0);
            let cpu_x = base_cpu.map_or(f64::NAN, |b| cpu.0 / b.0);
            let met = h == Handle::Bytes || (rate_x >= 1.0 - TARGET && cpu_x <= 1.0 + TARGET);
            let _ = writeln!(
                out,
                "| `{}` | {} [{}–{}] | {:.2}× | {:.3} [{:.3}–{:.3}] | {:.2}× | {:.4} | {} |",
                h.label(consumer),
                crate::markdown::si(rate.0),
                crate::markdown::si(rate.1),
                crate::markdown::si(rate.2),
                rate_x,
                cpu.0,
                cpu.1,
                cpu.2,
                cpu_x,
                allocs.0,
                if h == Handle::Bytes {
                    "(reference)"
                } else if met {
                    "met"
                } else {
                    "**not met**"
                }
            );
        }
    }
    if !r.failures.is_empty() {
        let _ = writeln!(out, "\nFailed runs: {}.", r.failures.join("; "));
    }
    Some(out)
}
