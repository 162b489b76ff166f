//! Incremental fetch sessions (KIP-227): the state of one broker's session, as the
//! consumer side keeps it.
//!
//! The first Fetch to a broker is *full* (epoch 0: every partition); the broker answers
//! with a session id, and later Fetches are *incremental*: they carry only the
//! partitions that are new to the session or whose fetch position changed, and name in
//! `forgotten_topics_data` the ones to drop (unassigned, paused, moved to another
//! leader, or held back while their buffered data is drained). The broker then answers
//! only for partitions with something new. As in the Java client, the session holds
//! exactly the partitions of the latest request: a partition not fetched this round is
//! forgotten, and added again when it is fetched next.
//!
//! A session the broker lost (FETCH_SESSION_ID_NOT_FOUND: evicted from its cache, or the
//! broker restarted) starts again with a full request for a new session; an epoch or
//! topic-id mismatch (INVALID_FETCH_SESSION_EPOCH, FETCH_SESSION_TOPIC_ID_ERROR), any
//! other request-level error and a failed request send a full request that closes the
//! old session and opens a new one. A broker that answers a full request with session
//! id 0 keeps no session for us (its cache is full): every request is then full. What
//! the session holds changes only when an answer arrives without a request-level error,
//! so a lost answer never leaves the two sides disagreeing.

use std::collections::HashMap;

use crate::error::ErrorCode;
use crate::types::TopicPartition;

/// The epoch that asks for no session (Fetch v4-6, or when sessions are not wanted).
const SESSIONLESS_EPOCH: i32 = -1;

/// What the session holds for one partition: the fields of its last request entry that
/// may change (`partition_max_bytes` and the leader epoch are fixed per consumer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SessionPartition {
    pub topic_id: uuid::Uuid,
    pub fetch_offset: i64,
}

/// One partition of the next request, as the fetch driver planned it.
#[derive(Clone, Debug)]
pub(crate) struct Wanted<'a> {
    pub tp: &'a TopicPartition,
    pub topic_id: uuid::Uuid,
    pub fetch_offset: i64,
}

/// How to send the next Fetch.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SessionRequest {
    pub session_id: i32,
    pub epoch: i32,
    /// Whether every wanted partition goes in the request (no session, or a new one).
    pub full: bool,
    /// Indices (into the wanted list) of the partitions the request carries.
    pub send: Vec<usize>,
    /// Partitions to drop from the session, with the topic id they were added under.
    pub forget: Vec<(TopicPartition, uuid::Uuid)>,
}

/// How a Fetch answer ended, for the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionOutcome {
    /// An answer without a request-level error, with the session id it names.
    Answered { session_id: i32 },
    /// An answer with a request-level error.
    Error(ErrorCode),
    /// No answer (connection lost, timeout).
    Failed,
}

/// One broker's fetch session.
#[derive(Debug, Default)]
pub(crate) struct FetchSession {
    /// The broker's id for the session; 0 while there is none.
    id: i32,
    /// The epoch of the next request: 0 asks for a new session (closing `id`'s).
    epoch: i32,
    /// Whether the session's partitions were named by topic id (Fetch v13+).
    by_id: bool,
    /// The partitions the broker holds for the session.
    partitions: HashMap<TopicPartition, SessionPartition>,
    /// What the session will hold once the request out now is answered.
    pending: Option<HashMap<TopicPartition, SessionPartition>>,
    /// Whether the request out now is full.
    pending_full: bool,
    /// Sessions lost or refused so far (for the consumer's figures).
    resets: u64,
}

impl FetchSession {
    /// The broker's id for the session (0: none).
    #[cfg(test)]
    pub(crate) fn id(&self) -> i32 {
        self.id
    }

    /// Plans the next request for `wanted` (the partitions to fetch from this broker now).
    /// `sessions` is false when the negotiated version has no sessions (v4-6); `by_id`
    /// when the request names topics by id.
    pub(crate) fn build(
        &mut self,
        wanted: &[Wanted<'_>],
        sessions: bool,
        by_id: bool,
    ) -> SessionRequest {
        let next: HashMap<TopicPartition, SessionPartition> = wanted
            .iter()
            .map(|w| {
                let part = SessionPartition {
                    topic_id: w.topic_id,
                    fetch_offset: w.fetch_offset,
                };
                (w.tp.clone(), part)
            })
            .collect();
        let all = || (0..wanted.len()).collect();
        if !sessions {
            self.pending = None;
            self.pending_full = true;
            return SessionRequest {
                session_id: 0,
                epoch: SESSIONLESS_EPOCH,
                full: true,
                send: all(),
                forget: Vec::new(),
            };
        }
        // A partition whose topic id changed (re-created topic) cannot be swapped inside
        // a session (the broker adds before it forgets): a new session instead. Likewise
        // when the request switches between topic names and ids.
        let id_changed = self.by_id != by_id
            || wanted.iter().any(|w| {
                self.partitions
                    .get(w.tp)
                    .is_some_and(|p| p.topic_id != w.topic_id)
            });
        if self.id == 0 || self.epoch == 0 || id_changed {
            self.epoch = 0;
            self.by_id = by_id;
            self.pending = Some(next);
            self.pending_full = true;
            return SessionRequest {
                session_id: self.id,
                epoch: 0,
                full: true,
                send: all(),
                forget: Vec::new(),
            };
        }
        let send = wanted
            .iter()
            .enumerate()
            .filter(|(_, w)| self.partitions.get(w.tp) != next.get(w.tp))
            .map(|(i, _)| i)
            .collect();
        let mut forget: Vec<(TopicPartition, uuid::Uuid)> = self
            .partitions
            .iter()
            .filter(|(tp, _)| !next.contains_key(*tp))
            .map(|(tp, p)| (tp.clone(), p.topic_id))
            .collect();
        forget.sort();
        self.pending = Some(next);
        self.pending_full = false;
        SessionRequest {
            session_id: self.id,
            epoch: self.epoch,
            full: false,
            send,
            forget,
        }
    }

    /// Takes the outcome of the request `build` planned.
    pub(crate) fn on_outcome(&mut self, outcome: SessionOutcome) {
        let pending = self.pending.take();
        match outcome {
            SessionOutcome::Answered { session_id } => {
                let Some(next) = pending else {
                    return; // sessionless
                };
                if self.pending_full {
                    if session_id == 0 && self.id != 0 {
                        self.resets += 1; // the broker would not keep a new session
                    }
                    self.id = session_id;
                    self.epoch = if session_id == 0 { 0 } else { 1 };
                } else {
                    self.epoch = next_epoch(self.epoch);
                }
                self.partitions = if self.id == 0 { HashMap::new() } else { next };
            }
            SessionOutcome::Error(code) => {
                if self.id != 0 {
                    self.resets += 1;
                }
                if code == ErrorCode::FETCH_SESSION_ID_NOT_FOUND {
                    self.id = 0; // nothing to close
                }
                self.epoch = 0;
                self.partitions.clear();
            }
            SessionOutcome::Failed => {
                // The broker may or may not have taken the request: start over, closing
                // whatever session it has.
                self.epoch = 0;
                self.partitions.clear();
            }
        }
    }

    /// Sessions lost or refused so far.
    pub(crate) fn resets(&self) -> u64 {
        self.resets
    }
}

/// The epoch after `epoch`: 1 follows `i32::MAX` (0 and -1 have their own meaning).
fn next_epoch(epoch: i32) -> i32 {
    if epoch == i32::MAX { 1 } else { epoch + 1 }
}

#[cfg(test)]
#[path = "unit_tests/fetch_session.rs"]
mod tests;
