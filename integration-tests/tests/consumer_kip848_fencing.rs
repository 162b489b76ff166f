//! KIP-848 fencing against a real Kafka 4.4 broker: a consumer-protocol member whose
//! heartbeats stop reaching the coordinator (reset by the fault proxy) for longer than
//! the group's session timeout is fenced; the coordinator hands its partitions to the
//! other member; its late commit is refused (not applied), and so is its offset lookup
//! (OffsetFetch carries the member id and epoch, KIP-848); once heartbeats go through
//! again it learns it was fenced, loses its partitions (listener `lost`) and rejoins.
//! The coordinator checks the epoch an OffsetFetch carries: one behind the member's is
//! STALE_MEMBER_EPOCH, the current one is answered.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::consumer_util::{Event, Recorder};
use kafka_client::consumer::{Consumer, GroupProtocol, OffsetAndMetadata, TopicPartition};
use kafka_client::lowlevel::{
    ConnectionKind, CoordinatorType, FetchingMember, find_coordinators, offset_fetch_on,
};
use kafka_client::{Client, ErrorCode};
use kafka_testbed::fault_proxy::Target;
use kafka_testbed::{ClusterConfig, KafkaCluster};

/// ConsumerGroupHeartbeat's API key.
const CONSUMER_GROUP_HEARTBEAT: i16 = 68;

fn member(
    bootstrap: String,
    group: &str,
    session: Duration,
) -> (Consumer, std::sync::Arc<Recorder>) {
    let rec = Recorder::new();
    let c = Consumer::builder()
        .client(
            Client::builder()
                .bootstrap_servers([bootstrap])
                .request_timeout(Duration::from_secs(3))
                .api_timeout(Duration::from_secs(10))
                .build()
                .unwrap(),
        )
        .group_id(group)
        .group_protocol(GroupProtocol::Consumer)
        .enable_auto_commit(false)
        .session_timeout(session)
        .fetch_max_wait(Duration::from_millis(100))
        .rebalance_listener(rec.clone())
        .build()
        .unwrap();
    (c, rec)
}

/// Polls both until `done`, failing after `bound`.
async fn poll_until(cs: &[&Consumer], what: &str, bound: Duration, done: impl Fn() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < bound, "{what} within {bound:?}");
        for c in cs {
            c.poll(Duration::from_millis(50)).await.unwrap();
        }
    }
}

/// OffsetFetch v9 as member `c` of `group`: one epoch behind its own is
/// STALE_MEMBER_EPOCH, its own is answered.
async fn offset_fetch_checks_the_member_epoch(
    client: &Client,
    group: &str,
    c: &Consumer,
    tp: &TopicPartition,
) {
    let me = c.group_metadata().expect("in a group");
    assert!(me.generation_id > 1, "{me:?}");
    let coordinator = find_coordinators(client, CoordinatorType::Group, [group.to_string()])
        .await
        .unwrap()
        .remove(group)
        .unwrap()
        .unwrap();
    let conn = client
        .connection(coordinator, ConnectionKind::Coordinator)
        .await
        .unwrap();
    let ask = |epoch: i32| {
        let conn = conn.clone();
        let member_id = me.member_id.clone();
        let tp = tp.clone();
        async move {
            let member = FetchingMember {
                member_id: &member_id,
                member_epoch: epoch,
            };
            offset_fetch_on(
                &conn,
                group,
                Some(&[tp]),
                true,
                Some(member),
                Duration::from_secs(5),
            )
            .await
        }
    };
    let stale = ask(me.generation_id - 1).await.expect_err("stale epoch");
    assert_eq!(stale.code(), Some(ErrorCode::STALE_MEMBER_EPOCH), "{stale}");
    let rows = ask(me.generation_id).await.expect("the member's own epoch");
    assert_eq!(rows.len(), 1);
    assert!(rows[0].1.is_ok(), "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kip848_a_fenced_member_loses_its_partitions_and_its_late_commit_is_refused() {
    let cluster = KafkaCluster::start(
        ClusterConfig::new(1)
            .with_fault_proxy()
            .with_property("group.consumer.heartbeat.interval.ms", "1000")
            .with_property("group.consumer.min.heartbeat.interval.ms", "500")
            .with_property("group.consumer.session.timeout.ms", "6000")
            .with_property("group.consumer.min.session.timeout.ms", "6000"),
    )
    .unwrap();
    let direct = common::client(&cluster.bootstrap_servers());
    let topic = common::unique_topic("kip848-fence");
    common::create_topic(&direct, &topic, 4, 1).await;
    let group = common::unique_topic("g-kip848-fence");

    // `a` talks through the proxy, with a client-side session estimate well past the
    // group's 6 s, so that the coordinator fences it before it gives up on its own.
    let (a, ra) = member(
        cluster.client_bootstrap_servers(),
        &group,
        Duration::from_secs(60),
    );
    a.subscribe([topic.clone()]).unwrap();
    poll_until(&[&a], "a to own all 4", Duration::from_secs(30), || {
        ra.owned().len() == 4
    })
    .await;
    let (b, rb) = member(cluster.bootstrap_servers(), &group, Duration::from_secs(10));
    b.subscribe([topic.clone()]).unwrap();
    poll_until(
        &[&a, &b],
        "2 partitions each",
        Duration::from_secs(30),
        || ra.owned().len() == 2 && rb.owned().len() == 2,
    )
    .await;
    let a_had = ra.owned();
    let mark = ra.events().len();

    // a's heartbeats stop arriving: after the session timeout the coordinator fences it
    // and b gets everything.
    let proxy = cluster.proxy(1).unwrap();
    proxy.arm_reset_mid_request(Target::Api(CONSUMER_GROUP_HEARTBEAT), u32::MAX);
    poll_until(&[&a, &b], "b to own all 4", Duration::from_secs(30), || {
        rb.owned().len() == 4
    })
    .await;

    // a still thinks it owns its partitions; its commit reaches the coordinator, which
    // refuses it.
    let tp: TopicPartition = a_had.iter().next().unwrap().clone();
    let late = BTreeMap::from([(tp.clone(), OffsetAndMetadata::new(12_345))]);
    let refused = a.commit_offsets(late).await;
    assert!(
        refused.is_err(),
        "a fenced member's commit is refused: {refused:?}"
    );
    let committed = b.committed([tp.clone()]).await.unwrap();
    assert!(
        committed[&tp].as_ref().is_none_or(|o| o.offset != 12_345),
        "the late commit was not applied: {committed:?}"
    );
    // Its offset lookup goes as the member it no longer is: refused, not answered.
    let lookup = a.committed([tp.clone()]).await;
    let e = lookup.expect_err("a fenced member's OffsetFetch is refused");
    assert_eq!(e.code(), Some(ErrorCode::UNKNOWN_MEMBER_ID), "{e}");
    offset_fetch_checks_the_member_epoch(&direct, &group, &b, &tp).await;

    // Heartbeats go through again: a learns it was fenced, loses its partitions (no
    // revoke), rejoins and gets its share back.
    proxy.heal();
    poll_until(
        &[&a, &b],
        "a to lose its partitions",
        Duration::from_secs(30),
        || ra.events().iter().any(|e| matches!(e, Event::Lost(_))),
    )
    .await;
    let events = ra.events()[mark..].to_vec();
    let lost_at = events
        .iter()
        .position(|e| matches!(e, Event::Lost(_)))
        .unwrap();
    assert!(
        matches!(&events[lost_at], Event::Lost(p) if p.iter().cloned().collect::<std::collections::BTreeSet<_>>() == a_had),
        "a lost what it had: {events:?}"
    );
    assert!(
        !events.iter().any(|e| matches!(e, Event::Revoked(_))),
        "fencing is a loss, not a revocation: {events:?}"
    );
    poll_until(
        &[&a, &b],
        "a to rejoin and get 2 back",
        Duration::from_secs(30),
        || ra.owned().len() == 2 && rb.owned().len() == 2,
    )
    .await;
    a.close().await.unwrap();
    b.close().await.unwrap();
}
