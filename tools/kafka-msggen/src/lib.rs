//! kafka-msggen: generates kafka-client's `protocol_gen` module from Kafka's own JSON
//! message schemas (`common/message/*.json` inside `kafka-clients-<version>.jar`), for the
//! APIs and versions the `kafka-protocol` crate does not carry yet.
//!
//! Output: one file per message (request and response) and `mod.rs`, each starting with
//! `// @generated`, formatted by rustfmt. `codec.rs` beside them (the bounded wire
//! primitives the generated code calls) is hand-written ([`HAND_WRITTEN`]).
//! `kafka-msggen --jar <kafka-clients.jar> --out kafka-client/src/protocol_gen` writes
//! them; `--check` compares instead (the test `protocol_gen_is_current` in
//! integration-tests does the same).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

pub mod emit;
pub mod jar;
pub mod schema;
mod wire;

/// The Kafka release whose schemas are generated.
pub const KAFKA_VERSION: &str = "4.4.0";

/// The APIs generated (each as request and response): those whose Kafka 4.4 versions or
/// fields kafka-protocol 0.18 (Kafka 4.1's schemas) lacks, and which a client sends.
pub const APIS: &[&str] = &[
    // Share groups (KIP-932): the share consumer and its admin calls.
    "ShareGroupHeartbeat",
    "ShareGroupDescribe",
    "ShareFetch",
    "ShareAcknowledge",
    "DescribeShareGroupOffsets",
    "AlterShareGroupOffsets",
    "DeleteShareGroupOffsets",
    // Newer versions of APIs the SDK already sends.
    "ListOffsets",
    "OffsetCommit",
    "OffsetFetch",
    "InitProducerId",
    "TxnOffsetCommit",
    "DeleteGroups",
    "DescribeLogDirs",
    // ApiVersions v5 (KIP-1242: cluster and node id checks, REBOOTSTRAP_REQUIRED).
    "ApiVersions",
    // AddRaftVoter v1 (the admin client's add_raft_voter).
    "AddRaftVoter",
    // Streams groups (KIP-1071), new since 4.1.
    "StreamsGroupHeartbeat",
    "StreamsGroupDescribe",
];

/// Files in the output directory that are hand-written, not generated.
pub const HAND_WRITTEN: &[&str] = &["codec.rs"];

/// The generated files: file name → contents.
pub fn generate_from_jar(jar_path: &Path) -> Result<BTreeMap<String, String>, String> {
    let zip = std::fs::read(jar_path).map_err(|e| format!("{}: {e}", jar_path.display()))?;
    let entries = jar::entries(&zip, "common/message/", ".json")?;
    let schemas = entries
        .into_iter()
        .map(|(name, bytes)| {
            let file = name.trim_start_matches("common/message/").to_string();
            (file, String::from_utf8_lossy(&bytes).into_owned())
        })
        .collect();
    generate(&schemas)
}

/// Generates from schema texts by file name (`ShareFetchRequest.json` → its JSON).
pub fn generate(schemas: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let mut files = BTreeMap::new();
    let mut modules = Vec::new();
    for api in APIS {
        for kind in ["Request", "Response"] {
            let file = format!("{api}{kind}.json");
            let text = schemas
                .get(&file)
                .ok_or_else(|| format!("no schema {file}"))?;
            let msg = schema::parse(text)
                .map_err(|e| format!("{file}: {e}"))?
                .ok_or_else(|| format!("{file} is not a request or response"))?;
            let module = emit::snake(&msg.name);
            let source = format!("common/message/{file}");
            let code =
                emit::message(&msg, KAFKA_VERSION, &source).map_err(|e| format!("{file}: {e}"))?;
            files.insert(format!("{module}.rs"), rustfmt(&code)?);
            modules.push((module, msg.name.clone(), msg.api_key, msg.valid));
        }
    }
    files.insert("mod.rs".into(), rustfmt(&module_file(&modules))?);
    Ok(files)
}

fn module_file(modules: &[(String, String, i16, schema::Versions)]) -> String {
    let mut out = format!("{} {KAFKA_VERSION}'s schemas: do not edit.\n", emit::HEADER);
    out.push_str(&format!(
        "//! Message types generated from Kafka {KAFKA_VERSION}'s JSON schemas for the APIs\n\
         //! and versions `kafka-protocol` 0.18 lacks (docs/DESIGN.md, \"Protocol messages\n\
         //! past kafka-protocol\"). They implement kafka-protocol's `Encodable`, `Decodable`,\n\
         //! `Message`, `HeaderVersion` and `Request`, so a connection sends them as it sends\n\
         //! kafka-protocol's own. Regenerate with `cargo run -p kafka-msggen -- --out\n\
         //! kafka-client/src/protocol_gen`.\n//!\n//! | Message | API key | Versions |\n//! |---|---|---|\n"
    ));
    for (_, name, key, valid) in modules {
        out.push_str(&format!(
            "//! | `{name}` | {key} | {} |\n",
            valid.describe()
        ));
    }
    out.push_str(
        "\n#![allow(clippy::all, dead_code, unused_imports, unused_mut, unused_variables)]\n\n",
    );
    out.push_str("pub(crate) mod codec;\n");
    for (module, _, _, _) in modules {
        out.push_str(&format!("pub mod {module};\n"));
    }
    out.push('\n');
    for (module, name, _, _) in modules {
        out.push_str(&format!("pub use {module}::{name};\n"));
    }
    out
}

/// Formats Rust source with rustfmt (edition 2024, default style).
pub fn rustfmt(code: &str) -> Result<String, String> {
    let rustfmt = std::env::var("RUSTFMT").unwrap_or_else(|_| "rustfmt".into());
    let mut child = Command::new(&rustfmt)
        .args(["--edition", "2024", "--emit", "stdout", "--quiet"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {rustfmt}: {e}"))?;
    let mut stdin = child.stdin.take().ok_or("rustfmt: no stdin")?;
    let input = code.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child
        .wait_with_output()
        .map_err(|e| format!("rustfmt: {e}"))?;
    writer
        .join()
        .map_err(|_| "rustfmt writer panicked".to_string())?
        .map_err(|e| format!("rustfmt stdin: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rustfmt failed: {}\n--- input ---\n{code}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    String::from_utf8(out.stdout).map_err(|e| format!("rustfmt output: {e}"))
}

/// Compares `files` with the directory `dir`: the differences, empty when equal.
pub fn diff(files: &BTreeMap<String, String>, dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (name, text) in files {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(current) if &current == text => {}
            Ok(_) => out.push(format!("{name} differs")),
            Err(e) => out.push(format!("{name}: {e}")),
        }
    }
    if let Ok(read) = std::fs::read_dir(dir) {
        for entry in read.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rs")
                && !files.contains_key(&name)
                && !HAND_WRITTEN.contains(&name.as_str())
            {
                out.push(format!("{name} is not generated any more"));
            }
        }
    }
    out
}

/// Writes `files` into `dir`, removing `.rs` files the generator no longer makes.
pub fn write(files: &BTreeMap<String, String>, dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if let Ok(read) = std::fs::read_dir(dir) {
        for entry in read.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".rs")
                && !files.contains_key(&name)
                && !HAND_WRITTEN.contains(&name.as_str())
            {
                std::fs::remove_file(entry.path()).map_err(|e| format!("{name}: {e}"))?;
            }
        }
    }
    for (name, text) in files {
        std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// `~/.m2/repository/org/apache/kafka/kafka-clients/V/kafka-clients-V.jar`.
pub fn default_jar() -> Option<std::path::PathBuf> {
    let home = std::env::var_os("HOME")?;
    Some(
        Path::new(&home)
            .join(".m2/repository/org/apache/kafka/kafka-clients")
            .join(KAFKA_VERSION)
            .join(format!("kafka-clients-{KAFKA_VERSION}.jar")),
    )
}
