//! Consumer bad input a real broker cannot be made to send (it validates CRCs on
//! produce): a fake broker answers Fetch with a corrupt batch on one partition and a
//! truncated last batch on the other. The corrupt partition reports a typed error and
//! stops; the other one goes on, resuming after its last complete batch.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use kafka_client::Error;
use kafka_client::consumer::{AutoOffsetReset, Consumer, TopicPartition};
use kafka_client::records::{BatchBuilder, BatchMeta, Compression, RecordsError};
use kafka_protocol::messages::ApiKey;
use kafka_testkit::raw::{FakeBroker, TOPIC, fetch, frame};

/// A batch of two records at `base`, values `p<partition>-<offset>`.
fn batch(partition: i32, base: i64) -> Bytes {
    let mut b = BatchBuilder::new(Compression::Lz4, 1 << 16);
    for i in 0..2 {
        let v = format!("p{partition}-{}", base + i);
        b.append(1_700_000_000_000, None, Some(v.as_bytes()), &[])
            .unwrap();
    }
    let bytes = b.finish(&BatchMeta::default()).unwrap();
    let mut m = BytesMut::from(&bytes[..]);
    m[..8].copy_from_slice(&base.to_be_bytes());
    m.freeze()
}

fn cat(parts: &[&[u8]]) -> Bytes {
    let mut m = BytesMut::new();
    for p in parts {
        m.extend_from_slice(p);
    }
    m.freeze()
}

/// Partition 0: a good batch (0-1), then a batch (2-3) with a flipped payload byte.
/// Partition 1: a good batch (0-1) plus the first half of the next (2-3), then that
/// batch whole when asked from offset 2.
fn records_for(partition: i32, offset: i64) -> Bytes {
    match (partition, offset) {
        (0, 0) => {
            let mut bad = BytesMut::from(&batch(0, 2)[..]);
            let last = bad.len() - 1;
            bad[last] ^= 0xff;
            cat(&[&batch(0, 0), &bad])
        }
        (1, 0) => {
            let next = batch(1, 2);
            cat(&[&batch(1, 0), &next[..next.len() / 2]])
        }
        (1, 2) => batch(1, 2),
        _ => Bytes::new(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_batch_fails_one_partition_and_truncated_batch_resumes() {
    let fetches: Arc<Mutex<Vec<(i32, i64)>>> = Arc::default();
    let f = fetches.clone();
    let broker = FakeBroker::start(Arc::new(move |req| {
        (req.api == ApiKey::Fetch).then(|| {
            let body = fetch(req, |partition, offset| {
                f.lock().unwrap().push((partition, offset));
                records_for(partition, offset)
            });
            frame(req, &body)
        })
    }))
    .await
    .unwrap();
    let c = Consumer::builder()
        .bootstrap_servers([broker.bootstrap.as_str()])
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .build()
        .unwrap();
    let p0 = TopicPartition::new(TOPIC, 0);
    let p1 = TopicPartition::new(TOPIC, 1);
    c.assign([p0.clone(), p1.clone()]).unwrap();

    let mut got: Vec<(i32, i64, String)> = Vec::new();
    let mut errors = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while got.len() < 6 || errors.is_empty() {
        assert!(Instant::now() < deadline, "got {got:?}, errors {errors:?}");
        let (records, errs) = c
            .poll(Duration::from_millis(200))
            .await
            .unwrap()
            .into_parts();
        for r in records {
            let v = String::from_utf8(r.value.unwrap().to_vec()).unwrap();
            got.push((r.partition, r.offset, v));
        }
        errors.extend(errs);
    }
    got.sort();
    let expect: Vec<(i32, i64, String)> = [(0, 0), (0, 1), (1, 0), (1, 1), (1, 2), (1, 3)]
        .into_iter()
        .map(|(p, o)| (p, o, format!("p{p}-{o}")))
        .collect();
    assert_eq!(
        got, expect,
        "the good batches of both partitions, nothing of the corrupt one"
    );
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].topic_partition, p0);
    match &errors[0].error {
        Error::Records(e) => assert!(
            matches!(**e, RecordsError::CrcMismatch { base_offset: 2, .. }),
            "{e}"
        ),
        other => panic!("expected a CRC error, got {other}"),
    }
    // The corrupt partition stays stopped (no repeated error, no records) until a seek.
    let quiet = c.poll(Duration::from_millis(800)).await.unwrap();
    assert!(quiet.is_empty(), "{quiet:?}");
    assert_eq!(c.position(p0.clone()).await.unwrap(), 2);
    assert_eq!(c.position(p1.clone()).await.unwrap(), 4);
    // The truncated batch was fetched again from its base offset.
    assert!(
        fetches.lock().unwrap().contains(&(1, 2)),
        "{:?}",
        fetches.lock().unwrap()
    );
    // Seeking past the damage resumes the partition.
    c.seek(p0.clone(), 4).unwrap();
    let start = fetches.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(fetches.lock().unwrap()[start..].contains(&(0, 4)));
    c.close().await.unwrap();
}
