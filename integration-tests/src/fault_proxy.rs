//! [`FaultProxy`]: a Kafka-aware TCP proxy in front of one broker's client listener, with
//! controls to cut, black-hole, delay, reset and truncate traffic, and to drop the
//! response to a request the broker already received.
//!
//! The proxy forwards whole Kafka frames (`i32` length + body) in both directions. It
//! reads each request's header (`api_key`, `correlation_id`) so that faults can target
//! one API (`Produce`, `OffsetCommit`, `EndTxn`, ...) and so that a response can be
//! matched to the request it answers. Each connection is four small tasks: read
//! requests, write them upstream, read responses, write them back; frames travel
//! between them through channels stamped with the time they may be written, so added
//! latency keeps pipelining.
//!
//! The proxies of a cluster run on their own one-thread tokio runtime
//! ([`ProxyRuntime`]), so a test that blocks its own runtime (for instance in
//! [`crate::KafkaCluster::restart_node`]) does not freeze the traffic.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, mpsc, watch};
use tokio::time::Instant;

use crate::error::{Error, Result};

/// Largest frame the proxy buffers (Kafka's own default `socket.request.max.bytes` is
/// 100 MiB; responses can be larger with big fetches).
const MAX_FRAME: usize = 256 << 20;
/// How long the proxy waits to connect to its broker.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Kafka API keys the fault controls commonly target.
pub mod api {
    /// Produce.
    pub const PRODUCE: i16 = 0;
    /// Fetch.
    pub const FETCH: i16 = 1;
    /// Metadata.
    pub const METADATA: i16 = 3;
    /// OffsetCommit.
    pub const OFFSET_COMMIT: i16 = 8;
    /// OffsetFetch.
    pub const OFFSET_FETCH: i16 = 9;
    /// JoinGroup.
    pub const JOIN_GROUP: i16 = 11;
    /// Heartbeat.
    pub const HEARTBEAT: i16 = 12;
    /// SyncGroup.
    pub const SYNC_GROUP: i16 = 14;
    /// ApiVersions.
    pub const API_VERSIONS: i16 = 18;
    /// InitProducerId.
    pub const INIT_PRODUCER_ID: i16 = 22;
    /// AddPartitionsToTxn.
    pub const ADD_PARTITIONS_TO_TXN: i16 = 24;
    /// EndTxn.
    pub const END_TXN: i16 = 26;
    /// TxnOffsetCommit.
    pub const TXN_OFFSET_COMMIT: i16 = 28;
    /// ConsumerGroupHeartbeat (KIP-848).
    pub const CONSUMER_GROUP_HEARTBEAT: i16 = 68;
}

/// Which requests a one-shot fault applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Any request (or the response to any request).
    Any,
    /// Only requests with this API key (see [`api`]), or the responses to them.
    Api(i16),
}

impl Target {
    fn matches(self, api_key: Option<i16>) -> bool {
        match self {
            Target::Any => true,
            Target::Api(k) => api_key == Some(k),
        }
    }
}

/// A one-shot fault armed for the next `remaining` matching frames.
#[derive(Debug, Clone, Copy)]
struct Armed {
    target: Target,
    remaining: u32,
}

impl Armed {
    /// Consumes one shot if `api_key` matches.
    fn take(slot: &mut Option<Armed>, api_key: Option<i16>) -> bool {
        let Some(armed) = slot.as_mut() else {
            return false;
        };
        if !armed.target.matches(api_key) {
            return false;
        }
        armed.remaining -= 1;
        if armed.remaining == 0 {
            *slot = None;
        }
        true
    }
}

#[derive(Debug, Default)]
struct Controls {
    /// New connections are reset at once until then.
    refuse_until: Option<Instant>,
    /// Nothing is forwarded (in either direction) until then; frames wait.
    black_hole_until: Option<Instant>,
    /// Added to every frame's forwarding time, each direction.
    latency: Duration,
    /// Forward half of the next matching request, then reset the connection.
    reset_request: Option<Armed>,
    /// Forward only the first `cut_after` bytes of the next matching response, then close.
    cut_response: Option<Armed>,
    cut_after: usize,
    /// Swallow the next matching response (the broker did the work), then close the
    /// connection after `drop_hold`.
    drop_response: Option<Armed>,
    drop_hold: Duration,
}

/// What a proxy has done so far; every fault has a counter so tests can check it fired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Client connections accepted and forwarded.
    pub accepted: u64,
    /// Client connections reset at once while refusing.
    pub refused: u64,
    /// Connections closed by [`FaultProxy::cut_connections`] (and the timed cuts).
    pub cut: u64,
    /// Connections open now.
    pub open: u64,
    /// Request frames forwarded whole (counted as they are written).
    pub requests: u64,
    /// Response frames forwarded whole (counted as they are written).
    pub responses: u64,
    /// Requests reset half-way.
    pub requests_reset: u64,
    /// Responses cut mid-frame.
    pub responses_cut: u64,
    /// Responses dropped after their request was forwarded.
    pub responses_dropped: u64,
    /// Metadata requests the clients sent through this proxy (the reliability matrix's
    /// count of Metadata round trips, which survives the broker's restarts).
    pub metadata_requests: u64,
}

#[derive(Debug, Default)]
struct Counters {
    accepted: AtomicU64,
    refused: AtomicU64,
    cut: AtomicU64,
    open: AtomicUsize,
    requests: AtomicU64,
    responses: AtomicU64,
    requests_reset: AtomicU64,
    responses_cut: AtomicU64,
    responses_dropped: AtomicU64,
    metadata_requests: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    controls: Mutex<Controls>,
    /// Woken when a control changes (ends a black hole early).
    changed: Notify,
    /// Bumped to close every open connection.
    generation: watch::Sender<u64>,
    counters: Counters,
}

impl Shared {
    fn controls(&self) -> MutexGuard<'_, Controls> {
        self.controls.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A fault-injecting proxy for one broker; see the [module docs](self).
///
/// One-shot faults (`arm_*`) fire on the next matching frame of any connection; timed
/// faults (`*_for`) hold for their duration and heal by themselves; [`FaultProxy::heal`]
/// clears everything at once.
#[derive(Debug, Clone)]
pub struct FaultProxy {
    listen: SocketAddr,
    upstream: SocketAddr,
    shared: Arc<Shared>,
}

impl FaultProxy {
    /// Starts a proxy on `listener` forwarding to `upstream`, on `runtime`.
    pub fn start(
        runtime: &ProxyRuntime,
        listener: std::net::TcpListener,
        upstream: SocketAddr,
    ) -> Result<Self> {
        let listen = listener
            .local_addr()
            .map_err(|e| Error::io("proxy listener address", e))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::io("proxy listener", e))?;
        let shared = Arc::new(Shared {
            controls: Mutex::new(Controls::default()),
            changed: Notify::new(),
            generation: watch::channel(0).0,
            counters: Counters::default(),
        });
        let listener = {
            let _guard = runtime.handle().enter();
            TcpListener::from_std(listener).map_err(|e| Error::io("proxy listener", e))?
        };
        runtime
            .handle()
            .spawn(accept_loop(listener, upstream, shared.clone()));
        Ok(Self {
            listen,
            upstream,
            shared,
        })
    }

    /// The address clients connect to (`127.0.0.1:port`, what the broker advertises).
    pub fn address(&self) -> SocketAddr {
        self.listen
    }

    /// The broker listener behind the proxy.
    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    /// Counters so far.
    pub fn stats(&self) -> ProxyStats {
        let c = &self.shared.counters;
        ProxyStats {
            accepted: c.accepted.load(Ordering::Relaxed),
            refused: c.refused.load(Ordering::Relaxed),
            cut: c.cut.load(Ordering::Relaxed),
            open: c.open.load(Ordering::Relaxed) as u64,
            requests: c.requests.load(Ordering::Relaxed),
            responses: c.responses.load(Ordering::Relaxed),
            requests_reset: c.requests_reset.load(Ordering::Relaxed),
            responses_cut: c.responses_cut.load(Ordering::Relaxed),
            responses_dropped: c.responses_dropped.load(Ordering::Relaxed),
            metadata_requests: c.metadata_requests.load(Ordering::Relaxed),
        }
    }

    /// Closes every open connection now (both sides, with a TCP reset). New connections
    /// are still accepted. Returns how many were open.
    pub fn cut_connections(&self) -> u64 {
        let open = self.shared.counters.open.load(Ordering::Relaxed) as u64;
        self.shared.generation.send_modify(|g| *g += 1);
        open
    }

    /// Cuts every connection and resets every new one for `duration` (a network
    /// partition between clients and this broker), then heals. Returns when healed.
    pub async fn cut_for(&self, duration: Duration) {
        self.shared.controls().refuse_until = Some(Instant::now() + duration);
        self.cut_connections();
        tokio::time::sleep(duration).await;
        self.shared.controls().refuse_until = None;
    }

    /// Keeps every connection (and accepts new ones) but forwards nothing in either
    /// direction for `duration`; what was held is then delivered, as TCP would after
    /// a black hole heals (unless the client gave up and closed). Returns when healed.
    pub async fn black_hole_for(&self, duration: Duration) {
        self.shared.controls().black_hole_until = Some(Instant::now() + duration);
        tokio::time::sleep(duration).await;
        self.shared.controls().black_hole_until = None;
        self.shared.changed.notify_waiters();
    }

    /// Delays every frame by `latency` in each direction (a round trip gains twice
    /// that) for `duration`, then removes the delay. Returns when healed.
    pub async fn latency_for(&self, latency: Duration, duration: Duration) {
        self.set_latency(latency);
        tokio::time::sleep(duration).await;
        self.set_latency(Duration::ZERO);
    }

    /// Sets the per-frame, per-direction delay until changed (zero removes it).
    pub fn set_latency(&self, latency: Duration) {
        self.shared.controls().latency = latency;
    }

    /// The next `count` requests matching `target` are forwarded only half-way, then
    /// both sides of their connection are reset (the broker never sees a whole request).
    pub fn arm_reset_mid_request(&self, target: Target, count: u32) {
        self.shared.controls().reset_request = armed(target, count);
    }

    /// The next `count` responses to requests matching `target` are forwarded only up to
    /// `after_bytes` bytes (counting the 4-byte length), then the connection is closed.
    pub fn arm_cut_mid_response(&self, target: Target, after_bytes: usize, count: u32) {
        let mut c = self.shared.controls();
        c.cut_response = armed(target, count);
        c.cut_after = after_bytes;
    }

    /// The next `count` responses to requests matching `target` are swallowed: the
    /// broker processed the request, the client never hears back. The connection is
    /// closed `hold` later (zero: at once), so the client sees an outcome it cannot know.
    pub fn arm_drop_response(&self, target: Target, count: u32, hold: Duration) {
        let mut c = self.shared.controls();
        c.drop_response = armed(target, count);
        c.drop_hold = hold;
    }

    /// Clears every fault (armed, timed and latency). Open connections stay open.
    pub fn heal(&self) {
        *self.shared.controls() = Controls::default();
        self.shared.changed.notify_waiters();
    }

    /// Waits until `f(stats)` holds, up to `timeout`; returns whether it did.
    pub async fn wait_for(&self, timeout: Duration, f: impl Fn(&ProxyStats) -> bool) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if f(&self.stats()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn armed(target: Target, count: u32) -> Option<Armed> {
    (count > 0).then_some(Armed {
        target,
        remaining: count,
    })
}

/// The one-thread tokio runtime the proxies of a cluster run on. Dropping it stops
/// every proxy (without blocking, so it may be dropped inside an async test).
#[derive(Debug)]
pub struct ProxyRuntime {
    runtime: Option<tokio::runtime::Runtime>,
}

impl ProxyRuntime {
    /// A runtime with one worker thread named `kafka-testbed-proxy`.
    pub fn new() -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("kafka-testbed-proxy")
            .enable_all()
            .build()
            .map_err(|e| Error::io("starting the proxy runtime", e))?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        match &self.runtime {
            Some(rt) => rt.handle(),
            None => unreachable!("the runtime is only taken in drop"),
        }
    }
}

impl Drop for ProxyRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let refusing = shared
            .controls()
            .refuse_until
            .is_some_and(|t| Instant::now() < t);
        if refusing {
            shared.counters.refused.fetch_add(1, Ordering::Relaxed);
            reset(&client);
            continue;
        }
        shared.counters.accepted.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(connection(client, upstream, shared.clone()));
    }
}

/// Makes the next close of `stream` a TCP reset (RST) rather than a FIN.
fn reset(stream: &TcpStream) {
    #[allow(deprecated)] // zero linger never blocks on close; it is what a reset needs
    let _ = stream.set_linger(Some(Duration::ZERO));
}

/// A frame on its way, with what the proxy must do to it.
#[derive(Debug)]
struct Frame {
    bytes: Bytes,
    /// Not written before this instant (latency).
    due: Instant,
    action: Action,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Forward,
    /// Write the first `n` bytes, then end the connection.
    Truncate(usize),
    /// Do not write; end the connection after the hold.
    Drop(Duration),
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    Closed,
    Cut,
    Fault,
}

async fn connection(client: TcpStream, upstream_addr: SocketAddr, shared: Arc<Shared>) {
    let upstream =
        match tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, TcpStream::connect(upstream_addr))
            .await
        {
            Ok(Ok(s)) => s,
            _ => {
                reset(&client);
                return;
            }
        };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    // Every close by the proxy is abrupt, as a broken network would be.
    reset(&client);
    reset(&upstream);
    shared.counters.open.fetch_add(1, Ordering::Relaxed);
    let mut generation = shared.generation.subscribe();
    generation.mark_unchanged();

    let (client_read, client_write) = client.into_split();
    let (upstream_read, upstream_write) = upstream.into_split();
    let in_flight: Arc<Mutex<HashMap<i32, i16>>> = Arc::default();
    let (req_tx, req_rx) = mpsc::unbounded_channel();
    let (resp_tx, resp_rx) = mpsc::unbounded_channel();

    let end = tokio::select! {
        e = read_frames(client_read, req_tx, &shared, &in_flight, Direction::Requests) => e,
        e = write_frames(upstream_write, req_rx, &shared, Direction::Requests) => e,
        e = read_frames(upstream_read, resp_tx, &shared, &in_flight, Direction::Responses) => e,
        e = write_frames(client_write, resp_rx, &shared, Direction::Responses) => e,
        _ = generation.changed() => End::Cut,
    };
    if matches!(end, End::Cut) {
        shared.counters.cut.fetch_add(1, Ordering::Relaxed);
    }
    shared.counters.open.fetch_sub(1, Ordering::Relaxed);
    // Dropping the halves closes both sockets (with RST: linger 0).
}

/// Reads one frame (length prefix included); `None` on a clean EOF before a frame.
async fn read_frame(r: &mut OwnedReadHalf) -> std::io::Result<Option<Bytes>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let size = i32::from_be_bytes(len);
    if size < 0 || size as usize > MAX_FRAME {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("frame length {size}"),
        ));
    }
    let mut buf = BytesMut::zeroed(4 + size as usize);
    buf[..4].copy_from_slice(&len);
    r.read_exact(&mut buf[4..]).await?;
    Ok(Some(buf.freeze()))
}

/// `(api_key, correlation_id)` of a request frame.
fn request_header(frame: &[u8]) -> Option<(i16, i32)> {
    let api = i16::from_be_bytes(frame.get(4..6)?.try_into().ok()?);
    let correlation = i32::from_be_bytes(frame.get(8..12)?.try_into().ok()?);
    Some((api, correlation))
}

/// The correlation id of a response frame.
fn response_correlation(frame: &[u8]) -> Option<i32> {
    Some(i32::from_be_bytes(frame.get(4..8)?.try_into().ok()?))
}

/// Which way a pump carries frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    /// Client to broker.
    Requests,
    /// Broker to client.
    Responses,
}

/// Reads frames from one side and queues them for the other with the action the armed
/// faults call for. Requests record their API by correlation id, so that a response can
/// be matched to the API it answers.
async fn read_frames(
    mut r: OwnedReadHalf,
    tx: mpsc::UnboundedSender<Frame>,
    shared: &Shared,
    in_flight: &Mutex<HashMap<i32, i16>>,
    direction: Direction,
) -> End {
    loop {
        let frame = match read_frame(&mut r).await {
            Ok(Some(f)) => f,
            _ => return End::Closed,
        };
        let mut in_flight = in_flight.lock().unwrap_or_else(PoisonError::into_inner);
        let api = match direction {
            Direction::Requests => request_header(&frame).map(|(api, correlation)| {
                in_flight.insert(correlation, api);
                if api == api::METADATA {
                    shared
                        .counters
                        .metadata_requests
                        .fetch_add(1, Ordering::Relaxed);
                }
                api
            }),
            Direction::Responses => response_correlation(&frame).and_then(|c| in_flight.remove(&c)),
        };
        drop(in_flight);
        let (due, action) = {
            let mut c = shared.controls();
            let action = match direction {
                Direction::Requests => request_action(&mut c, &shared.counters, api, frame.len()),
                Direction::Responses => response_action(&mut c, &shared.counters, api, frame.len()),
            };
            (Instant::now() + c.latency, action)
        };
        if tx
            .send(Frame {
                bytes: frame,
                due,
                action,
            })
            .is_err()
        {
            return End::Closed;
        }
    }
}

/// What to do with a request of `api` (`len` bytes): reset mid-request when armed.
fn request_action(c: &mut Controls, counters: &Counters, api: Option<i16>, len: usize) -> Action {
    if Armed::take(&mut c.reset_request, api) {
        counters.requests_reset.fetch_add(1, Ordering::Relaxed);
        Action::Truncate(len / 2)
    } else {
        Action::Forward
    }
}

/// What to do with a response to `api` (`len` bytes): drop it or cut it when armed.
fn response_action(c: &mut Controls, counters: &Counters, api: Option<i16>, len: usize) -> Action {
    if Armed::take(&mut c.drop_response, api) {
        counters.responses_dropped.fetch_add(1, Ordering::Relaxed);
        Action::Drop(c.drop_hold)
    } else if Armed::take(&mut c.cut_response, api) {
        counters.responses_cut.fetch_add(1, Ordering::Relaxed);
        Action::Truncate(c.cut_after.min(len.saturating_sub(1)))
    } else {
        Action::Forward
    }
}

/// Waits while a black hole is in force (woken early by [`FaultProxy::heal`]).
async fn wait_black_hole(shared: &Shared) {
    loop {
        let notified = shared.changed.notified();
        let until = shared.controls().black_hole_until;
        match until {
            Some(t) if Instant::now() < t => {
                tokio::select! {
                    _ = tokio::time::sleep_until(t) => {}
                    _ = notified => {}
                }
            }
            _ => return,
        }
    }
}

async fn write_frames(
    mut w: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Frame>,
    shared: &Shared,
    direction: Direction,
) -> End {
    while let Some(frame) = rx.recv().await {
        tokio::time::sleep_until(frame.due).await;
        wait_black_hole(shared).await;
        match frame.action {
            Action::Forward => {
                // Counted before the write: a peer that has read the frame must find it
                // counted (counting after the write raced with a test reading the stats
                // as soon as its last response arrived).
                let counter = match direction {
                    Direction::Requests => &shared.counters.requests,
                    Direction::Responses => &shared.counters.responses,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                if w.write_all(&frame.bytes).await.is_err() {
                    return End::Closed;
                }
            }
            Action::Truncate(n) => {
                let _ = w.write_all(&frame.bytes[..n]).await;
                let _ = w.flush().await;
                // Let the partial bytes leave before the reset discards them.
                tokio::time::sleep(Duration::from_millis(50)).await;
                return End::Fault;
            }
            Action::Drop(hold) => {
                tokio::time::sleep(hold).await;
                return End::Fault;
            }
        }
    }
    End::Closed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_from_frames() {
        let mut req = vec![0, 0, 0, 10];
        req.extend_from_slice(&26i16.to_be_bytes());
        req.extend_from_slice(&3i16.to_be_bytes());
        req.extend_from_slice(&77i32.to_be_bytes());
        assert_eq!(request_header(&req), Some((26, 77)));
        assert_eq!(request_header(&req[..6]), None);
        let resp = [0, 0, 0, 4, 0, 0, 0, 77];
        assert_eq!(response_correlation(&resp), Some(77));
    }

    #[test]
    fn armed_faults_fire_only_on_their_target_and_count() {
        let mut slot = armed(Target::Api(0), 2);
        assert!(!Armed::take(&mut slot, Some(1)));
        assert!(!Armed::take(&mut slot, None));
        assert!(Armed::take(&mut slot, Some(0)));
        assert!(Armed::take(&mut slot, Some(0)));
        assert!(!Armed::take(&mut slot, Some(0)), "two shots only");
        assert!(armed(Target::Any, 0).is_none());
        let mut any = armed(Target::Any, 1);
        assert!(Armed::take(&mut any, None));
    }
}
