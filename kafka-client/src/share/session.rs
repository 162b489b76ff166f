//! One share session per broker (KIP-932), sans-I/O. A session opens with epoch 0 and
//! the full partition list; each later request carries the next epoch (1, 2, ...,
//! wrapping to 1) and only the partitions added since (`Topics`) and those dropped
//! (`ForgottenTopicsData`); epoch -1 closes it, releasing what the member still holds
//! there. One request per session is out at a time (the caller's per-broker turn). A
//! request that fails without an answer, or an answer SHARE_SESSION_NOT_FOUND /
//! INVALID_SHARE_SESSION_EPOCH / SHARE_SESSION_LIMIT_REACHED, starts a new session
//! (epoch 0) on the next request; a ShareFetch that opens one carries no
//! acknowledgements (the broker refuses them there).

use std::collections::BTreeSet;

use uuid::Uuid;

use crate::error::ErrorCode;

/// A partition as share requests name it.
pub(crate) type IdPartition = (Uuid, i32);

/// The epoch that closes a session.
pub(crate) const CLOSE_EPOCH: i32 = -1;

/// The session part of the next request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SessionRequest {
    pub epoch: i32,
    /// Partitions to add (all of them when the session opens).
    pub added: Vec<IdPartition>,
    /// Partitions to drop from the session.
    pub forgotten: Vec<IdPartition>,
}

/// A broker's share session as this member knows it.
#[derive(Debug, Default)]
pub(crate) struct ShareSession {
    /// The epoch of the next request (0: open a new session).
    epoch: i32,
    /// The partitions the broker has in the session.
    partitions: BTreeSet<IdPartition>,
}

impl ShareSession {
    /// The epoch of the next request.
    pub(crate) fn epoch(&self) -> i32 {
        self.epoch
    }

    /// Whether the broker holds a session for this member.
    pub(crate) fn is_open(&self) -> bool {
        self.epoch > 0
    }

    /// The session part of the next ShareFetch, for the partitions `wanted` from this
    /// broker.
    pub(crate) fn next_fetch(&self, wanted: &BTreeSet<IdPartition>) -> SessionRequest {
        if self.epoch == 0 {
            return SessionRequest {
                epoch: 0,
                added: wanted.iter().copied().collect(),
                forgotten: Vec::new(),
            };
        }
        SessionRequest {
            epoch: self.epoch,
            added: wanted.difference(&self.partitions).copied().collect(),
            forgotten: self.partitions.difference(wanted).copied().collect(),
        }
    }

    /// The broker answered `req` without a top-level error.
    pub(crate) fn on_success(&mut self, req: &SessionRequest) {
        if req.epoch == CLOSE_EPOCH {
            self.reset();
            return;
        }
        if req.epoch == 0 {
            self.partitions.clear();
        }
        self.partitions.extend(req.added.iter().copied());
        for f in &req.forgotten {
            self.partitions.remove(f);
        }
        self.epoch = if self.epoch == i32::MAX {
            1
        } else {
            self.epoch + 1
        };
    }

    /// The request failed (`code` is the broker's top-level error; `None` when there was
    /// no answer). Returns whether the session is gone (the next request opens a new
    /// one, and what the member held through it is lost).
    pub(crate) fn on_failure(&mut self, code: Option<ErrorCode>) -> bool {
        let gone = match code {
            None => true,
            Some(c) => is_session_error(c) || c == ErrorCode::UNKNOWN_MEMBER_ID,
        };
        if gone {
            self.reset();
        }
        gone
    }

    /// Forgets the session (closed, or the member was fenced).
    pub(crate) fn reset(&mut self) {
        self.epoch = 0;
        self.partitions.clear();
    }
}

/// Top-level errors that end the share session and nothing else: the next request
/// opens a new one at once (SHARE_SESSION_NOT_FOUND, INVALID_SHARE_SESSION_EPOCH,
/// SHARE_SESSION_LIMIT_REACHED, as the Java client).
pub(crate) fn is_session_error(code: ErrorCode) -> bool {
    matches!(code.code(), 122 | 123 | 133)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: i32) -> IdPartition {
        (Uuid::from_u128(1), n)
    }

    #[test]
    fn opens_with_all_then_sends_only_changes_with_rising_epochs() {
        let mut s = ShareSession::default();
        let wanted: BTreeSet<_> = [p(0), p(1)].into();
        let r = s.next_fetch(&wanted);
        assert_eq!((r.epoch, r.added.len(), r.forgotten.len()), (0, 2, 0));
        s.on_success(&r);
        assert!(s.is_open());
        let r = s.next_fetch(&wanted);
        assert_eq!(
            r,
            SessionRequest {
                epoch: 1,
                added: vec![],
                forgotten: vec![]
            }
        );
        s.on_success(&r);
        let r = s.next_fetch(&[p(1), p(2)].into());
        assert_eq!(
            r,
            SessionRequest {
                epoch: 2,
                added: vec![p(2)],
                forgotten: vec![p(0)]
            }
        );
        s.on_success(&r);
        assert_eq!(s.epoch(), 3);
        assert_eq!(s.next_fetch(&[p(1), p(2)].into()).added, vec![]);
    }

    #[test]
    fn session_errors_and_lost_answers_start_over_other_errors_keep_it() {
        let mut s = ShareSession::default();
        let r = s.next_fetch(&[p(0)].into());
        s.on_success(&r);
        assert!(
            !s.on_failure(ErrorCode::from_code(7)),
            "REQUEST_TIMED_OUT keeps the session"
        );
        assert_eq!(s.epoch(), 1);
        assert!(s.on_failure(ErrorCode::from_code(123)));
        assert_eq!(s.epoch(), 0);
        let r = s.next_fetch(&[p(0)].into());
        assert_eq!(r.added, vec![p(0)]);
        s.on_success(&r);
        assert!(s.on_failure(None), "no answer: the epoch is unknown");
        assert!(!s.is_open());
    }

    #[test]
    fn epoch_wraps_to_one_and_close_resets() {
        let mut s = ShareSession {
            epoch: i32::MAX,
            partitions: BTreeSet::new(),
        };
        let r = s.next_fetch(&BTreeSet::new());
        s.on_success(&r);
        assert_eq!(s.epoch(), 1);
        s.on_success(&SessionRequest {
            epoch: CLOSE_EPOCH,
            added: vec![],
            forgotten: vec![],
        });
        assert_eq!(s.epoch(), 0);
    }
}
