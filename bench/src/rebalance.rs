//! `rebalance`: how long a group of 3 members on a 48-partition topic takes to be
//! stable again after a 4th member joins, for the classic protocol with an eager
//! assignor (`range`), the classic protocol with `cooperative-sticky`, and KIP-848's
//! consumer protocol; four of our members, then four Java `KafkaConsumer`s
//! (`bench/java/RebalanceMember.java`, kafka-clients from the test bed's broker
//! classpath), then four librdkafka consumers (rust-rdkafka `BaseConsumer`s in the
//! harness, each polled on its own thread), on the same broker in the same run,
//! alternating.
//!
//! Stable: the four members own 12 partitions each, disjoint and covering all 48, and
//! every member has been handed a record since its last ownership change. The time is
//! from the 4th member's `subscribe` to the latest of those first records. A producer
//! in the harness writes one record to every partition every 10 ms all along, so a
//! member that owns a partition gets records within a fetch.
//!
//! Raw figures go to `bench/results/rebalance.json`; `docs/benchmarks.md` shows them
//! (section "Rebalance") whenever it is rendered.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::future::Future;
use std::io::{BufRead, BufReader, Write as _};
use std::path::PathBuf;
use std::pin::Pin;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kafka_client::consumer::{
    AssignmentStrategy, AutoOffsetReset, Consumer, GroupProtocol, RebalanceListener, TopicPartition,
};
use kafka_client::producer::{Producer, ProducerRecord};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{
    BaseConsumer, Consumer as _, ConsumerContext as RdConsumerContext, Rebalance,
};
use rdkafka::{ClientContext, TopicPartitionList};
use serde::{Deserialize, Serialize};

use crate::BoxError;
use crate::broker::Broker;

/// Partitions of the topic.
pub const PARTITIONS: i32 = 48;
/// Members before the join.
const MEMBERS: usize = 3;
/// Heartbeat interval of every member (classic: the client's setting; consumer
/// protocol: the broker's `group.consumer.heartbeat.interval.ms`).
const HEARTBEAT_MS: u64 = 1000;
/// Session timeout, likewise.
const SESSION_MS: u64 = 10_000;
/// Broker settings of this benchmark, beside [`crate::broker::BROKER_PROPERTIES`]: the
/// consumer protocol's heartbeat and session timing equal to the classic members'.
pub const BROKER_GROUP_PROPERTIES: &[(&str, &str)] = &[
    ("group.consumer.heartbeat.interval.ms", "1000"),
    ("group.consumer.min.heartbeat.interval.ms", "500"),
    ("group.consumer.session.timeout.ms", "10000"),
    ("group.consumer.min.session.timeout.ms", "6000"),
];
/// How long a group may take to become stable before the run counts as failed.
const STABLE_BOUND: Duration = Duration::from_secs(90);

/// The group protocol and assignor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Classic protocol, `range` (eager: every member revokes everything).
    Eager,
    /// Classic protocol, `cooperative-sticky` (incremental, two rounds).
    Cooperative,
    /// KIP-848 (`group.protocol=consumer`, the broker's default `uniform` assignor).
    Consumer,
}

impl Mode {
    /// Every mode, in the order of the table.
    pub(crate) const ALL: [Mode; 3] = [Mode::Eager, Mode::Cooperative, Mode::Consumer];

    fn arg(self) -> &'static str {
        match self {
            Mode::Eager => "eager",
            Mode::Cooperative => "cooperative",
            Mode::Consumer => "consumer",
        }
    }

    /// The protocol's name in the document.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Mode::Eager => "classic, eager (`range`)",
            Mode::Cooperative => "classic, `cooperative-sticky`",
            Mode::Consumer => "consumer protocol (KIP-848, `uniform`)",
        }
    }
}

/// Whose members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Who {
    /// This SDK.
    Ours,
    /// The Java `KafkaConsumer`.
    Java,
    /// librdkafka (rust-rdkafka's `BaseConsumer`).
    Rdkafka,
}

impl Who {
    /// Every client, in the order the rounds alternate and the table lists them.
    pub(crate) const ALL: [Who; 3] = [Who::Ours, Who::Java, Who::Rdkafka];

    /// The client's name in the document.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Who::Ours => "kafka-rs",
            Who::Java => "Java",
            Who::Rdkafka => "rdkafka",
        }
    }
}

/// One measured join.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sample {
    /// Protocol and assignor.
    pub mode: Mode,
    /// Whose members.
    pub who: Who,
    /// Seconds from the 4th member's subscribe to the group being stable.
    pub secs: f64,
    /// Partitions the three earlier members gave up (revoked or lost) meanwhile.
    pub revoked: usize,
    /// The longest time one of the three earlier members got no record, from the join
    /// to stability (how long consumption stopped for it), in seconds.
    pub longest_pause_secs: f64,
}

/// What `rebalance` saves.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RebalanceResults {
    /// When the run started.
    pub date: String,
    /// CPU.
    pub machine: String,
    /// `uptime` before and after.
    pub load_before: String,
    /// `uptime` after.
    pub load_after: String,
    /// Kafka version of the broker.
    pub kafka: String,
    /// Repeats per mode and client.
    pub repeats: usize,
    /// Every measured join.
    pub samples: Vec<Sample>,
    /// Runs that did not become stable, with why.
    pub failures: Vec<String>,
}

/// Where the figures are saved.
pub fn results_path() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("results/rebalance.json")
}

/// A member's ownership and deliveries, as the harness sees them.
#[derive(Debug)]
struct Log {
    owned: BTreeSet<i32>,
    /// When ownership last changed.
    changed: Instant,
    /// The first delivery since then.
    first_after_change: Option<Instant>,
    /// Deliveries' times since the mark (for the pause figure).
    deliveries: Vec<Instant>,
    /// Partitions given up since the mark.
    given_up: usize,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            owned: BTreeSet::new(),
            changed: Instant::now(),
            first_after_change: None,
            deliveries: Vec::new(),
            given_up: 0,
        }
    }
}

type Shared = Arc<Mutex<Log>>;

fn gain(log: &Shared, parts: impl IntoIterator<Item = i32>) {
    let mut l = log.lock().unwrap();
    l.owned.extend(parts);
    l.changed = Instant::now();
    l.first_after_change = None;
}

fn give_up(log: &Shared, parts: impl IntoIterator<Item = i32>) {
    let mut l = log.lock().unwrap();
    for p in parts {
        if l.owned.remove(&p) {
            l.given_up += 1;
        }
    }
    l.changed = Instant::now();
    l.first_after_change = None;
}

fn delivered(log: &Shared) {
    let now = Instant::now();
    let mut l = log.lock().unwrap();
    if l.first_after_change.is_none() {
        l.first_after_change = Some(now);
    }
    l.deliveries.push(now);
}

/// Starts counting given-up partitions and deliveries afresh.
fn mark(log: &Shared) {
    let mut l = log.lock().unwrap();
    l.given_up = 0;
    l.deliveries.clear();
}

/// When every member has its share and has been handed a record since its last
/// change: the latest of those first records.
fn stable_at(logs: &[Shared]) -> Option<Instant> {
    let share = PARTITIONS as usize / logs.len();
    let mut all = BTreeSet::new();
    let mut latest: Option<Instant> = None;
    for log in logs {
        let l = log.lock().unwrap();
        if l.owned.len() != share {
            return None;
        }
        all.extend(l.owned.iter().copied());
        let first = l.first_after_change?;
        latest = Some(latest.map_or(first, |x| x.max(first)));
    }
    (all.len() == PARTITIONS as usize)
        .then_some(latest)
        .flatten()
}

// ---------------------------------------------------------------------------------
// Members

struct Listener(Shared);

type Done = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

impl RebalanceListener for Listener {
    fn assigned(&self, _c: Consumer, parts: Vec<TopicPartition>) -> Done {
        gain(&self.0, parts.iter().map(|tp| tp.partition));
        Box::pin(async {})
    }
    fn revoked(&self, _c: Consumer, parts: Vec<TopicPartition>) -> Done {
        give_up(&self.0, parts.iter().map(|tp| tp.partition));
        Box::pin(async {})
    }
    fn lost(&self, _c: Consumer, parts: Vec<TopicPartition>) -> Done {
        give_up(&self.0, parts.iter().map(|tp| tp.partition));
        Box::pin(async {})
    }
}

/// librdkafka's rebalance callback, as rust-rdkafka runs it on the polling thread: its
/// default `rebalance` does the (incremental, for cooperative-sticky and the consumer
/// protocol) assign or unassign between these two hooks; they only keep the log.
struct RdContext(Shared);

impl ClientContext for RdContext {}

impl RdConsumerContext for RdContext {
    fn pre_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        // Revoked and lost partitions both arrive as a revoke.
        if let Rebalance::Revoke(tpl) = rebalance {
            give_up(&self.0, partitions(tpl));
        }
    }
    fn post_rebalance(&self, _c: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            gain(&self.0, partitions(tpl));
        }
    }
}

fn partitions(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

/// librdkafka's spelling of the members' settings.
fn rdkafka_config(mode: Mode, bootstrap: &str, group: &str) -> ClientConfig {
    let mut c = ClientConfig::new();
    c.set("bootstrap.servers", bootstrap)
        .set("client.id", "bench-rebalance-rdkafka")
        .set("group.id", group)
        .set("auto.offset.reset", "latest")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000")
        .set("fetch.wait.max.ms", "500");
    match mode {
        // Session, heartbeat and assignor are the broker's (librdkafka refuses the
        // classic settings with this protocol); `group.remote.assignor` unset lets the
        // broker pick its default, `uniform`, as for the other clients.
        Mode::Consumer => c.set("group.protocol", "consumer"),
        Mode::Eager | Mode::Cooperative => c
            .set("group.protocol", "classic")
            .set("session.timeout.ms", SESSION_MS.to_string())
            .set("heartbeat.interval.ms", HEARTBEAT_MS.to_string())
            .set(
                "partition.assignment.strategy",
                if mode == Mode::Eager {
                    "range"
                } else {
                    "cooperative-sticky"
                },
            ),
    };
    c
}

/// How long closing an rdkafka member (commit, leave) may take before it is left behind.
const RDKAFKA_CLOSE_BOUND: Duration = Duration::from_secs(30);

/// One group member: ours (a task in this process), Java (a child process) or
/// librdkafka (a handle in this process, polled on its own thread).
enum Member {
    Ours {
        consumer: Consumer,
        topic: String,
        stop: Arc<AtomicBool>,
        task: Option<tokio::task::JoinHandle<()>>,
        log: Shared,
    },
    Java {
        child: Child,
        stdin: ChildStdin,
        closed: Arc<AtomicBool>,
        log: Shared,
    },
    Rdkafka {
        /// Until `join` hands it to the polling thread.
        consumer: Option<BaseConsumer<RdContext>>,
        topic: String,
        stop: Arc<AtomicBool>,
        /// Set once the consumer is dropped (closed: committed and left).
        closed: Arc<AtomicBool>,
        thread: Option<std::thread::JoinHandle<()>>,
        log: Shared,
    },
}

impl Member {
    /// A member built but not subscribed yet.
    async fn new(
        who: Who,
        mode: Mode,
        bootstrap: &str,
        topic: &str,
        group: &str,
    ) -> Result<Member, BoxError> {
        let log: Shared = Arc::default();
        match who {
            Who::Ours => {
                let mut b = Consumer::builder()
                    .bootstrap_servers([bootstrap])
                    .group_id(group)
                    .auto_offset_reset(AutoOffsetReset::Latest)
                    .auto_commit_interval(Duration::from_millis(1000))
                    .fetch_max_wait(Duration::from_millis(500))
                    .rebalance_listener(Arc::new(Listener(log.clone())));
                b = match mode {
                    Mode::Consumer => b.group_protocol(GroupProtocol::Consumer),
                    Mode::Eager | Mode::Cooperative => b
                        .group_protocol(GroupProtocol::Classic)
                        .session_timeout(Duration::from_millis(SESSION_MS))
                        .heartbeat_interval(Duration::from_millis(HEARTBEAT_MS))
                        .assignment_strategies([if mode == Mode::Eager {
                            AssignmentStrategy::Range
                        } else {
                            AssignmentStrategy::CooperativeSticky
                        }]),
                };
                Ok(Member::Ours {
                    consumer: b.build()?,
                    topic: topic.to_string(),
                    stop: Arc::new(AtomicBool::new(false)),
                    task: None,
                    log,
                })
            }
            Who::Java => {
                let src = concat!(env!("CARGO_MANIFEST_DIR"), "/java/RebalanceMember.java");
                let mut child = Command::new(kafka_testbed::jars::java_binary()?)
                    .args(["-Xmx256M", "-XX:+UseG1GC", "-Dlog4j2.level=WARN", "-cp"])
                    .arg(kafka_testbed::jars::classpath_for(
                        crate::broker::KAFKA_VERSION,
                    )?)
                    .arg(src)
                    .args([bootstrap, topic, group, mode.arg()])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::inherit())
                    .spawn()?;
                let stdin = child.stdin.take().ok_or("no stdin")?;
                let stdout = child.stdout.take().ok_or("no stdout")?;
                let closed = Arc::new(AtomicBool::new(false));
                let ready = Arc::new(AtomicBool::new(false));
                let (l, c, r) = (log.clone(), closed.clone(), ready.clone());
                std::thread::spawn(move || {
                    for line in BufReader::new(stdout).lines() {
                        let Ok(line) = line else { break };
                        let mut f = line.split('\t');
                        let kind = f.next().unwrap_or("");
                        let parts = f
                            .next()
                            .unwrap_or("")
                            .split(',')
                            .filter_map(|p| p.parse::<i32>().ok());
                        match kind {
                            "READY" => r.store(true, Ordering::Relaxed),
                            "ASSIGNED" => gain(&l, parts),
                            "REVOKED" | "LOST" => give_up(&l, parts),
                            "REC" => delivered(&l),
                            "CLOSED" => c.store(true, Ordering::Relaxed),
                            _ => {}
                        }
                    }
                    c.store(true, Ordering::Relaxed);
                });
                wait_until("the Java member to start", Duration::from_secs(60), || {
                    ready.load(Ordering::Relaxed)
                })
                .await?;
                Ok(Member::Java {
                    child,
                    stdin,
                    closed,
                    log,
                })
            }
            Who::Rdkafka => {
                let consumer: BaseConsumer<RdContext> = rdkafka_config(mode, bootstrap, group)
                    .create_with_context(RdContext(log.clone()))?;
                Ok(Member::Rdkafka {
                    consumer: Some(consumer),
                    topic: topic.to_string(),
                    stop: Arc::new(AtomicBool::new(false)),
                    closed: Arc::new(AtomicBool::new(false)),
                    thread: None,
                    log,
                })
            }
        }
    }

    fn log(&self) -> &Shared {
        match self {
            Member::Ours { log, .. } | Member::Java { log, .. } | Member::Rdkafka { log, .. } => {
                log
            }
        }
    }

    /// Subscribes (and, for ours, starts polling).
    fn join(&mut self) -> Result<(), BoxError> {
        match self {
            Member::Ours {
                consumer,
                topic,
                stop,
                task,
                log,
            } => {
                consumer.subscribe([topic.clone()])?;
                let (c, s, l) = (consumer.clone(), stop.clone(), log.clone());
                *task = Some(tokio::spawn(async move {
                    while !s.load(Ordering::Relaxed) {
                        match c.poll(Duration::from_millis(200)).await {
                            Ok(batch) if !batch.records().is_empty() => delivered(&l),
                            Ok(_) => {}
                            Err(e) => {
                                eprintln!("rebalance: our member's poll: {e}");
                                tokio::time::sleep(Duration::from_millis(100)).await;
                            }
                        }
                    }
                }));
                Ok(())
            }
            Member::Java { stdin, .. } => {
                writeln!(stdin, "join")?;
                stdin.flush()?;
                Ok(())
            }
            Member::Rdkafka {
                consumer,
                topic,
                stop,
                closed,
                thread,
                log,
            } => {
                let c = consumer
                    .take()
                    .ok_or("the rdkafka member has joined already")?;
                c.subscribe(&[topic.as_str()])?;
                let (s, d, l) = (stop.clone(), closed.clone(), log.clone());
                *thread = Some(std::thread::spawn(move || {
                    // The rebalance callbacks run inside this poll.
                    while !s.load(Ordering::Relaxed) {
                        match c.poll(Duration::from_millis(200)) {
                            Some(Ok(_)) => delivered(&l),
                            Some(Err(e)) => {
                                eprintln!("rebalance: rdkafka member's poll: {e}");
                                std::thread::sleep(Duration::from_millis(100));
                            }
                            None => {}
                        }
                    }
                    // Dropping closes: revoke (callback), final commit, leave.
                    drop(c);
                    d.store(true, Ordering::Relaxed);
                }));
                Ok(())
            }
        }
    }

    /// Closes the member (commit, leave).
    async fn close(self) {
        match self {
            Member::Ours {
                consumer,
                stop,
                task,
                ..
            } => {
                stop.store(true, Ordering::Relaxed);
                if let Some(t) = task {
                    let _ = t.await;
                }
                if let Err(e) = consumer.close().await {
                    eprintln!("rebalance: closing our member: {e}");
                }
            }
            Member::Java {
                mut child,
                mut stdin,
                closed,
                ..
            } => {
                let _ = writeln!(stdin, "stop");
                let _ = stdin.flush();
                drop(stdin);
                let _ = wait_until("the Java member to close", Duration::from_secs(60), || {
                    closed.load(Ordering::Relaxed)
                })
                .await;
                let _ = child.kill();
                let _ = child.wait();
            }
            Member::Rdkafka {
                consumer,
                stop,
                closed,
                thread,
                ..
            } => {
                stop.store(true, Ordering::Relaxed);
                if let Some(c) = consumer {
                    // Never joined: nothing to leave, but closing still blocks a little.
                    let d = closed.clone();
                    std::thread::spawn(move || {
                        drop(c);
                        d.store(true, Ordering::Relaxed);
                    });
                }
                match wait_until("the rdkafka member to close", RDKAFKA_CLOSE_BOUND, || {
                    closed.load(Ordering::Relaxed)
                })
                .await
                {
                    Ok(()) => {
                        if let Some(t) = thread {
                            let _ = t.join();
                        }
                    }
                    // Left behind (its thread detached); the broker expires it.
                    Err(e) => eprintln!("rebalance: {e}"),
                }
            }
        }
    }
}

async fn wait_until(
    what: &str,
    bound: Duration,
    mut done: impl FnMut() -> bool,
) -> Result<(), BoxError> {
    let deadline = Instant::now() + bound;
    while !done() {
        if Instant::now() > deadline {
            return Err(format!("timed out after {bound:?} waiting for {what}").into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

async fn wait_stable(logs: &[Shared], what: &str) -> Result<Instant, BoxError> {
    let deadline = Instant::now() + STABLE_BOUND;
    loop {
        if let Some(at) = stable_at(logs) {
            return Ok(at);
        }
        if Instant::now() > deadline {
            let owned: Vec<usize> = logs.iter().map(|l| l.lock().unwrap().owned.len()).collect();
            return Err(format!(
                "{what}: not stable after {STABLE_BOUND:?} (partitions owned: {owned:?})"
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// One join of a 4th member to a stable group of 3.
async fn one_join(
    broker: &Broker,
    topic: &str,
    who: Who,
    mode: Mode,
    n: usize,
) -> Result<Sample, BoxError> {
    let group = format!(
        "bench-rebalance-{}-{:?}-{n}-{}",
        mode.arg(),
        who,
        std::process::id()
    );
    let mut members = Vec::new();
    for _ in 0..=MEMBERS {
        members.push(Member::new(who, mode, &broker.bootstrap, topic, &group).await?);
    }
    let result = async {
        for m in members.iter_mut().take(MEMBERS) {
            m.join()?;
        }
        let first: Vec<Shared> = members[..MEMBERS].iter().map(|m| m.log().clone()).collect();
        wait_stable(&first, "three members").await?;
        // Let a cooperative second round, commits and fetch sessions settle.
        tokio::time::sleep(Duration::from_secs(2)).await;
        for l in &first {
            mark(l);
        }
        let started = Instant::now();
        members[MEMBERS].join()?;
        let all: Vec<Shared> = members.iter().map(|m| m.log().clone()).collect();
        let at = wait_stable(&all, "four members").await?;
        let secs = at.saturating_duration_since(started).as_secs_f64();
        let mut revoked = 0;
        let mut pause = Duration::ZERO;
        for l in &first {
            let l = l.lock().unwrap();
            revoked += l.given_up;
            let mut last = started;
            for &d in l.deliveries.iter().filter(|&&d| d <= at) {
                pause = pause.max(d.saturating_duration_since(last));
                last = d;
            }
        }
        Ok::<_, BoxError>(Sample {
            mode,
            who,
            secs,
            revoked,
            longest_pause_secs: pause.as_secs_f64(),
        })
    }
    .await;
    for m in members {
        m.close().await;
    }
    result
}

/// Writes one record to every partition every 10 ms until `stop`.
fn spawn_producer(
    bootstrap: &str,
    topic: &str,
    stop: Arc<AtomicBool>,
) -> Result<tokio::task::JoinHandle<()>, BoxError> {
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap])
        .linger(Duration::from_millis(5))
        .build()?;
    let topic = topic.to_string();
    Ok(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        let mut i: u64 = 0;
        while !stop.load(Ordering::Relaxed) {
            tick.tick().await;
            for p in 0..PARTITIONS {
                let r = ProducerRecord::new(topic.as_str())
                    .with_partition(p)
                    .with_value(i.to_string());
                i += 1;
                if let Err(e) = producer.send(r).await {
                    eprintln!("rebalance: producer: {e}");
                }
            }
        }
        let _ = producer.close(Duration::from_secs(10)).await;
    }))
}

/// Runs the benchmark: `repeats` joins per mode and client, alternating.
pub fn run(repeats: usize) -> Result<RebalanceResults, BoxError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(async {
        let load_before = crate::run::uptime();
        eprintln!("load before: {load_before}");
        let date = crate::run::date();
        let broker = Broker::start_with(BROKER_GROUP_PROPERTIES).await?;
        let topic = format!("bench-rebalance-{}", std::process::id());
        broker.create_topic(&topic, PARTITIONS).await?;
        let stop = Arc::new(AtomicBool::new(false));
        let producer = spawn_producer(&broker.bootstrap, &topic, stop.clone())?;
        let mut samples = Vec::new();
        let mut failures = Vec::new();
        // One discarded warm-up join per client (JIT, connections, the topic's logs).
        for who in Who::ALL {
            if let Err(e) = one_join(&broker, &topic, who, Mode::Consumer, 0).await {
                eprintln!("rebalance: warm-up {who:?}: {e}");
            }
        }
        for n in 1..=repeats {
            for mode in Mode::ALL {
                for who in Who::ALL {
                    match one_join(&broker, &topic, who, mode, n).await {
                        Ok(s) => {
                            eprintln!(
                                "rebalance [{n}/{repeats}] {} {}: {:.3} s, {} revoked, longest pause {:.3} s",
                                mode.arg(),
                                who.label(),
                                s.secs,
                                s.revoked,
                                s.longest_pause_secs
                            );
                            samples.push(s);
                        }
                        Err(e) => {
                            eprintln!("rebalance [{n}/{repeats}] {} {}: {e}", mode.arg(), who.label());
                            failures.push(format!("{} {} (repeat {n}): {e}", mode.label(), who.label()));
                        }
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        let _ = producer.await;
        broker.delete_topics(&[topic]).await;
        let load_after = crate::run::uptime();
        Ok(RebalanceResults {
            date,
            machine: crate::run::machine(),
            load_before,
            load_after,
            kafka: crate::broker::KAFKA_VERSION.to_string(),
            repeats,
            samples,
            failures,
        })
    })
}

/// Median, min and max.
fn stats(mut xs: Vec<f64>) -> Option<(f64, f64, f64)> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    let median = if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    };
    Some((median, xs[0], xs[n - 1]))
}

/// The saved figures (`results_path()`), if the benchmark has been run.
pub fn load() -> Option<RebalanceResults> {
    let text = std::fs::read_to_string(results_path()).ok()?;
    serde_json::from_str(&text).ok()
}

/// The median time (seconds) of one protocol and client, if it has samples.
pub fn median_secs(r: &RebalanceResults, mode: Mode, who: Who) -> Option<f64> {
    stats(
        r.samples
            .iter()
            .filter(|s| s.mode == mode && s.who == who)
            .map(|s| s.secs)
            .collect(),
    )
    .map(|(median, _, _)| median)
}

/// The "Rebalance" section of `docs/benchmarks.md`, from the saved figures (none if
/// the benchmark has not been run).
pub fn section() -> Option<String> {
    let r = load()?;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n## Rebalance (a 4th member joins a group of 3, {PARTITIONS} partitions)\n"
    );
    let _ = writeln!(
        out,
        "Generated by `cargo run --release --manifest-path bench/Cargo.toml -- rebalance` \
         (raw figures: `bench/results/rebalance.json`) on {}: one Kafka {} node (the test bed's, \
         pinned to core 0, the benchmark's broker settings plus {}), {} repeat{} per protocol and \
         client after one discarded warm-up join each, kafka-rs, Java and rdkafka alternating (the \
         members are not pinned). Machine: {}; load before `{}`, after `{}` (shared with other builds).\n",
        r.date,
        r.kafka,
        BROKER_GROUP_PROPERTIES
            .iter()
            .map(|(k, v)| format!("`{k}={v}`"))
            .collect::<Vec<_>>()
            .join(", "),
        r.repeats,
        if r.repeats == 1 { "" } else { "s" },
        r.machine,
        r.load_before,
        r.load_after
    );
    let _ = writeln!(
        out,
        "Three members of one client (four kafka-rs `Consumer`s in the harness, four Java \
         `KafkaConsumer` 4.4 processes, `bench/java/RebalanceMember.java`, or four librdkafka \
         consumers, rust-rdkafka 0.39 `BaseConsumer`s on librdkafka 2.12.1) share a {PARTITIONS}-partition \
         topic that a producer writes one record per partition every 10 ms to; once they are \
         stable (16 partitions each, each consuming) and 2 s later, a 4th member of the same \
         client subscribes. **Time** runs from that `subscribe` until the group is stable again: \
         12 partitions each, disjoint and covering all {PARTITIONS}, and every member handed a \
         record since its last ownership change (the time of the latest such first record). \
         **Revoked**: partitions the three earlier members gave up meanwhile. **Pause**: the \
         longest time one of the three earlier members got no record between the join and \
         stability. Classic members: `heartbeat.interval.ms={HEARTBEAT_MS}`, \
         `session.timeout.ms={SESSION_MS}`, one assignor each; consumer-protocol members: the \
         broker's timing above and its default assignor; all: `auto.offset.reset=latest`, \
         auto-commit every 1 s, `fetch.max.wait.ms=500`. Median [min–max] seconds.\n"
    );
    let _ = writeln!(
        out,
        "Each Java member is its own JVM, started (and its `KafkaConsumer` constructed) before \
         the clock; the 4th member's first `subscribe` and `poll` still load and JIT-compile \
         the consumer's code, which on this loaded 2-core machine is part of Java's time \
         (hence its wide spread). Our members are tasks in the harness process. The rdkafka \
         members are librdkafka handles in the harness process, each with its own librdkafka \
         threads and polled on its own thread; the rebalance callback (rust-rdkafka's default: \
         `assign`/`unassign` for `range`, `incremental_assign`/`incremental_unassign` for \
         `cooperative-sticky` and the consumer protocol) runs inside that poll. Their \
         consumer-protocol members set `group.protocol=consumer` only (librdkafka takes no \
         session, heartbeat or assignor setting with it; `group.remote.assignor` unset, the \
         broker's default).\n"
    );
    let _ = writeln!(
        out,
        "| protocol | client | time s | revoked | pause s | client ÷ kafka-rs (time) |\n|---|---|---|---|---|---|"
    );
    // Figures saved before rdkafka was measured have no rows for it.
    let clients: Vec<Who> = Who::ALL
        .into_iter()
        .filter(|&who| {
            r.samples.iter().any(|s| s.who == who)
                || r.failures.iter().any(|f| f.contains(who.label()))
        })
        .collect();
    for mode in Mode::ALL {
        let ours = median_secs(&r, mode, Who::Ours);
        for &who in &clients {
            let s: Vec<&Sample> = r
                .samples
                .iter()
                .filter(|s| s.mode == mode && s.who == who)
                .collect();
            let fmt = |xs: Vec<f64>, digits: usize| -> String {
                stats(xs).map_or_else(
                    || "—".into(),
                    |(m, lo, hi)| format!("{m:.digits$} [{lo:.digits$}–{hi:.digits$}]"),
                )
            };
            // Java ÷ kafka-rs and rdkafka ÷ kafka-rs (median times).
            let ratio = match (who, ours, median_secs(&r, mode, who)) {
                (Who::Java | Who::Rdkafka, Some(a), Some(b)) if a > 0.0 => {
                    format!("{:.2}×", b / a)
                }
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                mode.label(),
                who.label(),
                fmt(s.iter().map(|x| x.secs).collect(), 2),
                fmt(s.iter().map(|x| x.revoked as f64).collect(), 0),
                fmt(s.iter().map(|x| x.longest_pause_secs).collect(), 2),
                ratio
            );
        }
    }
    if !r.failures.is_empty() {
        let _ = writeln!(out, "\nRuns that did not become stable:\n");
        for f in &r.failures {
            let _ = writeln!(out, "- {f}");
        }
    }
    Some(out)
}
