//! The Java properties adapter for the share consumer.

use crate::config::options::{apply_options, option_table};
use crate::config::{Properties, parse_bool, parse_millis, parse_value};
use crate::error::Result;

use super::builder::ShareConsumerBuilder;

/// Takes the client's keys, then the share consumer's, and rejects whatever is left.
pub(crate) fn builder_from_properties(mut props: Properties) -> Result<ShareConsumerBuilder> {
    let client = crate::config::ClientBuilder::new().apply_properties(&mut props)?;
    let builder = ShareConsumerBuilder::new().client_builder(client);
    let builder = apply_options(SHARE_CONSUMER_OPTIONS, builder, &mut props)?;
    props.reject_unknown()?;
    builder.build_config()?;
    Ok(builder)
}

option_table! {
    /// The share consumer's options; the adapter is this table applied in order.
    SHARE_CONSUMER_OPTIONS: ShareConsumerBuilder {
        "group_id" "group.id" [] "(required)" "workers"
            "The share group (KIP-932)."
            => |b, _, v| Ok(b.group_id(v));
        "acknowledgement_mode" "share.acknowledgement.mode" [] "implicit" "explicit"
            "implicit: records of a poll are accepted at the next poll or commit unless acknowledged otherwise; explicit: every record is acknowledged by the application before the next poll."
            => |b, _, v| Ok(b.acknowledgement_mode(v.parse()?));
        "acquire_mode" "share.acquire.mode" [] "batch_optimized" "record_limit"
            "record_limit: a fetch acquires at most `max.poll.records` records (KIP-1206, ShareFetch v2); batch_optimized: whole batches."
            => |b, _, v| Ok(b.acquire_mode(v.parse()?));
        "max_poll_records" "max.poll.records" [] "500" "100"
            "Records one `poll` returns at most, and the records a fetch asks to acquire."
            => |b, k, v| Ok(b.max_poll_records(parse_value(k, &v)?));
        "fetch_min_bytes" "fetch.min.bytes" [] "1" "1024"
            "Bytes a share fetch waits for (up to `fetch.max.wait.ms`)."
            => |b, k, v| Ok(b.fetch_min_bytes(parse_value(k, &v)?));
        "fetch_max_wait" "fetch.max.wait.ms" [] "500" "100"
            "Longest time the broker holds a share fetch."
            => |b, k, v| Ok(b.fetch_max_wait(parse_millis(k, &v)?));
        "fetch_max_bytes" "fetch.max.bytes" [] "52428800" "10485760"
            "Bytes one share fetch response may carry."
            => |b, k, v| Ok(b.fetch_max_bytes(parse_value(k, &v)?));
        "check_crcs" "check.crcs" [] "true" "false"
            "Verify each fetched batch's CRC-32C."
            => |b, k, v| Ok(b.check_crcs(parse_bool(k, &v)?));
        "acknowledgement_commit_callback" "-" [] "(none)" ""
            "Told the per-partition outcome of every acknowledgement the broker answers.";
        "client" "-" [] "(own client)" ""
            "Consume through an existing `Client`, sharing its connections and metadata.";
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::{AcknowledgementMode, AcquireMode};
    use std::time::Duration;

    #[test]
    fn takes_every_documented_key() {
        let props: Properties = [
            ("bootstrap.servers", "a:1"),
            ("group.id", "g"),
            ("share.acknowledgement.mode", "explicit"),
            ("share.acquire.mode", "record_limit"),
            ("max.poll.records", "7"),
            ("fetch.min.bytes", "10"),
            ("fetch.max.wait.ms", "50"),
            ("fetch.max.bytes", "100000"),
            ("check.crcs", "false"),
        ]
        .into_iter()
        .collect();
        let c = ShareConsumerBuilder::from_properties(props)
            .unwrap()
            .build_config()
            .unwrap();
        assert_eq!(c.group_id(), "g");
        assert_eq!(c.acknowledgement_mode(), AcknowledgementMode::Explicit);
        assert_eq!(c.acquire_mode(), AcquireMode::RecordLimit);
        assert_eq!(c.max_poll_records(), 7);
        assert_eq!(c.fetch_min_bytes, 10);
        assert_eq!(c.fetch_max_wait, Duration::from_millis(50));
        assert_eq!(c.fetch_max_bytes, 100000);
        assert!(!c.check_crcs);
    }

    #[test]
    fn every_row_sample_is_accepted() {
        let mut n = 0;
        for o in SHARE_CONSUMER_OPTIONS.iter().filter(|o| o.apply.is_some()) {
            for key in o.keys() {
                let mut props = Properties::new().set(key, o.sample);
                if key != "group.id" {
                    props = props.set("group.id", "g");
                }
                ShareConsumerBuilder::from_properties(props)
                    .unwrap_or_else(|e| panic!("{key}={:?} refused: {e}", o.sample));
                n += 1;
            }
        }
        assert_eq!(n, 8);
    }

    #[test]
    fn rejects_unknown_keys_bad_values_and_a_missing_group_naming_them() {
        let props: Properties = [("group.id", "g"), ("enable.auto.commit", "true")]
            .into_iter()
            .collect();
        let err = ShareConsumerBuilder::from_properties(props)
            .unwrap_err()
            .to_string();
        assert!(err.contains("enable.auto.commit"), "{err}");
        for (k, v) in [
            ("share.acknowledgement.mode", "sometimes"),
            ("share.acquire.mode", "greedy"),
            ("max.poll.records", "many"),
        ] {
            let props: Properties = [("group.id", "g"), (k, v)].into_iter().collect();
            let err = ShareConsumerBuilder::from_properties(props)
                .unwrap_err()
                .to_string();
            assert!(err.contains(k) && err.contains(v), "{k}: {err}");
        }
        let err = ShareConsumerBuilder::new()
            .build_config()
            .unwrap_err()
            .to_string();
        assert!(err.contains("group.id"), "{err}");
        let err = ShareConsumerBuilder::new()
            .group_id("g")
            .max_poll_records(0)
            .build_config()
            .unwrap_err()
            .to_string();
        assert!(err.contains("max.poll.records"), "{err}");
    }
}
