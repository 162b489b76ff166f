//! Clients that authenticate with a delegation token (KIP-48: SCRAM with the
//! `tokenauth=true` extension) on the secured cluster: a token our admin creates for a
//! SCRAM user carries our producer and consumer (as that user) and Kafka's Java client;
//! a token made by Kafka's own `kafka-delegation-tokens` tool carries our client; an
//! expired token, or a wrong HMAC, gets a typed authentication error at once.
//! `kafka-cli delegation-tokens create|describe|renew|expire` (with `--command-config`)
//! drives the same calls, and Kafka's tool sees the token our CLI made.

mod common;
mod security_common;

use std::process::{Command, Stdio};
use std::time::Duration;

use kafka_admin::{
    AclBinding, AclOperation, AclsOptions, Admin, CreateDelegationTokenOptions, DelegationToken,
    DelegationTokenOptions, PatternType, ResourceType, ScramAlteration, ScramMechanism,
    ScramOptions,
};
use kafka_client::config::Properties;
use kafka_client::config::SaslConfig;
use kafka_client::consumer::{AutoOffsetReset, Consumer};
use kafka_client::producer::{Producer, ProducerBuilder, ProducerRecord};
use kafka_client::{Client, Error};
use kafka_testbed::secure::{ADMIN, Listener};
use security_common::*;

/// The super user over SASL: delegation tokens are only granted on authenticated
/// connections.
fn sasl_admin() -> Admin {
    Admin::new(
        builder(Listener::SaslPlaintext)
            .sasl(SaslConfig::scram_sha512(ADMIN.0, ADMIN.1))
            .build()
            .unwrap(),
    )
}

/// A client authenticating with the token `id`/`hmac` (SCRAM-SHA-512, tokenauth).
fn token_client(id: &str, hmac: &str) -> Client {
    builder(Listener::SaslPlaintext)
        .sasl(SaslConfig::scram_sha512_token(id, hmac))
        .api_timeout(Duration::from_secs(10))
        .build()
        .expect("token config")
}

/// Waits until the broker knows the token (it learns it from the metadata log).
async fn wait_described(admin: &Admin, token_id: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let listed = admin
            .describe_delegation_tokens(None, DelegationTokenOptions::default())
            .await
            .unwrap();
        if listed.iter().any(|t| t.token_id == token_id) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "token not described"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A SCRAM user with every right on topics and groups starting with `prefixes`.
async fn scram_user(user: &str, password: &str, prefixes: &[&str]) {
    let admin = Admin::new(plaintext());
    let created = admin
        .alter_user_scram_credentials(
            [(
                user.to_string(),
                ScramAlteration::Upsert {
                    mechanism: ScramMechanism::Sha512,
                    iterations: 4096,
                    password: password.into(),
                },
            )],
            ScramOptions::default(),
        )
        .await
        .unwrap();
    created[user].as_ref().expect("user created");
    let principal = format!("User:{user}");
    let acls: Vec<AclBinding> = prefixes
        .iter()
        .flat_map(|p| {
            [ResourceType::Topic, ResourceType::Group].map(|r| {
                AclBinding::allow(r, *p, &principal, AclOperation::All)
                    .pattern_type(PatternType::Prefixed)
            })
        })
        .collect();
    let granted = admin
        .create_acls(acls, AclsOptions::default())
        .await
        .unwrap();
    assert!(granted.values().all(Result::is_ok), "{granted:?}");
}

/// Our producer writes three records with the token, our consumer (same token, a group
/// of the owner's) reads them back; an independent PLAINTEXT fetch sees them too.
async fn produce_and_consume_with_token(id: &str, hmac: &str, topic: &str) {
    create_topic(&plaintext(), topic).await;
    let producer = Producer::builder()
        .client_config(
            builder(Listener::SaslPlaintext).sasl(SaslConfig::scram_sha512_token(id, hmac)),
        )
        .build()
        .expect("producer config");
    for v in ["t1", "t2", "t3"] {
        producer
            .send_and_wait(ProducerRecord::new(topic.to_string()).with_value(v))
            .await
            .unwrap_or_else(|e| panic!("produce with the token: {e}"));
    }
    producer.close(Duration::from_secs(10)).await.unwrap();

    let consumer = Consumer::builder()
        .client_builder(
            builder(Listener::SaslPlaintext).sasl(SaslConfig::scram_sha512_token(id, hmac)),
        )
        .group_id(format!("{topic}-group"))
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .expect("consumer config");
    consumer.subscribe([topic]).unwrap();
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen.len() < 3 && tokio::time::Instant::now() < deadline {
        let records = consumer
            .poll(Duration::from_millis(500))
            .await
            .unwrap_or_else(|e| panic!("consume with the token: {e}"));
        seen.extend(
            records.iter().map(|r| {
                String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()
            }),
        );
    }
    consumer.commit().await.expect("commit as the token owner");
    consumer.close().await.expect("close");
    assert_eq!(seen, ["t1", "t2", "t3"]);
    let (_, values) = fetch(&plaintext(), topic).await.expect("referee fetch");
    assert_eq!(values, ["t1", "t2", "t3"]);
}

/// Authenticating with `id`/`hmac` fails at once with a typed authentication error that
/// says a delegation token was used; nothing reaches the topic.
async fn refused(id: &str, hmac: &str, prefix: &str) -> Error {
    let client = token_client(id, hmac);
    let err = expect_failure(&client, prefix).await;
    client.close();
    assert!(matches!(err, Error::Authentication { .. }), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains("delegation token") && text.contains(id),
        "the error names the token: {text}"
    );
    assert!(!text.contains(hmac), "the HMAC leaked: {text}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ops_token_auth_our_token_carries_our_clients_and_java() {
    let pid = std::process::id();
    let user = format!("tok-owner-{pid}");
    scram_user(&user, "tok-owner-pw", &["tok", "java"]).await;
    let admin = sasl_admin();
    let token: DelegationToken = admin
        .create_delegation_token(
            CreateDelegationTokenOptions::default()
                .owner(format!("User:{user}"))
                // Only the owner and renewers may expire it: the admin expires it below.
                .renewer("User:admin")
                .max_lifetime(Duration::from_secs(3600)),
        )
        .await
        .expect("token created for the SCRAM user");
    assert_eq!(token.owner, format!("User:{user}"));
    wait_described(&admin, &token.token_id).await;
    let hmac = token.hmac_base64();

    // Our producer and consumer, as the token's owner (its ACLs apply).
    produce_and_consume_with_token(&token.token_id, &hmac, &unique_topic("tok")).await;
    // Not the owner's topic: the token grants the owner's rights, no more.
    let other = victim_topic("other").await;
    let client = token_client(&token.token_id, &hmac);
    let denied = produce(&client, &other, &["no"])
        .await
        .expect_err("the owner may not write there");
    assert_eq!(
        denied.code().map(|c| c.code()),
        Some(29),
        "TOPIC_AUTHORIZATION_FAILED: {denied}"
    );
    client.close();
    assert_no_records(&other).await;

    // Kafka's Java client with the same token.
    let jaas = format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{}\" password=\"{hmac}\" tokenauth=true;",
        token.token_id
    );
    java_round_trip(
        Listener::SaslPlaintext,
        &[
            ("security.protocol", "SASL_PLAINTEXT".into()),
            ("sasl.mechanism", "SCRAM-SHA-512".into()),
            ("sasl.jaas.config", jaas.clone()),
        ],
    )
    .await;

    // The same token through properties, as a Java configuration gives it.
    let props: Properties = [
        (
            "bootstrap.servers",
            secure().bootstrap(Listener::SaslPlaintext),
        ),
        ("security.protocol", "SASL_PLAINTEXT".into()),
        ("sasl.mechanism", "SCRAM-SHA-512".into()),
        ("sasl.jaas.config", jaas),
    ]
    .into_iter()
    .collect();
    let topic = unique_topic("tok-props");
    create_topic(&plaintext(), &topic).await;
    let producer = ProducerBuilder::from_properties(props)
        .expect("JAAS with tokenauth")
        .build()
        .unwrap();
    producer
        .send_and_wait(ProducerRecord::new(topic.as_str()).with_value("p1"))
        .await
        .expect("produces with the token from properties");
    producer.close(Duration::from_secs(10)).await.unwrap();
    assert_eq!(fetch(&plaintext(), &topic).await.unwrap().1, ["p1"]);

    // A wrong HMAC is refused; so is the token once an admin expired it.
    refused(&token.token_id, "bm90LXRoZS1obWFj", "tok-bad-hmac").await;
    admin
        .expire_delegation_token(&token.hmac, None, DelegationTokenOptions::default())
        .await
        .expect("expired");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let client = token_client(&token.token_id, &hmac);
        let r = client.metadata().await;
        client.close();
        match r {
            Err(Error::Authentication { .. }) => break,
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the expired token still logs in: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        }
    }
    refused(&token.token_id, &hmac, "tok-expired").await;
}

/// A client properties file for the super user over SASL/SCRAM (Java tools'
/// `--command-config`, and ours).
fn admin_config_file(name: &str) -> std::path::PathBuf {
    let config = secure()
        .certs()
        .dir
        .join(format!("{name}-{}.properties", std::process::id()));
    std::fs::write(
        &config,
        format!(
            "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=SCRAM-SHA-512\n\
             sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required \
             username=\"{}\" password=\"{}\";\n",
            ADMIN.0, ADMIN.1
        ),
    )
    .expect("write client config");
    config
}

/// Runs Kafka's `kafka-delegation-tokens` (kafka-tools jar) as the super user with
/// `args`; returns stdout.
fn java_token_tool(args: &[&str]) -> String {
    let config = admin_config_file("token-tool");
    let java = kafka_testbed::jars::java_binary().expect("java");
    let out = Command::new(java)
        .args(["-Xmx256m", "-XX:TieredStopAtLevel=1", "-cp"])
        .arg(kafka_testbed::jars::tools_classpath().expect("tools classpath"))
        .arg("org.apache.kafka.tools.DelegationTokenCommand")
        .args([
            "--bootstrap-server",
            &secure().bootstrap(Listener::SaslPlaintext),
        ])
        .arg("--command-config")
        .arg(&config)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run DelegationTokenCommand");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "DelegationTokenCommand failed ({}):\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// The HMAC column of the table row for token `id` in Kafka's tool output.
fn hmac_in_table(stdout: &str, id: &str) -> Option<String> {
    stdout.lines().find_map(|l| {
        let mut cols = l.split_whitespace();
        (cols.next() == Some(id)).then(|| cols.next().map(str::to_string))?
    })
}

/// Runs Kafka's `kafka-delegation-tokens --create` as the super user and returns the token id
/// and HMAC it prints.
fn java_create_token() -> (String, String) {
    let stdout = java_token_tool(&["--create", "--max-life-time-period", "-1"]);
    // "Created delegation token with tokenId : <id>", then a table whose row for the
    // token starts with the id and the HMAC.
    let id = stdout
        .lines()
        .find_map(|l| l.split("tokenId :").nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| panic!("no token id in:\n{stdout}"));
    let hmac =
        hmac_in_table(&stdout, &id).unwrap_or_else(|| panic!("no HMAC for {id} in:\n{stdout}"));
    (id, hmac)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_ops_token_auth_java_tool_token_carries_our_client() {
    let (id, hmac) = tokio::task::spawn_blocking(java_create_token)
        .await
        .unwrap();
    let admin = sasl_admin();
    wait_described(&admin, &id).await;
    // Owned by the super user, so any topic and group.
    produce_and_consume_with_token(&id, &hmac, &unique_topic("javatok")).await;
    let client = token_client(&id, &hmac);
    round_trip(&client, "javatok-raw").await;
    client.close();
}

/// Runs `kafka-cli` against the SASL listener with `args`.
fn cli(args: &[&str]) -> std::process::Output {
    let bootstrap = secure().bootstrap(Listener::SaslPlaintext);
    let mut all = vec!["--bootstrap-server", bootstrap.as_str()];
    all.extend_from_slice(args);
    common::example_bin::run_example("kafka-cli", &all, "")
}

/// `kafka-cli --command-config <config> delegation-tokens <args>`.
fn tokens(config: &str, args: &[&str]) -> std::process::Output {
    let mut all = vec!["--command-config", config, "delegation-tokens"];
    all.extend_from_slice(args);
    cli(&all)
}

fn json_lines(o: &std::process::Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_ops_delegation_tokens_create_describe_renew_expire() {
    use common::example_bin::show;
    let config = admin_config_file("cli-tokens");
    let config = config.to_str().unwrap();
    let o = tokens(
        config,
        &[
            "create",
            "--max-life-time-period",
            "3600000",
            "--renewer-principal",
            "User:alice",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let created = json_lines(&o);
    assert_eq!(created.len(), 1, "{}", show(&o));
    let id = created[0]["tokenId"].as_str().unwrap().to_string();
    let hmac = created[0]["hmac"].as_str().unwrap().to_string();
    assert_eq!(created[0]["owner"], "User:admin");
    assert_eq!(created[0]["renewers"][0], "User:alice");

    // The token our CLI made: our client logs in with it, Kafka's tool lists it.
    wait_described(&sasl_admin(), &id).await;
    let client = token_client(&id, &hmac);
    client
        .metadata()
        .await
        .expect("logs in with the CLI's token");
    client.close();
    let java = tokio::task::spawn_blocking(|| {
        java_token_tool(&["--describe", "--owner-principal", "User:admin"])
    })
    .await
    .unwrap();
    assert_eq!(
        hmac_in_table(&java, &id).as_deref(),
        Some(hmac.as_str()),
        "{java}"
    );

    let o = tokens(config, &["describe", "--json"]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        json_lines(&o)
            .iter()
            .any(|t| t["tokenId"] == id.as_str() && t["hmac"] == hmac.as_str())
    );
    let o = tokens(config, &["describe"]);
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l.starts_with(&id)),
        "{}",
        show(&o)
    );

    let o = tokens(
        config,
        &[
            "renew",
            "--hmac",
            &hmac,
            "--renew-time-period",
            "600000",
            "--json",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        json_lines(&o)[0]["expiryTimestamp"].as_i64().unwrap()
            > created[0]["issueTimestamp"].as_i64().unwrap()
    );

    let o = tokens(config, &["expire", "--hmac", &hmac]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("expired"),
        "{}",
        show(&o)
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let o = tokens(config, &["describe", "--json"]);
        if json_lines(&o).iter().all(|t| t["tokenId"] != id.as_str()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "still listed: {}",
            show(&o)
        );
        std::thread::sleep(Duration::from_millis(300));
    }

    // Bad input: renewing the expired token (the cluster refuses: exit 1), an HMAC that
    // is not base64 and an unknown setting (usage: exit 2), and no SASL at all (tokens
    // need an authenticated connection: exit 1).
    let o = tokens(config, &["renew", "--hmac", &hmac]);
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    let o = tokens(config, &["renew", "--hmac", "not base64!"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    let bad = secure().certs().dir.join("cli-bad.properties");
    std::fs::write(&bad, "sasl.mechanismz=PLAIN\n").unwrap();
    let o = tokens(bad.to_str().unwrap(), &["describe"]);
    assert_eq!(o.status.code(), Some(2), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("sasl.mechanismz"),
        "{}",
        show(&o)
    );
    let plaintext = secure().bootstrap(Listener::Plaintext);
    let o = common::example_bin::run_example(
        "kafka-cli",
        &[
            "--bootstrap-server",
            &plaintext,
            "delegation-tokens",
            "create",
        ],
        "",
    );
    assert_eq!(o.status.code(), Some(1), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("DELEGATION_TOKEN_REQUEST_NOT_ALLOWED"),
        "{}",
        show(&o)
    );
}
