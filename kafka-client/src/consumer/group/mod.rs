//! Consumer groups: the classic protocol's membership task (join, sync, heartbeat,
//! leave) and assignors, the KIP-848 consumer protocol (`kip848/`), commits and the
//! rebalance listener shared by both.

pub(crate) mod assignor;
pub(crate) mod commit;
mod heartbeat;
mod join;
pub(crate) mod kip848;
mod listener;
pub(crate) mod membership;

pub use listener::RebalanceListener;
pub(crate) use membership::GroupCommand;
