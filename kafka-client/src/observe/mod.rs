//! Observability: `tracing` spans and events, metrics through the `metrics` facade,
//! statistics snapshots on demand, and [`Hooks`] for custom instrumentation.
//!
//! - **Tracing**: every request runs in a `kafka_request` span at `DEBUG` with the fields
//!   `api`, `version`, `broker` (address), `broker_id`, `correlation_id` and
//!   `latency_us`; connection set-up and loss, batch retries and rebalances
//!   (generation, assigned and revoked partitions) are `DEBUG` events. Nothing is logged
//!   at `INFO` or above per record or per request, and no credential is ever a field.
//! - **Metrics**: the names are in [`METRICS`] and in `docs/metrics.md`; install an
//!   exporter (a `metrics` recorder) before building clients.
//! - **Statistics**: [`crate::Producer::stats`], [`crate::Consumer::stats`] and
//!   [`crate::Client::stats`] read relaxed atomic counters.

mod hooks;
mod names;
mod stats;
mod windowed;

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use metrics::{Key, Label, Level, Metadata};

pub use hooks::{
    BatchFetched, BatchProduced, BrokerRef, ConnectEvent, Hooks, RequestWritten, ResponseRead,
    ThrottleEvent,
};
#[cfg(test)]
pub(crate) use names::metrics_markdown;
pub use names::*;
pub(crate) use stats::{ConsumerCounters, NetCounters, ProducerCounters};
pub use stats::{ConsumerStats, NetworkStats, ProducerStats};
pub(crate) use windowed::Windows;

/// A shared [`Hooks`] implementation, as stored in the client configuration.
#[derive(Clone)]
pub struct HooksRef(pub(crate) Arc<dyn Hooks>);

impl std::fmt::Debug for HooksRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooks")
    }
}

/// The counters and hooks of one client, shared by its connections and by the
/// producers and consumers built on it.
#[derive(Debug, Default)]
pub(crate) struct Telemetry {
    pub hooks: Option<HooksRef>,
    pub net: NetCounters,
    pub producer: ProducerCounters,
    pub consumer: ConsumerCounters,
    /// Windowed avg/max figures, pushed by client telemetry (KIP-714) only.
    pub windows: Windows,
    /// Metric keys with per-request labels, built once (see [`LabelKeys`]).
    keys: LabelKeys,
}

/// The metric keys whose labels name a broker, an API or a partition, built on first
/// use and kept: recording a request, a Fetch or a partition's lag then allocates
/// nothing for its labels (the macros build a key, a label vector and the label
/// strings on every call, a dozen allocations per request). The recorder is still asked
/// on every call, so one installed later is used at once. Bounded by the brokers, APIs
/// and partitions the client talks to.
#[derive(Debug, Default)]
struct LabelKeys {
    /// By broker label: the in-flight gauge, and per API the request counter, latency
    /// histogram and error counter.
    requests: Mutex<HashMap<String, BrokerKeys>>,
    /// Fetch latency, by broker id.
    fetch_latency: Mutex<HashMap<i32, Key>>,
    /// Consumer lag, by partition.
    lag: Mutex<HashMap<crate::types::TopicPartition, Key>>,
}

#[derive(Debug)]
struct BrokerKeys {
    in_flight: Key,
    apis: Vec<(ApiKey, ApiKeys)>,
}

#[derive(Debug)]
struct ApiKeys {
    requests: Key,
    latency: Key,
    errors: Key,
}

/// What the `metrics` macros would give as the metadata of these metrics.
static METADATA: Metadata<'static> =
    Metadata::new(module_path!(), Level::INFO, Some(module_path!()));

fn key(name: &'static str, labels: Vec<Label>) -> Key {
    Key::from_parts(name, labels)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl BrokerKeys {
    fn new(broker: &str) -> Self {
        BrokerKeys {
            in_flight: key(
                REQUESTS_IN_FLIGHT,
                vec![Label::new("broker", broker.to_owned())],
            ),
            apis: Vec::new(),
        }
    }

    fn api(&mut self, api: ApiKey, broker: &str) -> &ApiKeys {
        let at = match self.apis.iter().position(|(a, _)| *a == api) {
            Some(at) => at,
            None => {
                let name = api_name(api);
                let labels = || {
                    vec![
                        Label::new("api", name),
                        Label::new("broker", broker.to_owned()),
                    ]
                };
                self.apis.push((
                    api,
                    ApiKeys {
                        requests: key(REQUESTS, labels()),
                        latency: key(REQUEST_LATENCY, labels()),
                        errors: key(REQUEST_ERRORS, labels()),
                    },
                ));
                self.apis.len() - 1
            }
        };
        &self.apis[at].1
    }
}

impl LabelKeys {
    fn broker<R>(&self, broker: &str, f: impl FnOnce(&mut BrokerKeys) -> R) -> R {
        let mut map = lock(&self.requests);
        if let Some(keys) = map.get_mut(broker) {
            return f(keys);
        }
        f(map
            .entry(broker.to_owned())
            .or_insert_with(|| BrokerKeys::new(broker)))
    }
}

/// A static name for an API key, for metric labels (no allocation per request).
pub(crate) fn api_name(api: ApiKey) -> &'static str {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        (0..=i16::from(u8::MAX))
            .map(|k| match ApiKey::try_from(k) {
                Ok(a) => &*Box::leak(format!("{a:?}").into_boxed_str()),
                Err(()) => "Unknown",
            })
            .collect()
    });
    names.get(api as i16 as usize).copied().unwrap_or("Unknown")
}

fn secs(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn add_us(counter: &std::sync::atomic::AtomicU64, d: Duration) {
    counter.fetch_add(u64::try_from(d.as_micros()).unwrap_or(u64::MAX), Relaxed);
}

impl Telemetry {
    pub(crate) fn new(hooks: Option<HooksRef>) -> Self {
        Self {
            hooks,
            ..Self::default()
        }
    }

    pub(crate) fn hooks(&self) -> Option<&dyn Hooks> {
        self.hooks.as_ref().map(|h| &*h.0)
    }

    // ---- connections and requests ----

    pub(crate) fn connected(
        &self,
        broker: BrokerRef<'_>,
        elapsed: Duration,
        error: Option<&crate::Error>,
    ) {
        let label = broker_label(broker);
        if error.is_none() {
            self.net.connections_opened.fetch_add(1, Relaxed);
            metrics::counter!(CONNECTIONS_OPENED, "broker" => label).increment(1);
        } else {
            self.net.connection_errors.fetch_add(1, Relaxed);
            metrics::counter!(CONNECTION_ERRORS, "broker" => label).increment(1);
        }
        if let Some(h) = self.hooks() {
            h.on_connect(&ConnectEvent {
                broker,
                elapsed,
                error,
            });
        }
    }

    /// A SASL session renewed in band (KIP-368).
    pub(crate) fn reauthenticated(&self, broker: BrokerRef<'_>) {
        self.net.reauthentications.fetch_add(1, Relaxed);
        metrics::counter!(REAUTHENTICATIONS, "broker" => broker_label(broker)).increment(1);
    }

    pub(crate) fn request_started(&self, broker: &str) {
        self.net.requests.fetch_add(1, Relaxed);
        self.net.in_flight.fetch_add(1, Relaxed);
        self.keys.broker(broker, |k| {
            metrics::with_recorder(|r| r.register_gauge(&k.in_flight, &METADATA).increment(1.0));
        });
    }

    pub(crate) fn request_finished(&self, api: ApiKey, broker: &str, latency: Duration, ok: bool) {
        self.net.in_flight.fetch_sub(1, Relaxed);
        add_us(&self.net.latency_us, latency);
        if !ok {
            self.net.request_errors.fetch_add(1, Relaxed);
        } else if matches!(api, ApiKey::Produce | ApiKey::Fetch) {
            // The per-node request latencies the Java client pushes (producer: Produce,
            // consumer: Fetch); the label is the node id once the node is known.
            if let Ok(node) = broker.parse::<i32>() {
                self.windows
                    .node_latency(api == ApiKey::Produce, node, latency);
            }
        }
        self.keys.broker(broker, |k| {
            metrics::with_recorder(|r| r.register_gauge(&k.in_flight, &METADATA).decrement(1.0));
            let a = k.api(api, broker);
            metrics::with_recorder(|r| {
                r.register_counter(&a.requests, &METADATA).increment(1);
                r.register_histogram(&a.latency, &METADATA)
                    .record(secs(latency));
                if !ok {
                    r.register_counter(&a.errors, &METADATA).increment(1);
                }
            });
        });
    }

    pub(crate) fn throttled(&self, broker: BrokerRef<'_>, api: ApiKey, throttle: Duration) {
        self.net.throttled.fetch_add(1, Relaxed);
        self.net.throttle_ms.fetch_add(
            u64::try_from(throttle.as_millis()).unwrap_or(u64::MAX),
            Relaxed,
        );
        let label = broker_label(broker);
        let name = api_name(api);
        metrics::counter!(THROTTLED_RESPONSES, "api" => name, "broker" => label.clone())
            .increment(1);
        metrics::histogram!(THROTTLE_TIME, "api" => name, "broker" => label).record(secs(throttle));
        tracing::debug!(api = name, broker = broker.address, broker_id = ?broker.id,
            throttle_ms = throttle.as_millis() as u64, "throttled by the broker");
        if let Some(h) = self.hooks() {
            h.on_throttle(&ThrottleEvent {
                broker,
                api,
                throttle,
            });
        }
    }

    // ---- producer ----

    /// A Produce request is about to go out with these batches (records, bytes, time
    /// waited in the accumulator, each).
    pub(crate) fn produce_request(
        &self,
        batches: impl Iterator<Item = (u32, usize, Duration)> + Clone,
        memory_in_use: usize,
    ) {
        self.windows
            .queue_time(batches.clone().map(|(_, _, waited)| waited));
        let (mut records, mut bytes, mut count) = (0u64, 0u64, 0u64);
        for (r, b, _) in batches {
            records += u64::from(r);
            bytes += b as u64;
            count += 1;
            metrics::histogram!(PRODUCER_BATCH_SIZE).record(b as f64);
        }
        let p = &self.producer;
        p.requests.fetch_add(1, Relaxed);
        p.batches_sent.fetch_add(count, Relaxed);
        p.records_sent.fetch_add(records, Relaxed);
        p.bytes_sent.fetch_add(bytes, Relaxed);
        metrics::counter!(PRODUCER_RECORDS_SENT).increment(records);
        metrics::counter!(PRODUCER_BYTES_SENT).increment(bytes);
        metrics::histogram!(PRODUCER_RECORDS_PER_REQUEST).record(records as f64);
        metrics::gauge!(PRODUCER_BUFFER_MEMORY).set(memory_in_use as f64);
    }

    /// A batch was acknowledged.
    pub(crate) fn batch_acked(
        &self,
        broker: i32,
        topic: &str,
        partition: i32,
        records: u32,
        bytes: usize,
        base_offset: i64,
    ) {
        self.producer
            .records_acked
            .fetch_add(u64::from(records), Relaxed);
        metrics::counter!(PRODUCER_RECORDS_ACKED).increment(u64::from(records));
        if let Some(h) = self.hooks() {
            h.on_batch_produced(&BatchProduced {
                broker,
                topic,
                partition,
                records,
                bytes,
                base_offset,
            });
        }
    }

    /// A batch failed for good.
    pub(crate) fn batch_failed(&self, records: u32) {
        self.producer
            .records_failed
            .fetch_add(u64::from(records), Relaxed);
        metrics::counter!(PRODUCER_RECORDS_FAILED).increment(u64::from(records));
    }

    /// A batch is queued again after a retriable error.
    pub(crate) fn batch_retried(&self) {
        self.producer.retries.fetch_add(1, Relaxed);
        metrics::counter!(PRODUCER_RETRIES).increment(1);
    }

    // ---- consumer ----

    pub(crate) fn fetch_done(&self, broker: i32, latency: Duration) {
        self.consumer.fetch_requests.fetch_add(1, Relaxed);
        *lock(&self.consumer.fetch_requests_by_broker)
            .entry(broker)
            .or_default() += 1;
        add_us(&self.consumer.fetch_latency_us, latency);
        self.windows.fetch(latency);
        let mut keys = lock(&self.keys.fetch_latency);
        let key = keys.entry(broker).or_insert_with(|| {
            key(
                CONSUMER_FETCH_LATENCY,
                vec![Label::new("broker", broker.to_string())],
            )
        });
        metrics::with_recorder(|r| r.register_histogram(key, &METADATA).record(secs(latency)));
    }

    /// A Metadata request is about to be sent.
    pub(crate) fn metadata_request(&self) {
        self.net.metadata_requests.fetch_add(1, Relaxed);
    }

    /// The client went back to its bootstrap servers (KIP-899).
    pub(crate) fn rebootstrap(&self) {
        self.net.rebootstraps.fetch_add(1, Relaxed);
        metrics::counter!(REBOOTSTRAPS).increment(1);
    }

    /// A leader hint moved a partition (KIP-951).
    pub(crate) fn leader_hint_taken(&self) {
        self.net.leader_hints.fetch_add(1, Relaxed);
    }

    /// A Fetch request of a session (`full`: sessionless or opening one) was answered or
    /// failed; `reset`: the broker's session was lost or refused.
    pub(crate) fn fetch_session(&self, full: bool, reset: bool) {
        let c = &self.consumer;
        match full {
            true => c.fetch_requests_full.fetch_add(1, Relaxed),
            false => c.fetch_requests_incremental.fetch_add(1, Relaxed),
        };
        if reset {
            c.fetch_session_resets.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn lag(&self, tp: &crate::types::TopicPartition, lag: Option<i64>) {
        if let Some(lag) = lag {
            let mut keys = lock(&self.keys.lag);
            let key = match keys.get(tp) {
                Some(k) => k,
                None => keys.entry(tp.clone()).or_insert_with(|| {
                    key(
                        CONSUMER_LAG,
                        vec![
                            Label::new("topic", tp.topic.clone()),
                            Label::new("partition", tp.partition.to_string()),
                        ],
                    )
                }),
            };
            metrics::with_recorder(|r| r.register_gauge(key, &METADATA).set(lag as f64));
        }
    }

    pub(crate) fn partition_fetched(
        &self,
        broker: i32,
        topic: &str,
        partition: i32,
        bytes: usize,
        high_watermark: i64,
    ) {
        self.consumer.bytes_fetched.fetch_add(bytes as u64, Relaxed);
        metrics::counter!(CONSUMER_BYTES_FETCHED).increment(bytes as u64);
        if let Some(h) = self.hooks() {
            h.on_batch_fetched(&BatchFetched {
                broker,
                topic,
                partition,
                bytes,
                high_watermark,
            });
        }
    }

    pub(crate) fn records_polled(&self, n: usize) {
        if n > 0 {
            self.consumer.records_fetched.fetch_add(n as u64, Relaxed);
            metrics::counter!(CONSUMER_RECORDS_FETCHED).increment(n as u64);
        }
    }

    pub(crate) fn rebalanced(&self) {
        self.consumer.rebalances.fetch_add(1, Relaxed);
        metrics::counter!(CONSUMER_REBALANCES).increment(1);
    }

    pub(crate) fn committed(&self, ok: bool) {
        if ok {
            self.consumer.commits.fetch_add(1, Relaxed);
            metrics::counter!(CONSUMER_COMMITS).increment(1);
        } else {
            self.consumer.commit_failures.fetch_add(1, Relaxed);
            metrics::counter!(CONSUMER_COMMIT_FAILURES).increment(1);
        }
    }
}

/// The `broker` label: the node id, or the address before the node is known.
pub(crate) fn broker_label(broker: BrokerRef<'_>) -> String {
    match broker.id {
        Some(id) => id.to_string(),
        None => broker.address.to_owned(),
    }
}
