//! Deterministic simulation of kafka-client: the SDK's real idempotent producers,
//! transactional producer, read_committed reader and consumer group (classic or
//! KIP-848, by seed) against an in-process model of a replicated 3-broker cluster
//! (leader epochs, ISR, high watermark, idempotent-producer sequence checks, a group
//! coordinator and a transaction coordinator that move, transaction markers and the
//! last stable offset, transaction protocol v1 or v2 by seed), over in-memory pipes
//! opened through [`kafka_client::lowlevel::with_dialer`], on tokio's paused clock in
//! a current-thread runtime. Under KIP-848, members visit the group (join, consume,
//! leave) while the faults last, and requests to the group coordinator may be held on
//! their way, so that a member's epoch moves on the coordinator before a request
//! carrying the older epoch reaches it (STALE_MEMBER_EPOCH); in a classic group one
//! member pauses (only heartbeats) until a newcomer's rebalance reaches it. Every
//! random choice (fault schedule, network fault rates, the workload's partitions,
//! pauses and visits, and the SDK's own jitter through `fastrand`'s thread-local
//! generator) comes from one seed.
//!
//! [`run`] runs one seed and returns the invariants it broke (see the
//! [`invariants`] module). `tests/simulation.rs` runs 200 seeds; `SIM_SEEDS=N` runs
//! more and `SIM_SEED=S` exactly one (the reproduction line a failure prints).
//!
//! ```
//! let outcome = kafka_sim::run(7);
//! assert!(outcome.violations.is_empty(), "{}", outcome.report());
//! ```

#![deny(missing_docs)]

mod cluster;
mod faults;
mod group;
mod group848;
pub mod invariants;
mod net;
mod replication;
mod txn;
mod txn_api;
mod txn_check;
mod txn_workload;
mod workload;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use group::Commit;
pub use invariants::Violation;
pub use txn_workload::{TxnEnd, TxnHistory, TxnRecord};
pub use workload::{Delivered, History, SendRecord, Sent};

use crate::cluster::{Cluster, PARTITIONS};
use crate::faults::{Chaos, Stream};
use crate::net::{Connections, SimDialer};
use kafka_client::consumer::GroupProtocol;

/// Simulated time the sends have to resolve (far beyond the producer's 60 s delivery
/// timeout: a send still pending then never resolves).
const SEND_DEADLINE: Duration = Duration::from_secs(300);
/// Simulated time the consumers have to catch up once the faults stop.
const CONSUME_DEADLINE: Duration = Duration::from_secs(180);

/// What one seed's run did and broke.
#[derive(Debug)]
pub struct Outcome {
    /// The seed.
    pub seed: u64,
    /// Broken invariants (empty: the run passed).
    pub violations: Vec<Violation>,
    /// The faults injected, in order.
    pub faults: Vec<String>,
    /// The workload's history.
    pub history: History,
    /// The transactional workload's history.
    pub txn: TxnHistory,
    /// Whether the cluster spoke transaction protocol v2.
    pub tv2: bool,
    /// Simulated time the run took.
    pub simulated: Duration,
}

impl Outcome {
    /// The one-line command that runs this seed again.
    pub fn reproduce(&self) -> String {
        format!(
            "SIM_SEED={} cargo test -p kafka-sim --test simulation",
            self.seed
        )
    }

    /// One line of figures: sends acknowledged and failed, records delivered, faults,
    /// simulated seconds.
    pub fn summary(&self) -> String {
        let acked = self
            .history
            .sends
            .iter()
            .filter(|s| matches!(s.outcome, Sent::Acked(_)))
            .count();
        let committed = self
            .txn
            .txns
            .iter()
            .filter(|t| t.end == TxnEnd::Committed)
            .count();
        format!(
            "seed {}: {} sends, {} acknowledged, {} delivered ({} group), {} transactions (tv{}), {} committed, {} stalled past the timeout, {} producers replaced, {} read_committed, {} faults, {:.1} s simulated, {} violations",
            self.seed,
            self.history.sends.len(),
            acked,
            self.history.delivered.len(),
            if self.history.kip848 {
                "consumer"
            } else {
                "classic"
            },
            self.txn.txns.len(),
            if self.tv2 { 2 } else { 1 },
            committed,
            self.txn.txns.iter().filter(|t| t.stalled).count(),
            self.txn.replaced.len(),
            self.txn.read.len(),
            self.faults.len(),
            self.simulated.as_secs_f64(),
            self.violations.len()
        )
    }

    /// What each consumer member delivered, per partition, as offset ranges in
    /// delivery order (`member 0 p1: 0-49 50-94 45-60`).
    pub fn deliveries(&self) -> String {
        let mut runs: std::collections::BTreeMap<(usize, i32), Vec<(i64, i64)>> =
            std::collections::BTreeMap::new();
        for d in &self.history.delivered {
            let (member, partition, offset) = (d.incarnation, d.partition, d.offset);
            let r = runs.entry((member, partition)).or_default();
            match r.last_mut() {
                Some((_, end)) if *end + 1 == offset => *end = offset,
                _ => r.push((offset, offset)),
            }
        }
        let mut s = String::new();
        for ((member, partition), r) in runs {
            let ranges: Vec<String> = r.iter().map(|(a, b)| format!("{a}-{b}")).collect();
            s.push_str(&format!(
                "  member {member} p{partition}: {}\n",
                ranges.join(" ")
            ));
        }
        s
    }

    /// Everything a replay of the seed must reproduce: the faults, every send's
    /// outcome and every delivery, in order.
    pub fn fingerprint(&self) -> String {
        format!(
            "{:?}|{:?}|{:?}|{:?}|{:?}",
            self.faults, self.history.sends, self.history.delivered, self.txn, self.simulated
        )
    }

    /// A readable account of the violations, the reproduction line first.
    pub fn report(&self) -> String {
        let mut s = format!(
            "seed {} failed; reproduce: {}\n",
            self.seed,
            self.reproduce()
        );
        for v in &self.violations {
            s.push_str(&format!("  {}: {}\n", v.invariant, v.detail));
        }
        s.push_str(&format!("  faults: {}\n", self.faults.join("; ")));
        s
    }
}

/// Runs seed `seed` on a fresh current-thread runtime with a paused clock.
pub fn run(seed: u64) -> Outcome {
    // The SDK's own jitter (backoff, partition choice) draws from fastrand's
    // thread-local generator: seed it on the thread the runtime runs on.
    fastrand::seed(seed);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime builds");
    rt.block_on(simulate(seed))
}

async fn simulate(seed: u64) -> Outcome {
    let started = tokio::time::Instant::now();
    let chaos = Chaos::new(seed);
    let tv2 = chaos.with(Stream::Transactions, |r| r.bool());
    let cluster = Cluster::new(tv2);
    let connections = Arc::new(Connections::default());
    let dialer = SimDialer {
        cluster: cluster.clone(),
        chaos: chaos.clone(),
        connections: connections.clone(),
    };
    let done = Arc::new(AtomicBool::new(false));
    let tick = Duration::from_millis(chaos.with(Stream::Setup, |r| r.u64(1..30)));
    tokio::spawn(faults::replicator(cluster.clone(), tick, done.clone()));
    let driver = tokio::spawn(faults::driver(
        cluster.clone(),
        chaos.clone(),
        connections.clone(),
    ));

    // Two members from the start; one may crash and be replaced. The group speaks the
    // classic protocol or KIP-848's, by seed.
    let kip848 = chaos.with(Stream::Consumers, |r| r.bool());
    let protocol = if kip848 {
        GroupProtocol::Consumer
    } else {
        GroupProtocol::Classic
    };
    let delivered = Arc::new(Mutex::new(Vec::new()));
    let mut members = Vec::new();
    // In classic groups member 1 pauses once, and a newcomer then joins (see
    // `workload::Pause`).
    let (pause_after, nudge_after) = chaos.with(Stream::Visitors, |r| {
        (
            Duration::from_millis(r.u64(300..3000)),
            Duration::from_millis(r.u64(300..2000)),
        )
    });
    let paused = Arc::new(tokio::sync::Notify::new());
    let pause = (!kip848).then(|| workload::Pause {
        after: pause_after,
        paused: paused.clone(),
    });
    for incarnation in 0..2 {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(workload::consume_pausing(
            dialer.clone(),
            incarnation,
            protocol,
            stop.clone(),
            delivered.clone(),
            pause.clone().filter(|_| incarnation == 1),
        ));
        members.push((stop, task));
    }
    if !kip848 {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(workload::nudge(
            dialer.clone(),
            protocol,
            paused,
            nudge_after,
            stop.clone(),
            delivered.clone(),
        ));
        members.push((stop, task));
    }
    let crash_at = chaos.with(Stream::Setup, |r| {
        r.bool().then(|| Duration::from_millis(r.u64(100..3000)))
    });
    let crasher = {
        let dialer = dialer.clone();
        let delivered = delivered.clone();
        let victim = members[0].1.abort_handle();
        tokio::spawn(async move {
            let at = crash_at?;
            tokio::time::sleep(at).await;
            victim.abort();
            let stop = Arc::new(AtomicBool::new(false));
            let task = tokio::spawn(workload::consume(
                dialer,
                2,
                protocol,
                stop.clone(),
                delivered,
            ));
            Some((stop, task))
        })
    };

    // Under KIP-848, members visit the group while the faults last.
    let visitors: Vec<_> = (0..workload::VISITORS)
        .filter(|_| kip848)
        .map(|slot| {
            tokio::spawn(workload::visit(
                slot,
                dialer.clone(),
                chaos.clone(),
                protocol,
                delivered.clone(),
            ))
        })
        .collect();

    let read = Arc::new(Mutex::new(Vec::new()));
    let reader_stop = Arc::new(AtomicBool::new(false));
    let reader = tokio::spawn(txn_workload::read_committed(
        dialer.clone(),
        reader_stop.clone(),
        read.clone(),
    ));
    let transactions = tokio::spawn(txn_workload::transact(dialer.clone(), chaos.clone()));
    let hasty = tokio::spawn(workload::produce(
        dialer.clone(),
        chaos.clone(),
        workload::HASTY,
        SEND_DEADLINE,
    ));
    let mut sends = workload::produce(
        dialer.clone(),
        chaos.clone(),
        workload::PATIENT,
        SEND_DEADLINE,
    )
    .await;
    sends.extend(hasty.await.unwrap_or_default());
    chaos.calm();
    let mut txn = transactions.await.unwrap_or_default();
    let _ = driver.await;
    for visitor in visitors {
        let _ = visitor.await;
    }
    if let Ok(Some(member)) = crasher.await {
        members.push(member);
    }

    // The consumers catch up: the group's commits reach every partition's end, every
    // transaction ends, and the read_committed reader delivers every committed record.
    let caught_up = tokio::time::timeout(CONSUME_DEADLINE, async {
        loop {
            {
                let st = cluster.state();
                let group =
                    st.partitions[..PARTITIONS as usize]
                        .iter()
                        .enumerate()
                        .all(|(p, part)| {
                            st.group.offsets.get(&(p as i32)).copied().unwrap_or(0) >= part.hw
                        });
                let read = read.lock().unwrap_or_else(|e| e.into_inner());
                if group && st.txns.settled() && txn_check::reader_caught_up(&txn_logs(&st), &read)
                {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await
    .is_ok();
    for (stop, _) in &members {
        stop.store(true, Ordering::SeqCst);
    }
    for (_, task) in members {
        let _ = tokio::time::timeout(Duration::from_secs(30), task).await;
    }
    reader_stop.store(true, Ordering::SeqCst);
    let _ = tokio::time::timeout(Duration::from_secs(30), reader).await;
    txn.read = read.lock().unwrap_or_else(|e| e.into_inner()).clone();
    done.store(true, Ordering::SeqCst);

    let history = History {
        sends,
        delivered: delivered.lock().unwrap_or_else(|e| e.into_inner()).clone(),
        consumers_caught_up: caught_up,
        kip848,
    };
    let (logs, group, txn_violations) = {
        let st = cluster.state();
        let txn_violations =
            txn_check::check(&txn, &txn_logs(&st), &st.txns.committed, st.txns.settled());
        let logs: Vec<_> = (0..PARTITIONS as usize)
            .map(|p| invariants::numbers(&st.partitions[p].committed()))
            .collect();
        (
            logs,
            invariants::GroupRecord {
                commits: st.group.commits.clone(),
                assignments: st.group.history.clone(),
                timeline: st.consumer_group.timeline.clone(),
                overlaps: st.consumer_group.overlaps.clone(),
            },
            txn_violations,
        )
    };
    let mut violations = invariants::check(chaos.duplicates(), &history, &logs, &group);
    violations.extend(txn_violations);
    Outcome {
        seed,
        violations,
        faults: chaos.trace(),
        history,
        txn,
        tv2,
        simulated: started.elapsed(),
    }
}

/// The fates of the `txn` topic's committed records, per partition.
fn txn_logs(st: &cluster::State) -> Vec<txn_check::Fates> {
    (0..PARTITIONS)
        .map(|p| {
            let at = cluster::slot(cluster::TXN_TOPIC, p).expect("a txn partition");
            txn_check::fates(&st.partitions[at].committed())
        })
        .collect()
}
