//! The fetch driver: one background task that keeps one Fetch in flight per broker
//! (on that broker's `Fetch` connection) for the fetchable partitions it leads, and runs
//! position lookups (committed offsets, resets). Each Fetch runs in its own spawned
//! task, which also splits the response into CRC-checked batches, so decoding spreads
//! over the runtime's threads; the driver only updates the shared state.
//!
//! Prefetch is bounded by bytes: a partition is fetched again only while its buffered
//! (not yet polled) bytes are under `max_partition_buffered_bytes`, and nothing is
//! fetched while the whole buffer holds more than `max_buffered_bytes`. With the
//! default (4 MiB, above one 1 MiB response) the next Fetch of a partition goes out as
//! soon as the previous response is buffered, so its round trip overlaps `poll`
//! draining that response instead of following it. A prefetched response carries the
//! partition's state epoch, unique in the process: a seek, reset or revocation renews
//! or drops the state and discards the buffered data, and a response that comes back
//! for another epoch is dropped (`on_fetch`), so positions neither skip nor repeat,
//! also when a revoked partition is assigned again while its old Fetch is out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_protocol::messages::{ApiKey, FetchRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::net::ConnectionKind;
use crate::records::{RecordBatch, RecordsError};

use super::builder::{AutoOffsetReset, IsolationLevel};
use super::coordinator::fetching_member;
use super::fetch_buffer::CompletedFetch;
use super::fetch_session::{FetchSession, Wanted};
use super::group::commit::fetch_committed;
use super::offsets::{Lookup, list_offsets};
use super::read_replica::{ReadReplica, fetch_target};
use super::record::PartitionError;
use super::state::Shared;
use super::subscription::{InitState, ResetTarget};
use crate::types::{OffsetAndMetadata, TopicPartition};

mod wire;

/// Each broker's fetch session, shared with the fetch task out on it (one at a time).
type Sessions = HashMap<i32, Arc<std::sync::Mutex<FetchSession>>>;

/// Backoff for a partition after a retriable fetch or lookup error.
const PARTITION_BACKOFF: Duration = Duration::from_millis(200);

/// A partition in a fetch request, with the state epoch it was sent under.
#[derive(Debug)]
struct Sent {
    tp: TopicPartition,
    /// The topic's name as the request carries it (shared: no copy per fetch).
    wire: TopicName,
    /// The topic's id from the metadata the fetch was planned with (nil when unknown:
    /// the request then names topics, v12 at most).
    topic_id: uuid::Uuid,
    epoch: u64,
    fetch_offset: i64,
    /// The partition's leader and leader epoch in the metadata the fetch was planned with.
    leader: i32,
    leader_epoch: i32,
    /// Sent to the partition's preferred read replica, not its leader (KIP-392).
    from_replica: bool,
}

/// Topic names as requests carry them, built once per topic by the fetch driver.
#[derive(Debug, Default)]
struct WireNames(HashMap<String, TopicName>);

impl WireNames {
    fn get(&mut self, topic: &str) -> TopicName {
        if let Some(n) = self.0.get(topic) {
            return n.clone();
        }
        // Bounded: a consumer that went through very many topics starts afresh.
        if self.0.len() >= 4096 {
            self.0.clear();
        }
        let n = TopicName(StrBytes::from_string(topic.to_owned()));
        self.0.insert(topic.to_owned(), n.clone());
        n
    }
}

/// One partition's answer, decoded in the fetch task.
#[derive(Debug)]
struct PartData {
    error: Option<ErrorCode>,
    high_watermark: i64,
    last_stable_offset: i64,
    log_start_offset: i64,
    aborted: Vec<(i64, i64)>,
    batches: Vec<RecordBatch>,
    decode_error: Option<RecordsError>,
    /// Bytes were returned but not one complete batch.
    truncated_only: bool,
    bytes: usize,
    /// The error came with a leader hint (KIP-951) that moved the partition in the
    /// cached metadata: fetch from the new leader at once, no Metadata request.
    leader_moved: bool,
    /// The replica the leader says to read from (KIP-392), -1 for none.
    preferred_read_replica: i32,
}

enum Outcome {
    Fetch {
        broker: i32,
        sent: Vec<Sent>,
        /// Each partition's answer, at its index in `sent`.
        result: Result<Vec<Option<PartData>>>,
    },
    Committed {
        sent: Vec<Sent>,
        result: Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>>,
    },
    Reset {
        sent: Vec<Sent>,
        result: BTreeMap<TopicPartition, Lookup>,
    },
    Refreshed,
}

/// Runs until the consumer closes.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut d = Driver::new(shared);
    while let Some(wake) = d.turn(Instant::now()) {
        tokio::select! {
            Some(done) = d.tasks.next() => {
                if let Ok(outcome) = done {
                    d.on_outcome(outcome, Instant::now());
                }
            }
            () = d.shared.fetch_wake.notified() => {}
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// The driver's state between turns: the fetch and lookup tasks out, the brokers with a
/// fetch out or backing off, whether a metadata refresh is out, the topics' wire names
/// and each broker's fetch session.
struct Driver {
    shared: Arc<Shared>,
    tasks: FuturesUnordered<JoinHandle<Outcome>>,
    busy: HashSet<i32>,
    broker_backoff: HashMap<i32, (Instant, u32)>,
    refreshing: bool,
    names: WireNames,
    sessions: Sessions,
}

impl Driver {
    fn new(shared: Arc<Shared>) -> Self {
        Driver {
            shared,
            tasks: FuturesUnordered::new(),
            busy: HashSet::new(),
            broker_backoff: HashMap::new(),
            refreshing: false,
            names: WireNames::default(),
            sessions: Sessions::new(),
        }
    }

    /// One turn at `now`: `None` once the consumer is closed (the tasks out are
    /// aborted); otherwise starts the lookups and fetches that are due, and a metadata
    /// refresh when a fetchable partition has no known leader (one refresh out at a
    /// time), and says when to look again if no task finishes first.
    fn turn(&mut self, now: Instant) -> Option<Instant> {
        if self.shared.lock().is_closed() {
            for t in &self.tasks {
                t.abort();
            }
            return None;
        }
        start_lookups(&self.shared, &mut self.tasks, &mut self.names, now);
        let missing_leader = start_fetches(
            &self.shared,
            &mut self.tasks,
            &mut self.busy,
            &self.broker_backoff,
            &mut self.names,
            &mut self.sessions,
            now,
        );
        if missing_leader && !self.refreshing {
            self.refreshing = true;
            let s = self.shared.clone();
            self.tasks.push(tokio::spawn(async move {
                let _ = s.client.metadata().await;
                // Fetch with the new leaders at once; the backoff only spaces refreshes
                // (it used to delay the first Fetch of every new consumer, and every
                // fetch after a leader change, by 200 ms).
                s.fetch_wake.notify_one();
                tokio::time::sleep(PARTITION_BACKOFF).await;
                Outcome::Refreshed
            }));
        }
        Some(next_timer(&self.shared, &self.broker_backoff).unwrap_or(now + Duration::from_secs(1)))
    }

    /// Takes a finished task's outcome at `now`: a fetch frees its broker (and backs it
    /// off when it failed) and its answer goes to the partitions; lookups position
    /// their partitions; a refresh lets the next one start.
    fn on_outcome(&mut self, outcome: Outcome, now: Instant) {
        match outcome {
            Outcome::Fetch {
                broker,
                sent,
                result,
            } => {
                self.busy.remove(&broker);
                broker_done(
                    &self.shared,
                    &mut self.broker_backoff,
                    broker,
                    result.is_ok(),
                    now,
                );
                on_fetch(&self.shared, sent, result);
            }
            Outcome::Committed { sent, result } => on_committed(&self.shared, sent, result),
            Outcome::Reset { sent, result } => on_reset(&self.shared, sent, result),
            Outcome::Refreshed => self.refreshing = false,
        }
    }
}

/// Records how a Fetch to `broker` ended at `now`: an answer lifts the broker's backoff;
/// a failure backs it off (its partitions wait, others go on), longer after each failure
/// in a row.
fn broker_done(
    shared: &Shared,
    backoff: &mut HashMap<i32, (Instant, u32)>,
    broker: i32,
    answered: bool,
    now: Instant,
) {
    if answered {
        backoff.remove(&broker);
        return;
    }
    let e = backoff.entry(broker).or_insert((now, 0));
    e.1 = e.1.saturating_add(1);
    e.0 = now + shared.client.retry_backoff(e.1 - 1);
}

fn next_timer(shared: &Shared, brokers: &HashMap<i32, (Instant, u32)>) -> Option<Instant> {
    let st = shared.lock();
    st.partitions()
        .values()
        .filter_map(|p| p.backoff_until)
        .chain(brokers.values().map(|(t, _)| *t))
        .filter(|t| *t > Instant::now())
        .min()
}

fn start_lookups(
    shared: &Arc<Shared>,
    tasks: &mut FuturesUnordered<JoinHandle<Outcome>>,
    names: &mut WireNames,
    now: Instant,
) {
    let mut committed = Vec::new();
    let mut resets = Vec::new();
    {
        let mut st = shared.lock();
        for (tp, p) in st.partitions_mut() {
            if !p.needs_lookup(now) {
                continue;
            }
            let sent = Sent {
                tp: tp.clone(),
                wire: names.get(&tp.topic),
                topic_id: uuid::Uuid::nil(),
                epoch: p.epoch,
                fetch_offset: -1,
                leader: -1,
                leader_epoch: -1,
                from_replica: false,
            };
            match p.init {
                InitState::Committed => committed.push(sent),
                InitState::Reset(target) => resets.push((sent, target)),
                _ => continue,
            }
            p.lookup_in_flight = true;
        }
    }
    if !committed.is_empty() {
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            let tps: Vec<TopicPartition> = committed.iter().map(|x| x.tp.clone()).collect();
            let result = match s.coordinator.link() {
                Some(link) => {
                    let who = fetching_member(&s.lock(), &s.config);
                    fetch_committed(link, who.as_ref(), &tps).await
                }
                None => Ok(tps.into_iter().map(|tp| (tp, None)).collect()),
            };
            Outcome::Committed {
                sent: committed,
                result,
            }
        }));
    }
    if !resets.is_empty() {
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            let queries: Vec<(TopicPartition, i64)> = resets
                .iter()
                .map(|(x, t)| (x.tp.clone(), t.timestamp()))
                .collect();
            let result = list_offsets(&s.client, s.config.isolation_level, &queries).await;
            Outcome::Reset {
                sent: resets.into_iter().map(|(x, _)| x).collect(),
                result,
            }
        }));
    }
}

/// Starts a fetch for every idle broker that leads a fetchable partition. Returns
/// whether some fetchable partition has no known leader.
fn start_fetches(
    shared: &Arc<Shared>,
    tasks: &mut FuturesUnordered<JoinHandle<Outcome>>,
    busy: &mut HashSet<i32>,
    backoff: &HashMap<i32, (Instant, u32)>,
    names: &mut WireNames,
    sessions: &mut Sessions,
    now: Instant,
) -> bool {
    let cfg = &shared.config;
    let meta = shared.client.cached_metadata();
    // By leader: whether some partition has data to fetch, and the partitions to fetch
    // (a few leaders: a vector, searched, allocates less than a map per round).
    let mut plan: Vec<(i32, bool, Vec<Sent>)> = Vec::new();
    let mut missing_leader = false;
    let mut recreated = false;
    {
        let mut st = shared.lock();
        if st.buffered_bytes() >= cfg.max_buffered_bytes {
            return false;
        }
        let ahead = cfg.max_partition_buffered_bytes;
        // Errors of re-created topics, for the application's next poll.
        let mut errors = Vec::new();
        for (tp, p) in st.partitions_mut() {
            if !p.fetchable(now, ahead) {
                continue;
            }
            let topic = meta.topic(&tp.topic);
            let topic_id = topic.map(|t| t.id).unwrap_or_default();
            if !topic_id.is_nil() {
                match p.topic_id {
                    Some(old) if old != topic_id => {
                        on_topic_recreated(shared, &mut errors, tp, p, old, topic_id);
                        recreated = true;
                        continue;
                    }
                    Some(_) => {}
                    None => p.topic_id = Some(topic_id),
                }
            }
            let Some((leader, leader_epoch)) = topic
                .and_then(|t| t.partition(tp.partition))
                .and_then(|i| Some((i.leader?, i.leader_epoch)))
            else {
                missing_leader = true;
                continue;
            };
            let backing_off = |n: i32| backoff.get(&n).is_some_and(|(t, _)| *t > now);
            // The leader, or the replica it named for this consumer's rack (KIP-392).
            let Some(target) = fetch_target(
                &mut p.read_replica,
                leader,
                leader_epoch,
                now,
                |n| meta.brokers.contains_key(&n),
                |n| !backing_off(n),
            ) else {
                continue; // its read replica backs off
            };
            if busy.contains(&target) || backing_off(target) {
                continue;
            }
            let end = match cfg.isolation_level {
                IsolationLevel::ReadCommitted => p.last_stable_offset,
                IsolationLevel::ReadUncommitted => p.high_watermark,
            };
            let at = match plan.iter().position(|(l, ..)| *l == target) {
                Some(at) => at,
                None => {
                    plan.push((target, false, Vec::new()));
                    plan.len() - 1
                }
            };
            let entry = &mut plan[at];
            entry.1 |= end < 0 || p.fetch_offset < end;
            entry.2.push(Sent {
                tp: tp.clone(),
                wire: names.get(&tp.topic),
                topic_id,
                epoch: p.epoch,
                fetch_offset: p.fetch_offset,
                leader,
                leader_epoch,
                from_replica: target != leader,
            });
        }
        // A fetch of partitions that are all caught up long-polls for `fetch.max.wait`,
        // and holds the broker's one fetch slot meanwhile. While other partitions of
        // that broker are only waiting for `poll` to drain their buffered data, wait
        // for them instead (the drain wakes this task) so they are not held back.
        // (Looked up only for leaders with nothing to fetch: no set built per round.)
        plan.retain(|(node, has_data, _)| {
            *has_data
                || !st.partitions().iter().any(|(tp, p)| {
                    p.init == InitState::Ready
                        && p.deliverable()
                        && !p.fetch_in_flight
                        && p.buffered_bytes >= ahead
                        && p.read_replica.map(|r| r.node).or_else(|| {
                            meta.topic(&tp.topic)
                                .and_then(|t| t.partition(tp.partition))
                                .and_then(|i| i.leader)
                        }) == Some(*node)
                })
        });
        for e in errors {
            st.push_error(e);
        }
        for (_, _, sent) in &plan {
            for s in sent {
                if let Some(p) = st.partition_mut(&s.tp) {
                    p.fetch_in_flight = true;
                }
            }
        }
    }
    if recreated {
        shared.wake_all();
    }
    for (broker, _, sent) in plan {
        busy.insert(broker);
        let s = shared.clone();
        let session = sessions.entry(broker).or_default().clone();
        tasks.push(tokio::spawn(async move {
            let result = fetch(&s, broker, &sent, &session).await;
            Outcome::Fetch {
                broker,
                sent,
                result,
            }
        }));
    }
    missing_leader
}

/// One Fetch request and its decoding: v13+ names topics by id (KIP-516) when every
/// topic's id is known, else v4-12 by name. From v11 it carries `client.rack` as
/// `rack_id`, and the answer may name a preferred read replica (KIP-392).
///
/// With Fetch v7+ the request belongs to the broker's fetch session (KIP-227,
/// `fetch_session.rs`): it carries only the partitions of `sent` that are new to the
/// session or moved, and forgets those the session holds that `sent` lacks; the answer
/// may name any partition of `sent`. The request's form and the reading of its answer
/// are in `fetcher/wire.rs`.
async fn fetch(
    shared: &Shared,
    broker: i32,
    sent: &[Sent],
    session: &std::sync::Mutex<FetchSession>,
) -> Result<Vec<Option<PartData>>> {
    let cfg = &shared.config;
    let conn = shared
        .client
        .connection(broker, ConnectionKind::Fetch)
        .await?;
    let version = conn.negotiate::<FetchRequest>(wire::versions(sent))?;
    let by_id = wire::names_topics_by_id(version);
    let plan = {
        let wanted: Vec<Wanted<'_>> = sent
            .iter()
            .map(|s| Wanted {
                tp: &s.tp,
                topic_id: s.topic_id,
                fetch_offset: s.fetch_offset,
            })
            .collect();
        lock(session).build(&wanted, wire::uses_sessions(version, cfg), by_id)
    };
    let req = wire::fetch_request(cfg, sent, &plan, by_id);
    let started = Instant::now();
    let resp = conn.request_at(&req, version, wire::timeout(shared)).await;
    let telemetry = shared.client.telemetry();
    telemetry.fetch_done(broker, started.elapsed());
    let reset = wire::settle(&mut lock(session), wire::session_outcome(&resp));
    telemetry.fetch_session(plan.full, reset);
    wire::read_answer(shared, broker, conn.address(), sent, resp?, by_id)
}

fn lock(session: &std::sync::Mutex<FetchSession>) -> std::sync::MutexGuard<'_, FetchSession> {
    session.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where `topic`-`partition` is in `sent` (sorted, as the assignment it was planned
/// from is).
fn sent_index(sent: &[Sent], topic: &str, partition: i32) -> Option<usize> {
    sent.binary_search_by(|s| (s.tp.topic.as_str(), s.tp.partition).cmp(&(topic, partition)))
        .ok()
        .or_else(|| {
            sent.iter()
                .position(|s| s.tp.topic == topic && s.tp.partition == partition)
        })
}

fn partition_error(tp: &TopicPartition, error: Error) -> PartitionError {
    PartitionError {
        topic_partition: tp.clone(),
        error,
    }
}

/// The partition's topic was deleted and re-created under the same name (its id in
/// the metadata is not the one its position belongs to): the old position means
/// nothing in the new topic, so it is never used there. The partition starts again by
/// `auto.offset.reset`; with `none` it stops with INCONSISTENT_TOPIC_ID naming both ids.
fn on_topic_recreated(
    shared: &Shared,
    errors: &mut Vec<PartitionError>,
    tp: &TopicPartition,
    p: &mut super::subscription::PartitionState,
    old: uuid::Uuid,
    new: uuid::Uuid,
) {
    tracing::warn!(partition = %tp, %old, %new, position = p.position,
        "topic was deleted and re-created: its position is dropped, auto.offset.reset applies");
    let error = Error::broker(
        ErrorCode::INCONSISTENT_TOPIC_ID,
        ErrorContext::default()
            .with_api(ApiKey::Fetch)
            .with_resource(tp.topic.clone())
            .with_partition(tp.partition),
        Some(format!(
            "topic {} was deleted and re-created (id {old} is now {new}); position {} \
                 belonged to the old topic",
            tp.topic, p.position
        )),
    );
    if let Some(e) = reset_by_policy(shared.config.auto_offset_reset, p, error) {
        errors.push(partition_error(tp, e));
    }
    // The new incarnation's id is bound at the next fetch after the position lookup.
    p.topic_id = None;
}

/// Starts `p` again by `auto.offset.reset`; with `none` it stops, and `error` is for
/// the application.
fn reset_by_policy(
    policy: AutoOffsetReset,
    p: &mut super::subscription::PartitionState,
    error: Error,
) -> Option<Error> {
    match policy {
        AutoOffsetReset::Earliest => p.reset(InitState::Reset(ResetTarget::Earliest)),
        AutoOffsetReset::Latest => p.reset(InitState::Reset(ResetTarget::Latest)),
        AutoOffsetReset::None => {
            // Data buffered before the error is good and is still delivered.
            p.init = InitState::Failed;
            return Some(error);
        }
    }
    None
}

fn on_fetch(shared: &Shared, sent: Vec<Sent>, result: Result<Vec<Option<PartData>>>) {
    let mut notify = false;
    let mut st = shared.lock();
    let data = match result {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!(error = %e, "fetch failed");
            for s in &sent {
                if let Some(p) = st.partition_mut(&s.tp) {
                    p.fetch_in_flight = false;
                    if s.from_replica {
                        // The replica failed: back to the leader (KIP-392).
                        p.read_replica = None;
                    }
                }
                if e.is_stale_metadata() || e.is_retriable() {
                    shared.client.invalidate_topic(&s.tp.topic);
                }
            }
            return;
        }
    };
    let now = Instant::now();
    for (s, d) in sent.into_iter().zip(data) {
        let Some(p) = st.partition_mut(&s.tp) else {
            continue;
        };
        p.fetch_in_flight = false;
        if p.epoch != s.epoch {
            continue;
        }
        let Some(d) = d else {
            continue;
        };
        if let (true, Some(code)) = (s.from_replica, d.error) {
            // A replica's error sends the partition back to its leader (KIP-392); a
            // lagging follower's OFFSET_OUT_OF_RANGE is no reason to reset, nor is a
            // retriable error a reason for a Metadata request.
            p.read_replica = None;
            tracing::debug!(partition = %s.tp, error = %code, "read replica failed: back to the leader");
            if code == ErrorCode::OFFSET_OUT_OF_RANGE || code.is_retriable() {
                continue;
            }
        }
        if d.error.is_none() {
            p.read_replica = ReadReplica::named(
                d.preferred_read_replica,
                s.leader,
                s.leader_epoch,
                now,
                shared.client.config().metadata_max_age,
            )
            .or(if s.from_replica { p.read_replica } else { None });
        }
        match d.error {
            None => {
                p.high_watermark = d.high_watermark;
                p.last_stable_offset = d.last_stable_offset;
                p.log_start_offset = d.log_start_offset;
                shared
                    .client
                    .telemetry()
                    .lag(&s.tp, super::stats::lag(&shared.config, p));
                if d.truncated_only {
                    p.init = InitState::Failed;
                    st.push_error(partition_error(
                        &s.tp,
                        Error::TooLarge {
                            what: format!(
                                "the record batch at offset {} of {}",
                                s.fetch_offset, s.tp
                            ),
                            size: d.bytes,
                            limit: shared.config.max_partition_fetch_bytes as usize,
                        },
                    ));
                    notify = true;
                    continue;
                }
                if d.batches.is_empty() && d.decode_error.is_none() {
                    continue;
                }
                if let Some(last) = d.batches.last() {
                    p.fetch_offset = p.fetch_offset.max(last.next_offset());
                }
                if d.decode_error.is_some() {
                    // Stop fetching: the error reaches the application after the good batches.
                    p.init = InitState::Failed;
                }
                let fetch = CompletedFetch::new(
                    s.tp,
                    p.topic.clone(),
                    s.epoch,
                    d.batches,
                    d.aborted,
                    d.decode_error.map(Error::from),
                    d.bytes,
                );
                st.push_fetched(fetch);
                notify = true;
            }
            Some(ErrorCode::OFFSET_OUT_OF_RANGE) => {
                if s.fetch_offset != p.fetch_offset {
                    continue;
                }
                let error = Error::OffsetOutOfRange {
                    topic: s.tp.topic.clone(),
                    partition: s.tp.partition,
                    offset: s.fetch_offset,
                };
                if let Some(e) = reset_by_policy(shared.config.auto_offset_reset, p, error) {
                    st.push_error(partition_error(&s.tp, e));
                    notify = true;
                }
                tracing::info!(partition = %s.tp, offset = s.fetch_offset, "fetch offset out of range");
            }
            Some(code) => {
                let e = Error::broker(
                    code,
                    ErrorContext::default()
                        .with_api(ApiKey::Fetch)
                        .with_resource(s.tp.topic.clone())
                        .with_partition(s.tp.partition),
                    None,
                );
                if d.leader_moved {
                    tracing::debug!(partition = %s.tp, error = %code, "leader hint: fetching from the new leader");
                } else if code == ErrorCode::UNKNOWN_SERVER_ERROR {
                    // As the Java client: a broker's unexpected failure on one partition
                    // (seen while a broker restarts) is logged and fetched again after
                    // the backoff, not the end of the partition.
                    tracing::warn!(partition = %s.tp, offset = s.fetch_offset, "unknown server error while fetching: retrying");
                    p.backoff_until = Some(now + PARTITION_BACKOFF);
                } else if e.is_stale_metadata() || code.is_retriable() {
                    shared.client.invalidate_topic(&s.tp.topic);
                    p.backoff_until = Some(now + PARTITION_BACKOFF);
                } else {
                    p.init = InitState::Failed;
                    st.push_error(partition_error(&s.tp, e));
                    notify = true;
                }
            }
        }
    }
    drop(st);
    if notify {
        shared.data_ready.notify_waiters();
    }
}

fn on_committed(
    shared: &Shared,
    sent: Vec<Sent>,
    result: Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>>,
) {
    let mut st = shared.lock();
    let mut notify = false;
    for s in sent {
        let Some(p) = st.partition_mut(&s.tp) else {
            continue;
        };
        p.lookup_in_flight = false;
        if p.epoch != s.epoch || p.init != InitState::Committed {
            continue;
        }
        match &result {
            Err(e) => {
                tracing::debug!(error = %e, "committed offsets lookup failed");
                p.backoff_until = Some(Instant::now() + PARTITION_BACKOFF);
            }
            Ok(map) => match map.get(&s.tp).cloned().flatten() {
                Some(om) => {
                    p.seek(om.offset);
                    p.leader_epoch = om.leader_epoch;
                }
                None => match shared.config.auto_offset_reset {
                    AutoOffsetReset::Earliest => p.reset(InitState::Reset(ResetTarget::Earliest)),
                    AutoOffsetReset::Latest => p.reset(InitState::Reset(ResetTarget::Latest)),
                    AutoOffsetReset::None => {
                        p.init = InitState::Failed;
                        st.push_error(partition_error(
                            &s.tp,
                            Error::NoOffsetForPartition {
                                topic: s.tp.topic.clone(),
                                partition: s.tp.partition,
                            },
                        ));
                        notify = true;
                    }
                },
            },
        }
    }
    drop(st);
    if notify {
        shared.data_ready.notify_waiters();
    }
    shared.wake_all();
}

fn on_reset(shared: &Shared, sent: Vec<Sent>, mut result: BTreeMap<TopicPartition, Lookup>) {
    let mut st = shared.lock();
    for s in sent {
        let Some(p) = st.partition_mut(&s.tp) else {
            continue;
        };
        p.lookup_in_flight = false;
        if p.epoch != s.epoch || !matches!(p.init, InitState::Reset(_)) {
            continue;
        }
        match result.remove(&s.tp) {
            Some(Ok(Some(o))) => {
                p.seek(o.offset);
            }
            Some(Err(e)) if !e.is_retriable() && !matches!(e, Error::Deadline { .. }) => {
                p.init = InitState::Failed;
                st.push_error(partition_error(&s.tp, e));
            }
            other => {
                tracing::debug!(partition = %s.tp, ?other, "offset reset lookup will be retried");
                p.backoff_until = Some(Instant::now() + PARTITION_BACKOFF);
            }
        }
    }
    drop(st);
    shared.wake_all();
}

#[cfg(test)]
#[path = "unit_tests/fetcher_driver.rs"]
mod driver_tests;
