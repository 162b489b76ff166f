//! ACLs through kafka-admin: create, describe, delete on a cluster with Kafka's
//! `StandardAuthorizer`, and SECURITY_DISABLED on one without an authorizer.

mod admin_support;
mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use admin_support::{admin, admin_on, eventually};
use kafka_admin::{
    AclBinding, AclBindingFilter, AclOperation, AclPermissionType, AclsOptions, PatternType,
    ResourceType,
};
use kafka_client::ErrorCode;
use kafka_testbed::{ClusterConfig, KafkaCluster};

#[tokio::test]
async fn without_an_authorizer_acls_are_security_disabled() {
    let admin = admin();
    let err = admin
        .describe_acls(AclBindingFilter::any(), AclsOptions::default())
        .await
        .unwrap_err();
    assert_eq!(
        err.code().map(|c| c.name()).as_deref(),
        Some("SECURITY_DISABLED"),
        "{err}"
    );
    let acl = AclBinding::allow(ResourceType::Topic, "t", "User:alice", AclOperation::Read);
    let created = admin
        .create_acls([acl.clone()], AclsOptions::default())
        .await
        .unwrap();
    let err = created[&acl].as_ref().unwrap_err();
    assert_eq!(
        err.code().map(|c| c.name()).as_deref(),
        Some("SECURITY_DISABLED"),
        "{err}"
    );
}

#[tokio::test]
async fn create_describe_delete_with_an_authorizer() {
    let cluster = tokio::task::spawn_blocking(|| {
        KafkaCluster::start(
            ClusterConfig::new(1)
                .with_property(
                    "authorizer.class.name",
                    "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                )
                .with_property("super.users", "User:ANONYMOUS"),
        )
    })
    .await
    .unwrap()
    .expect("cluster with an authorizer");
    let admin = admin_on(&cluster.bootstrap_servers());

    let read = AclBinding::allow(
        ResourceType::Topic,
        "orders",
        "User:alice",
        AclOperation::Read,
    );
    let prefixed = AclBinding::deny(
        ResourceType::Topic,
        "orders-",
        "User:bob",
        AclOperation::Write,
    )
    .pattern_type(PatternType::Prefixed)
    .host("10.0.0.7");
    let group = AclBinding::allow(
        ResourceType::Group,
        "billing",
        "User:alice",
        AclOperation::Read,
    );
    let invalid = AclBinding::allow(ResourceType::Any, "x", "User:alice", AclOperation::Read);
    let created = admin
        .create_acls(
            [
                read.clone(),
                prefixed.clone(),
                group.clone(),
                invalid.clone(),
            ],
            AclsOptions::default(),
        )
        .await
        .expect("CreateAcls");
    for acl in [&read, &prefixed, &group] {
        assert!(created[acl].is_ok(), "{acl}: {:?}", created[acl]);
    }
    let err = created[&invalid].as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INVALID_REQUEST), "{err}");

    // ACLs reach the brokers' authorizer through the metadata log: poll until all show.
    let expected: BTreeSet<AclBinding> = [read.clone(), prefixed.clone(), group.clone()].into();
    eventually("created ACLs described", Duration::from_secs(20), || {
        let (admin, expected) = (&admin, &expected);
        async move {
            let all = admin
                .describe_acls(AclBindingFilter::any(), AclsOptions::default())
                .await
                .ok()?;
            (all.into_iter().collect::<BTreeSet<_>>() == *expected).then_some(())
        }
    })
    .await;

    let alice = admin
        .describe_acls(
            AclBindingFilter::any().principal("User:alice"),
            AclsOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        alice.into_iter().collect::<BTreeSet<_>>(),
        [read.clone(), group.clone()].into()
    );
    let topics = admin
        .describe_acls(
            AclBindingFilter::any()
                .resource_type(ResourceType::Topic)
                .permission(AclPermissionType::Deny),
            AclsOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(topics, std::slice::from_ref(&prefixed));
    let got = &topics[0];
    assert_eq!(
        (got.pattern_type, got.host.as_str()),
        (PatternType::Prefixed, "10.0.0.7")
    );
    // MATCH finds what applies to a resource name: the prefixed ACL covers orders-eu.
    let matching = admin
        .describe_acls(
            AclBindingFilter::any()
                .resource_type(ResourceType::Topic)
                .resource_name("orders-eu")
                .pattern_type(PatternType::Match),
            AclsOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(matching, std::slice::from_ref(&prefixed));

    let nothing = AclBindingFilter::any().principal("User:nobody");
    let deleted = admin
        .delete_acls(
            [
                read.to_filter(),
                AclBindingFilter::any().resource_type(ResourceType::Group),
                nothing.clone(),
            ],
            AclsOptions::default(),
        )
        .await
        .expect("DeleteAcls");
    assert_eq!(
        deleted[&read.to_filter()].as_ref().unwrap(),
        std::slice::from_ref(&read)
    );
    let groups = AclBindingFilter::any().resource_type(ResourceType::Group);
    assert_eq!(
        deleted[&groups].as_ref().unwrap(),
        std::slice::from_ref(&group)
    );
    assert!(deleted[&nothing].as_ref().unwrap().is_empty());

    eventually(
        "only the prefixed ACL left",
        Duration::from_secs(20),
        || {
            let (admin, prefixed) = (&admin, &prefixed);
            async move {
                let all = admin
                    .describe_acls(AclBindingFilter::any(), AclsOptions::default())
                    .await
                    .ok()?;
                (all == [prefixed.clone()]).then_some(())
            }
        },
    )
    .await;
    drop(cluster);
}
