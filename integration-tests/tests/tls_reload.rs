//! TLS material that changes while the client runs, encrypted PKCS#8 keys and
//! certificate revocation lists, against a real broker (`kafka_testbed::tls_rotation`):
//!
//! - a client certificate rotated mid-run (files rewritten; and a provider callback):
//!   connections made before keep working as the old principal, new ones present the
//!   new certificate — from a second CA the broker also trusts, and then one for
//!   `alice`, whom the broker answers TOPIC_AUTHORIZATION_FAILED, which shows which
//!   certificate a connection presented;
//! - an encrypted PKCS#8 client key (PBES2) logging in, in code and from properties,
//!   and a wrong password refused at build;
//! - a broker certificate revoked in the CA's CRL refused with
//!   `TlsErrorKind::CertificateRevoked`, while the same CRL accepts the other listener.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kafka_admin::{Admin, CreateTopicsOptions, NewTopic};
use kafka_client::config::{Properties, TlsConfig, TlsConfigProvider, TokenError};
use kafka_client::error::TlsErrorKind;
use kafka_client::lowlevel::{Connection, ConnectionKind};
use kafka_client::{BoxFuture, Client, ClientBuilder, Error, ErrorCode};
use kafka_protocol::messages::metadata_request::MetadataRequestTopic;
use kafka_protocol::messages::{MetadataRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_testbed::ClusterConfig;
use kafka_testbed::tls_rotation::{KEY_PASSWORD, RotationCluster, RotationListener};

fn cluster() -> &'static RotationCluster {
    static CLUSTER: OnceLock<Result<RotationCluster, String>> = OnceLock::new();
    kafka_testbed::install_panic_hook();
    match CLUSTER
        .get_or_init(|| RotationCluster::start(ClusterConfig::new(1)).map_err(|e| e.to_string()))
    {
        Ok(c) => c,
        Err(e) => panic!("rotation cluster unavailable: {e}"),
    }
}

fn builder(listener: RotationListener) -> ClientBuilder {
    Client::builder()
        .bootstrap_servers([cluster().address(listener)])
        .client_id("tls-reload-tests")
        .request_timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(10))
        .api_timeout(Duration::from_secs(20))
}

/// A one-partition topic, created over PLAINTEXT (principal ANONYMOUS, a super user).
async fn topic(prefix: &str) -> String {
    let name = format!("{prefix}-{}", std::process::id());
    let admin = Admin::new(builder(RotationListener::Plaintext).build().unwrap());
    let res = admin
        .create_topics(
            [NewTopic::new(&name).partitions(1).replication_factor(1)],
            CreateTopicsOptions::default(),
        )
        .await
        .expect("CreateTopics");
    res[&name].as_ref().expect("topic created");
    name
}

/// The error code the broker gives `conn`'s principal for `topic` in a Metadata request:
/// 0 for admin, TOPIC_AUTHORIZATION_FAILED for alice.
async fn topic_code(conn: &Connection, topic: &str) -> i16 {
    let req = MetadataRequest::default()
        .with_topics(Some(vec![MetadataRequestTopic::default().with_name(Some(
            TopicName(StrBytes::from_string(topic.to_owned())),
        ))]));
    let resp = conn
        .request(&req)
        .await
        .expect("Metadata on the connection");
    resp.topics.first().expect("one topic").error_code
}

fn copy_pair(from: &(PathBuf, PathBuf), dir: &Path) {
    // The key first: until the certificate follows, the pair does not match and the
    // client keeps its previous material.
    std::fs::write(dir.join("client.key"), std::fs::read(&from.1).unwrap()).unwrap();
    std::fs::write(dir.join("client.pem"), std::fs::read(&from.0).unwrap()).unwrap();
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kafka-tls-reload-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn authz() -> i16 {
    ErrorCode::TOPIC_AUTHORIZATION_FAILED.code()
}

#[tokio::test]
async fn tls_reload_client_certificate_files_rotated_mid_run() {
    let certs = cluster().certs();
    let topic = topic("rotate-files").await;
    let dir = scratch_dir("files");
    copy_pair(&certs.admin_ca1, &dir);
    let client = builder(RotationListener::Mtls)
        .tls(
            TlsConfig::new()
                .ca_file(&certs.ca)
                .client_cert_files(dir.join("client.pem"), dir.join("client.key"))
                .reload_files(true),
        )
        .build()
        .unwrap();
    client
        .metadata()
        .await
        .expect("bootstrap as admin (first CA)");
    let first = client.connection(1, ConnectionKind::General).await.unwrap();
    assert_eq!(topic_code(&first, &topic).await, 0);

    // Rotation to a certificate of the second CA: new connections use it.
    copy_pair(&certs.admin_ca2, &dir);
    let second = client.connection(1, ConnectionKind::Produce).await.unwrap();
    assert_eq!(
        topic_code(&second, &topic).await,
        0,
        "admin from the second CA"
    );

    // Rotation to alice: the broker sees the new principal on the new connection only.
    copy_pair(&certs.alice_ca2, &dir);
    let third = client.connection(1, ConnectionKind::Fetch).await.unwrap();
    assert_eq!(
        topic_code(&third, &topic).await,
        authz(),
        "the new certificate is used"
    );
    assert_eq!(
        topic_code(&first, &topic).await,
        0,
        "old connection still admin"
    );
    assert_eq!(topic_code(&second, &topic).await, 0);
    assert!(!first.is_closed() && !second.is_closed());
    let _ = std::fs::remove_dir_all(&dir);
}

/// Certificates handed out by the application (a secrets manager, say): switchable.
#[derive(Debug)]
struct Switchable(Mutex<TlsConfig>);

impl TlsConfigProvider for Switchable {
    fn tls_config(&self) -> BoxFuture<'_, Result<TlsConfig, TokenError>> {
        Box::pin(async move { Ok(self.0.lock().unwrap().clone()) })
    }
}

fn pem_pair(ca: &Path, pair: &(PathBuf, PathBuf)) -> TlsConfig {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    TlsConfig::new()
        .ca_pem(read(ca))
        .client_cert_pem(read(&pair.0), read(&pair.1))
}

#[tokio::test]
async fn tls_reload_provider_callback_rotates_certificates() {
    let certs = cluster().certs();
    let topic = topic("rotate-provider").await;
    let provider = Arc::new(Switchable(Mutex::new(pem_pair(
        &certs.ca,
        &certs.admin_ca1,
    ))));
    let client = builder(RotationListener::Mtls)
        .tls(TlsConfig::new().provider(provider.clone()))
        .build()
        .unwrap();
    let before = client.connection(1, ConnectionKind::General).await.unwrap();
    assert_eq!(topic_code(&before, &topic).await, 0);
    *provider.0.lock().unwrap() = pem_pair(&certs.ca, &certs.alice_ca2);
    let after = client.connection(1, ConnectionKind::Produce).await.unwrap();
    assert_eq!(
        topic_code(&after, &topic).await,
        authz(),
        "alice on the new connection"
    );
    assert_eq!(topic_code(&before, &topic).await, 0, "admin on the old one");

    // A provider handing out unusable material: a typed configuration error, no
    // connection.
    *provider.0.lock().unwrap() = TlsConfig::new().ca_pem("not a certificate");
    let err = client
        .connection(1, ConnectionKind::Fetch)
        .await
        .expect_err("bad material");
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(err.to_string().contains("no CERTIFICATE"), "{err}");
}

#[tokio::test]
async fn tls_reload_encrypted_pkcs8_key_logs_in() {
    let certs = cluster().certs();
    let topic = topic("encrypted-key").await;
    let head = std::fs::read_to_string(&certs.admin_key_encrypted).unwrap();
    assert!(head.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY-----"));
    let client = builder(RotationListener::Mtls)
        .tls(
            TlsConfig::new()
                .ca_file(&certs.ca)
                .client_cert_files(&certs.admin_ca1.0, &certs.admin_key_encrypted)
                .client_key_password(KEY_PASSWORD),
        )
        .build()
        .unwrap();
    let conn = client.connection(1, ConnectionKind::General).await.unwrap();
    assert_eq!(topic_code(&conn, &topic).await, 0, "logged in as admin");

    // The same through Java/librdkafka property names.
    let mut props: Properties = [
        (
            "bootstrap.servers",
            cluster().address(RotationListener::Mtls),
        ),
        ("security.protocol", "SSL".to_owned()),
        ("ssl.ca.location", certs.ca.display().to_string()),
        (
            "ssl.certificate.location",
            certs.admin_ca1.0.display().to_string(),
        ),
        (
            "ssl.key.location",
            certs.admin_key_encrypted.display().to_string(),
        ),
        ("ssl.key.password", KEY_PASSWORD.to_owned()),
    ]
    .into_iter()
    .collect();
    let client = ClientBuilder::new()
        .apply_properties(&mut props)
        .unwrap()
        .build()
        .unwrap();
    props.reject_unknown().unwrap();
    client.metadata().await.expect("properties: encrypted key");

    // A wrong password: refused when the configuration is built, naming the file and
    // never the password.
    let err = builder(RotationListener::Mtls)
        .tls(
            TlsConfig::new()
                .ca_file(&certs.ca)
                .client_cert_files(&certs.admin_ca1.0, &certs.admin_key_encrypted)
                .client_key_password("wrong-password-42"),
        )
        .build()
        .expect_err("wrong password");
    let text = err.to_string();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
    assert!(
        text.contains("cannot decrypt") && text.contains("admin-ca1-encrypted.key"),
        "{text}"
    );
    assert!(!text.contains("wrong-password-42"), "{text}");
}

#[tokio::test]
async fn tls_reload_revoked_broker_certificate_is_refused() {
    let certs = cluster().certs();
    let with_crl = || TlsConfig::new().ca_file(&certs.ca).crl_file(&certs.crl);

    let client = builder(RotationListener::Revoked)
        .tls(with_crl())
        .build()
        .unwrap();
    let err = client.metadata().await.expect_err("revoked certificate");
    match &err {
        Error::Tls { kind, context, .. } => {
            assert_eq!(*kind, TlsErrorKind::CertificateRevoked, "{err}");
            assert_eq!(
                context.address.as_deref(),
                Some(cluster().address(RotationListener::Revoked).as_str())
            );
        }
        other => panic!("expected a TLS error, got {other:?}"),
    }
    assert!(
        err.is_authentication_failure() && !err.is_retriable(),
        "{err}"
    );
    assert!(err.to_string().contains("ssl.crl.location"), "{err}");

    // Control: without the CRL the same listener is fine, and with it the listener
    // whose certificate is not revoked is too.
    let client = builder(RotationListener::Revoked)
        .tls(TlsConfig::new().ca_file(&certs.ca))
        .build()
        .unwrap();
    client.metadata().await.expect("no CRL: accepted");
    let client = builder(RotationListener::Mtls)
        .tls(with_crl().client_cert_files(&certs.admin_ca1.0, &certs.admin_ca1.1))
        .build()
        .unwrap();
    client
        .metadata()
        .await
        .expect("CRL, certificate not revoked");

    // Through properties.
    let mut props: Properties = [
        (
            "bootstrap.servers",
            cluster().address(RotationListener::Revoked),
        ),
        ("security.protocol", "SSL".to_owned()),
        ("ssl.ca.location", certs.ca.display().to_string()),
        ("ssl.crl.location", certs.crl.display().to_string()),
    ]
    .into_iter()
    .collect();
    let client = ClientBuilder::new()
        .apply_properties(&mut props)
        .unwrap()
        .build()
        .unwrap();
    let err = client
        .metadata()
        .await
        .expect_err("revoked, from properties");
    assert!(
        matches!(
            err,
            Error::Tls {
                kind: TlsErrorKind::CertificateRevoked,
                ..
            }
        ),
        "{err:?}"
    );
}
