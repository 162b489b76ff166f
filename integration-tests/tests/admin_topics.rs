//! Topic creation, listing and deletion through kafka-admin, against the real broker.

mod common;

use std::time::Duration;

use kafka_admin::{Admin, CreateTopicsOptions, DeleteTopicsOptions, ListTopicsOptions, NewTopic};
use kafka_client::ErrorCode;

fn admin() -> Admin {
    Admin::new(common::client(
        &kafka_testbed::shared_cluster().bootstrap_servers(),
    ))
}

#[tokio::test]
async fn create_list_delete() {
    let admin = admin();
    let (a, b) = (common::unique_topic("adm-a"), common::unique_topic("adm-b"));
    let created = admin
        .create_topics(
            [
                NewTopic::new(&a).partitions(4).replication_factor(1),
                NewTopic::new(&b)
                    .partitions(1)
                    .replication_factor(1)
                    .config("cleanup.policy", "compact"),
            ],
            CreateTopicsOptions::default(),
        )
        .await
        .expect("request");
    assert_eq!(created.len(), 2);
    let ca = created[&a].as_ref().expect("a created");
    assert_eq!((ca.partitions, ca.replication_factor), (4, 1));
    assert!(!ca.id.is_nil());
    assert!(created[&b].is_ok());

    let listed = admin
        .list_topics(ListTopicsOptions::default())
        .await
        .unwrap();
    assert_eq!(listed[&a].partitions, 4);
    assert_eq!(listed[&a].id, ca.id);
    assert!(listed.contains_key(&b));
    assert!(listed.values().all(|t| !t.is_internal));

    let deleted = admin
        .delete_topics([&a, &b], DeleteTopicsOptions::default())
        .await
        .unwrap();
    assert!(deleted[&a].is_ok() && deleted[&b].is_ok(), "{deleted:?}");
    // Deletion is asynchronous on the brokers: wait until the listing drops them.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let listed = admin
            .list_topics(ListTopicsOptions::default())
            .await
            .unwrap();
        if !listed.contains_key(&a) && !listed.contains_key(&b) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "topics still listed after delete"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn existing_topic_and_bad_requests_are_typed_per_topic() {
    let admin = admin();
    let t = common::unique_topic("adm-dup");
    let ok = common::unique_topic("adm-ok");
    let first = admin
        .create_topics(
            [NewTopic::new(&t).partitions(1).replication_factor(1)],
            CreateTopicsOptions::default(),
        )
        .await
        .unwrap();
    assert!(first[&t].is_ok());

    let bad_rf = common::unique_topic("adm-rf");
    let bad_parts = common::unique_topic("adm-parts");
    let again = admin
        .create_topics(
            [
                NewTopic::new(&t).partitions(1).replication_factor(1),
                NewTopic::new(&bad_rf).partitions(1).replication_factor(5),
                NewTopic::new(&bad_parts)
                    .partitions(0)
                    .replication_factor(1),
                NewTopic::new(&ok).partitions(2).replication_factor(1),
            ],
            CreateTopicsOptions::default(),
        )
        .await
        .expect("the request as a whole succeeds");
    let dup = again[&t].as_ref().unwrap_err();
    assert_eq!(dup.code(), Some(ErrorCode::TOPIC_ALREADY_EXISTS), "{dup}");
    assert!(dup.to_string().contains(&t), "error names the topic: {dup}");
    let rf = again[&bad_rf].as_ref().unwrap_err();
    assert_eq!(
        rf.code(),
        Some(ErrorCode::INVALID_REPLICATION_FACTOR),
        "{rf}"
    );
    let parts = again[&bad_parts].as_ref().unwrap_err();
    assert_eq!(parts.code(), Some(ErrorCode::INVALID_PARTITIONS), "{parts}");
    assert!(
        again[&ok].is_ok(),
        "a bad sibling must not fail a good topic"
    );

    let missing = common::unique_topic("adm-missing");
    let del = admin
        .delete_topics([&missing], DeleteTopicsOptions::default())
        .await
        .unwrap();
    let err = del[&missing].as_ref().unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err}"
    );
}

#[tokio::test]
async fn validate_only_creates_nothing() {
    let admin = admin();
    let t = common::unique_topic("adm-validate");
    let res = admin
        .create_topics(
            [NewTopic::new(&t).partitions(3).replication_factor(1)],
            CreateTopicsOptions::default().validate_only(true),
        )
        .await
        .unwrap();
    assert_eq!(res[&t].as_ref().unwrap().partitions, 3);
    let listed = admin
        .list_topics(ListTopicsOptions::default())
        .await
        .unwrap();
    assert!(!listed.contains_key(&t));
}
