//! The full reliability matrix: every workload under every applicable fault on a 3-node
//! cluster behind fault proxies, written to `docs/reliability.md`.
//!
//! ```text
//! cargo run -p integration-tests --bin reliability-matrix -- [--seed N] [--only TEXT]... [--out PATH] [--without-leader-hints]
//! ```
//! `--only` keeps the scenarios whose "workload / fault" name contains TEXT (repeatable);
//! the report then says it is a subset. `--without-leader-hints` makes the clients under
//! test ignore KIP-951 leader hints (`lowlevel::ignore_leader_hints`): the "before" of
//! the leader-hint measurement (compare the Metadata requests and stalls of the leader
//! kill and rolling restart rows with a run without it). Exits 1 when a goal was violated.
//! `MATRIX_TRACE=1` prints the client's debug events (target `kafka_client`) to stderr.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kafka_testbed::fault_proxy::api;
use kafka_testbed::reliability::{
    Env, Fault, ScenarioResult, W3_IMPLEMENTED, Workload, report, run_scenario,
    with_consumer_protocol_groups,
};
use kafka_testbed::{ClusterConfig, KafkaCluster};

const DEFAULT_SEED: u64 = 20_261_122;

/// Every (workload, fault) pair of the matrix.
fn matrix() -> Vec<(Workload, Fault)> {
    let mut out = Vec::new();
    for w in [
        Workload::W1Produce,
        Workload::W2Group,
        Workload::W2GroupConsumerProtocol,
        Workload::W3TxnCopy,
    ] {
        // The API whose requests the one-shot faults target, per workload.
        let (reset, cut, drop) = match w {
            Workload::W1Produce => (api::PRODUCE, api::PRODUCE, api::PRODUCE),
            Workload::W2Group | Workload::W2GroupConsumerProtocol => {
                (api::OFFSET_COMMIT, api::FETCH, api::OFFSET_COMMIT)
            }
            Workload::W3TxnCopy => (api::END_TXN, api::TXN_OFFSET_COMMIT, api::END_TXN),
        };
        for f in [
            Fault::None,
            Fault::CutConnections(Duration::from_secs(5)),
            Fault::CutConnections(Duration::from_secs(30)),
            Fault::ResetMidRequest(reset),
            Fault::CutMidResponse(cut),
            Fault::DropResponse(drop),
            Fault::Latency(Duration::from_secs(6)),
            Fault::BlackHole(Duration::from_secs(15)),
            Fault::KillLeader,
            Fault::PauseBroker(Duration::from_secs(10)),
            Fault::RollingRestart,
            Fault::KillController,
        ] {
            out.push((w, f));
        }
        if w == Workload::W2Group {
            out.push((w, Fault::DropResponse(api::JOIN_GROUP)));
        }
        if w == Workload::W2GroupConsumerProtocol {
            out.push((w, Fault::DropResponse(api::CONSUMER_GROUP_HEARTBEAT)));
        }
        if w == Workload::W3TxnCopy {
            out.push((w, Fault::DropResponse(api::TXN_OFFSET_COMMIT)));
        }
    }
    out
}

fn usage() -> ! {
    eprintln!(
        "usage: reliability-matrix [--seed N] [--only TEXT]... [--out PATH] [--without-leader-hints]"
    );
    std::process::exit(2)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    kafka_testbed::install_panic_hook();
    kafka_testbed::trace_client_if_set("MATRIX_TRACE");
    let mut seed = DEFAULT_SEED;
    let mut only: Vec<String> = Vec::new();
    let mut out = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/reliability.md");
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let mut command = String::from("cargo run -p integration-tests --bin reliability-matrix");
    if !raw.is_empty() {
        command.push_str(" -- ");
        command.push_str(&raw.join(" "));
    }
    let mut ignore_leader_hints = false;
    let mut args = raw.into_iter();
    while let Some(a) = args.next() {
        if a == "--without-leader-hints" {
            ignore_leader_hints = true;
            continue;
        }
        let value = args.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--seed" => seed = value.parse().unwrap_or_else(|_| usage()),
            "--only" => only.push(value),
            "--out" => out = PathBuf::from(value),
            _ => usage(),
        }
    }
    let scenarios: Vec<(Workload, Fault)> = matrix()
        .into_iter()
        .filter(|(w, f)| {
            let name = format!("{w} / {f}");
            only.is_empty() || only.iter().any(|o| name.contains(o.as_str()))
        })
        .collect();
    let total = matrix().len();
    let started = Instant::now();
    let config = with_consumer_protocol_groups(ClusterConfig::new(3).with_fault_proxy());
    let cluster = match KafkaCluster::start(config) {
        Ok(c) => Arc::new(c),
        Err(e) => {
            eprintln!("reliability-matrix: cluster: {e}");
            std::process::exit(2);
        }
    };
    let env = Env {
        cluster,
        seed,
        ignore_leader_hints,
    };
    let mut results: Vec<ScenarioResult> = Vec::new();
    let mut notes = vec![format!(
        "{} of the matrix's {total} scenarios run{}.",
        scenarios.len(),
        if only.is_empty() {
            String::new()
        } else {
            format!(" (subset: --only {only:?})")
        }
    )];
    if ignore_leader_hints {
        notes.push(
            "Clients under test ignore KIP-951 leader hints (`--without-leader-hints`): a \
             moved partition is found by a Metadata refresh."
                .into(),
        );
    }
    if !W3_IMPLEMENTED {
        notes.push(
            "W3 (transactional copy) is a stub until the transactional producer exists: its \
             rows say \"not run\"."
                .into(),
        );
    }
    for (i, (w, f)) in scenarios.iter().enumerate() {
        eprintln!(
            "reliability-matrix: [{}/{}] {w} / {f} (at {:.0}s)",
            i + 1,
            scenarios.len(),
            started.elapsed().as_secs_f64()
        );
        let result = if *w == Workload::W3TxnCopy && !W3_IMPLEMENTED {
            ScenarioResult {
                workload: *w,
                fault: *f,
                seed,
                counts: Err("stub (transactional producer not implemented)".into()),
                fault_report: None,
            }
        } else {
            run_scenario(&env, *w, *f).await
        };
        eprintln!(
            "reliability-matrix:   {:?}\n   violations: {:?}",
            result.counts.as_ref().map(|c| (
                c.acked,
                c.lost,
                c.duplicates,
                c.order_violations,
                c.offset_conflicts,
                c.recovery
            )),
            result.violations()
        );
        results.push(result);
        let info = report::RunInfo {
            seed,
            duration: started.elapsed(),
            command: command.clone(),
            notes: notes.clone(),
        };
        let mut text = report::render(&info, &results);
        // The hand-written sections after the marker survive the regeneration.
        let kept = std::fs::read_to_string(&out).ok().and_then(|old| {
            old.find(report::KEPT_MARKER)
                .map(|at| old[at..].to_string())
        });
        if let Some(kept) = kept {
            text.push('\n');
            text.push_str(&kept);
        }
        if let Err(e) = std::fs::write(&out, text) {
            eprintln!("reliability-matrix: writing {}: {e}", out.display());
        }
    }
    let bad = results
        .iter()
        .filter(|r| {
            (W3_IMPLEMENTED || r.workload != Workload::W3TxnCopy) && !r.violations().is_empty()
        })
        .count();
    eprintln!(
        "reliability-matrix: {} scenarios, {bad} with violations, {:.1} min; wrote {}",
        results.len(),
        started.elapsed().as_secs_f64() / 60.0,
        out.display()
    );
    std::process::exit(i32::from(bad > 0));
}
