//! Cluster metadata: brokers, controller, topics, partitions and leaders.

mod metadata;
pub(crate) mod recovery;

pub use metadata::{BrokerInfo, ClusterMetadata, PartitionInfo, TopicInfo};
pub use recovery::MetadataRecoveryStrategy;
