//! `kafka-cli`'s operations commands on a 3-node cluster, driven as a user would:
//! `partitions reassign --generate/--execute/--verify/--cancel` with Kafka's JSON files
//! (checked against Kafka's own `ReassignPartitionsCommand` both ways),
//! `partitions elect-leaders`, `quotas`, `users scram`, `log-dirs describe`,
//! `transactions list/describe/abort`, and `dump-log` on segments the brokers wrote,
//! compared line by line with Kafka's `DumpLogSegments`. Bad input exits 1 (the cluster
//! refused) or 2 (bad usage) and changes nothing.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::example_bin::show;
use kafka_admin::{Admin, ConfigResource, CreateTopicsOptions, DescribeConfigsOptions, NewTopic};
use kafka_client::Client;
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::records::Compression;
use kafka_testbed::{ClusterConfig, KafkaCluster};

fn cluster() -> &'static KafkaCluster {
    static CLUSTER: OnceLock<KafkaCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        kafka_testbed::install_panic_hook();
        let config = ClusterConfig::new(3).with_property("auto.leader.rebalance.enable", "false");
        KafkaCluster::start(config).expect("3-node cluster")
    })
}

/// One test at a time on the shared cluster.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `kafka-cli` against the cluster (or none) with `args` and `stdin`.
fn cli(bootstrap: Option<&str>, args: &[&str], stdin: &str) -> Output {
    let mut all: Vec<&str> = bootstrap.map_or(Vec::new(), |b| vec!["--bootstrap-server", b]);
    all.extend_from_slice(args);
    common::example_bin::run_example("kafka-cli", &all, stdin)
}

/// Runs `kafka-cli` until `done` accepts its output (up to 20 s): for reads of what
/// the brokers learn from the metadata log a moment after the controller.
fn cli_until(bootstrap: Option<&str>, args: &[&str], done: impl Fn(&Output) -> bool) -> Output {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let o = cli(bootstrap, args, "");
        if done(&o) || std::time::Instant::now() > deadline {
            return o;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("cli-ops-{}-{name}", std::process::id()));
    std::fs::write(&path, text).expect("write temp file");
    path
}

/// Runs a Kafka tool class with `classpath` and returns its output.
fn java(classpath: &str, class: &str, args: &[&str]) -> Output {
    let java = kafka_testbed::jars::java_binary().expect("java");
    Command::new(java)
        .args([
            "-Xmx256m",
            "-XX:TieredStopAtLevel=1",
            "-cp",
            classpath,
            class,
        ])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run java")
}

/// Runs one of Kafka's tools that moved between releases: `tools_class` on the tools
/// classpath (Kafka 4.2 on: `org.apache.kafka.tools.*` in kafka-tools), else
/// `broker_class` on the broker's (4.1 and before: `kafka.tools.*`, `kafka.admin.*`).
fn java_moved_tool(tools_class: &str, broker_class: &str, args: &[&str]) -> Output {
    let tools = kafka_testbed::jars::tools_classpath().expect("tools classpath");
    let out = java(&tools, tools_class, args);
    let missing =
        String::from_utf8_lossy(&out.stderr).contains("Could not find or load main class");
    if !missing {
        return out;
    }
    let broker = kafka_testbed::jars::classpath().expect("classpath");
    java(&broker, broker_class, args)
}

fn java_reassign(bootstrap: &str, args: &[&str]) -> String {
    let cp = kafka_testbed::jars::tools_classpath().expect("tools classpath");
    let mut all = vec!["--bootstrap-server", bootstrap];
    all.extend_from_slice(args);
    let o = java(
        &cp,
        "org.apache.kafka.tools.reassign.ReassignPartitionsCommand",
        &all,
    );
    assert!(
        o.status.success(),
        "ReassignPartitionsCommand: {}",
        show(&o)
    );
    out(&o)
}

/// The JSON line after `header` in a `--generate` output.
fn json_after(text: &str, header: &str) -> String {
    let mut lines = text.lines().skip_while(|l| !l.starts_with(header)).skip(1);
    lines
        .find(|l| l.trim_start().starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON after {header:?} in:\n{text}"))
        .to_string()
}

async fn create_assigned(client: &Client, topic: &str, assignment: &[Vec<i32>]) {
    let mut t = NewTopic::new(topic);
    for (p, replicas) in assignment.iter().enumerate() {
        t = t.assignment(p as i32, replicas.clone());
    }
    let r = Admin::new(client.clone())
        .create_topics([t], CreateTopicsOptions::default())
        .await
        .unwrap();
    r[topic].as_ref().expect("created");
    common::wait_for_leaders(client, topic, assignment.len() as i32).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_ops_reassign_generate_execute_verify_and_elect_leaders() {
    let _turn = TURN.lock().await;
    let bootstrap = cluster().bootstrap_servers();
    let b = Some(bootstrap.as_str());
    let client = common::client(&bootstrap);
    let topic = common::unique_topic("cli-move");
    create_assigned(&client, &topic, &[vec![1, 2], vec![2, 1], vec![1, 2]]).await;

    let to_move = temp_file(
        "topics.json",
        &format!(r#"{{"topics":[{{"topic":"{topic}"}}],"version":1}}"#),
    );
    let to_move = to_move.to_str().unwrap();
    let o = cli(
        b,
        &[
            "partitions",
            "reassign",
            "--generate",
            "--topics-to-move-json-file",
            to_move,
            "--broker-list",
            "2,3",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let current = json_after(&out(&o), "Current partition replica assignment");
    assert!(current.contains(r#""replicas":[1,2]"#), "{current}");
    let proposed = json_after(&out(&o), "Proposed partition reassignment configuration");
    let plan: serde_json::Value = serde_json::from_str(&proposed).unwrap();
    let parts = plan["partitions"].as_array().unwrap();
    assert_eq!(parts.len(), 3);
    for p in parts {
        let replicas: BTreeSet<i64> = p["replicas"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_i64().unwrap())
            .collect();
        assert_eq!(replicas, BTreeSet::from([2, 3]), "{proposed}");
        assert_eq!(p["log_dirs"], serde_json::json!(["any", "any"]));
    }
    let plan_file = temp_file("plan.json", &proposed);
    let plan_file = plan_file.to_str().unwrap();

    let o = cli(
        b,
        &[
            "partitions",
            "reassign",
            "--execute",
            "--reassignment-json-file",
            plan_file,
            "--throttle",
            "50000000",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        out(&o).contains("Successfully started partition reassignments"),
        "{}",
        show(&o)
    );
    let o = cli(
        b,
        &[
            "partitions",
            "reassign",
            "--verify",
            "--wait",
            "--reassignment-json-file",
            plan_file,
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let o = cli(
        b,
        &[
            "partitions",
            "reassign",
            "--verify",
            "--reassignment-json-file",
            plan_file,
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    for p in 0..3 {
        assert!(
            out(&o).contains(&format!(
                "Reassignment of partition {topic}-{p} is completed."
            )),
            "{}",
            show(&o)
        );
    }
    // The throttles --execute set are gone after the complete --verify.
    let admin = Admin::new(client.clone());
    let configs = admin
        .describe_configs(
            [ConfigResource::broker(1)],
            DescribeConfigsOptions::default(),
        )
        .await
        .unwrap();
    let broker1 = configs.values().next().unwrap().as_ref().unwrap();
    let rate = broker1
        .get("leader.replication.throttled.rate")
        .and_then(|c| c.value.clone());
    assert_ne!(rate.as_deref(), Some("50000000"), "throttle removed");

    // Kafka's tool agrees on our JSON, and ours reads the JSON Kafka's tool writes.
    let verify = java_reassign(
        &bootstrap,
        &["--verify", "--reassignment-json-file", plan_file],
    );
    for p in 0..3 {
        assert!(
            verify.contains(&format!(
                "Reassignment of partition {topic}-{p} is completed"
            )),
            "{verify}"
        );
    }
    let generated = java_reassign(
        &bootstrap,
        &[
            "--generate",
            "--topics-to-move-json-file",
            to_move,
            "--broker-list",
            "1,2",
        ],
    );
    let java_plan = temp_file(
        "java-plan.json",
        &json_after(&generated, "Proposed partition reassignment configuration"),
    );
    let o = cli(
        b,
        &[
            "partitions",
            "reassign",
            "--verify",
            "--reassignment-json-file",
            java_plan.to_str().unwrap(),
        ],
        "",
    );
    assert_ne!(code(&o), 2, "Kafka's JSON parses: {}", show(&o));
    assert!(
        out(&o).contains(&format!("partition {topic}-0")),
        "{}",
        show(&o)
    );

    // Leaders back on the preferred replicas.
    let o = cli(
        b,
        &[
            "partitions",
            "elect-leaders",
            "--election-type",
            "preferred",
            "--topic",
            &topic,
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let meta = client.refresh_topics(&[&topic]).await.unwrap();
    for p in &meta.topic(&topic).unwrap().partitions {
        assert_eq!(p.leader, Some(p.replicas[0]), "{p:?}");
    }
    let o = cli(
        b,
        &[
            "partitions",
            "elect-leaders",
            "--election-type",
            "preferred",
            "--topic",
            &topic,
            "--partition",
            "0",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        out(&o).contains("Valid replica already elected"),
        "{}",
        show(&o)
    );

    // Bad input: a broker that does not exist (refused, nothing moves), a broken file,
    // cancelling nothing.
    let bad = temp_file(
        "bad.json",
        &format!(
            r#"{{"version":1,"partitions":[{{"topic":"{topic}","partition":0,"replicas":[2,99]}}]}}"#
        ),
    );
    let before = client
        .refresh_topics(&[&topic])
        .await
        .unwrap()
        .topic(&topic)
        .unwrap()
        .partitions[0]
        .replicas
        .clone();
    let o = cli(
        b,
        &[
            "partitions",
            "reassign",
            "--execute",
            "--reassignment-json-file",
            bad.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code(&o), 1, "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("INVALID_REPLICA_ASSIGNMENT"),
        "{}",
        show(&o)
    );
    let after = client
        .refresh_topics(&[&topic])
        .await
        .unwrap()
        .topic(&topic)
        .unwrap()
        .partitions[0]
        .replicas
        .clone();
    assert_eq!(before, after, "nothing moved");
    let broken = temp_file("broken.json", "{\"version\":1,\"partitions\":[");
    let o = cli(
        b,
        &[
            "partitions",
            "reassign",
            "--execute",
            "--reassignment-json-file",
            broken.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(code(&o), 2, "{}", show(&o));
    let o = cli(
        b,
        &[
            "partitions",
            "reassign",
            "--cancel",
            "--reassignment-json-file",
            plan_file,
        ],
        "",
    );
    assert_eq!(code(&o), 1, "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("NO_REASSIGNMENT_IN_PROGRESS"),
        "{}",
        show(&o)
    );
    let o = cli(
        b,
        &[
            "partitions",
            "reassign",
            "--generate",
            "--topics-to-move-json-file",
            to_move,
            "--broker-list",
            "2,99",
        ],
        "",
    );
    assert_eq!(code(&o), 2, "{}", show(&o));
    for f in [to_move, plan_file] {
        let _ = std::fs::remove_file(f);
    }
    for f in [java_plan, bad, broken] {
        let _ = std::fs::remove_file(f);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_ops_quotas_scram_users_log_dirs_and_transactions() {
    let _turn = TURN.lock().await;
    let bootstrap = cluster().bootstrap_servers();
    let b = Some(bootstrap.as_str());
    let client = common::client(&bootstrap);

    // Quotas.
    let id = format!("cli-ops-client-{}", std::process::id());
    let o = cli(
        b,
        &[
            "quotas",
            "alter",
            "--client-id",
            &id,
            "--add-config",
            "producer_byte_rate=1024,consumer_byte_rate=2048",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let line = loop {
        let o = cli(b, &["quotas", "describe", "--client-id", &id, "--json"], "");
        assert_eq!(code(&o), 0, "{}", show(&o));
        if let Some(l) = out(&o).lines().next() {
            break l.to_string();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "quota not described"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["entity"]["client-id"], serde_json::json!(id));
    assert_eq!(v["quotas"]["producer_byte_rate"], serde_json::json!(1024.0));
    assert_eq!(v["quotas"]["consumer_byte_rate"], serde_json::json!(2048.0));
    // Kafka's kafka-configs.sh (ConfigCommand) reads back the same quotas, in the words
    // our text output uses.
    let java_out = java_moved_tool(
        "org.apache.kafka.tools.ConfigCommand",
        "kafka.admin.ConfigCommand",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--describe",
            "--entity-type",
            "clients",
            "--entity-name",
            &id,
        ],
    );
    assert!(
        java_out.status.success(),
        "ConfigCommand: {}",
        show(&java_out)
    );
    let theirs = out(&java_out);
    let ours = out(&cli(b, &["quotas", "describe", "--client-id", &id], ""));
    let quota_line = |text: &str| {
        text.lines()
            .find(|l| l.starts_with("Quota configs for"))
            .map(str::to_string)
            .unwrap_or_else(|| panic!("no quota line in {text}"))
    };
    assert_eq!(
        quota_line(&ours),
        format!(
            "Quota configs for client-id '{id}' are consumer_byte_rate=2048.0, producer_byte_rate=1024.0"
        )
    );
    assert_eq!(quota_line(&ours), quota_line(&theirs));
    for bad in [
        vec![
            "quotas",
            "alter",
            "--client-id",
            &id,
            "--add-config",
            "producer_byte_rate",
        ],
        vec![
            "quotas",
            "alter",
            "--client-id",
            &id,
            "--add-config",
            "producer_byte_rate=fast",
        ],
        vec!["quotas", "alter", "--add-config", "producer_byte_rate=1"],
        vec!["quotas", "describe", "--entity-type", "bogus"],
    ] {
        let o = cli(b, &bad, "");
        assert_eq!(code(&o), 2, "{bad:?}: {}", show(&o));
    }
    let o = cli(
        b,
        &[
            "quotas",
            "alter",
            "--client-id",
            &id,
            "--add-config",
            "no_such_quota=1",
        ],
        "",
    );
    assert_eq!(code(&o), 1, "{}", show(&o));
    let o = cli(
        b,
        &[
            "quotas",
            "alter",
            "--client-id",
            &id,
            "--delete-config",
            "producer_byte_rate,consumer_byte_rate",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));

    // SCRAM users.
    let user = format!("cli-ops-user-{}", std::process::id());
    let o = cli(
        b,
        &[
            "users",
            "scram",
            "upsert",
            "--user",
            &user,
            "--mechanism",
            "SCRAM-SHA-256",
            "--iterations",
            "4096",
        ],
        "pw-from-stdin\n",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    // Brokers apply the change from the metadata log a moment after the controller.
    let o = cli_until(
        b,
        &["users", "scram", "describe", "--user", &user, "--json"],
        |o| code(o) == 0,
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let v: serde_json::Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(
        v["credentials"],
        serde_json::json!([{"mechanism": "SCRAM-SHA-256", "iterations": 4096}])
    );
    let o = cli(
        b,
        &[
            "users",
            "scram",
            "upsert",
            "--user",
            &user,
            "--iterations",
            "10",
            "--password",
            "x",
        ],
        "",
    );
    assert_eq!(code(&o), 1, "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("UNACCEPTABLE_CREDENTIAL"),
        "{}",
        show(&o)
    );
    let o = cli(
        b,
        &[
            "users",
            "scram",
            "delete",
            "--user",
            &user,
            "--mechanism",
            "SCRAM-SHA-256",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let o = cli_until(b, &["users", "scram", "describe", "--user", &user], |o| {
        code(o) != 0
    });
    assert_eq!(code(&o), 1, "no credentials left: {}", show(&o));

    // Log dirs.
    let topic = common::unique_topic("cli-dirs");
    create_assigned(&client, &topic, &[vec![1]]).await;
    // A leader in metadata does not mean broker 1 has made the log yet
    // (DescribeLogDirs answers from its disk): ask until it is there.
    let partition_names = |o: &Output| -> Vec<String> {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(out(o).trim()) else {
            return Vec::new();
        };
        v["brokers"][0]["logDirs"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|d| d["partitions"].as_array().into_iter().flatten())
            .filter_map(|p| p["partition"].as_str().map(str::to_owned))
            .collect()
    };
    let o = cli_until(
        b,
        &[
            "log-dirs",
            "describe",
            "--broker-list",
            "1",
            "--topic-list",
            &topic,
        ],
        |o| code(o) == 0 && !partition_names(o).is_empty(),
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(
        partition_names(&o),
        vec![format!("{topic}-0")],
        "{}",
        show(&o)
    );

    let o = cli(b, &["log-dirs", "describe", "--broker-list", "99"], "");
    assert_eq!(code(&o), 1, "{}", show(&o));

    // Transactions: an open one is listed, described and aborted.
    let txn_topic = common::unique_topic("cli-txn");
    common::create_topic(&client, &txn_topic, 1, 3).await;
    let txn_id = format!("cli-ops-txn-{}", std::process::id());
    let mut producer = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .transactional_id(&txn_id)
        .build_transactional()
        .await
        .unwrap();
    let txn = producer.begin().await.unwrap();
    let d = txn
        .send(ProducerRecord::new(txn_topic.as_str()).with_value("open"))
        .await
        .unwrap();
    d.await.expect("written");
    let o = cli(
        b,
        &["transactions", "list", "--json", "--state", "Ongoing"],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        out(&o).contains(&format!(r#""transactionalId":"{txn_id}""#)),
        "{}",
        show(&o)
    );
    let o = cli(
        b,
        &["transactions", "describe", "--transactional-id", &txn_id],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        out(&o).contains("Ongoing") && out(&o).contains(&format!("{txn_topic}-0")),
        "{}",
        show(&o)
    );
    let o = cli(
        b,
        &[
            "transactions",
            "abort",
            "--topic",
            &txn_topic,
            "--partition",
            "0",
            "--start-offset",
            "0",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let o = cli(
        b,
        &[
            "transactions",
            "abort",
            "--topic",
            &txn_topic,
            "--partition",
            "0",
            "--start-offset",
            "0",
        ],
        "",
    );
    assert_eq!(
        code(&o),
        1,
        "no open transaction at 0 any more: {}",
        show(&o)
    );
    let o = cli(b, &["quorum", "describe"], "");
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        out(&o).contains("CurrentVoters:          [1,2,3]"),
        "{}",
        show(&o)
    );
    let o = cli(b, &["quorum", "describe", "--json"], "");
    assert_eq!(code(&o), 0, "{}", show(&o));
    let q: serde_json::Value = serde_json::from_str(out(&o).trim()).expect("one JSON line");
    let mut voters: Vec<i64> = q["voters"]
        .as_array()
        .expect("voters")
        .iter()
        .map(|v| v["nodeId"].as_i64().expect("nodeId"))
        .collect();
    voters.sort_unstable();
    assert_eq!(voters, vec![1, 2, 3], "{}", show(&o));
    assert!(
        voters.contains(&q["leaderId"].as_i64().unwrap()),
        "{}",
        show(&o)
    );
    let o = cli(b, &["quorum", "describe", "--replication"], "");
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert_eq!(out(&o).matches("Leader").count(), 1, "{}", show(&o));
    let o = cli(b, &["features", "describe"], "");
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        out(&o).contains("Feature: metadata.version"),
        "{}",
        show(&o)
    );
    let o = cli(b, &["features", "describe", "--json"], "");
    assert_eq!(code(&o), 0, "{}", show(&o));
    let metadata_version = out(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .find(|v| v["feature"] == "metadata.version")
        .and_then(|v| v["finalizedVersionLevel"].as_i64())
        .expect("metadata.version finalized");
    assert!(metadata_version > 0, "{}", show(&o));
    // A dry run validates with the controller and changes nothing; an unknown feature
    // and a malformed level are refused.
    let keep = format!("metadata.version={metadata_version}");
    let o = cli(
        b,
        &["features", "upgrade", "--feature", &keep, "--dry-run"],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        out(&o).contains(&format!(
            "metadata.version can be upgraded to {metadata_version}"
        )),
        "{}",
        show(&o)
    );
    let o = cli(
        b,
        &[
            "features",
            "downgrade",
            "--feature",
            "no.such.feature=1",
            "--dry-run",
        ],
        "",
    );
    assert_eq!(code(&o), 1, "{}", show(&o));
    let o = cli(
        b,
        &["features", "upgrade", "--feature", "metadata.version"],
        "",
    );
    assert_eq!(code(&o), 2, "{}", show(&o));
    let o = cli(
        b,
        &[
            "transactions",
            "describe",
            "--transactional-id",
            "cli-ops-no-such-id",
        ],
        "",
    );
    assert_eq!(code(&o), 1, "{}", show(&o));
    drop(txn);
    let _ = producer.close(Duration::from_secs(5)).await;
}

/// The directory holding `topic`-0's log on some broker.
fn partition_dir(topic: &str) -> PathBuf {
    let wanted = format!("{topic}-0");
    let mut stack = vec![cluster().log_dir().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n == wanted.as_str()) {
                    return path;
                }
                stack.push(path);
            }
        }
    }
    panic!("no log dir for {wanted}");
}

/// Kafka's `DumpLogSegments --print-data-log` on `file`: its batch and record lines.
fn java_dump(file: &Path) -> Vec<String> {
    let o = java_moved_tool(
        "org.apache.kafka.tools.DumpLogSegments",
        "kafka.tools.DumpLogSegments",
        &["--print-data-log", "--files", file.to_str().unwrap()],
    );
    assert!(o.status.success(), "DumpLogSegments: {}", show(&o));
    dump_lines(&out(&o))
}

fn dump_lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| {
            l.starts_with("baseOffset:")
                || l.starts_with("| offset:")
                || l.starts_with("offset:")
                || l.starts_with("timestamp:")
        })
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_ops_dump_log_prints_what_kafkas_dump_log_segments_prints() {
    let _turn = TURN.lock().await;
    let bootstrap = cluster().bootstrap_servers();
    let client = common::client(&bootstrap);
    let mut files = Vec::new();
    for codec in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let topic = common::unique_topic(&format!("cli-dump-{}", codec.name()));
        common::create_topic(&client, &topic, 1, 1).await;
        let p = Producer::builder()
            .bootstrap_servers([bootstrap.as_str()])
            .compression(codec)
            .linger(Duration::from_millis(20))
            .build()
            .unwrap();
        let mut ds = Vec::new();
        for i in 0..40 {
            let r = ProducerRecord::new(topic.as_str())
                .with_key(format!("k{}", i % 4))
                .with_value(format!("value-{i}"))
                .with_header("h", format!("{i}"));
            ds.push(p.send(r).await.unwrap());
        }
        for d in ds {
            d.await.expect("written");
        }
        p.close(Duration::from_secs(5)).await.unwrap();
        files.push(partition_dir(&topic));
    }
    // A transactional topic with a committed and an aborted transaction.
    let topic = common::unique_topic("cli-dump-txn");
    common::create_topic(&client, &topic, 1, 1).await;
    let mut tp = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .transactional_id(format!("cli-dump-{}", std::process::id()))
        .build_transactional()
        .await
        .unwrap();
    for (n, commit) in [(0, true), (1, false), (2, true)] {
        let t = tp.begin().await.unwrap();
        let d = t
            .send(ProducerRecord::new(topic.as_str()).with_value(format!("txn-{n}")))
            .await
            .unwrap();
        d.await.expect("written");
        if commit {
            t.commit().await.unwrap()
        } else {
            t.abort().await.unwrap()
        }
    }
    tp.close(Duration::from_secs(5)).await.unwrap();
    files.push(partition_dir(&topic));

    let mut batches = 0;
    for dir in &files {
        let log = dir.join("00000000000000000000.log");
        let ours = cli(
            None,
            &["dump-log", "--print-data-log", log.to_str().unwrap()],
            "",
        );
        assert_eq!(code(&ours), 0, "{}", show(&ours));
        let ours = dump_lines(&out(&ours));
        let theirs = java_dump(&log);
        assert!(!theirs.is_empty());
        assert_eq!(ours, theirs, "dump of {}", log.display());
        batches += ours.iter().filter(|l| l.starts_with("baseOffset:")).count();
    }
    let txn_dump = dump_lines(&out(&cli(
        None,
        &[
            "dump-log",
            "--deep-iteration",
            files
                .last()
                .unwrap()
                .join("00000000000000000000.log")
                .to_str()
                .unwrap(),
        ],
        "",
    )));
    assert!(
        txn_dump.iter().any(|l| l.contains("endTxnMarker: ABORT")),
        "{txn_dump:?}"
    );
    assert!(
        txn_dump.iter().any(|l| l.contains("endTxnMarker: COMMIT")),
        "{txn_dump:?}"
    );
    println!(
        "{batches} batches in {} segments identical to DumpLogSegments",
        files.len()
    );

    // JSON: one object per batch, the same counts.
    let log = files[0].join("00000000000000000000.log");
    let o = cli(None, &["dump-log", "--json", log.to_str().unwrap()], "");
    assert_eq!(code(&o), 0, "{}", show(&o));
    let counts: i64 = out(&o)
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["count"]
                .as_i64()
                .unwrap()
        })
        .sum();
    assert_eq!(counts, 40);

    // A truncated copy: the readable batches, then the position of the damage, exit 1.
    let whole = std::fs::read(&log).unwrap();
    let dir = std::env::temp_dir().join(format!("cli-ops-dump-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cut = dir.join("00000000000000000000.log");
    std::fs::write(&cut, &whole[..whole.len() - 7]).unwrap();
    let o = cli(None, &["dump-log", cut.to_str().unwrap()], "");
    assert_eq!(code(&o), 1, "{}", show(&o));
    let full = dump_lines(&out(&cli(None, &["dump-log", log.to_str().unwrap()], "")));
    let partial = dump_lines(&out(&o));
    assert_eq!(
        partial[..],
        full[..full.len() - 1],
        "every complete batch printed"
    );
    let last_position = full
        .last()
        .and_then(|l| l.split(" position: ").nth(1))
        .and_then(|r| r.split(' ').next())
        .unwrap()
        .to_string();
    assert!(
        String::from_utf8_lossy(&o.stderr)
            .contains(&format!("truncated batch at byte position {last_position}")),
        "{}",
        show(&o)
    );
    let o = cli(
        None,
        &["dump-log", dir.join("not-a-segment.log").to_str().unwrap()],
        "",
    );
    assert_eq!(code(&o), 2, "{}", show(&o));
    let _ = std::fs::remove_dir_all(&dir);

    // Index files print their entries like Kafka's tool.
    let index = files[0].join("00000000000000000000.index");
    let o = cli(None, &["dump-log", index.to_str().unwrap()], "");
    assert_eq!(code(&o), 0, "{}", show(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_ops_configs_describe_alter_and_leaders_elect() {
    let _turn = TURN.lock().await;
    let bootstrap = cluster().bootstrap_servers();
    let b = Some(bootstrap.as_str());
    let client = common::client(&bootstrap);
    let topic = common::unique_topic("cli-configs");
    create_assigned(&client, &topic, &[vec![1, 2], vec![2, 1]]).await;

    // Scripts read topics as JSON.
    let o = cli(b, &["topics", "describe", "--topic", &topic, "--json"], "");
    assert_eq!(code(&o), 0, "{}", show(&o));
    let d: serde_json::Value = serde_json::from_str(out(&o).trim()).expect("one JSON line");
    assert_eq!(d["topic"], serde_json::json!(topic));
    assert_eq!(d["partitions"][0]["replicas"], serde_json::json!([1, 2]));
    assert_eq!(d["partitions"][1]["replicas"], serde_json::json!([2, 1]));
    let o = cli(b, &["topics", "list", "--json"], "");
    assert_eq!(code(&o), 0, "{}", show(&o));
    let listed = out(&o)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a JSON line"))
        .find(|v| v["topic"] == serde_json::json!(topic))
        .expect("topic listed");
    assert_eq!(listed["topicId"], d["topicId"]);
    assert_eq!(listed["partitions"], serde_json::json!(2));

    // Set two topic configs, one a list in Kafka's bracket syntax.
    let o = cli(
        b,
        &[
            "configs",
            "alter",
            "--entity-type",
            "topics",
            "--entity-name",
            &topic,
            "--add-config",
            "retention.ms=123456,cleanup.policy=[compact,delete]",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    // Ours and Kafka's ConfigCommand read back the same overrides.
    let pairs = |text: &str| -> BTreeSet<String> {
        text.lines()
            .filter_map(|l| l.trim_start().split(" sensitive=").next())
            .filter(|kv| kv.contains('=') && !kv.contains(' '))
            .map(str::to_owned)
            .collect()
    };
    let want: BTreeSet<String> = ["cleanup.policy=compact,delete", "retention.ms=123456"]
        .map(String::from)
        .into();
    let describe = [
        "configs",
        "describe",
        "--entity-type",
        "topics",
        "--entity-name",
        topic.as_str(),
    ];
    let o = cli_until(b, &describe, |o| pairs(&out(o)) == want);
    assert_eq!(pairs(&out(&o)), want, "{}", show(&o));
    let java_out = java_moved_tool(
        "org.apache.kafka.tools.ConfigCommand",
        "kafka.admin.ConfigCommand",
        &[
            "--bootstrap-server",
            &bootstrap,
            "--describe",
            "--entity-type",
            "topics",
            "--entity-name",
            &topic,
        ],
    );
    assert!(java_out.status.success(), "{}", show(&java_out));
    assert_eq!(pairs(&out(&java_out)), want, "{}", show(&java_out));
    // --json --all gives every config with its source.
    let o = cli(b, &[&describe[..], &["--json", "--all"]].concat(), "");
    assert_eq!(code(&o), 0, "{}", show(&o));
    let lines: Vec<serde_json::Value> = out(&o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let retention = lines
        .iter()
        .find(|v| v["name"] == "retention.ms")
        .expect("retention.ms listed");
    assert_eq!(retention["value"], "123456");
    assert_eq!(retention["source"], "DynamicTopicConfig");
    assert!(lines.iter().any(|v| v["source"] == "DefaultConfig"));

    // Remove one: Kafka's tool no longer shows it.
    let o = cli(
        b,
        &[
            "configs",
            "alter",
            "--entity-type",
            "topics",
            "--entity-name",
            &topic,
            "--delete-config",
            "retention.ms",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let want_after: BTreeSet<String> = ["cleanup.policy=compact,delete".to_string()].into();
    let o = cli_until(b, &describe, |o| pairs(&out(o)) == want_after);
    assert_eq!(pairs(&out(&o)), want_after, "{}", show(&o));

    // A broker's dynamic config, set and removed.
    let broker = [
        "configs",
        "alter",
        "--entity-type",
        "brokers",
        "--entity-name",
        "1",
    ];
    let o = cli(
        b,
        &[&broker[..], &["--add-config", "log.cleaner.threads=2"]].concat(),
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let broker_describe = [
        "configs",
        "describe",
        "--entity-type",
        "brokers",
        "--entity-name",
        "1",
    ];
    let o = cli_until(b, &broker_describe, |o| {
        pairs(&out(o)).contains("log.cleaner.threads=2")
    });
    assert!(
        pairs(&out(&o)).contains("log.cleaner.threads=2"),
        "{}",
        show(&o)
    );
    let o = cli(
        b,
        &[&broker[..], &["--delete-config", "log.cleaner.threads"]].concat(),
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));

    // Quota entities route to the quota commands.
    let id = format!("cli-configs-client-{}", std::process::id());
    let o = cli(
        b,
        &[
            "configs",
            "alter",
            "--entity-type",
            "clients",
            "--entity-name",
            &id,
            "--add-config",
            "producer_byte_rate=4096",
        ],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    let o = cli_until(
        b,
        &[
            "configs",
            "describe",
            "--entity-type",
            "clients",
            "--entity-name",
            &id,
        ],
        |o| out(o).contains("producer_byte_rate=4096.0"),
    );
    assert!(
        out(&o).contains("producer_byte_rate=4096.0"),
        "{}",
        show(&o)
    );

    // Bad input: usage errors (2) and the broker's refusal (1), nothing changed.
    for (args, want_code) in [
        (
            vec![
                "configs",
                "alter",
                "--entity-type",
                "brokers",
                "--entity-name",
                "x",
                "--add-config",
                "log.cleaner.threads=2",
            ],
            2,
        ),
        (
            vec![
                "configs",
                "alter",
                "--entity-type",
                "users",
                "--add-config",
                "producer_byte_rate=1",
            ],
            2,
        ),
        (
            vec![
                "configs",
                "alter",
                "--entity-type",
                "topics",
                "--entity-name",
                &topic,
            ],
            2,
        ),
        (
            vec![
                "configs",
                "alter",
                "--entity-type",
                "topics",
                "--entity-name",
                &topic,
                "--add-config",
                "no.such.config=1",
            ],
            1,
        ),
    ] {
        let o = cli(b, &args, "");
        assert_eq!(code(&o), want_code, "{args:?}: {}", show(&o));
    }
    let o = cli(b, &describe, "");
    assert_eq!(pairs(&out(&o)), want_after, "{}", show(&o));

    // `leaders elect` (the same command as `partitions elect-leaders`): on healthy
    // partitions every preferred leader already leads.
    let o = cli(
        b,
        &["leaders", "elect", "--type", "preferred", "--topic", &topic],
        "",
    );
    assert_eq!(code(&o), 0, "{}", show(&o));
    assert!(
        out(&o).contains("Valid replica already elected for partitions"),
        "{}",
        show(&o)
    );
    let o = cli(b, &["leaders", "elect", "--type", "preferred"], "");
    assert_eq!(code(&o), 2, "a topic or --all is required: {}", show(&o));
}
