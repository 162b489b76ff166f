//! Every metric the client records, in one table: the names used in the code and the
//! table in `docs/metrics.md` both come from [`METRICS`] (a test checks that the doc is
//! current).

/// What kind of instrument a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// A monotonically increasing count.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// A distribution of observations.
    Histogram,
}

impl MetricKind {
    #[cfg(test)]
    fn as_str(self) -> &'static str {
        match self {
            MetricKind::Counter => "counter",
            MetricKind::Gauge => "gauge",
            MetricKind::Histogram => "histogram",
        }
    }
}

/// One metric: name, kind, labels and meaning.
#[derive(Debug, Clone, Copy)]
pub struct MetricDescriptor {
    /// The name passed to the `metrics` facade.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Label keys.
    pub labels: &'static [&'static str],
    /// Unit of the values.
    pub unit: &'static str,
    /// What it measures.
    pub help: &'static str,
}

macro_rules! metrics_table {
    ($( $konst:ident = $name:literal, $kind:ident, [$($label:literal),*], $unit:literal, $help:literal; )*) => {
        $(
            #[doc = $help]
            pub const $konst: &str = $name;
        )*
        /// Every metric the client records.
        pub const METRICS: &[MetricDescriptor] = &[
            $( MetricDescriptor {
                name: $name,
                kind: MetricKind::$kind,
                labels: &[$($label),*],
                unit: $unit,
                help: $help,
            }, )*
        ];
    };
}

metrics_table! {
    CONNECTIONS_OPENED = "kafka_client_connections_opened_total", Counter, ["broker"], "connections",
        "Connections set up (TCP, TLS, ApiVersions, SASL) successfully.";
    CONNECTION_ERRORS = "kafka_client_connection_errors_total", Counter, ["broker"], "connections",
        "Connection set-ups that failed.";
    REAUTHENTICATIONS = "kafka_client_reauthentications_total", Counter, ["broker"], "sessions",
        "SASL sessions renewed in band on a live connection (KIP-368 re-authentication).";
    REBOOTSTRAPS = "kafka_client_rebootstraps_total", Counter, [], "rebootstraps",
        "Times the client went back to its bootstrap servers because no known broker answered Metadata (KIP-899, `metadata.recovery.strategy=rebootstrap`).";
    REQUESTS = "kafka_client_requests_total", Counter, ["api", "broker"], "requests",
        "Requests sent, by API (e.g. `Produce`, `Fetch`) and broker (node id, or address before the node is known).";
    REQUEST_ERRORS = "kafka_client_request_errors_total", Counter, ["api", "broker"], "requests",
        "Requests that got no usable response (connection lost, timeout, undecodable response).";
    REQUEST_LATENCY = "kafka_client_request_latency_seconds", Histogram, ["api", "broker"], "seconds",
        "Time from queuing a request on its connection to decoding its response.";
    REQUESTS_IN_FLIGHT = "kafka_client_requests_in_flight", Gauge, ["broker"], "requests",
        "Requests sent and not yet answered.";
    THROTTLED_RESPONSES = "kafka_client_throttled_responses_total", Counter, ["api", "broker"], "responses",
        "Responses carrying a non-zero `throttle_time_ms` (a quota was exceeded).";
    THROTTLE_TIME = "kafka_client_throttle_time_seconds", Histogram, ["api", "broker"], "seconds",
        "Throttle time asked by the broker; the client waits this long before its next request on that connection (KIP-219).";
    PRODUCER_RECORDS_SENT = "kafka_producer_records_sent_total", Counter, [], "records",
        "Records sent in Produce requests (a retried record counts again).";
    PRODUCER_RECORDS_ACKED = "kafka_producer_records_acked_total", Counter, [], "records",
        "Records acknowledged by their partition leader (with `acks=0`: written to the socket).";
    PRODUCER_RECORDS_FAILED = "kafka_producer_records_failed_total", Counter, [], "records",
        "Records whose delivery failed for good (delivery timeout, non-retriable error, closed).";
    PRODUCER_BYTES_SENT = "kafka_producer_bytes_sent_total", Counter, [], "bytes",
        "Encoded (compressed) record-batch bytes sent in Produce requests.";
    PRODUCER_BATCH_SIZE = "kafka_producer_batch_size_bytes", Histogram, [], "bytes",
        "Encoded size of each batch sent.";
    PRODUCER_RECORDS_PER_REQUEST = "kafka_producer_records_per_request", Histogram, [], "records",
        "Records in each Produce request.";
    PRODUCER_RETRIES = "kafka_producer_retries_total", Counter, [], "batches",
        "Batches queued again after a retriable error.";
    PRODUCER_BUFFER_MEMORY = "kafka_producer_buffer_memory_bytes", Gauge, [], "bytes",
        "Bytes of `buffer.memory` in use by records not yet acknowledged (sampled at each Produce request).";
    CONSUMER_RECORDS_FETCHED = "kafka_consumer_records_fetched_total", Counter, [], "records",
        "Records returned to the application by `poll`.";
    CONSUMER_BYTES_FETCHED = "kafka_consumer_bytes_fetched_total", Counter, [], "bytes",
        "Record-batch bytes received in Fetch responses.";
    CONSUMER_FETCH_LATENCY = "kafka_consumer_fetch_latency_seconds", Histogram, ["broker"], "seconds",
        "Time for one Fetch request, long-poll wait included.";
    CONSUMER_LAG = "kafka_consumer_lag", Gauge, ["topic", "partition"], "records",
        "High watermark (last stable offset under `read_committed`) minus the fetch position, per assigned partition, updated at each fetch.";
    CONSUMER_REBALANCES = "kafka_consumer_rebalances_total", Counter, [], "rebalances",
        "Completed group joins (a new generation with its assignment).";
    CONSUMER_COMMITS = "kafka_consumer_commits_total", Counter, [], "commits",
        "Offset commits that succeeded.";
    CONSUMER_COMMIT_FAILURES = "kafka_consumer_commit_failures_total", Counter, [], "commits",
        "Offset commits that failed.";
}

/// A figure pushed only by client telemetry (KIP-714), under the name the Java client
/// pushes it by: an average or maximum over Java's default sample window (two samples of
/// 30 s), as a gauge.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PushedOnly {
    /// The OTLP name.
    pub name: &'static str,
    /// Point attributes (read by the `docs/metrics.md` generator).
    #[cfg_attr(not(test), allow(dead_code))]
    pub attributes: &'static [&'static str],
    /// What it measures.
    pub help: &'static str,
}

/// Produce request latency per node, average (ms).
pub(crate) const PRODUCER_NODE_LATENCY_AVG: &str =
    "org.apache.kafka.producer.node.request.latency.avg";
/// Produce request latency per node, maximum (ms).
pub(crate) const PRODUCER_NODE_LATENCY_MAX: &str =
    "org.apache.kafka.producer.node.request.latency.max";
/// Fetch request latency per node, average (ms).
pub(crate) const CONSUMER_NODE_LATENCY_AVG: &str =
    "org.apache.kafka.consumer.node.request.latency.avg";
/// Fetch request latency per node, maximum (ms).
pub(crate) const CONSUMER_NODE_LATENCY_MAX: &str =
    "org.apache.kafka.consumer.node.request.latency.max";
/// Time batches waited in the accumulator, average (ms).
pub(crate) const PRODUCER_QUEUE_TIME_AVG: &str = "org.apache.kafka.producer.record.queue.time.avg";
/// Time batches waited in the accumulator, maximum (ms).
pub(crate) const PRODUCER_QUEUE_TIME_MAX: &str = "org.apache.kafka.producer.record.queue.time.max";
/// Fetch latency, average (ms).
pub(crate) const CONSUMER_FETCH_LATENCY_AVG: &str =
    "org.apache.kafka.consumer.fetch.manager.fetch.latency.avg";
/// Fetch latency, maximum (ms).
pub(crate) const CONSUMER_FETCH_LATENCY_MAX: &str =
    "org.apache.kafka.consumer.fetch.manager.fetch.latency.max";

/// Every figure pushed only by client telemetry.
pub(crate) const PUSHED_ONLY: &[PushedOnly] = &[
    PushedOnly {
        name: PRODUCER_NODE_LATENCY_AVG,
        attributes: &["node_id"],
        help: "Average time of a Produce request to this node (`node_id` = `node-<id>`), in ms.",
    },
    PushedOnly {
        name: PRODUCER_NODE_LATENCY_MAX,
        attributes: &["node_id"],
        help: "Longest Produce request to this node, in ms.",
    },
    PushedOnly {
        name: CONSUMER_NODE_LATENCY_AVG,
        attributes: &["node_id"],
        help: "Average time of a Fetch request to this node (long-poll wait included), in ms.",
    },
    PushedOnly {
        name: CONSUMER_NODE_LATENCY_MAX,
        attributes: &["node_id"],
        help: "Longest Fetch request to this node, in ms.",
    },
    PushedOnly {
        name: PRODUCER_QUEUE_TIME_AVG,
        attributes: &[],
        help: "Average time a batch waited in the accumulator before its Produce request, in ms.",
    },
    PushedOnly {
        name: PRODUCER_QUEUE_TIME_MAX,
        attributes: &[],
        help: "Longest time a batch waited in the accumulator, in ms.",
    },
    PushedOnly {
        name: CONSUMER_FETCH_LATENCY_AVG,
        attributes: &[],
        help: "Average time of a Fetch request, any node, in ms.",
    },
    PushedOnly {
        name: CONSUMER_FETCH_LATENCY_MAX,
        attributes: &[],
        help: "Longest Fetch request, any node, in ms.",
    },
];

/// The metric table as Markdown, as `docs/metrics.md` holds it.
#[cfg(test)]
pub(crate) fn metrics_markdown() -> String {
    let mut out = String::from(
        "# Metrics\n\n\
         <!-- Generated from kafka-client/src/observe/names.rs by \
         `UPDATE_DOCS=1 cargo test -p kafka-client --lib docs_gen`; do not edit. -->\n\n\
         The client records these through the [`metrics`](https://docs.rs/metrics) facade.\n\
         They cost next to nothing until the application installs a recorder (an exporter),\n\
         for example `metrics-exporter-prometheus` as `examples/src/bin/metrics.rs` does.\n\
         Install the recorder before building clients. The same figures are available without\n\
         a metrics stack from `Producer::stats()`, `Consumer::stats()` and `Client::stats()`.\n\n\
         | name | kind | labels | unit | meaning |\n|---|---|---|---|---|\n",
    );
    for m in METRICS {
        let labels = if m.labels.is_empty() {
            "-".to_owned()
        } else {
            m.labels
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            m.name,
            m.kind.as_str(),
            labels,
            m.unit,
            m.help
        ));
    }
    out.push_str(
        "\n## Pushed to the broker only (client telemetry, KIP-714)\n\n\
         With `enable.metrics.push` (on by default) the client pushes the metrics the \
         cluster's\nclient-metrics subscription asks for (by name prefix): the counters and \
         gauges above under\nthe Java client's namespace (`kafka_producer_records_sent_total` \
         as\n`org.apache.kafka.producer.records.sent`; histograms are not pushed), and these, \
         which only\nthe push carries. As in the Java client they are gauges of doubles, over \
         the last 30 to 60 s\n(two samples of 30 s); one with no value in that window is not \
         pushed.\n\n\
         | name | attributes | unit | meaning |\n|---|---|---|---|\n",
    );
    for m in PUSHED_ONLY {
        let attributes = if m.attributes.is_empty() {
            "-".to_owned()
        } else {
            m.attributes
                .iter()
                .map(|l| format!("`{l}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "| `{}` | {} | ms | {} |\n",
            m.name, attributes, m.help
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_prometheus_safe() {
        let mut seen = std::collections::HashSet::new();
        for m in METRICS {
            assert!(seen.insert(m.name), "duplicate {}", m.name);
            assert!(
                m.name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c.is_ascii_digit()),
                "{}",
                m.name
            );
            assert_eq!(m.kind == MetricKind::Counter, m.name.ends_with("_total"));
        }
    }
}
