//! Issue 24's targets against the best peer in every configuration, and the compression
//! rows (records/s and the ratio the broker saw, per codec and client), rendered from the
//! `report` run's figures.

use std::fmt::Write;

use crate::results::{Config, Kind, Results, Summary};
use crate::spec::{ClientKind, Codec};

/// Records/s target: ours ≥ this × the best peer's, in every configuration.
pub const RATE_TARGET: f64 = 1.5;
/// CPU target: ours ≤ this × the best (lowest) peer's, in every configuration.
pub const CPU_TARGET: f64 = 0.5;

fn med(s: Option<crate::results::Stat>) -> f64 {
    s.map_or(f64::NAN, |s| s.median)
}

/// The peer with the best median of `f` (highest with `higher`, else lowest).
fn best_peer(
    r: &Results,
    kind: Kind,
    config: Config,
    f: fn(&Summary) -> f64,
    higher: bool,
) -> Option<(ClientKind, f64)> {
    ClientKind::ALL
        .into_iter()
        .filter(|c| *c != ClientKind::Sdk)
        .map(|c| (c, f(&r.summary(kind, config, c))))
        .filter(|(_, v)| v.is_finite() && *v > 0.0)
        .reduce(|a, b| {
            let b_better = if higher { b.1 > a.1 } else { b.1 < a.1 };
            if b_better { b } else { a }
        })
}

fn mark(met: bool) -> &'static str {
    if met { "met" } else { "**not met**" }
}

/// Ours against the best peer in one configuration.
pub struct PeerRatio {
    /// The configuration.
    pub config: Config,
    /// The peer with the highest records/s, and its median.
    pub rate_peer: (ClientKind, f64),
    /// Ours ÷ that peer's records/s.
    pub rate: f64,
    /// The peer with the lowest CPU per record, and its median.
    pub cpu_peer: (ClientKind, f64),
    /// Ours ÷ that peer's CPU per record.
    pub cpu: f64,
}

impl PeerRatio {
    /// Whether the records/s target is met.
    pub fn rate_met(&self) -> bool {
        self.rate >= RATE_TARGET
    }

    /// Whether the CPU target is met.
    pub fn cpu_met(&self) -> bool {
        self.cpu <= CPU_TARGET
    }
}

/// Ours against the best peer, every configuration of `kind` in the run.
pub fn ratios(r: &Results, kind: Kind) -> Vec<PeerRatio> {
    let rate = |s: &Summary| med(s.rate);
    let cpu = |s: &Summary| med(s.cpu_per_m);
    r.configs(kind)
        .into_iter()
        .filter_map(|config| {
            let ours = r.summary(kind, config, ClientKind::Sdk);
            let rate_peer = best_peer(r, kind, config, rate, true)?;
            let cpu_peer = best_peer(r, kind, config, cpu, false)?;
            Some(PeerRatio {
                config,
                rate: rate(&ours) / rate_peer.1,
                rate_peer,
                cpu: cpu(&ours) / cpu_peer.1,
                cpu_peer,
            })
        })
        .collect()
}

/// One table: per configuration, ours against the best peer for records/s and CPU.
fn kind_table(out: &mut String, r: &Results, kind: Kind) -> (usize, usize, usize) {
    let _ = writeln!(
        out,
        "| configuration | best peer, records/s | kafka-rs ÷ it | verdict (≥ {RATE_TARGET}×) | best peer, CPU per record | kafka-rs ÷ it | verdict (≤ {CPU_TARGET}×) |\n|---|---|---|---|---|---|---|"
    );
    let rows = ratios(r, kind);
    for x in &rows {
        let _ = writeln!(
            out,
            "| {} | {} {} | {:.2}× | {} | {} {} CPU-s/M | {:.2}× | {} |",
            x.config.label(),
            x.rate_peer.0.label(),
            crate::markdown::si(x.rate_peer.1),
            x.rate,
            mark(x.rate_met()),
            x.cpu_peer.0.label(),
            crate::markdown::num(x.cpu_peer.1),
            x.cpu,
            mark(x.cpu_met()),
        );
    }
    (
        rows.len(),
        rows.iter().filter(|x| x.rate_met()).count(),
        rows.iter().filter(|x| x.cpu_met()).count(),
    )
}

/// "Targets against the best peer (issue 24)".
pub fn targets_section(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Targets against the best peer (issue 24)\n\n\
         In each configuration the best peer is whichever of rdkafka, krafka and Java had the \
         best median in this run (highest records/s; lowest CPU per record, Java net of its JVM \
         start). Targets: records/s ≥ {RATE_TARGET}× and CPU per record ≤ {CPU_TARGET}× the best \
         peer's, in every configuration.\n"
    );
    for (kind, name) in [(Kind::Produce, "Producer"), (Kind::Consume, "Consumer")] {
        let _ = writeln!(out, "### {name}\n");
        let (n, rate_met, cpu_met) = kind_table(&mut out, r, kind);
        let _ = writeln!(
            out,
            "\n{name}: records/s target met in {rate_met} of {n} configurations, CPU target in \
             {cpu_met} of {n}.\n"
        );
    }
    out
}

/// "Compression (issue 24)": one partition, every codec, every client.
pub fn compression_section(r: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Compression (issue 24)\n\n\
         One partition, idempotent producers, the same value pool for every client. Codecs: ours \
         are pure Rust (lz4_flex; ruzstd at its only implemented level, `Fastest`, about zstd's \
         level 1; flate2 over zlib-rs at level 6); librdkafka's are C (its built-in lz4, \
         zstd-sys at level 3, the system's zlib); krafka's lz4 and gzip are Rust (gzip through \
         flate2, which in this one benchmark binary is built with zlib-rs for every crate, \
         because Cargo unifies features; krafka's own default is miniz_oxide) and its zstd \
         encoder is C (zstd-sys); Java's are the JDK's zlib, zstd-jni and lz4-java. \
         \"Wire ratio\" = value bytes sent ÷ the bytes of the run's Produce requests as the \
         broker counted them (JMX `RequestBytes`), so framing counts against it. The consumer \
         columns drain a topic the same producer filled with that codec.\n"
    );
    let _ = writeln!(
        out,
        "| size | codec | client | producer records/s | producer CPU-s per M | wire ratio | consumer records/s | consumer CPU-s per M |\n|---|---|---|---|---|---|---|---|"
    );
    for size in [100, 1024] {
        for codec in [Codec::None, Codec::Lz4, Codec::Zstd, Codec::Gzip] {
            let pc = Config {
                size,
                partitions: 1,
                codec,
                idempotence: true,
            };
            let cc = Config {
                idempotence: false,
                ..pc
            };
            for c in ClientKind::ALL {
                let p = r.summary(Kind::Produce, pc, c);
                let k = r.summary(Kind::Consume, cc, c);
                if p.rate.is_none() && k.rate.is_none() {
                    continue;
                }
                let ratio = med(p.wire_ratio);
                let _ = writeln!(
                    out,
                    "| {size} B | {} | {} | {} | {} | {} | {} | {} |",
                    codec.name(),
                    c.label(),
                    crate::markdown::si(med(p.rate)),
                    crate::markdown::num(med(p.cpu_per_m)),
                    if ratio.is_finite() {
                        format!("{ratio:.2}")
                    } else {
                        "–".into()
                    },
                    crate::markdown::si(med(k.rate)),
                    crate::markdown::num(med(k.cpu_per_m)),
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "\n![records/s and wire ratio by codec and client](benchmarks/compression.png)\n"
    );
    out
}
