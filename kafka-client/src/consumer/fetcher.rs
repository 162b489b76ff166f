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
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, TopicName};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::net::ConnectionKind;
use crate::records::{DecodeLimits, RecordBatch, RecordsError, decode_batches};

use super::builder::{AutoOffsetReset, IsolationLevel};
use super::fetch_buffer::CompletedFetch;
use super::group::commit::fetch_committed;
use super::offsets::{Lookup, list_offsets};
use super::record::PartitionError;
use super::state::Shared;
use super::subscription::{InitState, ResetTarget};
use crate::types::{OffsetAndMetadata, TopicPartition};

/// Backoff for a partition after a retriable fetch or lookup error.
const PARTITION_BACKOFF: Duration = Duration::from_millis(200);

/// A partition in a fetch request, with the state epoch it was sent under.
#[derive(Debug)]
struct Sent {
    tp: TopicPartition,
    /// The topic's name as the request carries it (shared: no copy per fetch).
    wire: TopicName,
    epoch: u64,
    fetch_offset: i64,
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
    let mut tasks: FuturesUnordered<JoinHandle<Outcome>> = FuturesUnordered::new();
    let mut busy: HashSet<i32> = HashSet::new();
    let mut broker_backoff: HashMap<i32, (Instant, u32)> = HashMap::new();
    let mut refreshing = false;
    let mut names = WireNames::default();
    loop {
        if shared.lock().closed {
            for t in &tasks {
                t.abort();
            }
            return;
        }
        let now = Instant::now();
        start_lookups(&shared, &mut tasks, &mut names, now);
        let missing_leader = start_fetches(
            &shared,
            &mut tasks,
            &mut busy,
            &broker_backoff,
            &mut names,
            now,
        );
        if missing_leader && !refreshing {
            refreshing = true;
            let s = shared.clone();
            tasks.push(tokio::spawn(async move {
                let _ = s.client.metadata().await;
                // Fetch with the new leaders at once; the backoff only spaces refreshes
                // (it used to delay the first Fetch of every new consumer, and every
                // fetch after a leader change, by 200 ms).
                s.fetch_wake.notify_one();
                tokio::time::sleep(PARTITION_BACKOFF).await;
                Outcome::Refreshed
            }));
        }
        let wake = next_timer(&shared, &broker_backoff).unwrap_or(now + Duration::from_secs(1));
        tokio::select! {
            Some(done) = tasks.next() => {
                let Ok(outcome) = done else { continue };
                match outcome {
                    Outcome::Fetch { broker, sent, result } => {
                        busy.remove(&broker);
                        match &result {
                            Ok(_) => { broker_backoff.remove(&broker); }
                            Err(_) => {
                                let e = broker_backoff.entry(broker).or_insert((now, 0));
                                e.1 = e.1.saturating_add(1);
                                e.0 = Instant::now() + shared.client.retry_backoff(e.1 - 1);
                            }
                        }
                        on_fetch(&shared, sent, result);
                    }
                    Outcome::Committed { sent, result } => on_committed(&shared, sent, result),
                    Outcome::Reset { sent, result } => on_reset(&shared, sent, result),
                    Outcome::Refreshed => refreshing = false,
                }
            }
            () = shared.fetch_wake.notified() => {}
            () = tokio::time::sleep_until(wake) => {}
        }
    }
}

fn next_timer(shared: &Shared, brokers: &HashMap<i32, (Instant, u32)>) -> Option<Instant> {
    let st = shared.lock();
    st.partitions
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
        for (tp, p) in st.partitions.iter_mut() {
            if !p.needs_lookup(now) {
                continue;
            }
            let sent = Sent {
                tp: tp.clone(),
                wire: names.get(&tp.topic),
                epoch: p.epoch,
                fetch_offset: -1,
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
                Some(link) => fetch_committed(link, &tps).await,
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
    now: Instant,
) -> bool {
    let cfg = &shared.config;
    let meta = shared.client.cached_metadata();
    // By leader: whether some partition has data to fetch, and the partitions to fetch
    // (a few leaders: a vector, searched, allocates less than a map per round).
    let mut plan: Vec<(i32, bool, Vec<Sent>)> = Vec::new();
    let mut missing_leader = false;
    {
        let mut st = shared.lock();
        if st.buffer.bytes() >= cfg.max_buffered_bytes {
            return false;
        }
        let ahead = cfg.max_partition_buffered_bytes;
        for (tp, p) in st.partitions.iter_mut() {
            if !p.fetchable(now, ahead) {
                continue;
            }
            let leader = meta
                .topic(&tp.topic)
                .and_then(|t| t.partition(tp.partition))
                .and_then(|i| i.leader);
            let Some(leader) = leader else {
                missing_leader = true;
                continue;
            };
            if busy.contains(&leader) || backoff.get(&leader).is_some_and(|(t, _)| *t > now) {
                continue;
            }
            let end = match cfg.isolation_level {
                IsolationLevel::ReadCommitted => p.last_stable_offset,
                IsolationLevel::ReadUncommitted => p.high_watermark,
            };
            let at = match plan.iter().position(|(l, ..)| *l == leader) {
                Some(at) => at,
                None => {
                    plan.push((leader, false, Vec::new()));
                    plan.len() - 1
                }
            };
            let entry = &mut plan[at];
            entry.1 |= end < 0 || p.fetch_offset < end;
            entry.2.push(Sent {
                tp: tp.clone(),
                wire: names.get(&tp.topic),
                epoch: p.epoch,
                fetch_offset: p.fetch_offset,
            });
        }
        // A fetch of partitions that are all caught up long-polls for `fetch.max.wait`,
        // and holds the broker's one fetch slot meanwhile. While other partitions of
        // that broker are only waiting for `poll` to drain their buffered data, wait
        // for them instead (the drain wakes this task) so they are not held back.
        // (Looked up only for leaders with nothing to fetch: no set built per round.)
        plan.retain(|(leader, has_data, _)| {
            *has_data
                || !st.partitions.iter().any(|(tp, p)| {
                    p.init == InitState::Ready
                        && p.deliverable()
                        && !p.fetch_in_flight
                        && p.buffered_bytes >= ahead
                        && meta
                            .topic(&tp.topic)
                            .and_then(|t| t.partition(tp.partition))
                            .and_then(|i| i.leader)
                            == Some(*leader)
                })
        });
        for (_, _, sent) in &plan {
            for s in sent {
                if let Some(p) = st.partitions.get_mut(&s.tp) {
                    p.fetch_in_flight = true;
                }
            }
        }
    }
    for (broker, _, sent) in plan {
        busy.insert(broker);
        let s = shared.clone();
        tasks.push(tokio::spawn(async move {
            let result = fetch(&s, broker, &sent).await;
            Outcome::Fetch {
                broker,
                sent,
                result,
            }
        }));
    }
    missing_leader
}

/// One Fetch request (sessionless, v4-12: topics by name) and its decoding.
async fn fetch(shared: &Shared, broker: i32, sent: &[Sent]) -> Result<Vec<Option<PartData>>> {
    let cfg = &shared.config;
    let conn = shared
        .client
        .connection(broker, ConnectionKind::Fetch)
        .await?;
    let version = conn.negotiate::<FetchRequest>(VersionRange { min: 4, max: 12 })?;
    // `sent` is sorted by topic (planned from the sorted assignment): one pass groups it,
    // each topic's partition vector sized once.
    let mut topics: Vec<FetchTopic> = Vec::with_capacity(1);
    let mut rest = sent;
    while let Some(first) = rest.first() {
        let topic = first.tp.topic.as_str();
        let n = rest.iter().take_while(|s| s.tp.topic == topic).count();
        let (group, tail) = rest.split_at(n);
        rest = tail;
        let partitions = group
            .iter()
            .map(|s| {
                FetchPartition::default()
                    .with_partition(s.tp.partition)
                    .with_current_leader_epoch(-1)
                    .with_fetch_offset(s.fetch_offset)
                    .with_last_fetched_epoch(-1)
                    .with_log_start_offset(-1)
                    .with_partition_max_bytes(cfg.max_partition_fetch_bytes)
            })
            .collect();
        topics.push(
            FetchTopic::default()
                .with_topic(first.wire.clone())
                .with_partitions(partitions),
        );
    }
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(cfg.fetch_max_wait.as_millis() as i32)
        .with_min_bytes(cfg.fetch_min_bytes)
        .with_max_bytes(cfg.fetch_max_bytes)
        .with_isolation_level(cfg.isolation_level.wire())
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(topics);
    let timeout = shared.client.config().request_timeout() + cfg.fetch_max_wait;
    let started = Instant::now();
    let resp = conn.request_at(&req, version, timeout).await;
    let telemetry = shared.client.telemetry();
    telemetry.fetch_done(broker, started.elapsed());
    let resp = resp?;
    if let Some(code) = ErrorCode::from_code(resp.error_code) {
        return Err(Error::broker(
            code,
            ErrorContext::broker(Some(broker), conn.address()).with_api(ApiKey::Fetch),
            None,
        ));
    }
    let limits = DecodeLimits {
        verify_crc: cfg.check_crcs,
        ..DecodeLimits::default()
    };
    let mut out: Vec<Option<PartData>> = Vec::with_capacity(sent.len());
    out.resize_with(sent.len(), || None);
    for t in resp.responses {
        for p in t.partitions {
            let Some(at) = sent_index(sent, &t.topic.0, p.partition_index) else {
                continue; // not asked for: ignored
            };
            let records = p.records.unwrap_or_default();
            let bytes = records.len();
            telemetry.partition_fetched(
                broker,
                &t.topic.0,
                p.partition_index,
                bytes,
                p.high_watermark,
            );
            let mut batches = Vec::with_capacity(complete_batches(&records));
            let mut decode_error = None;
            let mut decoder = decode_batches(records, limits);
            for b in decoder.by_ref() {
                match b {
                    Ok(b) => batches.push(b),
                    Err(e) => {
                        decode_error = Some(e);
                        break;
                    }
                }
            }
            let truncated_only = batches.is_empty() && decode_error.is_none() && bytes > 0;
            out[at] = Some(PartData {
                error: ErrorCode::from_code(p.error_code),
                high_watermark: p.high_watermark,
                last_stable_offset: p.last_stable_offset,
                log_start_offset: p.log_start_offset,
                aborted: p
                    .aborted_transactions
                    .unwrap_or_default()
                    .iter()
                    .map(|a| (a.producer_id.0, a.first_offset))
                    .collect(),
                batches,
                decode_error,
                truncated_only,
                bytes,
            });
        }
    }
    Ok(out)
}

/// How many complete batches `records` holds, from the length fields alone (the decoder
/// checks everything else): the batch vector is sized once.
fn complete_batches(records: &[u8]) -> usize {
    const LENGTH_AT: usize = 8;
    const LOG_OVERHEAD: usize = 12;
    let (mut pos, mut n) = (0usize, 0usize);
    while let Some(len) = records.get(pos + LENGTH_AT..pos + LOG_OVERHEAD) {
        let len = i32::from_be_bytes([len[0], len[1], len[2], len[3]]);
        let Ok(len) = usize::try_from(len) else { break };
        pos = pos.saturating_add(LOG_OVERHEAD).saturating_add(len);
        if pos > records.len() {
            break;
        }
        n += 1;
    }
    n
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

fn on_fetch(shared: &Shared, sent: Vec<Sent>, result: Result<Vec<Option<PartData>>>) {
    let mut notify = false;
    let mut guard = shared.lock();
    let st = &mut *guard;
    let data = match result {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!(error = %e, "fetch failed");
            for s in &sent {
                if let Some(p) = st.partitions.get_mut(&s.tp) {
                    p.fetch_in_flight = false;
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
        let Some(p) = st.partitions.get_mut(&s.tp) else {
            continue;
        };
        p.fetch_in_flight = false;
        if p.epoch != s.epoch {
            continue;
        }
        let Some(d) = d else {
            continue;
        };
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
                    st.pending_errors.push(partition_error(
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
                st.buffer.push(fetch, &mut st.partitions);
                notify = true;
            }
            Some(ErrorCode::OFFSET_OUT_OF_RANGE) => {
                if s.fetch_offset != p.fetch_offset {
                    continue;
                }
                match shared.config.auto_offset_reset {
                    AutoOffsetReset::Earliest => p.reset(InitState::Reset(ResetTarget::Earliest)),
                    AutoOffsetReset::Latest => p.reset(InitState::Reset(ResetTarget::Latest)),
                    AutoOffsetReset::None => {
                        p.init = InitState::Failed;
                        st.pending_errors.push(partition_error(
                            &s.tp,
                            Error::OffsetOutOfRange {
                                topic: s.tp.topic.clone(),
                                partition: s.tp.partition,
                                offset: s.fetch_offset,
                            },
                        ));
                        notify = true;
                    }
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
                if e.is_stale_metadata() || code.is_retriable() {
                    shared.client.invalidate_topic(&s.tp.topic);
                    p.backoff_until = Some(now + PARTITION_BACKOFF);
                } else {
                    p.init = InitState::Failed;
                    st.pending_errors.push(partition_error(&s.tp, e));
                    notify = true;
                }
            }
        }
    }
    drop(guard);
    if notify {
        shared.data_ready.notify_waiters();
    }
}

fn on_committed(
    shared: &Shared,
    sent: Vec<Sent>,
    result: Result<BTreeMap<TopicPartition, Option<OffsetAndMetadata>>>,
) {
    let mut guard = shared.lock();
    let st = &mut *guard;
    let mut notify = false;
    for s in sent {
        let Some(p) = st.partitions.get_mut(&s.tp) else {
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
                        st.pending_errors.push(partition_error(
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
    drop(guard);
    if notify {
        shared.data_ready.notify_waiters();
    }
    shared.wake_all();
}

fn on_reset(shared: &Shared, sent: Vec<Sent>, mut result: BTreeMap<TopicPartition, Lookup>) {
    let mut guard = shared.lock();
    let st = &mut *guard;
    for s in sent {
        let Some(p) = st.partitions.get_mut(&s.tp) else {
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
                st.pending_errors.push(partition_error(&s.tp, e));
            }
            other => {
                tracing::debug!(partition = %s.tp, ?other, "offset reset lookup will be retried");
                p.backoff_until = Some(Instant::now() + PARTITION_BACKOFF);
            }
        }
    }
    drop(guard);
    shared.wake_all();
}

#[cfg(test)]
mod tests {
    use super::complete_batches;
    use crate::records::{BatchBuilder, BatchMeta, Compression};

    #[test]
    fn complete_batches_counts_whole_batches_only() {
        let mut all = Vec::new();
        for i in 0..3 {
            let mut b = BatchBuilder::new(Compression::None, 1 << 16);
            b.append(i, None, Some(b"value"), &[]).unwrap();
            all.extend_from_slice(&b.finish(&BatchMeta::default()).unwrap());
        }
        assert_eq!(complete_batches(&all), 3);
        // A batch cut short by the broker's byte limit is not counted.
        assert_eq!(complete_batches(&all[..all.len() - 1]), 2);
        assert_eq!(complete_batches(&all[..5]), 0);
        assert_eq!(complete_batches(&[]), 0);
        // A negative length stops the count (the decoder reports it).
        let mut bad = all.clone();
        bad[8..12].copy_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(complete_batches(&bad), 0);
    }
}

#[cfg(test)]
#[path = "unit_tests/fetcher_driver.rs"]
mod driver_tests;
