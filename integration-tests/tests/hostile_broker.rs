//! Hostile broker responses (issue #9, "Hostile input"): a scripted fake broker sends
//! what a real one never would. Each case ends in a typed error or a documented
//! recovery, never a panic, an abort or a hang: every test is bounded by a timeout.
//! CRC mismatches are covered by `consumer_faults.rs`.

mod common;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_client::consumer::{
    AutoOffsetReset, Consumer, ConsumerRecord, IsolationLevel, PartitionError, TopicPartition,
};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::records::{
    BatchBuilder, BatchMeta, Compression, ControlRecord, ControlRecordType, RecordsError,
};
use kafka_client::{Client, Error};
use kafka_protocol::messages::fetch_response::{AbortedTransaction, PartitionData};
use kafka_protocol::messages::produce_response::{PartitionProduceResponse, TopicProduceResponse};
use kafka_protocol::messages::{ApiKey, ProduceResponse, ProducerId, TopicName};
use kafka_protocol::protocol::StrBytes;
use kafka_testkit::raw::{
    FakeBroker, Req, Script, TOPIC, VERSIONS, api_versions, fetch, frame, frame_with_id,
    header_bytes, metadata, produce_ok, raw_frame,
};

/// Every test must finish well within this.
const BOUND: Duration = Duration::from_secs(30);

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, f)
        .await
        .expect("the client hung on hostile input")
}

fn script(f: impl Fn(&Req) -> Option<Vec<u8>> + Send + Sync + 'static) -> Script {
    Arc::new(f)
}

fn client(bootstrap: &str) -> Client {
    Client::builder()
        .bootstrap_servers([bootstrap])
        .request_timeout(Duration::from_secs(5))
        .api_timeout(Duration::from_secs(8))
        .build()
        .unwrap()
}

/// Metadata fails with a protocol error whose message contains `needle` (during
/// bootstrap it comes wrapped in the typed `Bootstrap` error listing each attempt).
async fn metadata_fails_with(s: Script, needle: &str) {
    let broker = FakeBroker::start(s).await.unwrap();
    let c = client(&broker.bootstrap);
    let err = bounded(c.metadata())
        .await
        .expect_err("hostile metadata accepted");
    let typed = match &err {
        Error::Protocol { message, .. } => message.contains(needle),
        Error::Bootstrap { attempts, .. } => {
            attempts.contains("protocol error") && attempts.contains(needle)
        }
        _ => false,
    };
    assert!(
        typed,
        "expected a protocol error about {needle:?}, got {err:?}"
    );
}

#[tokio::test]
async fn negative_frame_length_is_a_protocol_error() {
    let s = script(|r| (r.api == ApiKey::Metadata).then(|| (-5i32).to_be_bytes().to_vec()));
    metadata_fails_with(s, "below the 4-byte minimum").await;
}

#[tokio::test]
async fn huge_frame_length_is_a_protocol_error() {
    let s = script(|r| (r.api == ApiKey::Metadata).then(|| i32::MAX.to_be_bytes().to_vec()));
    metadata_fails_with(s, "exceeds").await;
}

/// The abort kafka-protocol would hit: a broker array count of 2^31 - 1 in Metadata.
#[tokio::test]
async fn huge_array_count_in_metadata_is_a_protocol_error() {
    let s = script(|r| {
        (r.api == ApiKey::Metadata).then(|| {
            let flexible = r.version >= 9;
            let mut p = header_bytes(r, flexible);
            p.extend_from_slice(&0i32.to_be_bytes()); // throttle_time_ms
            if flexible {
                p.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x07]);
            } else {
                p.extend_from_slice(&i32::MAX.to_be_bytes());
            }
            raw_frame(&p)
        })
    });
    metadata_fails_with(s, "field `brokers`: array count").await;
}

/// The same in the handshake: an ApiVersions answer whose api_keys count is 2^31 - 1.
#[tokio::test]
async fn huge_array_count_in_api_versions_is_a_protocol_error() {
    let s = script(|r| {
        (r.api == ApiKey::ApiVersions).then(|| {
            let mut p = header_bytes(r, false);
            p.extend_from_slice(&0i16.to_be_bytes());
            if r.version >= 3 {
                p.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x07]);
            } else {
                p.extend_from_slice(&i32::MAX.to_be_bytes());
            }
            raw_frame(&p)
        })
    });
    metadata_fails_with(s, "api_keys").await;
}

/// A response carrying another request's correlation id: the connection is closed
/// with a protocol error and the next attempt (new connection) succeeds.
#[tokio::test]
async fn wrong_correlation_id_closes_the_connection_and_recovers() {
    let metadata_requests = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let seen = metadata_requests.clone();
    let s = script(move |r| {
        let first = r.api == ApiKey::Metadata
            && seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0;
        first.then(|| {
            frame_with_id(
                r.correlation_id + 1000,
                r.api,
                r.version,
                &metadata(r.port, 1),
            )
        })
    });
    let broker = FakeBroker::start(s).await.unwrap();
    let c = client(&broker.bootstrap);
    let started = std::time::Instant::now();
    let md = bounded(c.metadata())
        .await
        .expect("no recovery after a wrong correlation id");
    assert!(md.broker(1).is_some());
    assert!(metadata_requests.load(std::sync::atomic::Ordering::SeqCst) >= 2);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn wrong_correlation_id_every_time_is_a_typed_error() {
    let s = script(|r| {
        (r.api == ApiKey::Metadata).then(|| {
            frame_with_id(
                r.correlation_id + 1000,
                r.api,
                r.version,
                &metadata(r.port, 1),
            )
        })
    });
    let broker = FakeBroker::start(s).await.unwrap();
    let c = client(&broker.bootstrap);
    let err = bounded(c.metadata())
        .await
        .expect_err("a wrong correlation id accepted");
    // The last bootstrap attempt may be cut by the deadline instead; either is typed.
    let text = err.to_string();
    assert!(
        matches!(err, Error::Protocol { .. } | Error::Bootstrap { .. })
            && (text.contains("correlation id mismatch") || text.contains("deadline")),
        "{err:?}"
    );
}

#[tokio::test]
async fn api_versions_with_min_above_max_is_rejected() {
    let s = script(|r| {
        (r.api == ApiKey::ApiVersions).then(|| {
            let mut ranges = VERSIONS.to_vec();
            ranges[1] = (ApiKey::Metadata, 9, 4);
            let mut r = r.clone();
            r.version = r.version.min(3);
            frame(&r, &api_versions(&ranges))
        })
    });
    metadata_fails_with(s, "invalid range").await;
}

/// An error code no Kafka version defines: a typed, non-retried broker error.
#[tokio::test]
async fn unknown_error_code_is_typed_and_not_retried() {
    let s = script(|r| {
        (r.api == ApiKey::Metadata).then(|| {
            let mut m = metadata(r.port, 1);
            m.topics[0].error_code = 9999;
            frame(r, &m)
        })
    });
    let broker = FakeBroker::start(s).await.unwrap();
    let c = client(&broker.bootstrap);
    let started = std::time::Instant::now();
    let err = bounded(c.topic(TOPIC))
        .await
        .expect_err("error code ignored");
    assert!(err.to_string().contains("9999"), "{err:?}");
    assert!(!err.is_retriable(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "retried an unknown code"
    );
}

fn producer(bootstrap: &str) -> Producer {
    Producer::builder()
        .bootstrap_servers([bootstrap])
        .request_timeout(Duration::from_secs(3))
        .delivery_timeout(Duration::from_secs(4))
        .linger(Duration::from_millis(0))
        .max_block(Duration::from_secs(4))
        // The fake broker does not answer InitProducerId.
        .enable_idempotence(false)
        .build()
        .unwrap()
}

/// Metadata names leader 5, which is not in the broker list: the send fails in time
/// with a typed error rather than panicking or waiting forever.
#[tokio::test]
async fn leader_missing_from_broker_list_fails_the_send_in_time() {
    let s = script(|r| (r.api == ApiKey::Metadata).then(|| frame(r, &metadata(r.port, 5))));
    let broker = FakeBroker::start(s).await.unwrap();
    let p = producer(&broker.bootstrap);
    let result = bounded(async {
        match p
            .send(ProducerRecord::new(TOPIC).with_partition(0).with_value("v"))
            .await
        {
            Ok(delivery) => delivery.await,
            Err(e) => Err(e),
        }
    })
    .await;
    let err = result.expect_err("a send to an unknown leader succeeded");
    assert!(
        matches!(err, Error::Timeout { .. }) || err.to_string().contains('5'),
        "{err:?}"
    );
}

/// A Produce answer about partition 9 only (never asked for): the real batch fails
/// with a protocol error, it is not reported as written.
#[tokio::test]
async fn produce_response_for_partitions_never_asked_for() {
    let s = script(|r| {
        (r.api == ApiKey::Produce).then(|| {
            let mut ok = produce_ok(r);
            ok.responses[0].partition_responses[0].index = 9;
            ok.responses.push(
                TopicProduceResponse::default()
                    .with_name(TopicName(StrBytes::from_static_str("never-asked")))
                    .with_partition_responses(vec![PartitionProduceResponse::default()]),
            );
            frame(r, &ok)
        })
    });
    let broker = FakeBroker::start(s).await.unwrap();
    let p = producer(&broker.bootstrap);
    let result = bounded(async {
        p.send(ProducerRecord::new(TOPIC).with_partition(0).with_value("v"))
            .await?
            .await
    })
    .await;
    let err = result.expect_err("a batch the broker never answered was acknowledged");
    assert!(err.to_string().contains("does not mention"), "{err:?}");
    let _unused: Option<ProduceResponse> = None;
}

/// A batch of `n` records at `base` with values `v<offset>`.
fn batch(base: i64, n: i64, compression: Compression, meta: &BatchMeta) -> BytesMut {
    let mut b = BatchBuilder::new(compression, 1 << 20);
    for i in 0..n {
        b.append(
            1_700_000_000_000,
            None,
            Some(format!("v{}", base + i).as_bytes()),
            &[],
        )
        .unwrap();
    }
    let mut m = BytesMut::from(&b.finish(meta).unwrap()[..]);
    m[..8].copy_from_slice(&base.to_be_bytes());
    m
}

/// Consumes partition 0 from the fake broker until `done` says so (or the bound).
async fn consume(
    s: Script,
    isolation: IsolationLevel,
    done: impl Fn(&[ConsumerRecord], &[PartitionError]) -> bool,
) -> (Vec<ConsumerRecord>, Vec<PartitionError>, Consumer) {
    let broker = FakeBroker::start(s).await.unwrap();
    let c = Consumer::builder()
        .bootstrap_servers([broker.bootstrap.as_str()])
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .isolation_level(isolation)
        .check_crcs(false)
        .fetch_max_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    c.assign([TopicPartition::new(TOPIC, 0)]).unwrap();
    let mut records = Vec::new();
    let mut errors = Vec::new();
    bounded(async {
        while !done(&records, &errors) {
            let (r, e) = c
                .poll(Duration::from_millis(200))
                .await
                .unwrap()
                .into_parts();
            records.extend(r);
            errors.extend(e);
        }
    })
    .await;
    (records, errors, c)
}

fn fetch_script(records: impl Fn(i64) -> Option<Bytes> + Send + Sync + 'static) -> Script {
    script(move |r| {
        (r.api == ApiKey::Fetch).then(|| {
            frame(
                r,
                &fetch(r, |p, off| {
                    if p == 0 {
                        records(off).unwrap_or_default()
                    } else {
                        Bytes::new()
                    }
                }),
            )
        })
    })
}

/// One typed records error for partition 0, and the records delivered before it.
async fn records_error(bad: Bytes) -> (Arc<RecordsError>, Vec<String>) {
    let s = fetch_script(move |off| (off == 0).then(|| bad.clone()));
    let (records, errors, c) =
        consume(s, IsolationLevel::ReadUncommitted, |_, e| !e.is_empty()).await;
    c.close().await.unwrap();
    let values = records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect();
    match &errors[0].error {
        Error::Records(e) => (e.clone(), values),
        other => panic!("expected a records error, got {other:?}"),
    }
}

/// A batch claiming 5 records that holds 3, and one claiming 1 that holds 3: the
/// records that do parse may be delivered (as the Java client does), then a typed
/// error; never invented records.
#[tokio::test]
async fn record_count_disagreeing_with_the_records_is_typed() {
    for (claimed, max_delivered) in [(5i32, 3usize), (1, 1)] {
        let mut b = batch(0, 3, Compression::None, &BatchMeta::default());
        b[57..61].copy_from_slice(&claimed.to_be_bytes());
        let (e, values) = records_error(b.freeze()).await;
        assert!(
            matches!(
                *e,
                RecordsError::RecordCountMismatch { .. } | RecordsError::TrailingBytes { .. }
            ),
            "{e}"
        );
        assert!(values.len() <= max_delivered, "{values:?}");
        let expect: Vec<String> = (0..values.len()).map(|i| format!("v{i}")).collect();
        assert_eq!(values, expect);
    }
}

#[tokio::test]
async fn varint_overflow_in_a_record_is_typed() {
    let mut b = batch(0, 1, Compression::None, &BatchMeta::default());
    let end = b.len();
    for byte in &mut b[61..end.min(61 + 11)] {
        *byte = 0xff; // the record length varint never ends
    }
    let (e, values) = records_error(b.freeze()).await;
    assert!(values.is_empty(), "{values:?}");
    assert!(matches!(*e, RecordsError::VarintOverflow { .. }), "{e}");
}

/// 80 MiB of zeros gzip to ~80 KB: decompression stops at the 64 MiB bound.
#[tokio::test]
async fn compression_bomb_stops_at_the_bound() {
    let mut b = BatchBuilder::new(Compression::Gzip, 200 << 20);
    b.append(0, None, Some(&vec![0u8; 80 << 20]), &[]).unwrap();
    let bomb = b.finish(&BatchMeta::default()).unwrap();
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let (e, values) = records_error(bomb).await;
    assert!(values.is_empty());
    assert!(
        matches!(*e, RecordsError::DecompressedTooLarge { .. }),
        "{e}"
    );
}

/// Two abort markers for one transaction (and the aborted transaction listed twice):
/// read_committed hides the aborted records once, skips both markers, and delivers
/// the committed batch after them.
#[tokio::test]
async fn doubled_abort_markers_are_harmless() {
    let txn = BatchMeta {
        producer_id: 5,
        transactional: true,
        ..BatchMeta::default()
    };
    let marker = |offset: i64| {
        let mut b = BatchBuilder::new(Compression::None, 1 << 10);
        let key = ControlRecord::new(ControlRecordType::Abort).to_key();
        b.append(0, Some(&key), Some(&[0, 0, 0, 0, 0, 0]), &[])
            .unwrap();
        let meta = BatchMeta {
            is_control: true,
            ..BatchMeta { ..txn }
        };
        let mut m = BytesMut::from(&b.finish(&meta).unwrap()[..]);
        m[..8].copy_from_slice(&offset.to_be_bytes());
        m
    };
    let mut all = batch(0, 2, Compression::None, &txn);
    all.extend_from_slice(&marker(2));
    all.extend_from_slice(&marker(3));
    all.extend_from_slice(&batch(4, 2, Compression::None, &BatchMeta::default()));
    let all = all.freeze();
    let s = script(move |r| {
        (r.api == ApiKey::Fetch).then(|| {
            let mut f = fetch(r, |p, off| {
                if p == 0 && off == 0 {
                    all.clone()
                } else {
                    Bytes::new()
                }
            });
            for t in &mut f.responses {
                for p in &mut t.partitions {
                    let aborted = AbortedTransaction::default()
                        .with_producer_id(ProducerId(5))
                        .with_first_offset(0);
                    p.aborted_transactions = Some(vec![aborted.clone(), aborted]);
                }
            }
            frame(r, &f)
        })
    });
    let (records, errors, c) = consume(s, IsolationLevel::ReadCommitted, |r, e| {
        r.len() >= 2 || !e.is_empty()
    })
    .await;
    assert!(errors.is_empty(), "{errors:?}");
    let got: Vec<(i64, String)> = records
        .iter()
        .map(|r| {
            (
                r.offset,
                String::from_utf8_lossy(r.value.as_deref().unwrap()).into_owned(),
            )
        })
        .collect();
    assert_eq!(got, vec![(4, "v4".into()), (5, "v5".into())]);
    assert_eq!(c.position(TopicPartition::new(TOPIC, 0)).await.unwrap(), 6);
    c.close().await.unwrap();
}

/// A Fetch answer that adds partition 7 (never asked for) with records: nothing from
/// it is delivered; the asked-for partition is served normally.
#[tokio::test]
async fn fetch_partitions_never_asked_for_are_not_delivered() {
    let good = batch(0, 2, Compression::None, &BatchMeta::default()).freeze();
    let s = script(move |r| {
        (r.api == ApiKey::Fetch).then(|| {
            let mut f = fetch(r, |p, off| {
                if p == 0 && off == 0 {
                    good.clone()
                } else {
                    Bytes::new()
                }
            });
            let stray = PartitionData::default()
                .with_partition_index(7)
                .with_high_watermark(10)
                .with_records(Some(
                    batch(0, 2, Compression::None, &BatchMeta::default()).freeze(),
                ));
            f.responses[0].partitions.push(stray);
            frame(r, &f)
        })
    });
    let (records, errors, c) =
        consume(s, IsolationLevel::ReadUncommitted, |r, _| r.len() >= 2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (more, more_errors) = c
        .poll(Duration::from_millis(300))
        .await
        .unwrap()
        .into_parts();
    assert!(
        records.iter().chain(&more).all(|r| r.partition == 0),
        "{records:?} {more:?}"
    );
    assert!(
        errors
            .iter()
            .chain(&more_errors)
            .all(|e| e.topic_partition.partition != 7)
    );
    c.close().await.unwrap();
}
