//! One sender task per broker: drains every ready partition the broker leads into one
//! Produce request, keeps up to `max.in.flight` requests in flight on its produce
//! connection, and settles, retries or splits each batch from the answer.

use std::sync::Arc;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, ProduceRequest, ProduceResponse};
use kafka_protocol::protocol::VersionRange;
use tokio::time::Instant;

use super::accumulator::{DrainRules, PartitionState};
use super::batch::ProducerBatch;
use super::builder::Acks;
use super::delivery::BatchAck;
use super::shared::{SenderHandle, Shared};
use crate::error::{Error, ErrorCode, ErrorContext};
use crate::net::{Connection, ConnectionKind};

/// Produce v3 is the first with record batch v2; v13 names topics by id.
const PRODUCE_MIN: i16 = 3;
const PRODUCE_MAX_BY_NAME: i16 = 12;
const PRODUCE_MAX: i16 = 13;

type Sent = Vec<(Arc<PartitionState>, ProducerBatch)>;

/// A request's outcome, handed back to the sender task.
struct Completed {
    batches: Sent,
    /// `Ok(None)` for acks=0 (written, no answer).
    result: crate::Result<Option<ProduceResponse>>,
    version: i16,
    conn: Option<Connection>,
}

struct Sender {
    sh: Arc<Shared>,
    me: Arc<SenderHandle>,
    parts: Vec<Arc<PartitionState>>,
    seen_epoch: Option<u64>,
    /// Where the next drain starts: after the last partition the previous request took,
    /// so a request that filled up is followed by one that goes on from there, and
    /// every partition gets its turn first.
    start: usize,
    conn: Option<Connection>,
    in_flight: FuturesUnordered<BoxFuture<'static, Completed>>,
    expired: Vec<ProducerBatch>,
    /// Idempotence: when InitProducerId may be tried again after a failure.
    init_retry_at: Option<Instant>,
    init_failures: u32,
}

/// The sender task for one broker. Ends when the producer is closed and idle, or aborted.
pub(crate) async fn run(sh: Arc<Shared>, me: Arc<SenderHandle>) {
    Sender::new(sh, me).run().await;
}

async fn sleep_until(t: Option<Instant>) {
    match t {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

impl Sender {
    fn new(sh: Arc<Shared>, me: Arc<SenderHandle>) -> Self {
        Sender {
            sh,
            me,
            parts: Vec::new(),
            seen_epoch: None,
            start: 0,
            conn: None,
            in_flight: FuturesUnordered::new(),
            expired: Vec::new(),
            init_retry_at: None,
            init_failures: 0,
        }
    }

    /// The task's loop: one [`step`](Self::step), then wait for an answer, a wake-up or
    /// the time the step named.
    async fn run(mut self) {
        while let Some(next_wake) = self.step().await {
            tokio::select! {
                Some(done) = self.in_flight.next(), if !self.in_flight.is_empty() => self.handle(done),
                () = self.me.notify.notified() => {}
                () = sleep_until(next_wake) => {}
            }
        }
    }

    /// One turn of the loop, up to its wait: follows leader changes, sends what is ready
    /// (or obtains the producer identity first), fails expired batches. `None` when the
    /// task ends (aborted, or closing with nothing left); otherwise when it must look
    /// again at the latest, if no answer or wake-up comes first.
    async fn step(&mut self) -> Option<Option<Instant>> {
        if self.sh.is_aborted() {
            return None; // dropping in-flight batches fails them (already failed by abort)
        }
        let epoch = self.sh.routing_epoch();
        if self.seen_epoch != Some(epoch) {
            self.sh.partitions_led_by(self.me.broker, &mut self.parts);
            self.seen_epoch = Some(epoch);
        }
        let mut next_wake = None;
        match self.sh.drain_identity() {
            Ok(producer) => {
                // Idempotence: requests must reach the broker in sequence order, so only
                // one goes out until the connection is established and cached.
                let limit = if producer.is_some() && self.conn.is_none() {
                    1
                } else {
                    self.sh.config.max_in_flight
                };
                while self.in_flight.len() < limit {
                    match self.drain(producer, &mut next_wake) {
                        Some(req) => self.in_flight.push(req),
                        None => break,
                    }
                }
            }
            Err(()) => self.obtain_identity(&mut next_wake).await,
        }
        self.fail_expired();
        if self.sh.is_closing() {
            if self.in_flight.is_empty() && self.sh.may_stop() {
                return None;
            }
            let poll = Instant::now() + Shared::STOP_POLL;
            next_wake = Some(next_wake.map_or(poll, |t: Instant| t.min(poll)));
        }
        Some(next_wake)
    }

    /// Idempotence: gets a producer id, or bumps the epoch, once this sender has nothing
    /// in flight (batches of the old epoch must be answered first). Batches still expire
    /// meanwhile.
    async fn obtain_identity(&mut self, next_wake: &mut Option<Instant>) {
        let now = Instant::now();
        for p in &self.parts {
            p.expire_unsent(now, self.sh.config.delivery_timeout, &mut self.expired);
        }
        let poll = now + std::time::Duration::from_millis(100);
        *next_wake = Some(next_wake.map_or(poll, |t: Instant| t.min(poll)));
        if self.sh.txn.is_some() {
            return; // a transactional producer's identity comes from its coordinator
        }
        if !self.in_flight.is_empty() || self.init_retry_at.is_some_and(|t| t > now) {
            return;
        }
        if self.sh.is_closing() && self.sh.res.is_idle() {
            return;
        }
        let timeout = self.sh.config.request_timeout;
        match tokio::time::timeout(timeout, self.sh.init_producer()).await {
            Ok(Ok(())) => {
                self.init_failures = 0;
                self.init_retry_at = None;
            }
            res => {
                let err = match res {
                    Ok(Err(e)) => e.to_string(),
                    _ => "timed out".to_string(),
                };
                tracing::warn!(error = %err, "InitProducerId failed; retrying");
                let backoff = self.sh.client.retry_backoff(self.init_failures);
                self.init_failures = self.init_failures.saturating_add(1);
                self.init_retry_at = Some(Instant::now() + backoff);
            }
        }
    }

    /// Builds one request from every ready partition, or `None` when none is ready.
    fn drain(
        &mut self,
        producer: Option<super::batch::ProducerIdent>,
        next_wake: &mut Option<Instant>,
    ) -> Option<BoxFuture<'static, Completed>> {
        let cfg = &self.sh.config;
        let rules = DrainRules {
            producer,
            broker: self.me.broker,
            now: Instant::now(),
            force: self.sh.force_ready(),
            linger: cfg.linger,
            delivery_timeout: cfg.delivery_timeout,
        };
        let n = self.parts.len();
        let mut taken: Sent = Vec::new();
        let mut size = 0usize;
        let mut last_taken = None;
        let gate = self.sh.txn_gate();
        for i in 0..n {
            let part = &self.parts[(self.start + i) % n];
            if let (Some(generation), Some(txn)) = (gate, &self.sh.txn) {
                // Transaction protocol v1: not before AddPartitionsToTxn for this one.
                if part.txn_added.load(std::sync::atomic::Ordering::Acquire) != generation {
                    if part.has_unsent() {
                        txn.need_add(part);
                    }
                    continue;
                }
            }
            let budget = cfg.max_request_size.saturating_sub(size);
            if let Some(b) = part.take_ready(
                &rules,
                budget,
                taken.is_empty(),
                &mut self.expired,
                next_wake,
            ) {
                size += b.size();
                taken.push((part.clone(), b));
                last_taken = Some(i);
            }
        }
        if n > 0 {
            // On from the last partition taken, as Java's drain index: when requests fill
            // up before every partition is visited (many partitions, `max.request.size`),
            // each partition is taken once per round of requests, so its batch fills over
            // the whole round. Moving on by one instead took the same first partitions
            // every time, in batches of a record or two, and the broker's cost per batch
            // bound the rate (issue 24, 10,000 partitions).
            self.start = (self.start + last_taken.map_or(1, |i| i + 1)) % n;
        }
        if taken.is_empty() {
            return None;
        }
        // Encode outside the partition locks; each batch once (retries reuse the bytes).
        // In place: the vector taken is the request's (one allocation per request less).
        let mut batches = taken;
        let mut i = 0;
        while i < batches.len() {
            match batches[i].1.encode_stamped() {
                Ok(()) => i += 1,
                Err(e) => {
                    let (part, b) = batches.remove(i);
                    part.answered();
                    self.sh.fail_batch(b, e);
                }
            }
        }
        if batches.is_empty() {
            return None;
        }
        Some(self.request(batches))
    }

    /// The future that sends `batches` in one Produce request.
    fn request(&self, batches: Sent) -> BoxFuture<'static, Completed> {
        let (req, versions) = self.produce_request(&batches);
        let timeout = self.sh.config.request_timeout;
        let acks_none = self.sh.config.acks == Acks::None;
        super::stats::request_sent(&self.sh, &batches);
        let cached = self.conn.clone().filter(|c| !c.is_closed());
        let client = self.sh.client.clone();
        let broker = self.me.broker;
        Box::pin(async move {
            let conn = match cached {
                Some(c) => c,
                None => match client.connection(broker, ConnectionKind::Produce).await {
                    Ok(c) => c,
                    Err(e) => {
                        return Completed {
                            batches,
                            result: Err(e),
                            version: 0,
                            conn: None,
                        };
                    }
                },
            };
            let mut version = 0;
            let result = match conn.negotiate::<ProduceRequest>(versions) {
                Err(e) => Err(e),
                Ok(v) => {
                    version = v;
                    if acks_none {
                        conn.produce_no_response(&req, v).await.map(|()| None)
                    } else {
                        conn.produce(&req, v, timeout).await.map(Some)
                    }
                }
            };
            // Release the request's references to the batch bytes before they are recycled.
            drop(req);
            Completed {
                batches,
                result,
                version,
                conn: Some(conn),
            }
        })
    }

    /// The Produce request carrying `batches` (grouped by topic) and the versions it
    /// may be sent as.
    fn produce_request(&self, batches: &Sent) -> (ProduceRequest, VersionRange) {
        let cfg = &self.sh.config;
        let mut topics: Vec<TopicProduceData> = Vec::new();
        for (part, b) in batches {
            let data = PartitionProduceData::default()
                .with_index(part.partition)
                .with_records(b.bytes().cloned());
            match topics.iter_mut().find(|t| t.name == part.topic.wire_name) {
                Some(t) => t.partition_data.push(data),
                None => {
                    let id = part.topic.id();
                    topics.push(
                        TopicProduceData::default()
                            .with_name(part.topic.wire_name.clone())
                            .with_topic_id(id)
                            .with_partition_data(vec![data]),
                    );
                }
            }
        }
        // Topic ids (v13) only when every topic in the request has one.
        let any_nil = topics.iter().any(|t| t.topic_id.is_nil());
        let max = if any_nil {
            PRODUCE_MAX_BY_NAME
        } else {
            PRODUCE_MAX
        };
        let timeout = cfg.request_timeout;
        let req = ProduceRequest::default()
            .with_acks(cfg.acks.as_i16())
            .with_timeout_ms(i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX))
            .with_topic_data(topics)
            .with_transactional_id(self.sh.txn.as_ref().map(|t| t.wire_id.clone()));
        let min = if self.sh.needs_produce_v12() {
            12
        } else {
            PRODUCE_MIN
        };
        (req, VersionRange { min, max })
    }

    /// Settles, retries or splits each batch of a finished request.
    fn handle(&mut self, done: Completed) {
        if let Some(c) = done.conn {
            self.conn = (!c.is_closed()).then_some(c);
        }
        let now = Instant::now();
        match done.result {
            Err(e) => {
                if e.is_retriable() {
                    self.conn = None;
                }
                // A protocol error (a response with another request's correlation id,
                // or one that does not decode) comes after the request was written:
                // the broker may have appended the batches, so their verdict is
                // "possibly persisted", never "definitely failed".
                let written = matches!(e, Error::Protocol { .. });
                for (part, mut b) in done.batches {
                    b.maybe_written |= written;
                    self.retry_or_fail(&part, b, e.clone(), now);
                }
            }
            Ok(None) => {
                for (part, b) in done.batches {
                    self.answered(&part);
                    super::stats::acked(&self.sh, self.me.broker, &part, &b, -1);
                    b.complete(Ok(BatchAck {
                        base_offset: -1,
                        log_append_time: None,
                    }));
                }
            }
            Ok(Some(resp)) => self.handle_response(done.batches, resp, done.version, now),
        }
    }

    fn handle_response(
        &mut self,
        batches: Sent,
        resp: ProduceResponse,
        version: i16,
        now: Instant,
    ) {
        let mut slots: Vec<Option<(Arc<PartitionState>, ProducerBatch)>> =
            batches.into_iter().map(Some).collect();
        let endpoints = crate::cluster::BrokerInfo::from_endpoints(
            resp.node_endpoints
                .iter()
                .map(|n| (n.node_id.0, n.host.as_str(), n.port, n.rack.as_deref())),
        );
        // The broker answers in the request's order: each search starts after the last
        // slot found, so a request of N batches is matched in O(N), not O(N²) (10,000
        // one-record batches in a request at 10,000 partitions).
        let mut from = 0;
        for topic in resp.responses {
            for pr in topic.partition_responses {
                let matches = |s: &Option<(Arc<PartitionState>, ProducerBatch)>| {
                    s.as_ref().is_some_and(|(p, _)| {
                        p.partition == pr.index
                            && if version >= 13 {
                                p.topic.id() == topic.topic_id
                            } else {
                                p.topic.wire_name == topic.name
                            }
                    })
                };
                let at = slots[from..]
                    .iter()
                    .position(matches)
                    .map(|i| from + i)
                    .or_else(|| slots[..from].iter().position(matches));
                let Some((part, b)) = at.and_then(|i| {
                    from = i + 1;
                    slots[i].take()
                }) else {
                    continue;
                };
                let code = ErrorCode::from_code(pr.error_code).filter(|c| {
                    // Idempotence: the broker has this batch already (a retry of a
                    // written one): success.
                    !(*c == ErrorCode::DUPLICATE_SEQUENCE_NUMBER && b.stamp.is_some())
                });
                match code {
                    None => {
                        part.acked(b.stamp, b.records());
                        self.answered(&part);
                        super::stats::acked(&self.sh, self.me.broker, &part, &b, pr.base_offset);
                        b.complete(Ok(BatchAck {
                            base_offset: pr.base_offset,
                            log_append_time: (pr.log_append_time_ms >= 0)
                                .then_some(pr.log_append_time_ms),
                        }));
                    }
                    Some(code) => {
                        let mut message = pr.error_message.map(|m| m.to_string());
                        if let Some(r) = pr.record_errors.first() {
                            let detail = format!(
                                "record {}: {}",
                                r.batch_index,
                                r.batch_index_error_message.as_deref().unwrap_or("rejected")
                            );
                            message =
                                Some(message.map_or(detail.clone(), |m| format!("{m}; {detail}")));
                        }
                        let err = Error::broker(code, self.context(&part), message);
                        self.take_leader_hint(&part, code, &pr.current_leader, &endpoints);
                        self.retry_or_fail(&part, b, err, now);
                    }
                }
            }
        }
        for (part, b) in slots.into_iter().flatten() {
            self.answered(&part);
            super::stats::failed(&self.sh, &b);
            b.complete(Err(Error::Protocol {
                context: self.context(&part),
                message: "the Produce response does not mention this partition".into(),
            }));
        }
    }

    /// A leader hint (KIP-951) with NOT_LEADER_OR_FOLLOWER or FENCED_LEADER_EPOCH: when
    /// it is news, the partition moves to the named leader at once (its retry goes
    /// there, with no Metadata request first).
    fn take_leader_hint(
        &self,
        part: &PartitionState,
        code: ErrorCode,
        hint: &kafka_protocol::messages::produce_response::LeaderIdAndEpoch,
        endpoints: &[crate::cluster::BrokerInfo],
    ) {
        if !matches!(
            code,
            ErrorCode::NOT_LEADER_OR_FOLLOWER | ErrorCode::FENCED_LEADER_EPOCH
        ) {
            return;
        }
        let leader = hint.leader_id.0;
        let moved = self.sh.client.apply_leader_hint(
            &part.topic.name,
            part.partition,
            leader,
            hint.leader_epoch,
            endpoints,
        );
        // The new leader's sender may not run yet (no metadata named it before).
        if moved && leader != self.me.broker && self.sh.ensure_sender(leader).is_ok() {
            part.leader
                .store(leader, std::sync::atomic::Ordering::Release);
            self.sh.rerouted();
        }
    }

    fn context(&self, part: &PartitionState) -> ErrorContext {
        let mut ctx = ErrorContext::default()
            .with_api(ApiKey::Produce)
            .with_resource(part.topic.name.to_string())
            .with_partition(part.partition);
        ctx.broker = Some(self.me.broker);
        ctx.address = self.conn.as_ref().map(|c| c.address().to_string());
        ctx
    }

    /// After a failed attempt: split (MESSAGE_TOO_LARGE), retry with backoff, or fail.
    fn retry_or_fail(
        &mut self,
        part: &Arc<PartitionState>,
        mut b: ProducerBatch,
        err: Error,
        now: Instant,
    ) {
        let cfg = &self.sh.config;
        if self.sh.is_aborted() {
            part.answered();
            super::stats::failed(&self.sh, &b);
            b.complete(Err(Error::Closed));
            return;
        }
        if err.code() == Some(ErrorCode::MESSAGE_TOO_LARGE) && b.records() > 1 {
            match b.split() {
                Ok(parts) => {
                    tracing::debug!(topic = %part.topic.name, partition = part.partition, "batch too large for the broker: split in two");
                    part.requeue_split(parts);
                    drop(b); // settled as split; its futures follow the parts
                    self.sh.wake_for(part);
                    return;
                }
                Err(split_err) => {
                    tracing::warn!(error = %split_err, "cannot split an oversized batch")
                }
            }
        }
        // An attempt that may have reached the log marks the batch before anything is
        // decided: whether it is retried or fails now (its delivery deadline passed while
        // the request was out), its verdict must be "possibly persisted". Found by the
        // 10,000-seed simulation: a request lost past the deadline failed "definitely".
        if may_be_in_log(&err) {
            b.maybe_written = true;
        }
        let expired = now >= b.deadline(cfg.delivery_timeout);
        if let Some(stamp) = b.stamp {
            let code = err.code();
            let old_epoch = self.sh.identity().is_stale(stamp.producer);
            let requeue = match code {
                // Sent under an identity since bumped: re-stamped at the next drain.
                Some(ErrorCode::INVALID_PRODUCER_EPOCH | ErrorCode::PRODUCER_FENCED)
                    if old_epoch =>
                {
                    true
                }
                // The broker lost this producer's state: bump, then re-send (a
                // transactional producer fails the batch: its transaction aborts).
                Some(ErrorCode::UNKNOWN_PRODUCER_ID) if self.sh.txn.is_none() => {
                    self.sh.request_bump(stamp.producer);
                    true
                }
                Some(ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER) => {
                    if part.is_next_to_ack(stamp) {
                        // A real gap (the broker lost acknowledged data): the Java
                        // client fails the batch and bumps the epoch.
                        false
                    } else {
                        // An earlier batch failed: retry behind it.
                        true
                    }
                }
                _ => false,
            };
            if requeue && !expired {
                let backoff = self.sh.client.retry_backoff(b.attempts);
                b.attempts += 1;
                tracing::debug!(topic = %part.topic.name, partition = part.partition, error = %err, "idempotent batch: retrying");
                b.last_error = Some(err);
                part.requeue(b, Some(now + backoff));
                self.sh.wake_for(part);
                return;
            }
        }
        if err.is_retriable() && !expired && b.attempts < cfg.retries {
            let backoff = self.sh.client.retry_backoff(b.attempts);
            b.attempts += 1;
            super::stats::retried(&self.sh);
            let stale = err.is_stale_metadata();
            let lost = matches!(
                err,
                Error::ConnectionLost { .. } | Error::Timeout { .. } | Error::Connect { .. }
            );
            tracing::debug!(topic = %part.topic.name, partition = part.partition, attempt = b.attempts, error = %err, "retrying batch");
            b.last_error = Some(err);
            part.requeue(b, Some(now + backoff));
            if stale && part.leader() == self.me.broker {
                // Stop sending here until fresh metadata names the leader.
                part.leader.store(
                    super::accumulator::NO_LEADER,
                    std::sync::atomic::Ordering::Release,
                );
                self.sh.rerouted();
            }
            // A partition already moved elsewhere (a leader hint) needs no refresh.
            let moved = stale && part.leader() != self.me.broker && part.leader() >= 0;
            if (stale || lost) && !moved {
                self.sh.request_refresh(&part.topic);
            }
            if part.leader() != self.me.broker {
                self.sh.wake_for(part);
            }
            return;
        }
        self.answered(part);
        let final_err = if err.is_retriable() && expired {
            b.last_error = Some(err);
            b.timeout_error(cfg.delivery_timeout)
        } else {
            err
        };
        super::stats::failed(&self.sh, &b);
        self.sh.fail_batch(b, final_err);
    }

    /// Counts a batch's request as answered; a partition that moved to another broker
    /// waited for this, so wake its new sender.
    fn answered(&self, part: &PartitionState) {
        part.answered();
        if part.leader() != self.me.broker {
            self.sh.wake_for(part);
        }
    }

    fn fail_expired(&mut self) {
        let timeout = self.sh.config.delivery_timeout;
        for mut b in std::mem::take(&mut self.expired) {
            let e = b.timeout_error(timeout);
            super::stats::failed(&self.sh, &b);
            self.sh.fail_batch(b, e);
        }
    }
}

/// Whether a failed attempt may still have appended the batch: no answer (a lost
/// connection, a timeout) or an answer that says so (the leader moved or timed out
/// after the write, or the append happened below min.insync).
fn may_be_in_log(err: &Error) -> bool {
    err.is_indeterminate()
        || matches!(
            err.code(),
            Some(
                ErrorCode::NOT_LEADER_OR_FOLLOWER
                    | ErrorCode::REQUEST_TIMED_OUT
                    | ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND
            )
        )
}

#[cfg(test)]
#[path = "unit_tests/sender_drain.rs"]
mod drain_tests;
#[cfg(test)]
#[path = "unit_tests/sender_identity.rs"]
mod identity_tests;
#[cfg(test)]
#[path = "unit_tests/sender_leader_hint.rs"]
mod leader_hint_tests;
#[cfg(test)]
#[path = "unit_tests/sender_response.rs"]
mod response_tests;
#[cfg(test)]
#[path = "unit_tests/sender_retry.rs"]
mod retry_tests;
#[cfg(test)]
#[path = "unit_tests/sender_step.rs"]
mod step_tests;
#[cfg(test)]
#[path = "unit_tests/sender_internals.rs"]
mod unit_tests;
#[cfg(test)]
#[path = "unit_tests/sender_wakeups.rs"]
mod wakeup_tests;
