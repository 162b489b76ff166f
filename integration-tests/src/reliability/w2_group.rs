//! W2: a consumer group of three members at a time (one leaves, another joins) reads a
//! pre-produced topic through the fault proxies while a fault is injected. Auto-commit
//! is on, so every revocation commits what was delivered. The verifier counts lost and
//! duplicated deliveries, per-ownership order, offsets seen with two values, partitions
//! owned by two members at once, errors by kind and the recovery time. The members
//! speak the classic group protocol or KIP-848's consumer protocol
//! ([`W2Config::group_protocol`]); the cluster's consumer-protocol heartbeat interval
//! and session timeout must be set like the classic members' ([`CONSUMER_PROTOCOL_GROUPS`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use kafka_client::consumer::{
    AutoOffsetReset, Consumer, GroupProtocol, RebalanceListener, TopicPartition,
};
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use tokio::time::Instant;

use super::faults::{Fault, FaultReport, inject};
use super::{Counts, Env, Rng, error_kind};
use crate::config::ClusterConfig;

/// What a member's `close()` must stay under: its default timeout
/// (`kafka_client::consumer::DEFAULT_CLOSE_TIMEOUT`, the Java consumer's 30 s).
pub const CLOSE_BOUND: Duration = kafka_client::consumer::DEFAULT_CLOSE_TIMEOUT;

/// W2's shape.
#[derive(Debug, Clone)]
pub struct W2Config {
    /// Records produced before the group starts.
    pub records: usize,
    /// Partitions of the topic.
    pub partitions: i32,
    /// `max.poll.records` of each member.
    pub max_poll_records: usize,
    /// Pause after each poll (members are slow, so the run lasts while members churn).
    pub poll_pause: Duration,
    /// The members' session timeout.
    pub session_timeout: Duration,
    /// Give up after this long.
    pub bound: Duration,
    /// The members' group protocol.
    pub group_protocol: GroupProtocol,
}

/// Broker settings that give consumer-protocol (KIP-848) groups the W2 members'
/// classic timing: heartbeats every second, a 10 s session (the broker defaults are
/// 5 s and 45 s, and the group coordinator, not the member, decides them).
pub const CONSUMER_PROTOCOL_GROUPS: [(&str, &str); 4] = [
    ("group.consumer.heartbeat.interval.ms", "1000"),
    ("group.consumer.min.heartbeat.interval.ms", "500"),
    ("group.consumer.session.timeout.ms", "10000"),
    ("group.consumer.min.session.timeout.ms", "6000"),
];

/// `config` with [`CONSUMER_PROTOCOL_GROUPS`].
pub fn with_consumer_protocol_groups(config: ClusterConfig) -> ClusterConfig {
    CONSUMER_PROTOCOL_GROUPS
        .iter()
        .fold(config, |c, &(k, v)| c.with_property(k, v))
}

impl Default for W2Config {
    fn default() -> Self {
        Self {
            records: 20_000,
            partitions: 6,
            max_poll_records: 50,
            poll_pause: Duration::from_millis(100),
            session_timeout: Duration::from_secs(10),
            bound: Duration::from_secs(240),
            group_protocol: GroupProtocol::Classic,
        }
    }
}

/// A topic name unique to this process and call, derived from the seed.
pub(crate) fn scenario_topic(prefix: &str, seed: u64) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{seed}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// One delivery to a member.
#[derive(Debug, Clone)]
struct Delivery {
    member: usize,
    partition: i32,
    offset: i64,
    value: String,
    /// The member's ownership epoch of that partition when it was delivered.
    epoch: u64,
    at: Instant,
}

#[derive(Debug, Default)]
struct Ledger {
    deliveries: Mutex<Vec<Delivery>>,
    distinct: Mutex<BTreeSet<(i32, i64)>>,
    /// partition → members whose listener says they own it.
    owners: Mutex<BTreeMap<i32, BTreeSet<usize>>>,
    overlaps: Mutex<BTreeSet<(i32, usize, usize)>>,
    /// (member, partition) → ownership epoch (bumped on every assignment).
    epochs: Mutex<HashMap<(usize, i32), u64>>,
    errors: Mutex<Vec<String>>,
    longest_close: Mutex<Duration>,
    lost_callbacks: AtomicU64,
}

#[derive(Debug)]
struct Listener {
    member: usize,
    ledger: Arc<Ledger>,
}

impl Listener {
    fn gain(&self, parts: &[TopicPartition]) {
        let mut owners = self.ledger.owners.lock().unwrap();
        let mut epochs = self.ledger.epochs.lock().unwrap();
        let mut overlaps = self.ledger.overlaps.lock().unwrap();
        for tp in parts {
            let set = owners.entry(tp.partition).or_default();
            for other in set.iter() {
                overlaps.insert((tp.partition, *other, self.member));
            }
            set.insert(self.member);
            *epochs.entry((self.member, tp.partition)).or_default() += 1;
        }
    }
    fn drop_parts(&self, parts: &[TopicPartition]) {
        let mut owners = self.ledger.owners.lock().unwrap();
        for tp in parts {
            if let Some(set) = owners.get_mut(&tp.partition) {
                set.remove(&self.member);
            }
        }
    }
}

impl RebalanceListener for Listener {
    fn assigned(&self, _c: Consumer, parts: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        self.gain(&parts);
        Box::pin(async {})
    }
    fn revoked(&self, _c: Consumer, parts: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        self.drop_parts(&parts);
        Box::pin(async {})
    }
    fn lost(&self, _c: Consumer, parts: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        self.ledger.lost_callbacks.fetch_add(1, Ordering::Relaxed);
        self.drop_parts(&parts);
        Box::pin(async {})
    }
}

/// Member `member` joins at `join`, leaves (closing) at `leave` or when `done`.
#[allow(clippy::too_many_arguments)]
fn spawn_member(
    env: &Env,
    cfg: &W2Config,
    group: &str,
    topic: &str,
    member: usize,
    join: Duration,
    leave: Option<Duration>,
    start: Instant,
    ledger: Arc<Ledger>,
    done: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let client = env.proxied_client(&format!("w2-member-{member}"));
    let cfg = cfg.clone();
    let group = group.to_owned();
    let topic = topic.to_owned();
    tokio::spawn(async move {
        tokio::time::sleep_until(start + join).await;
        let consumer = match Consumer::builder()
            .client(client)
            .group_id(group)
            .group_protocol(cfg.group_protocol)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_poll_records(cfg.max_poll_records)
            .session_timeout(cfg.session_timeout)
            .heartbeat_interval(Duration::from_millis(500))
            .max_poll_interval(Duration::from_secs(60))
            .auto_commit_interval(Duration::from_millis(500))
            .fetch_max_wait(Duration::from_millis(200))
            .rebalance_listener(Arc::new(Listener {
                member,
                ledger: ledger.clone(),
            }))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                ledger.errors.lock().unwrap().push(format!("build: {e}"));
                return;
            }
        };
        if let Err(e) = consumer.subscribe([topic]) {
            ledger.errors.lock().unwrap().push(error_kind(&e));
            return;
        }
        while !done.load(Ordering::Relaxed) && leave.is_none_or(|l| start.elapsed() < l) {
            match consumer.poll(Duration::from_millis(200)).await {
                Ok(batch) => {
                    let (records, errors) = batch.into_parts();
                    for e in errors {
                        ledger.errors.lock().unwrap().push(format!("{:?}", e.error));
                    }
                    let now = Instant::now();
                    let epochs = ledger.epochs.lock().unwrap().clone();
                    let mut distinct = ledger.distinct.lock().unwrap();
                    let mut deliveries = ledger.deliveries.lock().unwrap();
                    for r in records {
                        distinct.insert((r.partition, r.offset));
                        deliveries.push(Delivery {
                            member,
                            partition: r.partition,
                            offset: r.offset,
                            value: r
                                .value
                                .as_deref()
                                .map(|v| String::from_utf8_lossy(v).into_owned())
                                .unwrap_or_default(),
                            epoch: epochs.get(&(member, r.partition)).copied().unwrap_or(0),
                            at: now,
                        });
                    }
                }
                Err(e) => {
                    ledger.errors.lock().unwrap().push(error_kind(&e));
                    if matches!(e, kafka_client::Error::Closed) {
                        break;
                    }
                }
            }
            tokio::time::sleep(cfg.poll_pause).await;
        }
        let t = Instant::now();
        if let Err(e) = consumer.close().await {
            ledger
                .errors
                .lock()
                .unwrap()
                .push(format!("close: {}", error_kind(&e)));
        }
        let took = t.elapsed();
        let mut longest = ledger.longest_close.lock().unwrap();
        *longest = (*longest).max(took);
    })
}

/// Runs W2 with `fault` injected 5 s after the group starts, against the group's
/// coordinator (or the leader of partition 0 if it cannot be found).
pub async fn run_w2(
    env: &Env,
    cfg: &W2Config,
    fault: Fault,
) -> (Result<Counts, String>, Option<FaultReport>) {
    let topic = scenario_topic("w2", env.seed);
    let group = format!("{topic}-group");
    if let Err(e) = env.create_topic(&topic, cfg.partitions).await {
        return (Err(e), None);
    }
    let truth = match preload(env, cfg, &topic).await {
        Ok(t) => t,
        Err(e) => return (Err(e), None),
    };
    let ledger = Arc::new(Ledger::default());
    let done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    // Membership over time: 0 and 1 from the start, 2 joins at 3 s, 1 leaves at 12 s,
    // 3 joins at 14 s: three members most of the time, with a join, a leave and a join.
    let plan: [(usize, u64, Option<u64>); 4] =
        [(0, 0, None), (1, 0, Some(12)), (2, 3, None), (3, 14, None)];
    let members: Vec<_> = plan
        .iter()
        .map(|&(m, join, leave)| {
            spawn_member(
                env,
                cfg,
                &group,
                &topic,
                m,
                Duration::from_secs(join),
                leave.map(Duration::from_secs),
                start,
                ledger.clone(),
                done.clone(),
            )
        })
        .collect();

    tokio::time::sleep(Duration::from_secs(5)).await;
    let victim = coordinator(env, &group)
        .await
        .or(env.leader(&topic, 0).await.ok())
        .unwrap_or(1);
    let cluster = env.cluster.clone();
    let fault_task = tokio::spawn(async move { inject(&cluster, fault, victim).await });

    let mut counts = Counts {
        records: cfg.records,
        recovery_bound: cfg.session_timeout + Duration::from_secs(5),
        ..Counts::default()
    };
    let deadline = start + cfg.bound;
    while ledger.distinct.lock().unwrap().len() < cfg.records {
        if Instant::now() > deadline {
            counts.notes.push(format!(
                "stopped after {:?} with {} of {} consumed",
                cfg.bound,
                ledger.distinct.lock().unwrap().len(),
                cfg.records
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = fault_task.await.ok();
    // Let late duplicates show up before stopping.
    tokio::time::sleep(Duration::from_secs(1)).await;
    done.store(true, Ordering::Relaxed);
    for m in members {
        if tokio::time::timeout(Duration::from_secs(60), m)
            .await
            .is_err()
        {
            counts.no_outcome += 1;
            counts
                .notes
                .push("a member did not stop within 60 s".into());
        }
    }
    counts.duration = start.elapsed();
    // Members call `close()`, whose default timeout is 30 s.
    counts.close = (*ledger.longest_close.lock().unwrap(), CLOSE_BOUND);

    let deliveries = ledger.deliveries.lock().unwrap().clone();
    counts.longest_stall = super::longest_gap(start, deliveries.iter().map(|d| d.at).collect());
    if let Some(r) = &report {
        let waiting = deliveries.iter().any(|d| d.at >= r.healed_at);
        counts.recovery = Some(
            deliveries
                .iter()
                .filter(|d| d.at >= r.healed_at)
                .map(|d| d.at - r.healed_at)
                .min()
                .filter(|_| waiting)
                .unwrap_or(Duration::ZERO),
        );
        if let Some(e) = &r.error {
            counts.notes.push(format!("fault: {e}"));
        }
    }
    for e in ledger.errors.lock().unwrap().iter() {
        *counts.errors.entry(e.clone()).or_default() += 1;
    }
    counts.concurrent_owners = Some(ledger.overlaps.lock().unwrap().len());
    counts.sessions_lost = Some(ledger.lost_callbacks.load(Ordering::Relaxed) as usize);
    verify(&mut counts, &deliveries, &truth);
    (Ok(counts), report)
}

/// Produces the records on the direct listeners; returns `(partition, offset) → value`.
async fn preload(
    env: &Env,
    cfg: &W2Config,
    topic: &str,
) -> Result<HashMap<(i32, i64), String>, String> {
    preload_values(env, topic, cfg.records, env.seed ^ 0x5732).await
}

/// Produces values `"0".."records-1"` to `topic` on the direct listeners, keyed
/// `k0..k63` from `key_seed`; returns `(partition, offset) → value`.
pub(crate) async fn preload_values(
    env: &Env,
    topic: &str,
    records: usize,
    key_seed: u64,
) -> Result<HashMap<(i32, i64), String>, String> {
    let producer = Producer::builder()
        .client(env.direct_client())
        .acks(Acks::All)
        .linger(Duration::from_millis(10))
        .build()
        .map_err(|e| format!("preload producer: {e}"))?;
    let mut rng = Rng::new(key_seed);
    let mut futures = Vec::with_capacity(records);
    for i in 0..records {
        let record = ProducerRecord::new(topic)
            .with_key(format!("k{}", rng.below(64)))
            .with_value(format!("{i}"));
        let f = producer
            .send(record)
            .await
            .map_err(|e| format!("preload: {e}"))?;
        futures.push((i, f));
    }
    let mut truth = HashMap::with_capacity(records);
    for (i, f) in futures {
        let m = f.await.map_err(|e| format!("preload record {i}: {e}"))?;
        truth.insert((m.partition, m.offset), i.to_string());
    }
    let _ = producer.close(Duration::from_secs(10)).await;
    Ok(truth)
}

/// The group's coordinator, from DescribeGroups on the direct listeners.
async fn coordinator(env: &Env, group: &str) -> Option<i32> {
    let admin = kafka_admin::Admin::new(env.direct_client());
    let res = admin
        .describe_consumer_groups([group], Default::default())
        .await
        .ok()?;
    res.get(group)?.as_ref().ok().map(|d| d.coordinator)
}

fn verify(counts: &mut Counts, deliveries: &[Delivery], truth: &HashMap<(i32, i64), String>) {
    let mut times: HashMap<(i32, i64), usize> = HashMap::new();
    let mut last: HashMap<(usize, i32, u64), i64> = HashMap::new();
    for d in deliveries {
        *times.entry((d.partition, d.offset)).or_default() += 1;
        // I6: each offset carries the value that was produced there.
        if truth.get(&(d.partition, d.offset)) != Some(&d.value) {
            counts.offset_conflicts += 1;
        }
        // I3: within one ownership, a member's offsets of a partition increase.
        if let Some(prev) = last.insert((d.member, d.partition, d.epoch), d.offset)
            && d.offset <= prev
        {
            counts.order_violations += 1;
        }
    }
    counts.acked = times.len();
    counts.lost = truth.keys().filter(|k| !times.contains_key(k)).count();
    counts.duplicates = times.values().map(|n| n - 1).sum();
}
