//! A tiny blocking Metadata client: the readiness probe ("metadata lists every broker").

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use kafka_protocol::messages::{
    ApiKey, MetadataRequest, MetadataResponse, RequestHeader, ResponseHeader,
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
    let err = |what: &str, e: &dyn std::fmt::Display| {
        Error::new(format!("metadata probe of {address}: {what}: {e}"))
    };
    let addr = address
        .to_socket_addrs()
        .map_err(|e| err("resolving", &e))?
        .next()
        .ok_or_else(|| Error::new(format!("metadata probe: {address} resolves to nothing")))?;
    let mut stream =
        TcpStream::connect_timeout(&addr, timeout).map_err(|e| err("connecting", &e))?;
    stream
        .set_read_timeout(Some(timeout))
        .map_err(|e| err("socket", &e))?;
    stream
        .set_write_timeout(Some(timeout))
        .map_err(|e| err("socket", &e))?;
    let _ = stream.set_nodelay(true);

    let request = encode_request().map_err(|e| err("encoding", &e))?;
    stream.write_all(&request).map_err(|e| err("sending", &e))?;

    let mut size = [0u8; 4];
    stream
        .read_exact(&mut size)
        .map_err(|e| err("reading", &e))?;
    let size = i32::from_be_bytes(size);
    if !(0..=64 * 1024 * 1024).contains(&size) {
        return Err(Error::new(format!(
            "metadata probe of {address}: bad response size {size}"
        )));
    }
    let mut body = vec![0u8; size as usize];
    stream
        .read_exact(&mut body)
        .map_err(|e| err("reading", &e))?;
    decode_response(&body).map_err(|e| err("decoding", &e))
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
    fn probe_of_a_closed_port_fails() {
        let port = crate::ports::free_ports(1).unwrap()[0];
        let result = probe_metadata(&format!("127.0.0.1:{port}"), Duration::from_millis(500));
        assert!(result.is_err());
    }
}
