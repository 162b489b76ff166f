//! The independent reader: confluent-kafka (librdkafka, from PyPI in the test bed's
//! virtualenv) reads a whole topic; the SDK under test plays no part in the counts.

use std::process::{Command, Stdio};

use kafka_testbed::confluent_python::confluent_python;

/// The reader script.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testbed/soak/soak_reader.py");

/// One record as the reader saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// Partition.
    pub partition: i32,
    /// Offset.
    pub offset: i64,
    /// Value.
    pub value: String,
}

/// Every record of `topic` (partitions `0..partitions`) with `isolation`
/// (`read_committed` or `read_uncommitted`), read by confluent-kafka from the start to
/// the end of each partition.
pub fn read_all(
    bootstrap: &str,
    topic: &str,
    isolation: &str,
    partitions: i32,
) -> Result<Vec<Seen>, String> {
    let python = confluent_python().map_err(|e| e.to_string())?;
    let output = Command::new(&python)
        .arg(SCRIPT)
        .args([bootstrap, topic, isolation, &partitions.to_string(), "600"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", python.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "soak_reader.py {topic} {isolation} failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let mut seen = Vec::new();
    let mut end = None;
    for line in stdout.lines() {
        if let Some(n) = line.strip_prefix("END ") {
            end = n.parse::<usize>().ok();
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (Some(p), Some(o), Some(v)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!("soak_reader.py: bad line {line:?}"));
        };
        seen.push(Seen {
            partition: p
                .parse()
                .map_err(|e| format!("partition in {line:?}: {e}"))?,
            offset: o.parse().map_err(|e| format!("offset in {line:?}: {e}"))?,
            value: v.to_owned(),
        });
    }
    match end {
        Some(n) if n == seen.len() => Ok(seen),
        _ => Err(format!(
            "soak_reader.py {topic}: output ended early ({} records, END {end:?})",
            seen.len()
        )),
    }
}
