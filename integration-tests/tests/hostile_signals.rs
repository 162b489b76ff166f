//! Silence and lost causes against a hostile server (issue #16): a consumer whose
//! brokers never answer sensibly says so from `poll` with the real cause and goes on
//! trying; a producer's deadline error names the real cause, not "no answer".

mod common;

use std::sync::Arc;
use std::time::Duration;

use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Client, Error};
use kafka_protocol::messages::ApiKey;
use kafka_testkit::raw::{FakeBroker, Req, Script, TOPIC};

fn script(f: impl Fn(&Req) -> Option<Vec<u8>> + Send + Sync + 'static) -> Script {
    Arc::new(f)
}

/// Answers every Metadata request with a negative frame length.
fn garbage_metadata() -> Script {
    script(|r| (r.api == ApiKey::Metadata).then(|| (-5i32).to_be_bytes().to_vec()))
}

const CAUSE: &str = "below the 4-byte minimum";

fn consumer(bootstrap: &str) -> Consumer {
    let client = Client::builder()
        .bootstrap_servers([bootstrap])
        .request_timeout(Duration::from_secs(2))
        .api_timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    Consumer::builder()
        .client(client)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .unwrap()
}

#[tokio::test]
async fn hostile_consumer_poll_says_no_broker_is_reachable_with_the_cause() {
    let broker = FakeBroker::start(garbage_metadata())
        .await
        .expect("fake broker");
    let c = consumer(&broker.bootstrap);
    c.assign([TopicPartition::new(TOPIC, 0)]).unwrap();
    let started = tokio::time::Instant::now();
    let err = loop {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "poll stayed silent for 20 s"
        );
        match c.poll(Duration::from_millis(500)).await {
            Ok(r) => assert!(r.is_empty()),
            Err(e) => break e,
        }
    };
    let Error::BrokersUnreachable {
        unreachable_for,
        last_error,
    } = &err
    else {
        panic!("expected BrokersUnreachable, got {err:?}");
    };
    assert!(*unreachable_for >= Duration::from_secs(2), "{err}");
    assert!(last_error.to_string().contains(CAUSE), "{err}");
    assert!(err.is_retriable());
    // It goes on: the next poll is an ordinary (empty) one, not the same error again.
    let next = c.poll(Duration::from_millis(300)).await;
    assert!(matches!(&next, Ok(r) if r.is_empty()), "{next:?}");
    c.close().await.unwrap();
}

#[tokio::test]
async fn hostile_consumer_on_a_closed_port_names_the_refused_connection() {
    // A port nobody listens on: bind, take the port, close.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = consumer(&format!("127.0.0.1:{port}"));
    c.assign([TopicPartition::new(TOPIC, 0)]).unwrap();
    let started = tokio::time::Instant::now();
    let err = loop {
        assert!(started.elapsed() < Duration::from_secs(20), "silent");
        if let Err(e) = c.poll(Duration::from_millis(500)).await {
            break e;
        }
    };
    assert!(matches!(err, Error::BrokersUnreachable { .. }), "{err:?}");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    c.close().await.unwrap();
}

#[tokio::test]
async fn hostile_producer_deadline_error_carries_the_last_real_cause() {
    let broker = FakeBroker::start(garbage_metadata())
        .await
        .expect("fake broker");
    let p = Producer::builder()
        .bootstrap_servers([broker.bootstrap.as_str()])
        .request_timeout(Duration::from_secs(2))
        .max_block(Duration::from_secs(3))
        .enable_idempotence(false)
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    let err = match p
        .send(ProducerRecord::new(TOPIC).with_partition(0).with_value("v"))
        .await
    {
        Ok(d) => d.await.expect_err("delivered to a hostile broker"),
        Err(e) => e,
    };
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "ended by its deadline"
    );
    assert!(
        err.to_string().contains(CAUSE),
        "the real cause is named: {err}"
    );
    assert!(!err.to_string().contains("no answer"), "{err}");
}
