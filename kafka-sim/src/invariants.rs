//! The invariants checked at the end of every run, over the workload's history and
//! the cluster's final committed logs:
//!
//! - **I1** no acknowledged record lost: an acknowledged record is in its partition's
//!   committed log at the offset it was acknowledged with;
//! - **I2** no duplicate with idempotence: no record number is in the logs twice;
//! - **I3** per-partition order: within a partition, each producer's record numbers
//!   increase with the offset (each producer sends in number order);
//! - **I4** no two owners: no generation assigns a partition to two members, and
//!   every record a member delivered belongs to a partition assigned to it in the
//!   generation it was in when `poll` returned it. Under KIP-848 (no generations): the
//!   coordinator never lets two members hold a partition (assigned, or revoked and not
//!   yet released), and a member delivers a partition's records only while the
//!   coordinator says it holds it (or, once removed from the group, what it held
//!   then: a zombie, as an old generation's member is);
//! - **I6** committed offsets never move backwards for a member's own commits;
//! - **I7** every send resolves before the run's deadline;
//! - **I8** verdicts are true: a send that failed with a definite verdict (not
//!   `is_indeterminate`) is in no log;
//! - **L1** every send of the patient producer is acknowledged: the run's faults are all transient (a broker
//!   is back within seconds, at most one is down at a time), far shorter than the
//!   producer's 60 s delivery timeout, so a failed send is a client bug (a retriable
//!   error treated as fatal, a retry loop that never ends). Not checked in runs that
//!   duplicate response frames (a hostile broker: the SDK fails the request with a
//!   protocol error and bumps the epoch, which fails maybe-written batches);
//! - **C1** the group delivers every committed record to some member, and the
//!   members caught up (commits reached every partition's end).

use std::collections::{BTreeMap, HashMap};

use kafka_client::records::{DecodeLimits, decode_batches};

use bytes::Bytes;
use kafka_client::lowlevel::consumer_protocol::decode_assignment;

use crate::group::Commit;
use crate::group848::Holding;
use crate::replication::Batch;
use crate::workload::{History, Sent};

/// One broken invariant: its name and what exactly was seen.
#[derive(Debug, Clone)]
pub struct Violation {
    /// `I1`, `I2`, ...
    pub invariant: &'static str,
    /// What was seen.
    pub detail: String,
}

fn violation(invariant: &'static str, detail: String) -> Violation {
    Violation { invariant, detail }
}

/// The records of committed batches: (offset, number).
pub(crate) fn numbers(batches: &[Batch]) -> Vec<(i64, u64)> {
    let mut out = Vec::new();
    for b in batches.iter().filter(|b| b.marker.is_none()) {
        for batch in decode_batches(b.bytes.clone(), DecodeLimits::default()).flatten() {
            for r in batch.records_vec().unwrap_or_default() {
                let n = r
                    .value
                    .as_deref()
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(u64::MAX);
                out.push((r.offset, n));
            }
        }
    }
    out
}

/// What the group coordinator recorded.
#[derive(Debug, Default)]
pub(crate) struct GroupRecord {
    /// Every accepted commit.
    pub commits: Vec<Commit>,
    /// Every generation's assignment per member.
    pub assignments: BTreeMap<i32, BTreeMap<String, Bytes>>,
    /// KIP-848: what each member held, from when on.
    pub timeline: BTreeMap<String, Vec<Holding>>,
    /// KIP-848: times the coordinator let two members hold a partition.
    pub overlaps: Vec<String>,
}

/// I4 under KIP-848: whether `member` held `partition` at `at` (or held it when it
/// was removed from the group, before `at`).
fn held(timeline: &BTreeMap<String, Vec<Holding>>, member: &str, partition: i32, at: u64) -> bool {
    let Some(line) = timeline.get(member) else {
        return false;
    };
    let upto = line.partition_point(|h| h.0 <= at);
    match line[..upto].last() {
        Some((_, Some(set))) => set.contains(&partition),
        Some((_, None)) => line[..upto - 1]
            .last()
            .and_then(|h| h.1.as_ref())
            .is_some_and(|set| set.contains(&partition)),
        None => false,
    }
}

/// Checks every invariant; `logs[p]` is partition `p`'s committed (offset, number)s.
pub(crate) fn check(
    hostile: bool,
    history: &History,
    logs: &[Vec<(i64, u64)>],
    group: &GroupRecord,
) -> Vec<Violation> {
    let mut out = Vec::new();
    let commits = &group.commits;
    // I4
    let mut owned: std::collections::HashSet<(String, i32, i32)> = Default::default();
    for (generation, members) in &group.assignments {
        let mut owner: BTreeMap<i32, &str> = BTreeMap::new();
        for (member, bytes) in members {
            let Ok(a) = decode_assignment(bytes.clone()) else {
                continue;
            };
            for tp in a.partitions {
                owned.insert((member.clone(), *generation, tp.partition));
                if let Some(other) = owner.insert(tp.partition, member) {
                    out.push(violation(
                        "I4",
                        format!(
                            "generation {generation} assigns partition {} to {other} and {member}",
                            tp.partition
                        ),
                    ));
                }
            }
        }
    }
    for o in &group.overlaps {
        out.push(violation("I4", o.clone()));
    }
    if let Some(d) = history.delivered.iter().find(|d| {
        d.generation >= 0
            && if history.kip848 {
                !held(&group.timeline, &d.member, d.partition, d.at)
            } else {
                !owned.contains(&(d.member.clone(), d.generation, d.partition))
            }
    }) {
        out.push(violation(
            "I4",
            format!(
                "{} delivered {}-{} in generation {} (event {}) without owning the partition",
                d.member, d.partition, d.offset, d.generation, d.at
            ),
        ));
    }
    let mut where_is: HashMap<u64, Vec<(i32, i64)>> = HashMap::new();
    for (p, log) in logs.iter().enumerate() {
        for &(offset, n) in log {
            where_is.entry(n).or_default().push((p as i32, offset));
        }
        // I3, per producer (numbers below HASTY.first are the patient producer's).
        let hasty = crate::workload::HASTY.first;
        for mine in [
            log.iter()
                .filter(|r| r.1 < hasty)
                .copied()
                .collect::<Vec<_>>(),
            log.iter().filter(|r| r.1 >= hasty).copied().collect(),
        ] {
            for w in mine.windows(2) {
                if w[1].1 <= w[0].1 {
                    out.push(violation(
                        "I3",
                        format!(
                            "partition {p}: record {} at offset {} after record {} at offset {}",
                            w[1].1, w[1].0, w[0].1, w[0].0
                        ),
                    ));
                    break;
                }
            }
        }
    }
    // I2
    let mut dups: Vec<_> = where_is.iter().filter(|(_, at)| at.len() > 1).collect();
    dups.sort();
    if let Some((n, at)) = dups.first() {
        out.push(violation(
            "I2",
            format!("record {n} is in the log {} times: {at:?}", at.len()),
        ));
    }
    for s in &history.sends {
        let found = where_is.get(&s.number);
        match &s.outcome {
            Sent::Acked(offset) => {
                if !found.is_some_and(|at| at.contains(&(s.partition, *offset))) {
                    out.push(violation(
                        "I1",
                        format!(
                            "record {} acknowledged at {}-{} but the log has it at {:?}",
                            s.number, s.partition, offset, found
                        ),
                    ));
                }
            }
            Sent::Failed {
                indeterminate: false,
                error,
            } if found.is_some() => out.push(violation(
                "I8",
                format!(
                    "record {} failed definitely ({error}) but is in the log at {:?}",
                    s.number, found
                ),
            )),
            Sent::Failed {
                indeterminate: true,
                ..
            } if found.is_some() => {}
            Sent::Unresolved => out.push(violation(
                "I7",
                format!("the send of record {} never resolved", s.number),
            )),
            Sent::Failed { .. } if hostile || s.number >= crate::workload::HASTY.first => {}
            Sent::Failed { error, .. } => out.push(violation(
                "L1",
                format!("the send of record {} failed: {error}", s.number),
            )),
        }
    }
    // I6
    let mut last: BTreeMap<(&str, i32), (i64, i32)> = BTreeMap::new();
    for c in commits.iter().filter(|c| c.generation >= 0) {
        if let Some((prev, generation)) =
            last.insert((&c.member, c.partition), (c.offset, c.generation))
        {
            if c.offset < prev {
                out.push(violation(
                    "I6",
                    format!(
                        "{} committed {} for partition {} in generation {} after committing {prev} in generation {generation}",
                        c.member, c.offset, c.partition, c.generation
                    ),
                ));
            }
        }
    }
    // C1
    if !history.consumers_caught_up {
        out.push(violation(
            "C1",
            "the group did not commit every partition's end before the deadline".into(),
        ));
    }
    let seen: std::collections::HashSet<(i32, i64)> = history
        .delivered
        .iter()
        .map(|d| (d.partition, d.offset))
        .collect();
    for (p, log) in logs.iter().enumerate() {
        if let Some((offset, n)) = log.iter().find(|(o, _)| !seen.contains(&(p as i32, *o))) {
            out.push(violation(
                "C1",
                format!("record {n} at {p}-{offset} was never delivered to a consumer"),
            ));
        }
    }
    for d in &history.delivered {
        let (member, p, offset, n) = (d.incarnation, d.partition, d.offset, d.number);
        let expected = logs
            .get(p as usize)
            .and_then(|l| l.iter().find(|(o, _)| *o == offset));
        if expected.is_none_or(|(_, m)| *m != n) {
            out.push(violation(
                "C1",
                format!(
                    "member {member} delivered record {n} as {p}-{offset}, the log has {expected:?}"
                ),
            ));
            break;
        }
    }
    out
}
