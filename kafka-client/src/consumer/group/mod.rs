//! Consumer groups, classic protocol: the membership task
//! (join, sync, heartbeat, leave), assignors, commits
//! and the rebalance listener.

pub(crate) mod assignor;
pub(crate) mod commit;
mod heartbeat;
mod join;
mod listener;
pub(crate) mod membership;

pub use listener::RebalanceListener;
pub(crate) use membership::GroupCommand;
