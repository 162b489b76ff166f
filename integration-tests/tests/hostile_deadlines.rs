//! Deadlines against hostile servers (issue #16, "a deadline is overshot"): the
//! quickstart's 60 s CreateTopics failed after 88-89 s because a 30 s bootstrap attempt
//! started just before its deadline ran past it. Here every client keeps the Java
//! defaults' long waits (30 s request, 10 s connect, 60 s API timeout) and each call
//! has a 3 s timeout: it must end by 3 s plus the documented slack (`docs/DESIGN.md`,
//! "Deadlines") with a typed deadline error whose cause is the last real fault.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use kafka_admin::{
    Admin, CreateTopicsOptions, ListGroupsOptions, ListOffsetsOptions, NewTopic, OffsetSpec,
    TopicPartition,
};
use kafka_client::consumer::Consumer;
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Client, Error};
use kafka_protocol::messages::ApiKey;
use kafka_testkit::raw::{FakeBroker, Req, Script, TOPIC};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// The call's timeout.
const TIMEOUT: Duration = Duration::from_secs(3);
/// Scheduling slack the tests allow on a loaded 2-core machine (the design's bound is
/// the deadline itself; nothing the call starts is waited out past it).
const SLACK: Duration = Duration::from_secs(1);

fn script(f: impl Fn(&Req) -> Option<Vec<u8>> + Send + Sync + 'static) -> Script {
    Arc::new(f)
}

/// Takes connections and never reads or writes a byte.
async fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let held = Arc::new(Mutex::new(Vec::new()));
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            held.lock().unwrap().push(sock);
        }
    });
    addr
}

/// Completes the handshake, then never answers `api` (a slow-loris broker).
async fn silent_on(api: ApiKey) -> String {
    let s = script(move |r| (r.api == api).then(Vec::new));
    FakeBroker::start(s).await.unwrap().bootstrap
}

/// Answers every Metadata request with a negative frame length.
async fn garbage_metadata() -> String {
    let s = script(|r| (r.api == ApiKey::Metadata).then(|| (-5i32).to_be_bytes().to_vec()));
    FakeBroker::start(s).await.unwrap().bootstrap
}

/// A client with the Java defaults' long waits.
fn client(bootstrap: &str) -> Client {
    Client::builder()
        .bootstrap_servers([bootstrap])
        .request_timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .api_timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// Checks the call ended by its deadline with a typed deadline error whose cause
/// contains `cause`; returns the error's text.
fn ended_by_the_deadline<T: std::fmt::Debug>(
    started: Instant,
    outcome: kafka_client::Result<T>,
    cause: &str,
) -> String {
    let elapsed = started.elapsed();
    let err = outcome.expect_err("a hostile server satisfied the call");
    assert!(
        elapsed <= TIMEOUT + SLACK,
        "ended {elapsed:?} after the start, past {TIMEOUT:?} + {SLACK:?}: {err}"
    );
    let Error::Deadline {
        timeout,
        last_error,
        ..
    } = &err
    else {
        panic!("expected a Deadline error, got {err:?}");
    };
    assert!(*timeout <= TIMEOUT, "{err}");
    let last = last_error.as_deref().map(ToString::to_string);
    assert!(
        last.as_deref().is_some_and(|l| l.contains(cause)),
        "the cause should name {cause:?}: {err}"
    );
    eprintln!("after {elapsed:?}: {err}");
    err.to_string()
}

fn create_one() -> (Vec<NewTopic>, CreateTopicsOptions) {
    (
        vec![NewTopic::new("t").partitions(1)],
        CreateTopicsOptions::default().timeout(TIMEOUT),
    )
}

#[tokio::test]
async fn hostile_black_hole_bootstrap_create_topics_ends_by_its_deadline() {
    let addr = black_hole().await;
    let admin = Admin::new(client(&addr));
    let (topics, options) = create_one();
    let started = Instant::now();
    let outcome = admin.create_topics(topics, options).await;
    let text = ended_by_the_deadline(started, outcome, "no answer before the deadline");
    assert!(text.contains(&addr), "the address is named: {text}");
}

#[tokio::test]
async fn hostile_slow_loris_metadata_create_topics_ends_by_its_deadline() {
    let addr = silent_on(ApiKey::Metadata).await;
    let admin = Admin::new(client(&addr));
    let (topics, options) = create_one();
    let started = Instant::now();
    let outcome = admin.create_topics(topics, options).await;
    let text = ended_by_the_deadline(started, outcome, "no answer before the deadline");
    assert!(text.contains(&addr), "the address is named: {text}");
}

#[tokio::test]
async fn hostile_garbage_metadata_create_topics_carries_the_protocol_error() {
    let addr = garbage_metadata().await;
    let admin = Admin::new(client(&addr));
    let (topics, options) = create_one();
    let started = Instant::now();
    let outcome = admin.create_topics(topics, options).await;
    ended_by_the_deadline(started, outcome, "below the 4-byte minimum");
}

#[tokio::test]
async fn hostile_black_hole_list_groups_ends_by_its_deadline() {
    let addr = black_hole().await;
    let admin = Admin::new(client(&addr));
    let started = Instant::now();
    let outcome = admin
        .list_groups(ListGroupsOptions::default().timeout(TIMEOUT))
        .await;
    ended_by_the_deadline(started, outcome, &addr);
}

/// Metadata answers; the ListOffsets request to the leader never does (the 30 s
/// request timeout must not hold the 3 s call).
#[tokio::test]
async fn hostile_silent_leader_list_offsets_ends_by_its_deadline() {
    let addr = silent_on(ApiKey::ListOffsets).await;
    let admin = Admin::new(client(&addr));
    let started = Instant::now();
    let outcome = admin
        .list_offsets(
            [(TopicPartition::new(TOPIC, 0), OffsetSpec::Latest)],
            ListOffsetsOptions::default().timeout(TIMEOUT),
        )
        .await;
    let elapsed = started.elapsed();
    // The call as a whole succeeds; the partition's own result is the deadline error.
    let mut results = outcome.expect("per-partition results");
    let err = results
        .remove(&TopicPartition::new(TOPIC, 0))
        .expect("a result for the partition")
        .expect_err("a silent leader answered");
    assert!(elapsed <= TIMEOUT + SLACK, "ended after {elapsed:?}: {err}");
    let Error::Deadline {
        last_error: Some(cause),
        ..
    } = &err
    else {
        panic!("expected a Deadline error with a cause, got {err:?}");
    };
    assert!(
        matches!(**cause, Error::Timeout { .. }) && cause.to_string().contains("ListOffsets"),
        "the cause is the unanswered ListOffsets: {err}"
    );
    eprintln!("after {elapsed:?}: {err}");
}

/// The consumer's lookups run within `default.api.timeout.ms` (3 s here) even though a
/// coordinator lookup and a bootstrap each have their own, longer, waits.
#[tokio::test]
async fn hostile_black_hole_consumer_committed_ends_by_the_api_timeout() {
    let addr = black_hole().await;
    let c = Client::builder()
        .bootstrap_servers([addr.as_str()])
        .request_timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(10))
        .api_timeout(TIMEOUT)
        .build()
        .unwrap();
    let consumer = Consumer::builder().client(c).group_id("g").build().unwrap();
    let started = Instant::now();
    let outcome = consumer
        .committed([kafka_client::TopicPartition::new(TOPIC, 0)])
        .await;
    ended_by_the_deadline(started, outcome, &addr);
    let started = Instant::now();
    let outcome = consumer
        .end_offsets([kafka_client::TopicPartition::new(TOPIC, 0)])
        .await;
    ended_by_the_deadline(started, outcome, &addr);
    consumer.close_with_timeout(TIMEOUT).await.ok();
}

/// The producer's metadata wait ends at `max.block` and names the silent address.
#[tokio::test]
async fn hostile_black_hole_producer_send_ends_by_max_block_with_the_cause() {
    let addr = black_hole().await;
    let p = Producer::builder()
        .bootstrap_servers([addr.as_str()])
        .request_timeout(Duration::from_secs(30))
        .max_block(TIMEOUT)
        .enable_idempotence(false)
        .build()
        .unwrap();
    let started = Instant::now();
    let outcome = p
        .send(ProducerRecord::new(TOPIC).with_partition(0).with_value("v"))
        .await;
    ended_by_the_deadline(started, outcome.map(|_| ()), &addr);
}
