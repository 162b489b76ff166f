//! SCRAM users managed through kafka-admin on the secured cluster: a user created with
//! `alter_user_scram_credentials` (salted password computed client-side) logs in with
//! our client (SCRAM-SHA-256 and -512), Kafka's Java client and librdkafka
//! (confluent-kafka); describe lists the
//! mechanisms and iterations; a deleted credential no longer logs in; bad input gets
//! typed errors. Delegation tokens: created over SASL (refused over PLAINTEXT),
//! described, renewed, used by Kafka's Java client (SCRAM with `tokenauth=true`) and
//! expired.

mod security_common;

use std::time::Duration;

use kafka_admin::{
    AclBinding, AclOperation, AclsOptions, Admin, CreateDelegationTokenOptions,
    DelegationTokenOptions, PatternType, ResourceType, ScramAlteration, ScramCredentialInfo,
    ScramMechanism, ScramOptions,
};
use kafka_client::Error;
use kafka_client::config::SaslConfig;
use kafka_testbed::secure::{ADMIN, Listener};
use security_common::*;

fn code(e: &Error) -> Option<i16> {
    e.code().map(|c| c.code())
}

/// Whether `user` can log in with `mechanism` and fetch metadata.
async fn logs_in(user: &str, password: &str, mechanism: ScramMechanism) -> Result<(), Error> {
    let sasl = match mechanism {
        ScramMechanism::Sha256 => SaslConfig::scram_sha256(user, password),
        ScramMechanism::Sha512 => SaslConfig::scram_sha512(user, password),
    };
    let client = builder(Listener::SaslPlaintext)
        .sasl(sasl)
        .api_timeout(Duration::from_secs(5))
        .build()
        .expect("SASL config");
    let r = client.metadata().await.map(|_| ());
    client.close();
    r
}

/// Retries the login for a few seconds: brokers learn credentials from the metadata log.
async fn eventually_logs_in(user: &str, password: &str, mechanism: ScramMechanism) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match logs_in(user, password, mechanism).await {
            Ok(()) => return,
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("{mechanism} login not yet: {e}");
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Err(e) => panic!("{user} cannot log in with {mechanism}: {e}"),
        }
    }
}

#[tokio::test]
async fn admin_ops_scram_user_created_by_admin_logs_in() {
    let admin = Admin::new(plaintext());
    let user = format!("ops-user-{}", std::process::id());
    let password = "ops-secret-pw";
    let opts = ScramOptions::default;

    let before = admin
        .describe_user_scram_credentials(Some(vec![user.clone()]), opts())
        .await
        .unwrap();
    assert_eq!(
        code(before[&user].as_ref().unwrap_err()),
        Some(91),
        "RESOURCE_NOT_FOUND"
    );

    let upsert = |mechanism, iterations| {
        (
            user.clone(),
            ScramAlteration::Upsert {
                mechanism,
                iterations,
                password: password.to_string(),
            },
        )
    };
    let created = admin
        .alter_user_scram_credentials(
            [
                upsert(ScramMechanism::Sha256, 4096),
                upsert(ScramMechanism::Sha512, 8192),
            ],
            opts(),
        )
        .await
        .unwrap();
    created[&user].as_ref().expect("credentials created");
    // Brokers apply the change from the metadata log a moment after the controller.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let described = loop {
        let d = admin
            .describe_user_scram_credentials(Some(vec![user.clone()]), opts())
            .await
            .unwrap();
        if d[&user].as_ref().is_ok_and(|i| i.len() == 2) || tokio::time::Instant::now() > deadline {
            break d;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let mut infos = described[&user].as_ref().expect("described").clone();
    infos.sort_by_key(|i| i.mechanism);
    let pairs: Vec<(ScramMechanism, i32)> = infos
        .iter()
        .map(|i: &ScramCredentialInfo| (i.mechanism, i.iterations))
        .collect();
    assert_eq!(
        pairs,
        vec![
            (ScramMechanism::Sha256, 4096),
            (ScramMechanism::Sha512, 8192)
        ]
    );
    let everyone = admin
        .describe_user_scram_credentials(None, opts())
        .await
        .unwrap();
    assert!(everyone.contains_key(&user) && everyone.contains_key("admin"));

    eventually_logs_in(&user, password, ScramMechanism::Sha256).await;
    eventually_logs_in(&user, password, ScramMechanism::Sha512).await;
    let wrong = logs_in(&user, "not-the-password", ScramMechanism::Sha256)
        .await
        .expect_err("a wrong password is refused");
    assert!(matches!(wrong, Error::Authentication { .. }), "{wrong:?}");

    // Kafka's Java client logs in as the new user too (with ACLs for its topic).
    let principal = format!("User:{user}");
    let acl = AclBinding::allow(ResourceType::Topic, "java", &principal, AclOperation::All)
        .pattern_type(PatternType::Prefixed);
    let granted = admin
        .create_acls([acl.clone()], AclsOptions::default())
        .await
        .unwrap();
    granted[&acl].as_ref().expect("ACL created");
    let jaas = format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{user}\" password=\"{password}\";"
    );
    java_round_trip(
        Listener::SaslPlaintext,
        &[
            ("security.protocol", "SASL_PLAINTEXT".into()),
            ("sasl.mechanism", "SCRAM-SHA-512".into()),
            ("sasl.jaas.config", jaas),
        ],
    )
    .await;
    // And librdkafka (confluent-kafka) with SCRAM-SHA-256.
    let acl_rd = AclBinding::allow(
        ResourceType::Topic,
        "rdkafka",
        &principal,
        AclOperation::All,
    )
    .pattern_type(PatternType::Prefixed);
    let group_acl = AclBinding::allow(
        ResourceType::Group,
        "rdkafka",
        &principal,
        AclOperation::All,
    )
    .pattern_type(PatternType::Prefixed);
    let granted = admin
        .create_acls([acl_rd.clone(), group_acl.clone()], AclsOptions::default())
        .await
        .unwrap();
    assert!(granted.values().all(Result::is_ok), "{granted:?}");
    librdkafka_round_trip(
        Listener::SaslPlaintext,
        &[
            ("security.protocol", "SASL_PLAINTEXT".into()),
            ("sasl.mechanism", "SCRAM-SHA-256".into()),
            ("sasl.username", user.clone()),
            ("sasl.password", password.into()),
        ],
    )
    .await;
    let _ = admin
        .delete_acls(
            [acl.to_filter(), acl_rd.to_filter(), group_acl.to_filter()],
            AclsOptions::default(),
        )
        .await;

    // Deleting one mechanism: it no longer logs in, the other still does.
    let deleted = admin
        .alter_user_scram_credentials(
            [(
                user.clone(),
                ScramAlteration::Delete {
                    mechanism: ScramMechanism::Sha256,
                },
            )],
            opts(),
        )
        .await
        .unwrap();
    deleted[&user].as_ref().expect("deleted");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while logs_in(&user, password, ScramMechanism::Sha256)
        .await
        .is_ok()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "deleted credential still logs in"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    logs_in(&user, password, ScramMechanism::Sha512)
        .await
        .expect("SHA-512 credential kept");

    // Bad input: too few iterations (refused before sending), deleting what is not there.
    let bad = admin
        .alter_user_scram_credentials([upsert(ScramMechanism::Sha256, 100)], opts())
        .await
        .unwrap();
    assert_eq!(
        code(bad[&user].as_ref().unwrap_err()),
        Some(93),
        "UNACCEPTABLE_CREDENTIAL"
    );
    let ghost = format!("ops-ghost-{}", std::process::id());
    let missing = admin
        .alter_user_scram_credentials(
            [(
                ghost.clone(),
                ScramAlteration::Delete {
                    mechanism: ScramMechanism::Sha512,
                },
            )],
            opts(),
        )
        .await
        .unwrap();
    assert_eq!(
        code(missing[&ghost].as_ref().unwrap_err()),
        Some(91),
        "{missing:?}"
    );
}

#[tokio::test]
async fn admin_ops_delegation_token_created_renewed_used_and_expired() {
    // Tokens are granted only over authenticated connections: the super user over SASL.
    let admin = Admin::new(
        builder(Listener::SaslPlaintext)
            .sasl(SaslConfig::scram_sha512(ADMIN.0, ADMIN.1))
            .build()
            .unwrap(),
    );
    let refused = Admin::new(plaintext())
        .create_delegation_token(CreateDelegationTokenOptions::default())
        .await
        .expect_err("not over PLAINTEXT");
    assert_eq!(
        code(&refused),
        Some(64),
        "DELEGATION_TOKEN_REQUEST_NOT_ALLOWED: {refused}"
    );
    let bad = admin
        .create_delegation_token(CreateDelegationTokenOptions::default().renewer("alice"))
        .await
        .expect_err("a renewer must be TYPE:NAME");
    assert_eq!(code(&bad), Some(67), "INVALID_PRINCIPAL_TYPE: {bad}");

    let token = admin
        .create_delegation_token(
            CreateDelegationTokenOptions::default()
                .renewer("User:alice")
                .max_lifetime(Duration::from_secs(3600)),
        )
        .await
        .expect("token created");
    assert_eq!(token.owner, "User:admin");
    assert_eq!(token.requester, "User:admin");
    assert!(token.expiry_timestamp_ms > token.issue_timestamp_ms);
    assert!(token.max_timestamp_ms <= token.issue_timestamp_ms + 3_600_000);
    assert!(!format!("{token:?}").contains(&token.hmac_base64()));

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let listed = admin
            .describe_delegation_tokens(None, DelegationTokenOptions::default())
            .await
            .unwrap();
        if listed.iter().any(|t| t.token_id == token.token_id)
            || tokio::time::Instant::now() > deadline
        {
            break listed;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let found = listed
        .iter()
        .find(|t| t.token_id == token.token_id)
        .expect("the token is described");
    assert_eq!(found.renewers, vec!["User:alice".to_string()]);
    assert_eq!(found.hmac, token.hmac);
    let by_owner = admin
        .describe_delegation_tokens(
            Some(vec!["User:nobody".into()]),
            DelegationTokenOptions::default(),
        )
        .await
        .unwrap();
    assert!(by_owner.iter().all(|t| t.token_id != token.token_id));

    let renewed = admin
        .renew_delegation_token(
            &token.hmac,
            Some(Duration::from_secs(600)),
            DelegationTokenOptions::default(),
        )
        .await
        .expect("renewed by its owner");
    assert!(renewed > token.issue_timestamp_ms && renewed <= token.max_timestamp_ms);

    // Kafka's Java client authenticates with the token (SCRAM, tokenauth=true).
    let jaas = format!(
        "org.apache.kafka.common.security.scram.ScramLoginModule required username=\"{}\" password=\"{}\" tokenauth=true;",
        token.token_id,
        token.hmac_base64()
    );
    java_round_trip(
        Listener::SaslPlaintext,
        &[
            ("security.protocol", "SASL_PLAINTEXT".into()),
            ("sasl.mechanism", "SCRAM-SHA-256".into()),
            ("sasl.jaas.config", jaas),
        ],
    )
    .await;

    let expired = admin
        .expire_delegation_token(&token.hmac, None, DelegationTokenOptions::default())
        .await
        .expect("expired");
    assert!(expired <= renewed);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let listed = admin
            .describe_delegation_tokens(None, DelegationTokenOptions::default())
            .await
            .unwrap();
        if listed.iter().all(|t| t.token_id != token.token_id) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expired token still described"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let gone = admin
        .renew_delegation_token(&token.hmac, None, DelegationTokenOptions::default())
        .await
        .expect_err("an expired token cannot be renewed");
    assert!(
        matches!(code(&gone), Some(62) | Some(63)),
        "DELEGATION_TOKEN_NOT_FOUND/EXPIRED: {gone}"
    );
}
