//! `bootstrap.controllers` (KIP-919): the client talks to the KRaft controllers directly.
//! Controllers answer no Metadata request; DescribeCluster v1+ with the controller
//! endpoint type lists them and names the active one, and that answer stands in for the
//! cluster metadata (nodes = the controllers, controller = the active controller, no
//! topics). Requests for any node or for the controller then go to the controllers.

use std::time::Duration;

use kafka_protocol::messages::metadata_response::MetadataResponseBroker;
use kafka_protocol::messages::{ApiKey, BrokerId, DescribeClusterRequest, MetadataResponse};
use kafka_protocol::protocol::{Message, VersionRange};

use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::net::Connection;

/// DescribeCluster's `endpoint_type` for controller listeners.
const CONTROLLER_ENDPOINTS: i8 = 2;

/// The controllers as cluster metadata, asked of the controller `conn` leads to.
pub(crate) async fn controllers_as_metadata(
    conn: &Connection,
    timeout: Duration,
) -> Result<MetadataResponse> {
    let versions = VersionRange {
        min: 1, // endpoint_type came with v1
        max: DescribeClusterRequest::VERSIONS.max,
    };
    let v = conn.negotiate::<DescribeClusterRequest>(versions)?;
    let req = DescribeClusterRequest::default().with_endpoint_type(CONTROLLER_ENDPOINTS);
    let resp = conn.request_at(&req, v, timeout).await?;
    if let Some(code) = ErrorCode::from_code(resp.error_code) {
        return Err(Error::broker(
            code,
            ErrorContext::default().with_api(ApiKey::DescribeCluster),
            resp.error_message
                .map(|m| m.to_string())
                .or_else(|| Some("bootstrap.controllers: describing the controllers".into())),
        ));
    }
    let brokers = resp
        .brokers
        .into_iter()
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(b.broker_id)
                .with_host(b.host)
                .with_port(b.port)
                .with_rack(b.rack)
        })
        .collect();
    Ok(MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(resp.cluster_id))
        .with_controller_id(BrokerId(resp.controller_id.0)))
}

/// The error for a topic lookup through the controllers: they hold no topic metadata.
pub(crate) fn no_topic_metadata(topics: &[&str]) -> Error {
    Error::InvalidState(format!(
        "topic metadata ({}) is not available through bootstrap.controllers (KIP-919): \
         controllers answer admin calls only; use bootstrap.servers",
        topics.join(", ")
    ))
}
