//! Cluster settings ([`ClusterConfig`]) and rendering of each node's `server.properties`
//! (the logging configuration is in `log_config.rs`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::version::KafkaVersion;

/// Environment variable overriding the broker heap (`1g`, `768m` or `-Xmx1g`).
pub const HEAP_ENV: &str = "KAFKA_TESTBED_HEAP";

/// How to build a cluster; see [`crate::KafkaCluster::start`].
///
/// `extra_properties` values may use these placeholders, replaced per node:
/// `{node_id}`, `{client_port}`, `{controller_port}`, `{node_dir}` and `{port.NAME}` for
/// every NAME in `extra_ports` (a free port picked for each node). Example: an extra
/// SASL listener on every node of a 3-node cluster:
///
/// ```no_run
/// # use kafka_testbed::ClusterConfig;
/// let config = ClusterConfig::new(3)
///     .with_extra_port("sasl")
///     .with_property(
///         "listeners",
///         "PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port},\
///          SASL_PLAINTEXT://127.0.0.1:{port.sasl}",
///     )
///     .with_property(
///         "advertised.listeners",
///         "PLAINTEXT://127.0.0.1:{client_port},CONTROLLER://127.0.0.1:{controller_port},\
///          SASL_PLAINTEXT://127.0.0.1:{port.sasl}",
///     );
/// ```
///
/// The PLAINTEXT client listener must stay: the readiness probe uses it.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Number of combined broker+controller nodes (ids `1..=nodes`).
    pub nodes: usize,
    /// The Kafka release to run ([`KafkaVersion::selected`] by default: `KAFKA_VERSION`,
    /// else [`crate::DEFAULT_KAFKA_VERSION`]).
    pub kafka_version: KafkaVersion,
    /// Formats storage with `--feature transaction.version=N` (4.x clusters default to 2).
    /// Kafka 3.x has only level 0; there level 1 (the same client-visible protocol as 0:
    /// classic transactions, only the broker's state records differ) formats with the
    /// default, and level 2 fails to start (see [`transaction_version_feature`]).
    pub transaction_version: Option<u8>,
    /// Lines appended to every node's `server.properties` (later keys win, so these
    /// override the defaults). Placeholders: see the type's docs.
    pub extra_properties: Vec<(String, String)>,
    /// Names of extra per-node ports to pick (for `{port.NAME}` placeholders); read
    /// them back with [`crate::KafkaCluster::node_port`].
    pub extra_ports: Vec<String>,
    /// Extra arguments to `kafka-storage format`, e.g.
    /// `["--add-scram", "SCRAM-SHA-256=[name=alice,password=alice-secret]"]`.
    pub extra_format_args: Vec<String>,
    /// Broker JVM heap flag (`-Xmx512m` by default, or from `KAFKA_TESTBED_HEAP`).
    pub heap: String,
    /// Extra flags of every broker JVM, e.g.
    /// `-Dorg.apache.kafka.sasl.oauthbearer.allowed.urls=...` or
    /// `-Djava.security.krb5.conf=...`.
    pub jvm_flags: Vec<String>,
    /// How long [`crate::KafkaCluster::start`] and `restart_node` wait for readiness.
    pub startup_timeout: Duration,
    /// Spawn the JVMs in their own session with no watchdog, for clusters that must
    /// outlive this process (see [`crate::KafkaCluster::into_detached`]).
    pub detached: bool,
    /// Use this directory (must be absent or empty) instead of a fresh temporary one.
    /// A caller-given directory is never removed by the test bed.
    pub dir: Option<PathBuf>,
    /// Put a [`crate::FaultProxy`] in front of every node: each node gets a second
    /// PLAINTEXT listener named `PROXIED` whose advertised port is the proxy's, so
    /// clients that bootstrap through [`crate::KafkaCluster::client_bootstrap_servers`]
    /// reach every broker through its proxy, while inter-broker (`PLAINTEXT`) and
    /// controller traffic bypass it. Do not override `listeners` with it.
    pub fault_proxy: bool,
    /// Directories or jars put after the broker's classpath (broker plugins a test
    /// compiled, such as a metrics reporter).
    pub extra_classpath: Vec<PathBuf>,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        Self::new(1)
    }
}

impl ClusterConfig {
    /// Defaults for `nodes` nodes.
    pub fn new(nodes: usize) -> Self {
        Self {
            nodes,
            kafka_version: KafkaVersion::selected(),
            transaction_version: None,
            extra_properties: Vec::new(),
            extra_ports: Vec::new(),
            extra_format_args: Vec::new(),
            heap: default_heap(),
            jvm_flags: Vec::new(),
            startup_timeout: Duration::from_secs(90),
            detached: false,
            dir: None,
            fault_proxy: false,
            extra_classpath: Vec::new(),
        }
    }

    /// Sets [`ClusterConfig::kafka_version`].
    pub fn with_kafka_version(mut self, version: KafkaVersion) -> Self {
        self.kafka_version = version;
        self
    }

    /// Sets [`ClusterConfig::fault_proxy`].
    pub fn with_fault_proxy(mut self) -> Self {
        self.fault_proxy = true;
        self
    }

    /// Appends one entry to [`ClusterConfig::extra_classpath`].
    pub fn with_classpath(mut self, entry: impl Into<PathBuf>) -> Self {
        self.extra_classpath.push(entry.into());
        self
    }

    /// Sets [`ClusterConfig::transaction_version`].
    pub fn with_transaction_version(mut self, version: u8) -> Self {
        self.transaction_version = Some(version);
        self
    }

    /// Appends one entry to [`ClusterConfig::extra_properties`].
    pub fn with_property(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_properties.push((key.into(), value.into()));
        self
    }

    /// Appends one name to [`ClusterConfig::extra_ports`].
    pub fn with_extra_port(mut self, name: impl Into<String>) -> Self {
        self.extra_ports.push(name.into());
        self
    }

    /// Appends arguments to [`ClusterConfig::extra_format_args`].
    pub fn with_format_args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.extra_format_args
            .extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets [`ClusterConfig::heap`] (`1g` or `-Xmx1g`).
    pub fn with_heap(mut self, heap: &str) -> Self {
        self.heap = heap_flag(heap);
        self
    }

    /// Appends one flag to [`ClusterConfig::jvm_flags`].
    pub fn with_jvm_flag(mut self, flag: impl Into<String>) -> Self {
        self.jvm_flags.push(flag.into());
        self
    }

    /// Sets [`ClusterConfig::startup_timeout`].
    pub fn with_startup_timeout(mut self, timeout: Duration) -> Self {
        self.startup_timeout = timeout;
        self
    }
}

fn default_heap() -> String {
    match std::env::var(HEAP_ENV) {
        Ok(v) if !v.trim().is_empty() => heap_flag(&v),
        _ => "-Xmx512m".to_owned(),
    }
}

fn heap_flag(heap: &str) -> String {
    let heap = heap.trim();
    if heap.starts_with("-Xmx") {
        heap.to_owned()
    } else {
        format!("-Xmx{heap}")
    }
}

/// One node's fixed layout: id, ports and directory.
#[derive(Debug, Clone)]
pub(crate) struct NodeSpec {
    pub(crate) id: i32,
    pub(crate) client_port: u16,
    pub(crate) controller_port: u16,
    pub(crate) extra_ports: BTreeMap<String, u16>,
    pub(crate) dir: PathBuf,
    /// With a fault proxy: `(broker's PROXIED listener port, proxy port)`.
    pub(crate) proxy: Option<(u16, u16)>,
}

impl NodeSpec {
    pub(crate) fn client_address(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }
    pub(crate) fn server_properties(&self) -> PathBuf {
        self.dir.join("server.properties")
    }
    /// The logging configuration, named as `framework` expects.
    pub(crate) fn log_config(&self, framework: crate::log_config::LogFramework) -> PathBuf {
        self.dir.join(framework.file_name())
    }
    pub(crate) fn broker_log(&self) -> PathBuf {
        self.dir.join("broker.log")
    }
    /// The JVM's own stdout/stderr (crashes, class-loading errors).
    pub(crate) fn jvm_out(&self) -> PathBuf {
        self.dir.join("jvm.out")
    }
    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }
}

/// Lays out `config.nodes` nodes under `cluster_dir` on free ports.
pub(crate) fn plan_nodes(
    config: &ClusterConfig,
    cluster_dir: &Path,
) -> std::io::Result<Vec<NodeSpec>> {
    let proxy_ports = if config.fault_proxy { 2 } else { 0 };
    let per_node = 2 + proxy_ports + config.extra_ports.len();
    let ports = crate::ports::free_ports(config.nodes * per_node)?;
    Ok(ports
        .chunks(per_node)
        .enumerate()
        .map(|(i, p)| NodeSpec {
            id: i as i32 + 1,
            client_port: p[0],
            controller_port: p[1],
            extra_ports: config
                .extra_ports
                .iter()
                .cloned()
                .zip(p[2 + proxy_ports..].iter().copied())
                .collect(),
            dir: cluster_dir.join(format!("node-{}", i + 1)),
            proxy: config.fault_proxy.then(|| (p[2], p[3])),
        })
        .collect())
}

/// Renders `node`'s `server.properties`.
pub(crate) fn server_properties(
    config: &ClusterConfig,
    node: &NodeSpec,
    all: &[NodeSpec],
) -> String {
    let n = all.len();
    let rf = n.min(3);
    let min_isr = if rf >= 3 { 2 } else { 1 };
    let internal_partitions = if n == 1 { 1 } else { 6 };
    let voters = all
        .iter()
        .map(|s| format!("{}@127.0.0.1:{}", s.id, s.controller_port))
        .collect::<Vec<_>>()
        .join(",");
    let mut listeners = format!(
        "PLAINTEXT://127.0.0.1:{},CONTROLLER://127.0.0.1:{}",
        node.client_port, node.controller_port
    );
    let mut advertised = listeners.clone();
    if let Some((proxied, proxy)) = node.proxy {
        let _ = write!(listeners, ",PROXIED://127.0.0.1:{proxied}");
        let _ = write!(advertised, ",PROXIED://127.0.0.1:{proxy}");
    }
    let data_dir = node.data_dir().display().to_string();
    let mut props: Vec<(String, String)> = [
        ("process.roles", "broker,controller".to_owned()),
        ("node.id", node.id.to_string()),
        ("controller.quorum.voters", voters),
        ("listeners", listeners),
        ("advertised.listeners", advertised),
        (
            "listener.security.protocol.map",
            "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,PROXIED:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT,SSL:SSL,SASL_SSL:SASL_SSL"
                .to_owned(),
        ),
        ("controller.listener.names", "CONTROLLER".to_owned()),
        ("inter.broker.listener.name", "PLAINTEXT".to_owned()),
        ("log.dirs", data_dir),
        ("default.replication.factor", rf.to_string()),
        ("min.insync.replicas", min_isr.to_string()),
        ("offsets.topic.replication.factor", rf.to_string()),
        ("offsets.topic.num.partitions", internal_partitions.to_string()),
        ("transaction.state.log.replication.factor", rf.to_string()),
        ("transaction.state.log.min.isr", min_isr.to_string()),
        ("transaction.state.log.num.partitions", internal_partitions.to_string()),
        ("broker.session.timeout.ms", "6000".to_owned()),
        ("broker.heartbeat.interval.ms", "1000".to_owned()),
        ("group.initial.rebalance.delay.ms", "0".to_owned()),
        ("auto.create.topics.enable", "false".to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if config.kafka_version.has_share_coordinator() {
        props.extend([
            (
                "share.coordinator.state.topic.replication.factor".to_owned(),
                rf.to_string(),
            ),
            (
                "share.coordinator.state.topic.min.isr".to_owned(),
                min_isr.to_string(),
            ),
        ]);
    }
    props.extend(
        config
            .extra_properties
            .iter()
            .map(|(k, v)| (k.clone(), substitute(v, node))),
    );
    let mut out = format!("# Generated by kafka-testbed for node {}\n", node.id);
    for (k, v) in &props {
        let _ = writeln!(
            out,
            "{}={}",
            escape_property(k, true),
            escape_property(v, false)
        );
    }
    out
}

/// The `--feature` argument for `config.transaction_version`, if any: `None` when unset,
/// or when level 1 is asked of a Kafka 3.x (which has only level 0, the same classic
/// transaction protocol for clients). A level above the version's highest is an error.
pub(crate) fn transaction_version_feature(
    config: &ClusterConfig,
) -> Result<Option<String>, String> {
    let Some(level) = config.transaction_version else {
        return Ok(None);
    };
    let max = config.kafka_version.max_transaction_version();
    if level <= max {
        Ok(Some(format!("transaction.version={level}")))
    } else if level == 1 && max == 0 {
        Ok(None)
    } else {
        Err(format!(
            "kafka-testbed: Kafka {} has no transaction.version={level} (highest {max}); \
             guard the test with kafka_at_least(\"4.0.0\", ...)",
            config.kafka_version
        ))
    }
}

/// Replaces the per-node placeholders in an extra property value.
pub(crate) fn substitute(value: &str, node: &NodeSpec) -> String {
    let mut out = value
        .replace("{node_id}", &node.id.to_string())
        .replace("{client_port}", &node.client_port.to_string())
        .replace("{controller_port}", &node.controller_port.to_string())
        .replace("{node_dir}", &node.dir.display().to_string());
    for (name, port) in &node.extra_ports {
        out = out.replace(&format!("{{port.{name}}}"), &port.to_string());
    }
    out
}

/// Escapes for `java.util.Properties.load(InputStream)` (ISO-8859-1, `\` escapes).
fn escape_property(s: &str, is_key: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.chars().enumerate() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            ' ' if is_key || i == 0 => out.push_str("\\ "),
            '=' | ':' | '#' | '!' if is_key => {
                out.push('\\');
                out.push(c);
            }
            '#' | '!' if i == 0 => {
                out.push('\\');
                out.push(c);
            }
            c if (' '..='~').contains(&c) => out.push(c),
            c => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04X}");
                }
            }
        }
    }
    out
}

/// A fresh KRaft cluster id: 16 random bytes, base64url without padding (what
/// `kafka-storage random-uuid` prints). Never starts with `-` (it would look like an option).
pub(crate) fn random_cluster_id() -> String {
    loop {
        let bytes = random_bytes();
        let id = base64url(&bytes);
        if !id.starts_with('-') && bytes.iter().any(|&b| b != 0) {
            return id;
        }
    }
}

fn random_bytes() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(8).enumerate() {
        // `RandomState` is seeded from the OS; mix in time, pid and a counter anyway.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u32(std::process::id());
        h.write_usize(i);
        if let Ok(t) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(t.as_nanos());
        }
        chunk.copy_from_slice(&h.finish().to_le_bytes());
    }
    out
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs(n: usize) -> Vec<NodeSpec> {
        (0..n)
            .map(|i| NodeSpec {
                id: i as i32 + 1,
                client_port: 9000 + i as u16 * 10,
                controller_port: 9001 + i as u16 * 10,
                extra_ports: [("sasl".to_owned(), 9002 + i as u16 * 10)].into(),
                dir: PathBuf::from(format!("/tmp/c/node-{}", i + 1)),
                proxy: None,
            })
            .collect()
    }

    fn lines(props: &str) -> Vec<&str> {
        props.lines().collect()
    }

    #[test]
    fn one_node_uses_replication_factor_one() {
        let all = specs(1);
        let p = server_properties(&ClusterConfig::new(1), &all[0], &all);
        let l = lines(&p);
        for expected in [
            "node.id=1",
            "controller.quorum.voters=1@127.0.0.1:9001",
            "listeners=PLAINTEXT://127.0.0.1:9000,CONTROLLER://127.0.0.1:9001",
            "offsets.topic.replication.factor=1",
            "transaction.state.log.min.isr=1",
            "min.insync.replicas=1",
            "auto.create.topics.enable=false",
            "group.initial.rebalance.delay.ms=0",
            "log.dirs=/tmp/c/node-1/data",
        ] {
            assert!(l.contains(&expected), "missing {expected:?} in\n{p}");
        }
    }

    #[test]
    fn three_nodes_use_replication_factor_three() {
        let all = specs(3);
        let p = server_properties(&ClusterConfig::new(3), &all[1], &all);
        let l = lines(&p);
        for expected in [
            "node.id=2",
            "controller.quorum.voters=1@127.0.0.1:9001,2@127.0.0.1:9011,3@127.0.0.1:9021",
            "advertised.listeners=PLAINTEXT://127.0.0.1:9010,CONTROLLER://127.0.0.1:9011",
            "default.replication.factor=3",
            "offsets.topic.replication.factor=3",
            "transaction.state.log.replication.factor=3",
            "min.insync.replicas=2",
            "transaction.state.log.min.isr=2",
            "broker.session.timeout.ms=6000",
            "broker.heartbeat.interval.ms=1000",
        ] {
            assert!(l.contains(&expected), "missing {expected:?} in\n{p}");
        }
    }

    #[test]
    fn transaction_versions_map_onto_what_each_release_has() {
        let tv = |version: KafkaVersion, level: u8| {
            transaction_version_feature(
                &ClusterConfig::new(1)
                    .with_kafka_version(version)
                    .with_transaction_version(level),
            )
        };
        let (old, new) = (KafkaVersion::new(3, 9, 1), KafkaVersion::new(4, 0, 2));
        assert_eq!(tv(new, 2), Ok(Some("transaction.version=2".to_owned())));
        assert_eq!(tv(new, 1), Ok(Some("transaction.version=1".to_owned())));
        assert_eq!(tv(old, 1), Ok(None));
        assert_eq!(tv(old, 0), Ok(Some("transaction.version=0".to_owned())));
        assert!(tv(old, 2).unwrap_err().contains("no transaction.version=2"));
        let unset = ClusterConfig::new(1).with_kafka_version(old);
        assert_eq!(transaction_version_feature(&unset), Ok(None));
    }

    #[test]
    fn share_coordinator_settings_only_from_kafka_4() {
        let all = specs(1);
        let new = server_properties(&ClusterConfig::new(1), &all[0], &all);
        let old_config = ClusterConfig::new(1).with_kafka_version(KafkaVersion::new(3, 9, 1));
        let old = server_properties(&old_config, &all[0], &all);
        let key = "share.coordinator.state.topic.replication.factor=1";
        assert!(lines(&new).contains(&key), "{new}");
        assert!(!old.contains("share.coordinator"), "{old}");
    }

    #[test]
    fn a_fault_proxy_is_advertised_only_on_its_own_listener() {
        let mut all = specs(3);
        for (i, s) in all.iter_mut().enumerate() {
            s.proxy = Some((9005 + i as u16 * 10, 9006 + i as u16 * 10));
        }
        let p = server_properties(&ClusterConfig::new(3).with_fault_proxy(), &all[0], &all);
        let l = lines(&p);
        for expected in [
            "listeners=PLAINTEXT://127.0.0.1:9000,CONTROLLER://127.0.0.1:9001,PROXIED://127.0.0.1:9005",
            "advertised.listeners=PLAINTEXT://127.0.0.1:9000,CONTROLLER://127.0.0.1:9001,PROXIED://127.0.0.1:9006",
            "inter.broker.listener.name=PLAINTEXT",
            "controller.listener.names=CONTROLLER",
        ] {
            assert!(l.contains(&expected), "missing {expected:?} in\n{p}");
        }
        assert!(p.contains("PROXIED:PLAINTEXT"), "{p}");
    }

    #[test]
    fn extra_properties_come_last_with_placeholders() {
        let all = specs(3);
        let config = ClusterConfig::new(3)
            .with_property(
                "listeners",
                "SASL_PLAINTEXT://127.0.0.1:{port.sasl},X://:{client_port}",
            )
            .with_property("x.node", "{node_id}@{node_dir} {unknown}")
            .with_property("x.jaas", "a\\b \u{e9}");
        let p = server_properties(&config, &all[2], &all);
        let l = lines(&p);
        let last_listeners = l.iter().rposition(|s| s.starts_with("listeners=")).unwrap();
        assert_eq!(
            l[last_listeners],
            "listeners=SASL_PLAINTEXT://127.0.0.1:9022,X://:9020"
        );
        assert!(last_listeners > l.iter().position(|s| s.starts_with("listeners=")).unwrap());
        assert!(l.contains(&"x.node=3@/tmp/c/node-3 {unknown}"), "{p}");
        assert!(l.contains(&"x.jaas=a\\\\b \\u00E9"), "{p}");
    }

    #[test]
    fn cluster_ids_look_like_kafka_uuids() {
        let a = random_cluster_id();
        let b = random_cluster_id();
        assert_ne!(a, b);
        for id in [a, b] {
            assert_eq!(id.len(), 22, "{id}");
            assert!(!id.starts_with('-'));
            assert!(
                id.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
            );
        }
        assert_eq!(base64url(&[0xfb, 0xff, 0xbf]), "-_-_");
        assert_eq!(base64url(&[0u8; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
    }

    #[test]
    fn heap_flag_accepts_both_spellings() {
        assert_eq!(heap_flag("1g"), "-Xmx1g");
        assert_eq!(heap_flag(" -Xmx768m "), "-Xmx768m");
    }
}
