//! `kafka-serde`'s typed wrappers against the real broker: string and JSON round trips
//! (a struct, and a `serde_json::Value` dict as in the seeds' Python `json.dumps` /
//! `json.loads` example), and a poison record (invalid JSON) in the middle of a stream:
//! reported with its offset and raw bytes while the records after it still arrive.

mod common;

use std::time::Duration;

use futures::StreamExt;
use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_serde::{
    ConsumeError, Field, JsonSerde, Nullable, StringSerde, TypedConsumer, TypedConsumerRecord,
    TypedProducer, TypedRecord,
};
use serde::{Deserialize, Serialize};

fn producer(bootstrap: &str) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .linger(Duration::from_millis(5))
        .build()
        .expect("producer config")
}

fn consumer(bootstrap: &str, topic: &str) -> Consumer {
    let c = common::consumer_util::consumer(bootstrap)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .expect("consumer config");
    c.assign([TopicPartition::new(topic, 0)]).expect("assign");
    c
}

/// Polls a typed consumer until `count` results (records or per-record errors) came.
async fn drain_typed<K: 'static, V: 'static>(
    c: &TypedConsumer<K, V>,
    count: usize,
) -> Vec<Result<TypedConsumerRecord<K, V>, kafka_serde::DeserializeError>> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut out = Vec::new();
    while out.len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} records",
            out.len()
        );
        let batch = c.poll(Duration::from_millis(500)).await.expect("poll");
        assert!(batch.errors().is_empty(), "{:?}", batch.errors());
        out.extend(batch);
    }
    out
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Order {
    id: u32,
    item: String,
    qty: Option<u16>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strings_round_trip_with_keys_headers_and_null_keys() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("serde-str");
    common::create_topic(&client, &topic, 1, 1).await;

    let p: TypedProducer<str, str> =
        TypedProducer::new(producer(bootstrap), StringSerde, StringSerde);
    let mut acks = Vec::new();
    for i in 0..20 {
        let key = format!("k-{i}");
        let value = format!("héllo wörld {i}");
        let mut rec =
            TypedRecord::new(topic.as_str(), value.as_str()).with_header("n", i.to_string());
        if i % 5 != 0 {
            rec = rec.with_key(key.as_str());
        }
        acks.push(p.send(rec).await.expect("queued"));
    }
    for (i, a) in acks.into_iter().enumerate() {
        assert_eq!(a.await.expect("delivered").offset, i as i64);
    }

    let c: TypedConsumer<Option<String>, String> = TypedConsumer::new(
        consumer(bootstrap, &topic),
        Nullable(StringSerde),
        StringSerde,
    );
    let got = drain_typed(&c, 20).await;
    assert_eq!(got.len(), 20);
    for (i, r) in got.into_iter().enumerate() {
        let r = r.expect("deserialized");
        assert_eq!(r.offset, i as i64);
        assert_eq!(r.value, format!("héllo wörld {i}"));
        let want_key = (i % 5 != 0).then(|| format!("k-{i}"));
        assert_eq!(r.key, want_key);
        assert_eq!(r.headers.len(), 1);
        assert_eq!(
            r.headers[0].value.as_deref(),
            Some(i.to_string().as_bytes())
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_struct_and_dict_round_trip() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("serde-json");
    common::create_topic(&client, &topic, 1, 1).await;

    // A struct.
    let orders: Vec<Order> = (0..10)
        .map(|i| Order {
            id: i,
            item: format!("item-{i}"),
            qty: (i % 2 == 0).then_some(i as u16 * 3),
        })
        .collect();
    let p: TypedProducer<str, Order> =
        TypedProducer::new(producer(bootstrap), StringSerde, JsonSerde::<Order>::new());
    for o in &orders {
        let key = o.id.to_string();
        p.send_value(&topic, Some(&key), o)
            .await
            .expect("queued")
            .await
            .expect("delivered");
    }
    let c: TypedConsumer<String, Order> =
        TypedConsumer::new(consumer(bootstrap, &topic), StringSerde, JsonSerde::new());
    let got: Vec<_> = drain_typed(&c, 10)
        .await
        .into_iter()
        .map(|r| r.expect("deserialized"))
        .collect();
    assert_eq!(
        got.iter().map(|r| r.value.clone()).collect::<Vec<_>>(),
        orders
    );
    assert!(got.iter().all(|r| r.key == r.value.id.to_string()));
    // On the wire it is plain JSON, as `json.dumps` would write it.
    let raw = common::produce::fetch_all(&client, &topic, 0).await;
    let first: serde_json::Value =
        serde_json::from_slice(raw[0].value.as_deref().expect("value")).expect("json");
    assert_eq!(
        first,
        serde_json::json!({"id": 0, "item": "item-0", "qty": 0})
    );

    // A dict, as in the Python example: `json.dumps(d)` on send, `json.loads` on receive.
    let dict_topic = common::unique_topic("serde-dict");
    common::create_topic(&client, &dict_topic, 1, 1).await;
    let dp: TypedProducer<str, serde_json::Value> =
        TypedProducer::new(producer(bootstrap), StringSerde, JsonSerde::new());
    let dicts: Vec<serde_json::Value> = (0..5)
        .map(|i| {
            serde_json::json!({
                "id": i, "name": format!("user-{i}"), "tags": ["a", "b"],
                "nested": {"score": i as f64 * 1.5, "ok": i % 2 == 0, "none": null}
            })
        })
        .collect();
    for d in &dicts {
        dp.send(TypedRecord::new(dict_topic.as_str(), d))
            .await
            .expect("queued")
            .await
            .expect("delivered");
    }
    let dc: TypedConsumer<Option<String>, serde_json::Value> = TypedConsumer::new(
        consumer(bootstrap, &dict_topic),
        Nullable(StringSerde),
        JsonSerde::new(),
    );
    let got: Vec<_> = drain_typed(&dc, 5)
        .await
        .into_iter()
        .map(|r| r.expect("deserialized"))
        .collect();
    assert!(got.iter().all(|r| r.key.is_none()));
    assert_eq!(got.into_iter().map(|r| r.value).collect::<Vec<_>>(), dicts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serialization_errors_name_topic_and_field() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    // A map with non-string keys cannot be JSON; nothing is sent.
    let p: TypedProducer<str, std::collections::BTreeMap<(u8, u8), u8>> =
        TypedProducer::new(producer(bootstrap), StringSerde, JsonSerde::new());
    let bad = std::collections::BTreeMap::from([((1, 2), 3)]);
    let err = p
        .send_value("some-topic", Some("k"), &bad)
        .await
        .expect_err("unserializable");
    match &err {
        kafka_serde::ProduceError::Serialize { topic, field, .. } => {
            assert_eq!(&**topic, "some-topic");
            assert_eq!(*field, Field::Value);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("some-topic"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_record_is_reported_and_the_rest_still_arrive() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("serde-poison");
    common::create_topic(&client, &topic, 1, 1).await;

    // 10 good records, a poison one at offset 5 written with the raw byte producer.
    let raw = producer(bootstrap);
    let typed: TypedProducer<str, Order> =
        TypedProducer::new(raw.clone(), StringSerde, JsonSerde::new());
    for i in 0..11u32 {
        let ack = if i == 5 {
            raw.send(
                ProducerRecord::new(topic.as_str())
                    .with_key("poison")
                    .with_value(&b"{not json"[..]),
            )
            .await
            .expect("queued")
        } else {
            let o = Order {
                id: i,
                item: format!("i{i}"),
                qty: None,
            };
            typed
                .send_value(&topic, Some("good"), &o)
                .await
                .expect("queued")
        };
        assert_eq!(ack.await.expect("delivered").offset, i64::from(i));
    }

    // poll: the poison record is an Err in place, with its offset and raw bytes.
    let c: TypedConsumer<String, Order> =
        TypedConsumer::new(consumer(bootstrap, &topic), StringSerde, JsonSerde::new());
    let got = drain_typed(&c, 11).await;
    assert_eq!(got.len(), 11);
    for (i, r) in got.iter().enumerate() {
        if i == 5 {
            let e = r.as_ref().expect_err("poison");
            assert_eq!(
                (e.topic(), e.partition(), e.offset()),
                (topic.as_str(), 0, 5)
            );
            assert_eq!(e.field, Field::Value);
            assert_eq!(e.key_bytes().map(|b| &b[..]), Some(&b"poison"[..]));
            assert_eq!(e.value_bytes().map(|b| &b[..]), Some(&b"{not json"[..]));
            assert!(e.to_string().contains("offset 5"), "{e}");
            let dlq = e.to_dead_letter("dlq");
            assert_eq!(dlq.value.as_deref(), Some(&b"{not json"[..]));
        } else {
            let r = r.as_ref().expect("good record");
            assert_eq!(r.offset, i as i64);
            assert_eq!(r.value.item, format!("i{i}"));
        }
    }

    // stream: the same, and the stream goes on past the poison record.
    let c2: TypedConsumer<String, Order> =
        TypedConsumer::new(consumer(bootstrap, &topic), StringSerde, JsonSerde::new());
    let items: Vec<_> = tokio::time::timeout(
        Duration::from_secs(30),
        c2.stream().take(11).collect::<Vec<_>>(),
    )
    .await
    .expect("11 stream items");
    let mut good = Vec::new();
    for item in items {
        match item {
            Ok(r) => good.push(r.offset),
            Err(ConsumeError::Deserialize(e)) => assert_eq!(e.offset(), 5),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(good, vec![0, 1, 2, 3, 4, 6, 7, 8, 9, 10]);
}
