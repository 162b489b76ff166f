//! Helpers for the consumer tests: test data written by `kcat` (the Debian package, so
//! the tests do not depend on our own producer), consumer builders with short
//! timeouts, draining, and a recording rebalance listener.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use kafka_client::consumer::{
    Consumer, ConsumerBuilder, ConsumerRecord, RebalanceListener, TopicPartition,
};

/// Writes `count` records `key-<i>` → `<prefix>-<i>` padded to `value_size` bytes with
/// `kcat -P`, compressed with `codec` (`none`, `gzip`, `snappy`, `lz4`, `zstd`). With
/// `partition`, all go there; otherwise librdkafka's partitioner spreads them by key.
pub fn kcat_produce(
    bootstrap: &str,
    topic: &str,
    codec: &str,
    count: usize,
    start: usize,
    value_size: usize,
    partition: Option<i32>,
) {
    let mut cmd = Command::new("kcat");
    cmd.args(["-b", bootstrap, "-P", "-t", topic, "-z", codec, "-K", "\t"])
        .args(["-X", "linger.ms=20", "-X", "batch.num.messages=10000"])
        .args(["-X", "queue.buffering.max.messages=1000000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(p) = partition {
        cmd.args(["-p", &p.to_string()]);
    }
    let mut child = cmd
        .spawn()
        .expect("kcat is installed (Debian package kcat)");
    {
        let mut stdin = child.stdin.take().expect("stdin");
        let mut buf = Vec::with_capacity(count * (value_size + 16));
        for i in start..start + count {
            let v = format!("v-{i}-");
            let pad = value_size.saturating_sub(v.len());
            write!(buf, "key-{i}\t{v}").unwrap();
            buf.extend(std::iter::repeat_n(b'x', pad));
            buf.push(b'\n');
        }
        stdin.write_all(&buf).expect("write to kcat");
    }
    let out = child.wait_with_output().expect("kcat ran");
    assert!(
        out.status.success(),
        "kcat -P failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The index `i` of a value written by [`kcat_produce`].
pub fn value_index(r: &ConsumerRecord) -> usize {
    let v = r.value.as_deref().expect("value");
    let s = std::str::from_utf8(v).expect("utf-8 value");
    s.split('-')
        .nth(1)
        .and_then(|n| n.parse().ok())
        .expect("v-<i>- value")
}

/// A consumer builder with test-friendly timeouts.
pub fn consumer(bootstrap: &str) -> ConsumerBuilder {
    Consumer::builder()
        .client(super::client(bootstrap))
        .fetch_max_wait(Duration::from_millis(200))
        .session_timeout(Duration::from_secs(10))
        .heartbeat_interval(Duration::from_millis(500))
        .max_poll_interval(Duration::from_secs(30))
        .auto_commit_interval(Duration::from_millis(500))
}

/// Waits (checking every 100 ms) until `f` holds, panicking after `timeout`.
pub async fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls until `count` records came (or `timeout`), panicking on any error.
pub async fn drain(c: &Consumer, count: usize, timeout: Duration) -> Vec<ConsumerRecord> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut out = Vec::with_capacity(count);
    while out.len() < count {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {count} records within {timeout:?}",
            out.len()
        );
        let batch = c.poll(Duration::from_millis(500)).await.expect("poll");
        let (records, errors) = batch.into_parts();
        assert!(errors.is_empty(), "partition errors: {errors:?}");
        out.extend(records);
    }
    out
}

/// What a [`Recorder`] saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `assigned`.
    Assigned(Vec<TopicPartition>),
    /// `revoked`.
    Revoked(Vec<TopicPartition>),
    /// `lost`.
    Lost(Vec<TopicPartition>),
}

/// A listener that records its callbacks and keeps the set of partitions it owns.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Every callback, in order.
    pub events: Mutex<Vec<Event>>,
    /// Partitions owned now.
    pub owned: Mutex<BTreeSet<TopicPartition>>,
}

impl Recorder {
    /// A shared recorder.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Partitions owned now.
    pub fn owned(&self) -> BTreeSet<TopicPartition> {
        self.owned.lock().unwrap().clone()
    }
    /// The callbacks so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

impl RebalanceListener for Recorder {
    fn assigned(&self, _c: Consumer, parts: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        self.owned.lock().unwrap().extend(parts.iter().cloned());
        self.events.lock().unwrap().push(Event::Assigned(parts));
        Box::pin(async {})
    }
    fn revoked(&self, _c: Consumer, parts: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        let mut owned = self.owned.lock().unwrap();
        for p in &parts {
            owned.remove(p);
        }
        self.events.lock().unwrap().push(Event::Revoked(parts));
        Box::pin(async {})
    }
    fn lost(&self, _c: Consumer, parts: Vec<TopicPartition>) -> BoxFuture<'static, ()> {
        let mut owned = self.owned.lock().unwrap();
        for p in &parts {
            owned.remove(p);
        }
        self.events.lock().unwrap().push(Event::Lost(parts));
        Box::pin(async {})
    }
}
