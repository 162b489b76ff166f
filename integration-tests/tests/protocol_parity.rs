//! Parity with the real Kafka 4.4 broker (issue 16 §2): for every API the SDK sends
//! (the `api_versions` workload: admin calls, an idempotent producer, a consumer group
//! with commits, transactions; plus the handshake's ApiVersions), the version it
//! negotiates is the broker's highest, or docs/DESIGN.md's "Protocol version parity"
//! table has a row for it saying why not. A row for an API that has caught up fails too,
//! so the table stays true; and docs/compatibility.md's negotiated-versions table shows
//! what this run negotiated in its Kafka 4.4 column.

use std::collections::BTreeMap;

use kafka_protocol::messages::{ApiKey, ApiVersionsRequest};
use kafka_protocol::protocol::Message;
use kafka_testbed::KafkaVersion;
use kafka_testbed::api_versions::record;

const SECTION: &str = "### Protocol version parity";

/// The table's rows: first cell (`Fetch (1)`) → (SDK version cell, broker version cell).
fn design_rows() -> BTreeMap<String, (String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/DESIGN.md");
    let design = std::fs::read_to_string(path).expect("docs/DESIGN.md");
    let start = design
        .find(SECTION)
        .unwrap_or_else(|| panic!("docs/DESIGN.md has no {SECTION:?} section"));
    let section = &design[start + SECTION.len()..];
    let section = &section[..section.find("\n#").unwrap_or(section.len())];
    section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| API"))
        .map(|l| {
            let cells: Vec<String> = l.split('|').map(|c| c.trim().to_string()).collect();
            assert!(cells.len() >= 5, "malformed parity row: {l}");
            (cells[1].clone(), (cells[2].clone(), cells[3].clone()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_parity_sdk_negotiates_the_highest_common_version_on_kafka_4_4() {
    let version = KafkaVersion::default_version();
    assert!(
        version >= KafkaVersion::new(4, 4, 0),
        "the parity table is for Kafka 4.4 (default is {version})"
    );
    let report = record(version).await.expect("api_versions workload");
    assert!(
        report.failures.is_empty(),
        "workload steps failed: {:?}",
        report.failures
    );
    let mut sent: BTreeMap<i16, i16> = report
        .sent
        .iter()
        .filter_map(|(&k, v)| Some((k, *v.iter().max()?)))
        .collect();
    // The handshake (not seen by hooks) sends ApiVersions at kafka-protocol's highest.
    let api_versions = ApiKey::ApiVersions as i16;
    let broker_api_versions = report.broker[&api_versions].1;
    sent.insert(
        api_versions,
        ApiVersionsRequest::VERSIONS.max.min(broker_api_versions),
    );
    assert!(sent.len() > 20, "the workload sent only {sent:?}");

    let rows = design_rows();
    let mut problems = Vec::new();
    let mut explained = Vec::new();
    for (&key, &ours) in &sent {
        let api = ApiKey::try_from(key).map_or(format!("key {key}"), |a| format!("{a:?}"));
        let name = format!("{api} ({key})");
        let Some(&(_, broker_max)) = report.broker.get(&key) else {
            problems.push(format!("{name}: sent but the broker does not advertise it"));
            continue;
        };
        let row = rows.get(&name);
        if ours == broker_max {
            if row.is_some() {
                problems.push(format!(
                    "{name}: now at the broker's highest v{broker_max}; remove its parity row"
                ));
            }
            continue;
        }
        match row {
            None => problems.push(format!(
                "{name}: the SDK sends v{ours}, the broker supports v{broker_max}: \
                 add a row `| {name} | v{ours} | v{broker_max} | why |` to docs/DESIGN.md's {SECTION:?}"
            )),
            Some((s, b)) if *s != format!("v{ours}") || *b != format!("v{broker_max}") => {
                problems.push(format!(
                    "{name}: the row says {s} / {b}, the run negotiated v{ours} of v{broker_max}"
                ))
            }
            Some(_) => explained.push(name),
        }
    }
    for name in rows.keys() {
        if !sent.keys().any(|&k| {
            let api = ApiKey::try_from(k).map_or(format!("key {k}"), |a| format!("{a:?}"));
            *name == format!("{api} ({k})")
        }) {
            problems.push(format!(
                "{name}: a parity row for an API the workload does not send"
            ));
        }
    }
    let names: Vec<String> = sent
        .iter()
        .map(|(&k, v)| {
            let api = ApiKey::try_from(k).map_or(format!("key {k}"), |a| format!("{a:?}"));
            format!("{api} v{v}")
        })
        .collect();
    println!("{} APIs sent: {}", names.len(), names.join(", "));
    println!("below the broker's highest, explained in DESIGN.md: {explained:?}");
    // docs/compatibility.md's negotiated-versions table says what this run negotiated
    // (its Kafka 4.4 column; the older releases' columns come from the same command).
    let path = kafka_testbed::api_versions::compatibility_doc();
    let doc = std::fs::read_to_string(&path).expect("docs/compatibility.md");
    for m in kafka_testbed::api_versions::doc_mismatches(&doc, &report) {
        problems.push(format!(
            "docs/compatibility.md: {m} (regenerate: cargo run -p integration-tests --bin \
             dev-kafka -- api-versions --write)"
        ));
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
