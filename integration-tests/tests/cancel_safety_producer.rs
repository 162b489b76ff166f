//! Cancel safety of `Producer` and `TypedProducer` against the test bed's single-node
//! cluster: every call dropped at every poll point k = 0..k_max, then the documented
//! contract checked — the topic read back (no record lost, none duplicated, a dropped
//! `send` never queued its record), `buffer.memory` in use back to zero (the producer's
//! `stats().buffer_memory_in_use`), and the next call works.

mod cancel_safety_support;
mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use cancel_safety_support::{eventually, sweep, within};
use common::produce::fetch_all;
use common::{client, create_topic, unique_topic};
use kafka_client::{Error, Producer, ProducerRecord};
use kafka_serde::{StringSerde, TypedProducer, TypedRecord};

fn bootstrap() -> String {
    kafka_testbed::shared_cluster()
        .bootstrap_servers()
        .to_string()
}

fn producer() -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap()])
        .linger(Duration::from_millis(20))
        .build()
        .expect("producer")
}

async fn topic(prefix: &str) -> String {
    let t = unique_topic(prefix);
    create_topic(&client(&bootstrap()), &t, 1, 1).await;
    t
}

fn rec(topic: &str, value: String) -> ProducerRecord {
    ProducerRecord::new(topic).with_value(value)
}

/// How often each value is in the topic.
async fn read_back(topic: &str) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for r in fetch_all(&client(&bootstrap()), topic, 0).await {
        let v = String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned();
        *seen.entry(v).or_default() += 1;
    }
    seen
}

fn in_use(p: &Producer) -> u64 {
    p.stats().buffer_memory_in_use
}

/// Waits for `buffer.memory` in use to return to zero (acknowledged batches give their
/// bytes back just after their futures resolve).
async fn memory_returns_to_zero(p: &Producer, what: &str) {
    eventually(what, Duration::from_secs(30), async || in_use(p) == 0).await;
}

/// `Producer::send`, first send to a topic (waits for its metadata): a fresh producer
/// per try so every try has those wait points. A dropped send never queued its record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_waiting_for_metadata() {
    let topic = topic("cs-send-meta").await;
    let (_, k_max) = sweep(
        "Producer::send",
        "first send to a topic (metadata wait)",
        async |k| {
            let p = producer();
            match within(k, p.send(rec(&topic, format!("try-{k}")))).await {
                Some(queued) => {
                    queued.expect("queued").await.expect("delivered");
                    p.close(Duration::from_secs(10)).await.expect("close");
                    Some(())
                }
                None => {
                    assert_eq!(in_use(&p), 0, "a send dropped at {k} holds no memory");
                    // The next call on this producer works.
                    p.send(rec(&topic, format!("next-{k}")))
                        .await
                        .expect("the next send is queued")
                        .await
                        .expect("and delivered");
                    p.close(Duration::from_secs(10)).await.expect("close");
                    None
                }
            }
        },
        async |_| {},
    )
    .await;
    let seen = read_back(&topic).await;
    for k in 0..k_max {
        assert_eq!(
            seen.get(&format!("try-{k}")),
            None,
            "dropped send {k} was sent"
        );
        assert_eq!(seen.get(&format!("next-{k}")), Some(&1), "next {k}");
    }
    assert_eq!(seen.get(&format!("try-{k_max}")), Some(&1));
}

/// `Producer::send` waiting for room in a full `buffer.memory`: a dropped wait gives its
/// place up and leaks no bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_waiting_for_buffer_memory() {
    let topic = topic("cs-send-full").await;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap()])
        .buffer_memory(4096)
        .batch_size(1024)
        .linger(Duration::from_millis(300))
        .build()
        .expect("producer");
    p.send_and_wait(rec(&topic, "warm".into()))
        .await
        .expect("metadata loaded");
    let mut filled = 0usize;
    let fill = |n: &mut usize| {
        let mut futs = Vec::new();
        loop {
            match p.try_send(rec(&topic, format!("fill-{n}-{}", "x".repeat(200)))) {
                Ok(f) => {
                    futs.push(f);
                    *n += 1;
                }
                Err(Error::BufferFull { .. }) => return futs,
                Err(e) => panic!("filling: {e}"),
            }
        }
    };
    let mut pending = Vec::new();
    let (_, k_max) = sweep(
        "Producer::send",
        "buffer.memory full (waits for room)",
        async |k| {
            pending.extend(fill(&mut filled));
            // As large as a filler: no room for it until a batch is delivered.
            let big = rec(&topic, format!("try-{k}")).with_key("x".repeat(200));
            let fut = within(k, p.send(big)).await?;
            fut.expect("queued").await.expect("delivered");
            Some(())
        },
        async |k| {
            p.flush().await;
            memory_returns_to_zero(&p, &format!("memory after a send dropped at {k}")).await;
        },
    )
    .await;
    for f in pending.drain(..) {
        f.await.expect("filler delivered");
    }
    p.flush().await;
    memory_returns_to_zero(&p, "memory at the end").await;
    let seen = read_back(&topic).await;
    for k in 0..k_max {
        assert_eq!(
            seen.get(&format!("try-{k}")),
            None,
            "dropped send {k} was sent"
        );
    }
    assert_eq!(seen.get(&format!("try-{k_max}")), Some(&1));
    assert!(k_max >= 2, "the send waited for room at least once");
    let fillers = seen.keys().filter(|v| v.starts_with("fill-")).count();
    assert_eq!(fillers, filled, "every filler record exactly once");
    assert!(seen.values().all(|n| *n == 1), "no duplicates: {seen:?}");
    p.close(Duration::from_secs(10)).await.expect("close");
}

/// `Producer::send_and_wait`: dropped after queueing, the record is delivered anyway,
/// exactly once; no buffer memory is held afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_and_wait() {
    let topic = topic("cs-send-wait").await;
    let p = producer();
    p.send_and_wait(rec(&topic, "warm".into()))
        .await
        .expect("warm");
    let (meta, k_max) = sweep(
        "Producer::send_and_wait",
        "",
        async |k| within(k, p.send_and_wait(rec(&topic, format!("try-{k}")))).await,
        async |k| {
            p.flush().await;
            memory_returns_to_zero(&p, &format!("memory after a drop at {k}")).await;
        },
    )
    .await;
    meta.expect("the completed call delivered its record");
    p.flush().await;
    memory_returns_to_zero(&p, "memory at the end").await;
    let seen = read_back(&topic).await;
    assert!(seen.values().all(|n| *n == 1), "no duplicates: {seen:?}");
    assert_eq!(seen.get(&format!("try-{k_max}")), Some(&1));
    // k = 0 never ran; k >= 1 queued the record in its first poll (metadata is loaded).
    assert_eq!(seen.get("try-0"), None);
    for k in 1..k_max {
        assert_eq!(
            seen.get(&format!("try-{k}")),
            Some(&1),
            "queued, then delivered"
        );
    }
    p.close(Duration::from_secs(10)).await.expect("close");
}

/// `Producer::flush`: dropping it stops only the waiting; every record is delivered
/// once, and the next flush works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flush() {
    let topic = topic("cs-flush").await;
    let p = Producer::builder()
        .bootstrap_servers([bootstrap()])
        .linger(Duration::from_secs(5))
        .build()
        .expect("producer");
    p.send_and_wait(rec(&topic, "warm".into()))
        .await
        .expect("warm");
    let mut futs = Vec::new();
    let mut n = 0;
    sweep(
        "Producer::flush",
        "records lingering",
        async |k| {
            for _ in 0..5 {
                futs.push(p.send(rec(&topic, format!("r-{n}"))).await.expect("queued"));
                n += 1;
            }
            within(k, p.flush()).await
        },
        async |_| {},
    )
    .await;
    p.flush().await;
    for f in futs {
        f.await.expect("delivered");
    }
    memory_returns_to_zero(&p, "memory after the flushes").await;
    let seen = read_back(&topic).await;
    for i in 0..n {
        assert_eq!(seen.get(&format!("r-{i}")), Some(&1), "record {i}");
    }
    p.close(Duration::from_secs(10)).await.expect("close");
}

/// `Producer::close`: dropped, the producer is closed to new records and still
/// delivers the pending ones; a second close completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close() {
    let topic = topic("cs-close").await;
    let (_, k_max) = sweep(
        "Producer::close",
        "with records lingering",
        async |k| {
            let p = Producer::builder()
                .bootstrap_servers([bootstrap()])
                .linger(Duration::from_millis(200))
                .build()
                .expect("producer");
            let mut futs = Vec::new();
            for i in 0..5 {
                futs.push(
                    p.send(rec(&topic, format!("c{k}-{i}")))
                        .await
                        .expect("queued"),
                );
            }
            match within(k, p.close(Duration::from_secs(10))).await {
                Some(r) => {
                    r.expect("close");
                    Some(())
                }
                None => {
                    if k > 0 {
                        let late = p.send(rec(&topic, "late".into())).await;
                        assert!(matches!(late, Err(Error::Closed)), "{late:?}");
                    }
                    p.close(Duration::from_secs(10))
                        .await
                        .expect("the next close");
                    for f in futs {
                        f.await.expect("a pending record is delivered");
                    }
                    memory_returns_to_zero(&p, "memory after close").await;
                    None
                }
            }
        },
        async |_| {},
    )
    .await;
    let seen = read_back(&topic).await;
    for k in 0..=k_max {
        for i in 0..5 {
            assert_eq!(
                seen.get(&format!("c{k}-{i}")),
                Some(&1),
                "try {k} record {i}"
            );
        }
    }
    assert_eq!(seen.get("late"), None);
}

/// `TypedProducer`'s methods delegate to `Producer`'s: the same contracts, swept once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_producer() {
    let topic = topic("cs-typed").await;
    let p: TypedProducer<str, str> = TypedProducer::new(producer(), StringSerde, StringSerde);
    let (_, send_k) = sweep(
        "TypedProducer::send",
        "first send to a topic (metadata wait)",
        async |k| {
            let v = format!("send-{k}");
            let fut = within(k, p.send(TypedRecord::new(topic.as_str(), v.as_str()))).await?;
            fut.expect("queued").await.expect("delivered");
            Some(())
        },
        async |_| {},
    )
    .await;
    let (_, value_k) = sweep(
        "TypedProducer::send_value",
        "",
        async |k| {
            let v = format!("value-{k}");
            let fut = within(k, p.send_value(&topic, None, v.as_str())).await?;
            fut.expect("queued").await.expect("delivered");
            Some(())
        },
        async |_| {},
    )
    .await;
    let mut futs = Vec::new();
    sweep(
        "TypedProducer::flush",
        "",
        async |k| {
            let v = format!("flush-{k}");
            futs.push(
                p.send_value(&topic, None, v.as_str())
                    .await
                    .expect("queued"),
            );
            within(k, p.flush()).await
        },
        async |_| {},
    )
    .await;
    let (_, close_k) = sweep(
        "TypedProducer::close",
        "",
        async |k| {
            let own: TypedProducer<str, str> =
                TypedProducer::new(producer(), StringSerde, StringSerde);
            let v = format!("close-{k}");
            let queued = own
                .send_value(&topic, None, v.as_str())
                .await
                .expect("queued");
            let done = within(k, own.close(Duration::from_secs(10))).await;
            if done.is_none() {
                own.close(Duration::from_secs(10))
                    .await
                    .expect("the next close");
            }
            queued.await.expect("a pending record is delivered");
            done.map(|r| r.expect("close"))
        },
        async |_| {},
    )
    .await;
    for f in futs {
        f.await.expect("delivered");
    }
    let seen = read_back(&topic).await;
    assert!(seen.values().all(|n| *n == 1), "no duplicates: {seen:?}");
    for k in 0..send_k {
        assert_eq!(
            seen.get(&format!("send-{k}")),
            None,
            "dropped send {k} was sent"
        );
    }
    assert_eq!(seen.get(&format!("send-{send_k}")), Some(&1));
    for k in 0..value_k {
        assert_eq!(seen.get(&format!("value-{k}")), None);
    }
    assert_eq!(seen.get(&format!("value-{value_k}")), Some(&1));
    for k in 0..=close_k {
        assert_eq!(
            seen.get(&format!("close-{k}")),
            Some(&1),
            "queued before close {k}"
        );
    }
}
