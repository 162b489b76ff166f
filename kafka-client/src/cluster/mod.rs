//! Cluster metadata: brokers, controller, topics, partitions and leaders.

mod metadata;

pub use metadata::{BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo};
