//! Faults drawn from the seed: per-request network faults (probabilities drawn once
//! per run; requests to the group coordinator may also be held on their way, see
//! [`Chaos::net_fault`]), and a driver that, until the workload is done, crashes and
//! restarts brokers, moves leaders and the group coordinator, slows disks and resets
//! connections. Every random choice comes from the run's one generator.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;

use crate::cluster::{Cluster, PARTITIONS, TOPICS};
use crate::net::{Connections, NetFault};
use crate::replication::BROKERS;

/// The independent random streams of a run, each seeded from the run's seed. Kept
/// apart so that the cluster's fault schedule and each producer's choices do not shift
/// when the SDK's own nondeterminism (see the crate docs) changes which request comes
/// first: only the network faults' assignment to requests depends on request order.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    /// The cluster fault driver.
    Faults,
    /// Per-request network faults.
    Network,
    /// One-off choices when the run starts.
    Setup,
    /// A producer's partitions and pauses (by its index).
    Producer(usize),
    /// The transactional producer's choices (records, partitions, commit or abort).
    Transactions,
    /// The consumer group's protocol and the read_committed reader's pauses.
    Consumers,
    /// The visiting consumer members' arrivals and stays.
    Visitors,
    /// Which transaction, if any, the transactional workload stalls past its timeout.
    Stalls,
}

impl Stream {
    fn index(self) -> usize {
        match self {
            Stream::Faults => 0,
            Stream::Network => 1,
            Stream::Setup => 2,
            Stream::Producer(i) => 3 + i,
            Stream::Transactions => 5,
            Stream::Consumers => 6,
            Stream::Visitors => 7,
            Stream::Stalls => STREAMS,
        }
    }
}

/// Streams a run has (the first 5 are drawn before the fault rates, the rest after,
/// so that adding a stream kept the older streams' seeds; the request-delay rate is
/// drawn after every stream, for the same reason).
const STREAMS: usize = 8;

/// The group coordinator's APIs: the requests a request delay may hold.
const GROUP_APIS: [ApiKey; 7] = [
    ApiKey::ConsumerGroupHeartbeat,
    ApiKey::OffsetFetch,
    ApiKey::OffsetCommit,
    ApiKey::JoinGroup,
    ApiKey::SyncGroup,
    ApiKey::Heartbeat,
    ApiKey::LeaveGroup,
];

/// The per-mille chance of a request delay is drawn below this per run.
const REQUEST_DELAY_RATE: u32 = 400;

/// The longest a request is held on its way to the group coordinator.
pub(crate) const REQUEST_DELAY_MAX: Duration = Duration::from_millis(3000);

/// The run's random streams and its network fault rates.
#[derive(Debug, Clone)]
pub(crate) struct Chaos {
    rngs: Arc<Vec<Mutex<fastrand::Rng>>>,
    /// Per-mille chances of each network fault (lose request, lose response, delay
    /// the response, duplicate, delay a group coordinator's request).
    rates: [u32; 5],
    on: Arc<AtomicBool>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Chaos {
    pub fn new(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut rngs: Vec<_> = (0..5)
            .map(|_| Mutex::new(fastrand::Rng::with_seed(rng.u64(..))))
            .collect();
        let mut rates = [
            rng.u32(0..15),
            rng.u32(0..15),
            rng.u32(0..80),
            rng.u32(0..5),
            0,
        ];
        rngs.extend((5..STREAMS).map(|_| Mutex::new(fastrand::Rng::with_seed(rng.u64(..)))));
        rates[4] = rng.u32(0..REQUEST_DELAY_RATE);
        // Streams added since: seeded after everything else, so the older draws stay.
        rngs.push(Mutex::new(fastrand::Rng::with_seed(rng.u64(..))));
        Chaos {
            rngs: Arc::new(rngs),
            rates,
            on: Arc::new(AtomicBool::new(true)),
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// A run of `seed` with these network fault rates (per mille: lose request, lose
    /// response, delay the response, duplicate, delay a group coordinator's request).
    #[cfg(test)]
    pub fn with_rates(seed: u64, rates: [u32; 5]) -> Self {
        Chaos {
            rates,
            ..Chaos::new(seed)
        }
    }

    /// Runs `f` with one of the run's random streams.
    pub fn with<T>(&self, stream: Stream, f: impl FnOnce(&mut fastrand::Rng) -> T) -> T {
        f(&mut self.rngs[stream.index()]
            .lock()
            .unwrap_or_else(|e| e.into_inner()))
    }

    /// Whether this run duplicates response frames.
    pub fn duplicates(&self) -> bool {
        self.rates[3] > 0
    }

    /// Stops every fault (the run's quiet end).
    pub fn calm(&self) {
        self.on.store(false, Ordering::SeqCst);
    }

    /// Whether faults are still injected.
    pub fn active(&self) -> bool {
        self.on.load(Ordering::SeqCst)
    }

    /// Notes a fault in the run's trace.
    pub fn note(&self, what: String) {
        self.log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(what);
    }

    /// The faults injected so far, in order.
    pub fn trace(&self) -> Vec<String> {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The network fault one request meets, if any. ApiVersions is spared (it would
    /// only stall the handshake). Only a group coordinator's request may be held on
    /// its way ([`NetFault::DelayRequest`], up to [`REQUEST_DELAY_MAX`]): the
    /// coordinator then acts on it late, after requests of other connections sent
    /// later (another member's heartbeat that moved the group's epoch), while the
    /// requests behind it on its own connection wait, as they do behind a slow
    /// request on a real broker.
    pub fn net_fault(&self, api: ApiKey) -> Option<NetFault> {
        if !self.active() || api == ApiKey::ApiVersions {
            return None;
        }
        let [lose_req, lose_resp, delay, dup, hold] = self.rates;
        let hold = if GROUP_APIS.contains(&api) { hold } else { 0 };
        self.with(Stream::Network, |rng| {
            let roll = rng.u32(0..1000);
            if roll < lose_req {
                Some(NetFault::LoseRequest)
            } else if roll < lose_req + lose_resp {
                Some(NetFault::LoseResponse)
            } else if roll < lose_req + lose_resp + delay {
                Some(NetFault::Delay(Duration::from_millis(rng.u64(1..400))))
            } else if roll < lose_req + lose_resp + delay + dup {
                Some(NetFault::Duplicate)
            } else if roll < lose_req + lose_resp + delay + dup + hold {
                let ms = rng.u64(1..REQUEST_DELAY_MAX.as_millis() as u64);
                Some(NetFault::DelayRequest(Duration::from_millis(ms)))
            } else {
                None
            }
        })
    }
}

/// Replicates every `tick` until the run ends.
pub(crate) async fn replicator(cluster: Cluster, tick: Duration, done: Arc<AtomicBool>) {
    while !done.load(Ordering::SeqCst) {
        tokio::time::sleep(tick).await;
        cluster.tick();
    }
}

/// Injects cluster faults every few hundred milliseconds while chaos is on; then
/// restarts every broker and heals the disks.
pub(crate) async fn driver(cluster: Cluster, chaos: Chaos, connections: Arc<Connections>) {
    while chaos.active() {
        let pause = chaos.with(Stream::Faults, |r| r.u64(20..600));
        tokio::time::sleep(Duration::from_millis(pause)).await;
        if !chaos.active() {
            break;
        }
        let (kind, broker, pick) = chaos.with(Stream::Faults, |r| {
            (r.u32(0..7), r.i32(1..=BROKERS), r.usize(..))
        });
        let mut st = cluster.state();
        let down = st.alive.iter().filter(|a| !**a).count();
        match kind {
            0 if down == 0 => {
                st.alive[(broker - 1) as usize] = false;
                for p in &mut st.partitions {
                    p.broker_down(broker, pick);
                }
                drop(st);
                connections.reset(broker);
                chaos.note(format!("crash broker {broker}"));
            }
            0 | 1 => {
                if let Some(dead) = (1..=BROKERS).find(|b| !st.alive[(b - 1) as usize]) {
                    st.alive[(dead - 1) as usize] = true;
                    for p in &mut st.partitions {
                        p.broker_up(dead);
                    }
                    chaos.note(format!("restart broker {dead}"));
                }
            }
            2 => {
                let at = pick % st.partitions.len();
                let alive = st.alive.clone();
                if st.partitions[at].move_leader(&alive, pick / 7) {
                    let to = st.partitions[at].leader;
                    let (topic, partition) =
                        (TOPICS[at / PARTITIONS as usize], at % PARTITIONS as usize);
                    chaos.note(format!("move leader of {topic}-{partition} to {to}"));
                }
            }
            3 if pick % 2 == 0 => {
                st.coordinator = broker;
                chaos.note(format!("move group coordinator to {broker}"));
            }
            3 => {
                st.txn_coordinator = broker;
                chaos.note(format!("move transaction coordinator to {broker}"));
            }
            4 => {
                let i = (broker - 1) as usize;
                st.slow[i] = !st.slow[i];
                chaos.note(format!("slow disk on {broker}: {}", st.slow[i]));
            }
            _ => {
                drop(st);
                connections.reset(broker);
                chaos.note(format!("reset connections of {broker}"));
            }
        }
    }
    let mut st = cluster.state();
    st.slow = vec![false; BROKERS as usize];
    for b in 1..=BROKERS {
        if !st.alive[(b - 1) as usize] {
            st.alive[(b - 1) as usize] = true;
            for p in &mut st.partitions {
                p.broker_up(b);
            }
        }
    }
}
