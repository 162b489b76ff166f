//! The transactional producer: exactly-once writes across partitions, and
//! consume-transform-produce with the consumer's offsets committed in the transaction.
//!
//! ```no_run
//! # async fn run() -> kafka_client::Result<()> {
//! use kafka_client::producer::{Producer, ProducerRecord};
//!
//! let mut producer = Producer::builder()
//!     .bootstrap_servers(["localhost:9092"])
//!     .transactional_id("orders-copier-1")
//!     .build_transactional() // InitProducerId: fences older instances with this id
//!     .await?;
//! let txn = producer.begin().await?;
//! txn.send(ProducerRecord::new("orders").with_value("a")).await?;
//! txn.send(ProducerRecord::new("orders").with_value("b")).await?;
//! txn.commit().await?; // both or neither become visible to read_committed consumers
//! # Ok(()) }
//! ```
//!
//! States (the Java client's): `begin` moves Ready → InTransaction; `commit` flushes,
//! then EndTxn(commit); `abort` fails unsent records, waits for those in flight, then
//! EndTxn(abort). Errors carry a [`TransactionErrorKind`]: abortable (the transaction
//! was aborted, begin another), fatal (fenced or not authorized: drop the producer) or
//! outcome unknown (the next `begin` re-initializes first, never reusing the epoch
//! blindly). Transaction protocol v1 (AddPartitionsToTxn before a partition's first
//! batch) and v2 (KIP-890: Produce adds partitions, EndTxn bumps the epoch) are both
//! spoken; the broker's finalized `transaction.version` decides.

mod requests;
pub(crate) mod state;

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{DeliveryFuture, Producer, ProducerRecord};
use crate::client::Client;
use crate::error::{Error, Result, TransactionErrorKind};
use crate::ops::CoordinatorLink;
use crate::types::{GroupMetadata, OffsetAndMetadata, TopicPartition};
use requests::TxnCtx;
use state::TxnShared;

/// A producer whose records are written in transactions. Built by
/// [`ProducerBuilder::build_transactional`](super::ProducerBuilder::build_transactional).
/// One transaction at a time: [`begin`](Self::begin) borrows the producer mutably.
pub struct TransactionalProducer {
    producer: Producer,
    ctx: Arc<TxnCtx>,
    status: Status,
    /// A commit, an abort or a re-initialization running as a task, so that dropping
    /// the future that started it (or dropping an open [`Transaction`]) does not stop it
    /// half-way. Awaited, and its outcome applied to `status`, before the next
    /// transaction begins.
    pending: Arc<Mutex<Option<JoinHandle<Ended>>>>,
}

/// What a commit, abort or re-initialization run in the background left.
struct Ended {
    result: Result<()>,
    /// One more error to apply to the status first (an abort that failed while a failed
    /// transaction was being aborted by `commit`).
    also: Option<Error>,
    /// A re-initialization: success makes the producer ready.
    reinit: bool,
}

impl Ended {
    fn of(result: Result<()>) -> Self {
        Ended {
            result,
            also: None,
            reinit: false,
        }
    }
}

impl std::fmt::Debug for TransactionalProducer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransactionalProducer")
            .field("transactional_id", &self.ctx.txn.id)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// Where the producer is between transactions.
#[derive(Debug, Clone)]
enum Status {
    Ready,
    /// The epoch must be bumped (InitProducerId with the current id) before the next
    /// transaction: after an unknown commit outcome, or an abort after a sequence gap.
    NeedsReinit,
    /// Fenced or not authorized: every call fails with this.
    Fatal(Error),
}

impl TransactionalProducer {
    /// Runs the first InitProducerId and starts the partition-adding task.
    pub(crate) async fn init(producer: Producer) -> Result<Self> {
        let sh = producer.shared().clone();
        let Some(txn) = sh.txn.clone() else {
            return Err(Error::Config("not a transactional producer".into()));
        };
        let coordinator = CoordinatorLink::for_transaction(sh.client.clone(), txn.id.clone());
        let ctx = Arc::new(TxnCtx {
            sh,
            txn,
            coordinator,
            groups: Mutex::new(BTreeMap::new()),
        });
        ctx.init_producer_id(None).await?;
        let task_ctx = ctx.clone();
        tokio::spawn(add_partitions_task(task_ctx));
        Ok(TransactionalProducer {
            producer,
            ctx,
            status: Status::Ready,
            pending: Arc::new(Mutex::new(None)),
        })
    }

    /// The `transactional.id`.
    pub fn transactional_id(&self) -> &str {
        &self.ctx.txn.id
    }

    /// The client the producer sends through.
    pub fn client(&self) -> &Client {
        self.producer.client()
    }

    /// Whether the broker speaks transaction protocol v2 (KIP-890) with this producer.
    pub fn uses_transaction_v2(&self) -> bool {
        self.ctx.txn.is_v2()
    }

    /// Begins a transaction. Finishes an abort left by a dropped [`Transaction`] (or a
    /// commit or abort whose future was dropped) first, and re-initializes the producer
    /// id when the last commit's outcome was unknown.
    ///
    /// # Cancel safety
    /// Cancel-safe. Dropped before it completes, no transaction is open. A commit, abort
    /// or re-initialization it was waiting for keeps running in the background and the
    /// next `begin` waits for it (a re-initialization it started is never run twice at
    /// once); the next `begin` works.
    pub async fn begin(&mut self) -> Result<Transaction<'_>> {
        self.settle().await;
        match &self.status {
            Status::Fatal(e) => return Err(e.clone()),
            Status::NeedsReinit => {
                let ctx = self.ctx.clone();
                self.start(async move {
                    let current = ctx.sh.current_producer();
                    Ended {
                        result: ctx.init_producer_id(current).await,
                        also: None,
                        reinit: true,
                    }
                });
                if let Some(Err(e)) = self.settle().await {
                    return Err(e);
                }
            }
            Status::Ready => {}
        }
        self.ctx.txn.begin();
        tracing::debug!(transactional_id = %self.ctx.txn.id, generation = self.ctx.txn.generation(), "transaction begun");
        Ok(Transaction {
            producer: self,
            finished: false,
        })
    }

    /// Runs `work` as a task in the pending slot (empty here: `begin` settled it and an
    /// open [`Transaction`] borrows the producer).
    fn start(&mut self, work: impl Future<Output = Ended> + Send + 'static) {
        let task = tokio::spawn(work);
        *self.pending.lock().unwrap_or_else(|e| e.into_inner()) = Some(task);
    }

    /// Waits for the background work in the pending slot, if any, and applies its
    /// outcome to the status; returns its result. The task stays in the slot until it
    /// has finished, so a caller dropped meanwhile leaves it to the next call.
    async fn settle(&mut self) -> Option<Result<()>> {
        let slot = self.pending.clone();
        let joined = std::future::poll_fn(|cx| {
            let mut slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            match slot.as_mut() {
                None => Poll::Ready(None),
                Some(task) => Pin::new(task).poll(cx).map(|r| {
                    *slot = None;
                    Some(r)
                }),
            }
        })
        .await;
        let out = match joined {
            None => None,
            Some(Ok(ended)) => {
                if let Some(e) = &ended.also {
                    self.note(e);
                }
                match &ended.result {
                    Ok(()) if ended.reinit => self.status = Status::Ready,
                    Ok(()) => {}
                    Err(e) => self.note(e),
                }
                Some(ended.result)
            }
            Some(Err(join)) => {
                self.status = Status::NeedsReinit;
                tracing::warn!(error = %join, "background transaction work did not finish");
                Some(Err(Error::InvalidState(format!(
                    "the transaction's commit, abort or re-initialization did not finish: {join}"
                ))))
            }
        };
        if self.ctx.txn.take_bump() && !matches!(self.status, Status::Fatal(_)) {
            self.status = Status::NeedsReinit;
        }
        out
    }

    /// Updates the status from an error a call returns.
    fn note(&mut self, e: &Error) {
        match e.transaction_kind() {
            Some(TransactionErrorKind::Fatal) => self.status = Status::Fatal(e.clone()),
            Some(TransactionErrorKind::OutcomeUnknown) => self.status = Status::NeedsReinit,
            _ => {}
        }
    }

    /// Waits up to `timeout` for pending records (of a transaction being aborted in the
    /// background), then closes the producer. An open transaction is never committed:
    /// the coordinator aborts it when the transaction timeout passes, or the next
    /// producer with this id aborts it at once.
    ///
    /// # Cancel safety
    /// Dropped before it completes, the producer is closing: it takes no more records,
    /// and the pending ones (with a background abort or commit) are still delivered,
    /// bounded by `delivery.timeout`. The open transaction, if any, is never committed.
    pub async fn close(mut self, timeout: Duration) -> Result<()> {
        let _ = tokio::time::timeout(timeout, self.settle()).await;
        self.producer.close(timeout).await
    }
}

/// An open transaction. [`commit`](Self::commit) or [`abort`](Self::abort) it; dropping
/// it open aborts it in the background (the next [`TransactionalProducer::begin`] waits
/// for that abort).
#[must_use = "a transaction is aborted when dropped without commit()"]
pub struct Transaction<'a> {
    producer: &'a mut TransactionalProducer,
    finished: bool,
}

impl std::fmt::Debug for Transaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transaction")
            .field("transactional_id", &self.producer.ctx.txn.id)
            .field("generation", &self.producer.ctx.txn.generation())
            .finish()
    }
}

impl Transaction<'_> {
    /// Queues `record` in the transaction; as [`Producer::send`]. Fails at once with an
    /// abortable [`Error::Transaction`] when an earlier record of the transaction failed.
    ///
    /// # Cancel safety
    /// Cancel-safe, as [`Producer::send`]: dropped before it completes, the record was
    /// not queued and is not part of the transaction; the transaction stays usable.
    pub async fn send(&self, record: ProducerRecord) -> Result<DeliveryFuture> {
        let txn = &self.producer.ctx.txn;
        if let Some(e) = txn.failure() {
            return Err(txn.error(
                TransactionErrorKind::Abortable,
                "an earlier operation of this transaction failed; abort it",
                Some(e),
            ));
        }
        let fut = self.producer.producer.send(record).await?;
        if txn.is_v2() {
            txn.mark_started();
        }
        Ok(fut)
    }

    /// Commits the consumer's offsets as part of the transaction (AddOffsetsToTxn and
    /// TxnOffsetCommit): they become visible exactly when the transaction commits. The
    /// group metadata (generation, member id) lets the coordinator refuse a zombie
    /// member whose partitions moved: that error is abortable.
    ///
    /// # Cancel safety
    /// Dropped after its first poll but before it completes, the offsets may or may not
    /// have reached the group coordinator, so the transaction fails: later calls and [`commit`](Self::commit)
    /// return an abortable error, `commit` aborts it, and neither its records nor its
    /// offsets become visible (exactly-once holds; consume again from the committed
    /// offsets). Begin the next transaction as usual. A future never polled did nothing.
    pub async fn send_offsets<I>(&self, offsets: I, group: &GroupMetadata) -> Result<()>
    where
        I: IntoIterator<Item = (TopicPartition, OffsetAndMetadata)>,
    {
        let offsets: Vec<_> = offsets.into_iter().collect();
        let ctx = &self.producer.ctx;
        if let Some(e) = ctx.txn.failure() {
            return Err(ctx.txn.error(
                TransactionErrorKind::Abortable,
                "an earlier operation of this transaction failed; abort it",
                Some(e),
            ));
        }
        if offsets.is_empty() {
            return Ok(());
        }
        let cancelled = FailIfDropped(Some(ctx.clone()));
        let res = ctx.send_offsets(&offsets, group).await.map_err(|e| {
            let e = ctx.typed(e, "sending offsets to the transaction failed");
            ctx.txn.fail(&e);
            e
        });
        cancelled.defuse();
        res
    }

    /// Flushes every record, then commits. If any record or offset of the transaction
    /// failed, the transaction is aborted instead and the error (abortable, or fatal when
    /// the producer was fenced) is returned: its records never become visible. A commit
    /// whose answer never came returns an error of kind `OutcomeUnknown`.
    ///
    /// # Cancel safety
    /// Cancel-safe: the commit runs as a task, and dropping this future does not stop
    /// it. It completes in the background exactly as if awaited (flush, then EndTxn; or
    /// the abort when something failed), and the next [`TransactionalProducer::begin`]
    /// waits for it and applies its outcome (fatal, or re-initialize first) before
    /// opening a new transaction. Its result is not reported: read the records back
    /// (read_committed) to learn whether it committed. The transaction is never left
    /// open, nor merged into the next one. A future dropped before its first poll has
    /// not started: it drops the `Transaction` it owns, which aborts it.
    pub async fn commit(mut self) -> Result<()> {
        self.finished = true;
        let ctx = self.producer.ctx.clone();
        let producer = self.producer.producer.clone();
        self.producer.start(commit_now(ctx, producer));
        self.producer.settle().await.unwrap_or(Ok(()))
    }

    /// Aborts: records not yet sent fail, records in flight are waited for, and the
    /// coordinator writes abort markers. The producer can begin a new transaction after.
    ///
    /// # Cancel safety
    /// Cancel-safe: the abort runs as a task and completes in the background when this
    /// future is dropped; the next [`TransactionalProducer::begin`] waits for it. None of
    /// the transaction's records become visible either way.
    pub async fn abort(mut self) -> Result<()> {
        self.finished = true;
        let ctx = self.producer.ctx.clone();
        self.producer
            .start(async move { Ended::of(abort_now(&ctx).await) });
        self.producer.settle().await.unwrap_or(Ok(()))
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let ctx = self.producer.ctx.clone();
        match tokio::runtime::Handle::try_current() {
            Ok(h) => {
                let task = h.spawn(async move { Ended::of(abort_now(&ctx).await) });
                *self
                    .producer
                    .pending
                    .lock()
                    .unwrap_or_else(|e| e.into_inner()) = Some(task);
            }
            Err(_) => {
                // No runtime: the coordinator aborts it at the transaction timeout, and
                // the next begin re-initializes (which aborts it at once).
                self.producer.status = Status::NeedsReinit;
            }
        }
    }
}

/// The abort: fail unsent records, wait for in-flight ones, EndTxn(abort).
/// Fails the transaction (abortable) when dropped armed: `send_offsets` cancelled half-way
/// leaves the offsets' fate unknown, and committing without them would break
/// exactly-once.
struct FailIfDropped(Option<Arc<TxnCtx>>);

impl FailIfDropped {
    fn defuse(mut self) {
        self.0 = None;
    }
}

impl Drop for FailIfDropped {
    fn drop(&mut self) {
        if let Some(ctx) = self.0.take() {
            let e = ctx.txn.error(
                TransactionErrorKind::Abortable,
                "send_offsets was cancelled before it completed (the offsets may or may not be \
                 in the transaction); abort it",
                None,
            );
            ctx.txn.fail(&e);
        }
    }
}

/// The commit: flush, then EndTxn(commit); or, when something of the transaction
/// failed, the abort, returning the failure.
async fn commit_now(ctx: Arc<TxnCtx>, producer: Producer) -> Ended {
    producer.flush().await;
    if let Some(cause) = ctx.txn.failure() {
        let kind = TxnShared::classify(&cause);
        let aborted = abort_now(&ctx).await;
        let e = ctx.txn.error(
            kind,
            match aborted {
                Ok(()) => {
                    "a record or offset of the transaction failed; the transaction was aborted"
                }
                Err(_) => "a record or offset of the transaction failed; aborting it failed too",
            },
            Some(cause),
        );
        return Ended {
            result: Err(e),
            also: aborted.err(),
            reinit: false,
        };
    }
    let res = if ctx.txn.is_started() {
        ctx.end_txn(true).await
    } else {
        Ok(())
    };
    ctx.txn.end();
    tracing::debug!(transactional_id = %ctx.txn.id, ok = res.is_ok(), "transaction commit");
    Ended::of(res)
}

async fn abort_now(ctx: &Arc<TxnCtx>) -> Result<()> {
    let err = ctx.txn.error(
        TransactionErrorKind::Abortable,
        "the transaction was aborted before this record was sent",
        None,
    );
    ctx.txn.fail(&err);
    ctx.sh.fail_unsent(&err);
    super::wait_settled(ctx.sh.res.snapshot()).await;
    let res = if ctx.txn.is_started() {
        ctx.end_txn(false).await
    } else {
        Ok(())
    };
    ctx.txn.end();
    tracing::debug!(transactional_id = %ctx.txn.id, ok = res.is_ok(), "transaction abort");
    res
}

/// Adds partitions to the open transaction as senders ask (protocol v1), until the
/// producer closes.
async fn add_partitions_task(ctx: Arc<TxnCtx>) {
    loop {
        if ctx.sh.is_closing() && ctx.sh.res.is_idle() || ctx.sh.is_aborted() {
            return;
        }
        tokio::select! {
            () = ctx.txn.add_notify.notified() => {}
            () = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
        ctx.add_pending_partitions().await;
    }
}

#[cfg(test)]
#[path = "../unit_tests/txn_background.rs"]
mod background_tests;
#[cfg(test)]
#[path = "../unit_tests/txn_flow.rs"]
mod unit_tests;
