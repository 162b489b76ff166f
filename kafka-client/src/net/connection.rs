//! One broker connection: a task owns the socket; callers hold a cheap [`Connection`]
//! handle and get replies over oneshot channels.
//!
//! Requests are pipelined and matched to responses by correlation id, in order (Kafka
//! answers in order on a connection). Dropping a caller's future only drops its oneshot
//! receiver: the task still reads that response off the socket, so the stream never
//! desynchronises. When the socket dies, every queued and in-flight request fails with a
//! typed error and the handle reports itself closed, so the pool reconnects.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{
    ApiKey, ProduceRequest, ProduceResponse, SaslAuthenticateRequest, SaslHandshakeRequest,
};
use kafka_protocol::protocol::{Request, StrBytes, VersionRange};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;
use tracing::Instrument;
use tracing::field::Empty;

use super::frame::{self, Frame, check_length};
use super::reauth::{Reauth, ReauthSetup};
use super::transport::BoxedStream;
use super::versions::BrokerVersions;
use super::write_queue::WriteQueue;
use crate::error::{Error, ErrorContext, Result};
use crate::observe::{BrokerRef, RequestWritten, ResponseRead, Telemetry, api_name, broker_label};

/// Requests queued to the task before `send` waits for room.
const QUEUE_DEPTH: usize = 1024;
/// Stop taking new requests while this many bytes wait to be written.
const WRITE_HIGH_WATER: usize = 4 * 1024 * 1024;

/// Who is at the other end: node id (None for a bootstrap address) and address.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub id: Option<i32>,
    pub address: String,
}

impl Peer {
    pub(crate) fn context(&self) -> ErrorContext {
        ErrorContext::broker(self.id, self.address.clone())
    }

    pub(crate) fn as_ref(&self) -> BrokerRef<'_> {
        BrokerRef {
            id: self.id,
            address: &self.address,
        }
    }
}

enum Command {
    Request(RequestCommand),
    /// Close the connection: the caller found a response it could not decode, so the
    /// stream can no longer be trusted.
    Close(String),
}

struct RequestCommand {
    api: ApiKey,
    frame: Frame,
    expect_response: bool,
    timeout: Duration,
    reply: oneshot::Sender<Result<Bytes>>,
}

struct InFlight {
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    queued_at: Instant,
    deadline: Instant,
    timeout: Duration,
    /// `None` for the connection's own requests (re-authentication).
    reply: Option<oneshot::Sender<Result<Bytes>>>,
}

/// Resolved once the bytes up to `end` (a running count of bytes written) are on the wire.
struct AwaitingWrite {
    end: u64,
    reply: oneshot::Sender<Result<Bytes>>,
}

/// A handle to one broker connection. Cheap to clone; the connection closes when the
/// last handle is dropped or the socket fails.
#[derive(Clone)]
pub struct Connection {
    tx: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

struct Shared {
    peer: Peer,
    versions: BrokerVersions,
    client_id: StrBytes,
    request_timeout: Duration,
    /// Milliseconds after `created` when the SASL session ends (KIP-368) unless renewed;
    /// 0 when it does not expire. The task renews it in band and moves this on.
    session_end_ms: AtomicU64,
    /// Set when re-authentication failed and ended the connection: what requests made
    /// after that are told.
    auth_failure: std::sync::OnceLock<Error>,
    telemetry: Arc<Telemetry>,
    /// The `broker` metric label.
    label: String,
    /// Reference point of `throttled_until_ms`.
    created: Instant,
    /// Milliseconds after `created` before which no new request goes out: the broker
    /// asked for that throttle time (KIP-219). 0 when never throttled.
    throttled_until_ms: AtomicU64,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("peer", &self.shared.peer)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Connection {
    /// Starts the task that owns `stream`, after the handshake negotiated `versions`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn spawn(
        stream: BoxedStream,
        peer: Peer,
        versions: BrokerVersions,
        client_id: StrBytes,
        request_timeout: Duration,
        max_response_size: usize,
        first_correlation_id: i32,
        reauth: Option<ReauthSetup>,
        telemetry: Arc<Telemetry>,
    ) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE_DEPTH);
        let label = broker_label(peer.as_ref());
        let shared = Arc::new(Shared {
            peer,
            versions,
            client_id,
            request_timeout,
            session_end_ms: AtomicU64::new(0),
            auth_failure: std::sync::OnceLock::new(),
            telemetry: telemetry.clone(),
            label,
            created: Instant::now(),
            throttled_until_ms: AtomicU64::new(0),
        });
        let reauth = reauth.map(|setup| Reauth::new(setup, shared.peer.context()));
        if let Some(r) = &reauth {
            shared.set_session_end(r.session_end());
        }
        let task = ConnectionTask {
            telemetry,
            shared: shared.clone(),
            peer: shared.peer.clone(),
            rx,
            max_response_size,
            next_correlation_id: first_correlation_id,
            in_flight: VecDeque::new(),
            awaiting_write: VecDeque::new(),
            written: 0,
            queued: 0,
        };
        tokio::spawn(task.run(stream, reauth));
        Self { tx, shared }
    }

    /// Whether the connection takes no new requests: its task has ended (socket failed
    /// or closed), or its SASL session is about to expire ([`Connection::is_expired`]).
    /// The pool then reconnects.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed() || self.is_expired()
    }

    /// Whether the broker's SASL session on this connection (KIP-368
    /// `session_lifetime_ms`) has ended without being renewed. The connection
    /// re-authenticates in band before then, so this happens only when renewal stalled;
    /// new requests should then go to a fresh connection.
    pub fn is_expired(&self) -> bool {
        let ms = self.shared.session_end_ms.load(Ordering::Relaxed);
        ms > 0 && Instant::now() >= self.shared.created + Duration::from_millis(ms)
    }

    /// The broker's node id (None for a bootstrap address not yet mapped to a node).
    pub fn broker_id(&self) -> Option<i32> {
        self.shared.peer.id
    }

    /// The broker's address.
    pub fn address(&self) -> &str {
        &self.shared.peer.address
    }

    /// The version ranges the broker advertised.
    pub fn versions(&self) -> &BrokerVersions {
        &self.shared.versions
    }

    /// The highest version of `R` that both this client (within `client`) and the
    /// broker support.
    pub fn negotiate<R: Request>(&self, client: VersionRange) -> Result<i16> {
        let api = api_key::<R>();
        self.shared
            .versions
            .negotiate(api, client, || self.context(api))
    }

    fn context(&self, api: ApiKey) -> ErrorContext {
        self.shared.peer.context().with_api(api)
    }

    /// Sends `req` at the highest common version and waits for its response.
    pub async fn request<R: Request>(&self, req: &R) -> Result<R::Response>
    where
        R::Response: 'static,
    {
        let version = self.negotiate::<R>(R::VERSIONS)?;
        self.request_at(req, version, self.shared.request_timeout)
            .await
    }

    /// Sends `req` at `version` and waits up to `timeout` for the response.
    pub async fn request_at<R: Request>(
        &self,
        req: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response>
    where
        R::Response: 'static,
    {
        let frame = self.encode(req, version, &[])?;
        self.request_frame::<R>(frame, version, timeout).await
    }

    /// Sends a Produce request at `version` and waits up to `timeout` for the response.
    /// The record batches are written from their own buffers, never copied into the
    /// frame.
    pub async fn produce(
        &self,
        req: &ProduceRequest,
        version: i16,
        timeout: Duration,
    ) -> Result<ProduceResponse> {
        let frame = self.encode_produce(req, version)?;
        self.request_frame::<ProduceRequest>(frame, version, timeout)
            .await
    }

    /// Sends a Produce request at `version` without waiting for a response (acks=0):
    /// resolves once the bytes are written. Batches are not copied, as for
    /// [`produce`](Self::produce).
    pub async fn produce_no_response(&self, req: &ProduceRequest, version: i16) -> Result<()> {
        let frame = self.encode_produce(req, version)?;
        self.send_frame(ApiKey::Produce, frame, false, self.shared.request_timeout)
            .await
            .map(drop)
    }

    fn encode_produce(&self, req: &ProduceRequest, version: i16) -> Result<Frame> {
        frame::encode_produce(req, version, &self.shared.client_id).map_err(|e| {
            Error::RequestEncoding {
                context: self.context(ApiKey::Produce),
                message: e.to_string(),
            }
        })
    }

    fn encode<R: Request>(&self, req: &R, version: i16, splice: &[Bytes]) -> Result<Frame> {
        frame::encode_spliced(req, version, &self.shared.client_id, splice).map_err(|e| {
            Error::RequestEncoding {
                context: self.context(api_key::<R>()),
                message: e.to_string(),
            }
        })
    }

    async fn request_frame<R: Request>(
        &self,
        frame: Frame,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response>
    where
        R::Response: 'static,
    {
        let api = api_key::<R>();
        let bytes = self.send_frame(api, frame, true, timeout).await?;
        let resp = frame::decode_response::<R>(bytes, version).map_err(|e| {
            let message = e.into_message();
            // A response that does not decode means the peer and we disagree on the
            // protocol: close the connection rather than trust what follows.
            let _ = self.tx.try_send(Command::Close(message.clone()));
            Error::Protocol {
                context: self.context(api),
                message,
            }
        })?;
        if let Some(throttle) = super::throttle::throttle_of(&resp) {
            self.throttled(api, throttle);
        }
        Ok(resp)
    }

    /// The broker throttled us (KIP-219): hold back new requests on this connection for
    /// `throttle`, and report it.
    fn throttled(&self, api: ApiKey, throttle: Duration) {
        let sh = &self.shared;
        let until = (Instant::now() + throttle).saturating_duration_since(sh.created);
        let until = u64::try_from(until.as_millis()).unwrap_or(u64::MAX).max(1);
        sh.throttled_until_ms.fetch_max(until, Ordering::Relaxed);
        sh.telemetry.throttled(sh.peer.as_ref(), api, throttle);
    }

    /// When the broker's last throttle ends, if it has not yet.
    fn throttled_until(&self) -> Option<Instant> {
        let ms = self.shared.throttled_until_ms.load(Ordering::Relaxed);
        let until = self.shared.created + Duration::from_millis(ms);
        (ms > 0 && until > Instant::now()).then_some(until)
    }

    /// Sends `req` at `version` without waiting for a response (Produce with acks=0):
    /// resolves once the bytes are written.
    pub async fn send_no_response<R: Request>(&self, req: &R, version: i16) -> Result<()> {
        let api = api_key::<R>();
        let frame = self.encode(req, version, &[])?;
        self.send_frame(api, frame, false, self.shared.request_timeout)
            .await
            .map(drop)
    }

    /// Sends an already-encoded frame (correlation id 0, patched by the task).
    pub(crate) async fn send_frame(
        &self,
        api: ApiKey,
        frame: Frame,
        expect_response: bool,
        timeout: Duration,
    ) -> Result<Bytes> {
        if let Some(until) = self.throttled_until() {
            // KIP-219: the broker muted this connection for the throttle time; a request
            // sent now would only wait in its socket buffer.
            tokio::time::sleep_until(until).await;
        }
        let version = frame::frame_version(&frame.head);
        let span = tracing::debug_span!(
            "kafka_request",
            api = api_name(api),
            version,
            broker = %self.shared.peer.address,
            broker_id = ?self.shared.peer.id,
            correlation_id = Empty,
            latency_us = Empty,
        );
        let recorder = span.clone();
        async move {
            let tel = &self.shared.telemetry;
            let started = Instant::now();
            tel.request_started(&self.shared.label);
            let mut guard = InFlightGuard {
                conn: self,
                api,
                started,
                ok: false,
                done: false,
            };
            let (reply, rx) = oneshot::channel();
            let cmd = Command::Request(RequestCommand {
                api,
                frame,
                expect_response,
                timeout,
                reply,
            });
            let result = if self.tx.send(cmd).await.is_err() {
                Err(self.shared.closed_error(api))
            } else {
                rx.await.unwrap_or_else(|_| {
                    Err(Error::ConnectionLost {
                        context: self.context(api),
                        reason: "connection task ended".into(),
                    })
                })
            };
            let latency = started.elapsed();
            recorder.record("latency_us", latency.as_micros() as u64);
            match &result {
                Ok(body) if body.len() >= 4 => {
                    recorder.record("correlation_id", (&body[..4]).get_i32());
                }
                Ok(_) => {}
                Err(e) => tracing::debug!(error = %e, "request failed"),
            }
            guard.ok = result.is_ok();
            guard.finish();
            result
        }
        .instrument(span)
        .await
    }
}

impl Shared {
    /// The error for a request made after the connection closed.
    fn closed_error(&self, api: ApiKey) -> Error {
        let context = self.peer.context().with_api(api);
        match self.auth_failure.get() {
            Some(Error::Authentication { code, message, .. }) => Error::Authentication {
                context,
                code: *code,
                message: message.clone(),
            },
            _ => Error::ConnectionLost {
                context,
                reason: "connection closed before the request was sent".into(),
            },
        }
    }

    fn set_session_end(&self, end: Instant) {
        let ms = end.saturating_duration_since(self.created).as_millis();
        self.session_end_ms.store(
            u64::try_from(ms).unwrap_or(u64::MAX).max(1),
            Ordering::Relaxed,
        );
    }
}

/// Keeps the in-flight gauge right even when the caller drops the request's future.
struct InFlightGuard<'a> {
    conn: &'a Connection,
    api: ApiKey,
    started: Instant,
    ok: bool,
    done: bool,
}

impl InFlightGuard<'_> {
    fn finish(&mut self) {
        if !self.done {
            self.done = true;
            let sh = &self.conn.shared;
            sh.telemetry
                .request_finished(self.api, &sh.label, self.started.elapsed(), self.ok);
        }
    }
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        // Cancelled by the caller: not a failure of the request.
        self.ok = true;
        self.finish();
    }
}

fn api_key<R: Request>() -> ApiKey {
    // Every `Request` in kafka-protocol has a valid key.
    ApiKey::try_from(R::KEY).unwrap_or(ApiKey::ApiVersions)
}

struct ConnectionTask {
    telemetry: Arc<Telemetry>,
    shared: Arc<Shared>,
    peer: Peer,
    rx: mpsc::Receiver<Command>,
    max_response_size: usize,
    next_correlation_id: i32,
    in_flight: VecDeque<InFlight>,
    awaiting_write: VecDeque<AwaitingWrite>,
    /// Bytes written to the socket so far.
    written: u64,
    /// Bytes handed to the write buffer so far.
    queued: u64,
}

enum Exit {
    /// Every handle was dropped and nothing is in flight.
    Idle,
    /// A failure: in-flight requests get this error.
    Failed(Failure),
}

enum Failure {
    Lost(String),
    /// Re-authentication failed (KIP-368).
    Auth(Error),
    Protocol(String),
    Timeout {
        api: ApiKey,
        timeout: Duration,
    },
}

impl ConnectionTask {
    async fn run(mut self, stream: BoxedStream, mut reauth: Option<Reauth>) {
        let (mut reader, mut writer) = tokio::io::split(stream);
        let mut rbuf = BytesMut::with_capacity(64 * 1024);
        let mut wbuf = WriteQueue::with_capacity(64 * 1024);
        let mut accepting = true;
        // Responses to the connection's own (re-authentication) requests.
        let mut own = Vec::new();
        let exit = loop {
            if !accepting && self.in_flight.is_empty() && wbuf.is_empty() {
                break Exit::Idle;
            }
            let deadline = self.in_flight.front().map(|f| f.deadline);
            // KIP-368: no other request is written during a re-authentication exchange.
            let open = reauth.as_ref().is_none_or(Reauth::allows_requests);
            let reauth_pending = accepting && reauth.as_ref().is_some_and(Reauth::is_pending);
            tokio::select! {
                cmd = self.rx.recv(), if accepting && open && wbuf.len() < WRITE_HIGH_WATER => {
                    let mut next = cmd;
                    let mut closing = None;
                    // Take whatever else is queued too, so one write carries many requests.
                    loop {
                        match next {
                            Some(Command::Request(cmd)) => self.enqueue(cmd, &mut wbuf),
                            Some(Command::Close(reason)) => {
                                closing = Some(reason);
                                break;
                            }
                            None => {
                                accepting = false;
                                break;
                            }
                        }
                        if wbuf.len() >= WRITE_HIGH_WATER {
                            break;
                        }
                        match self.rx.try_recv() {
                            Ok(cmd) => next = Some(cmd),
                            Err(_) => break,
                        }
                    }
                    if let Some(reason) = closing {
                        break Exit::Failed(Failure::Protocol(reason));
                    }
                }
                res = std::future::poll_fn(|cx| wbuf.poll_write(&mut writer, cx)), if !wbuf.is_empty() => {
                    match res {
                        Ok(0) => break Exit::Failed(Failure::Lost("socket closed for writing".into())),
                        Ok(n) => {
                            self.written += n as u64;
                            self.resolve_written();
                        }
                        Err(e) => break Exit::Failed(Failure::Lost(format!("write failed: {e}"))),
                    }
                }
                res = reader.read_buf(&mut rbuf) => {
                    match res {
                        Ok(0) => break Exit::Failed(Failure::Lost("connection closed by the broker".into())),
                        Ok(_) => {
                            if let Err(f) = self.dispatch_frames(&mut rbuf, &mut own) {
                                break Exit::Failed(f);
                            }
                            if let Err(f) = self.reauth_answers(&mut own, reauth.as_mut(), &mut wbuf) {
                                break Exit::Failed(f);
                            }
                        }
                        Err(e) => break Exit::Failed(Failure::Lost(format!("read failed: {e}"))),
                    }
                }
                ready = reauth_ready(reauth.as_mut()), if reauth_pending => {
                    let Some(r) = reauth.as_ref() else { continue };
                    let sent = ready.map_err(Failure::Auth).and_then(|req| {
                        self.enqueue_own(&req, r.handshake_version, &mut wbuf)
                    });
                    if let Err(f) = sent {
                        break Exit::Failed(f);
                    }
                }
                () = sleep_until(deadline) => {
                    let front = self.in_flight.front().expect("deadline implies an in-flight request");
                    break Exit::Failed(Failure::Timeout { api: front.api, timeout: front.timeout });
                }
            }
        };
        let _ = writer.shutdown().await;
        self.fail_all(exit);
    }

    fn enqueue(&mut self, mut cmd: RequestCommand, wbuf: &mut WriteQueue) {
        if cmd.reply.is_closed() {
            return; // the caller gave up before the request was written: skip it
        }
        let id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1).max(0);
        cmd.frame.set_correlation_id(id);
        self.queued += cmd.frame.len() as u64;
        let version = frame::frame_version(&cmd.frame.head);
        if let Some(h) = self.telemetry.hooks() {
            h.on_request_written(&RequestWritten {
                broker: self.peer.as_ref(),
                api: cmd.api,
                version,
                correlation_id: id,
                bytes: cmd.frame.len(),
            });
        }
        tracing::trace!(api = api_name(cmd.api), version, correlation_id = id,
            broker = %self.peer.address, "request queued for writing");
        wbuf.push(cmd.frame);
        if cmd.expect_response {
            self.in_flight.push_back(InFlight {
                correlation_id: id,
                api: cmd.api,
                version,
                queued_at: Instant::now(),
                deadline: Instant::now() + cmd.timeout,
                timeout: cmd.timeout,
                reply: Some(cmd.reply),
            });
        } else {
            self.awaiting_write.push_back(AwaitingWrite {
                end: self.queued,
                reply: cmd.reply,
            });
        }
    }

    /// Queues one of the connection's own requests (re-authentication) for writing.
    fn enqueue_own<R: Request>(
        &mut self,
        req: &R,
        version: i16,
        wbuf: &mut WriteQueue,
    ) -> Result<(), Failure> {
        let api = api_key::<R>();
        let mut frame = frame::encode_spliced(req, version, &self.shared.client_id, &[])
            .map_err(|e| Failure::Protocol(format!("encoding {api:?}: {e}")))?;
        let id = self.next_correlation_id;
        self.next_correlation_id = self.next_correlation_id.wrapping_add(1).max(0);
        frame.set_correlation_id(id);
        self.queued += frame.len() as u64;
        wbuf.push(frame);
        let timeout = self.shared.request_timeout;
        self.in_flight.push_back(InFlight {
            correlation_id: id,
            api,
            version,
            queued_at: Instant::now(),
            deadline: Instant::now() + timeout,
            timeout,
            reply: None,
        });
        Ok(())
    }

    /// Hands the answers to the connection's own requests to the re-authentication,
    /// writing what it asks for next.
    fn reauth_answers(
        &mut self,
        own: &mut Vec<(ApiKey, i16, Bytes)>,
        mut reauth: Option<&mut Reauth>,
        wbuf: &mut WriteQueue,
    ) -> Result<(), Failure> {
        for (api, version, body) in own.drain(..) {
            let Some(r) = reauth.as_deref_mut() else {
                return Err(Failure::Protocol(format!("unexpected {api:?} response")));
            };
            let undecodable = |e: super::Fault| Failure::Protocol(e.into_message());
            match api {
                ApiKey::SaslHandshake => {
                    let resp = frame::decode_response::<SaslHandshakeRequest>(body, version)
                        .map_err(undecodable)?;
                    let next = r.on_handshake(&resp).map_err(Failure::Auth)?;
                    let v = r.authenticate_version;
                    self.enqueue_own(&next, v, wbuf)?;
                }
                _ => {
                    let resp = frame::decode_response::<SaslAuthenticateRequest>(body, version)
                        .map_err(undecodable)?;
                    match r.on_authenticate(&resp).map_err(Failure::Auth)? {
                        Some(next) => {
                            let v = r.authenticate_version;
                            self.enqueue_own(&next, v, wbuf)?;
                        }
                        None => {
                            self.shared.set_session_end(r.session_end());
                            self.telemetry.reauthenticated(self.peer.as_ref());
                            tracing::debug!(broker = %self.peer.address, "re-authenticated (KIP-368)");
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn resolve_written(&mut self) {
        while self
            .awaiting_write
            .front()
            .is_some_and(|w| w.end <= self.written)
        {
            if let Some(w) = self.awaiting_write.pop_front() {
                let _ = w.reply.send(Ok(Bytes::new()));
            }
        }
    }

    /// Hands every complete frame in `rbuf` to its waiting request (the answers to the
    /// connection's own requests go to `own`).
    fn dispatch_frames(
        &mut self,
        rbuf: &mut BytesMut,
        own: &mut Vec<(ApiKey, i16, Bytes)>,
    ) -> Result<(), Failure> {
        loop {
            if rbuf.len() < 4 {
                rbuf.reserve(4);
                return Ok(());
            }
            let raw_len = (&rbuf[..4]).get_i32();
            let len = check_length(raw_len, self.max_response_size)
                .map_err(|e| Failure::Protocol(e.into_message()))?;
            if rbuf.len() < 4 + len {
                rbuf.reserve(4 + len - rbuf.len());
                return Ok(());
            }
            rbuf.advance(4);
            let body = rbuf.split_to(len).freeze();
            let correlation_id = (&body[..4]).get_i32();
            let Some(front) = self.in_flight.pop_front() else {
                return Err(Failure::Protocol(format!(
                    "response with correlation id {correlation_id} but no request is in flight"
                )));
            };
            if front.correlation_id != correlation_id {
                let message = format!(
                    "correlation id mismatch: expected {} for {:?}, got {correlation_id}",
                    front.correlation_id, front.api
                );
                self.in_flight.push_front(front);
                return Err(Failure::Protocol(message));
            }
            if let Some(h) = self.telemetry.hooks() {
                h.on_response_read(&ResponseRead {
                    broker: self.peer.as_ref(),
                    api: front.api,
                    version: front.version,
                    correlation_id,
                    bytes: body.len() + 4,
                    latency: front.queued_at.elapsed(),
                });
            }
            match front.reply {
                Some(reply) => {
                    let _ = reply.send(Ok(body));
                }
                None => own.push((front.api, front.version, body)),
            }
        }
    }

    fn fail_all(mut self, exit: Exit) {
        let Exit::Failed(failure) = exit else { return };
        let base = self.peer.context();
        let (label, reason) = match &failure {
            Failure::Lost(r) => ("lost", r.clone()),
            Failure::Auth(e) => ("reauthentication", format!("re-authentication failed: {e}")),
            Failure::Protocol(m) => ("protocol", m.clone()),
            Failure::Timeout { api, timeout } => (
                "timeout",
                format!("closed after a {api:?} request timed out after {timeout:?}"),
            ),
        };
        tracing::debug!(broker = %self.peer.address, kind = label, %reason, "connection closed");
        if let Failure::Auth(e) = &failure {
            let _ = self.shared.auth_failure.set(e.clone());
        }
        let mut first = true;
        for f in self.in_flight.drain(..) {
            let context = base.clone().with_api(f.api);
            let err = match &failure {
                Failure::Timeout { .. } if first => Error::Timeout {
                    context,
                    timeout: f.timeout,
                },
                Failure::Protocol(message) if first => Error::Protocol {
                    context,
                    message: message.clone(),
                },
                _ => Error::ConnectionLost {
                    context,
                    reason: reason.clone(),
                },
            };
            first = false;
            if let Some(reply) = f.reply {
                let _ = reply.send(Err(err));
            }
        }
        for w in self.awaiting_write.drain(..) {
            let _ = w.reply.send(Err(Error::ConnectionLost {
                context: base.clone(),
                reason: reason.clone(),
            }));
        }
        // Requests still queued in the channel were never written: fail them too.
        self.rx.close();
        while let Ok(cmd) = self.rx.try_recv() {
            let Command::Request(cmd) = cmd else { continue };
            let err = match &failure {
                // Never sent: the caller learns why (a typed authentication error).
                Failure::Auth(Error::Authentication { code, message, .. }) => {
                    Error::Authentication {
                        context: base.clone().with_api(cmd.api),
                        code: *code,
                        message: message.clone(),
                    }
                }
                _ => Error::ConnectionLost {
                    context: base.clone().with_api(cmd.api),
                    reason: format!("connection closed before the request was sent: {reason}"),
                },
            };
            let _ = cmd.reply.send(Err(err));
        }
    }
}

async fn reauth_ready(reauth: Option<&mut Reauth>) -> Result<SaslHandshakeRequest> {
    match reauth {
        Some(r) => r.ready().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BufMut;
    use kafka_protocol::messages::api_versions_response::ApiVersion;
    use kafka_protocol::messages::{
        ApiVersionsResponse, MetadataRequest, MetadataResponse, ResponseHeader,
    };
    use kafka_protocol::protocol::Encodable;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// Reads one request frame; returns its correlation id.
    async fn read_request(s: &mut tokio::io::DuplexStream) -> i32 {
        let len = s.read_i32().await.expect("length") as usize;
        let mut body = vec![0u8; len];
        s.read_exact(&mut body).await.expect("body");
        i32::from_be_bytes([body[4], body[5], body[6], body[7]])
    }

    async fn answer(s: &mut tokio::io::DuplexStream, correlation_id: i32, throttle_ms: i32) {
        let mut buf = BytesMut::new();
        ResponseHeader::default()
            .with_correlation_id(correlation_id)
            .encode(&mut buf, 0)
            .expect("header");
        MetadataResponse::default()
            .with_throttle_time_ms(throttle_ms)
            .encode(&mut buf, 4)
            .expect("body");
        let mut frame = BytesMut::new();
        frame.put_i32(buf.len() as i32);
        frame.extend_from_slice(&buf);
        s.write_all(&frame).await.expect("write");
    }

    /// KIP-219: after a response with a throttle time, the next request on the
    /// connection goes out only once the throttle has passed; stats count it.
    #[tokio::test]
    async fn throttled_response_holds_the_next_request() {
        let (ours, mut broker) = tokio::io::duplex(64 * 1024);
        let versions =
            BrokerVersions::from_response(&ApiVersionsResponse::default().with_api_keys(vec![
                ApiVersion::default()
                    .with_api_key(ApiKey::Metadata as i16)
                    .with_min_version(0)
                    .with_max_version(4),
            ]))
            .expect("versions");
        let telemetry = Arc::new(Telemetry::default());
        let conn = Connection::spawn(
            Box::new(ours),
            Peer {
                id: Some(1),
                address: "fake:9092".into(),
            },
            versions,
            StrBytes::from_static_str("t"),
            Duration::from_secs(10),
            1 << 20,
            0,
            None,
            telemetry.clone(),
        );
        let server = tokio::spawn(async move {
            let c = read_request(&mut broker).await;
            answer(&mut broker, c, 400).await;
            let answered = Instant::now();
            let c = read_request(&mut broker).await;
            let waited = answered.elapsed();
            answer(&mut broker, c, 0).await;
            waited
        });
        let req = MetadataRequest::default();
        let first = conn.request_at(&req, 4, Duration::from_secs(5)).await;
        assert_eq!(first.expect("first").throttle_time_ms, 400);
        conn.request_at(&req, 4, Duration::from_secs(5))
            .await
            .expect("second");
        let waited = server.await.expect("server");
        assert!(
            waited >= Duration::from_millis(390),
            "sent after {waited:?}"
        );
        let s = telemetry.net.snapshot();
        assert_eq!(s.throttled_responses, 1);
        assert_eq!(s.throttle_time_total, Duration::from_millis(400));
        assert_eq!((s.requests, s.requests_in_flight), (2, 0));
    }
}
