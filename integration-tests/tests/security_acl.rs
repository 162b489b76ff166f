//! Authorization against the secured broker (`StandardAuthorizer`,
//! `allow.everyone.if.no.acl.found=false`): alice, authenticated with SCRAM-SHA-512,
//! is denied on a topic, a group, a transactional id and the cluster, each with the
//! matching typed error at once (no retry loop) naming the resource; after the super
//! user grants ACLs through kafka-admin, the same calls succeed.

mod security_common;

use std::future::Future;
use std::time::{Duration, Instant};

use kafka_admin::{AclBinding, AclOperation, AclsOptions, Admin, ResourceType};
use kafka_client::lowlevel::Target;
use kafka_client::{Client, Error, ErrorCode, ErrorContext};
use kafka_protocol::messages::{
    ApiKey, FindCoordinatorRequest, InitProducerIdRequest, TransactionalId,
};
use kafka_protocol::protocol::{Message, StrBytes};
use kafka_testbed::secure::{ALICE, Listener};
use security_common::*;

const ALICE_PRINCIPAL: &str = "User:alice";

fn alice() -> Client {
    builder(Listener::SaslPlaintext)
        .sasl(kafka_client::config::SaslConfig::scram_sha512(
            ALICE.0, ALICE.1,
        ))
        .build()
        .unwrap()
}

/// Grants ACLs as the super user (over PLAINTEXT), through kafka-admin.
async fn grant(acls: Vec<AclBinding>) {
    let results = Admin::new(plaintext())
        .create_acls(acls, AclsOptions::default())
        .await
        .expect("CreateAcls request");
    for (acl, r) in results {
        r.unwrap_or_else(|e| panic!("granting {acl:?}: {e}"));
    }
}

/// Asserts that `call` fails at once (no retry loop) with `code`, naming `resource`.
async fn denied<T: std::fmt::Debug>(
    what: &str,
    code: ErrorCode,
    resource: &str,
    call: impl Future<Output = kafka_client::Result<T>>,
) {
    let started = Instant::now();
    let err = call.await.expect_err(what);
    let took = started.elapsed();
    eprintln!("{what}: denied in {took:?}: {err}");
    assert_eq!(err.code(), Some(code), "{what}: {err}");
    assert!(
        err.is_authorization_failure() && !err.is_retriable(),
        "{what}: {err}"
    );
    assert!(err.to_string().contains(resource), "{what}: {err}");
    assert!(took < Duration::from_secs(3), "{what}: took {took:?}");
}

/// Retries `call` until it succeeds (ACLs reach the authorizer through the metadata
/// log, a moment after CreateAcls returns), failing after 20 s.
async fn eventually<T, F, Fut>(what: &str, mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = kafka_client::Result<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match call().await {
            Ok(v) => return v,
            Err(e) if Instant::now() < deadline => {
                eprintln!("{what}: not yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{what}: still failing after the grant: {e}"),
        }
    }
}

/// FindCoordinator for a group (`key_type` 0) or transactional id (1); the coordinator's
/// node id, or the error naming `key`.
async fn find_coordinator(client: &Client, key: &str, key_type: i8) -> kafka_client::Result<i32> {
    let conn = client.target_connection(Target::Any).await?;
    let version = conn.negotiate::<FindCoordinatorRequest>(FindCoordinatorRequest::VERSIONS)?;
    let name = StrBytes::from_string(key.to_owned());
    // v4+ batches keys; earlier versions take one `key`.
    let req = if version >= 4 {
        FindCoordinatorRequest::default().with_coordinator_keys(vec![name])
    } else {
        FindCoordinatorRequest::default().with_key(name)
    }
    .with_key_type(key_type);
    let resp = conn
        .request_at(&req, version, Duration::from_secs(15))
        .await?;
    let ctx = || {
        ErrorContext::default()
            .with_api(ApiKey::FindCoordinator)
            .with_resource(key)
    };
    match resp.coordinators.first() {
        Some(c) => {
            Error::check(c.error_code, ctx)?;
            Ok(c.node_id.0)
        }
        None => {
            Error::check(resp.error_code, ctx)?;
            Ok(resp.node_id.0)
        }
    }
}

/// InitProducerId for `txn` at its coordinator `node`.
async fn init_producer_id(client: &Client, node: i32, txn: &str) -> kafka_client::Result<i64> {
    let req = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(StrBytes::from_string(txn.to_owned()))))
        .with_transaction_timeout_ms(30_000)
        .with_producer_id((-1).into())
        .with_producer_epoch(-1);
    let resp = client.send(Target::Broker(node), &req).await?;
    Error::check(resp.error_code, || {
        ErrorContext::default()
            .with_api(ApiKey::InitProducerId)
            .with_resource(txn)
    })?;
    Ok(resp.producer_id.0)
}

#[tokio::test]
async fn topic_denied_then_granted() {
    let alice = alice();
    let topic = victim_topic("acl-topic").await;
    let (leader, _) = plaintext().leader(&topic, 0).await.unwrap();

    denied(
        "Metadata",
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        &topic,
        alice.topic(&topic),
    )
    .await;
    denied(
        "Produce",
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        &topic,
        produce_on(&alice, leader, &topic, &["denied"]),
    )
    .await;
    denied(
        "Fetch",
        ErrorCode::TOPIC_AUTHORIZATION_FAILED,
        &topic,
        fetch(&alice, &topic),
    )
    .await;
    assert_no_records(&topic).await;

    grant(
        [
            AclOperation::Describe,
            AclOperation::Write,
            AclOperation::Read,
        ]
        .into_iter()
        .map(|op| AclBinding::allow(ResourceType::Topic, &topic, ALICE_PRINCIPAL, op))
        .collect(),
    )
    .await;
    eventually("Produce after the grant", || {
        produce(&alice, &topic, &["granted"])
    })
    .await;
    let (hw, values) = fetch(&alice, &topic).await.expect("Fetch after the grant");
    assert_eq!((hw, values), (1, vec!["granted".to_owned()]));
}

#[tokio::test]
async fn group_denied_then_granted() {
    let alice = alice();
    let group = unique_topic("acl-group");
    denied(
        "FindCoordinator(group)",
        ErrorCode::GROUP_AUTHORIZATION_FAILED,
        &group,
        find_coordinator(&alice, &group, 0),
    )
    .await;
    grant(vec![AclBinding::allow(
        ResourceType::Group,
        &group,
        ALICE_PRINCIPAL,
        AclOperation::Describe,
    )])
    .await;
    eventually("FindCoordinator(group) after the grant", || {
        find_coordinator(&alice, &group, 0)
    })
    .await;
}

#[tokio::test]
async fn transactional_id_denied_then_granted() {
    let alice = alice();
    let txn = unique_topic("acl-txn");
    denied(
        "FindCoordinator(transaction)",
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        &txn,
        find_coordinator(&alice, &txn, 1),
    )
    .await;
    let admin = plaintext();
    let coordinator = eventually("coordinator as super user", || {
        find_coordinator(&admin, &txn, 1)
    })
    .await;
    denied(
        "InitProducerId",
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        &txn,
        init_producer_id(&alice, coordinator, &txn),
    )
    .await;
    grant(
        [AclOperation::Describe, AclOperation::Write]
            .into_iter()
            .map(|op| AclBinding::allow(ResourceType::TransactionalId, &txn, ALICE_PRINCIPAL, op))
            .collect(),
    )
    .await;
    let node = eventually("FindCoordinator(transaction) after the grant", || {
        find_coordinator(&alice, &txn, 1)
    })
    .await;
    let pid = eventually("InitProducerId after the grant", || {
        init_producer_id(&alice, node, &txn)
    })
    .await;
    assert!(pid >= 0);
}

#[tokio::test]
async fn cluster_denied_then_granted() {
    let alice = Admin::new(alice());
    let topic = unique_topic("acl-cluster");
    let acl = || {
        AclBinding::allow(
            ResourceType::Topic,
            &topic,
            ALICE_PRINCIPAL,
            AclOperation::Describe,
        )
    };
    let started = Instant::now();
    let results = alice
        .create_acls([acl()], AclsOptions::default())
        .await
        .expect("CreateAcls request");
    let err = results[&acl()]
        .as_ref()
        .expect_err("alice may not alter ACLs");
    eprintln!("CreateAcls: denied in {:?}: {err}", started.elapsed());
    assert_eq!(
        err.code(),
        Some(ErrorCode::CLUSTER_AUTHORIZATION_FAILED),
        "{err}"
    );
    assert!(err.is_authorization_failure() && !err.is_retriable());
    assert!(started.elapsed() < Duration::from_secs(3));

    grant(vec![AclBinding::allow(
        ResourceType::Cluster,
        "kafka-cluster",
        ALICE_PRINCIPAL,
        AclOperation::Alter,
    )])
    .await;
    eventually("CreateAcls after the grant", || async {
        let r = alice.create_acls([acl()], AclsOptions::default()).await?;
        r[&acl()].clone()
    })
    .await;
}
