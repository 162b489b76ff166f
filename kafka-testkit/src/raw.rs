//! The low-level door: a stateless, scriptable fake broker for hostile-input tests, and
//! the frame helpers to write any answer by hand (these use `kafka-protocol`'s message
//! types). [`FakeBroker`] answers every request with a well-formed default (one broker,
//! one topic [`TOPIC`] with two partitions led by itself, empty fetches, successful
//! produces, a one-member group and an accepting transaction coordinator) unless the
//! test's [`Script`] returns other bytes for that request. Keeps no state: for a broker
//! that stores what is produced, use [`Cluster`](crate::Cluster).
//!
//! The helpers panic (naming what) on a request that does not decode as the API it
//! claims: they are for scripts in tests, where the client under test made the request.
//!
//! ```
//! use std::sync::Arc;
//! use kafka_testkit::raw::{FakeBroker, Req, frame, metadata};
//! use kafka_testkit::raw::messages::ApiKey;
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // Metadata answers name broker 1 as leader, on a port where nothing listens.
//! let broker = FakeBroker::start(Arc::new(|req: &Req| {
//!     (req.api == ApiKey::Metadata).then(|| frame(req, &metadata(1, 1)))
//! }))
//! .await
//! .unwrap();
//! assert!(broker.bootstrap.starts_with("127.0.0.1:"));
//! # }
//! ```

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_client::Uuid;
use kafka_protocol::messages::api_versions_response::ApiVersion;
use kafka_protocol::messages::fetch_response::{FetchableTopicResponse, PartitionData};
use kafka_protocol::messages::list_offsets_response::{
    ListOffsetsPartitionResponse, ListOffsetsTopicResponse,
};
use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{
    ApiKey, ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse, ListOffsetsRequest,
    ListOffsetsResponse, MetadataResponse, ProduceRequest, ProduceResponse, RequestHeader,
    ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use tokio::net::TcpListener;

pub use crate::coordinator::{
    GroupOffsets, PRODUCER_ID, add_partitions_answer, error_answer, offset_fetch_answer,
    txn_offset_commit_answer,
};
use crate::server::{Handler, serve};

/// `kafka-protocol`'s message types and `ApiKey`, to build answers with.
pub mod messages {
    pub use kafka_protocol::messages::*;
}

/// The topic the default Metadata answer describes.
pub const TOPIC: &str = "fake-topic";

/// One request as the fake broker received it.
#[derive(Debug, Clone)]
pub struct Req {
    /// API of the request.
    pub api: ApiKey,
    /// Its version.
    pub version: i16,
    /// Its correlation id.
    pub correlation_id: i32,
    /// The request body, after the header.
    pub body: Bytes,
    /// The port the broker listens on (to advertise itself).
    pub port: u16,
}

/// Reads one request frame's body (the bytes after the length prefix): its API,
/// version, correlation id and body. `None` when the header does not decode or names
/// no known API. `port` is the port the request came to.
pub fn parse_request(mut frame: Bytes, port: u16) -> Option<Req> {
    if frame.len() < 4 {
        return None;
    }
    let key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let api = ApiKey::try_from(key).ok()?;
    let header = RequestHeader::decode(&mut frame, api.request_header_version(version)).ok()?;
    Some(Req {
        api,
        version,
        correlation_id: header.correlation_id,
        body: frame,
        port,
    })
}

/// What to answer: `None` for the default answer, `Some(bytes)` to write exactly those
/// bytes (a whole frame, length prefix included, or anything hostile).
pub type Script = Arc<dyn Fn(&Req) -> Option<Vec<u8>> + Send + Sync>;

/// A fake broker on a loopback port; it stops when the runtime it started in ends.
#[derive(Debug)]
pub struct FakeBroker {
    /// `127.0.0.1:<port>`.
    pub bootstrap: String,
}

impl FakeBroker {
    /// Starts a broker answering with `script` (falling back to the defaults). Fails
    /// only if no loopback port can be bound.
    pub async fn start(script: Script) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let handler: Handler = Arc::new(move |req: Req| {
            let out = script(&req).unwrap_or_else(|| default_answer(&req));
            Box::pin(async move { Some((out, Duration::ZERO)) })
        });
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, port, handler.clone()));
            }
        });
        Ok(Self {
            bootstrap: format!("127.0.0.1:{port}"),
        })
    }
}

/// A whole response frame: length, header (v0 for ApiVersions), body.
pub fn frame<R: Encodable + HeaderVersion>(req: &Req, body: &R) -> Vec<u8> {
    frame_with_id(req.correlation_id, req.api, req.version, body)
}

/// A whole response frame with an explicit correlation id.
pub fn frame_with_id<R: Encodable + HeaderVersion>(
    correlation_id: i32,
    api: ApiKey,
    version: i16,
    body: &R,
) -> Vec<u8> {
    let mut buf = BytesMut::new();
    let header_version = if api == ApiKey::ApiVersions {
        0
    } else {
        R::header_version(version)
    };
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(&mut buf, header_version)
        .expect("a response header encodes");
    body.encode(&mut buf, version)
        .expect("the response body encodes at the request's version");
    raw_frame(&buf)
}

/// Prefixes `payload` (correlation id onwards) with its length.
pub fn raw_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as i32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// The response header bytes the client expects for `req` (correlation id, plus the
/// tag buffer when the API version is flexible), to build hostile bodies by hand.
pub fn header_bytes(req: &Req, flexible_header: bool) -> Vec<u8> {
    let mut out = req.correlation_id.to_be_bytes().to_vec();
    if flexible_header {
        out.push(0);
    }
    out
}

/// The API version ranges the fake broker advertises.
pub const VERSIONS: &[(ApiKey, i16, i16)] = &[
    (ApiKey::ApiVersions, 0, 3),
    (ApiKey::Metadata, 0, 12),
    (ApiKey::Fetch, 4, 12),
    (ApiKey::ListOffsets, 1, 7),
    (ApiKey::Produce, 3, 9),
];

/// An ApiVersions body advertising `ranges`.
pub fn api_versions(ranges: &[(ApiKey, i16, i16)]) -> ApiVersionsResponse {
    ApiVersionsResponse::default().with_api_keys(
        ranges
            .iter()
            .map(|&(k, min, max)| {
                ApiVersion::default()
                    .with_api_key(k as i16)
                    .with_min_version(min)
                    .with_max_version(max)
            })
            .collect(),
    )
}

/// The default Metadata body: broker 1 (this one), `TOPIC` with partitions 0 and 1
/// led by `leader`.
pub fn metadata(port: u16, leader: i32) -> MetadataResponse {
    MetadataResponse::default()
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
                                .with_leader_id(BrokerId(leader))
                                .with_replica_nodes(vec![BrokerId(leader)])
                                .with_isr_nodes(vec![BrokerId(leader)])
                        })
                        .collect(),
                ),
        ])
}

/// A Fetch body giving `records(partition, offset)` for every partition asked for.
pub fn fetch(req: &Req, records: impl Fn(i32, i64) -> Bytes) -> FetchResponse {
    let fr = FetchRequest::decode(&mut req.body.clone(), req.version).expect("a Fetch request");
    let topics = fr
        .topics
        .iter()
        .map(|t| {
            FetchableTopicResponse::default()
                .with_topic(t.topic.clone())
                .with_partitions(
                    t.partitions
                        .iter()
                        .map(|p| {
                            PartitionData::default()
                                .with_partition_index(p.partition)
                                .with_high_watermark(1_000)
                                .with_last_stable_offset(1_000)
                                .with_records(Some(records(p.partition, p.fetch_offset)))
                        })
                        .collect(),
                )
        })
        .collect();
    FetchResponse::default().with_responses(topics)
}

/// A successful Produce body for exactly the partitions asked for.
pub fn produce_ok(req: &Req) -> ProduceResponse {
    let pr = ProduceRequest::decode(&mut req.body.clone(), req.version).expect("a Produce request");
    ProduceResponse::default().with_responses(
        pr.topic_data
            .iter()
            .map(|t| {
                TopicProduceResponse::default()
                    .with_name(t.name.clone())
                    .with_partition_responses(
                        t.partition_data
                            .iter()
                            .map(|p| PartitionProduceResponse::default().with_index(p.index))
                            .collect(),
                    )
            })
            .collect(),
    )
}

/// The stateless default answer to `req` (see the module's documentation).
///
/// # Panics
/// On an API the fake broker does not advertise.
pub fn default_answer(req: &Req) -> Vec<u8> {
    match req.api {
        ApiKey::ApiVersions => {
            let mut r = req.clone();
            r.version = req.version.min(3);
            let all: Vec<(ApiKey, i16, i16)> = VERSIONS
                .iter()
                .chain(crate::coordinator::VERSIONS)
                .copied()
                .collect();
            frame(&r, &api_versions(&all))
        }
        ApiKey::Metadata => frame(req, &metadata(req.port, 1)),
        ApiKey::ListOffsets => {
            let lr = ListOffsetsRequest::decode(&mut req.body.clone(), req.version)
                .expect("a ListOffsets request");
            let resp = ListOffsetsResponse::default().with_topics(
                lr.topics
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
            frame(req, &resp)
        }
        ApiKey::Fetch => frame(req, &fetch(req, |_, _| Bytes::new())),
        ApiKey::Produce => frame(req, &produce_ok(req)),
        other => crate::coordinator::answer(req, 0)
            .unwrap_or_else(|| panic!("fake broker got an unexpected {other:?}")),
    }
}

/// A transaction marker as a broker writes it: a control batch of one record (key
/// `version 0 | type`, 1 commit or 0 abort; value `version 0 | coordinator epoch 0`) of
/// producer `producer_id` at `epoch`, with base offset `offset` and partition leader
/// epoch `leader_epoch` stamped.
pub fn marker_batch(
    producer_id: i64,
    epoch: i16,
    commit: bool,
    offset: i64,
    leader_epoch: i32,
) -> Bytes {
    use kafka_client::records::{
        BatchBuilder, BatchMeta, Compression, ControlRecord, ControlRecordType,
    };
    let kind = if commit {
        ControlRecordType::Commit
    } else {
        ControlRecordType::Abort
    };
    let key = ControlRecord::new(kind).to_key();
    let value = [0u8; 6];
    let mut builder = BatchBuilder::new(Compression::None, 128);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let meta = BatchMeta {
        producer_id,
        producer_epoch: epoch,
        base_sequence: -1,
        transactional: true,
        partition_leader_epoch: leader_epoch,
        is_control: true,
    };
    let built = builder
        .try_append(now, Some(&key), Some(&value), &[])
        .ok()
        .filter(|&appended| appended)
        .and_then(|_| builder.finish(&meta).ok())
        .expect("one control record fits in a 128-byte batch");
    let mut bytes = BytesMut::from(&built[..]);
    bytes[..8].copy_from_slice(&offset.to_be_bytes());
    bytes.freeze()
}
