//! What one measured run does: the client, the workload and the settings, passed from the
//! harness to a client child process as JSON, and the child's answer.

use serde::{Deserialize, Serialize};

/// The three clients under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum ClientKind {
    /// This SDK (`kafka-client`).
    Sdk,
    /// rust-rdkafka over librdkafka.
    Rdkafka,
    /// krafka, the other pure-Rust client (`krafka_client.rs`).
    Krafka,
    /// Kafka's Java client through the `kafka-tools` performance tools.
    Java,
}

impl ClientKind {
    /// The order in which each configuration runs its clients: A B C D, A B C D, ...
    pub const ALL: [ClientKind; 4] = [
        ClientKind::Sdk,
        ClientKind::Rdkafka,
        ClientKind::Krafka,
        ClientKind::Java,
    ];

    /// The label used in tables and charts.
    pub fn label(self) -> &'static str {
        match self {
            ClientKind::Sdk => "kafka-rs",
            ClientKind::Rdkafka => "rdkafka",
            ClientKind::Krafka => "krafka",
            ClientKind::Java => "java",
        }
    }
}

/// Batch compression under test.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Codec {
    /// No compression.
    #[default]
    None,
    /// LZ4 (Kafka's framed LZ4).
    Lz4,
    /// Zstandard (ours: pure Rust; librdkafka and krafka: the C library).
    Zstd,
    /// Gzip (ours and krafka: pure-Rust deflate; librdkafka: zlib).
    Gzip,
}

impl Codec {
    /// The `compression.type` value, as Java and librdkafka spell it.
    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
            Codec::Gzip => "gzip",
        }
    }

    /// The codec named `name` (as [`Codec::name`] spells it).
    pub fn parse(name: &str) -> Option<Codec> {
        [Codec::None, Codec::Lz4, Codec::Zstd, Codec::Gzip]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

/// Producer settings every client gets, explicitly (the clients' defaults differ).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProducerSettings {
    /// `linger.ms`.
    pub linger_ms: u64,
    /// `batch.size` in bytes.
    pub batch_bytes: usize,
    /// `max.request.size` (Java, ours) / `message.max.bytes` (librdkafka).
    pub max_request_bytes: usize,
    /// `max.in.flight.requests.per.connection`.
    pub in_flight: usize,
    /// `buffer.memory` (Java, ours) / `queue.buffering.max.kbytes` (librdkafka).
    pub buffer_bytes: usize,
    /// acks=all always; idempotence where the client has it and the row asks for it.
    pub idempotence: bool,
    /// Compression.
    pub codec: Codec,
}

impl ProducerSettings {
    /// The settings of the issue: linger 5 ms, 1 MiB batches, 5 in flight, 32 MiB of
    /// buffer memory (Java's default), acks=all.
    pub fn standard(codec: Codec, idempotence: bool) -> Self {
        ProducerSettings {
            linger_ms: 5,
            batch_bytes: 1 << 20,
            max_request_bytes: 2 << 20,
            in_flight: 5,
            buffer_bytes: 32 << 20,
            idempotence,
            codec,
        }
    }
}

/// Consumer prefetch bound given to the clients that have one (ours:
/// `max_buffered_bytes`; librdkafka: `queued.max.messages.kbytes`). Java has no byte
/// bound beyond `fetch.max.bytes` per fetch.
pub const CONSUMER_PREFETCH_BYTES: usize = 32 << 20;

/// One job for a client child process.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Job {
    /// Produce `records` records of `size` bytes as fast as possible; the clock stops at
    /// the last acknowledgement.
    Produce {
        /// Bootstrap servers.
        bootstrap: String,
        /// A fresh topic.
        topic: String,
        /// Records to send.
        records: u64,
        /// Value size in bytes.
        size: usize,
        /// Settings.
        settings: ProducerSettings,
    },
    /// Drain `records` records from every partition of a pre-filled topic (direct
    /// assignment, from the beginning).
    Consume {
        /// Bootstrap servers.
        bootstrap: String,
        /// The pre-filled topic.
        topic: String,
        /// Its partitions.
        partitions: i32,
        /// Records to read.
        records: u64,
        /// Value size in bytes (for a prefetch bound that counts records).
        #[serde(default)]
        size: usize,
    },
    /// End-to-end latency: a producer and a consumer in one process; each value carries
    /// its send time. `rate` records/s (paced in 1 ms steps), or 0 for one record at a
    /// time (the Java `EndToEndLatency` method: send, wait to consume it, repeat).
    Latency {
        /// Bootstrap servers.
        bootstrap: String,
        /// A fresh one-partition topic.
        topic: String,
        /// Records per second; 0 = sequential.
        rate: u64,
        /// Records measured.
        records: u64,
        /// Records sent first and not measured.
        warmup: u64,
        /// Value size in bytes (at least 8: the send time).
        size: usize,
        /// Settings.
        settings: ProducerSettings,
    },
    /// Share-group consumption (`share`): `members` share consumers in one process, a
    /// fresh group reading from the earliest offset, until `records` records came.
    ShareConsume {
        /// Bootstrap servers.
        bootstrap: String,
        /// The pre-filled topic.
        topic: String,
        /// The share group (configured to start at the earliest offset).
        group: String,
        /// Members.
        members: usize,
        /// Records to read.
        records: u64,
    },
    /// Partition scaling (`scale`): keyed records (an 8-byte counter as the key: uniform
    /// over the partitions by murmur2) to a topic of many partitions.
    ScaleProduce {
        /// Bootstrap servers.
        bootstrap: String,
        /// The topic.
        topic: String,
        /// Records to send.
        records: u64,
        /// Value size in bytes.
        size: usize,
        /// Settings.
        settings: ProducerSettings,
    },
    /// Partition scaling (`scale`): one group member subscribes to a topic of
    /// `partitions` partitions. With `records` > 0 it reads that many from the earliest
    /// offset (time to first record, then the rate); with 0 it starts at the end, waits
    /// for the whole assignment, polls the idle partitions for `idle_secs` and reports its
    /// resident memory.
    ScaleConsume {
        /// Bootstrap servers.
        bootstrap: String,
        /// The topic.
        topic: String,
        /// Its partitions.
        partitions: i32,
        /// A fresh group.
        group: String,
        /// Records to read (0: the idle run).
        records: u64,
        /// Incremental fetch sessions (ours only; librdkafka never uses them).
        sessions: bool,
        /// Seconds of idle polling (idle run).
        idle_secs: u64,
    },
    /// The null-broker ceiling: our producer against an in-process sink on another core.
    NullBroker {
        /// Records to send.
        records: u64,
        /// Value size.
        size: usize,
        /// Partitions of the sink's topic.
        partitions: i32,
        /// Which of our producer handles sends.
        #[serde(default)]
        handle: Handle,
        /// Keyed records (uniform keys over every partition, as `scale`'s producer)
        /// instead of unkeyed ones (which the sticky partitioner sends to one partition
        /// at a time).
        #[serde(default)]
        keyed: bool,
        /// Batch compression (none unless asked: `null-broker --codec C`, for profiling a
        /// codec's share of the send path).
        #[serde(default)]
        codec: Codec,
    },
    /// The consumer against the null broker: it answers every Fetch with the same
    /// pre-built batches, so only the consumer's own work is measured.
    NullConsume {
        /// Records to read.
        records: u64,
        /// Value size.
        size: usize,
        /// Partitions of the sink's topic (all assigned).
        partitions: i32,
        /// Records per batch in the answers.
        batch_records: usize,
        /// Codec of the batches.
        codec: Codec,
        /// Which of our consumer handles reads.
        #[serde(default)]
        handle: Handle,
    },
}

/// Which of our handles a null-broker job drives (`kafka-bench handles` compares them).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum Handle {
    /// The byte-level handles: `Producer::send`, `Consumer::poll`.
    #[default]
    Bytes,
    /// `Consumer::stream` (the producer has no stream; a producer job reads it as `Bytes`).
    Stream,
    /// kafka-serde's `TypedProducer::send` / `TypedConsumer::poll` with the no-op bytes
    /// serde (`BytesSerde`), so only the typed layer's own cost shows.
    Typed,
    /// `TypedConsumer::stream` with the no-op bytes serde.
    TypedStream,
}

impl Handle {
    /// Every consumer handle, in the order a round runs them.
    pub const CONSUMER: [Handle; 4] = [
        Handle::Bytes,
        Handle::Stream,
        Handle::Typed,
        Handle::TypedStream,
    ];
    /// Every producer handle.
    pub const PRODUCER: [Handle; 2] = [Handle::Bytes, Handle::Typed];

    /// The API a row names, for the consumer or the producer.
    pub fn label(self, consumer: bool) -> &'static str {
        match (self, consumer) {
            (Handle::Bytes, true) => "Consumer::poll",
            (Handle::Stream, true) => "Consumer::stream",
            (Handle::Typed, true) => "TypedConsumer::poll",
            (Handle::TypedStream, true) => "TypedConsumer::stream",
            (Handle::Typed, false) | (Handle::TypedStream, false) => "TypedProducer::send",
            (_, false) => "Producer::send",
        }
    }
}

/// What a client child prints (one JSON line on stdout) when its job is done.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ChildReport {
    /// Records produced / consumed / measured.
    pub records: u64,
    /// Value bytes.
    pub bytes: u64,
    /// Seconds from the first send (or poll) to the last acknowledgement (or record).
    pub secs: f64,
    /// Records that failed.
    pub errors: u64,
    /// Heap allocations per record in the second half of the run (counting allocator;
    /// Rust allocations only, so for rdkafka it misses librdkafka's own `malloc`s).
    pub allocs_per_record: Option<f64>,
    /// Heap bytes allocated per record in the same window.
    pub alloc_bytes_per_record: Option<f64>,
    /// Latency percentiles in microseconds (latency jobs).
    pub latency: Option<Percentiles>,
    /// CPU seconds of the client's own threads (null broker: the sink's thread excluded).
    pub client_cpu_secs: Option<f64>,
    /// Produce requests the sink saw (null broker).
    pub requests: Option<u64>,
    /// `poll` calls that returned records (consumer jobs of our SDK).
    #[serde(default)]
    pub polls: Option<u64>,
    /// Seconds from `subscribe` to the first record (`scale` consumer runs).
    #[serde(default)]
    pub first_record_secs: Option<f64>,
    /// Resident memory at the end of an idle run, MiB (`scale`).
    #[serde(default)]
    pub rss_now_mib: Option<f64>,
}

/// Latency percentiles in microseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50_us: f64,
    /// 99th percentile.
    pub p99_us: f64,
    /// 99.9th percentile.
    pub p999_us: f64,
    /// Maximum.
    pub max_us: f64,
    /// Samples.
    pub count: u64,
}

impl Percentiles {
    /// From an HdrHistogram of microseconds.
    pub fn from_histogram(h: &hdrhistogram::Histogram<u64>) -> Self {
        Percentiles {
            p50_us: h.value_at_quantile(0.50) as f64,
            p99_us: h.value_at_quantile(0.99) as f64,
            p999_us: h.value_at_quantile(0.999) as f64,
            max_us: h.max() as f64,
            count: h.len(),
        }
    }
}

/// A histogram of 1 µs .. 60 s at 3 significant digits.
pub fn latency_histogram() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}
