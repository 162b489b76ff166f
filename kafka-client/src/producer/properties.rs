//! The properties adapter: Java and librdkafka producer setting names for users who
//! migrate, each value checked with an error naming its key.

use super::builder::{Acks, ProducerBuilder};
use super::partitioner::{PARTITIONER_NAMES, Partitioning};
use crate::config::options::{apply_options, option_table};
use crate::config::{Properties, bad_value, parse_bool, parse_millis, parse_value};
use crate::error::Result;
use crate::records::Compression;

impl ProducerBuilder {
    /// A builder from Java/librdkafka style properties. Besides the connection keys of
    /// [`ClientBuilder::apply_properties`](crate::ClientBuilder::apply_properties)
    /// (`bootstrap.servers`, `client.id`, `request.timeout.ms`, `retry.backoff.ms`, ...):
    ///
    /// | key (aliases) | value |
    /// |---|---|
    /// | `acks` (`request.required.acks`) | `0`, `1`, `all` or `-1` |
    /// | `linger.ms` (`queue.buffering.max.ms`) | milliseconds |
    /// | `batch.size` | bytes |
    /// | `buffer.memory` | bytes |
    /// | `compression.type` (`compression.codec`) | `none`, `gzip`, `snappy`, `lz4`, `zstd` |
    /// | `retries` (`message.send.max.retries`) | count |
    /// | `delivery.timeout.ms` (`message.timeout.ms`) | milliseconds |
    /// | `max.in.flight.requests.per.connection` (`max.in.flight`) | count |
    /// | `max.request.size` | bytes |
    /// | `max.block.ms` | milliseconds |
    /// | `partitioner` (`partitioner.class`) | `default`, `sticky`, `round_robin` (or a Java class name of those), or a librdkafka name: `consistent_random`, `consistent`, `murmur2_random`, `murmur2`, `fnv1a`, `fnv1a_random`, `random` |
    /// | `enable.idempotence` | `true` (default) or `false` |
    /// | `transactional.id` | the id (then build with `build_transactional`) |
    /// | `transaction.timeout.ms` | milliseconds (default 60000) |
    ///
    /// Unknown keys and malformed values fail, naming the key.
    ///
    /// ```
    /// use kafka_client::config::Properties;
    /// use kafka_client::producer::ProducerBuilder;
    ///
    /// let props: Properties = [
    ///     ("bootstrap.servers", "127.0.0.1:9092"),
    ///     ("acks", "all"),
    ///     ("linger.ms", "10"),
    ///     ("compression.type", "lz4"),
    /// ]
    /// .into_iter()
    /// .collect();
    /// let producer = ProducerBuilder::from_properties(props)?.build()?;
    ///
    /// let bad: Properties = [("bootstrap.servers", "h:1"), ("lingr.ms", "5")].into_iter().collect();
    /// let err = ProducerBuilder::from_properties(bad).unwrap_err();
    /// assert!(err.to_string().contains("lingr.ms"));
    /// # Ok::<(), kafka_client::Error>(())
    /// ```
    pub fn from_properties(mut props: Properties) -> Result<ProducerBuilder> {
        let mut b = ProducerBuilder::new();
        let client = std::mem::take(b.client_builder_mut());
        *b.client_builder_mut() = client
            .client_id("kafka-rs-producer")
            .apply_properties(&mut props)?;
        let b = apply_options(PRODUCER_OPTIONS, b, &mut props)?;
        props.reject_unknown()?;
        Ok(b)
    }
}

option_table! {
    /// The producer's options; the adapter is this table applied in order.
    PRODUCER_OPTIONS: ProducerBuilder {
        "acks" "acks" ["request.required.acks"] "all" "1"
            "Acknowledgements the leader waits for: 0 (none), 1 (leader), all/-1 (in-sync replicas)."
            => |b, k, v| Ok(b.acks(Acks::parse(&v).ok_or_else(|| bad_value(k, &v, "0, 1, all or -1"))?));
        "linger" "linger.ms" ["queue.buffering.max.ms"] "5" "10"
            "How long a batch waits for more records before it is sent."
            => |b, k, v| Ok(b.linger(parse_millis(k, &v)?));
        "batch_size" "batch.size" [] "16384" "65536"
            "Target size in bytes of one partition's batch."
            => |b, k, v| Ok(b.batch_size(parse_value(k, &v)?));
        "buffer_memory" "buffer.memory" [] "33554432" "67108864"
            "Bytes of records waiting to be acknowledged; `send` waits (and `try_send` fails) when full."
            => |b, k, v| Ok(b.buffer_memory(parse_value(k, &v)?));
        "compression" "compression.type" ["compression.codec"] "none" "lz4"
            "none, gzip, snappy, lz4 or zstd."
            => |b, k, v| {
                let c: Compression = v
                    .parse()
                    .map_err(|_| bad_value(k, &v, "none, gzip, snappy, lz4 or zstd"))?;
                Ok(b.compression(c))
            };
        "retries" "retries" ["message.send.max.retries"] "4294967295" "10"
            "Retries of a batch after retriable errors, within `delivery.timeout.ms`."
            => |b, k, v| {
                // Java accepts up to Integer.MAX_VALUE; negative counts are invalid.
                let n: u32 = v.trim().parse().map_err(|_| bad_value(k, &v, "a non-negative count"))?;
                Ok(b.retries(n))
            };
        "delivery_timeout" "delivery.timeout.ms" ["message.timeout.ms"] "120000" "30000"
            "Upper bound on the time from `send` to the record's outcome, retries included."
            => |b, k, v| Ok(b.delivery_timeout(parse_millis(k, &v)?));
        "max_in_flight" "max.in.flight.requests.per.connection" ["max.in.flight"] "5" "1"
            "Produce requests in flight per broker connection."
            => |b, k, v| Ok(b.max_in_flight(parse_value(k, &v)?));
        "max_request_size" "max.request.size" [] "1048576" "2097152"
            "Largest Produce request, and so the largest record."
            => |b, k, v| Ok(b.max_request_size(parse_value(k, &v)?));
        "max_block" "max.block.ms" [] "60000" "1000"
            "How long `send` may wait for metadata of an unknown topic."
            => |b, k, v| Ok(b.max_block(parse_millis(k, &v)?));
        "partitioning" "partitioner" ["partitioner.class"] "default" "round_robin"
            "default (Java's key hash, sticky without key), sticky, round_robin, or librdkafka's consistent_random, consistent, murmur2_random, murmur2, fnv1a, fnv1a_random, random (keys placed as librdkafka places them); `partitioner()` takes a custom one."
            => |b, k, v| {
                let p = Partitioning::parse(&v).ok_or_else(|| bad_value(k, &v, PARTITIONER_NAMES))?;
                Ok(b.partitioning(p))
            };
        "adaptive_partitioning" "partitioner.adaptive.partitioning.enable" [] "true" "false"
            "KIP-794: keyless records' next sticky partition is drawn weighted towards short queues, so a slow broker gets fewer of them."
            => |b, k, v| Ok(b.adaptive_partitioning(parse_bool(k, &v)?));
        "partitioner_availability_timeout" "partitioner.availability.timeout.ms" [] "0" "1000"
            "With adaptive partitioning: a partition whose broker has not taken its waiting batches for this long gets no new keyless records (0: off)."
            => |b, k, v| Ok(b.partitioner_availability_timeout(parse_millis(k, &v)?));
        "partitioner_ignore_keys" "partitioner.ignore.keys" [] "false" "true"
            "Place keyed records as keyless ones (sticky) with the built-in partitioners."
            => |b, k, v| Ok(b.partitioner_ignore_keys(parse_bool(k, &v)?));
        "enable_idempotence" "enable.idempotence" [] "true" "false"
            "Sequence numbers so retries never duplicate or reorder; needs acks=all and at most 5 in flight (on by default when those hold, as in Java)."
            => |b, k, v| Ok(b.enable_idempotence(parse_bool(k, &v)?));
        "transactional_id" "transactional.id" [] "(none)" "copier-1"
            "Stable id of a transactional producer (build with `build_transactional`); a new instance with the same id fences older ones."
            => |b, _, v| Ok(b.transactional_id(v));
        "transaction_timeout" "transaction.timeout.ms" [] "60000" "30000"
            "How long the coordinator keeps a transaction open before aborting it."
            => |b, k, v| Ok(b.transaction_timeout(parse_millis(k, &v)?));
        "client" "-" [] "(own client)" ""
            "Produce through an existing `Client`, sharing its connections, metadata and statistics.";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(pairs: &[(&str, &str)]) -> Properties {
        pairs.iter().copied().collect()
    }

    #[test]
    fn every_documented_key_is_accepted() {
        let p = props(&[
            ("bootstrap.servers", "a:1,b:2"),
            ("client.id", "me"),
            ("acks", "1"),
            ("linger.ms", "7"),
            ("batch.size", "1000"),
            ("buffer.memory", "100000"),
            ("compression.type", "zstd"),
            ("retries", "3"),
            ("retry.backoff.ms", "10"),
            ("delivery.timeout.ms", "40000"),
            ("request.timeout.ms", "20000"),
            ("max.in.flight.requests.per.connection", "1"),
            ("max.request.size", "2000000"),
            ("max.block.ms", "100"),
            ("partitioner", "round_robin"),
            ("enable.idempotence", "false"),
        ]);
        let b = ProducerBuilder::from_properties(p).unwrap();
        let dbg = format!("{b:?}");
        assert!(
            dbg.contains("Leader") && dbg.contains("Zstd") && dbg.contains("RoundRobin"),
            "{dbg}"
        );
        b.build().unwrap();
    }

    #[test]
    fn bad_values_and_unknown_keys_name_the_key() {
        for (pairs, needle) in [
            (vec![("acks", "2")], "acks"),
            (vec![("linger.ms", "soon")], "linger.ms"),
            (vec![("compression.type", "brotli")], "compression.type"),
            (vec![("retries", "-1")], "retries"),
            (vec![("partitioner", "crc32")], "partitioner"),
            (vec![("batch.size", "big")], "batch.size"),
            (
                vec![("enable.idempotence", "true"), ("acks", "1")],
                "enable.idempotence",
            ),
            (vec![("lingerr.ms", "5")], "lingerr.ms"),
        ] {
            let mut all = vec![("bootstrap.servers", "a:1")];
            all.extend(pairs);
            let err = ProducerBuilder::from_properties(props(&all))
                .and_then(|b| b.build().map(drop))
                .unwrap_err()
                .to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
        // Valid syntax, invalid combination: caught by build().
        let err = ProducerBuilder::from_properties(props(&[
            ("bootstrap.servers", "a:1"),
            ("delivery.timeout.ms", "10"),
        ]))
        .unwrap()
        .build()
        .unwrap_err();
        assert!(err.to_string().contains("delivery.timeout"), "{err}");
    }
}
