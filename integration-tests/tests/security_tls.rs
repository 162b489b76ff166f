//! TLS against the secured broker: server verification (CA from a file or memory, SAN
//! as IP or DNS name), mutual TLS with PKCS#8, PKCS#1 and SEC1 keys, and the failures
//! (wrong SAN, untrusted CA, expired certificate, missing client certificate) as typed,
//! non-retriable errors with no record reaching the broker. kcat checks the listeners.

mod security_common;

use kafka_client::config::{Properties, SecurityProtocol, TlsConfig};
use kafka_client::error::TlsErrorKind;
use kafka_client::{ClientBuilder, Error, ErrorCode};
use kafka_testbed::secure::Listener;
use security_common::*;

fn tls_kind(err: &Error) -> TlsErrorKind {
    match err {
        Error::Tls { kind, .. } => *kind,
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[tokio::test]
async fn ssl_round_trip() {
    let client = builder(Listener::Ssl).tls(ca_tls()).build().unwrap();
    assert_eq!(client.config().security_protocol(), SecurityProtocol::Ssl);
    round_trip(&client, "ssl").await;
}

#[tokio::test]
async fn ssl_from_properties_via_dns_name_and_in_memory_ca() {
    // `localhost` is checked against the DNS SAN, the advertised 127.0.0.1 against the IP SAN.
    let port = secure()
        .address(Listener::Ssl, 1)
        .rsplit(':')
        .next()
        .unwrap()
        .to_owned();
    let mut props: Properties = [
        ("bootstrap.servers", format!("localhost:{port}")),
        ("security.protocol", "SSL".to_owned()),
        ("ssl.ca.location", secure().certs().ca.display().to_string()),
        ("ssl.endpoint.identification.algorithm", "https".to_owned()),
    ]
    .into_iter()
    .collect();
    let client = ClientBuilder::new()
        .apply_properties(&mut props)
        .unwrap()
        .build()
        .unwrap();
    props.reject_unknown().unwrap();
    round_trip(&client, "ssl-props").await;

    let ca = std::fs::read_to_string(&secure().certs().ca).unwrap();
    let client = builder(Listener::Ssl)
        .tls(TlsConfig::new().ca_pem(ca))
        .build()
        .unwrap();
    client.metadata().await.expect("in-memory CA");
}

#[tokio::test]
async fn mtls_round_trip_with_pkcs8_key() {
    let certs = secure().certs();
    let client = builder(Listener::Mtls)
        .tls(ca_tls().client_cert_files(&certs.client_cert, &certs.client_key_pkcs8))
        .build()
        .unwrap();
    round_trip(&client, "mtls").await;
}

#[tokio::test]
async fn mtls_with_pkcs1_and_sec1_keys() {
    let certs = secure().certs();
    for (cert, key) in [
        (&certs.client_rsa_cert, &certs.client_rsa_key_pkcs1),
        (&certs.client_cert, &certs.client_key_sec1),
    ] {
        let client = builder(Listener::Mtls)
            .tls(ca_tls().client_cert_files(cert, key))
            .build()
            .unwrap_or_else(|e| panic!("{}: {e}", key.display()));
        let topic = victim_topic("mtls-keys").await;
        produce(&client, &topic, &["a"])
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", key.display()));
        let (hw, _) = fetch(&client, &topic).await.unwrap();
        assert_eq!(hw, 1);
    }
}

#[tokio::test]
async fn mtls_principal_is_the_certificate_cn() {
    // CN=alice has no ACLs: the broker knows who we are, and says no, naming the topic.
    let certs = secure().certs();
    let client = builder(Listener::Mtls)
        .tls(ca_tls().client_cert_files(&certs.alice_cert, &certs.alice_key))
        .build()
        .unwrap();
    let topic = victim_topic("mtls-alice").await;
    let err = client.topic(&topic).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(ErrorCode::TOPIC_AUTHORIZATION_FAILED),
        "{err}"
    );
    assert!(err.to_string().contains(&topic), "{err}");
    assert!(err.is_authorization_failure() && !err.is_retriable());
}

#[tokio::test]
async fn wrong_san_fails_typed() {
    let client = builder(Listener::WrongSan).tls(ca_tls()).build().unwrap();
    let err = expect_failure(&client, "wrong-san").await;
    assert_eq!(tls_kind(&err), TlsErrorKind::HostnameMismatch, "{err}");
    assert!(
        err.to_string()
            .contains(&secure().address(Listener::WrongSan, 1)),
        "{err}"
    );
    assert!(err.is_authentication_failure());

    // With host name checking off, the same certificate (valid chain) is accepted.
    let client = builder(Listener::WrongSan)
        .tls(ca_tls().verify_hostname(false))
        .build()
        .unwrap();
    client.metadata().await.expect("hostname check disabled");
}

#[tokio::test]
async fn untrusted_ca_fails_typed() {
    for tls in [
        TlsConfig::new().ca_file(&secure().certs().other_ca),
        TlsConfig::new(), // the built-in Mozilla roots do not include the test CA
    ] {
        let client = builder(Listener::Ssl).tls(tls).build().unwrap();
        let err = expect_failure(&client, "untrusted").await;
        assert_eq!(tls_kind(&err), TlsErrorKind::UntrustedCertificate, "{err}");
    }
}

#[tokio::test]
async fn expired_certificate_fails_typed() {
    let client = builder(Listener::Expired).tls(ca_tls()).build().unwrap();
    let err = expect_failure(&client, "expired").await;
    assert_eq!(tls_kind(&err), TlsErrorKind::CertificateExpired, "{err}");
}

#[tokio::test]
async fn mtls_without_client_certificate_fails_typed() {
    let client = builder(Listener::Mtls).tls(ca_tls()).build().unwrap();
    let err = expect_failure(&client, "mtls-nocert").await;
    assert_eq!(tls_kind(&err), TlsErrorKind::RejectedByPeer, "{err}");

    // An expired client certificate is rejected by the broker too.
    let expired = &secure().certs().expired_client;
    let client = builder(Listener::Mtls)
        .tls(ca_tls().client_cert_files(expired, expired))
        .build()
        .unwrap();
    let err = expect_failure(&client, "mtls-expired").await;
    assert_eq!(tls_kind(&err), TlsErrorKind::RejectedByPeer, "{err}");
}

#[tokio::test]
async fn plaintext_client_on_tls_listener_fails_within_api_timeout() {
    let client = builder(Listener::Ssl)
        .api_timeout(std::time::Duration::from_secs(3))
        .build()
        .unwrap();
    let err = client.metadata().await.unwrap_err();
    assert!(!err.to_string().is_empty());
}

#[tokio::test]
async fn private_keys_never_in_debug() {
    let key = std::fs::read_to_string(&secure().certs().client_key_pkcs8).unwrap();
    let cert = std::fs::read_to_string(&secure().certs().client_cert).unwrap();
    let body = key.lines().nth(1).unwrap().to_owned();
    let b = builder(Listener::Mtls).tls(ca_tls().client_cert_pem(cert, key));
    assert!(!format!("{b:?}").contains(&body));
    let client = b.build().unwrap();
    assert!(!format!("{:?}", client.config()).contains(&body));
    assert!(!format!("{client:?}").contains(&body));
}

#[tokio::test]
async fn kcat_over_ssl_and_mtls() {
    let certs = secure().certs();
    let ca = certs.ca.display().to_string();
    kcat_round_trip(
        Listener::Ssl,
        &[
            ("security.protocol", "SSL".into()),
            ("ssl.ca.location", ca.clone()),
        ],
    )
    .await;
    kcat_round_trip(
        Listener::Mtls,
        &[
            ("security.protocol", "SSL".into()),
            ("ssl.ca.location", ca),
            (
                "ssl.certificate.location",
                certs.client_cert.display().to_string(),
            ),
            (
                "ssl.key.location",
                certs.client_key_pkcs8.display().to_string(),
            ),
        ],
    )
    .await;
}
