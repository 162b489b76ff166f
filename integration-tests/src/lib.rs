//! Test bed: a real Apache Kafka cluster (4.4.0, or the release `KAFKA_VERSION` names)
//! from Maven Central jars, no Docker.
//!
//! The broker's classpath is resolved once per machine with `mvn` (see [`jars`]); each
//! node is a combined broker+controller JVM (`kafka.Kafka`) on free 127.0.0.1 ports in
//! its own temporary directory, with its log in `node-N/broker.log`.
//!
//! ```no_run
//! use kafka_testbed::{ClusterConfig, KafkaCluster, StopSignal};
//!
//! // Tests that only need *a* broker share one per process (or `KAFKA_BOOTSTRAP_SERVERS`).
//! let bootstrap = kafka_testbed::shared_cluster().bootstrap_servers();
//!
//! // Fault-injection tests own their cluster.
//! let cluster = KafkaCluster::start(ClusterConfig::new(3))?;
//! cluster.stop_node(2, StopSignal::Kill)?;
//! cluster.restart_node(2)?;
//! # Ok::<(), kafka_testbed::Error>(())
//! ```
//!
//! No JVM outlives its test binary: dropping a [`KafkaCluster`] kills its JVMs, and every
//! JVM has a watchdog that kills it once the owning process is gone. When a test panics,
//! the tail of every live cluster's broker logs is printed (see [`install_panic_hook`]).
//!
//! Environment: `KAFKA_BOOTSTRAP_SERVERS` (use an existing cluster), `KAFKA_TESTBED_HEAP`
//! (`1g`), `KAFKA_TESTBED_KEEP=1` (keep directories), `KAFKA_TESTBED_CACHE` (where
//! the per-version `cp.txt` directories live), `KAFKA_VERSION` (the release to run, e.g.
//! `3.9.1`; see [`KafkaVersion`]), `JAVA_HOME`, `KAFKA_TEST_TRACE=1` (the client's debug
//! events on stderr).
#![deny(missing_docs)]

pub mod api_versions;
mod cluster;
mod config;
pub mod confluent_python;
mod error;
pub mod fault_proxy;
pub mod jars;
pub mod kdc;
mod log_config;
mod logs;
pub mod oidc_idp;
mod ports;
mod probe;
mod process;
mod quorum;
pub mod reliability;
pub mod schema_registry;
pub mod secure;
mod shared;
pub mod tls_rotation;
mod tools;
mod trace;
mod version;

pub use cluster::{DetachedCluster, KEEP_ENV, KafkaCluster, StopSignal};
pub use config::{ClusterConfig, HEAP_ENV};
pub use error::{Error, Result};
pub use fault_proxy::{FaultProxy, ProxyStats, Target};
pub use logs::{PANIC_TAIL_LINES, install_panic_hook, live_cluster_log_report, tail_file};
pub use ports::free_ports;
pub use probe::{BrokerInfo, MetadataSnapshot, probe_api_keys, probe_metadata};
pub use process::{pid_alive, send_signal};
pub use schema_registry::{SchemaRegistry, shared_schema_registry};
pub use shared::{BOOTSTRAP_ENV, SharedKafka, bootstrap_or_start, shared_cluster};
pub use trace::{TEST_TRACE_ENV, trace_client_if_set};
pub use version::{CI_VERSIONS, DEFAULT_KAFKA_VERSION, KafkaVersion, VERSION_ENV, kafka_at_least};
