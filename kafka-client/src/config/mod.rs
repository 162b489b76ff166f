//! Typed configuration: builders validated once at `build()`.

mod client;
mod options;
mod properties;
mod security;
mod tls_material;

pub(crate) use client::backoff;
pub use client::{BrokerAddress, ClientBuilder, ClientConfig};
pub use options::{OPTIONS, OptionDoc, Scope, configuration_markdown};
pub use properties::{Properties, bad_value};
pub use security::{
    OAuthBearerToken, PemSource, SaslConfig, SaslMechanism, Secret, SecurityProtocol, TlsConfig,
    TokenError, TokenProvider,
};
pub(crate) use security::{SaslCredentials, SecurityBuilder, SecurityConfig};
pub(crate) use tls_material::provider as crypto_provider;
