//! The soak's faults: the leader of a chosen partition SIGKILLed every 30 s and
//! restarted after a short pause, and the member and copier kills' schedule.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use kafka_testbed::reliability::Env;
use kafka_testbed::{KafkaCluster, StopSignal};
use tokio::time::Instant;

use super::{Ledger, SoakConfig, sleep_until_or_done};

/// Partitions of the test bed's internal topics on a 3-node cluster.
const INTERNAL_PARTITIONS: i32 = 6;

/// Java's `String.hashCode`, which places a group or a `transactional.id` on a
/// partition of `__consumer_offsets` or `__transaction_state`.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The internal-topic partition coordinating `key` (a group or a transactional id).
pub fn coordinator_partition(key: &str) -> i32 {
    (java_hash(key) & 0x7fff_ffff) % INTERNAL_PARTITIONS
}

/// Which partition's leader the `k`-th kill targets, in turn: an input partition, the
/// copier's transaction coordinator, an output partition, a group coordinator (the
/// member group's, then the copier group's).
pub fn target(
    k: u64,
    cfg: &SoakConfig,
    input: &str,
    output: &str,
    groups: [&str; 2],
    transactional_id: &str,
) -> (String, i32) {
    let round = k / 4;
    let p = (round % cfg.partitions as u64) as i32;
    match k % 4 {
        0 => (input.to_owned(), p),
        1 => (
            "__transaction_state".to_owned(),
            coordinator_partition(transactional_id),
        ),
        2 => (output.to_owned(), p),
        _ => (
            "__consumer_offsets".to_owned(),
            coordinator_partition(groups[(round % 2) as usize]),
        ),
    }
}

/// Runs a blocking cluster operation off the async threads.
async fn blocking<T: Send + 'static>(
    cluster: &Arc<KafkaCluster>,
    f: impl FnOnce(&KafkaCluster) -> kafka_testbed::Result<T> + Send + 'static,
) -> Result<T, String> {
    let cluster = cluster.clone();
    match tokio::task::spawn_blocking(move || f(&cluster)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(format!("cluster operation panicked: {e}")),
    }
}

/// Kills counted by [`run_leader_kills`].
#[derive(Debug, Default)]
pub struct KillCounts {
    /// Leaders SIGKILLed (and restarted).
    pub kills: AtomicU64,
    /// Kills skipped because the cluster was not fully replicated within 90 s of the
    /// kill's turn (two brokers down would stop acks=all writes, which is not the
    /// fault under test).
    pub skipped: AtomicU64,
    /// Restarts that failed.
    pub restart_failures: AtomicU64,
}

/// Every `cfg.leader_kill_every` until `done`: waits until no partition is under
/// replicated, SIGKILLs the leader of the turn's partition ([`target`]), and restarts
/// it `cfg.leader_down_for` later (waiting until it is ready). Returns with the
/// cluster whole.
pub async fn run_leader_kills(
    env: Env,
    cfg: SoakConfig,
    targets: impl Fn(u64) -> (String, i32),
    ledger: Arc<Ledger>,
    counts: Arc<KillCounts>,
    done: Arc<AtomicBool>,
) {
    let start = Instant::now();
    let mut k = 0u64;
    loop {
        sleep_until_or_done(start + cfg.leader_kill_every * (k as u32 + 1), &done).await;
        if done.load(Ordering::Relaxed) {
            break;
        }
        let (topic, partition) = targets(k);
        k += 1;
        let whole = blocking(&env.cluster, |c| {
            c.wait_fully_replicated(Duration::from_secs(90))
        })
        .await;
        if let Err(e) = whole {
            counts.skipped.fetch_add(1, Ordering::Relaxed);
            ledger.event(format!("kill {k} skipped: {e}"));
            continue;
        }
        let victim = match env.leader(&topic, partition).await {
            Ok(v) => v,
            Err(e) => {
                counts.skipped.fetch_add(1, Ordering::Relaxed);
                ledger.event(format!("kill {k} skipped: {e}"));
                continue;
            }
        };
        let killed_at = Instant::now();
        if let Err(e) = blocking(&env.cluster, move |c| c.stop_node(victim, StopSignal::Kill)).await
        {
            ledger.event(format!("kill {k}: SIGKILL of node {victim} failed: {e}"));
            continue;
        }
        tokio::time::sleep(cfg.leader_down_for).await;
        let mut restarted = blocking(&env.cluster, move |c| c.restart_node(victim)).await;
        if restarted.is_err() {
            counts.restart_failures.fetch_add(1, Ordering::Relaxed);
            restarted = blocking(&env.cluster, move |c| c.restart_node(victim)).await;
        }
        counts.kills.fetch_add(1, Ordering::Relaxed);
        ledger.event(format!(
            "kill {k}: SIGKILL node {victim} (leader of {topic}-{partition}), back in {:.1}s{}",
            killed_at.elapsed().as_secs_f64(),
            restarted
                .err()
                .map(|e| format!(", restart failed: {e}"))
                .unwrap_or_default()
        ));
    }
    // Leave the cluster whole for the checks.
    let _ = blocking(&env.cluster, |c| {
        c.wait_ready(Duration::from_secs(120))?;
        c.wait_fully_replicated(Duration::from_secs(120))
    })
    .await;
}
