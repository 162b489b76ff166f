//! The per-process shared cluster for tests, and `bootstrap_or_start` for examples.

use std::sync::OnceLock;

use crate::cluster::KafkaCluster;
use crate::config::ClusterConfig;
use crate::error::Result;

/// Environment variable naming an existing cluster to use instead of starting one.
pub const BOOTSTRAP_ENV: &str = "KAFKA_BOOTSTRAP_SERVERS";

/// The Kafka that tests of this process share.
#[derive(Debug)]
pub struct SharedKafka {
    bootstrap_servers: String,
    cluster: Option<KafkaCluster>,
}

impl SharedKafka {
    /// `host:port,...` to give clients (an owned `String`, like
    /// [`KafkaCluster::bootstrap_servers`]).
    pub fn bootstrap_servers(&self) -> String {
        self.bootstrap_servers.clone()
    }

    /// The cluster this process started, or `None` when `KAFKA_BOOTSTRAP_SERVERS`
    /// pointed at an external one.
    pub fn cluster(&self) -> Option<&KafkaCluster> {
        self.cluster.as_ref()
    }
}

fn env_bootstrap() -> Option<String> {
    std::env::var(BOOTSTRAP_ENV)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The Kafka shared by every test of this process: `KAFKA_BOOTSTRAP_SERVERS` if set
/// (nothing is started), else a 1-node cluster started on first call. The cluster is
/// never dropped; its watchdogs kill the JVM (and remove its directory) once the process
/// exits. Do not stop or pause its node: tests that inject faults start their own.
///
/// # Panics
/// If the cluster cannot be started (every later call panics with the same message).
pub fn shared_cluster() -> &'static SharedKafka {
    static SHARED: OnceLock<std::result::Result<SharedKafka, String>> = OnceLock::new();
    crate::trace::trace_client_if_set(crate::trace::TEST_TRACE_ENV);
    let shared = SHARED.get_or_init(|| match env_bootstrap() {
        Some(bootstrap_servers) => Ok(SharedKafka {
            bootstrap_servers,
            cluster: None,
        }),
        None => KafkaCluster::start(ClusterConfig::new(1))
            .map(|cluster| SharedKafka {
                bootstrap_servers: cluster.bootstrap_servers(),
                cluster: Some(cluster),
            })
            .map_err(|e| e.to_string()),
    });
    match shared {
        Ok(shared) => shared,
        Err(e) => panic!("kafka-testbed: shared cluster unavailable: {e}"),
    }
}

/// For examples: `(KAFKA_BOOTSTRAP_SERVERS, None)` if that is set, else a fresh
/// `nodes`-node cluster that the caller owns (keep it alive while using it).
pub fn bootstrap_or_start(nodes: usize) -> Result<(String, Option<KafkaCluster>)> {
    if let Some(bootstrap) = env_bootstrap() {
        return Ok((bootstrap, None));
    }
    let cluster = KafkaCluster::start(ClusterConfig::new(nodes))?;
    Ok((cluster.bootstrap_servers(), Some(cluster)))
}
