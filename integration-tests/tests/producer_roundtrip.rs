//! Records produced by our producer come back intact: read with our own raw Fetch and
//! decoder, and with kcat (librdkafka), an independent client. Every codec, duplicate
//! header keys, null keys and values, and every acks setting.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::produce::{fetch_all, fetch_all_detailed, kcat_consume};
use kafka_client::producer::{Acks, Producer, ProducerRecord};
use kafka_client::records::{Compression, Header};

fn producer(bootstrap: &str, compression: Compression, acks: Acks) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .compression(compression)
        .acks(acks)
        .linger(Duration::from_millis(5))
        .build()
        .expect("producer config")
}

/// Record `i` of the codec test: varied keys, values, headers, one tombstone, one null key.
fn record(topic: &str, i: usize) -> ProducerRecord {
    let mut r = ProducerRecord::new(topic).with_timestamp(1_700_000_000_000 + i as i64);
    if i % 50 != 8 {
        r = r.with_key(format!("key-{i}"));
    }
    if i % 50 != 7 {
        // Compressible text with a varying part.
        r = r.with_value(format!("value-{i}-{}", "abcdefgh".repeat(i % 20)));
    }
    if i.is_multiple_of(3) {
        r = r
            .with_header("h", format!("{i}-a"))
            .with_header("h", format!("{i}-b"));
    }
    r
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_codec_round_trips_and_kcat_reads_it() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    const N: usize = 300;
    for codec in Compression::ALL {
        let topic = common::unique_topic(&format!("codec-{codec}"));
        common::create_topic(&client, &topic, 1, 1).await;
        let p = producer(bootstrap, codec, Acks::All);
        let mut futures = Vec::new();
        for i in 0..N {
            futures.push(p.send(record(&topic, i)).await.expect("queued"));
        }
        for (i, f) in futures.into_iter().enumerate() {
            let m = f
                .await
                .unwrap_or_else(|e| panic!("{codec} record {i}: {e}"));
            assert_eq!((m.partition, m.offset), (0, i as i64), "{codec}");
            assert_eq!(m.timestamp, 1_700_000_000_000 + i as i64);
        }
        p.close(Duration::from_secs(10)).await.unwrap();

        let (back, codecs) = fetch_all_detailed(&client, &topic, 0).await;
        assert_eq!(back.len(), N, "{codec}");
        assert!(
            codecs.iter().all(|c| *c == codec),
            "{codec}: broker holds {codecs:?}"
        );
        for (i, r) in back.iter().enumerate() {
            let want = record(&topic, i);
            assert_eq!(r.offset, i as i64);
            assert_eq!(r.key, want.key, "{codec} #{i}");
            assert_eq!(r.value, want.value, "{codec} #{i}");
            assert_eq!(r.headers, want.headers, "{codec} #{i}");
            assert_eq!(r.timestamp, 1_700_000_000_000 + i as i64);
        }

        let seen = kcat_consume(bootstrap, &topic).await;
        assert_eq!(seen.len(), N, "{codec}: kcat read {} records", seen.len());
        for m in &seen {
            let want = record(&topic, m.offset as usize);
            let text =
                |b: &Option<Bytes>| b.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
            assert_eq!(m.key, text(&want.key), "{codec} @{}", m.offset);
            assert_eq!(m.value, text(&want.value), "{codec} @{}", m.offset);
            let headers: Vec<(String, Option<String>)> = want
                .headers
                .iter()
                .map(|h| (h.key.clone(), text(&h.value)))
                .collect();
            assert_eq!(m.headers, headers, "{codec} @{}", m.offset);
        }
    }
}

#[tokio::test]
async fn duplicate_header_keys_survive_a_round_trip() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("headers");
    common::create_topic(&client, &topic, 1, 1).await;
    let headers = vec![
        Header::new("dup", Some(Bytes::from_static(b"1"))),
        Header::new("dup", Some(Bytes::from_static(b"2"))),
        Header::new("other", None),
        Header::new("dup", Some(Bytes::from_static(b"3"))),
        Header::new("empty", Some(Bytes::new())),
        Header::new("dup", Some(Bytes::from_static(b"2"))),
    ];
    let p = producer(bootstrap, Compression::None, Acks::All);
    let mut r = ProducerRecord::new(topic.as_str()).with_value("v");
    r.headers = headers.clone();
    p.send_and_wait(r).await.expect("delivered");
    p.close(Duration::from_secs(5)).await.unwrap();

    let back = fetch_all(&client, &topic, 0).await;
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].headers, headers, "order and duplicates kept");

    let seen = kcat_consume(bootstrap, &topic).await;
    let keys: Vec<&str> = seen[0].headers.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["dup", "dup", "other", "dup", "empty", "dup"]);
    let values: Vec<Option<&str>> = seen[0].headers.iter().map(|(_, v)| v.as_deref()).collect();
    assert_eq!(
        values,
        [Some("1"), Some("2"), None, Some("3"), Some(""), Some("2")]
    );
}

#[tokio::test]
async fn every_acks_setting_delivers() {
    let bootstrap = &kafka_testbed::shared_cluster().bootstrap_servers();
    let client = common::client(bootstrap);
    let topic = common::unique_topic("acks");
    common::create_topic(&client, &topic, 1, 1).await;
    const N: usize = 50;
    // acks=0 last: a broker still taking over a brand-new partition drops an acks=0
    // request (and closes the connection) without anyone knowing, as acks=0 allows.
    for acks in [Acks::All, Acks::Leader, Acks::None] {
        let p = producer(bootstrap, Compression::Lz4, acks);
        let mut futures = Vec::new();
        for i in 0..N {
            let r = ProducerRecord::new(topic.as_str()).with_value(format!("{acks:?}-{i}"));
            futures.push(p.send(r).await.unwrap());
        }
        for f in futures {
            let m = f.await.expect("delivered");
            if acks == Acks::None {
                assert_eq!(m.offset, -1, "acks=0 gets no offset");
            } else {
                assert!(m.offset >= 0);
            }
        }
        p.close(Duration::from_secs(5)).await.unwrap();
    }
    // Nothing tells an acks=0 producer when the broker has appended its records: give
    // the log a moment to catch up before comparing.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut back = fetch_all(&client, &topic, 0).await;
    while back.len() < 3 * N && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        back = fetch_all(&client, &topic, 0).await;
    }
    let values: Vec<String> = back
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    let want: Vec<String> = ["All", "Leader", "None"]
        .iter()
        .flat_map(|a| (0..N).map(move |i| format!("{a}-{i}")))
        .collect();
    assert_eq!(
        values, want,
        "every acks setting wrote every record, in order"
    );
}
