//! The properties adapter: Java and librdkafka producer setting names for users who
//! migrate, each value checked with an error naming its key.

use super::builder::{Acks, ProducerBuilder};
use super::partitioner::Partitioning;
use crate::config::{Properties, bad_value};
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
    /// | `partitioner` (`partitioner.class`) | `default`/`murmur2_random`, `sticky`, `round_robin`, or a Java class name of those |
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

        if let Some((key, v)) = take_any(&mut props, &["acks", "request.required.acks"]) {
            b = b.acks(Acks::parse(&v).ok_or_else(|| bad_value(key, &v, "0, 1, all or -1"))?);
        }
        if let Some(d) = take_millis_any(&mut props, &["linger.ms", "queue.buffering.max.ms"])? {
            b = b.linger(d);
        }
        if let Some(n) = props.take_parsed::<usize>("batch.size")? {
            b = b.batch_size(n);
        }
        if let Some(n) = props.take_parsed::<usize>("buffer.memory")? {
            b = b.buffer_memory(n);
        }
        if let Some((key, v)) = take_any(&mut props, &["compression.type", "compression.codec"]) {
            let c: Compression = v
                .parse()
                .map_err(|_| bad_value(key, &v, "none, gzip, snappy, lz4 or zstd"))?;
            b = b.compression(c);
        }
        for key in ["retries", "message.send.max.retries"] {
            if let Some(v) = props.take(key) {
                // Java accepts up to Integer.MAX_VALUE; negative counts are invalid.
                let n: u32 = v
                    .trim()
                    .parse()
                    .map_err(|_| bad_value(key, &v, "a non-negative count"))?;
                b = b.retries(n);
            }
        }
        if let Some(d) =
            take_millis_any(&mut props, &["delivery.timeout.ms", "message.timeout.ms"])?
        {
            b = b.delivery_timeout(d);
        }
        for key in ["max.in.flight.requests.per.connection", "max.in.flight"] {
            if let Some(n) = props.take_parsed::<usize>(key)? {
                b = b.max_in_flight(n);
            }
        }
        if let Some(n) = props.take_parsed::<usize>("max.request.size")? {
            b = b.max_request_size(n);
        }
        if let Some(d) = props.take_millis("max.block.ms")? {
            b = b.max_block(d);
        }
        if let Some((key, v)) = take_any(&mut props, &["partitioner", "partitioner.class"]) {
            let p = Partitioning::parse(&v).ok_or_else(|| {
                bad_value(key, &v, "default, murmur2_random, sticky or round_robin")
            })?;
            b = b.partitioning(p);
        }
        if let Some(on) = props.take_bool("enable.idempotence")? {
            b = b.enable_idempotence(on);
        }
        if let Some(id) = props.take("transactional.id") {
            b = b.transactional_id(id);
        }
        if let Some(d) = props.take_millis("transaction.timeout.ms")? {
            b = b.transaction_timeout(d);
        }
        props.reject_unknown()?;
        Ok(b)
    }
}

fn take_any<'k>(props: &mut Properties, keys: &[&'k str]) -> Option<(&'k str, String)> {
    let mut found = None;
    for key in keys {
        if let Some(v) = props.take(key) {
            found = Some((*key, v));
        }
    }
    found
}

fn take_millis_any(props: &mut Properties, keys: &[&str]) -> Result<Option<std::time::Duration>> {
    let mut found = None;
    for key in keys {
        if let Some(d) = props.take_millis(key)? {
            found = Some(d);
        }
    }
    Ok(found)
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
            (vec![("partitioner", "fnv1a")], "partitioner"),
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
