//! Reads a whole topic back on the direct listeners, for the verifiers.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_client::consumer::{AutoOffsetReset, Consumer, IsolationLevel, TopicPartition};

use super::Env;

/// One record as found in the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogRecord {
    /// Offset.
    pub offset: i64,
    /// The value as text (the workloads write UTF-8 values).
    pub value: String,
}

/// Every record of `topic` (partitions `0..partitions`), per partition in log order,
/// read with an assigned consumer on the direct listeners from offset 0 to the end
/// offsets taken at the start. Fails after `timeout`.
pub async fn read_back(
    env: &Env,
    topic: &str,
    partitions: i32,
    timeout: Duration,
) -> Result<BTreeMap<i32, Vec<LogRecord>>, String> {
    read_back_until(
        env,
        topic,
        partitions,
        timeout,
        IsolationLevel::ReadUncommitted,
        &BTreeMap::new(),
    )
    .await
}

/// As [`read_back`], with an isolation level, reading each partition at least up to
/// `at_least` (partition → offset): a leader elected a moment ago can report a high
/// watermark below offsets the old leader acknowledged, so the end offsets taken at
/// the start alone could stop short of acknowledged records.
pub async fn read_back_until(
    env: &Env,
    topic: &str,
    partitions: i32,
    timeout: Duration,
    isolation: IsolationLevel,
    at_least: &BTreeMap<i32, i64>,
) -> Result<BTreeMap<i32, Vec<LogRecord>>, String> {
    let consumer = Consumer::builder()
        .client(env.direct_client())
        .isolation_level(isolation)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .fetch_max_wait(Duration::from_millis(100))
        .max_poll_records(10_000)
        .build()
        .map_err(|e| format!("read-back consumer: {e}"))?;
    let tps: Vec<TopicPartition> = (0..partitions).map(|p| (topic, p).into()).collect();
    consumer
        .assign(tps.clone())
        .map_err(|e| format!("assign: {e}"))?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut ends = loop {
        match consumer.end_offsets(tps.clone()).await {
            Ok(ends) => break ends,
            Err(e) if tokio::time::Instant::now() < deadline => {
                let _ = e;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => return Err(format!("end offsets of {topic}: {e}")),
        }
    };
    for (tp, end) in ends.iter_mut() {
        if let Some(min) = at_least.get(&tp.partition) {
            *end = (*end).max(*min);
        }
    }
    let mut out: BTreeMap<i32, Vec<LogRecord>> = (0..partitions).map(|p| (p, vec![])).collect();
    let mut next: BTreeMap<i32, i64> = (0..partitions).map(|p| (p, 0)).collect();
    let done = |next: &BTreeMap<i32, i64>| {
        ends.iter()
            .all(|(tp, end)| next.get(&tp.partition).copied().unwrap_or(0) >= *end)
    };
    while !done(&next) {
        if tokio::time::Instant::now() > deadline {
            return Err(format!(
                "read-back of {topic} incomplete after {timeout:?}: at {next:?}, ends {ends:?}"
            ));
        }
        let batch = match consumer.poll(Duration::from_millis(500)).await {
            Ok(b) => b,
            Err(e) => return Err(format!("read-back poll: {e}")),
        };
        let (records, errors) = batch.into_parts();
        if let Some(e) = errors.first() {
            return Err(format!("read-back of {topic}: {e:?}"));
        }
        for r in records {
            let value = r
                .value
                .as_deref()
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .unwrap_or_default();
            next.insert(r.partition, r.offset + 1);
            out.entry(r.partition).or_default().push(LogRecord {
                offset: r.offset,
                value,
            });
        }
        // Control batches and compacted gaps: trust the consumer's position.
        for tp in &tps {
            if let Ok(pos) = consumer.position(tp.clone()).await {
                let n = next.entry(tp.partition).or_default();
                *n = (*n).max(pos);
            }
        }
    }
    let _ = consumer.close().await;
    Ok(out)
}
