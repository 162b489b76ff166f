//! kafka-client's generated Kafka 4.4 messages (`src/protocol_gen`, written by
//! tools/kafka-msggen from the JSON schemas inside `kafka-clients-4.4.0.jar`):
//! regenerating them gives no diff, and their decoders turn hostile bytes (huge counts
//! and lengths, negative lengths, overlong varints, truncation) into errors naming the
//! field instead of allocating or panicking.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use kafka_client::lowlevel::ConnectionKind;
use kafka_client::lowlevel::protocol_gen::ShareFetchRequest;
use kafka_client::lowlevel::protocol_gen::{
    ListOffsetsResponse, ShareFetchResponse, ShareGroupHeartbeatResponse,
};
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Decodable, Encodable};
use kafka_testbed::{KafkaVersion, jars};
use kafka_testkit::raw::{FakeBroker, VERSIONS, api_versions, frame, header_bytes, raw_frame};

/// The kafka-clients jar of the release the generator targets, from the test bed's
/// resolved classpath (CI fetches the jars before the tests run).
fn kafka_clients_jar() -> PathBuf {
    let version: KafkaVersion = kafka_msggen::KAFKA_VERSION.parse().expect("version");
    let cp = jars::classpath_for(version)
        .unwrap_or_else(|e| panic!("resolving Kafka {version}'s classpath: {e}"));
    let name = format!("kafka-clients-{version}.jar");
    cp.split(':')
        .map(PathBuf::from)
        .find(|p| p.file_name().is_some_and(|f| f == name.as_str()))
        .unwrap_or_else(|| panic!("{name} is not on Kafka {version}'s classpath: {cp}"))
}

#[test]
fn protocol_gen_is_current() {
    let jar = kafka_clients_jar();
    let files = kafka_msggen::generate_from_jar(&jar).expect("generate");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kafka-client/src/protocol_gen");
    let diff = kafka_msggen::diff(&files, &dir);
    assert!(
        diff.is_empty(),
        "kafka-client/src/protocol_gen is not what kafka-msggen generates from {}:\n{}\n\
         regenerate with `cargo run -p kafka-msggen`",
        jar.display(),
        diff.join("\n")
    );
    assert!(files.contains_key("share_fetch_response.rs"));
}

fn decode_err<M: Decodable + std::fmt::Debug>(bytes: &[u8], version: i16) -> String {
    let mut buf = Bytes::copy_from_slice(bytes);
    match M::decode(&mut buf, version) {
        Ok(m) => panic!("decoded hostile bytes into {m:?}"),
        Err(e) => e.to_string(),
    }
}

/// ShareFetchResponse v2 up to its `responses` count: throttle, error code, null error
/// message, acquisition lock timeout.
fn share_fetch_head() -> BytesMut {
    let mut b = BytesMut::new();
    b.put_i32(0);
    b.put_i16(0);
    b.put_u8(0); // compact null string
    b.put_i32(30_000);
    b
}

fn put_uvarint(b: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        b.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    b.put_u8(v as u8);
}

#[test]
fn protocol_gen_huge_array_count_is_an_error_not_an_allocation() {
    let mut b = share_fetch_head();
    put_uvarint(&mut b, u32::MAX); // 2^32 - 2 topics
    b.put_slice(&[0; 8]);
    let e = decode_err::<ShareFetchResponse>(&b, 2);
    assert!(
        e.contains("ShareFetchResponse.responses") && e.contains("exceeds"),
        "{e}"
    );
}

#[test]
fn protocol_gen_huge_string_length_is_an_error() {
    let mut b = BytesMut::new();
    b.put_i32(0);
    b.put_i16(0);
    put_uvarint(&mut b, 1_000_001); // error message of 1 MB in a short frame
    b.put_slice(b"short");
    let e = decode_err::<ShareGroupHeartbeatResponse>(&b, 1);
    assert!(
        e.contains("ShareGroupHeartbeatResponse.error_message") && e.contains("exceeds"),
        "{e}"
    );
}

#[test]
fn protocol_gen_negative_length_and_overlong_varint_are_errors() {
    // ListOffsetsResponse v1 is not flexible: an int32 topics count of -5.
    let mut b = BytesMut::new();
    b.put_i32(-5);
    let e = decode_err::<ListOffsetsResponse>(&b, 1);
    assert!(
        e.contains("ListOffsetsResponse.topics") && e.contains("negative"),
        "{e}"
    );
    // A null (-1) where the version does not allow null.
    let mut b = BytesMut::new();
    b.put_i32(-1);
    let e = decode_err::<ListOffsetsResponse>(&b, 1);
    assert!(e.contains("null"), "{e}");
    // Six continuation bytes in the responses count.
    let mut b = share_fetch_head();
    b.put_slice(&[0xff; 6]);
    let e = decode_err::<ShareFetchResponse>(&b, 2);
    assert!(e.contains("varint"), "{e}");
}

#[test]
fn protocol_gen_truncated_and_unknown_version_are_errors() {
    let resp = ShareFetchResponse::default().with_acquisition_lock_timeout_ms(5);
    let mut full = BytesMut::new();
    resp.encode(&mut full, 2).expect("encode");
    for cut in 0..full.len() {
        let e = decode_err::<ShareFetchResponse>(&full[..cut], 2);
        assert!(e.contains("ShareFetchResponse"), "cut at {cut}: {e}");
    }
    let e = decode_err::<ShareFetchResponse>(&full, 0);
    assert!(e.contains("no version 0"), "{e}");
    let mut b = BytesMut::new();
    assert!(resp.encode(&mut b, 3).is_err(), "v3 does not exist");
}

#[test]
fn protocol_gen_field_absent_in_the_version_is_an_encode_error() {
    use kafka_client::lowlevel::protocol_gen::ShareFetchRequest;
    // ShareAcquireMode (v2+) is ignorable: dropped at v1. IsRenewAck (v2+) is not.
    let req = ShareFetchRequest::default().with_share_acquire_mode(1);
    let mut b = BytesMut::new();
    req.encode(&mut b, 1)
        .expect("an ignorable v2 field is dropped at v1");
    let req = ShareFetchRequest::default().with_is_renew_ack(true);
    let e = req
        .encode(&mut BytesMut::new(), 1)
        .expect_err("IsRenewAck is v2+");
    assert!(e.to_string().contains("is_renew_ack"), "{e}");
}

/// A broker that advertises ShareFetch v1-2 and answers it with a topics count of
/// 2^32 - 2: the connection's `request` returns a protocol error naming the field.
#[tokio::test]
async fn protocol_gen_hostile_share_fetch_answer_is_a_protocol_error() {
    let script: kafka_testkit::raw::Script = Arc::new(|req| match req.api {
        ApiKey::ApiVersions => {
            let mut ranges = VERSIONS.to_vec();
            ranges.push((ApiKey::ShareFetch, 1, 2));
            Some(frame(req, &api_versions(&ranges)))
        }
        ApiKey::ShareFetch => {
            let mut payload = header_bytes(req, true);
            let mut body = share_fetch_head();
            put_uvarint(&mut body, u32::MAX);
            body.put_slice(&[0; 16]);
            payload.extend_from_slice(&body);
            Some(raw_frame(&payload))
        }
        _ => None,
    });
    let broker = FakeBroker::start(script).await.expect("fake broker");
    let client = common::client(&broker.bootstrap);
    let conn = client
        .connection(1, ConnectionKind::Fetch)
        .await
        .expect("connection to the fake broker");
    let err = conn
        .request(&ShareFetchRequest::default())
        .await
        .expect_err("a hostile ShareFetch answer");
    let msg = err.to_string();
    assert!(
        matches!(err, kafka_client::Error::Protocol { .. })
            && msg.contains("ShareFetch")
            && msg.contains("ShareFetchResponse.responses"),
        "{err:?}"
    );
    client.close();
}

/// Generated newer versions of APIs kafka-protocol also has (ApiVersions v5, ListOffsets
/// v11) go through the same connection to the real 4.4 broker and decode.
#[tokio::test]
async fn protocol_gen_newer_versions_of_known_apis_on_the_real_broker() {
    use kafka_client::lowlevel::protocol_gen::list_offsets_request::{
        ListOffsetsPartition, ListOffsetsTopic,
    };
    use kafka_client::lowlevel::protocol_gen::{ApiVersionsRequest, ListOffsetsRequest};
    use kafka_protocol::protocol::StrBytes;

    let client = common::client(kafka_testbed::shared_cluster().bootstrap_servers().as_ref());
    let metadata = client.metadata().await.expect("metadata");
    let node = *metadata.brokers.keys().next().expect("a broker");
    let conn = client
        .connection(node, ConnectionKind::General)
        .await
        .expect("connection");

    let req = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str("kafka-rs-protocol-gen"))
        .with_client_software_version(StrBytes::from_static_str("0.1.0"));
    let resp = conn.request(&req).await.expect("ApiVersions v5");
    assert_eq!(resp.error_code, 0);
    let share_fetch = resp
        .api_keys
        .iter()
        .find(|k| k.api_key == ApiKey::ShareFetch as i16)
        .expect("4.4 lists ShareFetch");
    assert_eq!((share_fetch.min_version, share_fetch.max_version), (1, 2));

    let topic = common::unique_topic("protocol-gen-list-offsets");
    common::create_topic(&client, &topic, 1, 1).await;
    let version = conn
        .negotiate::<ListOffsetsRequest>(kafka_protocol::protocol::VersionRange {
            min: 11,
            max: 11,
        })
        .expect("4.4 serves ListOffsets v11");
    let req = ListOffsetsRequest::default()
        .with_replica_id(-1)
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(StrBytes::from_string(topic.clone()))
                .with_partitions(vec![
                    ListOffsetsPartition::default()
                        .with_partition_index(0)
                        .with_current_leader_epoch(-1)
                        .with_timestamp(-1),
                ]),
        ]);
    // A new topic's leader may not know it leads yet (NOT_LEADER_OR_FOLLOWER): ask again
    // for a while, re-resolving the leader each time.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    let resp = loop {
        let (leader, _) = client.leader(&topic, 0).await.expect("leader");
        let leader_conn = client
            .connection(leader, ConnectionKind::Fetch)
            .await
            .expect("leader connection");
        let resp = leader_conn
            .request_at(&req, version, std::time::Duration::from_secs(10))
            .await
            .expect("ListOffsets v11");
        let code = resp.topics[0].partitions[0].error_code;
        if code != 6 || tokio::time::Instant::now() > deadline {
            break resp;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let p = &resp.topics[0].partitions[0];
    assert_eq!((p.error_code, p.offset), (0, 0), "{resp:?}");
    client.close();
}
