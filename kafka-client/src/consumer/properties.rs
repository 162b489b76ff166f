//! The Java/librdkafka properties adapter for the consumer.

use crate::config::options::{apply_options, option_table};
use crate::config::{Properties, parse_bool, parse_millis, parse_value};
use crate::error::{Error, Result};

use super::builder::{AssignmentStrategy, ConsumerBuilder};

/// Takes the client's keys, then the consumer's, and rejects whatever is left.
pub(crate) fn builder_from_properties(mut props: Properties) -> Result<ConsumerBuilder> {
    let client = crate::config::ClientBuilder::new().apply_properties(&mut props)?;
    let builder = ConsumerBuilder::new().client_builder(client);
    let builder = apply_options(CONSUMER_OPTIONS, builder, &mut props)?;
    props.reject_unknown()?;
    builder.build_config()?;
    Ok(builder)
}

fn strategies(b: ConsumerBuilder, key: &str, v: String) -> Result<ConsumerBuilder> {
    let strategies = v
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(str::parse::<AssignmentStrategy>)
        .collect::<Result<Vec<_>>>()?;
    if strategies.is_empty() {
        return Err(Error::Config(format!("{key} is empty")));
    }
    Ok(b.assignment_strategies(strategies))
}

option_table! {
    /// The consumer's options; the adapter is this table applied in order.
    CONSUMER_OPTIONS: ConsumerBuilder {
        "group_id" "group.id" [] "(none)" "my-group"
            "Consumer group; without it only `assign` is possible and offsets are not committed."
            => |b, _, v| Ok(b.group_id(v));
        "group_instance_id" "group.instance.id" [] "(none)" "member-1"
            "Static membership id (KIP-345): a restart within the session timeout keeps the assignment."
            => |b, _, v| Ok(b.group_instance_id(v));
        "auto_offset_reset" "auto.offset.reset" [] "latest" "earliest"
            "Where to start without a committed offset: earliest, latest or none (error)."
            => |b, _, v| Ok(b.auto_offset_reset(v.parse()?));
        "enable_auto_commit" "enable.auto.commit" [] "true" "false"
            "Commit polled positions every `auto.commit.interval.ms` and on revocation and close."
            => |b, k, v| Ok(b.enable_auto_commit(parse_bool(k, &v)?));
        "auto_commit_interval" "auto.commit.interval.ms" [] "5000" "1000"
            "Interval of automatic commits."
            => |b, k, v| Ok(b.auto_commit_interval(parse_millis(k, &v)?));
        "isolation_level" "isolation.level" [] "read_uncommitted" "read_committed"
            "read_committed hides aborted transactional records and stops at the last stable offset."
            => |b, _, v| Ok(b.isolation_level(v.parse()?));
        "fetch_min_bytes" "fetch.min.bytes" [] "1" "1024"
            "Bytes a fetch waits for (up to `fetch.max.wait.ms`)."
            => |b, k, v| Ok(b.fetch_min_bytes(parse_value(k, &v)?));
        "fetch_max_wait" "fetch.max.wait.ms" [] "500" "100"
            "Longest time the broker holds a fetch waiting for `fetch.min.bytes`."
            => |b, k, v| Ok(b.fetch_max_wait(parse_millis(k, &v)?));
        "fetch_max_bytes" "fetch.max.bytes" [] "52428800" "10485760"
            "Bytes one fetch response may carry."
            => |b, k, v| Ok(b.fetch_max_bytes(parse_value(k, &v)?));
        "max_partition_fetch_bytes" "max.partition.fetch.bytes" [] "1048576" "2097152"
            "Bytes per partition in one fetch response."
            => |b, k, v| Ok(b.max_partition_fetch_bytes(parse_value(k, &v)?));
        "max_poll_records" "max.poll.records" [] "500" "100"
            "Records one `poll` returns at most."
            => |b, k, v| Ok(b.max_poll_records(parse_value(k, &v)?));
        "max_buffered_bytes" "-" [] "67108864" ""
            "Cap on fetched bytes buffered ahead of `poll`.";
        "max_partition_buffered_bytes" "-" [] "4194304" ""
            "Fetch-ahead per partition: a partition is fetched again while fewer bytes than this wait in the buffer for `poll` (1: only once its buffer is empty).";
        "session_timeout" "session.timeout.ms" [] "45000" "30000"
            "The group drops a member not heard from for this long."
            => |b, k, v| Ok(b.session_timeout(parse_millis(k, &v)?));
        "heartbeat_interval" "heartbeat.interval.ms" [] "3000" "1000"
            "Interval of heartbeats to the group coordinator."
            => |b, k, v| Ok(b.heartbeat_interval(parse_millis(k, &v)?));
        "max_poll_interval" "max.poll.interval.ms" [] "300000" "60000"
            "A member that does not poll for this long leaves the group until it polls again."
            => |b, k, v| Ok(b.max_poll_interval(parse_millis(k, &v)?));
        "assignment_strategies" "partition.assignment.strategy" [] "range,cooperative-sticky" "cooperative-sticky"
            "Assignors offered, in order of preference: range, roundrobin, cooperative-sticky (Java class names accepted)."
            => strategies;
        "group_protocol" "group.protocol" [] "classic" "consumer"
            "Group protocol of subscribed consumers: classic (JoinGroup/SyncGroup) or consumer (KIP-848, Kafka 4.0+)."
            => |b, _, v| Ok(b.group_protocol(v.parse()?));
        "group_remote_assignor" "group.remote.assignor" [] "(broker default: uniform)" "range"
            "Server-side assignor of the consumer protocol (uniform or range); ignored by classic."
            => |b, _, v| Ok(b.group_remote_assignor(v));
        "client_rack" "client.rack" [] "(none)" "eu-west-1a"
            "Rack of this consumer, sent to the consumer protocol's coordinator for rack-aware assignment."
            => |b, _, v| Ok(b.client_rack(v));
        "check_crcs" "check.crcs" [] "true" "false"
            "Verify each fetched batch's CRC-32C."
            => |b, k, v| Ok(b.check_crcs(parse_bool(k, &v)?));
        "fetch_sessions" "-" [] "true" ""
            "Incremental fetch sessions (KIP-227); `false` sends every Fetch full and sessionless (no Java or librdkafka property: Java always uses sessions, librdkafka has none).";
        "rebalance_listener" "-" [] "(none)" ""
            "Callbacks on partitions assigned, revoked and lost.";
        "client" "-" [] "(own client)" ""
            "Consume through an existing `Client`, sharing its connections, metadata and statistics.";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::{AutoOffsetReset, IsolationLevel};
    use std::time::Duration;

    #[test]
    fn takes_every_documented_key() {
        let props: Properties = [
            ("bootstrap.servers", "a:1"),
            ("group.id", "g"),
            ("group.instance.id", "i"),
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "false"),
            ("auto.commit.interval.ms", "100"),
            ("isolation.level", "read_committed"),
            ("fetch.min.bytes", "10"),
            ("fetch.max.wait.ms", "50"),
            ("fetch.max.bytes", "100000"),
            ("max.partition.fetch.bytes", "5000"),
            ("session.timeout.ms", "10000"),
            ("heartbeat.interval.ms", "1000"),
            ("max.poll.interval.ms", "20000"),
            (
                "partition.assignment.strategy",
                "org.apache.kafka.clients.consumer.CooperativeStickyAssignor, range",
            ),
            ("max.poll.records", "7"),
            ("group.protocol", "CONSUMER"),
            ("group.remote.assignor", "range"),
            ("client.rack", "r1"),
        ]
        .into_iter()
        .collect();
        let b = ConsumerBuilder::from_properties(props).unwrap();
        let c = b.build_config().unwrap();
        assert_eq!(c.group_id(), Some("g"));
        assert_eq!(c.group_instance_id(), Some("i"));
        assert_eq!(c.auto_offset_reset, AutoOffsetReset::Earliest);
        assert!(!c.enable_auto_commit);
        assert_eq!(c.auto_commit_interval, Duration::from_millis(100));
        assert_eq!(c.isolation_level, IsolationLevel::ReadCommitted);
        assert_eq!(c.fetch_min_bytes, 10);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(50));
        assert_eq!(c.fetch_max_bytes, 100000);
        assert_eq!(c.max_partition_fetch_bytes, 5000);
        assert_eq!(c.session_timeout, Duration::from_secs(10));
        assert_eq!(c.heartbeat_interval, Duration::from_secs(1));
        assert_eq!(c.max_poll_interval, Duration::from_secs(20));
        assert_eq!(
            c.strategies,
            vec![
                AssignmentStrategy::CooperativeSticky,
                AssignmentStrategy::Range
            ]
        );
        assert_eq!(c.max_poll_records, 7);
        assert_eq!(c.group_protocol(), crate::consumer::GroupProtocol::Consumer);
        assert_eq!(c.group_remote_assignor(), Some("range"));
        assert_eq!(c.client_rack(), Some("r1"));
    }

    #[test]
    fn rejects_unknown_and_bad_values_naming_them() {
        let props: Properties = [("bootstrap.servers", "a:1"), ("linger.ms", "5")]
            .into_iter()
            .collect();
        let err = ConsumerBuilder::from_properties(props)
            .unwrap_err()
            .to_string();
        assert!(err.contains("linger.ms"), "{err}");
        for (k, v) in [
            ("auto.offset.reset", "sometimes"),
            ("isolation.level", "dirty"),
            ("partition.assignment.strategy", "sticky-ish"),
            ("fetch.min.bytes", "lots"),
            ("enable.auto.commit", "yes please"),
            ("group.protocol", "cooperative"),
        ] {
            let props: Properties = [("bootstrap.servers", "a:1"), (k, v)].into_iter().collect();
            let err = ConsumerBuilder::from_properties(props)
                .unwrap_err()
                .to_string();
            assert!(err.contains(k) && err.contains(v), "{k}: {err}");
        }
        let props: Properties = [
            ("bootstrap.servers", "a:1"),
            ("session.timeout.ms", "1000"),
            ("heartbeat.interval.ms", "3000"),
        ]
        .into_iter()
        .collect();
        let err = ConsumerBuilder::from_properties(props)
            .unwrap_err()
            .to_string();
        assert!(err.contains("heartbeat"), "{err}");
    }
}
