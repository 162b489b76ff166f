//! Client telemetry (KIP-714): with `enable.metrics.push` (on by default, as in the Java
//! client) a [`crate::Client`] asks the cluster which of its metrics it wants
//! (GetTelemetrySubscriptions) and pushes them, as an OTLP `MetricsData` protobuf
//! (`otlp.rs`), compressed as the subscription allows, every push interval
//! (PushTelemetry), with one last terminating push when it closes. The schedule and the
//! error handling are the state machine in `state.rs`.
//!
//! The pushed metrics are the client's own counters (`docs/metrics.md`) under OTLP names:
//! `kafka_client_requests_total` is pushed as `org.apache.kafka.client.requests`,
//! `kafka_producer_records_sent_total` as `org.apache.kafka.producer.records.sent`.
//!
//! Besides those, the push carries what the Java client pushes and the `metrics` facade
//! has as histograms: per-node request latencies (`org.apache.kafka.producer.node.
//! request.latency.avg` / `.max` with a `node_id` attribute, `node-<id>` as Java writes
//! it; the consumer's for Fetch), the producer's record queue time and the consumer's
//! fetch latency, as average and maximum gauges over Java's default sample window
//! (`observe::names::PUSHED_ONLY`, `observe/windowed.rs`).
//!
//! A broker without a telemetry plugin does not offer the two APIs: the client then
//! stops at once. Telemetry never fails, delays or logs above DEBUG for a user call.

mod otlp;
mod state;

use std::sync::{Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use kafka_protocol::messages::{ApiKey, GetTelemetrySubscriptionsRequest, PushTelemetryRequest};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::client::{Client, Target};
use crate::error::ErrorCode;
use crate::net::Connection;
use crate::observe::Telemetry;
use crate::observe::{self as names, METRICS, MetricKind};
use crate::records::Compression;

use otlp::{Point, PointValue, Temporality};
use state::{Action, Answer, PushState, Subscription};

/// The push task of one client: started after the first Metadata answer, told to close
/// by [`MetricsPush::close`].
#[derive(Debug, Default)]
pub(crate) struct MetricsPush {
    task: Mutex<Option<(JoinHandle<()>, watch::Sender<bool>)>>,
    /// Closed: never started again.
    ended: std::sync::atomic::AtomicBool,
}

impl MetricsPush {
    /// Starts the task (once) for `client`, when a tokio runtime runs this thread.
    pub(crate) fn start(&self, client: &Client) {
        let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
        if task.is_some()
            || self.ended.load(std::sync::atomic::Ordering::Acquire)
            || tokio::runtime::Handle::try_current().is_err()
        {
            return;
        }
        let (tx, rx) = watch::channel(false);
        let handle = tokio::spawn(run(client.downgrade(), rx));
        *task = Some((handle, tx));
    }

    /// Asks for the terminating push and waits for the task to end, at most `timeout`.
    pub(crate) async fn close(&self, timeout: Duration) {
        let task = {
            let mut task = self.task.lock().unwrap_or_else(|e| e.into_inner());
            self.ended.store(true, std::sync::atomic::Ordering::Release);
            task.take()
        };
        if let Some((handle, tx)) = task {
            let _ = tx.send(true);
            let abort = handle.abort_handle();
            if tokio::time::timeout(timeout, handle).await.is_err() {
                abort.abort();
            }
        }
    }

    /// Tells the task to make its terminating push and end, without waiting.
    pub(crate) fn close_now(&self) {
        self.ended.store(true, std::sync::atomic::Ordering::Release);
        if let Some((_, tx)) = &*self.task.lock().unwrap_or_else(|e| e.into_inner()) {
            let _ = tx.send(true);
        }
    }
}

/// Nanoseconds since the Unix epoch.
fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// The OTLP name of one of the client's metrics: `kafka_client_requests_total` →
/// `org.apache.kafka.client.requests`.
fn otlp_name(name: &str) -> String {
    let core = name.strip_prefix("kafka_").unwrap_or(name);
    let core = core.strip_suffix("_total").unwrap_or(core);
    format!("org.apache.kafka.{}", core.replace('_', "."))
}

/// The client's counters and gauges now, as points (histograms are not pushed), then
/// the windowed averages and maxima.
fn points(t: &Telemetry) -> Vec<Point> {
    let mut points = counter_points(t);
    points.extend(windowed_points(t, std::time::Instant::now()));
    points
}

/// The windowed figures with values in their window: per node for request latencies.
fn windowed_points(t: &Telemetry, now: std::time::Instant) -> Vec<Point> {
    let w = &t.windows;
    let gauge = |name: &'static str, value: f64, attributes: Vec<(&'static str, String)>| {
        let help = names::PUSHED_ONLY
            .iter()
            .find(|m| m.name == name)
            .map_or("", |m| m.help);
        Point {
            name: name.to_owned(),
            description: help,
            unit: "ms",
            monotonic: false,
            value: PointValue::Double(value),
            attributes,
        }
    };
    let mut out = Vec::new();
    for (produce, avg, max) in [
        (
            true,
            names::PRODUCER_NODE_LATENCY_AVG,
            names::PRODUCER_NODE_LATENCY_MAX,
        ),
        (
            false,
            names::CONSUMER_NODE_LATENCY_AVG,
            names::CONSUMER_NODE_LATENCY_MAX,
        ),
    ] {
        for (node, a, m) in w.nodes(produce, now) {
            let node_id = || vec![("node_id", format!("node-{node}"))];
            out.push(gauge(avg, a, node_id()));
            out.push(gauge(max, m, node_id()));
        }
    }
    for (figures, avg, max) in [
        (
            w.queue_times(now),
            names::PRODUCER_QUEUE_TIME_AVG,
            names::PRODUCER_QUEUE_TIME_MAX,
        ),
        (
            w.fetch_latencies(now),
            names::CONSUMER_FETCH_LATENCY_AVG,
            names::CONSUMER_FETCH_LATENCY_MAX,
        ),
    ] {
        if let Some((a, m)) = figures {
            out.push(gauge(avg, a, Vec::new()));
            out.push(gauge(max, m, Vec::new()));
        }
    }
    out
}

/// The client's counters and gauges of the `metrics` table.
fn counter_points(t: &Telemetry) -> Vec<Point> {
    let net = t.net.snapshot();
    let producer = t.producer.snapshot(net.clone());
    let consumer = t.consumer.snapshot(net.clone());
    let value = |name: &str| -> Option<i64> {
        let v = match name {
            names::CONNECTIONS_OPENED => net.connections_opened,
            names::CONNECTION_ERRORS => net.connection_errors,
            names::REBOOTSTRAPS => net.rebootstraps,
            names::REQUESTS => net.requests,
            names::REQUEST_ERRORS => net.request_errors,
            names::REQUESTS_IN_FLIGHT => net.requests_in_flight,
            names::THROTTLED_RESPONSES => net.throttled_responses,
            names::PRODUCER_RECORDS_SENT => producer.records_sent,
            names::PRODUCER_RECORDS_ACKED => producer.records_acked,
            names::PRODUCER_RECORDS_FAILED => producer.records_failed,
            names::PRODUCER_BYTES_SENT => producer.bytes_sent,
            names::PRODUCER_RETRIES => producer.retries,
            names::CONSUMER_RECORDS_FETCHED => consumer.records_fetched,
            names::CONSUMER_BYTES_FETCHED => consumer.bytes_fetched,
            names::CONSUMER_REBALANCES => consumer.rebalances,
            names::CONSUMER_COMMITS => consumer.commits,
            names::CONSUMER_COMMIT_FAILURES => consumer.commit_failures,
            _ => return None,
        };
        Some(i64::try_from(v).unwrap_or(i64::MAX))
    };
    METRICS
        .iter()
        .filter(|m| m.kind != MetricKind::Histogram)
        .filter_map(|m| {
            Some(Point {
                name: otlp_name(m.name),
                description: m.help,
                unit: m.unit,
                monotonic: m.kind == MetricKind::Counter,
                value: PointValue::Int(value(m.name)?),
                attributes: Vec::new(),
            })
        })
        .collect()
}

/// What the task keeps between pushes.
struct Pusher {
    client: Weak<crate::client::Inner>,
    state: PushState,
    /// The connection the last request went over: a terminating push after the client
    /// closed (no new connections then) still has one.
    conn: Option<Connection>,
    started_nanos: u64,
    last_push_nanos: u64,
    /// The last cumulative value of each sum, for delta temporality.
    last: std::collections::HashMap<String, i64>,
}

async fn run(client: Weak<crate::client::Inner>, mut closing: watch::Receiver<bool>) {
    let retry = match client.upgrade() {
        Some(inner) => Client::from_inner(inner).config().retry_backoff_max(),
        None => return,
    };
    let now = unix_nanos();
    let mut p = Pusher {
        client,
        state: PushState::new(Instant::now(), retry),
        conn: None,
        started_nanos: now,
        last_push_nanos: now,
        last: Default::default(),
    };
    loop {
        if *closing.borrow() {
            p.state.close();
        }
        match p.state.next(Instant::now()) {
            Action::Stop => break,
            Action::WaitAnswer => break, // requests run in this task: cannot happen
            Action::WaitUntil(t) => {
                tokio::select! {
                    () = tokio::time::sleep_until(t) => {}
                    r = closing.changed() => {
                        if r.is_err() {
                            p.state.close();
                        }
                    }
                }
            }
            Action::Subscribe => {
                let answer = p.subscribe().await;
                let jitter = 0.5 + fastrand::f64();
                p.state.on_subscription(Instant::now(), answer, jitter);
            }
            Action::Push { terminating } => {
                let answer = p.push(terminating).await;
                p.state.on_push(Instant::now(), answer);
            }
        }
    }
    tracing::debug!(pushes = p.state.pushes(), "client telemetry ended");
}

impl Pusher {
    /// A connection for the next request: the last one while it lives, else any broker
    /// (none once the client closed).
    async fn connection(&mut self) -> Option<Connection> {
        if let Some(c) = self.conn.as_ref().filter(|c| !c.is_closed()) {
            return Some(c.clone());
        }
        let client = Client::from_inner(self.client.upgrade()?);
        let conn = client.target_connection(Target::Any).await.ok()?;
        self.conn = Some(conn.clone());
        Some(conn)
    }

    fn unsupported(conn: &Connection, api: ApiKey) -> bool {
        conn.versions().range(api).is_none()
    }

    async fn subscribe(&mut self) -> Answer<Subscription> {
        let Some(conn) = self.connection().await else {
            return Answer::Failed;
        };
        if Self::unsupported(&conn, ApiKey::GetTelemetrySubscriptions) {
            tracing::debug!(
                broker = conn.address(),
                "the broker takes no client telemetry"
            );
            return Answer::Error(ErrorCode::UNSUPPORTED_VERSION);
        }
        let req = GetTelemetrySubscriptionsRequest::default()
            .with_client_instance_id(self.state.instance_id());
        match conn.request(&req).await {
            Err(e) => {
                tracing::debug!(error = %e, "GetTelemetrySubscriptions failed");
                self.conn = None;
                Answer::Failed
            }
            Ok(r) => match ErrorCode::from_code(r.error_code) {
                Some(code) => Answer::Error(code),
                None => Answer::Ok(Subscription {
                    instance_id: r.client_instance_id,
                    id: r.subscription_id,
                    accepted: r
                        .accepted_compression_types
                        .iter()
                        .filter_map(|c| u8::try_from(*c).ok().and_then(Compression::from_id))
                        .collect(),
                    interval: Duration::from_millis(u64::try_from(r.push_interval_ms).unwrap_or(0))
                        .max(Duration::from_millis(100)),
                    max_bytes: usize::try_from(r.telemetry_max_bytes).unwrap_or(0),
                    delta: r.delta_temporality,
                    metrics: r.requested_metrics.iter().map(|m| m.to_string()).collect(),
                }),
            },
        }
    }

    /// The subscribed metrics now, encoded and compressed.
    fn payload(&mut self, sub: &Subscription, telemetry: &Telemetry) -> (Compression, Vec<u8>) {
        let now = unix_nanos();
        let mut pts: Vec<Point> = points(telemetry)
            .into_iter()
            .filter(|p| sub.wants(&p.name))
            .collect();
        let (temporality, start) = if sub.delta {
            for p in pts.iter_mut().filter(|p| p.monotonic) {
                if let PointValue::Int(v) = &mut p.value {
                    let before = self.last.insert(p.name.clone(), *v).unwrap_or(0);
                    *v -= before;
                }
            }
            (Temporality::Delta, self.last_push_nanos)
        } else {
            (Temporality::Cumulative, self.started_nanos)
        };
        self.last_push_nanos = now;
        let resource = [("client.software.name", "kafka-rs".to_string())];
        let raw = otlp::encode(&resource, &pts, temporality, start, now);
        let codec = sub.compression();
        let mut out = Vec::new();
        match crate::records::codec::compress(codec, &raw, &mut out) {
            Ok(()) => (codec, out),
            Err(_) => (Compression::None, raw),
        }
    }

    async fn push(&mut self, terminating: bool) -> Answer<()> {
        let Some(sub) = self.state.subscription().cloned() else {
            return Answer::Failed;
        };
        let Some(conn) = self.connection().await else {
            return Answer::Failed;
        };
        if Self::unsupported(&conn, ApiKey::PushTelemetry) {
            return Answer::Error(ErrorCode::UNSUPPORTED_VERSION);
        }
        let (codec, metrics) = match self.client.upgrade() {
            Some(inner) => {
                let client = Client::from_inner(inner);
                self.payload(&sub, client.telemetry())
            }
            None => return Answer::Failed,
        };
        if sub.max_bytes > 0 && metrics.len() > sub.max_bytes {
            tracing::debug!(
                bytes = metrics.len(),
                max = sub.max_bytes,
                "telemetry payload too large: not pushed"
            );
            return Answer::Error(ErrorCode::TELEMETRY_TOO_LARGE);
        }
        let req = PushTelemetryRequest::default()
            .with_client_instance_id(sub.instance_id)
            .with_subscription_id(sub.id)
            .with_terminating(terminating)
            .with_compression_type(codec.id() as i8)
            .with_metrics(Bytes::from(metrics));
        match conn.request(&req).await {
            Err(e) => {
                tracing::debug!(error = %e, "PushTelemetry failed");
                self.conn = None;
                Answer::Failed
            }
            Ok(r) => match ErrorCode::from_code(r.error_code) {
                Some(code) => {
                    tracing::debug!(error = %code, "PushTelemetry refused");
                    Answer::Error(code)
                }
                None => Answer::Ok(()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otlp_names_follow_the_java_namespace() {
        assert_eq!(
            otlp_name("kafka_client_requests_total"),
            "org.apache.kafka.client.requests"
        );
        assert_eq!(
            otlp_name("kafka_client_requests_in_flight"),
            "org.apache.kafka.client.requests.in.flight"
        );
    }

    #[test]
    fn every_counter_and_gauge_but_histograms_is_pushed() {
        let t = Telemetry::new(None);
        let pts = points(&t);
        let pushed: Vec<&str> = pts.iter().map(|p| p.name.as_str()).collect();
        assert!(pushed.contains(&"org.apache.kafka.producer.records.sent"));
        assert!(pushed.contains(&"org.apache.kafka.consumer.records.fetched"));
        assert!(
            !pushed.iter().any(|n| n.ends_with(".seconds")),
            "no histograms: {pushed:?}"
        );
        assert!(pts.iter().all(|p| p.value == PointValue::Int(0)));
    }

    #[test]
    fn windowed_figures_are_pushed_as_java_names_them_per_node() {
        let t = Telemetry::new(None);
        assert!(
            windowed_points(&t, std::time::Instant::now()).is_empty(),
            "nothing in the window: nothing pushed"
        );
        t.request_finished(ApiKey::Produce, "1", Duration::from_millis(4), true);
        t.request_finished(ApiKey::Produce, "1", Duration::from_millis(8), true);
        // Not a node id yet (an address), failed, or another API: not counted.
        t.request_finished(
            ApiKey::Produce,
            "localhost:9092",
            Duration::from_millis(1),
            true,
        );
        t.request_finished(ApiKey::Produce, "2", Duration::from_millis(1), false);
        t.request_finished(ApiKey::Metadata, "2", Duration::from_millis(1), true);
        t.request_finished(ApiKey::Fetch, "3", Duration::from_millis(500), true);
        t.produce_request([(10, 100, Duration::from_millis(6))].into_iter(), 0);
        let pts = windowed_points(&t, std::time::Instant::now());
        let find = |name: &str| {
            pts.iter()
                .find(|p| p.name == name)
                .unwrap_or_else(|| panic!("{name} not in {pts:?}"))
        };
        let avg = find("org.apache.kafka.producer.node.request.latency.avg");
        assert_eq!(avg.value, PointValue::Double(6.0));
        assert_eq!(avg.attributes, vec![("node_id", "node-1".to_owned())]);
        assert!(!avg.monotonic);
        assert_eq!(
            find("org.apache.kafka.producer.node.request.latency.max").value,
            PointValue::Double(8.0)
        );
        let fetch = find("org.apache.kafka.consumer.node.request.latency.max");
        assert_eq!(fetch.attributes, vec![("node_id", "node-3".to_owned())]);
        assert_eq!(
            find("org.apache.kafka.producer.record.queue.time.avg").value,
            PointValue::Double(6.0)
        );
        assert_eq!(
            pts.iter().filter(|p| p.name.contains(".node.")).count(),
            4,
            "nodes 1 and 3 only: {pts:?}"
        );
    }
}
