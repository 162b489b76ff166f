//! The cancel-safety contracts are complete and each has a harness case: scans the
//! sources for the public async methods of the client types (`Producer`,
//! `TransactionalProducer`, `Transaction`, `TypedProducer`, `Consumer`, `TypedConsumer`,
//! `ShareConsumer`, `Admin`) and fails when one has no `# Cancel safety` section in its
//! rustdoc, when a documented method has no harness case naming it (the literal
//! `"Type::method"` in a `tests/cancel_safety*.rs` file), when a case names a method
//! that does not exist, or when `docs/reliability.md`'s contracts table misses one.
//! No broker needed.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

const TYPES: &[&str] = &[
    "Producer",
    "TransactionalProducer",
    "Transaction",
    "TypedProducer",
    "Consumer",
    "TypedConsumer",
    "ShareConsumer",
    "Admin",
];

const SOURCES: &[&str] = &["kafka-client/src", "kafka-admin/src", "kafka-serde/src"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The type an `impl` line at the start of a line is for (`impl<K, V> TypedConsumer<K, V> {`
/// → `TypedConsumer`), or `None` for a trait impl or another type.
fn impl_target(line: &str) -> Option<&'static str> {
    let rest = line.strip_prefix("impl")?;
    if line.contains(" for ") {
        return None;
    }
    // Skip the impl's own generics.
    let rest = if let Some(r) = rest.strip_prefix('<') {
        let mut depth = 1;
        let end = r
            .char_indices()
            .find(|(_, c)| {
                match c {
                    '<' => depth += 1,
                    '>' => depth -= 1,
                    _ => {}
                }
                depth == 0
            })
            .map(|(i, _)| i + 1)?;
        &r[end..]
    } else {
        rest
    };
    let name: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    TYPES.iter().copied().find(|t| *t == name)
}

/// `(Type::method, has a # Cancel safety section, file:line)` for every public async
/// method of the listed types.
fn documented_methods() -> Vec<(String, bool, String)> {
    let root = root();
    let mut files = Vec::new();
    for dir in SOURCES {
        rust_files(&root.join(dir), &mut files);
    }
    let mut out = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).expect("source");
        let lines: Vec<&str> = text.lines().collect();
        let mut current: Option<&'static str> = None;
        for (i, line) in lines.iter().enumerate() {
            if line.starts_with("impl") {
                current = impl_target(line);
            } else if line.starts_with('}') {
                current = None;
            }
            let Some(ty) = current else { continue };
            let Some(sig) = line.trim_start().strip_prefix("pub async fn ") else {
                continue;
            };
            let name: String = sig
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // The doc block above, past attributes.
            let mut j = i;
            let mut has = false;
            while j > 0 {
                j -= 1;
                let l = lines[j].trim_start();
                if l.starts_with("#[") || l.starts_with(")]") || l.starts_with('"') {
                    continue;
                }
                if !l.starts_with("///") {
                    break;
                }
                has |= l == "/// # Cancel safety";
            }
            let at = format!(
                "{}:{}",
                file.strip_prefix(&root).unwrap_or(&file).display(),
                i + 1
            );
            out.push((format!("{ty}::{name}"), has, at));
        }
    }
    out
}

/// Every `"Type::method"` literal in the harness files, and how many files were read.
fn harness_cases() -> (BTreeSet<String>, usize) {
    let dir = root().join("integration-tests/tests");
    let mut cases = BTreeSet::new();
    let mut files = 0;
    for entry in fs::read_dir(&dir).expect("tests dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.starts_with("cancel_safety") || name == "cancel_safety_coverage.rs" {
            continue;
        }
        if path.is_dir() {
            continue;
        }
        let text = fs::read_to_string(&path).expect("harness file");
        files += 1;
        for piece in text.split('"').skip(1).step_by(2) {
            if let Some((ty, m)) = piece.split_once("::")
                && TYPES.contains(&ty)
                && !m.is_empty()
                && m.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            {
                cases.insert(piece.to_string());
            }
        }
    }
    (cases, files)
}

#[test]
fn every_public_async_method_documents_its_cancel_safety() {
    let methods = documented_methods();
    assert!(
        methods.len() >= 70,
        "the scan found only {} public async methods: is it still reading the right files?",
        methods.len()
    );
    let missing: Vec<String> = methods
        .iter()
        .filter(|(_, has, _)| !has)
        .map(|(m, _, at)| format!("{m} ({at})"))
        .collect();
    assert!(
        missing.is_empty(),
        "public async methods without a `# Cancel safety` rustdoc section:\n  {}",
        missing.join("\n  ")
    );
}

#[test]
fn every_documented_contract_has_a_harness_case() {
    let methods = documented_methods();
    let (cases, files) = harness_cases();
    assert!(files >= 4, "harness files found: {files}");
    let names: BTreeSet<String> = methods.iter().map(|(m, _, _)| m.clone()).collect();
    let uncovered: Vec<&String> = names.iter().filter(|m| !cases.contains(*m)).collect();
    assert!(
        uncovered.is_empty(),
        "documented cancel-safety contracts without a harness case in \
         integration-tests/tests/cancel_safety*.rs (a sweep naming \"Type::method\"):\n  {}",
        uncovered
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n  ")
    );
    let stale: Vec<&String> = cases.iter().filter(|c| !names.contains(*c)).collect();
    assert!(
        stale.is_empty(),
        "harness cases naming no public async method: {stale:?}"
    );
}

#[test]
fn the_reliability_doc_lists_every_contract() {
    let doc = fs::read_to_string(root().join("docs/reliability.md")).expect("reliability.md");
    let section = doc
        .split("## Cancel safety")
        .nth(1)
        .expect("docs/reliability.md has a `## Cancel safety` section");
    let missing: Vec<String> = documented_methods()
        .into_iter()
        .map(|(m, _, _)| m)
        .filter(|m| !section.contains(&format!("`{m}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/reliability.md's cancel-safety table misses: {missing:?}"
    );
}
