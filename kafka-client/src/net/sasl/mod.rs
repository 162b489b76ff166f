//! SASL authentication (KIP-152): SaslHandshake names the mechanism, then
//! SaslAuthenticate requests carry the mechanism's messages until it is done. The last
//! answer's `session_lifetime_ms` (KIP-368) says when the broker stops honouring the
//! session; the connection task re-authenticates in band before then (`net/reauth.rs`),
//! driving the same [`Exchange`] as the connection set-up.
//!
//! Mechanisms are small state machines: `plain.rs`, `scram.rs` (RFC 5802/7677, the
//! server's signature verified) and `oauthbearer.rs` (RFC 7628, token from the
//! application's [`crate::config::TokenProvider`]). No secret ever reaches an error
//! message or a log line.

#[cfg(feature = "aws-msk-iam")]
mod aws_msk_iam;
#[cfg(feature = "gssapi")]
mod gssapi;
mod oauthbearer;
mod plain;
mod scram;

use std::time::Duration;

use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::{Message, StrBytes, VersionRange};

use super::handshake::HandshakeIo;
use super::versions::BrokerVersions;
use crate::config::{SaslConfig, SaslCredentials, SaslMechanism};
use crate::error::{Error, ErrorCode, ErrorContext, Result};

/// Why the client ends a SASL exchange (a malformed or wrong server message, a bad
/// proof, an unusable credential): a typed error, turned into
/// `Error::Authentication` with the broker as context. Never holds a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SaslFault(String);

impl std::fmt::Display for SaslFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SaslFault {}

#[cfg(test)]
impl SaslFault {
    /// Whether the message contains `needle` (tests).
    pub(crate) fn contains(&self, needle: &str) -> bool {
        self.0.contains(needle)
    }
}

impl From<String> for SaslFault {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for SaslFault {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// One side of a SASL mechanism.
trait Mechanism: Send {
    /// The client's first message.
    fn initial(&mut self) -> Result<Vec<u8>, SaslFault>;
    /// Handles the broker's answer to our last message: `Some(next)` to send another
    /// message, `None` when the exchange is complete.
    fn step(&mut self, server: &[u8]) -> Result<Option<Vec<u8>>, SaslFault>;
}

/// Most SaslAuthenticate round trips accepted (SCRAM needs 2, OAUTHBEARER's error path 2).
const MAX_ROUNDS: usize = 8;

/// Runs the SASL exchange on a fresh connection. Returns the session lifetime the broker
/// granted (`None` when the session does not expire).
pub(crate) async fn authenticate(
    io: &mut HandshakeIo<'_>,
    sasl: &SaslConfig,
    versions: &BrokerVersions,
    context: &ErrorContext,
) -> Result<Option<Duration>> {
    let (hs_version, auth_version) = exchange_versions(versions, context)?;
    let mut exchange = Exchange::start(sasl, context).await?;
    let resp = io
        .request(&exchange.handshake_request(), hs_version)
        .await?;
    exchange.check_handshake(&resp)?;
    let mut req = exchange.first()?;
    loop {
        let resp = io.request(&req, auth_version).await?;
        match exchange.on_authenticate(&resp)? {
            Step::Send(next) => req = next,
            Step::Done(lifetime) => return Ok(lifetime),
        }
    }
}

/// The SaslHandshake (v1: the tokens then travel in SaslAuthenticate, KIP-152) and
/// SaslAuthenticate versions to use with this broker.
pub(crate) fn exchange_versions(
    versions: &BrokerVersions,
    context: &ErrorContext,
) -> Result<(i16, i16)> {
    let hs = versions.negotiate(
        ApiKey::SaslHandshake,
        SaslHandshakeRequest::VERSIONS.intersect(&VersionRange { min: 1, max: 1 }),
        || context.clone().with_api(ApiKey::SaslHandshake),
    )?;
    let auth = versions.negotiate(
        ApiKey::SaslAuthenticate,
        SaslAuthenticateRequest::VERSIONS,
        || context.clone().with_api(ApiKey::SaslAuthenticate),
    )?;
    Ok((hs, auth))
}

/// What to do after a SaslAuthenticate response.
pub(crate) enum Step {
    /// Send this next.
    Send(SaslAuthenticateRequest),
    /// Authenticated; the session lasts this long (KIP-368), if the broker said.
    Done(Option<Duration>),
}

/// One SASL exchange, without the I/O: the fresh connection's set-up and the connection
/// task's in-band re-authentication (KIP-368) drive it with their own requests.
pub(crate) struct Exchange {
    mechanism: Box<dyn Mechanism>,
    mech_name: &'static str,
    who: String,
    /// Authenticating with a delegation token: a refusal names the token's likely fate.
    token_auth: bool,
    context: ErrorContext,
    rounds: usize,
}

impl Exchange {
    /// Sets up the mechanism, fetching a token from the provider for OAUTHBEARER.
    pub(crate) async fn start(sasl: &SaslConfig, context: &ErrorContext) -> Result<Self> {
        let mech_name = sasl.mechanism.name();
        let who = match (sasl.username(), sasl.kerberos_principal()) {
            (Some(id), _) if sasl.is_delegation_token() => {
                format!("{mech_name} with delegation token {id:?}")
            }
            (Some(u), _) => format!("{mech_name} as user {u:?}"),
            (None, Some(p)) => format!("{mech_name} as principal {p:?}"),
            (None, None) => mech_name.to_owned(),
        };
        let token_error = |e: String| Error::Authentication {
            context: context.clone().with_api(ApiKey::SaslAuthenticate),
            code: None,
            message: format!("{who}: the token provider failed: {e}"),
        };
        let mechanism: Box<dyn Mechanism> = match (&sasl.credentials, sasl.mechanism) {
            (
                SaslCredentials::UserPassword {
                    username, password, ..
                },
                SaslMechanism::Plain,
            ) => Box::new(plain::Plain::new(username, password)),
            (
                SaslCredentials::UserPassword {
                    username,
                    password,
                    token_auth,
                },
                SaslMechanism::ScramSha256 | SaslMechanism::ScramSha512,
            ) => {
                let hash = if sasl.mechanism == SaslMechanism::ScramSha256 {
                    scram::Hash::Sha256
                } else {
                    scram::Hash::Sha512
                };
                Box::new(scram::Scram::new(hash, username, password).token_auth(*token_auth))
            }
            (SaslCredentials::Token(provider), SaslMechanism::OAuthBearer) => {
                let token = provider
                    .token()
                    .await
                    .map_err(|e| token_error(e.to_string()))?;
                Box::new(oauthbearer::OAuthBearer::new(token))
            }
            #[cfg(feature = "gssapi")]
            (SaslCredentials::Kerberos(k), SaslMechanism::Gssapi) => {
                let settings = k.resolved.get().ok_or_else(|| {
                    Error::Config("GSSAPI: the Kerberos settings were not validated".into())
                })?;
                let host = broker_host(context.address.as_deref().unwrap_or_default());
                let service = format!("{}/{host}@{}", settings.service_name, settings.realm);
                let ticket = k
                    .login
                    .service_ticket(settings, &host)
                    .await
                    .map_err(|failure| Error::Kerberos {
                        context: context.clone().with_api(ApiKey::SaslAuthenticate),
                        failure: Box::new(failure),
                    })?;
                Box::new(gssapi::Gssapi::new(ticket, service))
            }
            #[cfg(feature = "aws-msk-iam")]
            (SaslCredentials::AwsMskIam(iam), SaslMechanism::AwsMskIam) => {
                let host = crate::aws::msk::host_of(context.address.as_deref().unwrap_or_default());
                let payload = iam
                    .auth_payload(host)
                    .await
                    .map_err(|e| Error::Authentication {
                        context: context.clone().with_api(ApiKey::SaslAuthenticate),
                        code: None,
                        message: format!("{who}: cannot sign the MSK IAM payload: {e}"),
                    })?;
                Box::new(aws_msk_iam::AwsMskIam::new(payload))
            }
            (_, m) => {
                // `SaslConfig` is validated at build, so this does not happen.
                return Err(Error::Config(format!(
                    "{m}: the credentials do not fit the mechanism"
                )));
            }
        };
        Ok(Self {
            mechanism,
            mech_name,
            who,
            token_auth: sasl.is_delegation_token(),
            context: context.clone(),
            rounds: 0,
        })
    }

    fn error(&self, api: ApiKey, code: Option<ErrorCode>, message: String) -> Error {
        Error::Authentication {
            context: self.context.clone().with_api(api),
            code,
            message: format!("{}: {message}", self.who),
        }
    }

    pub(crate) fn handshake_request(&self) -> SaslHandshakeRequest {
        SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(self.mech_name))
    }

    pub(crate) fn check_handshake(&self, resp: &SaslHandshakeResponse) -> Result<()> {
        let Some(code) = ErrorCode::from_code(resp.error_code) else {
            return Ok(());
        };
        let enabled: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
        let message = if code == ErrorCode::UNSUPPORTED_SASL_MECHANISM {
            format!(
                "mechanism {} is not enabled on this listener (it offers: {})",
                self.mech_name,
                enabled.join(", ")
            )
        } else {
            format!("SaslHandshake failed: {code}")
        };
        Err(self.error(ApiKey::SaslHandshake, Some(code), message))
    }

    /// The first SaslAuthenticate request.
    pub(crate) fn first(&mut self) -> Result<SaslAuthenticateRequest> {
        let message = self
            .mechanism
            .initial()
            .map_err(|m| self.error(ApiKey::SaslAuthenticate, None, m.to_string()))?;
        Ok(SaslAuthenticateRequest::default().with_auth_bytes(message.into()))
    }

    pub(crate) fn on_authenticate(&mut self, resp: &SaslAuthenticateResponse) -> Result<Step> {
        if let Some(code) = ErrorCode::from_code(resp.error_code) {
            let broker_says = resp
                .error_message
                .as_ref()
                .map(|m| m.to_string())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| code.name());
            let message = if self.token_auth {
                format!(
                    "{broker_says} (the delegation token is unknown to the broker: expired, \
                     expired by an admin, or its HMAC is wrong)"
                )
            } else {
                broker_says
            };
            return Err(self.error(ApiKey::SaslAuthenticate, Some(code), message));
        }
        self.rounds += 1;
        match self
            .mechanism
            .step(&resp.auth_bytes)
            .map_err(|m| self.error(ApiKey::SaslAuthenticate, None, m.to_string()))?
        {
            Some(_) if self.rounds >= MAX_ROUNDS => Err(self.error(
                ApiKey::SaslAuthenticate,
                None,
                format!("the exchange did not finish within {MAX_ROUNDS} rounds"),
            )),
            Some(next) => Ok(Step::Send(
                SaslAuthenticateRequest::default().with_auth_bytes(next.into()),
            )),
            None => {
                let lifetime = (resp.session_lifetime_ms > 0)
                    .then(|| Duration::from_millis(resp.session_lifetime_ms as u64));
                tracing::debug!(
                    broker = ?self.context.address,
                    mechanism = self.mech_name,
                    session_lifetime = ?lifetime,
                    "SASL authenticated"
                );
                Ok(Step::Done(lifetime))
            }
        }
    }
}

/// The host part of a broker address (`host:port`, `[v6]:port`), lower-cased: the
/// instance of the broker's Kerberos service principal.
#[cfg(feature = "gssapi")]
fn broker_host(address: &str) -> String {
    let host = match address.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => address,
    };
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase()
}

/// Cryptographically secure random bytes, from the TLS crypto provider (ring).
fn random_bytes(buf: &mut [u8]) -> Result<(), SaslFault> {
    crate::config::crypto_provider()
        .secure_random
        .fill(buf)
        .map_err(|_| SaslFault::from("no secure random source available"))
}
