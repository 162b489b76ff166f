//! `kafka-bench example-memory`: issue 24's "memory as users run it". The
//! `producer_bench` example (the program users run, built from the main workspace in
//! release) beside kcat (librdkafka) writing the same records with the same settings,
//! each measured from outside the process: peak RSS (`VmHWM`), CPU, and records/s.
//!
//! Two buffer sizes, because the two clients bound their buffers differently: 32 MiB for
//! both (Java's `buffer.memory` default, the example's default; kcat with
//! `queue.buffering.max.messages` raised so only the 32 MiB bound applies), and 10 MiB
//! for ours beside kcat with librdkafka's default message cap (100,000 messages, about
//! 10 MB of 100 B values, which binds before its 32 MiB).

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::BoxError;
use crate::broker::Broker;
use crate::child;

/// Records per run (the example's default count), 100 B each, one partition.
const RECORDS: u64 = 2_000_000;
/// Value size.
const SIZE: usize = 100;

/// One client setup of the comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Setup {
    /// The example with its defaults (32 MiB `buffer.memory`).
    Ours32,
    /// kcat with 32 MiB `queue.buffering.max.kbytes` and the message cap raised.
    Kcat32,
    /// The example with 10 MiB `buffer.memory`.
    Ours10,
    /// kcat with 32 MiB `queue.buffering.max.kbytes` and librdkafka's default cap of
    /// 100,000 messages.
    KcatCapped,
}

impl Setup {
    const ALL: [Setup; 4] = [
        Setup::Ours32,
        Setup::Kcat32,
        Setup::Ours10,
        Setup::KcatCapped,
    ];

    fn label(self) -> &'static str {
        match self {
            Setup::Ours32 => "`producer_bench`, `buffer.memory` 32 MiB (its default)",
            Setup::Kcat32 => {
                "kcat, `queue.buffering.max.kbytes=32768`, `queue.buffering.max.messages=10000000`"
            }
            Setup::Ours10 => "`producer_bench --buffer-memory 10485760` (10 MiB)",
            Setup::KcatCapped => {
                "kcat, `queue.buffering.max.kbytes=32768` (librdkafka's default cap of 100,000 messages)"
            }
        }
    }
}

/// One measured run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// Which setup.
    pub setup: Setup,
    /// Repeat (0-based).
    pub round: usize,
    /// Records per second (ours: the example's own figure for its measured run; kcat:
    /// records ÷ the process's wall time).
    pub records_per_sec: f64,
    /// Peak RSS of the whole process (MiB).
    pub peak_rss_mib: f64,
    /// CPU-seconds of the whole process.
    pub cpu_secs: f64,
}

/// What `example-memory` saves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExampleMemoryResults {
    /// When the run started.
    pub date: String,
    /// `uptime` before.
    pub load_before: String,
    /// Every measured run.
    pub samples: Vec<Sample>,
    /// Runs that failed, with why.
    pub failures: Vec<String>,
}

/// `bench/results/example_memory.json`.
pub fn results_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results/example_memory.json")
}

/// Builds the example in release (the main workspace) and returns its path.
fn build_example() -> Result<PathBuf, BoxError> {
    let root = crate::repo_root();
    eprintln!("example-memory: building the producer_bench example (release) ...");
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "-q",
            "-p",
            "examples",
            "--bin",
            "producer_bench",
            "--message-format=json",
        ])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "building producer_bench failed: {}",
            child::tail(&String::from_utf8_lossy(&out.stderr), 20)
        )
        .into());
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find_map(|v| {
            (v["reason"] == "compiler-artifact" && v["target"]["name"] == "producer_bench")
                .then(|| v["executable"].as_str().map(PathBuf::from))
                .flatten()
        })
        .ok_or_else(|| "cargo named no producer_bench executable".into())
}

/// kcat's input: `RECORDS` lines of `SIZE - 1` characters (the newline is the delimiter).
fn kcat_input(dir: &Path) -> Result<PathBuf, BoxError> {
    let path = dir.join("example-memory-input.txt");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let line: String = (0..SIZE - 1)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    for _ in 0..RECORDS {
        writeln!(f, "{line}")?;
    }
    f.flush()?;
    Ok(path)
}

fn measure(
    setup: Setup,
    round: usize,
    example: &Path,
    input: &Path,
    broker: &Broker,
    rt: &tokio::runtime::Runtime,
) -> Result<Sample, BoxError> {
    let limit = Duration::from_secs(600);
    let (cmd, ours) = match setup {
        Setup::Ours32 | Setup::Ours10 => {
            // `env` carries the bootstrap through `taskset` (run_pinned passes no environment).
            let mut c = Command::new("env");
            c.arg(format!("KAFKA_BOOTSTRAP_SERVERS={}", broker.bootstrap))
                .arg(example)
                .args([
                    "--count",
                    &RECORDS.to_string(),
                    "--size",
                    &SIZE.to_string(),
                    "--partitions",
                    "1",
                    "--runs",
                    "1",
                ]);
            if setup == Setup::Ours10 {
                c.args(["--buffer-memory", &(10u64 << 20).to_string()]);
            }
            (c, true)
        }
        Setup::Kcat32 | Setup::KcatCapped => {
            let topic = format!("example-memory-kcat-{round}-{setup:?}");
            rt.block_on(broker.create_topic(&topic, 1))?;
            let mut c = Command::new("kcat");
            c.args(["-P", "-b", &broker.bootstrap, "-t", &topic, "-l"])
                .args([
                    "-X",
                    "enable.idempotence=true",
                    "-X",
                    "acks=all",
                    "-X",
                    "linger.ms=5",
                    "-X",
                    "batch.size=1048576",
                    "-X",
                    "queue.buffering.max.kbytes=32768",
                ]);
            if setup == Setup::Kcat32 {
                c.args(["-X", "queue.buffering.max.messages=10000000"]);
            }
            // The file last: the records, one per line.
            c.arg(input);
            (c, false)
        }
    };
    let f = child::run_pinned(&cmd, limit)?;
    if f.usage.exit_code != Some(0) {
        return Err(format!(
            "{setup:?} exited with {:?}: {}",
            f.usage.exit_code,
            child::tail(&f.stderr, 10)
        )
        .into());
    }
    let records_per_sec = if ours {
        // "run 1: 612345 records/s, ..."
        f.stdout
            .lines()
            .find_map(|l| l.strip_prefix("run 1: "))
            .and_then(|l| l.split(' ').next())
            .and_then(|n| n.parse::<f64>().ok())
            .ok_or_else(|| format!("producer_bench printed no rate: {}", f.stdout))?
    } else {
        RECORDS as f64 / f.usage.wall_secs
    };
    Ok(Sample {
        setup,
        round,
        records_per_sec,
        peak_rss_mib: f.usage.peak_rss_mib,
        cpu_secs: f.usage.cpu_secs(),
    })
}

/// Runs every setup `repeats` times in turn against a fresh pinned broker.
pub fn run(repeats: usize) -> Result<ExampleMemoryResults, BoxError> {
    let example = build_example()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let load_before = crate::run::uptime();
    let date = crate::run::date();
    let broker = rt.block_on(Broker::start())?;
    let dir = std::env::temp_dir().join(format!("kafka-bench-mem-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let input = kcat_input(&dir)?;
    let mut samples = Vec::new();
    let mut failures = Vec::new();
    for round in 0..repeats {
        for setup in Setup::ALL {
            match measure(setup, round, &example, &input, &broker, &rt) {
                Ok(s) => {
                    eprintln!(
                        "example-memory {setup:?} round {round}: {:.0} records/s, peak RSS {:.1} MiB, CPU {:.2} s",
                        s.records_per_sec, s.peak_rss_mib, s.cpu_secs
                    );
                    samples.push(s);
                }
                Err(e) => {
                    eprintln!("example-memory {setup:?} round {round}: FAILED: {e}");
                    failures.push(format!("{setup:?} round {round}: {e}"));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(ExampleMemoryResults {
        date,
        load_before,
        samples,
        failures,
    })
}

/// The saved figures, if a run saved any.
pub fn load() -> Option<ExampleMemoryResults> {
    serde_json::from_str(&std::fs::read_to_string(results_path()).ok()?).ok()
}

/// Median, min and max of `f` over one setup's runs.
pub fn stat(
    r: &ExampleMemoryResults,
    setup: Setup,
    f: fn(&Sample) -> f64,
) -> Option<(f64, f64, f64)> {
    let v = r
        .samples
        .iter()
        .filter(|s| s.setup == setup)
        .map(f)
        .collect();
    crate::results::Stat::of(v).map(|s| (s.median, s.min, s.max))
}

/// Ours ÷ kcat's median peak RSS at equal buffering (32 MiB each), and with ours at
/// 10 MiB beside kcat's default message cap.
pub fn rss_ratios(r: &ExampleMemoryResults) -> (Option<f64>, Option<f64>) {
    let rss = |s| stat(r, s, |x| x.peak_rss_mib).map(|m| m.0);
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    (
        ratio(rss(Setup::Ours32), rss(Setup::Kcat32)),
        ratio(rss(Setup::Ours10), rss(Setup::KcatCapped)),
    )
}

/// The section of `docs/benchmarks.md`, from the saved figures (none before a run).
pub fn section() -> Option<String> {
    let r = load()?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Memory of the examples users run (issue 24)\n\n\
         Generated by `cargo run --release --manifest-path bench/Cargo.toml -- example-memory` \
         (raw figures: `bench/results/example_memory.json`) on {}; load before `{}`. The \
         `producer_bench` example as users run it (`cargo run --release -p examples --bin \
         producer_bench`: one partition, {} records of {SIZE} B after a warm-up of a fifth as many, \
         acks=all, idempotent, 1 MiB batches, linger 5 ms) beside kcat (librdkafka) producing \
         the same count of {SIZE} B lines with the same settings (`enable.idempotence=true \
         acks=all linger.ms=5 batch.size=1048576`), each a process pinned to the client core \
         and measured from outside: peak RSS (`VmHWM`, whole process), CPU-seconds (whole \
         process). Records/s: the example's own figure for its measured run; kcat's is records ÷ \
         the process's wall time. Median [min–max] over {} round{}.\n",
        r.date,
        r.load_before,
        crate::markdown::si(RECORDS as f64),
        r.samples.iter().map(|s| s.round + 1).max().unwrap_or(0),
        if r.samples.iter().map(|s| s.round + 1).max().unwrap_or(0) == 1 {
            ""
        } else {
            "s"
        }
    );
    let _ = writeln!(
        out,
        "| client and buffering | peak RSS MiB | CPU-s | records/s |\n|---|---|---|---|"
    );
    for setup in Setup::ALL {
        let (Some(rss), Some(cpu), Some(rate)) = (
            stat(&r, setup, |s| s.peak_rss_mib),
            stat(&r, setup, |s| s.cpu_secs),
            stat(&r, setup, |s| s.records_per_sec),
        ) else {
            continue;
        };
        let _ = writeln!(
            out,
            "| {} | {:.1} [{:.1}–{:.1}] | {:.2} [{:.2}–{:.2}] | {} [{}–{}] |",
            setup.label(),
            rss.0,
            rss.1,
            rss.2,
            cpu.0,
            cpu.1,
            cpu.2,
            crate::markdown::si(rate.0),
            crate::markdown::si(rate.1),
            crate::markdown::si(rate.2),
        );
    }
    let (equal, capped) = rss_ratios(&r);
    let _ = writeln!(
        out,
        "\nPeak RSS, ours ÷ kcat's: {} with 32 MiB each; {} with ours at 10 MiB beside kcat's \
         default 100,000-message cap (what that cap holds of {SIZE} B values). Target (issue 24): \
         at most kcat's.",
        equal.map_or("–".into(), |x| format!("**{x:.2}×**")),
        capped.map_or("–".into(), |x| format!("**{x:.2}×**")),
    );
    if !r.failures.is_empty() {
        let _ = writeln!(out, "\nFailed runs: {}.", r.failures.join("; "));
    }
    Some(out)
}
