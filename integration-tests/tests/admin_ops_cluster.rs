//! Operating a 3-node cluster through kafka-admin: partition reassignment (moved while a
//! producer writes, cancelled under a replication throttle, refused for a broker that
//! does not exist), preferred leader election after a broker restart, log dirs (two per
//! broker, a replica moved between them), the metadata quorum, features, transactions
//! and producers (list, describe, abort, fence), client quotas, offsets for leader epoch
//! and the max-timestamp offset.
//!
//! The tests share one cluster (starting three JVMs is slow) and take turns.

mod admin_support;
mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use kafka_admin::{
    AbortTransactionSpec, Admin, AlterConfigOp, AlterConfigsOptions, ConfigResource,
    CreateTopicsOptions, ElectLeadersOptions, ElectionType, FeatureUpdate, FeatureUpgrade,
    FeaturesOptions, GenerateReassignmentOptions, LeaderEpochOptions, ListOffsetsOptions,
    LogDirsOptions, NewTopic, OffsetSpec, PlacementBroker, PlacementStart, QuorumOptions,
    QuotaAlteration, QuotaEntity, QuotaEntityType, QuotaFilter, QuotaMatch, QuotasOptions,
    Reassignment, ReassignmentOptions, ReassignmentPlan, TopicPartition, TopicPartitionReplica,
    TransactionFilter, TransactionsOptions, assign_replicas, quota_keys,
};
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_client::{Client, Error};
use kafka_testbed::{ClusterConfig, KafkaCluster};

fn cluster() -> &'static KafkaCluster {
    static CLUSTER: OnceLock<KafkaCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        kafka_testbed::install_panic_hook();
        let config = ClusterConfig::new(3)
            // Two log dirs per broker, for AlterReplicaLogDirs.
            .with_property("log.dirs", "{node_dir}/data,{node_dir}/data-b")
            // Leaders stay where the tests put them.
            .with_property("auto.leader.rebalance.enable", "false")
            // The coordinator looks for timed-out transactions often.
            .with_property(
                "transaction.abort.timed.out.transaction.cleanup.interval.ms",
                "500",
            );
        KafkaCluster::start(config).expect("3-node cluster")
    })
}

/// One test at a time on the shared cluster.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn admin() -> (Admin, Client) {
    let client = common::client(&cluster().bootstrap_servers());
    (Admin::new(client.clone()), client)
}

fn code(e: &Error) -> Option<i16> {
    e.code().map(|c| c.code())
}

/// Creates `topic` with these replica sets, one per partition, and waits for leaders.
async fn create_assigned(admin: &Admin, topic: &str, assignment: &[Vec<i32>]) {
    let mut t = NewTopic::new(topic);
    for (p, replicas) in assignment.iter().enumerate() {
        t = t.assignment(p as i32, replicas.clone());
    }
    let r = admin
        .create_topics([t], CreateTopicsOptions::default())
        .await
        .expect("CreateTopics");
    r[topic].as_ref().expect("created");
    common::wait_for_leaders(admin.client(), topic, assignment.len() as i32).await;
}

/// The replica sets of `topic`'s partitions, from fresh metadata.
async fn replicas(client: &Client, topic: &str) -> Vec<Vec<i32>> {
    let meta = client.refresh_topics(&[topic]).await.expect("metadata");
    let t = meta.topic(topic).expect("topic in metadata");
    t.partitions.iter().map(|p| p.replicas.clone()).collect()
}

/// Polls until `check` holds, up to `limit`.
async fn wait_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} not after {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn partitions(topic: &str, n: i32) -> Vec<TopicPartition> {
    (0..n).map(|p| TopicPartition::new(topic, p)).collect()
}

/// Runs Kafka's own `ReassignPartitionsCommand` (kafka-tools jar) and returns stdout.
fn java_reassign(bootstrap: &str, args: &[&str]) -> String {
    let java = kafka_testbed::jars::java_binary().expect("java");
    let out = Command::new(java)
        .args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp"])
        .arg(admin_support::tools_classpath())
        .arg("org.apache.kafka.tools.reassign.ReassignPartitionsCommand")
        .args(["--bootstrap-server", bootstrap])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ReassignPartitionsCommand");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ReassignPartitionsCommand failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn temp_file(name: &str, text: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::write(&path, text).expect("write temp file");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ops_reassignment_moves_replicas_while_a_producer_writes() {
    let _turn = TURN.lock().await;
    let (admin, client) = admin();
    let bootstrap = cluster().bootstrap_servers();
    let topic = common::unique_topic("ops-move");
    let before: Vec<Vec<i32>> = (0..6)
        .map(|p| if p % 2 == 0 { vec![1, 2] } else { vec![2, 1] })
        .collect();
    create_assigned(&admin, &topic, &before).await;

    // The generator proposes what Kafka's algorithm gives for brokers 2 and 3 (every
    // broker knows the topic: `create_assigned` waited for that).
    let generated = admin
        .generate_reassignment(
            &[&topic],
            &[2, 3],
            GenerateReassignmentOptions::default().start(PlacementStart::Fixed(0)),
        )
        .await
        .expect("generate");
    let current: Vec<Vec<i32>> = generated
        .current
        .partitions
        .iter()
        .map(|p| p.replicas.clone())
        .collect();
    assert_eq!(current, before, "the current assignment is the metadata's");
    let brokers = [2, 3].map(|id| PlacementBroker { id, rack: None });
    let expected = assign_replicas(&brokers, 6, 2, PlacementStart::Fixed(0)).unwrap();
    let proposed: Vec<Vec<i32>> = generated
        .proposed
        .partitions
        .iter()
        .map(|p| p.replicas.clone())
        .collect();
    assert_eq!(proposed, expected);
    assert!(
        proposed.iter().all(|r| !r.contains(&1)),
        "broker 1 is emptied: {proposed:?}"
    );
    let plan = ReassignmentPlan::from_json(&generated.proposed.to_json()).expect("our JSON parses");

    // A producer writes throughout the move.
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .acks(Acks::All)
        .linger(Duration::from_millis(5))
        .delivery_timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    const N: usize = 3000;
    let writer = {
        let producer = producer.clone();
        let topic = topic.clone();
        tokio::spawn(async move {
            let mut pending = Vec::new();
            for i in 0..N {
                let r = ProducerRecord::new(topic.as_str())
                    .with_partition((i % 6) as i32)
                    .with_value(format!("v{i}"));
                let delivery = producer.send(r).await.expect("queued");
                if i % 100 == 99 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                pending.push((i, delivery));
            }
            let mut ok = BTreeSet::new();
            for (i, d) in pending {
                if d.await.is_ok() {
                    ok.insert(format!("v{i}"));
                }
            }
            ok
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let results = admin
        .alter_partition_reassignments(plan.moves(), ReassignmentOptions::default())
        .await
        .expect("AlterPartitionReassignments");
    assert_eq!(results.len(), 6);
    assert!(results.values().all(Result::is_ok), "{results:?}");

    let parts = partitions(&topic, 6);
    wait_until("reassignment complete", Duration::from_secs(60), || async {
        let ongoing = admin
            .list_partition_reassignments(Some(parts.clone()), ReassignmentOptions::default())
            .await
            .expect("ListPartitionReassignments");
        ongoing.is_empty() && replicas(&client, &topic).await == expected
    })
    .await;
    let acked = writer.await.expect("writer task");
    producer.close(Duration::from_secs(10)).await.unwrap();
    assert_eq!(acked.len(), N, "every record acknowledged");

    // Read back by an independent client: every acknowledged record is there, once.
    let read = common::produce::kcat_consume(&bootstrap, &topic).await;
    let values: Vec<String> = read.iter().filter_map(|m| m.value.clone()).collect();
    let distinct: BTreeSet<String> = values.iter().cloned().collect();
    assert_eq!(values.len(), distinct.len(), "no duplicates");
    assert_eq!(distinct, acked, "no acknowledged record lost");

    // Kafka's own tool agrees the reassignment of our JSON is complete.
    let file = temp_file("ops-move.json", &plan.to_json());
    let verify = java_reassign(
        &bootstrap,
        &[
            "--verify",
            "--reassignment-json-file",
            file.to_str().unwrap(),
        ],
    );
    for p in 0..6 {
        let line = format!("Reassignment of partition {topic}-{p} is completed");
        assert!(verify.contains(&line), "Java --verify: {verify}");
    }
    let _ = std::fs::remove_file(file);

    // Bad input: a broker that does not exist, an empty list, cancelling nothing.
    let tp0 = TopicPartition::new(&topic, 0);
    let bad = admin
        .alter_partition_reassignments(
            [
                (tp0.clone(), Reassignment::MoveTo(vec![2, 99])),
                (TopicPartition::new(&topic, 1), Reassignment::MoveTo(vec![])),
                (TopicPartition::new(&topic, 2), Reassignment::Cancel),
            ],
            ReassignmentOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(code(bad[&tp0].as_ref().unwrap_err()), Some(39), "{bad:?}");
    let empty = bad[&TopicPartition::new(&topic, 1)].as_ref().unwrap_err();
    assert_eq!(code(empty), Some(39), "{empty}");
    let cancel = bad[&TopicPartition::new(&topic, 2)].as_ref().unwrap_err();
    assert_eq!(
        code(cancel),
        Some(85),
        "NO_REASSIGNMENT_IN_PROGRESS: {cancel}"
    );
    assert_eq!(replicas(&client, &topic).await, expected, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ops_throttled_reassignment_is_listed_then_cancelled() {
    let _turn = TURN.lock().await;
    let (admin, client) = admin();
    let bootstrap = cluster().bootstrap_servers();
    let topic = common::unique_topic("ops-cancel");
    create_assigned(&admin, &topic, &[vec![1]]).await;
    // 2 MB in the log, then replication throttled to 10 kB/s: the new replica cannot
    // catch up while the test looks.
    let values: Vec<String> = (0..2000).map(|i| format!("{i:0>1000}")).collect();
    admin_support::produce(&bootstrap, &topic, 0, &values);
    let throttle = |set: bool| {
        let rate = |name: &str| {
            if set {
                AlterConfigOp::set(name, "10000")
            } else {
                AlterConfigOp::delete(name)
            }
        };
        let replicas = |name: &str| {
            if set {
                AlterConfigOp::set(name, "*")
            } else {
                AlterConfigOp::delete(name)
            }
        };
        let mut changes: Vec<(ConfigResource, Vec<AlterConfigOp>)> = (1..=3)
            .map(|b| {
                (
                    ConfigResource::broker(b),
                    vec![
                        rate("leader.replication.throttled.rate"),
                        rate("follower.replication.throttled.rate"),
                    ],
                )
            })
            .collect();
        changes.push((
            ConfigResource::topic(&topic),
            vec![
                replicas("leader.replication.throttled.replicas"),
                replicas("follower.replication.throttled.replicas"),
            ],
        ));
        changes
    };
    let set = admin
        .incremental_alter_configs(throttle(true), AlterConfigsOptions::default())
        .await
        .unwrap();
    assert!(set.values().all(Result::is_ok), "{set:?}");

    let tp = TopicPartition::new(&topic, 0);
    let started = admin
        .alter_partition_reassignments(
            [(tp.clone(), Reassignment::MoveTo(vec![1, 2]))],
            ReassignmentOptions::default(),
        )
        .await
        .unwrap();
    started[&tp].as_ref().expect("started");
    let ongoing = admin
        .list_partition_reassignments(None, ReassignmentOptions::default())
        .await
        .unwrap();
    let o = ongoing.get(&tp).expect("listed as ongoing");
    assert_eq!(o.adding, vec![2]);
    assert!(o.removing.is_empty());
    assert_eq!(o.replicas, vec![1, 2]);

    let cancelled = admin
        .alter_partition_reassignments(
            [(tp.clone(), Reassignment::Cancel)],
            ReassignmentOptions::default(),
        )
        .await
        .unwrap();
    cancelled[&tp].as_ref().expect("cancelled");
    wait_until("cancellation applied", Duration::from_secs(30), || async {
        let ongoing = admin
            .list_partition_reassignments(Some(vec![tp.clone()]), ReassignmentOptions::default())
            .await
            .unwrap();
        ongoing.is_empty() && replicas(&client, &topic).await == vec![vec![1]]
    })
    .await;

    let removed = admin
        .incremental_alter_configs(throttle(false), AlterConfigsOptions::default())
        .await
        .unwrap();
    assert!(removed.values().all(Result::is_ok), "{removed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ops_preferred_election_restores_leaders_after_a_restart() {
    let _turn = TURN.lock().await;
    let (admin, client) = admin();
    let topic = common::unique_topic("ops-elect");
    let assignment = vec![vec![1, 2, 3], vec![2, 3, 1], vec![3, 1, 2]];
    create_assigned(&admin, &topic, &assignment).await;
    let leaders = |client: Client, topic: String| async move {
        let meta = client.refresh_topics(&[&topic]).await.unwrap();
        let t = meta.topic(&topic).unwrap().clone();
        t.partitions
            .iter()
            .map(|p| (p.leader, p.isr.len()))
            .collect::<Vec<_>>()
    };
    wait_until(
        "preferred leaders at start",
        Duration::from_secs(30),
        || {
            let (c, t) = (client.clone(), topic.clone());
            async move { leaders(c, t).await == vec![(Some(1), 3), (Some(2), 3), (Some(3), 3)] }
        },
    )
    .await;

    cluster().restart_node(1).expect("restart broker 1");
    wait_until("broker 1 back in sync", Duration::from_secs(60), || {
        let (c, t) = (client.clone(), topic.clone());
        async move {
            leaders(c, t)
                .await
                .iter()
                .all(|(l, isr)| l.is_some() && *isr == 3)
        }
    })
    .await;
    let now = leaders(client.clone(), topic.clone()).await;
    assert_ne!(
        now[0].0,
        Some(1),
        "broker 1 lost the lead of partition 0 while down"
    );

    let parts = partitions(&topic, 3);
    let elected = admin
        .elect_leaders(
            ElectionType::Preferred,
            Some(parts.clone()),
            ElectLeadersOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(elected.len(), 3);
    elected[&parts[0]]
        .as_ref()
        .expect("partition 0 elected its preferred leader");
    for tp in &parts[1..] {
        let e = elected[tp]
            .as_ref()
            .expect_err("already led by the preferred replica");
        assert_eq!(code(e), Some(84), "ELECTION_NOT_NEEDED: {e}");
    }
    wait_until(
        "preferred leaders restored",
        Duration::from_secs(30),
        || {
            let (c, t) = (client.clone(), topic.clone());
            async move {
                let l: Vec<_> = leaders(c, t).await.into_iter().map(|(l, _)| l).collect();
                l == vec![Some(1), Some(2), Some(3)]
            }
        },
    )
    .await;

    // Unclean election on a healthy partition, and an unknown topic.
    let unknown = TopicPartition::new(common::unique_topic("ops-nope"), 0);
    let r = admin
        .elect_leaders(
            ElectionType::Unclean,
            Some(vec![parts[0].clone(), unknown.clone()]),
            ElectLeadersOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(code(r[&parts[0]].as_ref().unwrap_err()), Some(84), "{r:?}");
    assert_eq!(code(r[&unknown].as_ref().unwrap_err()), Some(3), "{r:?}");
    // Every partition: nothing needs electing, so nothing fails.
    let all = admin
        .elect_leaders(
            ElectionType::Preferred,
            None,
            ElectLeadersOptions::default(),
        )
        .await
        .unwrap();
    assert!(
        all.values()
            .all(|r| r.as_ref().err().is_none_or(|e| code(e) == Some(84))),
        "{all:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ops_log_dirs_quorum_and_features() {
    let _turn = TURN.lock().await;
    let (admin, _client) = admin();
    let bootstrap = cluster().bootstrap_servers();
    let topic = common::unique_topic("ops-dirs");
    create_assigned(&admin, &topic, &[vec![1, 2]]).await;
    admin_support::produce(&bootstrap, &topic, 0, &admin_support::values("d", 50));
    let tp = TopicPartition::new(&topic, 0);

    let dirs = admin
        .describe_log_dirs([1, 2, 3], LogDirsOptions::default())
        .await
        .unwrap();
    assert_eq!(dirs.len(), 3);
    for (broker, d) in &dirs {
        let d = d.as_ref().expect("described");
        assert_eq!(d.len(), 2, "broker {broker}: two log dirs: {:?}", d.keys());
        assert!(
            d.values()
                .all(|dir| dir.error.is_none() && dir.total_bytes.is_some())
        );
    }
    let holder = |dirs: &BTreeMap<String, kafka_admin::LogDirDescription>| {
        dirs.iter()
            .find(|(_, d)| d.replicas.get(&tp).is_some_and(|r| !r.is_future))
            .map(|(path, d)| (path.clone(), d.replicas[&tp]))
    };
    let b1 = dirs[&1].as_ref().unwrap();
    let (from, info) = holder(b1).expect("broker 1 holds the replica");
    assert!(info.size > 0, "{info:?}");
    assert!(
        !dirs[&3]
            .as_ref()
            .unwrap()
            .values()
            .any(|d| d.replicas.contains_key(&tp))
    );
    let to = b1.keys().find(|p| **p != from).unwrap().clone();

    let replica = TopicPartitionReplica::new(&topic, 0, 1);
    let moved = admin
        .alter_replica_log_dirs([(replica.clone(), to.clone())], LogDirsOptions::default())
        .await
        .unwrap();
    moved[&replica].as_ref().expect("move accepted");
    wait_until(
        "replica in the other dir",
        Duration::from_secs(30),
        || async {
            let d = admin
                .describe_log_dirs([1], LogDirsOptions::default())
                .await
                .unwrap();
            let d = d[&1].as_ref().unwrap();
            holder(d).is_some_and(|(p, _)| p == to)
        },
    )
    .await;
    let bad = admin
        .alter_replica_log_dirs(
            [(replica.clone(), "/no/such/dir".to_string())],
            LogDirsOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        code(bad[&replica].as_ref().unwrap_err()),
        Some(57),
        "LOG_DIR_NOT_FOUND: {bad:?}"
    );

    // A broker that does not exist fails at once, not at the deadline.
    let started = std::time::Instant::now();
    let none = admin
        .describe_log_dirs([99], LogDirsOptions::default())
        .await
        .unwrap();
    assert_eq!(
        code(none[&99].as_ref().unwrap_err()),
        Some(8),
        "BROKER_NOT_AVAILABLE"
    );
    let elsewhere = TopicPartitionReplica::new(&topic, 0, 99);
    let none = admin
        .alter_replica_log_dirs([(elsewhere.clone(), to.clone())], LogDirsOptions::default())
        .await
        .unwrap();
    assert_eq!(code(none[&elsewhere].as_ref().unwrap_err()), Some(8));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    let quorum = admin
        .describe_metadata_quorum(QuorumOptions::default())
        .await
        .unwrap();
    let voters: BTreeSet<i32> = quorum.voters.iter().map(|v| v.id).collect();
    assert_eq!(voters, BTreeSet::from([1, 2, 3]));
    assert!(voters.contains(&quorum.leader_id));
    assert!(
        quorum.high_watermark > 0 && quorum.leader_epoch > 0,
        "{quorum:?}"
    );
    assert!(
        quorum.observers.is_empty(),
        "combined nodes are all voters: {quorum:?}"
    );

    let features = admin
        .describe_features(FeaturesOptions::default())
        .await
        .unwrap();
    let mv = features
        .finalized
        .get("metadata.version")
        .expect("metadata.version finalized");
    assert!(mv.max >= 1, "{features:?}");
    assert!(features.supported["metadata.version"].max >= mv.max);
    let same = FeatureUpdate {
        max_version_level: mv.max,
        upgrade: FeatureUpgrade::Upgrade,
    };
    let checked = admin
        .update_features(
            [("metadata.version".to_string(), same)],
            FeaturesOptions::default().validate_only(true),
        )
        .await
        .unwrap();
    checked["metadata.version"].as_ref().expect("validated");
    let unknown = admin
        .update_features(
            [("no.such.feature".to_string(), same)],
            FeaturesOptions::default().validate_only(true),
        )
        .await;
    let failed = match unknown {
        Err(e) => Some(e),
        Ok(m) => m.into_values().find_map(Result::err),
    };
    assert!(failed.is_some(), "an unknown feature is refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ops_transactions_listed_described_aborted_and_fenced() {
    let _turn = TURN.lock().await;
    let (admin, client) = admin();
    let bootstrap = cluster().bootstrap_servers();
    let topic = common::unique_topic("ops-txn");
    common::create_topic(&client, &topic, 2, 3).await;
    let id = format!("ops-txn-{}", std::process::id());
    let mut producer = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .transactional_id(&id)
        .transaction_timeout(Duration::from_secs(60))
        .build_transactional()
        .await
        .expect("transactional producer");
    let txn = producer.begin().await.unwrap();
    let d = txn
        .send(
            ProducerRecord::new(topic.as_str())
                .with_partition(0)
                .with_value("open"),
        )
        .await
        .unwrap();
    d.await.expect("written");

    let opts = TransactionsOptions::default;
    let listed = admin
        .list_transactions(TransactionFilter::default().states(["Ongoing"]), opts())
        .await
        .unwrap();
    let all: Vec<_> = listed
        .into_values()
        .flat_map(|r| r.expect("listed"))
        .collect();
    let ours = all
        .iter()
        .find(|t| t.transactional_id == id)
        .expect("our transaction listed");
    assert_eq!(ours.state, "Ongoing");

    let unknown = format!("ops-no-such-{}", std::process::id());
    let described = admin
        .describe_transactions([id.clone(), unknown.clone()], opts())
        .await
        .unwrap();
    let desc = described[&id].as_ref().expect("described");
    assert_eq!(desc.state, "Ongoing");
    assert_eq!(desc.producer_id, ours.producer_id);
    assert!(
        desc.partitions.contains(&TopicPartition::new(&topic, 0)),
        "{desc:?}"
    );
    assert!(desc.start_time_ms.is_some());
    assert_eq!(
        code(described[&unknown].as_ref().unwrap_err()),
        Some(105),
        "TRANSACTIONAL_ID_NOT_FOUND"
    );

    let tp = TopicPartition::new(&topic, 0);
    let producers = admin
        .describe_producers([tp.clone()], opts())
        .await
        .unwrap();
    let states = producers[&tp].as_ref().unwrap();
    let state = states
        .iter()
        .find(|s| s.producer_id == desc.producer_id)
        .expect("our producer on the partition");
    assert_eq!(state.current_txn_start_offset, Some(0), "{state:?}");

    // Abort the open transaction on the partition, as for a hanging one.
    let aborted = admin
        .abort_transactions(
            [AbortTransactionSpec::for_producer(tp.clone(), state)],
            opts(),
        )
        .await
        .unwrap();
    aborted[&tp].as_ref().expect("abort marker written");
    let after = admin
        .describe_producers([tp.clone()], opts())
        .await
        .unwrap();
    let state = after[&tp]
        .as_ref()
        .unwrap()
        .iter()
        .find(|s| s.producer_id == desc.producer_id)
        .copied()
        .expect("producer still known");
    assert_eq!(
        state.current_txn_start_offset, None,
        "no open transaction: {state:?}"
    );

    // Fence: the epoch goes up and the old producer cannot commit.
    let fenced = admin.fence_producers([id.clone()], opts()).await.unwrap();
    fenced[&id].as_ref().expect("fenced");
    let again = admin
        .describe_transactions([id.clone()], opts())
        .await
        .unwrap();
    let now = again[&id].as_ref().unwrap();
    assert!(
        now.producer_epoch > desc.producer_epoch,
        "{now:?} after {desc:?}"
    );
    let err = txn
        .commit()
        .await
        .expect_err("a fenced producer cannot commit");
    assert!(err.is_fenced() || err.transaction_kind().is_some(), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ops_client_quotas_throttle_a_producer() {
    let _turn = TURN.lock().await;
    let (admin, client) = admin();
    let bootstrap = cluster().bootstrap_servers();
    let client_id = format!("ops-slow-{}", std::process::id());
    let entity = QuotaEntity::client_id(Some(&client_id));
    let set = admin
        .alter_client_quotas(
            [(
                entity.clone(),
                vec![
                    QuotaAlteration::set(quota_keys::PRODUCER_BYTE_RATE, 20_000.0),
                    QuotaAlteration::set(quota_keys::CONSUMER_BYTE_RATE, 30_000.0),
                ],
            )],
            QuotasOptions::default(),
        )
        .await
        .unwrap();
    set[&entity].as_ref().expect("quota set");
    let filter = QuotaFilter::all().component(
        QuotaEntityType::ClientId,
        QuotaMatch::Exact(client_id.clone()),
    );
    wait_until("quota visible", Duration::from_secs(20), || async {
        admin
            .describe_client_quotas(filter.clone(), QuotasOptions::default())
            .await
            .unwrap()
            .contains_key(&entity)
    })
    .await;
    let described = admin
        .describe_client_quotas(filter.clone(), QuotasOptions::default())
        .await
        .unwrap();
    assert_eq!(described[&entity][quota_keys::PRODUCER_BYTE_RATE], 20_000.0);
    assert_eq!(described[&entity][quota_keys::CONSUMER_BYTE_RATE], 30_000.0);

    // A producer with that client id is throttled: the brokers send throttle times.
    let topic = common::unique_topic("ops-quota");
    common::create_topic(&client, &topic, 1, 1).await;
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .client_id(client_id.clone())
        .linger(Duration::from_millis(5))
        .build()
        .unwrap();
    let payload = vec![b'x'; 10_000];
    let mut deliveries = Vec::new();
    for _ in 0..30 {
        let r = ProducerRecord::new(topic.as_str()).with_value(payload.clone());
        deliveries.push(producer.send(r).await.unwrap());
    }
    for d in deliveries {
        d.await.expect("delivered");
    }
    let stats = producer.client().stats();
    assert!(
        stats.throttled_responses > 0 && stats.throttle_time_total > Duration::ZERO,
        "300 kB at 20 kB/s is throttled: {stats:?}"
    );
    producer.close(Duration::from_secs(10)).await.unwrap();

    // Removing the quotas; an unknown key is refused and changes nothing.
    let bogus = admin
        .alter_client_quotas(
            [(
                entity.clone(),
                vec![QuotaAlteration::set("no_such_quota", 1.0)],
            )],
            QuotasOptions::default(),
        )
        .await
        .unwrap();
    assert!(bogus[&entity].is_err(), "{bogus:?}");
    let removed = admin
        .alter_client_quotas(
            [(
                entity.clone(),
                vec![
                    QuotaAlteration::remove(quota_keys::PRODUCER_BYTE_RATE),
                    QuotaAlteration::remove(quota_keys::CONSUMER_BYTE_RATE),
                ],
            )],
            QuotasOptions::default(),
        )
        .await
        .unwrap();
    removed[&entity].as_ref().expect("removed");
    wait_until("quota gone", Duration::from_secs(20), || async {
        !admin
            .describe_client_quotas(filter.clone(), QuotasOptions::default())
            .await
            .unwrap()
            .contains_key(&entity)
    })
    .await;
    let invalid = admin
        .alter_client_quotas(
            [(
                QuotaEntity::default(),
                vec![QuotaAlteration::set(quota_keys::PRODUCER_BYTE_RATE, -1.0)],
            )],
            QuotasOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        code(invalid[&QuotaEntity::default()].as_ref().unwrap_err()),
        Some(40)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ops_leader_epoch_and_max_timestamp_offsets() {
    let _turn = TURN.lock().await;
    let (admin, client) = admin();
    let bootstrap = cluster().bootstrap_servers();
    let topic = common::unique_topic("ops-epoch");
    common::create_topic(&client, &topic, 1, 3).await;
    let producer = Producer::builder()
        .bootstrap_servers([bootstrap.as_str()])
        .build()
        .unwrap();
    let base = 1_700_000_000_000i64;
    let stamps = [base, base + 50, base + 10, base + 20];
    for ts in stamps {
        let r = ProducerRecord::new(topic.as_str())
            .with_partition(0)
            .with_timestamp(ts)
            .with_value("x");
        producer.send(r).await.unwrap().await.expect("delivered");
    }
    producer.close(Duration::from_secs(10)).await.unwrap();
    let tp = TopicPartition::new(&topic, 0);
    let max = admin
        .list_offsets(
            [(tp.clone(), OffsetSpec::MaxTimestamp)],
            ListOffsetsOptions::default(),
        )
        .await
        .unwrap();
    let max = max[&tp].as_ref().unwrap();
    assert_eq!((max.offset, max.timestamp), (Some(1), Some(base + 50)));
    // Without tiered storage the local log starts at the log start, and nothing is tiered.
    let tiered = admin
        .list_offsets(
            [(tp.clone(), OffsetSpec::EarliestLocal)],
            ListOffsetsOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(tiered[&tp].as_ref().unwrap().offset, Some(0), "{tiered:?}");
    let tiered = admin
        .list_offsets(
            [(tp.clone(), OffsetSpec::LatestTiered)],
            ListOffsetsOptions::default(),
        )
        .await
        .unwrap();
    assert_eq!(tiered[&tp].as_ref().unwrap().offset, None, "{tiered:?}");

    let epoch = client.leader(&topic, 0).await.unwrap().1;
    let ends = admin
        .offsets_for_leader_epoch([(tp.clone(), epoch)], LeaderEpochOptions::default())
        .await
        .unwrap();
    let end = ends[&tp].as_ref().unwrap();
    assert_eq!((end.leader_epoch, end.end_offset), (epoch, 4), "{end:?}");
    let missing = TopicPartition::new(&topic, 7);
    let ends = admin
        .offsets_for_leader_epoch([(missing.clone(), 0)], LeaderEpochOptions::default())
        .await
        .unwrap();
    assert_eq!(code(ends[&missing].as_ref().unwrap_err()), Some(3));
}
