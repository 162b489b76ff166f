//! OIDC settings for `OAUTHBEARER` (KIP-768 client credentials, KIP-1139 JWT bearer):
//! [`OidcConfig`], the data the `oidc` feature's token provider
//! (`kafka_client::oidc::OidcTokenProvider`) is built from, and the option rows that
//! fill it from properties ([`OIDC_OPTIONS`]). Always compiled, so the properties are
//! recognised (and refused with a clear message) in a build without the feature.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use super::options::option_table;
use super::security::{PemSource, Secret, SecurityBuilder};
use crate::error::{Error, Result};

/// How the client gets its token from the identity provider's token endpoint.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OidcGrant {
    /// `grant_type=client_credentials` (RFC 6749 §4.4): client id and secret sent with
    /// HTTP Basic authentication (KIP-768).
    #[default]
    ClientCredentials,
    /// `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1): the
    /// client signs a JWT assertion with its private key (KIP-1139).
    JwtBearer,
}

/// The signing algorithm of a JWT-bearer assertion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum AssertionAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (an RSA key, PKCS#8 or PKCS#1 PEM).
    #[default]
    Rs256,
    /// ECDSA P-256 with SHA-256 (an EC P-256 key, PKCS#8 PEM).
    Es256,
}

impl AssertionAlgorithm {
    /// The JOSE name (`RS256`, `ES256`).
    pub fn name(self) -> &'static str {
        match self {
            AssertionAlgorithm::Rs256 => "RS256",
            AssertionAlgorithm::Es256 => "ES256",
        }
    }
}

/// Where the token provider gets its tokens and how it keeps them fresh. Build it in
/// code or from properties (`sasl.oauthbearer.method=oidc` and the
/// `sasl.oauthbearer.*` keys of `docs/configuration.md`).
///
/// ```
/// use kafka_client::config::OidcConfig;
/// let oidc = OidcConfig::client_credentials("https://idp.example.com/token", "app", "s3cret")
///     .scope("kafka");
/// assert!(!format!("{oidc:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq)]
pub struct OidcConfig {
    pub(crate) token_endpoint_url: Option<String>,
    pub(crate) grant: OidcGrant,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<Secret>,
    pub(crate) scope: Option<String>,
    pub(crate) extensions: Vec<(String, String)>,
    pub(crate) assertion_algorithm: AssertionAlgorithm,
    pub(crate) assertion_key: Option<PemSource>,
    /// A ready-made assertion, re-read for every token request.
    pub(crate) assertion_file: Option<PathBuf>,
    pub(crate) claim_iss: Option<String>,
    pub(crate) claim_sub: Option<String>,
    pub(crate) claim_aud: Option<String>,
    pub(crate) claim_exp: Duration,
    pub(crate) claim_nbf: Duration,
    pub(crate) claim_jti: bool,
    pub(crate) refresh_window_factor: f64,
    pub(crate) refresh_window_jitter: f64,
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) request_timeout: Duration,
}

impl Default for OidcConfig {
    fn default() -> Self {
        Self {
            token_endpoint_url: None,
            grant: OidcGrant::ClientCredentials,
            client_id: None,
            client_secret: None,
            scope: None,
            extensions: Vec::new(),
            assertion_algorithm: AssertionAlgorithm::Rs256,
            assertion_key: None,
            assertion_file: None,
            claim_iss: None,
            claim_sub: None,
            claim_aud: None,
            claim_exp: Duration::from_secs(300),
            claim_nbf: Duration::from_secs(60),
            claim_jti: false,
            refresh_window_factor: 0.8,
            refresh_window_jitter: 0.05,
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(10),
            request_timeout: Duration::from_secs(10),
        }
    }
}

impl fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfig")
            .field("token_endpoint_url", &self.token_endpoint_url)
            .field("grant", &self.grant)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("scope", &self.scope)
            .field("assertion_algorithm", &self.assertion_algorithm)
            .field("assertion_key", &self.assertion_key)
            .field("claim_sub", &self.claim_sub)
            .finish_non_exhaustive()
    }
}

impl OidcConfig {
    /// The `client_credentials` grant at `token_endpoint_url`, authenticating as
    /// `client_id` with `client_secret` (`sasl.oauthbearer.token.endpoint.url`,
    /// `sasl.oauthbearer.client.credentials.client.id` and `.client.secret`).
    pub fn client_credentials(
        token_endpoint_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: impl Into<Secret>,
    ) -> Self {
        Self {
            token_endpoint_url: Some(token_endpoint_url.into()),
            client_id: Some(client_id.into()),
            client_secret: Some(client_secret.into()),
            ..Self::default()
        }
    }

    /// The JWT-bearer grant at `token_endpoint_url`: each token request carries a JWT
    /// signed (RS256 unless [`assertion_algorithm`](Self::assertion_algorithm) says
    /// otherwise) with `private_key`, claiming `sub` = `subject`, `iss` = `issuer` and
    /// `aud` = `audience`.
    pub fn jwt_bearer(
        token_endpoint_url: impl Into<String>,
        private_key: PemSource,
        issuer: impl Into<String>,
        subject: impl Into<String>,
        audience: impl Into<String>,
    ) -> Self {
        Self {
            token_endpoint_url: Some(token_endpoint_url.into()),
            grant: OidcGrant::JwtBearer,
            assertion_key: Some(private_key),
            claim_iss: Some(issuer.into()),
            claim_sub: Some(subject.into()),
            claim_aud: Some(audience.into()),
            ..Self::default()
        }
    }

    /// The `scope` asked for (`sasl.oauthbearer.scope`).
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// SASL extensions sent with every token (KIP-342).
    pub fn extension(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extensions.push((key.into(), value.into()));
        self
    }

    /// The assertion's signing algorithm (`sasl.oauthbearer.assertion.algorithm`).
    pub fn assertion_algorithm(mut self, algorithm: AssertionAlgorithm) -> Self {
        self.assertion_algorithm = algorithm;
        self
    }

    /// How long an assertion is valid (`exp` - `iat`, default 300 s).
    pub fn assertion_lifetime(mut self, lifetime: Duration) -> Self {
        self.claim_exp = lifetime;
        self
    }

    /// Refresh a token once this fraction of its lifetime has passed (default 0.8),
    /// plus a random part of up to `jitter` (default 0.05) of the lifetime
    /// (`sasl.login.refresh.window.factor`, `sasl.login.refresh.window.jitter`).
    pub fn refresh_window(mut self, factor: f64, jitter: f64) -> Self {
        self.refresh_window_factor = factor;
        self.refresh_window_jitter = jitter;
        self
    }

    /// After a failed token request, wait `initial` (doubling up to `max`) before the
    /// next (`sasl.login.retry.backoff.ms`, `sasl.login.retry.backoff.max.ms`).
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_backoff = initial;
        self.retry_backoff_max = max;
        self
    }

    /// Limit on one token request, connection included (default 10 s).
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Checks what the provider needs, naming the missing or wrong setting.
    pub(crate) fn validate(&self) -> Result<()> {
        let err = |m: String| Err(Error::Config(format!("OAUTHBEARER with OIDC: {m}")));
        let Some(url) = &self.token_endpoint_url else {
            return err("sasl.oauthbearer.token.endpoint.url is not set".into());
        };
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return err("sasl.oauthbearer.token.endpoint.url must be an http(s) URL".into());
        }
        match self.grant {
            OidcGrant::ClientCredentials => {
                if self.client_id.as_deref().is_none_or(str::is_empty) {
                    return err("sasl.oauthbearer.client.credentials.client.id is not set".into());
                }
                if self.client_secret.as_ref().is_none_or(Secret::is_empty) {
                    return err(
                        "sasl.oauthbearer.client.credentials.client.secret is not set".into(),
                    );
                }
            }
            OidcGrant::JwtBearer => {
                if self.assertion_file.is_none() {
                    if self.assertion_key.is_none() {
                        return err("the JWT-bearer grant needs \
                             sasl.oauthbearer.assertion.private.key.file (or \
                             sasl.oauthbearer.assertion.file)"
                            .into());
                    }
                    if self.claim_sub.is_none() || self.claim_iss.is_none() {
                        return err("the JWT-bearer grant needs \
                             sasl.oauthbearer.assertion.claim.sub and .claim.iss"
                            .into());
                    }
                }
            }
        }
        if !(0.5..=1.0).contains(&self.refresh_window_factor)
            || !(0.0..=0.25).contains(&self.refresh_window_jitter)
        {
            return err("sasl.login.refresh.window.factor must be in 0.5..=1.0 and \
                 sasl.login.refresh.window.jitter in 0..=0.25"
                .into());
        }
        Ok(())
    }
}

fn oidc(b: &mut SecurityBuilder) -> &mut OidcConfig {
    b.oidc.get_or_insert_with(OidcConfig::default)
}

fn millis(key: &str, v: &str) -> Result<Duration> {
    v.trim()
        .parse::<u64>()
        .map(Duration::from_millis)
        .map_err(|_| super::bad_value(key, v, "a number of milliseconds"))
}

fn seconds(key: &str, v: &str) -> Result<Duration> {
    v.trim()
        .parse::<u64>()
        .map(Duration::from_secs)
        .map_err(|_| super::bad_value(key, v, "a number of seconds"))
}

fn fraction(key: &str, v: &str) -> Result<f64> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .ok_or_else(|| super::bad_value(key, v, "a decimal fraction such as 0.8"))
}

fn method(mut b: SecurityBuilder, key: &str, v: String) -> Result<SecurityBuilder> {
    match v.trim().to_ascii_lowercase().as_str() {
        "oidc" => {
            oidc(&mut b);
        }
        "default" => b.oidc = None,
        _ => return Err(super::bad_value(key, &v, "oidc or default")),
    }
    Ok(b)
}

fn grant(mut b: SecurityBuilder, key: &str, v: String) -> Result<SecurityBuilder> {
    let name = v.trim();
    let class = name.rsplit('.').next().unwrap_or(name);
    oidc(&mut b).grant = match (name, class) {
        ("client_credentials", _) | (_, "ClientCredentialsJwtRetriever") => {
            OidcGrant::ClientCredentials
        }
        ("urn:ietf:params:oauth:grant-type:jwt-bearer", _) | (_, "JwtBearerJwtRetriever") => {
            OidcGrant::JwtBearer
        }
        _ => {
            return Err(super::bad_value(
                key,
                &v,
                "client_credentials or urn:ietf:params:oauth:grant-type:jwt-bearer \
                 (ClientCredentialsJwtRetriever or JwtBearerJwtRetriever)",
            ));
        }
    };
    Ok(b)
}

fn login_handler(mut b: SecurityBuilder, key: &str, v: String) -> Result<SecurityBuilder> {
    if v.trim().ends_with("OAuthBearerLoginCallbackHandler") {
        oidc(&mut b);
        Ok(b)
    } else {
        Err(super::bad_value(
            key,
            &v,
            "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler \
             (other classes cannot be loaded)",
        ))
    }
}

fn extensions(mut b: SecurityBuilder, key: &str, v: String) -> Result<SecurityBuilder> {
    let mut out = Vec::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, val) = pair
            .split_once('=')
            .ok_or_else(|| super::bad_value(key, pair, "key=value pairs, comma-separated"))?;
        out.push((k.trim().to_owned(), val.trim().to_owned()));
    }
    oidc(&mut b).extensions = out;
    Ok(b)
}

fn algorithm(mut b: SecurityBuilder, key: &str, v: String) -> Result<SecurityBuilder> {
    oidc(&mut b).assertion_algorithm = match v.trim().to_ascii_uppercase().as_str() {
        "RS256" => AssertionAlgorithm::Rs256,
        "ES256" => AssertionAlgorithm::Es256,
        _ => return Err(super::bad_value(key, &v, "RS256 or ES256")),
    };
    Ok(b)
}

fn no_passphrase(_: SecurityBuilder, key: &str, _: String) -> Result<SecurityBuilder> {
    // Never echo the value: it is a password.
    Err(Error::Config(format!(
        "{key} is not supported: give the assertion key as an unencrypted PEM"
    )))
}

fn flag(key: &str, v: &str) -> Result<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(super::bad_value(key, v, "true or false")),
    }
}

option_table! {
    /// The OIDC options of `OAUTHBEARER` (part of the client's security options).
    OIDC_OPTIONS: SecurityBuilder {
        "sasl" "sasl.oauthbearer.method" [] "default" "oidc"
            "`oidc`: OAUTHBEARER tokens come from the token endpoint below (feature `oidc`); `default`: from the token provider set in code."
            => method;
        "-" "sasl.login.callback.handler.class" [] "(none)" "org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginCallbackHandler"
            "Java's way to select OIDC: only `OAuthBearerLoginCallbackHandler` is accepted (same as `sasl.oauthbearer.method=oidc`)."
            => login_handler;
        "sasl" "sasl.oauthbearer.token.endpoint.url" [] "(none)" "https://idp.example.com/oauth2/token"
            "The identity provider's token endpoint (KIP-768); setting it selects OIDC."
            => |mut b, _, v| { oidc(&mut b).token_endpoint_url = Some(v); Ok(b) };
        "sasl" "sasl.oauthbearer.grant.type" ["sasl.oauthbearer.jwt.retriever.class"] "client_credentials" "client_credentials"
            "`client_credentials` or `urn:ietf:params:oauth:grant-type:jwt-bearer` (Java: `ClientCredentialsJwtRetriever` or `JwtBearerJwtRetriever`)."
            => grant;
        "sasl" "sasl.oauthbearer.client.credentials.client.id" ["sasl.oauthbearer.client.id"] "(none)" "kafka-app"
            "OAuth client id (client credentials grant; HTTP Basic authentication)."
            => |mut b, _, v| { oidc(&mut b).client_id = Some(v); Ok(b) };
        "sasl" "sasl.oauthbearer.client.credentials.client.secret" ["sasl.oauthbearer.client.secret"] "(none)" "secret"
            "OAuth client secret; kept in a `Secret`, never printed."
            => |mut b, _, v| { oidc(&mut b).client_secret = Some(Secret::new(v)); Ok(b) };
        "sasl" "sasl.oauthbearer.scope" [] "(none)" "kafka"
            "The `scope` asked for, if any."
            => |mut b, _, v| { oidc(&mut b).scope = Some(v); Ok(b) };
        "sasl" "sasl.oauthbearer.extensions" [] "(none)" "traceId=42,logicalCluster=lkc-1"
            "SASL extensions (KIP-342) sent with the token: `key=value`, comma-separated."
            => extensions;
        "sasl" "sasl.oauthbearer.assertion.algorithm" [] "RS256" "RS256"
            "JWT-bearer grant: `RS256` (RSA key) or `ES256` (EC P-256 key)."
            => algorithm;
        "sasl" "sasl.oauthbearer.assertion.private.key.file" [] "(none)" "/etc/kafka/assertion-key.pem"
            "JWT-bearer grant: PEM file of the signing key (PKCS#8; RSA also PKCS#1), read once at build."
            => |mut b, _, v| { oidc(&mut b).assertion_key = Some(PemSource::File(v.into())); Ok(b) };
        "sasl" "sasl.oauthbearer.assertion.private.key.pem" [] "(none)" "-----BEGIN PRIVATE KEY-----"
            "JWT-bearer grant: the signing key as inline PEM."
            => |mut b, _, v| { oidc(&mut b).assertion_key = Some(PemSource::Inline(Secret::new(v))); Ok(b) };
        "-" "sasl.oauthbearer.assertion.private.key.passphrase" [] "(unsupported)" "x"
            "Rejected: encrypted assertion keys cannot be read."
            => no_passphrase;
        "sasl" "sasl.oauthbearer.assertion.file" [] "(none)" "/run/secrets/assertion.jwt"
            "JWT-bearer grant: a ready-made assertion, re-read for every token request (instead of signing one)."
            => |mut b, _, v| { oidc(&mut b).assertion_file = Some(v.into()); Ok(b) };
        "sasl" "sasl.oauthbearer.assertion.claim.iss" ["sasl.oauthbearer.assertion.claim.issuer"] "(none)" "kafka-app"
            "JWT-bearer grant: the assertion's `iss`."
            => |mut b, _, v| { oidc(&mut b).claim_iss = Some(v); Ok(b) };
        "sasl" "sasl.oauthbearer.assertion.claim.sub" ["sasl.oauthbearer.assertion.claim.subject"] "(none)" "kafka-app"
            "JWT-bearer grant: the assertion's `sub`."
            => |mut b, _, v| { oidc(&mut b).claim_sub = Some(v); Ok(b) };
        "sasl" "sasl.oauthbearer.assertion.claim.aud" ["sasl.oauthbearer.assertion.claim.audience"] "(none)" "https://idp.example.com"
            "JWT-bearer grant: the assertion's `aud` (usually the identity provider)."
            => |mut b, _, v| { oidc(&mut b).claim_aud = Some(v); Ok(b) };
        "sasl" "sasl.oauthbearer.assertion.claim.exp.seconds" ["sasl.oauthbearer.assertion.claim.expiration.seconds"] "300" "300"
            "JWT-bearer grant: assertion lifetime (`exp` - `iat`)."
            => |mut b, k, v| { oidc(&mut b).claim_exp = seconds(k, &v)?; Ok(b) };
        "sasl" "sasl.oauthbearer.assertion.claim.nbf.seconds" ["sasl.oauthbearer.assertion.claim.not.before.seconds"] "60" "60"
            "JWT-bearer grant: `nbf` this long before `iat`."
            => |mut b, k, v| { oidc(&mut b).claim_nbf = seconds(k, &v)?; Ok(b) };
        "sasl" "sasl.oauthbearer.assertion.claim.jti.include" [] "false" "true"
            "JWT-bearer grant: add a random `jti`."
            => |mut b, k, v| { oidc(&mut b).claim_jti = flag(k, &v)?; Ok(b) };
        "sasl" "sasl.login.refresh.window.factor" [] "0.8" "0.8"
            "OIDC: refresh a token once this fraction of its lifetime has passed."
            => |mut b, k, v| { oidc(&mut b).refresh_window_factor = fraction(k, &v)?; Ok(b) };
        "sasl" "sasl.login.refresh.window.jitter" [] "0.05" "0.05"
            "OIDC: plus a random part of up to this fraction of the lifetime."
            => |mut b, k, v| { oidc(&mut b).refresh_window_jitter = fraction(k, &v)?; Ok(b) };
        "sasl" "sasl.login.retry.backoff.ms" [] "100" "100"
            "OIDC: wait after a failed token request (doubling, with jitter)."
            => |mut b, k, v| { oidc(&mut b).retry_backoff = millis(k, &v)?; Ok(b) };
        "sasl" "sasl.login.retry.backoff.max.ms" [] "10000" "10000"
            "OIDC: the longest wait between failed token requests."
            => |mut b, k, v| { oidc(&mut b).retry_backoff_max = millis(k, &v)?; Ok(b) };
        "sasl" "sasl.login.read.timeout.ms" ["sasl.login.connect.timeout.ms"] "10000" "10000"
            "OIDC: limit on one token request, connection included."
            => |mut b, k, v| { oidc(&mut b).request_timeout = millis(k, &v)?; Ok(b) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(pairs: &[(&str, &str)]) -> Result<SecurityBuilder> {
        let mut p: crate::config::Properties = pairs.iter().copied().collect();
        crate::config::options::apply_options(OIDC_OPTIONS, SecurityBuilder::default(), &mut p)
    }

    #[test]
    fn java_and_librdkafka_names_fill_one_config() {
        let java = apply(&[
            ("sasl.oauthbearer.token.endpoint.url", "http://idp/token"),
            ("sasl.oauthbearer.client.credentials.client.id", "app"),
            (
                "sasl.oauthbearer.client.credentials.client.secret",
                "pw-123",
            ),
            ("sasl.oauthbearer.scope", "kafka"),
        ])
        .unwrap();
        let rdkafka = apply(&[
            ("sasl.oauthbearer.method", "OIDC"),
            ("sasl.oauthbearer.token.endpoint.url", "http://idp/token"),
            ("sasl.oauthbearer.client.id", "app"),
            ("sasl.oauthbearer.client.secret", "pw-123"),
            ("sasl.oauthbearer.scope", "kafka"),
        ])
        .unwrap();
        assert_eq!(java.oidc, rdkafka.oidc);
        let c = java.oidc.unwrap();
        c.validate().unwrap();
        assert!(!format!("{c:?}").contains("pw-123"));
    }

    #[test]
    fn missing_or_wrong_settings_are_named() {
        let b = apply(&[("sasl.oauthbearer.method", "oidc")]).unwrap();
        let e = b.oidc.unwrap().validate().unwrap_err().to_string();
        assert!(e.contains("token.endpoint.url"), "{e}");
        let b = apply(&[
            ("sasl.oauthbearer.token.endpoint.url", "http://idp/token"),
            (
                "sasl.oauthbearer.grant.type",
                "urn:ietf:params:oauth:grant-type:jwt-bearer",
            ),
        ])
        .unwrap();
        let e = b.oidc.unwrap().validate().unwrap_err().to_string();
        assert!(e.contains("private.key.file"), "{e}");
        let e = apply(&[(
            "sasl.oauthbearer.assertion.private.key.passphrase",
            "hunter2",
        )])
        .unwrap_err()
        .to_string();
        assert!(!e.contains("hunter2"), "{e}");
        assert!(apply(&[("sasl.oauthbearer.grant.type", "password")]).is_err());
        let b = apply(&[(
            "sasl.oauthbearer.jwt.retriever.class",
            "org.apache.kafka.common.security.oauthbearer.JwtBearerJwtRetriever",
        )])
        .unwrap();
        assert_eq!(b.oidc.unwrap().grant, OidcGrant::JwtBearer);
    }
}
