//! The generated documents are current, and the option table matches the properties
//! adapters. `UPDATE_DOCS=1 cargo test -p kafka-client --test docs_current` rewrites
//! `docs/metrics.md` and `docs/configuration.md` from the code.

use kafka_client::config::{OPTIONS, Properties, Scope, configuration_markdown};
use kafka_client::observe::metrics_markdown;
use kafka_client::{ConsumerBuilder, ProducerBuilder};

fn check_doc(relative: &str, generated: &str) {
    let path = format!("{}/../{relative}", env!("CARGO_MANIFEST_DIR"));
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, generated).expect("write doc");
        return;
    }
    let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        on_disk == generated,
        "{relative} is out of date: run `UPDATE_DOCS=1 cargo test -p kafka-client --test docs_current`"
    );
}

#[test]
fn metrics_doc_is_current() {
    check_doc("docs/metrics.md", &metrics_markdown());
}

#[test]
fn configuration_doc_is_current() {
    check_doc("docs/configuration.md", &configuration_markdown());
}

/// Runs the adapter for `scope` on `bootstrap.servers` plus `key=value`; the error text.
fn adapter_error(scope: Scope, key: &str, value: &str) -> Option<String> {
    let mut props = Properties::new().set(key, value);
    if key != "bootstrap.servers" {
        props = props.set("bootstrap.servers", "127.0.0.1:9092");
    }
    match scope {
        Scope::Consumer => ConsumerBuilder::from_properties(props)
            .err()
            .map(|e| e.to_string()),
        _ => ProducerBuilder::from_properties(props)
            .err()
            .map(|e| e.to_string()),
    }
}

fn is_unknown(err: &Option<String>) -> bool {
    err.as_deref()
        .is_some_and(|e| e.contains("unknown propert"))
}

#[test]
fn every_listed_property_is_taken_by_its_adapter() {
    for o in OPTIONS.iter().filter(|o| o.property != "-") {
        for key in std::iter::once(&o.property).chain(o.aliases) {
            let err = adapter_error(o.scope, key, o.sample);
            assert!(
                !is_unknown(&err),
                "{key} is listed but its adapter does not take it: {err:?}"
            );
        }
    }
}

/// String literals that look like property names (`a.b`, lower case) in `source`.
fn dotted_literals(source: &str) -> Vec<String> {
    source
        .split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            s.contains('.')
                && !s.starts_with('.')
                && !s.ends_with('.')
                && s.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '_')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_property_an_adapter_takes_is_listed() {
    let listed: Vec<&str> = OPTIONS
        .iter()
        .flat_map(|o| std::iter::once(o.property).chain(o.aliases.iter().copied()))
        .collect();
    let sources = [
        (Scope::Client, include_str!("../src/config/client.rs")),
        (Scope::Client, include_str!("../src/config/security.rs")),
        (
            Scope::Producer,
            include_str!("../src/producer/properties.rs"),
        ),
        (
            Scope::Consumer,
            include_str!("../src/consumer/properties.rs"),
        ),
    ];
    let mut checked = 0;
    for (scope, source) in sources {
        for key in dotted_literals(source) {
            if listed.contains(&key.as_str()) {
                continue;
            }
            checked += 1;
            let err = adapter_error(scope, &key, "1");
            assert!(
                is_unknown(&err),
                "the {scope:?} adapter takes {key:?}, which docs/configuration.md does not list \
                 (add it to kafka-client/src/config/options.rs): {err:?}"
            );
        }
    }
    assert!(
        checked > 0,
        "the scan found the adapters' other literals too"
    );
}
