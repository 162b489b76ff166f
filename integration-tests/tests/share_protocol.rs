//! The generated Kafka 4.4 share-group messages (kafka-client's `protocol_gen`) against
//! the real broker, sent through kafka-client's own connection: a member joins a share
//! group with ShareGroupHeartbeat v1, fetches with ShareFetch v2 (4.4's newest; 0.18 of
//! kafka-protocol has v1 only), acknowledges with ShareAcknowledge v2, and every answer
//! decodes with the records it names.

use std::time::{Duration, Instant};

use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::lowlevel::protocol_gen::share_acknowledge_request::{
    AcknowledgePartition, AcknowledgeTopic, AcknowledgementBatch as AckBatch,
};
use kafka_client::lowlevel::protocol_gen::share_fetch_request::{FetchPartition, FetchTopic};
use kafka_client::lowlevel::protocol_gen::{
    ShareAcknowledgeRequest, ShareFetchRequest, ShareFetchResponse, ShareGroupHeartbeatRequest,
    ShareGroupHeartbeatResponse,
};
use kafka_client::lowlevel::{Connection, ConnectionKind, CoordinatorType, find_coordinators};
use kafka_client::records::{DecodeLimits, decode_batches};
use kafka_client::{Client, Producer, ProducerRecord, Uuid};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Message, Request, StrBytes};

const RECORDS: usize = 5;

fn client() -> Client {
    Client::builder()
        .bootstrap_servers([kafka_testbed::shared_cluster().bootstrap_servers()])
        .client_id("share-protocol-test")
        .build()
        .expect("client")
}

async fn heartbeat(
    conn: &Connection,
    group: &str,
    member: &str,
    epoch: i32,
    topic: &str,
) -> ShareGroupHeartbeatResponse {
    let req = ShareGroupHeartbeatRequest::default()
        .with_group_id(StrBytes::from_string(group.to_string()))
        .with_member_id(StrBytes::from_string(member.to_string()))
        .with_member_epoch(epoch)
        .with_subscribed_topic_names(
            (epoch == 0).then(|| vec![StrBytes::from_string(topic.to_string())]),
        );
    let resp = conn.request(&req).await.expect("ShareGroupHeartbeat");
    assert_eq!(
        resp.error_code, 0,
        "ShareGroupHeartbeat error {}: {:?}",
        resp.error_code, resp.error_message
    );
    resp
}

async fn produce(client: &Client, topic: &str) {
    let producer = Producer::builder()
        .client(client.clone())
        .build()
        .expect("producer");
    for i in 0..RECORDS {
        let d = producer
            .send(ProducerRecord::new(topic).with_value(format!("share-{i}")))
            .await
            .expect("send");
        d.await.expect("delivered");
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close producer");
}

#[tokio::test]
async fn share_protocol_heartbeat_fetch_and_acknowledge_at_4_4_versions() {
    let client = client();
    let topic = "share-protocol";
    let group = "share-protocol-group";
    let created = Admin::new(client.clone())
        .create_topics(
            [NewTopic::new(topic).partitions(1).replication_factor(1)],
            CreateTopicsOptions::default(),
        )
        .await
        .expect("create_topics");
    for (name, r) in created {
        r.unwrap_or_else(|e| panic!("create {name}: {e}"));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let info = loop {
        match client.refresh_topics(&[topic]).await {
            Ok(m) => match m.topic(topic) {
                Some(t) if t.partitions.iter().all(|p| p.leader.is_some()) => break t.clone(),
                _ => {}
            },
            Err(e) => eprintln!("metadata: {e}"),
        }
        assert!(Instant::now() < deadline, "{topic} has no leader");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let topic_id: Uuid = info.id;

    // Join: the coordinator answers at 4.4's version with an epoch, then an assignment.
    // A fresh cluster answers COORDINATOR_NOT_AVAILABLE until its offsets topic exists.
    let deadline = Instant::now() + Duration::from_secs(30);
    let coordinator = loop {
        let found = find_coordinators(&client, CoordinatorType::Group, [group.to_string()])
            .await
            .expect("FindCoordinator")
            .remove(group)
            .expect("a coordinator entry");
        match found {
            Ok(node) => break node,
            Err(e) if e.is_retriable() && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("no coordinator for {group}: {e}"),
        }
    };
    let conn = client
        .connection(coordinator, ConnectionKind::Coordinator)
        .await
        .expect("coordinator connection");
    assert_eq!(
        conn.negotiate::<ShareGroupHeartbeatRequest>(ShareGroupHeartbeatRequest::VERSIONS)
            .expect("negotiate"),
        1
    );
    let member = Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0001).to_string();
    let mut resp = heartbeat(&conn, group, &member, 0, topic).await;
    assert!(
        resp.member_epoch > 0,
        "joined at epoch {}",
        resp.member_epoch
    );
    assert_eq!(resp.member_id.as_deref(), Some(member.as_str()));
    let deadline = Instant::now() + Duration::from_secs(30);
    let assignment = loop {
        if let Some(a) = &resp.assignment
            && !a.topic_partitions.is_empty()
        {
            break a.clone();
        }
        assert!(Instant::now() < deadline, "no assignment: {resp:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        resp = heartbeat(&conn, group, &member, resp.member_epoch, topic).await;
    };
    assert_eq!(assignment.topic_partitions[0].topic_id, topic_id);
    assert_eq!(assignment.topic_partitions[0].partitions, vec![0]);

    // Fetch from the leader at ShareFetch v2. The share partition starts at the log end
    // (share.auto.offset.reset=latest), so the records are produced after the first fetch.
    let (leader, _) = client.leader(topic, 0).await.expect("leader");
    let fetch_conn = client
        .connection(leader, ConnectionKind::Fetch)
        .await
        .expect("leader connection");
    let version = fetch_conn
        .negotiate::<ShareFetchRequest>(ShareFetchRequest::VERSIONS)
        .expect("negotiate ShareFetch");
    assert_eq!(version, 2, "4.4 serves ShareFetch v2");
    let fetch = |epoch: i32| {
        ShareFetchRequest::default()
            .with_group_id(Some(StrBytes::from_string(group.to_string())))
            .with_member_id(Some(StrBytes::from_string(member.clone())))
            .with_share_session_epoch(epoch)
            .with_max_wait_ms(500)
            .with_min_bytes(1)
            .with_max_records(100)
            .with_batch_size(100)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic_id(topic_id)
                    .with_partitions(vec![FetchPartition::default().with_partition_index(0)]),
            ])
    };
    let first: ShareFetchResponse = fetch_conn.request(&fetch(0)).await.expect("ShareFetch");
    assert_eq!(first.error_code, 0, "{:?}", first.error_message);
    produce(&client, topic).await;

    let mut epoch = 1;
    let mut values = Vec::new();
    let mut acquired = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while values.len() < RECORDS {
        assert!(Instant::now() < deadline, "fetched {values:?} of {RECORDS}");
        let resp = fetch_conn.request(&fetch(epoch)).await.expect("ShareFetch");
        epoch += 1;
        assert_eq!(resp.error_code, 0, "{:?}", resp.error_message);
        assert!(resp.acquisition_lock_timeout_ms > 0, "{resp:?}");
        for t in &resp.responses {
            assert_eq!(t.topic_id, topic_id);
            for p in &t.partitions {
                assert_eq!(p.error_code, 0, "{:?}", p.error_message);
                acquired.extend(
                    p.acquired_records
                        .iter()
                        .map(|a| (a.first_offset, a.last_offset)),
                );
                let Some(records) = &p.records else { continue };
                for batch in decode_batches(records.clone(), DecodeLimits::default()) {
                    for r in batch.expect("batch").records_vec().expect("records") {
                        values.push(
                            String::from_utf8(r.value.expect("value").to_vec()).expect("utf-8"),
                        );
                    }
                }
            }
        }
    }
    let expected: Vec<String> = (0..RECORDS).map(|i| format!("share-{i}")).collect();
    assert_eq!(values, expected);
    let first_offset = acquired
        .iter()
        .map(|a| a.0)
        .min()
        .expect("acquired records");
    let last_offset = acquired
        .iter()
        .map(|a| a.1)
        .max()
        .expect("acquired records");
    assert_eq!(
        last_offset - first_offset + 1,
        RECORDS as i64,
        "{acquired:?}"
    );

    // Accept them all with ShareAcknowledge v2 in the same share session.
    let ack = ShareAcknowledgeRequest::default()
        .with_group_id(Some(StrBytes::from_string(group.to_string())))
        .with_member_id(Some(StrBytes::from_string(member.clone())))
        .with_share_session_epoch(epoch)
        .with_topics(vec![
            AcknowledgeTopic::default()
                .with_topic_id(topic_id)
                .with_partitions(vec![
                    AcknowledgePartition::default()
                        .with_partition_index(0)
                        .with_acknowledgement_batches(vec![
                            AckBatch::default()
                                .with_first_offset(first_offset)
                                .with_last_offset(last_offset)
                                .with_acknowledge_types(vec![1]),
                        ]),
                ]),
        ]);
    assert_eq!(
        fetch_conn
            .negotiate::<ShareAcknowledgeRequest>(ShareAcknowledgeRequest::VERSIONS)
            .expect("negotiate ShareAcknowledge"),
        2
    );
    let acked = fetch_conn.request(&ack).await.expect("ShareAcknowledge");
    assert_eq!(acked.error_code, 0, "{:?}", acked.error_message);
    let partition = &acked.responses[0].partitions[0];
    assert_eq!(partition.error_code, 0, "{:?}", partition.error_message);

    // Leave the group (epoch -1).
    let leave = ShareGroupHeartbeatRequest::default()
        .with_group_id(StrBytes::from_string(group.to_string()))
        .with_member_id(StrBytes::from_string(member.clone()))
        .with_member_epoch(-1);
    let left = conn.request(&leave).await.expect("leave");
    assert_eq!(left.error_code, 0, "{:?}", left.error_message);
    assert_eq!(left.member_epoch, -1);
    assert_eq!(ShareFetchRequest::KEY, ApiKey::ShareFetch as i16);
    client.close();
}
