//! The high-level clients over every secured listener: our `Producer` sends, our
//! `Consumer` reads back, and `kafka_admin` creates the topic, each over SSL, mTLS,
//! SASL_PLAINTEXT (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512) and SASL_SSL (SCRAM-SHA-512).

mod security_common;

use std::time::Duration;

use kafka_client::config::SaslConfig;
use kafka_client::consumer::TopicPartition;
use kafka_client::{Client, Consumer, Producer, ProducerRecord};
use kafka_testbed::secure::{ADMIN, Listener};
use security_common::{builder, ca_tls, create_topic, secure, unique_topic};

const RECORDS: usize = 200;

/// Produces `RECORDS` keyed records with our producer, reads them back with our
/// consumer, both over `client`'s secured connection, and checks every one.
async fn produce_and_consume(client: Client, label: &str) {
    let topic = unique_topic(label);
    create_topic(&client, &topic).await;

    let producer = Producer::builder()
        .client(client.clone())
        .build()
        .expect("producer");
    let mut deliveries = Vec::with_capacity(RECORDS);
    for i in 0..RECORDS {
        let record = ProducerRecord::new(topic.as_str())
            .with_partition(0)
            .with_key(format!("k{i}"))
            .with_value(format!("{label}-{i}"));
        deliveries.push(producer.send(record).await.expect("buffer space"));
    }
    let mut offsets = Vec::with_capacity(RECORDS);
    for d in deliveries {
        offsets.push(d.await.expect("acknowledged").offset);
    }
    assert_eq!(
        offsets,
        (0..RECORDS as i64).collect::<Vec<_>>(),
        "{label}: offsets"
    );
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");

    let consumer = Consumer::builder()
        .client(client)
        .build()
        .expect("consumer");
    let tp = TopicPartition::new(&topic, 0);
    consumer.assign([tp.clone()]).expect("assign");
    consumer.seek_to_beginning([tp]).expect("seek");
    let mut values = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while values.len() < RECORDS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{label}: read {} of {RECORDS}",
            values.len()
        );
        let batch = consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll");
        assert!(batch.errors().is_empty(), "{label}: {:?}", batch.errors());
        for r in &batch {
            values.push(String::from_utf8(r.value.clone().expect("value").to_vec()).unwrap());
        }
    }
    let expected: Vec<String> = (0..RECORDS).map(|i| format!("{label}-{i}")).collect();
    assert_eq!(values, expected, "{label}: values read back");
    consumer.close().await.expect("consumer close");
}

fn sasl(listener: Listener, sasl: SaslConfig) -> Client {
    let b = builder(listener).sasl(sasl);
    let b = if listener == Listener::SaslSsl {
        b.tls(ca_tls())
    } else {
        b
    };
    b.build().expect("config")
}

#[tokio::test]
async fn producer_and_consumer_over_ssl_and_mtls() {
    produce_and_consume(
        builder(Listener::Ssl).tls(ca_tls()).build().unwrap(),
        "cl-ssl",
    )
    .await;
    let certs = secure().certs();
    let mtls = builder(Listener::Mtls)
        .tls(ca_tls().client_cert_files(&certs.client_cert, &certs.client_key_pkcs8))
        .build()
        .unwrap();
    produce_and_consume(mtls, "cl-mtls").await;
}

#[tokio::test]
async fn producer_and_consumer_over_sasl() {
    produce_and_consume(
        sasl(Listener::SaslPlaintext, SaslConfig::plain(ADMIN.0, ADMIN.1)),
        "cl-plain",
    )
    .await;
    produce_and_consume(
        sasl(
            Listener::SaslPlaintext,
            SaslConfig::scram_sha256(ADMIN.0, ADMIN.1),
        ),
        "cl-s256",
    )
    .await;
    produce_and_consume(
        sasl(
            Listener::SaslPlaintext,
            SaslConfig::scram_sha512(ADMIN.0, ADMIN.1),
        ),
        "cl-s512",
    )
    .await;
    produce_and_consume(
        sasl(
            Listener::SaslSsl,
            SaslConfig::scram_sha512(ADMIN.0, ADMIN.1),
        ),
        "cl-sasl-ssl",
    )
    .await;
}
