//! The generated documents: `docs/configuration.md` from the option tables (the same
//! tables the `from_properties` adapters apply) and `docs/metrics.md` from the metric
//! table. Unit tests check both are current; `UPDATE_DOCS=1 cargo test -p kafka-client
//! --lib docs_gen` rewrites them.

use crate::config::options::{Opt, markdown_rows};

/// The documentation-only row for kafka-admin (it has no builder of its own).
static ADMIN_ROWS: &[Opt<()>] = &[Opt {
    method: "Admin::new",
    property: "-",
    aliases: &[],
    default: "-",
    sample: "",
    meaning: "Admin calls use the client's settings (`default.api.timeout.ms`, retry backoff); each call's options set its own timeout.",
    apply: None,
}];

/// `docs/configuration.md`.
pub(crate) fn configuration_markdown() -> String {
    let mut out = String::from(
        "# Configuration\n\n\
         <!-- Generated from the option tables (kafka-client/src/config/client.rs, \
         config/security.rs, producer/properties.rs, consumer/properties.rs, share/properties.rs) by \
         `UPDATE_DOCS=1 cargo test -p kafka-client --lib docs_gen`; do not edit. -->\n\n\
         Every option, with its builder method, its Java/librdkafka property name (accepted by\n\
         the `from_properties` adapters, aliases in parentheses), its default and its meaning.\n\
         Unknown property names and malformed values fail, naming the key.\n",
    );
    let header = "| method | property (aliases) | default | meaning |\n|---|---|---|---|\n";
    let sections = [
        (
            "Client (`ClientBuilder`; also accepted by the producer and consumer builders and adapters)",
            markdown_rows(crate::config::CLIENT_OPTIONS)
                + &markdown_rows(crate::config::SECURITY_OPTIONS)
                + &markdown_rows(crate::config::OIDC_OPTIONS)
                + &markdown_rows(crate::config::AWS_OPTIONS)
                + &markdown_rows(crate::config::CLIENT_CODE_OPTIONS),
        ),
        (
            "Producer (`ProducerBuilder`, `ProducerBuilder::from_properties`)",
            markdown_rows(crate::producer::PRODUCER_OPTIONS),
        ),
        (
            "Consumer (`ConsumerBuilder`, `ConsumerBuilder::from_properties`)",
            markdown_rows(crate::consumer::CONSUMER_OPTIONS),
        ),
        (
            "Share consumer (`ShareConsumerBuilder`, `ShareConsumerBuilder::from_properties`)",
            markdown_rows(crate::share::SHARE_CONSUMER_OPTIONS),
        ),
        ("Admin (`kafka_admin::Admin`)", markdown_rows(ADMIN_ROWS)),
    ];
    for (title, rows) in sections {
        out.push_str(&format!("\n## {title}\n\n{header}{rows}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Properties;
    use crate::consumer::ConsumerBuilder;
    use crate::producer::ProducerBuilder;

    fn check_doc(relative: &str, generated: &str) {
        let path = format!("{}/../{relative}", env!("CARGO_MANIFEST_DIR"));
        if std::env::var_os("UPDATE_DOCS").is_some() {
            std::fs::write(&path, generated).expect("write doc");
            return;
        }
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            on_disk == generated,
            "{relative} is out of date: run `UPDATE_DOCS=1 cargo test -p kafka-client --lib docs_gen`"
        );
    }

    #[test]
    fn configuration_doc_is_current() {
        check_doc("docs/configuration.md", &configuration_markdown());
    }

    #[test]
    fn metrics_doc_is_current() {
        check_doc("docs/metrics.md", &crate::observe::metrics_markdown());
    }

    fn accepted(key: &str, value: &str, consumer: bool) -> Result<(), String> {
        let mut props = Properties::new().set(key, value);
        if key != "bootstrap.servers" {
            props = props.set("bootstrap.servers", "127.0.0.1:9092");
        }
        if consumer && key != "group.id" {
            // group.instance.id needs one (the adapter validates the whole config).
            props = props.set("group.id", "g");
        }
        let r = if consumer {
            ConsumerBuilder::from_properties(props).map(drop)
        } else {
            ProducerBuilder::from_properties(props).map(drop)
        };
        r.map_err(|e| e.to_string())
    }

    fn check_samples<B>(table: &[Opt<B>], consumer: bool) -> usize {
        let mut n = 0;
        for o in table.iter().filter(|o| o.apply.is_some()) {
            for key in o.keys() {
                n += 1;
                let r = accepted(key, o.sample, consumer);
                // (`ssl.key.password` is taken since encrypted PKCS#8 keys are read.)
                if o.property == "ssl.keystore.password" || o.property.ends_with(".passphrase") {
                    let e = r.expect_err("passwords are refused");
                    assert!(!e.contains(o.sample), "a password value was echoed: {e}");
                } else {
                    r.unwrap_or_else(|e| panic!("{key}={:?} refused: {e}", o.sample));
                }
            }
        }
        n
    }

    #[test]
    fn every_row_with_a_property_is_applied_by_its_adapter() {
        let mut n = check_samples(crate::config::CLIENT_OPTIONS, false);
        n += check_samples(crate::config::SECURITY_OPTIONS, false);
        n += check_samples(crate::config::OIDC_OPTIONS, false);
        n += check_samples(crate::config::AWS_OPTIONS, false);
        n += check_samples(crate::config::CLIENT_OPTIONS, true);
        n += check_samples(crate::producer::PRODUCER_OPTIONS, false);
        n += check_samples(crate::consumer::CONSUMER_OPTIONS, true);
        assert!(n > 60, "{n} keys checked");
    }

    #[test]
    fn a_key_without_a_row_is_refused_by_name() {
        for consumer in [false, true] {
            let e = accepted("lingerr.ms", "5", consumer).expect_err("unknown");
            assert!(e.contains("unknown property: lingerr.ms"), "{e}");
        }
        // A producer key is not a consumer key, and the other way round.
        assert!(accepted("linger.ms", "5", true).is_err());
        assert!(accepted("group.id", "g", false).is_err());
    }

    #[test]
    fn rows_apply_their_values() {
        let b = ProducerBuilder::from_properties(
            Properties::new()
                .set("bootstrap.servers", "a:1")
                .set("queue.buffering.max.ms", "7")
                .set("compression.codec", "zstd"),
        )
        .expect("valid");
        let dbg = format!("{b:?}");
        assert!(dbg.contains("7ms") && dbg.contains("Zstd"), "{dbg}");
        let c = ConsumerBuilder::from_properties(
            Properties::new()
                .set("bootstrap.servers", "a:1")
                .set("group.id", "g")
                .set("max.poll.records", "7"),
        )
        .expect("valid")
        .build_config()
        .expect("valid");
        assert_eq!(c.max_poll_records, 7);
        assert_eq!(c.group_id(), Some("g"));
    }
}
