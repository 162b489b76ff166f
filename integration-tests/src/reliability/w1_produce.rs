//! W1: one producer with acks=all writes keyed records through the fault proxies while a
//! fault is injected; every record's outcome is kept and the topic is read back.
//!
//! The producer is idempotent (as by default): duplicates must be 0 (I2), with up to 5
//! requests in flight and no reordering.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_client::Error;
use kafka_client::consumer::IsolationLevel;
use kafka_client::producer::{Acks, Producer, ProducerRecord, RecordMetadata};
use tokio::time::Instant;

use super::faults::{Fault, FaultReport, inject};
use super::{Counts, Env, Rng, is_possibly_persisted, read_back_until};

/// Whether W1 runs the idempotent producer.
pub const IDEMPOTENT: bool = true;

/// W1's shape.
#[derive(Debug, Clone)]
pub struct W1Config {
    /// Records to send.
    pub records: usize,
    /// Partitions of the topic.
    pub partitions: i32,
    /// Distinct keys (records are keyed, so each key stays on one partition).
    pub keys: u64,
    /// Records sent per 100 ms tick (pacing, so the fault lands mid-stream).
    pub per_tick: usize,
    /// The producer's delivery timeout.
    pub delivery_timeout: Duration,
    /// `close()`'s timeout.
    pub close_timeout: Duration,
}

impl Default for W1Config {
    fn default() -> Self {
        Self {
            records: 20_000,
            partitions: 6,
            keys: 64,
            per_tick: 150,
            delivery_timeout: Duration::from_secs(120),
            close_timeout: Duration::from_secs(10),
        }
    }
}

type Outcome = (usize, Result<RecordMetadata, Error>, Instant);

/// Runs W1 with `fault` injected once a quarter of the records are sent, against the
/// leader of partition 0.
pub async fn run_w1(
    env: &Env,
    cfg: &W1Config,
    fault: Fault,
) -> (Result<Counts, String>, Option<FaultReport>) {
    let topic = super::w2_group::scenario_topic("w1", env.seed);
    if let Err(e) = env.create_topic(&topic, cfg.partitions).await {
        return (Err(e), None);
    }
    let victim = match env.leader(&topic, 0).await {
        Ok(v) => v,
        Err(e) => return (Err(e), None),
    };
    let producer = match Producer::builder()
        .client(env.proxied_client("w1-producer"))
        .acks(Acks::All)
        .linger(Duration::from_millis(5))
        .delivery_timeout(cfg.delivery_timeout)
        // Without idempotence only one request in flight keeps per-partition order.
        .max_in_flight(if IDEMPOTENT { 5 } else { 1 })
        .enable_idempotence(IDEMPOTENT)
        .build()
    {
        Ok(p) => p,
        Err(e) => return (Err(format!("producer: {e}")), None),
    };

    let started = Instant::now();
    let mut rng = Rng::new(env.seed ^ 0x5731);
    let keys: Vec<u64> = (0..cfg.records).map(|_| rng.below(cfg.keys)).collect();
    let mut pending = FuturesUnordered::new();
    let mut outcomes: Vec<Outcome> = Vec::with_capacity(cfg.records);
    let mut counts = Counts {
        records: cfg.records,
        recovery_bound: Duration::from_secs(15),
        ..Counts::default()
    };
    let mut fault_task = None;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for (i, key) in keys.iter().enumerate() {
        if i % cfg.per_tick == 0 {
            tick.tick().await;
        }
        if i == cfg.records / 4 {
            let cluster = env.cluster.clone();
            fault_task = Some(tokio::spawn(async move {
                inject(&cluster, fault, victim).await
            }));
        }
        let record = ProducerRecord::new(topic.as_str())
            .with_key(format!("k{key}"))
            .with_value(format!("{i}"));
        match producer.send(record).await {
            Ok(f) => pending.push(async move { (i, f.await, Instant::now()) }),
            Err(e) => outcomes.push((i, Err(e), Instant::now())),
        }
        // Collect what is done so far without waiting.
        while let Some(Some(o)) = futures::FutureExt::now_or_never(pending.next()) {
            outcomes.push(o);
        }
    }
    let bound = cfg.delivery_timeout + Duration::from_secs(60);
    let collect = async {
        while let Some(o) = pending.next().await {
            outcomes.push(o);
        }
    };
    if tokio::time::timeout(bound, collect).await.is_err() {
        counts
            .notes
            .push(format!("outcomes still missing after {bound:?}"));
    }
    counts.no_outcome = cfg.records - outcomes.len();
    let report = match fault_task {
        Some(t) => t.await.ok(),
        None => None,
    };
    let close_started = Instant::now();
    if let Err(e) = producer.close(cfg.close_timeout).await {
        counts.notes.push(format!("close: {e}"));
    }
    counts.close = (close_started.elapsed(), cfg.close_timeout);
    counts.duration = started.elapsed();
    counts.longest_stall = super::longest_gap(
        started,
        outcomes
            .iter()
            .filter(|(_, r, _)| r.is_ok())
            .map(|(_, _, at)| *at)
            .collect(),
    );

    if let Some(r) = &report {
        // I10: first acknowledgement after the fault healed (zero if nothing waited).
        let waiting = outcomes.iter().any(|(_, _, at)| *at >= r.healed_at);
        counts.recovery = Some(if waiting {
            outcomes
                .iter()
                .filter(|(_, res, at)| res.is_ok() && *at >= r.healed_at)
                .map(|(_, _, at)| *at - r.healed_at)
                .min()
                .unwrap_or(bound)
        } else {
            Duration::ZERO
        });
        if let Some(e) = &r.error {
            counts.notes.push(format!("fault: {e}"));
        }
    }

    // Read at least up to every acknowledged offset (a new leader's high watermark can
    // lag for a moment).
    let mut at_least: BTreeMap<i32, i64> = BTreeMap::new();
    for (_, res, _) in &outcomes {
        if let Ok(m) = res {
            let e = at_least.entry(m.partition).or_default();
            *e = (*e).max(m.offset + 1);
        }
    }
    match read_back_until(
        env,
        &topic,
        cfg.partitions,
        Duration::from_secs(120),
        IsolationLevel::ReadUncommitted,
        &at_least,
    )
    .await
    {
        Ok(log) => verify(&mut counts, &outcomes, &log),
        Err(e) => return (Err(e), report),
    }
    (Ok(counts), report)
}

fn verify(counts: &mut Counts, outcomes: &[Outcome], log: &BTreeMap<i32, Vec<super::LogRecord>>) {
    // Where each record index sits in the log.
    let mut found: HashMap<usize, Vec<(i32, i64)>> = HashMap::new();
    let mut at_offset: HashMap<(i32, i64), usize> = HashMap::new();
    for (p, records) in log {
        let mut max_first: Option<usize> = None;
        for r in records {
            let Ok(i) = r.value.parse::<usize>() else {
                counts.offset_conflicts += 1;
                continue;
            };
            let copies = found.entry(i).or_default();
            copies.push((*p, r.offset));
            at_offset.insert((*p, r.offset), i);
            if copies.len() == 1 {
                // I3: first copies of a partition's records appear in send order.
                if max_first.is_some_and(|m| i < m) {
                    counts.order_violations += 1;
                }
                max_first = max_first.max(Some(i));
            }
        }
    }
    counts.duplicates = found.values().map(|c| c.len() - 1).sum();
    let mut acked_offsets: BTreeMap<i32, Vec<(usize, i64)>> = BTreeMap::new();
    let mut claimed: HashMap<(i32, i64), usize> = HashMap::new();
    for (i, res, _) in outcomes {
        match res {
            Ok(m) => {
                counts.acked += 1;
                if !found.contains_key(i) {
                    counts.lost += 1;
                }
                // I6: the acknowledged offset holds this record, and no other ack
                // claims it.
                if at_offset.get(&(m.partition, m.offset)) != Some(i)
                    || claimed.insert((m.partition, m.offset), *i).is_some()
                {
                    counts.offset_conflicts += 1;
                }
                acked_offsets
                    .entry(m.partition)
                    .or_default()
                    .push((*i, m.offset));
            }
            Err(e) => {
                counts.count_error(e);
                let persisted = found.contains_key(i);
                if is_possibly_persisted(e) {
                    counts.indeterminate.0 += 1;
                    counts.indeterminate.1 += usize::from(persisted);
                } else if persisted {
                    counts.definite_failures_persisted += 1;
                }
            }
        }
    }
    // I3: acknowledged offsets increase with send order within a partition.
    for acks in acked_offsets.values_mut() {
        acks.sort_unstable();
        counts.order_violations += acks.windows(2).filter(|w| w[1].1 <= w[0].1).count();
    }
}
