//! Which protocol version the SDK negotiates for each API against a broker of a given
//! Kafka release: `dev-kafka api-versions [VERSION...]` prints the table of
//! `docs/compatibility.md`.
//!
//! [`record`] starts a 1-node cluster of that release, runs a workload through the SDK
//! (admin calls, an idempotent producer, a consumer group with commits, a transactional
//! producer with offsets) on a [`Client`] whose [`Hooks`] record the version of every
//! request written, and reads the broker's advertised ranges from the same connections.
//! On 4.x it runs the transaction once more on a cluster formatted with
//! `transaction.version=1`, where the SDK still sends AddPartitionsToTxn and
//! AddOffsetsToTxn (version 2 adds partitions implicitly).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use kafka_admin::{
    AclBinding, AclBindingFilter, AclOperation, AclsOptions, Admin, AlterConfigOp,
    AlterConfigsOptions, ConfigResource, CreatePartitionsOptions, CreateTopicsOptions,
    DeleteRecordsOptions, DeleteTopicsOptions, DescribeClusterOptions, DescribeConfigsOptions,
    DescribeTopicsOptions, GroupLagOptions, GroupOffsetsOptions, GroupsOptions,
    ListGroupOffsetsOptions, ListGroupsOptions, ListOffsetsOptions, ListTopicsOptions,
    NewPartitions, NewTopic, OffsetAndMetadata, OffsetSpec, RecordsToDelete, ResourceType,
    TopicPartition,
};
use kafka_admin::{
    FeaturesOptions, LeaderEpochOptions, ListShareGroupOffsetsOptions, LogDirsOptions,
    QuorumOptions, QuotaFilter, QuotasOptions, ReassignmentOptions, ScramOptions,
    TransactionFilter, TransactionsOptions,
};
use kafka_client::lowlevel::ConnectionKind;
use kafka_client::observe::{Hooks, RequestWritten};
use kafka_client::{Client, Consumer, Producer, ProducerRecord};
use kafka_protocol::messages::ApiKey;

use crate::{ClusterConfig, KafkaCluster, KafkaVersion};

/// What one broker release advertised and what the SDK sent it.
#[derive(Debug, Clone)]
pub struct ApiVersionReport {
    /// The broker's release.
    pub kafka: KafkaVersion,
    /// Every API the broker advertised: key → (min, max).
    pub broker: BTreeMap<i16, (i16, i16)>,
    /// Every API the SDK sent during the workload: key → the versions it used.
    pub sent: BTreeMap<i16, BTreeSet<i16>>,
    /// Workload steps that failed (the report is still valid for what was sent).
    pub failures: Vec<String>,
}

/// Records `(api, version)` of every request written.
#[derive(Debug, Default)]
struct SentVersions(Mutex<BTreeMap<i16, BTreeSet<i16>>>);

impl Hooks for SentVersions {
    fn on_request_written(&self, event: &RequestWritten<'_>) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(event.api as i16)
            .or_default()
            .insert(event.version);
    }
}

/// The handshake's requests, which hooks do not see: ApiVersions goes out at the SDK's
/// highest (v4, the broker's highest if lower), SaslHandshake at v1, SaslAuthenticate at
/// the highest both support (`kafka-client/src/net/handshake.rs`, `net/sasl/mod.rs`).
const HANDSHAKE: [(ApiKey, i16, i16); 3] = [
    (ApiKey::ApiVersions, 0, 4),
    (ApiKey::SaslHandshake, 1, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
];

/// Starts a 1-node Kafka `version`, runs the workload and returns what was negotiated.
pub async fn record(version: KafkaVersion) -> Result<ApiVersionReport, String> {
    let cluster = KafkaCluster::start(ClusterConfig::new(1).with_kafka_version(version))
        .map_err(|e| e.to_string())?;
    let sent = Arc::new(SentVersions::default());
    let client = Client::builder()
        .bootstrap_servers([cluster.bootstrap_servers().as_str()])
        .client_id("api-versions-report")
        .api_timeout(Duration::from_secs(30))
        .hooks(sent.clone())
        .build()
        .map_err(|e| e.to_string())?;
    let mut failures = workload(&client).await;
    if version.max_transaction_version() >= 2 {
        let tv1 = KafkaCluster::start(
            ClusterConfig::new(1)
                .with_kafka_version(version)
                .with_transaction_version(1),
        )
        .map_err(|e| e.to_string())?;
        let tv1_client = Client::builder()
            .bootstrap_servers([tv1.bootstrap_servers().as_str()])
            .client_id("api-versions-report-tv1")
            .api_timeout(Duration::from_secs(30))
            .hooks(sent.clone())
            .build()
            .map_err(|e| e.to_string())?;
        let result = transaction_workload(&tv1_client).await;
        if let Err(e) = result {
            failures.push(format!("transaction on transaction.version=1: {e}"));
        }
        tv1_client.close();
    }
    let conn = client
        .connection(1, ConnectionKind::General)
        .await
        .map_err(|e| e.to_string())?;
    let broker = ApiKey::iter()
        .filter_map(|api| Some((api as i16, conn.versions().range(api)?)))
        .collect();
    client.close();
    let sent = sent
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok(ApiVersionReport {
        kafka: version,
        broker,
        sent,
        failures,
    })
}

/// A topic with records, then [`transaction`] on it.
async fn transaction_workload(client: &Client) -> Result<(), String> {
    let topic = "api-versions-tv1";
    Admin::new(client.clone())
        .create_topics(
            [NewTopic::new(topic).partitions(1).replication_factor(1)],
            CreateTopicsOptions::default(),
        )
        .await
        .map_err(|e| e.to_string())
        .and_then(all_ok)?;
    wait_for_leader(client, topic).await?;
    produce(client, topic).await?;
    transaction(client, topic, "api-versions-tv1-group").await
}

/// `Ok` if every item of a per-item admin result is.
fn all_ok<K: std::fmt::Debug, V>(
    items: BTreeMap<K, kafka_client::Result<V>>,
) -> Result<(), String> {
    match items.iter().find(|(_, r)| r.is_err()) {
        Some((key, Err(e))) => Err(format!("{key:?}: {e}")),
        _ => Ok(()),
    }
}

/// Every SDK path that sends a distinct API; returns the steps that failed.
async fn workload(client: &Client) -> Vec<String> {
    let mut failures = Vec::new();
    let mut check = |step: &str, result: Result<(), String>| {
        if let Err(e) = result {
            failures.push(format!("{step}: {e}"));
        }
    };
    let admin = Admin::new(client.clone());
    let topic = "api-versions";
    let group = "api-versions-group";
    let tp = TopicPartition::new(topic, 0);
    let err = |e: kafka_client::Error| e.to_string();

    let created = admin
        .create_topics(
            [NewTopic::new(topic).partitions(1).replication_factor(1)],
            CreateTopicsOptions::default(),
        )
        .await;
    check("create_topics", created.map_err(err).and_then(all_ok));
    check("topic leader", wait_for_leader(client, topic).await);
    check("produce", produce(client, topic).await);
    check("consume in a group", consume(client, topic, group).await);
    check("transaction", transaction(client, topic, group).await);

    let r = admin
        .describe_cluster(DescribeClusterOptions::default())
        .await;
    check("describe_cluster", r.map(drop).map_err(err));
    let r = admin.list_topics(ListTopicsOptions::default()).await;
    check("list_topics", r.map(drop).map_err(err));
    let r = admin
        .describe_topics([topic], DescribeTopicsOptions::default())
        .await;
    check("describe_topics", r.map_err(err).and_then(all_ok));
    let r = admin
        .describe_configs(
            [ConfigResource::topic(topic)],
            DescribeConfigsOptions::default(),
        )
        .await;
    check("describe_configs", r.map_err(err).and_then(all_ok));
    let r = admin
        .incremental_alter_configs(
            [(
                ConfigResource::topic(topic),
                vec![AlterConfigOp::set("retention.ms", "3600000")],
            )],
            AlterConfigsOptions::default(),
        )
        .await;
    check("incremental_alter_configs", r.map_err(err).and_then(all_ok));
    let r = admin
        .create_partitions(
            [(topic, NewPartitions::increase_to(2))],
            CreatePartitionsOptions::default(),
        )
        .await;
    check("create_partitions", r.map_err(err).and_then(all_ok));
    let r = admin
        .list_offsets(
            [(tp.clone(), OffsetSpec::Latest)],
            ListOffsetsOptions::default(),
        )
        .await;
    check("list_offsets", r.map_err(err).and_then(all_ok));
    let r = admin
        .delete_records(
            [(tp.clone(), RecordsToDelete::BeforeOffset(1))],
            DeleteRecordsOptions::default(),
        )
        .await;
    check("delete_records", r.map_err(err).and_then(all_ok));
    // No authorizer: the broker answers SECURITY_DISABLED, after negotiating as usual.
    let acl = AclBinding::allow(ResourceType::Topic, topic, "User:alice", AclOperation::Read);
    let _ = admin.create_acls([acl], AclsOptions::default()).await;
    let _ = admin
        .describe_acls(AclBindingFilter::any(), AclsOptions::default())
        .await;
    let _ = admin
        .delete_acls([AclBindingFilter::any()], AclsOptions::default())
        .await;
    let r = admin.list_groups(ListGroupsOptions::default()).await;
    check("list_groups", r.map(drop).map_err(err));
    let r = admin
        .describe_consumer_groups([group], GroupsOptions::default())
        .await;
    check("describe_consumer_groups", r.map_err(err).and_then(all_ok));
    let r = admin
        .list_consumer_group_offsets(group, ListGroupOffsetsOptions::default())
        .await;
    check("list_consumer_group_offsets", r.map(drop).map_err(err));
    let r = admin
        .consumer_group_lag(group, GroupLagOptions::default())
        .await;
    check("consumer_group_lag", r.map(drop).map_err(err));
    read_the_rest(&admin, client, &tp).await;
    let r = admin
        .alter_consumer_group_offsets(
            group,
            [(tp.clone(), OffsetAndMetadata::new(1))],
            GroupOffsetsOptions::default(),
        )
        .await;
    check("alter_consumer_group_offsets", r.map(drop).map_err(err));
    let r = admin
        .delete_consumer_group_offsets(group, [tp], GroupOffsetsOptions::default())
        .await;
    check("delete_consumer_group_offsets", r.map(drop).map_err(err));
    // The transaction's group: the classic coordinator of 3.x drops `group` once its
    // last offset is deleted above.
    let r = admin
        .delete_consumer_groups([format!("{group}-txn")], GroupsOptions::default())
        .await;
    check("delete_consumer_groups", r.map_err(err).and_then(all_ok));
    let r = admin
        .delete_topics([topic], DeleteTopicsOptions::default())
        .await;
    check("delete_topics", r.map_err(err).and_then(all_ok));
    failures
}

/// Read-only calls of the admin APIs the steps above do not use, so the version
/// record (and the parity test) sees every API the SDK sends. Their outcome is not
/// checked: some need a feature an older broker lacks (share groups before 4.1, ...).
async fn read_the_rest(admin: &Admin, client: &Client, tp: &TopicPartition) {
    let node = client.cached_metadata().brokers.keys().next().copied();
    let _ = admin
        .describe_log_dirs(node, LogDirsOptions::default())
        .await;
    let _ = admin.describe_features(FeaturesOptions::default()).await;
    let _ = admin
        .describe_metadata_quorum(QuorumOptions::default())
        .await;
    let _ = admin
        .describe_client_quotas(QuotaFilter::all(), QuotasOptions::default())
        .await;
    let _ = admin
        .describe_user_scram_credentials(None, ScramOptions::default())
        .await;
    let _ = admin
        .list_partition_reassignments(None, ReassignmentOptions::default())
        .await;
    let _ = admin
        .offsets_for_leader_epoch([(tp.clone(), 0)], LeaderEpochOptions::default())
        .await;
    let _ = admin
        .list_transactions(TransactionFilter::default(), TransactionsOptions::default())
        .await;
    let _ = admin
        .describe_transactions(["api-versions-no-such-txn"], TransactionsOptions::default())
        .await;
    let _ = admin
        .describe_producers([tp.clone()], TransactionsOptions::default())
        .await;
    // A KIP-848 member (ConsumerGroupHeartbeat), then its group described
    // (ConsumerGroupDescribe). Not offered before 4.0: the errors are ignored.
    let kip848 = "api-versions-kip848";
    if let Ok(member) = Consumer::builder()
        .client(client.clone())
        .group_id(kip848)
        .group_protocol(kafka_client::consumer::GroupProtocol::Consumer)
        .enable_auto_commit(false)
        .build()
    {
        if member.subscribe([tp.topic.as_str()]).is_ok() {
            for _ in 0..20 {
                if member.poll(Duration::from_millis(250)).await.is_err()
                    || !member.assignment().is_empty()
                {
                    break;
                }
            }
        }
        let _ = admin
            .describe_consumer_groups([kip848], GroupsOptions::default())
            .await;
        let _ = member.close().await;
    }
    let share = "api-versions-share";
    let _ = admin
        .describe_share_groups([share], GroupsOptions::default())
        .await;
    let _ = admin
        .list_share_group_offsets(share, ListShareGroupOffsetsOptions::default())
        .await;
}

async fn wait_for_leader(client: &Client, topic: &str) -> Result<(), String> {
    for _ in 0..100 {
        let metadata = client
            .refresh_topics(&[topic])
            .await
            .map_err(|e| e.to_string())?;
        if let Some(t) = metadata.topic(topic)
            && !t.partitions.is_empty()
            && t.partitions.iter().all(|p| p.leader.is_some())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!("{topic} has no leader after 10 s"))
}

async fn produce(client: &Client, topic: &str) -> Result<(), String> {
    let err = |e: kafka_client::Error| e.to_string();
    let producer = Producer::builder()
        .client(client.clone())
        .build()
        .map_err(err)?;
    let mut deliveries = Vec::new();
    for i in 0..10 {
        let record = ProducerRecord::new(topic).with_value(format!("v{i}"));
        deliveries.push(producer.send(record).await.map_err(err)?);
    }
    for d in deliveries {
        d.await.map_err(err)?;
    }
    producer.close(Duration::from_secs(10)).await.map_err(err)
}

async fn consume(client: &Client, topic: &str, group: &str) -> Result<(), String> {
    let err = |e: kafka_client::Error| e.to_string();
    let consumer = Consumer::builder()
        .client(client.clone())
        .group_id(group)
        .auto_offset_reset(kafka_client::consumer::AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .map_err(err)?;
    consumer.subscribe([topic]).map_err(err)?;
    let mut seen = 0;
    for _ in 0..60 {
        seen += consumer
            .poll(Duration::from_millis(500))
            .await
            .map_err(err)?
            .len();
        if seen >= 10 {
            break;
        }
    }
    consumer.commit().await.map_err(err)?;
    consumer.close().await.map_err(err)?;
    if seen < 10 {
        return Err(format!("consumed {seen} of 10 records"));
    }
    Ok(())
}

async fn transaction(client: &Client, topic: &str, group: &str) -> Result<(), String> {
    let err = |e: kafka_client::Error| e.to_string();
    let consumer = Consumer::builder()
        .client(client.clone())
        .group_id(format!("{group}-txn"))
        .auto_offset_reset(kafka_client::consumer::AutoOffsetReset::Earliest)
        .enable_auto_commit(false)
        .build()
        .map_err(err)?;
    consumer.subscribe([topic]).map_err(err)?;
    let mut group_metadata = None;
    for _ in 0..60 {
        let records = consumer
            .poll(Duration::from_millis(500))
            .await
            .map_err(err)?;
        group_metadata = consumer.group_metadata();
        if !records.is_empty() && group_metadata.is_some() {
            break;
        }
    }
    let group_metadata = group_metadata.ok_or("the consumer never joined its group")?;
    let mut producer = Producer::builder()
        .client(client.clone())
        .transactional_id("api-versions-txn")
        .build_transactional()
        .await
        .map_err(err)?;
    let txn = producer.begin().await.map_err(err)?;
    let _delivery = txn
        .send(ProducerRecord::new(topic).with_value("in a transaction"))
        .await
        .map_err(err)?;
    let offsets = [(TopicPartition::new(topic, 0), OffsetAndMetadata::new(1))];
    txn.send_offsets(offsets, &group_metadata)
        .await
        .map_err(err)?;
    txn.commit().await.map_err(err)?;
    let txn = producer.begin().await.map_err(err)?;
    let _delivery = txn
        .send(ProducerRecord::new(topic).with_value("aborted"))
        .await
        .map_err(err)?;
    txn.abort().await.map_err(err)?;
    producer.close(Duration::from_secs(10)).await.map_err(err)?;
    consumer.close().await.map_err(err)
}

/// The markdown table: one row per API the SDK sent to any release (plus the handshake's),
/// one column per release: the version sent, or the broker's range when the SDK did not
/// send it there.
pub fn markdown(reports: &[ApiVersionReport]) -> String {
    let mut out = String::from("| API (key) |");
    for r in reports {
        out.push_str(&format!(" Kafka {} |", r.kafka));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(reports.len()));
    out.push('\n');
    let sent_keys: BTreeSet<i16> = reports
        .iter()
        .flat_map(|r| r.sent.keys().copied())
        .collect();
    for (api, client_min, client_max) in HANDSHAKE {
        out.push_str(&format!("| {api:?} ({}) |", api as i16));
        for r in reports {
            let cell = match r.broker.get(&(api as i16)) {
                Some(&(min, max)) if client_max >= min && client_min <= max => {
                    format!(" {} (handshake) |", client_max.min(max))
                }
                Some(&(min, max)) => format!(" none in common (broker {min}-{max}) |"),
                None => " not offered |".to_owned(),
            };
            out.push_str(&cell);
        }
        out.push('\n');
    }
    // An API of the handshake sent again later (an explicit ApiVersions) has its row.
    let handshake: BTreeSet<i16> = HANDSHAKE.iter().map(|(api, _, _)| *api as i16).collect();
    for key in sent_keys.difference(&handshake).copied() {
        let name = ApiKey::try_from(key).map_or(format!("{key}"), |api| format!("{api:?}"));
        out.push_str(&format!("| {name} ({key}) |"));
        for r in reports {
            let cell = match (r.sent.get(&key), r.broker.get(&key)) {
                (Some(versions), _) => versions
                    .iter()
                    .map(i16::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                (None, Some((min, max))) => format!("not sent (broker {min}-{max})"),
                (None, None) => "not offered".to_owned(),
            };
            out.push_str(&format!(" {cell} |"));
        }
        out.push('\n');
    }
    out
}

/// `docs/compatibility.md`, which holds the table [`markdown`] makes.
pub fn compatibility_doc() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/compatibility.md")
}

/// The header line's start of the negotiated-versions table.
const TABLE_START: &str = "| API (key) |";

/// The line range of the negotiated-versions table in `doc` (header to last row).
fn table_lines(doc: &str) -> Option<(usize, usize)> {
    let lines: Vec<&str> = doc.lines().collect();
    let start = lines.iter().position(|l| l.starts_with(TABLE_START))?;
    let len = lines[start..]
        .iter()
        .take_while(|l| l.starts_with('|'))
        .count();
    Some((start, start + len))
}

/// `doc` with its negotiated-versions table replaced by `table` (`None`: no table).
pub fn replace_table(doc: &str, table: &str) -> Option<String> {
    let (start, end) = table_lines(doc)?;
    let lines: Vec<&str> = doc.lines().collect();
    let mut out = lines[..start].join("\n");
    out.push('\n');
    out.push_str(table.trim_end());
    out.push('\n');
    if end < lines.len() {
        out.push_str(&lines[end..].join("\n"));
        out.push('\n');
    }
    Some(out)
}

/// A table's cells: row name (`Fetch (1)`) → column header (`Kafka 4.4.0`) → cell.
fn cells(table: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let split = |l: &str| -> Vec<String> {
        let l = l.trim().trim_start_matches('|').trim_end_matches('|');
        l.split('|').map(|c| c.trim().to_owned()).collect()
    };
    let mut rows = table.lines().filter(|l| l.starts_with('|'));
    let header = rows.next().map(split).unwrap_or_default();
    rows.filter(|l| !l.starts_with("|---"))
        .map(split)
        .filter(|r| !r.is_empty())
        .map(|r| {
            let row = header
                .iter()
                .skip(1)
                .cloned()
                .zip(r.iter().skip(1).cloned());
            (r[0].clone(), row.collect())
        })
        .collect()
}

/// Where `doc`'s negotiated-versions table disagrees with what `report` recorded, in
/// `report`'s release's column: a cell that differs, a row missing, or a row for an API
/// the SDK did not send whose cell does not say so. Empty when the doc is true.
pub fn doc_mismatches(doc: &str, report: &ApiVersionReport) -> Vec<String> {
    let Some((start, end)) = table_lines(doc) else {
        return vec!["docs/compatibility.md has no negotiated-versions table".into()];
    };
    let documented = cells(&doc.lines().collect::<Vec<_>>()[start..end].join("\n"));
    let column = format!("Kafka {}", report.kafka);
    let recorded = cells(&markdown(std::slice::from_ref(report)));
    let mut out = Vec::new();
    for (api, row) in &recorded {
        let want = &row[&column];
        match documented.get(api).map(|r| r.get(&column)) {
            None => out.push(format!("{api}: no row (the run negotiated {want})")),
            Some(None) => out.push(format!("{api}: no {column} column")),
            Some(Some(have)) if have != want => out.push(format!(
                "{api}: the doc says {have}, the run negotiated {want}"
            )),
            Some(Some(_)) => {}
        }
    }
    for (api, row) in &documented {
        let cell = row.get(&column).map_or("", String::as_str);
        if !recorded.contains_key(api) && !cell.starts_with("not ") {
            out.push(format!("{api}: the doc says {cell}, the run sent none"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_doc_table_is_replaced_and_checked_against_a_run() {
        let mut sent: BTreeMap<i16, BTreeSet<i16>> = BTreeMap::new();
        sent.entry(ApiKey::Fetch as i16).or_default().insert(17);
        let report = ApiVersionReport {
            kafka: KafkaVersion::new(4, 4, 0),
            broker: [(ApiKey::ApiVersions as i16, (0, 4)), (1, (4, 18))].into(),
            sent,
            failures: Vec::new(),
        };
        let doc = "# Doc\n\ntext\n\n| API (key) | Kafka 4.4.0 | Kafka 3.9.1 |\n|---|---|---|\n\
                   | ApiVersions (18) | 4 (handshake) | 4 (handshake) |\n\
                   | Fetch (1) | 12 | 12 |\n| Produce (0) | not sent (broker 3-13) | 11 |\n\nafter\n";
        let problems = doc_mismatches(doc, &report);
        assert!(
            problems.len() == 3
                && problems
                    .iter()
                    .any(|p| p.starts_with("Fetch (1): the doc says 12"))
                && problems
                    .iter()
                    .any(|p| p.starts_with("SaslHandshake (17): no row")),
            "{problems:?}"
        );
        let fixed = replace_table(doc, &markdown(std::slice::from_ref(&report))).unwrap();
        assert!(
            fixed.starts_with("# Doc\n\ntext\n\n| API (key) | Kafka 4.4.0 |\n"),
            "{fixed}"
        );
        assert!(fixed.ends_with("| Fetch (1) | 17 |\n\nafter\n"), "{fixed}");
        assert!(doc_mismatches(&fixed, &report).is_empty());
        assert_eq!(replace_table("no table", "| x |"), None);
    }

    #[test]
    fn markdown_shows_sent_versions_and_ranges() {
        let report = |kafka, sent: &[(ApiKey, i16)], broker: &[(ApiKey, i16, i16)]| {
            let mut s: BTreeMap<i16, BTreeSet<i16>> = BTreeMap::new();
            for &(api, v) in sent {
                s.entry(api as i16).or_default().insert(v);
            }
            ApiVersionReport {
                kafka,
                broker: broker
                    .iter()
                    .map(|&(a, min, max)| (a as i16, (min, max)))
                    .collect(),
                sent: s,
                failures: Vec::new(),
            }
        };
        let new = report(
            KafkaVersion::new(4, 4, 0),
            &[
                (ApiKey::Produce, 11),
                (ApiKey::Produce, 12),
                (ApiKey::EndTxn, 5),
            ],
            &[
                (ApiKey::ApiVersions, 0, 4),
                (ApiKey::Produce, 3, 13),
                (ApiKey::EndTxn, 0, 5),
            ],
        );
        let old = report(
            KafkaVersion::new(3, 9, 1),
            &[(ApiKey::Produce, 11)],
            &[
                (ApiKey::ApiVersions, 0, 3),
                (ApiKey::Produce, 0, 11),
                (ApiKey::EndTxn, 0, 4),
            ],
        );
        let table = markdown(&[new, old]);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "| API (key) | Kafka 4.4.0 | Kafka 3.9.1 |");
        assert!(
            lines.contains(&"| ApiVersions (18) | 4 (handshake) | 3 (handshake) |"),
            "{table}"
        );
        assert!(lines.contains(&"| Produce (0) | 11, 12 | 11 |"), "{table}");
        assert!(
            lines.contains(&"| EndTxn (26) | 5 | not sent (broker 0-4) |"),
            "{table}"
        );
        assert!(
            lines.contains(&"| SaslHandshake (17) | not offered | not offered |"),
            "{table}"
        );
    }
}
