//! The share consumer's requests and answers in message-neutral form, and the
//! [`ShareWire`] seam that carries them: `wire.rs` encodes them as ShareGroupHeartbeat,
//! ShareFetch and ShareAcknowledge for a real broker; unit tests answer them from a
//! script. Everything above this seam (membership, sessions, acknowledgements, the
//! handle) never sees a protocol type.

use bytes::Bytes;

use super::acks::AckBatch;
use super::membership::{HeartbeatReply, HeartbeatRequest};
use super::session::IdPartition;
use crate::error::{ErrorCode, Result};
use crate::types::BoxFuture;

/// A ShareFetch.
#[derive(Clone, Debug, Default)]
pub(crate) struct FetchAsk {
    pub member_id: String,
    pub session_epoch: i32,
    pub max_wait_ms: i32,
    pub min_bytes: i32,
    pub max_bytes: i32,
    pub max_records: i32,
    pub batch_size: i32,
    pub acquire_mode: i8,
    pub renew: bool,
    /// Partitions to add to the session, or that carry acknowledgements.
    pub partitions: Vec<(IdPartition, Vec<AckBatch>)>,
    pub forgotten: Vec<IdPartition>,
}

/// A ShareAcknowledge.
#[derive(Clone, Debug, Default)]
pub(crate) struct AckAsk {
    pub member_id: String,
    pub session_epoch: i32,
    pub renew: bool,
    pub partitions: Vec<(IdPartition, Vec<AckBatch>)>,
}

/// One range of acquired records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Acquired {
    pub first: i64,
    pub last: i64,
    pub delivery_count: i16,
}

/// One partition of a ShareFetch or ShareAcknowledge answer.
#[derive(Clone, Debug, Default)]
pub(crate) struct PartitionAnswer {
    pub id: IdPartition,
    /// The fetch error (ShareFetch) or the acknowledgement error (ShareAcknowledge).
    pub error: Option<ErrorCode>,
    pub message: Option<String>,
    /// ShareFetch only: the acknowledgement error.
    pub ack_error: Option<ErrorCode>,
    pub ack_message: Option<String>,
    pub records: Bytes,
    pub acquired: Vec<Acquired>,
}

/// A ShareFetch or ShareAcknowledge answer.
#[derive(Clone, Debug, Default)]
pub(crate) struct ShareAnswer {
    pub error: Option<ErrorCode>,
    pub message: Option<String>,
    /// The acquisition lock duration, when the answer carries it.
    pub lock_timeout_ms: Option<i32>,
    pub partitions: Vec<PartitionAnswer>,
}

/// Carries the share consumer's requests (a real broker, or a test script).
pub(crate) trait ShareWire: Send + Sync + 'static {
    /// One ShareGroupHeartbeat to the group's coordinator. `Err`: no answer (the
    /// coordinator is looked up again on the next one).
    fn heartbeat(&self, req: HeartbeatRequest) -> BoxFuture<'_, Result<HeartbeatReply>>;
    /// One ShareFetch to `broker`.
    fn fetch(&self, broker: i32, ask: FetchAsk) -> BoxFuture<'_, Result<ShareAnswer>>;
    /// One ShareAcknowledge to `broker`.
    fn acknowledge(&self, broker: i32, ask: AckAsk) -> BoxFuture<'_, Result<ShareAnswer>>;
    /// The routes of `topics` (ids, names, leaders), from the metadata cache, or
    /// refreshed first when `refresh` is set. Topics that do not exist are left out.
    fn routes(&self, topics: Vec<String>, refresh: bool) -> BoxFuture<'_, Result<Vec<TopicRoute>>>;
}

/// Where a topic's partitions are led.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TopicRoute {
    pub id: uuid::Uuid,
    pub name: std::sync::Arc<str>,
    /// Partition index to leader (partitions without a known leader left out).
    pub leaders: std::collections::BTreeMap<i32, i32>,
}
