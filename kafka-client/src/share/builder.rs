//! [`ShareConsumerBuilder`]: typed share-consumer settings, validated once at
//! `build()`, with the Java `KafkaShareConsumer`'s defaults.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use crate::client::Client;
use crate::config::{ClientBuilder, ClientSource};
use crate::error::{Error, Result};

use super::ShareConsumer;
use super::record::AcknowledgementCommitCallback;

/// How delivered records are acknowledged (`share.acknowledgement.mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AcknowledgementMode {
    /// Every record of a poll not acknowledged otherwise is accepted when the next poll
    /// or commit begins (or at close). `acknowledge` may still release or reject
    /// records of the latest poll. The Java default.
    #[default]
    Implicit,
    /// The application acknowledges every record; a poll is refused while records of
    /// the previous one are unacknowledged (and still held).
    Explicit,
}

impl FromStr for AcknowledgementMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "implicit" => Ok(Self::Implicit),
            "explicit" => Ok(Self::Explicit),
            _ => Err(crate::config::bad_value(
                "share.acknowledgement.mode",
                s,
                "implicit or explicit",
            )),
        }
    }
}

/// How the broker acquires records for a fetch (`share.acquire.mode`, KIP-1206).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AcquireMode {
    /// Whole batches: a fetch may acquire somewhat more than `max.poll.records`
    /// (the surplus waits, locked, for the next poll). The Java default.
    #[default]
    BatchOptimized,
    /// At most `max.poll.records` records per fetch (ShareFetch v2, Kafka 4.2 and
    /// later; older brokers acquire whole batches).
    RecordLimit,
}

impl AcquireMode {
    pub(crate) fn wire(self) -> i8 {
        match self {
            Self::BatchOptimized => 0,
            Self::RecordLimit => 1,
        }
    }
}

impl FromStr for AcquireMode {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "batch_optimized" => Ok(Self::BatchOptimized),
            "record_limit" => Ok(Self::RecordLimit),
            _ => Err(crate::config::bad_value(
                "share.acquire.mode",
                s,
                "batch_optimized or record_limit",
            )),
        }
    }
}

/// Validated share-consumer settings.
#[derive(Clone)]
pub struct ShareConsumerConfig {
    pub(crate) group_id: String,
    pub(crate) acknowledgement_mode: AcknowledgementMode,
    pub(crate) acquire_mode: AcquireMode,
    pub(crate) max_poll_records: usize,
    pub(crate) fetch_min_bytes: i32,
    pub(crate) fetch_max_wait: Duration,
    pub(crate) fetch_max_bytes: i32,
    pub(crate) check_crcs: bool,
    pub(crate) callback: Option<Arc<dyn AcknowledgementCommitCallback>>,
}

impl fmt::Debug for ShareConsumerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareConsumerConfig")
            .field("group_id", &self.group_id)
            .field("acknowledgement_mode", &self.acknowledgement_mode)
            .field("acquire_mode", &self.acquire_mode)
            .field("max_poll_records", &self.max_poll_records)
            .field("fetch_min_bytes", &self.fetch_min_bytes)
            .field("fetch_max_wait", &self.fetch_max_wait)
            .field("fetch_max_bytes", &self.fetch_max_bytes)
            .field("check_crcs", &self.check_crcs)
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

impl ShareConsumerConfig {
    /// The share group.
    pub fn group_id(&self) -> &str {
        &self.group_id
    }
    /// `share.acknowledgement.mode`.
    pub fn acknowledgement_mode(&self) -> AcknowledgementMode {
        self.acknowledgement_mode
    }
    /// `share.acquire.mode`.
    pub fn acquire_mode(&self) -> AcquireMode {
        self.acquire_mode
    }
    /// `max.poll.records`.
    pub fn max_poll_records(&self) -> usize {
        self.max_poll_records
    }
}

/// Builds a [`ShareConsumer`]. `group.id` is required; everything else has the Java
/// client's default. `build()` validates all settings at once and makes no connection.
///
/// ```no_run
/// # async fn run() -> kafka_client::Result<()> {
/// use kafka_client::share::{AcknowledgeType, AcknowledgementMode, ShareConsumer};
/// let consumer = ShareConsumer::builder()
///     .bootstrap_servers(["127.0.0.1:9092"])
///     .group_id("workers")
///     .acknowledgement_mode(AcknowledgementMode::Explicit)
///     .build()?;
/// consumer.subscribe(["jobs"])?;
/// let records = consumer.poll(std::time::Duration::from_secs(1)).await?;
/// for r in &records {
///     println!("{}:{} delivered {} time(s)", r.partition, r.offset, r.delivery_count);
///     consumer.acknowledge(r, AcknowledgeType::Accept)?;
/// }
/// consumer.commit().await?;
/// consumer.close().await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ShareConsumerBuilder {
    client: ClientSource,
    group_id: Option<String>,
    config: ShareConsumerConfig,
}

impl fmt::Debug for ShareConsumerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShareConsumerBuilder")
            .field("group_id", &self.group_id)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Default for ShareConsumerBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl ShareConsumerBuilder {
    /// A builder with the Java defaults.
    pub fn new() -> Self {
        Self {
            client: ClientSource::default(),
            group_id: None,
            config: ShareConsumerConfig {
                group_id: String::new(),
                acknowledgement_mode: AcknowledgementMode::Implicit,
                acquire_mode: AcquireMode::BatchOptimized,
                max_poll_records: 500,
                fetch_min_bytes: 1,
                fetch_max_wait: Duration::from_millis(500),
                fetch_max_bytes: 50 * 1024 * 1024,
                check_crcs: true,
                callback: None,
            },
        }
    }

    /// The brokers to bootstrap from (ignored with [`client`](Self::client)).
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client = self.client.with_bootstrap_servers(servers);
        self
    }

    /// Client settings (security, timeouts, ...) for the consumer's own client.
    pub fn client_builder(mut self, builder: ClientBuilder) -> Self {
        self.client = ClientSource::Builder(Box::new(builder));
        self
    }

    /// Consumes through an existing client, sharing its connections and metadata.
    pub fn client(mut self, client: Client) -> Self {
        self.client = ClientSource::Shared(client);
        self
    }

    /// The share group (`group.id`; required).
    pub fn group_id(mut self, id: impl Into<String>) -> Self {
        self.group_id = Some(id.into());
        self
    }

    /// `share.acknowledgement.mode` (implicit by default).
    pub fn acknowledgement_mode(mut self, mode: AcknowledgementMode) -> Self {
        self.config.acknowledgement_mode = mode;
        self
    }

    /// `share.acquire.mode` (batch-optimized by default).
    pub fn acquire_mode(mut self, mode: AcquireMode) -> Self {
        self.config.acquire_mode = mode;
        self
    }

    /// Records one poll returns at most (`max.poll.records`, 500); also the records a
    /// fetch asks the broker to acquire.
    pub fn max_poll_records(mut self, n: usize) -> Self {
        self.config.max_poll_records = n;
        self
    }

    /// Bytes a fetch waits for (`fetch.min.bytes`, 1).
    pub fn fetch_min_bytes(mut self, bytes: i32) -> Self {
        self.config.fetch_min_bytes = bytes;
        self
    }

    /// Longest time the broker holds a fetch (`fetch.max.wait.ms`, 500 ms).
    pub fn fetch_max_wait(mut self, wait: Duration) -> Self {
        self.config.fetch_max_wait = wait;
        self
    }

    /// Bytes one fetch response may carry (`fetch.max.bytes`, 50 MiB).
    pub fn fetch_max_bytes(mut self, bytes: i32) -> Self {
        self.config.fetch_max_bytes = bytes;
        self
    }

    /// Verify each fetched batch's CRC-32C (`check.crcs`, true).
    pub fn check_crcs(mut self, on: bool) -> Self {
        self.config.check_crcs = on;
        self
    }

    /// Told the outcome of every acknowledgement the broker answers.
    pub fn acknowledgement_commit_callback(
        mut self,
        callback: Arc<dyn AcknowledgementCommitCallback>,
    ) -> Self {
        self.config.callback = Some(callback);
        self
    }

    /// A builder from Java-style properties (`group.id`, `share.acknowledgement.mode`,
    /// ...; the client's keys too). Unknown keys and malformed values fail, naming the key.
    pub fn from_properties(props: crate::config::Properties) -> Result<Self> {
        super::properties::builder_from_properties(props)
    }

    /// Validates the settings.
    pub fn build_config(&self) -> Result<ShareConsumerConfig> {
        let mut c = self.config.clone();
        let bad = |m: &str| Err(Error::Config(m.to_string()));
        match self.group_id.as_deref() {
            None | Some("") => return bad("a share consumer needs a non-empty group.id"),
            Some(g) => c.group_id = g.to_string(),
        }
        if c.max_poll_records == 0 || c.max_poll_records > i32::MAX as usize {
            return bad("max.poll.records must be between 1 and 2147483647");
        }
        if c.fetch_min_bytes < 1 {
            return bad("fetch.min.bytes must be at least 1");
        }
        if c.fetch_max_bytes < 1024 {
            return bad("fetch.max.bytes must be at least 1024");
        }
        if c.fetch_max_wait > Duration::from_millis(i32::MAX as u64) {
            return bad("fetch.max.wait.ms is too large");
        }
        Ok(c)
    }

    /// Validates the settings and starts the consumer's heartbeat task. Needs a tokio
    /// runtime; makes no connection until `subscribe`.
    pub fn build(self) -> Result<ShareConsumer> {
        let config = self.build_config()?;
        let client = self.client.into_client()?;
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config("ShareConsumer::build must be called inside a tokio runtime".into())
        })?;
        Ok(ShareConsumer::start(client, config, runtime))
    }
}
