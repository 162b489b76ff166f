//! Renders matrix results as the markdown of `docs/reliability.md`.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::ScenarioResult;

/// What the matrix has found so far (kept with the report so every regeneration
/// carries it).
pub const FINDINGS: &str = "
## Findings (2026-11-22, seed 20261122)

- **Changed: zombie group members.** A member whose coordinator was unreachable kept
  consuming its partitions until the coordinator answered again, by which time the
  coordinator had expired it and could have given them away (unbounded double
  processing when one member is isolated). Now a member with no heartbeat answer for
  `session.timeout` treats its partitions as lost and rejoins, as librdkafka does
  (regression test `consumer_session_expiry`, which fails without the change). For
  faults that cut *every* member off the coordinator the duplicates are dominated by
  what was consumed while no commit could succeed, which no client can avoid at least
  once; single runs before / after the change, W2 duplicates of 20,000: cut 30 s
  14,053 / 11,653; latency 11,527 / 10,571; black hole 15 s 12,241 / 13,403; SIGKILL
  coordinator 6,050 / 1,650; SIGSTOP 10 s 2,238 / 13,103; SIGKILL controller 3,565 /
  3,088. Single runs vary a lot: a rerun of SIGSTOP 10 s with the change gave 3,450.
  A member gives up at exactly `session.timeout`, when a resumed coordinator might
  still have taken its heartbeat (librdkafka has the same race); a margin before
  declaring the session lost is a possible refinement.
- **Open: W2 under SIGKILL of the coordinator** re-delivered 1,650 records (1,050 on a
  rerun, 1,600 in the run of 07:27 UTC: reproducible) with no session lost and no two owners at once: a revocation handed partitions over without
  its commit landing (commit on revoke failing during coordinator failover, or a
  commit acknowledged by the dying coordinator and not kept). To investigate with
  client logs.
- **Open: `Consumer::close()` takes no timeout** (I10 asks that `close()` honour one).
  With the coordinator unreachable or restarting, the longest close measured 24.0 s
  (cut 30 s); the matrix holds it to the Java client's default of 30 s.
- **W1 is idempotent** (5 requests in flight): in the run of 2026-11-22 07:27 UTC all
  12 W1 rows had 0 lost, 0 duplicates, 0 reordered and 0 offset conflicts, the dropped,
  reset and cut Produce responses included. The read-back now reads at least up to the
  highest acknowledged offset per partition (a newly elected leader can report a high
  watermark below offsets its predecessor acknowledged).
- **W3 (transactional copy)**, same run: all 13 rows had 0 lost, 0 duplicates, 0
  aborted reads, 0 reordered, 0 offset conflicts. Reset, dropped and cut `EndTxn` and
  `TxnOffsetCommit` answers were absorbed by the client's retries (0 failed
  transactions). Black hole 15 s: one transaction failed
  `Transaction(Abortable: UNKNOWN_MEMBER_ID)` (the copier's group session expired) and
  the copier rewound to the committed offsets.
- **Open: a transaction timed out by the coordinator ends fatal.** Cutting the
  coordinator's connections for 30 s (longer than the copier's 20 s transaction
  timeout) let the coordinator abort the open transaction and bump the epoch; the
  client then reported `Transaction(Fatal: INVALID_PRODUCER_EPOCH)` and the copier
  rebuilt the producer with the same `transactional.id` (nothing lost or duplicated).
  Java treats INVALID_PRODUCER_EPOCH on the produce path as abortable since KIP-588,
  so that an application can abort and go on without a new producer; whether this
  client's classification should follow for the request that got it here is to check.
- **Open: W2 under SIGKILL of the active controller** re-delivered 150 records with no
  session lost in the same run (the SIGKILL coordinator case above: 1,600): I4 is
  marked violated for both.
";

/// What the report says about the run as a whole.
#[derive(Debug, Clone)]
pub struct RunInfo {
    /// The seed of every scenario.
    pub seed: u64,
    /// Wall time of the whole run.
    pub duration: Duration,
    /// The command that produced the report.
    pub command: String,
    /// Notes (subset run, skipped workloads, ...).
    pub notes: Vec<String>,
}

/// `YYYY-MM-DD HH:MM UTC` for `t`.
pub fn utc_timestamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        rem / 3_600,
        rem % 3_600 / 60
    )
}

fn secs(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64())
}

fn opt(v: Option<usize>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |n| n.to_string())
}

/// The whole markdown document.
pub fn render(info: &RunInfo, results: &[ScenarioResult]) -> String {
    let mut out = String::new();
    let failing = results
        .iter()
        .filter(|r| !r.violations().is_empty())
        .count();
    let _ = writeln!(out, "# Reliability matrix\n");
    let _ = writeln!(
        out,
        "Generated by `{}` on {}; seed {}; {} scenarios in {:.1} min; {} with a violated \
         goal. 3 KRaft nodes (RF 3, min ISR 2) on loopback, clients through the test \
         bed's fault proxies, verification on the direct listeners. Invariants: \
         `shared/guide/RELIABILITY.md`.\n",
        info.command,
        utc_timestamp(SystemTime::now()),
        info.seed,
        results.len(),
        info.duration.as_secs_f64() / 60.0,
        failing
    );
    for n in &info.notes {
        let _ = writeln!(out, "- {n}");
    }
    if !info.notes.is_empty() {
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "| workload | fault | fired | records / acked | I1 lost | I2 dup | I3 order | \
         I4 co-owners (sessions lost) | I5 aborted | I6 offset conflicts | I7 no outcome | I7 typed errors | \
         I8 definite but persisted | I8 possibly persisted (persisted) | I10 recovery s (bound) | \
         I10 close s (timeout) | longest stall s | duration s | verdict |"
    );
    let _ = writeln!(out, "|{}", "---|".repeat(19));
    for r in results {
        let fired = r.fault_report.as_ref().map_or_else(
            || "-".to_owned(),
            |f| format!("{} (node {})", f.fired, f.victim),
        );
        match &r.counts {
            Ok(c) => {
                let errors = if c.errors.is_empty() {
                    "none".to_owned()
                } else {
                    c.errors
                        .iter()
                        .map(|(k, n)| format!("{k} ×{n}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let v = r.violations();
                let verdict = if v.is_empty() {
                    "ok".to_owned()
                } else {
                    format!("**{}**", v.join("; "))
                };
                let _ = writeln!(
                    out,
                    "| {} | {} | {fired} | {} / {} | {} | {} | {} | {} | {} | {} | {} | {errors} | {} | {} ({}) | {} ({}) | {} ({}) | {} | {} | {verdict} |",
                    r.workload,
                    r.fault,
                    c.records,
                    c.acked,
                    c.lost,
                    c.duplicates,
                    c.order_violations,
                    match (c.concurrent_owners, c.sessions_lost) {
                        (Some(o), Some(l)) => format!("{o} ({l})"),
                        (o, _) => opt(o),
                    },
                    opt(c.aborted_reads),
                    c.offset_conflicts,
                    c.no_outcome,
                    c.definite_failures_persisted,
                    c.indeterminate.0,
                    c.indeterminate.1,
                    c.recovery.map_or_else(|| "-".to_owned(), secs),
                    secs(c.recovery_bound),
                    secs(c.close.0),
                    secs(c.close.1),
                    secs(c.longest_stall),
                    secs(c.duration),
                );
            }
            Err(e) => {
                let _ = writeln!(
                    out,
                    "| {} | {} | {fired} | {} |",
                    r.workload,
                    r.fault,
                    ["-"; 15].join(" | ") + &format!(" | not run: {e}")
                );
            }
        }
    }
    let notes: Vec<String> = results
        .iter()
        .filter_map(|r| match &r.counts {
            Ok(c) if !c.notes.is_empty() => Some(format!(
                "- {} / {}: {}",
                r.workload,
                r.fault,
                c.notes.join("; ")
            )),
            _ => None,
        })
        .collect();
    if !notes.is_empty() {
        let _ = writeln!(out, "\n## Notes per scenario\n");
        for n in notes {
            let _ = writeln!(out, "{n}");
        }
    }
    let _ = writeln!(
        out,
        "\n## Reading the table\n\n\
         - W1 runs the idempotent producer (5 requests in flight) and W3 is exactly once: \
         I2 must be 0 for both. W2: I4 (no partition or offset handed out \
         twice, no two owners at once) is a goal only when no member lost its session \
         (sessions lost is the count of `lost` callbacks); after a session loss nothing \
         can be committed on revoke, and the duplicates are the at-least-once count.\n\
         - I3 for W1: first copies of records appear in send order per partition, and \
         acknowledged offsets increase with send order; for W2: within one ownership a \
         member's offsets increase.\n\
         - I6: an acknowledged offset holds exactly the acknowledged record (W1); every \
         delivered offset carries the value produced there (W2).\n\
         - I7: every record or member ends with an outcome; errors are listed by typed kind.\n\
         - I8: a record that failed with a definite error must not be in the log; \
         \"possibly persisted\" failures (lost connection, timeout) are counted with how \
         many were in fact written.\n\
         - I10: recovery is from the fault healing (restarted node ready) to the first \
         acknowledgement or delivery after it; close is the longest `close()`; the longest stall is the longest time with no \
         acknowledgement (W1) or delivery (W2) while work remained, from the start.\n\
         - W3 (transactional copy): records / acked are input values / distinct values in \
         the committed output (read back with read_committed once no transaction is open); \
         I3 is input order per input partition within an output partition; I5 counts \
         records the concurrent read_committed reader was handed that are not committed at \
         that offset (or handed twice); I6 counts values seen at one offset but committed \
         at another, or never input; the fault's victim is the transaction coordinator of \
         the copier's transactional.id; recovery is from the heal to the next commit. I9 \
         (never reuse an epoch after a commit with unknown outcome) is enforced by the \
         client: such a commit returns `Transaction(OutcomeUnknown ...)` and the next \
         `begin` re-initialises the producer id."
    );
    out.push_str(FINDINGS);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_civil_utc() {
        assert_eq!(utc_timestamp(UNIX_EPOCH), "1970-01-01 00:00 UTC");
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(utc_timestamp(t), "2026-11-18 11:06 UTC");
    }
}
