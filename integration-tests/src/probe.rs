//! A tiny blocking Kafka client for the readiness probe: Metadata ("lists every
//! broker") and ApiVersions ("advertises the APIs a client needs").

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use std::collections::BTreeSet;

use kafka_protocol::messages::{
    ApiKey, ApiVersionsRequest, ApiVersionsResponse, MetadataRequest, MetadataResponse,
    RequestHeader, ResponseHeader,
};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

use crate::error::{Error, Result};

const METADATA_VERSION: i16 = 12;
const CORRELATION_ID: i32 = 0x7e57_b0ed;

/// A broker as listed in a Metadata response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerInfo {
    /// Node id.
    pub node_id: i32,
    /// Advertised host.
    pub host: String,
    /// Advertised port.
    pub port: i32,
}

/// What a broker answered to a Metadata request for no topics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataSnapshot {
    /// The live (registered, unfenced) brokers, sorted by node id.
    pub brokers: Vec<BrokerInfo>,
    /// The controller id the broker reports, if any.
    pub controller_id: Option<i32>,
    /// The cluster id.
    pub cluster_id: Option<String>,
}

impl MetadataSnapshot {
    /// The listed brokers' node ids, sorted.
    pub fn broker_ids(&self) -> Vec<i32> {
        self.brokers.iter().map(|b| b.node_id).collect()
    }
}

/// Sends one Metadata (v12, no topics) request to `address` (`host:port`) and decodes
/// the answer. `timeout` bounds the connect and each read/write.
pub fn probe_metadata(address: &str, timeout: Duration) -> Result<MetadataSnapshot> {
    let request = encode_request().map_err(|e| probe_error(address, "encoding", &e))?;
    let body = round_trip(address, timeout, &request)?;
    decode_response(&body).map_err(|e| probe_error(address, "decoding", &e))
}

/// The API keys `address` advertises in ApiVersions (v0). A KRaft broker leaves out the
/// APIs it forwards to the controller (CreateTopics, ...) until it knows the
/// controller's versions, so "Metadata answers" alone does not mean "admin works".
pub fn probe_api_keys(address: &str, timeout: Duration) -> Result<BTreeSet<i16>> {
    let request = encode_api_versions().map_err(|e| probe_error(address, "encoding", &e))?;
    let body = round_trip(address, timeout, &request)?;
    decode_api_versions(&body).map_err(|e| probe_error(address, "decoding", &e))
}

fn probe_error(address: &str, what: &str, e: &dyn std::fmt::Display) -> Error {
    Error::new(format!("probe of {address}: {what}: {e}"))
}

/// Writes `request` (a whole frame) on a new connection and returns the response body.
fn round_trip(address: &str, timeout: Duration, request: &[u8]) -> Result<Vec<u8>> {
    let err = |what: &str, e: &dyn std::fmt::Display| probe_error(address, what, e);
    let addr = address
        .to_socket_addrs()
        .map_err(|e| err("resolving", &e))?
        .next()
        .ok_or_else(|| Error::new(format!("probe: {address} resolves to nothing")))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| err("connecting", &e))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| err("socket", &e))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| err("socket", &e))?;
    let _ = stream.set_nodelay(true);
    stream.write_all(request).map_err(|e| err("sending", &e))?;
    let mut size = [0u8; 4];
    stream
        .read_exact(&mut size)
        .map_err(|e| err("reading", &e))?;
    let size = i32::from_be_bytes(size);
    if !(0..=64 * 1024 * 1024).contains(&size) {
        return Err(Error::new(format!(
            "probe of {address}: bad response size {size}"
        )));
    }
    let mut body = vec![0u8; size as usize];
    stream
        .read_exact(&mut body)
        .map_err(|e| err("reading", &e))?;
    Ok(body)
}

fn encode_api_versions() -> std::result::Result<Vec<u8>, String> {
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::ApiVersions as i16)
        .with_request_api_version(0)
        .with_correlation_id(CORRELATION_ID)
        .with_client_id(Some(StrBytes::from_static_str("kafka-testbed-probe")));
    let mut payload = Vec::new();
    header
        .encode(&mut payload, ApiVersionsRequest::header_version(0))
        .map_err(|e| e.to_string())?;
    ApiVersionsRequest::default()
        .encode(&mut payload, 0)
        .map_err(|e| e.to_string())?;
    let mut frame = (payload.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&payload);
    Ok(frame)
}

fn decode_api_versions(mut body: &[u8]) -> std::result::Result<BTreeSet<i16>, String> {
    // ApiVersions responses always use header v0.
    let header = ResponseHeader::decode(&mut body, 0).map_err(|e| e.to_string())?;
    if header.correlation_id != CORRELATION_ID {
        return Err(format!(
            "unexpected correlation id {}",
            header.correlation_id
        ));
    }
    let response = ApiVersionsResponse::decode(&mut body, 0).map_err(|e| e.to_string())?;
    if response.error_code != 0 {
        return Err(format!("error code {}", response.error_code));
    }
    Ok(response.api_keys.iter().map(|k| k.api_key).collect())
}

fn encode_request() -> std::result::Result<Vec<u8>, String> {
    let header = RequestHeader::default()
        .with_request_api_key(ApiKey::Metadata as i16)
        .with_request_api_version(METADATA_VERSION)
        .with_correlation_id(CORRELATION_ID)
        .with_client_id(Some(StrBytes::from_static_str("kafka-testbed-probe")));
    let request = MetadataRequest::default()
        .with_topics(Some(Vec::new()))
        .with_allow_auto_topic_creation(false);
    let mut payload = Vec::new();
    header
        .encode(
            &mut payload,
            MetadataRequest::header_version(METADATA_VERSION),
        )
        .map_err(|e| e.to_string())?;
    request
        .encode(&mut payload, METADATA_VERSION)
        .map_err(|e| e.to_string())?;
    let mut frame = (payload.len() as i32).to_be_bytes().to_vec();
    frame.extend_from_slice(&payload);
    Ok(frame)
}

fn decode_response(mut body: &[u8]) -> std::result::Result<MetadataSnapshot, String> {
    let header = ResponseHeader::decode(
        &mut body,
        MetadataResponse::header_version(METADATA_VERSION),
    )
    .map_err(|e| e.to_string())?;
    if header.correlation_id != CORRELATION_ID {
        return Err(format!(
            "unexpected correlation id {}",
            header.correlation_id
        ));
    }
    let response =
        MetadataResponse::decode(&mut body, METADATA_VERSION).map_err(|e| e.to_string())?;
    let mut brokers: Vec<BrokerInfo> = response
        .brokers
        .iter()
        .map(|b| BrokerInfo {
            node_id: b.node_id.0,
            host: b.host.to_string(),
            port: b.port,
        })
        .collect();
    brokers.sort_by_key(|b| b.node_id);
    Ok(MetadataSnapshot {
        brokers,
        controller_id: Some(response.controller_id.0).filter(|&id| id >= 0),
        cluster_id: response.cluster_id.map(|c| c.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::BrokerId;
    use kafka_protocol::messages::metadata_response::MetadataResponseBroker;

    #[test]
    fn request_frame_starts_with_size_and_metadata_key() {
        let frame = encode_request().unwrap();
        let size = i32::from_be_bytes(frame[..4].try_into().unwrap());
        assert_eq!(size as usize, frame.len() - 4);
        assert_eq!(&frame[4..6], &3i16.to_be_bytes(), "api key Metadata");
        assert_eq!(&frame[6..8], &12i16.to_be_bytes(), "api version");
        assert_eq!(&frame[8..12], &CORRELATION_ID.to_be_bytes());
    }

    #[test]
    fn decodes_an_encoded_response() {
        let response = MetadataResponse::default()
            .with_brokers(vec![
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(3))
                    .with_host(StrBytes::from_static_str("127.0.0.1"))
                    .with_port(9003),
                MetadataResponseBroker::default()
                    .with_node_id(BrokerId(1))
                    .with_host(StrBytes::from_static_str("127.0.0.1"))
                    .with_port(9001),
            ])
            .with_controller_id(BrokerId(-1))
            .with_cluster_id(Some(StrBytes::from_static_str("abc")));
        let mut body = Vec::new();
        ResponseHeader::default()
            .with_correlation_id(CORRELATION_ID)
            .encode(
                &mut body,
                MetadataResponse::header_version(METADATA_VERSION),
            )
            .unwrap();
        response.encode(&mut body, METADATA_VERSION).unwrap();
        let snap = decode_response(&body).unwrap();
        assert_eq!(snap.broker_ids(), vec![1, 3]);
        assert_eq!(snap.brokers[1].port, 9003);
        assert_eq!(snap.controller_id, None);
        assert_eq!(snap.cluster_id.as_deref(), Some("abc"));
    }

    #[test]
    fn api_versions_round_trip_through_the_codec() {
        use kafka_protocol::messages::api_versions_response::ApiVersion;
        let frame = encode_api_versions().unwrap();
        assert_eq!(&frame[4..6], &18i16.to_be_bytes(), "api key ApiVersions");
        let response = ApiVersionsResponse::default().with_api_keys(vec![
            ApiVersion::default().with_api_key(3).with_max_version(12),
            ApiVersion::default().with_api_key(19).with_max_version(7),
        ]);
        let mut body = Vec::new();
        ResponseHeader::default()
            .with_correlation_id(CORRELATION_ID)
            .encode(&mut body, 0)
            .unwrap();
        response.encode(&mut body, 0).unwrap();
        assert_eq!(decode_api_versions(&body).unwrap(), BTreeSet::from([3, 19]));
    }

    #[test]
    fn probe_of_a_closed_port_fails() {
        let port = crate::ports::free_ports(1).unwrap()[0];
        let result = probe_metadata(&format!("127.0.0.1:{port}"), Duration::from_millis(500));
        assert!(result.is_err());
    }
}
