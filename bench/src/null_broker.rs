//! The null broker: a minimal Kafka-speaking sink in this process that acknowledges every
//! Produce at once, so the producer's own ceiling shows with no JVM in the way.
//!
//! It answers ApiVersions, Metadata (itself as broker 1, leader of every partition of
//! every topic asked for), InitProducerId and Produce (offsets counted per partition,
//! records counted from each batch header), using kafka-protocol's "broker" decoders and
//! encoders. With a [`FetchTemplate`] it also answers Fetch, with the same pre-built
//! record batches every time (base offsets rewritten to the offset asked for), so the
//! consumer's own cost shows the same way (`null-consume`). It runs on its own thread with a current-thread runtime, pinned to another
//! core than the client, and that thread's allocations are not counted.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
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
    ApiKey, ApiVersionsResponse, BrokerId, FetchRequest, FetchResponse, InitProducerIdResponse,
    ListOffsetsRequest, ListOffsetsResponse, MetadataRequest, MetadataResponse, ProduceRequest,
    ProduceResponse, ProducerId, RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::alloc_count;
use crate::rusage;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What the sink saw.
#[derive(Debug, Default)]
pub struct Counters {
    /// Produce requests.
    pub produce_requests: AtomicU64,
    /// Records in them.
    pub records: AtomicU64,
    /// Fetch requests answered.
    pub fetch_requests: AtomicU64,
}

/// What the null broker answers a Fetch with, for every partition: `batches` batches of
/// `batch_records` records each (values from the payload pool, no key), re-based at the
/// offset asked for.
#[derive(Debug, Clone)]
pub struct FetchTemplate {
    /// The batches, back to back, base offsets 0, `batch_records`, ...
    bytes: Bytes,
    /// Where each batch starts in `bytes`.
    starts: Vec<usize>,
    batch_records: i64,
}

impl FetchTemplate {
    /// Batches of `batch_records` records of `size` bytes, as many as fit in `max_bytes`
    /// (at least one), compressed with `compression`.
    pub fn new(
        size: usize,
        batch_records: usize,
        max_bytes: usize,
        compression: kafka_client::records::Compression,
    ) -> Result<Self, BoxError> {
        use kafka_client::records::{BatchBuilder, BatchMeta};
        let pool = crate::payload::pool(size);
        let mut out = BytesMut::new();
        let mut starts = Vec::new();
        let mut next = 0usize;
        loop {
            let mut b = BatchBuilder::new(compression, usize::MAX);
            for _ in 0..batch_records {
                b.append(
                    1_700_000_000_000,
                    None,
                    Some(&pool[next % pool.len()][..]),
                    &[],
                )?;
                next += 1;
            }
            let batch = b.finish(&BatchMeta::default())?;
            if !starts.is_empty() && out.len() + batch.len() > max_bytes {
                break;
            }
            starts.push(out.len());
            out.extend_from_slice(&batch);
        }
        Ok(FetchTemplate {
            bytes: out.freeze(),
            starts,
            batch_records: batch_records as i64,
        })
    }

    /// The batches re-based at `offset`.
    fn at(&self, offset: i64) -> Bytes {
        let mut b = BytesMut::from(&self.bytes[..]);
        for (i, &at) in self.starts.iter().enumerate() {
            let base = offset + i as i64 * self.batch_records;
            b[at..at + 8].copy_from_slice(&base.to_be_bytes());
        }
        b.freeze()
    }
}

/// A running null broker.
#[derive(Debug)]
pub struct NullBroker {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What it saw so far.
    pub counters: Arc<Counters>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Duration>>,
}

impl NullBroker {
    /// Starts the sink on its own thread, pinned to `core` when given; every topic has
    /// `partitions` partitions.
    pub fn start(partitions: i32, core: Option<usize>) -> Result<Self, BoxError> {
        Self::start_with(partitions, core, None)
    }

    /// [`start`](Self::start), answering Fetch requests from `fetch` too.
    pub fn start_with(
        partitions: i32,
        core: Option<usize>,
        fetch: Option<FetchTemplate>,
    ) -> Result<Self, BoxError> {
        let counters = Arc::new(Counters::default());
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = oneshot::channel();
        let c = counters.clone();
        let thread = std::thread::Builder::new()
            .name("null-broker".into())
            .spawn(move || {
                alloc_count::exempt_this_thread();
                if let Some(id) = core {
                    core_affinity::set_for_current(core_affinity::CoreId { id });
                }
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a current-thread runtime");
                rt.block_on(serve(partitions, c, fetch, addr_tx, stop_rx));
                rusage::thread_cpu()
            })?;
        let addr = addr_rx.recv_timeout(Duration::from_secs(10))??;
        Ok(NullBroker {
            addr,
            counters,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// Stops the sink and returns the CPU time its thread used.
    pub fn stop(mut self) -> Duration {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

async fn serve(
    partitions: i32,
    counters: Arc<Counters>,
    fetch: Option<FetchTemplate>,
    addr_tx: std::sync::mpsc::Sender<std::io::Result<SocketAddr>>,
    mut stop: oneshot::Receiver<()>,
) {
    let listener = match TcpListener::bind("127.0.0.1:0").await {
        Ok(l) => l,
        Err(e) => {
            let _ = addr_tx.send(Err(e));
            return;
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            let _ = addr_tx.send(Err(e));
            return;
        }
    };
    let _ = addr_tx.send(Ok(addr));
    loop {
        tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let c = counters.clone();
                let f = fetch.clone();
                tokio::spawn(async move {
                    if let Err(e) = connection(stream, addr, partitions, c, f).await {
                        eprintln!("null broker: connection ended: {e}");
                    }
                });
            }
        }
    }
}

/// Serves one connection until the peer closes it.
async fn connection(
    stream: TcpStream,
    me: SocketAddr,
    partitions: i32,
    counters: Arc<Counters>,
    fetch: Option<FetchTemplate>,
) -> Result<(), BoxError> {
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::with_capacity(256 << 10, rd);
    let mut offsets: HashMap<TopicName, Vec<i64>> = HashMap::new();
    let mut out = BytesMut::with_capacity(64 << 10);
    loop {
        let len = match rd.read_u32().await {
            Ok(n) => n as usize,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        let mut frame = BytesMut::zeroed(len);
        rd.read_exact(&mut frame).await?;
        let mut frame = frame.freeze();
        let key = ApiKey::try_from(i16::from_be_bytes([frame[0], frame[1]]))
            .map_err(|_| "unknown api key")?;
        let version = i16::from_be_bytes([frame[2], frame[3]]);
        let header = RequestHeader::decode(&mut frame, key.request_header_version(version))?;
        let cid = header.correlation_id;
        out.clear();
        match key {
            ApiKey::ApiVersions => {
                let body = ApiVersionsResponse::default().with_api_keys(vec![
                    api(ApiKey::Produce, 3, 12),
                    api(ApiKey::Metadata, 0, 12),
                    api(ApiKey::ApiVersions, 0, 4),
                    api(ApiKey::InitProducerId, 0, 5),
                    api(ApiKey::Fetch, 4, 12),
                    api(ApiKey::ListOffsets, 1, 7),
                ]);
                respond(&mut out, key, version, cid, &body)?;
            }
            ApiKey::Metadata => {
                let req = MetadataRequest::decode(&mut frame, version)?;
                // "All topics" (a consumer's refresh) is the one topic the jobs use.
                let names: Vec<TopicName> = match req.topics {
                    Some(ts) => ts.into_iter().filter_map(|t| t.name).collect(),
                    None => vec![TopicName(StrBytes::from_static_str("null-topic"))],
                };
                let topics = names
                    .into_iter()
                    .map(|name| topic_metadata(name, partitions))
                    .collect();
                let body = MetadataResponse::default()
                    .with_brokers(vec![
                        MetadataResponseBroker::default()
                            .with_node_id(BrokerId(1))
                            .with_host(StrBytes::from_string(me.ip().to_string()))
                            .with_port(i32::from(me.port())),
                    ])
                    .with_cluster_id(Some(StrBytes::from_static_str("null-broker")))
                    .with_controller_id(BrokerId(1))
                    .with_topics(topics);
                respond(&mut out, key, version, cid, &body)?;
            }
            ApiKey::InitProducerId => {
                let body = InitProducerIdResponse::default()
                    .with_producer_id(ProducerId(1000))
                    .with_producer_epoch(0);
                respond(&mut out, key, version, cid, &body)?;
            }
            ApiKey::Produce => {
                let req = ProduceRequest::decode(&mut frame, version)?;
                counters.produce_requests.fetch_add(1, Ordering::Relaxed);
                let mut responses = Vec::with_capacity(req.topic_data.len());
                for t in req.topic_data {
                    let offs = offsets
                        .entry(t.name.clone())
                        .or_insert_with(|| vec![0; partitions.max(1) as usize]);
                    let mut parts = Vec::with_capacity(t.partition_data.len());
                    for p in t.partition_data {
                        let n = p.records.as_ref().map_or(0, count_records);
                        counters.records.fetch_add(n, Ordering::Relaxed);
                        let slot = offs
                            .get_mut(p.index as usize)
                            .ok_or("partition out of range")?;
                        let base = *slot;
                        *slot += n as i64;
                        parts.push(
                            PartitionProduceResponse::default()
                                .with_index(p.index)
                                .with_base_offset(base)
                                .with_log_append_time_ms(-1),
                        );
                    }
                    responses.push(
                        TopicProduceResponse::default()
                            .with_name(t.name)
                            .with_topic_id(t.topic_id)
                            .with_partition_responses(parts),
                    );
                }
                if req.acks == 0 {
                    continue;
                }
                let body = ProduceResponse::default().with_responses(responses);
                respond(&mut out, key, version, cid, &body)?;
            }
            ApiKey::Fetch if fetch.is_some() => {
                let template = fetch.as_ref().ok_or("no fetch template")?;
                let req = FetchRequest::decode(&mut frame, version)?;
                counters.fetch_requests.fetch_add(1, Ordering::Relaxed);
                let responses = req
                    .topics
                    .into_iter()
                    .map(|t| {
                        let parts = t
                            .partitions
                            .iter()
                            .map(|p| {
                                PartitionData::default()
                                    .with_partition_index(p.partition)
                                    .with_high_watermark(1 << 50)
                                    .with_last_stable_offset(1 << 50)
                                    .with_log_start_offset(0)
                                    .with_records(Some(template.at(p.fetch_offset)))
                            })
                            .collect();
                        FetchableTopicResponse::default()
                            .with_topic(t.topic)
                            .with_topic_id(t.topic_id)
                            .with_partitions(parts)
                    })
                    .collect();
                let body = FetchResponse::default().with_responses(responses);
                respond(&mut out, key, version, cid, &body)?;
            }
            ApiKey::ListOffsets => {
                // Every partition starts at 0 (a consumer's reset before its seek lands).
                let req = ListOffsetsRequest::decode(&mut frame, version)?;
                let topics = req
                    .topics
                    .into_iter()
                    .map(|t| {
                        let parts = t
                            .partitions
                            .iter()
                            .map(|p| {
                                ListOffsetsPartitionResponse::default()
                                    .with_partition_index(p.partition_index)
                                    .with_timestamp(-1)
                                    .with_offset(0)
                            })
                            .collect();
                        ListOffsetsTopicResponse::default()
                            .with_name(t.name)
                            .with_partitions(parts)
                    })
                    .collect();
                let body = ListOffsetsResponse::default().with_topics(topics);
                respond(&mut out, key, version, cid, &body)?;
            }
            other => return Err(format!("null broker: {other:?} is not served").into()),
        }
        wr.write_all(&out).await?;
    }
}

fn api(key: ApiKey, min: i16, max: i16) -> ApiVersion {
    ApiVersion::default()
        .with_api_key(key as i16)
        .with_min_version(min)
        .with_max_version(max)
}

fn topic_metadata(name: TopicName, partitions: i32) -> MetadataResponseTopic {
    // A stable, non-nil id per name.
    let mut h: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    for b in name.0.as_bytes() {
        h = (h ^ u128::from(*b)).wrapping_mul(0x0000_0000_0100_0000_0000_0000_0000_013b);
    }
    MetadataResponseTopic::default()
        .with_name(Some(name))
        .with_topic_id(Uuid::from_u128(h | 1))
        .with_partitions(
            (0..partitions)
                .map(|i| {
                    MetadataResponsePartition::default()
                        .with_partition_index(i)
                        .with_leader_id(BrokerId(1))
                        .with_leader_epoch(0)
                        .with_replica_nodes(vec![BrokerId(1)])
                        .with_isr_nodes(vec![BrokerId(1)])
                })
                .collect(),
        )
}

/// Records in a partition's record batches (v2): the count field of each batch header.
fn count_records(records: &Bytes) -> u64 {
    let mut buf = records.clone();
    let mut n = 0u64;
    // baseOffset(8) batchLength(4) ... recordsCount at byte 57.
    while buf.len() >= 61 {
        let batch_len = i32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]);
        n += u64::from(u32::from_be_bytes([buf[57], buf[58], buf[59], buf[60]]));
        let total = 12 + batch_len.max(0) as usize;
        if total > buf.len() {
            break;
        }
        buf.advance(total);
    }
    n
}

/// Writes a length-prefixed response frame for `key`/`version` into `out`.
fn respond<M: Encodable>(
    out: &mut BytesMut,
    key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &M,
) -> Result<(), BoxError> {
    let start = out.len();
    out.put_u32(0);
    ResponseHeader::default()
        .with_correlation_id(correlation_id)
        .encode(out, key.response_header_version(version))?;
    body.encode(out, version)?;
    let len = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&len.to_be_bytes());
    Ok(())
}
