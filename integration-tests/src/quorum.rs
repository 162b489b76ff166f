//! Blocking one-shot requests the test bed makes with kafka-protocol directly (not with
//! the client under test): which node is the active KRaft controller (DescribeQuorum on
//! a controller listener), and how many partition replicas are out of sync (Metadata).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use kafka_protocol::messages::describe_quorum_request::{PartitionData, TopicData};
use kafka_protocol::messages::{
    ApiKey, DescribeQuorumRequest, DescribeQuorumResponse, MetadataRequest, MetadataResponse,
    RequestHeader, ResponseHeader, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

use crate::error::{Error, Result};

const CORRELATION_ID: i32 = 0x0c0f_fee5;
const DESCRIBE_QUORUM_VERSION: i16 = 1;
const METADATA_VERSION: i16 = 12;

/// Sends one request and decodes its response.
fn roundtrip<Req, Resp>(
    address: &str,
    api: ApiKey,
    version: i16,
    request: &Req,
    timeout: Duration,
) -> Result<Resp>
where
    Req: Encodable + HeaderVersion,
    Resp: Decodable + HeaderVersion,
{
    let err = |what: &str, e: &dyn std::fmt::Display| {
        Error::new(format!("{api:?} to {address}: {what}: {e}"))
    };
    let addr: SocketAddr = address
        .to_socket_addrs()
        .map_err(|e| err("resolving", &e))?
        .next()
        .ok_or_else(|| Error::new(format!("{address} resolves to nothing")))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| err("connecting", &e))?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|e| err("socket", &e))?;
    let mut payload = Vec::new();
    RequestHeader::default()
        .with_request_api_key(api as i16)
        .with_request_api_version(version)
        .with_correlation_id(CORRELATION_ID)
        .with_client_id(Some(StrBytes::from_static_str("kafka-testbed")))
        .encode(&mut payload, Req::header_version(version))
        .map_err(|e| err("encoding", &e))?;
    request
        .encode(&mut payload, version)
        .map_err(|e| err("encoding", &e))?;
    let mut frame = (payload.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&payload);
    stream.write_all(&frame).map_err(|e| err("sending", &e))?;
    let mut size = [0u8; 4];
    stream
        .read_exact(&mut size)
        .map_err(|e| err("reading", &e))?;
    let size = i32::from_be_bytes(size);
    if !(4..=64 * 1024 * 1024).contains(&size) {
        return Err(Error::new(format!(
            "{api:?} to {address}: bad response size {size}"
        )));
    }
    let mut body = vec![0u8; size as usize];
    stream
        .read_exact(&mut body)
        .map_err(|e| err("reading", &e))?;
    let mut body = &body[..];
    let header = ResponseHeader::decode(&mut body, Resp::header_version(version))
        .map_err(|e| err("decoding", &e))?;
    if header.correlation_id != CORRELATION_ID {
        return Err(err("correlation id", &header.correlation_id));
    }
    Resp::decode(&mut body, version).map_err(|e| err("decoding", &e))
}

/// The leader of the KRaft metadata quorum (the active controller) as node
/// `controller_address` (a CONTROLLER listener) sees it.
pub fn describe_quorum_leader(controller_address: &str, timeout: Duration) -> Result<i32> {
    let request = DescribeQuorumRequest::default().with_topics(vec![
        TopicData::default()
            .with_topic_name(TopicName(StrBytes::from_static_str("__cluster_metadata")))
            .with_partitions(vec![PartitionData::default().with_partition_index(0)]),
    ]);
    let response: DescribeQuorumResponse = roundtrip(
        controller_address,
        ApiKey::DescribeQuorum,
        DESCRIBE_QUORUM_VERSION,
        &request,
        timeout,
    )?;
    if response.error_code != 0 {
        return Err(Error::new(format!(
            "DescribeQuorum to {controller_address}: error code {}",
            response.error_code
        )));
    }
    let partition = response
        .topics
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| Error::new("DescribeQuorum: no partition in the answer"))?;
    if partition.error_code != 0 || partition.leader_id.0 < 0 {
        return Err(Error::new(format!(
            "DescribeQuorum to {controller_address}: error code {}, leader {}",
            partition.error_code, partition.leader_id.0
        )));
    }
    Ok(partition.leader_id.0)
}

/// How many partitions (of every topic, internal ones included) have fewer in-sync
/// replicas than replicas, or no leader, according to the broker at `address`.
pub fn under_replicated_partitions(address: &str, timeout: Duration) -> Result<usize> {
    let request = MetadataRequest::default()
        .with_topics(None)
        .with_allow_auto_topic_creation(false);
    let response: MetadataResponse = roundtrip(
        address,
        ApiKey::Metadata,
        METADATA_VERSION,
        &request,
        timeout,
    )?;
    Ok(response
        .topics
        .iter()
        .flat_map(|t| t.partitions.iter())
        .filter(|p| p.leader_id.0 < 0 || p.isr_nodes.len() < p.replica_nodes.len())
        .count())
}
