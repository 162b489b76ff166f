//! Helpers for transactional tests: reading a topic to its end at an isolation level.

use std::time::Duration;

use kafka_client::consumer::{AutoOffsetReset, ConsumerRecord, IsolationLevel, TopicPartition};

/// Every record of `topic` (all `partitions`) readable at `isolation`: polls from the
/// beginning until nothing new arrived for `quiet` (bounded by 60 s).
pub async fn read_all(
    bootstrap: &str,
    topic: &str,
    partitions: i32,
    isolation: IsolationLevel,
    quiet: Duration,
) -> Vec<ConsumerRecord> {
    let c = super::consumer_util::consumer(bootstrap)
        .isolation_level(isolation)
        .auto_offset_reset(AutoOffsetReset::Earliest)
        .build()
        .expect("consumer");
    c.assign((0..partitions).map(|p| TopicPartition::new(topic, p)))
        .expect("assign");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let mut out = Vec::new();
    let mut last_new = tokio::time::Instant::now();
    while tokio::time::Instant::now() < deadline && last_new.elapsed() < quiet {
        let batch = c.poll(Duration::from_millis(300)).await.expect("poll");
        let (records, errors) = batch.into_parts();
        assert!(errors.is_empty(), "partition errors: {errors:?}");
        if !records.is_empty() {
            last_new = tokio::time::Instant::now();
        }
        out.extend(records);
    }
    c.close().await.expect("close");
    out
}

/// The values of `records`, as strings.
pub fn values(records: &[ConsumerRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned())
        .collect()
}

/// The sum of the partitions' last stable offsets (what read_committed readers can see).
pub async fn end_offsets(client: &kafka_client::Client, topic: &str, partitions: i32) -> i64 {
    use kafka_admin::{Admin, ListOffsetsOptions, OffsetSpec};
    let admin = Admin::new(client.clone());
    let specs = (0..partitions).map(|p| (TopicPartition::new(topic, p), OffsetSpec::Latest));
    match admin
        .list_offsets(specs, ListOffsetsOptions::default().read_committed(true))
        .await
    {
        Ok(m) => m
            .values()
            .filter_map(|r| r.as_ref().ok().and_then(|o| o.offset))
            .sum(),
        Err(_) => 0,
    }
}
