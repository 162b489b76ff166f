//! Connection-level settings shared by every handle (client, producer, consumer, admin).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::cluster::MetadataRecoveryStrategy;
use crate::error::{Error, Result};

use super::options::{apply_options, option_table};
use super::properties::{parse_millis, parse_value};

/// A `host:port` pair: a DNS name, an IPv4 address, or a bracketed IPv6 address.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct BrokerAddress {
    /// Host name or IP literal (without brackets).
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl BrokerAddress {
    /// Creates an address from its parts.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
        }
    }
}

impl fmt::Display for BrokerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for BrokerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for BrokerAddress {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |why: &str| Error::Config(format!("bootstrap server {s:?}: {why}"));
        let s_trim = s.trim();
        if s_trim.is_empty() {
            return Err(bad("empty address"));
        }
        // Tolerate a scheme prefix as the Java client does ("PLAINTEXT://host:port").
        let rest = s_trim.split_once("://").map_or(s_trim, |(_, r)| r);
        let (host, port) = if let Some(after) = rest.strip_prefix('[') {
            let (host, tail) = after
                .split_once(']')
                .ok_or_else(|| bad("unclosed '[' in IPv6 address"))?;
            let port = tail
                .strip_prefix(':')
                .ok_or_else(|| bad("missing ':port'"))?;
            (host, port)
        } else {
            rest.rsplit_once(':')
                .ok_or_else(|| bad("missing ':port'"))?
        };
        if host.is_empty() {
            return Err(bad("empty host"));
        }
        if host.contains(':') && !rest.starts_with('[') {
            return Err(bad("IPv6 addresses must be bracketed, as in [::1]:9092"));
        }
        if host
            .chars()
            .any(|c| c.is_whitespace() || c == '/' || c == '@')
        {
            return Err(bad("invalid character in host"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("port is not a number in 1..=65535"))?;
        if port == 0 {
            return Err(bad("port 0 is not a valid broker port"));
        }
        Ok(BrokerAddress::new(host, port))
    }
}

/// Parses a comma-separated list (`"a:9092,b:9092"`), rejecting empty lists.
pub(crate) fn parse_bootstrap(list: &[String]) -> Result<Vec<BrokerAddress>> {
    let addrs = list
        .iter()
        .flat_map(|s| s.split(','))
        .filter(|s| !s.trim().is_empty())
        .map(BrokerAddress::from_str)
        .collect::<Result<Vec<_>>>()?;
    if addrs.is_empty() {
        return Err(Error::Config(
            "bootstrap.servers is empty: give at least one host:port".into(),
        ));
    }
    Ok(addrs)
}

/// Validated connection settings. Built by [`crate::ClientBuilder`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub(crate) bootstrap: Vec<BrokerAddress>,
    /// The bootstrap addresses are KRaft controllers (`bootstrap.controllers`, KIP-919).
    pub(crate) via_controllers: bool,
    pub(crate) client_id: String,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) api_timeout: Duration,
    pub(crate) metadata_max_age: Duration,
    pub(crate) reconnect_backoff: Duration,
    pub(crate) reconnect_backoff_max: Duration,
    pub(crate) retry_backoff: Duration,
    pub(crate) retry_backoff_max: Duration,
    pub(crate) max_response_size: usize,
    pub(crate) metadata_recovery: MetadataRecoveryStrategy,
    pub(crate) rebootstrap_trigger: Duration,
    pub(crate) enable_metrics_push: bool,
    pub(crate) security: super::SecurityConfig,
    pub(crate) hooks: Option<crate::observe::HooksRef>,
    pub(crate) dialer: Option<crate::net::Dialer>,
    /// Leader hints (KIP-951) are ignored: set only by `lowlevel::ignore_leader_hints`,
    /// to measure recovery without them.
    pub(crate) ignore_leader_hints: bool,
}

impl ClientConfig {
    /// The bootstrap servers (the controllers when [`ClientConfig::via_controllers`]).
    pub fn bootstrap_servers(&self) -> &[BrokerAddress] {
        &self.bootstrap
    }

    /// Whether the client talks to the KRaft controllers directly
    /// (`bootstrap.controllers`, KIP-919) rather than to brokers.
    pub fn via_controllers(&self) -> bool {
        self.via_controllers
    }
    /// The client id sent in every request header.
    pub fn client_id(&self) -> &str {
        &self.client_id
    }
    /// How long one request may wait for its response.
    pub fn request_timeout(&self) -> Duration {
        self.request_timeout
    }
    /// How long TCP connect plus the handshake may take.
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }
    /// How long an operation with retries (bootstrap, metadata, admin calls) may take.
    pub fn api_timeout(&self) -> Duration {
        self.api_timeout
    }
    /// Retry backoff for retriable errors: the first wait.
    pub fn retry_backoff(&self) -> Duration {
        self.retry_backoff
    }
    /// Retry backoff for retriable errors: the cap of the exponential growth.
    pub fn retry_backoff_max(&self) -> Duration {
        self.retry_backoff_max
    }
    /// Largest response frame accepted; a larger one is a protocol error.
    pub fn max_response_size(&self) -> usize {
        self.max_response_size
    }
    /// What the client does when no known broker answers (`metadata.recovery.strategy`).
    pub fn metadata_recovery_strategy(&self) -> MetadataRecoveryStrategy {
        self.metadata_recovery
    }
    /// How long known brokers may leave Metadata unanswered before the client
    /// rebootstraps (`metadata.recovery.rebootstrap.trigger.ms`).
    pub fn rebootstrap_trigger(&self) -> Duration {
        self.rebootstrap_trigger
    }
    /// Whether client telemetry is pushed (`enable.metrics.push`).
    pub fn metrics_push_enabled(&self) -> bool {
        self.enable_metrics_push
    }
    /// How connections are secured (`security.protocol`).
    pub fn security_protocol(&self) -> super::SecurityProtocol {
        self.security.protocol
    }
    /// The SASL mechanism, when the protocol uses SASL.
    pub fn sasl_mechanism(&self) -> Option<super::SaslMechanism> {
        self.security
            .sasl
            .as_ref()
            .map(super::SaslConfig::mechanism)
    }
}

/// Builds a [`crate::Client`]: set what you need, then [`ClientBuilder::build`] validates
/// everything at once.
#[derive(Clone, Debug)]
pub struct ClientBuilder {
    bootstrap: Vec<String>,
    bootstrap_controllers: Vec<String>,
    client_id: String,
    request_timeout: Duration,
    connect_timeout: Duration,
    api_timeout: Duration,
    metadata_max_age: Duration,
    reconnect_backoff: Duration,
    reconnect_backoff_max: Duration,
    retry_backoff: Duration,
    retry_backoff_max: Duration,
    max_response_size: usize,
    metadata_recovery: MetadataRecoveryStrategy,
    rebootstrap_trigger: Duration,
    enable_metrics_push: bool,
    security: super::SecurityBuilder,
    hooks: Option<crate::observe::HooksRef>,
    /// Set only by `lowlevel::with_dialer`.
    pub(crate) dialer: Option<crate::net::Dialer>,
    /// Set only by `lowlevel::ignore_leader_hints`.
    pub(crate) ignore_leader_hints: bool,
}

impl Default for ClientBuilder {
    fn default() -> Self {
        Self {
            bootstrap: Vec::new(),
            bootstrap_controllers: Vec::new(),
            client_id: "kafka-rs".into(),
            request_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(10),
            api_timeout: Duration::from_secs(60),
            metadata_max_age: Duration::from_secs(300),
            reconnect_backoff: Duration::from_millis(50),
            reconnect_backoff_max: Duration::from_secs(1),
            retry_backoff: Duration::from_millis(100),
            retry_backoff_max: Duration::from_secs(1),
            max_response_size: 100 * 1024 * 1024,
            metadata_recovery: MetadataRecoveryStrategy::Rebootstrap,
            rebootstrap_trigger: Duration::from_secs(300),
            enable_metrics_push: true,
            security: super::SecurityBuilder::default(),
            hooks: None,
            dialer: None,
            ignore_leader_hints: false,
        }
    }
}

impl ClientBuilder {
    /// A builder with the Java client's defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bootstrap servers: `host:port` strings; each may itself be a comma-separated list.
    pub fn bootstrap_servers<I, S>(mut self, servers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bootstrap = servers.into_iter().map(Into::into).collect();
        self
    }

    /// The KRaft controllers to talk to directly instead of brokers
    /// (`bootstrap.controllers`, KIP-919): `host:port` of their controller listeners. For
    /// the admin calls controllers answer (describe cluster, features, metadata quorum,
    /// configs); topic metadata, produce and fetch need [`ClientBuilder::bootstrap_servers`].
    /// Setting both is a configuration error.
    pub fn bootstrap_controllers<I, S>(mut self, controllers: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.bootstrap_controllers = controllers.into_iter().map(Into::into).collect();
        self
    }

    /// The client id sent with every request (`client.id`). Default `kafka-rs`.
    pub fn client_id(mut self, id: impl Into<String>) -> Self {
        self.client_id = id.into();
        self
    }

    /// How long one request may wait for its response (`request.timeout.ms`). Default 30 s.
    pub fn request_timeout(mut self, t: Duration) -> Self {
        self.request_timeout = t;
        self
    }

    /// How long a connection set-up may take (`socket.connection.setup.timeout.ms`).
    /// Default 10 s.
    pub fn connect_timeout(mut self, t: Duration) -> Self {
        self.connect_timeout = t;
        self
    }

    /// How long an operation with retries may take, bootstrap included
    /// (`default.api.timeout.ms`). Default 60 s.
    pub fn api_timeout(mut self, t: Duration) -> Self {
        self.api_timeout = t;
        self
    }

    /// Cached metadata older than this is refreshed before use (`metadata.max.age.ms`).
    /// Default 5 minutes.
    pub fn metadata_max_age(mut self, t: Duration) -> Self {
        self.metadata_max_age = t;
        self
    }

    /// Reconnect backoff: first wait and cap (`reconnect.backoff.ms`,
    /// `reconnect.backoff.max.ms`). Default 50 ms and 1 s.
    pub fn reconnect_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.reconnect_backoff = initial;
        self.reconnect_backoff_max = max;
        self
    }

    /// Retry backoff for retriable errors: first wait and cap (`retry.backoff.ms`,
    /// `retry.backoff.max.ms`). Default 100 ms and 1 s.
    pub fn retry_backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.retry_backoff = initial;
        self.retry_backoff_max = max;
        self
    }

    /// Largest response frame accepted (`receive.message.max.bytes`). Default 100 MiB.
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.max_response_size = bytes;
        self
    }

    /// What to do when no broker the client knows answers Metadata any more
    /// (`metadata.recovery.strategy`, KIP-899): [`MetadataRecoveryStrategy::Rebootstrap`]
    /// (the default) resolves and asks the bootstrap servers again;
    /// [`MetadataRecoveryStrategy::None`] keeps to the known brokers.
    pub fn metadata_recovery_strategy(mut self, strategy: MetadataRecoveryStrategy) -> Self {
        self.metadata_recovery = strategy;
        self
    }

    /// How long the known brokers may be reachable yet leave Metadata unanswered before
    /// the client rebootstraps (`metadata.recovery.rebootstrap.trigger.ms`, KIP-1102).
    /// Default 5 minutes.
    pub fn rebootstrap_trigger(mut self, t: Duration) -> Self {
        self.rebootstrap_trigger = t;
        self
    }

    /// Whether the client pushes its metrics to the cluster when the cluster subscribes
    /// to them (`enable.metrics.push`, KIP-714). Default on, as in the Java client; a
    /// cluster without a client-telemetry plugin receives nothing.
    pub fn enable_metrics_push(mut self, on: bool) -> Self {
        self.enable_metrics_push = on;
        self
    }

    /// How connections are secured (`security.protocol`). When not set, it follows from
    /// what is configured: [`ClientBuilder::tls`] gives `SSL`, [`ClientBuilder::sasl`]
    /// gives `SASL_PLAINTEXT`, both give `SASL_SSL`, neither `PLAINTEXT`. Set
    /// explicitly, it must agree with them (checked at build).
    pub fn security_protocol(mut self, protocol: super::SecurityProtocol) -> Self {
        self.security.protocol = Some(protocol);
        self
    }

    /// TLS settings: trusted CAs, client certificate (mutual TLS), host name checking.
    /// `SSL`/`SASL_SSL` without this trust the built-in Mozilla roots. PEM files named
    /// here are read once, by [`ClientBuilder::build`].
    pub fn tls(mut self, tls: super::TlsConfig) -> Self {
        self.security.tls = Some(tls);
        self
    }

    /// SASL mechanism and credentials (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`,
    /// `OAUTHBEARER`).
    pub fn sasl(mut self, sasl: super::SaslConfig) -> Self {
        self.security.mechanism = None;
        self.security.username = None;
        self.security.password = None;
        self.security.sasl = Some(sasl);
        self
    }

    /// Instrumentation callbacks ([`crate::observe::Hooks`]): connections, requests,
    /// batches produced and fetched, throttling. Default none.
    pub fn hooks(mut self, hooks: std::sync::Arc<dyn crate::observe::Hooks>) -> Self {
        self.hooks = Some(crate::observe::HooksRef(hooks));
        self
    }

    /// Takes the connection-level Java/librdkafka properties out of `props`:
    /// `bootstrap.servers`, `client.id`, `request.timeout.ms`,
    /// `socket.connection.setup.timeout.ms`, `default.api.timeout.ms`,
    /// `metadata.max.age.ms`, `reconnect.backoff.ms`, `reconnect.backoff.max.ms`,
    /// `retry.backoff.ms`, `retry.backoff.max.ms`, `receive.message.max.bytes`, and the
    /// security keys: `security.protocol`, `sasl.mechanism` (`sasl.mechanisms`),
    /// `sasl.username`, `sasl.password`, `sasl.jaas.config` (Plain/Scram login modules:
    /// user name and password only), `ssl.ca.location`, `ssl.ca.pem`,
    /// `ssl.certificate.location`, `ssl.certificate.pem`, `ssl.key.location`,
    /// `ssl.key.pem`, `ssl.endpoint.identification.algorithm`, and Java's PEM stores
    /// (`ssl.truststore.type=PEM`, `ssl.truststore.location`,
    /// `ssl.truststore.certificates`, `ssl.keystore.type=PEM`, `ssl.keystore.location`,
    /// `ssl.keystore.key`, `ssl.keystore.certificate.chain`), and the OIDC keys of
    /// OAUTHBEARER (`sasl.oauthbearer.method`, `sasl.oauthbearer.token.endpoint.url`,
    /// `sasl.oauthbearer.client.credentials.*`, `sasl.oauthbearer.assertion.*`, ...).
    /// Producer and consumer builders call this, then take their own keys.
    pub fn apply_properties(self, props: &mut super::Properties) -> Result<Self> {
        let mut b = apply_options(CLIENT_OPTIONS, self, props)?;
        b.security = apply_options(super::security::SECURITY_OPTIONS, b.security, props)?;
        b.security = apply_options(super::OIDC_OPTIONS, b.security, props)?;
        b.security = apply_options(super::aws_options::AWS_OPTIONS, b.security, props)?;
        Ok(b)
    }

    /// Validates the settings into a [`ClientConfig`].
    pub fn build_config(self) -> Result<ClientConfig> {
        let (bootstrap, via_controllers) = match (
            self.bootstrap.is_empty(),
            self.bootstrap_controllers.is_empty(),
        ) {
            (false, false) => {
                return Err(Error::Config(
                    "bootstrap.servers and bootstrap.controllers are both set: give one \
                     (brokers, or the KRaft controllers, KIP-919)"
                        .into(),
                ));
            }
            (true, false) => (parse_bootstrap(&self.bootstrap_controllers)?, true),
            _ => (parse_bootstrap(&self.bootstrap)?, false),
        };
        let positive = |name: &str, d: Duration| {
            if d.is_zero() {
                Err(Error::Config(format!("{name} must be greater than zero")))
            } else {
                Ok(d)
            }
        };
        positive("request.timeout", self.request_timeout)?;
        positive("connect.timeout", self.connect_timeout)?;
        positive("api.timeout", self.api_timeout)?;
        positive(
            "metadata.recovery.rebootstrap.trigger",
            self.rebootstrap_trigger,
        )?;
        if self.reconnect_backoff > self.reconnect_backoff_max {
            return Err(Error::Config(
                "reconnect.backoff must not exceed reconnect.backoff.max".into(),
            ));
        }
        if self.retry_backoff > self.retry_backoff_max {
            return Err(Error::Config(
                "retry.backoff must not exceed retry.backoff.max".into(),
            ));
        }
        if self.max_response_size < 1024 || self.max_response_size > i32::MAX as usize {
            return Err(Error::Config(format!(
                "max response size {} is outside 1024..={}",
                self.max_response_size,
                i32::MAX
            )));
        }
        if self.client_id.len() > i16::MAX as usize {
            return Err(Error::Config("client.id is longer than 32767 bytes".into()));
        }
        let security = self.security.build()?;
        Ok(ClientConfig {
            security,
            bootstrap,
            via_controllers,
            client_id: self.client_id,
            request_timeout: self.request_timeout,
            connect_timeout: self.connect_timeout,
            api_timeout: self.api_timeout,
            metadata_max_age: self.metadata_max_age,
            reconnect_backoff: self.reconnect_backoff,
            reconnect_backoff_max: self.reconnect_backoff_max,
            retry_backoff: self.retry_backoff,
            retry_backoff_max: self.retry_backoff_max,
            max_response_size: self.max_response_size,
            metadata_recovery: self.metadata_recovery,
            rebootstrap_trigger: self.rebootstrap_trigger,
            enable_metrics_push: self.enable_metrics_push,
            hooks: self.hooks,
            dialer: self.dialer,
            ignore_leader_hints: self.ignore_leader_hints,
        })
    }

    /// Validates the settings and creates the client. No connection is made yet: the
    /// first request bootstraps (see [`crate::Client::metadata`]).
    pub fn build(self) -> Result<crate::Client> {
        Ok(crate::Client::new(self.build_config()?))
    }
}

option_table! {
    /// The client's options (the security ones are `SECURITY_OPTIONS`).
    CLIENT_OPTIONS: ClientBuilder {
        "bootstrap_servers" "bootstrap.servers" [] "(required)" "127.0.0.1:9092"
            "Comma-separated `host:port` list used for the first metadata request; IPv6 in brackets."
            => |mut b, _, v| { b.bootstrap = vec![v]; Ok(b) };
        "bootstrap_controllers" "bootstrap.controllers" [] "(none)" "127.0.0.1:9093"
            "Comma-separated `host:port` list of KRaft controller listeners to talk to directly instead of brokers (KIP-919; admin calls the controllers answer). Excludes `bootstrap.servers`."
            => |mut b, _, v| { b.bootstrap_controllers = vec![v]; Ok(b) };
        "client_id" "client.id" [] "kafka-rs (producer: kafka-rs-producer)" "app-1"
            "Client id sent in every request header (broker logs and quotas)."
            => |b, _, v| Ok(b.client_id(v));
        "request_timeout" "request.timeout.ms" [] "30000" "15000"
            "How long one request may wait for its response; a timeout closes the connection."
            => |b, k, v| Ok(b.request_timeout(parse_millis(k, &v)?));
        "connect_timeout" "socket.connection.setup.timeout.ms" [] "10000" "5000"
            "How long TCP connect, TLS, ApiVersions and SASL together may take."
            => |b, k, v| Ok(b.connect_timeout(parse_millis(k, &v)?));
        "api_timeout" "default.api.timeout.ms" [] "60000" "30000"
            "How long an operation with retries (bootstrap, metadata, admin calls, commits) may take."
            => |b, k, v| Ok(b.api_timeout(parse_millis(k, &v)?));
        "metadata_max_age" "metadata.max.age.ms" [] "300000" "60000"
            "Cached metadata older than this is refreshed before use."
            => |b, k, v| Ok(b.metadata_max_age(parse_millis(k, &v)?));
        "reconnect_backoff" "reconnect.backoff.ms" [] "50" "100"
            "First wait before reconnecting to a broker after a failure; doubles per failure, with jitter."
            => |mut b, k, v| { b.reconnect_backoff = parse_millis(k, &v)?; Ok(b) };
        "reconnect_backoff" "reconnect.backoff.max.ms" [] "1000" "2000"
            "Cap of the reconnect backoff."
            => |mut b, k, v| { b.reconnect_backoff_max = parse_millis(k, &v)?; Ok(b) };
        "retry_backoff" "retry.backoff.ms" [] "100" "200"
            "First wait before retrying after a retriable error; doubles per attempt, with jitter."
            => |mut b, k, v| { b.retry_backoff = parse_millis(k, &v)?; Ok(b) };
        "retry_backoff" "retry.backoff.max.ms" [] "1000" "2000"
            "Cap of the retry backoff."
            => |mut b, k, v| { b.retry_backoff_max = parse_millis(k, &v)?; Ok(b) };
        "max_response_size" "receive.message.max.bytes" [] "104857600" "1048576"
            "Largest response frame accepted; a larger one is a protocol error (closes the connection)."
            => |b, k, v| Ok(b.max_response_size(parse_value(k, &v)?));
        "metadata_recovery_strategy" "metadata.recovery.strategy" [] "rebootstrap" "none"
            "When no known broker answers Metadata (all unreachable, or silent for the trigger below, or REBOOTSTRAP_REQUIRED): `rebootstrap` resolves and asks `bootstrap.servers` again (KIP-899); `none` keeps to the known brokers."
            => |b, k, v| Ok(b.metadata_recovery_strategy(
                v.parse().map_err(|_| crate::config::bad_value(k, &v, "rebootstrap or none"))?));
        "rebootstrap_trigger" "metadata.recovery.rebootstrap.trigger.ms" [] "300000" "60000"
            "How long reachable known brokers may leave Metadata unanswered before the client rebootstraps (KIP-1102)."
            => |b, k, v| Ok(b.rebootstrap_trigger(parse_millis(k, &v)?));
        "enable_metrics_push" "enable.metrics.push" [] "true" "false"
            "Push this client's metrics to the cluster when it subscribes to them (KIP-714 client telemetry: GetTelemetrySubscriptions, PushTelemetry, a terminating push on close)."
            => |b, k, v| Ok(b.enable_metrics_push(super::properties::parse_bool(k, &v)?));
    }
}

option_table! {
    /// Client options only the builder sets (documentation rows).
    #[cfg(test)]
    CLIENT_CODE_OPTIONS: ClientBuilder {
        "hooks" "-" [] "(none)" ""
            "Instrumentation callbacks (`observe::Hooks`): connections, requests, batches, throttling.";
    }
}

/// Exponential backoff with ±20 % jitter: `initial * 2^attempt`, capped at `max`.
pub(crate) fn backoff(initial: Duration, max: Duration, attempt: u32) -> Duration {
    let base = initial.saturating_mul(1u32 << attempt.min(16)).min(max);
    let jitter = 0.8 + fastrand::f64() * 0.4;
    base.mul_f64(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_controllers_exclude_bootstrap_servers() {
        let c = ClientBuilder::new()
            .bootstrap_controllers(["127.0.0.1:9093"])
            .build_config()
            .unwrap();
        assert!(c.via_controllers());
        let c = ClientBuilder::new()
            .bootstrap_servers(["127.0.0.1:9092"])
            .build_config()
            .unwrap();
        assert!(!c.via_controllers());
        let e = ClientBuilder::new()
            .bootstrap_servers(["127.0.0.1:9092"])
            .bootstrap_controllers(["127.0.0.1:9093"])
            .build_config()
            .unwrap_err()
            .to_string();
        assert!(e.contains("both set"), "{e}");
    }

    #[test]
    fn parses_addresses() {
        let a: BrokerAddress = "localhost:9092".parse().unwrap();
        assert_eq!((a.host.as_str(), a.port), ("localhost", 9092));
        let a: BrokerAddress = "[::1]:19092".parse().unwrap();
        assert_eq!((a.host.as_str(), a.port), ("::1", 19092));
        assert_eq!(a.to_string(), "[::1]:19092");
        let a: BrokerAddress = "PLAINTEXT://10.0.0.1:9093".parse().unwrap();
        assert_eq!(a.to_string(), "10.0.0.1:9093");
    }

    #[test]
    fn rejects_bad_addresses_naming_them() {
        for bad in [
            "localhost",
            "host:port",
            "host:70000",
            ":9092",
            "::1:9092",
            "h:0",
            "a b:1",
        ] {
            let err = bad.parse::<BrokerAddress>().unwrap_err().to_string();
            assert!(err.contains(bad), "{bad}: {err}");
        }
    }

    #[test]
    fn rejects_empty_bootstrap() {
        let err = ClientBuilder::new().build_config().unwrap_err();
        assert!(
            matches!(err, Error::Config(ref m) if m.contains("empty")),
            "{err}"
        );
        let err = ClientBuilder::new()
            .bootstrap_servers([" , "])
            .build_config()
            .unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{err}");
    }

    #[test]
    fn comma_separated_lists_split() {
        let c = ClientBuilder::new()
            .bootstrap_servers(["a:1,b:2", "c:3"])
            .build_config()
            .unwrap();
        assert_eq!(c.bootstrap.len(), 3);
    }

    #[test]
    fn properties_apply_and_name_bad_values() {
        let mut p: crate::config::Properties = [
            ("bootstrap.servers", "a:1,b:2"),
            ("request.timeout.ms", "1500"),
            ("acks", "all"),
        ]
        .into_iter()
        .collect();
        let c = ClientBuilder::new()
            .apply_properties(&mut p)
            .unwrap()
            .build_config()
            .unwrap();
        assert_eq!(c.bootstrap.len(), 2);
        assert_eq!(c.request_timeout, Duration::from_millis(1500));
        assert_eq!(
            p.take("acks").as_deref(),
            Some("all"),
            "unknown keys are left for the caller"
        );
        let mut p: crate::config::Properties = [("retry.backoff.ms", "-1")].into_iter().collect();
        let err = ClientBuilder::new()
            .apply_properties(&mut p)
            .unwrap_err()
            .to_string();
        assert!(err.contains("retry.backoff.ms"), "{err}");
    }

    #[test]
    fn backoff_grows_and_caps() {
        let (i, m) = (Duration::from_millis(100), Duration::from_secs(1));
        assert!(backoff(i, m, 0) <= Duration::from_millis(120));
        assert!(backoff(i, m, 10) <= Duration::from_millis(1200));
        assert!(backoff(i, m, 10) >= Duration::from_millis(800));
    }
}
