//! [`Client`]: the broker pool plus the metadata cache. Producers, consumers and the
//! admin client are built over it; `send` gives admin code raw request access.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use kafka_protocol::messages::{
    MetadataRequest, TopicName, metadata_request::MetadataRequestTopic,
};
use kafka_protocol::protocol::{Request, StrBytes};
use tokio::time::Instant;

use crate::cluster::recovery::{Phase, Recovery, RoundFailure};
use crate::cluster::{ClusterMetadata, TopicInfo};
use crate::config::{BrokerAddress, ClientBuilder, ClientConfig, backoff};
use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::net::{Connection, ConnectionKind, NodeKey, Pool};
use crate::observe::{NetworkStats, Telemetry};

/// Which broker a request goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Any live broker (one with an open connection when possible).
    Any,
    /// The broker with this node id.
    Broker(i32),
    /// The broker the cluster metadata names as controller.
    Controller,
}

/// Whether brokers answer Metadata requests.
#[derive(Debug, Default)]
struct Health {
    /// The first failed attempt since the last success.
    failing_since: Option<Instant>,
    /// The last real failure (a deadline does not hide an earlier protocol error).
    last_error: Option<Error>,
    /// Whether `last_error` is a real failure, not an attempt the deadline cut short
    /// (kept only while no real failure is known).
    last_error_real: bool,
}

/// A connection to a Kafka cluster: brokers, metadata and request routing.
///
/// Cheap to clone (an `Arc` inside); every clone shares the connections and the cache.
/// Creating one makes no connection: the first request bootstraps.
///
/// ```no_run
/// # async fn run() -> kafka_client::Result<()> {
/// let client = kafka_client::Client::builder()
///     .bootstrap_servers(["127.0.0.1:9092"])
///     .build()?;
/// let metadata = client.metadata().await?;
/// println!("cluster {:?} has {} brokers", metadata.cluster_id, metadata.brokers.len());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    config: ClientConfig,
    pool: Pool,
    telemetry: Arc<Telemetry>,
    metadata: RwLock<Arc<ClusterMetadata>>,
    /// Serialises refreshes: concurrent callers share one Metadata request.
    refresh_lock: tokio::sync::Mutex<()>,
    last_full_refresh: RwLock<Option<Instant>>,
    /// Since when every Metadata attempt has failed, and the last real failure.
    health: std::sync::Mutex<Health>,
    /// Whether Metadata goes to the known brokers or the bootstrap servers (KIP-899).
    recovery: std::sync::Mutex<Recovery>,
    /// Serialises leader hints: each is a read-modify-write of the cached metadata.
    hint_lock: std::sync::Mutex<()>,
    closed: AtomicBool,
    /// Client telemetry (KIP-714), started after the first Metadata answer.
    metrics_push: crate::metrics_push::MetricsPush,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("bootstrap", &self.inner.config.bootstrap)
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A builder with the Java client's defaults.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    pub(crate) fn new(config: ClientConfig) -> Self {
        let telemetry = Arc::new(Telemetry::new(config.hooks.clone()));
        let recovery = Recovery::new(config.metadata_recovery, config.rebootstrap_trigger);
        Self {
            inner: Arc::new(Inner {
                pool: Pool::new(config.clone(), telemetry.clone()),
                telemetry,
                config,
                metadata: RwLock::new(Arc::new(ClusterMetadata::empty())),
                refresh_lock: tokio::sync::Mutex::new(()),
                last_full_refresh: RwLock::new(None),
                hint_lock: std::sync::Mutex::new(()),
                health: std::sync::Mutex::new(Health::default()),
                recovery: std::sync::Mutex::new(recovery),
                closed: AtomicBool::new(false),
                metrics_push: Default::default(),
            }),
        }
    }

    /// A handle that does not keep the client alive (the telemetry task holds one).
    pub(crate) fn downgrade(&self) -> std::sync::Weak<Inner> {
        Arc::downgrade(&self.inner)
    }

    pub(crate) fn from_inner(inner: Arc<Inner>) -> Self {
        Self { inner }
    }

    /// Ends client telemetry with its terminating push (KIP-714), waiting at most
    /// `timeout`. Producers and consumers call it when they close the client they own.
    pub(crate) async fn end_metrics_push(&self, timeout: Duration) {
        self.inner.metrics_push.close(timeout).await;
    }

    /// The validated configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// This client's network figures now: connections, requests, in-flight requests,
    /// latency and throttling (see `docs/metrics.md`).
    pub fn stats(&self) -> NetworkStats {
        self.inner.telemetry.net.snapshot()
    }

    /// Counters and hooks shared with connections, producers and consumers.
    pub(crate) fn telemetry(&self) -> &Telemetry {
        &self.inner.telemetry
    }

    /// The metadata cached now (possibly empty or stale), without any request.
    pub fn cached_metadata(&self) -> Arc<ClusterMetadata> {
        self.inner
            .metadata
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the cached metadata (unit tests: leader routing without a broker).
    #[cfg(test)]
    pub(crate) fn set_cached_metadata(&self, m: ClusterMetadata) {
        self.store(m);
    }

    fn store(&self, m: ClusterMetadata) -> Arc<ClusterMetadata> {
        let m = Arc::new(m);
        *self
            .inner
            .metadata
            .write()
            .unwrap_or_else(|e| e.into_inner()) = m.clone();
        m
    }

    fn check_open(&self) -> Result<()> {
        if self.inner.closed.load(Ordering::Acquire) {
            Err(Error::Closed)
        } else {
            Ok(())
        }
    }

    /// Fetches fresh metadata for the whole cluster (every topic). Bootstraps on first use:
    /// if no bootstrap server answers within the API timeout, the error names each one.
    pub async fn metadata(&self) -> Result<Arc<ClusterMetadata>> {
        let started = Instant::now();
        let _guard = self.inner.refresh_lock.lock().await;
        let last = *self
            .inner
            .last_full_refresh
            .read()
            .unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t >= started) {
            return Ok(self.cached_metadata()); // someone refreshed while we waited
        }
        let resp = self.fetch_metadata(None).await?;
        let merged = self.cached_metadata().merged(&resp, true);
        *self
            .inner
            .last_full_refresh
            .write()
            .unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
        Ok(self.store(merged))
    }

    /// Fetches fresh metadata for `topics` and merges it into the cache.
    pub async fn refresh_topics(&self, topics: &[&str]) -> Result<Arc<ClusterMetadata>> {
        if self.inner.config.via_controllers {
            return Err(crate::cluster::controllers::no_topic_metadata(topics));
        }
        let started = std::time::Instant::now();
        let _guard = self.inner.refresh_lock.lock().await;
        let current = self.cached_metadata();
        let fresh = current.fetched_at.is_some_and(|t| t >= started)
            && topics
                .iter()
                .all(|t| current.topics.contains_key(*t) || current.topic_errors.contains_key(*t));
        if fresh {
            return Ok(current);
        }
        let names: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
        let resp = self.fetch_metadata(Some(&names)).await?;
        let merged = self.cached_metadata().merged(&resp, false);
        Ok(self.store(merged))
    }

    /// The topic's metadata from the cache when fresh, else after a refresh. A topic the
    /// cluster does not know gives [`ErrorCode::UNKNOWN_TOPIC_OR_PARTITION`].
    pub async fn topic(&self, name: &str) -> Result<Arc<TopicInfo>> {
        let cached = self.cached_metadata();
        let fresh = cached
            .fetched_at
            .is_some_and(|t| t.elapsed() < self.inner.config.metadata_max_age);
        if let (true, Some(t)) = (fresh, cached.topic(name)) {
            return Ok(t.clone());
        }
        let m = match self.refresh_topics(&[name]).await {
            Ok(m) => m,
            Err(e) => {
                // The caller's deadline cut the refresh short: the last answer about this
                // topic (UNKNOWN_TOPIC_OR_PARTITION, ...) is the real cause, not the wait.
                let cut = crate::ops::deadline::current().is_some_and(|d| Instant::now() >= d);
                return match self.cached_metadata().topic_errors.get(name) {
                    Some(code) if cut => Err(Error::broker(
                        *code,
                        ErrorContext::default().with_resource(name),
                        None,
                    )),
                    _ => Err(e),
                };
            }
        };
        if let Some(t) = m.topic(name) {
            return Ok(t.clone());
        }
        let code = m
            .topic_errors
            .get(name)
            .copied()
            .unwrap_or(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION);
        Err(Error::broker(
            code,
            ErrorContext::default().with_resource(name),
            None,
        ))
    }

    /// Forgets a topic's cached metadata (after a leader error), so the next lookup
    /// refreshes it.
    pub fn invalidate_topic(&self, name: &str) {
        let current = self.cached_metadata();
        if current.topics.contains_key(name) {
            let mut next = (*current).clone();
            next.topics.remove(name);
            self.store(next);
        }
    }

    /// Takes a leader hint (KIP-951): a Fetch or Produce answer of NOT_LEADER_OR_FOLLOWER
    /// or FENCED_LEADER_EPOCH names the partition's `leader` at `epoch`, and the
    /// addresses of brokers it may name (`endpoints`). When the hint is newer than the
    /// cached leader epoch and its broker's address is known, the cached metadata moves
    /// the partition at once, no Metadata request on the way; returns whether it did.
    /// An older or unusable hint changes nothing (the caller refreshes as before).
    pub(crate) fn apply_leader_hint(
        &self,
        topic: &str,
        partition: i32,
        leader: i32,
        epoch: i32,
        endpoints: &[crate::cluster::BrokerInfo],
    ) -> bool {
        if self.inner.config.ignore_leader_hints {
            return false; // `lowlevel::ignore_leader_hints`: found by a refresh instead
        }
        let _guard = self
            .inner
            .hint_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let current = self.cached_metadata();
        let Some(next) = current.with_leader_hint(topic, partition, leader, epoch, endpoints)
        else {
            // Already known (an earlier hint or refresh), or unusable.
            return current
                .topic(topic)
                .and_then(|t| t.partition(partition))
                .is_some_and(|p| p.leader == Some(leader) && p.leader_epoch >= epoch)
                && current.brokers.contains_key(&leader);
        };
        self.store(next);
        self.inner.telemetry.leader_hint_taken();
        true
    }

    /// The leader's node id and leader epoch for a partition. Refreshes once when the
    /// cached leader is missing.
    pub async fn leader(&self, topic: &str, partition: i32) -> Result<(i32, i32)> {
        let not_found = || Error::UnknownTopicOrPartition(format!("{topic}-{partition}"));
        let lookup = |t: &TopicInfo| {
            t.partition(partition)
                .map(|p| (p.leader, p.leader_epoch, p.error))
        };
        let t = self.topic(topic).await?;
        let (leader, epoch, err) = lookup(&t).ok_or_else(not_found)?;
        if let Some(l) = leader {
            return Ok((l, epoch));
        }
        self.invalidate_topic(topic);
        let t = self.topic(topic).await?;
        match lookup(&t).ok_or_else(not_found)? {
            (Some(l), e, _) => Ok((l, e)),
            (None, _, e) => Err(Error::broker(
                e.or(err).unwrap_or(ErrorCode::LEADER_NOT_AVAILABLE),
                ErrorContext::default()
                    .with_resource(topic)
                    .with_partition(partition),
                None,
            )),
        }
    }

    /// A connection to node `broker` for `kind` of traffic.
    pub async fn connection(&self, broker: i32, kind: ConnectionKind) -> Result<Connection> {
        self.check_open()?;
        let cached = self.cached_metadata();
        if let Some(b) = cached.broker(broker) {
            // The hot path (every Fetch and Produce): no copy of the address.
            return self
                .inner
                .pool
                .get(NodeKey::Broker(broker), &b.address, kind)
                .await;
        }
        drop(cached);
        let fresh = self.metadata().await?;
        let addr = fresh
            .broker(broker)
            .map(|b| &b.address)
            .ok_or_else(|| Error::Connect {
                context: ErrorContext {
                    broker: Some(broker),
                    ..ErrorContext::default()
                },
                reason: "the broker is not in the cluster metadata".into(),
            })?;
        self.inner
            .pool
            .get(NodeKey::Broker(broker), addr, kind)
            .await
    }

    /// The node id of the controller named by the metadata (refreshing when unknown).
    pub async fn controller(&self) -> Result<i32> {
        if let Some(c) = self.cached_metadata().controller {
            return Ok(c);
        }
        self.metadata()
            .await?
            .controller
            .ok_or_else(|| Error::Broker {
                code: ErrorCode::NOT_CONTROLLER,
                context: ErrorContext::default(),
                message: Some("the cluster metadata names no controller".into()),
            })
    }

    /// Sends a request to `target` at the highest version both sides support.
    pub async fn send<R: Request>(&self, target: Target, req: &R) -> Result<R::Response>
    where
        R::Response: 'static,
    {
        let conn = self.target_connection(target).await?;
        conn.request(req).await
    }

    /// A general-purpose connection to `target`.
    pub async fn target_connection(&self, target: Target) -> Result<Connection> {
        match target {
            Target::Broker(id) => self.connection(id, ConnectionKind::General).await,
            Target::Controller => {
                let id = self.controller().await?;
                self.connection(id, ConnectionKind::General).await
            }
            Target::Any => {
                self.check_open()?;
                let m = self.cached_metadata();
                for id in m.brokers.keys() {
                    if let Some(c) = self
                        .inner
                        .pool
                        .existing(NodeKey::Broker(*id), ConnectionKind::General)
                    {
                        return Ok(c);
                    }
                }
                let id = match m.brokers.keys().copied().collect::<Vec<_>>() {
                    ids if !ids.is_empty() => ids[fastrand::usize(..ids.len())],
                    _ => *self
                        .metadata()
                        .await?
                        .brokers
                        .keys()
                        .next()
                        .ok_or_else(|| Error::Connect {
                            context: ErrorContext::default(),
                            reason: "the cluster metadata lists no brokers".into(),
                        })?,
                };
                self.connection(id, ConnectionKind::General).await
            }
        }
    }

    /// Closes the client as [`Client::close`] does, after its last, terminating
    /// telemetry push (KIP-714), which waits at most `timeout`. Close this way a client
    /// nothing else shares; a producer or consumer that built its own client does it
    /// when it closes.
    pub async fn close_with_timeout(&self, timeout: Duration) {
        self.end_metrics_push(timeout).await;
        self.close();
    }

    /// Closes the client: open connections end once their in-flight requests finish, and
    /// later calls fail with [`Error::Closed`]. No terminating telemetry push is sent
    /// (see [`Client::close_with_timeout`]).
    pub fn close(&self) {
        self.inner.metrics_push.close_now();
        self.inner.closed.store(true, Ordering::Release);
        self.inner.pool.clear();
    }

    /// One Metadata request, tried against known brokers then the bootstrap servers, with
    /// backoff between rounds, until the API timeout.
    async fn fetch_metadata(
        &self,
        topics: Option<&[String]>,
    ) -> Result<kafka_protocol::messages::MetadataResponse> {
        self.check_open()?;
        let cfg = &self.inner.config;
        let started = Instant::now();
        // Its own bound (`default.api.timeout.ms`), or the caller's deadline when that
        // comes first (an admin call's timeout): the wait never outlasts the caller.
        let (deadline, _) = crate::ops::deadline::earliest(started + cfg.api_timeout);
        let timeout = crate::ops::deadline::span(started, deadline);
        let req = MetadataRequest::default()
            .with_topics(topics.map(|ts| {
                ts.iter()
                    .map(|t| {
                        MetadataRequestTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_string(t.clone()))))
                    })
                    .collect()
            }))
            .with_allow_auto_topic_creation(false);
        // The latest answer per address, and whether the deadline cut it short; a round
        // that ran out of time does not hide an earlier round's real error (a protocol
        // error says more than the deadline).
        let mut attempts: Vec<(String, String, bool)> = Vec::new();
        let note =
            |attempts: &mut Vec<(String, String, bool)>, addr: &str, msg: String, timeout: bool| {
                match attempts.iter_mut().find(|(a, _, _)| a == addr) {
                    Some(_) if timeout => {}
                    Some(slot) => (slot.1, slot.2) = (msg, false),
                    None => attempts.push((addr.to_string(), msg, timeout)),
                }
            };
        for round in 0u32.. {
            let (phase, candidates) = self.candidates();
            // Whether a broker of this round was connected to (it answered, or failed
            // after the connection was up): a round that reached none is "unreachable".
            let mut reached = false;
            let mut complete = true;
            let mut rebootstrap = false;
            for (key, addr) in candidates {
                if Instant::now() >= deadline {
                    complete = false;
                    break;
                }
                let attempt = async {
                    let conn = match self
                        .inner
                        .pool
                        .get(key, &addr, ConnectionKind::General)
                        .await
                    {
                        Ok(conn) => conn,
                        Err(e) => return (false, Err(e)),
                    };
                    self.inner.telemetry.metadata_request();
                    if cfg.via_controllers {
                        let answer = crate::cluster::controllers::controllers_as_metadata(
                            &conn,
                            cfg.request_timeout,
                        )
                        .await;
                        return (true, answer);
                    }
                    (true, conn.request(&req).await)
                };
                let outcome = tokio::time::timeout_at(deadline, attempt).await;
                reached |= matches!(outcome, Ok((true, _)) | Err(_));
                match outcome {
                    Ok((_, Ok(resp))) => match ErrorCode::from_code(resp.error_code) {
                        None => {
                            self.note_attempt(None, true);
                            self.recovery().answered();
                            if cfg.enable_metrics_push {
                                self.inner.metrics_push.start(self);
                            }
                            return Ok(resp);
                        }
                        Some(code) => {
                            let e = Error::broker(
                                code,
                                ErrorContext::default()
                                    .with_api(kafka_protocol::messages::ApiKey::Metadata),
                                Some(format!("{addr}")),
                            );
                            self.note_attempt(Some(e), true);
                            note(
                                &mut attempts,
                                &addr.to_string(),
                                format!("{addr}: {code}"),
                                false,
                            );
                            if code == ErrorCode::REBOOTSTRAP_REQUIRED
                                && self.recovery().rebootstrap_required(Instant::now())
                            {
                                rebootstrap = true;
                                break;
                            }
                        }
                    },
                    // TLS and SASL failures will not heal by retrying: report them now.
                    Ok((_, Err(e))) if e.is_authentication_failure() => return Err(e),
                    Ok((_, Err(e))) => {
                        tracing::debug!(%addr, error = %e, "metadata attempt failed");
                        self.note_attempt(Some(e.clone()), true);
                        note(
                            &mut attempts,
                            &addr.to_string(),
                            format!("{addr}: {e}"),
                            false,
                        );
                    }
                    Err(_) => {
                        let e = Error::Timeout {
                            context: ErrorContext::default()
                                .with_api(kafka_protocol::messages::ApiKey::Metadata),
                            timeout,
                        };
                        self.note_attempt(Some(e), false);
                        note(
                            &mut attempts,
                            &addr.to_string(),
                            format!("{addr}: no answer before the deadline"),
                            true,
                        )
                    }
                }
            }
            if !rebootstrap && complete && phase == Phase::Known {
                let why = match reached {
                    true => RoundFailure::NoAnswer,
                    false => RoundFailure::AllUnreachable,
                };
                rebootstrap = self.recovery().round_failed(Instant::now(), why);
            }
            if rebootstrap {
                // As the Java client: straight to the bootstrap addresses (resolved
                // again at connect), no backoff.
                tracing::info!(
                    bootstrap = ?cfg.bootstrap,
                    "no known broker answers Metadata: rebootstrapping"
                );
                self.inner.telemetry.rebootstrap();
                self.inner.pool.forget_bootstrap();
                continue;
            }
            let wait = backoff(cfg.retry_backoff, cfg.retry_backoff_max, round);
            if Instant::now() + wait >= deadline {
                break;
            }
            tokio::time::sleep(wait).await;
        }
        // Every attempt of this wait was cut short by the deadline (or none started):
        // the last real failure of an earlier wait (a protocol error, a refused
        // connection) says more than "no answer before the deadline" does.
        if attempts.iter().all(|(_, _, cut)| *cut) {
            if let Some(real) = self.last_real_metadata_error() {
                return Err(real);
            }
        }
        let attempts = match attempts.is_empty() {
            true => "the deadline came before any attempt".to_string(),
            false => attempts
                .into_iter()
                .map(|(_, m, _)| m)
                .collect::<Vec<_>>()
                .join("; "),
        };
        Err(Error::Bootstrap { attempts, timeout })
    }

    /// Where to send a Metadata request: the known brokers (shuffled, connected ones
    /// first), or, before the first answer and after a rebootstrap (or when the last
    /// answer named no broker), every bootstrap address.
    fn candidates(&self) -> (Phase, Vec<(NodeKey, BrokerAddress)>) {
        let boot = || {
            let boot = self.inner.config.bootstrap.iter().enumerate();
            boot.map(|(i, a)| (NodeKey::Bootstrap(i), a.clone()))
                .collect()
        };
        if self.recovery().phase() == Phase::Bootstrap {
            return (Phase::Bootstrap, boot());
        }
        let m = self.cached_metadata();
        if m.brokers.is_empty() {
            return (Phase::Bootstrap, boot());
        }
        let mut known: Vec<(NodeKey, BrokerAddress)> = m
            .brokers
            .values()
            .map(|b| (NodeKey::Broker(b.id), b.address.clone()))
            .collect();
        fastrand::shuffle(&mut known);
        known.sort_by_key(|(k, _)| {
            self.inner
                .pool
                .existing(*k, ConnectionKind::General)
                .is_none()
        });
        (Phase::Known, known)
    }

    fn recovery(&self) -> std::sync::MutexGuard<'_, Recovery> {
        self.inner
            .recovery
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn health(&self) -> std::sync::MutexGuard<'_, Health> {
        self.inner.health.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a Metadata attempt's outcome. A timeout (`real` false) does not replace a
    /// real failure already known.
    fn note_attempt(&self, failure: Option<Error>, real: bool) {
        let mut h = self.health();
        match failure {
            None => *h = Health::default(),
            Some(e) => {
                h.failing_since.get_or_insert_with(Instant::now);
                if real || h.last_error.is_none() {
                    h.last_error = Some(e);
                    h.last_error_real = real;
                }
            }
        }
    }

    /// When every Metadata attempt has failed for at least `bound`:
    /// [`Error::BrokersUnreachable`] with the last real failure.
    pub(crate) fn unreachable(&self, bound: Duration) -> Option<Error> {
        let h = self.health();
        let since = h.failing_since?;
        let unreachable_for = since.elapsed();
        if unreachable_for < bound {
            return None;
        }
        Some(Error::BrokersUnreachable {
            unreachable_for,
            last_error: Box::new(h.last_error.clone()?),
        })
    }

    /// The last real failure of a Metadata attempt while brokers have not answered
    /// (none once one answered).
    pub(crate) fn last_metadata_error(&self) -> Option<Error> {
        self.health().last_error.clone()
    }

    /// The last real failure of a Metadata attempt (not one the deadline cut short)
    /// while brokers have not answered.
    fn last_real_metadata_error(&self) -> Option<Error> {
        let h = self.health();
        h.last_error.clone().filter(|_| h.last_error_real)
    }

    /// Backoff for the `attempt`-th retry of a retriable error.
    pub fn retry_backoff(&self, attempt: u32) -> Duration {
        backoff(
            self.inner.config.retry_backoff,
            self.inner.config.retry_backoff_max,
            attempt,
        )
    }
}
