//! Protocol operations shared by the consumer, the producer and kafka-admin: each
//! request that more than one of them sends is written once, here.
//!
//! - [`coordinator`]: FindCoordinator (one key or a batch) and the cached link to a
//!   group's or a transactional id's coordinator.
//! - [`consumer_protocol`]: the consumer's embedded group protocol (subscriptions and
//!   assignments), encoded for JoinGroup/SyncGroup, decoded with every count bounded.
//! - [`list_offsets`]: ListOffsets to one partition leader, for the consumer and
//!   kafka-admin.
//! - `init_producer_id`: InitProducerId for the idempotent and transactional producer.
//! - [`offset_fetch`]: OffsetFetch, for the consumer and kafka-admin.
//! - [`retry`]: [`RetryClock`], the one retry-with-backoff helper with a deadline.
//! - [`deadline`]: the caller's deadline, which the Metadata wait started on the way
//!   honours.

pub mod consumer_protocol;
pub(crate) mod coordinator;
pub(crate) mod deadline;
pub mod init_producer_id;
pub mod list_offsets;
pub mod offset_fetch;
pub(crate) mod retry;

pub(crate) use coordinator::CoordinatorLink;
pub use coordinator::{CoordinatorType, find_coordinators};
pub use retry::RetryClock;
