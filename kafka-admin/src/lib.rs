//! The Kafka admin API over [`kafka_client::Client`].
//!
//! Results are per item: each call returns its own `Result` (the request as a whole),
//! holding a `BTreeMap` from item name to that item's `Result`.
//!
//! | area | calls | sent to |
//! |---|---|---|
//! | topics | [`Admin::create_topics`], [`Admin::delete_topics`], [`Admin::create_partitions`] | controller |
//! | | [`Admin::list_topics`], [`Admin::describe_topics`] | any broker (Metadata) |
//! | cluster | [`Admin::describe_cluster`] | any broker |
//! | configs | [`Admin::describe_configs`], [`Admin::incremental_alter_configs`] | the broker for its own configs; else any broker / the controller |
//! | groups | [`Admin::list_groups`] | every broker |
//! | | [`Admin::describe_consumer_groups`], [`Admin::delete_consumer_groups`] | each group's coordinator |
//! | | [`Admin::list_consumer_group_offsets`], [`Admin::alter_consumer_group_offsets`], [`Admin::delete_consumer_group_offsets`], [`Admin::consumer_group_lag`] | the group's coordinator (and leaders, for lag) |
//! | share groups | [`Admin::describe_share_groups`], [`Admin::delete_share_groups`], [`Admin::list_share_group_offsets`], [`Admin::alter_share_group_offsets`], [`Admin::delete_share_group_offsets`] | each group's coordinator |
//! | records | [`Admin::list_offsets`], [`Admin::delete_records`] | each partition's leader |
//! | ACLs | [`Admin::create_acls`], [`Admin::delete_acls`] / [`Admin::describe_acls`] | controller / any broker |
//! | reassignment | [`Admin::alter_partition_reassignments`], [`Admin::list_partition_reassignments`] ([`ReassignmentPlan`]: Kafka's JSON; [`Admin::generate_reassignment`]) | controller |
//! | leaders | [`Admin::elect_leaders`] | controller |
//! | quotas | [`Admin::alter_client_quotas`] / [`Admin::describe_client_quotas`] | controller / any broker |
//! | log dirs | [`Admin::describe_log_dirs`], [`Admin::alter_replica_log_dirs`] | each broker |
//! | features, quorum | [`Admin::describe_features`], [`Admin::describe_metadata_quorum`] / [`Admin::update_features`] | any broker / controller |
//! | transactions | [`Admin::list_transactions`] / [`Admin::describe_transactions`], [`Admin::fence_producers`] / [`Admin::describe_producers`], [`Admin::abort_transactions`] | every broker / each id's coordinator / each partition's leader |
//! | epochs | [`Admin::offsets_for_leader_epoch`] | each partition's leader |
//! | delegation tokens | [`Admin::create_delegation_token`], [`Admin::renew_delegation_token`], [`Admin::expire_delegation_token`] / [`Admin::describe_delegation_tokens`] | controller / any broker |
//! | SCRAM | [`Admin::alter_user_scram_credentials`] / [`Admin::describe_user_scram_credentials`] | controller / any broker |
//!
//! Every call retries what is worth retrying (a moved leader or controller, a loading
//! coordinator, a lost connection) until its `timeout` option, and reports the rest per
//! item as a typed [`kafka_client::Error`] whose [`kafka_client::Error::code`] is the
//! broker's [`kafka_client::ErrorCode`].
//!
//! ```no_run
//! use std::time::Duration;
//! use kafka_admin::{Admin, NewTopic, CreateTopicsOptions};
//!
//! # async fn run() -> kafka_client::Result<()> {
//! let admin = Admin::connect("127.0.0.1:9092")?;
//! let results = admin
//!     .create_topics(
//!         [NewTopic::new("orders").partitions(6).replication_factor(1)],
//!         CreateTopicsOptions::default().timeout(Duration::from_secs(30)),
//!     )
//!     .await?;
//! for (topic, result) in results {
//!     match result {
//!         Ok(created) => println!("created {topic} with {} partitions", created.partitions),
//!         Err(e) => println!("{topic}: {e}"),
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! A consumer group's lag, and resetting an idle group to the start of a topic:
//!
//! ```no_run
//! use kafka_admin::{
//!     Admin, GroupLagOptions, GroupOffsetsOptions, ListOffsetsOptions, OffsetAndMetadata,
//!     OffsetSpec, TopicPartition,
//! };
//!
//! # async fn run(admin: Admin) -> kafka_client::Result<()> {
//! for (tp, lag) in admin.consumer_group_lag("billing", GroupLagOptions::default()).await? {
//!     match lag {
//!         Ok(l) => println!("{tp}: committed {:?}, end {}, lag {:?}", l.committed, l.end_offset, l.lag),
//!         Err(e) => println!("{tp}: {e}"),
//!     }
//! }
//! let partitions = (0..6).map(|p| (TopicPartition::new("orders", p), OffsetSpec::Earliest));
//! let earliest = admin.list_offsets(partitions, ListOffsetsOptions::default()).await?;
//! let reset = earliest.into_iter().filter_map(|(tp, r)| {
//!     let offset = r.ok()?.offset?;
//!     Some((tp, OffsetAndMetadata::new(offset)))
//! });
//! let results = admin
//!     .alter_consumer_group_offsets("billing", reset, GroupOffsetsOptions::default())
//!     .await?;
//! assert!(results.values().all(Result::is_ok), "the group must have no active members");
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![deny(unsafe_code)]

mod acl_types;
mod acls;
mod admin;
mod assignment;
mod cluster;
mod codes;
mod config_types;
mod configs;
mod delegation_tokens;
mod driver;
mod elect_leaders;
mod features;
mod group_describe;
mod group_offsets;
mod group_types;
mod groups;
mod lag;
mod leader_epoch;
mod log_dirs;
mod offsets;
mod one_request;
mod partitions;
mod quorum;
mod quota_types;
mod quotas;
mod reassignment_generate;
mod reassignment_plan;
mod reassignments;
mod records;
mod scram;
mod share_group_offsets;
mod share_groups;
mod topics;
mod transaction_types;
mod transactions;
mod types;

pub use acl_types::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, PatternType, ResourceType,
};
pub use acls::AclsOptions;
pub use admin::Admin;
pub use assignment::{MemberAssignment, MemberSubscription};
pub use cluster::{BrokerNode, ClusterDescription, DescribeClusterOptions};
pub use config_types::{ConfigEntry, ConfigResourceType, ConfigSource, ConfigSynonym, ConfigType};
pub use configs::{AlterConfigOp, AlterConfigsOptions, ConfigResource, DescribeConfigsOptions};
pub use delegation_tokens::{
    CreateDelegationTokenOptions, DelegationToken, DelegationTokenOptions,
};
pub use elect_leaders::{ElectLeadersOptions, ElectionType};
pub use features::{FeatureMetadata, FeatureRange, FeatureUpdate, FeatureUpgrade, FeaturesOptions};
pub use group_offsets::{GroupOffsetsOptions, ListGroupOffsetsOptions, PartitionResults};
pub use group_types::{
    ConsumerGroupDescription, GroupListing, GroupState, GroupType, MemberDescription,
};
pub use groups::{GroupsOptions, ListGroupsOptions};
pub use kafka_client::PartitionInfo;
pub use lag::{GroupLagOptions, PartitionLag};
pub use leader_epoch::{EpochEndOffset, LeaderEpochOptions};
pub use log_dirs::{LogDirDescription, LogDirsOptions, ReplicaLogInfo, TopicPartitionReplica};
pub use offsets::{ListOffsetsOptions, ListedOffset, OffsetSpec};
pub use partitions::{CreatePartitionsOptions, NewPartitions};
pub use quorum::{QuorumInfo, QuorumOptions, QuorumReplica};
pub use quota_types::{
    QuotaAlteration, QuotaEntity, QuotaEntityType, QuotaFilter, QuotaMatch, UnknownQuotaEntityType,
    quota_keys,
};
pub use quotas::QuotasOptions;
pub use reassignment_generate::{
    GenerateError, GenerateReassignmentOptions, GeneratedReassignment,
};
pub use reassignment_plan::{
    ANY_LOG_DIR, PlacementBroker, PlacementStart, PlanError, PlannedPartition, ReassignmentPlan,
    assign_replicas,
};
pub use reassignments::{OngoingReassignment, Reassignment, ReassignmentOptions};
pub use records::{DeleteRecordsOptions, DeletedRecords, RecordsToDelete};
pub use scram::{
    MAX_SCRAM_ITERATIONS, MIN_SCRAM_ITERATIONS, ScramAlteration, ScramCredentialInfo,
    ScramMechanism, ScramOptions,
};
pub use share_group_offsets::{ListShareGroupOffsetsOptions, SharePartitionOffset};
pub use share_groups::{ShareGroupDescription, ShareMemberDescription};
pub use topics::{
    CreateTopicsOptions, CreatedTopic, DeleteTopicsOptions, DescribeTopicsOptions,
    ListTopicsOptions, NewTopic, TopicDescription, TopicListing,
};
pub use transaction_types::{
    AbortTransactionSpec, ProducerState, TransactionDescription, TransactionListing,
};
pub use transactions::{TransactionFilter, TransactionsOptions};
pub use types::{OffsetAndMetadata, TopicPartition};

/// The README's examples, compiled as doctests so they cannot rot.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// docs/migrating-from-rdkafka.md's examples, compiled as doctests.
#[doc = include_str!("../../docs/migrating-from-rdkafka.md")]
#[cfg(doctest)]
pub struct MigrationGuideDoctests;
