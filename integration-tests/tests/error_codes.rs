//! Every error code of the reliability guide's list, injected through the fake broker
//! into each request type that can carry it (a real broker cannot be made to send them
//! on demand). Each case serves the code `count` times, then answers normally, and
//! checks the documented outcome: the operation recovers (retriable codes, rejoin,
//! epoch bump) or fails with the typed error the Java client gives. Every case is
//! bounded (no hang) and checks that the code was really served.

mod common;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::fake_broker::{FakeBroker, Req, TOPIC, fetch, frame};
use common::fake_coordinator::error_answer;
use kafka_client::TransactionErrorKind;
use kafka_client::consumer::{
    AutoOffsetReset, Consumer, GroupMetadata, OffsetAndMetadata, TopicPartition,
};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::protocol::messages::ApiKey;
use kafka_client::records::{BatchBuilder, BatchMeta, Compression};
use kafka_client::{Client, Error, ErrorCode};

/// What a case must end in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// The operation succeeds once the broker answers normally again.
    Recovers,
    /// A typed broker error carrying the injected code (or wrapping it).
    FailsWithCode,
    /// A transaction error of this kind.
    Txn(TransactionErrorKind),
}

/// The workloads the codes are injected into.
#[derive(Debug, Clone, Copy)]
enum Flow {
    /// A non-idempotent producer sends one record.
    Produce,
    /// An idempotent producer sends one record.
    Idempotent,
    /// A transactional producer: init, begin, send one record, commit.
    Transaction,
    /// The same, with the consumed offsets sent to the transaction before the commit.
    TransactionOffsets,
    /// A group member subscribes, is assigned, heartbeats, commits, leaves.
    Group,
    /// A consumer assigned partition 0 reads the record at offset 0.
    Fetch,
}

struct Case {
    flow: Flow,
    api: ApiKey,
    code: ErrorCode,
    count: u32,
    expect: Expect,
}

const fn case(flow: Flow, api: ApiKey, code: ErrorCode, count: u32, expect: Expect) -> Case {
    Case {
        flow,
        api,
        code,
        count,
        expect,
    }
}

/// One record at offset 0 of partition 0; nothing elsewhere.
fn one_record(partition: i32, offset: i64) -> Bytes {
    if partition != 0 || offset != 0 {
        return Bytes::new();
    }
    let mut b = BatchBuilder::new(Compression::None, 1 << 16);
    b.append(1_700_000_000_000, None, Some(b"v0"), &[]).unwrap();
    b.finish(&BatchMeta::default()).unwrap()
}

fn client(bootstrap: &str) -> Client {
    Client::builder()
        .bootstrap_servers([bootstrap])
        .request_timeout(Duration::from_secs(3))
        .api_timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn producer(bootstrap: &str, idempotent: bool) -> kafka_client::producer::ProducerBuilder {
    Producer::builder()
        .client(client(bootstrap))
        .linger(Duration::ZERO)
        .delivery_timeout(Duration::from_secs(10))
        .enable_idempotence(idempotent)
}

async fn send_one(p: &Producer) -> Result<(), Error> {
    p.send(ProducerRecord::new(TOPIC).with_partition(0).with_value("v"))
        .await?
        .await
        .map(|_| ())
}

async fn run_flow(flow: Flow, bootstrap: &str) -> Result<(), Error> {
    match flow {
        Flow::Produce | Flow::Idempotent => {
            let p = producer(bootstrap, matches!(flow, Flow::Idempotent)).build()?;
            send_one(&p).await
        }
        Flow::Transaction | Flow::TransactionOffsets => {
            let mut p = producer(bootstrap, true)
                .transactional_id("fake-txn")
                .build_transactional()
                .await?;
            let txn = p.begin().await?;
            let delivered = txn
                .send(ProducerRecord::new(TOPIC).with_partition(0).with_value("v"))
                .await?
                .await;
            if matches!(flow, Flow::TransactionOffsets) {
                let group = GroupMetadata {
                    group_id: "fake-group".into(),
                    generation_id: -1,
                    member_id: String::new(),
                    group_instance_id: None,
                };
                let offsets = [(TopicPartition::new(TOPIC, 0), OffsetAndMetadata::new(1))];
                txn.send_offsets(offsets, &group).await?;
            }
            // A failed record is reported on its own future; the commit must then fail
            // too (with the transaction error the test expects). A commit that succeeds
            // after a failed record surfaces the record's error, which no case expects.
            match (delivered, txn.commit().await) {
                (Err(record), Ok(())) => Err(record),
                (_, committed) => committed,
            }
        }
        Flow::Group => {
            let c = Consumer::builder()
                .client(client(bootstrap))
                .group_id("fake-group")
                .enable_auto_commit(false)
                .heartbeat_interval(Duration::from_millis(100))
                .session_timeout(Duration::from_secs(6))
                .fetch_max_wait(Duration::from_millis(50))
                .build()?;
            c.subscribe([TOPIC])?;
            let started = tokio::time::Instant::now();
            // Assigned, and through a few heartbeats.
            while c.assignment().len() < 2 || started.elapsed() < Duration::from_millis(800) {
                c.poll(Duration::from_millis(100)).await?;
            }
            let offsets: BTreeMap<TopicPartition, OffsetAndMetadata> =
                [(TopicPartition::new(TOPIC, 0), OffsetAndMetadata::new(1))].into();
            c.commit_offsets(offsets).await?;
            c.close().await
        }
        Flow::Fetch => {
            let c = Consumer::builder()
                .client(client(bootstrap))
                .auto_offset_reset(AutoOffsetReset::Earliest)
                .fetch_max_wait(Duration::from_millis(50))
                .build()?;
            c.assign([TopicPartition::new(TOPIC, 0)])?;
            loop {
                let batch = c.poll(Duration::from_millis(100)).await?;
                if let Some(e) = batch.errors().first() {
                    return Err(e.error.clone());
                }
                if !batch.is_empty() {
                    return c.close().await;
                }
            }
        }
    }
}

/// Runs one case on its own fake broker; `Err` describes a wrong outcome.
async fn run_case(c: &Case) -> Result<(), String> {
    let served = Arc::new(AtomicU32::new(0));
    let (api, code, count) = (c.api, c.code.code(), c.count);
    let hits = served.clone();
    let script = Arc::new(move |r: &Req| {
        if r.api == api && hits.fetch_add(1, Ordering::SeqCst) < count {
            return Some(error_answer(r, code));
        }
        (r.api == ApiKey::Fetch).then(|| frame(r, &fetch(r, one_record)))
    });
    let broker = FakeBroker::start(script).await;
    let outcome = bounded(run_flow(c.flow, &broker.bootstrap)).await;
    let served = served.load(Ordering::SeqCst).min(count);
    if served < count {
        return Err(format!(
            "served {served} of {count}: the flow never sent it"
        ));
    }
    let Some(outcome) = outcome else {
        return Err("no outcome within 30 s (hang)".into());
    };
    match (c.expect, outcome) {
        (Expect::Recovers, Ok(())) => Ok(()),
        (Expect::FailsWithCode, Err(e)) if e.code() == Some(c.code) => Ok(()),
        (Expect::Txn(kind), Err(Error::Transaction { kind: k, .. })) if k == kind => Ok(()),
        (want, got) => Err(format!("wanted {want:?}, got {got:?}")),
    }
}

async fn bounded<T>(f: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(Duration::from_secs(30), f).await.ok()
}

async fn run_all(cases: &[Case]) {
    let mut wrong = Vec::new();
    for c in cases {
        if let Err(why) = run_case(c).await {
            wrong.push(format!(
                "{:?} {:?} {} x{}: {why}",
                c.flow, c.api, c.code, c.count
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} cases wrong:\n{}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
}

use Expect::{FailsWithCode, Recovers, Txn};
use TransactionErrorKind::{Abortable, Fatal};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_codes() {
    use Flow::Produce as F;
    run_all(&[
        case(
            F,
            ApiKey::Produce,
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::NOT_ENOUGH_REPLICAS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::KAFKA_STORAGE_ERROR,
            2,
            Recovers,
        ),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_produce_codes() {
    use Flow::Idempotent as F;
    run_all(&[
        case(
            F,
            ApiKey::InitProducerId,
            ErrorCode::NOT_COORDINATOR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::InitProducerId,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::NOT_ENOUGH_REPLICAS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::KAFKA_STORAGE_ERROR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::UNKNOWN_PRODUCER_ID,
            1,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            1,
            FailsWithCode,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::INVALID_PRODUCER_EPOCH,
            1,
            FailsWithCode,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::PRODUCER_FENCED,
            1,
            FailsWithCode,
        ),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_codes() {
    use Flow::Transaction as F;
    run_all(&[
        case(
            F,
            ApiKey::FindCoordinator,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::InitProducerId,
            ErrorCode::NOT_COORDINATOR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::InitProducerId,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::InitProducerId,
            ErrorCode::CONCURRENT_TRANSACTIONS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::AddPartitionsToTxn,
            ErrorCode::NOT_COORDINATOR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::AddPartitionsToTxn,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::AddPartitionsToTxn,
            ErrorCode::CONCURRENT_TRANSACTIONS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::AddPartitionsToTxn,
            ErrorCode::TRANSACTION_ABORTABLE,
            1,
            Txn(Abortable),
        ),
        case(
            F,
            ApiKey::AddPartitionsToTxn,
            ErrorCode::PRODUCER_FENCED,
            1,
            Txn(Fatal),
        ),
        case(
            F,
            ApiKey::AddPartitionsToTxn,
            ErrorCode::INVALID_PRODUCER_EPOCH,
            1,
            Txn(Fatal),
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::NOT_ENOUGH_REPLICAS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::KAFKA_STORAGE_ERROR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::TRANSACTION_ABORTABLE,
            1,
            Txn(Abortable),
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::INVALID_PRODUCER_EPOCH,
            1,
            Txn(Abortable),
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::OUT_OF_ORDER_SEQUENCE_NUMBER,
            1,
            Txn(Abortable),
        ),
        case(
            F,
            ApiKey::Produce,
            ErrorCode::PRODUCER_FENCED,
            1,
            Txn(Fatal),
        ),
        case(F, ApiKey::EndTxn, ErrorCode::NOT_COORDINATOR, 2, Recovers),
        case(
            F,
            ApiKey::EndTxn,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::EndTxn,
            ErrorCode::CONCURRENT_TRANSACTIONS,
            2,
            Recovers,
        ),
        case(F, ApiKey::EndTxn, ErrorCode::PRODUCER_FENCED, 1, Txn(Fatal)),
        case(
            F,
            ApiKey::EndTxn,
            ErrorCode::INVALID_PRODUCER_EPOCH,
            1,
            Txn(Fatal),
        ),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_offset_codes() {
    use Flow::TransactionOffsets as F;
    run_all(&[
        case(
            F,
            ApiKey::AddOffsetsToTxn,
            ErrorCode::NOT_COORDINATOR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::AddOffsetsToTxn,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::AddOffsetsToTxn,
            ErrorCode::CONCURRENT_TRANSACTIONS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::AddOffsetsToTxn,
            ErrorCode::TRANSACTION_ABORTABLE,
            1,
            Txn(Abortable),
        ),
        case(
            F,
            ApiKey::AddOffsetsToTxn,
            ErrorCode::PRODUCER_FENCED,
            1,
            Txn(Fatal),
        ),
        case(
            F,
            ApiKey::TxnOffsetCommit,
            ErrorCode::NOT_COORDINATOR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::TxnOffsetCommit,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::TxnOffsetCommit,
            ErrorCode::TRANSACTION_ABORTABLE,
            1,
            Txn(Abortable),
        ),
        case(
            F,
            ApiKey::TxnOffsetCommit,
            ErrorCode::PRODUCER_FENCED,
            1,
            Txn(Fatal),
        ),
        case(
            F,
            ApiKey::TxnOffsetCommit,
            ErrorCode::INVALID_PRODUCER_EPOCH,
            1,
            Txn(Fatal),
        ),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_codes() {
    use Flow::Group as F;
    run_all(&[
        case(
            F,
            ApiKey::FindCoordinator,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::JoinGroup,
            ErrorCode::NOT_COORDINATOR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::JoinGroup,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::JoinGroup,
            ErrorCode::REBALANCE_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::SyncGroup,
            ErrorCode::NOT_COORDINATOR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::SyncGroup,
            ErrorCode::REBALANCE_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Heartbeat,
            ErrorCode::NOT_COORDINATOR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Heartbeat,
            ErrorCode::REBALANCE_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::OffsetFetch,
            ErrorCode::NOT_COORDINATOR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::OffsetFetch,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::OffsetCommit,
            ErrorCode::NOT_COORDINATOR,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::OffsetCommit,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            2,
            Recovers,
        ),
    ])
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_codes() {
    use Flow::Fetch as F;
    run_all(&[
        case(
            F,
            ApiKey::Fetch,
            ErrorCode::NOT_LEADER_OR_FOLLOWER,
            2,
            Recovers,
        ),
        case(
            F,
            ApiKey::Fetch,
            ErrorCode::KAFKA_STORAGE_ERROR,
            2,
            Recovers,
        ),
    ])
    .await;
}
