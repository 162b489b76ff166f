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
pub use faults::Api;
