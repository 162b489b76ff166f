//! Security settings: the protocol (`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`),
//! TLS ([`TlsConfig`]) and SASL ([`SaslConfig`]), plus [`Secret`], the redacting
//! wrapper every password, token and private key travels in.
//!
//! The client reads only files it is explicitly pointed at (`ssl.ca.location`,
//! `ssl.certificate.location`, `ssl.key.location`, `ssl.crl.location`, PEM key/trust
//! stores), when the configuration is built (and again when they change, with
//! `ssl.reload.files`). It never follows a URL or a file named inside a JAAS string,
//! and "system roots" means the Mozilla root program compiled into the binary
//! (`webpki-roots`), not files of the operating system. (AWS MSK IAM's credential chain,
//! when used, reads the AWS variables and files by AWS's conventions: see `aws`.)

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::SystemTime;

use crate::types::BoxFuture;

use super::kerberos::{KerberosBuilder, KerberosConfig, KerberosCredentials};
use super::options::option_table;

use crate::error::{Error, Result};

/// A secret string (password, token, private key PEM). `Debug` prints `Secret(***)`;
/// there is no `Display`. Read it with [`Secret::expose`].
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    /// The secret itself. Do not log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the secret is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

/// How the client talks to brokers (`security.protocol`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SecurityProtocol {
    /// TCP, no authentication.
    #[default]
    Plaintext,
    /// TLS over TCP; with a client certificate, mutual TLS.
    Ssl,
    /// SASL authentication over plain TCP (credentials of PLAIN travel in clear).
    SaslPlaintext,
    /// SASL authentication over TLS.
    SaslSsl,
}

impl SecurityProtocol {
    /// Kafka's name: `PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL`.
    pub fn name(self) -> &'static str {
        match self {
            SecurityProtocol::Plaintext => "PLAINTEXT",
            SecurityProtocol::Ssl => "SSL",
            SecurityProtocol::SaslPlaintext => "SASL_PLAINTEXT",
            SecurityProtocol::SaslSsl => "SASL_SSL",
        }
    }

    /// Whether connections use TLS.
    pub fn uses_tls(self) -> bool {
        matches!(self, SecurityProtocol::Ssl | SecurityProtocol::SaslSsl)
    }

    /// Whether connections authenticate with SASL.
    pub fn uses_sasl(self) -> bool {
        matches!(
            self,
            SecurityProtocol::SaslPlaintext | SecurityProtocol::SaslSsl
        )
    }
}

impl fmt::Display for SecurityProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SecurityProtocol {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAINTEXT" => Ok(SecurityProtocol::Plaintext),
            "SSL" => Ok(SecurityProtocol::Ssl),
            "SASL_PLAINTEXT" => Ok(SecurityProtocol::SaslPlaintext),
            "SASL_SSL" => Ok(SecurityProtocol::SaslSsl),
            _ => Err(super::bad_value(
                "security.protocol",
                s,
                "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL",
            )),
        }
    }
}

/// PEM data: a file to read (once, at build), or the PEM text itself (kept as a
/// [`Secret`], since it may hold a private key).
#[derive(Clone, PartialEq, Eq)]
pub enum PemSource {
    /// A PEM file.
    File(PathBuf),
    /// PEM text.
    Inline(Secret),
}

impl fmt::Debug for PemSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemSource::File(p) => f.debug_tuple("File").field(p).finish(),
            PemSource::Inline(_) => f.write_str("Inline(***)"),
        }
    }
}

impl PemSource {
    /// Where the PEM comes from, for error messages (a path, or `in-memory PEM`).
    pub(crate) fn describe(&self) -> String {
        match self {
            PemSource::File(p) => p.display().to_string(),
            PemSource::Inline(_) => "in-memory PEM".to_owned(),
        }
    }
}

/// TLS settings: which CAs to trust, an optional client certificate (mutual TLS), and
/// whether the broker's certificate must name the host connected to.
///
/// Certificates are checked with rustls (crypto provider: `ring`); the host name (DNS
/// name or IP address) must appear in the certificate's subjectAltName.
///
/// ```
/// use kafka_client::config::TlsConfig;
/// let tls = TlsConfig::new()
///     .ca_file("/etc/kafka/ca.pem")
///     .client_cert_files("/etc/kafka/client.pem", "/etc/kafka/client.key");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsConfig {
    pub(crate) ca: Option<PemSource>,
    pub(crate) client_cert: Option<PemSource>,
    pub(crate) client_key: Option<PemSource>,
    pub(crate) verify_hostname: bool,
    /// Decrypts an `ENCRYPTED PRIVATE KEY` (PKCS#8).
    pub(crate) key_password: Option<Secret>,
    /// Certificate revocation lists checked against the broker's certificate.
    pub(crate) crl: Option<PemSource>,
    /// Re-read the named files when they change (at each new connection).
    pub(crate) reload_files: bool,
    /// The whole configuration comes from a callback, at each new connection.
    pub(crate) provider: Option<super::tls_reload::ProviderRef>,
}

impl Default for TlsConfig {
    fn default() -> Self {
        Self::new()
    }
}

impl TlsConfig {
    /// Trust the Mozilla root program (built in, no files read), check host names, no
    /// client certificate.
    pub fn new() -> Self {
        Self {
            ca: None,
            client_cert: None,
            client_key: None,
            verify_hostname: true,
            key_password: None,
            crl: None,
            reload_files: false,
            provider: None,
        }
    }

    /// Trust only the CA certificates in this PEM file (`ssl.ca.location`).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca = Some(PemSource::File(path.into()));
        self
    }

    /// Trust only the CA certificates in this PEM text (`ssl.ca.pem`).
    pub fn ca_pem(mut self, pem: impl Into<String>) -> Self {
        self.ca = Some(PemSource::Inline(Secret::new(pem)));
        self
    }

    /// Present the certificate chain and private key in these PEM files (mutual TLS).
    /// The key may be PKCS#8, PKCS#1 (RSA) or SEC1 (EC); an encrypted PKCS#8 key needs
    /// [`TlsConfig::client_key_password`]. Both may be the same file.
    pub fn client_cert_files(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.client_cert = Some(PemSource::File(cert.into()));
        self.client_key = Some(PemSource::File(key.into()));
        self
    }

    /// Present this certificate chain and private key, given as PEM text (mutual TLS).
    pub fn client_cert_pem(mut self, cert: impl Into<String>, key: impl Into<Secret>) -> Self {
        self.client_cert = Some(PemSource::Inline(Secret::new(cert)));
        self.client_key = Some(PemSource::Inline(key.into()));
        self
    }

    /// Whether the broker's certificate must name the host connected to
    /// (`ssl.endpoint.identification.algorithm=https`, the default). Turning this off
    /// still checks the chain, validity dates and key usage.
    pub fn verify_hostname(mut self, verify: bool) -> Self {
        self.verify_hostname = verify;
        self
    }

    /// The password of an encrypted PKCS#8 client key (`BEGIN ENCRYPTED PRIVATE KEY`,
    /// PBES2 with PBKDF2 or scrypt and AES-CBC, as `openssl pkcs8 -topk8 -v2 aes-256-cbc`
    /// writes it) (`ssl.key.password`).
    pub fn client_key_password(mut self, password: impl Into<Secret>) -> Self {
        self.key_password = Some(password.into());
        self
    }

    /// Refuse a broker certificate revoked by a CRL in this PEM file (`ssl.crl.location`;
    /// one or more `X509 CRL` blocks). The broker's certificate must then be covered by
    /// a CRL of its issuer: a certificate whose revocation status is unknown is refused.
    pub fn crl_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.crl = Some(PemSource::File(path.into()));
        self
    }

    /// Like [`TlsConfig::crl_file`], the CRLs given as PEM text.
    pub fn crl_pem(mut self, pem: impl Into<String>) -> Self {
        self.crl = Some(PemSource::Inline(Secret::new(pem)));
        self
    }

    /// Re-read the files named here (CA, client certificate and key, CRL) when they
    /// change: each new connection checks their modification times and sizes and, if
    /// any changed, loads them again; established connections keep the material they
    /// were made with. If the new files do not form a valid configuration (say, the
    /// certificate is rewritten before its key), the last good one stays in use and a
    /// warning is logged; the next connection tries again (`ssl.reload.files`).
    pub fn reload_files(mut self, reload: bool) -> Self {
        self.reload_files = reload;
        self
    }

    /// Take the TLS configuration from `provider` at each new connection (certificates
    /// from a secrets manager, say). What it returns is built like any `TlsConfig`
    /// (and cached while it returns an equal one); the settings of this `TlsConfig`
    /// other than the provider are not used.
    pub fn provider(mut self, provider: Arc<dyn super::TlsConfigProvider>) -> Self {
        self.provider = Some(super::tls_reload::ProviderRef(provider));
        self
    }
}

/// A SASL mechanism (`sasl.mechanism`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SaslMechanism {
    /// `PLAIN`: user name and password sent as they are (use over TLS).
    Plain,
    /// `SCRAM-SHA-256` (RFC 5802, RFC 7677).
    ScramSha256,
    /// `SCRAM-SHA-512`.
    ScramSha512,
    /// `OAUTHBEARER` (RFC 7628, KIP-255) with a token from a [`TokenProvider`].
    OAuthBearer,
    /// `AWS_MSK_IAM`: Amazon MSK's IAM authentication (cargo feature `aws-msk-iam`).
    AwsMskIam,
    /// `GSSAPI` (RFC 4752): Kerberos 5, see [`KerberosConfig`] (feature `gssapi`).
    Gssapi,
}

impl SaslMechanism {
    /// The mechanism's name on the wire.
    pub fn name(self) -> &'static str {
        match self {
            SaslMechanism::Plain => "PLAIN",
            SaslMechanism::ScramSha256 => "SCRAM-SHA-256",
            SaslMechanism::ScramSha512 => "SCRAM-SHA-512",
            SaslMechanism::OAuthBearer => "OAUTHBEARER",
            SaslMechanism::AwsMskIam => "AWS_MSK_IAM",
            SaslMechanism::Gssapi => "GSSAPI",
        }
    }
}

impl fmt::Display for SaslMechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SaslMechanism {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "PLAIN" => Ok(SaslMechanism::Plain),
            "SCRAM-SHA-256" => Ok(SaslMechanism::ScramSha256),
            "SCRAM-SHA-512" => Ok(SaslMechanism::ScramSha512),
            "OAUTHBEARER" => Ok(SaslMechanism::OAuthBearer),
            "AWS_MSK_IAM" if cfg!(feature = "aws-msk-iam") => Ok(SaslMechanism::AwsMskIam),
            "AWS_MSK_IAM" => Err(Error::Config(
                "sasl.mechanism AWS_MSK_IAM needs kafka-client's cargo feature `aws-msk-iam`"
                    .into(),
            )),
            "GSSAPI" => Ok(SaslMechanism::Gssapi),
            _ => Err(super::bad_value(
                "sasl.mechanism",
                s,
                "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER or GSSAPI",
            )),
        }
    }
}

/// An OAuth 2 bearer token for `OAUTHBEARER`, as a [`TokenProvider`] returns it.
#[derive(Clone, Debug)]
pub struct OAuthBearerToken {
    /// The token (a JWT, typically). Redacted in `Debug`.
    pub value: Secret,
    /// When the token expires, if known. (The broker bounds the SASL session by the
    /// token's own expiry and tells the client; the client re-authenticates on the same
    /// connection, fetching a new token, before the session ends.)
    pub expires_at: Option<SystemTime>,
    /// SASL extensions sent with the token (KIP-342), `key=value`.
    pub extensions: Vec<(String, String)>,
}

impl OAuthBearerToken {
    /// A token with no known expiry and no extensions.
    pub fn new(value: impl Into<Secret>) -> Self {
        Self {
            value: value.into(),
            expires_at: None,
            extensions: Vec::new(),
        }
    }
}

/// The error a [`TokenProvider`] returns.
pub type TokenError = Box<dyn std::error::Error + Send + Sync>;

/// Supplies tokens for `OAUTHBEARER`. Called for every new connection (and so for every
/// re-authentication), so an implementation should cache its token until shortly
/// before it expires.
///
/// ```
/// use kafka_client::config::{OAuthBearerToken, TokenError, TokenProvider};
/// use kafka_client::BoxFuture;
///
/// #[derive(Debug)]
/// struct Static(String);
///
/// impl TokenProvider for Static {
///     fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken, TokenError>> {
///         Box::pin(async move { Ok(OAuthBearerToken::new(self.0.clone())) })
///     }
/// }
/// ```
pub trait TokenProvider: Send + Sync + fmt::Debug {
    /// A currently valid token.
    fn token(&self) -> BoxFuture<'_, std::result::Result<OAuthBearerToken, TokenError>>;
}

/// The credentials a SASL mechanism needs.
#[derive(Clone)]
pub(crate) enum SaslCredentials {
    UserPassword {
        username: String,
        password: Secret,
        /// SCRAM with a delegation token (KIP-48): the user name is the token id, the
        /// password its HMAC, and the client-first message carries `tokenauth=true`.
        token_auth: bool,
    },
    Token(Arc<dyn TokenProvider>),
    #[cfg(feature = "aws-msk-iam")]
    AwsMskIam(crate::aws::MskIamConfig),
    Kerberos(Arc<KerberosCredentials>),
}

/// SASL settings: a mechanism and its credentials.
///
/// ```
/// use kafka_client::config::SaslConfig;
/// let sasl = SaslConfig::scram_sha512("alice", "alice-secret");
/// assert!(!format!("{sasl:?}").contains("alice-secret"));
/// ```
#[derive(Clone)]
pub struct SaslConfig {
    pub(crate) mechanism: SaslMechanism,
    pub(crate) credentials: SaslCredentials,
}

impl fmt::Debug for SaslConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("SaslConfig");
        d.field("mechanism", &self.mechanism);
        match &self.credentials {
            SaslCredentials::UserPassword {
                username,
                password,
                token_auth,
            } => d
                .field("username", username)
                .field("password", password)
                .field("token_auth", token_auth),
            SaslCredentials::Token(p) => d.field("token_provider", p),
            #[cfg(feature = "aws-msk-iam")]
            SaslCredentials::AwsMskIam(c) => d.field("aws_msk_iam", c),
            SaslCredentials::Kerberos(k) => d.field("kerberos", k),
        };
        d.finish()
    }
}

impl SaslConfig {
    /// `PLAIN` with a user name and password.
    pub fn plain(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::user_password(SaslMechanism::Plain, username, password)
    }

    /// `SCRAM-SHA-256` with a user name and password.
    pub fn scram_sha256(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::user_password(SaslMechanism::ScramSha256, username, password)
    }

    /// `SCRAM-SHA-512` with a user name and password.
    pub fn scram_sha512(username: impl Into<String>, password: impl Into<Secret>) -> Self {
        Self::user_password(SaslMechanism::ScramSha512, username, password)
    }

    /// `SCRAM-SHA-256` with a delegation token (KIP-48), as Java's `ScramLoginModule`
    /// with `tokenauth=true`: `token_id` is the token's id, `token_hmac` its HMAC in
    /// base64 (what `kafka-delegation-tokens --create` prints). The broker treats the
    /// connection as the token's owner.
    ///
    /// ```
    /// use kafka_client::config::SaslConfig;
    /// let sasl = SaslConfig::scram_sha256_token("0zRc8mWmQ4G5ZkT3yEoVBA", "aG1hYw==");
    /// assert!(sasl.is_delegation_token());
    /// assert!(!format!("{sasl:?}").contains("aG1hYw=="));
    /// ```
    pub fn scram_sha256_token(token_id: impl Into<String>, token_hmac: impl Into<Secret>) -> Self {
        Self::user_password(SaslMechanism::ScramSha256, token_id, token_hmac).with_token_auth()
    }

    /// `SCRAM-SHA-512` with a delegation token; see [`SaslConfig::scram_sha256_token`].
    pub fn scram_sha512_token(token_id: impl Into<String>, token_hmac: impl Into<Secret>) -> Self {
        Self::user_password(SaslMechanism::ScramSha512, token_id, token_hmac).with_token_auth()
    }

    /// Whether this authenticates with a delegation token (SCRAM, `tokenauth=true`).
    pub fn is_delegation_token(&self) -> bool {
        matches!(
            self.credentials,
            SaslCredentials::UserPassword {
                token_auth: true,
                ..
            }
        )
    }

    fn with_token_auth(mut self) -> Self {
        if let SaslCredentials::UserPassword { token_auth, .. } = &mut self.credentials {
            *token_auth = true;
        }
        self
    }

    /// `OAUTHBEARER` with tokens from `provider`.
    pub fn oauthbearer(provider: Arc<dyn TokenProvider>) -> Self {
        Self {
            mechanism: SaslMechanism::OAuthBearer,
            credentials: SaslCredentials::Token(provider),
        }
    }

    /// `AWS_MSK_IAM` (Amazon MSK): each connection signs a `kafka-cluster:Connect`
    /// request with credentials from `config`'s provider, for the broker's host and the
    /// region its name holds (cargo feature `aws-msk-iam`).
    #[cfg(feature = "aws-msk-iam")]
    pub fn aws_msk_iam(config: crate::aws::MskIamConfig) -> Self {
        Self {
            mechanism: SaslMechanism::AwsMskIam,
            credentials: SaslCredentials::AwsMskIam(config),
        }
    }

    /// `GSSAPI` (Kerberos) with these settings. Clones of the returned configuration
    /// share one ticket cache.
    pub fn gssapi(kerberos: KerberosConfig) -> Self {
        Self {
            mechanism: SaslMechanism::Gssapi,
            credentials: SaslCredentials::Kerberos(Arc::new(KerberosCredentials::new(kerberos))),
        }
    }

    /// A user name/password mechanism (`PLAIN` or `SCRAM-*`).
    fn user_password(
        mechanism: SaslMechanism,
        username: impl Into<String>,
        password: impl Into<Secret>,
    ) -> Self {
        Self {
            mechanism,
            credentials: SaslCredentials::UserPassword {
                username: username.into(),
                password: password.into(),
                token_auth: false,
            },
        }
    }

    /// The mechanism.
    pub fn mechanism(&self) -> SaslMechanism {
        self.mechanism
    }

    /// The user name, for user name/password mechanisms.
    pub fn username(&self) -> Option<&str> {
        match &self.credentials {
            SaslCredentials::UserPassword { username, .. } => Some(username),
            _ => None,
        }
    }

    /// The Kerberos client principal, for `GSSAPI`.
    pub fn kerberos_principal(&self) -> Option<&str> {
        match &self.credentials {
            SaslCredentials::Kerberos(k) => Some(k.config.principal_name()),
            _ => None,
        }
    }

    fn validate(&self) -> Result<()> {
        match (&self.credentials, self.mechanism) {
            (SaslCredentials::Token(_), SaslMechanism::OAuthBearer) => Ok(()),
            #[cfg(feature = "aws-msk-iam")]
            (SaslCredentials::AwsMskIam(_), SaslMechanism::AwsMskIam) => Ok(()),
            #[cfg(feature = "aws-msk-iam")]
            (SaslCredentials::AwsMskIam(_), m) => Err(Error::Config(format!(
                "MSK IAM credentials only work with AWS_MSK_IAM, not {m}"
            ))),
            (_, SaslMechanism::AwsMskIam) => Err(Error::Config(
                "sasl.mechanism AWS_MSK_IAM needs SaslConfig::aws_msk_iam (cargo feature \
                 `aws-msk-iam`)"
                    .into(),
            )),
            (SaslCredentials::Kerberos(k), SaslMechanism::Gssapi) => k.validate(),
            (SaslCredentials::Kerberos(_), m) => Err(Error::Config(format!(
                "Kerberos settings only work with GSSAPI, not {m}"
            ))),
            (_, SaslMechanism::Gssapi) => Err(Error::Config(
                "sasl.mechanism GSSAPI needs Kerberos settings: use SaslConfig::gssapi".into(),
            )),
            (SaslCredentials::UserPassword { .. }, SaslMechanism::OAuthBearer) => {
                Err(oauth_needs_provider())
            }
            (
                SaslCredentials::UserPassword {
                    token_auth: true, ..
                },
                SaslMechanism::Plain,
            ) => Err(Error::Config(
                "delegation-token authentication (tokenauth) needs SCRAM-SHA-256 or \
                     SCRAM-SHA-512, not PLAIN"
                    .into(),
            )),
            (
                SaslCredentials::UserPassword {
                    username, password, ..
                },
                m,
            ) => {
                if username.is_empty() {
                    return Err(Error::Config(format!("sasl.username is empty ({m})")));
                }
                if password.is_empty() {
                    return Err(Error::Config(format!("sasl.password is empty ({m})")));
                }
                Ok(())
            }
            (SaslCredentials::Token(_), m) => Err(Error::Config(format!(
                "a token provider only works with OAUTHBEARER, not {m}"
            ))),
        }
    }
}

/// `OAUTHBEARER` with tokens from the OIDC token endpoint (feature `oidc`).
fn oidc_sasl(oidc: super::OidcConfig) -> Result<SaslConfig> {
    #[cfg(feature = "oidc")]
    {
        let provider = crate::oidc::OidcTokenProvider::new(oidc)?;
        Ok(SaslConfig::oauthbearer(Arc::new(provider)))
    }
    #[cfg(not(feature = "oidc"))]
    {
        oidc.validate()?;
        Err(Error::Config(
            "sasl.oauthbearer.method=oidc needs kafka-client built with the `oidc` cargo \
             feature"
                .into(),
        ))
    }
}

fn oauth_needs_provider() -> Error {
    Error::Config(
        "sasl.mechanism OAUTHBEARER needs a token provider: use \
         ClientBuilder::sasl(SaslConfig::oauthbearer(provider)), or an OIDC token endpoint \
         (sasl.oauthbearer.method=oidc, sasl.oauthbearer.token.endpoint.url)"
            .into(),
    )
}

/// Validated security settings, part of [`crate::ClientConfig`].
#[derive(Clone, Default)]
pub(crate) struct SecurityConfig {
    pub(crate) protocol: SecurityProtocol,
    /// Set for `SSL` and `SASL_SSL`.
    pub(crate) tls: Option<Arc<super::tls_reload::TlsSource>>,
    pub(crate) tls_settings: Option<TlsConfig>,
    /// Set for `SASL_PLAINTEXT` and `SASL_SSL`.
    pub(crate) sasl: Option<SaslConfig>,
}

impl fmt::Debug for SecurityConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityConfig")
            .field("protocol", &self.protocol)
            .field("tls", &self.tls_settings)
            .field("sasl", &self.sasl)
            .finish()
    }
}

/// The security part of [`crate::ClientBuilder`]: raw settings, validated at build.
#[derive(Clone, Default)]
pub(crate) struct SecurityBuilder {
    pub(crate) protocol: Option<SecurityProtocol>,
    pub(crate) tls: Option<TlsConfig>,
    pub(crate) sasl: Option<SaslConfig>,
    /// From properties: a mechanism whose credentials come separately.
    pub(crate) mechanism: Option<SaslMechanism>,
    pub(crate) username: Option<String>,
    pub(crate) password: Option<Secret>,
    /// From properties: `sasl.scram.tokenauth` or a JAAS `tokenauth=true`.
    pub(crate) token_auth: bool,
    /// From properties: OAUTHBEARER tokens from an OIDC token endpoint.
    pub(crate) oidc: Option<super::OidcConfig>,
    /// From properties: `sasl.aws.*` (AWS MSK IAM).
    pub(crate) aws: super::aws_options::AwsSettings,
    /// From properties: the `sasl.kerberos.*` settings.
    pub(crate) kerberos: KerberosBuilder,
}

impl fmt::Debug for SecurityBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecurityBuilder")
            .field("protocol", &self.protocol)
            .field("tls", &self.tls)
            .field("sasl", &self.sasl)
            .field("mechanism", &self.mechanism)
            .field("username", &self.username)
            .field("password", &self.password)
            .field("token_auth", &self.token_auth)
            .field("oidc", &self.oidc)
            .field("aws", &self.aws)
            .field("kerberos", &self.kerberos)
            .finish()
    }
}

impl SecurityBuilder {
    fn tls_mut(&mut self) -> &mut TlsConfig {
        self.tls.get_or_insert_with(TlsConfig::new)
    }

    /// Validates the settings and loads the TLS material.
    pub(crate) fn build(self) -> Result<SecurityConfig> {
        let sasl = match (self.sasl, self.mechanism) {
            (Some(s), None) => Some(s),
            (Some(s), Some(m)) if s.mechanism == m => Some(s),
            (Some(s), Some(m)) => {
                return Err(Error::Config(format!(
                    "sasl.mechanism {m} conflicts with the SaslConfig given ({})",
                    s.mechanism
                )));
            }
            (None, Some(m)) if self.aws.sasl_for(m)?.is_some() => self.aws.sasl_for(m)?,
            (None, Some(SaslMechanism::OAuthBearer)) => match self.oidc {
                Some(oidc) => Some(oidc_sasl(oidc)?),
                None => return Err(oauth_needs_provider()),
            },
            (None, Some(SaslMechanism::Gssapi)) => {
                Some(SaslConfig::gssapi(self.kerberos.build(self.password)?))
            }
            (None, Some(m)) => {
                let username = self.username.ok_or_else(|| {
                    Error::Config(format!("sasl.mechanism {m} needs sasl.username"))
                })?;
                let password = self.password.ok_or_else(|| {
                    Error::Config(format!("sasl.mechanism {m} needs sasl.password"))
                })?;
                let sasl = SaslConfig::user_password(m, username, password);
                Some(if self.token_auth {
                    sasl.with_token_auth()
                } else {
                    sasl
                })
            }
            (None, None) => {
                if self.aws.is_set() {
                    return Err(Error::Config(
                        "sasl.aws.* settings given without sasl.mechanism (AWS_MSK_IAM, or \
                         OAUTHBEARER with sasl.aws.oauthbearer=true)"
                            .into(),
                    ));
                }
                if self.username.is_some() || self.password.is_some() || self.token_auth {
                    return Err(Error::Config(
                        "sasl.username/sasl.password/sasl.scram.tokenauth given without \
                         sasl.mechanism"
                            .into(),
                    ));
                }
                if self.kerberos.is_set() {
                    return Err(Error::Config(
                        "sasl.kerberos.* given without sasl.mechanism=GSSAPI".into(),
                    ));
                }
                None
            }
        };
        if let Some(s) = &sasl {
            s.validate()?;
        }
        let protocol = match self.protocol {
            Some(p) => p,
            None => match (self.tls.is_some(), sasl.is_some()) {
                (false, false) => SecurityProtocol::Plaintext,
                (true, false) => SecurityProtocol::Ssl,
                (false, true) => SecurityProtocol::SaslPlaintext,
                (true, true) => SecurityProtocol::SaslSsl,
            },
        };
        if protocol.uses_sasl() && sasl.is_none() {
            return Err(Error::Config(format!(
                "security.protocol={protocol} needs sasl.mechanism and credentials"
            )));
        }
        if !protocol.uses_sasl() && sasl.is_some() {
            return Err(Error::Config(format!(
                "SASL settings given but security.protocol={protocol}: use SASL_PLAINTEXT \
                 or SASL_SSL"
            )));
        }
        if !protocol.uses_tls() && self.tls.is_some() {
            return Err(Error::Config(format!(
                "TLS settings given but security.protocol={protocol}: use SSL or SASL_SSL"
            )));
        }
        let (tls, tls_settings) = if protocol.uses_tls() {
            let settings = self.tls.unwrap_or_default();
            let source = super::tls_reload::TlsSource::new(&settings)?;
            (Some(Arc::new(source)), Some(settings))
        } else {
            (None, None)
        };
        Ok(SecurityConfig {
            protocol,
            tls,
            tls_settings,
            sasl,
        })
    }
}

fn inline(v: String) -> PemSource {
    PemSource::Inline(Secret::new(v))
}

fn file(v: String) -> PemSource {
    PemSource::File(v.into())
}

fn only_pem(b: SecurityBuilder, key: &str, v: String) -> Result<SecurityBuilder> {
    if v.trim().eq_ignore_ascii_case("PEM") {
        Ok(b)
    } else {
        Err(super::bad_value(
            key,
            &v,
            "PEM (JKS and PKCS12 stores are not supported: convert them to PEM)",
        ))
    }
}

fn no_passwords(_: SecurityBuilder, key: &str, _: String) -> Result<SecurityBuilder> {
    // Never echo the value: it is a password.
    Err(Error::Config(format!(
        "{key} is not supported: password-protected key and trust stores cannot be \
         read; use PEM files (an encrypted PKCS#8 key takes ssl.key.password)"
    )))
}

fn hostname_check(mut b: SecurityBuilder, key: &str, v: String) -> Result<SecurityBuilder> {
    let verify = match v.trim().to_ascii_lowercase().as_str() {
        "https" => true,
        "" | "none" => false,
        _ => return Err(super::bad_value(key, &v, "https, none or the empty string")),
    };
    b.tls_mut().verify_hostname = verify;
    Ok(b)
}

option_table! {
    /// The security options (part of the client's).
    SECURITY_OPTIONS: SecurityBuilder {
        "security_protocol" "security.protocol" [] "inferred (PLAINTEXT)" "PLAINTEXT"
            "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL; when unset it follows from the TLS and SASL settings."
            => |mut b, _, v| { b.protocol = Some(v.parse()?); Ok(b) };
        "sasl" "sasl.mechanism" ["sasl.mechanisms"] "(none)" "PLAIN"
            "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER (token provider set in code) or GSSAPI (Kerberos, feature `gssapi`)."
            => |mut b, _, v| { b.mechanism = Some(v.parse()?); Ok(b) };
        "sasl" "sasl.username" [] "(none)" "alice"
            "SASL user name (PLAIN, SCRAM)."
            => |mut b, _, v| { b.username = Some(v); Ok(b) };
        "sasl" "sasl.password" [] "(none)" "secret"
            "SASL password (PLAIN, SCRAM; GSSAPI password login); kept in a `Secret`, never printed."
            => |mut b, _, v| { b.password = Some(Secret::new(v)); Ok(b) };
        "sasl" "sasl.jaas.config" [] "(none)" "org.apache.kafka.common.security.plain.PlainLoginModule required username=\"u\" password=\"p\";"
            "Java JAAS line: only PlainLoginModule and ScramLoginModule with username and password (and ScramLoginModule's `tokenauth`) are read."
            => |mut b, _, v| {
                let jaas = parse_jaas(&v)?;
                b.username = Some(jaas.username);
                b.password = Some(jaas.password);
                b.token_auth |= jaas.token_auth;
                Ok(b)
            };
        "sasl" "sasl.scram.tokenauth" [] "false" "true"
            "SCRAM with a delegation token (KIP-48): `sasl.username` is the token id, `sasl.password` its HMAC (base64); the client-first message carries `tokenauth=true`, like Java's `ScramLoginModule ... tokenauth=true`."
            => |mut b, k, v| { b.token_auth = super::parse_bool(k, &v)?; Ok(b) };
        "sasl" "sasl.kerberos.service.name" [] "kafka" "kafka"
            "GSSAPI: the brokers' Kerberos service name; tickets are asked for `<name>/<broker host>@REALM`."
            => |mut b, _, v| { b.kerberos.service_name = Some(v); Ok(b) };
        "sasl" "sasl.kerberos.principal" [] "(none)" "alice@EXAMPLE.COM"
            "GSSAPI: the client principal, `name[/instance][@REALM]`."
            => |mut b, _, v| { b.kerberos.principal = Some(v); Ok(b) };
        "sasl" "sasl.kerberos.keytab" [] "(none)" "/etc/kafka/alice.keytab"
            "GSSAPI: keytab file holding the principal's key (read at each login); without it, `sasl.password` is used."
            => |mut b, _, v| { b.kerberos.keytab = Some(v.into()); Ok(b) };
        "sasl" "sasl.kerberos.realm" [] "the principal's realm" "EXAMPLE.COM"
            "GSSAPI: the realm, when the principal does not name one."
            => |mut b, _, v| { b.kerberos.realm = Some(v); Ok(b) };
        "sasl" "sasl.kerberos.kdc" [] "(from krb5.conf)" "kdc1.example.com:88,kdc2.example.com"
            "GSSAPI: the realm's KDCs, comma-separated `host[:port]` (port 88 by default), tried in order over TCP."
            => |mut b, _, v| {
                b.kerberos.kdcs.extend(v.split(',').map(str::trim).filter(|k| !k.is_empty()).map(String::from));
                Ok(b)
            };
        "sasl" "sasl.kerberos.krb5.conf" [] "(none)" "/etc/krb5.conf"
            "GSSAPI: a krb5.conf to read `default_realm` and the realm's `kdc` lines from (read once, at build)."
            => |mut b, _, v| { b.kerberos.krb5_conf = Some(v.into()); Ok(b) };
        "tls" "ssl.ca.location" ["ssl.truststore.location"] "built-in Mozilla roots" "/etc/kafka/ca.pem"
            "PEM file of the CA certificates to trust."
            => |mut b, _, v| { b.tls_mut().ca = Some(file(v)); Ok(b) };
        "tls" "ssl.ca.pem" ["ssl.truststore.certificates"] "(none)" "-----BEGIN CERTIFICATE-----"
            "CA certificates as inline PEM."
            => |mut b, _, v| { b.tls_mut().ca = Some(inline(v)); Ok(b) };
        "tls" "ssl.certificate.location" [] "(none)" "/etc/kafka/client.pem"
            "PEM file of the client certificate chain (mutual TLS)."
            => |mut b, _, v| { b.tls_mut().client_cert = Some(file(v)); Ok(b) };
        "tls" "ssl.certificate.pem" ["ssl.keystore.certificate.chain"] "(none)" "-----BEGIN CERTIFICATE-----"
            "Client certificate chain as inline PEM."
            => |mut b, _, v| { b.tls_mut().client_cert = Some(inline(v)); Ok(b) };
        "tls" "ssl.key.location" [] "(none)" "/etc/kafka/client.key"
            "PEM file of the client's private key (PKCS#8, PKCS#1 or SEC1; PKCS#8 may be encrypted, see `ssl.key.password`)."
            => |mut b, _, v| { b.tls_mut().client_key = Some(file(v)); Ok(b) };
        "tls" "ssl.key.pem" ["ssl.keystore.key"] "(none)" "-----BEGIN PRIVATE KEY-----"
            "Client private key as inline PEM."
            => |mut b, _, v| { b.tls_mut().client_key = Some(inline(v)); Ok(b) };
        "tls" "ssl.keystore.location" [] "(none)" "/etc/kafka/client-all.pem"
            "One PEM file holding the client key and certificate chain."
            => |mut b, _, v| {
                let tls = b.tls_mut();
                tls.client_cert = Some(file(v.clone()));
                tls.client_key = Some(file(v));
                Ok(b)
            };
        "tls" "ssl.endpoint.identification.algorithm" [] "https" "https"
            "`https` checks the broker's host name against its certificate; empty or `none` disables only that check."
            => hostname_check;
        "tls" "ssl.crl.location" [] "(none)" "/etc/kafka/ca.crl.pem"
            "PEM file of certificate revocation lists: a broker certificate they revoke is refused (`CertificateRevoked`)."
            => |mut b, _, v| { b.tls_mut().crl = Some(file(v)); Ok(b) };
        "tls" "ssl.reload.files" [] "false" "true"
            "Re-read the CA, client certificate, key and CRL files when they change; new connections use the new material."
            => |mut b, k, v| { b.tls_mut().reload_files = super::parse_bool(k, &v)?; Ok(b) };
        "tls" "ssl.key.password" [] "(none)" "x"
            "Password of an encrypted PKCS#8 client key (`BEGIN ENCRYPTED PRIVATE KEY`); kept in a `Secret`."
            => |mut b, _, v| { b.tls_mut().key_password = Some(Secret::new(v)); Ok(b) };
        "tls" "ssl.truststore.type" ["ssl.keystore.type"] "PEM" "PEM"
            "Only PEM is supported (JKS and PKCS12 stores are rejected: convert them to PEM)."
            => only_pem;
        "-" "ssl.keystore.password" ["ssl.truststore.password"] "(unsupported)" "x"
            "Rejected: password-protected stores cannot be read; use PEM (an encrypted PKCS#8 key takes `ssl.key.password`)."
            => no_passwords;
    }
}

/// What a `sasl.jaas.config` line gives.
#[derive(Debug)]
struct Jaas {
    username: String,
    password: Secret,
    /// `ScramLoginModule ... tokenauth=true`: a delegation token.
    token_auth: bool,
}

/// Reads `username` and `password` out of a Java `sasl.jaas.config` for `PlainLoginModule`
/// or `ScramLoginModule` (and the latter's `tokenauth`). Other modules and options are
/// rejected: nothing named in the string (files, URLs, classes) is ever loaded, and no
/// value is echoed in errors.
fn parse_jaas(jaas: &str) -> Result<Jaas> {
    let err = |why: &str| Error::Config(format!("sasl.jaas.config: {why}"));
    let text = jaas.trim().trim_end_matches(';').trim();
    let (module, rest) = text
        .split_once(char::is_whitespace)
        .ok_or_else(|| err("expected `<LoginModule> required username=\"..\" password=\"..\";`"))?;
    let module_name = module.rsplit('.').next().unwrap_or(module);
    if !matches!(module_name, "PlainLoginModule" | "ScramLoginModule") {
        return Err(err(&format!(
            "login module {module} is not supported (PlainLoginModule or ScramLoginModule only)"
        )));
    }
    let rest = rest
        .trim_start()
        .strip_prefix("required")
        .ok_or_else(|| err("the login module must be `required`"))?;
    let (mut username, mut password, mut token_auth) = (None, None, false);
    let scram = module_name == "ScramLoginModule";
    let mut chars = rest.trim().chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && !c.is_whitespace())).collect();
        if chars.next() != Some('=') {
            return Err(err(&format!("option {key:?} has no value")));
        }
        let value: String = if chars.next_if_eq(&'"').is_some() {
            let mut v = String::new();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => v.extend(chars.next()),
                    Some(c) => v.push(c),
                    None => return Err(err(&format!("unterminated quote in option {key:?}"))),
                }
            }
            v
        } else {
            std::iter::from_fn(|| chars.next_if(|c| !c.is_whitespace())).collect()
        };
        match key.as_str() {
            "username" => username = Some(value),
            "password" => password = Some(Secret::new(value)),
            "tokenauth" if scram => token_auth = super::parse_bool("tokenauth", &value)?,
            other => return Err(err(&format!("option {other:?} is not supported"))),
        }
    }
    match (username, password) {
        (Some(username), Some(password)) => Ok(Jaas {
            username,
            password,
            token_auth,
        }),
        _ => Err(err("username and password are both required")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(s.expose(), "hunter2");
        let sasl = SaslConfig::plain("bob", "hunter2");
        let d = format!("{sasl:?}");
        assert!(d.contains("bob") && !d.contains("hunter2"), "{d}");
        let tls = TlsConfig::new().client_cert_pem("CERT", "-----BEGIN PRIVATE KEY-----xyz");
        let d = format!("{tls:?}");
        assert!(!d.contains("xyz") && !d.contains("CERT"), "{d}");
    }

    #[test]
    fn protocol_and_mechanism_names() {
        for p in ["plaintext", "SSL", "sasl_plaintext", "SASL_SSL"] {
            let parsed: SecurityProtocol = p.parse().unwrap();
            assert_eq!(parsed.name(), p.to_ascii_uppercase());
        }
        assert!("TLS".parse::<SecurityProtocol>().is_err());
        for m in ["PLAIN", "SCRAM-SHA-256", "scram-sha-512", "OAUTHBEARER"] {
            let parsed: SaslMechanism = m.parse().unwrap();
            assert_eq!(parsed.name(), m.to_ascii_uppercase());
        }
        assert_eq!(
            "gssapi".parse::<SaslMechanism>().unwrap(),
            SaslMechanism::Gssapi
        );
        assert!("KERBEROS".parse::<SaslMechanism>().is_err());
    }

    #[test]
    fn jaas_strings() {
        let j = parse_jaas(
            r#"org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="a \"q\" b";"#,
        )
        .unwrap();
        assert_eq!(
            (j.username.as_str(), j.password.expose(), j.token_auth),
            ("alice", "a \"q\" b", false)
        );
        let j = parse_jaas("PlainLoginModule required username=bob password=pw").unwrap();
        assert_eq!((j.username.as_str(), j.password.expose()), ("bob", "pw"));
        let j = parse_jaas(
            r#"ScramLoginModule required username="tok" password="hmac" tokenauth="true";"#,
        )
        .unwrap();
        assert!(j.token_auth);
        let e =
            parse_jaas(r#"PlainLoginModule required username="u" password="p" tokenauth=true;"#)
                .unwrap_err()
                .to_string();
        assert!(e.contains("\"tokenauth\""), "{e}");
        let e =
            parse_jaas(r#"ScramLoginModule required username="u" password="p" tokenauth=maybe;"#)
                .unwrap_err()
                .to_string();
        assert!(e.contains("tokenauth"), "{e}");
        let e = parse_jaas(
            r#"com.sun.security.auth.module.Krb5LoginModule required keyTab="/etc/k.keytab";"#,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("not supported"), "{e}");
        let e =
            parse_jaas(r#"PlainLoginModule required username="u" password="topsecret" file="/x";"#)
                .unwrap_err()
                .to_string();
        assert!(e.contains("\"file\"") && !e.contains("topsecret"), "{e}");
    }

    /// Delegation-token authentication from properties, and what it is refused with.
    #[test]
    fn delegation_token_settings() {
        let build = |pairs: &[(&str, &str)]| {
            let mut props: crate::config::Properties = pairs.iter().copied().collect();
            crate::ClientBuilder::new()
                .bootstrap_servers(["127.0.0.1:9092"])
                .apply_properties(&mut props)
                .and_then(|b| b.build_config())
                .map(|c| c.security.sasl)
        };
        let token = [
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "tokenid"),
            ("sasl.password", "hmac-secret"),
            ("sasl.scram.tokenauth", "true"),
        ];
        let sasl = build(&token).unwrap().unwrap();
        assert!(sasl.is_delegation_token());
        assert!(!format!("{sasl:?}").contains("hmac-secret"));
        let mut plain = token;
        plain[0].1 = "PLAIN";
        let e = build(&plain).unwrap_err().to_string();
        assert!(e.contains("tokenauth") && e.contains("PLAIN"), "{e}");
        let e = build(&[("sasl.scram.tokenauth", "true")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("without sasl.mechanism"), "{e}");
        let e = build(&[("sasl.scram.tokenauth", "yes")])
            .unwrap_err()
            .to_string();
        assert!(e.contains("true or false"), "{e}");
        assert!(!SaslConfig::scram_sha512("u", "p").is_delegation_token());
        assert!(SaslConfig::scram_sha256_token("id", "hmac").is_delegation_token());
    }

    #[test]
    fn protocol_inferred_and_checked() {
        let b = SecurityBuilder {
            sasl: Some(SaslConfig::plain("u", "p")),
            ..Default::default()
        };
        assert_eq!(b.build().unwrap().protocol, SecurityProtocol::SaslPlaintext);
        let b = SecurityBuilder {
            protocol: Some(SecurityProtocol::SaslSsl),
            ..Default::default()
        };
        let e = b.build().unwrap_err().to_string();
        assert!(e.contains("needs sasl.mechanism"), "{e}");
        let b = SecurityBuilder {
            protocol: Some(SecurityProtocol::Plaintext),
            tls: Some(TlsConfig::new()),
            ..Default::default()
        };
        assert!(b.build().is_err());
        let b = SecurityBuilder {
            protocol: Some(SecurityProtocol::Ssl),
            ..Default::default()
        };
        assert!(b.build().unwrap().tls.is_some(), "SSL with built-in roots");
    }

    #[test]
    fn properties_never_echo_secrets() {
        let mut p: crate::config::Properties = [
            ("security.protocol", "SASL_SSL"),
            ("sasl.mechanism", "SCRAM-SHA-512"),
            ("sasl.username", "alice"),
            ("sasl.password", "s3cr3t-pw"),
        ]
        .into_iter()
        .collect();
        let b = apply(&mut p).unwrap();
        assert!(!format!("{b:?}").contains("s3cr3t-pw"));
        let c = b.build().unwrap();
        assert!(!format!("{c:?}").contains("s3cr3t-pw"));
        assert_eq!(c.sasl.unwrap().mechanism, SaslMechanism::ScramSha512);

        let mut p: crate::config::Properties = [("ssl.keystore.password", "s3cr3t-pw")]
            .into_iter()
            .collect();
        let e = apply(&mut p).unwrap_err().to_string();
        assert!(
            e.contains("ssl.keystore.password") && !e.contains("s3cr3t-pw"),
            "{e}"
        );
        let mut p: crate::config::Properties =
            [("ssl.key.password", "s3cr3t-pw")].into_iter().collect();
        let b = apply(&mut p).unwrap();
        assert!(!format!("{b:?}").contains("s3cr3t-pw"));

        let mut p: crate::config::Properties =
            [("ssl.truststore.type", "JKS")].into_iter().collect();
        assert!(apply(&mut p).is_err());
    }

    fn apply(p: &mut crate::config::Properties) -> Result<SecurityBuilder> {
        crate::config::options::apply_options(SECURITY_OPTIONS, SecurityBuilder::default(), p)
    }
}
