//! A produce run through a leader failure, and its read-back: shared by the plain and
//! the idempotent producer's cluster tests.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::stream::FuturesUnordered;
use kafka_client::producer::{Producer, ProducerRecord};
use kafka_client::{Client, Error};
use kafka_testbed::{KafkaCluster, StopSignal};

use super::produce::fetch_until;

/// How a run ended: record `i`'s acknowledged (partition, offset), and failures by message.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Acknowledged records: index -> (partition, offset).
    pub acked: HashMap<usize, (i32, i64)>,
    /// Failed records, counted by the start of their error message.
    pub failed: BTreeMap<String, usize>,
    /// From the first send to the last outcome.
    pub elapsed: Duration,
}

/// Sends `n` records (value `i`, key `k{i % keys}`) to `topic`, SIGKILLing node `victim`
/// at `n / 4` and, with `restart`, restarting it at `n / 2`; the load is spread over a few
/// seconds so the kill lands mid-stream. Every failure must be typed.
#[allow(clippy::too_many_arguments)]
pub async fn produce_through_kill(
    cluster: &KafkaCluster,
    p: &Producer,
    topic: &str,
    n: usize,
    keys: usize,
    victim: i32,
    restart: bool,
) -> Outcome {
    let mut pending = FuturesUnordered::new();
    let started = Instant::now();
    for i in 0..n {
        if i == n / 4 {
            cluster
                .stop_node(victim, StopSignal::Kill)
                .expect("kill leader");
        }
        if restart && i == n / 2 {
            cluster.restart_node(victim).expect("restart");
        }
        let r = ProducerRecord::new(topic)
            .with_key(format!("k{}", i % keys))
            .with_value(format!("{i}"));
        let f = p.send(r).await.expect("queued");
        pending.push(async move { (i, f.await) });
        if i.is_multiple_of(500) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let mut out = Outcome::default();
    while let Some((i, res)) = pending.next().await {
        match res {
            Ok(m) => {
                out.acked.insert(i, (m.partition, m.offset));
            }
            Err(e) => {
                // Typed: a delivery timeout or a broker error, never something untyped.
                assert!(
                    matches!(
                        e,
                        Error::DeliveryTimeout { .. }
                            | Error::Broker { .. }
                            | Error::PossiblyPersisted { .. }
                    ),
                    "record {i}: {e:?}"
                );
                *out.failed
                    .entry(format!("{e}").chars().take(70).collect())
                    .or_default() += 1;
            }
        }
    }
    out.elapsed = started.elapsed();
    out
}

/// Every record of `topic`'s `partitions` as (partition, offset, value index), read at
/// least up to the last acknowledged offset of each partition (a new leader's high
/// watermark can lag for a moment after the kill).
pub async fn read_back(
    client: &Client,
    topic: &str,
    partitions: i32,
    acked: &HashMap<usize, (i32, i64)>,
) -> Vec<(i32, i64, usize)> {
    let mut out = Vec::new();
    for partition in 0..partitions {
        let end = acked
            .values()
            .filter(|(p, _)| *p == partition)
            .map(|(_, o)| o + 1)
            .max()
            .unwrap_or(0);
        for r in fetch_until(client, topic, partition, end).await.0 {
            let i: usize = std::str::from_utf8(r.value.as_deref().unwrap())
                .unwrap()
                .parse()
                .unwrap();
            out.push((partition, r.offset, i));
        }
    }
    out
}
