//! [`KafkaCluster`]: start a KRaft cluster of JVMs, fault injection, teardown.

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::config::{self, ClusterConfig, NodeSpec};
use crate::error::{Error, Result};
use crate::fault_proxy::{FaultProxy, ProxyRuntime};
use crate::log_config::LogFramework;
use crate::logs::{self, NodeLogs};
use crate::probe::{MetadataSnapshot, probe_api_keys, probe_metadata};
use crate::process::{self, Jvm, JvmCommand};
use kafka_protocol::messages::ApiKey;

/// Environment variable: `1` keeps a dropped cluster's directory (logs and data).
pub const KEEP_ENV: &str = "KAFKA_TESTBED_KEEP";

/// How long a `StopSignal::Term` waits for a clean shutdown before SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(200);
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);
const REPORT_LINES: usize = 60;

/// How [`KafkaCluster::stop_node`] stops a broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// SIGTERM: controlled shutdown (waits up to 60 s, then SIGKILL).
    Term,
    /// SIGKILL: a crash.
    Kill,
}

#[derive(Debug, Default)]
struct NodeState {
    jvm: Option<Jvm>,
    paused: bool,
}

/// A running Kafka cluster of combined broker+controller JVMs on 127.0.0.1.
///
/// Dropping it SIGKILLs every JVM and removes its temporary directory (unless
/// `KAFKA_TESTBED_KEEP=1`). Each JVM also has a watchdog that kills it once this process
/// is gone, so clusters kept in a `static` do not outlive the test binary.
#[derive(Debug)]
pub struct KafkaCluster {
    config: ClusterConfig,
    dir: PathBuf,
    remove_dir: bool,
    cluster_id: String,
    java: PathBuf,
    classpath: String,
    nodes: Vec<NodeSpec>,
    state: Mutex<Vec<NodeState>>,
    cleaner: Option<Child>,
    registry_key: u64,
    /// One per node (same order as `nodes`) when [`ClusterConfig::fault_proxy`] is set.
    proxies: Vec<FaultProxy>,
    /// Declared after `state`, so the JVMs are killed (in `drop`) before the proxies stop.
    proxy_runtime: Option<ProxyRuntime>,
}

/// What is left of a cluster after [`KafkaCluster::into_detached`]: the JVMs keep running
/// and nothing in this process will stop them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetachedCluster {
    /// `host:port` list of every broker.
    pub bootstrap_servers: String,
    /// `(node id, pid)` of every running JVM.
    pub pids: Vec<(i32, u32)>,
    /// The cluster directory (configs, data, `node-N/broker.log`).
    pub dir: PathBuf,
    /// The KRaft cluster id.
    pub cluster_id: String,
}

impl KafkaCluster {
    /// Formats and starts `config.nodes` nodes, then blocks until every node's metadata
    /// lists every broker (and, for more than one node, a controller). Resolves the jars
    /// with `mvn` on first use on this machine.
    ///
    /// Retries twice if a picked port got taken before Kafka bound it.
    pub fn start(config: ClusterConfig) -> Result<Self> {
        let mut attempt = 1;
        loop {
            match Self::try_start(config.clone()) {
                Err(e) if attempt < 3 && e.message().contains("Address already in use") => {
                    eprintln!("kafka-testbed: port clash, retrying start-up");
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    fn try_start(config: ClusterConfig) -> Result<Self> {
        if config.nodes == 0 {
            return Err(Error::new(
                "kafka-testbed: a cluster needs at least one node",
            ));
        }
        let started = Instant::now();
        let java = crate::jars::java_binary()?;
        let mut classpath = crate::jars::classpath_for(config.kafka_version)?;
        for extra in &config.extra_classpath {
            classpath.push(':');
            classpath.push_str(&extra.to_string_lossy());
        }
        let (dir, remove_dir) = match &config.dir {
            Some(dir) => (prepare_given_dir(dir)?, false),
            None => (create_temp_dir()?, true),
        };
        let nodes = match config::plan_nodes(&config, &dir) {
            Ok(nodes) => nodes,
            Err(e) => {
                if remove_dir {
                    let _ = fs::remove_dir_all(&dir);
                }
                return Err(Error::io("picking free ports", e));
            }
        };
        let node_logs = nodes
            .iter()
            .map(|n| NodeLogs {
                id: n.id,
                broker_log: n.broker_log(),
                jvm_out: n.jvm_out(),
            })
            .collect();
        let registry_key = logs::register(&dir, node_logs);
        let keep = keep_requested();
        let mut cluster = KafkaCluster {
            state: Mutex::new(nodes.iter().map(|_| NodeState::default()).collect()),
            cleaner: None,
            cluster_id: config::random_cluster_id(),
            config,
            dir,
            remove_dir,
            java,
            classpath,
            nodes,
            registry_key,
            proxies: Vec::new(),
            proxy_runtime: None,
        };
        // From here on, Drop cleans up whatever fails.
        if cluster.remove_dir && !keep && !cluster.config.detached {
            cluster.cleaner = Some(process::spawn_dir_cleaner(
                std::process::id(),
                &cluster.dir,
            )?);
        }
        cluster.start_proxies()?;
        cluster.write_configs()?;
        cluster.format_storage()?;
        for i in 0..cluster.nodes.len() {
            let jvm = cluster.spawn_node(i)?;
            cluster.lock_state()[i].jvm = Some(jvm);
        }
        cluster.wait_ready(cluster.config.startup_timeout)?;
        eprintln!(
            "kafka-testbed: {}-node Kafka {} ready at {} in {:.1}s (dir {})",
            cluster.nodes.len(),
            cluster.config.kafka_version,
            cluster.bootstrap_servers(),
            started.elapsed().as_secs_f64(),
            cluster.dir.display()
        );
        Ok(cluster)
    }

    fn start_proxies(&mut self) -> Result<()> {
        if !self.config.fault_proxy {
            return Ok(());
        }
        let runtime = ProxyRuntime::new()?;
        for node in &self.nodes {
            let Some((proxied, proxy_port)) = node.proxy else {
                continue;
            };
            let listener = std::net::TcpListener::bind(("127.0.0.1", proxy_port))
                .map_err(|e| Error::io(format!("binding proxy port {proxy_port}"), e))?;
            let upstream = std::net::SocketAddr::from(([127, 0, 0, 1], proxied));
            self.proxies
                .push(FaultProxy::start(&runtime, listener, upstream)?);
        }
        self.proxy_runtime = Some(runtime);
        Ok(())
    }

    fn write_configs(&self) -> Result<()> {
        let write = |path: PathBuf, text: &str| {
            fs::write(&path, text).map_err(|e| Error::io(format!("writing {}", path.display()), e))
        };
        let framework = self.log_framework();
        write(self.tool_log_config(), framework.tool_config())?;
        for node in &self.nodes {
            fs::create_dir_all(&node.dir)
                .map_err(|e| Error::io(format!("creating {}", node.dir.display()), e))?;
            write(
                node.server_properties(),
                &config::server_properties(&self.config, node, &self.nodes),
            )?;
            write(
                node.log_config(framework),
                &framework.broker_config(&node.broker_log()),
            )?;
        }
        Ok(())
    }

    fn log_framework(&self) -> LogFramework {
        LogFramework::for_version(self.config.kafka_version)
    }

    fn tool_log_config(&self) -> PathBuf {
        self.dir
            .join(format!("tools-{}", self.log_framework().file_name()))
    }

    /// The Kafka release this cluster runs.
    pub fn kafka_version(&self) -> crate::KafkaVersion {
        self.config.kafka_version
    }

    /// `kafka-storage format` for every node, in parallel.
    fn format_storage(&self) -> Result<()> {
        let tool_log_flag = self.log_framework().jvm_flag(&self.tool_log_config());
        let transaction_feature =
            config::transaction_version_feature(&self.config).map_err(Error::new)?;
        let transaction_feature = &transaction_feature;
        let results: Vec<Result<()>> = std::thread::scope(|scope| {
            let handles: Vec<_> = self
                .nodes
                .iter()
                .map(|node| {
                    let tool_log_flag = &tool_log_flag;
                    scope.spawn(move || {
                        let mut args: Vec<OsString> = vec![
                            "format".into(),
                            "-t".into(),
                            self.cluster_id.clone().into(),
                            "-c".into(),
                            node.server_properties().into(),
                        ];
                        if let Some(feature) = &transaction_feature {
                            args.push("--feature".into());
                            args.push(feature.into());
                        }
                        args.extend(self.config.extra_format_args.iter().map(OsString::from));
                        JvmCommand {
                            java: &self.java,
                            classpath: &self.classpath,
                            jvm_flags: vec![
                                "-Xmx256m".into(),
                                "-XX:TieredStopAtLevel=1".into(),
                                "-XX:+UseSerialGC".into(),
                            ],
                            log_flag: tool_log_flag.clone(),
                            main_class: "kafka.tools.StorageTool",
                            args,
                        }
                        .run()
                        .map_err(|e| {
                            Error::new(format!("kafka-testbed: formatting node {}: {e}", node.id))
                        })
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(Error::new("format thread panicked")))
                })
                .collect()
        });
        results.into_iter().collect()
    }

    fn spawn_node(&self, index: usize) -> Result<Jvm> {
        let node = &self.nodes[index];
        let command = JvmCommand {
            java: &self.java,
            classpath: &self.classpath,
            jvm_flags: [
                self.config.heap.clone(),
                "-XX:+ExitOnOutOfMemoryError".into(),
            ]
            .into_iter()
            .chain(self.config.jvm_flags.iter().cloned())
            .collect(),
            log_flag: self
                .log_framework()
                .jvm_flag(&node.log_config(self.log_framework())),
            main_class: "kafka.Kafka",
            args: vec![node.server_properties().into()],
        };
        Jvm::spawn(&command, &node.jvm_out(), self.config.detached)
    }

    fn lock_state(&self) -> MutexGuard<'_, Vec<NodeState>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn index(&self, id: i32) -> Result<usize> {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .ok_or_else(|| Error::new(format!("kafka-testbed: no node {id} in this cluster")))
    }

    fn spec(&self, id: i32) -> &NodeSpec {
        match self.index(id) {
            Ok(i) => &self.nodes[i],
            Err(e) => panic!("{e}"),
        }
    }

    /// Blocks until every running, unpaused node answers Metadata listing exactly the
    /// running, unpaused nodes (plus a controller id when there is more than one) and
    /// advertises CreateTopics (see [`admin_api_missing`]), or
    /// fails after `timeout` with every broker log's tail. Fails at once if a JVM exits.
    pub fn wait_ready(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut targets = Vec::new();
            {
                let mut state = self.lock_state();
                for (node, st) in self.nodes.iter().zip(state.iter_mut()) {
                    let Some(jvm) = st.jvm.as_mut() else { continue };
                    if let Some(status) = jvm.exited() {
                        jvm.stop_watchdog();
                        st.jvm = None;
                        st.paused = false;
                        return Err(self.failure(&format!(
                            "node {} (JVM) exited during start-up ({status})",
                            node.id
                        )));
                    }
                    if !st.paused {
                        targets.push(node);
                    }
                }
            }
            let expected: BTreeSet<i32> = targets.iter().map(|n| n.id).collect();
            let mut problem = None;
            for node in &targets {
                match probe_metadata(&node.client_address(), PROBE_TIMEOUT) {
                    Ok(snapshot) => {
                        let listed: BTreeSet<i32> = snapshot.broker_ids().into_iter().collect();
                        if listed != expected {
                            problem = Some(format!(
                                "node {} lists brokers {listed:?}, expected {expected:?}",
                                node.id
                            ));
                        } else if expected.len() > 1 && snapshot.controller_id.is_none() {
                            problem = Some(format!("node {} reports no controller", node.id));
                        } else {
                            problem = admin_api_missing(node.id, &node.client_address());
                        }
                    }
                    Err(e) => problem = Some(e.to_string()),
                }
                if problem.is_some() {
                    break;
                }
            }
            let Some(problem) = problem else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                return Err(self.failure(&format!(
                    "cluster not ready after {:.0}s: {problem}",
                    timeout.as_secs_f64()
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    fn failure(&self, what: &str) -> Error {
        let node_logs: Vec<NodeLogs> = self
            .nodes
            .iter()
            .map(|n| NodeLogs {
                id: n.id,
                broker_log: n.broker_log(),
                jvm_out: n.jvm_out(),
            })
            .collect();
        Error::new(format!(
            "kafka-testbed: {what}\n{}",
            logs::report(
                &format!("broker logs of {}", self.dir.display()),
                &node_logs,
                REPORT_LINES
            )
        ))
    }

    /// `127.0.0.1:p1,127.0.0.1:p2,...`: every node's client listener.
    pub fn bootstrap_servers(&self) -> String {
        self.nodes
            .iter()
            .map(NodeSpec::client_address)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// What clients under test should bootstrap from: the proxies' addresses when the
    /// cluster has fault proxies (so every connection goes through them), else
    /// [`KafkaCluster::bootstrap_servers`].
    pub fn client_bootstrap_servers(&self) -> String {
        if self.proxies.is_empty() {
            return self.bootstrap_servers();
        }
        self.proxies
            .iter()
            .map(|p| p.address().to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The fault proxy in front of node `id`, if the cluster was started
    /// [`ClusterConfig::with_fault_proxy`].
    pub fn proxy(&self, id: i32) -> Option<&FaultProxy> {
        let i = self.index(id).ok()?;
        self.proxies.get(i)
    }

    /// Every node's fault proxy (empty without [`ClusterConfig::fault_proxy`]).
    pub fn proxies(&self) -> &[FaultProxy] {
        &self.proxies
    }

    /// The active KRaft controller (the metadata quorum's leader), asked of the
    /// controller listeners of running, unpaused nodes until one answers (up to
    /// `timeout`).
    pub fn active_controller(&self, timeout: Duration) -> Result<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            let live = self.live_nodes();
            let mut last = Error::new("no running node");
            for id in live {
                match crate::quorum::describe_quorum_leader(
                    &self.controller_address(id),
                    PROBE_TIMEOUT,
                ) {
                    Ok(leader) => return Ok(leader),
                    Err(e) => last = e,
                }
            }
            if Instant::now() >= deadline {
                return Err(Error::new(format!(
                    "kafka-testbed: no active controller found within {timeout:?}: {last}"
                )));
            }
            std::thread::sleep(POLL);
        }
    }

    /// SIGKILLs the active controller (a combined node, so its broker dies too) and
    /// returns its id. Does not restart it.
    pub fn kill_active_controller(&self) -> Result<i32> {
        let id = self.active_controller(Duration::from_secs(30))?;
        self.stop_node(id, StopSignal::Kill)?;
        Ok(id)
    }

    /// Restarts every node in turn, as an operator would: SIGTERM (controlled
    /// shutdown), start, wait until the cluster is ready and no partition is under
    /// replicated, then the next node.
    pub fn rolling_restart(&self) -> Result<()> {
        for id in self.node_ids() {
            self.restart_node(id)?;
            self.wait_fully_replicated(Duration::from_secs(120))?;
        }
        Ok(())
    }

    /// Blocks until a running node reports every partition (internal ones too) with a
    /// leader and all replicas in sync, or fails after `timeout`.
    pub fn wait_fully_replicated(&self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let mut last = String::from("no running node");
            for id in self.live_nodes() {
                match crate::quorum::under_replicated_partitions(
                    &self.node_address(id),
                    PROBE_TIMEOUT,
                ) {
                    Ok(0) => return Ok(()),
                    Ok(n) => last = format!("{n} partitions under replicated (node {id})"),
                    Err(e) => last = e.to_string(),
                }
            }
            if Instant::now() >= deadline {
                return Err(
                    self.failure(&format!("not fully replicated after {timeout:?}: {last}"))
                );
            }
            std::thread::sleep(POLL);
        }
    }

    /// Ids of nodes whose JVM runs and is not paused.
    pub fn live_nodes(&self) -> Vec<i32> {
        let state = self.lock_state();
        self.nodes
            .iter()
            .zip(state.iter())
            .filter(|(_, st)| st.jvm.is_some() && !st.paused)
            .map(|(n, _)| n.id)
            .collect()
    }

    /// Node ids (`1..=nodes`).
    pub fn node_ids(&self) -> Vec<i32> {
        self.nodes.iter().map(|n| n.id).collect()
    }

    /// `127.0.0.1:port` of a node's PLAINTEXT client listener.
    ///
    /// # Panics
    /// If `id` is not a node of this cluster.
    pub fn node_address(&self, id: i32) -> String {
        self.spec(id).client_address()
    }

    /// `127.0.0.1:port` of a node's controller listener.
    ///
    /// # Panics
    /// If `id` is not a node of this cluster.
    pub fn controller_address(&self, id: i32) -> String {
        format!("127.0.0.1:{}", self.spec(id).controller_port)
    }

    /// The port picked for `name` in [`ClusterConfig::extra_ports`] on node `id`.
    pub fn node_port(&self, id: i32, name: &str) -> Option<u16> {
        let i = self.index(id).ok()?;
        self.nodes[i].extra_ports.get(name).copied()
    }

    /// The KRaft cluster id.
    pub fn cluster_id(&self) -> &str {
        &self.cluster_id
    }

    /// The pid of a node's JVM, if it is running.
    pub fn pid(&self, id: i32) -> Option<u32> {
        let i = self.index(id).ok()?;
        self.lock_state()[i].jvm.as_ref().map(Jvm::pid)
    }

    /// Pids of every running JVM.
    pub fn pids(&self) -> Vec<u32> {
        self.lock_state()
            .iter()
            .filter_map(|s| s.jvm.as_ref().map(Jvm::pid))
            .collect()
    }

    /// Sends one Metadata request to node `id` (5 s timeout).
    pub fn probe(&self, id: i32) -> Result<MetadataSnapshot> {
        let i = self.index(id)?;
        probe_metadata(&self.nodes[i].client_address(), Duration::from_secs(5))
    }

    /// Stops node `id` and waits for its JVM to exit. A no-op if it is not running.
    pub fn stop_node(&self, id: i32, signal: StopSignal) -> Result<()> {
        let i = self.index(id)?;
        let mut state = self.lock_state();
        let st = &mut state[i];
        if let Some(mut jvm) = st.jvm.take() {
            match signal {
                StopSignal::Kill => jvm.kill(),
                StopSignal::Term => jvm.stop("TERM", TERM_GRACE)?,
            }
        }
        st.paused = false;
        Ok(())
    }

    /// SIGSTOPs node `id` (it stops answering and heartbeating; after
    /// `broker.session.timeout.ms` = 6 s the controller fences it).
    pub fn pause_node(&self, id: i32) -> Result<()> {
        self.signal_running(id, "STOP", true)
    }

    /// SIGCONTs a paused node. Does not wait; use [`KafkaCluster::wait_ready`] for that.
    pub fn resume_node(&self, id: i32) -> Result<()> {
        self.signal_running(id, "CONT", false)
    }

    fn signal_running(&self, id: i32, signal: &str, paused: bool) -> Result<()> {
        let i = self.index(id)?;
        let mut state = self.lock_state();
        let st = &mut state[i];
        let jvm = st
            .jvm
            .as_ref()
            .ok_or_else(|| Error::new(format!("kafka-testbed: node {id} is not running")))?;
        process::send_signal(jvm.pid(), signal)?;
        st.paused = paused;
        Ok(())
    }

    /// Starts node `id` again on the same ports and data (SIGTERM-stopping it first if it
    /// is running), with a new watchdog, then waits as [`KafkaCluster::wait_ready`] does.
    pub fn restart_node(&self, id: i32) -> Result<()> {
        let i = self.index(id)?;
        self.stop_node(id, StopSignal::Term)?;
        let node = &self.nodes[i];
        if let Ok(mut log) = fs::OpenOptions::new().append(true).open(node.broker_log()) {
            let _ = writeln!(log, "==== kafka-testbed: restarting node {id} ====");
        }
        let jvm = self.spawn_node(i)?;
        self.lock_state()[i].jvm = Some(jvm);
        self.wait_ready(self.config.startup_timeout)
    }

    /// The last `lines` lines of node `id`'s `broker.log`.
    ///
    /// # Panics
    /// If `id` is not a node of this cluster.
    pub fn log_tail(&self, id: i32, lines: usize) -> String {
        logs::tail_file(&self.spec(id).broker_log(), lines)
    }

    /// Path of node `id`'s `broker.log`.
    ///
    /// # Panics
    /// If `id` is not a node of this cluster.
    pub fn log_path(&self, id: i32) -> PathBuf {
        self.spec(id).broker_log()
    }

    /// The cluster directory: `node-N/{server.properties,broker.log,jvm.out,data}`.
    pub fn log_dir(&self) -> &Path {
        &self.dir
    }

    /// Leaves the JVMs running and forgets them (no watchdog, no kill on drop, directory
    /// kept). Meant for clusters started with [`ClusterConfig::detached`], which also
    /// puts the JVMs in their own session; otherwise they still share this process's
    /// process group (terminal Ctrl-C).
    pub fn into_detached(mut self) -> DetachedCluster {
        let pids = {
            let mut state = self.lock_state();
            self.nodes
                .iter()
                .zip(state.iter_mut())
                .filter_map(|(node, st)| st.jvm.take().map(|jvm| (node.id, jvm.detach())))
                .collect()
        };
        self.remove_dir = false;
        DetachedCluster {
            bootstrap_servers: self.bootstrap_servers(),
            pids,
            dir: self.dir.clone(),
            cluster_id: self.cluster_id.clone(),
        }
    }
}

impl Drop for KafkaCluster {
    fn drop(&mut self) {
        let mut state = self.lock_state();
        // SIGKILL everything first, then reap: the JVMs die in parallel.
        for st in state.iter_mut() {
            if let Some(jvm) = st.jvm.as_mut() {
                jvm.stop_watchdog();
                let _ = jvm.child.kill();
            }
        }
        for st in state.iter_mut() {
            if let Some(mut jvm) = st.jvm.take() {
                jvm.kill();
            }
        }
        drop(state);
        if let Some(mut cleaner) = self.cleaner.take() {
            let _ = cleaner.kill();
            let _ = cleaner.wait();
        }
        logs::unregister(self.registry_key);
        if self.remove_dir {
            if keep_requested() {
                eprintln!(
                    "kafka-testbed: keeping {} ({KEEP_ENV}=1)",
                    self.dir.display()
                );
            } else {
                let _ = fs::remove_dir_all(&self.dir);
            }
        }
    }
}

fn keep_requested() -> bool {
    std::env::var(KEEP_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

fn create_temp_dir() -> Result<PathBuf> {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let base = std::env::temp_dir();
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = base.join(format!(
            "kafka-testbed-{}-{}-{nanos:08x}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        match fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(Error::io(format!("creating {}", dir.display()), e)),
        }
    }
}

fn prepare_given_dir(dir: &Path) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    let mut entries =
        fs::read_dir(dir).map_err(|e| Error::io(format!("reading {}", dir.display()), e))?;
    if entries.next().is_some() {
        return Err(Error::new(format!(
            "kafka-testbed: cluster directory {} is not empty",
            dir.display()
        )));
    }
    fs::canonicalize(dir).map_err(|e| Error::io(format!("resolving {}", dir.display()), e))
}

/// Why `node` is not ready for admin requests yet, if it is not: a KRaft broker leaves
/// the APIs it forwards to the controller (CreateTopics and the other admin writes) out
/// of ApiVersions until it knows the controller's versions. A client that connected in
/// that window was told CreateTopics is unsupported (seen once in CI: a test's first
/// CreateTopics right after start-up failed with UnsupportedVersion).
fn admin_api_missing(node: i32, address: &str) -> Option<String> {
    match probe_api_keys(address, PROBE_TIMEOUT) {
        Ok(keys) if keys.contains(&(ApiKey::CreateTopics as i16)) => None,
        Ok(_) => Some(format!(
            "node {node} does not advertise CreateTopics yet (controller versions unknown)"
        )),
        Err(e) => Some(e.to_string()),
    }
}
