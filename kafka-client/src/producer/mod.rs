//! The producer: [`Producer`] batches records per partition and sends them to each
//! partition's leader, one Produce request per broker covering every ready partition.
//!
//! ```no_run
//! # async fn run() -> kafka_client::Result<()> {
//! use std::time::Duration;
//! use kafka_client::producer::{Producer, ProducerRecord};
//!
//! let producer = Producer::builder()
//!     .bootstrap_servers(["127.0.0.1:9092"])
//!     .build()?;
//! // `send` waits only for buffer space; the returned future resolves on acknowledgement.
//! let delivery = producer
//!     .send(ProducerRecord::new("events").with_key("user-1").with_value("clicked"))
//!     .await?;
//! let meta = delivery.await?;
//! println!("{}-{} offset {}", meta.topic, meta.partition, meta.offset);
//! producer.close(Duration::from_secs(10)).await?;
//! # Ok(()) }
//! ```
//!
//! # How it works
//! - **Accumulator** (`accumulator.rs`, `batch.rs`): each partition has its own lock, an
//!   open batch that records are encoded straight into (a pooled buffer, no allocation
//!   per record), and a queue of closed batches. `buffer.memory` (`memory.rs`) bounds
//!   the bytes held: `send` waits for room, `try_send` fails at once.
//! - **Senders** (`sender.rs`): one task per broker drains every ready partition it
//!   leads (full, lingered, or flushed) into one Produce request, keeps up to
//!   `max.in.flight` requests in flight on its connection, and settles or retries each
//!   batch from the response. A batch is encoded (compressed, checksummed) once; retries
//!   re-send the same bytes.
//! - **Metadata** (`metadata.rs`): one task refreshes leaders when a sender meets a
//!   leader error or a lost connection, moves partitions between senders, and expires
//!   the batches of partitions that have no leader.
//! - **Delivery** (`delivery.rs`): one completion cell per batch; a record's
//!   [`DeliveryFuture`] is that cell plus the record's index.
//!
//! # Idempotence (on by default, as in the Java client)
//! - Before its first Produce, a sender runs InitProducerId (no transactional id) on a
//!   general connection to any broker (`shared.rs`); every batch is stamped with the
//!   producer id, epoch and its partition's next base sequence when it is first drained
//!   (`accumulator.rs`), and a retry re-sends the same bytes, so the broker drops a
//!   duplicate (DUPLICATE_SEQUENCE_NUMBER counts as success).
//! - Up to `max.in.flight` (at most 5) batches per partition are in flight; a retried
//!   batch goes alone once the partition has nothing in flight, so order is kept.
//! - OUT_OF_ORDER_SEQUENCE_NUMBER for a batch behind an unacknowledged one is retried
//!   behind it; for the first unacknowledged batch (a real gap) the batch fails and the
//!   epoch is bumped. UNKNOWN_PRODUCER_ID bumps the epoch and re-sends. A bump (KIP-360:
//!   InitProducerId with the current id and epoch) waits for the sender's in-flight
//!   requests, restarts every partition's sequences at 0, and re-stamps queued batches
//!   as they are drained.
//! - A batch that fails for good after a request carrying it was written without an
//!   answer (lost connection, timeout, NOT_LEADER_OR_FOLLOWER) fails with
//!   [`Error::PossiblyPersisted`] (`is_indeterminate()`),
//!   never as a plain failure. Any failed stamped batch leaves an unresolved sequence, so
//!   the epoch is bumped before its partition sends again; a batch that may be in the
//!   log is never re-stamped under the new epoch (it fails as possibly persisted).
//! - `acks` other than `all` or `max.in.flight` above 5 turn idempotence off when it was
//!   not set, and are a configuration error when `enable_idempotence(true)` was set.
//!
//! # Guarantees and limits
//! - Every record accepted by `send`/`try_send` resolves its future exactly once: with
//!   its offset, or a typed [`Error`] ([`Error::DeliveryTimeout`]
//!   after `delivery.timeout`, [`Error::PossiblyPersisted`]
//!   when idempotent and the outcome is unknown, the broker's error when it is not
//!   retriable, or [`Error::Closed`] when `close` gave up).
//! - Per-partition order is kept across retries. With idempotence (the default) this
//!   holds with up to 5 requests in flight. Without it, batches of the same partition
//!   that were already in flight behind a failed one may still land before its retry
//!   (the Java client's limit); use `max_in_flight(1)` for strict order.
//! - With idempotence, retries write no duplicates. Without it, retries may duplicate
//!   records when a request's answer was lost.
//!
//! # Transactions
//! [`ProducerBuilder::build_transactional`] gives a [`TransactionalProducer`]: `begin()`
//! returns a [`Transaction`] guard with `send`, `send_offsets` (exactly-once
//! consume-transform-produce), `commit` and `abort`; dropping it un-committed aborts.
//! Errors say whether the transaction is abortable or the producer is fenced
//! ([`TransactionErrorKind`](crate::TransactionErrorKind)). KIP-890 (transaction
//! protocol v2) is used when the cluster finalizes it.

mod accumulator;
mod batch;
mod builder;
mod delivery;
mod identity;
mod memory;
mod metadata;
mod partitioner;
mod properties;
mod record;
mod sender;
mod shared;
mod stats;
mod txn;
#[cfg(test)]
mod unit_tests;

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

pub use builder::{Acks, ProducerBuilder};
pub use delivery::DeliveryFuture;
pub use partitioner::{Partitioner, Partitioning, key_partition};
#[cfg(test)]
pub(crate) use properties::PRODUCER_OPTIONS;
pub use record::{ProducerRecord, RecordMetadata};
pub use txn::{Transaction, TransactionalProducer};

use accumulator::{PartitionState, TopicEntry, Wake};
use builder::ProducerConfig;
use delivery::wait_settled;
use record::now_ms;
use shared::Shared;

use crate::client::Client;
use crate::error::{Error, ErrorCode, ErrorContext, Result};
pub use crate::records::Compression;
use crate::records::{self, BATCH_HEADER_SIZE, batch_size_upper_bound};

/// A Kafka producer. Cheap to clone (an `Arc` inside); every clone shares the buffers,
/// connections and background tasks. `Send + Sync`.
///
/// Dropping the last clone without [`close`](Self::close) stops accepting records but
/// still delivers the pending ones in the background (bounded by `delivery.timeout`).
#[derive(Clone)]
pub struct Producer {
    inner: Arc<Handle>,
}

/// Owned by the handles only: when the last one goes, the producer starts closing.
#[derive(Debug)]
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.shared.begin_close();
    }
}

impl std::fmt::Debug for Producer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sh = &self.inner.shared;
        f.debug_struct("Producer")
            .field("client", &sh.client)
            .field("acks", &sh.config.acks)
            .field("closing", &sh.is_closing())
            .finish_non_exhaustive()
    }
}

/// Why a partition could not be chosen.
enum Choice {
    Ok(i32),
    OutOfRange(i32, usize),
}

/// What the fast path of a send did.
enum Fast {
    /// Appended (or failed for good).
    Done(Result<DeliveryFuture>),
    /// The topic's metadata is not loaded.
    NoTopic,
    /// The partition is out of range (an explicit one; the topic may have grown).
    OutOfRange,
    /// The buffer is full; this partition was chosen.
    Full(i32),
}

impl Producer {
    /// A builder with the Java client's defaults.
    pub fn builder() -> ProducerBuilder {
        ProducerBuilder::new()
    }

    pub(crate) fn new(client: Client, owns_client: bool, config: ProducerConfig) -> Self {
        Producer {
            inner: Arc::new(Handle {
                shared: Arc::new(Shared::new(client, owns_client, config)),
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    /// The client the producer sends through.
    pub fn client(&self) -> &Client {
        &self.shared().client
    }

    /// Queues `record` and returns the future of its delivery.
    ///
    /// Waits only for the topic's metadata (first send to a topic) and for room in
    /// `buffer.memory`, both bounded by `max.block`. Fails at once, with the record not
    /// queued, when the record is larger than `max.request.size` ([`Error::TooLarge`]),
    /// its partition does not exist ([`Error::UnknownTopicOrPartition`]), the topic is
    /// unknown after `max.block` (a broker error with code UNKNOWN_TOPIC_OR_PARTITION),
    /// the buffer stays full ([`Error::BufferFull`]) or the producer is closed.
    ///
    /// # Cancel safety
    /// Cancel-safe. The record is queued in the same step that completes the future, so a
    /// send dropped before it completes has not queued the record and holds none of
    /// `buffer.memory` (a wait for room gives its place up). A completed send's record is
    /// delivered whatever the caller does next, its outcome reported by the returned
    /// [`DeliveryFuture`] (dropping that future does not stop the delivery).
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let sh = self.shared();
        sh.check_open()?;
        let charge = self.charge_for(&record)?;
        // Fast path: metadata known and room in the buffer, all under one lock, no clock.
        // The partition is chosen once per record (the partitioner's round-robin counter
        // and sticky byte count move once), here or below, and carried to the append.
        let chosen = match self.append_now(&record, charge, false) {
            Fast::Done(done) => return done,
            Fast::Full(p) => Some(p),
            Fast::NoTopic | Fast::OutOfRange => None,
        };
        let deadline = Instant::now() + sh.config.max_block;
        let mut topic = match sh.topic(&record.topic) {
            Some(t) => t,
            None => self.load_topic(&record.topic, deadline).await?,
        };
        let partition = match chosen {
            Some(p) => p,
            None => {
                let first = self.choose(&topic.partitions(), &topic, &record, charge);
                match first {
                    Choice::Ok(p) => p,
                    Choice::OutOfRange(..) => {
                        // Only an explicit partition is ever out of range (the partitioners
                        // stay in range), so looking again has no side effect. The topic may
                        // have grown: look once more before failing.
                        sh.client.invalidate_topic(&record.topic);
                        topic = self.load_topic(&record.topic, deadline).await?;
                        match self.choose(&topic.partitions(), &topic, &record, charge) {
                            Choice::Ok(p) => p,
                            Choice::OutOfRange(p, n) => {
                                return Err(out_of_range(&record.topic, p, n));
                            }
                        }
                    }
                }
            }
        };
        sh.res
            .memory
            .reserve(charge, deadline, || sh.wake_senders())
            .await?;
        self.append_reserved(&topic, partition, &record, charge)
    }

    /// Sends `record` and waits for its acknowledgement.
    ///
    /// # Cancel safety
    /// Not atomic. Dropped before the record was queued, nothing is sent (as
    /// [`send`](Self::send)); dropped while waiting for the acknowledgement, the record is
    /// delivered (or fails) anyway and only its outcome is lost to the caller. No buffer
    /// memory is held either way. Use `send` and keep the [`DeliveryFuture`] when the
    /// outcome matters after a cancellation.
    pub async fn send_and_wait(&self, record: ProducerRecord) -> Result<RecordMetadata> {
        self.send(record).await?.await
    }

    /// Queues `record` if that needs no waiting; never waits. Fails with
    /// [`Error::BufferFull`] when `buffer.memory` has no room, and with
    /// [`Error::MetadataPending`] on the first record for a topic whose metadata is not
    /// loaded yet (loading starts; a later call succeeds). Otherwise as
    /// [`send`](Self::send).
    pub fn try_send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let sh = self.shared();
        sh.check_open()?;
        let charge = self.charge_for(&record)?;
        match self.append_now(&record, charge, true) {
            Fast::Done(done) => done,
            Fast::NoTopic | Fast::Full(_) | Fast::OutOfRange => {
                self.load_in_background(&record.topic)?;
                Err(Error::MetadataPending {
                    topic: record.topic.to_string(),
                })
            }
        }
    }

    /// Sends every record queued so far without waiting for linger, and waits until each
    /// is acknowledged or failed. Records sent meanwhile are not waited for.
    ///
    /// # Cancel safety
    /// Cancel-safe: dropping it stops only the waiting. The records stay queued and are
    /// delivered as usual (with linger again once no flush runs), and the next call works.
    pub async fn flush(&self) {
        let sh = self.shared();
        let _flushing = sh.flush_guard();
        wait_settled(sh.res.snapshot()).await;
    }

    /// Stops accepting records (later sends fail with [`Error::Closed`]), delivers the
    /// pending ones, and waits up to `timeout` for them. Records still pending then fail
    /// with [`Error::Closed`] and the call returns [`Error::Deadline`]. Either way every
    /// record's future has resolved when this returns. Closes the client if the producer
    /// built it.
    ///
    /// # Cancel safety
    /// Dropped before it completes, the producer is already closed to new records (sends
    /// fail with [`Error::Closed`]); its pending records are still delivered in the
    /// background, bounded by `delivery.timeout`, their futures resolve and their buffer
    /// memory is given back. The client is closed only by a `close` that completes: call it
    /// again to wait.
    pub async fn close(&self, timeout: Duration) -> Result<()> {
        let sh = self.shared();
        sh.begin_close();
        let deadline = Instant::now() + timeout;
        let mut result = Ok(());
        loop {
            let pending = sh.res.snapshot();
            if pending.is_empty() {
                break;
            }
            if tokio::time::timeout_at(deadline, wait_settled(pending))
                .await
                .is_err()
            {
                let left = sh.res.snapshot().len();
                sh.abort();
                result = Err(Error::Deadline {
                    operation: format!(
                        "closing the producer ({left} batches were still pending; their \
                         records failed with Closed)"
                    ),
                    timeout,
                    last_error: None,
                });
                break;
            }
        }
        if sh.owns_client {
            let left = deadline.saturating_duration_since(Instant::now());
            sh.client
                .end_metrics_push(left.min(Duration::from_secs(5)))
                .await;
            sh.client.close();
        }
        result
    }

    /// The bytes of `buffer.memory` a record takes, after checking it can ever be sent.
    fn charge_for(&self, r: &ProducerRecord) -> Result<usize> {
        let sh = self.shared();
        let (key, value) = (r.key.as_deref(), r.value.as_deref());
        let charge = record_bound(key, value, &r.headers);
        let limit = sh.config.max_request_size;
        if charge.saturating_add(BATCH_HEADER_SIZE) > limit {
            // Near the limit: decide on the exact encoded size, not the quick bound.
            let size = batch_size_upper_bound(key, value, &r.headers);
            if size > limit {
                return Err(Error::TooLarge {
                    what: format!("record for topic {} (max.request.size)", r.topic),
                    size,
                    limit,
                });
            }
        }
        if charge > sh.res.memory.capacity() {
            return Err(Error::TooLarge {
                what: format!("record for topic {} (buffer.memory)", r.topic),
                size: charge,
                limit: sh.res.memory.capacity(),
            });
        }
        Ok(charge)
    }

    fn choose(
        &self,
        parts: &[Arc<PartitionState>],
        topic: &TopicEntry,
        r: &ProducerRecord,
        charge: usize,
    ) -> Choice {
        let sh = self.shared();
        let n = parts.len();
        let p = match r.partition {
            Some(p) => p,
            None => topic.partitioner.choose(
                &sh.config.partitioning,
                &r.topic,
                r.key.as_deref(),
                r.value.as_deref(),
                i32::try_from(n).unwrap_or(i32::MAX),
                charge,
                &sh.config.sticky,
                |i, now| {
                    parts
                        .get(i as usize)
                        .and_then(|p| p.load(now, sh.config.sticky.adaptive.availability_timeout))
                },
            ),
        };
        if p < 0 || p as usize >= n {
            Choice::OutOfRange(p, n)
        } else {
            Choice::Ok(p)
        }
    }

    /// Appends `r` if that needs no waiting. Otherwise says why: the topic's metadata is
    /// not loaded, or (unless `fail_fast`) the partition is out of range or the buffer is
    /// full (with the partition chosen, for the caller to append to after waiting); with
    /// `fail_fast` those are errors.
    fn append_now(&self, r: &ProducerRecord, charge: usize, fail_fast: bool) -> Fast {
        let sh = self.shared();
        let (done, wake) = {
            // Holding the registry's read lock keeps a closing task from stopping while
            // this record goes in (see `Shared::may_stop`).
            let topics = sh.topics();
            let Some(topic) = topics.get(&*r.topic) else {
                return Fast::NoTopic;
            };
            let parts = topic.partitions();
            let partition = match self.choose(&parts, topic, r, charge) {
                Choice::Ok(p) => p,
                Choice::OutOfRange(p, n) if fail_fast => {
                    return Fast::Done(Err(out_of_range(&r.topic, p, n)));
                }
                Choice::OutOfRange(..) => return Fast::OutOfRange,
            };
            match sh.res.memory.try_reserve(charge) {
                Ok(()) => {}
                Err(Error::BufferFull { .. }) if !fail_fast => return Fast::Full(partition),
                Err(e) => return Fast::Done(Err(e)),
            }
            self.append_locked(&parts, partition, r, charge)
        };
        if let Some(part) = wake {
            sh.wake_for(&part);
        }
        Fast::Done(done)
    }

    /// Appends `r` to `partition` (chosen already), whose bytes are reserved already
    /// (after a wait).
    fn append_reserved(
        &self,
        topic: &TopicEntry,
        partition: i32,
        r: &ProducerRecord,
        charge: usize,
    ) -> Result<DeliveryFuture> {
        let sh = self.shared();
        let (done, wake) = {
            let _gate = sh.topics();
            let parts = topic.partitions();
            if partition >= 0 && (partition as usize) < parts.len() {
                self.append_locked(&parts, partition, r, charge)
            } else {
                sh.res.memory.release(charge);
                (Err(out_of_range(&r.topic, partition, parts.len())), None)
            }
        };
        if let Some(part) = wake {
            sh.wake_for(&part);
        }
        done
    }

    /// Appends to the partition's open batch while the caller holds the registry's read
    /// lock; gives the reserved bytes back on failure. Also returns the partition whose
    /// sender to wake once the caller's locks are released.
    fn append_locked(
        &self,
        parts: &[Arc<PartitionState>],
        partition: i32,
        r: &ProducerRecord,
        charge: usize,
    ) -> (Result<DeliveryFuture>, Option<Arc<PartitionState>>) {
        let sh = self.shared();
        let result = match parts.get(partition as usize) {
            _ if sh.is_closing() => Err(Error::Closed),
            None => Err(out_of_range(&r.topic, partition, parts.len())),
            Some(part) => part
                .append(
                    &sh.res,
                    r.timestamp.unwrap_or_else(now_ms),
                    r.key.as_deref(),
                    r.value.as_deref(),
                    &r.headers,
                    charge,
                )
                .map(|(fut, wake)| (fut, (wake == Wake::Sender).then(|| part.clone()))),
        };
        match result {
            Ok((fut, wake)) => (Ok(fut), wake),
            Err(e) => {
                sh.res.memory.release(charge);
                (Err(e), None)
            }
        }
    }

    /// Loads a topic's metadata, retrying until `deadline` while the topic is unknown.
    async fn load_topic(&self, name: &str, deadline: Instant) -> Result<Arc<TopicEntry>> {
        load_topic(self.shared(), name, deadline).await
    }

    /// Starts loading a topic's metadata for `try_send`, once per topic at a time.
    fn load_in_background(&self, name: &Arc<str>) -> Result<()> {
        let sh = self.shared().clone();
        let handle = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config("the producer must be used inside a tokio runtime".into())
        })?;
        if !sh.start_loading(name) {
            return Ok(());
        }
        let name = name.clone();
        let deadline = Instant::now() + sh.config.max_block;
        handle.spawn(async move {
            if let Err(e) = load_topic(&sh, &name, deadline).await {
                tracing::debug!(topic = %name, error = %e, "background metadata load failed");
            }
            sh.done_loading(&name);
        });
        Ok(())
    }
}

async fn load_topic(sh: &Arc<Shared>, name: &str, deadline: Instant) -> Result<Arc<TopicEntry>> {
    let mut last: Option<Error> = None;
    for attempt in 0u32.. {
        // Within the deadline's scope, a Metadata wait (a bootstrap) ends at `max.block`
        // with what it met, rather than after its own API timeout.
        let lookup = crate::ops::deadline::within(deadline, sh.client.topic(name));
        match tokio::time::timeout_at(deadline, lookup).await {
            Ok(Ok(info)) if !info.partitions.is_empty() => return sh.register_topic(&info),
            Ok(Ok(_)) => {
                last = Some(Error::broker(
                    ErrorCode::LEADER_NOT_AVAILABLE,
                    ErrorContext::default().with_resource(name),
                    Some("the topic has no partitions in the metadata yet".into()),
                ))
            }
            // A lookup the deadline cut short reports the client's last real Metadata
            // failure itself, so the latest error is always the one to keep.
            Ok(Err(e)) if e.is_retriable() => last = Some(e),
            Ok(Err(e)) => return Err(e),
            Err(_elapsed) => break,
        }
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        // Back off, but never past the deadline: the topic may appear until max.block.
        tokio::time::sleep_until((now + sh.client.retry_backoff(attempt)).min(deadline)).await;
        // The next lookup must ask the cluster again.
        sh.client.invalidate_topic(name);
    }
    let max_block = sh.config.max_block;
    // No lookup ended before the deadline: the client's last failed Metadata attempt
    // is the cause (a protocol error, a refused connection).
    let last = last.or_else(|| sh.client.last_metadata_error());
    Err(match last {
        Some(e)
            if e.code() == Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION)
                || matches!(e, Error::UnknownTopicOrPartition(_)) =>
        {
            Error::broker(
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION,
                ErrorContext::default().with_resource(name),
                Some(format!(
                    "topic {name} not present in metadata after {max_block:?} (max.block)"
                )),
            )
        }
        other => Error::Deadline {
            operation: format!("loading metadata for topic {name}"),
            timeout: max_block,
            last_error: other.map(Box::new),
        },
    })
}

/// A quick upper bound of a record's encoded size in a batch (every varint at its
/// widest), without computing each varint's width.
fn record_bound(key: Option<&[u8]>, value: Option<&[u8]>, headers: &[records::Header]) -> usize {
    // Length 5, attributes 1, timestamp delta 10, offset delta 5, key and value lengths
    // 5 + 5, header count 5; per header, two lengths of 5.
    let len = |b: Option<&[u8]>| b.map_or(0, <[u8]>::len);
    headers.iter().fold(
        36usize.saturating_add(len(key)).saturating_add(len(value)),
        |n, h| {
            n.saturating_add(10 + h.key.len())
                .saturating_add(len(h.value.as_deref()))
        },
    )
}

fn out_of_range(topic: &str, partition: i32, partitions: usize) -> Error {
    Error::UnknownTopicOrPartition(format!(
        "{topic}-{partition}: the topic has {partitions} partitions"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn send_sync<T: Send + Sync>() {}
    fn is_send<T: Send>(_: &T) {}

    fn unreachable() -> Producer {
        Producer::builder()
            .bootstrap_servers(["127.0.0.1:1"])
            .max_block(Duration::from_millis(300))
            .build()
            .unwrap()
    }

    #[test]
    fn handles_and_futures_are_send() {
        send_sync::<Producer>();
        send_sync::<DeliveryFuture>();
        let p = unreachable();
        is_send(&p.send(ProducerRecord::new("t")));
        is_send(&p.send_and_wait(ProducerRecord::new("t")));
        is_send(&p.flush());
        is_send(&p.close(Duration::ZERO));
    }

    #[tokio::test]
    async fn without_a_cluster_send_fails_typed_after_max_block() {
        let p = unreachable();
        let started = std::time::Instant::now();
        let err = p
            .send(ProducerRecord::new("t").with_value("v"))
            .await
            .unwrap_err();
        let waited = started.elapsed();
        assert!(matches!(err, Error::Deadline { .. }), "{err:?}");
        assert!(
            waited >= Duration::from_millis(250) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
        // Nothing was queued: close is immediate and clean.
        p.close(Duration::from_secs(1)).await.unwrap();
        let err = p.send(ProducerRecord::new("t")).await.unwrap_err();
        assert!(matches!(err, Error::Closed), "{err:?}");
    }

    #[tokio::test]
    async fn oversized_records_fail_before_any_io() {
        let p = Producer::builder()
            .bootstrap_servers(["127.0.0.1:1"])
            .max_request_size(2048)
            .buffer_memory(1024)
            .build()
            .unwrap();
        let err = p
            .send(ProducerRecord::new("t").with_value(vec![0; 4096]))
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { limit: 2048, .. }),
            "{err:?}"
        );
        // Under max.request.size but over buffer.memory: it could never be buffered.
        let err = p
            .try_send(ProducerRecord::new("t").with_value(vec![0; 1500]))
            .unwrap_err();
        assert!(
            matches!(err, Error::TooLarge { limit: 1024, .. }),
            "{err:?}"
        );
    }
}
