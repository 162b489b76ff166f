#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

mod cluster;
mod coordinator;
mod faults;
mod groups;
mod log;
pub mod raw;
mod server;

pub use cluster::{Cluster, ClusterBuilder};

/// The KIP-848 consumer-group coordinator's state machine, sans I/O, for simulations
/// that bring their own network and clock (`kafka-sim` runs the SDK's consumers against
/// it). Not a stable API: it follows the fake broker's needs.
#[doc(hidden)]
pub mod model {
    pub use crate::cluster::group_api::{beat_of, heartbeat_response};
    pub use crate::groups::GroupTimes;
    pub use crate::groups::assignor::{Assignment, Topics};
    pub use crate::groups::consumer::{Answer, Beat, ConsumerGroup};
}
pub use faults::Api;
