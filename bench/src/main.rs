//! `kafka-bench`: the side-by-side benchmark of issue 8.
//!
//! ```text
//! cargo run --release --manifest-path bench/Cargo.toml -- report --all
//! cargo run --release --manifest-path bench/Cargo.toml -- report [--quick] [--repeats N] [--codec none|lz4|zstd|gzip]
//! cargo run --release --manifest-path bench/Cargo.toml -- render [results.json]
//! cargo run --release --manifest-path bench/Cargo.toml -- null-broker [--records N] [--handle bytes|typed] [--partitions P] [--keyed] [--codec C]
//! cargo run --release --manifest-path bench/Cargo.toml -- null-consume [--records N] [--lz4] [--handle bytes|stream|typed|typed-stream]
//! cargo run --release --manifest-path bench/Cargo.toml -- rebalance [--repeats N]
//! cargo run --release --manifest-path bench/Cargo.toml -- share [--records N] [--repeats N]
//! cargo run --release --manifest-path bench/Cargo.toml -- scale [--partitions 1,100,1000,10000]
//! cargo run --release --manifest-path bench/Cargo.toml -- handles [--records N] [--repeats R]
//! cargo run --release --manifest-path bench/Cargo.toml -- example-memory [--repeats R]
//! ```
//!
//! `report --all` is the one command behind the whole of `docs/benchmarks.md`: the
//! report (3 repeats, latency 5), then `handles`, `scale`, `rebalance`, `share` and
//! `example-memory`, each saving its figures, then the document and charts once more.
//!
//! `report` starts one Kafka 4.4.0 broker (`broker::KAFKA_VERSION`) from the test bed (pinned to core 0), runs
//! every workload with this SDK, rust-rdkafka, krafka and Kafka's Java tools (each run a
//! child process pinned to core 1, clients alternating A B C D A B C D), saves the raw
//! figures to `bench/results/latest.json` and writes `docs/benchmarks.md` and the charts in
//! `docs/benchmarks/`. `report --codec C` measures only codec C's producer and consumer
//! rows again (every client) and puts them in place of the saved ones. `render` rewrites the document and charts from saved figures.
//! `null-broker` runs only the null-broker ceiling and prints it; `broker` starts the
//! pinned broker and keeps it running (for profiling by hand). `rebalance` times a 4th
//! member joining a group of 3 (classic eager, cooperative-sticky, KIP-848; ours and
//! Java's), saves `bench/results/rebalance.json` and re-renders the document. `share`
//! measures share-group consumption, ours vs Java's `ShareConsumerPerformance`
//! (`bench/results/share.json`). `scale` measures cost as partitions grow to 10,000,
//! our consumer with and without fetch sessions (`bench/results/scale.json`). `handles`
//! measures `Consumer::stream` and the typed (kafka-serde) handles beside the byte-level
//! ones on the null broker (`bench/results/handles.json`). `example-memory` runs the
//! `producer_bench` example and kcat side by side, measured from outside
//! (`bench/results/example_memory.json`). Every document carries issue 24's scorecard
//! (`scorecard.rs`): each target, its figure from the saved runs, and its verdict.
//!
//! Internal: `client <client json> <job json>` runs one job in this process (the harness
//! spawns it), printing a JSON report line.

mod alloc_count;
mod avro_serde;
mod broker;
mod charts;
mod child;
mod example_memory;
mod handles;
mod java_tools;
mod jmx;
mod krafka_client;
mod markdown;
mod null_broker;
mod payload;
mod peer_targets;
mod rdkafka_client;
mod rebalance;
mod registry_cache_hits;
mod results;
mod run;
mod rusage;
mod scale;
mod scorecard;
mod sdk_client;
mod share_consume;
mod spec;

use std::path::{Path, PathBuf};
use std::time::Duration;

#[global_allocator]
static ALLOC: alloc_count::CountingAlloc = alloc_count::CountingAlloc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The repository root (bench/..).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn results_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("results/latest.json")
}

fn flag_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

/// Writes `docs/benchmarks.md` and the charts from `results`.
fn render(results: &results::Results) -> Result<(), BoxError> {
    let root = repo_root();
    let chart_dir = root.join("docs/benchmarks");
    std::fs::create_dir_all(&chart_dir)?;
    charts::all(results, &chart_dir)?;
    // The scaling chart, from `scale`'s own saved figures.
    if let Ok(text) = std::fs::read_to_string(scale::results_path()) {
        scale::chart(&serde_json::from_str(&text)?, &chart_dir)?;
    }
    std::fs::write(root.join("docs/benchmarks.md"), markdown::document(results))?;
    eprintln!(
        "wrote {} and {}/*.png",
        root.join("docs/benchmarks.md").display(),
        chart_dir.display()
    );
    Ok(())
}

fn report(args: &[String]) -> Result<(), BoxError> {
    let quick = args.iter().any(|a| a == "--quick");
    let all = args.iter().any(|a| a == "--all");
    let repeats = flag_value(args, "--repeats")
        .map(|v| v.parse())
        .transpose()?
        .or(all.then_some(3));
    let mut plan = run::Plan::new(quick, repeats);
    if let Some(n) = flag_value(args, "--records") {
        plan.records_100b = n.parse()?;
    }
    plan.consumers_only = args.iter().any(|a| a == "--consumers-only");
    if let Some(name) = flag_value(args, "--codec") {
        plan.only_codec =
            Some(spec::Codec::parse(&name).ok_or("--codec: none, lz4, zstd or gzip")?);
    }
    let mut results = run::run(&plan)?;
    if let Some(codec) = plan.only_codec {
        results = merge_codec_rerun(results, codec)?;
    }
    let path = results_path();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&path, serde_json::to_string_pretty(&results)?)?;
    eprintln!("saved {}", path.display());
    render(&results)?;
    if all {
        everything_else(quick)?;
    }
    Ok(())
}

/// `report --all`, after the report itself: every other benchmark of the document, each
/// saving its own figures (a failed one keeps its earlier figures and is reported at the
/// end), then the document and charts once more.
fn everything_else(quick: bool) -> Result<(), BoxError> {
    let args = |v: &[&str]| -> Vec<String> { v.iter().map(|a| a.to_string()).collect() };
    let steps: [(&str, Vec<String>); 5] = if quick {
        [
            ("handles", args(&["--records", "500000", "--repeats", "1"])),
            (
                "scale",
                args(&[
                    "--partitions",
                    "1,100",
                    "--records",
                    "20000",
                    "--idle-secs",
                    "2",
                ]),
            ),
            ("rebalance", args(&["--repeats", "1"])),
            ("share", args(&["--records", "20000", "--repeats", "1"])),
            ("example-memory", args(&["--repeats", "1"])),
        ]
    } else {
        [
            ("handles", args(&["--repeats", "5"])),
            (
                "scale",
                args(&[
                    "--partitions",
                    "1,100,1000,10000",
                    "--records",
                    "1000000",
                    "--idle-secs",
                    "10",
                ]),
            ),
            ("rebalance", args(&["--repeats", "3"])),
            ("share", args(&["--records", "200000", "--repeats", "3"])),
            ("example-memory", args(&["--repeats", "3"])),
        ]
    };
    let mut failed = Vec::new();
    for (name, a) in &steps {
        let started = std::time::Instant::now();
        eprintln!("\n== report --all: {name} {}", a.join(" "));
        let outcome = match *name {
            "handles" => handles_bench(a),
            "scale" => scale_bench(a),
            "rebalance" => rebalance_bench(a),
            "share" => share_bench(a),
            _ => example_memory_bench(a),
        };
        match outcome {
            Ok(()) => eprintln!(
                "== {name} done in {:.1} min",
                started.elapsed().as_secs_f64() / 60.0
            ),
            Err(e) => {
                eprintln!("== {name} FAILED: {e}");
                failed.push(format!("{name}: {e}"));
            }
        }
    }
    let saved: results::Results = serde_json::from_str(&std::fs::read_to_string(results_path())?)?;
    render(&saved)?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("report --all: {}", failed.join("; ")).into())
    }
}

/// `report --codec C`: the saved results with every sample of codec `C` replaced by this
/// run's (all clients re-measured together, so each row stays a same-run comparison); the
/// rerun's date and load are kept in `reruns`.
fn merge_codec_rerun(
    rerun: results::Results,
    codec: spec::Codec,
) -> Result<results::Results, BoxError> {
    let mut saved: results::Results =
        serde_json::from_str(&std::fs::read_to_string(results_path())?)?;
    saved.samples.retain(|s| s.config.codec != codec);
    saved.samples.extend(rerun.samples);
    saved.failures.extend(rerun.failures);
    let records: Vec<String> = rerun
        .produce_records
        .iter()
        .map(|(size, n)| format!("{n} records of {size} B"))
        .collect();
    saved.reruns.push(format!(
        "{} rows measured again on {} ({} repeat{}, {} per run, load before `{}`)",
        codec.name(),
        rerun.date,
        rerun.repeats,
        if rerun.repeats == 1 { "" } else { "s" },
        records.join(" and "),
        rerun.load_before
    ));
    Ok(saved)
}

fn null_broker(args: &[String]) -> Result<(), BoxError> {
    let records = flag_value(args, "--records")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(10_000_000);
    let partitions = flag_value(args, "--partitions")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(1);
    let job = spec::Job::NullBroker {
        records,
        size: 100,
        partitions,
        handle: handle_flag(args)?,
        keyed: args.iter().any(|a| a == "--keyed"),
        codec: match flag_value(args, "--codec") {
            Some(name) => spec::Codec::parse(&name).ok_or("--codec: none, lz4, zstd or gzip")?,
            None => spec::Codec::None,
        },
    };
    let f = child::run_pinned(
        &child::client_command(spec::ClientKind::Sdk, &job)?,
        Duration::from_secs(300),
    )?;
    let r = child::parse_report(&f)?;
    let cpu = r.client_cpu_secs.unwrap_or(f.usage.cpu_secs());
    println!(
        "null broker: {} records of 100 B in {:.2} s = {:.0} records/s; client CPU {:.2} s = {:.3} CPU-s per million; {:.0} records/request; {:.3} allocations ({:.1} bytes) per record; peak RSS {:.0} MiB",
        r.records,
        r.secs,
        r.records as f64 / r.secs,
        cpu,
        cpu / (r.records as f64 / 1e6),
        r.records as f64 / r.requests.unwrap_or(1).max(1) as f64,
        r.allocs_per_record.unwrap_or(f64::NAN),
        r.alloc_bytes_per_record.unwrap_or(f64::NAN),
        f.usage.peak_rss_mib
    );
    Ok(())
}

/// `--handle bytes|stream|typed|typed-stream` (default `bytes`).
fn handle_flag(args: &[String]) -> Result<spec::Handle, BoxError> {
    Ok(match flag_value(args, "--handle").as_deref() {
        None | Some("bytes") => spec::Handle::Bytes,
        Some("stream") => spec::Handle::Stream,
        Some("typed") => spec::Handle::Typed,
        Some("typed-stream") => spec::Handle::TypedStream,
        Some(other) => {
            return Err(format!("--handle {other}: bytes, stream, typed or typed-stream").into());
        }
    })
}

/// Our consumer against the null broker (`null-consume [--records N] [--size B]
/// [--partitions P] [--batch-records R] [--lz4]`): the consumer's own ceiling and its
/// allocations per record and per Fetch.
fn null_consume(args: &[String]) -> Result<(), BoxError> {
    let num = |name: &str, default: u64| -> Result<u64, BoxError> {
        Ok(flag_value(args, name)
            .map(|v| v.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let records = num("--records", 10_000_000)?;
    let size = num("--size", 100)? as usize;
    let partitions = num("--partitions", 1)? as i32;
    let batch_records = num("--batch-records", 1000)? as usize;
    let codec = if args.iter().any(|a| a == "--lz4") {
        spec::Codec::Lz4
    } else {
        spec::Codec::None
    };
    let job = spec::Job::NullConsume {
        records,
        size,
        partitions,
        batch_records,
        codec,
        handle: handle_flag(args)?,
    };
    let f = child::run_pinned(
        &child::client_command(spec::ClientKind::Sdk, &job)?,
        Duration::from_secs(300),
    )?;
    let r = child::parse_report(&f)?;
    let cpu = r.client_cpu_secs.unwrap_or(f.usage.cpu_secs());
    let fetches = r.requests.unwrap_or(1).max(1) as f64;
    let allocs = r.allocs_per_record.unwrap_or(f64::NAN);
    println!(
        "null consume: {} records of {size} B in {:.2} s = {:.0} records/s; client CPU {:.2} s = {:.3} CPU-s per million; {:.0} records/Fetch; {:.4} allocations ({:.1} bytes) per record = {:.1} per Fetch; {} polls; peak RSS {:.0} MiB",
        r.records,
        r.secs,
        r.records as f64 / r.secs,
        cpu,
        cpu / (r.records as f64 / 1e6),
        r.records as f64 / fetches,
        allocs,
        r.alloc_bytes_per_record.unwrap_or(f64::NAN),
        allocs * r.records as f64 / fetches,
        r.polls.unwrap_or(0),
        f.usage.peak_rss_mib
    );
    Ok(())
}

/// `rebalance [--repeats N]`: the rebalance benchmark; saves its figures and re-renders
/// `docs/benchmarks.md` (from `bench/results/latest.json` plus the new figures).
fn rebalance_bench(args: &[String]) -> Result<(), BoxError> {
    let repeats = flag_value(args, "--repeats")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(5);
    let results = rebalance::run(repeats)?;
    save_and_rerender(&rebalance::results_path(), &results)
}

/// `share [--records N] [--repeats R]`: share-group consumption, ours vs Java's
/// `ShareConsumerPerformance`; saves its figures and re-renders `docs/benchmarks.md`.
fn share_bench(args: &[String]) -> Result<(), BoxError> {
    let records = flag_value(args, "--records")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let repeats = flag_value(args, "--repeats")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(3);
    let results = share_consume::run(records, repeats)?;
    save_and_rerender(&share_consume::results_path(), &results)
}

/// `scale [--partitions 1,100,1000,10000] [--records N] [--repeats R] [--idle-secs S]`:
/// partition scaling with and without fetch sessions; saves its figures, draws
/// `docs/benchmarks/scale.png` and re-renders `docs/benchmarks.md`.
fn scale_bench(args: &[String]) -> Result<(), BoxError> {
    let partitions = flag_value(args, "--partitions")
        .unwrap_or_else(|| "1,100,1000,10000".into())
        .split(',')
        .map(|p| p.trim().parse::<i32>())
        .collect::<Result<Vec<_>, _>>()?;
    let num = |name: &str, default: u64| -> Result<u64, BoxError> {
        Ok(flag_value(args, name)
            .map(|v| v.parse())
            .transpose()?
            .unwrap_or(default))
    };
    let plan = scale::Plan {
        partitions,
        records: num("--records", 500_000)?,
        repeats: num("--repeats", 1)? as usize,
        idle_secs: num("--idle-secs", 5)?,
    };
    let results = scale::run(&plan)?;
    let chart_dir = repo_root().join("docs/benchmarks");
    std::fs::create_dir_all(&chart_dir)?;
    scale::chart(&results, &chart_dir)?;
    save_and_rerender(&scale::results_path(), &results)
}

/// `handles [--records N] [--repeats R]`: the stream and the typed handles beside the
/// byte-level ones on the null broker; saves its figures and re-renders the document.
fn handles_bench(args: &[String]) -> Result<(), BoxError> {
    let records = flag_value(args, "--records")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(5_000_000);
    let repeats = flag_value(args, "--repeats")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(5);
    let results = handles::run(records, repeats)?;
    save_and_rerender(&handles::results_path(), &results)
}

/// `example-memory [--repeats R]`: the `producer_bench` example beside kcat, measured from
/// outside; saves its figures and re-renders the document.
fn example_memory_bench(args: &[String]) -> Result<(), BoxError> {
    let repeats = flag_value(args, "--repeats")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(3);
    let results = example_memory::run(repeats)?;
    save_and_rerender(&example_memory::results_path(), &results)
}

/// Saves a subcommand's own figures at `path` and re-renders `docs/benchmarks.md` from
/// `bench/results/latest.json` (its section reads the saved figures).
fn save_and_rerender<T: serde::Serialize>(path: &Path, results: &T) -> Result<(), BoxError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(path, serde_json::to_string_pretty(results)?)?;
    eprintln!("saved {}", path.display());
    let saved: results::Results = serde_json::from_str(&std::fs::read_to_string(results_path())?)?;
    let root = repo_root();
    std::fs::write(root.join("docs/benchmarks.md"), markdown::document(&saved))?;
    eprintln!("wrote {}", root.join("docs/benchmarks.md").display());
    Ok(())
}

/// Starts the pinned broker and keeps it until killed (for profiling by hand).
fn serve_broker() -> Result<(), BoxError> {
    let rt = tokio::runtime::Runtime::new()?;
    let broker = rt.block_on(broker::Broker::start())?;
    println!("{} pid {}", broker.bootstrap, broker.pid);
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("report") => report(&args[2..]),
        Some("render") => {
            let path = args.get(2).map_or_else(results_path, PathBuf::from);
            std::fs::read_to_string(&path)
                .map_err(BoxError::from)
                .and_then(|s| Ok(serde_json::from_str(&s)?))
                .and_then(|r| render(&r))
        }
        Some("null-broker") => null_broker(&args[2..]),
        Some("null-consume") => null_consume(&args[2..]),
        Some("broker") => serve_broker(),
        Some("rebalance") => rebalance_bench(&args[2..]),
        Some("avro") => avro_serde::run(&args[2..]),
        Some("share") => share_bench(&args[2..]),
        Some("scale") => scale_bench(&args[2..]),
        Some("handles") => handles_bench(&args[2..]),
        Some("example-memory") => example_memory_bench(&args[2..]),
        Some("client") if args.len() == 4 => child::client_main(&args[2], &args[3]),
        _ => Err("usage: kafka-bench report [--all] [--quick] [--repeats N] [--records N] [--consumers-only] [--codec C] | render [results.json] | null-broker [--records N] [--handle bytes|typed] [--partitions P] [--keyed] [--codec C] | null-consume [--records N] [--size B] [--partitions P] [--batch-records R] [--lz4] [--handle bytes|stream|typed|typed-stream] | rebalance [--repeats N] | avro [--records N] [--repeats R] | share [--records N] [--repeats R] | scale [--partitions 1,100,1000,10000] [--records N] [--repeats R] [--idle-secs S] | handles [--records N] [--repeats R] | example-memory [--repeats R]".into()),
    };
    if let Err(e) = result {
        eprintln!("kafka-bench: {e}");
        std::process::exit(1);
    }
}
