//! The transactional workload: one `TransactionalProducer` running short transactions
//! on the `txn` topic (1-4 numbered records each, on seeded partitions, plus a
//! transactional offset commit for a group), each committed or (one in four) aborted by
//! choice, under the run's faults, then two more once the faults stopped, which must
//! commit; and a `read_committed` reader (no group, every
//! partition assigned from offset 0) reading the topic while the transactions run.
//! One run in [`STALL_ONE_IN`] (with a 10 s transaction timeout instead of 60 s) stalls
//! one transaction past its timeout (slow processing): the coordinator aborts it and
//! fences its epoch, the producer's next Produce is answered INVALID_PRODUCER_EPOCH
//! (abortable, KIP-588), its abort PRODUCER_FENCED, and the workload replaces the
//! fenced producer, as an application does (after any transaction that outlived the
//! timeout, stalled or slowed by faults). What each side saw is recorded for the checks in `txn_check`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use kafka_client::consumer::{AutoOffsetReset, Consumer, IsolationLevel};
use kafka_client::producer::{Producer, ProducerRecord, Transaction, TransactionalProducer};
use kafka_client::{Error, GroupMetadata, OffsetAndMetadata, TopicPartition, TransactionErrorKind};

use crate::cluster::{PARTITIONS, TXN_TOPIC};
use crate::faults::{Chaos, Stream};
use crate::net::SimDialer;
use crate::workload::client;

/// The transactional records are numbered from here (record `FIRST + 10 * t + j` is
/// record j of transaction t).
pub const FIRST: u64 = 2_000_000;
/// Transactions a run begins under faults.
const TRANSACTIONS: u64 = 12;
/// Transactions it begins once the faults stopped (each must commit).
const AFTER_FAULTS: u64 = 2;
/// The group whose offsets the transactions commit (offset `t + 1` of partition 0 of
/// the topic [`SOURCE`] in transaction t), as a consume-transform-produce copier does.
pub const GROUP: &str = "sim-copier";
/// The topic the group's offsets name.
pub const SOURCE: &str = "sim-source";
/// Longest a transactional call may take before it counts as never resolving.
const CALL_DEADLINE: Duration = Duration::from_secs(200);
/// The producer's transaction timeout.
const TXN_TIMEOUT: Duration = Duration::from_secs(60);
/// One run in this many stalls one transaction (drawn from the seed) past its timeout.
const STALL_ONE_IN: u32 = 8;
/// The transaction timeout of a run that stalls (short, to keep the stall cheap).
const STALL_TXN_TIMEOUT: Duration = Duration::from_secs(10);
/// How far past the transaction timeout a stall lasts (the coordinator aborts at its
/// next tick).
const STALL_PAST: Duration = Duration::from_secs(2);

/// How a transaction ended, as the SDK reported it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxnEnd {
    /// `commit` returned `Ok`.
    Committed,
    /// `abort` returned `Ok` (the workload chose to abort).
    Aborted,
    /// `begin`, `commit` or `abort` failed with this kind of transactional error.
    Failed {
        /// `Abortable`, `Fatal`, `OutcomeUnknown`, or `other` for an untyped error.
        kind: String,
        /// The error's text.
        error: String,
    },
    /// A call did not return in time.
    Unresolved,
}

/// One transaction the workload ran.
#[derive(Debug, Clone)]
pub struct TxnRecord {
    /// Its index t (its records are numbered from `FIRST + 10 * t`).
    pub index: u64,
    /// The records sent in it: (number, partition).
    pub records: Vec<(u64, i32)>,
    /// Whether the workload asked to commit (else to abort).
    pub commit: bool,
    /// Begun after the faults stopped: it must commit.
    pub after_faults: bool,
    /// The workload stalled in it past the transaction timeout (after its first record
    /// was delivered) before sending the rest: the coordinator aborted it and fenced
    /// its epoch.
    pub stalled: bool,
    /// It lasted longer than the transaction timeout, from `begin` to its end (stalled,
    /// or slowed by faults): the coordinator may have aborted it and fenced the producer,
    /// so a fatal error (PRODUCER_FENCED) then is expected, and the workload replaces the
    /// producer.
    pub overran: bool,
    /// How it ended.
    pub end: TxnEnd,
}

/// What the transactional side of a run saw.
#[derive(Debug, Default, Clone)]
pub struct TxnHistory {
    /// The producer could not be built (InitProducerId failed): the error.
    pub init_error: Option<String>,
    /// The transactions, in order.
    pub txns: Vec<TxnRecord>,
    /// Producers replaced: (the transaction whose `begin` found the producer fenced
    /// after a transaction outlived the timeout, the error). A new producer then ran it.
    pub replaced: Vec<(u64, String)>,
    /// What the read_committed reader delivered: (partition, offset, number).
    pub read: Vec<(i32, i64, u64)>,
}

fn failed(e: &Error) -> TxnEnd {
    TxnEnd::Failed {
        kind: e
            .transaction_kind()
            .map_or_else(|| "other".to_string(), |k| format!("{k:?}")),
        error: e.to_string(),
    }
}

/// Builds the transactional producer (InitProducerId), or says why it could not.
async fn build(dialer: &SimDialer, timeout: Duration) -> Result<TransactionalProducer, String> {
    let built = Producer::builder()
        .client(client(dialer, "sim-txn", Duration::from_secs(5)))
        .transactional_id("sim-txn")
        .transaction_timeout(timeout)
        .delivery_timeout(Duration::from_secs(30))
        .linger(Duration::from_millis(2))
        .build_transactional();
    match tokio::time::timeout(CALL_DEADLINE, built).await {
        Ok(Ok(p)) => Ok(p),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("InitProducerId never returned".into()),
    }
}

/// Runs the transactions; returns them (and the init error, if any).
pub(crate) async fn transact(dialer: SimDialer, chaos: Chaos) -> TxnHistory {
    let mut history = TxnHistory::default();
    let stall_at = chaos.with(Stream::Stalls, |r| {
        (r.u32(0..STALL_ONE_IN) == 0).then(|| r.u64(0..TRANSACTIONS))
    });
    let timeout = if stall_at.is_some() {
        STALL_TXN_TIMEOUT
    } else {
        TXN_TIMEOUT
    };
    let mut producer = match build(&dialer, timeout).await {
        Ok(p) => p,
        Err(e) => {
            history.init_error = Some(e);
            return history;
        }
    };
    let group = GroupMetadata {
        group_id: GROUP.to_string(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
    };
    // A transaction of this producer outlived the transaction timeout: the coordinator
    // may have aborted it and fenced the producer.
    let mut overran = false;
    'transactions: for t in 0..TRANSACTIONS + AFTER_FAULTS {
        let (pause, count, commit) = chaos.with(Stream::Transactions, |r| {
            (r.u64(0..300), r.u64(1..=4), r.u32(0..4) != 0)
        });
        let after_faults = t >= TRANSACTIONS;
        if after_faults {
            while chaos.active() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let stall = stall_at == Some(t);
        let plan = Plan {
            t,
            // A stalled transaction sends a record after its stall, and commits.
            count: if stall { count.max(2) } else { count },
            commit: commit || after_faults || stall,
            after_faults,
            stall,
            timeout,
        };
        loop {
            let began = Instant::now();
            let begun = match tokio::time::timeout(CALL_DEADLINE, producer.begin()).await {
                Err(_) => None,
                Ok(Err(e))
                    if overran && e.transaction_kind() == Some(TransactionErrorKind::Fatal) =>
                {
                    Some(Err(e))
                }
                Ok(Err(e)) => {
                    let mut record = plan.record();
                    record.end = failed(&e);
                    Some(Ok(record))
                }
                Ok(Ok(txn)) => Some(Ok(run(txn, &plan, &chaos, &group).await)),
            };
            let record = match begun {
                None => {
                    history.txns.push(plan.record());
                    break 'transactions;
                }
                Some(Ok(record)) => record,
                Some(Err(e)) => {
                    // The coordinator fenced the epoch of the transaction it timed
                    // out: as an application does, drop the producer, build another.
                    overran = false;
                    history.replaced.push((t, e.to_string()));
                    let _ = tokio::time::timeout(
                        Duration::from_secs(10),
                        producer.close(Duration::from_secs(5)),
                    )
                    .await;
                    producer = match build(&dialer, timeout).await {
                        Ok(p) => p,
                        Err(e) => {
                            history.init_error = Some(e);
                            return history;
                        }
                    };
                    continue;
                }
            };
            let mut record = record;
            record.overran = began.elapsed() > timeout;
            overran |= record.overran;
            // A fatal error after the transaction outlived its timeout: the next begin
            // says so again, and the producer is replaced.
            let fatal = matches!(&record.end, TxnEnd::Failed { kind, .. } if kind == "Fatal")
                && !record.overran;
            let unresolved = record.end == TxnEnd::Unresolved;
            history.txns.push(record);
            if fatal || unresolved {
                break 'transactions;
            }
            break;
        }
    }
    let _ = tokio::time::timeout(
        Duration::from_secs(10),
        producer.close(Duration::from_secs(5)),
    )
    .await;
    history
}

/// What the workload means to do in one transaction.
struct Plan {
    t: u64,
    count: u64,
    commit: bool,
    after_faults: bool,
    /// Stall past the transaction timeout after the first record was delivered.
    stall: bool,
    /// The producer's transaction timeout.
    timeout: Duration,
}

impl Plan {
    fn record(&self) -> TxnRecord {
        TxnRecord {
            index: self.t,
            records: Vec::new(),
            commit: self.commit,
            after_faults: self.after_faults,
            stalled: false,
            overran: false,
            end: TxnEnd::Unresolved,
        }
    }
}

/// Runs one begun transaction: its records (a stalled one waits past the transaction
/// timeout once its first record is delivered, then sends the rest to that record's
/// partition, already in the transaction under protocol v1 too), the offsets (not in a
/// stalled one), then commit or abort.
async fn run(txn: Transaction<'_>, plan: &Plan, chaos: &Chaos, group: &GroupMetadata) -> TxnRecord {
    let mut record = plan.record();
    let mut partition = 0;
    for j in 0..plan.count {
        let number = FIRST + 10 * plan.t + j;
        let drawn = chaos.with(Stream::Transactions, |r| r.i32(0..PARTITIONS));
        if !record.stalled {
            partition = drawn;
        }
        record.records.push((number, partition));
        let send = ProducerRecord::new(TXN_TOPIC)
            .with_partition(partition)
            .with_value(number.to_string());
        // The delivery future is not awaited (but in a stall): the commit flushes and
        // fails when a record failed.
        let Ok(Ok(delivery)) = tokio::time::timeout(CALL_DEADLINE, txn.send(send)).await else {
            break;
        };
        if plan.stall && j == 0 {
            if let Ok(Ok(_)) = tokio::time::timeout(CALL_DEADLINE, delivery).await {
                tokio::time::sleep(plan.timeout + STALL_PAST).await;
                record.stalled = true;
            }
        }
    }
    if !record.stalled {
        let offsets = [(
            TopicPartition::new(SOURCE, 0),
            OffsetAndMetadata::new(plan.t as i64 + 1),
        )];
        let _ = tokio::time::timeout(CALL_DEADLINE, txn.send_offsets(offsets, group)).await;
    }
    let ended = if plan.commit {
        tokio::time::timeout(CALL_DEADLINE, txn.commit()).await
    } else {
        tokio::time::timeout(CALL_DEADLINE, txn.abort()).await
    };
    record.end = match ended {
        Err(_) => TxnEnd::Unresolved,
        Ok(Ok(())) if plan.commit => TxnEnd::Committed,
        Ok(Ok(())) => TxnEnd::Aborted,
        Ok(Err(e)) => failed(&e),
    };
    record
}

/// The read_committed reader: reads every partition of the `txn` topic from offset 0
/// until `stop`, recording what it delivered.
pub(crate) async fn read_committed(
    dialer: SimDialer,
    stop: Arc<AtomicBool>,
    read: Arc<Mutex<Vec<(i32, i64, u64)>>>,
) {
    let consumer = Consumer::builder()
        .client(client(&dialer, "sim-reader", Duration::from_secs(5)))
        .isolation_level(IsolationLevel::ReadCommitted)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .expect("the simulation's reader configuration is valid");
    let all = (0..PARTITIONS).map(|p| TopicPartition::new(TXN_TOPIC, p));
    if consumer.assign(all).is_err() {
        return;
    }
    while !stop.load(Ordering::SeqCst) {
        if let Ok(records) = consumer.poll(Duration::from_millis(100)).await {
            let (records, _) = records.into_parts();
            let mut out = read.lock().unwrap_or_else(|e| e.into_inner());
            for r in records {
                let number = r
                    .value
                    .as_deref()
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(u64::MAX);
                out.push((r.partition, r.offset, number));
            }
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), consumer.close()).await;
}
