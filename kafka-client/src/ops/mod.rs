//! Protocol operations shared by the consumer, the producer and kafka-admin: each
//! request that more than one of them sends is written once, here.
//!
//! - [`coordinator`]: FindCoordinator (one key or a batch) and the cached link to a
//!   group's or a transactional id's coordinator.
//! - [`retry`]: [`RetryClock`], the one retry-with-backoff helper with a deadline.

pub(crate) mod coordinator;
pub(crate) mod retry;

pub(crate) use coordinator::CoordinatorLink;
pub use coordinator::{CoordinatorType, find_coordinators};
pub use retry::RetryClock;
