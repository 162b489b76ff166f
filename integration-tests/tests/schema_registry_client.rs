//! `kafka-schema-registry` against a real, independently written registry (franz-go's
//! srfake, started by the test bed): register and look up, versions and latest,
//! references, config and modes, soft and hard deletes, the registry's error codes,
//! basic and bearer auth, and retries on 5xx answers (against a local stub).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kafka_schema_registry::{
    CompatibilityLevel, Error, Mode, RegistryConfig, Schema, SchemaReference, SchemaRegistryClient,
    SchemaType, error,
};
use kafka_testbed::SchemaRegistry;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const V1: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"}]}"#;
const V2: &str = r#"{"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"name","type":"string","default":""}]}"#;

fn client(registry: &SchemaRegistry) -> SchemaRegistryClient {
    RegistryConfig::new(registry.url())
        .request_timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

#[tokio::test]
async fn schema_registry_client_registers_looks_up_and_deletes() {
    let registry = SchemaRegistry::start().expect("registry");
    let sr = client(&registry);

    let id1 = sr.register("users-value", &Schema::avro(V1)).await.unwrap();
    assert_eq!(
        sr.register("users-value", &Schema::avro(V1)).await.unwrap(),
        id1
    );
    let id2 = sr.register("users-value", &Schema::avro(V2)).await.unwrap();
    assert_ne!(id1, id2);

    // By id: a fresh client (no cache) sees the same schema.
    let fresh = client(&registry);
    assert_eq!(*fresh.schema_by_id(id2).await.unwrap(), Schema::avro(V2));
    assert_eq!(fresh.versions("users-value").await.unwrap(), vec![1, 2]);
    let latest = fresh.latest("users-value").await.unwrap();
    assert_eq!((latest.id, latest.version), (id2, 2));
    assert_eq!(latest.subject, "users-value");
    let v1 = fresh.schema_by_version("users-value", 1).await.unwrap();
    assert_eq!((v1.id, v1.schema.schema.as_str()), (id1, V1));
    let found = fresh
        .lookup("users-value", &Schema::avro(V1))
        .await
        .unwrap();
    assert_eq!((found.id, found.version), (id1, 1));
    assert!(
        fresh
            .subjects()
            .await
            .unwrap()
            .contains(&"users-value".to_owned())
    );
    assert!(
        fresh
            .is_compatible("users-value", 2, &Schema::avro(V2))
            .await
            .unwrap()
    );

    // The registry's error codes come through.
    let e = fresh.latest("no-such-subject").await.unwrap_err();
    assert_eq!(e.error_code(), Some(error::SUBJECT_NOT_FOUND), "{e}");
    assert!(e.is_not_found());
    let e = fresh.schema_by_id(99_999).await.unwrap_err();
    assert_eq!(e.error_code(), Some(error::SCHEMA_NOT_FOUND), "{e}");
    let e = fresh.schema_by_version("users-value", 7).await.unwrap_err();
    assert_eq!(e.error_code(), Some(error::VERSION_NOT_FOUND), "{e}");
    let e = fresh
        .lookup("users-value", &Schema::avro(r#""string""#))
        .await
        .unwrap_err();
    assert_eq!(e.error_code(), Some(error::SCHEMA_NOT_FOUND), "{e}");
    let e = fresh
        .register("bad-value", &Schema::avro("{not json"))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Registry { status: 422, .. }), "{e}");

    // Soft delete of a version, then of the subject, then the hard delete.
    assert_eq!(sr.delete_version("users-value", 1, false).await.unwrap(), 1);
    assert_eq!(sr.versions("users-value").await.unwrap(), vec![2]);
    // (srfake lists the soft-deleted version 1 too.)
    assert!(
        sr.delete_subject("users-value", false)
            .await
            .unwrap()
            .contains(&2)
    );
    let e = sr.latest("users-value").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    sr.delete_subject("users-value", true).await.unwrap();
    assert!(
        !sr.subjects()
            .await
            .unwrap()
            .contains(&"users-value".to_owned())
    );
    // Ids stay readable by id (as in Confluent's registry, a cached one certainly).
    assert_eq!(*sr.schema_by_id(id1).await.unwrap(), Schema::avro(V1));
}

#[tokio::test]
async fn schema_registry_client_references_config_and_modes() {
    let registry = SchemaRegistry::start().expect("registry");
    let sr = client(&registry);

    let address = r#"{"type":"record","name":"Address","namespace":"shop","fields":[{"name":"city","type":"string"}]}"#;
    sr.register("shop.Address", &Schema::avro(address))
        .await
        .unwrap();
    let customer = Schema::avro(
        r#"{"type":"record","name":"Customer","namespace":"shop","fields":[{"name":"home","type":"shop.Address"}]}"#,
    )
    .reference(SchemaReference::new("shop.Address", "shop.Address", 1));
    let id = sr.register("customers-value", &customer).await.unwrap();
    let fresh = client(&registry);
    let got = fresh.schema_by_id(id).await.unwrap();
    assert_eq!(got.references, customer.references);
    assert_eq!(got.schema_type, SchemaType::Avro);
    assert_eq!(
        fresh.referenced_by("shop.Address", 1).await.unwrap(),
        vec![id]
    );
    // A referenced version cannot be deleted.
    let e = fresh
        .delete_version("shop.Address", 1, false)
        .await
        .unwrap_err();
    assert!(e.error_code().is_some(), "{e}");

    // A reference to nothing is refused.
    let dangling = Schema::avro(V1).reference(SchemaReference::new("x", "nothing", 1));
    assert!(fresh.register("dangling-value", &dangling).await.is_err());

    // Protobuf and JSON schemas keep their type.
    let proto = Schema::protobuf("syntax = \"proto3\";\nmessage Ping { int32 n = 1; }\n");
    let pid = sr.register("ping-value", &proto).await.unwrap();
    assert_eq!(
        fresh.schema_by_id(pid).await.unwrap().schema_type,
        SchemaType::Protobuf
    );
    let json = Schema::json(r#"{"type":"object"}"#);
    let jid = sr.register("doc-value", &json).await.unwrap();
    assert_eq!(
        fresh.schema_by_id(jid).await.unwrap().schema_type,
        SchemaType::Json
    );

    assert_eq!(
        sr.compatibility(None).await.unwrap(),
        CompatibilityLevel::Backward
    );
    assert_eq!(
        sr.set_compatibility(Some("customers-value"), CompatibilityLevel::FullTransitive)
            .await
            .unwrap(),
        CompatibilityLevel::FullTransitive
    );
    assert_eq!(
        sr.compatibility(Some("customers-value")).await.unwrap(),
        CompatibilityLevel::FullTransitive
    );
    assert_eq!(
        sr.compatibility(Some("ping-value")).await.unwrap(),
        CompatibilityLevel::Backward,
        "a subject without its own level falls back to the global one"
    );
    sr.set_compatibility(None, CompatibilityLevel::None)
        .await
        .unwrap();
    assert_eq!(
        sr.compatibility(None).await.unwrap(),
        CompatibilityLevel::None
    );

    assert_eq!(sr.mode(None).await.unwrap(), Mode::Readwrite);
    assert_eq!(
        sr.set_mode(None, Mode::Readonly).await.unwrap(),
        Mode::Readonly
    );
    // (srfake records modes but does not enforce them.)
    assert_eq!(sr.mode(None).await.unwrap(), Mode::Readonly);
    assert_eq!(
        sr.set_mode(None, Mode::Readwrite).await.unwrap(),
        Mode::Readwrite
    );
    sr.register("late-value", &Schema::avro(V1)).await.unwrap();
}

#[tokio::test]
async fn schema_registry_client_basic_and_bearer_auth() {
    // "user:secret" in base64.
    let registry = SchemaRegistry::start_with_auth("Basic dXNlcjpzZWNyZXQ=").expect("registry");
    let ok = RegistryConfig::new(registry.url())
        .basic_auth("user", "secret")
        .build()
        .unwrap();
    ok.register("a-value", &Schema::avro(V1)).await.unwrap();
    let none = RegistryConfig::new(registry.url()).build().unwrap();
    let e = none.subjects().await.unwrap_err();
    assert!(matches!(e, Error::Registry { status: 401, .. }), "{e}");
    let wrong = RegistryConfig::new(registry.url())
        .basic_auth("user", "guess")
        .build()
        .unwrap();
    let e = wrong.subjects().await.unwrap_err();
    assert!(matches!(e, Error::Registry { status: 403, .. }), "{e}");

    let registry = SchemaRegistry::start_with_auth("Bearer tok-123").expect("registry");
    let ok = RegistryConfig::new(registry.url())
        .bearer_token("tok-123")
        .build()
        .unwrap();
    assert!(ok.subjects().await.unwrap().is_empty());
}

/// A stub that answers 503 `failures` times, then `{"id": 7}`; counts requests.
async fn flaky_registry(failures: u32) -> (String, Arc<AtomicU32>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&count);
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let (status, body) = if n < failures {
                    (
                        "503 Service Unavailable",
                        r#"{"error_code":50003,"message":"busy"}"#,
                    )
                } else {
                    ("200 OK", r#"{"id":7}"#)
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    (url, count)
}

#[tokio::test]
async fn schema_registry_client_retries_5xx_with_backoff() {
    let (url, count) = flaky_registry(2).await;
    let sr = RegistryConfig::new(&url)
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .max_retries(3)
        .build()
        .unwrap();
    assert_eq!(sr.register("s", &Schema::avro(V1)).await.unwrap(), 7);
    assert_eq!(count.load(Ordering::SeqCst), 3);

    let (url, count) = flaky_registry(10).await;
    let sr = RegistryConfig::new(&url)
        .retry_backoff(Duration::from_millis(10), Duration::from_millis(50))
        .max_retries(2)
        .build()
        .unwrap();
    let e = sr.register("s", &Schema::avro(V1)).await.unwrap_err();
    assert_eq!(e.error_code(), Some(50003), "{e}");
    assert_eq!(count.load(Ordering::SeqCst), 3, "1 attempt + 2 retries");
}

#[tokio::test]
async fn schema_registry_client_unreachable_registry_is_an_http_error() {
    // A port nothing listens on (bound, then closed).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sr = RegistryConfig::new(format!("http://127.0.0.1:{port}"))
        .retry_backoff(Duration::from_millis(5), Duration::from_millis(10))
        .max_retries(1)
        .build()
        .unwrap();
    match sr.subjects().await {
        Err(Error::Http { attempts: 2, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        RegistryConfig::new("ftp://x").build(),
        Err(Error::Config(_))
    ));
}
