//! SASL authentication (KIP-152): SaslHandshake names the mechanism, then
//! SaslAuthenticate requests carry the mechanism's messages until it is done. The last
//! answer's `session_lifetime_ms` (KIP-368) says when the broker stops honouring the
//! session; the connection is retired before then (see `Connection::is_expired`).
//!
//! Mechanisms are small state machines: `plain.rs`, `scram.rs` (RFC 5802/7677, the
//! server's signature verified) and `oauthbearer.rs` (RFC 7628, token from the
//! application's [`crate::config::TokenProvider`]). No secret ever reaches an error
//! message or a log line.

#[cfg(feature = "gssapi")]
mod gssapi;
mod oauthbearer;
mod plain;
mod scram;

use std::time::Duration;

use kafka_protocol::messages::{ApiKey, SaslAuthenticateRequest, SaslHandshakeRequest};
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
    let mech_name = sasl.mechanism.name();
    let who = match (sasl.username(), sasl.kerberos_principal()) {
        (Some(u), _) => format!("{mech_name} as user {u:?}"),
        (None, Some(p)) => format!("{mech_name} as principal {p:?}"),
        (None, None) => mech_name.to_owned(),
    };
    let auth_error =
        |api: ApiKey, code: Option<ErrorCode>, message: String| Error::Authentication {
            context: context.clone().with_api(api),
            code,
            message: format!("{who}: {message}"),
        };

    // v1: the SASL tokens then travel in SaslAuthenticate requests (KIP-152).
    let hs_version = versions.negotiate(
        ApiKey::SaslHandshake,
        SaslHandshakeRequest::VERSIONS.intersect(&VersionRange { min: 1, max: 1 }),
        || context.clone().with_api(ApiKey::SaslHandshake),
    )?;
    let req = SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mech_name));
    let resp = io.request(&req, hs_version).await?;
    if let Some(code) = ErrorCode::from_code(resp.error_code) {
        let enabled: Vec<&str> = resp.mechanisms.iter().map(|m| m.as_str()).collect();
        let message = if code == ErrorCode::UNSUPPORTED_SASL_MECHANISM {
            format!(
                "mechanism {mech_name} is not enabled on this listener (it offers: {})",
                enabled.join(", ")
            )
        } else {
            format!("SaslHandshake failed: {code}")
        };
        return Err(auth_error(ApiKey::SaslHandshake, Some(code), message));
    }

    let auth_version = versions.negotiate(
        ApiKey::SaslAuthenticate,
        SaslAuthenticateRequest::VERSIONS,
        || context.clone().with_api(ApiKey::SaslAuthenticate),
    )?;
    let mut mechanism: Box<dyn Mechanism> = match (&sasl.credentials, sasl.mechanism) {
        (SaslCredentials::UserPassword { username, password }, SaslMechanism::Plain) => {
            Box::new(plain::Plain::new(username, password))
        }
        (SaslCredentials::UserPassword { username, password }, SaslMechanism::ScramSha256) => {
            Box::new(scram::Scram::new(scram::Hash::Sha256, username, password))
        }
        (SaslCredentials::UserPassword { username, password }, SaslMechanism::ScramSha512) => {
            Box::new(scram::Scram::new(scram::Hash::Sha512, username, password))
        }
        (SaslCredentials::Token(provider), SaslMechanism::OAuthBearer) => {
            let token = provider.token().await.map_err(|e| {
                auth_error(
                    ApiKey::SaslAuthenticate,
                    None,
                    format!("the token provider failed: {e}"),
                )
            })?;
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
        (_, m) => {
            // `SaslConfig` is validated at build, so this does not happen.
            return Err(Error::Config(format!(
                "{m}: the credentials do not fit the mechanism"
            )));
        }
    };

    let mut message = mechanism
        .initial()
        .map_err(|m| auth_error(ApiKey::SaslAuthenticate, None, m.to_string()))?;
    for _ in 0..MAX_ROUNDS {
        let req = SaslAuthenticateRequest::default().with_auth_bytes(message.into());
        let resp = io.request(&req, auth_version).await?;
        if let Some(code) = ErrorCode::from_code(resp.error_code) {
            let broker_says = resp
                .error_message
                .as_ref()
                .map(|m| m.to_string())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| code.name());
            return Err(auth_error(
                ApiKey::SaslAuthenticate,
                Some(code),
                broker_says,
            ));
        }
        match mechanism
            .step(&resp.auth_bytes)
            .map_err(|m| auth_error(ApiKey::SaslAuthenticate, None, m.to_string()))?
        {
            Some(next) => message = next,
            None => {
                let lifetime = (resp.session_lifetime_ms > 0)
                    .then(|| Duration::from_millis(resp.session_lifetime_ms as u64));
                tracing::debug!(
                    broker = ?context.address,
                    mechanism = mech_name,
                    session_lifetime = ?lifetime,
                    "SASL authenticated"
                );
                return Ok(lifetime);
            }
        }
    }
    Err(auth_error(
        ApiKey::SaslAuthenticate,
        None,
        format!("the exchange did not finish within {MAX_ROUNDS} rounds"),
    ))
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
