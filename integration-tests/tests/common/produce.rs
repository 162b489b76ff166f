//! Producer test helpers: read partitions back with a raw Fetch (independent of the
//! consumer), run `kcat` as an independent peer, and build producers for tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use kafka_client::lowlevel::ConnectionKind;
use kafka_client::records::{Compression, DecodeLimits, Record, decode_batches};
use kafka_client::{Client, ErrorCode};
use kafka_protocol::messages::fetch_request::{FetchPartition, FetchTopic};
use kafka_protocol::messages::{FetchRequest, TopicName};
use kafka_protocol::protocol::{StrBytes, VersionRange};
use std::io::Write;

/// Every record of `topic`-`partition` from offset 0 up to the high watermark, read with
/// raw Fetch requests and our batch decoder.
pub async fn fetch_all(client: &Client, topic: &str, partition: i32) -> Vec<Record> {
    fetch_until(client, topic, partition, 0).await.0
}

/// Like [`fetch_all`], and goes on until at least offset `end` (exclusive) was read: after
/// a leader change the new leader's high watermark can lag behind what the old leader
/// acknowledged for a moment, so a verifier that knows the last acknowledged offset reads
/// up to it rather than stopping at a momentarily stale high watermark.
pub async fn fetch_until(
    client: &Client,
    topic: &str,
    partition: i32,
    end: i64,
) -> (Vec<Record>, Vec<Compression>) {
    fetch_detailed(client, topic, partition, end).await
}

/// Like [`fetch_all`], also returning the compression of every batch read.
pub async fn fetch_all_detailed(
    client: &Client,
    topic: &str,
    partition: i32,
) -> (Vec<Record>, Vec<Compression>) {
    fetch_detailed(client, topic, partition, 0).await
}

async fn fetch_detailed(
    client: &Client,
    topic: &str,
    partition: i32,
    end: i64,
) -> (Vec<Record>, Vec<Compression>) {
    let mut codecs = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    let mut offset = 0i64;
    loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "fetching {topic}-{partition} took over 60 s (at offset {offset})"
        );
        let (leader, _) = match client.leader(topic, partition).await {
            Ok(l) => l,
            Err(_) => {
                client.invalidate_topic(topic);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let conn = match client.connection(leader, ConnectionKind::Fetch).await {
            Ok(c) => c,
            Err(_) => {
                client.invalidate_topic(topic);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let version = conn
            .negotiate::<FetchRequest>(VersionRange { min: 4, max: 12 })
            .expect("fetch version");
        let req = FetchRequest::default()
            .with_max_wait_ms(100)
            .with_min_bytes(1)
            .with_max_bytes(8 << 20)
            .with_topics(vec![
                FetchTopic::default()
                    .with_topic(TopicName(StrBytes::from_string(topic.to_string())))
                    .with_partitions(vec![
                        FetchPartition::default()
                            .with_partition(partition)
                            .with_fetch_offset(offset)
                            .with_partition_max_bytes(4 << 20),
                    ]),
            ]);
        let resp = match conn
            .request_at(&req, version, Duration::from_secs(10))
            .await
        {
            Ok(r) => r,
            Err(_) => {
                client.invalidate_topic(topic);
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let pd = &resp.responses[0].partitions[0];
        if let Some(code) = ErrorCode::from_code(pd.error_code) {
            assert!(code.is_retriable(), "fetch {topic}-{partition}: {code}");
            client.invalidate_topic(topic);
            tokio::time::sleep(Duration::from_millis(200)).await;
            continue;
        }
        let hw = pd.high_watermark;
        if let Some(bytes) = pd.records.clone() {
            for batch in decode_batches(bytes, DecodeLimits::default()) {
                let batch = batch.expect("batch decodes");
                codecs.push(batch.compression());
                if batch.is_control() {
                    offset = batch.next_offset();
                    continue;
                }
                for r in batch.records_vec().expect("records decode") {
                    if r.offset >= offset {
                        out.push(r);
                    }
                }
                offset = offset.max(batch.next_offset());
            }
        }
        if offset >= hw && offset >= end {
            return (out, codecs);
        }
        if offset >= hw {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// One message as `kcat -C -J` prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KcatMessage {
    pub partition: i32,
    pub offset: i64,
    pub key: Option<String>,
    pub value: Option<String>,
    /// Header key/value pairs in order (`None` for a null value).
    pub headers: Vec<(String, Option<String>)>,
}

/// Reads every message of `topic` with `kcat -C -J -e` (an independent client).
pub async fn kcat_consume(bootstrap: &str, topic: &str) -> Vec<KcatMessage> {
    let args: Vec<String> = [
        "-b",
        bootstrap,
        "-C",
        "-t",
        topic,
        "-o",
        "beginning",
        "-e",
        "-J",
        "-q",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run_kcat(args, None).await;
    assert!(
        out.status.success(),
        "kcat failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).expect("kcat prints UTF-8");
    text.lines()
        .filter(|l| l.trim_start().starts_with('{'))
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("kcat JSON line");
            let s = |k: &str| v.get(k).and_then(|x| x.as_str()).map(str::to_string);
            let headers = v
                .get("headers")
                .and_then(|h| h.as_array())
                .map(|a| {
                    a.chunks(2)
                        .map(|kv| {
                            (
                                kv[0].as_str().unwrap_or_default().to_string(),
                                kv.get(1).and_then(|x| x.as_str()).map(str::to_string),
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            KcatMessage {
                partition: v["partition"].as_i64().expect("partition") as i32,
                offset: v["offset"].as_i64().expect("offset"),
                key: s("key"),
                value: s("payload"),
                headers,
            }
        })
        .collect()
}

/// Produces `key:value` lines with kcat (`-K:`), using `-X partitioner=...`.
pub async fn kcat_produce_keyed(bootstrap: &str, topic: &str, partitioner: &str, lines: &[String]) {
    let mut input = String::new();
    for l in lines {
        input.push_str(l);
        input.push('\n');
    }
    let args: Vec<String> = ["-b", bootstrap, "-P", "-t", topic, "-K:", "-q", "-X"]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("partitioner={partitioner}")])
        .collect();
    let out = run_kcat(args, Some(input.into_bytes())).await;
    assert!(
        out.status.success(),
        "kcat produce failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs kcat with `args` (feeding `stdin` if given) on a blocking thread, up to 60 s.
async fn run_kcat(args: Vec<String>, stdin: Option<Vec<u8>>) -> std::process::Output {
    let run = tokio::task::spawn_blocking(move || {
        let mut child = std::process::Command::new("kcat")
            .args(&args)
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kcat runs");
        if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
            pipe.write_all(&input).expect("write to kcat");
        }
        child.wait_with_output().expect("kcat runs")
    });
    tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("kcat finishes within 60 s")
        .expect("kcat thread")
}

/// Offsets by partition of acknowledged records: checks they are unique and
/// contiguous from 0, and returns the count per partition.
pub fn assert_contiguous(offsets: &BTreeMap<i32, Vec<i64>>) {
    for (p, offs) in offsets {
        let mut sorted = offs.clone();
        sorted.sort_unstable();
        for (i, o) in sorted.iter().enumerate() {
            assert_eq!(
                *o, i as i64,
                "partition {p}: offsets not unique and contiguous at #{i}"
            );
        }
    }
}
