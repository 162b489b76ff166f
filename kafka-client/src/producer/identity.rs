//! The producer's identity, one owner (Java's `TransactionManager` for idempotence):
//! the producer id and epoch batches are stamped with, the KIP-360 epoch bump (who asks
//! for it, when it is done), and the verdict on a batch that failed for good
//! (definitely failed, or possibly persisted). The transaction state machine
//! (`txn/state.rs`) sits on top: a transactional producer gets its identity from its
//! coordinator and bumps only between transactions.
//!
//! Per-partition sequences live with each partition's queue (`accumulator.rs`, under
//! the partition's own lock, on the send path): a partition restarts its sequences at 0
//! when it first drains under an identity it has not used, once nothing of it is in
//! flight. This module decides the identity; the partition follows it.
//!
//! ```text
//!   (none) ──InitProducerId──► Current(id, e) ──request_bump(id, e)──► Bumping(from id, e)
//!                                   ▲                                        │
//!                                   └──── InitProducerId(id, e) → (id, e+1) ◄┘
//! ```

use std::sync::Mutex;
use std::time::Duration;

use crate::client::{Client, Target};
use crate::error::{Error, Result};
use crate::ops::init_producer_id::InitProducerId;
use crate::types::ProducerIdent;

/// Why batches cannot be stamped now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NotReady {
    /// No identity yet: InitProducerId first.
    NoIdentity,
    /// An epoch bump is pending: in-flight requests must be answered, then
    /// InitProducerId with the current identity.
    Bumping,
}

#[derive(Debug, Default)]
struct State {
    current: Option<ProducerIdent>,
    /// A bump is wanted, away from this identity.
    bump_from: Option<ProducerIdent>,
}

/// The identity and its transitions.
#[derive(Debug, Default)]
pub(crate) struct Identity {
    state: Mutex<State>,
    /// Serializes InitProducerId calls between senders.
    init_lock: tokio::sync::Mutex<()>,
}

impl Identity {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The identity to stamp batches with now.
    pub(crate) fn for_stamping(&self) -> std::result::Result<ProducerIdent, NotReady> {
        let s = self.state();
        match (s.current, s.bump_from) {
            (_, Some(_)) => Err(NotReady::Bumping),
            (None, None) => Err(NotReady::NoIdentity),
            (Some(p), None) => Ok(p),
        }
    }

    /// The current identity, if any (also while a bump is pending).
    pub(crate) fn current(&self) -> Option<ProducerIdent> {
        self.state().current
    }

    /// Sets the identity (from InitProducerId, or a v2 EndTxn's new epoch); any pending
    /// bump is done.
    pub(crate) fn set(&self, ident: ProducerIdent) {
        let mut s = self.state();
        s.current = Some(ident);
        s.bump_from = None;
    }

    /// Asks for an epoch bump away from `from`. Returns whether this asked anew: not
    /// when `from` is no longer the current identity (bumped already) or a bump is
    /// pending.
    pub(crate) fn request_bump(&self, from: ProducerIdent) -> bool {
        let mut s = self.state();
        if s.current != Some(from) || s.bump_from.is_some() {
            return false;
        }
        s.bump_from = Some(from);
        true
    }

    /// Whether a batch stamped with `stamped` was sent under an identity since replaced.
    pub(crate) fn is_stale(&self, stamped: ProducerIdent) -> bool {
        self.current() != Some(stamped)
    }

    /// Runs InitProducerId (no transactional id) when there is no identity or a bump is
    /// pending: the first time to get a producer id, later to bump the epoch of the
    /// current one. Concurrent callers wait for one call. Returns the identity set.
    pub(crate) async fn obtain(
        &self,
        client: &Client,
        timeout: Duration,
    ) -> Result<Option<ProducerIdent>> {
        let _guard = self.init_lock.lock().await;
        let (current, bump) = {
            let s = self.state();
            (s.current, s.bump_from)
        };
        if current.is_some() && bump.is_none() {
            return Ok(None);
        }
        let conn = client.target_connection(Target::Any).await?;
        let ask = InitProducerId {
            transactional_id: None,
            transaction_timeout: Duration::from_secs(60),
            bump: current,
        };
        let ident = ask.send(&conn, timeout).await?;
        tracing::debug!(
            producer_id = ident.id,
            epoch = ident.epoch,
            "idempotent producer identity"
        );
        self.set(ident);
        Ok(Some(ident))
    }
}

/// The verdict on a batch that failed for good: with idempotence, a batch that may be
/// in the log (a request carrying it was written and not answered, or the error itself
/// is indeterminate) fails as [`Error::PossiblyPersisted`], never as a plain failure.
pub(crate) fn failure_verdict(
    idempotent: bool,
    maybe_written: bool,
    topic: &str,
    partition: i32,
    err: Error,
) -> Error {
    if !(idempotent && (maybe_written || err.is_indeterminate())) {
        return err;
    }
    match err {
        e @ Error::PossiblyPersisted { .. } => e,
        e => Error::PossiblyPersisted {
            topic: topic.to_string(),
            partition,
            cause: Box::new(e),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ErrorCode, ErrorContext};

    const A: ProducerIdent = ProducerIdent { id: 1, epoch: 0 };
    const A1: ProducerIdent = ProducerIdent { id: 1, epoch: 1 };

    #[test]
    fn no_identity_then_current() {
        let i = Identity::default();
        assert_eq!(i.for_stamping(), Err(NotReady::NoIdentity));
        assert_eq!(i.current(), None);
        i.set(A);
        assert_eq!(i.for_stamping(), Ok(A));
        assert_eq!(i.current(), Some(A));
    }

    #[test]
    fn a_bump_blocks_stamping_until_the_new_epoch_is_set() {
        let i = Identity::default();
        i.set(A);
        assert!(i.request_bump(A));
        assert_eq!(i.for_stamping(), Err(NotReady::Bumping));
        // The current identity stays readable (the bump request carries it).
        assert_eq!(i.current(), Some(A));
        i.set(A1);
        assert_eq!(i.for_stamping(), Ok(A1));
    }

    #[test]
    fn a_bump_is_asked_once_and_never_away_from_a_replaced_identity() {
        let i = Identity::default();
        assert!(!i.request_bump(A), "no identity: nothing to bump");
        i.set(A);
        assert!(i.request_bump(A));
        assert!(!i.request_bump(A), "already pending");
        i.set(A1);
        assert!(
            !i.request_bump(A),
            "A was bumped already: a late failure of A asks nothing"
        );
        assert_eq!(i.for_stamping(), Ok(A1));
        assert!(i.request_bump(A1));
    }

    #[test]
    fn staleness_follows_the_current_identity() {
        let i = Identity::default();
        i.set(A);
        assert!(!i.is_stale(A));
        i.set(A1);
        assert!(i.is_stale(A));
        assert!(!i.is_stale(A1));
    }

    fn broker(code: ErrorCode) -> Error {
        Error::broker(code, ErrorContext::default(), None)
    }

    #[test]
    fn verdicts() {
        // Not idempotent: the error as it is.
        let e = failure_verdict(false, true, "t", 0, broker(ErrorCode::REQUEST_TIMED_OUT));
        assert_eq!(e.code(), Some(ErrorCode::REQUEST_TIMED_OUT));
        // Idempotent, never written, a definite error: definitely failed.
        let e = failure_verdict(true, false, "t", 0, broker(ErrorCode::MESSAGE_TOO_LARGE));
        assert!(!matches!(e, Error::PossiblyPersisted { .. }), "{e:?}");
        // Idempotent and written without an answer: possibly persisted, cause kept.
        let e = failure_verdict(true, true, "t", 3, broker(ErrorCode::MESSAGE_TOO_LARGE));
        match &e {
            Error::PossiblyPersisted {
                topic,
                partition,
                cause,
            } => {
                assert_eq!((topic.as_str(), *partition), ("t", 3));
                assert_eq!(cause.code(), Some(ErrorCode::MESSAGE_TOO_LARGE));
            }
            other => panic!("{other:?}"),
        }
        assert!(e.is_indeterminate());
        // An indeterminate error is possibly persisted even if not marked written.
        let lost = Error::ConnectionLost {
            context: ErrorContext::default(),
            reason: "gone".into(),
        };
        assert!(lost.is_indeterminate());
        let e = failure_verdict(true, false, "t", 0, lost);
        assert!(matches!(e, Error::PossiblyPersisted { .. }));
        // Never wrapped twice.
        let e = failure_verdict(true, true, "t", 3, e);
        match e {
            Error::PossiblyPersisted { cause, .. } => {
                assert!(!matches!(*cause, Error::PossiblyPersisted { .. }))
            }
            other => panic!("{other:?}"),
        }
    }
}
