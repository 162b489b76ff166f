//! Cluster description and configs (describe, incremental alter) through kafka-admin,
//! against the real broker.

mod admin_support;
mod common;

use std::time::Duration;

use admin_support::{admin, eventually};
use kafka_admin::{
    AlterConfigOp, AlterConfigsOptions, ConfigResource, ConfigSource, ConfigType,
    CreateTopicsOptions, DescribeClusterOptions, DescribeConfigsOptions, NewTopic,
};
use kafka_client::ErrorCode;

#[tokio::test]
async fn describe_cluster_names_brokers_controller_and_id() {
    let admin = admin();
    let d = admin
        .describe_cluster(DescribeClusterOptions::default().include_fenced_brokers(true))
        .await
        .expect("DescribeCluster");
    let meta = admin.client().metadata().await.unwrap();
    assert_eq!(Some(d.cluster_id.clone()), meta.cluster_id);
    assert!(!d.cluster_id.is_empty());
    assert_eq!(d.brokers.len(), 1, "{d:?}");
    let b = &d.brokers[&1];
    assert_eq!(
        (b.host.as_str(), b.port),
        (
            meta.brokers[&1].address.host.as_str(),
            meta.brokers[&1].address.port
        )
    );
    assert!(!b.is_fenced);
    let controller = d.controller.expect("a controller");
    assert!(d.brokers.contains_key(&controller));
}

#[tokio::test]
async fn describe_topic_and_broker_configs() {
    let admin = admin();
    let t = common::unique_topic("adm-cfg");
    let created = admin
        .create_topics(
            [NewTopic::new(&t)
                .partitions(1)
                .replication_factor(1)
                .config("cleanup.policy", "compact")],
            CreateTopicsOptions::default(),
        )
        .await
        .unwrap();
    created[&t].as_ref().expect("created");
    // CreateTopics returns once the controller has the topic; the broker that answers
    // DescribeConfigs learns it from the metadata log a moment later.
    admin_support::eventually(
        "the topic in the broker's metadata",
        Duration::from_secs(30),
        || {
            let client = admin.client().clone();
            let t = t.clone();
            async move {
                client.invalidate_topic(&t);
                client.leader(&t, 0).await.ok()
            }
        },
    )
    .await;
    let missing = common::unique_topic("adm-cfg-missing");

    let plain = admin
        .describe_configs(
            [ConfigResource::topic(&t), ConfigResource::topic(&missing)],
            DescribeConfigsOptions::default(),
        )
        .await
        .expect("request");
    let configs = plain[&ConfigResource::topic(&t)]
        .as_ref()
        .expect("described");
    let policy = &configs["cleanup.policy"];
    assert_eq!(policy.value.as_deref(), Some("compact"));
    assert_eq!(policy.source, ConfigSource::DynamicTopicConfig);
    assert!(!policy.is_default() && !policy.is_read_only && !policy.is_sensitive);
    assert!(policy.synonyms.is_empty(), "no synonyms unless asked for");
    let retention = &configs["retention.ms"];
    assert_ne!(retention.source, ConfigSource::DynamicTopicConfig);
    assert_eq!(retention.config_type, Some(ConfigType::Long));
    let err = plain[&ConfigResource::topic(&missing)]
        .as_ref()
        .unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err}"
    );

    let rich = admin
        .describe_configs(
            [ConfigResource::topic(&t), ConfigResource::broker(1)],
            DescribeConfigsOptions::default()
                .include_synonyms(true)
                .include_documentation(true),
        )
        .await
        .unwrap();
    let topic = rich[&ConfigResource::topic(&t)].as_ref().unwrap();
    let policy = &topic["cleanup.policy"];
    assert_eq!(policy.synonyms[0].source, ConfigSource::DynamicTopicConfig);
    assert!(
        policy
            .synonyms
            .iter()
            .any(|s| s.name == "log.cleanup.policy"),
        "{:?}",
        policy.synonyms
    );
    assert!(
        policy
            .documentation
            .as_deref()
            .is_some_and(|d| !d.is_empty())
    );

    let broker = rich[&ConfigResource::broker(1)]
        .as_ref()
        .expect("broker configs");
    let auto_create = &broker["auto.create.topics.enable"];
    assert_eq!(auto_create.value.as_deref(), Some("false"));
    assert_eq!(auto_create.source, ConfigSource::StaticBrokerConfig);
    assert_eq!(auto_create.config_type, Some(ConfigType::Boolean));
    assert!(broker["node.id"].is_read_only);
    let password = broker
        .values()
        .find(|c| c.config_type == Some(ConfigType::Password))
        .expect("a password config");
    assert!(
        password.is_sensitive && password.value.is_none(),
        "{password:?}"
    );

    let defaults = admin
        .describe_configs(
            [ConfigResource::broker_defaults()],
            DescribeConfigsOptions::default(),
        )
        .await
        .unwrap();
    assert!(
        defaults[&ConfigResource::broker_defaults()].is_ok(),
        "{defaults:?}"
    );
}

#[tokio::test]
async fn incremental_alter_set_append_subtract_delete() {
    let admin = admin();
    let t = common::unique_topic("adm-alter");
    common::create_topic(admin.client(), &t, 1, 1).await;
    let res = ConfigResource::topic(&t);
    let describe = || {
        let (admin, res) = (&admin, res.clone());
        async move {
            let d = admin
                .describe_configs([res.clone()], DescribeConfigsOptions::default())
                .await
                .unwrap();
            d[&res].as_ref().unwrap().clone()
        }
    };

    let validated = admin
        .incremental_alter_configs(
            [(
                res.clone(),
                vec![AlterConfigOp::set("retention.ms", "1234")],
            )],
            AlterConfigsOptions::default().validate_only(true),
        )
        .await
        .unwrap();
    assert!(validated[&res].is_ok(), "{validated:?}");
    assert_ne!(
        describe().await["retention.ms"].value.as_deref(),
        Some("1234")
    );

    let altered = admin
        .incremental_alter_configs(
            [(
                res.clone(),
                vec![
                    AlterConfigOp::set("retention.ms", "1234"),
                    AlterConfigOp::append("cleanup.policy", "compact"),
                ],
            )],
            AlterConfigsOptions::default(),
        )
        .await
        .unwrap();
    assert!(altered[&res].is_ok(), "{altered:?}");
    // The broker applies config changes asynchronously: poll until they show.
    eventually("set and append visible", Duration::from_secs(15), || {
        let d = describe();
        async move {
            let c = d.await;
            (c["retention.ms"].value.as_deref() == Some("1234")
                && c["cleanup.policy"].value.as_deref() == Some("delete,compact"))
            .then_some(())
        }
    })
    .await;

    let altered = admin
        .incremental_alter_configs(
            [(
                res.clone(),
                vec![
                    AlterConfigOp::delete("retention.ms"),
                    AlterConfigOp::subtract("cleanup.policy", "delete"),
                ],
            )],
            AlterConfigsOptions::default(),
        )
        .await
        .unwrap();
    assert!(altered[&res].is_ok(), "{altered:?}");
    eventually(
        "delete and subtract visible",
        Duration::from_secs(15),
        || {
            let d = describe();
            async move {
                let c = d.await;
                (c["retention.ms"].source != ConfigSource::DynamicTopicConfig
                    && c["cleanup.policy"].value.as_deref() == Some("compact"))
                .then_some(())
            }
        },
    )
    .await;

    let missing = ConfigResource::topic(common::unique_topic("adm-alter-missing"));
    let bad = admin
        .incremental_alter_configs(
            [
                (res.clone(), vec![AlterConfigOp::set("no.such.config", "1")]),
                (
                    missing.clone(),
                    vec![AlterConfigOp::set("retention.ms", "1")],
                ),
            ],
            AlterConfigsOptions::default(),
        )
        .await
        .unwrap();
    let err = bad[&res].as_ref().unwrap_err();
    assert_eq!(
        err.code().map(|c| c.name()).as_deref(),
        Some("INVALID_CONFIG"),
        "{err}"
    );
    let err = bad[&missing].as_ref().unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err}"
    );
}

#[tokio::test]
async fn broker_configs_alter_at_that_broker() {
    let admin = admin();
    let broker = ConfigResource::broker(1);
    let altered = admin
        .incremental_alter_configs(
            [(
                broker.clone(),
                vec![AlterConfigOp::set("log.cleaner.backoff.ms", "16000")],
            )],
            AlterConfigsOptions::default(),
        )
        .await
        .unwrap();
    assert!(altered[&broker].is_ok(), "{altered:?}");
    eventually(
        "dynamic broker config visible",
        Duration::from_secs(15),
        || {
            let (admin, broker) = (&admin, broker.clone());
            async move {
                let d = admin
                    .describe_configs([broker.clone()], DescribeConfigsOptions::default())
                    .await
                    .ok()?;
                let c = d[&broker].as_ref().ok()?["log.cleaner.backoff.ms"].clone();
                (c.value.as_deref() == Some("16000")
                    && c.source == ConfigSource::DynamicBrokerConfig)
                    .then_some(())
            }
        },
    )
    .await;
    let reverted = admin
        .incremental_alter_configs(
            [(
                broker.clone(),
                vec![AlterConfigOp::delete("log.cleaner.backoff.ms")],
            )],
            AlterConfigsOptions::default(),
        )
        .await
        .unwrap();
    assert!(reverted[&broker].is_ok(), "{reverted:?}");

    // A read-only broker config cannot be changed dynamically.
    let bad = admin
        .incremental_alter_configs(
            [(broker.clone(), vec![AlterConfigOp::set("node.id", "7")])],
            AlterConfigsOptions::default(),
        )
        .await
        .unwrap();
    let err = bad[&broker].as_ref().unwrap_err();
    assert_eq!(
        err.code().map(|c| c.name()).as_deref(),
        Some("INVALID_REQUEST"),
        "{err}"
    );
}
