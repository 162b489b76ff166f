//! AWS MSK IAM without MSK (which runs only inside AWS): kafka-client's `AWS_MSK_IAM`
//! payload and OAUTHBEARER token are compared byte for byte with what Amazon's own Java
//! library (`software.amazon.msk:aws-msk-iam-auth` 2.4.0, from Maven Central) produces
//! for the same credentials, time, host and user agent (`MskIamReference.java`), with
//! and without a session token, for AWS and non-AWS host names. The SigV4 part is also
//! checked against AWS's published examples in kafka-client's unit tests
//! (`aws::sigv4`).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use kafka_client::aws::{AwsCredentials, MskIamConfig, StaticCredentials};

const JAVA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/msk_iam_support/MskIamReference.java"
);

/// What the Java library printed: region, payload bytes, token.
struct Reference {
    region: String,
    payload: Vec<u8>,
    token: String,
}

fn java_reference(creds: &AwsCredentials, host: &str, at: u64, user_agent: &str) -> Reference {
    let cp = kafka_testbed::jars::msk_iam_classpath().expect("aws-msk-iam-auth classpath");
    let java = kafka_testbed::jars::java_binary().expect("java");
    let token = creds
        .session_token
        .as_ref()
        .map(|t| t.expose().to_owned())
        .unwrap_or_else(|| "-".to_owned());
    let out = Command::new(java)
        .args(["-cp", &cp, JAVA])
        .args([
            &creds.access_key_id,
            creds.secret_access_key.expose(),
            &token,
            host,
            &at.to_string(),
            user_agent,
        ])
        .output()
        .expect("running java");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "MskIamReference failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} line in {stdout}"))
            .to_owned()
    };
    Reference {
        region: field("region"),
        payload: base64::engine::general_purpose::STANDARD
            .decode(field("payload"))
            .expect("base64 payload"),
        token: field("token"),
    }
}

fn check(creds: AwsCredentials, host: &str, at: u64, user_agent: &str) {
    let reference = java_reference(&creds, host, at, user_agent);
    let time = UNIX_EPOCH + Duration::from_secs(at);
    let iam =
        MskIamConfig::new(Arc::new(StaticCredentials::new(creds.clone()))).user_agent(user_agent);
    let ours = iam.signed_payload(host, &creds, time).expect("payload");
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&reference.payload),
        "AWS_MSK_IAM payload for {host}"
    );
    assert_eq!(ours, reference.payload, "byte for byte");
    assert_eq!(
        kafka_client::aws::region_from_host(host).as_deref(),
        Some(reference.region.as_str()),
        "region read from {host}"
    );
    let token = iam
        .clone()
        .region(&reference.region)
        .signed_token(&creds, time)
        .expect("token");
    assert_eq!(token, reference.token, "OAUTHBEARER token for {host}");
}

#[test]
fn msk_iam_payload_matches_amazons_java_library() {
    let long_term = AwsCredentials::new(
        "AKIAIOSFODNN7EXAMPLE",
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
    );
    check(
        long_term.clone(),
        "b-1.demo.abc123.c2.kafka.us-west-2.amazonaws.com",
        1_700_000_000,
        "kafka-rs/0.1.0",
    );
    // Temporary credentials (the token is signed and sent), a serverless cluster, and a
    // user agent with characters JSON and URLs escape.
    let session = AwsCredentials::new("ASIAXAMPLEKEYID12345", "s3cr3t/with+plus=")
        .with_session_token("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH+/=");
    check(
        session,
        "boot-abc.c3.kafka-serverless.eu-central-1.amazonaws.com",
        1_767_225_599,
        "app \"x\"/1.0 (linux; é)",
    );
    // A private DNS name with the region in a label.
    check(
        long_term,
        "msk-broker-2.ap-southeast-2.corp.example",
        951_782_400,
        "kafka-rs/0.1.0",
    );
}

#[test]
fn msk_iam_signatures_change_with_time_and_credentials() {
    // Guards the comparison above against comparing constants.
    let creds = AwsCredentials::new("AKIDEXAMPLE", "secret");
    let iam = MskIamConfig::new(Arc::new(StaticCredentials::new(creds.clone())));
    let host = "b-1.x.kafka.us-east-1.amazonaws.com";
    let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let a = iam.signed_payload(host, &creds, t).unwrap();
    let b = iam
        .signed_payload(host, &creds, t + Duration::from_secs(1))
        .unwrap();
    let other = AwsCredentials::new("AKIDEXAMPLE", "secret2");
    let c = iam.signed_payload(host, &other, t).unwrap();
    assert!(a != b && a != c && b != c);
    // No region anywhere: a typed error naming the host.
    let e = iam
        .signed_payload("broker.internal:9098", &creds, t)
        .unwrap_err()
        .to_string();
    assert!(e.contains("broker.internal"), "{e}");
}
