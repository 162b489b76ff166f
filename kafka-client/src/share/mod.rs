//! Share groups (KIP-932, "queues for Kafka"): [`ShareConsumer`].
//!
//! Many members of a share group read the same partitions; the group hands each
//! record to one member at a time under an acquisition lock
//! (`group.share.record.lock.duration.ms` on the broker) and counts its deliveries.
//! A member acknowledges each record: accept (done), release (deliver again, to any
//! member), reject (archive), or renew (keep the lock). Records not acknowledged
//! before their lock ends come back to the group; after
//! `group.share.delivery.count.limit` deliveries the broker archives them.
//!
//! Inside: `membership.rs` (ShareGroupHeartbeat), `session.rs` (share session epochs
//! per broker), `retry.rs` (backoff of failing brokers, pacing of route lookups), `acks.rs` (held records and pending acknowledgements), `state.rs`
//! (applying answers), `driver.rs` (tasks), `exchange.rs` (message-neutral requests and
//! the seam to the wire), `wire.rs` (the protocol messages).

mod acks;
mod builder;
mod consumer;
mod driver;
mod exchange;
#[cfg(test)]
mod failover_tests;
#[cfg(test)]
mod handle_tests;
mod membership;
mod properties;
mod record;
mod retry;
mod session;
mod state;
mod wire;

pub use builder::{AcknowledgementMode, AcquireMode, ShareConsumerBuilder, ShareConsumerConfig};
pub use consumer::ShareConsumer;
#[cfg(test)]
pub(crate) use properties::SHARE_CONSUMER_OPTIONS;
pub use record::{
    AcknowledgeError, AcknowledgeType, AcknowledgementCommit, AcknowledgementCommitCallback,
    AcknowledgementResults, NotHeldReason, ShareRecord,
};
