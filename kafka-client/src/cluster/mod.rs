//! Cluster metadata: brokers, controller, topics, partitions and leaders.

pub(crate) mod controllers;
mod metadata;
pub(crate) mod recovery;

pub use metadata::{BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo};
pub use recovery::MetadataRecoveryStrategy;
