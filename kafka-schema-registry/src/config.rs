//! [`RegistryConfig`]: where the registry is and how to talk to it.

use std::time::Duration;

use crate::{Error, Result};

/// How the client authenticates.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// No `Authorization` header.
    None,
    /// HTTP basic auth (Confluent Cloud: an API key and secret).
    Basic {
        /// The user (API key).
        username: String,
        /// The password (API secret).
        password: String,
    },
    /// `Authorization: Bearer <token>` (an OAuth access token).
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::None => f.write_str("None"),
            Auth::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// The client's configuration; build a [`SchemaRegistryClient`](crate::SchemaRegistryClient)
/// with [`RegistryConfig::build`].
///
/// ```
/// use std::time::Duration;
/// use kafka_schema_registry::RegistryConfig;
///
/// let client = RegistryConfig::new("https://registry.example:8081")
///     .basic_auth("key", "secret")
///     .request_timeout(Duration::from_secs(5))
///     .max_retries(2)
///     .cache_capacity(500)
///     .build()?;
/// # Ok::<(), kafka_schema_registry::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct RegistryConfig {
    pub(crate) urls: Vec<String>,
    pub(crate) auth: Auth,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) max_retries: u32,
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) cache_capacity: usize,
    pub(crate) root_certificates_pem: Vec<Vec<u8>>,
    pub(crate) identity_pem: Option<Vec<u8>>,
}

impl RegistryConfig {
    /// A registry at `url` (`http://` or `https://`); several URLs separated by commas
    /// are tried in turn when one fails.
    pub fn new(url: impl AsRef<str>) -> Self {
        RegistryConfig {
            urls: url
                .as_ref()
                .split(',')
                .map(|u| u.trim().trim_end_matches('/').to_owned())
                .filter(|u| !u.is_empty())
                .collect(),
            auth: Auth::None,
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            max_retries: 3,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(5),
            cache_capacity: 1000,
            root_certificates_pem: Vec::new(),
            identity_pem: None,
        }
    }

    /// HTTP basic auth.
    pub fn basic_auth(mut self, username: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Auth::Basic {
            username: username.into(),
            password: password.into(),
        };
        self
    }

    /// A bearer token.
    pub fn bearer_token(mut self, token: impl Into<String>) -> Self {
        self.auth = Auth::Bearer(token.into());
        self
    }

    /// Sets the authentication.
    pub fn auth(mut self, auth: Auth) -> Self {
        self.auth = auth;
        self
    }

    /// Time for one request, connecting included (default 30 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Time to connect (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Retries after a 5xx answer, a 429, a connection failure or a timeout (default 3).
    /// 4xx answers are not retried.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The first retry's wait, doubled per retry with jitter up to `max` (default 100 ms
    /// up to 5 s).
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_backoff = initial;
        self.retry_backoff_max = max.max(initial);
        self
    }

    /// Entries per cache (ids by schema, schemas by id, versions); 0 disables caching
    /// (default 1000).
    pub fn cache_capacity(mut self, entries: usize) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// Trusts this PEM certificate (or bundle) besides the built-in web roots.
    pub fn root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates_pem.push(pem.into());
        self
    }

    /// A client certificate and its private key, both PEM in one buffer (mutual TLS).
    pub fn identity_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.identity_pem = Some(pem.into());
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<crate::SchemaRegistryClient> {
        crate::SchemaRegistryClient::new(self)
    }

    pub(crate) fn validate(&self) -> Result<()> {
        if self.urls.is_empty() {
            return Err(Error::Config("no registry URL".into()));
        }
        for url in &self.urls {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::Config(format!(
                    "registry URL {url:?} is neither http:// nor https://"
                )));
            }
        }
        Ok(())
    }
}
