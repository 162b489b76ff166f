//! Helpers for the security tests (`security_*.rs`): the secured cluster (one per test
//! binary), clients for each listener, and a raw Produce/Fetch round trip built on the
//! record-batch codec.
#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::config::TlsConfig;
use kafka_client::lowlevel::ConnectionKind;
use kafka_client::records::{BatchBuilder, BatchMeta, Compression, DecodeLimits, decode_batches};
use kafka_client::{Client, ClientBuilder, Error, ErrorContext};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::produce_request::{PartitionProduceData, TopicProduceData};
use kafka_protocol::messages::{ApiKey, BrokerId, FetchRequest, ProduceRequest, TopicName};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use kafka_testbed::ClusterConfig;
use kafka_testbed::secure::{Listener, SecureCluster};

/// The secured cluster of this test binary, started on first use.
pub fn secure() -> &'static SecureCluster {
    static CLUSTER: OnceLock<Result<SecureCluster, String>> = OnceLock::new();
    kafka_testbed::install_panic_hook();
    match CLUSTER.get_or_init(|| {
        // The secret key enables delegation tokens (admin_ops_scram).
        let base = ClusterConfig::new(1).with_property(
            "delegation.token.secret.key",
            "kafka-rs-testbed-token-secret",
        );
        SecureCluster::start(base).map_err(|e| e.to_string())
    }) {
        Ok(c) => c,
        Err(e) => panic!("secured cluster unavailable: {e}"),
    }
}

/// A builder for `listener` with test-friendly timeouts; add security settings to it.
pub fn builder(listener: Listener) -> ClientBuilder {
    Client::builder()
        .bootstrap_servers([secure().bootstrap(listener)])
        .client_id("security-tests")
        .request_timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(10))
        .api_timeout(Duration::from_secs(20))
}

/// The super user over PLAINTEXT (principal ANONYMOUS): the referee for "0 records".
pub fn plaintext() -> Client {
    builder(Listener::Plaintext)
        .build()
        .expect("plaintext config")
}

/// TLS trusting the test CA.
pub fn ca_tls() -> TlsConfig {
    TlsConfig::new().ca_file(&secure().certs().ca)
}

/// A topic name unique to this run.
pub fn unique_topic(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates a 1-partition topic through `client` (kafka-admin) and waits for its leader.
pub async fn create_topic(client: &Client, name: &str) {
    let admin = Admin::new(client.clone());
    let res = admin
        .create_topics(
            [NewTopic::new(name).partitions(1).replication_factor(1)],
            CreateTopicsOptions::default(),
        )
        .await
        .expect("CreateTopics request");
    res[name].as_ref().expect("topic created");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let ready = client
            .refresh_topics(&[name])
            .await
            .ok()
            .and_then(|m| {
                m.topic(name)
                    .map(|t| t.partitions.iter().all(|p| p.leader.is_some()))
            })
            .unwrap_or(false);
        if ready {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "{name}: no leader");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Produces `values` to partition 0 of `topic` with a raw ProduceRequest (acks=all);
/// returns the base offset.
/// Retried while the partition is not ready (see [`while_not_ready`]).
pub async fn produce(client: &Client, topic: &str, values: &[&str]) -> kafka_client::Result<i64> {
    while_not_ready(client, topic, || async {
        let (leader, _) = client.leader(topic, 0).await?;
        produce_on(client, leader, topic, values).await
    })
    .await
}

/// Like [`produce`], to broker `leader` without looking the topic up first (so the
/// Produce request itself reaches the broker even when the topic's metadata is denied).
pub async fn produce_on(
    client: &Client,
    leader: i32,
    topic: &str,
    values: &[&str],
) -> kafka_client::Result<i64> {
    let conn = client.connection(leader, ConnectionKind::Produce).await?;
    let mut batch = BatchBuilder::new(Compression::None, 1 << 20);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    for v in values {
        batch.append(now, None, Some(v.as_bytes()), &[])?;
    }
    let records = batch.finish(&BatchMeta::default())?;
    let req = ProduceRequest::default()
        .with_acks(-1)
        .with_timeout_ms(10_000)
        .with_topic_data(vec![
            TopicProduceData::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partition_data(vec![
                    PartitionProduceData::default()
                        .with_index(0)
                        .with_records(Some(records)),
                ]),
        ]);
    // v13 addresses topics by id only; this helper sends names.
    let version = conn.negotiate::<ProduceRequest>(VersionRange { min: 3, max: 12 })?;
    let resp = conn
        .request_at(&req, version, Duration::from_secs(15))
        .await?;
    let p = resp
        .responses
        .first()
        .and_then(|t| t.partition_responses.first())
        .ok_or_else(|| Error::Protocol {
            context: ErrorContext::default().with_api(ApiKey::Produce),
            message: "empty Produce response".into(),
        })?;
    Error::check(p.error_code, || {
        ErrorContext::default()
            .with_api(ApiKey::Produce)
            .with_resource(topic)
            .with_partition(0)
    })?;
    Ok(p.base_offset)
}

/// [`fetch_once`], retried while the partition is not ready (see [`while_not_ready`]).
pub async fn fetch(client: &Client, topic: &str) -> kafka_client::Result<(i64, Vec<String>)> {
    while_not_ready(client, topic, || fetch_once(client, topic)).await
}

/// Runs `op` until it succeeds or fails with anything but a retriable broker error code,
/// for at most 15 s: a broker can answer NOT_LEADER_OR_FOLLOWER for a moment after a
/// topic is created, until it has applied its own leadership from the metadata log. A
/// request that got such a code was not carried out, so repeating it is safe.
async fn while_not_ready<T, Fut>(
    client: &Client,
    topic: &str,
    mut op: impl FnMut() -> Fut,
) -> kafka_client::Result<T>
where
    Fut: Future<Output = kafka_client::Result<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        match op().await {
            Err(Error::Broker { code, .. })
                if code.is_retriable() && tokio::time::Instant::now() < deadline =>
            {
                let _ = client.refresh_topics(&[topic]).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => return other,
        }
    }
}

/// Reads partition 0 of `topic` from offset 0 with a raw FetchRequest: the high
/// watermark and every record value.
async fn fetch_once(client: &Client, topic: &str) -> kafka_client::Result<(i64, Vec<String>)> {
    let (leader, _) = client.leader(topic, 0).await?;
    let conn = client.connection(leader, ConnectionKind::Fetch).await?;
    let req = FetchRequest::default()
        .with_replica_id(BrokerId(-1))
        .with_max_wait_ms(100)
        .with_min_bytes(1)
        .with_max_bytes(1 << 20)
        .with_session_id(0)
        .with_session_epoch(-1)
        .with_topics(vec![
            FetchTopic::default()
                .with_topic(TopicName(StrBytes::from_string(topic.to_owned())))
                .with_partitions(vec![
                    FetchPartition::default()
                        .with_partition(0)
                        .with_fetch_offset(0)
                        .with_current_leader_epoch(-1)
                        .with_log_start_offset(-1)
                        .with_partition_max_bytes(1 << 20),
                ]),
        ]);
    // v13 addresses topics by id only; this helper sends names.
    let version = conn.negotiate::<FetchRequest>(VersionRange { min: 4, max: 12 })?;
    let resp = conn
        .request_at(&req, version, Duration::from_secs(15))
        .await?;
    let ctx = || {
        ErrorContext::default()
            .with_api(ApiKey::Fetch)
            .with_resource(topic)
            .with_partition(0)
    };
    Error::check(resp.error_code, ctx)?;
    let p = resp
        .responses
        .first()
        .and_then(|t| t.partitions.first())
        .ok_or_else(|| Error::Protocol {
            context: ctx(),
            message: "empty Fetch response".into(),
        })?;
    Error::check(p.error_code, ctx)?;
    let mut values = Vec::new();
    if let Some(bytes) = p.records.clone() {
        for batch in decode_batches(bytes, DecodeLimits::default()) {
            for r in batch?.records_vec()? {
                values.push(
                    String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned(),
                );
            }
        }
    }
    Ok((p.high_watermark, values))
}

/// Metadata, topic creation (kafka-admin), a produce and a fetch, all through `client`.
pub async fn round_trip(client: &Client, prefix: &str) {
    let m = client.metadata().await.expect("metadata");
    assert!(!m.brokers.is_empty(), "no brokers");
    let topic = unique_topic(prefix);
    create_topic(client, &topic).await;
    let base = produce(client, &topic, &["one", "two", "three"])
        .await
        .expect("produce");
    assert_eq!(base, 0);
    let (hw, values) = fetch(client, &topic).await.expect("fetch");
    assert_eq!(hw, 3);
    assert_eq!(values, ["one", "two", "three"]);
}

/// A fresh topic (created over PLAINTEXT by the super user) for a client expected to
/// fail; `assert_no_records` checks it afterwards.
pub async fn victim_topic(prefix: &str) -> String {
    let topic = unique_topic(prefix);
    create_topic(&plaintext(), &topic).await;
    topic
}

/// Checks, as the PLAINTEXT super user, that `topic` holds no record.
pub async fn assert_no_records(topic: &str) {
    let (hw, values) = fetch(&plaintext(), topic).await.expect("referee fetch");
    assert_eq!((hw, values.len()), (0, 0), "{topic} received records");
}

/// Runs kcat (librdkafka) with `args`, feeding `stdin`; returns stdout, panicking with
/// stderr on failure.
pub fn kcat(args: &[String], stdin: Option<&str>) -> String {
    use std::io::Write as _;
    let mut child = Command::new("kcat")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kcat is installed");
    {
        let mut input = child.stdin.take().expect("stdin");
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).expect("write to kcat");
        }
    }
    let out = child.wait_with_output().expect("kcat ran");
    assert!(
        out.status.success(),
        "kcat {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// kcat produces three records to a new topic over `listener` with `settings` (`-X`
/// pairs), consumes them back, and our PLAINTEXT client sees them too.
pub async fn kcat_round_trip(listener: Listener, settings: &[(&str, String)]) {
    let topic = unique_topic("kcat");
    create_topic(&plaintext(), &topic).await;
    let mut base = vec![
        "-b".to_owned(),
        secure().bootstrap(listener),
        "-m".to_owned(),
        "20".to_owned(),
    ];
    for (k, v) in settings {
        base.push("-X".to_owned());
        base.push(format!("{k}={v}"));
    }
    let meta = kcat(
        &[base.clone(), vec!["-L".into(), "-t".into(), topic.clone()]].concat(),
        None,
    );
    assert!(meta.contains(&topic), "{meta}");
    kcat(
        &[base.clone(), vec!["-P".into(), "-t".into(), topic.clone()]].concat(),
        Some("k1\nk2\nk3\n"),
    );
    let consumed = kcat(
        &[
            base,
            vec![
                "-C".into(),
                "-t".into(),
                topic.clone(),
                "-o".into(),
                "beginning".into(),
                "-e".into(),
                "-q".into(),
            ],
        ]
        .concat(),
        None,
    );
    assert_eq!(consumed.lines().collect::<Vec<_>>(), ["k1", "k2", "k3"]);
    let (_, values) = fetch(&plaintext(), &topic).await.expect("fetch");
    assert_eq!(values, ["k1", "k2", "k3"]);
}

/// Tries to produce to a fresh topic through `client`, which must fail at once (well
/// within the API timeout, so without a retry loop) with a non-retriable error; checks
/// that the topic stayed empty and returns the error.
pub async fn expect_failure(client: &Client, prefix: &str) -> Error {
    let topic = victim_topic(prefix).await;
    let started = std::time::Instant::now();
    let err = produce(client, &topic, &["must-not-arrive"])
        .await
        .expect_err("the client must fail");
    let took = started.elapsed();
    eprintln!("{prefix}: failed in {took:?} with: {err}");
    assert!(
        took < Duration::from_secs(5),
        "took {took:?} (retry loop?): {err}"
    );
    assert!(!err.is_retriable(), "retriable: {err:?}");
    assert_no_records(&topic).await;
    err
}

/// An independent client run as a program: it produces three records to a new topic
/// over `listener` with `settings` (written to a `key=value` file it reads) and reads
/// them back, printing `VALUES=<values>`; our PLAINTEXT client must then see the same
/// values. `program` gets the settings file and the topic as its last two arguments.
async fn peer_round_trip(
    peer: &str,
    listener: Listener,
    settings: &[(&str, String)],
    program: Command,
    values: [&str; 3],
) {
    let topic = unique_topic(peer);
    create_topic(&plaintext(), &topic).await;
    let props_file = secure().certs().dir.join(format!("{topic}.properties"));
    let mut props = format!("bootstrap.servers={}\n", secure().bootstrap(listener));
    for (k, v) in settings {
        // java.util.Properties: backslashes escape (librdkafka's reader takes them as is;
        // no setting here has one).
        props.push_str(&format!("{k}={}\n", v.replace('\\', "\\\\")));
    }
    std::fs::write(&props_file, props).expect("write client settings");
    let topic_arg = topic.clone();
    let mut program = program;
    let out = tokio::task::spawn_blocking(move || {
        program
            .arg(&props_file)
            .arg(topic_arg)
            .stdin(Stdio::null())
            .output()
            .expect("peer client runs")
    })
    .await
    .expect("peer task");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&format!("VALUES={}", values.join(","))),
        "{peer} client failed ({}): {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
            .lines()
            .filter(|l| !l.contains(" INFO ") && !l.contains("StatusLogger"))
            .take(40)
            .collect::<Vec<_>>()
            .join("\n")
    );
    let (_, read) = fetch(&plaintext(), &topic).await.expect("fetch");
    assert_eq!(read, values);
}

/// The reference Java client (kafka-clients from the broker's classpath, run with the
/// JDK's source launcher) produces three records to a new topic over `listener` with
/// `settings` and reads them back; our PLAINTEXT client sees them too. Used where kcat
/// cannot go: librdkafka before 2.6.1 (Debian's kcat has 2.0.2) builds SCRAM proofs that
/// Kafka 4.x rejects (librdkafka#4895).
pub async fn java_round_trip(listener: Listener, settings: &[(&str, String)]) {
    let mut java = Command::new(kafka_testbed::jars::java_binary().expect("java"));
    java.args([
        "-Xmx256m",
        "-XX:TieredStopAtLevel=1",
        "-XX:+UseSerialGC",
        "-cp",
    ])
    .arg(kafka_testbed::jars::classpath().expect("classpath"))
    .arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/security_common/JavaClientCheck.java"
    ));
    peer_round_trip("java", listener, settings, java, ["j1", "j2", "j3"]).await;
}

/// librdkafka (confluent-kafka from PyPI, with a librdkafka recent enough for Kafka 4's
/// SCRAM, unlike Debian's kcat) produces three records to a new topic over `listener`
/// with `settings` and reads them back (`librdkafka_check.py`).
pub async fn librdkafka_round_trip(listener: Listener, settings: &[(&str, String)]) {
    let python = kafka_testbed::confluent_python::confluent_python().expect("confluent-kafka");
    let mut check = Command::new(python);
    check.arg(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/security_common/librdkafka_check.py"
    ));
    peer_round_trip("rdkafka", listener, settings, check, ["l1", "l2", "l3"]).await;
}
