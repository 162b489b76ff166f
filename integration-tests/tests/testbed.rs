//! Tests of the test bed itself: real Kafka JVMs, started, faulted and torn down.
//!
//! The tests run one at a time (a lock) to keep the JVM count low on small machines.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use kafka_testbed::{
    ClusterConfig, KEEP_ENV, KafkaCluster, StopSignal, bootstrap_or_start, live_cluster_log_report,
    pid_alive, probe_metadata, shared_cluster,
};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(PoisonError::into_inner)
}

fn keep_dirs() -> bool {
    std::env::var(KEEP_ENV).is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Alive and not a zombie (an orphan's zombie lingers if PID 1 is slow to reap it).
fn running(pid: u32) -> bool {
    if !pid_alive(pid) {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .is_none_or(|(_, rest)| !rest.trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Polls `check` every 200 ms until it returns `Some`, panicking with `what` after `timeout`.
fn eventually<T>(timeout: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn broker_ids(cluster: &KafkaCluster, id: i32) -> Vec<i32> {
    cluster
        .probe(id)
        .unwrap_or_else(|e| panic!("probe of node {id}: {e}"))
        .broker_ids()
}

fn assert_torn_down(pids: &[u32], dir: &Path) {
    for &pid in pids {
        assert!(!pid_alive(pid), "JVM {pid} survived the cluster's drop");
    }
    if !keep_dirs() {
        assert!(
            !dir.exists(),
            "{} survived the cluster's drop",
            dir.display()
        );
    }
    assert!(
        !live_cluster_log_report(1).contains(&dir.display().to_string()),
        "dropped cluster still in the panic-log registry"
    );
}

#[test]
fn one_node_cluster_starts_restarts_and_cleans_up() {
    let _serial = serial();
    let cluster = KafkaCluster::start(ClusterConfig::new(1)).expect("start 1 node");
    assert_eq!(cluster.node_ids(), vec![1]);
    let bootstrap = cluster.bootstrap_servers();
    assert_eq!(bootstrap, cluster.node_address(1));
    let port: i32 = bootstrap
        .strip_prefix("127.0.0.1:")
        .unwrap()
        .parse()
        .unwrap();

    let snapshot = probe_metadata(&bootstrap, Duration::from_secs(5)).unwrap();
    assert_eq!(snapshot.broker_ids(), vec![1]);
    assert_eq!(snapshot.brokers[0].port, port);
    assert_eq!(snapshot.cluster_id.as_deref(), Some(cluster.cluster_id()));

    assert!(
        cluster
            .log_tail(1, 100_000)
            .contains("Kafka Server started")
    );
    assert_eq!(cluster.log_tail(1, 3).lines().count(), 3);
    let dir = cluster.log_dir().to_owned();
    assert!(cluster.log_path(1).starts_with(&dir));
    assert!(
        live_cluster_log_report(5).contains(&dir.display().to_string()),
        "live cluster missing from the panic-log registry"
    );

    // Clean stop, then restart on the same port and data.
    let pid = cluster.pid(1).unwrap();
    cluster.stop_node(1, StopSignal::Term).unwrap();
    assert!(!pid_alive(pid));
    assert_eq!(cluster.pid(1), None);
    assert!(probe_metadata(&bootstrap, Duration::from_secs(1)).is_err());
    cluster.restart_node(1).unwrap();
    assert_ne!(cluster.pid(1), Some(pid));
    assert_eq!(broker_ids(&cluster, 1), vec![1]);
    assert!(cluster.log_tail(1, 100_000).contains("restarting node 1"));

    let pids = cluster.pids();
    assert_eq!(pids.len(), 1);
    drop(cluster);
    assert_torn_down(&pids, &dir);
}

#[test]
fn three_node_cluster_survives_kill_restart_and_pause() {
    let _serial = serial();
    let cluster = KafkaCluster::start(ClusterConfig::new(3)).expect("start 3 nodes");
    assert_eq!(cluster.node_ids(), vec![1, 2, 3]);
    let bootstrap = cluster.bootstrap_servers();
    let addresses: Vec<String> = (1..=3).map(|id| cluster.node_address(id)).collect();
    assert_eq!(bootstrap, addresses.join(","));
    for id in 1..=3 {
        let snapshot = cluster.probe(id).unwrap();
        assert_eq!(snapshot.broker_ids(), vec![1, 2, 3], "node {id}");
        assert!(
            snapshot.controller_id.is_some(),
            "node {id} knows no controller"
        );
    }

    // Crash node 2: the others fence it once its session (6 s) expires.
    let pid2 = cluster.pid(2).unwrap();
    cluster.stop_node(2, StopSignal::Kill).unwrap();
    assert!(!pid_alive(pid2));
    eventually(Duration::from_secs(30), "node 1 drops broker 2", || {
        (broker_ids(&cluster, 1) == [1, 3]).then_some(())
    });

    // Bring it back.
    cluster.restart_node(2).unwrap();
    assert_ne!(cluster.pid(2), Some(pid2));
    for id in 1..=3 {
        assert_eq!(
            broker_ids(&cluster, id),
            vec![1, 2, 3],
            "node {id} after restart"
        );
    }

    // Freeze node 3: it stops answering, then gets fenced; thaw it: it comes back.
    cluster.pause_node(3).unwrap();
    assert!(
        probe_metadata(&cluster.node_address(3), Duration::from_secs(1)).is_err(),
        "a SIGSTOPped broker answered"
    );
    eventually(
        Duration::from_secs(30),
        "node 1 fences paused broker 3",
        || (broker_ids(&cluster, 1) == [1, 2]).then_some(()),
    );
    cluster.resume_node(3).unwrap();
    cluster.wait_ready(Duration::from_secs(60)).unwrap();
    assert_eq!(broker_ids(&cluster, 3), vec![1, 2, 3]);

    let pids = cluster.pids();
    assert_eq!(pids.len(), 3);
    let dir = cluster.log_dir().to_owned();
    drop(cluster);
    assert_torn_down(&pids, &dir);
}

#[test]
fn start_fails_fast_when_a_jvm_exits() {
    let _serial = serial();
    let started = Instant::now();
    let err = KafkaCluster::start(ClusterConfig::new(1).with_heap("not-a-size"))
        .expect_err("a broker with an invalid heap size must not start");
    assert!(
        started.elapsed() < Duration::from_secs(45),
        "took {:?}",
        started.elapsed()
    );
    let message = err.to_string();
    assert!(message.contains("exited during start-up"), "{message}");
    assert!(
        message.contains("heap size"),
        "JVM output missing:\n{message}"
    );
}

#[test]
fn shared_cluster_is_started_once() {
    let _serial = serial();
    let shared = shared_cluster();
    assert!(std::ptr::eq(shared, shared_cluster()));
    let bootstrap = shared.bootstrap_servers();
    let first = bootstrap.split(',').next().unwrap();
    let snapshot = probe_metadata(first, Duration::from_secs(10)).unwrap();
    assert!(!snapshot.brokers.is_empty());
    if std::env::var_os(kafka_testbed::BOOTSTRAP_ENV).is_none() {
        let cluster = shared
            .cluster()
            .expect("no external cluster, so one was started");
        assert_eq!(snapshot.broker_ids(), vec![1]);
        assert_eq!(cluster.bootstrap_servers(), shared.bootstrap_servers());
    }
}

const CHILD_ENV: &str = "KAFKA_TESTBED_TEST_CHILD";

/// Run by `static_cluster_dies_with_its_process` in a child process.
#[test]
#[ignore = "helper: runs only inside static_cluster_dies_with_its_process"]
fn child_keeps_shared_cluster_until_exit() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let shared = shared_cluster();
    let cluster = shared.cluster().expect("child starts its own cluster");
    println!(
        "TESTBED-CHILD pid={} dir={}",
        cluster.pid(1).unwrap(),
        cluster.log_dir().display()
    );
    // Returning exits the process without dropping the static cluster.
}

/// Runs the ignored helper test `name` of this binary in a child process with `env`,
/// returning what it printed after `TESTBED-CHILD `.
fn run_child(name: &str, env: &[(&str, &str)]) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            name,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .env_remove(kafka_testbed::BOOTSTRAP_ENV)
        .env_remove(KEEP_ENV);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "child failed: {stdout}\n{stderr}");
    stdout
        .lines()
        .find_map(|l| {
            l.split_once("TESTBED-CHILD ")
                .map(|(_, rest)| rest.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no TESTBED-CHILD line in: {stdout:?}\nstderr: {stderr}"))
}

#[test]
fn static_cluster_dies_with_its_process() {
    let _serial = serial();
    let line = run_child("child_keeps_shared_cluster_until_exit", &[]);
    let (pid, dir) = line.split_once(' ').unwrap();
    let pid: u32 = pid.strip_prefix("pid=").unwrap().parse().unwrap();
    let dir = PathBuf::from(dir.strip_prefix("dir=").unwrap());
    eventually(
        Duration::from_secs(15),
        "watchdog kills the orphaned JVM",
        || (!running(pid)).then_some(()),
    );
    eventually(
        Duration::from_secs(20),
        "cleaner removes the directory",
        || (!dir.exists()).then_some(()),
    );
}

/// Run by `external_bootstrap_servers_win` in a child process.
#[test]
#[ignore = "helper: runs only inside external_bootstrap_servers_win"]
fn child_reports_external_bootstrap() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let (bootstrap, owned) = bootstrap_or_start(3).unwrap();
    let shared = shared_cluster();
    println!(
        "TESTBED-CHILD {bootstrap} {} {} {}",
        owned.is_some(),
        shared.bootstrap_servers(),
        shared.cluster().is_some()
    );
}

#[test]
fn external_bootstrap_servers_win() {
    let line = run_child(
        "child_reports_external_bootstrap",
        &[(
            kafka_testbed::BOOTSTRAP_ENV,
            " 192.0.2.1:9092,192.0.2.2:9092 ",
        )],
    );
    assert_eq!(
        line,
        "192.0.2.1:9092,192.0.2.2:9092 false 192.0.2.1:9092,192.0.2.2:9092 false"
    );
}
