//! Hooks: callbacks for custom instrumentation, as franz-go's hooks.
//!
//! Implement [`Hooks`] (every method has a no-op default, so implement only what you
//! need) and set it with [`crate::ClientBuilder::hooks`]. Hooks run inline on the
//! client's tasks: keep them short and never block (hand work to a channel instead).
//! They never see credentials: SASL exchanges happen before `on_connect` and are not
//! reported as requests.

use std::time::Duration;

use kafka_protocol::messages::ApiKey;

/// Callbacks the client makes at points of interest. Every method defaults to doing
/// nothing.
pub trait Hooks: Send + Sync + 'static {
    /// A connection finished its set-up (TCP, TLS, ApiVersions, SASL), or failed to.
    fn on_connect(&self, event: &ConnectEvent<'_>) {
        let _ = event;
    }
    /// A request was handed to the connection's writer (it goes out in the next write).
    fn on_request_written(&self, event: &RequestWritten<'_>) {
        let _ = event;
    }
    /// A response was read off the socket and matched to its request.
    fn on_response_read(&self, event: &ResponseRead<'_>) {
        let _ = event;
    }
    /// A producer batch was acknowledged by its partition leader.
    fn on_batch_produced(&self, event: &BatchProduced<'_>) {
        let _ = event;
    }
    /// The consumer received records of one partition in a fetch response.
    fn on_batch_fetched(&self, event: &BatchFetched<'_>) {
        let _ = event;
    }
    /// A broker answered with a non-zero throttle time (quota exceeded); the client
    /// holds back further requests on that connection for that long (KIP-219).
    fn on_throttle(&self, event: &ThrottleEvent<'_>) {
        let _ = event;
    }
}

/// The broker a connection goes to.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct BrokerRef<'a> {
    /// Node id (None for a bootstrap address not yet mapped to a node).
    pub id: Option<i32>,
    /// `host:port`.
    pub address: &'a str,
}

/// See [`Hooks::on_connect`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ConnectEvent<'a> {
    /// The broker.
    pub broker: BrokerRef<'a>,
    /// How long the set-up took (or ran until it failed).
    pub elapsed: Duration,
    /// The failure, when the set-up failed.
    pub error: Option<&'a crate::Error>,
}

/// See [`Hooks::on_request_written`].
#[derive(Debug)]
#[non_exhaustive]
pub struct RequestWritten<'a> {
    /// The broker.
    pub broker: BrokerRef<'a>,
    /// The request's API.
    pub api: ApiKey,
    /// The request's version.
    pub version: i16,
    /// The correlation id the connection gave it.
    pub correlation_id: i32,
    /// Frame size in bytes, length prefix included.
    pub bytes: usize,
}

/// See [`Hooks::on_response_read`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ResponseRead<'a> {
    /// The broker.
    pub broker: BrokerRef<'a>,
    /// The request's API.
    pub api: ApiKey,
    /// The request's version.
    pub version: i16,
    /// The correlation id.
    pub correlation_id: i32,
    /// Frame size in bytes, length prefix included.
    pub bytes: usize,
    /// From handing the request to the writer until the whole response was read.
    pub latency: Duration,
}

/// See [`Hooks::on_batch_produced`].
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchProduced<'a> {
    /// Leader's node id.
    pub broker: i32,
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Records in the batch.
    pub records: u32,
    /// Encoded (compressed) batch size in bytes.
    pub bytes: usize,
    /// Offset of the batch's first record (-1 with `acks=0`).
    pub base_offset: i64,
}

/// See [`Hooks::on_batch_fetched`].
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchFetched<'a> {
    /// Node id the records came from.
    pub broker: i32,
    /// Topic.
    pub topic: &'a str,
    /// Partition.
    pub partition: i32,
    /// Bytes of record batches received for the partition.
    pub bytes: usize,
    /// The partition's high watermark in the response.
    pub high_watermark: i64,
}

/// See [`Hooks::on_throttle`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ThrottleEvent<'a> {
    /// The broker that throttled.
    pub broker: BrokerRef<'a>,
    /// The API whose response carried the throttle time.
    pub api: ApiKey,
    /// The throttle time the broker asked for.
    pub throttle: Duration,
}
