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
use kafka_client::TransactionErrorKind;
use kafka_client::consumer::{
    AutoOffsetReset, Consumer, GroupMetadata, OffsetAndMetadata, TopicPartition,
};
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::records::{BatchBuilder, BatchMeta, Compression};
use kafka_client::{Client, Error, ErrorCode};
use kafka_protocol::messages::ApiKey;
use kafka_testkit::raw::error_answer;
use kafka_testkit::raw::{FakeBroker, Req, TOPIC, fetch, frame};

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

/// One case: the request type, the code it is answered with, how many times, and the
/// outcome the flow must end in.
type Case = (ApiKey, ErrorCode, u32, Expect);

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
async fn run_case(flow: Flow, &(api, error, count, expect): &Case) -> Result<(), String> {
    let served = Arc::new(AtomicU32::new(0));
    let code = error.code();
    let hits = served.clone();
    let script = Arc::new(move |r: &Req| {
        if r.api == api && hits.fetch_add(1, Ordering::SeqCst) < count {
            return Some(error_answer(r, code));
        }
        (r.api == ApiKey::Fetch).then(|| frame(r, &fetch(r, one_record)))
    });
    let broker = FakeBroker::start(script).await.unwrap();
    let outcome = bounded(run_flow(flow, &broker.bootstrap)).await;
    let served = served.load(Ordering::SeqCst).min(count);
    if served < count {
        return Err(format!(
            "served {served} of {count}: the flow never sent it"
        ));
    }
    let Some(outcome) = outcome else {
        return Err("no outcome within 30 s (hang)".into());
    };
    match (expect, outcome) {
        (Expect::Recovers, Ok(())) => Ok(()),
        (Expect::FailsWithCode, Err(e)) if e.code() == Some(error) => Ok(()),
        (Expect::Txn(kind), Err(Error::Transaction { kind: k, .. })) if k == kind => Ok(()),
        (want, got) => Err(format!("wanted {want:?}, got {got:?}")),
    }
}

async fn bounded<T>(f: impl Future<Output = T>) -> Option<T> {
    tokio::time::timeout(Duration::from_secs(30), f).await.ok()
}

async fn run_all(flow: Flow, cases: &[Case]) {
    let mut wrong = Vec::new();
    for c in cases {
        if let Err(why) = run_case(flow, c).await {
            wrong.push(format!("{flow:?} {:?} {} x{}: {why}", c.0, c.1, c.2));
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

use ApiKey as A;
use ErrorCode as E;
use Expect::{FailsWithCode, Recovers, Txn};
use TransactionErrorKind::{Abortable, Fatal};

/// Codes a partition leader answers that a retry resolves.
const LEADER_RETRIABLE: [ErrorCode; 4] = [
    E::NOT_LEADER_OR_FOLLOWER,
    E::NOT_ENOUGH_REPLICAS,
    E::NOT_ENOUGH_REPLICAS_AFTER_APPEND,
    E::KAFKA_STORAGE_ERROR,
];

/// Codes a coordinator answers that a retry (after a new lookup) resolves.
const COORDINATOR_RETRIABLE: [ErrorCode; 3] = [
    E::NOT_COORDINATOR,
    E::COORDINATOR_LOAD_IN_PROGRESS,
    E::CONCURRENT_TRANSACTIONS,
];

/// `api` answered twice with each of `codes`, recovering each time.
fn recovers(api: ApiKey, codes: &[ErrorCode]) -> impl Iterator<Item = Case> + '_ {
    codes.iter().map(move |&code| (api, code, 2, Recovers))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_codes() {
    let cases: Vec<Case> = recovers(A::Produce, &LEADER_RETRIABLE).collect();
    run_all(Flow::Produce, &cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_produce_codes() {
    let mut cases: Vec<Case> = recovers(A::InitProducerId, &COORDINATOR_RETRIABLE[..2])
        .chain(recovers(A::Produce, &LEADER_RETRIABLE))
        .collect();
    cases.extend([
        (A::Produce, E::UNKNOWN_PRODUCER_ID, 1, Recovers),
        (
            A::Produce,
            E::OUT_OF_ORDER_SEQUENCE_NUMBER,
            1,
            FailsWithCode,
        ),
        (A::Produce, E::INVALID_PRODUCER_EPOCH, 1, FailsWithCode),
        (A::Produce, E::PRODUCER_FENCED, 1, FailsWithCode),
    ]);
    run_all(Flow::Idempotent, &cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_codes() {
    let mut cases: Vec<Case> = recovers(A::FindCoordinator, &COORDINATOR_RETRIABLE[1..2])
        .chain(recovers(A::InitProducerId, &COORDINATOR_RETRIABLE))
        .chain(recovers(A::AddPartitionsToTxn, &COORDINATOR_RETRIABLE))
        .chain(recovers(A::Produce, &LEADER_RETRIABLE))
        .chain(recovers(A::EndTxn, &COORDINATOR_RETRIABLE))
        .collect();
    cases.extend([
        (
            A::AddPartitionsToTxn,
            E::TRANSACTION_ABORTABLE,
            1,
            Txn(Abortable),
        ),
        (A::AddPartitionsToTxn, E::PRODUCER_FENCED, 1, Txn(Fatal)),
        (
            A::AddPartitionsToTxn,
            E::INVALID_PRODUCER_EPOCH,
            1,
            Txn(Fatal),
        ),
        (A::Produce, E::TRANSACTION_ABORTABLE, 1, Txn(Abortable)),
        (A::Produce, E::INVALID_PRODUCER_EPOCH, 1, Txn(Abortable)),
        (
            A::Produce,
            E::OUT_OF_ORDER_SEQUENCE_NUMBER,
            1,
            Txn(Abortable),
        ),
        (A::Produce, E::PRODUCER_FENCED, 1, Txn(Fatal)),
        (A::EndTxn, E::PRODUCER_FENCED, 1, Txn(Fatal)),
        (A::EndTxn, E::INVALID_PRODUCER_EPOCH, 1, Txn(Fatal)),
    ]);
    run_all(Flow::Transaction, &cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transaction_offset_codes() {
    let mut cases: Vec<Case> = recovers(A::AddOffsetsToTxn, &COORDINATOR_RETRIABLE)
        .chain(recovers(A::TxnOffsetCommit, &COORDINATOR_RETRIABLE[..2]))
        .collect();
    cases.extend([
        (
            A::AddOffsetsToTxn,
            E::TRANSACTION_ABORTABLE,
            1,
            Txn(Abortable),
        ),
        (A::AddOffsetsToTxn, E::PRODUCER_FENCED, 1, Txn(Fatal)),
        (
            A::TxnOffsetCommit,
            E::TRANSACTION_ABORTABLE,
            1,
            Txn(Abortable),
        ),
        (A::TxnOffsetCommit, E::PRODUCER_FENCED, 1, Txn(Fatal)),
        (A::TxnOffsetCommit, E::INVALID_PRODUCER_EPOCH, 1, Txn(Fatal)),
    ]);
    run_all(Flow::TransactionOffsets, &cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_codes() {
    let group_retriable = [E::NOT_COORDINATOR, E::REBALANCE_IN_PROGRESS];
    let cases: Vec<Case> = recovers(A::FindCoordinator, &COORDINATOR_RETRIABLE[1..2])
        .chain(recovers(A::JoinGroup, &COORDINATOR_RETRIABLE[..2]))
        .chain(recovers(A::JoinGroup, &group_retriable[1..]))
        .chain(recovers(A::SyncGroup, &group_retriable))
        .chain(recovers(A::Heartbeat, &group_retriable))
        .chain(recovers(A::OffsetFetch, &COORDINATOR_RETRIABLE[..2]))
        .chain(recovers(A::OffsetCommit, &COORDINATOR_RETRIABLE[..2]))
        .collect();
    run_all(Flow::Group, &cases).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_codes() {
    let codes = [E::NOT_LEADER_OR_FOLLOWER, E::KAFKA_STORAGE_ERROR];
    let cases: Vec<Case> = recovers(A::Fetch, &codes).collect();
    run_all(Flow::Fetch, &cases).await;
}
