//! The Java/librdkafka properties adapter for the consumer.

use crate::config::Properties;
use crate::error::{Error, Result};

use super::builder::{AssignmentStrategy, ConsumerBuilder};

/// Takes the client's keys, then the consumer's, and rejects whatever is left.
pub(crate) fn builder_from_properties(mut props: Properties) -> Result<ConsumerBuilder> {
    let client = crate::config::ClientBuilder::new().apply_properties(&mut props)?;
    let mut builder = ConsumerBuilder::new().client_builder(client);
    {
        let c = &mut builder.config;
        if let Some(v) = props.take("group.id") {
            c.group_id = Some(v);
        }
        if let Some(v) = props.take("group.instance.id") {
            c.group_instance_id = Some(v);
        }
        if let Some(v) = props.take("auto.offset.reset") {
            c.auto_offset_reset = v.parse()?;
        }
        if let Some(v) = props.take_bool("enable.auto.commit")? {
            c.enable_auto_commit = v;
        }
        if let Some(v) = props.take("isolation.level") {
            c.isolation_level = v.parse()?;
        }
        let millis = [
            ("auto.commit.interval.ms", &mut c.auto_commit_interval),
            ("fetch.max.wait.ms", &mut c.fetch_max_wait),
            ("session.timeout.ms", &mut c.session_timeout),
            ("heartbeat.interval.ms", &mut c.heartbeat_interval),
            ("max.poll.interval.ms", &mut c.max_poll_interval),
        ];
        for (key, field) in millis {
            if let Some(d) = props.take_millis(key)? {
                *field = d;
            }
        }
        let ints = [
            ("fetch.min.bytes", &mut c.fetch_min_bytes),
            ("fetch.max.bytes", &mut c.fetch_max_bytes),
            (
                "max.partition.fetch.bytes",
                &mut c.max_partition_fetch_bytes,
            ),
        ];
        for (key, field) in ints {
            if let Some(n) = props.take_parsed::<i32>(key)? {
                *field = n;
            }
        }
        if let Some(n) = props.take_parsed::<usize>("max.poll.records")? {
            c.max_poll_records = n;
        }
        if let Some(v) = props.take_bool("check.crcs")? {
            c.check_crcs = v;
        }
        if let Some(v) = props.take("partition.assignment.strategy") {
            let strategies = v
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(str::parse::<AssignmentStrategy>)
                .collect::<Result<Vec<_>>>()?;
            if strategies.is_empty() {
                return Err(Error::Config(
                    "partition.assignment.strategy is empty".into(),
                ));
            }
            c.strategies = strategies;
        }
    }
    props.reject_unknown()?;
    builder.build_config()?;
    Ok(builder)
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
