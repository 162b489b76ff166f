//! Reliability workloads, faults and verifiers (issue 9; the bar is
//! `shared/guide/RELIABILITY.md`, invariants I1 to I10).
//!
//! A scenario is one workload ([`Workload`]) run against a 3-node cluster started
//! [`crate::ClusterConfig::with_fault_proxy`], with one [`Fault`] injected mid-run. The
//! workload's verifier reads everything back and fills a [`Counts`]: lost, duplicated,
//! reordered records, offsets holding two values, outcomes by typed error, recovery time.
//! [`run_scenario`] ties them together; the PR-tier tests
//! (`tests/reliability_*.rs`) run a few scenarios and the `reliability-matrix` binary
//! runs them all and writes `docs/reliability.md` ([`report`]).
//!
//! Clients under test bootstrap through the fault proxies
//! ([`crate::KafkaCluster::client_bootstrap_servers`]); set-up, read-back and
//! verification use the brokers' direct listeners, so faults never touch the verifier.

mod faults;
mod readback;
pub mod report;
mod w1_produce;
mod w2_group;
mod w3_txn_copy;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::consumer::GroupProtocol;
use kafka_client::{Client, Error};

use crate::cluster::KafkaCluster;

pub use faults::{Fault, FaultReport, inject};
pub use readback::{LogRecord, read_back, read_back_until};
pub use w1_produce::{W1Config, run_w1};
pub use w2_group::{CONSUMER_PROTOCOL_GROUPS, W2Config, run_w2, with_consumer_protocol_groups};
pub use w3_txn_copy::{W3_IMPLEMENTED, W3Config, run_w3};

/// The workloads of the matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Workload {
    /// W1: one idempotent producer, acks=all.
    W1Produce,
    /// W2: a three-member consumer group with members joining and leaving.
    W2Group,
    /// W2 with the KIP-848 consumer group protocol (`group.protocol=consumer`).
    W2GroupConsumerProtocol,
    /// W3: transactional copy with a concurrent read_committed verifier.
    W3TxnCopy,
}

impl Workload {
    /// W2 with either group protocol (at-least-once: duplicates are reported, not
    /// violations).
    pub fn is_w2(self) -> bool {
        matches!(self, Workload::W2Group | Workload::W2GroupConsumerProtocol)
    }
}

impl fmt::Display for Workload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Workload::W1Produce => "W1 produce acks=all",
            Workload::W2Group => "W2 group churn",
            Workload::W2GroupConsumerProtocol => "W2 group churn (consumer protocol)",
            Workload::W3TxnCopy => "W3 txn copy",
        })
    }
}

/// What a scenario measured. `None` means "does not apply to this workload".
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// Records the workload tried to produce (W1) or had to consume (W2).
    pub records: usize,
    /// W1: records acknowledged. W2: distinct records consumed.
    pub acked: usize,
    /// I1: acknowledged (W1) or produced (W2) records never read back / consumed.
    pub lost: usize,
    /// I2: records read (W1: present in the log; W2: delivered) more than once, counted
    /// once per extra copy.
    pub duplicates: usize,
    /// I3: per-partition order violations (a record after a later one of the same
    /// partition in the log; acknowledged offsets not increasing in send order; W2:
    /// a member delivered an offset not above the previous one of an ownership).
    pub order_violations: usize,
    /// I4 (W2): pairs of members whose listeners owned one partition at once.
    pub concurrent_owners: Option<usize>,
    /// I4 (W2): `lost` callbacks (a member's session expired: its partitions were not
    /// revoked, so nothing could be committed on revoke). With none, I4 demands 0
    /// duplicates and 0 concurrent owners; with some, both are at-least-once counts.
    pub sessions_lost: Option<usize>,
    /// I5 (W3): aborted or uncommitted records seen by the read_committed verifier.
    pub aborted_reads: Option<usize>,
    /// I6: offsets that carried two values (an acknowledgement pointing at another
    /// record, or one offset consumed with two values).
    pub offset_conflicts: usize,
    /// I7: records or operations that ended with no outcome within the scenario's
    /// bound (a hang or a silent drop). Goal 0.
    pub no_outcome: usize,
    /// I7: typed errors by kind (`DeliveryTimeout`, `Broker(NOT_ENOUGH_REPLICAS)`, ...).
    pub errors: BTreeMap<String, usize>,
    /// I8: records failed with a definite (non-indeterminate) error yet found in the
    /// log. Goal 0: a possibly-persisted record must be reported as such.
    pub definite_failures_persisted: usize,
    /// I8: records failed with an indeterminate error ("possibly persisted"), and how
    /// many of them were in fact persisted.
    pub indeterminate: (usize, usize),
    /// I10: from the fault healing to the workload making progress again.
    pub recovery: Option<Duration>,
    /// I10 (information): the longest time without any acknowledgement (W1) or
    /// delivery (W2) while work remained: how long the fault stalled the workload.
    pub longest_stall: Duration,
    /// I10: the bound `recovery` must stay under (session timeout + 5 s).
    pub recovery_bound: Duration,
    /// I10: the longest `close()` and the timeout it was given.
    pub close: (Duration, Duration),
    /// Metadata requests the clients under test sent during the workload, counted by
    /// the fault proxies in front of the brokers (what KIP-951's leader hints save).
    pub metadata_requests: Option<u64>,
    /// Wall time of the workload.
    pub duration: Duration,
    /// Anything worth reading next to the numbers.
    pub notes: Vec<String>,
}

impl Counts {
    /// Counts one failure under its typed kind.
    pub fn count_error(&mut self, e: &Error) {
        *self.errors.entry(error_kind(e)).or_default() += 1;
    }

    /// Whether every invariant's goal holds (`duplicates_allowed` for at-least-once
    /// workloads, where the count is reported but not a failure).
    pub fn violations(&self, duplicates_allowed: bool) -> Vec<String> {
        let mut v = Vec::new();
        let mut check = |ok: bool, what: String| {
            if !ok {
                v.push(what);
            }
        };
        check(self.lost == 0, format!("I1 lost {}", self.lost));
        check(
            duplicates_allowed || self.duplicates == 0,
            format!("I2 duplicates {}", self.duplicates),
        );
        check(
            self.order_violations == 0,
            format!("I3 order violations {}", self.order_violations),
        );
        if self.sessions_lost == Some(0) {
            check(
                self.concurrent_owners.unwrap_or(0) == 0 && self.duplicates == 0,
                format!(
                    "I4 with no session lost: {} duplicates, {:?} concurrent owners",
                    self.duplicates, self.concurrent_owners
                ),
            );
        }
        check(
            self.aborted_reads.unwrap_or(0) == 0,
            format!("I5 aborted reads {:?}", self.aborted_reads),
        );
        check(
            self.offset_conflicts == 0,
            format!("I6 offset conflicts {}", self.offset_conflicts),
        );
        check(
            self.no_outcome == 0,
            format!("I7 no outcome {}", self.no_outcome),
        );
        check(
            self.definite_failures_persisted == 0,
            format!(
                "I8 definite failures persisted {}",
                self.definite_failures_persisted
            ),
        );
        check(
            self.recovery.is_none_or(|r| r <= self.recovery_bound),
            format!(
                "I10 recovery {:?} > {:?}",
                self.recovery, self.recovery_bound
            ),
        );
        check(
            self.close.0 <= self.close.1 + Duration::from_secs(1),
            format!(
                "I10 close took {:?} (timeout {:?})",
                self.close.0, self.close.1
            ),
        );
        v
    }
}

/// A short name for an error's kind: the variant, with the Kafka code for broker errors.
pub fn error_kind(e: &Error) -> String {
    if let Error::Transaction { kind, cause, .. } = e {
        return match cause {
            Some(c) => format!("Transaction({kind:?}: {})", error_kind(c)),
            None => format!("Transaction({kind:?})"),
        };
    }
    if let Some(code) = e.code() {
        return format!("Broker({code})");
    }
    if let Error::DeliveryTimeout {
        last_error: Some(last),
        ..
    } = e
    {
        return format!("DeliveryTimeout({})", error_kind(last));
    }
    let debug = format!("{e:?}");
    debug
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("?")
        .to_owned()
}

/// Whether an error leaves the outcome open (the broker may have written the record).
pub fn is_possibly_persisted(e: &Error) -> bool {
    match e {
        Error::DeliveryTimeout { last_error, .. } => {
            last_error.as_deref().is_none_or(Error::is_indeterminate)
        }
        e => e.is_indeterminate(),
    }
}

/// Where a scenario runs: the cluster (with fault proxies) and the seed.
#[derive(Debug, Clone)]
pub struct Env {
    /// A 3-node cluster started with [`crate::ClusterConfig::with_fault_proxy`].
    pub cluster: Arc<KafkaCluster>,
    /// The seed (topic names, keys, member timings derive from it).
    pub seed: u64,
    /// Clients under test ignore KIP-951 leader hints (`lowlevel::ignore_leader_hints`):
    /// the "before" of the matrix's leader-hint measurement.
    pub ignore_leader_hints: bool,
}

impl Env {
    /// A client through the fault proxies, with the timeouts scenarios assume
    /// (request timeout 5 s).
    pub fn proxied_client(&self, id: &str) -> Client {
        let builder = Client::builder()
            .bootstrap_servers([self.cluster.client_bootstrap_servers()])
            .client_id(id)
            .request_timeout(REQUEST_TIMEOUT)
            .api_timeout(Duration::from_secs(60))
            .reconnect_backoff(Duration::from_millis(50), Duration::from_secs(1));
        let builder = match self.ignore_leader_hints {
            true => kafka_client::lowlevel::ignore_leader_hints(builder),
            false => builder,
        };
        builder.build().expect("valid client config")
    }

    /// Metadata requests sent through the fault proxies so far (every client under
    /// test bootstraps through them; the verifier does not).
    pub fn metadata_requests(&self) -> u64 {
        let proxies = self.cluster.proxies();
        proxies.iter().map(|p| p.stats().metadata_requests).sum()
    }

    /// A client on the direct listeners (set-up and verification only).
    pub fn direct_client(&self) -> Client {
        Client::builder()
            .bootstrap_servers([self.cluster.bootstrap_servers()])
            .client_id("reliability-verifier")
            .request_timeout(Duration::from_secs(15))
            .api_timeout(Duration::from_secs(60))
            .build()
            .expect("valid client config")
    }

    /// Creates `name` with `partitions` partitions, RF 3, and waits for its leaders.
    pub async fn create_topic(&self, name: &str, partitions: i32) -> Result<(), String> {
        let client = self.direct_client();
        let admin = Admin::new(client.clone());
        let res = admin
            .create_topics(
                [NewTopic::new(name)
                    .partitions(partitions)
                    .replication_factor(3)],
                CreateTopicsOptions::default(),
            )
            .await
            .map_err(|e| format!("create {name}: {e}"))?;
        if let Some(Err(e)) = res.get(name) {
            return Err(format!("create {name}: {e}"));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let ready = client.refresh_topics(&[name]).await.ok().is_some_and(|m| {
                m.topic(name).is_some_and(|t| {
                    t.partitions.len() == partitions as usize
                        && t.partitions.iter().all(|p| p.leader.is_some())
                })
            });
            if ready {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(format!("{name}: no leaders after 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The current leader of `topic`-`partition` (direct metadata). Retries for up to
    /// 30 s: a broker that has not caught up with a new topic's metadata yet answers
    /// UNKNOWN_TOPIC_OR_PARTITION.
    pub async fn leader(&self, topic: &str, partition: i32) -> Result<i32, String> {
        let client = self.direct_client();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match client.leader(topic, partition).await {
                Ok((leader, _)) => return Ok(leader),
                Err(e) if tokio::time::Instant::now() >= deadline => {
                    return Err(format!("leader of {topic}-{partition}: {e}"));
                }
                Err(_) => {
                    client.invalidate_topic(topic);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    }
}

/// The longest gap between consecutive instants of `times` (sorted here), counting
/// from `start`.
pub(crate) fn longest_gap(
    start: tokio::time::Instant,
    mut times: Vec<tokio::time::Instant>,
) -> Duration {
    times.sort_unstable();
    let mut prev = start;
    let mut longest = Duration::ZERO;
    for t in times {
        longest = longest.max(t.saturating_duration_since(prev));
        prev = prev.max(t);
    }
    longest
}

/// Request timeout of clients under test; the latency fault exceeds it.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// One row of the matrix: the scenario, what it measured, and how the fault went.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    /// The workload.
    pub workload: Workload,
    /// The fault.
    pub fault: Fault,
    /// The seed.
    pub seed: u64,
    /// Measured counts (`Err` when the scenario itself could not run).
    pub counts: Result<Counts, String>,
    /// When the fault ran and whether it fired.
    pub fault_report: Option<FaultReport>,
}

impl ScenarioResult {
    /// Invariant violations (an error running the scenario counts as one).
    pub fn violations(&self) -> Vec<String> {
        match &self.counts {
            // W1 (idempotent) and W3 (transactional) must have no duplicates; W2 is an
            // at-least-once group that may lose a session under faults: its duplicates
            // are reported, not failures (I4 covers the cases where they are).
            Ok(c) => c.violations(self.workload.is_w2()),
            Err(e) => vec![format!("scenario failed: {e}")],
        }
    }
}

/// Runs `workload` on `env` with `fault` injected once the workload is under way, then
/// heals every proxy and waits for the cluster to be whole again.
pub async fn run_scenario(env: &Env, workload: Workload, fault: Fault) -> ScenarioResult {
    let metadata_before = env.metadata_requests();
    let (counts, fault_report) = match workload {
        Workload::W1Produce => run_w1(env, &W1Config::default(), fault).await,
        Workload::W2Group => run_w2(env, &W2Config::default(), fault).await,
        Workload::W2GroupConsumerProtocol => {
            let cfg = W2Config {
                group_protocol: GroupProtocol::Consumer,
                ..W2Config::default()
            };
            run_w2(env, &cfg, fault).await
        }
        Workload::W3TxnCopy => run_w3(env, &W3Config::default(), fault).await,
    };
    let counts = counts.map(|mut c| {
        c.metadata_requests = Some(env.metadata_requests() - metadata_before);
        c
    });
    for p in env.cluster.proxies() {
        p.heal();
    }
    let cluster = env.cluster.clone();
    let settle = tokio::task::spawn_blocking(move || {
        cluster.wait_ready(Duration::from_secs(120))?;
        cluster.wait_fully_replicated(Duration::from_secs(120))
    })
    .await;
    let counts = match (counts, settle) {
        (Ok(mut c), Ok(Err(e))) => {
            c.notes.push(format!("cluster did not settle: {e}"));
            Ok(c)
        }
        (c, _) => c,
    };
    ScenarioResult {
        workload,
        fault,
        seed: env.seed,
        counts,
        fault_report,
    }
}

/// A small deterministic generator (splitmix64) so runs repeat from their seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
