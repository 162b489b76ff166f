//! `bootstrap.controllers` (KIP-919) on a 3-node KRaft cluster: an admin that talks to
//! the controllers directly describes them (the same cluster id as through the brokers,
//! the active controller), the finalized features and the metadata quorum (the same
//! leader and voters as Kafka's `kafka-metadata-quorum --bootstrap-controller`); topic
//! calls get a typed error. `kafka-cli --bootstrap-controller` does the same for
//! `cluster describe`, `quorum describe` and `features describe`.

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use common::example_bin::show;
use kafka_admin::{
    Admin, DescribeClusterOptions, FeaturesOptions, ListTopicsOptions, QuorumOptions,
};
use kafka_client::{Client, Error};
use kafka_testbed::{ClusterConfig, KafkaCluster};

fn cluster() -> &'static KafkaCluster {
    static CLUSTER: OnceLock<KafkaCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        kafka_testbed::install_panic_hook();
        KafkaCluster::start(ClusterConfig::new(3)).expect("3-node cluster")
    })
}

/// `host:port` of every node's controller listener, comma-separated.
fn controllers() -> String {
    let c = cluster();
    c.node_ids()
        .iter()
        .map(|id| c.controller_address(*id))
        .collect::<Vec<_>>()
        .join(",")
}

fn via_controllers() -> Admin {
    Admin::new(
        Client::builder()
            .bootstrap_controllers([controllers()])
            .api_timeout(Duration::from_secs(20))
            .build()
            .expect("controllers config"),
    )
}

fn via_brokers() -> Admin {
    Admin::new(
        Client::builder()
            .bootstrap_servers([cluster().bootstrap_servers()])
            .api_timeout(Duration::from_secs(20))
            .build()
            .unwrap(),
    )
}

/// The quorum's leader and voters as Kafka's `kafka-metadata-quorum --bootstrap-controller
/// describe --status` (kafka-tools jar) prints them.
fn java_quorum() -> (i32, BTreeSet<i32>) {
    let java = kafka_testbed::jars::java_binary().expect("java");
    let out = Command::new(java)
        .args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp"])
        .arg(kafka_testbed::jars::tools_classpath().expect("tools classpath"))
        .arg("org.apache.kafka.tools.MetadataQuorumCommand")
        .args([
            "--bootstrap-controller",
            &controllers(),
            "describe",
            "--status",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("run MetadataQuorumCommand");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "MetadataQuorumCommand: {}",
        show(&out)
    );
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| panic!("no {name} in:\n{stdout}"))
    };
    let leader = field("LeaderId:").parse().expect("leader id");
    // `[{"id": 1, "directoryId": ..., "endpoints": [...]}, ...]`, or `[1,2,3]` before 3.9.
    let voters_text = field("CurrentVoters:");
    let voters = if voters_text.contains("\"id\"") {
        voters_text
            .split("\"id\":")
            .skip(1)
            .map(|s| {
                s.trim_start()
                    .split(|c: char| !c.is_ascii_digit())
                    .next()
                    .unwrap()
                    .parse()
                    .unwrap()
            })
            .collect()
    } else {
        voters_text
            .trim_matches(|c| c == '[' || c == ']')
            .split(',')
            .map(|s| s.trim().parse().unwrap())
            .collect()
    };
    (leader, voters)
}

/// Our quorum through the controllers, once it agrees with Java's (the leader may move
/// between the two reads only in an election, so retry briefly).
async fn quorum_agrees_with_java(admin: &Admin) -> (i32, BTreeSet<i32>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let ours = admin
            .describe_metadata_quorum(QuorumOptions::default())
            .await
            .expect("quorum through the controllers");
        let ours = (
            ours.leader_id,
            ours.voters.iter().map(|v| v.id).collect::<BTreeSet<_>>(),
        );
        let java = tokio::task::spawn_blocking(java_quorum).await.unwrap();
        if ours == java || tokio::time::Instant::now() > deadline {
            assert_eq!(ours, java, "ours vs kafka-metadata-quorum");
            return ours;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ops_controllers_describe_cluster_features_and_quorum() {
    let c = cluster();
    let admin = via_controllers();
    let through_brokers = via_brokers()
        .describe_cluster(DescribeClusterOptions::default())
        .await
        .expect("through the brokers");
    let d = admin
        .describe_cluster(DescribeClusterOptions::default())
        .await
        .expect("through the controllers");
    assert_eq!(d.cluster_id, through_brokers.cluster_id);
    assert_eq!(d.cluster_id, c.cluster_id());
    let ids: BTreeSet<i32> = d.brokers.keys().copied().collect();
    assert_eq!(ids, c.node_ids().into_iter().collect::<BTreeSet<_>>());
    for n in d.brokers.values() {
        assert_eq!(
            format!("{}:{}", n.host, n.port),
            c.controller_address(n.id),
            "controller listener of node {}",
            n.id
        );
    }
    let active = c.active_controller(Duration::from_secs(30)).unwrap();
    assert_eq!(d.controller, Some(active), "the active controller");

    let (leader, voters) = quorum_agrees_with_java(&admin).await;
    assert_eq!(voters, ids);
    let by_brokers = via_brokers()
        .describe_metadata_quorum(QuorumOptions::default())
        .await
        .unwrap();
    assert_eq!(by_brokers.leader_id, leader);

    let features = admin
        .describe_features(FeaturesOptions::default())
        .await
        .expect("features through the controllers");
    let from_brokers = via_brokers()
        .describe_features(FeaturesOptions::default())
        .await
        .unwrap();
    assert!(
        features.finalized.contains_key("metadata.version"),
        "{features:?}"
    );
    assert_eq!(
        features.finalized["metadata.version"],
        from_brokers.finalized["metadata.version"]
    );

    // Controllers hold no topic metadata: a typed error naming the setting, at once.
    let started = std::time::Instant::now();
    let err = admin
        .list_topics(ListTopicsOptions::default())
        .await
        .expect_err("no topics through the controllers");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(&err, Error::InvalidState(m) if m.contains("bootstrap.controllers")),
        "{err:?}"
    );
    let err = admin
        .describe_topics(["any-topic"], Default::default())
        .await
        .expect_err("no topic metadata through the controllers");
    assert!(err.to_string().contains("bootstrap.controllers"), "{err:?}");
    // Both bootstrap lists at once is a configuration error.
    let both = Client::builder()
        .bootstrap_servers([c.bootstrap_servers()])
        .bootstrap_controllers([controllers()])
        .build()
        .expect_err("one or the other");
    assert!(matches!(both, Error::Config(_)), "{both:?}");
}

fn cli(args: &[&str]) -> Output {
    common::example_bin::run_example("kafka-cli", args, "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_ops_bootstrap_controller_describes_cluster_quorum_and_features() {
    let c = cluster();
    let ctl = controllers();
    let o = cli(&[
        "--bootstrap-controller",
        &ctl,
        "cluster",
        "describe",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON object");
    assert_eq!(v["clusterId"], c.cluster_id());
    let ports: BTreeSet<String> = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| format!("{}:{}", n["host"].as_str().unwrap(), n["port"]))
        .collect();
    let want: BTreeSet<String> = c
        .node_ids()
        .iter()
        .map(|id| c.controller_address(*id))
        .collect();
    assert_eq!(ports, want);
    // The same cluster id through the brokers.
    let o = cli(&[
        "--bootstrap-server",
        &c.bootstrap_servers(),
        "cluster",
        "describe",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains(c.cluster_id()),
        "{}",
        show(&o)
    );

    let o = cli(&[
        "--bootstrap-controller",
        &ctl,
        "quorum",
        "describe",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let q: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let voters: BTreeSet<i32> = q["voters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["nodeId"].as_i64().unwrap() as i32)
        .collect();
    let (java_leader, java_voters) = tokio::task::spawn_blocking(java_quorum).await.unwrap();
    assert_eq!(voters, java_voters);
    assert_eq!(q["leaderId"].as_i64(), Some(java_leader as i64));

    let o = cli(&["--bootstrap-controller", &ctl, "features", "describe"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("Feature: metadata.version"),
        "{}",
        show(&o)
    );

    // Bad usage: a command the controllers do not serve, or both bootstrap flags.
    let o = cli(&["--bootstrap-controller", &ctl, "topics", "list"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--bootstrap-controller"));
    let o = cli(&[
        "--bootstrap-controller",
        &ctl,
        "--bootstrap-server",
        &c.bootstrap_servers(),
        "quorum",
        "describe",
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
}
