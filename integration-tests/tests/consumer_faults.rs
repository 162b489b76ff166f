//! Consumer bad input a real broker cannot be made to send (it validates CRCs on
//! produce): a fake broker answers Fetch with a corrupt batch on one partition and a
//! truncated last batch on the other. The corrupt partition reports a typed error and
//! stops; the other one goes on, resuming after its last complete batch.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::protocol::messages::api_versions_response::ApiVersion;
use kafka_client::protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_client::protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_client::protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_client::protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataResponse, RequestHeader, ResponseHeader, TopicName,
};
use kafka_client::protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use kafka_client::records::{BatchBuilder, BatchMeta, Compression, RecordsError};
use kafka_client::{Error, Uuid};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TOPIC: &str = "fake-topic";

/// A batch of two records at `base`, values `p<partition>-<offset>`.
fn batch(partition: i32, base: i64) -> Bytes {
    let mut b = BatchBuilder::new(Compression::Lz4, 1 << 16);
    for i in 0..2 {
        let v = format!("p{partition}-{}", base + i);
        b.append(1_700_000_000_000, None, Some(v.as_bytes()), &[])
            .unwrap();
    }
    let bytes = b.finish(&BatchMeta::default()).unwrap();
    let mut m = BytesMut::from(&bytes[..]);
    m[..8].copy_from_slice(&base.to_be_bytes());
    m.freeze()
}

fn cat(parts: &[&[u8]]) -> Bytes {
    let mut m = BytesMut::new();
    for p in parts {
        m.extend_from_slice(p);
    }
    m.freeze()
}

/// Partition 0: a good batch (0-1), then a batch (2-3) with a flipped payload byte.
/// Partition 1: a good batch (0-1) plus the first half of the next (2-3), then that
/// batch whole when asked from offset 2.
fn records_for(partition: i32, offset: i64) -> Bytes {
    match (partition, offset) {
        (0, 0) => {
            let mut bad = BytesMut::from(&batch(0, 2)[..]);
            let last = bad.len() - 1;
            bad[last] ^= 0xff;
            cat(&[&batch(0, 0), &bad])
        }
        (1, 0) => {
            let next = batch(1, 2);
            cat(&[&batch(1, 0), &next[..next.len() / 2]])
        }
        (1, 2) => batch(1, 2),
        _ => Bytes::new(),
    }
}

fn response<R: Encodable + HeaderVersion>(
    correlation_id: i32,
    version: i16,
    body: &R,
    api_versions: bool,
) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let header_version = if api_versions {
        0
    } else {
        R::header_version(version)
    };
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .unwrap();
    body.encode(&mut buf, version).unwrap();
    let mut out = (buf.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(&buf);
    out
}

async fn serve(mut sock: TcpStream, port: u16, fetches: Arc<Mutex<Vec<(i32, i64)>>>) {
    loop {
        let Ok(len) = sock.read_i32().await else {
            return;
        };
        let mut body = vec![0u8; len as usize];
        if sock.read_exact(&mut body).await.is_err() {
            return;
        }
        let mut buf = Bytes::from(body);
        let key = i16::from_be_bytes([buf[0], buf[1]]);
        let version = i16::from_be_bytes([buf[2], buf[3]]);
        let api = ApiKey::try_from(key).unwrap();
        let header = RequestHeader::decode(&mut buf, api.request_header_version(version)).unwrap();
        let id = header.correlation_id;
        let out = match api {
            ApiKey::ApiVersions => {
                let keys = [
                    (ApiKey::ApiVersions, 0, 3),
                    (ApiKey::Metadata, 0, 12),
                    (ApiKey::Fetch, 4, 12),
                    (ApiKey::ListOffsets, 1, 7),
                ];
                let resp = ApiVersionsResponse::default().with_api_keys(
                    keys.iter()
                        .map(|&(k, min, max)| {
                            ApiVersion::default()
                                .with_api_key(k as i16)
                                .with_min_version(min)
                                .with_max_version(max)
                        })
                        .collect(),
                );
                response(id, version.min(3), &resp, true)
            }
            ApiKey::Metadata => {
                let resp = MetadataResponse::default()
                    .with_brokers(vec![
                        MetadataResponseBroker::default()
                            .with_node_id(BrokerId(1))
                            .with_host(StrBytes::from_static_str("127.0.0.1"))
                            .with_port(port as i32),
                    ])
                    .with_controller_id(BrokerId(1))
                    .with_topics(vec![
                        MetadataResponseTopic::default()
                            .with_name(Some(TopicName(StrBytes::from_static_str(TOPIC))))
                            .with_topic_id(Uuid::from_u128(7))
                            .with_partitions(
                                (0..2)
                                    .map(|p| {
                                        MetadataResponsePartition::default()
                                            .with_partition_index(p)
                                            .with_leader_id(BrokerId(1))
                                            .with_replica_nodes(vec![BrokerId(1)])
                                            .with_isr_nodes(vec![BrokerId(1)])
                                    })
                                    .collect(),
                            ),
                    ]);
                response(id, version, &resp, false)
            }
            ApiKey::ListOffsets => {
                let req = ListOffsetsRequest::decode(&mut buf, version).unwrap();
                let resp = ListOffsetsResponse::default().with_topics(
                    req.topics
                        .iter()
                        .map(|t| {
                            ListOffsetsTopicResponse::default()
                                .with_name(t.name.clone())
                                .with_partitions(
                                    t.partitions
                                        .iter()
                                        .map(|p| {
                                            ListOffsetsPartitionResponse::default()
                                                .with_partition_index(p.partition_index)
                                                .with_offset(0)
                                        })
                                        .collect(),
                                )
                        })
                        .collect(),
                );
                response(id, version, &resp, false)
            }
            ApiKey::Fetch => {
                let req = FetchRequest::decode(&mut buf, version).unwrap();
                let mut empty = true;
                let topics = req
                    .topics
                    .iter()
                    .map(|t| {
                        let parts = t
                            .partitions
                            .iter()
                            .map(|p| {
                                fetches.lock().unwrap().push((p.partition, p.fetch_offset));
                                let records = records_for(p.partition, p.fetch_offset);
                                empty &= records.is_empty();
                                PartitionData::default()
                                    .with_partition_index(p.partition)
                                    .with_high_watermark(4)
                                    .with_last_stable_offset(4)
                                    .with_log_start_offset(0)
                                    .with_records(Some(records))
                            })
                            .collect();
                        FetchableTopicResponse::default()
                            .with_topic(t.topic.clone())
                            .with_partitions(parts)
                    })
                    .collect();
                if empty {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                response(
                    id,
                    version,
                    &FetchResponse::default().with_responses(topics),
                    false,
                )
            }
            other => panic!("fake broker got an unexpected {other:?}"),
        };
        if sock.write_all(&out).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_batch_fails_one_partition_and_truncated_batch_resumes() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let fetches: Arc<Mutex<Vec<(i32, i64)>>> = Arc::default();
    let f = fetches.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(serve(sock, port, f.clone()));
        }
    });
    let c = Consumer::builder()
        .bootstrap_servers([format!("127.0.0.1:{port}")])
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    let p0 = TopicPartition::new(TOPIC, 0);
    let p1 = TopicPartition::new(TOPIC, 1);
    c.assign([p0.clone(), p1.clone()]).unwrap();

    let mut got: Vec<(i32, i64, String)> = Vec::new();
    let mut errors = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 6 || errors.is_empty() {
        assert!(Instant::now() < deadline, "got {got:?}, errors {errors:?}");
        let (records, errs) = c
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .into_parts();
        for r in records {
            let v = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
            got.push((r.partition, r.offset, v));
        }
        errors.extend(errs);
    }
    got.sort();
    let expect: Vec<(i32, i64, String)> = [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (1, 3)]
        .into_iter()
        .map(|(p, o)| (p, o, format!("p{p}-{o}")))
        .collect();
    assert_eq!(
        got, expect,
        "the good batches of both partitions, nothing of the corrupt one"
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].topic_partition, p0);
    match &errors[0].error {
        Error::Records(e) => assert!(
            matches!(**e, RecordsError::CrcMismatch { base_offset: 2, .. }),
            "{e}"
        ),
        other => panic!("expected a CRC error, got {other}"),
    }
    // The corrupt partition stays stopped (no repeated error, no records) until a seek.
    let quiet = c.poll(Duration::from_millis(800)).await.unwrap();
    assert!(quiet.is_empty(), "{quiet:?}");
    assert_eq!(c.position(p0.clone()).await.unwrap(), 2);
    assert_eq!(c.position(p1.clone()).await.unwrap(), 4);
    // The truncated batch was fetched again from its base offset.
    assert!(
        fetches.lock().unwrap().contains(&(1, 2)),
        "{:?}",
        fetches.lock().unwrap()
    );
    // Seeking past the damage resumes the partition.
    c.seek(p0.clone(), 4).unwrap();
    let start = fetches.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(fetches.lock().unwrap()[start..].contains(&(0, 4)));
    c.close().await.unwrap();
}
