//! Setting up a connection: TCP, TLS when configured, ApiVersions (KIP-511: retry at the
//! version the broker says it supports), SASL when configured (KIP-152), then the
//! connection task takes over.
//!
//! Authentication and TLS failures come back as typed, non-retriable errors
//! ([`Error::Authentication`], [`Error::Tls`]).

use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsRequest, ApiVersionsResponse};
use kafka_protocol::protocol::{Decodable, Message, Request, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::Fault;
use super::connection::{Connection, Peer};
use super::frame;
use super::reauth::ReauthSetup;
use super::transport::{self, BoxedStream, TlsErrors};
use super::versions::BrokerVersions;
use crate::config::{BrokerAddress, ClientConfig};
use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::observe::Telemetry;

const SOFTWARE_NAME: &str = "kafka-rs";
const SOFTWARE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Opens a connection to `addr` (node `id`, None for a bootstrap address), sets up TLS,
/// negotiates API versions and authenticates, all within the configured connect timeout.
pub(crate) async fn connect(
    config: &ClientConfig,
    telemetry: &Arc<Telemetry>,
    id: Option<i32>,
    addr: &BrokerAddress,
) -> Result<Connection> {
    let peer = Peer {
        id,
        address: addr.to_string(),
    };
    let context = peer.context();
    let setup = async {
        let transport = transport::connect(addr, config, &context).await?;
        let mut stream = transport.stream;
        let mut io = HandshakeIo {
            stream: &mut stream,
            tls_errors: transport.tls_errors,
            client_id: StrBytes::from_string(config.client_id.clone()),
            max_response_size: config.max_response_size,
            next_correlation_id: 0,
            context: &context,
        };
        let versions = api_versions(&mut io).await?;
        let reauth = match &config.security.sasl {
            Some(sasl) => {
                let started = tokio::time::Instant::now();
                let lifetime =
                    super::sasl::authenticate(&mut io, sasl, &versions, &context).await?;
                match lifetime {
                    Some(lifetime) => {
                        let (handshake_version, authenticate_version) =
                            super::sasl::exchange_versions(&versions, &context)?;
                        Some(ReauthSetup {
                            sasl: sasl.clone(),
                            handshake_version,
                            authenticate_version,
                            lifetime,
                            started,
                        })
                    }
                    None => None,
                }
            }
            None => None,
        };
        let next_correlation_id = io.next_correlation_id;
        Ok::<_, Error>((stream, versions, reauth, next_correlation_id))
    };
    let started = tokio::time::Instant::now();
    let outcome = tokio::time::timeout(config.connect_timeout, setup)
        .await
        .map_err(|_| Error::Connect {
            context: context.clone(),
            reason: format!(
                "connection set-up timed out after {:?}",
                config.connect_timeout
            ),
        })
        .and_then(|r| r);
    telemetry.connected(peer.as_ref(), started.elapsed(), outcome.as_ref().err());
    let (stream, versions, reauth, next_correlation_id) = outcome?;
    tracing::debug!(broker = %peer.address, broker_id = ?peer.id,
        elapsed_ms = started.elapsed().as_millis() as u64, "connected");
    Ok(Connection::spawn(
        stream,
        peer,
        versions,
        StrBytes::from_string(config.client_id.clone()),
        config.request_timeout,
        config.max_response_size,
        next_correlation_id,
        reauth,
        telemetry.clone(),
    ))
}

/// Request/response exchange on a connection before its task takes over: one request at
/// a time, in order, with our own correlation ids.
pub(crate) struct HandshakeIo<'a> {
    stream: &'a mut BoxedStream,
    tls_errors: Option<TlsErrors>,
    client_id: StrBytes,
    max_response_size: usize,
    next_correlation_id: i32,
    context: &'a ErrorContext,
}

impl HandshakeIo<'_> {
    /// Sends `req` at `version` and decodes its response.
    pub(crate) async fn request<R: Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> Result<R::Response> {
        let api = ApiKey::try_from(R::KEY).unwrap_or(ApiKey::ApiVersions);
        let body = self.roundtrip(api, req, version).await?;
        frame::decode_response::<R>(body, version).map_err(|e| Error::Protocol {
            context: self.context.clone().with_api(api),
            message: e.into_message(),
        })
    }

    /// Sends `req` and returns the raw response frame (starting at the correlation id).
    async fn roundtrip<R: Request>(&mut self, api: ApiKey, req: &R, version: i16) -> Result<Bytes> {
        let context = self.context.clone().with_api(api);
        let protocol = |message: String| Error::Protocol {
            context: context.clone(),
            message,
        };
        let mut frame = frame::encode_request(req, version, &self.client_id).map_err(|e| {
            Error::RequestEncoding {
                context: context.clone(),
                message: e.to_string(),
            }
        })?;
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id += 1;
        frame::set_correlation_id(&mut frame, correlation_id);
        let io_result = async {
            self.stream.write_all(&frame).await?;
            self.stream.flush().await?;
            let len = self.stream.read_i32().await?;
            Ok::<_, std::io::Error>(len)
        }
        .await;
        let len = io_result.map_err(|e| self.io_error(&context, &e))?;
        let len = frame::check_length(len, self.max_response_size)
            .map_err(|e| protocol(e.into_message()))?;
        let mut body = BytesMut::zeroed(len);
        self.stream
            .read_exact(&mut body)
            .await
            .map_err(|e| self.io_error(&context, &e))?;
        let got = (&body[..4]).get_i32();
        if got != correlation_id {
            return Err(protocol(format!(
                "correlation id mismatch: sent {correlation_id}, got {got}"
            )));
        }
        Ok(body.freeze())
    }

    /// A typed TLS error when the TLS layer failed (e.g. the broker's alert that it
    /// requires a client certificate), else a connection error.
    fn io_error(&self, context: &ErrorContext, e: &std::io::Error) -> Error {
        if let Some(tls) = self.tls_errors.as_ref().and_then(TlsErrors::take) {
            return super::tls::tls_error(&tls, context.clone());
        }
        let reason = match e.kind() {
            std::io::ErrorKind::UnexpectedEof if self.tls_errors.is_some() => {
                "the broker closed the TLS connection during set-up (does the listener require \
                 a client certificate, or a different security protocol?)"
                    .to_owned()
            }
            std::io::ErrorKind::UnexpectedEof => {
                "the broker closed the connection during set-up (does the listener expect TLS \
                 or SASL?)"
                    .to_owned()
            }
            _ => format!("{e}"),
        };
        Error::Connect {
            context: context.clone(),
            reason,
        }
    }
}

/// ApiVersions at our highest version; if the broker answers UNSUPPORTED_VERSION it lists
/// its own ApiVersions range (in a v0 body), and we retry at its highest.
async fn api_versions(io: &mut HandshakeIo<'_>) -> Result<BrokerVersions> {
    let context = io.context.clone().with_api(ApiKey::ApiVersions);
    let fail = |message: String| Error::Protocol {
        context: context.clone(),
        message,
    };
    let max = ApiVersionsRequest::VERSIONS.max;
    let resp = api_versions_at(io, max).await?;
    let resp = match ErrorCode::from_code(resp.error_code) {
        None => resp,
        Some(ErrorCode::UNSUPPORTED_VERSION) => {
            let theirs = resp
                .api_keys
                .iter()
                .find(|k| k.api_key == ApiKey::ApiVersions as i16)
                .map(|k| k.max_version.min(max))
                .ok_or_else(|| {
                    fail(
                        "broker rejected ApiVersions without listing its supported versions".into(),
                    )
                })?;
            let resp = api_versions_at(io, theirs).await?;
            if let Some(code) = ErrorCode::from_code(resp.error_code) {
                return Err(fail(format!("ApiVersions v{theirs} failed: {code}")));
            }
            resp
        }
        Some(code) => return Err(fail(format!("ApiVersions failed: {code}"))),
    };
    BrokerVersions::from_response(&resp).map_err(|f| fail(f.into_message()))
}

async fn api_versions_at(io: &mut HandshakeIo<'_>, version: i16) -> Result<ApiVersionsResponse> {
    let req = ApiVersionsRequest::default()
        .with_client_software_name(StrBytes::from_static_str(SOFTWARE_NAME))
        .with_client_software_version(StrBytes::from_static_str(SOFTWARE_VERSION));
    let mut body = io.roundtrip(ApiKey::ApiVersions, &req, version).await?;
    // ApiVersions responses always use header v0: just the correlation id, already checked.
    body.advance(4);
    // An UNSUPPORTED_VERSION answer is encoded at v0 whatever we asked for.
    let mut peek = body.clone();
    // Bounded walk first (see `shape`): kafka-protocol reserves arrays from wire counts.
    let decoded =
        super::shape::check_body(ApiKey::ApiVersions as i16, version, &body).and_then(|()| {
            ApiVersionsResponse::decode(&mut body, version)
                .map_err(|e| Fault::decode(e.to_string()))
        });
    let first = match decoded {
        Ok(r) if r.error_code == 0 => return Ok(r),
        Ok(_) => None,
        Err(e) => Some(e),
    };
    super::shape::check_body(ApiKey::ApiVersions as i16, 0, &peek)
        .and_then(|()| {
            ApiVersionsResponse::decode(&mut peek, 0).map_err(|e| Fault::decode(e.to_string()))
        })
        .map_err(|e| Error::Protocol {
            context: io.context.clone().with_api(ApiKey::ApiVersions),
            message: match first {
                Some(first) => format!(
                    "ApiVersions response does not decode (is the peer a Kafka broker?): {first}; \
                     read as v0: {e}"
                ),
                None => format!(
                    "ApiVersions response does not decode (is the peer a Kafka broker?): {e}"
                ),
            },
        })
}
