//! [`ConsumerBuilder`]: typed consumer settings, validated once at `build()`, with the
//! Java client's defaults.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::client::Client;
use crate::config::{ClientBuilder, ClientSource};
use crate::error::{Error, Result};

use super::Consumer;
use super::group::RebalanceListener;

/// Where to start when a partition has no committed offset, or its position fell out of
/// the log (`auto.offset.reset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AutoOffsetReset {
    /// The log start offset.
    Earliest,
    /// The log end offset (only records written from now on). The Java default.
    #[default]
    Latest,
    /// No reset: the partition reports [`Error::NoOffsetForPartition`] or
    /// [`Error::OffsetOutOfRange`] and waits for a seek.
    None,
}

impl FromStr for AutoOffsetReset {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "earliest" | "smallest" | "beginning" => Ok(Self::Earliest),
            "latest" | "largest" | "end" => Ok(Self::Latest),
            "none" | "error" => Ok(Self::None),
            _ => Err(crate::config::bad_value(
                "auto.offset.reset",
                s,
                "earliest, latest or none",
            )),
        }
    }
}

/// Which records a consumer sees of transactional producers (`isolation.level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum IsolationLevel {
    /// Every record, including those of open and aborted transactions. The Java default.
    #[default]
    ReadUncommitted,
    /// Only committed records: reads stop at the last stable offset, and records of
    /// aborted transactions are dropped.
    ReadCommitted,
}

impl IsolationLevel {
    pub(crate) fn wire(self) -> i8 {
        match self {
            Self::ReadUncommitted => 0,
            Self::ReadCommitted => 1,
        }
    }
}

impl FromStr for IsolationLevel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "read_uncommitted" => Ok(Self::ReadUncommitted),
            "read_committed" => Ok(Self::ReadCommitted),
            _ => Err(crate::config::bad_value(
                "isolation.level",
                s,
                "read_uncommitted or read_committed",
            )),
        }
    }
}

/// A partition assignment strategy, negotiated with the group by its protocol name, so
/// members of other clients (Java, librdkafka) using the same name share the group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AssignmentStrategy {
    /// `range`: per topic, consecutive partition ranges to members in member-id order.
    Range,
    /// `roundrobin`: all partitions dealt in turn to the members subscribed to each.
    RoundRobin,
    /// `cooperative-sticky`: balanced, keeps partitions where they are, and moves them
    /// by incremental cooperative rebalancing (members keep the rest while one moves).
    CooperativeSticky,
}

impl AssignmentStrategy {
    /// The protocol name in JoinGroup.
    pub fn name(self) -> &'static str {
        match self {
            Self::Range => "range",
            Self::RoundRobin => "roundrobin",
            Self::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// Whether the strategy rebalances incrementally (members revoke only what moves).
    pub fn is_cooperative(self) -> bool {
        matches!(self, Self::CooperativeSticky)
    }

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        [Self::Range, Self::RoundRobin, Self::CooperativeSticky]
            .into_iter()
            .find(|s| s.name() == name)
    }
}

impl FromStr for AssignmentStrategy {
    type Err = Error;
    /// Accepts the protocol names and the Java class names
    /// (`org.apache.kafka.clients.consumer.RangeAssignor`, ...).
    fn from_str(s: &str) -> Result<Self> {
        let t = s.trim();
        let short = t.rsplit('.').next().unwrap_or(t);
        match short {
            "range" | "RangeAssignor" => Ok(Self::Range),
            "roundrobin" | "RoundRobinAssignor" => Ok(Self::RoundRobin),
            "cooperative-sticky" | "CooperativeStickyAssignor" => Ok(Self::CooperativeSticky),
            _ => Err(crate::config::bad_value(
                "partition.assignment.strategy",
                s,
                "range, roundrobin or cooperative-sticky",
            )),
        }
    }
}

/// The group protocol a subscribed consumer speaks (`group.protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum GroupProtocol {
    /// JoinGroup/SyncGroup/Heartbeat with client-side assignors (the
    /// [`AssignmentStrategy`] list). The Java default.
    #[default]
    Classic,
    /// KIP-848's ConsumerGroupHeartbeat protocol: the coordinator assigns (server-side
    /// assignor, see [`ConsumerBuilder::group_remote_assignor`]) and partitions move
    /// incrementally, without group-wide rebalances. Needs Kafka 4.0 or later.
    Consumer,
}

impl GroupProtocol {
    /// The property value (`classic`, `consumer`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Consumer => "consumer",
        }
    }
}

impl FromStr for GroupProtocol {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "classic" => Ok(Self::Classic),
            "consumer" => Ok(Self::Consumer),
            _ => Err(crate::config::bad_value(
                "group.protocol",
                s,
                "classic or consumer",
            )),
        }
    }
}

/// Validated consumer settings.
#[derive(Clone)]
pub struct ConsumerConfig {
    pub(crate) group_id: Option<String>,
    pub(crate) group_instance_id: Option<String>,
    pub(crate) auto_offset_reset: AutoOffsetReset,
    pub(crate) enable_auto_commit: bool,
    pub(crate) auto_commit_interval: Duration,
    pub(crate) isolation_level: IsolationLevel,
    pub(crate) fetch_min_bytes: i32,
    pub(crate) fetch_max_wait: Duration,
    pub(crate) fetch_max_bytes: i32,
    pub(crate) max_partition_fetch_bytes: i32,
    pub(crate) max_poll_records: usize,
    pub(crate) max_buffered_bytes: usize,
    pub(crate) max_partition_buffered_bytes: usize,
    pub(crate) session_timeout: Duration,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) max_poll_interval: Duration,
    pub(crate) strategies: Vec<AssignmentStrategy>,
    pub(crate) group_protocol: GroupProtocol,
    pub(crate) group_remote_assignor: Option<String>,
    pub(crate) client_rack: Option<String>,
    pub(crate) check_crcs: bool,
    pub(crate) fetch_sessions: bool,
    pub(crate) listener: Option<Arc<dyn RebalanceListener>>,
    /// The consumer built its client (not one shared with others): closing the consumer
    /// ends the client's telemetry with a terminating push (KIP-714).
    pub(crate) owns_client: bool,
}

impl fmt::Debug for ConsumerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerConfig")
            .field("group_id", &self.group_id)
            .field("group_instance_id", &self.group_instance_id)
            .field("auto_offset_reset", &self.auto_offset_reset)
            .field("enable_auto_commit", &self.enable_auto_commit)
            .field("auto_commit_interval", &self.auto_commit_interval)
            .field("isolation_level", &self.isolation_level)
            .field("fetch_min_bytes", &self.fetch_min_bytes)
            .field("fetch_max_wait", &self.fetch_max_wait)
            .field("fetch_max_bytes", &self.fetch_max_bytes)
            .field("max_partition_fetch_bytes", &self.max_partition_fetch_bytes)
            .field("max_poll_records", &self.max_poll_records)
            .field("max_buffered_bytes", &self.max_buffered_bytes)
            .field(
                "max_partition_buffered_bytes",
                &self.max_partition_buffered_bytes,
            )
            .field("session_timeout", &self.session_timeout)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("max_poll_interval", &self.max_poll_interval)
            .field("strategies", &self.strategies)
            .field("group_protocol", &self.group_protocol)
            .field("group_remote_assignor", &self.group_remote_assignor)
            .field("client_rack", &self.client_rack)
            .field("check_crcs", &self.check_crcs)
            .field("fetch_sessions", &self.fetch_sessions)
            .field("listener", &self.listener.is_some())
            .finish()
    }
}

impl ConsumerConfig {
    /// The group id, if any.
    pub fn group_id(&self) -> Option<&str> {
        self.group_id.as_deref()
    }
    /// The static member id, if any.
    pub fn group_instance_id(&self) -> Option<&str> {
        self.group_instance_id.as_deref()
    }
    /// `auto.offset.reset`.
    pub fn auto_offset_reset(&self) -> AutoOffsetReset {
        self.auto_offset_reset
    }
    /// `enable.auto.commit`.
    pub fn enable_auto_commit(&self) -> bool {
        self.enable_auto_commit
    }
    /// `isolation.level`.
    pub fn isolation_level(&self) -> IsolationLevel {
        self.isolation_level
    }
    /// The assignment strategies, in preference order.
    pub fn strategies(&self) -> &[AssignmentStrategy] {
        &self.strategies
    }
    /// `group.protocol`.
    pub fn group_protocol(&self) -> GroupProtocol {
        self.group_protocol
    }
    /// `group.remote.assignor`: the server-side assignor asked for, if any.
    pub fn group_remote_assignor(&self) -> Option<&str> {
        self.group_remote_assignor.as_deref()
    }
    /// `client.rack`, if set.
    pub fn client_rack(&self) -> Option<&str> {
        self.client_rack.as_deref()
    }
}

/// Builds a [`Consumer`]. Every setting has the Java client's default; `build()`
/// validates them all at once and makes no connection (the first poll does).
///
/// ```no_run
/// # async fn run() -> kafka_client::Result<()> {
/// use kafka_client::consumer::{AutoOffsetReset, Consumer};
/// let consumer = Consumer::builder()
///     .bootstrap_servers(["127.0.0.1:9092"])
///     .group_id("billing")
///     .auto_offset_reset(AutoOffsetReset::Earliest)
///     .build()?;
/// consumer.subscribe(["orders"])?;
/// let batch = consumer.poll(std::time::Duration::from_secs(1)).await?;
/// for r in &batch {
///     println!("{}:{}:{}", r.topic, r.partition, r.offset);
/// }
/// consumer.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ConsumerBuilder {
    client: ClientSource,
    pub(crate) config: ConsumerConfig,
}

impl fmt::Debug for ConsumerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConsumerBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for ConsumerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ConsumerBuilder {
    /// A builder with the Java client's defaults.
    pub fn new() -> Self {
        Self {
            client: ClientSource::default(),
            config: ConsumerConfig {
                group_id: None,
                group_instance_id: None,
                auto_offset_reset: AutoOffsetReset::Latest,
                enable_auto_commit: true,
                auto_commit_interval: Duration::from_secs(5),
                isolation_level: IsolationLevel::ReadUncommitted,
                fetch_min_bytes: 1,
                fetch_max_wait: Duration::from_millis(500),
                fetch_max_bytes: 50 * 1024 * 1024,
                max_partition_fetch_bytes: 1024 * 1024,
                max_poll_records: 500,
                max_buffered_bytes: 64 * 1024 * 1024,
                max_partition_buffered_bytes: 4 * 1024 * 1024,
                session_timeout: Duration::from_secs(45),
                heartbeat_interval: Duration::from_secs(3),
                max_poll_interval: Duration::from_secs(300),
                strategies: vec![
                    AssignmentStrategy::Range,
                    AssignmentStrategy::CooperativeSticky,
                ],
                group_protocol: GroupProtocol::Classic,
                group_remote_assignor: None,
                client_rack: None,
                check_crcs: true,
                fetch_sessions: true,
                listener: None,
                owns_client: false,
            },
        }
    }

    /// Bootstrap servers (ignored when [`client`](Self::client) gives a shared client).
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client = self.client.with_bootstrap_servers(servers);
        self
    }

    /// Connection settings for the consumer's own client.
    pub fn client_builder(mut self, builder: ClientBuilder) -> Self {
        self.client = ClientSource::Builder(Box::new(builder));
        self
    }

    /// Shares an existing client (its connections and metadata cache).
    pub fn client(mut self, client: Client) -> Self {
        self.client = ClientSource::Shared(client);
        self
    }

    /// `group.id`: needed for `subscribe`, commits and committed offsets.
    pub fn group_id(mut self, id: impl Into<String>) -> Self {
        self.config.group_id = Some(id.into());
        self
    }

    /// `group.instance.id`: static membership. A member that restarts with the same id
    /// within the session timeout gets its partitions back without a rebalance; it does
    /// not leave the group on close.
    pub fn group_instance_id(mut self, id: impl Into<String>) -> Self {
        self.config.group_instance_id = Some(id.into());
        self
    }

    /// `auto.offset.reset`. Default [`AutoOffsetReset::Latest`].
    pub fn auto_offset_reset(mut self, reset: AutoOffsetReset) -> Self {
        self.config.auto_offset_reset = reset;
        self
    }

    /// `enable.auto.commit`: commit what `poll` has returned, every
    /// [`auto_commit_interval`](Self::auto_commit_interval), on revocation and on close.
    /// Default `true` (needs a group id).
    pub fn enable_auto_commit(mut self, on: bool) -> Self {
        self.config.enable_auto_commit = on;
        self
    }

    /// `auto.commit.interval.ms`. Default 5 s.
    pub fn auto_commit_interval(mut self, every: Duration) -> Self {
        self.config.auto_commit_interval = every;
        self
    }

    /// `isolation.level`. Default [`IsolationLevel::ReadUncommitted`].
    pub fn isolation_level(mut self, level: IsolationLevel) -> Self {
        self.config.isolation_level = level;
        self
    }

    /// `fetch.min.bytes`: the broker waits for this much data (or `fetch.max.wait`).
    /// Default 1.
    pub fn fetch_min_bytes(mut self, bytes: i32) -> Self {
        self.config.fetch_min_bytes = bytes;
        self
    }

    /// `fetch.max.wait.ms`. Default 500 ms.
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.config.fetch_max_wait = wait;
        self
    }

    /// `fetch.max.bytes`: the most one fetch response may carry. Default 50 MiB.
    pub fn fetch_max_bytes(mut self, bytes: i32) -> Self {
        self.config.fetch_max_bytes = bytes;
        self
    }

    /// `max.partition.fetch.bytes`: the most one partition contributes to a fetch.
    /// Default 1 MiB.
    pub fn max_partition_fetch_bytes(mut self, bytes: i32) -> Self {
        self.config.max_partition_fetch_bytes = bytes;
        self
    }

    /// `max.poll.records`: the most records one `poll` returns. Default 500.
    pub fn max_poll_records(mut self, n: usize) -> Self {
        self.config.max_poll_records = n;
        self
    }

    /// Bound on fetched-but-not-yet-polled bytes across all partitions (prefetch).
    /// Fetching pauses above it. Default 64 MiB.
    pub fn max_buffered_bytes(mut self, bytes: usize) -> Self {
        self.config.max_buffered_bytes = bytes;
        self
    }

    /// Fetch-ahead per partition: the next Fetch for a partition is sent while fewer
    /// than `bytes` fetched bytes of it wait for `poll`, so the round trip overlaps the
    /// draining of the previous response (librdkafka's `queued.min.messages`, in bytes).
    /// A partition then buffers at most `bytes` plus one response
    /// (`max.partition.fetch.bytes`); [`max_buffered_bytes`](Self::max_buffered_bytes)
    /// still caps the total. `1` fetches a partition only once its buffered data is
    /// drained (the Java consumer's behaviour). Default 4 MiB.
    pub fn max_partition_buffered_bytes(mut self, bytes: usize) -> Self {
        self.config.max_partition_buffered_bytes = bytes;
        self
    }

    /// `session.timeout.ms`. Default 45 s.
    pub fn session_timeout(mut self, t: Duration) -> Self {
        self.config.session_timeout = t;
        self
    }

    /// `heartbeat.interval.ms`. Default 3 s.
    pub fn heartbeat_interval(mut self, t: Duration) -> Self {
        self.config.heartbeat_interval = t;
        self
    }

    /// `max.poll.interval.ms`: the most time between polls before the member leaves the
    /// group (and the rebalance timeout). Default 5 minutes.
    pub fn max_poll_interval(mut self, t: Duration) -> Self {
        self.config.max_poll_interval = t;
        self
    }

    /// `partition.assignment.strategy`, in preference order. Default
    /// `[Range, CooperativeSticky]` (the Java default).
    pub fn assignment_strategies(
        mut self,
        strategies: impl IntoIterator<Item = AssignmentStrategy>,
    ) -> Self {
        self.config.strategies = strategies.into_iter().collect();
        self
    }

    /// `group.protocol`: [`GroupProtocol::Classic`] (default) or
    /// [`GroupProtocol::Consumer`] (KIP-848). Only subscribed consumers are affected.
    pub fn group_protocol(mut self, protocol: GroupProtocol) -> Self {
        self.config.group_protocol = protocol;
        self
    }

    /// `group.remote.assignor`: the coordinator's assignor for the consumer protocol
    /// (Kafka ships `uniform` and `range`). Default: the broker's default (`uniform`).
    /// Ignored by the classic protocol, which uses
    /// [`assignment_strategies`](Self::assignment_strategies).
    pub fn group_remote_assignor(mut self, assignor: impl Into<String>) -> Self {
        self.config.group_remote_assignor = Some(assignor.into());
        self
    }

    /// `client.rack`: the rack this consumer runs in, sent to the consumer protocol's
    /// coordinator for rack-aware assignment.
    pub fn client_rack(mut self, rack: impl Into<String>) -> Self {
        self.config.client_rack = Some(rack.into());
        self
    }

    /// `check.crcs`: verify each batch's CRC-32C. Default `true`.
    pub fn check_crcs(mut self, on: bool) -> Self {
        self.config.check_crcs = on;
        self
    }

    /// Incremental fetch sessions (KIP-227): with `true` (the default, as the Java client
    /// always does) a Fetch carries only the partitions new to the broker's session or
    /// whose position moved; with `false` every Fetch is a full, sessionless request
    /// (epoch -1) naming every partition fetched from that broker, as a Fetch v4-6
    /// client would. Neither Java nor librdkafka has a property for this (Java always
    /// uses sessions, librdkafka never); it exists to measure what sessions save and to
    /// get out of the way of a broker whose session cache misbehaves.
    pub fn fetch_sessions(mut self, on: bool) -> Self {
        self.config.fetch_sessions = on;
        self
    }

    /// The rebalance listener, called on assignment, revocation and loss.
    pub fn rebalance_listener(mut self, listener: Arc<dyn RebalanceListener>) -> Self {
        self.config.listener = Some(listener);
        self
    }

    /// Builds from Java-style properties: the client's keys (see
    /// [`ClientBuilder::apply_properties`]) and `group.id`, `group.instance.id`,
    /// `auto.offset.reset`, `enable.auto.commit`, `auto.commit.interval.ms`,
    /// `isolation.level`, `fetch.min.bytes`, `fetch.max.wait.ms`, `fetch.max.bytes`,
    /// `max.partition.fetch.bytes`, `max.poll.records`, `session.timeout.ms`,
    /// `heartbeat.interval.ms`, `max.poll.interval.ms`, `partition.assignment.strategy`,
    /// `group.protocol`, `group.remote.assignor`, `client.rack`, `check.crcs`. Any other key is rejected, named in the error.
    pub fn from_properties(props: crate::config::Properties) -> Result<Self> {
        super::properties::builder_from_properties(props)
    }

    /// Validates the settings.
    pub fn build_config(&self) -> Result<ConsumerConfig> {
        let c = self.config.clone();
        let bad = |m: String| Err(Error::Config(m));
        if c.group_id.as_deref() == Some("") {
            return bad("group.id must not be empty".into());
        }
        if c.group_instance_id.as_deref() == Some("") {
            return bad("group.instance.id must not be empty".into());
        }
        if c.group_instance_id.is_some() && c.group_id.is_none() {
            return bad("group.instance.id needs group.id".into());
        }
        if c.fetch_min_bytes < 1 {
            return bad("fetch.min.bytes must be at least 1".into());
        }
        if c.fetch_max_bytes < 1024 || c.max_partition_fetch_bytes < 1 {
            return bad(
                "fetch.max.bytes must be at least 1024 and max.partition.fetch.bytes positive"
                    .into(),
            );
        }
        if c.max_partition_buffered_bytes == 0 {
            return bad("max_partition_buffered_bytes must be at least 1".into());
        }
        if c.max_poll_records == 0 {
            return bad("max.poll.records must be at least 1".into());
        }
        if c.fetch_max_wait > Duration::from_secs(i32::MAX as u64 / 1000) {
            return bad("fetch.max.wait.ms is too large".into());
        }
        if c.heartbeat_interval.is_zero() || c.heartbeat_interval >= c.session_timeout {
            return bad(format!(
                "heartbeat.interval ({:?}) must be positive and below session.timeout ({:?})",
                c.heartbeat_interval, c.session_timeout
            ));
        }
        let max_ms = Duration::from_millis(i32::MAX as u64);
        if c.session_timeout > max_ms || c.max_poll_interval > max_ms {
            return bad("session.timeout and max.poll.interval must fit in i32 ms".into());
        }
        if c.max_poll_interval.is_zero() || c.auto_commit_interval.is_zero() {
            return bad("max.poll.interval and auto.commit.interval must be positive".into());
        }
        if c.group_remote_assignor
            .as_deref()
            .is_some_and(|a| a.trim().is_empty())
        {
            return bad("group.remote.assignor must not be empty".into());
        }
        if c.client_rack.as_deref() == Some("") {
            return bad("client.rack must not be empty".into());
        }
        if c.strategies.is_empty() {
            return bad("partition.assignment.strategy must name at least one strategy".into());
        }
        Ok(c)
    }

    /// The validated settings and the client, without starting anything (unit tests
    /// build the consumer's state from them).
    pub(crate) fn into_parts(self) -> Result<(crate::client::Client, ConsumerConfig)> {
        let mut config = self.build_config()?;
        config.owns_client = matches!(self.client, ClientSource::Builder(_));
        let client = self.client.into_client()?;
        Ok((client, config))
    }

    /// Validates the settings and starts the consumer's background tasks. Needs a tokio
    /// runtime; makes no connection yet.
    pub fn build(self) -> Result<Consumer> {
        let (client, config) = self.into_parts()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config("Consumer::build must be called inside a tokio runtime".into())
        })?;
        Ok(Consumer::start(client, config, runtime))
    }
}
