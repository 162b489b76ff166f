//! The soak (issue 23; `shared/guide/RELIABILITY.md`, "Soak"): an hour (`SOAK_MINUTES`,
//! default 60) on a real 3-node cluster with faults all the time, then an independent
//! count. Nightly-style, not in CI:
//!
//! ```text
//! SOAK_MINUTES=60 cargo test -p integration-tests --test soak -- --ignored --nocapture
//! ```
//!
//! Workloads (this SDK's own handles, in this process): an idempotent producer
//! (acks=all, `SOAK_RATE` records a second, default 100); a three-member group reading
//! its topic with auto-commit, two members on KIP-848's consumer protocol and one on
//! the classic protocol (a mixed group); a transactional copier from that topic to a
//! second one. Faults: every 30 s the leader of a chosen partition (input, output,
//! the transaction coordinator's, a group coordinator's, in turn) is SIGKILLed and
//! restarted 3 s later; every 2 minutes a group member is killed (its task aborted, the
//! handle dropped without `close()`) and a new one takes its slot; every 6 minutes the
//! copier is killed the same way (its successor's `InitProducerId` fences it).
//!
//! At the end, with the workloads stopped and the cluster whole, confluent-kafka
//! (librdkafka, not this SDK) reads both topics and the test asserts:
//! - every acknowledged record is in the input exactly once (lost 0, duplicated 0: the
//!   producer is idempotent), no record that failed definitely is in it (I8), and no
//!   record whose failure was indeterminate is in it twice;
//! - the copier's output read with `read_committed` equals its committed input (the
//!   input below the copier group's committed offsets): lost 0, duplicated 0, nothing
//!   else;
//! - the group was handed every input record at least once (its duplicates are
//!   printed: members die without committing, so it is at least once);
//! - resident memory and open descriptors of this process, sampled every 10 s, stay
//!   flat after the warm-up (the first 5 minutes, or a fifth of a shorter run): the
//!   least-squares slope is printed and bounded (see [`check_flat`]).

mod soak_support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kafka_admin::{Admin, ListGroupOffsetsOptions};
use kafka_client::consumer::{Consumer, TopicPartition};
use kafka_testbed::reliability::{Env, with_consumer_protocol_groups};
use kafka_testbed::{ClusterConfig, KafkaCluster};
use soak_support::kills::{KillCounts, run_leader_kills, target};
use soak_support::reader::{Seen, read_all};
use soak_support::samples::{Slopes, load_average, run_sampler, slopes};
use soak_support::workloads::{CopierNames, spawn_copier, spawn_member, spawn_producer};
use soak_support::{Ledger, SoakConfig, sleep_until_or_done, status};
use tokio::time::Instant;

const SEED: u64 = 20_261_206;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "nightly-style soak (SOAK_MINUTES, default 60) on a 3-node cluster"]
async fn soak_three_nodes_with_leader_and_member_kills() {
    kafka_testbed::install_panic_hook();
    let cfg = SoakConfig::from_env();
    println!("soak: {cfg:?}, load average at start {}", load_average());
    let cluster = tokio::task::spawn_blocking(|| {
        let config = with_consumer_protocol_groups(ClusterConfig::new(3));
        KafkaCluster::start(config).expect("3-node cluster")
    })
    .await
    .unwrap();
    let env = Env {
        cluster: Arc::new(cluster),
        seed: SEED,
        ignore_leader_hints: false,
    };
    let names = CopierNames {
        input: "soak-in".into(),
        output: "soak-out".into(),
        group: "soak-copier".into(),
        transactional_id: "soak-copier-txn".into(),
    };
    let group = "soak-group";
    for t in [&names.input, &names.output] {
        env.create_topic(t, cfg.partitions).await.unwrap();
    }

    let ledger = Arc::new(Ledger::new(cfg.capacity()));
    let start = ledger.start;
    // Stops the producer; the members and the copier; the faults and the sampler.
    let stop_producer = Arc::new(AtomicBool::new(false));
    let stop_consumers = Arc::new(AtomicBool::new(false));
    let stop_faults = Arc::new(AtomicBool::new(false));

    let sampler = tokio::spawn(run_sampler(start, cfg.sample_every, stop_faults.clone()));
    let producer = spawn_producer(
        &env,
        &cfg,
        &names.input,
        ledger.clone(),
        stop_producer.clone(),
    );
    let mut members: Vec<_> = (0..3)
        .map(|slot| {
            spawn_member(
                &env,
                slot,
                0,
                &names.input,
                group,
                ledger.clone(),
                stop_consumers.clone(),
            )
        })
        .collect();
    let mut copier = spawn_copier(&env, 0, &names, ledger.clone(), stop_consumers.clone());

    let kill_counts = Arc::new(KillCounts::default());
    let leader_kills = {
        let (cfg2, names2) = (cfg.clone(), names.clone());
        tokio::spawn(run_leader_kills(
            env.clone(),
            cfg.clone(),
            move |k| {
                target(
                    k,
                    &cfg2,
                    &names2.input,
                    &names2.output,
                    [group, &names2.group],
                    &names2.transactional_id,
                )
            },
            ledger.clone(),
            kill_counts.clone(),
            stop_faults.clone(),
        ))
    };

    // Member and copier kills, on this task, until the run's end.
    let end = start + cfg.duration;
    let mut next_member_kill = start + cfg.member_kill_every;
    let mut next_copier_kill = start + cfg.copier_kill_every + cfg.member_kill_every / 2;
    let mut member_kills = 0u64;
    let mut copier_generation = 0u64;
    let mut last_progress = Instant::now();
    loop {
        let next = next_member_kill.min(next_copier_kill).min(end);
        sleep_until_or_done(next, &AtomicBool::new(false)).await;
        let now = Instant::now();
        if now >= end {
            break;
        }
        if now >= next_member_kill {
            let slot = (member_kills % 3) as usize;
            member_kills += 1;
            members[slot].abort();
            let _ = (&mut members[slot]).await;
            members[slot] = spawn_member(
                &env,
                slot,
                member_kills,
                &names.input,
                group,
                ledger.clone(),
                stop_consumers.clone(),
            );
            ledger.members_killed.fetch_add(1, Ordering::Relaxed);
            ledger.event(format!(
                "member kill {member_kills}: slot {slot} dropped without close, replaced"
            ));
            next_member_kill += cfg.member_kill_every;
        }
        if now >= next_copier_kill {
            copier_generation += 1;
            copier.abort();
            let _ = (&mut copier).await;
            copier = spawn_copier(
                &env,
                copier_generation,
                &names,
                ledger.clone(),
                stop_consumers.clone(),
            );
            ledger.copiers_killed.fetch_add(1, Ordering::Relaxed);
            ledger.event(format!(
                "copier kill {copier_generation}: dropped without close, replaced"
            ));
            next_copier_kill += cfg.copier_kill_every;
        }
        if last_progress.elapsed() >= Duration::from_secs(60) {
            last_progress = Instant::now();
            println!(
                "soak: [{:>7.1}s] sent {}, pending {}, group deliveries {}, copier commits {} (failed {}), load {}",
                start.elapsed().as_secs_f64(),
                ledger.sent.load(Ordering::Relaxed),
                ledger.pending.load(Ordering::Relaxed),
                ledger.group_deliveries.load(Ordering::Relaxed),
                ledger.copier_commits.load(Ordering::Relaxed),
                ledger.copier_failed.load(Ordering::Relaxed),
                load_average(),
            );
        }
    }
    let load_at_end = load_average();

    // Wind down: faults and sampling stop, then the producer (every send settled).
    stop_faults.store(true, Ordering::Relaxed);
    leader_kills.await.unwrap();
    let samples = sampler.await.unwrap();
    stop_producer.store(true, Ordering::Relaxed);
    let producer_result = producer.await.unwrap();
    wait_for("every send settled", Duration::from_secs(180), || {
        ledger.pending.load(Ordering::Acquire) == 0
    })
    .await;
    let acked: Vec<usize> = ledger.acked().collect();
    // The group catches up with every acknowledged record; the copier with the input.
    wait_for(
        "the group handed every acknowledged record",
        Duration::from_secs(300),
        || {
            acked
                .iter()
                .all(|i| ledger.group_seen[*i].load(Ordering::Acquire) > 0)
        },
    )
    .await;
    let input_end = end_offsets(&env, &names.input, cfg.partitions).await;
    let caught_up = wait_copier(&env, &names.group, &input_end, Duration::from_secs(300)).await;
    stop_consumers.store(true, Ordering::Relaxed);
    for m in members.into_iter().chain([copier]) {
        if tokio::time::timeout(Duration::from_secs(90), m)
            .await
            .is_err()
        {
            ledger.note_error("a member or the copier did not stop within 90 s".into());
        }
    }
    let committed = committed_offsets(&env, &names.group, cfg.partitions).await;

    // The independent count.
    let bootstrap = env.cluster.bootstrap_servers();
    let (input, output) = {
        let (b, n, p) = (bootstrap.clone(), names.clone(), cfg.partitions);
        tokio::task::spawn_blocking(move || {
            (
                read_all(&b, &n.input, "read_uncommitted", p),
                read_all(&b, &n.output, "read_committed", p),
            )
        })
        .await
        .unwrap()
    };
    let input = input.expect("confluent-kafka read the input");
    let output = output.expect("confluent-kafka read the output");

    let produce = check_producer(&ledger, &input);
    let copy = check_copier(&input, &output, &committed);
    let group_missed: usize = input
        .iter()
        .filter_map(|s| s.value.parse::<usize>().ok())
        .filter(|i| {
            *i >= ledger.group_seen.len() || ledger.group_seen[*i].load(Ordering::Acquire) == 0
        })
        .count();
    let group_extra: u64 = ledger
        .group_deliveries
        .load(Ordering::Relaxed)
        .saturating_sub(input.len() as u64);
    let flat = slopes(&samples, cfg.warmup).expect("samples over the run");

    println!("\n===== soak report =====");
    println!(
        "duration {:?} under faults (+{:?} wind-down), rate {}/s, seed {SEED}",
        cfg.duration,
        start.elapsed().saturating_sub(cfg.duration),
        cfg.rate
    );
    println!(
        "load average: end of faults {load_at_end}, now {}",
        load_average()
    );
    println!(
        "leader kills {} (skipped {}, restart failures {}), member kills {}, copier kills {}",
        kill_counts.kills.load(Ordering::Relaxed),
        kill_counts.skipped.load(Ordering::Relaxed),
        kill_counts.restart_failures.load(Ordering::Relaxed),
        ledger.members_killed.load(Ordering::Relaxed),
        ledger.copiers_killed.load(Ordering::Relaxed),
    );
    println!(
        "producer: sent {}, acked {}, failed definitely {}, failed indeterminate {} ({} persisted); \
         lost {}, duplicated {}, definite failures persisted {}, unknown values {} (close: {producer_result:?})",
        produce.sent,
        produce.acked,
        produce.failed_definite,
        produce.failed_indeterminate,
        produce.indeterminate_persisted,
        produce.lost,
        produce.duplicated,
        produce.definite_failures_persisted,
        produce.unknown_values,
    );
    println!(
        "copier: committed input {}, output {} (read_committed), lost {}, duplicated {}, extra {}; \
         caught up with the input: {caught_up}; transactions committed {}, failed {}, producers rebuilt {}",
        copy.committed_input,
        copy.output,
        copy.lost,
        copy.duplicated,
        copy.extra,
        ledger.copier_commits.load(Ordering::Relaxed),
        ledger.copier_failed.load(Ordering::Relaxed),
        ledger.copier_rebuilds.load(Ordering::Relaxed),
    );
    println!(
        "group: {} deliveries of {} input records, missed {group_missed}, redelivered {group_extra} (at least once)",
        ledger.group_deliveries.load(Ordering::Relaxed),
        input.len()
    );
    println!("bad values {}", ledger.bad_values.load(Ordering::Relaxed));
    println!(
        "typed errors by workload and kind: {:#?}",
        ledger.errors.lock().unwrap()
    );
    println!(
        "samples (s, RSS KiB, fds): {:?}",
        samples
            .iter()
            .map(|s| (s.at as u64, s.rss_kib, s.fds))
            .collect::<Vec<_>>()
    );
    let flat_verdict = check_flat(&flat);
    println!("=======================\n");

    assert!(producer_result.is_ok(), "producer: {producer_result:?}");
    assert!(
        produce.acked > 0,
        "the producer got acknowledgements: {produce:?}"
    );
    assert_eq!(
        (produce.lost, produce.duplicated),
        (0, 0),
        "idempotent producer: {produce:?}"
    );
    assert_eq!(produce.definite_failures_persisted, 0, "I8: {produce:?}");
    assert_eq!(
        produce.unknown_values, 0,
        "values the producer never sent: {produce:?}"
    );
    assert!(copy.committed_input > 0, "the copier committed: {copy:?}");
    assert_eq!(
        (copy.lost, copy.duplicated, copy.extra),
        (0, 0, 0),
        "transactional copy: {copy:?}"
    );
    assert_eq!(group_missed, 0, "the group was handed every input record");
    assert_eq!(ledger.bad_values.load(Ordering::Relaxed), 0);
    if let Err(e) = flat_verdict {
        panic!("{e}");
    }
}

/// What the independent reader found in the input, against the producer's outcomes.
#[derive(Debug, Default)]
struct ProduceCheck {
    sent: usize,
    acked: usize,
    failed_definite: usize,
    failed_indeterminate: usize,
    /// Acknowledged records not in the input.
    lost: usize,
    /// Extra copies of any record in the input.
    duplicated: usize,
    definite_failures_persisted: usize,
    indeterminate_persisted: usize,
    unknown_values: usize,
}

fn check_producer(ledger: &Ledger, input: &[Seen]) -> ProduceCheck {
    let sent = ledger.sent.load(Ordering::Acquire);
    let mut copies = vec![0u32; sent];
    let mut c = ProduceCheck {
        sent,
        ..ProduceCheck::default()
    };
    for s in input {
        match s.value.parse::<usize>() {
            Ok(i) if i < sent => copies[i] += 1,
            _ => c.unknown_values += 1,
        }
    }
    for (i, n) in copies.iter().enumerate() {
        c.duplicated += n.saturating_sub(1) as usize;
        match ledger.produced[i].load(Ordering::Acquire) {
            status::ACKED => {
                c.acked += 1;
                c.lost += usize::from(*n == 0);
            }
            status::FAILED => {
                c.failed_definite += 1;
                c.definite_failures_persisted += usize::from(*n > 0);
            }
            status::MAYBE => {
                c.failed_indeterminate += 1;
                c.indeterminate_persisted += usize::from(*n > 0);
            }
            // Still pending (the wait above timed out): neither lost nor failed.
            _ => {}
        }
    }
    c
}

/// The copier's output against its committed input.
#[derive(Debug, Default)]
struct CopyCheck {
    /// Input records below the copier group's committed offsets.
    committed_input: usize,
    /// Records in the output (read_committed).
    output: usize,
    /// Committed input records missing from the output.
    lost: usize,
    /// Extra copies in the output.
    duplicated: usize,
    /// Output records that are not committed input.
    extra: usize,
}

fn check_copier(input: &[Seen], output: &[Seen], committed: &BTreeMap<i32, i64>) -> CopyCheck {
    let committed_input: Vec<&str> = input
        .iter()
        .filter(|s| committed.get(&s.partition).is_some_and(|c| s.offset < *c))
        .map(|s| s.value.as_str())
        .collect();
    let mut out: HashMap<&str, usize> = HashMap::new();
    for s in output {
        *out.entry(s.value.as_str()).or_default() += 1;
    }
    let mut c = CopyCheck {
        committed_input: committed_input.len(),
        output: output.len(),
        ..CopyCheck::default()
    };
    c.duplicated = out.values().map(|n| n - 1).sum();
    let wanted: std::collections::HashSet<&str> = committed_input.iter().copied().collect();
    c.lost = wanted.iter().filter(|v| !out.contains_key(*v)).count();
    c.extra = out.keys().filter(|v| !wanted.contains(*v)).count();
    c
}

/// The memory and descriptor bounds.
///
/// RSS: the fitted growth over the window must stay under 10 % of the mean RSS per
/// hour of window, or 8 MiB, whichever is larger. A leak tied to the work (a buffer
/// per record, per request, per reconnection, per killed member) grows with time at a
/// steady rate and shows as a slope; the allocator's high-water marks and the
/// connection churn of 120 leader kills an hour move RSS by a few MiB either way,
/// which is what the 8 MiB floor (it dominates short runs) and the 10 % allow. The
/// ledgers are allocated up front, so the test's own bookkeeping does not grow.
///
/// Descriptors: the fitted growth over the window must stay under 10. Every leader
/// kill closes and reopens the clients' connections (about 30 an hour per client) and
/// every member or copier kill drops a client with its connections (40 an hour), so
/// one descriptor leaked per event would grow the count by 30 or more an hour; the
/// count at one sample swings by a few with reconnections in flight.
fn check_flat(s: &Slopes) -> Result<(), String> {
    let hours = s.hours.max(1.0 / 60.0);
    let rss_growth = s.rss_mib_per_hour * hours;
    let rss_bound = (0.10 * s.rss_mean_mib * hours).max(8.0);
    let fd_growth = s.fds_per_hour * hours;
    println!(
        "soak: {} samples over {:.2} h after the warm-up; RSS slope {:+.2} MiB/h (mean {:.1} MiB, \
         first {:.1}, last {:.1}, peak of the run {:.1}; {:+.2} MiB over the window, bound {rss_bound:.1} MiB); \
         fd slope {:+.2}/h (mean {:.1}, min {}, max {}; {:+.2} over the window, bound 10)",
        s.samples,
        s.hours,
        s.rss_mib_per_hour,
        s.rss_mean_mib,
        s.rss_first_last_mib.0,
        s.rss_first_last_mib.1,
        s.rss_peak_mib,
        rss_growth,
        s.fds_per_hour,
        s.fds_mean,
        s.fds_min_max.0,
        s.fds_min_max.1,
        fd_growth
    );
    if rss_growth >= rss_bound {
        return Err(format!("RSS grows: {s:?}"));
    }
    if fd_growth >= 10.0 {
        return Err(format!("descriptors grow: {s:?}"));
    }
    Ok(())
}

async fn wait_for(what: &str, bound: Duration, ok: impl Fn() -> bool) {
    let deadline = Instant::now() + bound;
    while !ok() {
        if Instant::now() > deadline {
            println!("soak: gave up waiting for {what} after {bound:?}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// End offsets of `topic` (direct listeners).
async fn end_offsets(env: &Env, topic: &str, partitions: i32) -> BTreeMap<i32, i64> {
    let consumer = Consumer::builder()
        .client(env.direct_client())
        .build()
        .unwrap();
    let tps: Vec<TopicPartition> = (0..partitions).map(|p| (topic, p).into()).collect();
    let ends = consumer.end_offsets(tps).await.expect("end offsets");
    let _ = consumer.close().await;
    ends.into_iter().map(|(tp, o)| (tp.partition, o)).collect()
}

/// The copier group's committed offsets (stable: no pending transactional commit).
async fn committed_offsets(env: &Env, group: &str, _partitions: i32) -> BTreeMap<i32, i64> {
    let admin = Admin::new(env.direct_client());
    let offsets = admin
        .list_consumer_group_offsets(
            group,
            ListGroupOffsetsOptions::default().require_stable(true),
        )
        .await
        .expect("the copier group's offsets");
    offsets
        .into_iter()
        .filter_map(|(tp, r)| Some((tp.partition, r.ok()??.offset)))
        .collect()
}

/// Waits until the copier committed the whole input (`ends`); whether it did.
async fn wait_copier(env: &Env, group: &str, ends: &BTreeMap<i32, i64>, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    loop {
        let committed = committed_offsets(env, group, 0).await;
        if ends
            .iter()
            .all(|(p, e)| committed.get(p).is_some_and(|c| c >= e))
        {
            return true;
        }
        if Instant::now() > deadline {
            println!("soak: the copier committed {committed:?} of {ends:?} after {bound:?}");
            return false;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The slope arithmetic the soak's verdict rests on (no cluster: runs in CI).
#[test]
fn soak_slopes_fit_a_known_line_and_skip_the_warm_up() {
    use soak_support::samples::Sample;
    // RSS 100 MiB + 6 MiB per hour, fds constant at 40, one sample every 10 s for an
    // hour; the first 5 minutes jump around (the warm-up) and must not count.
    let samples: Vec<Sample> = (0..360)
        .map(|k| {
            let at = k as f64 * 10.0;
            let warm = if at < 300.0 { 50 * 1024 } else { 0 };
            Sample {
                at,
                rss_kib: (100.0 * 1024.0 + 6.0 * 1024.0 * at / 3600.0) as u64 + warm,
                fds: if at < 300.0 { 90 } else { 40 },
            }
        })
        .collect();
    let s = slopes(&samples, Duration::from_secs(300)).unwrap();
    assert_eq!(s.samples, 330);
    assert!((s.rss_mib_per_hour - 6.0).abs() < 0.01, "{s:?}");
    assert!(s.fds_per_hour.abs() < 1e-9, "{s:?}");
    assert!(
        check_flat(&s).is_ok(),
        "6 MiB/h on 100 MiB is under the bound"
    );
    // A leak of one descriptor a minute fails the check.
    let leaking: Vec<Sample> = samples
        .iter()
        .map(|x| Sample {
            fds: 40 + (x.at / 60.0) as u64,
            ..*x
        })
        .collect();
    let s = slopes(&leaking, Duration::from_secs(300)).unwrap();
    assert!((s.fds_per_hour - 60.0).abs() < 1.0, "{s:?}");
    assert!(check_flat(&s).is_err());
    // So does RSS growing by 20 % of itself an hour.
    let growing: Vec<Sample> = samples
        .iter()
        .map(|x| Sample {
            rss_kib: 100 * 1024 + (20.0 * 1024.0 * x.at / 3600.0) as u64,
            ..*x
        })
        .collect();
    assert!(check_flat(&slopes(&growing, Duration::from_secs(300)).unwrap()).is_err());
}
