//! The testkit's group coordinator driven by kafka-client as a user would drive it:
//! KIP-848 consumer groups with several members, and share groups.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafka_client::consumer::{AutoOffsetReset, Consumer, GroupProtocol, TopicPartition};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::share::{
    AcknowledgeError, AcknowledgeType, AcknowledgementMode, NotHeldReason, ShareConsumer,
    ShareRecord,
};
use kafka_testkit::Cluster;

async fn produce(cluster: &Cluster, topic: &str, n: usize) {
    let p = Producer::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .build()
        .unwrap();
    for i in 0..n {
        p.send_and_wait(ProducerRecord::new(topic).with_value(format!("v{i}")))
            .await
            .unwrap();
    }
    p.close(Duration::from_secs(1)).await.unwrap();
}

fn member(cluster: &Cluster, group: &str) -> Consumer {
    member_with(cluster, group, GroupProtocol::Consumer)
}

fn member_with(cluster: &Cluster, group: &str, protocol: GroupProtocol) -> Consumer {
    let c = Consumer::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .group_id(group)
        .group_protocol(protocol)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(50))
        .build()
        .unwrap();
    c.subscribe(["t"]).unwrap();
    c
}

/// Polls every member until their assignments are disjoint and together cover all of
/// `partitions`, the coordinator says the group is stable (no partition is waiting to
/// move) and each member's view is the coordinator's, or `limit` passes.
async fn settle(
    cluster: &Cluster,
    members: &[&Consumer],
    partitions: i32,
    limit: Duration,
) -> Vec<BTreeSet<TopicPartition>> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        for c in members {
            c.poll(Duration::from_millis(20)).await.unwrap();
        }
        let each: Vec<BTreeSet<TopicPartition>> = members.iter().map(|c| c.assignment()).collect();
        let total: usize = each.iter().map(BTreeSet::len).sum();
        let union: BTreeSet<&TopicPartition> = each.iter().flatten().collect();
        let mut members_view: Vec<BTreeSet<(String, i32)>> = each
            .iter()
            .map(|a| {
                a.iter()
                    .map(|tp| (tp.topic.clone(), tp.partition))
                    .collect()
            })
            .collect();
        members_view.sort();
        let mut coordinator_view: Vec<_> = cluster.group_assignment("g").into_values().collect();
        coordinator_view.sort();
        if total == partitions as usize
            && union.len() == total
            && each.iter().all(|a| !a.is_empty())
            && cluster.group_is_stable("g")
            && members_view == coordinator_view
        {
            return each;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no settled assignment: {each:?}"
        );
    }
}

/// Polls `members` until together they have read `n` records (or 20 s pass), commits each
/// member's position, and checks that group "g" committed `n` records over topic "t"'s
/// 6 partitions.
async fn read_all_and_commit(cluster: &Cluster, members: &[&Consumer], n: usize) {
    let mut seen = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen < n && tokio::time::Instant::now() < deadline {
        for m in members {
            seen += m
                .poll(Duration::from_millis(50))
                .await
                .unwrap()
                .into_parts()
                .0
                .len();
        }
    }
    assert_eq!(seen, n);
    for m in members {
        m.commit().await.unwrap();
    }
    let committed: i64 = (0..6)
        .map(|p| cluster.committed_offset("g", "t", p).unwrap_or(0))
        .sum();
    assert_eq!(committed, n as i64);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_members_get_disjoint_complete_assignments_and_rebalance_on_join_and_leave() {
    let cluster = Cluster::builder()
        .topic("t", 6)
        .group_heartbeat_interval(Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let (a, b) = (member(&cluster, "g"), member(&cluster, "g"));
    let two = settle(&cluster, &[&a, &b], 6, Duration::from_secs(20)).await;
    assert_eq!((two[0].len(), two[1].len()), (3, 3));
    let c = member(&cluster, "g");
    let three = settle(&cluster, &[&a, &b, &c], 6, Duration::from_secs(20)).await;
    assert!(three.iter().all(|s| s.len() == 2), "{three:?}");
    // The coordinator's view matches the members'.
    let view = cluster.group_assignment("g");
    assert_eq!(view.len(), 3);
    assert_eq!(view.values().map(BTreeSet::len).sum::<usize>(), 6);
    b.close().await.unwrap();
    let after = settle(&cluster, &[&a, &c], 6, Duration::from_secs(20)).await;
    assert_eq!((after[0].len(), after[1].len()), (3, 3));
    assert_eq!(cluster.group_assignment("g").len(), 2);

    // Commits carry the member's epoch and are stored.
    produce(&cluster, "t", 12).await;
    read_all_and_commit(&cluster, &[&a, &c], 12).await;
    a.close().await.unwrap();
    c.close().await.unwrap();
    assert!(cluster.group_assignment("g").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_members_get_disjoint_complete_assignments_and_rebalance_on_join_and_leave() {
    let cluster = Cluster::builder().topic("t", 6).start().await.unwrap();
    let classic = |g: &str| member_with(&cluster, g, GroupProtocol::Classic);
    let (a, b) = (classic("g"), classic("g"));
    let two = settle(&cluster, &[&a, &b], 6, Duration::from_secs(30)).await;
    assert_eq!((two[0].len(), two[1].len()), (3, 3));
    let c = classic("g");
    let three = settle(&cluster, &[&a, &b, &c], 6, Duration::from_secs(30)).await;
    assert!(three.iter().all(|s| s.len() == 2), "{three:?}");
    let view = cluster.group_assignment("g");
    assert_eq!(view.len(), 3, "{view:?}");
    assert_eq!(view.values().map(BTreeSet::len).sum::<usize>(), 6);
    b.close().await.unwrap();
    let after = settle(&cluster, &[&a, &c], 6, Duration::from_secs(30)).await;
    assert_eq!((after[0].len(), after[1].len()), (3, 3));
    // Commits from members of the current generation are stored.
    produce(&cluster, "t", 6).await;
    read_all_and_commit(&cluster, &[&a, &c], 6).await;
    a.close().await.unwrap();
    c.close().await.unwrap();
    assert!(cluster.group_assignment("g").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_silent_kip848_member_is_removed_after_the_session_timeout_on_the_paused_clock() {
    use kafka_client::lowlevel::ConnectionKind;
    use kafka_protocol::messages::{ConsumerGroupHeartbeatRequest, GroupId, TopicName};
    use kafka_protocol::protocol::StrBytes;

    let cluster = Cluster::builder()
        .topic("t", 4)
        .group_session_timeout(Duration::from_secs(10))
        .start()
        .await
        .unwrap();
    // A member that joins once (and gets all 4 partitions) and never heartbeats again.
    let client = kafka_client::Client::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .build()
        .unwrap();
    client.refresh_topics(&["t"]).await.unwrap();
    let conn = client
        .connection(1, ConnectionKind::Coordinator)
        .await
        .unwrap();
    let join = ConsumerGroupHeartbeatRequest::default()
        .with_group_id(GroupId(StrBytes::from_static_str("g")))
        .with_member_id(StrBytes::from_static_str("silent"))
        .with_member_epoch(0)
        .with_rebalance_timeout_ms(60_000)
        .with_subscribed_topic_names(Some(vec![TopicName(StrBytes::from_static_str("t"))]))
        .with_topic_partitions(Some(vec![]));
    let answer = conn
        .request_at(&join, 1, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(answer.error_code, 0);
    let silent: usize = answer
        .assignment
        .unwrap()
        .topic_partitions
        .iter()
        .map(|t| t.partitions.len())
        .sum();
    assert_eq!(silent, 4);

    let started = tokio::time::Instant::now();
    let a = member(&cluster, "g");
    while a.assignment().len() < 4 {
        a.poll(Duration::from_millis(200)).await.unwrap();
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "a never got the partitions"
        );
    }
    // Not before the silent member's session ran out.
    assert!(
        started.elapsed() >= Duration::from_secs(9),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(cluster.group_assignment("g").len(), 1);
    a.close().await.unwrap();
}

fn share_member(cluster: &Cluster, group: &str) -> ShareConsumer {
    let c = ShareConsumer::builder()
        .bootstrap_servers([cluster.bootstrap_servers()])
        .group_id(group)
        .acknowledgement_mode(AcknowledgementMode::Explicit)
        .fetch_max_wait(Duration::from_millis(50))
        .build()
        .unwrap();
    c.subscribe(["t"]).unwrap();
    c
}

fn index(r: &ShareRecord) -> usize {
    let v = r.value.as_ref().expect("value");
    std::str::from_utf8(&v[1..]).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_members_split_a_partition_release_redelivers_and_reject_is_final() {
    let cluster = Cluster::builder().topic("t", 1).start().await.unwrap();
    cluster.share_group_from_earliest("sg");
    produce(&cluster, "t", 20).await;
    let (a, b) = (share_member(&cluster, "sg"), share_member(&cluster, "sg"));
    // Each record goes to one member; a releases the even ones it gets, rejects the
    // odd ones; b accepts all it gets.
    let mut seen: BTreeMap<usize, Vec<(char, i16)>> = BTreeMap::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut a_rejected = BTreeSet::new();
    loop {
        for (name, c) in [('a', &a), ('b', &b)] {
            for r in c.poll(Duration::from_millis(100)).await.unwrap() {
                seen.entry(index(&r))
                    .or_default()
                    .push((name, r.delivery_count));
                let kind = match (name, index(&r) % 2) {
                    ('a', 0) => AcknowledgeType::Release,
                    ('a', _) => {
                        a_rejected.insert(index(&r));
                        AcknowledgeType::Reject
                    }
                    _ => AcknowledgeType::Accept,
                };
                c.acknowledge(&r, kind).unwrap();
            }
            c.commit().await.unwrap();
        }
        let accepted = seen
            .iter()
            .filter(|(i, v)| v.last().is_some_and(|(w, _)| *w == 'b') || a_rejected.contains(i))
            .count();
        if accepted == 20 && seen.len() == 20 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{seen:?}");
    }
    for (i, deliveries) in &seen {
        // Released records come back with a higher count; rejected ones never again.
        for (n, (_, count)) in deliveries.iter().enumerate() {
            assert_eq!(*count as usize, n + 1, "record {i}: {deliveries:?}");
        }
        if a_rejected.contains(i) {
            assert_eq!(deliveries.last().unwrap().0, 'a');
        }
    }
    assert_eq!(
        cluster.group_assignment("sg").len(),
        2,
        "both share the partition"
    );
    a.close().await.unwrap();
    b.close().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_expired_acquisition_lock_hands_the_records_to_another_member() {
    let cluster = Cluster::builder()
        .topic("t", 1)
        .share_record_lock_duration(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    cluster.share_group_from_earliest("sg");
    produce(&cluster, "t", 3).await;
    let a = share_member(&cluster, "sg");
    let mut got = Vec::new();
    while got.len() < 3 {
        got.extend(a.poll(Duration::from_millis(200)).await.unwrap());
    }
    assert!(got.iter().all(|r| r.delivery_count == 1));
    // a sits on its records past the lock; b gets them, delivered a second time.
    tokio::time::advance(Duration::from_secs(6)).await;
    let b = share_member(&cluster, "sg");
    let mut again = Vec::new();
    while again.len() < 3 {
        again.extend(b.poll(Duration::from_millis(200)).await.unwrap());
    }
    assert!(again.iter().all(|r| r.delivery_count == 2), "{again:?}");
    for r in &again {
        b.acknowledge(r, AcknowledgeType::Accept).unwrap();
    }
    b.commit().await.unwrap();
    // a's late acknowledgement is refused: its lock ran out.
    let late = a.acknowledge(&got[0], AcknowledgeType::Accept).unwrap_err();
    assert!(
        matches!(
            late,
            AcknowledgeError::NotHeld {
                reason: NotHeldReason::LockExpired,
                ..
            }
        ),
        "{late:?}"
    );
    a.close().await.unwrap();
    b.close().await.unwrap();
}
