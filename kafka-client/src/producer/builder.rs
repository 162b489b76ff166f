//! [`ProducerBuilder`]: typed producer settings, validated once in `build()`.

use std::time::Duration;

use super::Producer;
use super::partitioner::{Adaptive, Partitioning, StickyRules};
use crate::client::Client;
use crate::config::ClientBuilder;
use crate::error::{Error, Result};
use crate::records::Compression;

/// How many acknowledgements the leader waits for before answering (`acks`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Acks {
    /// `acks=0`: no answer at all; records are "delivered" once written to the socket,
    /// with offset -1.
    None,
    /// `acks=1`: the leader wrote the records to its log.
    Leader,
    /// `acks=all` (`-1`): every in-sync replica has them (the Java default).
    #[default]
    All,
}

impl Acks {
    /// The value of the Produce request's `acks` field.
    pub fn as_i16(self) -> i16 {
        match self {
            Acks::None => 0,
            Acks::Leader => 1,
            Acks::All => -1,
        }
    }

    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_lowercase().as_str() {
            "0" => Some(Acks::None),
            "1" => Some(Acks::Leader),
            "all" | "-1" => Some(Acks::All),
            _ => None,
        }
    }
}

/// Validated producer settings.
#[derive(Clone, Debug)]
pub(crate) struct ProducerConfig {
    pub acks: Acks,
    pub linger: Duration,
    pub batch_size: usize,
    pub buffer_memory: usize,
    pub compression: Compression,
    pub retries: u32,
    pub delivery_timeout: Duration,
    pub max_in_flight: usize,
    /// Whether batches carry a producer id, epoch and sequence numbers.
    pub idempotent: bool,
    pub max_request_size: usize,
    pub max_block: Duration,
    pub partitioning: Partitioning,
    /// How keyless records stick (batch size, KIP-794, ignored keys).
    pub sticky: StickyRules,
    pub request_timeout: Duration,
    /// Set for a [`TransactionalProducer`](super::TransactionalProducer).
    pub transactional: Option<TxnConfig>,
}

/// A transactional producer's settings.
#[derive(Clone, Debug)]
pub(crate) struct TxnConfig {
    pub id: String,
    pub timeout: Duration,
}

/// Builds a [`Producer`]. Defaults follow the Java client (4.x): `acks=all`, linger
/// 5 ms, `batch.size` 16 KiB, `buffer.memory` 32 MiB, no compression, retries until
/// `delivery.timeout` (120 s), 5 requests in flight per broker, `max.request.size`
/// 1 MiB, `max.block` 60 s.
///
/// ```no_run
/// # async fn run() -> kafka_client::Result<()> {
/// use std::time::Duration;
/// use kafka_client::producer::{Acks, Producer, ProducerRecord};
/// use kafka_client::records::Compression;
///
/// let producer = Producer::builder()
///     .bootstrap_servers(["127.0.0.1:9092"])
///     .acks(Acks::All)
///     .linger(Duration::from_millis(10))
///     .compression(Compression::Lz4)
///     .build()?;
/// let meta = producer
///     .send_and_wait(ProducerRecord::new("orders").with_key("k").with_value("v"))
///     .await?;
/// println!("written at {}-{}@{}", meta.topic, meta.partition, meta.offset);
/// producer.close(Duration::from_secs(5)).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct ProducerBuilder {
    client: ClientBuilder,
    client_settings: Vec<&'static str>,
    existing: Option<Client>,
    acks: Acks,
    linger: Duration,
    batch_size: usize,
    buffer_memory: usize,
    compression: Compression,
    retries: u32,
    delivery_timeout: Duration,
    max_in_flight: usize,
    enable_idempotence: Option<bool>,
    max_request_size: usize,
    max_block: Duration,
    partitioning: Partitioning,
    adaptive: Adaptive,
    ignore_keys: bool,
    transactional_id: Option<String>,
    transaction_timeout: Duration,
}

impl Default for ProducerBuilder {
    fn default() -> Self {
        ProducerBuilder {
            client: ClientBuilder::new().client_id("kafka-rs-producer"),
            client_settings: Vec::new(),
            existing: None,
            acks: Acks::All,
            linger: Duration::from_millis(5),
            batch_size: 16 * 1024,
            buffer_memory: 32 * 1024 * 1024,
            compression: Compression::None,
            retries: u32::MAX,
            delivery_timeout: Duration::from_secs(120),
            max_in_flight: 5,
            enable_idempotence: None,
            max_request_size: 1024 * 1024,
            max_block: Duration::from_secs(60),
            partitioning: Partitioning::Default,
            adaptive: Adaptive::default(),
            ignore_keys: false,
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
        }
    }
}

impl ProducerBuilder {
    /// A builder with the Java client's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    fn client_setting(
        mut self,
        name: &'static str,
        f: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> Self {
        self.client = f(self.client);
        self.client_settings.push(name);
        self
    }

    /// Bootstrap servers (`bootstrap.servers`).
    pub fn bootstrap_servers<I, S>(self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.client_setting("bootstrap.servers", |c| c.bootstrap_servers(servers))
    }

    /// The client id (`client.id`). Default `kafka-rs-producer`.
    pub fn client_id(self, id: impl Into<String>) -> Self {
        self.client_setting("client.id", |c| c.client_id(id))
    }

    /// How long one Produce request may wait for its answer, and how long the broker may
    /// wait for replicas (`request.timeout.ms`). Default 30 s.
    pub fn request_timeout(self, t: Duration) -> Self {
        self.client_setting("request.timeout", |c| c.request_timeout(t))
    }

    /// Every connection-level setting at once (replaces the ones set before).
    pub fn client_config(mut self, client: ClientBuilder) -> Self {
        self.client = client;
        self.client_settings.push("client config");
        self
    }

    /// Produces through an existing [`Client`] (sharing its connections and metadata)
    /// instead of building one. Connection-level settings then come from that client;
    /// setting them here too is a configuration error.
    pub fn client(mut self, client: Client) -> Self {
        self.existing = Some(client);
        self
    }

    /// Acknowledgements to wait for (`acks`). Default [`Acks::All`].
    pub fn acks(mut self, acks: Acks) -> Self {
        self.acks = acks;
        self
    }

    /// How long a batch waits for more records before it is sent (`linger.ms`).
    /// Default 5 ms.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.linger = linger;
        self
    }

    /// Target size of a partition's batch in bytes (`batch.size`). Default 16384.
    pub fn batch_size(mut self, bytes: usize) -> Self {
        self.batch_size = bytes;
        self
    }

    /// Bytes of records the producer holds before `send` waits (`buffer.memory`).
    /// Default 32 MiB.
    pub fn buffer_memory(mut self, bytes: usize) -> Self {
        self.buffer_memory = bytes;
        self
    }

    /// Batch compression (`compression.type`). Default none.
    pub fn compression(mut self, compression: Compression) -> Self {
        self.compression = compression;
        self
    }

    /// How many times a batch is retried after a retriable error (`retries`). Default
    /// unlimited: `delivery.timeout` bounds retries instead.
    pub fn retries(mut self, retries: u32) -> Self {
        self.retries = retries;
        self
    }

    /// The longest a record may take from `send` to acknowledgement, retries included
    /// (`delivery.timeout.ms`). Must be at least linger + request timeout. Default 120 s.
    pub fn delivery_timeout(mut self, t: Duration) -> Self {
        self.delivery_timeout = t;
        self
    }

    /// Produce requests in flight per broker connection
    /// (`max.in.flight.requests.per.connection`). Default 5.
    ///
    /// With more than one, a batch that fails and is retried may land after a later
    /// batch of the same partition that was already in flight (the Java client has the
    /// same limit without idempotence). Set 1 for strict per-partition order.
    pub fn max_in_flight(mut self, n: usize) -> Self {
        self.max_in_flight = n;
        self
    }

    /// Idempotence (`enable.idempotence`): the producer gets a producer id and numbers
    /// each partition's batches, so retries never write duplicates. Default on, as in the
    /// Java client; when not set explicitly, `acks` other than `all` or `max.in.flight`
    /// above 5 turn it off silently; when set to `true`, they are a configuration error.
    pub fn enable_idempotence(mut self, on: bool) -> Self {
        self.enable_idempotence = Some(on);
        self
    }

    /// The largest Produce request, and so the largest record (`max.request.size`).
    /// A larger record fails at `send`. Default 1 MiB.
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.max_request_size = bytes;
        self
    }

    /// How long `send` may wait for topic metadata or buffer space (`max.block.ms`).
    /// Default 60 s.
    pub fn max_block(mut self, t: Duration) -> Self {
        self.max_block = t;
        self
    }

    /// How records without an explicit partition are spread (`partitioner`).
    pub fn partitioning(mut self, partitioning: Partitioning) -> Self {
        self.partitioning = partitioning;
        self
    }

    /// Sets the key-hash-or-sticky / sticky / round-robin / custom partitioner.
    /// Same as [`partitioning`](Self::partitioning).
    pub fn partitioner(self, partitioning: Partitioning) -> Self {
        self.partitioning(partitioning)
    }

    /// KIP-794's adaptive partitioning (`partitioner.adaptive.partitioning.enable`,
    /// default on, as in Java): when a keyless record's sticky partition changes, the
    /// next one is drawn with a weight that falls as that partition's queue of waiting
    /// batches grows, so keyless records go less to a slow broker. Off: drawn uniformly
    /// among partitions with a leader. Built-in partitioners only.
    pub fn adaptive_partitioning(mut self, enabled: bool) -> Self {
        self.adaptive.enabled = enabled;
        self
    }

    /// `partitioner.availability.timeout.ms`: with adaptive partitioning, a partition
    /// holding batches that its broker's sender has not been able to take for this long
    /// gets no new keyless records until it drains. Zero (the default, as in Java)
    /// turns this off.
    pub fn partitioner_availability_timeout(mut self, timeout: Duration) -> Self {
        self.adaptive.availability_timeout = (!timeout.is_zero()).then_some(timeout);
        self
    }

    /// `partitioner.ignore.keys` (default false): place keyed records as keyless ones
    /// (sticky), for throughput when per-key order does not matter. Built-in
    /// partitioners only; a custom partitioner still sees the key.
    pub fn partitioner_ignore_keys(mut self, ignore: bool) -> Self {
        self.ignore_keys = ignore;
        self
    }

    pub(crate) fn client_builder_mut(&mut self) -> &mut ClientBuilder {
        &mut self.client
    }

    /// Validates every setting and creates the producer. No connection is made yet.
    ///
    /// Background tasks start on the first `send`, so a producer may be built outside a
    /// tokio runtime, but must be used inside one.
    pub fn build(self) -> Result<Producer> {
        if let Some(id) = &self.transactional_id {
            return Err(Error::Config(format!(
                "transactional.id {id:?} is set: build a TransactionalProducer with build_transactional()"
            )));
        }
        self.build_inner()
    }

    /// `transactional.id` (Java `transactional.id`): the identity that survives restarts;
    /// a new producer with the same id fences older ones. Only for
    /// [`build_transactional`](Self::build_transactional).
    pub fn transactional_id(mut self, id: impl Into<String>) -> Self {
        self.transactional_id = Some(id.into());
        self
    }

    /// `transaction.timeout.ms`: how long the coordinator lets a transaction stay open
    /// before aborting it. Default 60 s.
    pub fn transaction_timeout(mut self, timeout: Duration) -> Self {
        self.transaction_timeout = timeout;
        self
    }

    /// Builds a [`TransactionalProducer`](super::TransactionalProducer): needs
    /// [`transactional_id`](Self::transactional_id), implies idempotence (acks=all, at
    /// most 5 in flight), and runs InitProducerId, which fences older instances with the
    /// same id and completes or aborts a transaction they left open.
    pub async fn build_transactional(mut self) -> Result<super::TransactionalProducer> {
        let Some(id) = self.transactional_id.take() else {
            return Err(Error::Config(
                "build_transactional needs a transactional.id".into(),
            ));
        };
        if id.is_empty() {
            return Err(Error::Config("transactional.id must not be empty".into()));
        }
        if self.enable_idempotence == Some(false) {
            return Err(Error::Config(
                "a transactional producer is idempotent: enable.idempotence cannot be false".into(),
            ));
        }
        let ms = self.transaction_timeout.as_millis();
        if ms == 0 || ms > i32::MAX as u128 {
            return Err(Error::Config(format!(
                "transaction.timeout {:?} is outside 1 ms..={} ms",
                self.transaction_timeout,
                i32::MAX
            )));
        }
        self.enable_idempotence = Some(true);
        let timeout = self.transaction_timeout;
        let producer = self.build_inner_with(Some(TxnConfig { id, timeout }))?;
        super::TransactionalProducer::init(producer).await
    }

    fn build_inner(self) -> Result<Producer> {
        self.build_inner_with(None)
    }

    fn build_inner_with(self, transactional: Option<TxnConfig>) -> Result<Producer> {
        let bad = |m: String| Err(Error::Config(m));
        let (client, owns_client) = match self.existing {
            Some(c) => {
                if !self.client_settings.is_empty() {
                    return bad(format!(
                        "{} cannot be set together with an existing client",
                        self.client_settings.join(", ")
                    ));
                }
                (c, false)
            }
            None => (self.client.build()?, true),
        };
        if self.batch_size == 0 || self.batch_size > i32::MAX as usize {
            return bad(format!(
                "batch.size {} is outside 1..={}",
                self.batch_size,
                i32::MAX
            ));
        }
        if self.max_request_size < 1024 || self.max_request_size > i32::MAX as usize {
            return bad(format!(
                "max.request.size {} is outside 1024..={}",
                self.max_request_size,
                i32::MAX
            ));
        }
        if self.buffer_memory < 1024 || self.buffer_memory > (usize::MAX >> 4) {
            return bad(format!(
                "buffer.memory {} is outside 1024..={}",
                self.buffer_memory,
                usize::MAX >> 4
            ));
        }
        if self.max_in_flight == 0 || self.max_in_flight > 1000 {
            return bad(format!(
                "max.in.flight.requests.per.connection {} is outside 1..=1000",
                self.max_in_flight
            ));
        }
        let compatible = self.acks == Acks::All && self.max_in_flight <= 5;
        let idempotent = match self.enable_idempotence {
            Some(true) if !compatible => {
                return bad(format!(
                    "enable.idempotence requires acks=all and max.in.flight.requests.per.connection <= 5 (got acks={:?}, max.in.flight={})",
                    self.acks, self.max_in_flight
                ));
            }
            Some(on) => on,
            None => compatible,
        };
        let request_timeout = client.config().request_timeout();
        if self.delivery_timeout < self.linger + request_timeout {
            return bad(format!(
                "delivery.timeout ({:?}) must be at least linger ({:?}) + request.timeout ({:?})",
                self.delivery_timeout, self.linger, request_timeout
            ));
        }
        if self.linger > Duration::from_secs(3600) {
            return bad(format!("linger {:?} is over an hour", self.linger));
        }
        if request_timeout.as_millis() > i32::MAX as u128 {
            return bad("request.timeout does not fit the protocol's i32 milliseconds".into());
        }
        let config = ProducerConfig {
            acks: self.acks,
            linger: self.linger,
            batch_size: self.batch_size,
            buffer_memory: self.buffer_memory,
            compression: self.compression,
            retries: self.retries,
            delivery_timeout: self.delivery_timeout,
            max_in_flight: self.max_in_flight,
            idempotent,
            max_request_size: self.max_request_size,
            max_block: self.max_block,
            partitioning: self.partitioning,
            sticky: StickyRules {
                batch_size: self.batch_size,
                adaptive: self.adaptive,
                ignore_keys: self.ignore_keys,
            },
            request_timeout,
            transactional,
        };
        Ok(Producer::new(client, owns_client, config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> ProducerBuilder {
        ProducerBuilder::new().bootstrap_servers(["127.0.0.1:9092"])
    }

    #[test]
    fn defaults_build() {
        assert!(base().build().is_ok());
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let cases: Vec<(ProducerBuilder, &str)> = vec![
            (base().batch_size(0), "batch.size"),
            (base().max_request_size(10), "max.request.size"),
            (base().buffer_memory(1), "buffer.memory"),
            (base().max_in_flight(0), "max.in.flight"),
            (
                base().delivery_timeout(Duration::from_secs(1)),
                "delivery.timeout",
            ),
            (ProducerBuilder::new(), "bootstrap.servers"),
            (
                base().client(
                    Client::builder()
                        .bootstrap_servers(["a:1"])
                        .build()
                        .unwrap(),
                ),
                "bootstrap.servers cannot be set together",
            ),
        ];
        for (b, needle) in cases {
            let err = b.build().unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }

    #[test]
    fn acks_parse() {
        assert_eq!(Acks::parse("all"), Some(Acks::All));
        assert_eq!(Acks::parse("-1"), Some(Acks::All));
        assert_eq!(Acks::parse("0"), Some(Acks::None));
        assert_eq!(Acks::parse("1"), Some(Acks::Leader));
        assert_eq!(Acks::parse("2"), None);
        assert_eq!(Acks::All.as_i16(), -1);
    }
}
