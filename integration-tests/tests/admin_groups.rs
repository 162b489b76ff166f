//! Consumer groups through kafka-admin against the real broker: list, describe, delete,
//! committed offsets (list, alter, delete) and lag, with groups run by `kcat` and lag
//! checked against Kafka's own `ConsumerGroupCommand`.

mod admin_support;
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use admin_support::{
    JavaConsumer, KcatConsumer, admin, bootstrap, eventually, java_describe_group, produce, values,
};
use kafka_admin::{
    GroupLagOptions, GroupOffsetsOptions, GroupState, GroupType, GroupsOptions,
    ListGroupOffsetsOptions, ListGroupsOptions, OffsetAndMetadata, TopicPartition,
};
use kafka_client::ErrorCode;

fn tp(topic: &str, p: i32) -> TopicPartition {
    TopicPartition::new(topic, p)
}

#[tokio::test]
async fn missing_groups_are_typed_errors() {
    let admin = admin();
    let missing = common::unique_topic("adm-no-group");
    let described = admin
        .describe_consumer_groups([&missing], GroupsOptions::default())
        .await
        .expect("request");
    let err = described[&missing].as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{err}");
    assert!(err.to_string().contains(&missing), "{err}");

    let deleted = admin
        .delete_consumer_groups([&missing], GroupsOptions::default())
        .await
        .expect("request");
    let err = deleted[&missing].as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{err}");

    let offsets = admin
        .list_consumer_group_offsets(&missing, ListGroupOffsetsOptions::default())
        .await
        .expect("a missing group has no offsets");
    assert!(offsets.is_empty(), "{offsets:?}");

    let lag = admin
        .consumer_group_lag(&missing, GroupLagOptions::default())
        .await
        .unwrap_err();
    assert_eq!(lag.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{lag}");

    let del = admin
        .delete_consumer_group_offsets(&missing, [tp("t", 0)], GroupOffsetsOptions::default())
        .await
        .unwrap_err();
    assert_eq!(del.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{del}");
}

/// A group with committed offsets but no members (a "simple" group), created with our own
/// alter call: offsets, lag, and the Java tool's LAG column agree.
#[tokio::test]
async fn committed_offsets_and_lag_match_kafkas_tool() {
    let admin = admin();
    let b = bootstrap();
    let topic = common::unique_topic("adm-lag");
    common::create_topic(admin.client(), &topic, 3, 1).await;
    for (p, n) in [(0, 10), (1, 20), (2, 30)] {
        produce(&b, &topic, p, &values("v", n));
    }
    let group = common::unique_topic("adm-lag-group");
    let altered = admin
        .alter_consumer_group_offsets(
            &group,
            [
                (tp(&topic, 0), OffsetAndMetadata::new(3).with_metadata("m0")),
                (tp(&topic, 1), OffsetAndMetadata::new(20)),
                (
                    tp(&topic, 2),
                    OffsetAndMetadata::new(5).with_leader_epoch(0),
                ),
            ],
            GroupOffsetsOptions::default(),
        )
        .await
        .expect("OffsetCommit");
    assert_eq!(altered.len(), 3);
    assert!(altered.values().all(Result::is_ok), "{altered:?}");

    let committed = admin
        .list_consumer_group_offsets(&group, ListGroupOffsetsOptions::default())
        .await
        .expect("OffsetFetch");
    let p0 = committed[&tp(&topic, 0)]
        .as_ref()
        .unwrap()
        .as_ref()
        .unwrap();
    assert_eq!((p0.offset, p0.metadata.as_deref()), (3, Some("m0")));
    let p2 = committed[&tp(&topic, 2)]
        .as_ref()
        .unwrap()
        .as_ref()
        .unwrap();
    assert_eq!((p2.offset, p2.leader_epoch), (5, Some(0)));

    // Asking for named partitions: one with nothing committed is `None`.
    let other = common::unique_topic("adm-lag-other");
    common::create_topic(admin.client(), &other, 1, 1).await;
    let some = admin
        .list_consumer_group_offsets(
            &group,
            ListGroupOffsetsOptions::default()
                .partitions([tp(&topic, 1), tp(&other, 0)])
                .require_stable(true),
        )
        .await
        .unwrap();
    assert_eq!(some.len(), 2, "{some:?}");
    assert_eq!(
        some[&tp(&topic, 1)]
            .as_ref()
            .unwrap()
            .as_ref()
            .unwrap()
            .offset,
        20
    );
    assert_eq!(some[&tp(&other, 0)].as_ref().unwrap(), &None);

    let described = admin
        .describe_consumer_groups([&group], GroupsOptions::default())
        .await
        .unwrap();
    let d = described[&group].as_ref().expect("described");
    assert_eq!(d.state, GroupState::Empty);
    assert!(d.members.is_empty() && d.is_simple_consumer_group, "{d:?}");

    let lag = admin
        .consumer_group_lag(&group, GroupLagOptions::default())
        .await
        .expect("lag");
    let ours: BTreeMap<i32, (Option<i64>, i64, Option<i64>)> = lag
        .iter()
        .filter(|(k, _)| k.topic == topic)
        .map(|(k, v)| {
            let v = v.as_ref().expect("partition lag");
            (k.partition, (v.committed, v.end_offset, v.lag))
        })
        .collect();
    assert_eq!(
        ours,
        BTreeMap::from([
            (0, (Some(3), 10, Some(7))),
            (1, (Some(20), 20, Some(0))),
            (2, (Some(5), 30, Some(25))),
        ])
    );

    let rows = java_describe_group(&b, &group);
    let java: BTreeMap<i32, (Option<i64>, i64, Option<i64>)> = rows
        .iter()
        .filter(|r| r.get("TOPIC") == Some(&topic))
        .map(|r| {
            let num = |c: &str| r.get(c).and_then(|v| v.parse::<i64>().ok());
            let p = num("PARTITION").expect("PARTITION") as i32;
            (
                p,
                (
                    num("CURRENT-OFFSET"),
                    num("LOG-END-OFFSET").expect("LOG-END"),
                    num("LAG"),
                ),
            )
        })
        .collect();
    assert_eq!(ours, java, "ours vs ConsumerGroupCommand: {rows:?}");

    // Delete one partition's offset: it disappears from the listing and the lag.
    let del = admin
        .delete_consumer_group_offsets(&group, [tp(&topic, 0)], GroupOffsetsOptions::default())
        .await
        .expect("OffsetDelete");
    assert!(del[&tp(&topic, 0)].is_ok(), "{del:?}");
    let after = admin
        .list_consumer_group_offsets(&group, ListGroupOffsetsOptions::default())
        .await
        .unwrap();
    assert!(!after.contains_key(&tp(&topic, 0)), "{after:?}");
    assert!(after.contains_key(&tp(&topic, 1)));

    // Committing to a partition that does not exist is that partition's error.
    let bad = admin
        .alter_consumer_group_offsets(
            &group,
            [
                (tp(&topic, 7), OffsetAndMetadata::new(1)),
                (tp(&topic, 1), OffsetAndMetadata::new(2)),
            ],
            GroupOffsetsOptions::default(),
        )
        .await
        .expect("request");
    let err = bad[&tp(&topic, 7)].as_ref().unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{err}"
    );
    assert!(bad[&tp(&topic, 1)].is_ok(), "{bad:?}");

    let deleted = admin
        .delete_consumer_groups([&group], GroupsOptions::default())
        .await
        .unwrap();
    assert!(deleted[&group].is_ok(), "{deleted:?}");
}

/// A live `kcat` member: listing with state and type, describing members and their
/// decoded assignments, the errors an active group gives, then deletion once it is empty.
#[tokio::test]
async fn active_group_lifecycle() {
    let admin = admin();
    let b = bootstrap();
    let topic = common::unique_topic("adm-live");
    common::create_topic(admin.client(), &topic, 3, 1).await;
    for p in 0..3 {
        produce(&b, &topic, p, &values("x", 4));
    }
    let group = common::unique_topic("adm-live-group");
    let client_id = format!("kcat-{}", std::process::id());
    let kcat = KcatConsumer::start(&b, &group, &client_id, &topic);

    let all: BTreeSet<TopicPartition> = (0..3).map(|p| tp(&topic, p)).collect();
    let d = eventually(
        "group stable with all partitions assigned",
        Duration::from_secs(45),
        || {
            let admin = &admin;
            let (group, all) = (&group, &all);
            async move {
                let r = admin
                    .describe_consumer_groups([group], GroupsOptions::default())
                    .await
                    .ok()?;
                let d = r.get(group.as_str())?.as_ref().ok()?.clone();
                (d.state == GroupState::Stable
                    && d.members.len() == 1
                    && &d.members[0].assignment.partitions == all)
                    .then_some(d)
            }
        },
    )
    .await;
    assert_eq!(d.protocol_type, "consumer");
    assert_eq!(d.group_type, GroupType::Classic);
    assert!(!d.is_simple_consumer_group);
    assert!(!d.assignor.is_empty(), "{d:?}");
    assert_eq!(d.coordinator, 1);
    let m = &d.members[0];
    assert_eq!(m.client_id, client_id);
    assert!(m.host.contains("127.0.0.1"), "{m:?}");
    assert!(!m.member_id.is_empty());
    assert_eq!(m.subscription.as_ref().unwrap().topics, [topic.as_str()]);

    let listed = admin
        .list_groups(ListGroupsOptions::default())
        .await
        .unwrap();
    let g = &listed[&group];
    assert_eq!(g.protocol_type, "consumer");
    assert_eq!(g.state, Some(GroupState::Stable));
    assert_eq!(g.group_type, Some(GroupType::Classic));
    let empty_only = admin
        .list_groups(ListGroupsOptions::default().states([GroupState::Empty]))
        .await
        .unwrap();
    assert!(!empty_only.contains_key(&group));
    let classic = admin
        .list_groups(ListGroupsOptions::default().types([GroupType::Classic]))
        .await
        .unwrap();
    assert!(classic.contains_key(&group));

    // kcat commits everything it read: the lag drops to 0, and the Java tool agrees,
    // including who owns each partition.
    let lag = eventually(
        "kcat committed every record",
        Duration::from_secs(30),
        || {
            let (admin, group) = (&admin, &group);
            async move {
                let lag = admin
                    .consumer_group_lag(group, GroupLagOptions::default())
                    .await
                    .ok()?;
                (lag.len() == 3
                    && lag
                        .values()
                        .all(|l| l.as_ref().is_ok_and(|l| l.lag == Some(0))))
                .then_some(lag)
            }
        },
    )
    .await;
    for l in lag.values() {
        let l = l.as_ref().unwrap();
        assert_eq!(
            (l.end_offset, l.member_id.as_deref()),
            (4, Some(m.member_id.as_str()))
        );
        assert_eq!(l.client_id.as_deref(), Some(client_id.as_str()));
    }
    let rows = java_describe_group(&b, &group);
    assert_eq!(rows.len(), 3, "{rows:?}");
    for r in &rows {
        let p: i32 = r["PARTITION"].parse().unwrap();
        let ours = lag[&tp(&topic, p)].as_ref().unwrap();
        assert_eq!(r["LAG"], ours.lag.unwrap().to_string(), "{r:?}");
        assert_eq!(r["CONSUMER-ID"], m.member_id, "{r:?}");
        assert_eq!(r["CLIENT-ID"], client_id, "{r:?}");
    }

    // An active group can be neither deleted, nor have its offsets altered by an admin,
    // nor lose offsets of a topic its members subscribe to.
    let del = admin
        .delete_consumer_groups([&group], GroupsOptions::default())
        .await
        .unwrap();
    let err = del[&group].as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::GROUP_NOT_EMPTY), "{err}");
    let alter = admin
        .alter_consumer_group_offsets(
            &group,
            [(tp(&topic, 0), OffsetAndMetadata::new(0))],
            GroupOffsetsOptions::default(),
        )
        .await
        .unwrap();
    let err = alter[&tp(&topic, 0)].as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::UNKNOWN_MEMBER_ID), "{err}");
    let del = admin
        .delete_consumer_group_offsets(&group, [tp(&topic, 0)], GroupOffsetsOptions::default())
        .await
        .unwrap();
    let err = del[&tp(&topic, 0)].as_ref().unwrap_err();
    assert_eq!(
        err.code().map(|c| c.name()).as_deref(),
        Some("GROUP_SUBSCRIBED_TO_TOPIC"),
        "{err}"
    );

    // Once the member leaves, the group is Empty and can be reset and deleted.
    kcat.stop();
    eventually(
        "group empty after kcat left",
        Duration::from_secs(30),
        || {
            let (admin, group) = (&admin, &group);
            async move {
                let r = admin
                    .describe_consumer_groups([group], GroupsOptions::default())
                    .await
                    .ok()?;
                let d = r.get(group.as_str())?.as_ref().ok()?;
                (d.state == GroupState::Empty).then_some(())
            }
        },
    )
    .await;
    let reset = admin
        .alter_consumer_group_offsets(
            &group,
            [(tp(&topic, 0), OffsetAndMetadata::new(1))],
            GroupOffsetsOptions::default(),
        )
        .await
        .unwrap();
    assert!(reset[&tp(&topic, 0)].is_ok(), "{reset:?}");
    let del = admin
        .delete_consumer_groups([&group], GroupsOptions::default())
        .await
        .unwrap();
    assert!(del[&group].is_ok(), "{del:?}");
    let described = admin
        .describe_consumer_groups([&group], GroupsOptions::default())
        .await
        .unwrap();
    let err = described[&group].as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::GROUP_ID_NOT_FOUND), "{err}");
}

/// A group of the KIP-848 consumer protocol (Kafka's own console consumer with
/// `group.protocol=consumer`) is described through ConsumerGroupDescribe.
#[tokio::test]
async fn consumer_protocol_group_is_described() {
    // Kafka 3.9 has the KIP-848 consumer protocol only as an off-by-default preview.
    if !kafka_testbed::kafka_at_least("4.0.0", "the KIP-848 consumer group protocol") {
        return;
    }
    let admin = admin();
    let b = bootstrap();
    let topic = common::unique_topic("adm-848");
    common::create_topic(admin.client(), &topic, 2, 1).await;
    produce(&b, &topic, 0, &values("y", 3));
    let group = common::unique_topic("adm-848-group");
    let _java = JavaConsumer::start(&b, &group, "java-848", &topic);

    let all: BTreeSet<TopicPartition> = (0..2).map(|p| tp(&topic, p)).collect();
    let d = eventually(
        "consumer-protocol group stable",
        Duration::from_secs(60),
        || {
            let (admin, group, all) = (&admin, &group, &all);
            async move {
                let r = admin
                    .describe_consumer_groups([group], GroupsOptions::default())
                    .await
                    .ok()?;
                let d = r.get(group.as_str())?.as_ref().ok()?.clone();
                (d.state == GroupState::Stable
                    && d.members.len() == 1
                    && &d.members[0].assignment.partitions == all)
                    .then_some(d)
            }
        },
    )
    .await;
    assert_eq!(d.group_type, GroupType::Consumer);
    assert_eq!(d.protocol_type, "consumer");
    assert!(!d.assignor.is_empty(), "{d:?}");
    let m = &d.members[0];
    assert_eq!(m.client_id, "java-848");
    assert_eq!(m.subscription.as_ref().unwrap().topics, [topic.as_str()]);

    let listed = admin
        .list_groups(ListGroupsOptions::default())
        .await
        .unwrap();
    assert_eq!(listed[&group].group_type, Some(GroupType::Consumer));
    let del = admin
        .delete_consumer_groups([&group], GroupsOptions::default())
        .await
        .unwrap();
    let err = del[&group].as_ref().unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::GROUP_NOT_EMPTY), "{err}");
}
