//! Topics through kafka-admin against the real broker: create, list, delete, describe,
//! and create partitions.

mod common;

use std::time::Duration;

use kafka_admin::{
    Admin, CreatePartitionsOptions, CreateTopicsOptions, DeleteTopicsOptions,
    DescribeClusterOptions, DescribeTopicsOptions, ListTopicsOptions, NewPartitions, NewTopic,
};
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

    // Brokers learn of new topics from the controller's log a moment after CreateTopics
    // returns (as with the Java client's listTopics): wait for both to be listed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let listed = admin
            .list_topics(ListTopicsOptions::default())
            .await
            .unwrap();
        if listed.contains_key(&a) && listed.contains_key(&b) {
            break listed;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "created topics not listed after 20 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
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
    // The controller, not a possibly lagging metadata listing, is the judge: creating the
    // topic for real must succeed, which it would not (TOPIC_ALREADY_EXISTS) had the
    // validate-only call created it.
    let real = admin
        .create_topics(
            [NewTopic::new(&t).partitions(3).replication_factor(1)],
            CreateTopicsOptions::default(),
        )
        .await
        .unwrap();
    assert!(
        real[&t].is_ok(),
        "validate_only created the topic: {:?}",
        real[&t]
    );
}

#[tokio::test]
async fn describe_topics_reports_partitions_leaders_and_replicas() {
    let admin = admin();
    let t = common::unique_topic("adm-describe");
    let missing = common::unique_topic("adm-describe-missing");
    common::create_topic(admin.client(), &t, 3, 1).await;
    let described = admin
        .describe_topics([&t, &missing], DescribeTopicsOptions::default())
        .await
        .expect("request");
    let d = described[&t].as_ref().expect("described");
    assert_eq!(d.name, t);
    assert!(!d.id.is_nil() && !d.is_internal);
    assert_eq!(d.partitions.len(), 3);
    let cluster = admin
        .describe_cluster(DescribeClusterOptions::default())
        .await
        .unwrap();
    for (i, p) in d.partitions.iter().enumerate() {
        assert_eq!(p.partition, i as i32);
        let leader = p.leader.expect("a leader");
        assert!(cluster.brokers.contains_key(&leader), "{p:?}");
        assert_eq!(p.replicas, [leader]);
        assert_eq!(p.isr, [leader]);
        assert!(p.leader_epoch >= 0 && p.error.is_none(), "{p:?}");
    }
    let err = described[&missing].as_ref().unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err}"
    );

    let internal = admin
        .describe_topics(["__consumer_offsets"], DescribeTopicsOptions::default())
        .await
        .unwrap();
    // The offsets topic exists once a group has been used; when it does, it is internal.
    if let Ok(d) = &internal["__consumer_offsets"] {
        assert!(d.is_internal);
    }
}

#[tokio::test]
async fn create_partitions_grows_topics_with_typed_errors() {
    let admin = admin();
    let t = common::unique_topic("adm-grow");
    let explicit = common::unique_topic("adm-grow-explicit");
    let missing = common::unique_topic("adm-grow-missing");
    common::create_topic(admin.client(), &t, 1, 1).await;
    common::create_topic(admin.client(), &explicit, 1, 1).await;

    let validated = admin
        .create_partitions(
            [(t.clone(), NewPartitions::increase_to(5))],
            CreatePartitionsOptions::default().validate_only(true),
        )
        .await
        .unwrap();
    assert!(validated[&t].is_ok(), "{validated:?}");
    let still = admin
        .describe_topics([&t], DescribeTopicsOptions::default())
        .await
        .unwrap();
    assert_eq!(still[&t].as_ref().unwrap().partitions.len(), 1);

    let grown = admin
        .create_partitions(
            [
                (t.clone(), NewPartitions::increase_to(3)),
                (
                    explicit.clone(),
                    NewPartitions::increase_to(3)
                        .assignment([1])
                        .assignment([1]),
                ),
                (missing.clone(), NewPartitions::increase_to(2)),
            ],
            CreatePartitionsOptions::default().timeout(Duration::from_secs(30)),
        )
        .await
        .expect("request");
    assert!(grown[&t].is_ok(), "{grown:?}");
    assert!(grown[&explicit].is_ok(), "{grown:?}");
    let err = grown[&missing].as_ref().unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err}"
    );
    common::wait_for_leaders(admin.client(), &t, 3).await;
    common::wait_for_leaders(admin.client(), &explicit, 3).await;
    let described = admin
        .describe_topics([&t, &explicit], DescribeTopicsOptions::default())
        .await
        .unwrap();
    assert_eq!(described[&t].as_ref().unwrap().partitions.len(), 3);
    let e = described[&explicit].as_ref().unwrap();
    assert_eq!(e.partitions.len(), 3);
    assert_eq!(e.partitions[2].replicas, [1]);

    // Not growing (same or fewer partitions) and a bad assignment are typed errors.
    let bad = admin
        .create_partitions(
            [
                (t.clone(), NewPartitions::increase_to(2)),
                (
                    explicit.clone(),
                    NewPartitions::increase_to(4).assignment([42]),
                ),
            ],
            CreatePartitionsOptions::default(),
        )
        .await
        .unwrap();
    let err = bad[&t].as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::INVALID_PARTITIONS), "{err}");
    let err = bad[&explicit].as_ref().unwrap_err();
    assert_eq!(
        err.code().map(|c| c.name()).as_deref(),
        Some("INVALID_REPLICA_ASSIGNMENT"),
        "{err}"
    );
}
