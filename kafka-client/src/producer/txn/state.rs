//! What a transactional producer's sender tasks and its transaction API share: the
//! open transaction's number, whether the broker speaks transaction protocol v2, the
//! first failure of the open transaction, and the partitions waiting for
//! AddPartitionsToTxn (protocol v1).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use tokio::sync::Notify;

use crate::error::{Error, ErrorCode, TransactionErrorKind};
use crate::producer::accumulator::PartitionState;

/// Shared transactional state.
#[derive(Debug)]
pub(crate) struct TxnShared {
    /// `transactional.id`.
    pub id: String,
    /// The same, as every Produce request carries it (built once, cloned cheaply).
    pub wire_id: kafka_protocol::messages::TransactionalId,
    /// `transaction.timeout`.
    pub timeout: Duration,
    /// The open transaction's number (0 before the first). A partition may carry data
    /// of transaction `n` only once `PartitionState::txn_added` is `n` (protocol v1).
    generation: AtomicU64,
    /// Whether a transaction is open (between `begin` and the end of commit/abort).
    open: AtomicBool,
    /// Transaction protocol v2 (KIP-890): Produce adds partitions, EndTxn bumps the epoch.
    v2: AtomicBool,
    /// Something was added to the open transaction on the coordinator (a partition or a
    /// group's offsets), so it must be ended with EndTxn.
    started: AtomicBool,
    /// The first error that doomed the open transaction (a batch that failed, a
    /// partition that could not be added): it can only be aborted.
    failed: Mutex<Option<Error>>,
    /// A batch failed with a stamp (a sequence gap) or the broker lost the producer's
    /// state: after the abort the epoch must be bumped before sending again (v1).
    needs_bump: AtomicBool,
    /// Partitions waiting for AddPartitionsToTxn, and the task's wake-up.
    pending_add: Mutex<Vec<Arc<PartitionState>>>,
    pub add_notify: Notify,
}

impl TxnShared {
    pub(crate) fn new(id: String, timeout: Duration) -> Self {
        TxnShared {
            wire_id: kafka_protocol::messages::TransactionalId(
                kafka_protocol::protocol::StrBytes::from_string(id.clone()),
            ),
            id,
            timeout,
            generation: AtomicU64::new(0),
            open: AtomicBool::new(false),
            v2: AtomicBool::new(false),
            started: AtomicBool::new(false),
            failed: Mutex::new(None),
            needs_bump: AtomicBool::new(false),
            pending_add: Mutex::new(Vec::new()),
            add_notify: Notify::new(),
        }
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Acquire)
    }

    pub(crate) fn is_v2(&self) -> bool {
        self.v2.load(Ordering::Acquire)
    }

    pub(crate) fn set_v2(&self, on: bool) {
        self.v2.store(on, Ordering::Release);
    }

    /// Opens transaction number `generation + 1`.
    pub(crate) fn begin(&self) -> u64 {
        *self.failed.lock().unwrap_or_else(|e| e.into_inner()) = None;
        self.started.store(false, Ordering::Release);
        self.pending_add
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        let g = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.open.store(true, Ordering::Release);
        g
    }

    /// The transaction ended (committed or aborted).
    pub(crate) fn end(&self) {
        self.open.store(false, Ordering::Release);
        self.pending_add
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    pub(crate) fn mark_started(&self) {
        self.started.store(true, Ordering::Release);
    }

    pub(crate) fn is_started(&self) -> bool {
        self.started.load(Ordering::Acquire)
    }

    /// Records the first failure of the open transaction.
    pub(crate) fn fail(&self, err: &Error) {
        let mut f = self.failed.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_none() {
            tracing::debug!(transactional_id = %self.id, error = %err, "transaction is now abortable");
            *f = Some(err.clone());
        }
    }

    /// The failure that dooms the open transaction, if any.
    pub(crate) fn failure(&self) -> Option<Error> {
        self.failed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(crate) fn request_bump(&self) {
        self.needs_bump.store(true, Ordering::Release);
    }

    /// Takes the "bump the epoch before the next transaction" flag.
    pub(crate) fn take_bump(&self) -> bool {
        self.needs_bump.swap(false, Ordering::AcqRel)
    }

    /// Asks for `part` to be added to the open transaction (protocol v1).
    pub(crate) fn need_add(&self, part: &Arc<PartitionState>) {
        let mut p = self.pending_add.lock().unwrap_or_else(|e| e.into_inner());
        if !p.iter().any(|x| Arc::ptr_eq(x, part)) {
            p.push(part.clone());
        }
        drop(p);
        self.add_notify.notify_one();
    }

    /// Takes the partitions waiting to be added.
    pub(crate) fn take_pending_add(&self) -> Vec<Arc<PartitionState>> {
        std::mem::take(&mut *self.pending_add.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// An error of this producer, typed with the recovery it calls for.
    pub(crate) fn error(
        &self,
        kind: TransactionErrorKind,
        message: impl Into<String>,
        cause: Option<Error>,
    ) -> Error {
        Error::Transaction {
            transactional_id: self.id.clone(),
            kind,
            message: message.into(),
            cause: cause.map(Box::new),
        }
    }

    /// The kind of a broker's answer to a transactional request or a produce: fencing and
    /// authorization are fatal, the rest abortable.
    ///
    /// INVALID_PRODUCER_EPOCH on a Produce is abortable (KIP-588, as in the Java client):
    /// a partition leader says so when the coordinator aborted the transaction on its
    /// timeout and bumped the epoch, which is not proof of another producer. Whether this
    /// producer can go on is then decided by the abort: the coordinator answers the
    /// EndTxn of a fenced producer PRODUCER_FENCED, which is fatal. From the coordinator
    /// itself INVALID_PRODUCER_EPOCH is fencing (older coordinators' PRODUCER_FENCED).
    pub(crate) fn classify(err: &Error) -> TransactionErrorKind {
        let on_produce = err.context().and_then(|c| c.api) == Some(ApiKey::Produce);
        match err {
            Error::Transaction { kind, .. } => *kind,
            _ if err.code() == Some(ErrorCode::INVALID_PRODUCER_EPOCH) && on_produce => {
                TransactionErrorKind::Abortable
            }
            _ if err.is_fenced() => TransactionErrorKind::Fatal,
            _ => match err.code() {
                Some(
                    ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
                    | ErrorCode::CLUSTER_AUTHORIZATION_FAILED
                    | ErrorCode::UNSUPPORTED_VERSION
                    | ErrorCode::UNSUPPORTED_FOR_MESSAGE_FORMAT
                    | ErrorCode::INVALID_TRANSACTION_TIMEOUT,
                ) => TransactionErrorKind::Fatal,
                _ if err.is_authentication_failure() => TransactionErrorKind::Fatal,
                _ => TransactionErrorKind::Abortable,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorContext;

    fn broker(code: ErrorCode, api: ApiKey) -> Error {
        Error::broker(code, ErrorContext::default().with_api(api), None)
    }

    #[test]
    fn invalid_epoch_on_produce_is_abortable_and_fencing_elsewhere_is_fatal() {
        use TransactionErrorKind::{Abortable, Fatal};
        let cases = [
            (
                ErrorCode::INVALID_PRODUCER_EPOCH,
                ApiKey::Produce,
                Abortable,
            ),
            (ErrorCode::INVALID_PRODUCER_EPOCH, ApiKey::EndTxn, Fatal),
            (
                ErrorCode::INVALID_PRODUCER_EPOCH,
                ApiKey::TxnOffsetCommit,
                Fatal,
            ),
            (ErrorCode::PRODUCER_FENCED, ApiKey::Produce, Fatal),
            (ErrorCode::PRODUCER_FENCED, ApiKey::EndTxn, Fatal),
            (ErrorCode::NOT_ENOUGH_REPLICAS, ApiKey::Produce, Abortable),
            (
                ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
                ApiKey::AddPartitionsToTxn,
                Fatal,
            ),
        ];
        for (code, api, want) in cases {
            assert_eq!(
                TxnShared::classify(&broker(code, api)),
                want,
                "{code} on {api:?}"
            );
        }
    }
}
