//! Metrics, statistics, hooks and throttling against the real broker:
//! - the `metrics` example serves Prometheus text over HTTP; scraped, its counters equal
//!   the records produced and consumed;
//! - `Producer::stats()` / `Consumer::stats()` and a `Hooks` implementation see the same
//!   figures;
//! - a client-id quota makes the broker throttle: the throttle is reported (stats, hook).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use kafka_client::consumer::TopicPartition;
use kafka_client::lowlevel::Target;
use kafka_client::observe::{
    BatchFetched, BatchProduced, ConnectEvent, Hooks, RequestWritten, ResponseRead, ThrottleEvent,
};
use kafka_client::{ClientBuilder, Consumer, Producer, ProducerRecord};
use kafka_protocol::messages::AlterClientQuotasRequest;
use kafka_protocol::messages::alter_client_quotas_request::{EntityData, EntryData, OpData};
use kafka_protocol::protocol::StrBytes;

/// A free loopback port (bound, then released for the child to take).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// GET http://127.0.0.1:port/metrics with a plain HTTP/1.0 request.
fn scrape(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to the exporter");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(b"GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .expect("send GET");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read response");
    assert!(out.starts_with("HTTP/1."), "not HTTP: {out:.200}");
    assert!(out.contains(" 200 "), "status: {out:.200}");
    out
}

/// Sum of every sample of `name` (any labels), or None when absent.
fn sample_sum(text: &str, name: &str) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((key, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let metric = key.split('{').next().unwrap_or(key);
        if metric == name {
            let v: f64 = value.parse().expect("numeric sample");
            *found.get_or_insert(0.0) += v;
        }
    }
    found
}

#[test]
fn metrics_example_is_scraped_and_counters_match_records_sent() {
    let bootstrap = kafka_testbed::shared_cluster().bootstrap_servers();
    let port = free_port();
    let topic = common::unique_topic("metrics-example");
    const N: usize = 750;
    let mut child = Command::new(common::example_bin::example_path("metrics"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .args(["--records", &N.to_string(), "--topic", &topic])
        .args(["--hold-secs", "120"])
        .env("KAFKA_BOOTSTRAP_SERVERS", &bootstrap)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the metrics example");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut transcript = String::new();
    let ready = loop {
        match lines.next() {
            Some(Ok(line)) => {
                transcript.push_str(&line);
                transcript.push('\n');
                if line.contains("metrics at http://") {
                    break true;
                }
            }
            _ => break false,
        }
    };
    let text = ready.then(|| scrape(port));
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        ready,
        "the example ended before serving metrics:\n{transcript}"
    );
    let text = text.expect("scraped");
    let n = N as f64;
    let get = |name: &str| {
        sample_sum(&text, name).unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
    };
    assert_eq!(get("kafka_producer_records_sent_total"), n);
    assert_eq!(get("kafka_producer_records_acked_total"), n);
    assert_eq!(
        sample_sum(&text, "kafka_producer_records_failed_total").unwrap_or(0.0),
        0.0
    );
    assert_eq!(get("kafka_consumer_records_fetched_total"), n);
    assert!(
        get("kafka_producer_bytes_sent_total") > n,
        "at least a byte per record"
    );
    assert!(get("kafka_consumer_bytes_fetched_total") > n);
    assert!(get("kafka_client_connections_opened_total") >= 2.0);
    assert_eq!(get("kafka_client_requests_in_flight"), 0.0, "all answered");
    // Request counts and latency by API and broker.
    assert!(
        text.lines()
            .any(|l| l.starts_with("kafka_client_requests_total{")
                && l.contains("api=\"Produce\"")
                && l.contains("broker=\"")),
        "no Produce request count with a broker label:\n{text}"
    );
    assert!(
        text.contains("kafka_client_request_latency_seconds"),
        "{text}"
    );
    assert!(
        text.contains("kafka_consumer_fetch_latency_seconds"),
        "{text}"
    );
    assert!(text.contains("kafka_consumer_lag{"), "{text}");
    // The stats printed by the example agree with the scrape.
    assert!(
        transcript.contains(&format!("records_acked: {N},")),
        "{transcript}"
    );
}

#[derive(Default)]
struct CountingHooks {
    connects: AtomicU64,
    written: AtomicU64,
    read: AtomicU64,
    produced_records: AtomicU64,
    fetched_bytes: AtomicU64,
    throttles: AtomicU64,
    throttle_ms: AtomicU64,
}

impl Hooks for CountingHooks {
    fn on_connect(&self, e: &ConnectEvent<'_>) {
        assert!(!e.broker.address.is_empty());
        self.connects.fetch_add(1, Ordering::Relaxed);
    }
    fn on_request_written(&self, e: &RequestWritten<'_>) {
        assert!(e.bytes > 8 && e.version >= 0 && e.correlation_id >= 0);
        self.written.fetch_add(1, Ordering::Relaxed);
    }
    fn on_response_read(&self, e: &ResponseRead<'_>) {
        assert!(e.bytes >= 8);
        self.read.fetch_add(1, Ordering::Relaxed);
    }
    fn on_batch_produced(&self, e: &BatchProduced<'_>) {
        assert!(e.base_offset >= 0 && e.bytes > 0);
        self.produced_records
            .fetch_add(u64::from(e.records), Ordering::Relaxed);
    }
    fn on_batch_fetched(&self, e: &BatchFetched<'_>) {
        self.fetched_bytes
            .fetch_add(e.bytes as u64, Ordering::Relaxed);
    }
    fn on_throttle(&self, e: &ThrottleEvent<'_>) {
        self.throttles.fetch_add(1, Ordering::Relaxed);
        self.throttle_ms
            .fetch_add(e.throttle.as_millis() as u64, Ordering::Relaxed);
    }
}

fn client_builder(bootstrap: &str, client_id: &str, hooks: Arc<CountingHooks>) -> ClientBuilder {
    ClientBuilder::new()
        .bootstrap_servers([bootstrap])
        .client_id(client_id)
        .request_timeout(Duration::from_secs(30))
        .hooks(hooks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_and_hooks_see_every_record() {
    let bootstrap = kafka_testbed::shared_cluster().bootstrap_servers();
    let admin_client = common::client(&bootstrap);
    let topic = common::unique_topic("stats");
    common::create_topic(&admin_client, &topic, 2, 1).await;
    let hooks = Arc::new(CountingHooks::default());
    let client = client_builder(&bootstrap, "stats-test", hooks.clone())
        .build()
        .expect("client");
    let producer = Producer::builder()
        .client(client.clone())
        .linger(Duration::from_millis(5))
        .build()
        .expect("producer");
    const N: u64 = 400;
    let mut futures = Vec::new();
    for i in 0..N {
        let r = ProducerRecord::new(topic.as_str())
            .with_key(format!("k{i}"))
            .with_value(vec![b'x'; 100]);
        futures.push(producer.send(r).await.expect("queued"));
    }
    for f in futures {
        f.await.expect("delivered");
    }
    let ps = producer.stats();
    // `create_topic` waits until each leader answers for its partitions, so no Produce
    // is retried and every record is sent once.
    assert_eq!(ps.retries, 0, "{ps:?}");
    assert_eq!(ps.records_sent, N, "{ps:?}");
    assert_eq!(ps.records_acked, N, "{ps:?}");
    assert_eq!(ps.records_failed, 0);
    assert!(ps.bytes_sent >= N * 100, "{ps:?}");
    assert!(ps.batches_sent >= 2 && ps.produce_requests >= 1, "{ps:?}");
    assert!(ps.buffer_memory_capacity > 0);
    // Acknowledged records give their memory back; what stays reserved is at most the
    // open batches' share (one per partition).
    assert!(ps.buffer_memory_in_use < 2 * 16384, "{ps:?}");
    assert!(ps.network.requests >= ps.produce_requests);
    assert_eq!(ps.network.requests_in_flight, 0);
    assert_eq!(hooks.produced_records.load(Ordering::Relaxed), N);
    producer
        .close(Duration::from_secs(10))
        .await
        .expect("close");

    let consumer = Consumer::builder()
        .client(client.clone())
        .build()
        .expect("consumer");
    let tps = [
        TopicPartition::new(topic.as_str(), 0),
        TopicPartition::new(topic.as_str(), 1),
    ];
    consumer.assign(tps.clone()).expect("assign");
    consumer.seek_to_beginning(tps.clone()).expect("seek");
    let mut got = 0u64;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got < N && tokio::time::Instant::now() < deadline {
        got += consumer
            .poll(Duration::from_millis(500))
            .await
            .expect("poll")
            .len() as u64;
    }
    assert_eq!(got, N);
    let cs = consumer.stats();
    assert_eq!(cs.records_fetched, N, "{cs:?}");
    assert!(cs.bytes_fetched >= N * 100, "{cs:?}");
    assert!(cs.fetch_requests >= 1 && !cs.fetch_latency_total.is_zero());
    assert_eq!(
        hooks.fetched_bytes.load(Ordering::Relaxed),
        cs.bytes_fetched
    );
    let lag: BTreeMap<_, _> = cs.lag.clone();
    assert_eq!(lag.len(), 2, "{cs:?}");
    assert!(lag.values().all(|&l| l == 0), "caught up: {lag:?}");
    assert_eq!(cs.rebalances, 0, "no group");
    assert!(hooks.connects.load(Ordering::Relaxed) >= 2);
    let (w, r) = (
        hooks.written.load(Ordering::Relaxed),
        hooks.read.load(Ordering::Relaxed),
    );
    assert!(
        w >= cs.network.requests.min(1) && r >= 1,
        "written {w}, read {r}"
    );
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_throttle_is_honoured_and_reported() {
    let bootstrap = kafka_testbed::shared_cluster().bootstrap_servers();
    let admin_client = common::client(&bootstrap);
    let topic = common::unique_topic("throttle");
    common::create_topic(&admin_client, &topic, 1, 1).await;
    let client_id = common::unique_topic("throttled-client");
    // A client-id quota of 16 KiB/s for producing.
    let req = AlterClientQuotasRequest::default().with_entries(vec![
        EntryData::default()
            .with_entity(vec![
                EntityData::default()
                    .with_entity_type(StrBytes::from_static_str("client-id"))
                    .with_entity_name(Some(StrBytes::from_string(client_id.clone()))),
            ])
            .with_ops(vec![
                OpData::default()
                    .with_key(StrBytes::from_static_str("producer_byte_rate"))
                    .with_value(16384.0),
            ]),
    ]);
    let resp = admin_client
        .send(Target::Any, &req)
        .await
        .expect("AlterClientQuotas");
    assert!(
        resp.entries.iter().all(|e| e.error_code == 0),
        "{:?}",
        resp.entries
    );
    // Quotas reach the brokers through the metadata log: give it a moment.
    tokio::time::sleep(Duration::from_secs(2)).await;

    let hooks = Arc::new(CountingHooks::default());
    let client = client_builder(&bootstrap, &client_id, hooks.clone())
        .build()
        .expect("client");
    let producer = Producer::builder()
        .client(client.clone())
        .linger(Duration::from_millis(5))
        .build()
        .expect("producer");
    // Bursts of 160 KiB, far above the quota's rate, until the broker throttles (the
    // quota reaches the broker through the metadata log, so the first bursts may pass).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut sent = 0u64;
    while client.stats().throttled_responses == 0 && tokio::time::Instant::now() < deadline {
        let mut futures = Vec::new();
        for _ in 0..40 {
            let r = ProducerRecord::new(topic.as_str()).with_value(vec![b'q'; 4096]);
            futures.push(producer.send(r).await.expect("queued"));
        }
        for f in futures {
            f.await.expect("delivered despite throttling");
        }
        sent += 40;
    }
    let ps = producer.stats();
    assert_eq!(ps.records_acked, sent);
    let net = client.stats();
    assert!(net.throttled_responses >= 1, "never throttled: {net:?}");
    assert!(!net.throttle_time_total.is_zero());
    assert!(hooks.throttles.load(Ordering::Relaxed) >= 1);
    assert_eq!(
        hooks.throttle_ms.load(Ordering::Relaxed),
        net.throttle_time_total.as_millis() as u64,
        "hook and stats agree"
    );
    producer
        .close(Duration::from_secs(30))
        .await
        .expect("close");
}
