//! The transactional invariants, checked at the end of every run over the `txn`
//! topic's final committed logs (with their markers), the transaction coordinator's
//! committed group offsets, and what the transactional producer and the read_committed
//! reader saw:
//!
//! - **I5** no aborted or open record visible to read_committed: the reader delivered
//!   only records of committed transactions, each at its offset; and every committed
//!   record was delivered (output set = input set). A transaction is atomic (its records
//!   share one fate), one the SDK reported aborted has no committed record, and the
//!   group offsets committed are exactly those of the last committed transaction;
//! - **I1** for committed transactions: every record of a transaction whose `commit`
//!   returned `Ok` is in the log, committed;
//! - **I2** no committed record twice in the log, none delivered twice;
//! - **I3** committed records in number order within each partition;
//! - **I7** every transactional call returned, and the coordinator ended every
//!   transaction;
//! - **L1** the producer initialized and was never fenced (nothing else uses its
//!   transactional id, and the faults are transient) but after a transaction that
//!   outlived its timeout (the workload then replaces the producer); a transaction the
//!   workload stalled past its timeout failed abortable (the partition leader's
//!   INVALID_PRODUCER_EPOCH: KIP-588), not fatal (the fence comes with the abort); and
//!   the transactions begun after the faults stopped committed.

use std::collections::{BTreeMap, HashMap, HashSet};

use kafka_client::records::{DecodeLimits, decode_batches};

use crate::invariants::Violation;
use crate::replication::Batch;
use crate::txn_workload::{GROUP, SOURCE, TxnEnd, TxnHistory};

/// What became of a record written in a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Fate {
    Committed,
    Aborted,
    /// No marker yet.
    Open,
}

/// A partition's data records: (offset, number, fate).
pub(crate) type Fates = Vec<(i64, u64, Fate)>;

/// The fate of every data record in `batches` (a partition's committed log), from the
/// markers that follow each producer's records.
pub(crate) fn fates(batches: &[Batch]) -> Fates {
    let mut out: Fates = Vec::new();
    let mut pending: HashMap<i64, Vec<usize>> = HashMap::new();
    for b in batches {
        if let Some(commit) = b.marker {
            let fate = if commit {
                Fate::Committed
            } else {
                Fate::Aborted
            };
            for i in pending.remove(&b.producer_id).unwrap_or_default() {
                out[i].2 = fate;
            }
            continue;
        }
        for batch in decode_batches(b.bytes.clone(), DecodeLimits::default()).flatten() {
            for r in batch.records_vec().unwrap_or_default() {
                let n = r
                    .value
                    .as_deref()
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(u64::MAX);
                let fate = if b.transactional {
                    pending.entry(b.producer_id).or_default().push(out.len());
                    Fate::Open
                } else {
                    Fate::Committed
                };
                out.push((r.offset, n, fate));
            }
        }
    }
    out
}

/// Whether the reader has delivered every committed record.
pub(crate) fn reader_caught_up(logs: &[Fates], read: &[(i32, i64, u64)]) -> bool {
    let seen: HashSet<(i32, i64)> = read.iter().map(|&(p, o, _)| (p, o)).collect();
    logs.iter().enumerate().all(|(p, log)| {
        log.iter()
            .filter(|r| r.2 == Fate::Committed)
            .all(|r| seen.contains(&(p as i32, r.0)))
    })
}

fn v(invariant: &'static str, detail: String) -> Violation {
    Violation { invariant, detail }
}

/// Checks the transactional invariants. `logs[p]`: partition p's fates; `offsets`:
/// the coordinator's committed transactional offsets; `settled`: every transaction
/// ended on the coordinator.
pub(crate) fn check(
    history: &TxnHistory,
    logs: &[Fates],
    offsets: &BTreeMap<(String, String, i32), i64>,
    settled: bool,
) -> Vec<Violation> {
    let mut out = Vec::new();
    if let Some(e) = &history.init_error {
        out.push(v(
            "L1",
            format!("the transactional producer did not initialize: {e}"),
        ));
    }
    if !settled {
        out.push(v(
            "I7",
            "a transaction never ended on the coordinator".into(),
        ));
    }
    // Where each number is, and its fate.
    let mut at: HashMap<u64, Vec<(i32, i64, Fate)>> = HashMap::new();
    for (p, log) in logs.iter().enumerate() {
        for &(offset, n, fate) in log {
            at.entry(n).or_default().push((p as i32, offset, fate));
        }
        // I3 over the committed records.
        let committed: Vec<_> = log.iter().filter(|r| r.2 == Fate::Committed).collect();
        if let Some(w) = committed.windows(2).find(|w| w[1].1 <= w[0].1) {
            out.push(v(
                "I3",
                format!(
                    "txn-{p}: committed record {} at offset {} after record {} at offset {}",
                    w[1].1, w[1].0, w[0].1, w[0].0
                ),
            ));
        }
    }
    // I2: no committed record twice.
    let mut twice: Vec<_> = at
        .iter()
        .filter(|(_, w)| w.iter().filter(|x| x.2 == Fate::Committed).count() > 1)
        .collect();
    twice.sort();
    if let Some((n, w)) = twice.first() {
        out.push(v("I2", format!("record {n} is committed twice: {w:?}")));
    }
    // Per transaction: atomic; the SDK's verdict true; I1 for committed ones.
    let mut last_committed = None;
    for t in &history.txns {
        let fates: Vec<Option<Fate>> = t
            .records
            .iter()
            .map(|(n, p)| {
                at.get(n)
                    .and_then(|w| w.iter().find(|x| x.0 == *p).map(|x| x.2))
            })
            .collect();
        let committed = fates
            .iter()
            .filter(|f| **f == Some(Fate::Committed))
            .count();
        if committed > 0 {
            last_committed = Some(t.index);
        }
        if committed > 0 && committed < fates.len() {
            out.push(v(
                "I5",
                format!(
                    "transaction {} is half committed: its records' fates are {fates:?}",
                    t.index
                ),
            ));
        }
        match &t.end {
            TxnEnd::Committed if committed < fates.len() => out.push(v(
                "I1",
                format!(
                    "transaction {} committed, but its records' fates are {fates:?} (records {:?})",
                    t.index, t.records
                ),
            )),
            TxnEnd::Aborted if committed > 0 => out.push(v(
                "I5",
                format!(
                    "transaction {} was aborted, but {committed} of its records are committed",
                    t.index
                ),
            )),
            TxnEnd::Failed { kind, error } if kind == "Abortable" && committed > 0 => {
                out.push(v(
                    "I5",
                    format!(
                        "transaction {} failed as abortable ({error}), but {committed} of its records are committed",
                        t.index
                    ),
                ))
            }
            TxnEnd::Failed { kind, error } if t.stalled && kind != "Abortable" => out.push(v(
                "L1",
                format!(
                    "transaction {} outlived its timeout: the partition leader's \
                     INVALID_PRODUCER_EPOCH is abortable (KIP-588), but it failed {kind}: {error}",
                    t.index
                ),
            )),
            TxnEnd::Failed { kind, .. } if kind == "Fatal" && t.overran && !t.after_faults => {
                // Outlived the transaction timeout: the coordinator fenced it.
            }
            TxnEnd::Failed { kind, error } if kind == "Fatal" || kind == "other" => out.push(v(
                "L1",
                format!("transaction {} failed: {error}", t.index),
            )),
            TxnEnd::Unresolved => out.push(v(
                "I7",
                format!("a call of transaction {} never returned", t.index),
            )),
            TxnEnd::Failed { error, .. } if t.after_faults => out.push(v(
                "L1",
                format!(
                    "transaction {}, begun after the faults stopped, failed: {error}",
                    t.index
                ),
            )),
            _ => {}
        }
    }
    // The group offsets are the last committed transaction's.
    let offset = offsets
        .get(&(GROUP.to_string(), SOURCE.to_string(), 0))
        .copied();
    let expected = last_committed.map(|t| t as i64 + 1);
    // Every transaction writes at least one record, so its offsets share its
    // records' fate: the group's offset is the last committed transaction's.
    let contradicts = offset != expected;
    if contradicts {
        out.push(v(
            "I5",
            format!(
                "the group's transactional offset is {offset:?}, the last committed transaction's is {expected:?}"
            ),
        ));
    }
    // The reader: only committed records, each once, all of them.
    let mut seen = HashSet::new();
    for &(p, offset, n) in &history.read {
        let fate = logs
            .get(p as usize)
            .and_then(|l| l.iter().find(|r| r.0 == offset))
            .copied();
        match fate {
            Some((_, m, Fate::Committed)) if m == n => {}
            _ => {
                out.push(v(
                    "I5",
                    format!(
                        "read_committed delivered record {n} as txn-{p}-{offset}; the log has {fate:?}"
                    ),
                ));
                break;
            }
        }
        if !seen.insert((p, offset)) {
            out.push(v(
                "I2",
                format!("read_committed delivered txn-{p}-{offset} twice"),
            ));
            break;
        }
    }
    if !reader_caught_up(logs, &history.read) {
        let missing = logs.iter().enumerate().find_map(|(p, log)| {
            log.iter()
                .find(|r| r.2 == Fate::Committed && !seen.contains(&(p as i32, r.0)))
                .map(|r| (p, r.0, r.1))
        });
        out.push(v(
            "I5",
            format!("committed record never delivered to read_committed: {missing:?}"),
        ));
    }
    out
}
