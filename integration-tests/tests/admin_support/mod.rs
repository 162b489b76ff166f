//! Helpers for the admin tests: an admin client on the shared cluster, records produced
//! and groups run with `kcat` (so the tests do not depend on our own producer and
//! consumer), and Kafka's own `ConsumerGroupCommand` to compare against.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use kafka_admin::Admin;

/// An admin client on `bootstrap` with the tests' timeouts.
pub fn admin_on(bootstrap: &str) -> Admin {
    Admin::new(super::common::client(bootstrap))
}

/// An admin client on the shared cluster.
pub fn admin() -> Admin {
    admin_on(&bootstrap())
}

/// The shared cluster's bootstrap servers.
pub fn bootstrap() -> String {
    kafka_testbed::shared_cluster().bootstrap_servers()
}

/// Produces `values` to one partition with `kcat -P` and waits for delivery.
pub fn produce(bootstrap: &str, topic: &str, partition: i32, values: &[String]) {
    let mut child = Command::new("kcat")
        .args([
            "-P",
            "-b",
            bootstrap,
            "-t",
            topic,
            "-p",
            &partition.to_string(),
        ])
        .args(["-X", "linger.ms=0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat is installed (apt-get install kcat)");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        for v in values {
            writeln!(stdin, "{v}").expect("write to kcat");
        }
    }
    let out = child.wait_with_output().expect("kcat -P");
    assert!(
        out.status.success(),
        "kcat -P failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `n` values `prefix-0`, `prefix-1`, ...
pub fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i}")).collect()
}

/// A balanced `kcat -G` consumer (classic group protocol, auto-commit every 100 ms) that
/// reads `topic` from the beginning. Stopped gracefully (leaving the group) on drop.
pub struct KcatConsumer {
    child: Child,
}

impl KcatConsumer {
    /// Starts a member of `group` with client id `client_id`.
    pub fn start(bootstrap: &str, group: &str, client_id: &str, topic: &str) -> Self {
        let child = Command::new("kcat")
            .args(["-b", bootstrap, "-G", group, "-q"])
            .args(["-X", &format!("client.id={client_id}")])
            .args(["-X", "auto.offset.reset=earliest"])
            .args(["-X", "auto.commit.interval.ms=100"])
            .args(["-X", "session.timeout.ms=6000"])
            .arg(topic)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("kcat is installed (apt-get install kcat)");
        Self { child }
    }

    /// Stops the consumer with SIGTERM (it commits and leaves the group) and waits.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kafka_testbed::send_signal(self.child.id(), "TERM");
            for _ in 0..100 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for KcatConsumer {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// Kafka's own console consumer (`kafka-console-consumer.sh`) in a group of the KIP-848
/// consumer protocol (`group.protocol=consumer`). Stopped (SIGTERM, leaving the group) on
/// drop.
pub struct JavaConsumer {
    child: Child,
}

impl JavaConsumer {
    /// Starts a member of `group` reading `topic` from the beginning.
    pub fn start(bootstrap: &str, group: &str, client_id: &str, topic: &str) -> Self {
        let java = kafka_testbed::jars::java_binary().expect("java");
        let child = Command::new(java)
            .args([
                "-Xmx256m",
                "-XX:TieredStopAtLevel=1",
                "-cp",
                &tools_classpath(),
            ])
            .arg("org.apache.kafka.tools.consumer.ConsoleConsumer")
            .args([
                "--bootstrap-server",
                bootstrap,
                "--topic",
                topic,
                "--group",
                group,
            ])
            .args(["--from-beginning", "--timeout-ms", "120000"])
            .args(["--consumer-property", "group.protocol=consumer"])
            .args(["--consumer-property", &format!("client.id={client_id}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run ConsoleConsumer");
        Self { child }
    }
}

impl Drop for JavaConsumer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = kafka_testbed::send_signal(self.child.id(), "TERM");
            for _ in 0..200 {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Polls `check` every 200 ms until it returns `Some`, or panics with `what` after
/// `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not reached within {timeout:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The classpath of Kafka's command-line tools (the test bed resolves and caches it).
pub fn tools_classpath() -> String {
    kafka_testbed::jars::tools_classpath().expect("kafka-tools classpath")
}

/// One row of `kafka-consumer-groups.sh --describe` output, by column name.
pub type ToolRow = BTreeMap<String, String>;

/// Runs Kafka's `ConsumerGroupCommand --describe --group <group>` and returns its rows
/// (each a map from column header to value).
pub fn java_describe_group(bootstrap: &str, group: &str) -> Vec<ToolRow> {
    let java = kafka_testbed::jars::java_binary().expect("java");
    let out = Command::new(java)
        .args([
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            &tools_classpath(),
        ])
        .arg("org.apache.kafka.tools.consumer.group.ConsumerGroupCommand")
        .args([
            "--bootstrap-server",
            bootstrap,
            "--describe",
            "--group",
            group,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run ConsumerGroupCommand");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "ConsumerGroupCommand failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    parse_table(&stdout)
}

/// Parses whitespace-separated columns under a header line that starts with `GROUP`.
fn parse_table(text: &str) -> Vec<ToolRow> {
    let mut lines = text.lines().skip_while(|l| !l.starts_with("GROUP"));
    let Some(header) = lines.next() else {
        return Vec::new();
    };
    let columns: Vec<&str> = header.split_whitespace().collect();
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            columns
                .iter()
                .zip(l.split_whitespace())
                .map(|(c, v)| (c.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}
