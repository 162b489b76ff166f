//! Typed configuration: builders validated once at `build()`.

mod aws_options;
mod client;
mod client_source;
mod kerberos;
mod oidc;
pub(crate) mod options;
mod properties;
mod security;
mod tls_material;
mod tls_reload;

#[cfg(test)]
pub(crate) use aws_options::AWS_OPTIONS;
#[cfg(test)]
pub(crate) use client::CLIENT_CODE_OPTIONS;
#[cfg(test)]
pub(crate) use client::CLIENT_OPTIONS;
pub(crate) use client::backoff;
pub use client::{BrokerAddress, ClientBuilder, ClientConfig};
pub(crate) use client_source::ClientSource;
pub use kerberos::{DEFAULT_SERVICE_NAME, KerberosConfig};
#[cfg(feature = "gssapi")]
pub(crate) use kerberos::{KerberosKey, ResolvedKerberos};
pub(crate) use oidc::OIDC_OPTIONS;
pub use oidc::{AssertionAlgorithm, OidcConfig, OidcGrant};
pub use properties::{Properties, bad_value};
pub(crate) use properties::{parse_bool, parse_millis, parse_value};
#[cfg(test)]
pub(crate) use security::SECURITY_OPTIONS;
pub use security::{
    OAuthBearerToken, PemSource, SaslConfig, SaslMechanism, Secret, SecurityProtocol, TlsConfig,
    TokenError, TokenProvider,
};
pub(crate) use security::{SaslCredentials, SecurityBuilder, SecurityConfig};
pub(crate) use tls_material::provider as crypto_provider;
pub use tls_reload::TlsConfigProvider;
