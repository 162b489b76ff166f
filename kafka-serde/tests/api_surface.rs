//! kafka-serde's builders and batches follow kafka-client's naming (issue 15, item 11):
//! `with_*` record builders, `records()`/`errors()` batches, a `close` on the typed
//! producer. Compile tests: each fails to build if the API regresses.

use std::time::Duration;

use kafka_client::Producer;
use kafka_serde::{StringSerde, TypedProducer, TypedRecord, TypedRecords};

#[test]
fn typed_records_are_built_like_producer_records() {
    let r = TypedRecord::<str, str>::new("orders", "tea")
        .with_key("order-7")
        .with_header("trace", "abc")
        .with_null_header("retry")
        .with_partition(0)
        .with_timestamp(1_700_000_000_000);
    assert_eq!(r.topic(), "orders");
    let r = TypedRecord::<str, str>::new("orders", "tea").with_optional_key(None);
    assert_eq!(r.topic(), "orders");
}

#[tokio::test]
async fn the_typed_producer_closes_itself() {
    let producer = Producer::builder()
        .bootstrap_servers(["127.0.0.1:1"])
        .build()
        .expect("valid settings");
    let typed: TypedProducer<String, String> =
        TypedProducer::new(producer, StringSerde, StringSerde);
    // Nothing queued: closing returns at once, and sending afterwards is refused.
    typed.close(Duration::from_secs(1)).await.expect("closed");
    let value = "v".to_string();
    let sent = typed.send(TypedRecord::new("t", &value)).await;
    assert!(sent.is_err(), "a closed producer refuses records");
}

#[test]
fn typed_batches_are_read_like_consumer_records() {
    fn read(batch: &TypedRecords<String, String>) -> (usize, usize) {
        (batch.records().len(), batch.errors().len())
    }
    let _ = read;
}
