//! OIDC token providers for `OAUTHBEARER` (feature `oidc`): [`OidcTokenProvider`] gets
//! tokens from an identity provider's token endpoint with the `client_credentials`
//! grant (KIP-768: client id and secret) or the JWT-bearer grant (KIP-1139: an
//! assertion signed with the client's private key), caches each until a random point
//! in the last 20-15 % of its life, and on failure keeps the still-valid token while
//! retrying with backoff.
//!
//! Select it with properties (`sasl.mechanism=OAUTHBEARER`,
//! `sasl.oauthbearer.method=oidc`, `sasl.oauthbearer.token.endpoint.url`, ...) or in
//! code:
//!
//! ```no_run
//! use std::sync::Arc;
//! use kafka_client::config::{OidcConfig, SaslConfig};
//! use kafka_client::oidc::OidcTokenProvider;
//!
//! let oidc = OidcConfig::client_credentials("https://idp.example.com/token", "app", "secret")
//!     .scope("kafka");
//! let provider = OidcTokenProvider::new(oidc)?;
//! let client = kafka_client::ClientBuilder::new("broker:9093")
//!     .sasl(SaslConfig::oauthbearer(Arc::new(provider)));
//! # Ok::<(), kafka_client::Error>(())
//! ```
//!
//! Errors are typed ([`OidcError`]) and never hold the secret, key or token.

mod assertion;
mod error;
mod http;
mod refresh;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use tokio::sync::Mutex;
use tokio::time::Instant;

pub use error::OidcError;

use crate::config::{OAuthBearerToken, OidcConfig, OidcGrant, Secret, TokenError, TokenProvider};
use crate::types::BoxFuture;
use refresh::{Next, Refresh};

const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// Tokens from an OIDC token endpoint, cached and refreshed before they expire. A
/// [`TokenProvider`]: give it to [`crate::config::SaslConfig::oauthbearer`].
pub struct OidcTokenProvider {
    config: OidcConfig,
    url: String,
    shown_url: String,
    http: reqwest::Client,
    signer: Option<assertion::Signer>,
    basic: Option<Secret>,
    state: Mutex<Refresh>,
    requests: AtomicU64,
    failed_requests: AtomicU64,
}

impl std::fmt::Debug for OidcTokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcTokenProvider")
            .field("token_endpoint", &self.shown_url)
            .field("grant", &self.config.grant)
            .field("client_id", &self.config.client_id)
            .finish_non_exhaustive()
    }
}

impl OidcTokenProvider {
    /// Checks `config`, loads the assertion key (if any) and sets up the HTTP client
    /// (rustls, built-in Mozilla roots). No request is made until the first token is
    /// needed.
    pub fn new(config: OidcConfig) -> crate::Result<Self> {
        config.validate()?;
        let url = config.token_endpoint_url.clone().unwrap_or_default();
        let shown_url = http::display_url(&url);
        let signer = match (&config.grant, &config.assertion_key, &config.assertion_file) {
            (OidcGrant::JwtBearer, Some(key), None) => Some(
                assertion::Signer::load(&config, key)
                    .map_err(|e| crate::Error::Config(e.to_string()))?,
            ),
            _ => None,
        };
        let basic = match (&config.grant, &config.client_id, &config.client_secret) {
            (OidcGrant::ClientCredentials, Some(id), Some(secret)) => {
                Some(http::basic_auth(id, secret))
            }
            _ => None,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(config.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| crate::Error::Config(format!("OIDC HTTP client: {e}")))?;
        let state = Mutex::new(Refresh::new(
            config.refresh_window_factor,
            config.refresh_window_jitter,
            config.retry_backoff,
            config.retry_backoff_max,
        ));
        Ok(Self {
            config,
            url,
            shown_url,
            http,
            signer,
            basic,
            state,
            requests: AtomicU64::new(0),
            failed_requests: AtomicU64::new(0),
        })
    }

    /// A valid token: the cached one while it is fresh, else a new one from the token
    /// endpoint (or, if that fails, the cached one while it has not expired).
    pub async fn get_token(&self) -> Result<OAuthBearerToken, OidcError> {
        let mut state = self.state.lock().await;
        match state.next(Instant::now()) {
            Next::Use(t) => Ok(t),
            Next::Fail(e) => Err(e),
            Next::Fetch => match self.request().await {
                Ok((token, lifetime)) => {
                    state.fetched(Instant::now(), token.clone(), lifetime);
                    Ok(token)
                }
                Err(e) => {
                    self.failed_requests.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(token_endpoint = %self.shown_url, error = %e,
                        failures = state.failures() + 1, "OIDC token request failed");
                    state.failed(Instant::now(), e)
                }
            },
        }
    }

    /// Token requests sent so far.
    pub fn token_requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Token requests that failed so far.
    pub fn failed_token_requests(&self) -> u64 {
        self.failed_requests.load(Ordering::Relaxed)
    }

    /// One token request; the token and how long it lives.
    async fn request(&self) -> Result<(OAuthBearerToken, Duration), OidcError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        let c = &self.config;
        let assertion = match (&c.grant, &self.signer, &c.assertion_file) {
            (OidcGrant::JwtBearer, _, Some(file)) => Some(Secret::new(
                std::fs::read_to_string(file)
                    .map_err(|e| OidcError::Config(format!("reading {}: {e}", file.display())))?
                    .trim()
                    .to_owned(),
            )),
            (OidcGrant::JwtBearer, Some(signer), None) => Some(signer.sign(SystemTime::now())?),
            _ => None,
        };
        let mut form: Vec<(&str, &str)> = Vec::new();
        match &assertion {
            Some(a) => {
                form.push(("grant_type", JWT_BEARER));
                form.push(("assertion", a.expose()));
            }
            None => form.push(("grant_type", "client_credentials")),
        }
        if let Some(scope) = &c.scope {
            form.push(("scope", scope));
        }
        let mut secrets = Vec::new();
        if let Some(s) = &c.client_secret {
            secrets.push(s.expose());
        }
        if let Some(a) = &assertion {
            secrets.push(a.expose());
        }
        let issued = http::request_token(
            &self.http,
            &self.url,
            self.basic.as_ref(),
            &form,
            &secrets,
            c.request_timeout,
        )
        .await?;
        let lifetime = issued
            .expires_at
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        tracing::debug!(token_endpoint = %self.shown_url, lifetime_s = lifetime.as_secs(),
            "OIDC token received");
        let token = OAuthBearerToken {
            value: issued.access_token,
            expires_at: Some(issued.expires_at),
            extensions: c.extensions.clone(),
        };
        Ok((token, lifetime))
    }
}

impl TokenProvider for OidcTokenProvider {
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken, TokenError>> {
        Box::pin(async move {
            self.get_token()
                .await
                .map_err(|e| Box::new(e) as TokenError)
        })
    }
}
