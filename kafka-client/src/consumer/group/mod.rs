//! Consumer groups, classic protocol: the membership task
//! (join, sync, heartbeat, leave), the embedded consumer protocol, assignors, commits
//! and the rebalance listener.

pub(crate) mod assignor;
pub(crate) mod commit;
mod heartbeat;
mod join;
mod listener;
pub(crate) mod membership;
pub(crate) mod protocol;

pub use listener::RebalanceListener;
pub(crate) use membership::GroupCommand;
