//! Statistics on demand: counters kept in relaxed atomics (a few adds per request or
//! batch, never per record), read only when the application asks for a snapshot.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use crate::types::TopicPartition;

/// Network figures of one [`crate::Client`] (shared by every producer, consumer and
/// admin built on it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct NetworkStats {
    /// Connections set up successfully.
    pub connections_opened: u64,
    /// Connection set-ups that failed.
    pub connection_errors: u64,
    /// SASL sessions renewed in band on a live connection (KIP-368).
    pub reauthentications: u64,
    /// Requests sent.
    pub requests: u64,
    /// Requests that got no usable response.
    pub request_errors: u64,
    /// Requests sent and not yet answered, now.
    pub requests_in_flight: u64,
    /// Sum of request latencies (divide by `requests` for the mean).
    pub request_latency_total: Duration,
    /// Responses with a non-zero throttle time.
    pub throttled_responses: u64,
    /// Sum of throttle times the brokers asked for.
    pub throttle_time_total: Duration,
    /// Metadata requests sent (each attempt, bootstrap included).
    pub metadata_requests: u64,
    /// Partitions moved to a new leader by a leader hint in a Fetch or Produce answer
    /// (KIP-951), without a Metadata request.
    pub leader_hints: u64,
    /// Times the client went back to its bootstrap servers because no known broker
    /// answered Metadata (KIP-899 rebootstrap).
    pub rebootstraps: u64,
}

/// A producer's figures at one moment. See `docs/metrics.md` for each one's meaning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProducerStats {
    /// Records sent in Produce requests (a retried record counts again).
    pub records_sent: u64,
    /// Records acknowledged.
    pub records_acked: u64,
    /// Records whose delivery failed for good.
    pub records_failed: u64,
    /// Encoded record-batch bytes sent.
    pub bytes_sent: u64,
    /// Batches sent.
    pub batches_sent: u64,
    /// Produce requests sent.
    pub produce_requests: u64,
    /// Batches queued again after a retriable error.
    pub retries: u64,
    /// Bytes of `buffer.memory` in use now.
    pub buffer_memory_in_use: u64,
    /// `buffer.memory`.
    pub buffer_memory_capacity: u64,
    /// The client's network figures (shared with whatever else uses that client).
    pub network: NetworkStats,
}

/// A consumer's figures at one moment. See `docs/metrics.md` for each one's meaning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConsumerStats {
    /// Records returned by `poll`.
    pub records_fetched: u64,
    /// Record-batch bytes received in Fetch responses.
    pub bytes_fetched: u64,
    /// Fetch requests answered.
    pub fetch_requests: u64,
    /// Fetch requests answered, by the node id of the broker that answered (the
    /// leaders, or the preferred read replicas of KIP-392 follower fetching).
    pub fetch_requests_by_broker: BTreeMap<i32, u64>,
    /// Sum of fetch latencies (divide by `fetch_requests` for the mean).
    pub fetch_latency_total: Duration,
    /// Fetch requests sent in full: sessionless, or opening a fetch session (KIP-227).
    pub fetch_requests_full: u64,
    /// Incremental Fetch requests sent in a fetch session (only the changed partitions).
    pub fetch_requests_incremental: u64,
    /// Fetch sessions the broker lost or refused (evicted from its cache, an epoch
    /// mismatch); each is followed by a full request.
    pub fetch_session_resets: u64,
    /// Completed group joins.
    pub rebalances: u64,
    /// Successful offset commits.
    pub commits: u64,
    /// Failed offset commits.
    pub commit_failures: u64,
    /// Lag per assigned partition whose high watermark is known: high watermark (last
    /// stable offset under `read_committed`) minus the position.
    pub lag: BTreeMap<TopicPartition, i64>,
    /// The client's network figures (shared with whatever else uses that client).
    pub network: NetworkStats,
}

#[derive(Debug, Default)]
pub(crate) struct NetCounters {
    pub connections_opened: AtomicU64,
    pub connection_errors: AtomicU64,
    pub reauthentications: AtomicU64,
    pub requests: AtomicU64,
    pub request_errors: AtomicU64,
    pub in_flight: AtomicI64,
    pub latency_us: AtomicU64,
    pub throttled: AtomicU64,
    pub throttle_ms: AtomicU64,
    pub metadata_requests: AtomicU64,
    pub leader_hints: AtomicU64,
    pub rebootstraps: AtomicU64,
}

impl NetCounters {
    pub(crate) fn snapshot(&self) -> NetworkStats {
        NetworkStats {
            connections_opened: self.connections_opened.load(Relaxed),
            connection_errors: self.connection_errors.load(Relaxed),
            reauthentications: self.reauthentications.load(Relaxed),
            requests: self.requests.load(Relaxed),
            request_errors: self.request_errors.load(Relaxed),
            requests_in_flight: self.in_flight.load(Relaxed).max(0) as u64,
            request_latency_total: Duration::from_micros(self.latency_us.load(Relaxed)),
            throttled_responses: self.throttled.load(Relaxed),
            throttle_time_total: Duration::from_millis(self.throttle_ms.load(Relaxed)),
            metadata_requests: self.metadata_requests.load(Relaxed),
            leader_hints: self.leader_hints.load(Relaxed),
            rebootstraps: self.rebootstraps.load(Relaxed),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct ProducerCounters {
    pub records_sent: AtomicU64,
    pub records_acked: AtomicU64,
    pub records_failed: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub batches_sent: AtomicU64,
    pub requests: AtomicU64,
    pub retries: AtomicU64,
}

#[derive(Debug, Default)]
pub(crate) struct ConsumerCounters {
    pub records_fetched: AtomicU64,
    pub bytes_fetched: AtomicU64,
    pub fetch_requests: AtomicU64,
    pub fetch_latency_us: AtomicU64,
    pub fetch_requests_full: AtomicU64,
    pub fetch_requests_incremental: AtomicU64,
    pub fetch_session_resets: AtomicU64,
    pub rebalances: AtomicU64,
    pub commits: AtomicU64,
    pub commit_failures: AtomicU64,
    pub fetch_requests_by_broker: std::sync::Mutex<BTreeMap<i32, u64>>,
}

impl ProducerCounters {
    pub(crate) fn snapshot(&self, network: NetworkStats) -> ProducerStats {
        ProducerStats {
            records_sent: self.records_sent.load(Relaxed),
            records_acked: self.records_acked.load(Relaxed),
            records_failed: self.records_failed.load(Relaxed),
            bytes_sent: self.bytes_sent.load(Relaxed),
            batches_sent: self.batches_sent.load(Relaxed),
            produce_requests: self.requests.load(Relaxed),
            retries: self.retries.load(Relaxed),
            buffer_memory_in_use: 0,
            buffer_memory_capacity: 0,
            network,
        }
    }
}

impl ConsumerCounters {
    pub(crate) fn snapshot(&self, network: NetworkStats) -> ConsumerStats {
        ConsumerStats {
            records_fetched: self.records_fetched.load(Relaxed),
            bytes_fetched: self.bytes_fetched.load(Relaxed),
            fetch_requests: self.fetch_requests.load(Relaxed),
            fetch_requests_by_broker: self
                .fetch_requests_by_broker
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            fetch_latency_total: Duration::from_micros(self.fetch_latency_us.load(Relaxed)),
            fetch_requests_full: self.fetch_requests_full.load(Relaxed),
            fetch_requests_incremental: self.fetch_requests_incremental.load(Relaxed),
            fetch_session_resets: self.fetch_session_resets.load(Relaxed),
            rebalances: self.rebalances.load(Relaxed),
            commits: self.commits.load(Relaxed),
            commit_failures: self.commit_failures.load(Relaxed),
            lag: BTreeMap::new(),
            network,
        }
    }
}
