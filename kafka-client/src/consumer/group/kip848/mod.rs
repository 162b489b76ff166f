//! The KIP-848 consumer group protocol (`group.protocol=consumer`): the second
//! implementation of the consumer's group seam, beside the classic one in `group/`.
//! The coordinator assigns; the member heartbeats (ConsumerGroupHeartbeat) and
//! reconciles what it owns with the target assignment it is given.
//!
//! - `heartbeat_state.rs`: member id and epoch, what each heartbeat carries, what
//!   each answer means (sans I/O).
//! - `request.rs`: the ConsumerGroupHeartbeat request and its answer.
//! - `reconcile.rs`: target assignment by topic id → revoke and assign steps (sans I/O).
//! - `task.rs`: the membership task that drives them.

mod heartbeat_state;
mod reconcile;
mod request;
mod task;

pub(crate) use task::run;
