//! PR tier of the reliability matrix: a few representative scenarios (20k records each,
//! fixed seed) on one 3-node cluster behind fault proxies. The full matrix is
//! `cargo run -p integration-tests --bin reliability-matrix` (writes
//! `docs/reliability.md`).
//!
//! Every scenario asserts the invariants' goals: lost = 0 (I1), order (I3), one value
//! per offset (I6), an outcome for everything (I7), no definite failure persisted (I8),
//! recovery and close within bounds (I10), and for the idempotent W1 and the
//! transactional W3 no duplicates (I2); W3 also no aborted reads (I5). W2's duplicates
//! are printed (at least once). W2 runs with both group protocols (classic and KIP-848's
//! consumer protocol).

use std::sync::{Arc, OnceLock};

use kafka_testbed::fault_proxy::api;
use kafka_testbed::reliability::{
    Env, Fault, ScenarioResult, Workload, run_scenario, with_consumer_protocol_groups,
};
use kafka_testbed::{ClusterConfig, KafkaCluster};

const SEED: u64 = 20_261_122;

fn cluster() -> Arc<KafkaCluster> {
    static CLUSTER: OnceLock<Arc<KafkaCluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            kafka_testbed::install_panic_hook();
            let config = with_consumer_protocol_groups(ClusterConfig::new(3).with_fault_proxy());
            Arc::new(KafkaCluster::start(config).expect("3-node cluster with fault proxies"))
        })
        .clone()
}

/// One scenario at a time on the shared cluster.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn run(workload: Workload, fault: Fault) -> ScenarioResult {
    let _turn = TURN.lock().await;
    let env = Env {
        cluster: cluster(),
        seed: SEED,
        ignore_leader_hints: false,
    };
    let r = run_scenario(&env, workload, fault).await;
    println!("{workload} / {fault}: {:#?}", r.counts);
    let v = r.violations();
    assert!(v.is_empty(), "{workload} / {fault}: {v:?}");
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w1_produce_survives_dropped_produce_responses() {
    let r = run(Workload::W1Produce, Fault::DropResponse(api::PRODUCE)).await;
    let fired = r.fault_report.as_ref().map_or(0, |f| f.fired);
    assert!(fired >= 1, "the fault fired: {fired}");
    let c = r.counts.unwrap();
    assert_eq!(
        c.acked, c.records,
        "every record acknowledged: {:?}",
        c.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w1_produce_survives_leader_cut_for_5s() {
    let r = run(
        Workload::W1Produce,
        Fault::CutConnections(std::time::Duration::from_secs(5)),
    )
    .await;
    assert!(r.fault_report.as_ref().is_some_and(|f| f.fired >= 1));
    let c = r.counts.unwrap();
    assert_eq!(
        c.acked, c.records,
        "every record acknowledged: {:?}",
        c.errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w2_group_survives_dropped_offset_commit_responses() {
    let r = run(Workload::W2Group, Fault::DropResponse(api::OFFSET_COMMIT)).await;
    let fired = r.fault_report.as_ref().map_or(0, |f| f.fired);
    assert!(fired >= 1, "the fault fired: {fired}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w2_group_consumer_protocol_survives_dropped_offset_commit_responses() {
    let r = run(
        Workload::W2GroupConsumerProtocol,
        Fault::DropResponse(api::OFFSET_COMMIT),
    )
    .await;
    let fired = r.fault_report.as_ref().map_or(0, |f| f.fired);
    assert!(fired >= 1, "the fault fired: {fired}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w2_group_consumer_protocol_survives_a_leader_kill() {
    let r = run(Workload::W2GroupConsumerProtocol, Fault::KillLeader).await;
    assert!(r.fault_report.as_ref().is_some_and(|f| f.fired >= 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn w3_txn_copy_survives_dropped_end_txn_responses() {
    let r = run(Workload::W3TxnCopy, Fault::DropResponse(api::END_TXN)).await;
    let fired = r.fault_report.as_ref().map_or(0, |f| f.fired);
    assert!(fired >= 1, "the fault fired: {fired}");
    let c = r.counts.unwrap();
    assert_eq!(c.acked, c.records, "every input record copied: {c:?}");
    assert_eq!(c.duplicates, 0, "exactly once: {c:?}");
    assert_eq!(c.aborted_reads, Some(0), "no aborted reads: {c:?}");
}
