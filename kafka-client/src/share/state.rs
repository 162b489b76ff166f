//! The share consumer's state behind one lock, and the steps that change it without
//! I/O: planning a ShareFetch or ShareAcknowledge for a broker (session part,
//! acknowledgements taken from the ledger) and applying its answer (session epoch,
//! per-partition acknowledgement results, acquired records into the buffer, gaps).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use tokio::time::Instant;
use uuid::Uuid;

use super::acks::{Ledger, TakenAcks};
use super::builder::ShareConsumerConfig;
use super::exchange::{AckAsk, Acquired, FetchAsk, PartitionAnswer, ShareAnswer, TopicRoute};
use super::membership::Membership;
use super::record::{AcknowledgementCommit, AcknowledgementResults};
use super::retry::Retry;
use super::session::{CLOSE_EPOCH, IdPartition, SessionRequest, ShareSession, is_session_error};
use crate::consumer::ConsumerRecord;
use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::records::{DecodeLimits, decode_batches};
use crate::types::TopicPartition;

/// The lock duration assumed until a broker says (the broker default, 30 s).
pub(crate) const DEFAULT_LOCK: Duration = Duration::from_secs(30);

/// The longest acquired range taken from one answer (longer ones are ignored; their
/// locks expire on the broker).
const MAX_RANGE: i64 = 1 << 20;

/// Acknowledgement batches by partition, as a request carries them.
type WireAcks = Vec<(IdPartition, Vec<super::acks::AckBatch>)>;

/// An acquired record waiting for `poll`.
#[derive(Debug)]
pub(crate) struct Buffered {
    pub record: ConsumerRecord,
    pub delivery_count: i16,
}

/// A request planned for one broker: what it carries, to apply its answer.
#[derive(Debug)]
pub(crate) struct Planned {
    pub broker: i32,
    pub session: SessionRequest,
    pub acks: Vec<(TopicPartition, TakenAcks)>,
}

/// Everything the handle and its tasks share.
#[derive(Debug)]
pub(crate) struct State {
    pub membership: Membership,
    pub ledger: Ledger,
    pub sessions: HashMap<i32, ShareSession>,
    /// Brokers with a request out (one per share session at a time).
    pub busy: HashSet<i32>,
    pub buffer: VecDeque<Buffered>,
    /// The latest poll (0 before the first).
    pub poll: u64,
    pub closed: bool,
    pub fatal: Option<Error>,
    pub lock: Duration,
    /// Routes of the subscribed topics, by topic id.
    pub routes: BTreeMap<Uuid, TopicRoute>,
    /// Some assigned partition has no known route or leader, or its leader may have
    /// moved (a stale-metadata error, a broker that did not answer).
    pub routes_stale: bool,
    /// Partitions whose leader refused them as stale (NOT_LEADER_OR_FOLLOWER, ...):
    /// left out of fetches until the routes are looked up again.
    pub parked: BTreeSet<IdPartition>,
    /// Backoffs of failing brokers and the pacing of route lookups.
    pub retry: Retry,
}

impl State {
    pub(crate) fn new(membership: Membership) -> Self {
        Self {
            membership,
            ledger: Ledger::default(),
            sessions: HashMap::new(),
            busy: HashSet::new(),
            buffer: VecDeque::new(),
            poll: 0,
            closed: false,
            fatal: None,
            lock: DEFAULT_LOCK,
            routes: BTreeMap::new(),
            routes_stale: false,
            parked: BTreeSet::new(),
            retry: Retry::default(),
        }
    }

    /// New routes, looked up from a broker when `refreshed` (then they are fresh and
    /// parked partitions are fetched again), or read from the client's cache.
    pub(crate) fn set_routes(&mut self, routes: Vec<TopicRoute>, refreshed: bool, now: Instant) {
        self.routes = routes.into_iter().map(|r| (r.id, r)).collect();
        if refreshed {
            self.routes_stale = false;
            self.parked.clear();
            self.retry.routes_refreshed(now);
        }
    }

    /// When the heartbeat loop should look the routes up (`None`: they are not stale).
    pub(crate) fn routes_due(&self) -> Option<Instant> {
        if !self.routes_stale {
            return None;
        }
        Some(self.retry.routes_due().unwrap_or_else(Instant::now))
    }

    /// The name of topic `id`, when known.
    pub(crate) fn topic_partition(&self, (id, p): IdPartition) -> Option<TopicPartition> {
        self.routes
            .get(&id)
            .map(|r| TopicPartition::new(&*r.name, p))
    }

    fn id_partition(&self, tp: &TopicPartition) -> Option<(IdPartition, Option<i32>)> {
        let r = self.routes.values().find(|r| *r.name == *tp.topic)?;
        Some(((r.id, tp.partition), r.leaders.get(&tp.partition).copied()))
    }

    /// The assigned partitions by leader; marks the routes stale when one has none.
    pub(crate) fn assigned_by_broker(&mut self) -> BTreeMap<i32, BTreeSet<IdPartition>> {
        let mut out: BTreeMap<i32, BTreeSet<IdPartition>> = BTreeMap::new();
        let mut stale = false;
        for (id, parts) in self.membership.assignment() {
            let Some(route) = self.routes.get(id) else {
                stale = true;
                continue;
            };
            for p in parts {
                if self.parked.contains(&(*id, *p)) {
                    continue;
                }
                match route.leaders.get(p) {
                    Some(leader) => {
                        out.entry(*leader).or_default().insert((*id, *p));
                    }
                    None => stale = true,
                }
            }
        }
        self.routes_stale |= stale;
        out
    }

    /// Brokers that lead a partition with acknowledgements waiting.
    pub(crate) fn brokers_with_acks(&self) -> BTreeSet<i32> {
        self.ledger
            .pending_partitions()
            .filter_map(|tp| self.id_partition(tp).and_then(|(_, l)| l))
            .collect()
    }

    fn take_acks(&mut self, broker: i32) -> (WireAcks, Vec<(TopicPartition, TakenAcks)>, bool) {
        let tps: Vec<TopicPartition> = self.ledger.pending_partitions().cloned().collect();
        let (mut wire, mut taken, mut renew) = (Vec::new(), Vec::new(), false);
        for tp in tps {
            let Some((id, Some(leader))) = self.id_partition(&tp) else {
                continue;
            };
            if leader != broker {
                continue;
            }
            if let Some(t) = self.ledger.take(&tp) {
                renew |= t.renew;
                wire.push((id, t.batches.clone()));
                taken.push((tp, t));
            }
        }
        (wire, taken, renew)
    }

    /// Plans a ShareFetch to `broker` for `wanted` (its assigned partitions), with the
    /// acknowledgements waiting for its partitions; marks the broker busy.
    pub(crate) fn plan_fetch(
        &mut self,
        broker: i32,
        wanted: &BTreeSet<IdPartition>,
        cfg: &ShareConsumerConfig,
    ) -> Option<(FetchAsk, Planned)> {
        if self.busy.contains(&broker) || !self.retry.ready(broker, Instant::now()) {
            return None;
        }
        let session = self.sessions.entry(broker).or_default().next_fetch(wanted);
        // A ShareFetch that opens a session may not carry acknowledgements (the broker
        // refuses the whole request, INVALID_REQUEST): they wait for the next one.
        let (acks, taken, renew) = if session.epoch == 0 {
            (Vec::new(), Vec::new(), false)
        } else {
            self.take_acks(broker)
        };
        let mut partitions: BTreeMap<IdPartition, Vec<super::acks::AckBatch>> =
            session.added.iter().map(|p| (*p, Vec::new())).collect();
        for (id, batches) in acks {
            partitions.entry(id).or_default().extend(batches);
        }
        if wanted.is_empty() && taken.is_empty() && session.forgotten.is_empty() {
            return None;
        }
        self.busy.insert(broker);
        let max_records = cfg.max_poll_records.min(i32::MAX as usize) as i32;
        let ask = FetchAsk {
            member_id: self.membership.member_id().to_string(),
            session_epoch: session.epoch,
            max_wait_ms: cfg.fetch_max_wait.as_millis().min(i32::MAX as u128) as i32,
            min_bytes: cfg.fetch_min_bytes,
            max_bytes: cfg.fetch_max_bytes,
            max_records,
            batch_size: max_records,
            acquire_mode: cfg.acquire_mode.wire(),
            renew,
            partitions: partitions.into_iter().collect(),
            forgotten: session.forgotten.clone(),
        };
        Some((
            ask,
            Planned {
                broker,
                session,
                acks: taken,
            },
        ))
    }

    /// Plans a ShareAcknowledge to `broker` (`close`: with epoch -1, closing the
    /// session). `None` when there is nothing to send or no session to send it in.
    pub(crate) fn plan_acknowledge(
        &mut self,
        broker: i32,
        close: bool,
    ) -> Option<(AckAsk, Planned)> {
        if self.busy.contains(&broker) {
            return None;
        }
        let open = self
            .sessions
            .get(&broker)
            .is_some_and(ShareSession::is_open);
        if !open {
            return None;
        }
        let (acks, taken, renew) = self.take_acks(broker);
        if acks.is_empty() && !close {
            return None;
        }
        let epoch = if close {
            CLOSE_EPOCH
        } else {
            self.sessions[&broker].epoch()
        };
        self.busy.insert(broker);
        Some((
            AckAsk {
                member_id: self.membership.member_id().to_string(),
                session_epoch: epoch,
                renew,
                partitions: acks,
            },
            Planned {
                broker,
                session: SessionRequest {
                    epoch,
                    added: Vec::new(),
                    forgotten: Vec::new(),
                },
                acks: taken,
            },
        ))
    }

    /// Acknowledgements that cannot be sent: `broker`'s session is gone. They are
    /// reported failed (the records are released by the broker or their locks expire).
    pub(crate) fn fail_unsendable(&mut self, broker: i32, why: &str) -> AcknowledgementResults {
        let (_, taken, _) = self.take_acks(broker);
        let mut out = AcknowledgementResults::new();
        let now = Instant::now();
        for (tp, t) in taken {
            self.ledger.answered(&tp, &t, false, now, self.lock);
            if t.offsets.is_empty() {
                continue;
            }
            out.insert(
                tp,
                AcknowledgementCommit {
                    offsets: t.offsets,
                    error: Some(Error::InvalidState(why.to_string())),
                },
            );
        }
        out
    }

    /// Applies the answer to a planned request; returns the acknowledgement results
    /// (for the callback and `commit`).
    pub(crate) fn on_answer(
        &mut self,
        planned: Planned,
        answer: Result<ShareAnswer>,
        api: ApiKey,
        check_crcs: bool,
    ) -> AcknowledgementResults {
        let now = Instant::now();
        let Planned {
            broker,
            session,
            acks,
        } = planned;
        self.busy.remove(&broker);
        let mut results = AcknowledgementResults::new();
        let context = |tp: &TopicPartition| {
            ErrorContext {
                broker: Some(broker),
                ..ErrorContext::default()
            }
            .with_api(api)
            .with_resource(tp.topic.clone())
            .with_partition(tp.partition)
        };
        let answer = match answer {
            Ok(a) if a.error.is_none() => a,
            other => {
                let (code, error) = match other {
                    Ok(a) => {
                        let code = a.error.unwrap_or(ErrorCode::UNKNOWN_SERVER_ERROR);
                        let e =
                            Error::broker(code, ErrorContext::default().with_api(api), a.message);
                        (Some(code), e)
                    }
                    Err(e) => (None, e),
                };
                tracing::debug!(broker, error = %error, "share request failed");
                let gone = self.sessions.entry(broker).or_default().on_failure(code);
                if session.epoch == CLOSE_EPOCH || gone {
                    self.sessions.entry(broker).or_default().reset();
                }
                // No answer (the broker died, the connection broke, the request timed
                // out): the partitions it led may have moved, as after a stale-metadata
                // error. The routes are looked up again and the broker is given a rest:
                // its session is gone, the next request opens a new one, wherever the
                // leaders are then.
                if code.is_none() || error.is_stale_metadata() {
                    self.routes_stale = true;
                }
                if !code.is_some_and(is_session_error) {
                    let until = self.retry.failed(broker, now);
                    tracing::debug!(broker, ?until, "share requests to the broker back off");
                }
                for (tp, t) in acks {
                    self.ledger.answered(&tp, &t, false, now, self.lock);
                    if !t.offsets.is_empty() {
                        results.insert(
                            tp,
                            AcknowledgementCommit {
                                offsets: t.offsets,
                                error: Some(error.clone()),
                            },
                        );
                    }
                }
                return results;
            }
        };
        self.sessions
            .entry(broker)
            .or_default()
            .on_success(&session);
        self.retry.succeeded(broker);
        if let Some(ms) = answer.lock_timeout_ms.filter(|ms| *ms > 0) {
            self.lock = Duration::from_millis(ms as u64);
        }
        let mut by_tp: HashMap<TopicPartition, PartitionAnswer> = HashMap::new();
        for p in answer.partitions {
            if let Some(tp) = self.topic_partition(p.id) {
                by_tp.insert(tp, p);
            }
        }
        for (tp, t) in acks {
            let ack_error = by_tp.get(&tp).and_then(|p| {
                // ShareAcknowledge reports in `error`; ShareFetch in `ack_error`.
                let (code, msg) = if api == ApiKey::ShareAcknowledge {
                    (p.error, p.message.clone())
                } else {
                    (p.ack_error, p.ack_message.clone())
                };
                code.map(|c| Error::broker(c, context(&tp), msg))
            });
            self.ledger
                .answered(&tp, &t, ack_error.is_none(), now, self.lock);
            if !t.offsets.is_empty() {
                results.insert(
                    tp,
                    AcknowledgementCommit {
                        offsets: t.offsets,
                        error: ack_error,
                    },
                );
            }
        }
        if api == ApiKey::ShareFetch {
            let mut parts: Vec<(TopicPartition, PartitionAnswer)> = by_tp.into_iter().collect();
            parts.sort_by(|a, b| a.0.cmp(&b.0));
            let (mut failed, mut fine) = (0, 0);
            for (tp, p) in parts {
                if let Some(code) = p.error {
                    tracing::debug!(%tp, broker, error = %code, "share fetch partition error");
                    failed += 1;
                    if matches!(
                        code,
                        ErrorCode::NOT_LEADER_OR_FOLLOWER
                            | ErrorCode::UNKNOWN_TOPIC_OR_PARTITION
                            | ErrorCode::FENCED_LEADER_EPOCH
                            | ErrorCode::UNKNOWN_LEADER_EPOCH
                            | ErrorCode::LEADER_NOT_AVAILABLE
                            | ErrorCode::UNKNOWN_TOPIC_ID
                    ) {
                        // Not fetched from this broker again before the routes are
                        // looked up (the leader moved, or the topic is gone).
                        self.routes_stale = true;
                        self.parked.insert(p.id);
                    }
                    continue;
                }
                fine += 1;
                if !p.acquired.is_empty() {
                    self.take_acquired(&tp, p, now, check_crcs);
                }
            }
            if failed > 0 && fine == 0 {
                // Every partition failed (a share partition still loading its state on
                // a new leader, a coordinator moving): an immediate retry would fail
                // the same way.
                self.retry.failed(broker, now);
            }
        }
        results
    }

    /// Buffers the acquired records of one partition answer; acquired offsets without
    /// a record become gaps, records that fail to decode are released.
    fn take_acquired(
        &mut self,
        tp: &TopicPartition,
        p: PartitionAnswer,
        now: Instant,
        check_crcs: bool,
    ) {
        let topic: Arc<str> = Arc::from(tp.topic.as_str());
        // A range is bounded before it is walked (gaps): a hostile or broken answer
        // cannot make the consumer loop over 2^63 offsets.
        let ranges: Vec<Acquired> = p
            .acquired
            .into_iter()
            .filter(|r| r.first >= 0 && r.first <= r.last && r.last - r.first < MAX_RANGE)
            .collect();
        let count_of = |offset: i64| -> Option<i16> {
            ranges
                .iter()
                .find(|r| r.first <= offset && offset <= r.last)
                .map(|r| r.delivery_count)
        };
        let limits = DecodeLimits {
            verify_crc: check_crcs,
            ..DecodeLimits::default()
        };
        let mut delivered: Vec<(i64, i16)> = Vec::new();
        let mut broken = false;
        'batches: for batch in decode_batches(p.records, limits) {
            let batch = match batch {
                Ok(b) => b,
                Err(e) => {
                    tracing::warn!(%tp, error = %e, "undecodable share fetch data: released");
                    broken = true;
                    break;
                }
            };
            if batch.is_control() {
                continue;
            }
            if !ranges
                .iter()
                .any(|r| r.first <= batch.last_offset() && batch.base_offset() <= r.last)
            {
                continue;
            }
            let epoch = batch.partition_leader_epoch();
            let records = match batch.records() {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(%tp, error = %e, "undecodable share fetch batch: released");
                    broken = true;
                    break;
                }
            };
            for r in records {
                let r = match r {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::warn!(%tp, error = %e, "undecodable share record: released");
                        broken = true;
                        break 'batches;
                    }
                };
                let Some(delivery_count) = count_of(r.offset) else {
                    continue;
                };
                delivered.push((r.offset, delivery_count));
                self.buffer.push_back(Buffered {
                    record: ConsumerRecord {
                        topic: topic.clone(),
                        partition: tp.partition,
                        offset: r.offset,
                        timestamp: r.timestamp,
                        timestamp_type: batch.timestamp_type(),
                        key: r.key,
                        value: r.value,
                        headers: r.headers,
                        leader_epoch: (epoch >= 0).then_some(epoch),
                    },
                    delivery_count,
                });
            }
        }
        let have: BTreeSet<i64> = delivered.iter().map(|(o, _)| *o).collect();
        let missing: Vec<(i64, i16)> = ranges
            .iter()
            .flat_map(|r| (r.first..=r.last).map(move |o| (o, r.delivery_count)))
            .filter(|(o, _)| !have.contains(o))
            .collect();
        let (undecoded, gaps): (Vec<_>, Vec<_>) = if broken {
            (missing, Vec::new())
        } else {
            (Vec::new(), missing)
        };
        self.ledger.acquired(
            tp,
            delivered.into_iter().chain(undecoded.iter().copied()),
            gaps.into_iter().map(|(o, _)| o),
            now,
            self.lock,
        );
        if !undecoded.is_empty() {
            let offsets: Vec<i64> = undecoded.iter().map(|(o, _)| *o).collect();
            self.ledger.release_buffered(tp, &offsets);
        }
    }
}
