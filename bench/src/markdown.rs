//! `docs/benchmarks.md`: the targets with their ratios (met / not met), the method, the
//! tables per workload, and a closing note that repeats the ratios.

use std::fmt::Write as _;

use crate::broker::{BROKER_HEAP, BROKER_PROPERTIES};
use crate::java_tools::JVM_FLAGS;
use crate::results::{Config, Kind, Results, Stat, Summary};
use crate::run::HEADLINE;
use crate::spec::{CONSUMER_PREFETCH_BYTES, ClientKind, Codec, ProducerSettings};

/// Allocations per request (Produce request or Fetch, each carrying one batch or more) at
/// or below which "0 amortised (a few per batch is fine)" counts as met.
pub const ALLOC_PER_REQUEST_THRESHOLD: f64 = 16.0;
/// The null-broker target, records/s.
pub const NULL_TARGET: f64 = 3_000_000.0;

/// "1.23 M", "612 k", "950".
pub fn si(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.abs() >= 1e6 {
        format!("{:.2} M", v / 1e6)
    } else if v.abs() >= 1e4 {
        format!("{:.0} k", v / 1e3)
    } else if v.abs() >= 1e3 {
        format!("{:.1} k", v / 1e3)
    } else if v.abs() >= 10.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// A number with 2 (or 3 below 1) significant decimals.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        "–".into()
    } else if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

/// "median [min–max]" with `f` formatting each value.
fn spread(s: Option<Stat>, f: fn(f64) -> String) -> String {
    match s {
        None => "–".into(),
        Some(s) if s.n == 1 => f(s.median),
        Some(s) => format!("{} [{}–{}]", f(s.median), f(s.min), f(s.max)),
    }
}

fn med(s: Option<Stat>) -> f64 {
    s.map_or(f64::NAN, |s| s.median)
}

fn ms(us: f64) -> String {
    if !us.is_finite() {
        "–".into()
    } else {
        format!("{:.2}", us / 1000.0)
    }
}

/// One target row's verdict.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// What is compared.
    pub figure: String,
    /// The target as the issue states it.
    pub target: String,
    /// Our figure, the reference figure(s), the ratio(s).
    pub detail: String,
    /// Met?
    pub met: Option<bool>,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 { a / b } else { f64::NAN }
}

fn verdict_mark(met: Option<bool>) -> &'static str {
    match met {
        Some(true) => "**met**",
        Some(false) => "**not met**",
        None => "not measured",
    }
}

/// The targets of the issue, evaluated.
pub fn verdicts(r: &Results) -> Vec<Verdict> {
    let sum = |k: Kind, c: ClientKind| r.summary(k, HEADLINE, c);
    let consume_cfg = Config {
        idempotence: false,
        ..HEADLINE
    };
    let (ps, pr, pj) = (
        sum(Kind::Produce, ClientKind::Sdk),
        sum(Kind::Produce, ClientKind::Rdkafka),
        sum(Kind::Produce, ClientKind::Java),
    );
    // The like-for-like row without idempotence, for every client.
    let plain_cfg = Config {
        idempotence: false,
        ..HEADLINE
    };
    let pr_plain = r.summary(Kind::Produce, plain_cfg, ClientKind::Rdkafka);
    let pj_plain = r.summary(Kind::Produce, plain_cfg, ClientKind::Java);
    let ps_plain = r.summary(Kind::Produce, plain_cfg, ClientKind::Sdk);
    let cs = r.summary(Kind::Consume, consume_cfg, ClientKind::Sdk);
    let cr = r.summary(Kind::Consume, consume_cfg, ClientKind::Rdkafka);
    let ls = sum(Kind::LatencyFixed, ClientKind::Sdk);
    let lr = sum(Kind::LatencyFixed, ClientKind::Rdkafka);
    let nb = sum(Kind::NullBroker, ClientKind::Sdk);
    let le = |x: f64, limit: f64| x.is_finite().then_some(x <= limit);
    let ge = |x: f64, limit: f64| x.is_finite().then_some(x >= limit);
    let mut v = Vec::new();

    let cpu = ratio(med(ps.cpu_per_m), med(pr.cpu_per_m));
    let cpu_plain = ratio(med(ps_plain.cpu_per_m), med(pr_plain.cpu_per_m));
    let (wc, w) = worst_ratio(
        r,
        Kind::Produce,
        ClientKind::Rdkafka,
        |s| med(s.cpu_per_m),
        false,
    );
    v.push(Verdict {
        figure: "producer client CPU per million acknowledged 100 B records, acks=all".into(),
        target: "≤ 0.5 × librdkafka's".into(),
        detail: format!(
            "{} vs {} CPU-s/M = **{:.2}×** (all without idempotence: {:.2}×; highest over all configurations: {:.2}× at {wc})",
            num(med(ps.cpu_per_m)),
            num(med(pr.cpu_per_m)),
            cpu,
            cpu_plain,
            w
        ),
        met: le(cpu, 0.5),
    });
    let rr = ratio(med(ps.rate), med(pr.rate));
    let rj = ratio(med(ps.rate), med(pj.rate));
    let (worst_cfg, worst) =
        worst_ratio(r, Kind::Produce, ClientKind::Rdkafka, |s| med(s.rate), true);
    v.push(Verdict {
        figure: "producer records/s on the shared broker".into(),
        target: "≥ 1.0 × librdkafka's and ≥ 1.0 × Java's".into(),
        detail: format!(
            "{} vs {} (rdkafka) and {} (Java) = **{:.2}×** and **{:.2}×** (all without idempotence: {:.2}× and {:.2}×; lowest vs rdkafka over all configurations: {:.2}× at {})",
            si(med(ps.rate)),
            si(med(pr.rate)),
            si(med(pj.rate)),
            rr,
            rj,
            ratio(med(ps_plain.rate), med(pr_plain.rate)),
            ratio(med(ps_plain.rate), med(pj_plain.rate)),
            worst,
            worst_cfg,
        ),
        met: ge(rr, 1.0).zip(ge(rj, 1.0)).map(|(a, b)| a && b),
    });
    let ccpu = ratio(med(cs.cpu_per_m), med(cr.cpu_per_m));
    let (wc, w) = worst_ratio(
        r,
        Kind::Consume,
        ClientKind::Rdkafka,
        |s| med(s.cpu_per_m),
        false,
    );
    v.push(Verdict {
        figure: "consumer client CPU per million records".into(),
        target: "≤ 0.5 × librdkafka's".into(),
        detail: format!(
            "{} vs {} CPU-s/M = **{:.2}×** (highest over all configurations: {:.2}× at {wc})",
            num(med(cs.cpu_per_m)),
            num(med(cr.cpu_per_m)),
            ccpu,
            w
        ),
        met: le(ccpu, 0.5),
    });
    let crate_ = ratio(med(cs.rate), med(cr.rate));
    let (worst_cfg, worst) =
        worst_ratio(r, Kind::Consume, ClientKind::Rdkafka, |s| med(s.rate), true);
    v.push(Verdict {
        figure: "consumer records/s".into(),
        target: "≥ 1.0 × librdkafka's".into(),
        detail: format!(
            "{} vs {} = **{:.2}×** (lowest over all configurations: {:.2}× at {worst_cfg})",
            si(med(cs.rate)),
            si(med(cr.rate)),
            crate_,
            worst
        ),
        met: ge(crate_, 1.0),
    });
    let p99 = ratio(med(ls.p99), med(lr.p99));
    v.push(Verdict {
        figure: format!(
            "end-to-end p99 at the fixed rate ({} records/s)",
            si(r.latency_rate as f64)
        ),
        target: "≤ librdkafka's".into(),
        detail: format!(
            "{} ms vs {} ms = **{:.2}×**",
            ms(med(ls.p99)),
            ms(med(lr.p99)),
            p99
        ),
        met: le(p99, 1.0),
    });
    let rss = ratio(med(ps.rss), med(pr.rss));
    let crss = ratio(med(cs.rss), med(cr.rss));
    let lrss = ratio(med(ls.rss), med(lr.rss));
    v.push(Verdict {
        figure: "peak RSS under equal buffering (producer at full speed; consumer and the fixed-rate run in brackets)".into(),
        target: "≤ librdkafka's".into(),
        detail: format!(
            "{} MiB vs {} MiB = **{:.2}×** (consumer: {} vs {} MiB = {:.2}×; producer + consumer at the fixed rate: {} vs {} MiB = {:.2}×)",
            num(med(ps.rss)),
            num(med(pr.rss)),
            rss,
            num(med(cs.rss)),
            num(med(cr.rss)),
            crss,
            num(med(ls.rss)),
            num(med(lr.rss)),
            lrss
        ),
        met: le(rss, 1.0),
    });
    v.push(Verdict {
        figure: "null broker, one core, 100 B records, no compression".into(),
        target: "≥ 3,000,000 records/s".into(),
        detail: format!(
            "{} records/s = **{:.2}×** the target",
            si(med(nb.rate)),
            ratio(med(nb.rate), NULL_TARGET)
        ),
        met: ge(med(nb.rate), NULL_TARGET),
    });
    // Allocations per request = per record × records per request.
    let per_req = |s: &Summary| med(s.allocs) * med(s.per_request);
    let (pa, ca) = (per_req(&ps), per_req(&cs));
    v.push(Verdict {
        figure: "heap allocations per record in steady state, produce and consume".into(),
        target: format!(
            "0 amortised, a few per batch (here: ≤ {ALLOC_PER_REQUEST_THRESHOLD} per request)"
        ),
        detail: format!(
            "produce {} per record = {} per Produce request (null broker: {} per record); consume {} per record = {} per Fetch",
            num(med(ps.allocs)),
            num(pa),
            num(med(nb.allocs)),
            num(med(cs.allocs)),
            num(ca)
        ),
        met: le(pa, ALLOC_PER_REQUEST_THRESHOLD)
            .zip(le(ca, ALLOC_PER_REQUEST_THRESHOLD))
            .map(|(a, b)| a && b),
    });
    v
}

fn client_cell(c: ClientKind, s: &Summary, kind: Kind, config: &Config) -> String {
    let idem = match kind {
        Kind::Produce if config.idempotence && !s.idempotence => " (no idem.)",
        Kind::Produce if s.idempotence => " (idem.)",
        _ => "",
    };
    format!("{}{idem}", c.label())
}

fn throughput_table(out: &mut String, r: &Results, kind: Kind) {
    let produce = kind == Kind::Produce;
    let _ = writeln!(
        out,
        "| configuration | client | records/s | MB/s | CPU-s per M records | peak RSS MiB | records per {} | allocs per record | errors |",
        if produce { "Produce request" } else { "Fetch" }
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|");
    for config in r.configs(kind) {
        for c in ClientKind::ALL {
            let s = r.summary(kind, config, c);
            if s.rate.is_none() {
                continue;
            }
            let cpu = if c == ClientKind::Java {
                format!(
                    "{} (gross {})",
                    spread(s.cpu_per_m, num),
                    num(med(s.cpu_per_m_gross))
                )
            } else {
                spread(s.cpu_per_m, num)
            };
            let allocs = match c {
                ClientKind::Sdk => spread(s.allocs, num),
                // The Rust wrapper's own allocations (librdkafka's mallocs are not seen).
                ClientKind::Rdkafka => format!("({})", num(med(s.allocs))),
                // All Rust: the counting allocator sees all of krafka's allocations.
                ClientKind::Krafka => spread(s.allocs, num),
                ClientKind::Java => "–".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                config.label(),
                client_cell(c, &s, kind, &config),
                spread(s.rate, si),
                num(med(s.mb_s)),
                cpu,
                spread(s.rss, num),
                spread(s.per_request, si),
                allocs,
                s.errors
            );
        }
    }
}

/// The least favourable configuration for kafka-rs: (label, ours ÷ other). With
/// `higher_is_better` the smallest ratio, else the largest.
fn worst_ratio(
    r: &Results,
    kind: Kind,
    other: ClientKind,
    f: fn(&Summary) -> f64,
    higher_is_better: bool,
) -> (String, f64) {
    let mut worst: Option<(String, f64)> = None;
    for config in r.configs(kind) {
        let x = ratio(
            f(&r.summary(kind, config, ClientKind::Sdk)),
            f(&r.summary(kind, config, other)),
        );
        if !x.is_finite() {
            continue;
        }
        let better = |w: f64| if higher_is_better { x < w } else { x > w };
        if worst.as_ref().is_none_or(|(_, w)| better(*w)) {
            worst = Some((config.label(), x));
        }
    }
    worst.unwrap_or_else(|| ("–".into(), f64::NAN))
}

/// Geometric mean over every configuration of ours / other for one figure.
fn geomean_ratio(r: &Results, kind: Kind, other: ClientKind, f: fn(&Summary) -> f64) -> f64 {
    let mut logs = Vec::new();
    for config in r.configs(kind) {
        let a = f(&r.summary(kind, config, ClientKind::Sdk));
        let b = f(&r.summary(kind, config, other));
        if a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite() {
            logs.push((a / b).ln());
        }
    }
    if logs.is_empty() {
        f64::NAN
    } else {
        (logs.iter().sum::<f64>() / logs.len() as f64).exp()
    }
}

fn geomeans(out: &mut String, r: &Results, kind: Kind) {
    let rate = |s: &Summary| med(s.rate);
    let cpu = |s: &Summary| med(s.cpu_per_m);
    let _ = writeln!(
        out,
        "\nOver all configurations (geometric mean of kafka-rs ÷ other): records/s {:.2}× rdkafka, {:.2}× krafka, {:.2}× Java; CPU per record {:.2}× rdkafka, {:.2}× krafka, {:.2}× Java (Java net of its JVM start).\n",
        geomean_ratio(r, kind, ClientKind::Rdkafka, rate),
        geomean_ratio(r, kind, ClientKind::Krafka, rate),
        geomean_ratio(r, kind, ClientKind::Java, rate),
        geomean_ratio(r, kind, ClientKind::Rdkafka, cpu),
        geomean_ratio(r, kind, ClientKind::Krafka, cpu),
        geomean_ratio(r, kind, ClientKind::Java, cpu),
    );
}

fn latency_table(out: &mut String, r: &Results, kind: Kind) {
    let _ = writeln!(
        out,
        "| client | p50 ms | p99 ms | p99.9 ms | mean ms | CPU-s (whole run) | peak RSS MiB |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for c in ClientKind::ALL {
        let s = r.summary(kind, HEADLINE, c);
        if s.p50.is_none() {
            continue;
        }
        let cpu = Stat::of(
            r.samples_of(kind, HEADLINE, c)
                .iter()
                .map(|x| x.cpu_secs)
                .collect(),
        );
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            c.label(),
            spread(s.p50, ms),
            spread(s.p99, ms),
            spread(s.p999, ms),
            spread(s.avg, ms),
            spread(cpu, num),
            spread(s.rss, num)
        );
    }
}

fn settings_table(out: &mut String) {
    let s = ProducerSettings::standard(Codec::None, true);
    let _ = writeln!(
        out,
        "| setting | kafka-rs | rdkafka (librdkafka) | krafka | Java |\n|---|---|---|---|---|"
    );
    let same = |x: &str| x.to_string();
    let rows: Vec<(&str, String, String, String, String)> = vec![
        (
            "acks",
            "`Acks::All`".into(),
            "`acks=all`".into(),
            "`Acks::All`".into(),
            "`acks=all`".into(),
        ),
        (
            "idempotence",
            "`enable_idempotence(true)` (false in the like-for-like rows)".into(),
            "`enable.idempotence=true` (false in the like-for-like rows)".into(),
            "`idempotent(true)` (false in the like-for-like rows)".into(),
            "`enable.idempotence=true` (false in the like-for-like rows)".into(),
        ),
        (
            "linger",
            format!("`linger({} ms)`", s.linger_ms),
            format!("`linger.ms={}`", s.linger_ms),
            format!("`linger({} ms)`", s.linger_ms),
            format!("`linger.ms={}`", s.linger_ms),
        ),
        (
            "batch size",
            format!("`batch_size({})`", s.batch_bytes),
            format!(
                "`batch.size={}`, `batch.num.messages=1000000`",
                s.batch_bytes
            ),
            format!("`batch_size({})`", s.batch_bytes),
            format!("`batch.size={}`", s.batch_bytes),
        ),
        (
            "largest request",
            format!("`max_request_size({})`", s.max_request_bytes),
            format!("`message.max.bytes={}`", s.max_request_bytes),
            format!("`max_request_size({})`", s.max_request_bytes),
            format!("`max.request.size={}`", s.max_request_bytes),
        ),
        (
            "in flight",
            format!("`max_in_flight({})`", s.in_flight),
            format!("`max.in.flight={}`", s.in_flight),
            format!(
                "`max_in_flight_requests({})` per connection; **fixed: one batch in flight per \
                 partition**, 5 requests per broker (cannot be made equal)",
                s.in_flight
            ),
            format!("`max.in.flight.requests.per.connection={}`", s.in_flight),
        ),
        (
            "buffer memory",
            format!("`buffer_memory({})`", s.buffer_bytes),
            format!(
                "`queue.buffering.max.kbytes={}`, `queue.buffering.max.messages=10000000`",
                s.buffer_bytes / 1024
            ),
            format!("`buffer_memory({})`", s.buffer_bytes),
            format!("`buffer.memory={}`", s.buffer_bytes),
        ),
        (
            "compression",
            "`Compression::None` / `Lz4`".into(),
            "`compression.codec=none` / `lz4`".into(),
            "`Compression::None` / `Lz4`".into(),
            "`compression.type=none` / `lz4`".into(),
        ),
        (
            "consumer prefetch",
            format!("`max_buffered_bytes({CONSUMER_PREFETCH_BYTES})`"),
            format!(
                "`queued.max.messages.kbytes={}`",
                CONSUMER_PREFETCH_BYTES / 1024
            ),
            format!(
                "`max_buffered_records({CONSUMER_PREFETCH_BYTES} ÷ value size)` (a record count, \
                 no byte bound)"
            ),
            "no byte bound (`fetch.max.bytes` per fetch)".into(),
        ),
        (
            "consumer fetch sizes",
            "defaults: 1 MiB per partition, 50 MiB per fetch".into(),
            "`max.partition.fetch.bytes=1048576`, `fetch.max.bytes=52428800`".into(),
            "`max_partition_fetch_bytes(1048576)`, `fetch_max_bytes(52428800)`".into(),
            "`max.partition.fetch.bytes=1048576`, `fetch.max.bytes=52428800`".into(),
        ),
        (
            "consumer CRC check",
            "on (default)".into(),
            "`check.crcs=true` (default false)".into(),
            same("always on"),
            "`check.crcs=true` (default)".into(),
        ),
        (
            "consumer assignment",
            "`assign` + `seek(0)`, no group".into(),
            "`assign` at offset 0 (a `group.id` is required but never joined)".into(),
            "`consumer_without_group()`, `assign` + `seek(0)`".into(),
            "`ConsumerPerformance` subscribes in a fresh group; its fetch time excludes the join"
                .into(),
        ),
    ];
    for (name, a, b, k, c) in rows {
        let _ = writeln!(out, "| {name} | {a} | {b} | {k} | {c} |");
    }
}

/// The headline configuration with every peer (issue 24's closing table): records/s, CPU
/// per record and peak RSS, and kafka-rs's ratio to each.
fn peers_table(out: &mut String, r: &Results) {
    let _ = writeln!(
        out,
        "## Headline with every peer (issue 24)\n\n{} (producer: idempotence on for all; \
         consumer: the same topic shape drained from offset 0). Ratios are kafka-rs ÷ peer, \
         from medians of this run (records/s: above 1 is kafka-rs faster; CPU per record: \
         below 1 is kafka-rs cheaper). Java's CPU is net of its JVM start.\n",
        HEADLINE.label()
    );
    let _ = writeln!(
        out,
        "| workload | client | records/s | CPU-s per M records | peak RSS MiB | kafka-rs ÷ peer, records/s | kafka-rs ÷ peer, CPU per record |\n|---|---|---|---|---|---|---|"
    );
    let consume_cfg = Config {
        idempotence: false,
        ..HEADLINE
    };
    for (kind, config, name) in [
        (Kind::Produce, HEADLINE, "produce"),
        (Kind::Consume, consume_cfg, "consume"),
    ] {
        let ours = r.summary(kind, config, ClientKind::Sdk);
        for c in ClientKind::ALL {
            let s = r.summary(kind, config, c);
            if s.rate.is_none() {
                continue;
            }
            let (rate_ratio, cpu_ratio) = if c == ClientKind::Sdk {
                (String::new(), String::new())
            } else {
                (
                    format!("{:.2}×", ratio(med(ours.rate), med(s.rate))),
                    format!("{:.2}×", ratio(med(ours.cpu_per_m), med(s.cpu_per_m))),
                )
            };
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {} | {} | {rate_ratio} | {cpu_ratio} |",
                c.label(),
                spread(s.rate, si),
                spread(s.cpu_per_m, num),
                spread(s.rss, num),
            );
        }
    }
    let _ = writeln!(out);
}

/// The whole document.
pub fn document(r: &Results) -> String {
    let mut out = String::new();
    let v = verdicts(r);
    let kafka = &r.kafka;
    let _ = writeln!(out, "# Benchmarks\n");
    let _ = writeln!(
        out,
        "kafka-rs (this SDK) side by side with rust-rdkafka 0.39 (librdkafka 2.12.1), krafka 0.28.1 \
         (the other pure-Rust client) and the Java client {kafka} (`ProducerPerformance`, `ConsumerPerformance`, `EndToEndLatency` from \
         `kafka-tools`), on one Kafka {kafka} broker, in one run: {} ({}{} repeat{} per configuration \
         and client, {:.0} minutes).\n",
        r.date,
        if r.quick { "**quick smoke run**, " } else { "" },
        r.repeats,
        if r.repeats == 1 { "" } else { "s" },
        r.minutes
    );
    let _ = writeln!(
        out,
        "Generated by `cargo run --release --manifest-path bench/Cargo.toml -- report --all` \
         (the report, then every other benchmark below; raw figures: `bench/results/*.json`; \
         `-- render` redraws from them). Do not edit by hand.\n"
    );
    for rerun in &r.reruns {
        let _ = writeln!(
            out,
            "- Rerun (`report --codec`, every client of those rows together): {rerun}.\n"
        );
    }
    let _ = writeln!(out, "## Targets (issue 8)\n");
    let _ = writeln!(
        out,
        "Headline configuration: {} (100 B records, 1 partition, no compression) with the \
         issue's settings: **idempotence on for every client**; the brackets give the \
         like-for-like row with idempotence off for all.\n",
        HEADLINE.label()
    );
    let _ = writeln!(
        out,
        "| figure | target | measured | verdict |\n|---|---|---|---|"
    );
    for x in &v {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            x.figure,
            x.target,
            x.detail,
            verdict_mark(x.met)
        );
    }
    let _ = writeln!(
        out,
        "\n![records/s by client and configuration](benchmarks/throughput.png)\n\n\
         ![client CPU-seconds per million records](benchmarks/cpu.png)\n\n\
         ![end-to-end latency percentiles](benchmarks/latency.png)\n"
    );

    out.push_str(&crate::scorecard::section(r));
    peers_table(&mut out, r);
    out.push_str(&crate::peer_targets::targets_section(r));

    // Method.
    let _ = writeln!(out, "## Method\n");
    let _ = writeln!(
        out,
        "- **Machine**: {}; load before the run `{}`, after `{}`. The machine is shared with other \
         engineers' builds, so throughput varies from run to run; CPU-seconds per record is the \
         steadier figure.",
        r.machine, r.load_before, r.load_after
    );
    let props: Vec<String> = BROKER_PROPERTIES
        .iter()
        .map(|(k, v)| format!("`{k}={v}`"))
        .collect();
    let _ = writeln!(
        out,
        "- **Broker**: one Kafka {kafka} KRaft node from the test bed (`kafka_testbed`), heap {BROKER_HEAP}, \
         defaults except {}; pinned with `taskset` to **core 0**. Every client process is pinned to \
         **core 1** (`taskset -c 1`), so each client has exactly one core (the JVM and tokio size \
         themselves to it) and never competes with the broker.",
        props.join(", ")
    );
    let _ = writeln!(
        out,
        "- **Order**: for each repeat, each configuration runs kafka-rs, rdkafka, krafka, Java in \
         turn (A B C D A B C D ...); one discarded warm-up run per client first. Figures are medians with \
         [min–max] over the {} repeat{}.",
        r.repeats,
        if r.repeats == 1 { "" } else { "s" }
    );
    let recs: Vec<String> = r
        .produce_records
        .iter()
        .map(|(size, n)| format!("{} records of {size} B", si(*n as f64)))
        .collect();
    let ratios: Vec<String> = r
        .lz4_ratio
        .iter()
        .map(|(size, x)| format!("{x:.2}× at {size} B"))
        .collect();
    let _ = writeln!(
        out,
        "- **Workload**: {} per producer or consumer run (the same bytes for both sizes), a fresh \
         topic per producer run. Values come from a pre-generated pool of ~1 MB of distinct values \
         of random dictionary words and numbers (the same pool for every client; Java reads it as \
         `--payload-file`); lz4 compresses a 1 MiB batch of them {}. No keys.",
        recs.join(" and "),
        ratios.join(", ")
    );
    let _ = writeln!(
        out,
        "- **Clock**: producers from the first send to the last acknowledgement (the Rust clients send \
         one record first, outside the clock, to load metadata and connect; Java's clock includes \
         that); consumers from `assign` to the last record (Java: the tool's fetch time, which \
         excludes its group join). Java's rate is the tool's own figure."
    );
    let _ = writeln!(
        out,
        "- **CPU and memory**: user + system CPU-seconds of the client process from `wait4` when \
         it exits (every thread, whole process, start-up included), and its peak RSS (`VmHWM` from \
         `/proc/<pid>/status`, read every 20 ms while it runs; not `ru_maxrss`, which after \
         `vfork` + `exec` also holds the parent's high-water mark). For Java the JVM's fixed \
         cost (measured once as a 1-record run of the same tool: {:.2} CPU-s for ProducerPerformance, \
         {:.2} for ConsumerPerformance) is subtracted (\"net\"); the gross figure is shown too. \
         Java's tools run with `kafka-run-class.sh`'s flags: `{}`.",
        r.java_startup.produce_cpu_secs,
        r.java_startup.consume_cpu_secs,
        JVM_FLAGS.join(" ")
    );
    let _ = writeln!(
        out,
        "- **Records per request**: the broker's own count of Produce (and consumer Fetch) requests, \
         `kafka.network:type=RequestMetrics,name=TotalTimeMs,request=Produce` `Count` over JMX \
         (agent started with `jcmd ManagementAgent.start`, sampled by Kafka's `JmxTool` every \
         250 ms), before and after each run — the same method for every client; likewise the bytes of \
         the Produce requests (`name=RequestBytes,request=Produce`, `Mean` × `Count`) for the \
         compression ratios."
    );
    let _ = writeln!(
        out,
        "- **Allocations**: a counting global allocator in the benchmark binary counts every Rust \
         heap allocation (and reallocation) of the client process in the second half of each run \
         (steady state: from the middle record to the last acknowledgement / record). librdkafka \
         allocates with C `malloc`, which it does not see: rdkafka's figure (in brackets) is only \
         the rust-rdkafka wrapper's own allocations (e.g. a `CString` of the topic per `send`). The \
         target counts as met at or below {ALLOC_PER_REQUEST_THRESHOLD} allocations per Produce \
         request or Fetch (allocations per record × records per request: \"a few per batch\")."
    );
    let _ = writeln!(
        out,
        "- **Latency**: the fixed rate is half the slowest client's median producer rate in the \
         headline configuration: {} records/s, {} records measured after {} warm-up records per run, \
         producer and consumer in one process (value = send time), paced in 1 ms steps, linger 5 ms, \
         HdrHistogram (µs, 3 digits); {} repeats of every latency run (medians with [min–max] over them). Java's `EndToEndLatency` has no fixed-rate mode: it sends one \
         record, waits until its consumer sees it, and repeats (linger 0, `fetch.max.wait.ms=0`) and \
         prints whole milliseconds; that method is run for all three clients ({} records) as a second \
         table.",
        si(r.latency_rate as f64),
        si(r.latency_records.0 as f64),
        si(r.latency_records.1 as f64),
        r.latency_repeats(),
        r.sequential_records
    );
    let _ = writeln!(
        out,
        "- **Null broker**: an in-process Kafka-speaking sink (ApiVersions, Metadata, InitProducerId, \
         Produce; kafka-protocol's broker-side codecs) that acknowledges at once, on its own thread \
         pinned to core 0; the producer (the tokio runtime, one worker) on core 1; the sink thread's \
         CPU time and allocations are excluded.\n"
    );
    let _ = writeln!(out, "### Settings (equal and explicit)\n");
    settings_table(&mut out);

    let _ = writeln!(out, "\n## Producer\n");
    let _ = writeln!(
        out,
        "`(idem.)`: the client ran idempotent; `(no idem.)`: it did not. The last two \
         configurations have idempotence off for every client (like for like).\n"
    );
    throughput_table(&mut out, r, Kind::Produce);
    geomeans(&mut out, r, Kind::Produce);

    let _ = writeln!(out, "## Consumer (draining a pre-filled topic)\n");
    let _ = writeln!(
        out,
        "Topics filled beforehand by rdkafka with the same settings (not measured); every client \
         reads the same topic from offset 0.\n"
    );
    throughput_table(&mut out, r, Kind::Consume);
    geomeans(&mut out, r, Kind::Consume);
    out.push_str(&crate::peer_targets::compression_section(r));

    let _ = writeln!(out, "## End-to-end latency\n");
    let _ = writeln!(
        out,
        "### At a fixed rate of {} records/s ({})\n",
        si(r.latency_rate as f64),
        HEADLINE.label()
    );
    latency_table(&mut out, r, Kind::LatencyFixed);
    let _ = writeln!(
        out,
        "\n### One record at a time (`EndToEndLatency`'s method; Java prints whole ms)\n"
    );
    latency_table(&mut out, r, Kind::LatencySequential);

    let _ = writeln!(
        out,
        "\n## Null broker (kafka-rs producer ceiling, one core)\n"
    );
    let nb = r.summary(Kind::NullBroker, HEADLINE, ClientKind::Sdk);
    let _ = writeln!(
        out,
        "| records/s | MB/s | client CPU-s per M records | records per request | allocs per record | bytes allocated per record | peak RSS MiB |\n|---|---|---|---|---|---|---|\n| {} | {} | {} | {} | {} | {} | {} |",
        spread(nb.rate, si),
        num(med(nb.mb_s)),
        spread(nb.cpu_per_m, num),
        spread(nb.per_request, si),
        spread(nb.allocs, num),
        spread(nb.alloc_bytes, num),
        spread(nb.rss, num)
    );

    // Hand-written profile notes (bench/analysis.md), kept next to the code that measures.
    let notes = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("analysis.md");
    if let Ok(text) = std::fs::read_to_string(&notes) {
        let _ = writeln!(out, "\n{}", text.trim_end());
    }

    // The rebalance benchmark (`rebalance`), from its own saved figures.
    if let Some(section) = crate::rebalance::section() {
        let _ = write!(out, "{section}");
    }

    // Share-group consumption (`share`), from its own saved figures.
    if let Some(section) = crate::share_consume::section() {
        let _ = write!(out, "{section}");
    }

    // The stream and typed handles (`handles`), from their own saved figures.
    if let Some(section) = crate::handles::section() {
        let _ = write!(out, "{section}");
    }

    // The example users run beside kcat (`example-memory`), from its own saved figures.
    if let Some(section) = crate::example_memory::section() {
        let _ = write!(out, "{section}");
    }

    // Partition scaling (`scale`), from its own saved figures.
    if let Some(section) = crate::scale::section() {
        let _ = write!(out, "{section}");
    }

    if !r.failures.is_empty() {
        let _ = writeln!(out, "\n## Failed runs\n");
        for f in &r.failures {
            let _ = writeln!(out, "- {f}");
        }
    }

    let _ = writeln!(out, "\n## Closing note\n");
    let met = v.iter().filter(|x| x.met == Some(true)).count();
    let _ = writeln!(out, "{met} of {} targets met in this run:\n", v.len());
    for x in &v {
        let _ = writeln!(
            out,
            "- {} ({}): {} — {}",
            x.figure,
            x.target,
            x.detail,
            verdict_mark(x.met)
        );
    }
    out
}
