//! One request to the registry: URL building, auth, retries with backoff, and turning
//! the registry's error bodies into [`Error::Registry`].

use std::time::Duration;

use base64::Engine as _;
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::{Auth, RegistryConfig};
use crate::{Error, Result};

const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";
const ACCEPT: &str =
    "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json, application/json";

#[derive(Debug)]
pub(crate) struct Transport {
    http: reqwest::Client,
    urls: Vec<Url>,
    authorization: Option<String>,
    timeout: Duration,
    max_retries: u32,
    backoff: Duration,
    backoff_max: Duration,
}

/// A request: method, path segments (each percent-encoded) and query pairs.
pub(crate) struct Request<'a, B> {
    pub method: Method,
    pub path: &'a [&'a str],
    pub query: &'a [(&'a str, &'a str)],
    pub body: Option<&'a B>,
}

impl Transport {
    pub(crate) fn new(config: &RegistryConfig) -> Result<Self> {
        config.validate()?;
        let urls = config
            .urls
            .iter()
            .map(|u| Url::parse(u).map_err(|e| Error::Config(format!("bad URL {u:?}: {e}"))))
            .collect::<Result<Vec<_>>>()?;
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(config.request_timeout)
            .connect_timeout(config.connect_timeout)
            // No idle connections: the serdes call the client from synchronous code, which
            // may run each call on its own short-lived runtime, and a pooled connection
            // belongs to the runtime that opened it. Requests are rare (cache misses).
            .pool_max_idle_per_host(0);
        for pem in &config.root_certificates_pem {
            for cert in reqwest::Certificate::from_pem_bundle(pem)
                .map_err(|e| Error::Config(format!("bad root certificate: {e}")))?
            {
                builder = builder.add_root_certificate(cert);
            }
        }
        if let Some(pem) = &config.identity_pem {
            let identity = reqwest::Identity::from_pem(pem)
                .map_err(|e| Error::Config(format!("bad client identity: {e}")))?;
            builder = builder.identity(identity);
        }
        let http = builder
            .build()
            .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
        let authorization = match &config.auth {
            Auth::None => None,
            Auth::Basic { username, password } => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )),
            Auth::Bearer(token) => Some(format!("Bearer {token}")),
        };
        Ok(Transport {
            http,
            urls,
            authorization,
            timeout: config.request_timeout,
            max_retries: config.max_retries,
            backoff: config.retry_backoff,
            backoff_max: config.retry_backoff_max,
        })
    }

    fn url(&self, attempt: u32, path: &[&str], query: &[(&str, &str)]) -> Url {
        let mut url = self.urls[attempt as usize % self.urls.len()].clone();
        if let Ok(mut segments) = url.path_segments_mut() {
            segments.pop_if_empty();
            segments.extend(path);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    fn backoff(&self, retry: u32) -> Duration {
        let base = self
            .backoff
            .saturating_mul(1u32 << retry.min(16))
            .min(self.backoff_max);
        // Jitter: 50-100 % of the exponential wait.
        base.mul_f64(0.5 + fastrand::f64() / 2.0)
    }

    /// Sends the request, retrying 5xx / 429 answers and transport failures.
    pub(crate) async fn send<B: Serialize, T: DeserializeOwned>(
        &self,
        request: Request<'_, B>,
    ) -> Result<T> {
        let mut attempt = 0;
        loop {
            let url = self.url(attempt, request.path, request.query);
            let outcome = self.once(&request, url.clone()).await;
            let retriable = match &outcome {
                Ok(_) => false,
                Err(Error::Registry { status, .. }) => *status >= 500 || *status == 429,
                Err(Error::Http { .. } | Error::Timeout { .. }) => true,
                Err(_) => false,
            };
            if !retriable || attempt >= self.max_retries {
                return match outcome {
                    Err(Error::Http { url, source, .. }) => Err(Error::Http {
                        url,
                        attempts: attempt + 1,
                        source,
                    }),
                    other => other,
                };
            }
            tokio::time::sleep(self.backoff(attempt)).await;
            attempt += 1;
        }
    }

    async fn once<B: Serialize, T: DeserializeOwned>(
        &self,
        request: &Request<'_, B>,
        url: Url,
    ) -> Result<T> {
        let mut builder = self
            .http
            .request(request.method.clone(), url.clone())
            .header(reqwest::header::ACCEPT, ACCEPT);
        if let Some(auth) = &self.authorization {
            builder = builder.header(reqwest::header::AUTHORIZATION, auth);
        }
        if let Some(body) = request.body {
            let json = serde_json::to_vec(body).map_err(|e| Error::Decode {
                url: url.to_string(),
                message: format!("cannot encode the request: {e}"),
            })?;
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
                .body(json);
        }
        let transport = |source: reqwest::Error| {
            if source.is_timeout() {
                Error::Timeout {
                    url: url.to_string(),
                    timeout: self.timeout,
                }
            } else {
                Error::Http {
                    url: url.to_string(),
                    attempts: 1,
                    source,
                }
            }
        };
        let response = builder.send().await.map_err(transport)?;
        let status = response.status();
        let body = response.bytes().await.map_err(transport)?;
        if !status.is_success() {
            return Err(registry_error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| Error::Decode {
            url: url.to_string(),
            message: format!(
                "{e}: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            ),
        })
    }
}

fn registry_error(status: StatusCode, body: &[u8]) -> Error {
    #[derive(serde::Deserialize)]
    struct Body {
        error_code: Option<i32>,
        message: Option<String>,
    }
    let parsed: Option<Body> = serde_json::from_slice(body).ok();
    let (code, message) = match parsed {
        Some(Body {
            error_code,
            message,
        }) => (error_code, message),
        None => (None, None),
    };
    Error::Registry {
        status: status.as_u16(),
        error_code: code.unwrap_or(i32::from(status.as_u16())),
        message: message
            .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned()),
    }
}
