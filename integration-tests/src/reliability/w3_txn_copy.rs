//! W3: transactional copy with a concurrent `read_committed` verifier.
//!
//! 1. `records` values `0..records` are pre-produced to an input topic (direct
//!    listeners), keyed so that each key stays on one partition.
//! 2. A copier, a consumer in a group (`read_committed`, auto-commit off) and a
//!    [`TransactionalProducer`], both through the fault proxies, polls a batch, begins a
//!    transaction, produces the batch to an output topic, sends the consumer's offsets
//!    (`TxnOffsetCommit`) and commits (`EndTxn`). On a non-fatal error it rewinds to the
//!    committed offsets; after a commit whose outcome is unknown the next `begin`
//!    re-initialises the producer id first (I9), which settles the pending transaction,
//!    and only then are the committed offsets read. A fatal error (fenced) rebuilds the
//!    producer with the same `transactional.id`.
//! 3. A concurrent `read_committed` consumer of the output (direct listeners) records
//!    every record it is handed while the copy runs.
//! 4. The verifier reads the output back with `read_committed` once every transaction
//!    is settled, and counts: input values missing (I1), values present more than once
//!    (I2), records of one input partition out of input order within an output
//!    partition (I3), records the concurrent reader saw that are not in the committed
//!    output at that offset or that it saw twice (I5, aborted reads), offsets whose
//!    value the concurrent reader saw differently from the final log while that value is
//!    committed elsewhere, or values that were never input (I6), typed errors and hangs
//!    (I7), and the time from the fault healing to the next commit (I10).
//!
//! The victim of the fault is the transaction coordinator of the copier's
//! `transactional.id` (the leader of its `__transaction_state` partition).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_client::consumer::{
    AutoOffsetReset, Consumer, ConsumerRecord, IsolationLevel, OffsetAndMetadata, TopicPartition,
};
use kafka_client::producer::{Producer, ProducerRecord, TransactionalProducer};
use kafka_client::{Error, TransactionErrorKind};
use tokio::time::Instant;

use super::faults::{Fault, FaultReport, inject};
use super::w2_group::{CLOSE_BOUND, preload_values, scenario_topic};
use super::{Counts, Env, LogRecord, error_kind, read_back_until};

/// W3's shape.
#[derive(Debug, Clone)]
pub struct W3Config {
    /// Records copied.
    pub records: usize,
    /// Records per transaction (the copier's `max.poll.records`).
    pub per_transaction: usize,
    /// Partitions of the input and output topics.
    pub partitions: i32,
    /// The copier's consumer session timeout.
    pub session_timeout: Duration,
    /// The copier's `transaction.timeout`.
    pub transaction_timeout: Duration,
    /// The transactional producer's `close()` timeout.
    pub close_timeout: Duration,
    /// Give up after this long.
    pub bound: Duration,
}

impl Default for W3Config {
    fn default() -> Self {
        Self {
            records: 20_000,
            per_transaction: 200,
            partitions: 6,
            session_timeout: Duration::from_secs(10),
            transaction_timeout: Duration::from_secs(20),
            close_timeout: Duration::from_secs(10),
            bound: Duration::from_secs(240),
        }
    }
}

/// Whether W3 is implemented (the matrix skips it while `false`).
pub const W3_IMPLEMENTED: bool = true;

/// What the copier and the concurrent reader record while the copy runs.
#[derive(Debug, Default)]
struct Ledger {
    /// Typed errors of the copier, by kind.
    errors: Mutex<Vec<String>>,
    /// When each transaction committed.
    commits: Mutex<Vec<Instant>>,
    /// Transactions that ended in an error (aborted or outcome unknown).
    failed_transactions: Mutex<usize>,
    /// Producers rebuilt after a fatal error.
    rebuilds: Mutex<usize>,
    /// `(partition, offset, value)` handed to the concurrent read_committed reader.
    seen: Mutex<Vec<(i32, i64, String)>>,
    /// Distinct values the concurrent reader saw.
    seen_values: Mutex<BTreeSet<String>>,
    /// Errors of the concurrent reader (reported as notes: not the client under test's
    /// fault path).
    reader_errors: Mutex<Vec<String>>,
    /// `close()` of the copier's producer and consumer.
    producer_close: Mutex<Duration>,
    consumer_close: Mutex<Duration>,
    /// Problems that stopped the copier.
    fatal: Mutex<Option<String>>,
}

impl Ledger {
    fn error(&self, e: &Error) {
        self.errors.lock().unwrap().push(error_kind(e));
    }
}

/// Java's `String.hashCode` (UTF-16 code units), which Kafka uses to place a
/// `transactional.id` on a `__transaction_state` partition.
fn java_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The transaction coordinator of `id`: the leader of its `__transaction_state`
/// partition (the test bed's 3-node clusters have 6).
async fn txn_coordinator(env: &Env, id: &str) -> Result<i32, String> {
    let partition = (java_hash(id) & 0x7fff_ffff) % 6;
    env.leader("__transaction_state", partition).await
}

/// Runs W3 with `fault` injected 3 s after the copy starts, against the transaction
/// coordinator of the copier (or the leader of output partition 0).
pub async fn run_w3(
    env: &Env,
    cfg: &W3Config,
    fault: Fault,
) -> (Result<Counts, String>, Option<FaultReport>) {
    let input = scenario_topic("w3-in", env.seed);
    let output = format!("{input}-out");
    let group = format!("{input}-copier");
    let transactional_id = format!("{input}-txn");
    for t in [&input, &output] {
        if let Err(e) = env.create_topic(t, cfg.partitions).await {
            return (Err(e), None);
        }
    }
    let truth = match preload_values(env, &input, cfg.records, env.seed ^ 0x5733).await {
        Ok(t) => t,
        Err(e) => return (Err(e), None),
    };
    // value → (input partition, input offset)
    let origin: HashMap<String, (i32, i64)> = truth.iter().map(|(k, v)| (v.clone(), *k)).collect();

    let ledger = Arc::new(Ledger::default());
    let done = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let reader = spawn_reader(env, cfg, &output, ledger.clone(), done.clone());
    let copier = spawn_copier(
        env,
        cfg,
        &input,
        &output,
        &group,
        &transactional_id,
        ledger.clone(),
        done.clone(),
    );

    tokio::time::sleep(Duration::from_secs(3)).await;
    let victim = match txn_coordinator(env, &transactional_id).await {
        Ok(v) => v,
        Err(_) => env.leader(&output, 0).await.unwrap_or(1),
    };
    let cluster = env.cluster.clone();
    let fault_task = tokio::spawn(async move { inject(&cluster, fault, victim).await });

    let mut counts = Counts {
        records: cfg.records,
        recovery_bound: cfg.session_timeout + Duration::from_secs(5),
        aborted_reads: Some(0),
        ..Counts::default()
    };
    let deadline = start + cfg.bound;
    loop {
        let seen = ledger.seen_values.lock().unwrap().len();
        if seen >= cfg.records || copier.is_finished() {
            break;
        }
        if Instant::now() > deadline {
            counts.notes.push(format!(
                "stopped after {:?} with {seen} of {} values seen by the read_committed reader",
                cfg.bound, cfg.records
            ));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let report = fault_task.await.ok();
    // Let late duplicates or aborted records show up before stopping.
    tokio::time::sleep(Duration::from_secs(2)).await;
    done.store(true, Ordering::Relaxed);
    for (name, task) in [("copier", copier), ("reader", reader)] {
        if tokio::time::timeout(Duration::from_secs(60), task)
            .await
            .is_err()
        {
            counts.no_outcome += 1;
            counts
                .notes
                .push(format!("the {name} did not stop within 60 s"));
        }
    }
    counts.duration = start.elapsed();
    if let Some(e) = ledger.fatal.lock().unwrap().clone() {
        counts.notes.push(format!("copier stopped: {e}"));
    }
    let producer_close = *ledger.producer_close.lock().unwrap();
    let consumer_close = *ledger.consumer_close.lock().unwrap();
    counts.close = (producer_close, cfg.close_timeout);
    if consumer_close > CLOSE_BOUND {
        counts.close = (consumer_close, CLOSE_BOUND);
    }
    let commits = ledger.commits.lock().unwrap().clone();
    counts.longest_stall = super::longest_gap(start, commits.clone());
    if let Some(r) = &report {
        counts.recovery = Some(
            commits
                .iter()
                .filter(|at| **at >= r.healed_at)
                .map(|at| *at - r.healed_at)
                .min()
                .unwrap_or(Duration::ZERO),
        );
        if let Some(e) = &r.error {
            counts.notes.push(format!("fault: {e}"));
        }
    }
    for e in ledger.errors.lock().unwrap().iter() {
        *counts.errors.entry(e.clone()).or_default() += 1;
    }
    counts.notes.push(format!(
        "{} transactions committed, {} failed (aborted or outcome unknown), {} producer rebuilds",
        commits.len(),
        *ledger.failed_transactions.lock().unwrap(),
        *ledger.rebuilds.lock().unwrap()
    ));
    let reader_errors = ledger.reader_errors.lock().unwrap().clone();
    if !reader_errors.is_empty() {
        counts.notes.push(format!(
            "read_committed reader errors (direct listeners): {}",
            reader_errors.len()
        ));
    }

    // The final read-back: every transaction settled (LSO = HW), then read_committed at
    // least up to every offset the concurrent reader was handed.
    if let Err(e) = wait_stable(env, &output, cfg, Duration::from_secs(60)).await {
        counts.notes.push(e);
    }
    let seen = ledger.seen.lock().unwrap().clone();
    let mut at_least: BTreeMap<i32, i64> = BTreeMap::new();
    for (p, o, _) in &seen {
        let e = at_least.entry(*p).or_default();
        *e = (*e).max(o + 1);
    }
    match read_back_until(
        env,
        &output,
        cfg.partitions,
        Duration::from_secs(120),
        IsolationLevel::ReadCommitted,
        &at_least,
    )
    .await
    {
        Ok(log) => verify(&mut counts, &origin, &seen, &log),
        Err(e) => return (Err(e), report),
    }
    (Ok(counts), report)
}

/// The copier: consume a batch, copy it in one transaction with its offsets, repeat.
#[allow(clippy::too_many_arguments)]
fn spawn_copier(
    env: &Env,
    cfg: &W3Config,
    input: &str,
    output: &str,
    group: &str,
    transactional_id: &str,
    ledger: Arc<Ledger>,
    done: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let env = env.clone();
    let cfg = cfg.clone();
    let input = input.to_owned();
    let output = output.to_owned();
    let group = group.to_owned();
    let id = transactional_id.to_owned();
    tokio::spawn(async move {
        let consumer = match Consumer::builder()
            .client(env.proxied_client("w3-copier-consumer"))
            .group_id(group)
            .enable_auto_commit(false)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .max_poll_records(cfg.per_transaction)
            .session_timeout(cfg.session_timeout)
            .heartbeat_interval(Duration::from_millis(500))
            .fetch_max_wait(Duration::from_millis(200))
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                *ledger.fatal.lock().unwrap() = Some(format!("consumer: {e}"));
                return;
            }
        };
        if let Err(e) = consumer.subscribe([input]) {
            *ledger.fatal.lock().unwrap() = Some(format!("subscribe: {e}"));
            return;
        }
        let Some(mut producer) = build_producer(&env, &cfg, &id, &ledger, &done).await else {
            *ledger.fatal.lock().unwrap() = Some("no transactional producer".into());
            let _ = consumer.close().await;
            return;
        };
        // Partitions to rewind to their committed offsets before the next poll.
        let mut rewind_needed: BTreeSet<TopicPartition> = BTreeSet::new();
        // Set after a fatal error (fenced): a new producer with the same id.
        let mut needs_rebuild = false;
        'copy: while !done.load(Ordering::Relaxed) {
            if needs_rebuild {
                match build_producer(&env, &cfg, &id, &ledger, &done).await {
                    Some(p) => producer = p,
                    None => break 'copy,
                }
                *ledger.rebuilds.lock().unwrap() += 1;
                needs_rebuild = false;
            }
            // `begin` first: after a commit with an unknown outcome it re-initialises the
            // producer id, which settles that transaction on the coordinator, so the
            // committed offsets read next are final.
            let txn = match producer.begin().await {
                Ok(t) => t,
                Err(e) => {
                    ledger.error(&e);
                    needs_rebuild = e.transaction_kind() == Some(TransactionErrorKind::Fatal);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
            };
            // Partitions given away since (the session expired, a rebalance) start from
            // the committed offsets with their new owner: only owned ones are rewound.
            let owned = consumer.assignment();
            rewind_needed.retain(|tp| owned.contains(tp));
            if !rewind_needed.is_empty() {
                if let Err(e) = consumer
                    .seek_to_committed(rewind_needed.iter().cloned())
                    .await
                {
                    ledger.error(&e);
                    let _ = txn.abort().await;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                }
                rewind_needed.clear();
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
                            ledger.error(&e.error);
                        }
                        if !records.is_empty() {
                            break records;
                        }
                    }
                    Err(e) => {
                        ledger.error(&e);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            };
            let result = match consumer.group_metadata() {
                Some(meta) => {
                    match copy_batch(&txn, &output, &records, &meta).await {
                        Ok(()) => txn.commit().await,
                        Err(e) => {
                            // The abort's own failure is in the producer's status (the
                            // next begin re-initialises when needed).
                            let _ = txn.abort().await;
                            Err(e)
                        }
                    }
                }
                None => {
                    let _ = txn.abort().await;
                    Err(Error::Config(
                        "the copier's consumer is not in a group".into(),
                    ))
                }
            };
            match result {
                Ok(()) => ledger.commits.lock().unwrap().push(Instant::now()),
                Err(e) => {
                    ledger.error(&e);
                    *ledger.failed_transactions.lock().unwrap() += 1;
                    rewind_needed.extend(
                        records
                            .iter()
                            .map(|r| TopicPartition::new(r.topic.to_string(), r.partition)),
                    );
                    needs_rebuild = e.transaction_kind() == Some(TransactionErrorKind::Fatal);
                }
            }
        }
        let t = Instant::now();
        if let Err(e) = producer.close(cfg.close_timeout).await {
            ledger.error(&e);
        }
        *ledger.producer_close.lock().unwrap() = t.elapsed();
        let t = Instant::now();
        if let Err(e) = consumer.close().await {
            ledger.error(&e);
        }
        *ledger.consumer_close.lock().unwrap() = t.elapsed();
    })
}

/// Builds the transactional producer (InitProducerId through the proxies), retrying
/// until it succeeds or the run is over.
async fn build_producer(
    env: &Env,
    cfg: &W3Config,
    id: &str,
    ledger: &Ledger,
    done: &AtomicBool,
) -> Option<TransactionalProducer> {
    while !done.load(Ordering::Relaxed) {
        match Producer::builder()
            .client(env.proxied_client("w3-copier-producer"))
            .transactional_id(id)
            .transaction_timeout(cfg.transaction_timeout)
            .linger(Duration::from_millis(5))
            .delivery_timeout(Duration::from_secs(60))
            .build_transactional()
            .await
        {
            Ok(p) => return Some(p),
            Err(e) => {
                ledger.error(&e);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    None
}

/// Sends `records` to `output` (same key and value) and the offsets after them.
async fn copy_batch(
    txn: &kafka_client::producer::Transaction<'_>,
    output: &str,
    records: &[ConsumerRecord],
    group: &kafka_client::consumer::GroupMetadata,
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
        // The commit settles the delivery futures (it flushes first); a failed record
        // makes the commit abort.
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

/// The concurrent read_committed reader of the output, on the direct listeners (the
/// faults target the copier, not the verifier).
fn spawn_reader(
    env: &Env,
    cfg: &W3Config,
    output: &str,
    ledger: Arc<Ledger>,
    done: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    let client = env.direct_client();
    let tps: Vec<TopicPartition> = (0..cfg.partitions)
        .map(|p| TopicPartition::new(output.to_owned(), p))
        .collect();
    tokio::spawn(async move {
        let consumer = match Consumer::builder()
            .client(client)
            .isolation_level(IsolationLevel::ReadCommitted)
            .auto_offset_reset(AutoOffsetReset::Earliest)
            .fetch_max_wait(Duration::from_millis(100))
            .max_poll_records(10_000)
            .build()
        {
            Ok(c) => c,
            Err(e) => {
                ledger.reader_errors.lock().unwrap().push(e.to_string());
                return;
            }
        };
        if let Err(e) = consumer.assign(tps) {
            ledger.reader_errors.lock().unwrap().push(e.to_string());
            return;
        }
        while !done.load(Ordering::Relaxed) {
            match consumer.poll(Duration::from_millis(200)).await {
                Ok(batch) => {
                    let (records, errors) = batch.into_parts();
                    for e in errors {
                        ledger
                            .reader_errors
                            .lock()
                            .unwrap()
                            .push(format!("{:?}", e.error));
                    }
                    let mut seen = ledger.seen.lock().unwrap();
                    let mut values = ledger.seen_values.lock().unwrap();
                    for r in records {
                        let value = r
                            .value
                            .as_deref()
                            .map(|v| String::from_utf8_lossy(v).into_owned())
                            .unwrap_or_default();
                        values.insert(value.clone());
                        seen.push((r.partition, r.offset, value));
                    }
                }
                Err(e) => {
                    ledger.reader_errors.lock().unwrap().push(error_kind(&e));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        let _ = consumer.close().await;
    })
}

/// Waits until no transaction is open on `topic` (last stable offset = high watermark
/// on every partition), for up to `timeout`.
async fn wait_stable(
    env: &Env,
    topic: &str,
    cfg: &W3Config,
    timeout: Duration,
) -> Result<(), String> {
    let tps: Vec<TopicPartition> = (0..cfg.partitions)
        .map(|p| TopicPartition::new(topic.to_owned(), p))
        .collect();
    let build = |level| {
        Consumer::builder()
            .client(env.direct_client())
            .isolation_level(level)
            .build()
            .map_err(|e| format!("stability check consumer: {e}"))
    };
    let committed = build(IsolationLevel::ReadCommitted)?;
    let uncommitted = build(IsolationLevel::ReadUncommitted)?;
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        match (
            committed.end_offsets(tps.clone()).await,
            uncommitted.end_offsets(tps.clone()).await,
        ) {
            (Ok(lso), Ok(hw)) if lso == hw => return Ok(()),
            (lso, hw) => last = format!("{lso:?} / {hw:?}"),
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(format!(
        "output still had an open transaction after {timeout:?} (LSO / HW: {last})"
    ))
}

fn verify(
    counts: &mut Counts,
    origin: &HashMap<String, (i32, i64)>,
    seen: &[(i32, i64, String)],
    log: &BTreeMap<i32, Vec<LogRecord>>,
) {
    // Where each value sits in the committed output.
    let mut found: HashMap<&str, usize> = HashMap::new();
    let mut at_offset: HashMap<(i32, i64), &str> = HashMap::new();
    for (p, records) in log {
        // I3: per output partition, records of one input partition in input order.
        let mut last_input: HashMap<i32, i64> = HashMap::new();
        for r in records {
            at_offset.insert((*p, r.offset), r.value.as_str());
            let copies = found.entry(r.value.as_str()).or_default();
            *copies += 1;
            let Some(&(in_p, in_o)) = origin.get(&r.value) else {
                // Not a value that was ever input.
                counts.offset_conflicts += 1;
                continue;
            };
            if *copies == 1 {
                if last_input.get(&in_p).is_some_and(|prev| in_o < *prev) {
                    counts.order_violations += 1;
                }
                last_input.insert(in_p, in_o);
            }
        }
    }
    counts.acked = found.keys().filter(|v| origin.contains_key(**v)).count();
    counts.lost = origin
        .keys()
        .filter(|v| !found.contains_key(v.as_str()))
        .count();
    counts.duplicates = found.values().map(|n| n - 1).sum();
    // I5 / I6: what the concurrent read_committed reader was handed.
    let mut aborted = 0;
    let mut handed: BTreeSet<(i32, i64)> = BTreeSet::new();
    for (p, o, v) in seen {
        if !handed.insert((*p, *o)) {
            aborted += 1; // handed twice
            continue;
        }
        match at_offset.get(&(*p, *o)) {
            Some(committed) if *committed == v.as_str() => {}
            // Seen, yet committed elsewhere: one offset carried two values.
            _ if found.contains_key(v.as_str()) => counts.offset_conflicts += 1,
            // Seen, and not in the committed output at all: an aborted read.
            _ => aborted += 1,
        }
    }
    counts.aborted_reads = Some(aborted);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_string_hash_matches_java() {
        // "hello".hashCode() == 99162322; "".hashCode() == 0.
        assert_eq!(java_hash("hello"), 99_162_322);
        assert_eq!(java_hash(""), 0);
        // Overflow wraps as in Java: "polygenelubricants".hashCode() == Integer.MIN_VALUE.
        assert_eq!(java_hash("polygenelubricants"), i32::MIN);
    }
}
