//! Responses built field by field with kafka-protocol's own types (non-empty arrays,
//! strings, tagged fields), encoded by kafka-protocol at every version, then walked;
//! plus the regression for the abort: a 2^31 array count through `decode_response`.

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::fetch_response::{
    AbortedTransaction, EpochEndOffset, FetchableTopicResponse, LeaderIdAndEpoch, PartitionData,
    SnapshotId,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{
    BatchIndexAndErrorMessage, PartitionProduceResponse, TopicProduceResponse,
};
use kafka_protocol::messages::{
    ApiKey, BrokerId, FetchRequest, FetchResponse, MetadataResponse, ProduceResponse, TopicName,
    fetch_response, produce_response,
};
use kafka_protocol::protocol::{Encodable, HeaderVersion, Message, StrBytes};

use super::check_response;

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

/// Encodes `resp` as a frame (correlation id, header tags when flexible, body).
fn frame<R: Encodable + HeaderVersion>(resp: &R, version: i16) -> Vec<u8> {
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&42i32.to_be_bytes());
    if R::header_version(version) >= 1 {
        buf.extend_from_slice(&[0]);
    }
    resp.encode(&mut buf, version)
        .unwrap_or_else(|e| panic!("encode v{version}: {e}"));
    buf.to_vec()
}

pub(super) fn fetch_response(version: i16, partitions: i32, records: &Bytes) -> FetchResponse {
    let flexible = version >= 12;
    let partition = |i: i32| {
        let mut p = PartitionData::default()
            .with_partition_index(i)
            .with_high_watermark(1_000)
            .with_last_stable_offset(900)
            .with_log_start_offset(3)
            .with_aborted_transactions(Some(vec![
                AbortedTransaction::default()
                    .with_producer_id(7.into())
                    .with_first_offset(11),
            ]))
            .with_records(Some(records.clone()));
        if version >= 11 {
            p = p.with_preferred_read_replica(BrokerId(2));
        }
        if flexible {
            p = p
                .with_diverging_epoch(EpochEndOffset::default().with_epoch(3).with_end_offset(9))
                .with_current_leader(
                    LeaderIdAndEpoch::default()
                        .with_leader_id(BrokerId(1))
                        .with_leader_epoch(4),
                )
                .with_snapshot_id(SnapshotId::default().with_end_offset(5).with_epoch(6));
        }
        p
    };
    let mut topic =
        FetchableTopicResponse::default().with_partitions((0..partitions).map(partition).collect());
    if version >= 13 {
        topic = topic.with_topic_id(uuid::Uuid::from_u128(77));
    } else {
        topic = topic.with_topic(TopicName(s("orders")));
    }
    let mut resp = FetchResponse::default().with_responses(vec![topic.clone(), topic]);
    if version >= 7 {
        resp = resp.with_session_id(12);
    }
    if version >= 16 {
        resp = resp.with_node_endpoints(vec![
            fetch_response::NodeEndpoint::default()
                .with_node_id(BrokerId(1))
                .with_host(s("b1"))
                .with_port(9092)
                .with_rack(Some(s("r"))),
        ]);
    }
    resp
}

#[test]
fn fetch_built_by_kafka_protocol_walks_at_every_version() {
    let records = Bytes::from_static(&[9; 300]);
    for v in FetchResponse::VERSIONS.min..=FetchResponse::VERSIONS.max {
        let f = frame(&fetch_response(v, 3, &records), v);
        check_response(
            ApiKey::Fetch as i16,
            v,
            FetchResponse::header_version(v),
            &f,
        )
        .unwrap_or_else(|e| panic!("Fetch v{v}: {e}"));
    }
}

#[test]
fn produce_built_by_kafka_protocol_walks_at_every_version() {
    for v in ProduceResponse::VERSIONS.min..=ProduceResponse::VERSIONS.max {
        let mut part = PartitionProduceResponse::default()
            .with_index(1)
            .with_base_offset(100)
            .with_log_append_time_ms(5);
        if v >= 5 {
            part = part.with_log_start_offset(2);
        }
        if v >= 8 {
            part = part
                .with_record_errors(vec![
                    BatchIndexAndErrorMessage::default()
                        .with_batch_index(0)
                        .with_batch_index_error_message(Some(s("bad record"))),
                ])
                .with_error_message(Some(s("some failed")));
        }
        if v >= 10 {
            part = part.with_current_leader(
                produce_response::LeaderIdAndEpoch::default()
                    .with_leader_id(BrokerId(3))
                    .with_leader_epoch(8),
            );
        }
        let mut topic =
            TopicProduceResponse::default().with_partition_responses(vec![part.clone(), part]);
        if v >= 13 {
            topic = topic.with_topic_id(uuid::Uuid::from_u128(5));
        } else {
            topic = topic.with_name(TopicName(s("orders")));
        }
        let mut resp = ProduceResponse::default()
            .with_responses(vec![topic])
            .with_throttle_time_ms(1);
        if v >= 10 {
            resp = resp.with_node_endpoints(vec![
                produce_response::NodeEndpoint::default()
                    .with_node_id(BrokerId(3))
                    .with_host(s("b3"))
                    .with_port(9093),
            ]);
        }
        let f = frame(&resp, v);
        check_response(
            ApiKey::Produce as i16,
            v,
            ProduceResponse::header_version(v),
            &f,
        )
        .unwrap_or_else(|e| panic!("Produce v{v}: {e}"));
    }
}

#[test]
fn metadata_built_by_kafka_protocol_walks_at_every_version() {
    for v in MetadataResponse::VERSIONS.min..=MetadataResponse::VERSIONS.max {
        let mut broker = MetadataResponseBroker::default()
            .with_node_id(BrokerId(1))
            .with_host(s("localhost"))
            .with_port(9092);
        if v >= 1 {
            broker = broker.with_rack(Some(s("rack-a")));
        }
        let mut partition = MetadataResponsePartition::default()
            .with_partition_index(0)
            .with_leader_id(BrokerId(1))
            .with_replica_nodes(vec![BrokerId(1), BrokerId(2)])
            .with_isr_nodes(vec![BrokerId(1)]);
        if v >= 5 {
            partition = partition.with_offline_replicas(vec![BrokerId(2)]);
        }
        if v >= 7 {
            partition = partition.with_leader_epoch(3);
        }
        let mut topic = MetadataResponseTopic::default()
            .with_name(Some(TopicName(s("orders"))))
            .with_partitions(vec![partition.clone(), partition]);
        if v >= 10 {
            topic = topic.with_topic_id(uuid::Uuid::from_u128(9));
        }
        let mut resp = MetadataResponse::default()
            .with_brokers(vec![broker])
            .with_topics(vec![topic]);
        if v >= 2 {
            resp = resp.with_cluster_id(Some(s("cluster")));
        }
        let f = frame(&resp, v);
        check_response(
            ApiKey::Metadata as i16,
            v,
            MetadataResponse::header_version(v),
            &f,
        )
        .unwrap_or_else(|e| panic!("Metadata v{v}: {e}"));
    }
}

/// The abort this module exists for: a Fetch response whose topic array claims 2^31 - 1
/// elements. Without the walk kafka-protocol would reserve ~2^31 * size_of::<topic>().
#[test]
fn huge_array_count_is_a_typed_error_not_an_abort() {
    for (v, count) in [
        (11i16, vec![0x7f, 0xff, 0xff, 0xff]),
        (12, vec![0xff, 0xff, 0xff, 0xff, 0x07]),
    ] {
        let mut f = 1i32.to_be_bytes().to_vec();
        if v >= 12 {
            f.push(0); // header tag buffer
        }
        f.extend_from_slice(&0i32.to_be_bytes()); // throttle
        f.extend_from_slice(&0i16.to_be_bytes()); // error code
        f.extend_from_slice(&0i32.to_be_bytes()); // session id
        f.extend_from_slice(&count);
        let err = super::super::frame::decode_response::<FetchRequest>(Bytes::from(f), v)
            .expect_err("huge count accepted");
        assert!(
            err.contains("Fetch")
                && err.contains(&format!("v{v}"))
                && err.contains("responses")
                && err.contains("array count"),
            "{err}"
        );
    }
}

/// Cost of the walk on large Fetch responses; run with
/// `cargo test -p kafka-client --release --lib walk_cost -- --ignored --nocapture`.
#[test]
#[ignore = "timing, run by hand in release"]
fn walk_cost_on_large_fetch_responses() {
    for (partitions, record_bytes) in [(4, 256 << 10), (200, 4 << 10), (2000, 256)] {
        let records = Bytes::from(vec![1u8; record_bytes]);
        let v = 12;
        let f = frame(&fetch_response(v, partitions, &records), v);
        let rounds = 2000;
        let start = std::time::Instant::now();
        for _ in 0..rounds {
            check_response(ApiKey::Fetch as i16, v, 1, std::hint::black_box(&f)).unwrap();
        }
        let ns = start.elapsed().as_nanos() as f64 / f64::from(rounds);
        println!(
            "Fetch v{v}: {} partitions x {record_bytes} B records, frame {} B: {ns:.0} ns per walk, {:.4} ns/byte, {:.1} ns/partition",
            2 * partitions,
            f.len(),
            ns / f.len() as f64,
            ns / f64::from(2 * partitions)
        );
    }
}

#[test]
fn overlong_varints_are_rejected_and_long_valid_ones_accepted() {
    // ApiVersions v3 body: error_code, api_keys (compact array), throttle, tags.
    let body = |count: &[u8]| {
        let mut b = vec![0, 0];
        b.extend_from_slice(count);
        b.extend_from_slice(&[0, 0, 0, 0, 0]);
        b
    };
    let err = super::check_body(18, 3, &body(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("varint overflows") && err.contains("api_keys"),
        "{err}"
    );
    let err = super::check_body(18, 3, &body(&[0xff, 0xff, 0xff, 0xff, 0x1f]))
        .unwrap_err()
        .to_string();
    assert!(err.contains("varint overflows"), "{err}");
    // Count 0 (empty array) spelt in five bytes: accepted, as kafka-protocol does.
    super::check_body(18, 3, &body(&[0x81, 0x80, 0x80, 0x80, 0x00])).unwrap();
}
