//! The soak's parts (issue 23): its shape from the environment ([`SoakConfig`]), the
//! ledger the workloads write while it runs ([`Ledger`]), the workloads
//! ([`workloads`]: the idempotent producer, the group members, the transactional
//! copier), the faults ([`kills`]: leader SIGKILLs), the process samples and their
//! slopes ([`samples`]) and the independent reader ([`reader`], confluent-kafka).

pub mod kills;
pub mod reader;
pub mod samples;
pub mod workloads;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use kafka_client::Error;
use kafka_client::producer::RecordMetadata;
use kafka_testbed::reliability::{error_kind, is_possibly_persisted};
use tokio::time::Instant;

/// The soak's shape. `SOAK_MINUTES` (default 60) sets the length and `SOAK_RATE`
/// (default 100) the records produced per second; the fault cadence is fixed.
#[derive(Debug, Clone)]
pub struct SoakConfig {
    /// How long the workloads run under faults.
    pub duration: Duration,
    /// Records produced per second.
    pub rate: usize,
    /// Partitions of the input and output topics.
    pub partitions: i32,
    /// A partition's leader is SIGKILLed this often.
    pub leader_kill_every: Duration,
    /// How long a killed broker stays down before it is restarted.
    pub leader_down_for: Duration,
    /// A group member is killed (its task aborted: the handle dropped without close)
    /// and replaced this often.
    pub member_kill_every: Duration,
    /// The transactional copier is killed and replaced this often (offset by half a
    /// period from the member kills).
    pub copier_kill_every: Duration,
    /// The process is sampled this often.
    pub sample_every: Duration,
    /// Samples before this are the warm-up, left out of the slopes.
    pub warmup: Duration,
}

impl SoakConfig {
    /// From `SOAK_MINUTES` and `SOAK_RATE`.
    pub fn from_env() -> Self {
        let minutes: f64 = std::env::var("SOAK_MINUTES")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|m: &f64| *m > 0.0)
            .unwrap_or(60.0);
        let rate = std::env::var("SOAK_RATE")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|r: &usize| *r >= 10)
            .unwrap_or(100);
        let duration = Duration::from_secs_f64(minutes * 60.0);
        Self {
            duration,
            rate,
            partitions: 6,
            leader_kill_every: Duration::from_secs(30),
            leader_down_for: Duration::from_secs(3),
            member_kill_every: Duration::from_secs(120),
            copier_kill_every: Duration::from_secs(360),
            sample_every: Duration::from_secs(10),
            // Five minutes, or a fifth of a short run.
            warmup: Duration::from_secs(300).min(duration / 5),
        }
    }

    /// The most records the producer may send (its ledger is allocated up front, so it
    /// does not grow while memory is sampled).
    pub fn capacity(&self) -> usize {
        (self.duration.as_secs_f64() * self.rate as f64 * 1.2) as usize + 10_000
    }
}

/// A produced record's state in [`Ledger::produced`].
pub mod status {
    /// Not sent.
    pub const UNSENT: u8 = 0;
    /// Sent, no outcome yet.
    pub const PENDING: u8 = 1;
    /// Acknowledged.
    pub const ACKED: u8 = 2;
    /// Failed with a definite error: must not be in the log (I8).
    pub const FAILED: u8 = 3;
    /// Failed with an indeterminate error: may be in the log, at most once.
    pub const MAYBE: u8 = 4;
}

/// What the workloads record while the soak runs: fixed-size per-record arrays (one
/// byte per record) and counters, so the test's own bookkeeping does not show up as a
/// memory slope.
#[derive(Debug)]
pub struct Ledger {
    /// Per record id (its value), a [`status`].
    pub produced: Vec<AtomicU8>,
    /// Records sent (ids `0..sent`).
    pub sent: AtomicUsize,
    /// Sends without an outcome yet.
    pub pending: AtomicUsize,
    /// Per record id, how many times a group member was handed it (saturating at 255).
    pub group_seen: Vec<AtomicU8>,
    /// Records handed to group members in all.
    pub group_deliveries: AtomicU64,
    /// Records whose value was not a record id below the capacity.
    pub bad_values: AtomicU64,
    /// Typed errors by workload and kind.
    pub errors: Mutex<BTreeMap<String, u64>>,
    /// Copier transactions committed.
    pub copier_commits: AtomicU64,
    /// Copier transactions that failed (aborted or outcome unknown).
    pub copier_failed: AtomicU64,
    /// Copier producers rebuilt after a fatal error.
    pub copier_rebuilds: AtomicU64,
    /// Group members killed and replaced.
    pub members_killed: AtomicU64,
    /// Copiers killed and replaced.
    pub copiers_killed: AtomicU64,
    /// One line per fault, with its time.
    pub events: Mutex<Vec<String>>,
    /// When the soak started.
    pub start: Instant,
}

impl Ledger {
    /// A ledger for up to `capacity` records.
    pub fn new(capacity: usize) -> Self {
        Self {
            produced: (0..capacity)
                .map(|_| AtomicU8::new(status::UNSENT))
                .collect(),
            sent: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            group_seen: (0..capacity).map(|_| AtomicU8::new(0)).collect(),
            group_deliveries: AtomicU64::new(0),
            bad_values: AtomicU64::new(0),
            errors: Mutex::new(BTreeMap::new()),
            copier_commits: AtomicU64::new(0),
            copier_failed: AtomicU64::new(0),
            copier_rebuilds: AtomicU64::new(0),
            members_killed: AtomicU64::new(0),
            copiers_killed: AtomicU64::new(0),
            events: Mutex::new(Vec::new()),
            start: Instant::now(),
        }
    }

    /// Counts `e` under `who` and its kind; the first of each kind is also logged whole
    /// (its context names the request and the broker), with its time.
    pub fn error(&self, who: &str, e: &Error) {
        let kind = format!("{who}: {}", error_kind(e));
        let first = {
            let mut errors = self.errors.lock().unwrap();
            let n = errors.entry(kind.clone()).or_default();
            *n += 1;
            *n == 1
        };
        if first {
            self.event(format!("first {kind}: {e}"));
        }
    }

    /// Counts an error already described.
    pub fn note_error(&self, what: String) {
        *self.errors.lock().unwrap().entry(what).or_default() += 1;
    }

    /// Logs a fault (printed as it happens and kept for the report).
    pub fn event(&self, what: String) {
        let line = format!("[{:>7.1}s] {what}", self.start.elapsed().as_secs_f64());
        println!("soak: {line}");
        self.events.lock().unwrap().push(line);
    }

    /// Records the outcome of send `id`.
    pub fn settle(&self, id: usize, outcome: &Result<RecordMetadata, Error>) {
        let s = match outcome {
            Ok(_) => status::ACKED,
            Err(e) if is_possibly_persisted(e) => status::MAYBE,
            Err(_) => status::FAILED,
        };
        if let Err(e) = outcome {
            self.error("producer", e);
        }
        self.produced[id].store(s, Ordering::Release);
    }

    /// A record id from a value, counting values that are not one.
    pub fn id_of(&self, value: Option<&[u8]>) -> Option<usize> {
        let id = value
            .and_then(|v| std::str::from_utf8(v).ok())
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|id| *id < self.produced.len());
        if id.is_none() {
            self.bad_values.fetch_add(1, Ordering::Relaxed);
        }
        id
    }

    /// Record ids acknowledged so far.
    pub fn acked(&self) -> impl Iterator<Item = usize> + '_ {
        let sent = self.sent.load(Ordering::Acquire);
        (0..sent).filter(|i| self.produced[*i].load(Ordering::Acquire) == status::ACKED)
    }
}

/// Sleeps until `until`, waking early once `done` is set (checked every 500 ms).
pub async fn sleep_until_or_done(until: Instant, done: &std::sync::atomic::AtomicBool) {
    while Instant::now() < until && !done.load(Ordering::Relaxed) {
        let step = until
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(500));
        tokio::time::sleep(step).await;
    }
}
