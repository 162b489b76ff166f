//! OAUTHBEARER with OIDC against a real broker that validates tokens
//! (`OAuthBearerValidatorCallbackHandler` + the test identity provider's JWKS, see
//! `kafka_testbed::oidc_idp`), and in-band re-authentication (KIP-368) over 10 s
//! sessions. One cluster and one identity provider per test binary; tests that take a
//! token endpoint down use an endpoint of their own.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kafka_client::config::{
    OAuthBearerToken, OidcConfig, PemSource, Properties, SaslConfig, Secret, TokenError,
    TokenProvider,
};
use kafka_client::consumer::{AutoOffsetReset, Consumer};
use kafka_client::oidc::{OidcError, OidcTokenProvider};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{BoxFuture, Client, Error, ErrorCode, TopicPartition};
use kafka_testbed::oidc_idp::{self, AUDIENCE, ClientPolicy, TestIdp};
use kafka_testbed::{ClusterConfig, KafkaCluster};
use tokio::time::Instant;

struct Bed {
    idp: TestIdp,
    cluster: KafkaCluster,
}

/// The identity provider (clients registered) and the cluster validating its tokens.
fn bed() -> &'static Bed {
    static BED: OnceLock<Result<Bed, String>> = OnceLock::new();
    kafka_testbed::install_panic_hook();
    let started = BED.get_or_init(|| {
        let idp = TestIdp::start().map_err(|e| e.to_string())?;
        idp.add_client("app", "app-secret", ClientPolicy::default());
        let short = ClientPolicy {
            lifetime: Duration::from_secs(30),
            ..ClientPolicy::default()
        };
        idp.add_client("short-lived", "short-secret", short);
        let expired = ClientPolicy {
            expired_by: Some(Duration::from_secs(300)),
            ..ClientPolicy::default()
        };
        idp.add_client("expired", "expired-secret", expired);
        let wrong_aud = ClientPolicy {
            audience: Some("someone-else".into()),
            ..ClientPolicy::default()
        };
        idp.add_client("wrong-aud", "wrong-aud-secret", wrong_aud);
        let wrong_iss = ClientPolicy {
            issuer: Some("http://impostor.example".into()),
            ..ClientPolicy::default()
        };
        idp.add_client("wrong-iss", "wrong-iss-secret", wrong_iss);
        let config = oidc_idp::oidc_cluster_config(ClusterConfig::new(1), &idp);
        let cluster = KafkaCluster::start(config).map_err(|e| e.to_string())?;
        Ok(Bed { idp, cluster })
    });
    match started {
        Ok(b) => b,
        Err(e) => panic!("OIDC test bed unavailable: {e}"),
    }
}

fn oidc_bootstrap() -> String {
    let b = bed();
    let id = b.cluster.node_ids()[0];
    let port = b.cluster.node_port(id, "oidc").expect("oidc port");
    format!("127.0.0.1:{port}")
}

fn client_with(sasl: SaslConfig) -> Client {
    Client::builder()
        .bootstrap_servers([oidc_bootstrap()])
        .client_id("oidc-tests")
        .request_timeout(Duration::from_secs(15))
        .connect_timeout(Duration::from_secs(10))
        .api_timeout(Duration::from_secs(20))
        .sasl(sasl)
        .build()
        .expect("client config")
}

fn provider(config: OidcConfig) -> Arc<OidcTokenProvider> {
    Arc::new(OidcTokenProvider::new(config).expect("provider config"))
}

fn credentials(url: &str, id: &str, secret: &str) -> OidcConfig {
    OidcConfig::client_credentials(url, id, secret).scope(oidc_idp::SCOPE)
}

fn unique_topic(prefix: &str) -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Creates `topic` (1 partition) over the PLAINTEXT listener and waits for its leader.
async fn create_topic(topic: &str) {
    let admin_client = Client::builder()
        .bootstrap_servers([bed().cluster.bootstrap_servers()])
        .build()
        .expect("plaintext client");
    let admin = kafka_admin::Admin::new(admin_client.clone());
    let res = admin
        .create_topics(
            [kafka_admin::NewTopic::new(topic)
                .partitions(1)
                .replication_factor(1)],
            kafka_admin::CreateTopicsOptions::default(),
        )
        .await
        .expect("CreateTopics");
    res[topic].as_ref().expect("topic created");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ready = admin_client
            .refresh_topics(&[topic])
            .await
            .ok()
            .is_some_and(|m| {
                m.topic(topic)
                    .is_some_and(|t| t.partitions.iter().all(|p| p.leader.is_some()))
            });
        if ready {
            return;
        }
        assert!(Instant::now() < deadline, "no leader for {topic}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn producer(client: &Client) -> Producer {
    Producer::builder()
        .client(client.clone())
        .linger(Duration::from_millis(5))
        .build()
        .expect("producer")
}

fn consumer(client: &Client, topic: &str) -> Consumer {
    let c = Consumer::builder()
        .client(client.clone())
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(200))
        .build()
        .expect("consumer");
    c.assign([TopicPartition::new(topic, 0)]).expect("assign");
    c
}

/// Polls `c` until it has `n` values (at most 30 s).
async fn consume(c: &Consumer, n: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} records",
            out.len()
        );
        for r in c.poll(Duration::from_millis(200)).await.expect("poll") {
            out.push(String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned());
        }
    }
    out
}

async fn produce_consume(client: &Client, prefix: &str) {
    let topic = unique_topic(prefix);
    create_topic(&topic).await;
    let p = producer(client);
    let values: Vec<String> = (0..20).map(|i| format!("{prefix}-{i}")).collect();
    for v in &values {
        p.send_and_wait(ProducerRecord::new(topic.as_str()).with_value(v.clone()))
            .await
            .expect("produce");
    }
    let c = consumer(client, &topic);
    assert_eq!(consume(&c, values.len()).await, values);
}

/// The client's error for a client whose tokens the broker (or the provider) refuses.
async fn auth_error(client: &Client) -> Error {
    let e = client
        .metadata()
        .await
        .expect_err("authentication must fail");
    assert!(
        matches!(e, Error::Authentication { .. }),
        "not an authentication error: {e:?}"
    );
    e
}

/// `client_credentials` configured with Java's property names: tokens from the
/// identity provider, validated by the broker; produce and consume work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_client_credentials_produce_consume() {
    let idp = &bed().idp;
    let before = idp.tokens_issued();
    let props = Properties::new()
        .set("bootstrap.servers", oidc_bootstrap())
        .set("security.protocol", "SASL_PLAINTEXT")
        .set("sasl.mechanism", "OAUTHBEARER")
        .set(
            "sasl.oauthbearer.token.endpoint.url",
            idp.main().token_url(),
        )
        .set("sasl.oauthbearer.client.credentials.client.id", "app")
        .set(
            "sasl.oauthbearer.client.credentials.client.secret",
            "app-secret",
        )
        .set("sasl.oauthbearer.scope", oidc_idp::SCOPE);
    let mut props = props;
    let client = Client::builder()
        .apply_properties(&mut props)
        .expect("properties")
        .build()
        .expect("client");
    produce_consume(&client, "oidc-cc").await;
    assert!(idp.tokens_issued() > before, "no token was issued");
}

/// librdkafka's names (`sasl.oauthbearer.method=oidc`, `.client.id`, `.client.secret`)
/// select the same provider; a wrong secret is the identity provider's typed
/// `invalid_client`, never echoing the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_wrong_client_secret_is_a_typed_error() {
    let idp = &bed().idp;
    let mut props = Properties::new()
        .set("bootstrap.servers", oidc_bootstrap())
        .set("sasl.mechanism", "OAUTHBEARER")
        .set("sasl.oauthbearer.method", "oidc")
        .set(
            "sasl.oauthbearer.token.endpoint.url",
            idp.main().token_url(),
        )
        .set("sasl.oauthbearer.client.id", "app")
        .set("sasl.oauthbearer.client.secret", "not-the-secret");
    let client = Client::builder()
        .apply_properties(&mut props)
        .expect("properties")
        .build()
        .expect("client");
    let e = auth_error(&client).await.to_string();
    assert!(
        e.contains("HTTP 401") && e.contains("invalid_client"),
        "{e}"
    );
    assert!(!e.contains("not-the-secret"), "{e}");
    let p = provider(credentials(
        &idp.main().token_url(),
        "app",
        "not-the-secret",
    ));
    match p.get_token().await {
        Err(OidcError::Rejected { status, error, .. }) => {
            assert_eq!((status, error.as_deref()), (401, Some("invalid_client")));
        }
        other => panic!("expected a rejection: {other:?}"),
    }
}

/// The JWT-bearer grant: the client signs an RS256 assertion with its own key (made in
/// the test); the identity provider verifies it and issues a token the broker accepts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_jwt_bearer_assertion_authenticates() {
    let idp = &bed().idp;
    let (pem, public) = oidc_idp::rsa_key_pair().expect("client key");
    idp.add_client(
        "assertion-app",
        "unused-secret",
        ClientPolicy {
            assertion_key: Some(public),
            ..ClientPolicy::default()
        },
    );
    let config = OidcConfig::jwt_bearer(
        idp.main().token_url(),
        PemSource::Inline(Secret::new(pem)),
        "assertion-app",
        "assertion-app",
        idp.issuer(),
    );
    let client = client_with(SaslConfig::oauthbearer(provider(config)));
    produce_consume(&client, "oidc-jwt-bearer").await;

    // A key the identity provider does not know: its typed invalid_grant.
    let (other_pem, _) = oidc_idp::rsa_key_pair().expect("other key");
    let config = OidcConfig::jwt_bearer(
        idp.main().token_url(),
        PemSource::Inline(Secret::new(other_pem)),
        "assertion-app",
        "assertion-app",
        idp.issuer(),
    );
    match provider(config).get_token().await {
        Err(OidcError::Rejected { status, error, .. }) => {
            assert_eq!((status, error.as_deref()), (400, Some("invalid_grant")));
        }
        other => panic!("expected invalid_grant: {other:?}"),
    }
}

/// A token the application hands over as it is.
#[derive(Debug)]
struct Fixed(String);

impl TokenProvider for Fixed {
    fn token(&self) -> BoxFuture<'_, Result<OAuthBearerToken, TokenError>> {
        Box::pin(async move { Ok(OAuthBearerToken::new(self.0.clone())) })
    }
}

/// An expired token: the OIDC provider refuses it itself (typed), and the broker
/// refuses it when an application presents it anyway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_expired_token_is_a_typed_error() {
    let idp = &bed().idp;
    let p = provider(credentials(
        &idp.main().token_url(),
        "expired",
        "expired-secret",
    ));
    match p.get_token().await {
        Err(e @ OidcError::BadResponse { .. }) => assert!(e.to_string().contains("expired"), "{e}"),
        other => panic!("expected an expired-token error: {other:?}"),
    }
    let e = auth_error(&client_with(SaslConfig::oauthbearer(p))).await;
    assert!(e.to_string().contains("expired"), "{e}");

    let token = idp.issue_for("expired").expect("token");
    let e = auth_error(&client_with(SaslConfig::oauthbearer(Arc::new(Fixed(
        token,
    )))))
    .await;
    assert_eq!(e.code(), Some(ErrorCode::SASL_AUTHENTICATION_FAILED), "{e}");
}

/// Tokens for another audience, or from another issuer, are refused by the broker
/// (`SASL_AUTHENTICATION_FAILED`); the right ones pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_wrong_audience_or_issuer_is_rejected() {
    let url = bed().idp.main().token_url();
    for (id, secret) in [
        ("wrong-aud", "wrong-aud-secret"),
        ("wrong-iss", "wrong-iss-secret"),
    ] {
        let p = provider(credentials(&url, id, secret));
        p.get_token()
            .await
            .expect("the identity provider issues it");
        let e = auth_error(&client_with(SaslConfig::oauthbearer(p))).await;
        assert_eq!(
            e.code(),
            Some(ErrorCode::SASL_AUTHENTICATION_FAILED),
            "{id}: {e}"
        );
        assert!(!e.to_string().contains(secret), "{e}");
    }
    let ok = client_with(SaslConfig::oauthbearer(provider(credentials(
        &url,
        "app",
        "app-secret",
    ))));
    ok.metadata().await.expect("the right audience and issuer");
    assert_eq!(AUDIENCE, "kafka-broker");
}

/// The identity provider publishes a new key, the broker picks it up from the JWKS,
/// then tokens are signed with it: new connections keep working, and so do the old
/// ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_key_rotation_keeps_new_connections_working() {
    let idp = &bed().idp;
    let url = idp.main().token_url();
    let old = client_with(SaslConfig::oauthbearer(provider(credentials(
        &url,
        "app",
        "app-secret",
    ))));
    let topic = unique_topic("oidc-rotation");
    create_topic(&topic).await;
    let p_old = producer(&old);
    p_old
        .send_and_wait(ProducerRecord::new(topic.as_str()).with_value("old-key"))
        .await
        .expect("produce with the first key");

    let fetches = idp.jwks_fetches();
    let kid = idp.publish_new_key().expect("new key");
    let deadline = Instant::now() + Duration::from_secs(30);
    while idp.jwks_fetches() <= fetches {
        assert!(
            Instant::now() < deadline,
            "the broker never refetched the JWKS"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    idp.sign_with_newest();
    assert_eq!(idp.signing_kid(), kid);

    let new = client_with(SaslConfig::oauthbearer(provider(credentials(
        &url,
        "app",
        "app-secret",
    ))));
    producer(&new)
        .send_and_wait(ProducerRecord::new(topic.as_str()).with_value("new-key"))
        .await
        .expect("a new connection with a token signed by the new key");
    p_old
        .send_and_wait(ProducerRecord::new(topic.as_str()).with_value("old-client"))
        .await
        .expect("the old client");
    let c = consumer(&new, &topic);
    assert_eq!(consume(&c, 3).await, ["old-key", "new-key", "old-client"]);
}

/// The token endpoint is down when the client starts: a typed error (from the provider
/// and, wrapped, from the client); once it is back, the same client connects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_idp_down_at_start_is_a_typed_error() {
    let endpoint = bed().idp.token_endpoint().expect("endpoint");
    endpoint.stop();
    let p = provider(
        credentials(&endpoint.token_url(), "app", "app-secret")
            .retry_backoff(Duration::from_millis(50), Duration::from_millis(200)),
    );
    match p.get_token().await {
        Err(e @ OidcError::Unreachable { .. }) => assert!(e.is_retriable(), "{e}"),
        other => panic!("expected unreachable: {other:?}"),
    }
    let client = client_with(SaslConfig::oauthbearer(p.clone()));
    let e = auth_error(&client).await;
    assert!(e.to_string().contains("unreachable"), "{e}");
    assert!(!e.to_string().contains("app-secret"), "{e}");

    endpoint.start().expect("endpoint back");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match client.metadata().await {
            Ok(_) => break,
            Err(e) => assert!(Instant::now() < deadline, "never recovered: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(p.failed_token_requests() >= 1);
    assert!(
        p.token_requests() > p.failed_token_requests(),
        "no successful request"
    );
}

/// The token endpoint goes down mid-run, over the point where the token should be
/// refreshed: the session lives on (the still-valid token is presented at the
/// re-authentications), the provider retries, and once the endpoint is back a new
/// token is fetched in band: no request fails, no connection is replaced, and the run
/// outlives the first token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_idp_outage_during_a_run_keeps_sessions_and_recovers() {
    let endpoint = bed().idp.token_endpoint().expect("endpoint");
    // 30 s tokens, refreshed at half their life (15 s); sessions of 10 s.
    let p = provider(
        credentials(&endpoint.token_url(), "short-lived", "short-secret")
            .refresh_window(0.5, 0.0)
            .retry_backoff(Duration::from_millis(200), Duration::from_secs(1)),
    );
    let client = client_with(SaslConfig::oauthbearer(p.clone()));
    let topic = unique_topic("oidc-outage");
    create_topic(&topic).await;
    let prod = producer(&client);
    let start = Instant::now();
    prod.send_and_wait(ProducerRecord::new(topic.as_str()).with_value("0"))
        .await
        .expect("first record");
    let opened = client.stats().connections_opened;
    let mut down = false;
    let mut sent = 1;
    while start.elapsed() < Duration::from_secs(36) {
        let t = start.elapsed();
        if !down && t >= Duration::from_secs(12) && t < Duration::from_secs(24) {
            endpoint.stop();
            down = true;
        }
        if down && t >= Duration::from_secs(24) {
            endpoint.start().expect("endpoint back");
            down = false;
        }
        prod.send_and_wait(ProducerRecord::new(topic.as_str()).with_value(sent.to_string()))
            .await
            .unwrap_or_else(|e| panic!("record {sent} at {t:?}: {e}"));
        sent += 1;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let stats = client.stats();
    assert_eq!(
        stats.connections_opened, opened,
        "a connection was replaced"
    );
    assert_eq!(stats.connection_errors, 0);
    assert!(stats.reauthentications >= 3, "{stats:?}");
    assert!(
        p.failed_token_requests() >= 1,
        "the outage was never noticed"
    );
    assert!(
        p.token_requests() >= 2 + p.failed_token_requests(),
        "no new token after the outage"
    );
    let c = consumer(&client, &topic);
    assert_eq!(consume(&c, sent).await.len(), sent);
}

/// KIP-368 over a 60 s produce/consume run with 10 s sessions: every connection
/// re-authenticates in band several times; no reconnect, no error, nothing lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_reauth_60s_run_without_reconnects() {
    let url = bed().idp.main().token_url();
    let client = client_with(SaslConfig::oauthbearer(provider(credentials(
        &url,
        "app",
        "app-secret",
    ))));
    let topic = unique_topic("oidc-reauth");
    create_topic(&topic).await;
    let prod = producer(&client);
    let cons = consumer(&client, &topic);
    prod.send_and_wait(ProducerRecord::new(topic.as_str()).with_value("v-0"))
        .await
        .expect("first record");
    let mut got = consume(&cons, 1).await;
    let opened = client.stats().connections_opened;
    let start = Instant::now();
    let mut sent = 1;
    while start.elapsed() < Duration::from_secs(60) {
        prod.send_and_wait(ProducerRecord::new(topic.as_str()).with_value(format!("v-{sent}")))
            .await
            .unwrap_or_else(|e| panic!("record {sent} at {:?}: {e}", start.elapsed()));
        sent += 1;
        for r in cons.poll(Duration::from_millis(100)).await.expect("poll") {
            got.push(String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned());
        }
    }
    got.extend(consume(&cons, sent - got.len()).await);
    let expected: Vec<String> = (0..sent).map(|i| format!("v-{i}")).collect();
    assert_eq!(got, expected);
    let stats = client.stats();
    assert_eq!(stats.connections_opened, opened, "reconnected: {stats:?}");
    assert_eq!(
        (stats.connection_errors, stats.request_errors),
        (0, 0),
        "{stats:?}"
    );
    // Each connection (at least the produce and the fetch one) renews about every 9 s.
    assert!(stats.reauthentications >= 10, "{stats:?}");
}
