//! Amazon MSK IAM authentication (cargo feature `aws-msk-iam`): SASL `AWS_MSK_IAM` and
//! OAUTHBEARER with MSK's signed token, SigV4 signing in Rust (`hmac`, `sha2`), and AWS
//! credentials behind [`AwsCredentialsProvider`] (static, environment, shared profile
//! files, web identity, the [`DefaultCredentialsChain`] of those, and roles assumed
//! with [`AssumeRoleCredentials`]).
//!
//! ```no_run
//! use std::sync::Arc;
//! use kafka_client::Client;
//! use kafka_client::aws::{DefaultCredentialsChain, MskIamConfig};
//! use kafka_client::config::{SaslConfig, TlsConfig};
//!
//! let iam = MskIamConfig::new(Arc::new(DefaultCredentialsChain::new()));
//! let client = Client::builder()
//!     .bootstrap_servers(["b-1.demo.abc123.c2.kafka.us-east-1.amazonaws.com:9098"])
//!     .tls(TlsConfig::new())
//!     .sasl(SaslConfig::aws_msk_iam(iam))
//!     .build()?;
//! # Ok::<(), kafka_client::Error>(())
//! ```
//!
//! The signed payload is checked byte for byte against Amazon's Java library
//! (`aws-msk-iam-auth` 2.4.0) in the `msk_iam` integration tests; MSK itself cannot run
//! outside AWS, so no broker test exists.

mod assume_role;
mod credentials;
mod http;
pub(crate) mod msk;
pub(crate) mod sigv4;
mod web_identity;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

pub use assume_role::AssumeRoleCredentials;
pub use credentials::{
    AwsCredentials, AwsCredentialsError, AwsCredentialsProvider, DefaultCredentialsChain,
    EnvironmentCredentials, ProfileCredentials, StaticCredentials,
};
pub use msk::region_from_host;
pub use web_identity::WebIdentityCredentials;

use crate::config::{OAuthBearerToken, TokenError, TokenProvider};
use crate::types::BoxFuture;

/// The user agent sent in the signed payload by default.
pub const DEFAULT_USER_AGENT: &str = concat!("kafka-rs/", env!("CARGO_PKG_VERSION"));

/// MSK IAM settings: where credentials come from, the signing region when the broker
/// host does not name one, and the user agent.
#[derive(Clone)]
pub struct MskIamConfig {
    pub(crate) provider: Arc<dyn AwsCredentialsProvider>,
    pub(crate) region: Option<String>,
    pub(crate) user_agent: String,
}

impl fmt::Debug for MskIamConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MskIamConfig")
            .field("provider", &self.provider)
            .field("region", &self.region)
            .field("user_agent", &self.user_agent)
            .finish()
    }
}

impl MskIamConfig {
    /// Credentials from `provider`; the region from each broker's host name.
    pub fn new(provider: Arc<dyn AwsCredentialsProvider>) -> Self {
        Self {
            provider,
            region: None,
            user_agent: DEFAULT_USER_AGENT.to_owned(),
        }
    }

    /// The signing region to use when a broker's host name does not contain one (for
    /// example a private DNS alias), and for the OAUTHBEARER token.
    pub fn region(mut self, region: impl Into<String>) -> Self {
        self.region = Some(region.into());
        self
    }

    /// The `user-agent` in the signed payload (default [`DEFAULT_USER_AGENT`]).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The region for broker `host`: the one its name holds, else the configured one,
    /// else the environment's and the profile's (`AWS_REGION`, `AWS_DEFAULT_REGION`,
    /// `region` in the shared config file).
    pub(crate) fn region_for(&self, host: Option<&str>) -> Result<String, AwsCredentialsError> {
        host.and_then(region_from_host)
            .or_else(|| self.region.clone())
            .or_else(default_region)
            .ok_or_else(|| {
                AwsCredentialsError::new(format!(
                    "no AWS region: {} and none is configured (sasl.aws.region, AWS_REGION)",
                    match host {
                        Some(h) => format!("broker host {h:?} does not name one"),
                        None => "the token is not for one broker".to_owned(),
                    }
                ))
            })
    }

    /// The `AWS_MSK_IAM` SASL message this configuration sends to broker `host` (a host
    /// name, or `host:port`) with `credentials`, signed at time `at`. The client calls
    /// this at every connection with the provider's credentials and the current time;
    /// it is public for diagnostics and interoperability tests.
    pub fn signed_payload(
        &self,
        host: &str,
        credentials: &AwsCredentials,
        at: SystemTime,
    ) -> Result<Vec<u8>, AwsCredentialsError> {
        let host = msk::host_of(host);
        let region = self.region_for(Some(host))?;
        let input = msk::SigningInput {
            credentials,
            region: &region,
            user_agent: &self.user_agent,
            time: at,
        };
        Ok(msk::auth_payload(&input, host))
    }

    /// The OAUTHBEARER token [`MskIamTokenProvider`] sends, for `credentials` at time
    /// `at` (public for diagnostics and interoperability tests).
    pub fn signed_token(
        &self,
        credentials: &AwsCredentials,
        at: SystemTime,
    ) -> Result<String, AwsCredentialsError> {
        let region = self.region_for(None)?;
        let input = msk::SigningInput {
            credentials,
            region: &region,
            user_agent: &self.user_agent,
            time: at,
        };
        Ok(msk::oauth_token(&input))
    }

    /// The `AWS_MSK_IAM` message for broker `host`, signed now.
    pub(crate) async fn auth_payload(&self, host: &str) -> Result<Vec<u8>, TokenError> {
        self.region_for(Some(host))?;
        let credentials = self.provider.credentials().await?;
        Ok(self.signed_payload(host, &credentials, SystemTime::now())?)
    }
}

/// The region of the environment or the shared config file's profile.
fn default_region() -> Option<String> {
    credentials::env("AWS_REGION")
        .or_else(|| credentials::env("AWS_DEFAULT_REGION"))
        .or_else(|| {
            let name = credentials::profile_name(None);
            credentials::load_profile(&name, None, credentials::config_file())
                .ok()
                .flatten()
                .and_then(|p| p.get("region").map(str::to_owned))
        })
}

/// OAUTHBEARER tokens signed for MSK (Java: `IAMOAuthBearerLoginCallbackHandler`): a
/// presigned `kafka-cluster:Connect` URL for `kafka.<region>.amazonaws.com`, base64url,
/// valid 15 minutes.
///
/// ```no_run
/// use std::sync::Arc;
/// use kafka_client::aws::{DefaultCredentialsChain, MskIamConfig, MskIamTokenProvider};
/// use kafka_client::config::SaslConfig;
///
/// let iam = MskIamConfig::new(Arc::new(DefaultCredentialsChain::new())).region("eu-west-1");
/// let sasl = SaslConfig::oauthbearer(Arc::new(MskIamTokenProvider::new(iam)));
/// ```
#[derive(Debug, Clone)]
pub struct MskIamTokenProvider {
    config: MskIamConfig,
}

impl MskIamTokenProvider {
    /// Tokens for the configured region (else `AWS_REGION`, `AWS_DEFAULT_REGION`, the
    /// profile's `region`).
    pub fn new(config: MskIamConfig) -> Self {
        Self { config }
    }
}

impl TokenProvider for MskIamTokenProvider {
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken, TokenError>> {
        Box::pin(async move {
            self.config.region_for(None)?;
            let credentials = self.config.provider.credentials().await?;
            let now = SystemTime::now();
            let mut token = OAuthBearerToken::new(self.config.signed_token(&credentials, now)?);
            token.expires_at = Some(now + Duration::from_secs(msk::EXPIRES_SECS));
            Ok(token)
        })
    }
}
