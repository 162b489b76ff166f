//! `dev-kafka`: a Kafka cluster for development that outlives the command.
//!
//! ```text
//! dev-kafka up [--nodes N] [--transaction-version V] [--heap 1g] [--kafka-version 3.9.1] [--schema-registry]
//! dev-kafka status        # prints the bootstrap servers (the registry's URL on stderr); exit 1 if down
//! dev-kafka down
//! dev-kafka logs [NODE] [--lines N]
//! dev-kafka fetch [VERSION...]   # the jars only; default: every version CI tests
//! dev-kafka api-versions [--write] [VERSION...]   # the negotiated-versions table of docs/compatibility.md
//! ```
//!
//! The Kafka version is `--kafka-version`, else `KAFKA_VERSION`, else 4.4.0.
//!
//! State lives in `<repo>/.dev-kafka/` (`state`, and the cluster in `cluster/`).
//! `up` and `status` print only the bootstrap servers on stdout, so
//! `export KAFKA_BOOTSTRAP_SERVERS=$(scripts/dev-kafka up)` works.

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use kafka_testbed::{
    CI_VERSIONS, ClusterConfig, DetachedCluster, KafkaCluster, KafkaVersion, pid_alive,
    send_signal, tail_file,
};

const USAGE: &str = "usage: dev-kafka up [--nodes N] [--transaction-version V] [--heap SIZE] [--kafka-version V] [--schema-registry]
       dev-kafka status | down | logs [NODE] [--lines N]
       dev-kafka fetch [VERSION...] (download the broker and tools jars only; default: every version CI tests)
       dev-kafka api-versions [--write] [VERSION...] (start each version, print what the SDK negotiates
                          as markdown; --write puts the table into docs/compatibility.md)";

fn state_dir() -> PathBuf {
    let repo = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    fs::canonicalize(&repo).unwrap_or(repo).join(".dev-kafka")
}

#[derive(Debug)]
struct State {
    bootstrap_servers: String,
    dir: PathBuf,
    pids: Vec<(i32, u32)>,
    /// The schema registry's URL and process id (`up --schema-registry`).
    registry: Option<(String, u32)>,
}

impl State {
    fn render(&self) -> String {
        let mut out = format!(
            "bootstrap={}\ndir={}\n",
            self.bootstrap_servers,
            self.dir.display()
        );
        for (id, pid) in &self.pids {
            out.push_str(&format!("pid={id}:{pid}\n"));
        }
        if let Some((url, pid)) = &self.registry {
            out.push_str(&format!("registry={url}\nregistry_pid={pid}\n"));
        }
        out
    }

    fn parse(text: &str) -> Option<Self> {
        let mut bootstrap_servers = None;
        let mut dir = None;
        let mut pids = Vec::new();
        let (mut registry_url, mut registry_pid) = (None, None);
        for line in text.lines() {
            match line.split_once('=')? {
                ("bootstrap", v) => bootstrap_servers = Some(v.to_owned()),
                ("dir", v) => dir = Some(PathBuf::from(v)),
                ("pid", v) => {
                    let (id, pid) = v.split_once(':')?;
                    pids.push((id.parse().ok()?, pid.parse().ok()?));
                }
                ("registry", v) => registry_url = Some(v.to_owned()),
                ("registry_pid", v) => registry_pid = v.parse().ok(),
                _ => {}
            }
        }
        Some(State {
            bootstrap_servers: bootstrap_servers?,
            dir: dir?,
            pids,
            registry: registry_url.zip(registry_pid),
        })
    }

    fn read() -> Option<Self> {
        Self::parse(&fs::read_to_string(state_dir().join("state")).ok()?)
    }

    fn dead_nodes(&self) -> Vec<i32> {
        self.pids
            .iter()
            .filter(|(_, pid)| !is_kafka(*pid))
            .map(|(id, _)| *id)
            .collect()
    }
}

/// Alive and still a Kafka broker (guards against pid reuse after a reboot; a zombie's
/// empty command line also counts as dead).
fn is_kafka(pid: u32) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => String::from_utf8_lossy(&cmdline).contains("kafka.Kafka"),
        Err(_) => !PathBuf::from("/proc/self").exists(),
    }
}

/// Alive and still the test bed's schema registry.
fn is_registry(pid: u32) -> bool {
    pid_alive(pid)
        && fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains("srfake-server"))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("up") => up(&args[1..]),
        Some("status") => Ok(status()),
        Some("down") => down(),
        Some("logs") => logs(&args[1..]),
        Some("fetch") => fetch(&args[1..]),
        Some("api-versions") => api_versions(&args[1..]),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(ExitCode::SUCCESS)
        }
        _ => Err(USAGE.to_owned()),
    };
    result.unwrap_or_else(|e| {
        eprintln!("dev-kafka: {e}");
        ExitCode::FAILURE
    })
}

/// The versions named in `args`, or every version CI tests.
fn versions(args: &[String]) -> Result<Vec<KafkaVersion>, String> {
    let names: Vec<&str> = if args.is_empty() {
        CI_VERSIONS.to_vec()
    } else {
        args.iter().map(String::as_str).collect()
    };
    names.iter().map(|v| v.parse::<KafkaVersion>()).collect()
}

/// Starts a 1-node cluster of each version in turn, runs the SDK against it and prints
/// the negotiated versions as a markdown table (`docs/compatibility.md`).
fn api_versions(args: &[String]) -> Result<ExitCode, String> {
    let write = args.iter().any(|a| a == "--write");
    let args: Vec<String> = args.iter().filter(|a| *a != "--write").cloned().collect();
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let mut reports = Vec::new();
    for version in versions(&args)? {
        eprintln!("dev-kafka: recording the versions negotiated with Kafka {version} ...");
        let report = runtime.block_on(kafka_testbed::api_versions::record(version))?;
        for failure in &report.failures {
            eprintln!("dev-kafka: Kafka {version}: workload step failed: {failure}");
        }
        reports.push(report);
    }
    let table = kafka_testbed::api_versions::markdown(&reports);
    print!("{table}");
    let failed = reports.iter().any(|r| !r.failures.is_empty());
    if write && !failed {
        let path = kafka_testbed::api_versions::compatibility_doc();
        let doc = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let doc = kafka_testbed::api_versions::replace_table(&doc, &table)
            .ok_or_else(|| format!("{}: no negotiated-versions table", path.display()))?;
        std::fs::write(&path, doc).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("dev-kafka: wrote the table into {}", path.display());
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Resolves the broker's and the tools' classpaths of each version (Maven downloads the
/// jars into `~/.m2` once).
fn fetch(args: &[String]) -> Result<ExitCode, String> {
    let versions = versions(args)?;
    for version in versions {
        let cp = kafka_testbed::jars::classpath_for(version).map_err(|e| e.to_string())?;
        let tools = kafka_testbed::jars::tools_classpath_for(version).map_err(|e| e.to_string())?;
        println!(
            "Kafka {version} jars: {} entries on the broker's classpath, {} on the tools'",
            cp.split(':').count(),
            tools.split(':').count()
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn flag_value<T: std::str::FromStr>(args: &[String], i: usize) -> Result<T, String> {
    args.get(i + 1)
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| format!("{} needs a valid value\n{USAGE}", args[i]))
}

fn up(args: &[String]) -> Result<ExitCode, String> {
    let mut config = ClusterConfig::new(1);
    let mut with_registry = false;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--schema-registry" => {
                with_registry = true;
                i += 1;
                continue;
            }
            "--nodes" | "-n" => config.nodes = flag_value(args, i)?,
            "--transaction-version" => config.transaction_version = Some(flag_value(args, i)?),
            "--heap" => config = config.with_heap(&flag_value::<String>(args, i)?),
            "--kafka-version" => config.kafka_version = flag_value(args, i)?,
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
        i += 2;
    }
    if let Some(state) = State::read() {
        if state.dead_nodes().is_empty() {
            eprintln!("dev-kafka: already up");
            return Ok(status());
        }
        eprintln!("dev-kafka: previous cluster is (partly) down; replacing it");
        kill_all(&state);
    }
    let dir = state_dir();
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    config.detached = true;
    config.dir = Some(dir.join("cluster"));
    let nodes = config.nodes;
    let cluster = KafkaCluster::start(config).map_err(|e| e.to_string())?;
    let DetachedCluster {
        bootstrap_servers,
        pids,
        dir: cluster_dir,
        ..
    } = cluster.into_detached();
    let registry = if with_registry {
        let registry = kafka_testbed::schema_registry::start_detached(&dir);
        match registry {
            Ok(r) => Some(r),
            Err(e) => {
                kill_all(&State {
                    bootstrap_servers,
                    dir: cluster_dir,
                    pids,
                    registry: None,
                });
                return Err(e.to_string());
            }
        }
    } else {
        None
    };
    let state = State {
        bootstrap_servers,
        dir: cluster_dir,
        pids,
        registry,
    };
    fs::write(dir.join("state"), state.render())
        .map_err(|e| format!("writing {}: {e}", dir.join("state").display()))?;
    eprintln!(
        "dev-kafka: {nodes}-node cluster up (logs: {}/node-N/broker.log); stop it with `scripts/dev-kafka down`",
        state.dir.display()
    );
    if let Some((url, _)) = &state.registry {
        eprintln!("dev-kafka: schema registry at {url} (franz-go's srfake, in memory)");
    }
    println!("{}", state.bootstrap_servers);
    Ok(ExitCode::SUCCESS)
}

fn status() -> ExitCode {
    let Some(state) = State::read() else {
        eprintln!("dev-kafka: down (no state in {})", state_dir().display());
        return ExitCode::FAILURE;
    };
    let dead = state.dead_nodes();
    if dead.is_empty() {
        eprintln!(
            "dev-kafka: up, {} node(s), dir {}",
            state.pids.len(),
            state.dir.display()
        );
        match &state.registry {
            Some((url, pid)) if is_registry(*pid) => eprintln!("dev-kafka: schema registry {url}"),
            Some((url, _)) => eprintln!("dev-kafka: schema registry {url} is not running"),
            None => {}
        }
        println!("{}", state.bootstrap_servers);
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "dev-kafka: down (node(s) {dead:?} not running; `dev-kafka logs N` shows why, `dev-kafka down` cleans up)"
        );
        ExitCode::FAILURE
    }
}

fn kill_all(state: &State) {
    if let Some((_, pid)) = state.registry.as_ref().filter(|(_, pid)| is_registry(*pid)) {
        let _ = send_signal(*pid, "TERM");
    }
    for (_, pid) in &state.pids {
        if is_kafka(*pid) {
            let _ = send_signal(*pid, "KILL");
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while state.pids.iter().any(|(_, pid)| is_kafka(*pid)) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn down() -> Result<ExitCode, String> {
    let dir = state_dir();
    match State::read() {
        Some(state) => {
            kill_all(&state);
            eprintln!("dev-kafka: stopped {} node(s)", state.pids.len());
        }
        None => eprintln!("dev-kafka: not running"),
    }
    if dir.exists() {
        fs::remove_dir_all(&dir).map_err(|e| format!("removing {}: {e}", dir.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn logs(args: &[String]) -> Result<ExitCode, String> {
    let state = State::read().ok_or("no cluster state (run `dev-kafka up`)")?;
    let mut lines = 100;
    let mut nodes: Vec<i32> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        if args[i] == "--lines" {
            lines = flag_value(args, i)?;
            i += 2;
        } else {
            nodes.push(
                args[i]
                    .parse()
                    .map_err(|_| format!("bad node id {:?}", args[i]))?,
            );
            i += 1;
        }
    }
    if nodes.is_empty() {
        nodes = state.pids.iter().map(|(id, _)| *id).collect();
    }
    for id in nodes {
        let path = state.dir.join(format!("node-{id}")).join("broker.log");
        println!("==== node {id}: {} ====", path.display());
        println!("{}", tail_file(&path, lines));
    }
    Ok(ExitCode::SUCCESS)
}
