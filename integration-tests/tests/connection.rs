//! The connection layer against a real broker: metadata, version negotiation, pipelining.

mod common;

use std::collections::HashSet;

use futures::future::join_all;
use kafka_client::ErrorCode;
use kafka_client::lowlevel::ConnectionKind;
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{ApiKey, MetadataRequest, TopicName};
use kafka_protocol::protocol::{Message, StrBytes};

#[tokio::test]
async fn metadata_from_single_node_cluster() {
    let bootstrap = kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(&bootstrap);
    let m = client.metadata().await.expect("metadata");
    assert!(!m.brokers.is_empty(), "no brokers in {m:?}");
    assert!(
        m.cluster_id.as_deref().is_some_and(|c| !c.is_empty()),
        "no cluster id"
    );
    let controller = m.controller.expect("a controller id");
    assert!(
        m.brokers.contains_key(&controller),
        "controller {controller} not among brokers"
    );
    for b in m.brokers.values() {
        assert!(
            bootstrap.contains(&b.address.port.to_string())
                || std::env::var("KAFKA_BOOTSTRAP_SERVERS").is_ok()
        );
    }

    let topic = common::unique_topic("meta");
    common::create_topic(&client, &topic, 3, 1).await;
    let t = client.topic(&topic).await.expect("topic metadata");
    assert_eq!(t.partitions.len(), 3);
    for (i, p) in t.partitions.iter().enumerate() {
        assert_eq!(p.partition, i as i32);
        let leader = p.leader.expect("leader");
        assert!(m.brokers.contains_key(&leader));
        assert!(p.leader_epoch >= 0, "leader epoch {}", p.leader_epoch);
        assert_eq!(p.replicas.len(), 1);
    }
    let (leader, epoch) = client
        .leader(&topic, 2)
        .await
        .expect("leader of partition 2");
    assert_eq!(Some(leader), t.partitions[2].leader);
    assert_eq!(epoch, t.partitions[2].leader_epoch);

    let missing = client.topic("no-such-topic-xyz").await.unwrap_err();
    assert_eq!(
        missing.code(),
        Some(ErrorCode::UNKNOWN_TOPIC_OR_PARTITION),
        "{missing}"
    );
    assert!(
        missing.to_string().contains("no-such-topic-xyz"),
        "{missing}"
    );
}

#[tokio::test]
async fn negotiates_highest_common_versions() {
    let client = common::client(&kafka_testbed::shared_cluster().bootstrap_servers());
    let m = client.metadata().await.unwrap();
    let id = *m.brokers.keys().next().unwrap();
    let conn = client
        .connection(id, ConnectionKind::General)
        .await
        .unwrap();
    let v = conn.versions();
    // Kafka 4.1 speaks Metadata up to v13 and ApiVersions up to v4, as does this client.
    let (_, metadata_max) = v.range(ApiKey::Metadata).expect("Metadata supported");
    let negotiated = conn
        .negotiate::<MetadataRequest>(MetadataRequest::VERSIONS)
        .unwrap();
    assert_eq!(negotiated, metadata_max.min(13));
    // BrokerHeartbeat is controller-only: a broker's client listener does not advertise
    // it, so negotiation fails with an error naming the API and both ranges.
    assert!(v.range(ApiKey::BrokerHeartbeat).is_none());
    let err = conn
        .negotiate::<kafka_protocol::messages::BrokerHeartbeatRequest>(
            kafka_protocol::messages::BrokerHeartbeatRequest::VERSIONS,
        )
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, kafka_client::Error::UnsupportedVersion { .. })
            && msg.contains("BrokerHeartbeat")
            && msg.contains("broker none"),
        "{msg}"
    );
    // Produce and Fetch are negotiated within what both sides speak.
    let (pmin, pmax) = v.range(ApiKey::Produce).expect("Produce supported");
    let produce = conn
        .negotiate::<kafka_protocol::messages::ProduceRequest>(
            kafka_protocol::messages::ProduceRequest::VERSIONS,
        )
        .unwrap();
    assert!(
        produce >= pmin.max(3) && produce <= pmax,
        "Produce v{produce} outside {pmin}..={pmax}"
    );
}

#[tokio::test]
async fn pipelines_1000_concurrent_requests_on_one_connection() {
    let client = common::client(&kafka_testbed::shared_cluster().bootstrap_servers());
    let m = client.metadata().await.unwrap();
    let id = *m.brokers.keys().next().unwrap();
    let conn = client
        .connection(id, ConnectionKind::General)
        .await
        .unwrap();
    // Each request asks for a different (absent) topic; the broker echoes the name back,
    // so a response matched to the wrong request would show.
    let requests = (0..1000).map(|i| {
        let conn = conn.clone();
        async move {
            let name = format!("pipelined-{i}");
            let req = MetadataRequest::default().with_topics(Some(vec![
                MetadataRequestTopic::default()
                    .with_name(Some(TopicName(StrBytes::from_string(name.clone())))),
            ]));
            let resp = conn.request(&req).await.expect("response");
            assert_eq!(resp.topics.len(), 1);
            let got = resp.topics[0].name.as_ref().map(|n| n.0.to_string());
            assert_eq!(
                got.as_deref(),
                Some(name.as_str()),
                "response matched to the wrong request"
            );
            assert_eq!(
                resp.topics[0].error_code,
                ErrorCode::UNKNOWN_TOPIC_OR_PARTITION.code()
            );
            i
        }
    });
    let done: HashSet<i32> = join_all(requests).await.into_iter().collect();
    assert_eq!(done.len(), 1000);
    // All of that went over the one connection: it is still the same live handle.
    let again = client
        .connection(id, ConnectionKind::General)
        .await
        .unwrap();
    assert!(!again.is_closed());
}

#[tokio::test]
async fn dropped_caller_futures_do_not_corrupt_the_connection() {
    let client = common::client(&kafka_testbed::shared_cluster().bootstrap_servers());
    let m = client.metadata().await.unwrap();
    let id = *m.brokers.keys().next().unwrap();
    let conn = client
        .connection(id, ConnectionKind::General)
        .await
        .unwrap();
    // Start many requests and abandon them at random points.
    for i in 0..200u64 {
        let conn = conn.clone();
        let fut = async move {
            conn.request(&MetadataRequest::default().with_topics(Some(vec![])))
                .await
        };
        let _ = tokio::time::timeout(std::time::Duration::from_micros(i * 37 % 500), fut).await;
    }
    // The next request still gets its own response.
    let resp = conn
        .request(&MetadataRequest::default().with_topics(Some(vec![])))
        .await
        .unwrap();
    assert!(!resp.brokers.is_empty());
    assert!(!conn.is_closed());
}
