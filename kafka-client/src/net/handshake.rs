//! Setting up a connection: TCP, then ApiVersions (KIP-511: retry at the version the
//! broker says it supports), then the connection task takes over.

use bytes::Buf;
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{Decodable, Message, StrBytes};

use super::connection::{Connection, Peer};
use super::frame;
use super::transport::{BoxedStream, connect_tcp};
use super::versions::BrokerVersions;
use crate::config::{BrokerAddress, ClientConfig};
use crate::error::{Error, ErrorCode, Result};

const SOFTWARE_NAME: &str = "kafka-rs";
const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Opens a connection to `addr` (node `id`, None for a bootstrap address) and negotiates
/// API versions, all within the configured connect timeout.
pub(crate) async fn connect(
    config: &ClientConfig,
    id: Option<i32>,
    addr: &BrokerAddress,
) -> Result<Connection> {
    let peer = Peer {
        id,
        address: addr.to_string(),
    };
    let fail = |reason: String| Error::Connect {
        context: peer.context(),
        reason,
    };
    let setup = async {
        let mut stream = connect_tcp(addr, config.connect_timeout)
            .await
            .map_err(fail)?;
        let versions =
            api_versions(&mut stream, config)
                .await
                .map_err(|reason| Error::Protocol {
                    context: peer.context().with_api(ApiKey::ApiVersions),
                    message: reason,
                })?;
        Ok::<_, Error>((stream, versions))
    };
    let (stream, versions) = tokio::time::timeout(config.connect_timeout, setup)
        .await
        .map_err(|_| {
            fail(format!(
                "connection set-up timed out after {:?}",
                config.connect_timeout
            ))
        })??;
    tracing::debug!(broker = %peer.address, id = ?peer.id, "connected");
    Ok(Connection::spawn(
        stream,
        peer,
        versions,
        StrBytes::from_string(config.client_id.clone()),
        config.request_timeout,
        config.max_response_size,
        2,
    ))
}

/// ApiVersions at our highest version; if the broker answers UNSUPPORTED_VERSION it lists
/// its own ApiVersions range (in a v0 body), and we retry at its highest.
async fn api_versions(
    stream: &mut BoxedStream,
    config: &ClientConfig,
) -> Result<BrokerVersions, String> {
    let max = ApiVersionsRequest::VERSIONS.max;
    let resp = api_versions_at(stream, config, max, 0).await?;
    let resp = match ErrorCode::from_code(resp.error_code) {
        None => resp,
        Some(ErrorCode::UNSUPPORTED_VERSION) => {
            let theirs = resp
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map(|k| k.max_version.min(max))
                .ok_or("broker rejected ApiVersions without listing its supported versions")?;
            let resp = api_versions_at(stream, config, theirs, 1).await?;
            if let Some(code) = ErrorCode::from_code(resp.error_code) {
                return Err(format!("ApiVersions v{theirs} failed: {code}"));
            }
            resp
        }
        Some(code) => return Err(format!("ApiVersions failed: {code}")),
    };
    BrokerVersions::from_response(&resp)
}

async fn api_versions_at(
    stream: &mut BoxedStream,
    config: &ClientConfig,
    version: i16,
    correlation_id: i32,
) -> Result<ApiVersionsResponse, String> {
    let req = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str(SOFTWARE_NAME))
        .with_client_software_version(StrBytes::from_static_str(SOFTWARE_VERSION));
    let frame = frame::encode_request(
        &req,
        version,
        &StrBytes::from_string(config.client_id.clone()),
    )?;
    let mut body =
        frame::roundtrip(stream, frame, correlation_id, config.max_response_size).await?;
    // ApiVersions responses always use header v0: just the correlation id, already checked.
    body.advance(4);
    // An UNSUPPORTED_VERSION answer is encoded at v0 whatever we asked for.
    let mut peek = body.clone();
    let decoded = ApiVersionsResponse::decode(&mut body, version);
    match decoded {
        Ok(r) if r.error_code == 0 => Ok(r),
        _ => ApiVersionsResponse::decode(&mut peek, 0).map_err(|e| {
            format!("ApiVersions response does not decode (is the peer a Kafka broker?): {e}")
        }),
    }
}
