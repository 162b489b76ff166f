//! A broker that goes away and comes back: in-flight requests fail with typed errors,
//! and the client reconnects by itself. Each test owns its cluster (never the shared one).

mod common;

use std::time::Duration;

use kafka_client::Error;
use kafka_client::lowlevel::ConnectionKind;
use kafka_protocol::messages::MetadataRequest;
use kafka_testbed::{ClusterConfig, KafkaCluster, StopSignal};

#[tokio::test]
async fn client_recovers_after_a_broker_restart() {
    let cluster = KafkaCluster::start(ClusterConfig {
        nodes: 1,
        ..ClusterConfig::default()
    })
    .expect("cluster");
    let client = common::client(&cluster.bootstrap_servers());
    let topic = common::unique_topic("restart");
    common::create_topic(&client, &topic, 2, 1).await;
    let id = cluster.node_ids()[0];
    let conn = client
        .connection(id, ConnectionKind::General)
        .await
        .unwrap();
    assert!(!conn.is_closed());

    cluster.stop_node(id, StopSignal::Kill).expect("kill");
    // The request on the dead socket fails with a typed error, never hangs.
    let err = tokio::time::timeout(
        Duration::from_secs(20),
        conn.request(&MetadataRequest::default()),
    )
    .await
    .expect("no hang")
    .unwrap_err();
    assert!(
        matches!(err, Error::ConnectionLost { .. } | Error::Timeout { .. }),
        "expected a connection error, got {err:?}"
    );
    assert!(err.is_retriable());
    assert!(conn.is_closed());

    cluster.restart_node(id).expect("restart");
    let m = client.metadata().await.expect("metadata after restart");
    assert_eq!(m.brokers.len(), 1);
    let t = client.refresh_topics(&[&topic]).await.unwrap();
    assert_eq!(
        t.topic(&topic).unwrap().partitions.len(),
        2,
        "topic survived the restart"
    );
    let conn2 = client
        .connection(id, ConnectionKind::General)
        .await
        .unwrap();
    conn2
        .request(&MetadataRequest::default())
        .await
        .expect("new connection works");
}

#[tokio::test]
async fn three_node_cluster_metadata_and_failover() {
    let cluster = KafkaCluster::start(ClusterConfig {
        nodes: 3,
        ..ClusterConfig::default()
    })
    .expect("cluster");
    let client = common::client(&cluster.bootstrap_servers());
    let m = client.metadata().await.unwrap();
    assert_eq!(m.brokers.len(), 3, "{m:?}");
    let ids: Vec<i32> = cluster.node_ids();
    for id in &ids {
        assert!(
            m.brokers.contains_key(id),
            "node {id} missing from metadata"
        );
    }
    assert!(m.controller.is_some_and(|c| ids.contains(&c)));

    let topic = common::unique_topic("rf3");
    common::create_topic(&client, &topic, 3, 3).await;
    let t = client.topic(&topic).await.unwrap();
    for p in &t.partitions {
        assert_eq!(
            p.replicas.len(),
            3,
            "partition {} replicas {:?}",
            p.partition,
            p.replicas
        );
        assert_eq!(p.isr.len(), 3);
    }

    // Kill the leader of partition 0; the client must see a new leader after refreshing.
    let (old_leader, old_epoch) = client.leader(&topic, 0).await.unwrap();
    cluster.stop_node(old_leader, StopSignal::Kill).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let (new_leader, new_epoch) = loop {
        client.invalidate_topic(&topic);
        if let Ok((l, e)) = client.leader(&topic, 0).await
            && l != old_leader
        {
            break (l, e);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new leader within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        new_epoch > old_epoch,
        "leader epoch {old_epoch} -> {new_epoch}"
    );
    assert_ne!(new_leader, old_leader);

    cluster.restart_node(old_leader).unwrap();
    let m = client.metadata().await.unwrap();
    assert_eq!(m.brokers.len(), 3);
}
