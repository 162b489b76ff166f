//! Cancel safety of every public async method of `Admin`, against the test bed's
//! single-node cluster: each call is dropped at every poll point k = 0..k_max (see
//! `cancel_safety_support`), and after each drop the next call must complete with the
//! same outcome class (`Ok`, or the same error) as a call never cancelled: no stuck
//! connection, no corrupted stream, no state left behind. What a dropped mutating call
//! did on the broker is documented as unknown ("may or may not have been applied"),
//! so it is not asserted; reads change nothing.

mod cancel_safety_support;
mod common;

use std::fmt::Debug;
use std::time::Duration;

use cancel_safety_support::{sweep, within};
use common::{client, create_topic, unique_topic};
use kafka_admin::*;

fn admin() -> Admin {
    Admin::new(client(&kafka_testbed::shared_cluster().bootstrap_servers()))
}

/// `Ok`, or the error's variant and code: what the next call must reproduce.
fn class<T, E: Debug>(r: &Result<T, E>) -> String {
    match r {
        Ok(_) => "Ok".into(),
        Err(e) => {
            let dbg = format!("{e:?}");
            let variant: String = dbg.chars().take_while(|c| c.is_alphanumeric()).collect();
            let code: String = dbg
                .split("code: ")
                .nth(1)
                .map(|s| {
                    s.chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect()
                })
                .unwrap_or_default();
            format!("Err({variant} {code})")
        }
    }
}

/// Sweeps `$call` (an expression making a fresh future each time it is evaluated):
/// baseline outcome class first, then drops at every poll point, each followed by a
/// complete call that must give the baseline's class.
macro_rules! case {
    ($name:literal, $call:expr) => {{
        let baseline = class(&Box::pin($call).await);
        Box::pin(sweep(
            $name,
            "",
            async |k| within(k, Box::pin($call)).await.map(|r| class(&r)),
            async |k| {
                let again = class(&Box::pin($call).await);
                assert_eq!(
                    again, baseline,
                    "{}: the call after a drop at poll {k} differs",
                    $name
                );
            },
        ))
        .await;
    }};
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reads_dropped_at_every_poll_point() {
    let admin = admin();
    let topic = unique_topic("cs-admin-r");
    create_topic(admin.client(), &topic, 2, 1).await;
    let tp = TopicPartition::new(topic.clone(), 0);
    let node = admin
        .describe_cluster(DescribeClusterOptions::default())
        .await
        .expect("describe cluster")
        .brokers
        .keys()
        .next()
        .copied()
        .expect("a broker");
    let group = unique_topic("cs-admin-g");
    admin
        .alter_consumer_group_offsets(
            &group,
            [(tp.clone(), OffsetAndMetadata::new(0))],
            GroupOffsetsOptions::default(),
        )
        .await
        .expect("seed a group");

    case!(
        "Admin::describe_cluster",
        admin.describe_cluster(DescribeClusterOptions::default())
    );
    case!(
        "Admin::list_topics",
        admin.list_topics(ListTopicsOptions::default())
    );
    case!(
        "Admin::describe_topics",
        admin.describe_topics([&topic], DescribeTopicsOptions::default())
    );
    case!(
        "Admin::describe_configs",
        admin.describe_configs(
            [ConfigResource::topic(&topic), ConfigResource::broker(node)],
            DescribeConfigsOptions::default()
        )
    );
    case!(
        "Admin::list_offsets",
        admin.list_offsets(
            [(tp.clone(), OffsetSpec::Latest)],
            ListOffsetsOptions::default()
        )
    );
    case!(
        "Admin::offsets_for_leader_epoch",
        admin.offsets_for_leader_epoch([(tp.clone(), 0)], LeaderEpochOptions::default())
    );
    case!(
        "Admin::describe_log_dirs",
        admin.describe_log_dirs([node], LogDirsOptions::default())
    );
    case!(
        "Admin::list_groups",
        admin.list_groups(ListGroupsOptions::default())
    );
    case!(
        "Admin::describe_consumer_groups",
        admin.describe_consumer_groups([&group], GroupsOptions::default())
    );
    case!(
        "Admin::describe_share_groups",
        admin.describe_share_groups([&group], GroupsOptions::default())
    );
    case!(
        "Admin::list_share_group_offsets",
        admin.list_share_group_offsets(&group, ListShareGroupOffsetsOptions::default())
    );
    case!(
        "Admin::list_consumer_group_offsets",
        admin.list_consumer_group_offsets(&group, ListGroupOffsetsOptions::default())
    );
    case!(
        "Admin::consumer_group_lag",
        admin.consumer_group_lag(&group, GroupLagOptions::default())
    );
    case!(
        "Admin::describe_acls",
        admin.describe_acls(AclBindingFilter::any(), AclsOptions::default())
    );
    case!(
        "Admin::describe_features",
        admin.describe_features(FeaturesOptions::default())
    );
    case!(
        "Admin::describe_metadata_quorum",
        admin.describe_metadata_quorum(QuorumOptions::default())
    );
    case!(
        "Admin::describe_client_quotas",
        admin.describe_client_quotas(QuotaFilter::all(), QuotasOptions::default())
    );
    case!(
        "Admin::list_partition_reassignments",
        admin.list_partition_reassignments(None, ReassignmentOptions::default())
    );
    case!(
        "Admin::generate_reassignment",
        admin.generate_reassignment(
            &[topic.as_str()],
            &[node],
            GenerateReassignmentOptions::default()
        )
    );
    case!(
        "Admin::describe_user_scram_credentials",
        admin.describe_user_scram_credentials(None, ScramOptions::default())
    );
    case!(
        "Admin::describe_delegation_tokens",
        admin.describe_delegation_tokens(None, DelegationTokenOptions::default())
    );
    case!(
        "Admin::list_transactions",
        admin.list_transactions(TransactionFilter::default(), TransactionsOptions::default())
    );
    case!(
        "Admin::describe_transactions",
        admin.describe_transactions(["cs-no-such-txn"], TransactionsOptions::default())
    );
    case!(
        "Admin::describe_producers",
        admin.describe_producers([tp.clone()], TransactionsOptions::default())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_writes_dropped_at_every_poll_point() {
    let admin = admin();
    let topic = unique_topic("cs-admin-w");
    create_topic(admin.client(), &topic, 1, 1).await;
    let tp = TopicPartition::new(topic.clone(), 0);
    let node = admin
        .describe_cluster(DescribeClusterOptions::default())
        .await
        .expect("describe cluster")
        .brokers
        .keys()
        .next()
        .copied()
        .expect("a broker");
    let group = unique_topic("cs-admin-wg");
    let created = unique_topic("cs-admin-new");
    let deleted = unique_topic("cs-admin-del");
    create_topic(admin.client(), &deleted, 1, 1).await;
    let grown = unique_topic("cs-admin-grow");
    create_topic(admin.client(), &grown, 1, 1).await;
    let acl = AclBinding::allow(ResourceType::Topic, &topic, "User:cs", AclOperation::Read);
    let user = unique_topic("cs-user");
    let quota_client = unique_topic("cs-quota");
    let hmac = b"not-a-token".to_vec();
    let mv = admin
        .describe_features(FeaturesOptions::default())
        .await
        .expect("features")
        .finalized["metadata.version"]
        .max;
    let log_dir = admin
        .describe_log_dirs([node], LogDirsOptions::default())
        .await
        .expect("log dirs")[&node]
        .as_ref()
        .expect("this broker's log dirs")
        .keys()
        .next()
        .expect("a log dir")
        .clone();

    case!(
        "Admin::create_topics",
        admin.create_topics(
            [NewTopic::new(&created).partitions(1).replication_factor(1)],
            CreateTopicsOptions::default()
        )
    );
    case!(
        "Admin::create_partitions",
        admin.create_partitions(
            [(grown.clone(), NewPartitions::increase_to(2))],
            CreatePartitionsOptions::default()
        )
    );
    case!(
        "Admin::incremental_alter_configs",
        admin.incremental_alter_configs(
            [(
                ConfigResource::topic(&topic),
                vec![AlterConfigOp::set("retention.ms", "3600000")]
            )],
            AlterConfigsOptions::default()
        )
    );
    case!(
        "Admin::delete_records",
        admin.delete_records(
            [(tp.clone(), RecordsToDelete::BeforeOffset(0))],
            DeleteRecordsOptions::default()
        )
    );
    case!(
        "Admin::alter_consumer_group_offsets",
        admin.alter_consumer_group_offsets(
            &group,
            [(tp.clone(), OffsetAndMetadata::new(0))],
            GroupOffsetsOptions::default()
        )
    );
    case!(
        "Admin::delete_consumer_group_offsets",
        admin.delete_consumer_group_offsets(&group, [tp.clone()], GroupOffsetsOptions::default())
    );
    case!(
        "Admin::alter_share_group_offsets",
        admin.alter_share_group_offsets(&group, [(tp.clone(), 0)], GroupOffsetsOptions::default())
    );
    case!(
        "Admin::delete_share_group_offsets",
        admin.delete_share_group_offsets(
            &group,
            [tp.topic.clone()],
            GroupOffsetsOptions::default()
        )
    );
    case!(
        "Admin::delete_share_groups",
        admin.delete_share_groups([&group], GroupsOptions::default())
    );
    case!(
        "Admin::delete_consumer_groups",
        admin.delete_consumer_groups([&group], GroupsOptions::default())
    );
    case!(
        "Admin::create_acls",
        admin.create_acls([acl.clone()], AclsOptions::default())
    );
    case!(
        "Admin::delete_acls",
        admin.delete_acls(
            [AclBindingFilter::any().principal("User:cs")],
            AclsOptions::default()
        )
    );
    case!(
        "Admin::elect_leaders",
        admin.elect_leaders(
            ElectionType::Preferred,
            Some(vec![tp.clone()]),
            ElectLeadersOptions::default()
        )
    );
    case!(
        "Admin::alter_partition_reassignments",
        admin.alter_partition_reassignments(
            [(tp.clone(), Reassignment::Cancel)],
            ReassignmentOptions::default()
        )
    );
    case!(
        "Admin::alter_replica_log_dirs",
        admin.alter_replica_log_dirs(
            [(TopicPartitionReplica::new(&topic, 0, node), log_dir.clone())],
            LogDirsOptions::default()
        )
    );
    case!(
        "Admin::alter_client_quotas",
        admin.alter_client_quotas(
            [(
                QuotaEntity::client_id(Some(&quota_client)),
                vec![QuotaAlteration::set(
                    quota_keys::PRODUCER_BYTE_RATE,
                    1_000_000.0
                )]
            )],
            QuotasOptions::default()
        )
    );
    case!(
        "Admin::alter_user_scram_credentials",
        admin.alter_user_scram_credentials(
            [(
                user.clone(),
                ScramAlteration::Upsert {
                    mechanism: ScramMechanism::Sha256,
                    iterations: 4096,
                    password: "cancel-safety".into(),
                }
            )],
            ScramOptions::default()
        )
    );
    // Metadata.version at its current level: a no-op the controller still checks.
    case!(
        "Admin::update_features",
        admin.update_features(
            [(
                "metadata.version".to_string(),
                FeatureUpdate {
                    max_version_level: mv,
                    upgrade: FeatureUpgrade::Upgrade,
                }
            )],
            FeaturesOptions::default()
        )
    );
    case!(
        "Admin::create_delegation_token",
        admin.create_delegation_token(CreateDelegationTokenOptions::default())
    );
    case!(
        "Admin::renew_delegation_token",
        admin.renew_delegation_token(&hmac, None, DelegationTokenOptions::default())
    );
    case!(
        "Admin::expire_delegation_token",
        admin.expire_delegation_token(
            &hmac,
            Some(Duration::from_secs(60)),
            DelegationTokenOptions::default()
        )
    );
    case!(
        "Admin::abort_transactions",
        admin.abort_transactions(
            [AbortTransactionSpec {
                partition: tp.clone(),
                producer_id: 999_999,
                producer_epoch: 0,
                coordinator_epoch: 0,
            }],
            TransactionsOptions::default()
        )
    );
    case!(
        "Admin::fence_producers",
        admin.fence_producers(["cs-no-such-txn"], TransactionsOptions::default())
    );
    case!(
        "Admin::delete_topics",
        admin.delete_topics([&deleted], DeleteTopicsOptions::default())
    );
}

/// `Admin::close` dropped at every poll point (an admin that built its client, so the
/// close sends the terminating telemetry push and closes the client): the client is
/// left open when dropped, the next close closes it, and later calls fail with `Closed`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_close_dropped_at_every_poll_point() {
    let bootstrap = kafka_testbed::shared_cluster().bootstrap_servers();
    sweep(
        "Admin::close",
        "own client, after a call",
        async |k| {
            let builder = kafka_client::Client::builder().bootstrap_servers([bootstrap.as_str()]);
            let admin = Admin::from_client_config(builder).expect("admin");
            admin
                .describe_cluster(DescribeClusterOptions::default())
                .await
                .expect("describe_cluster");
            let done = within(k, admin.close(Duration::from_secs(5))).await;
            if done.is_none() {
                let open = admin.list_topics(ListTopicsOptions::default()).await;
                assert!(
                    open.is_ok(),
                    "a dropped close left the client open: {open:?}"
                );
                admin.close(Duration::from_secs(5)).await;
            }
            let after = admin.list_topics(ListTopicsOptions::default()).await;
            assert!(
                matches!(after, Err(kafka_client::Error::Closed)),
                "{after:?}"
            );
            done
        },
        async |_| {},
    )
    .await;
}
