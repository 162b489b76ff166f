//! The soak's workloads, all this SDK's own handles in the test process: the idempotent
//! producer, the members of the three-member group (classic and KIP-848 members in one
//! group) and the transactional copier. A "killed" member or copier is its task
//! aborted: the handle is dropped without `close()`, as a crashed application would
//! leave it; a new one takes its place.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kafka_client::consumer::{
    AutoOffsetReset, Consumer, ConsumerRecord, GroupMetadata, GroupProtocol, IsolationLevel,
    OffsetAndMetadata, TopicPartition,
};
use kafka_client::producer::{Acks, Producer, ProducerRecord, Transaction, TransactionalProducer};
use kafka_client::{Error, TransactionErrorKind};
use kafka_testbed::reliability::{Env, Rng};
use tokio::task::JoinHandle;

use super::{Ledger, SoakConfig, status};

/// The idempotent producer (acks=all): `rate` records a second, values `0, 1, 2, ...`
/// (the record id), keys from `seed`, until `done` or the ledger is full; then
/// `close()`. Each outcome lands in the ledger from its own task.
pub fn spawn_producer(
    env: &Env,
    cfg: &SoakConfig,
    topic: &str,
    ledger: Arc<Ledger>,
    done: Arc<AtomicBool>,
) -> JoinHandle<Result<(), String>> {
    let client = env.proxied_client("soak-producer");
    let topic = topic.to_owned();
    let per_tick = (cfg.rate / 10).max(1);
    let seed = env.seed;
    tokio::spawn(async move {
        let producer = Producer::builder()
            .client(client)
            .acks(Acks::All)
            .enable_idempotence(true)
            .linger(Duration::from_millis(5))
            .delivery_timeout(Duration::from_secs(120))
            .build()
            .map_err(|e| format!("producer: {e}"))?;
        let mut rng = Rng::new(seed ^ 0x50a4);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut id = 0;
        'send: while !done.load(Ordering::Relaxed) {
            tick.tick().await;
            for _ in 0..per_tick {
                if id >= ledger.produced.len() {
                    break 'send;
                }
                let record = ProducerRecord::new(topic.as_str())
                    .with_key(format!("k{}", rng.below(64)))
                    .with_value(id.to_string());
                ledger.produced[id].store(status::PENDING, Ordering::Release);
                ledger.sent.store(id + 1, Ordering::Release);
                match producer.send(record).await {
                    Ok(delivery) => {
                        ledger.pending.fetch_add(1, Ordering::AcqRel);
                        let ledger = ledger.clone();
                        tokio::spawn(async move {
                            let outcome = delivery.await;
                            ledger.settle(id, &outcome);
                            ledger.pending.fetch_sub(1, Ordering::AcqRel);
                        });
                    }
                    Err(e) => ledger.settle(id, &Err(e)),
                }
                id += 1;
            }
        }
        producer
            .close(Duration::from_secs(60))
            .await
            .map_err(|e| format!("producer close: {e}"))
    })
}

/// The group protocol of member slot `slot`: slots 0 and 2 speak KIP-848's consumer
/// protocol, slot 1 the classic protocol, so the group is a mixed consumer-protocol
/// group throughout.
pub fn slot_protocol(slot: usize) -> GroupProtocol {
    if slot == 1 {
        GroupProtocol::Classic
    } else {
        GroupProtocol::Consumer
    }
}

/// One group member (auto-commit on): polls `topic` and counts every record it is
/// handed in the ledger until `done`, then closes.
pub fn spawn_member(
    env: &Env,
    slot: usize,
    generation: u64,
    topic: &str,
    group: &str,
    ledger: Arc<Ledger>,
    done: Arc<AtomicBool>,
) -> JoinHandle<()> {
    let client = env.proxied_client(&format!("soak-member-{slot}-{generation}"));
    let topic = topic.to_owned();
    let group = group.to_owned();
    tokio::spawn(async move {
        let consumer = match Consumer::builder()
            .client(client)
            .group_id(group)
            .group_protocol(slot_protocol(slot))
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_poll_records(500)
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_secs(1))
            .auto_commit_interval(Duration::from_secs(1))
            .fetch_max_wait(Duration::from_millis(200))
            .build()
        {
            Ok(c) => c,
            Err(e) => return ledger.error("member build", &e),
        };
        if let Err(e) = consumer.subscribe([topic]) {
            return ledger.error("member subscribe", &e);
        }
        while !done.load(Ordering::Relaxed) {
            match consumer.poll(Duration::from_millis(200)).await {
                Ok(batch) => {
                    let (records, errors) = batch.into_parts();
                    for e in errors {
                        ledger.error("member poll (partition)", &e.error);
                    }
                    for r in records {
                        ledger.group_deliveries.fetch_add(1, Ordering::Relaxed);
                        if let Some(id) = ledger.id_of(r.value.as_deref()) {
                            let seen = &ledger.group_seen[id];
                            let _ = seen.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                                Some(n.saturating_add(1))
                            });
                        }
                    }
                }
                Err(e) => {
                    ledger.error("member poll", &e);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        if let Err(e) = consumer.close().await {
            ledger.error("member close", &e);
        }
    })
}

/// Names of the copier's parts.
#[derive(Debug, Clone)]
pub struct CopierNames {
    /// The input topic.
    pub input: String,
    /// The output topic.
    pub output: String,
    /// The copier's consumer group.
    pub group: String,
    /// The copier's `transactional.id` (the same for every copier: a new one fences
    /// the killed one).
    pub transactional_id: String,
}

/// The transactional copier: a consumer in its own group (auto-commit off) and a
/// transactional producer. It polls a batch, begins a transaction, sends the batch to
/// the output with the consumer's offsets and commits. After a failed transaction it
/// rewinds the batch's partitions to their committed offsets (once `begin` settled the
/// old transaction); a fatal error rebuilds the producer with the same id. Closes both
/// when `done`.
pub fn spawn_copier(
    env: &Env,
    generation: u64,
    names: &CopierNames,
    ledger: Arc<Ledger>,
    done: Arc<AtomicBool>,
) -> JoinHandle<()> {
    let env = env.clone();
    let names = names.clone();
    tokio::spawn(async move {
        let consumer = match Consumer::builder()
            .client(env.proxied_client(&format!("soak-copier-{generation}")))
            .group_id(names.group.clone())
            .enable_auto_commit(false)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_poll_records(200)
            .session_timeout(Duration::from_secs(10))
            .heartbeat_interval(Duration::from_secs(1))
            .fetch_max_wait(Duration::from_millis(200))
            .build()
        {
            Ok(c) => c,
            Err(e) => return ledger.error("copier consumer build", &e),
        };
        if let Err(e) = consumer.subscribe([names.input.clone()]) {
            return ledger.error("copier subscribe", &e);
        }
        let Some(mut producer) = build_producer(&env, &names, &ledger, &done).await else {
            let _ = consumer.close().await;
            return;
        };
        let mut rewind: BTreeSet<TopicPartition> = BTreeSet::new();
        let mut rebuild = false;
        'copy: while !done.load(Ordering::Relaxed) {
            if rebuild {
                match build_producer(&env, &names, &ledger, &done).await {
                    Some(p) => producer = p,
                    None => break 'copy,
                }
                ledger.copier_rebuilds.fetch_add(1, Ordering::Relaxed);
                rebuild = false;
            }
            let txn = match producer.begin().await {
                Ok(t) => t,
                Err(e) => {
                    ledger.error("copier begin", &e);
                    rebuild = e.transaction_kind() == Some(TransactionErrorKind::Fatal);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            let owned = consumer.assignment();
            rewind.retain(|tp| owned.contains(tp));
            if !rewind.is_empty() {
                if let Err(e) = consumer.seek_to_committed(rewind.iter().cloned()).await {
                    ledger.error("copier rewind", &e);
                    let _ = txn.abort().await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                rewind.clear();
            }
            let records = loop {
                if done.load(Ordering::Relaxed) {
                    let _ = txn.abort().await;
                    break 'copy;
                }
                match consumer.poll(Duration::from_millis(500)).await {
                    Ok(batch) => {
                        let (records, errors) = batch.into_parts();
                        for e in &errors {
                            ledger.error("copier poll (partition)", &e.error);
                        }
                        if !records.is_empty() {
                            break records;
                        }
                    }
                    Err(e) => {
                        ledger.error("copier poll", &e);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            };
            let result = match consumer.group_metadata() {
                Some(meta) => match copy_batch(&txn, &names.output, &records, &meta).await {
                    Ok(()) => txn.commit().await,
                    Err(e) => {
                        let _ = txn.abort().await;
                        Err(e)
                    }
                },
                None => {
                    let _ = txn.abort().await;
                    Err(Error::Config(
                        "the copier's consumer is not in a group".into(),
                    ))
                }
            };
            match result {
                Ok(()) => {
                    ledger.copier_commits.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    ledger.error("copier transaction", &e);
                    ledger.copier_failed.fetch_add(1, Ordering::Relaxed);
                    rewind.extend(
                        records
                            .iter()
                            .map(|r| TopicPartition::new(r.topic.to_string(), r.partition)),
                    );
                    rebuild = e.transaction_kind() == Some(TransactionErrorKind::Fatal);
                }
            }
        }
        if let Err(e) = producer.close(Duration::from_secs(30)).await {
            ledger.error("copier producer close", &e);
        }
        if let Err(e) = consumer.close().await {
            ledger.error("copier consumer close", &e);
        }
    })
}

/// The copier's transactional producer, retried until it is built or the soak is over.
async fn build_producer(
    env: &Env,
    names: &CopierNames,
    ledger: &Ledger,
    done: &AtomicBool,
) -> Option<TransactionalProducer> {
    while !done.load(Ordering::Relaxed) {
        match Producer::builder()
            .client(env.proxied_client("soak-copier-producer"))
            .transactional_id(names.transactional_id.clone())
            .transaction_timeout(Duration::from_secs(20))
            .linger(Duration::from_millis(5))
            .delivery_timeout(Duration::from_secs(60))
            .build_transactional()
            .await
        {
            Ok(p) => return Some(p),
            Err(e) => {
                ledger.error("copier producer build", &e);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    None
}

/// Sends `records` to `output` (same key and value) and the offsets after them.
async fn copy_batch(
    txn: &Transaction<'_>,
    output: &str,
    records: &[ConsumerRecord],
    group: &GroupMetadata,
) -> Result<(), Error> {
    let mut next: BTreeMap<TopicPartition, i64> = BTreeMap::new();
    for r in records {
        let mut out = ProducerRecord::new(output.to_owned());
        if let Some(k) = &r.key {
            out = out.with_key(k.clone());
        }
        if let Some(v) = &r.value {
            out = out.with_value(v.clone());
        }
        // The commit flushes and settles the deliveries; a failed one aborts it.
        let _delivery = txn.send(out).await?;
        next.insert(
            TopicPartition::new(r.topic.to_string(), r.partition),
            r.offset + 1,
        );
    }
    txn.send_offsets(
        next.into_iter()
            .map(|(tp, o)| (tp, OffsetAndMetadata::new(o))),
        group,
    )
    .await
}
