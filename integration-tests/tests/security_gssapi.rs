//! SASL `GSSAPI` (Kerberos) against a real MIT KDC (`kafka_testbed::kdc`, realm
//! `KAFKA.TEST`) and a Kafka broker whose `GSSAPI` listener authenticates as
//! `kafka/localhost@KAFKA.TEST` from a keytab: keytab and password login with produce
//! and consume, typed errors for the KDC's answers (wrong password, unknown principal,
//! wrong service name, unreachable KDC), and kcat (librdkafka + Cyrus SASL + MIT
//! GSSAPI) authenticating to the same listener as a cross-check of the setup.

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use kafka_client::config::{KerberosConfig, Properties, SaslConfig, SaslMechanism};
use kafka_client::consumer::{AutoOffsetReset, Consumer};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Client, Error, KerberosFailure, TopicPartition};
use kafka_testbed::kdc::{BROKER_PRINCIPAL, GSSAPI_PORT, Kdc};
use kafka_testbed::{ClusterConfig, KafkaCluster};

const REALM: &str = "KAFKA.TEST";
const ALICE: &str = "alice";
const BOB: (&str, &str) = ("bob", "bob-Kerberos-secret");

struct Krb {
    kdc: Kdc,
    cluster: KafkaCluster,
    alice_keytab: PathBuf,
}

/// The realm, its principals and the broker, started once per test binary.
fn krb() -> &'static Krb {
    static K: OnceLock<Result<Krb, String>> = OnceLock::new();
    let k = K.get_or_init(|| {
        let kdc = Kdc::start(REALM).map_err(|e| e.to_string())?;
        let broker_keytab = kdc.dir().join("broker.keytab");
        let alice_keytab = kdc.dir().join("alice.keytab");
        kdc.add_keytab_principal(BROKER_PRINCIPAL, &broker_keytab)
            .and_then(|_| kdc.add_keytab_principal(ALICE, &alice_keytab))
            .and_then(|_| kdc.add_password_principal(BOB.0, BOB.1))
            .map_err(|e| e.to_string())?;
        let config = kdc.broker_config(ClusterConfig::new(1), &broker_keytab);
        let cluster = KafkaCluster::start(config).map_err(|e| e.to_string())?;
        Ok(Krb {
            kdc,
            cluster,
            alice_keytab,
        })
    });
    match k {
        Ok(k) => k,
        Err(e) => panic!("Kerberos test bed unavailable: {e}"),
    }
}

impl Krb {
    /// `localhost:port` of the GSSAPI listener (the host names the broker principal).
    fn bootstrap(&self) -> String {
        let port = self.cluster.node_port(1, GSSAPI_PORT).expect("gssapi port");
        format!("localhost:{port}")
    }

    fn alice(&self) -> KerberosConfig {
        KerberosConfig::keytab(self.kdc.principal(ALICE), &self.alice_keytab)
            .kdc(self.kdc.address())
    }

    fn client(&self, kerberos: KerberosConfig) -> Client {
        Client::builder()
            .bootstrap_servers([self.bootstrap()])
            .client_id("gssapi-tests")
            .request_timeout(Duration::from_secs(15))
            .api_timeout(Duration::from_secs(30))
            .sasl(SaslConfig::gssapi(kerberos))
            .build()
            .expect("valid GSSAPI config")
    }
}

/// Creates a topic, produces three records and consumes them back, all through
/// `client` (so over GSSAPI).
async fn produce_and_consume(client: &Client, prefix: &str) -> String {
    let topic = common::unique_topic(prefix);
    common::create_topic(client, &topic, 1, 1).await;
    let producer = Producer::builder()
        .client(client.clone())
        .build()
        .expect("producer");
    for v in ["k1", "k2", "k3"] {
        producer
            .send(ProducerRecord::new(topic.as_str()).with_value(v))
            .await
            .expect("queued")
            .await
            .expect("delivered");
    }
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");
    let consumer = Consumer::builder()
        .client(client.clone())
        .fetch_max_wait(Duration::from_millis(200))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .expect("consumer");
    consumer
        .assign([TopicPartition::new(topic.as_str(), 0)])
        .expect("assign");
    let records = common::consumer_util::drain(&consumer, 3, Duration::from_secs(30)).await;
    let values: Vec<String> = records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    assert_eq!(values, ["k1", "k2", "k3"]);
    topic
}

/// The Kerberos failure a client with `kerberos` ends with (at its first request).
async fn kerberos_failure(kerberos: KerberosConfig) -> (KerberosFailure, String) {
    let client = krb().client(kerberos);
    let started = std::time::Instant::now();
    let err = client.metadata().await.expect_err("must fail");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "took {:?} (retry loop?): {err}",
        started.elapsed()
    );
    assert!(
        err.is_authentication_failure() && !err.is_retriable(),
        "{err:?}"
    );
    let text = err.to_string();
    match err {
        Error::Kerberos { failure, .. } => (failure, text),
        other => panic!("expected Error::Kerberos, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gssapi_keytab_login_produces_and_consumes() {
    let k = krb();
    let client = k.client(k.alice());
    assert_eq!(
        client.config().sasl_mechanism(),
        Some(SaslMechanism::Gssapi)
    );
    produce_and_consume(&client, "gssapi-keytab").await;
    // The KDC issued a TGT and a service ticket for the broker to alice.
    let log = k.kdc.log();
    assert!(
        log.contains("AS_REQ") && log.contains(&format!("alice@{REALM}")),
        "{log}"
    );
    assert!(log.contains(&format!("kafka/localhost@{REALM}")), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gssapi_password_login_from_properties() {
    let k = krb();
    let mut props: Properties = [
        ("bootstrap.servers", k.bootstrap()),
        ("security.protocol", "SASL_PLAINTEXT".to_owned()),
        ("sasl.mechanism", "GSSAPI".to_owned()),
        ("sasl.kerberos.service.name", "kafka".to_owned()),
        ("sasl.kerberos.principal", BOB.0.to_owned()),
        ("sasl.password", BOB.1.to_owned()),
        (
            "sasl.kerberos.krb5.conf",
            k.kdc.krb5_conf().display().to_string(),
        ),
    ]
    .into_iter()
    .collect();
    let client = Client::builder()
        .apply_properties(&mut props)
        .expect("GSSAPI properties")
        .build()
        .expect("valid config");
    assert!(!format!("{:?}", client.config()).contains(BOB.1));
    produce_and_consume(&client, "gssapi-password").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gssapi_wrong_password_is_a_preauth_failure() {
    let k = krb();
    let (failure, text) = kerberos_failure(
        KerberosConfig::password(k.kdc.principal(BOB.0), "not-the-password").kdc(k.kdc.address()),
    )
    .await;
    assert_eq!(
        failure,
        KerberosFailure::PreauthFailed {
            principal: k.kdc.principal(BOB.0)
        }
    );
    assert!(!text.contains("not-the-password"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gssapi_unknown_principal_is_named() {
    let k = krb();
    let (failure, text) = kerberos_failure(
        KerberosConfig::password(k.kdc.principal("mallory"), "whatever").kdc(k.kdc.address()),
    )
    .await;
    assert_eq!(
        failure,
        KerberosFailure::ClientUnknown {
            principal: k.kdc.principal("mallory")
        }
    );
    assert!(text.contains("mallory@KAFKA.TEST"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gssapi_wrong_service_name_is_an_unknown_service() {
    let k = krb();
    let (failure, text) = kerberos_failure(k.alice().service_name("kafka-wrong")).await;
    assert_eq!(
        failure,
        KerberosFailure::ServiceUnknown {
            principal: format!("kafka-wrong/localhost@{REALM}")
        }
    );
    assert!(text.contains("sasl.kerberos.service.name"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gssapi_unreachable_kdc_is_named() {
    let k = krb();
    let dead = kafka_testbed::free_ports(1).expect("port")[0];
    let (failure, _) = kerberos_failure(
        KerberosConfig::keytab(k.kdc.principal(ALICE), &k.alice_keytab)
            .kdc(format!("127.0.0.1:{dead}")),
    )
    .await;
    match failure {
        KerberosFailure::KdcUnreachable { kdcs, .. } => {
            assert_eq!(kdcs, [format!("127.0.0.1:{dead}")]);
        }
        other => panic!("expected KdcUnreachable, got {other:?}"),
    }
}

/// Runs kcat (librdkafka with Cyrus SASL's GSSAPI plugin over MIT Kerberos) as alice.
fn kcat_as_alice(extra: &[&str]) -> std::process::Output {
    let k = krb();
    ensure_kcat_gssapi();
    let ccache = k.kdc.dir().join("kcat.ccache");
    let mut cmd = Command::new("kcat");
    cmd.env("KRB5_CONFIG", k.kdc.krb5_conf())
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .args(["-b", &k.bootstrap()])
        .args(["-X", "security.protocol=SASL_PLAINTEXT"])
        .args(["-X", "sasl.mechanisms=GSSAPI"])
        .args(["-X", "sasl.kerberos.service.name=kafka"])
        .arg("-X")
        .arg(format!("sasl.kerberos.principal={}", k.kdc.principal(ALICE)))
        .arg("-X")
        .arg(format!("sasl.kerberos.keytab={}", k.alice_keytab.display()))
        .args([
            "-X",
            "sasl.kerberos.kinit.cmd=kinit -k -t %{sasl.kerberos.keytab} %{sasl.kerberos.principal}",
        ])
        .args(extra)
        .stdin(Stdio::null());
    cmd.output().expect("kcat runs")
}

/// Debian's kcat needs Cyrus SASL's GSSAPI plugin (and `kinit`) for `GSSAPI`.
fn ensure_kcat_gssapi() {
    let plugin = std::path::Path::new("/usr/lib/x86_64-linux-gnu/sasl2/libgssapiv2.so");
    let mut missing = Vec::new();
    if Command::new("kcat").arg("-V").output().is_err() {
        missing.push("kcat");
    }
    if !plugin.exists() {
        missing.push("libsasl2-modules-gssapi-mit");
    }
    if !std::path::Path::new("/usr/bin/kinit").exists() {
        missing.push("krb5-user");
    }
    if !missing.is_empty() {
        kafka_testbed::kdc::install_packages(&missing).expect("kcat with GSSAPI");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gssapi_kcat_reads_what_we_wrote_over_the_same_listener() {
    let k = krb();
    let client = k.client(k.alice());
    let topic = produce_and_consume(&client, "gssapi-kcat").await;
    let out = tokio::task::spawn_blocking(move || {
        kcat_as_alice(&["-C", "-t", &topic, "-o", "beginning", "-e", "-q"])
    })
    .await
    .expect("kcat task");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "kcat failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.lines().collect::<Vec<_>>(), ["k1", "k2", "k3"]);
}
