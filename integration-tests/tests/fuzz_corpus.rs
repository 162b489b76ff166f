//! Seed-corpus capture for the cargo-fuzz targets in `fuzz/` (run by hand):
//! `cargo test -p integration-tests --test fuzz_corpus -- --ignored`.
//!
//! Against the real broker of the test bed it produces records with every codec, then
//! sends ApiVersions, Metadata, ListOffsets, Fetch, Produce, FindCoordinator,
//! OffsetCommit, OffsetFetch, DescribeCluster, ListGroups, DescribeConfigs,
//! CreateTopics and DeleteRecords, and writes each response re-encoded at the version
//! the broker answered (`corpus/response_decode/`, prefixed with the API key and version
//! offset the target reads), and the raw record batches fetched
//! (`corpus/record_batches/`).

mod common;

use std::path::PathBuf;
use std::time::Duration;

use bytes::BytesMut;
use kafka_client::lowlevel::{Connection, Target};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::records::{BatchBuilder, BatchMeta, Compression};
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::delete_records_request::{
    DeleteRecordsPartition, DeleteRecordsTopic,
};
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};
use kafka_protocol::messages::offset_commit_request::{
    OffsetCommitRequestPartition, OffsetCommitRequestTopic,
};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{
    Encodable, HeaderVersion, Message, Request, StrBytes, VersionRange,
};

fn corpus_dir(target: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Writes one response seed: API key, version offset, then the frame from the
/// correlation id on.
fn save<R: Request>(name: &str, version: i16, resp: &R::Response)
where
    R::Response: Encodable,
{
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&[R::KEY as u8, (version - R::Response::VERSIONS.min) as u8]);
    buf.extend_from_slice(&1i32.to_be_bytes());
    if R::KEY != ApiKey::ApiVersions as i16 && R::Response::header_version(version) >= 1 {
        buf.extend_from_slice(&[0]);
    }
    resp.encode(&mut buf, version).unwrap();
    let file = corpus_dir("response_decode").join(format!("{name}-v{version}"));
    std::fs::write(file, &buf).unwrap();
}

fn s(v: &str) -> StrBytes {
    StrBytes::from_string(v.to_owned())
}

#[tokio::test]
#[ignore = "writes fuzz/corpus; run by hand"]
async fn capture_fuzz_seed_corpus() {
    let bootstrap = kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(&bootstrap);
    let topic = common::unique_topic("fuzz-seed");
    common::create_topic(&client, &topic, 5, 1).await;
    let codecs = [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ];
    for (p, codec) in codecs.into_iter().enumerate() {
        let producer = Producer::builder()
            .bootstrap_servers([bootstrap.as_str()])
            .compression(codec)
            .linger(Duration::from_millis(5))
            .build()
            .unwrap();
        let mut acks = Vec::new();
        for i in 0..20 {
            let r = ProducerRecord::new(topic.as_str())
                .with_partition(p as i32)
                .with_key(format!("k{i}"))
                .with_value(format!("value {i} {}", "x".repeat(i * 7)))
                .with_header("h", format!("{i}"));
            acks.push(producer.send(r).await.unwrap());
        }
        for a in acks {
            a.await.unwrap();
        }
        producer.close(Duration::from_secs(5)).await.unwrap();
    }

    let leader = client.leader(&topic, 0).await.unwrap().0;
    let conn = client
        .target_connection(Target::Broker(leader))
        .await
        .unwrap();
    let name = TopicName(s(&topic));
    let all = |min, max| VersionRange { min, max };

    capture(
        &conn,
        "api-versions",
        ApiVersionsRequest::default()
            .with_client_software_name(s("kafka-rs-fuzz-seed"))
            .with_client_software_version(s("0.1.0")),
        ApiVersionsRequest::VERSIONS,
    )
    .await;
    capture(
        &conn,
        "metadata",
        MetadataRequest::default().with_topics(None),
        all(1, 13),
    )
    .await;
    let list_offsets = ListOffsetsRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_topics(vec![
            ListOffsetsTopic::default()
                .with_name(name.clone())
                .with_partitions(
                    (0..5)
                        .map(|p| {
                            ListOffsetsPartition::default()
                                .with_partition_index(p)
                                .with_timestamp(-1)
                        })
                        .collect(),
                ),
        ]);
    capture(&conn, "list-offsets", list_offsets, all(1, 10)).await;
    let fetch = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(100)
        .with_max_bytes(1 << 20)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(name.clone())
                .with_partitions(
                    (0..5)
                        .map(|p| {
                            FetchPartition::default()
                                .with_partition(p)
                                .with_fetch_offset(0)
                                .with_partition_max_bytes(1 << 18)
                        })
                        .collect(),
                ),
        ]);
    let fetched = capture(&conn, "fetch", fetch, all(4, 12)).await;
    for t in &fetched.responses {
        for p in &t.partitions {
            let records = p.records.clone().unwrap_or_default();
            assert!(
                !records.is_empty(),
                "partition {} fetched nothing",
                p.partition_index
            );
            let mut seed = vec![1u8];
            seed.extend_from_slice(&records);
            let file = corpus_dir("record_batches").join(format!("codec-{}", p.partition_index));
            std::fs::write(file, seed).unwrap();
        }
    }
    let mut batch = BatchBuilder::new(Compression::None, 1 << 16);
    batch.append(0, Some(b"k"), Some(b"v"), &[]).unwrap();
    let produce = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(5000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(name.clone())
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(batch.finish(&BatchMeta::default()).unwrap())),
                ]),
        ]);
    capture(&conn, "produce", produce, all(3, 12)).await;
    let group = format!("{topic}-group");
    capture(
        &conn,
        "find-coordinator",
        FindCoordinatorRequest::default().with_coordinator_keys(vec![s(&group)]),
        all(4, 6),
    )
    .await;
    let commit = OffsetCommitRequest::default()
        .with_group_id(GroupId(s(&group)))
        .with_generation_id_or_member_epoch(-1)
        .with_topics(vec![
            OffsetCommitRequestTopic::default()
                .with_name(name.clone())
                .with_partitions(vec![
                    OffsetCommitRequestPartition::default()
                        .with_partition_index(0)
                        .with_committed_offset(3),
                ]),
        ]);
    let coordinator = client.connection(
        find_coordinator(&client, &group).await,
        kafka_client::lowlevel::ConnectionKind::General,
    );
    let coordinator = coordinator.await.unwrap();
    capture(&coordinator, "offset-commit", commit, all(2, 9)).await;
    let offset_fetch = OffsetFetchRequest::default()
        .with_group_id(GroupId(s(&group)))
        .with_topics(Some(vec![
            OffsetFetchRequestTopic::default()
                .with_name(name.clone())
                .with_partition_indexes(vec![0]),
        ]));
    capture(&coordinator, "offset-fetch", offset_fetch, all(1, 7)).await;
    capture(
        &conn,
        "describe-cluster",
        DescribeClusterRequest::default(),
        DescribeClusterRequest::VERSIONS,
    )
    .await;
    capture(
        &conn,
        "list-groups",
        ListGroupsRequest::default(),
        ListGroupsRequest::VERSIONS,
    )
    .await;
    let configs = DescribeConfigsRequest::default().with_resources(vec![
        DescribeConfigsResource::default()
            .with_resource_type(2)
            .with_resource_name(s(&topic)),
    ]);
    capture(
        &conn,
        "describe-configs",
        configs,
        DescribeConfigsRequest::VERSIONS,
    )
    .await;
    let controller = client
        .connection(
            client.controller().await.unwrap(),
            kafka_client::lowlevel::ConnectionKind::General,
        )
        .await
        .unwrap();
    let create = CreateTopicsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![
            CreatableTopic::default()
                .with_name(TopicName(s(&format!("{topic}-new"))))
                .with_num_partitions(2)
                .with_replication_factor(1),
            CreatableTopic::default()
                .with_name(name.clone())
                .with_num_partitions(1)
                .with_replication_factor(1),
        ]);
    capture(
        &controller,
        "create-topics",
        create,
        CreateTopicsRequest::VERSIONS,
    )
    .await;
    let delete_records = DeleteRecordsRequest::default()
        .with_timeout_ms(5000)
        .with_topics(vec![
            DeleteRecordsTopic::default()
                .with_name(name.clone())
                .with_partitions(vec![
                    DeleteRecordsPartition::default()
                        .with_partition_index(0)
                        .with_offset(1),
                ]),
        ]);
    capture(
        &conn,
        "delete-records",
        delete_records,
        DeleteRecordsRequest::VERSIONS,
    )
    .await;
}

async fn find_coordinator(client: &kafka_client::Client, group: &str) -> i32 {
    for _ in 0..60 {
        let resp = client
            .send(
                Target::Any,
                &FindCoordinatorRequest::default().with_coordinator_keys(vec![s(group)]),
            )
            .await
            .unwrap();
        let node = resp.coordinators.first().map_or(-1, |c| c.node_id.0);
        if node >= 0 {
            return node;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    panic!("no coordinator for {group}");
}

async fn capture<R: Request>(
    conn: &Connection,
    label: &str,
    req: R,
    range: VersionRange,
) -> R::Response
where
    R::Response: Encodable + 'static,
{
    let v = conn.negotiate::<R>(range).unwrap();
    let resp = conn
        .request_at(&req, v, Duration::from_secs(10))
        .await
        .unwrap();
    save::<R>(label, v, &resp);
    resp
}
