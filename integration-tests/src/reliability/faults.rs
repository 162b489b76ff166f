//! The faults of the matrix and [`inject`], which runs one to completion (healed).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use crate::cluster::{KafkaCluster, StopSignal};
use crate::fault_proxy::{ProxyStats, Target, api};

/// One fault of the matrix. Network faults act on the victim broker's fault proxy
/// (one-shot API faults on every proxy, since the coordinator may be anywhere);
/// process faults act on the JVMs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No fault: the baseline.
    None,
    /// Cut the victim's connections and refuse new ones for this long.
    CutConnections(Duration),
    /// Reset requests with this API key half-way (armed once every 2 s for 12 s).
    ResetMidRequest(i16),
    /// Cut responses to requests with this API key after 10 bytes (armed once every
    /// 2 s for 12 s).
    CutMidResponse(i16),
    /// Drop responses to requests with this API key after the broker received the
    /// request, closing the connection (armed once every 2 s for 12 s).
    DropResponse(i16),
    /// Add this latency each way on the victim for 10 s (above the 5 s request timeout).
    Latency(Duration),
    /// Black-hole the victim's connections for this long.
    BlackHole(Duration),
    /// SIGKILL the victim, restart it 5 s later.
    KillLeader,
    /// SIGSTOP the victim for this long, then SIGCONT.
    PauseBroker(Duration),
    /// SIGTERM and restart every node in turn.
    RollingRestart,
    /// SIGKILL the active KRaft controller, restart it 5 s later.
    KillController,
}

fn api_name(key: i16) -> &'static str {
    match key {
        api::PRODUCE => "Produce",
        api::FETCH => "Fetch",
        api::METADATA => "Metadata",
        api::OFFSET_COMMIT => "OffsetCommit",
        api::OFFSET_FETCH => "OffsetFetch",
        api::JOIN_GROUP => "JoinGroup",
        api::HEARTBEAT => "Heartbeat",
        api::SYNC_GROUP => "SyncGroup",
        api::END_TXN => "EndTxn",
        api::TXN_OFFSET_COMMIT => "TxnOffsetCommit",
        api::CONSUMER_GROUP_HEARTBEAT => "ConsumerGroupHeartbeat",
        _ => "api",
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::None => write!(f, "none (baseline)"),
            Fault::CutConnections(d) => write!(f, "cut leader's connections {}s", d.as_secs()),
            Fault::ResetMidRequest(k) => write!(f, "reset mid-request ({})", api_name(*k)),
            Fault::CutMidResponse(k) => write!(f, "cut mid-frame ({} response)", api_name(*k)),
            Fault::DropResponse(k) => write!(f, "drop {} response after forwarding", api_name(*k)),
            Fault::Latency(d) => write!(f, "latency {}s each way (> request timeout)", d.as_secs()),
            Fault::BlackHole(d) => write!(f, "black hole {}s", d.as_secs()),
            Fault::KillLeader => write!(f, "SIGKILL leader"),
            Fault::PauseBroker(d) => write!(f, "SIGSTOP leader {}s", d.as_secs()),
            Fault::RollingRestart => write!(f, "rolling restart"),
            Fault::KillController => write!(f, "SIGKILL active controller"),
        }
    }
}

/// How an injected fault went.
#[derive(Debug, Clone)]
pub struct FaultReport {
    /// The node it targeted (the controller's id for [`Fault::KillController`]).
    pub victim: i32,
    /// From start to heal.
    pub duration: Duration,
    /// How many times a one-shot proxy fault fired (connections cut for cuts).
    pub fired: u64,
    /// When it healed (for recovery times).
    pub healed_at: Instant,
    /// Problems with the fault itself (a restart that failed, ...).
    pub error: Option<String>,
}

fn total(cluster: &KafkaCluster, f: impl Fn(&ProxyStats) -> u64) -> u64 {
    cluster.proxies().iter().map(|p| f(&p.stats())).sum()
}

/// Runs a blocking cluster operation off the async threads.
async fn blocking<T: Send + 'static>(
    cluster: &Arc<KafkaCluster>,
    f: impl FnOnce(&KafkaCluster) -> crate::Result<T> + Send + 'static,
) -> Result<T, String> {
    let cluster = cluster.clone();
    match tokio::task::spawn_blocking(move || f(&cluster)).await {
        Ok(r) => r.map_err(|e| e.to_string()),
        Err(e) => Err(format!("cluster operation panicked: {e}")),
    }
}

/// Injects `fault` against `victim` and returns once it has healed (restarted nodes
/// ready again).
pub async fn inject(cluster: &Arc<KafkaCluster>, fault: Fault, victim: i32) -> FaultReport {
    let started = Instant::now();
    let mut fired = 0;
    let mut error = None;
    let mut victim = victim;
    let proxy = cluster.proxy(victim).cloned();
    let arm_each_second = |arm: &dyn Fn(&crate::FaultProxy)| {
        for p in cluster.proxies() {
            arm(p);
        }
    };
    match fault {
        Fault::None => {}
        Fault::CutConnections(d) => {
            if let Some(p) = &proxy {
                let before = p.stats();
                p.cut_for(d).await;
                let after = p.stats();
                fired = after.cut - before.cut + after.refused - before.refused;
            }
        }
        Fault::ResetMidRequest(k) | Fault::CutMidResponse(k) | Fault::DropResponse(k) => {
            let count = |s: &ProxyStats| match fault {
                Fault::ResetMidRequest(_) => s.requests_reset,
                Fault::CutMidResponse(_) => s.responses_cut,
                _ => s.responses_dropped,
            };
            let before = total(cluster, count);
            // Armed one shot per proxy every 2 s for 12 s, so that requests sent only at
            // membership changes (JoinGroup at a leave or join) are caught too.
            for _ in 0..6 {
                arm_each_second(&|p| match fault {
                    Fault::ResetMidRequest(_) => p.arm_reset_mid_request(Target::Api(k), 1),
                    Fault::CutMidResponse(_) => p.arm_cut_mid_response(Target::Api(k), 10, 1),
                    _ => p.arm_drop_response(Target::Api(k), 1, Duration::ZERO),
                });
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            for p in cluster.proxies() {
                p.heal();
            }
            fired = total(cluster, count) - before;
        }
        Fault::Latency(latency) => {
            if let Some(p) = &proxy {
                p.latency_for(latency, Duration::from_secs(10)).await;
                fired = 1;
            }
        }
        Fault::BlackHole(d) => {
            if let Some(p) = &proxy {
                p.black_hole_for(d).await;
                fired = 1;
            }
        }
        Fault::KillLeader => {
            let r = blocking(cluster, move |c| c.stop_node(victim, StopSignal::Kill)).await;
            tokio::time::sleep(Duration::from_secs(5)).await;
            let r2 = blocking(cluster, move |c| c.restart_node(victim)).await;
            error = r.err().or(r2.err());
            fired = 1;
        }
        Fault::PauseBroker(d) => {
            let r = blocking(cluster, move |c| c.pause_node(victim)).await;
            tokio::time::sleep(d).await;
            let r2 = blocking(cluster, move |c| c.resume_node(victim)).await;
            let r3 = blocking(cluster, |c| c.wait_ready(Duration::from_secs(60))).await;
            error = r.err().or(r2.err()).or(r3.err());
            fired = 1;
        }
        Fault::RollingRestart => {
            error = blocking(cluster, |c| c.rolling_restart()).await.err();
            fired = cluster.node_ids().len() as u64;
        }
        Fault::KillController => match blocking(cluster, |c| c.kill_active_controller()).await {
            Ok(id) => {
                victim = id;
                tokio::time::sleep(Duration::from_secs(5)).await;
                error = blocking(cluster, move |c| c.restart_node(id)).await.err();
                fired = 1;
            }
            Err(e) => error = Some(e),
        },
    }
    FaultReport {
        victim,
        duration: started.elapsed(),
        fired,
        healed_at: Instant::now(),
        error,
    }
}
