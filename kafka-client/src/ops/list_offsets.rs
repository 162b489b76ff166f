//! ListOffsets, written once: the request to one partition leader for a batch of
//! `(partition, timestamp)` queries, and each partition's answer. The consumer (seek by
//! time, positions, lag) and kafka-admin (`list_offsets`) route and retry around it.

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::{Message, StrBytes, VersionRange};

// Generated from Kafka 4.4's schema (v1-11; kafka-protocol 0.18 stops at v10).
use crate::protocol_gen::ListOffsetsRequest;
use crate::protocol_gen::list_offsets_request::{ListOffsetsPartition, ListOffsetsTopic};

use crate::error::{Error, ErrorCode, ErrorContext, Result};
use crate::net::Connection;
use crate::types::TopicPartition;

/// The log start offset, as a ListOffsets query timestamp.
pub const EARLIEST_TIMESTAMP: i64 = -2;
/// The log end offset (high watermark, or last stable offset with `read_committed`).
pub const LATEST_TIMESTAMP: i64 = -1;
/// The offset of the record with the largest timestamp (ListOffsets v7+).
pub const MAX_TIMESTAMP: i64 = -3;
/// The first offset still on the broker's local disk, which is past the log start when
/// tiered storage has moved older segments away (KIP-405; ListOffsets v8+).
pub const EARLIEST_LOCAL_TIMESTAMP: i64 = -4;
/// The highest offset copied to tiered storage; no offset (`None`) when the topic has
/// no tiered storage (KIP-1005; ListOffsets v9+).
pub const LATEST_TIERED_TIMESTAMP: i64 = -5;

/// The lowest ListOffsets version that understands the query `timestamp` (the broker
/// would take a newer special value for a time before 1970 on an older version).
fn min_version_for(timestamp: i64) -> i16 {
    match timestamp {
        MAX_TIMESTAMP => 7,
        EARLIEST_LOCAL_TIMESTAMP => 8,
        LATEST_TIERED_TIMESTAMP => 9,
        _ => 1,
    }
}

/// One partition's answer to a ListOffsets query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ListedOffset {
    /// The offset; `None` when a timestamp lookup found no record at or after it.
    pub offset: Option<i64>,
    /// The timestamp of the record found (`None` for earliest/latest lookups).
    pub timestamp: Option<i64>,
    /// The leader epoch of that offset, when the broker sent one.
    pub leader_epoch: Option<i32>,
}

/// Sends one ListOffsets request on `conn` (a partition leader's connection) for
/// `queries` (`(partition, timestamp)`: a time in ms since the epoch, or one of
/// [`EARLIEST_TIMESTAMP`], [`LATEST_TIMESTAMP`], [`MAX_TIMESTAMP`],
/// [`EARLIEST_LOCAL_TIMESTAMP`], [`LATEST_TIERED_TIMESTAMP`]; a broker too old for one
/// of these gives [`Error::UnsupportedVersion`]). Returns each
/// partition's answer or its own typed error, in the broker's order; a partition the
/// response does not mention is absent (the caller decides what that means). The outer
/// error is a request-level failure.
pub async fn list_offsets_on(
    conn: &Connection,
    queries: &[(TopicPartition, i64)],
    read_committed: bool,
    timeout: Duration,
) -> Result<Vec<(TopicPartition, Result<ListedOffset>)>> {
    let range = ListOffsetsRequest::VERSIONS;
    let min = queries
        .iter()
        .map(|(_, t)| min_version_for(*t))
        .fold(range.min.max(1), i16::max);
    let version = conn.negotiate::<ListOffsetsRequest>(VersionRange {
        min,
        max: range.max,
    })?;
    let req = request(queries, read_committed, version, timeout);
    let resp = conn.request_at(&req, version, timeout).await?;
    let mut answers = Vec::with_capacity(queries.len());
    for t in resp.topics {
        let topic = t.name.to_string();
        for p in t.partitions {
            let tp = TopicPartition::new(topic.clone(), p.partition_index);
            let answer = match ErrorCode::from_code(p.error_code) {
                Some(code) => Err(Error::broker(
                    code,
                    ErrorContext::broker(conn.broker_id(), conn.address())
                        .with_api(ApiKey::ListOffsets)
                        .with_resource(topic.clone())
                        .with_partition(p.partition_index),
                    None,
                )),
                None => Ok(ListedOffset {
                    offset: (p.offset >= 0).then_some(p.offset),
                    timestamp: (p.timestamp >= 0).then_some(p.timestamp),
                    leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                }),
            };
            answers.push((tp, answer));
        }
    }
    Ok(answers)
}

/// The request for `queries` at `version`, topics grouped.
fn request(
    queries: &[(TopicPartition, i64)],
    read_committed: bool,
    version: i16,
    timeout: Duration,
) -> ListOffsetsRequest {
    let mut topics: BTreeMap<&str, Vec<ListOffsetsPartition>> = BTreeMap::new();
    for (tp, ts) in queries {
        topics.entry(tp.topic.as_str()).or_default().push(
            ListOffsetsPartition::default()
                .with_partition_index(tp.partition)
                .with_current_leader_epoch(-1)
                .with_timestamp(*ts),
        );
    }
    let mut req = ListOffsetsRequest::default()
        .with_replica_id(-1)
        .with_topics(
            topics
                .into_iter()
                .map(|(t, ps)| {
                    ListOffsetsTopic::default()
                        .with_name(StrBytes::from_string(t.to_string()))
                        .with_partitions(ps)
                })
                .collect(),
        );
    if version >= 2 {
        req = req.with_isolation_level(i8::from(read_committed));
    }
    if version >= 10 {
        req = req.with_timeout_ms(i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX));
    }
    req
}

#[cfg(test)]
mod tests {
    #[test]
    fn special_timestamps_need_the_version_that_defined_them() {
        assert_eq!(min_version_for(EARLIEST_TIMESTAMP), 1);
        assert_eq!(min_version_for(LATEST_TIMESTAMP), 1);
        assert_eq!(min_version_for(1_700_000_000_000), 1);
        assert_eq!(min_version_for(MAX_TIMESTAMP), 7);
        assert_eq!(min_version_for(EARLIEST_LOCAL_TIMESTAMP), 8);
        assert_eq!(min_version_for(LATEST_TIERED_TIMESTAMP), 9);
    }

    use super::*;

    #[test]
    fn queries_are_grouped_by_topic_with_isolation_and_timeout_where_the_version_has_them() {
        let q = [
            (TopicPartition::new("b", 1), LATEST_TIMESTAMP),
            (TopicPartition::new("a", 0), EARLIEST_TIMESTAMP),
            (TopicPartition::new("b", 0), 1_700_000_000_000),
        ];
        let req = request(&q, true, 10, Duration::from_secs(3));
        assert_eq!(req.isolation_level, 1);
        assert_eq!(req.timeout_ms, 3000);
        assert_eq!(req.replica_id, -1);
        let topics: Vec<(String, Vec<(i32, i64)>)> = req
            .topics
            .iter()
            .map(|t| {
                (
                    t.name.to_string(),
                    t.partitions
                        .iter()
                        .map(|p| (p.partition_index, p.timestamp))
                        .collect(),
                )
            })
            .collect();
        assert_eq!(
            topics,
            vec![
                ("a".to_string(), vec![(0, EARLIEST_TIMESTAMP)]),
                (
                    "b".to_string(),
                    vec![(1, LATEST_TIMESTAMP), (0, 1_700_000_000_000)]
                ),
            ]
        );
        let old = request(&q, true, 1, Duration::from_secs(3));
        assert_eq!(old.isolation_level, 0, "v1 has no isolation level");
        let v9 = request(&q, false, 9, Duration::from_secs(3));
        assert_eq!(v9.isolation_level, 0);
        assert_ne!(v9.timeout_ms, 3000, "v9 has no timeout field");
    }
}
