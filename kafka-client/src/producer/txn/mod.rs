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
use std::sync::{Arc, Mutex};
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
    /// An abort started by dropping an open [`Transaction`], awaited by the next call.
    pending_abort: Arc<Mutex<Option<JoinHandle<Result<()>>>>>,
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
            pending_abort: Arc::new(Mutex::new(None)),
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

    /// Begins a transaction. Finishes an abort left by a dropped [`Transaction`] first,
    /// and re-initializes the producer id when the last commit's outcome was unknown.
    pub async fn begin(&mut self) -> Result<Transaction<'_>> {
        self.settle_pending_abort().await?;
        match &self.status {
            Status::Fatal(e) => return Err(e.clone()),
            Status::NeedsReinit => self.reinit().await?,
            Status::Ready => {}
        }
        self.ctx.txn.begin();
        tracing::debug!(transactional_id = %self.ctx.txn.id, generation = self.ctx.txn.generation(), "transaction begun");
        Ok(Transaction {
            producer: self,
            finished: false,
        })
    }

    async fn settle_pending_abort(&mut self) -> Result<()> {
        let handle = self
            .pending_abort
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(h) = handle {
            match h.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => self.note(&e),
                Err(join) => {
                    self.status = Status::NeedsReinit;
                    tracing::warn!(error = %join, "background abort did not finish");
                }
            }
        }
        if self.ctx.txn.take_bump() && !matches!(self.status, Status::Fatal(_)) {
            self.status = Status::NeedsReinit;
        }
        Ok(())
    }

    /// Bumps the epoch: InitProducerId with the current id and epoch.
    async fn reinit(&mut self) -> Result<()> {
        let current = self.ctx.sh.current_producer();
        match self.ctx.init_producer_id(current).await {
            Ok(()) => {
                self.status = Status::Ready;
                Ok(())
            }
            Err(e) => {
                self.note(&e);
                Err(e)
            }
        }
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
    pub async fn close(mut self, timeout: Duration) -> Result<()> {
        let _ = tokio::time::timeout(timeout, self.settle_pending_abort()).await;
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
        ctx.send_offsets(&offsets, group).await.map_err(|e| {
            let e = ctx.typed(e, "sending offsets to the transaction failed");
            ctx.txn.fail(&e);
            e
        })
    }

    /// Flushes every record, then commits. If any record or offset of the transaction
    /// failed, the transaction is aborted instead and the error (abortable, or fatal when
    /// the producer was fenced) is returned: its records never become visible. A commit
    /// whose answer never came returns an error of kind `OutcomeUnknown`.
    pub async fn commit(mut self) -> Result<()> {
        self.finished = true;
        let p = &mut *self.producer;
        let ctx = p.ctx.clone();
        p.producer.flush().await;
        if let Some(cause) = ctx.txn.failure() {
            let kind = TxnShared::classify(&cause);
            let aborted = abort_now(&ctx).await;
            let e = ctx.txn.error(
                kind,
                match aborted {
                    Ok(()) => {
                        "a record or offset of the transaction failed; the transaction was aborted"
                    }
                    Err(_) => {
                        "a record or offset of the transaction failed; aborting it failed too"
                    }
                },
                Some(cause),
            );
            if let Err(a) = aborted {
                p.note(&a);
            }
            p.note(&e);
            if ctx.txn.take_bump() && !matches!(p.status, Status::Fatal(_)) {
                p.status = Status::NeedsReinit;
            }
            return Err(e);
        }
        let res = if ctx.txn.is_started() {
            ctx.end_txn(true).await
        } else {
            Ok(())
        };
        ctx.txn.end();
        if let Err(e) = &res {
            p.note(e);
        }
        tracing::debug!(transactional_id = %ctx.txn.id, ok = res.is_ok(), "transaction commit");
        res
    }

    /// Aborts: records not yet sent fail, records in flight are waited for, and the
    /// coordinator writes abort markers. The producer can begin a new transaction after.
    pub async fn abort(mut self) -> Result<()> {
        self.finished = true;
        let ctx = self.producer.ctx.clone();
        let res = abort_now(&ctx).await;
        let p = &mut *self.producer;
        if let Err(e) = &res {
            p.note(e);
        }
        if ctx.txn.take_bump() && !matches!(p.status, Status::Fatal(_)) {
            p.status = Status::NeedsReinit;
        }
        res
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
                let task = h.spawn(async move { abort_now(&ctx).await });
                *self
                    .producer
                    .pending_abort
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
#[path = "../unit_tests/txn_flow.rs"]
mod unit_tests;
